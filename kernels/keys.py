"""Resident-ID keys (GB 11643) and the project's one exact hash index, in numba.

Wrappers that take Arrow arrays are in `meanstest.ids`; these kernels see only numpy
arrays (Arrow's offsets / data buffers, a bool validity per row).

Keys. An 18-character ID is well formed when it is 17 ASCII digits and a check
character 0-9 or upper-case X; its key is number(17 digits) × 11 + check value (X = 10),
one-to-one on well-formed IDs and < 2^63. Anything else has key -1.

Hash index. A string of at most 32 bytes is packed into four little-endian uint64
words plus its byte length and stored inline in an open-addressing table (row = words…,
(length << 32) | (code + 1); 0 = empty; load factor ≤ 1/2), so a probe is one cache
miss and a few compares. A resident ID packs into one word: its key. A row equal to the
previous row reuses its code without probing (members of a household and records of a
person come in runs). Codes are dense, in order of first occurrence. Arrow's own string
hashing (dictionary_encode, index_in) was ~10× slower on a million households.
"""

from __future__ import annotations

import numba
import numpy as np

MALFORMED = np.uint8(1)  # null, not 18 characters, or not 17 ASCII digits + [0-9X]
BAD_DATE = np.uint8(2)  # characters 7-14 are not a calendar date (year 0001-9999)
BAD_CHECK = np.uint8(4)  # the check character is not the one GB 11643 computes

MAX_WORDS = 4
BLOCK = 1 << 16  # rows per parallel block
SERIAL_BELOW = 1 << 14  # rows under which a wrapper calls the serial kernel (no threads)
HINT_AHEAD = 4  # codes after the previous row's that probe_keys tries before hashing

_WEIGHTS = np.array((7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), dtype=np.int64)
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


# ------------------------------------------------------------------- resident IDs --


@numba.njit(cache=True, nogil=True, inline="always")
def _digits(data, s):
    """(well-formed?, key, Σ d_k W_k, check value, high 9 digits, low 8 digits)."""
    bad = 0
    weighted = 0
    hi = 0
    lo = 0
    # Branch-free and in short independent chains: ~3× faster than one Horner loop.
    for k in range(9):
        dk = np.int64(data[s + k]) - 48
        bad |= (dk >> 4) | ((dk + 6) >> 4)  # non-zero unless 0 <= dk <= 9
        weighted += dk * _WEIGHTS[k]
        hi = hi * 10 + dk
    for k in range(9, 17):
        dk = np.int64(data[s + k]) - 48
        bad |= (dk >> 4) | ((dk + 6) >> 4)
        weighted += dk * _WEIGHTS[k]
        lo = lo * 10 + dk
    last = np.int64(data[s + 17])
    well = bad == 0 and (48 <= last <= 57 or last == 88)
    value = 10 if last == 88 else last - 48
    return well, (hi * 100000000 + lo) * 11 + value, weighted, value, hi, lo


@numba.njit(cache=True, nogil=True)
def check_rows(offsets, data, valid, start, stop, flags, birth, key):
    """Rows start..stop-1: flags (MALFORMED | BAD_DATE | BAD_CHECK), birth date in days
    since 1970-01-01 (where no MALFORMED/BAD_DATE), key (-1: malformed)."""
    for i in range(start, stop):
        s = offsets[i]
        flags[i] = MALFORMED
        key[i] = -1
        if not valid[i] or offsets[i + 1] - s != 18:
            continue
        well, k, weighted, value, hi, lo = _digits(data, s)
        if not well:
            continue
        key[i] = k
        f = np.uint8(0)
        if value != (12 - weighted % 11) % 11:
            f |= BAD_CHECK
        y = hi % 1000 * 10 + lo // 10000000  # digits 6-9
        m = lo // 100000 % 100  # digits 10-11
        d = lo // 1000 % 100  # digits 12-13
        leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
        if y < 1 or m < 1 or m > 12 or d < 1 or d > _MONTH_DAYS[m] + (m == 2 and leap):
            f |= BAD_DATE
        else:  # days since 1970-01-01 (H. Hinnant's days_from_civil)
            yy = y - 1 if m <= 2 else y
            era = yy // 400
            yoe = yy - era * 400
            doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
            birth[i] = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
        flags[i] = f


