"""Resident IDs (GB 11643), department keys and fixed-width string columns."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from meanstest.synth.common import _ymd

ORIGINS = ("150422", "150402", "150404", "150502", "150421", "150423", "150424", "150425",
           "150426", "150428", "150429", "150430", "150403", "152301", "110105", "120104",
           "130102", "210102", "220102", "230102", "320102", "370102", "410102", "440305",
           "500103", "500112", "510104", "610113", "620102", "640104")  # fmt: skip
_PROVINCES = (11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44,
              45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65)  # fmt: skip
ID_SLOTS = 4  # IDs per (origin, birth date) and block before spilling to the next level
_W = np.array((7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), np.int64)
_CHECK = np.frombuffer(b"10X98765432", np.uint8)


def _fixed(mat: np.ndarray) -> pa.StringArray:
    """Fixed-width ASCII rows (uint8 matrix) as an Arrow string array, without Python."""
    n, w = mat.shape
    offsets = np.arange(0, n * w + 1, w, dtype=np.int32)
    data = np.ascontiguousarray(mat, np.uint8)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _digits(x: np.ndarray, width: int) -> np.ndarray:
    """The last `width` decimal digits of each x, as a uint8 matrix (most significant first)."""
    x = np.array(x, np.int64)
    out = np.empty((len(x), width), np.uint8)
    for i in range(width - 1, -1, -1):
        out[:, i] = x % 10
        x //= 10
    return out


def _numbered(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    head = np.frombuffer(prefix.encode(), np.uint8)
    mat = np.empty((len(numbers), len(head) + width), np.uint8)
    mat[:, : len(head)] = head
    mat[:, len(head) :] = _digits(numbers, width) + 48
    return _fixed(mat)


def resident_ids(region: np.ndarray, birth_days: np.ndarray, seq: np.ndarray) -> pa.Array:
    """GB 11643 resident ID numbers: region (6 digits), birth date, sequence, check."""
    y, m, d = _ymd(birth_days)
    mat = np.empty((len(y), 18), np.uint8)
    mat[:, :6] = _digits(region, 6)
    mat[:, 6:14] = _digits(y * 10000 + m * 100 + d, 8)
    mat[:, 14:17] = _digits(seq, 3)
    total = np.zeros(len(y), np.int64)
    for i, w in enumerate(_W):
        total += mat[:, i] * w
    mat[:, :17] += 48
    mat[:, 17] = _CHECK[total % 11]
    return _fixed(mat)


def _region(origin: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The region code of an ID: the origin itself at level 0, else a synthetic code
    PP5xxx-PP9xxx (province PP) that no origin and no other (origin, level) uses."""
    codes = np.array([int(c) for c in ORIGINS], np.int64)
    index = np.maximum(level - 1, 0) * len(ORIGINS) + origin
    prov = np.array(_PROVINCES, np.int64)[index % len(_PROVINCES)]
    synthetic = prov * 10000 + 5000 + index // len(_PROVINCES)
    return np.where(level == 0, codes[origin], synthetic)
