"""Identifier columns: the GB 11643 resident ID check (公民身份号码校验), exact
string → code indexes (the one ID pass over a bundle, built on them, is
meanstest.id_pass).

Layers, as everywhere in the engine: `id_problems` is the deliberately simple one-value
reference (it also writes the reject reasons), `check_ids` the vectorised check of a
whole column (kernels.keys); tests compare the two. `StringIndex` (any strings) and
`IdIndex` (resident IDs, keyed by their number) are the project's one exact hash index
(kernels.keys).

An ID is 18 characters: 6 digits of region, 8 of birth date (YYYYMMDD, a real date),
3 of sequence, then the check character: with weights W_i = 2^(17-i) mod 11,
check = (12 - Σ d_i W_i mod 11) mod 11, written 'X' when 10. Bundles hold the canonical
upper-case X; a lower-case x is malformed here (adapters normalise it, bundles do not).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest.errors import quoted
from meanstest.kernels import keys as K

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"  # indexed by Σ d_i W_i mod 11

# Bits of `IdCheck.flags`; MALFORMED excludes the other two.
MALFORMED = K.MALFORMED  # null, not 18 characters, or not 17 ASCII digits + [0-9X]
BAD_DATE = K.BAD_DATE  # characters 7-14 are not a calendar date (year 0001-9999)
BAD_CHECK = K.BAD_CHECK  # the check character is not the one GB 11643 computes

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
        need = "need 17 digits and a check character 0-9 or upper-case X"
        return (f"malformed ID ({quoted(value)}: {need})",)
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

    def __len__(self) -> int:
        return len(self.flags)

    def take(self, rows: np.ndarray) -> IdCheck:
        return IdCheck(self.flags[rows], self.birth[rows], self.key[rows])

    @staticmethod
    def concat(*checks: IdCheck) -> IdCheck:
        return IdCheck(
            *(np.concatenate([getattr(c, f) for c in checks]) for f in ("flags", "birth", "key"))
        )


def check_ids(values: pa.Array | pa.ChunkedArray) -> IdCheck:
    """GB 11643 check of a string column (nulls are MALFORMED)."""
    arr = string_array(values)
    n = len(arr)
    flags = np.empty(n, dtype=np.uint8)
    birth = np.zeros(n, dtype=np.int32)
    key = np.empty(n, dtype=np.int64)
    buffers = _offsets(arr), _data(arr), valid_mask(arr)
    if n < K.SERIAL_BELOW:
        K.check_rows(*buffers, 0, n, flags, birth, key)
    else:
        K.check_parallel(*buffers, flags, birth, key)
    return IdCheck(flags, birth, key)


def id_keys(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """IdCheck.key alone (cheaper: no check character, no date)."""
    arr = string_array(values)
    key = np.empty(len(arr), dtype=np.int64)
    buffers = _offsets(arr), _data(arr), valid_mask(arr)
    if len(arr) < K.SERIAL_BELOW:
        K.key_rows(*buffers, 0, len(arr), key)
    else:
        K.key_parallel(*buffers, key)
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


def buffer_values(buf: pa.Buffer, dtype: DTypeLike, offset: int, count: int) -> np.ndarray:
    """`count` values of `dtype` from value `offset` of an Arrow buffer, a view: the
    array's own values only, for a buffer may be longer than its array and of any size
    (an IPC stream's, fuzzed: 106 bytes, which numpy refused whole); fewer when the
    buffer is shorter (a zero-row array's may hold no bytes at all; callers check)."""
    dtype = np.dtype(dtype)
    whole = buf.size // dtype.itemsize
    start = min(offset, whole)
    return np.frombuffer(buf, dtype, count=min(count, whole - start), offset=start * dtype.itemsize)


def _offsets(arr: pa.StringArray) -> np.ndarray:
    buf, n = arr.buffers()[1], len(arr)
    got = None if buf is None else buffer_values(buf, np.int32, arr.offset, n + 1)
    if got is None or (n == 0 and len(got) == 0):  # no offsets for no rows
        return np.zeros(n + 1, dtype=np.int32)
    if len(got) != n + 1:
        raise ValueError(f"a string array of {n} rows with {len(got)} offsets")
    return got


def _data(arr: pa.StringArray) -> np.ndarray:
    buf = arr.buffers()[2]
    return np.zeros(0, dtype=np.uint8) if buf is None else np.frombuffer(buf, dtype=np.uint8)


def valid_mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """bool per row: not null (the validity bitmap unpacked; no Arrow compute call)."""
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks == 1:
            return valid_mask(arr.chunk(0))
        return np.concatenate([valid_mask(c) for c in arr.chunks] or [np.zeros(0, np.bool_)])
    n = len(arr)
    if arr.null_count == 0:
        return np.ones(n, dtype=np.bool_)
    if arr.null_count == n or arr.buffers()[0] is None:  # e.g. the null type: no bitmap
        return np.zeros(n, dtype=np.bool_) if arr.null_count == n else np.ones(n, np.bool_)
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    first = arr.offset
    byte0 = first >> 3
    raw = np.unpackbits(bits[byte0 : (first + n + 7) // 8 + 1], bitorder="little")
    return raw[first - 8 * byte0 : first - 8 * byte0 + n].view(np.bool_)


# ------------------------------------------------------------------ hash indexes --


class StringIndex:
    """An exact index of the distinct values of a string array.

    codes[i] is the code of row i (dense 0…len-1 in order of first occurrence; -1 for
    null); first[k] is the first row holding code k. `lookup` gives the codes of another
    array's values (-1 for null or absent). Equality is byte equality of the UTF-8.
    Strings longer than 32 bytes (never IDs of a valid bundle) use Arrow's hashing.
    """

    def __init__(self, values: pa.Array | pa.ChunkedArray) -> None:
        arr = self._arr = string_array(values)
        n = len(arr)
        offsets = _offsets(arr)
        longest = int(np.diff(offsets).max()) if n else 0
        nw = max(1, -(-longest // 8))
        self.codes = np.empty(n, dtype=np.int32)
        if nw > K.MAX_WORDS:
            self._slots = None
            encoded = pc.dictionary_encode(arr)
            self._dictionary = encoded.dictionary
            self.codes[:] = encoded.indices.fill_null(-1).to_numpy()
            rows = np.flatnonzero(self.codes >= 0)
            first = np.full(len(self._dictionary), n, dtype=np.int64)
            np.minimum.at(first, self.codes[rows], rows)
            self.first = first
            return
        self._slots, self._bits = K.table(n, nw)
        first = np.empty(n, dtype=np.int64)
        k = K.encode_strings(
            offsets, _data(arr), valid_mask(arr), self._slots, self._bits, self.codes, first
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
        n = len(q)
        out = np.empty(n, dtype=np.int32)
        if self._slots is None:
            out[:] = pc.index_in(q, value_set=self._dictionary).fill_null(-1).to_numpy()
        elif n < K.SERIAL_BELOW:
            K.lookup_rows(_offsets(q), _data(q), valid_mask(q), self._slots, self._bits, 0, n, out)
        else:
            K.lookup_parallel(_offsets(q), _data(q), valid_mask(q), self._slots, self._bits, out)
        return out


class IdIndex:
    """StringIndex's contract for a resident-ID column: well-formed IDs are keyed by
    their int64 (IdCheck.key), anything else by its string in a small StringIndex, so
    lookups stay exact for malformed values too. `flags[k]` is the IdCheck flags of the
    value of code k (a looked-up row has the same string, hence the same flags) and
    `keys[k]` its key (-1: malformed)."""

    def __init__(self, values: pa.Array | pa.ChunkedArray, check: IdCheck | None = None):
        """With `check` (of `values`) given, a ChunkedArray is indexed without copying."""
        if check is None or not isinstance(values, pa.ChunkedArray):
            values = string_array(values)
        arr = self._arr = values
        check = check_ids(arr) if check is None else check
        n = len(arr)
        well = check.key >= 0
        self._slots, self._bits = K.table(int(well.sum()), 1)
        self.codes = np.empty(n, dtype=np.int32)
        first = np.empty(n, dtype=np.int64)
        words = check.key.reshape(-1, 1).view(np.uint64)
        lengths = np.where(well, 18, -1)
        k = K.insert(self._slots, self._bits, words, lengths, self.codes, first, 0, 0)
        self._base = k
        odd_rows = np.flatnonzero(~well & valid_mask(arr))
        self._odd = None
        self.first = first[:k].copy()
        if odd_rows.size:
            self._odd = StringIndex(take(arr, odd_rows))
            self.codes[odd_rows] = self._odd.codes + k
            self.first = np.concatenate([self.first, odd_rows[self._odd.first]])
        self.flags = check.flags[self.first]
        self.keys = check.key[self.first]

    def __len__(self) -> int:
        return len(self.first)

    def lookup_only(self) -> IdIndex:
        """This index without its per-row codes, values, flags and keys: what `lookup`
        and `lookup_keys` need, kept by a spooled review's plan for a whole district
        (a third of the memory; `values`, `flags`, `codes` and `len` are gone)."""
        slim = object.__new__(IdIndex)
        slim._slots, slim._bits, slim._base, slim._odd = (
            self._slots,
            self._bits,
            self._base,
            self._odd,
        )
        slim.keys = self.keys  # probe_keys tries the codes after the previous row's first
        return slim

    def values(self, codes: np.ndarray | None = None) -> pa.StringArray:
        """The distinct values, by code (or the values of `codes`)."""
        return take(self._arr, self.first if codes is None else self.first[codes])

    def lookup(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        q = string_array(values)
        return self.lookup_keys(id_keys(q), q)

    def lookup_keys(self, key: np.ndarray, values: pa.Array | None = None) -> np.ndarray:
        """Codes of IDs given by their keys (id_keys); malformed ones (key -1) are found
        by their string in `values` when given, else are -1."""
        n = len(key)
        out = np.empty(n, dtype=np.int32)
        key = np.ascontiguousarray(key, dtype=np.int64)
        if n < K.SERIAL_BELOW:
            K.probe_keys(self._slots, self._bits, key, self.keys, out, 0, n)
        else:
            K.probe_keys_parallel(self._slots, self._bits, key, self.keys, out)
        if self._odd is not None and values is not None:
            odd = np.flatnonzero((key < 0) & valid_mask(values))
            if odd.size:
                found = self._odd.lookup(values.take(pa.array(odd, type=pa.int64())))
                out[odd] = np.where(found >= 0, found + self._base, -1)
        return out


def encode_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense int32 codes of int64 keys in order of first occurrence (a key < 0 has code
    -1), and the first row of each code: the hash index on plain integer keys."""
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    well = keys >= 0
    slots, bits = K.table(int(well.sum()), 1)
    codes = np.empty(len(keys), dtype=np.int32)
    first = np.empty(len(keys), dtype=np.int64)
    k = K.insert(
        slots, bits, keys.reshape(-1, 1).view(np.uint64), np.where(well, 8, -1), codes, first, 0, 0
    )
    return codes, first[:k].copy()


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
