"""Joining source rows to people (RULES.md §1) once they have codes, in numba.

IDs are hashed once, by `meanstest.id_pass.IdPass` (kernels.keys, the project's one hash
index); here rows are grouped by those dense codes with counting sorts (stable, O(n)),
each person's records are put in record_id order, and the kernels' row ranges and
record-instance offsets are laid out.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .memory import bytes_before


@njit(cache=True)
def _less(offsets, data, i, j):
    """String i < string j (Arrow buffers), in Arrow's order of strings."""
    a, b = offsets[i], offsets[j]
    return bytes_before(data, a, offsets[i + 1] - a, b, offsets[j + 1] - b)


@njit(cache=True)
def sort_runs(codes, order, offsets, data, insertion_below):
    """Sort `order` (row numbers; codes[i] is the code of row order[i]) within every run
    of equal codes by the rows' strings (Arrow buffers), stably: insertion sort for runs
    shorter than `insertion_below` (a person's few records, usually in order already),
    a merge sort for longer ones."""
    n = codes.shape[0]
    tmp = np.empty(0, np.int64)
    start = 0
    while start < n:
        end = start + 1
        while end < n and codes[end] == codes[start]:
            end += 1
        if end - start < insertion_below:
            for i in range(start + 1, end):
                v = order[i]
                j = i - 1
                while j >= start and _less(offsets, data, v, order[j]):
                    order[j + 1] = order[j]
                    j -= 1
                order[j + 1] = v
        else:
            if tmp.shape[0] < end - start:
                tmp = np.empty(end - start, np.int64)
            _merge_sort(order, start, end, tmp, offsets, data)
        start = end
    return order


@njit(cache=True)
def _merge_sort(order, lo, hi, tmp, offsets, data):
    """Stable bottom-up merge sort of order[lo:hi] by string."""
    n = hi - lo
    width = 1
    while width < n:
        for left in range(lo, hi, 2 * width):
            mid = min(left + width, hi)
            right = min(left + 2 * width, hi)
            a, b, k = left, mid, 0
            while a < mid and b < right:
                if _less(offsets, data, order[b], order[a]):  # strictly less: stable
                    tmp[k] = order[b]
                    b += 1
                else:
                    tmp[k] = order[a]
                    a += 1
                k += 1
            while a < mid:
                tmp[k] = order[a]
                a += 1
                k += 1
            while b < right:
                tmp[k] = order[b]
                b += 1
                k += 1
            for t in range(k):
                order[left + t] = tmp[t]
        width *= 2


@njit(cache=True)
def count_rows(counts, table, codes):
    """counts[code, table] += 1 for every row (codes sorted or not)."""
    for i in range(codes.shape[0]):
        counts[codes[i], table] += 1


@njit(cache=True)
def ranges_of(offsets):
    """ranges [P, 2T] of persons whose rows of table t are sorted by person code, from
    each table's counting-sort offsets (offsets[t]: [P + 1]): person p's rows of table t
    are ranges[p, 2t]..ranges[p, 2t + 1]. One pass, row by row (row-major: a column at a
    time wrote it with a stride)."""
    n_t, n_p = offsets.shape[0], offsets.shape[1] - 1
    ranges = np.empty((n_p, 2 * n_t), offsets.dtype)
    for p in range(n_p):
        for t in range(n_t):
            ranges[p, 2 * t] = offsets[t, p]
            ranges[p, 2 * t + 1] = offsets[t, p + 1]
    return ranges


@njit(cache=True)
def instance_offsets(slot_person, ranges, off):
    """Fill `off` [slots, T] with the first record instance of each member slot per
    table: slot after slot, each slot holding its person's rows (ranges as `ranges_of`
    gives them; no counts array beside them: at 1M households it was 150 MB written and
    read once). Returns the instances per table (int64): where one exceeds what `off`'s
    dtype holds, `off` is not valid and the caller fills a wider one."""
    n_t = ranges.shape[1] // 2
    total = np.zeros(n_t, np.int64)
    for s in range(slot_person.shape[0]):
        p = slot_person[s]
        for t in range(n_t):
            off[s, t] = total[t]
            total[t] += ranges[p, 2 * t + 1] - ranges[p, 2 * t]
    return total


