"""Joining source rows to people by resident ID (RULES.md §1), in numba.

An 18-character ID (17 digits and a check character, DATA.md) becomes one int64:
number(first 17 digits) × 11 + check index (0–9, X = 10) — one-to-one on well-formed
IDs, and 10**17 × 11 < 2**63. Anything else maps to -1 and matches nobody. People get
codes 0..P-1 in order of first appearance through an open-addressing hash table, so
matching is exact and costs a few nanoseconds per row.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def id_numbers(offsets, data, valid):
    """int64 number of each string (Arrow offsets/data buffers; valid: uint8 per row)."""
    n = offsets.shape[0] - 1
    out = np.full(n, -1, np.int64)
    for i in prange(n):
        start = offsets[i]
        if not valid[i] or offsets[i + 1] - start != 18:
            continue
        number = np.int64(0)
        ok = True
        for j in range(17):
            digit = np.int64(data[start + j]) - 48
            if digit < 0 or digit > 9:
                ok = False
                break
            number = number * 10 + digit
        last = np.int64(data[start + 17])
        check = 10 if last == 88 else last - 48
        if ok and 0 <= check <= 10:
            out[i] = number * 11 + check
    return out


@njit(cache=True)
def _slot(table, key):
    mask = table.shape[0] - 1
    h = (key * np.int64(-7046029254386353131)) & mask  # Fibonacci-style mixing
    while table[h, 0] != -1 and table[h, 0] != key:
        h = (h + 1) & mask
    return h


@njit(cache=True)
def encode(keys):
    """Codes 0..P-1 of `keys` (all >= 0) in order of first appearance, and the table."""
    size = 1
    while size < 2 * keys.shape[0] + 2:
        size *= 2
    table = np.full((size, 2), -1, np.int64)
    codes = np.empty(keys.shape[0], np.int64)
    count = 0
    for i in range(keys.shape[0]):
        h = _slot(table, keys[i])
        if table[h, 0] == -1:
            table[h, 0] = keys[i]
            table[h, 1] = count
            count += 1
        codes[i] = table[h, 1]
    return codes, count, table


@njit(cache=True, parallel=True)
def lookup(table, keys):
    """Code of each key in a table from `encode` (-1: not there or key < 0)."""
    out = np.full(keys.shape[0], -1, np.int64)
    for i in prange(keys.shape[0]):
        if keys[i] >= 0:
            out[i] = table[_slot(table, keys[i]), 1]
    return out


@njit(cache=True)
def _string_hash(offsets, data, i):
    h = np.uint64(14695981039346656037)  # FNV-1a
    for k in range(offsets[i], offsets[i + 1]):
        h = (h ^ np.uint64(data[k])) * np.uint64(1099511628211)
    return h


@njit(cache=True)
def _same(offsets_a, data_a, i, offsets_b, data_b, j):
    n = offsets_a[i + 1] - offsets_a[i]
    if offsets_b[j + 1] - offsets_b[j] != n:
        return False
    a, b = offsets_a[i], offsets_b[j]
    for k in range(n):
        if data_a[a + k] != data_b[b + k]:
            return False
    return True


@njit(cache=True)
def encode_strings(offsets, data):
    """Codes 0..K-1 of equal strings (Arrow offsets/data buffers, no nulls), in order of
    first appearance, and the table (row of the first occurrence, code) for lookups."""
    n = offsets.shape[0] - 1
    size = 1
    while size < 2 * n + 2:
        size *= 2
    mask = np.uint64(size - 1)
    table = np.full((size, 2), -1, np.int64)
    codes = np.empty(n, np.int64)
    count = 0
    for i in range(n):
        h = np.int64(_string_hash(offsets, data, i) & mask)
        while table[h, 0] != -1 and not _same(offsets, data, table[h, 0], offsets, data, i):
            h = (h + 1) & (size - 1)
        if table[h, 0] == -1:
            table[h, 0] = i
            table[h, 1] = count
            count += 1
        codes[i] = table[h, 1]
    return codes, count, table


@njit(cache=True)
def lookup_strings(table, offsets, data, q_offsets, q_data, q_valid):
    """Code of each query string in a table from `encode_strings` (-1: not there)."""
    n = q_offsets.shape[0] - 1
    size = table.shape[0]
    mask = np.uint64(size - 1)
    out = np.full(n, -1, np.int64)
    for i in range(n):
        if not q_valid[i]:
            continue
        h = np.int64(_string_hash(q_offsets, q_data, i) & mask)
        while table[h, 0] != -1:
            if _same(offsets, data, table[h, 0], q_offsets, q_data, i):
                out[i] = table[h, 1]
                break
            h = (h + 1) & (size - 1)
    return out


@njit(cache=True)
def _less(offsets, data, i, j):
    """String i < string j, byte by byte, a prefix first (Arrow's order of strings)."""
    a, b = offsets[i], offsets[j]
    na, nb = offsets[i + 1] - a, offsets[j + 1] - b
    for k in range(min(na, nb)):
        if data[a + k] != data[b + k]:
            return data[a + k] < data[b + k]
    return na < nb


@njit(cache=True)
def sort_runs(codes, offsets, data):
    """Permutation sorting the rows of each run of equal `codes` by their string (stable
    insertion sort: runs are a person's few records, usually already in order)."""
    n = codes.shape[0]
    perm = np.arange(n)
    start = 0
    while start < n:
        end = start + 1
        while end < n and codes[end] == codes[start]:
            end += 1
        for i in range(start + 1, end):
            v = perm[i]
            j = i - 1
            while j >= start and _less(offsets, data, v, perm[j]):
                perm[j + 1] = perm[j]
                j -= 1
            perm[j + 1] = v
        start = end
    return perm


@njit(cache=True)
def grouped_offsets(offsets, data, h_offsets, h_data):
    """Offsets [H + 1] when the rows' keys come in runs that are exactly the households
    in order (the common layout of a bundle); an empty array otherwise."""
    n = offsets.shape[0] - 1
    n_h = h_offsets.shape[0] - 1
    off = np.zeros(n_h + 1, np.int64)
    h = -1
    for i in range(n):
        if h < 0 or not _same(offsets, data, i, h_offsets, h_data, h):
            h += 1
            if h >= n_h or not _same(offsets, data, i, h_offsets, h_data, h):
                return np.zeros(0, np.int64)
            off[h] = i
    if h != n_h - 1:
        return np.zeros(0, np.int64)
    off[n_h] = n
    return off


@njit(cache=True)
def count_rows(counts, table, codes):
    """counts[code, table] += 1 for every row (codes sorted or not)."""
    for i in range(codes.shape[0]):
        counts[codes[i], table] += 1


@njit(cache=True)
def ranges_from_counts(counts):
    """Row ranges [P, 2T] (start, end per table) of persons whose rows are sorted by
    person code: start of p = rows of persons before p."""
    n_p, n_t = counts.shape
    ranges = np.empty((n_p, 2 * n_t), np.int64)
    total = np.zeros(n_t, np.int64)
    for p in range(n_p):  # row by row: both arrays are row-major
        for t in range(n_t):
            ranges[p, 2 * t] = total[t]
            total[t] += counts[p, t]
            ranges[p, 2 * t + 1] = total[t]
    return ranges


@njit(cache=True)
def instance_offsets(slot_person, counts):
    """First record instance of each member slot per table: slot after slot, each slot
    holding its person's rows."""
    n_t = counts.shape[1]
    off = np.empty((slot_person.shape[0], n_t), np.int64)
    total = np.zeros(n_t, np.int64)
    for s in range(slot_person.shape[0]):
        p = slot_person[s]
        for t in range(n_t):
            off[s, t] = total[t]
            total[t] += counts[p, t]
    return off


@njit(cache=True)
def or_bits(n, rows, bits):
    """mask[rows[i]] |= 1 << bits[i]: a bitmask per row from (row, bit) pairs."""
    mask = np.zeros(n, np.int64)
    for i in range(rows.shape[0]):
        mask[rows[i]] |= np.int64(1) << bits[i]
    return mask
