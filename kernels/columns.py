"""Column checks over Arrow string buffers, in numba: enumeration codes, fixed-width
digit strings, UTF-8 validity. Wrappers (taking Arrow arrays) are in meanstest.validate
and meanstest.bundle; these see numpy arrays only: offsets, data, a bool per row valid.
"""

from __future__ import annotations

import numba
import numpy as np

NULL_CODE = -2  # enum code of a null
UNKNOWN_CODE = -1  # enum code of a value outside the enumeration
BLOCK = 1 << 16


AMBIGUOUS = -3  # in an enum's dispatch table: several values share (length, first byte)


def enum_dispatch(e_offsets: np.ndarray, e_data: np.ndarray) -> np.ndarray:
    """int8 [64, 256]: the one enum value with that (byte length, first byte), -1 none,
    AMBIGUOUS when several (then every value is compared)."""
    table = np.full((64, 256), UNKNOWN_CODE, dtype=np.int8)
    for e in range(len(e_offsets) - 1):
        s, n = e_offsets[e], e_offsets[e + 1] - e_offsets[e]
        if n == 0 or n >= 64:
            table[:, :] = AMBIGUOUS  # not worth a special case: compare everything
            return table
        first = e_data[s]
        table[n, first] = e if table[n, first] == UNKNOWN_CODE else AMBIGUOUS
    return table


@numba.njit(cache=True, nogil=True)
def enum_rows(offsets, data, valid, e_offsets, e_data, dispatch, start, stop, out):
    """out[i] = index of row i's string among the enumeration's strings (e_offsets /
    e_data), UNKNOWN_CODE if none, NULL_CODE if null; rows start..stop-1. `dispatch`
    (enum_dispatch) names the one candidate by (length, first byte), so a row is
    compared with one value only."""
    n_e = e_offsets.shape[0] - 1
    for i in range(start, stop):
        if not valid[i]:
            out[i] = NULL_CODE
            continue
        s = offsets[i]
        length = offsets[i + 1] - s
        code = UNKNOWN_CODE
        if length == 0 or length >= 64:
            first, last = 0, n_e  # compare with every value
            if dispatch[0, 0] != AMBIGUOUS:
                first, last = 0, 0
        else:
            d = dispatch[length, data[s]]
            if d == AMBIGUOUS:
                first, last = 0, n_e
            elif d >= 0:
                first, last = d, d + 1
            else:
                first, last = 0, 0
        for e in range(first, last):
            es = e_offsets[e]
            if e_offsets[e + 1] - es != length:
                continue
            same = True
            for k in range(length):
                if data[s + k] != e_data[es + k]:
                    same = False
                    break
            if same:
                code = e
                break
        out[i] = code


@numba.njit(cache=True, nogil=True, parallel=True)
def enum_parallel(offsets, data, valid, e_offsets, e_data, dispatch, out):
    n = offsets.shape[0] - 1
    for block in numba.prange((n + BLOCK - 1) // BLOCK):
        start, stop = block * BLOCK, min(n, (block + 1) * BLOCK)
        enum_rows(offsets, data, valid, e_offsets, e_data, dispatch, start, stop, out)


@numba.njit(cache=True, nogil=True)
def digit_strings(offsets, data, valid, width, out):
    """out[i] = the number written by row i when it is exactly `width` ASCII digits,
    else -1 (null too)."""
    for i in range(offsets.shape[0] - 1):
        out[i] = -1
        s = offsets[i]
        if not valid[i] or offsets[i + 1] - s != width:
            continue
        v = np.int64(0)
        for k in range(width):
            d = np.int64(data[s + k]) - 48
            if d < 0 or d > 9:
                v = -1
                break
            v = v * 10 + d
        out[i] = v


@numba.njit(cache=True, nogil=True)
def _utf8_ok(data, s, e):
    """Whether data[s:e] is well-formed UTF-8 (RFC 3629: no overlong forms, no
    surrogates, nothing above U+10FFFF)."""
    i = s
    while i < e:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        if 0xC2 <= b <= 0xDF:
            need, lo, hi = 1, 0x80, 0xBF
        elif b == 0xE0:
            need, lo, hi = 2, 0xA0, 0xBF
        elif 0xE1 <= b <= 0xEC or 0xEE <= b <= 0xEF:
            need, lo, hi = 2, 0x80, 0xBF
        elif b == 0xED:
            need, lo, hi = 2, 0x80, 0x9F
        elif b == 0xF0:
            need, lo, hi = 3, 0x90, 0xBF
        elif 0xF1 <= b <= 0xF3:
            need, lo, hi = 3, 0x80, 0xBF
        elif b == 0xF4:
            need, lo, hi = 3, 0x80, 0x8F
        else:
            return False
        if i + need >= e:  # not enough bytes left
            return False
        c = data[i + 1]
        if c < lo or c > hi:
            return False
        for k in range(2, need + 1):
            c = data[i + k]
            if c < 0x80 or c > 0xBF:
                return False
        i += need + 1
    return True


@numba.njit(cache=True, nogil=True)
def first_bad_utf8(offsets, data, valid):
    """The first non-null row whose bytes are not UTF-8; -1 if none; -2 if the offsets
    themselves are broken (not ascending, or past the data: a forged file, for Arrow's
    own validation to report). Safe on unvalidated buffers: every offset is checked
    before it is used."""
    n = offsets.shape[0] - 1
    size = data.shape[0]
    for i in range(n):
        s, e = offsets[i], offsets[i + 1]
        if s < 0 or e < s or e > size:
            return -2
        if valid[i] and not _utf8_ok(data, s, e):
            return i
    return -1
