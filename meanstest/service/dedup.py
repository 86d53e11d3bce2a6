"""Which rows of a source table share their record_id with another row (numba).

A record carried by two households arrives twice (convert.unique_rows keeps the first
household's copies of rows equal in every column); only rows whose record_id occurs more than once can be equal, so
those are found first. Arrow's dictionary_encode of the ids did it at ~150 ns a row
(300,000 records of a 100,000-household Flight call: 35-55 ms per table); here an open
addressing table of row numbers, keyed by a hash of the id's bytes and checked by
comparing the bytes, takes one pass. Null ids are one value, as dictionary_encode's
null code was: two or more null ids are all candidates.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from meanstest.service.text_columns import string_buffers

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@njit(cache=True, inline="always")
def _hash(data, s, e):
    h = _FNV_OFFSET
    for k in range(s, e):
        h ^= np.uint64(data[k])
        h *= _FNV_PRIME
    return h ^ (h >> np.uint64(31))


@njit(cache=True, inline="always")
def _same(offsets, data, i, j):
    a, b = offsets[i], offsets[j]
    n = offsets[i + 1] - a
    if offsets[j + 1] - b != n:
        return False
    for k in range(n):
        if data[a + k] != data[b + k]:
            return False
    return True


@njit(cache=True)
def shared_rows(offsets, data, valid):
    """shared[i]: the id of row i (offsets int64 [n + 1], data uint8, valid bool [n]) is
    also the id of another row. A slot holds a row number (n < 2^32) and 31 bits of its
    id's hash: a probe reads the id's bytes only when those bits agree, so most probes
    touch the table alone (a 309,000-row table: 37-52 -> 25-29 ms)."""
    n = offsets.shape[0] - 1
    size = 16
    while size < 2 * n:
        size <<= 1
    mask = np.uint64(size - 1)
    slots = np.full(size, -1, np.int64)
    shared = np.zeros(n, np.bool_)
    first_null = -1
    for i in range(n):
        if not valid[i]:
            if first_null < 0:
                first_null = i
            else:
                shared[i] = True
                shared[first_null] = True
            continue
        h = _hash(data, offsets[i], offsets[i + 1])
        tag = np.int64(h >> np.uint64(33))  # 31 bits of the hash beside the row number
        k = h & mask
        while True:
            v = slots[k]
            if v < 0:
                slots[k] = (tag << 32) | i
                break
            if (v >> 32) == tag:  # else the ids differ: their hashes do
                j = v & 0xFFFFFFFF
                if _same(offsets, data, i, j):
                    shared[i] = True
                    shared[j] = True
                    break
            k = (k + np.uint64(1)) & mask
    return shared


def shared_ids(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Rows whose id occurs more than once (bool [n])."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if pa.types.is_string(ids.type) and len(ids) < (1 << 32):
        return shared_rows(*string_buffers(ids))
    codes = pc.fill_null(pc.dictionary_encode(ids).indices, -1)  # any other id type
    codes = codes.to_numpy(zero_copy_only=False).astype(np.int64)
    counts = np.bincount(codes + 1)  # nulls (code -1) count in slot 0
    return counts[codes + 1] > 1
