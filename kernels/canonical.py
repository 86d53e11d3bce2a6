"""The input digests of many households at once (docs/digests.md), in numba.

The wrapper (meanstest.digest) renders every row's line once (kernels.render), all
tables back to back in the order of their names, then:

1. `count_lines` / `place_lines` / `fill_lines` — a stable counting sort of line ids by
   the household group each line belongs to. A line of a households, persons or
   supporters row belongs to the group its `code` names; a source row's `code` is a
   person, whose groups are listed in `person_groups` (a person can be a member or
   supporter of several households; each gets the line once). Lines reach each group
   in line order, so a group's lines are already in table-name order: sorting by bytes
   then only reorders lines of one table.
2. `digest_groups_*` — per group: its lines sorted by their bytes, each written with
   LF into a per-block buffer, and that text hashed (OpenSSL's SHA-256 through the
   three functions the wrapper passes, or kernels.sha256).
3. `hex_rows` — the hex digest of each households row's group.

Each group is written and hashed on its own, by one thread, from data no other group
writes: the digests are the same with any number of threads (tested with 1 and 2).
Serial routines take a range (lo, hi); the `*_blocks` drivers run them in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .memory import bytes_before, call_c, copy_bytes, prefetch
from .sha256 import DIGEST_SIZE, sha256

BLOCK = 1 << 10  # groups per parallel block
SMALL = 24  # a group of at most this many lines is sorted by insertion
CONTEXT_BYTES = 256  # >= sizeof(SHA256_CTX) (112 in OpenSSL 1.1 and 3.x)
LF = 10

jit = njit(cache=True, nogil=True)  # routines that allocate
# Routines that do not allocate run without numba's reference counting (kernels.jit):
# with it, every call passing an array is two atomic operations.
serial = njit(cache=True, nogil=True, _nrt=False)
inline = njit(cache=True, nogil=True, _nrt=False, inline="always")
parallel = njit(cache=True, nogil=True, parallel=True)
parallel_nrt_free = njit(cache=True, nogil=True, parallel=True, _nrt=False)


# -- 1. lines by group ---------------------------------------------------------------------


@jit
def person_groups(codes, groups, n_people):
    """CSR of each person's distinct groups, from (person code, group) pairs (pairs with
    a negative side are left out): groups of person c are out[off[c]:off[c + 1]]."""
    count = np.zeros(n_people + 1, dtype=np.int64)
    for k in range(codes.shape[0]):
        if codes[k] >= 0 and groups[k] >= 0:
            count[codes[k] + 1] += 1
    for c in range(n_people):
        count[c + 1] += count[c]
    out = np.empty(count[n_people], dtype=np.int64)
    place = count[:-1].copy()
    for k in range(codes.shape[0]):
        c = codes[k]
        if c >= 0 and groups[k] >= 0:
            out[place[c]] = groups[k]
            place[c] += 1
    # distinct within each person (a member who is also a supporter of the same household)
    off = np.zeros(n_people + 1, dtype=np.int64)
    m = 0
    for c in range(n_people):
        start = m
        for k in range(count[c], count[c + 1]):
            g = out[k]
            seen = False
            for j in range(start, m):
                if out[j] == g:
                    seen = True
                    break
            if not seen:
                out[m] = g
                m += 1
        off[c + 1] = m
    return off, out[:m]


@serial
def _lines_of(code, table_end, table_via, person_off, person_group, lo, hi, slots, refs, fill):
    """Lines lo..hi: count them per group into `slots` or (fill) write each line id at
    refs[slots[group]] and advance the slot."""
    t = 0
    for i in range(lo, hi):
        while table_end[t] <= i:
            t += 1
        c = code[i]
        if c < 0:
            continue
        if table_via[t]:
            for k in range(person_off[c], person_off[c + 1]):
                g = person_group[k]
                if fill:
                    refs[slots[g]] = i
                slots[g] += 1
        else:
            if fill:
                refs[slots[c]] = i
            slots[c] += 1


@serial
def count_lines(code, table_end, table_via, person_off, person_group, lo, hi, slots):
    _lines_of(code, table_end, table_via, person_off, person_group, lo, hi, slots, slots, False)


@serial
def fill_lines(code, table_end, table_via, person_off, person_group, lo, hi, slots, refs):
    _lines_of(code, table_end, table_via, person_off, person_group, lo, hi, slots, refs, True)


@parallel_nrt_free
def count_segments(code, table_end, table_via, person_off, person_group, slots):
    """count_lines over segment s of the lines into slots[s], for every segment."""
    segments, n = slots.shape[0], code.shape[0]
    size = (n + segments - 1) // segments
    for s in prange(segments):
        lo, hi = s * size, min(n, (s + 1) * size)
        count_lines(code, table_end, table_via, person_off, person_group, lo, hi, slots[s])


@parallel_nrt_free
def fill_segments(code, table_end, table_via, person_off, person_group, slots, refs):
    segments, n = slots.shape[0], code.shape[0]
    size = (n + segments - 1) // segments
    for s in prange(segments):
        lo, hi = s * size, min(n, (s + 1) * size)
        fill_lines(code, table_end, table_via, person_off, person_group, lo, hi, slots[s], refs)


@jit
def place_lines(slots):
    """Counts per (segment, group) → where each segment writes its first line of each
    group; returns bounds: group g's lines are refs[bounds[g]:bounds[g + 1]]."""
    segments, groups = slots.shape
    bounds = np.empty(groups + 1, dtype=np.int64)
    total = 0
    for g in range(groups):
        bounds[g] = total
        for s in range(segments):
            c = slots[s, g]
            slots[s, g] = total
            total += c
    bounds[groups] = total
    return bounds