@njit(cache=True)
def or_bits(n, rows, bits):
    """mask[rows[i]] |= 1 << bits[i]: a bitmask per row from (row, bit) pairs."""
    mask = np.zeros(n, np.int64)
    for i in range(rows.shape[0]):
        mask[rows[i]] |= np.int64(1) << bits[i]
    return mask


@njit(cache=True)
def counting_sort(codes, n_groups):
    """Stable order of rows grouped by code (0..n_groups-1; rows with code < 0 left out)
    and offsets [n_groups + 1] into it."""
    off = np.zeros(n_groups + 1, np.int64)
    for i in range(codes.shape[0]):
        if codes[i] >= 0:
            off[codes[i] + 1] += 1
    for g in range(n_groups):
        off[g + 1] += off[g]
    order = np.empty(off[n_groups], np.int64)
    fill = off[:-1].copy()
    for i in range(codes.shape[0]):
        c = codes[i]
        if c >= 0:
            order[fill[c]] = i
            fill[c] += 1
    return order, off


@njit(cache=True)
def distinct_groups(codes, values, n_groups):
    """(offsets [n_groups + 1], values): the distinct values (>= 0) of the rows of each
    code, ascending — rows with a code or value < 0 left out."""
    off = np.zeros(n_groups + 1, np.int64)
    for i in range(codes.shape[0]):
        if codes[i] >= 0 and values[i] >= 0:
            off[codes[i] + 1] += 1
    for g in range(n_groups):
        off[g + 1] += off[g]
    out = np.empty(off[n_groups], np.int64)
    fill = off[:-1].copy()
    for i in range(codes.shape[0]):
        c = codes[i]
        if c >= 0 and values[i] >= 0:
            # insertion into the group's sorted run, dropping a repeat (groups are tiny)
            j = fill[c]
            v = values[i]
            while j > off[c] and out[j - 1] > v:
                j -= 1
            if j > off[c] and out[j - 1] == v:
                continue
            for k in range(fill[c], j, -1):
                out[k] = out[k - 1]
            out[j] = v
            fill[c] += 1
    # compact: groups that dropped repeats leave gaps
    new = np.zeros(n_groups + 1, np.int64)
    w = 0
    for g in range(n_groups):
        for k in range(off[g], fill[g]):
            out[w] = out[k]
            w += 1
        new[g + 1] = w
    return new, out[:w].copy()


@njit(cache=True)
def runs_in_order(codes, order, offsets, data):
    """Whether the strings of rows order[...] ascend (non-strictly) within every run of
    equal codes."""
    for i in range(1, codes.shape[0]):
        if codes[i] == codes[i - 1] and _less(offsets, data, order[i], order[i - 1]):
            return False
    return True


@njit(cache=True)
def strings_ascend(offsets, data):
    """Whether the strings of an Arrow string array (its offsets and data) ascend,
    non-strictly, in row order."""
    for i in range(1, offsets.shape[0] - 1):
        if _less(offsets, data, i, i - 1):
            return False
    return True


@njit(cache=True)
def first_appearance(codes, n_codes):
    """(renumber [n_codes + 1], count): new codes 0..count-1 of the codes >= 0 in order of
    first appearance in `codes`; renumber[c] = -1 for a code that does not appear, and
    renumber[-1] (index n_codes) = -1, so renumber[codes] maps -1 to -1."""
    renumber = np.full(n_codes + 1, -1, np.int64)
    count = 0
    for i in range(codes.shape[0]):
        c = codes[i]
        if c >= 0 and renumber[c] < 0:
            renumber[c] = count
            count += 1
    return renumber, count