@numba.njit(cache=True, nogil=True, parallel=True)
def check_parallel(offsets, data, valid, flags, birth, key):
    n = len(offsets) - 1
    for block in numba.prange((n + BLOCK - 1) // BLOCK):
        check_rows(
            offsets, data, valid, block * BLOCK, min(n, (block + 1) * BLOCK), flags, birth, key
        )


@numba.njit(cache=True, nogil=True)
def key_rows(offsets, data, valid, start, stop, key):
    for i in range(start, stop):
        s = offsets[i]
        key[i] = -1
        if valid[i] and offsets[i + 1] - s == 18:
            well, k, _, _, _, _ = _digits(data, s)
            if well:
                key[i] = k


@numba.njit(cache=True, nogil=True, parallel=True)
def key_parallel(offsets, data, valid, key):
    n = len(offsets) - 1
    for block in numba.prange((n + BLOCK - 1) // BLOCK):
        key_rows(offsets, data, valid, block * BLOCK, min(n, (block + 1) * BLOCK), key)


# --------------------------------------------------------------------- hash index --


_SEED = np.uint64(0x9E3779B97F4A7C15)  # the key hash: length * _SEED, _mix each word,
_MULT = np.uint64(0xFF51AFD7ED558CCD)  # then * _FINAL (one hash for every index)
_FINAL = np.uint64(0xC4CEB9FE1A85EC53)


@numba.njit(cache=True, nogil=True, inline="always")
def _mix(h, word):
    h = (h ^ word) * _MULT
    return h ^ (h >> np.uint64(32))


@numba.njit(cache=True, nogil=True, inline="always")
def _hash(words, r, nw, n):
    h = np.uint64(n) * _SEED
    for w in range(nw):
        h = _mix(h, words[r, w])
    return h * _FINAL


@numba.njit(cache=True, nogil=True, inline="always")
def _lookup_one(slots, mask, shift, word, n):
    """The code of a one-word key of length n in a table of one-word keys (-1: absent):
    `_hash` and `probe` of a single row, without the words matrix."""
    j = np.int64((_mix(np.uint64(n) * _SEED, word) * _FINAL) >> shift)
    while True:
        meta = slots[j, 1]
        if meta == 0:
            return -1
        if (meta >> np.uint64(32)) == n and slots[j, 0] == word:
            return np.int64(meta & np.uint64(0xFFFFFFFF)) - 1
        j = (j + 1) & mask


@numba.njit(cache=True, nogil=True, inline="always")
def _same(slots, j, words, r, nw, n):
    # Unrolled for MAX_WORDS = 4: a runtime-length inner loop here costs ~4× overall.
    return (
        (slots[j, nw] >> np.uint64(32)) == n
        and slots[j, 0] == words[r, 0]
        and (nw < 2 or slots[j, 1] == words[r, 1])
        and (nw < 3 or slots[j, 2] == words[r, 2])
        and (nw < 4 or slots[j, 3] == words[r, 3])
    )


@numba.njit(cache=True, nogil=True, inline="always")
def _as_previous(words, lengths, r, nw):
    return (
        r > 0
        and lengths[r] == lengths[r - 1]
        and words[r, 0] == words[r - 1, 0]
        and (nw < 2 or words[r, 1] == words[r - 1, 1])
        and (nw < 3 or words[r, 2] == words[r - 1, 2])
        and (nw < 4 or words[r, 3] == words[r - 1, 3])
    )


@numba.njit(cache=True, nogil=True)
def insert(slots, bits, words, lengths, codes, first, base, k):
    """Codes of rows words[0..] (global rows base…; length < 0: none, code -1), adding
    absent keys with codes k, k+1, …; first[code] = its first global row. Returns the
    new number of codes."""
    nw = words.shape[1]
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    for r in range(len(lengths)):
        n = lengths[r]
        codes[base + r] = -1
        if n < 0:
            continue
        if _as_previous(words, lengths, r, nw):
            codes[base + r] = codes[base + r - 1]
            continue
        j = np.int64(_hash(words, r, nw, n) >> shift)
        while True:
            meta = slots[j, nw]
            if meta == 0:
                for w in range(nw):
                    slots[j, w] = words[r, w]
                slots[j, nw] = (np.uint64(n) << np.uint64(32)) | np.uint64(k + 1)
                first[k] = base + r
                codes[base + r] = k
                k += 1
                break
            if _same(slots, j, words, r, nw, n):
                codes[base + r] = np.int64(meta & np.uint64(0xFFFFFFFF)) - 1
                break
            j = (j + 1) & mask
    return k


@numba.njit(cache=True, nogil=True)
def probe(slots, bits, words, lengths, out, base):
    """Codes of rows words[0..] into out[base…] (-1: absent or no key)."""
    nw = words.shape[1]
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    for r in range(len(lengths)):
        n = lengths[r]
        found = -1
        if n >= 0 and _as_previous(words, lengths, r, nw):
            found = out[base + r - 1]
        elif n >= 0:
            j = np.int64(_hash(words, r, nw, n) >> shift)
            while True:
                meta = slots[j, nw]
                if meta == 0:
                    break
                if _same(slots, j, words, r, nw, n):
                    found = np.int64(meta & np.uint64(0xFFFFFFFF)) - 1
                    break
                j = (j + 1) & mask
        out[base + r] = found


@numba.njit(cache=True, nogil=True, parallel=True)
def probe_parallel(slots, bits, words, lengths, out):
    n = len(lengths)
    for block in numba.prange((n + BLOCK - 1) // BLOCK):
        start, stop = block * BLOCK, min(n, (block + 1) * BLOCK)
        probe(slots, bits, words[start:stop], lengths[start:stop], out, start)


@numba.njit(cache=True, nogil=True)
def probe_keys(slots, bits, key, hint, out, start, stop):
    """Codes of resident-ID keys key[start:stop] in a table of one-word keys (IdIndex;
    key < 0: none, code -1), into out[start:stop]. Rows usually come in the order of the
    people they name (a person's records together, people in bundle order), so before
    probing, the codes just after the previous row's are tried: hint[c] is the key of
    code c, and a key equal to hint[c] has code c (keys are distinct in the table)."""
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    n_hint = len(hint)
    prev = -1
    for r in range(start, stop):
        k = key[r]
        found = -1
        if k >= 0:
            if prev >= 0 and key[r - 1] == k:
                found = prev
            else:
                c = prev + 1
                while c < min(prev + 1 + HINT_AHEAD, n_hint) and prev >= 0:
                    if hint[c] == k:
                        found = c
                        break
                    c += 1
                if found < 0:
                    found = _lookup_one(slots, mask, shift, np.uint64(k), 18)
        out[r] = found
        if found >= 0:
            prev = found
        elif k >= 0:
            prev = -1


@numba.njit(cache=True, nogil=True, parallel=True)
def probe_keys_parallel(slots, bits, key, hint, out):
    n = len(key)
    for block in numba.prange((n + BLOCK - 1) // BLOCK):
        probe_keys(slots, bits, key, hint, out, block * BLOCK, min(n, (block + 1) * BLOCK))


@numba.njit(cache=True, nogil=True)
def _pack(offsets, data, valid, start, stop, words, lengths):
    """Rows start..stop-1 → words[r] and lengths[r] (-1: null or too long)."""
    nw = words.shape[1]
    for r in range(stop - start):
        i = start + r
        for w in range(nw):
            words[r, w] = 0
        s = offsets[i]
        n = offsets[i + 1] - s
        lengths[r] = n if valid[i] and n <= 8 * nw else -1
        if lengths[r] >= 0:
            for k in range(n):
                words[r, k >> 3] |= np.uint64(data[s + k]) << np.uint64((k & 7) * 8)


@numba.njit(cache=True, nogil=True)
def encode_strings(offsets, data, valid, slots, bits, codes, first):
    """Codes of every row of a string column (the index's build); returns their count."""
    n = len(offsets) - 1
    block = min(BLOCK, max(n, 1))
    words = np.zeros((block, slots.shape[1] - 1), dtype=np.uint64)
    lengths = np.empty(block, dtype=np.int64)
    k = 0
    for start in range(0, n, block):
        stop = min(start + block, n)
        _pack(offsets, data, valid, start, stop, words, lengths)
        k = insert(
            slots, bits, words[: stop - start], lengths[: stop - start], codes, first, start, k
        )
    return k


@numba.njit(cache=True, nogil=True)
def lookup_rows(offsets, data, valid, slots, bits, start, stop, out):
    words = np.zeros((stop - start, slots.shape[1] - 1), dtype=np.uint64)
    lengths = np.empty(stop - start, dtype=np.int64)
    _pack(offsets, data, valid, start, stop, words, lengths)
    probe(slots, bits, words, lengths, out, start)


@numba.njit(cache=True, nogil=True, parallel=True)
def lookup_parallel(offsets, data, valid, slots, bits, out):
    n = len(offsets) - 1
    for block in numba.prange((n + BLOCK - 1) // BLOCK):
        lookup_rows(
            offsets, data, valid, slots, bits, block * BLOCK, min(n, (block + 1) * BLOCK), out
        )


def table(n: int, nw: int) -> tuple[np.ndarray, int]:
    """An empty table for n keys of nw words, and its bits."""
    bits = max(4, int(2 * max(n, 1) - 1).bit_length())  # load factor ≤ 1/2
    # numpy-allocated: numpy asks for transparent huge pages, which cuts the TLB misses of
    # random probes (~4× faster than Arrow-allocated memory on the 2-core VM).
    return np.zeros((1 << bits, nw + 1), dtype=np.uint64), bits
