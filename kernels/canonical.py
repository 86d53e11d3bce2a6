"""The canonical text of many households at once, for input_digest (docs/digests.md).

`group_texts` sorts each household's canonical lines by their bytes and joins them,
each followed by LF, in parallel over households; Python then hashes each household's
slice with hashlib (OpenSSL, SHA instructions), which is faster than any SHA-256 here.
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _less(data, offsets, i, j):
    """Line i sorts before line j by bytes (a proper prefix first)."""
    a, a_end, b, b_end = offsets[i], offsets[i + 1], offsets[j], offsets[j + 1]
    while a < a_end and b < b_end:
        if data[a] != data[b]:
            return data[a] < data[b]
        a += 1
        b += 1
    return (a_end - offsets[i]) < (b_end - offsets[j])


@njit(cache=True)
def _sort_lines(data, offsets, lines):
    for k in range(1, len(lines)):  # insertion sort: a household has a few dozen lines
        x = lines[k]
        j = k - 1
        while j >= 0 and _less(data, offsets, x, lines[j]):
            lines[j + 1] = lines[j]
            j -= 1
        lines[j + 1] = x


@njit(parallel=True, cache=True)
def group_texts(offsets, data, refs, bounds):
    """The text of every group g: lines refs[bounds[g]:bounds[g+1]] sorted by bytes, each
    followed by LF, all groups back to back; returns (text, starts) with group g at
    text[starts[g]:starts[g+1]]."""
    n = len(bounds) - 1
    size = np.zeros(n + 1, dtype=np.int64)
    for g in prange(n):
        s = 0
        for k in range(bounds[g], bounds[g + 1]):
            s += offsets[refs[k] + 1] - offsets[refs[k]] + 1
        size[g + 1] = s
    starts = np.cumsum(size)
    text = np.empty(starts[n], dtype=np.uint8)
    for g in prange(n):
        lines = refs[bounds[g] : bounds[g + 1]].copy()
        _sort_lines(data, offsets, lines)
        p = starts[g]
        for x in lines:
            for q in range(offsets[x], offsets[x + 1]):
                text[p] = data[q]
                p += 1
            text[p] = 10
            p += 1
    return text, starts
