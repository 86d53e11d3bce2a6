"""Identifier columns: the GB 11643 resident ID check (公民身份号码校验), and exact
string → code indexes for joining rows by household_id and person_id.

Two layers, as everywhere in the engine: `id_problems` is the deliberately simple
one-value reference (it also writes the reject reasons), `check_ids` the vectorised check
of a whole column (a numba kernel); tests compare the two. `StringIndex` (any strings)
and `IdIndex` (resident IDs, keyed by their number) are exact hash indexes in numba,
because Arrow's own string hashing (dictionary_encode, index_in) was the slowest step of
validating a million households, ~10× slower.

An ID is 18 characters: 6 digits of region, 8 of birth date (YYYYMMDD, a real date),
3 of sequence, then the check character: with weights W_i = 2^(17-i) mod 11,
check = (12 - Σ d_i W_i mod 11) mod 11, written 'X' when 10. Bundles hold the canonical
upper-case X; a lower-case x is malformed here (adapters normalise it, bundles do not).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"  # indexed by Σ d_i W_i mod 11

# Bits of `IdCheck.flags`; MALFORMED excludes the other two.
MALFORMED = np.uint8(1)  # null, not 18 characters, or not 17 ASCII digits + [0-9X]
BAD_DATE = np.uint8(2)  # characters 7-14 are not a calendar date (year 0001-9999)
BAD_CHECK = np.uint8(4)  # the check character is not the one GB 11643 computes

_DIGITS = frozenset("0123456789")
_EPOCH = dt.date(1970, 1, 1)


# ------------------------------------------------------------ reference (one value) --


def check_character(body: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    return CHECK_CHARACTERS[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


def birth_date_of(value: str) -> dt.date | None:
    """The birth date written in characters 7-14 of a well-formed ID, None if not a date."""
    try:
        return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def id_problems(value: str | None) -> list[str]:
    """Every problem of one ID, as the reason text of DATA.md "Bad input" ([] if valid)."""
    return list(_problems(value))


@functools.lru_cache(maxsize=1 << 16)  # a bad ID recurs in every source row of its person
def _problems(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ("null in a required column",)
    if not (
        len(value) == 18
        and set(value[:17]) <= _DIGITS
        and (value[17] in _DIGITS or value[17] == "X")
    ):
        return (
            f"malformed ID ({value!r}: need 17 digits and a check character 0-9 or upper-case X)",
        )
    problems = []
    if birth_date_of(value) is None:
        problems.append(f"bad birth date in ID ({value!r}: {value[6:14]} is not a date)")
    expected = check_character(value[:17])
    if value[17] != expected:
        problems.append(f"bad GB 11643 check character ({value[17]!r}, expected {expected!r})")
    return tuple(problems)


def disagreement(value: str, birth_date: dt.date) -> str:
    """The reason text for an ID whose birth date is not the row's birth_date."""
    return f"ID and birth_date disagree (ID says {value[6:14]}, birth_date {birth_date})"


# ------------------------------------------------------------- vectorised (a column) --


@dataclass(frozen=True)
class IdCheck:
    """Per row of an ID column: flags (MALFORMED | BAD_DATE | BAD_CHECK bits, 0 = valid),
    the ID's birth date as date32 days (meaningful only where `has_birth`), and key: an
    injective int64 of a well-formed ID (17 digits × 11 + check value), -1 if malformed."""

    flags: np.ndarray  # uint8
    birth: np.ndarray  # int32
    key: np.ndarray  # int64

    @property
    def has_birth(self) -> np.ndarray:
        return (self.flags & (MALFORMED | BAD_DATE)) == 0


_WEIGHTS = np.array(WEIGHTS, dtype=np.int64)
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_BLOCK = 1 << 16  # rows per parallel block


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