# -- 2. each group's text, sorted, hashed --------------------------------------------------


@inline
def _before(text, line_off, x, y):
    """Line x sorts before line y by bytes (a proper prefix first)."""
    a, b = line_off[x], line_off[y]
    return bytes_before(text, a, line_off[x + 1] - a, b, line_off[y + 1] - b)


@serial
def sort_lines(text, line_off, refs, lo, hi, spare):
    """refs[lo:hi] sorted by the bytes of their lines (stable; spare: >= hi - lo ints)."""
    n = hi - lo
    if n <= SMALL:  # the usual household: a few lines, mostly in order already
        for k in range(lo + 1, hi):
            x = refs[k]
            j = k - 1
            while j >= lo and _before(text, line_off, x, refs[j]):
                refs[j + 1] = refs[j]
                j -= 1
            refs[j + 1] = x
        return
    width = 1  # bottom-up merge sort: a household with thousands of records stays n log n
    src, dst = refs[lo:hi], spare[:n]
    in_spare = False
    while width < n:
        for left in range(0, n, 2 * width):
            mid, right = min(left + width, n), min(left + 2 * width, n)
            i, j = left, mid
            for k in range(left, right):
                if i < mid and (j >= right or not _before(text, line_off, src[j], src[i])):
                    dst[k] = src[i]
                    i += 1
                else:
                    dst[k] = src[j]
                    j += 1
        src, dst = dst, src
        in_spare = not in_spare
        width *= 2
    if in_spare:
        for k in range(n):
            refs[lo + k] = src[k]


@serial
def group_text(text, line_off, refs, lo, hi, spare, buf):
    """The canonical text of one group (lines refs[lo:hi]) into buf; returns its size."""
    sort_lines(text, line_off, refs, lo, hi, spare)
    p = 0
    for k in range(lo, hi):
        s, e = line_off[refs[k]], line_off[refs[k] + 1]
        copy_bytes(buf, p, text, s, e - s)
        p += e - s
        buf[p] = LF
        p += 1
    return p


@serial
def _largest(line_off, refs, bounds, lo, hi):
    """(most lines, most bytes) of one group among groups lo..hi."""
    lines = 0
    size = 0
    for g in range(lo, hi):
        s = 0
        for k in range(bounds[g], bounds[g + 1]):
            s += line_off[refs[k] + 1] - line_off[refs[k]] + 1
        lines = max(lines, bounds[g + 1] - bounds[g])
        size = max(size, s)
    return lines, size


AHEAD = 4  # groups whose lines are being fetched while one is hashed


@serial
def _fetch(text, line_off, refs, bounds, g):
    """Prefetch the lines of group g (their first two cache lines each)."""
    if g < bounds.shape[0] - 1:
        for k in range(bounds[g], bounds[g + 1]):
            s = line_off[refs[k]]
            prefetch(text, s)
            prefetch(text, min(s + 64, text.shape[0] - 1))


@jit
def digest_groups_openssl(functions, text, line_off, refs, bounds, lo, hi, out, ok):
    """out[g] = SHA-256 of group g's text for g in lo..hi, with OpenSSL's SHA256_Init /
    _Update / _Final at the addresses functions[0..2] (ok[g]: all three returned 1)."""
    lines, size = _largest(line_off, refs, bounds, lo, hi)
    spare = np.empty(lines, dtype=np.int64)
    buf = np.empty(max(size, 1), dtype=np.uint8)
    context = np.empty(CONTEXT_BYTES, dtype=np.uint8)
    for g in range(lo, hi):
        _fetch(text, line_off, refs, bounds, g + AHEAD)
        n = group_text(text, line_off, refs, bounds[g], bounds[g + 1], spare, buf)
        ok[g] = _openssl(functions, context, buf.ctypes.data, n, out[g])


@serial
def _openssl(functions, context, data, size, digest):
    """SHA-256 of `size` bytes at address `data` into digest; whether all calls said 1."""
    a = call_c(functions[0], (context.ctypes.data,))
    b = call_c(functions[1], (context.ctypes.data, data, size))
    c = call_c(functions[2], (digest.ctypes.data, context.ctypes.data))
    return a == 1 and b == 1 and c == 1