@numba.njit(cache=True, nogil=True, parallel=True)
def _check_kernel(offsets, data, valid, flags, birth, key):
    n = len(offsets) - 1
    for block in numba.prange((n + _BLOCK - 1) // _BLOCK):
        for i in range(block * _BLOCK, min(n, (block + 1) * _BLOCK)):
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
def _key_kernel(offsets, data, valid, key):
    n = len(offsets) - 1
    for block in numba.prange((n + _BLOCK - 1) // _BLOCK):
        for i in range(block * _BLOCK, min(n, (block + 1) * _BLOCK)):
            s = offsets[i]
            key[i] = -1
            if valid[i] and offsets[i + 1] - s == 18:
                well, k, _, _, _, _ = _digits(data, s)
                if well:
                    key[i] = k


def check_ids(values: pa.Array | pa.ChunkedArray) -> IdCheck:
    """GB 11643 check of a string column (nulls are MALFORMED)."""
    arr = string_array(values)
    n = len(arr)
    flags = np.empty(n, dtype=np.uint8)
    birth = np.zeros(n, dtype=np.int32)
    key = np.empty(n, dtype=np.int64)
    _check_kernel(_offsets(arr), _data(arr), valid_mask(arr), flags, birth, key)
    return IdCheck(flags, birth, key)


def id_keys(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """IdCheck.key alone (cheaper: no check character, no date)."""
    arr = string_array(values)
    key = np.empty(len(arr), dtype=np.int64)
    _key_kernel(_offsets(arr), _data(arr), valid_mask(arr), key)
    return key


def string_array(values: pa.Array | pa.ChunkedArray) -> pa.StringArray:
    """One contiguous pa.string() array (chunks combined, large/view strings cast; a
    Python sequence converted)."""
    if not isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = pa.array(values, pa.string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if values.type != pa.string():
        values = values.cast(pa.string())
    return values


def _offsets(arr: pa.StringArray) -> np.ndarray:
    buf = arr.buffers()[1]
    if buf is None:
        return np.zeros(len(arr) + 1, dtype=np.int32)
    return np.frombuffer(buf, dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]


def _data(arr: pa.StringArray) -> np.ndarray:
    buf = arr.buffers()[2]
    return np.zeros(0, dtype=np.uint8) if buf is None else np.frombuffer(buf, dtype=np.uint8)


def valid_mask(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=np.bool_)
    return arr.is_valid().to_numpy(zero_copy_only=False)


# ------------------------------------------------------------------ hash indexes --
# Arrow's string hashing (dictionary_encode, index_in) was the slowest step of validating
# a million households, ~0.4 µs a row on the 2-core VM. Here a key is packed into at
# most four little-endian uint64 words plus its byte length, and stored inline in an
# open-addressing table (row = words…, (length << 32) | (code + 1); 0 = empty), so a
# probe is one cache miss and a few compares. Resident IDs pack into one word (their
# numeric key). A row equal to the previous row reuses its code without probing (members
# of a household, records of a person come in runs). Strings longer than 32 bytes fall
# back to Arrow's hashing.

MAX_WORDS = 4


@numba.njit(cache=True, nogil=True, inline="always")
def _hash(words, r, nw, n):
    h = np.uint64(n) * np.uint64(0x9E3779B97F4A7C15)
    for w in range(nw):
        h = (h ^ words[r, w]) * np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(32)
    return h * np.uint64(0xC4CEB9FE1A85EC53)


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
def _insert(slots, bits, words, lengths, codes, first, base, k):
    """Codes of rows words[0..] (global rows base…), adding absent keys; returns count."""
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
def _probe(slots, bits, words, lengths, out, base):
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
def _probe_keys(slots, bits, words, lengths, out):
    n = len(lengths)
    for block in numba.prange((n + _BLOCK - 1) // _BLOCK):
        start, stop = block * _BLOCK, min(n, (block + 1) * _BLOCK)
        _probe(slots, bits, words[start:stop], lengths[start:stop], out, start)


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
def _encode_strings(offsets, data, valid, slots, bits, codes, first):
    words = np.zeros((_BLOCK, slots.shape[1] - 1), dtype=np.uint64)
    lengths = np.empty(_BLOCK, dtype=np.int64)
    n = len(offsets) - 1
    k = 0
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        _pack(offsets, data, valid, start, stop, words, lengths)
        k = _insert(
            slots, bits, words[: stop - start], lengths[: stop - start], codes, first, start, k
        )
    return k


@numba.njit(cache=True, nogil=True, parallel=True)
def _lookup_strings(offsets, data, valid, slots, bits, out):
    n = len(offsets) - 1
    for block in numba.prange((n + _BLOCK - 1) // _BLOCK):
        start, stop = block * _BLOCK, min(n, (block + 1) * _BLOCK)
        words = np.zeros((stop - start, slots.shape[1] - 1), dtype=np.uint64)
        lengths = np.empty(stop - start, dtype=np.int64)
        _pack(offsets, data, valid, start, stop, words, lengths)
        _probe(slots, bits, words, lengths, out, start)


def _table(n: int, nw: int) -> tuple[np.ndarray, int]:
    bits = max(4, int(2 * max(n, 1) - 1).bit_length())  # load factor ≤ 1/2
    # numpy-allocated: numpy asks for transparent huge pages, which cuts the TLB misses of
    # random probes (~4× faster than Arrow-allocated memory on the 2-core VM).
    return np.zeros((1 << bits, nw + 1), dtype=np.uint64), bits


class StringIndex:
    """An exact index of the distinct values of a string array.

    codes[i] is the code of row i (dense 0…len-1 in order of first occurrence; -1 for
    null); first[k] is the first row holding code k. `lookup` gives the codes of another
    array's values (-1 for null or absent). Equality is byte equality of the UTF-8.
    """

    def __init__(self, values: pa.Array | pa.ChunkedArray) -> None:
        arr = self._arr = string_array(values)
        n = len(arr)
        longest = int(pc.max(pc.binary_length(arr)).as_py() or 0) if n else 0
        nw = max(1, -(-longest // 8))
        self.codes = np.empty(n, dtype=np.int32)
        if nw > MAX_WORDS:
            self._slots = None
            encoded = pc.dictionary_encode(arr)
            self._dictionary = encoded.dictionary
            self.codes[:] = encoded.indices.fill_null(-1).to_numpy()
            rows = np.flatnonzero(self.codes >= 0)
            first = np.full(len(self._dictionary), n, dtype=np.int64)
            np.minimum.at(first, self.codes[rows], rows)
            self.first = first
            return
        self._slots, self._bits = _table(n, nw)
        first = np.empty(n, dtype=np.int64)
        k = _encode_strings(
            _offsets(arr), _data(arr), valid_mask(arr), self._slots, self._bits, self.codes, first
        )
        self.first = first[:k].copy()

    def __len__(self) -> int:
        return len(self.first)

    def values(self, codes: np.ndarray | None = None) -> pa.StringArray:
        """The distinct values, by code (or the values of `codes`)."""
        rows = self.first if codes is None else self.first[codes]
        return self._arr.take(pa.array(rows, type=pa.int64()))

    def lookup(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        q = string_array(values)
        out = np.empty(len(q), dtype=np.int32)
        if self._slots is None:
            out[:] = pc.index_in(q, value_set=self._dictionary).fill_null(-1).to_numpy()
        else:
            _lookup_strings(_offsets(q), _data(q), valid_mask(q), self._slots, self._bits, out)
        return out


class IdIndex:
    """StringIndex's contract for a resident-ID column: well-formed IDs are keyed by
    their int64 (IdCheck.key), anything else by its string in a small StringIndex, so
    lookups stay exact for malformed values too. `flags[k]` is the IdCheck flags of the
    value of code k (a looked-up row has the same string, hence the same flags)."""

    def __init__(self, values: pa.Array | pa.ChunkedArray, check: IdCheck | None = None):
        """With `check` (of `values`) given, a ChunkedArray is indexed without copying."""
        if check is None or not isinstance(values, pa.ChunkedArray):
            values = string_array(values)
        arr = self._arr = values
        check = check_ids(arr) if check is None else check
        n = len(arr)
        self._slots, self._bits = _table(int((check.key >= 0).sum()), 1)
        self.codes = np.empty(n, dtype=np.int32)
        first = np.empty(n, dtype=np.int64)
        words = check.key.reshape(-1, 1).view(np.uint64)
        lengths = np.where(check.key >= 0, 18, -1)
        k = _insert(self._slots, self._bits, words, lengths, self.codes, first, 0, 0)
        odd_rows = np.flatnonzero((check.key < 0) & valid_mask(arr))
        self._odd = StringIndex(take(arr, odd_rows))
        self._base = k
        self.codes[odd_rows] = self._odd.codes + k
        self.first = np.concatenate([first[:k], odd_rows[self._odd.first]])
        self.flags = check.flags[self.first]

    def __len__(self) -> int:
        return len(self.first)

    def values(self, codes: np.ndarray | None = None) -> pa.StringArray:
        """The distinct values, by code (or the values of `codes`)."""
        return take(self._arr, self.first if codes is None else self.first[codes])

    def lookup(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        q = string_array(values)
        key = id_keys(q)
        out = np.empty(len(q), dtype=np.int32)
        lengths = np.where(key >= 0, 18, -1)
        _probe_keys(self._slots, self._bits, key.reshape(-1, 1).view(np.uint64), lengths, out)
        odd = np.flatnonzero((key < 0) & valid_mask(q))
        if odd.size:
            found = self._odd.lookup(q.take(pa.array(odd, type=pa.int64())))
            out[odd] = np.where(found >= 0, found + self._base, -1)
        return out


def take(values: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """values[rows] as one array; per chunk, since Arrow's take on a ChunkedArray first
    concatenates every chunk (50× slower for a few rows of a large column)."""
    rows = np.asarray(rows, dtype=np.int64)
    if isinstance(values, pa.Array):
        return values.take(pa.array(rows))
    if values.num_chunks == 1:
        return values.chunk(0).take(pa.array(rows))
    ends = np.cumsum([len(c) for c in values.chunks])
    chunk = np.searchsorted(ends, rows, side="right")
    order = np.argsort(chunk, kind="stable")
    parts = []
    for i in np.unique(chunk).tolist():
        local = rows[chunk == i] - (ends[i - 1] if i else 0)
        parts.append(values.chunk(i).take(pa.array(local)))
    if not parts:
        return pa.array([], values.type)
    gathered = pa.concat_arrays(parts)
    return gathered.take(pa.array(np.argsort(order, kind="stable")))


def date_of_days(days: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(days))