@jit
def digest_groups_numba(text, line_off, refs, bounds, lo, hi, out, ok):
    """As digest_groups_openssl, with kernels.sha256."""
    lines, size = _largest(line_off, refs, bounds, lo, hi)
    spare = np.empty(lines, dtype=np.int64)
    buf = np.empty(max(size, 1), dtype=np.uint8)
    w = np.empty(64, dtype=np.uint32)
    state = np.empty(8, dtype=np.uint32)
    tail = np.empty(128, dtype=np.uint8)
    for g in range(lo, hi):
        _fetch(text, line_off, refs, bounds, g + AHEAD)
        n = group_text(text, line_off, refs, bounds[g], bounds[g + 1], spare, buf)
        sha256(buf, 0, n, out[g], w, state, tail)
        ok[g] = True


@jit
def openssl_ranges(functions, data, starts, out):
    """out[g] = SHA-256 of data[starts[g]:starts[g + 1]] with OpenSSL's functions (as
    digest_groups_openssl calls them); returns whether every call succeeded."""
    context = np.empty(CONTEXT_BYTES, dtype=np.uint8)
    ok = True
    for g in range(starts.shape[0] - 1):
        at = data.ctypes.data + starts[g]
        ok &= _openssl(functions, context, at, starts[g + 1] - starts[g], out[g])
    return ok


@parallel
def digest_blocks_openssl(functions, text, line_off, refs, bounds, out, ok):
    n = bounds.shape[0] - 1
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo, hi = b * BLOCK, min(n, (b + 1) * BLOCK)
        digest_groups_openssl(functions, text, line_off, refs, bounds, lo, hi, out, ok)


@parallel
def digest_blocks_numba(text, line_off, refs, bounds, out, ok):
    n = bounds.shape[0] - 1
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo, hi = b * BLOCK, min(n, (b + 1) * BLOCK)
        digest_groups_numba(text, line_off, refs, bounds, lo, hi, out, ok)


@parallel
def group_texts(offsets, data, refs, bounds):
    """The text of every group g: lines refs[bounds[g]:bounds[g+1]] (line x is
    data[offsets[x]:offsets[x + 1]]) sorted by bytes, each followed by LF, all groups back
    to back; returns (text, starts) with group g at text[starts[g]:starts[g + 1]]. For
    texts hashed elsewhere (meanstest.service.journal); `refs` is left as it is."""
    n = bounds.shape[0] - 1
    size = np.zeros(n + 1, dtype=np.int64)
    for g in prange(n):
        s = 0
        for k in range(bounds[g], bounds[g + 1]):
            s += offsets[refs[k] + 1] - offsets[refs[k]] + 1
        size[g + 1] = s
    starts = np.cumsum(size)
    text = np.empty(starts[n], dtype=np.uint8)
    order = refs.copy()
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo, hi = b * BLOCK, min(n, (b + 1) * BLOCK)
        lines = 1
        for g in range(lo, hi):
            lines = max(lines, bounds[g + 1] - bounds[g])
        spare = np.empty(lines, dtype=np.int64)
        for g in range(lo, hi):
            group_text(data, offsets, order, bounds[g], bounds[g + 1], spare, text[starts[g] :])
    return text, starts


# -- 3. hex ------------------------------------------------------------------------------


_HEX = np.frombuffer(b"".join(b"%02x" % k for k in range(256)), dtype=np.uint8)


@serial
def hex_rows(digests, groups, out):
    """out[i] = lower-case hex of digests[groups[i]] (64 bytes per row)."""
    for i in range(groups.shape[0]):
        g = groups[i]
        for k in range(DIGEST_SIZE):
            b = np.uint64(digests[g, k]) * np.uint64(2)
            out[i, 2 * k] = _HEX[b]
            out[i, 2 * k + 1] = _HEX[b + np.uint64(1)]


# -- 4. digests slab by slab ---------------------------------------------------------------


@serial
def slab_ranges(refs, bounds, table_start, edges, lo, hi):
    """For slab s (groups edges[s]..edges[s + 1]) and table t: the least and one past the
    greatest line id of table t (lines table_start[t]..table_start[t + 1]) that the slab's
    groups read, into lo[s, t] and hi[s, t] (lo = hi = 0: none)."""
    n_tables = table_start.shape[0] - 1
    for s in range(edges.shape[0] - 1):
        for t in range(n_tables):
            lo[s, t] = table_start[n_tables]
            hi[s, t] = 0
        for k in range(bounds[edges[s]], bounds[edges[s + 1]]):
            r = refs[k]
            t = 0
            while table_start[t + 1] <= r:
                t += 1
            lo[s, t] = min(lo[s, t], r)
            hi[s, t] = max(hi[s, t], r + 1)
        for t in range(n_tables):
            if hi[s, t] == 0:
                lo[s, t] = 0


@serial
def relabel(refs, table_start, shift, out):
    """out[k] = refs[k] + shift[t], t the table of line refs[k]: a line's id in a slab."""
    for k in range(refs.shape[0]):
        r = refs[k]
        t = 0
        while table_start[t + 1] <= r:
            t += 1
        out[k] = r + shift[t]
