"""The protobuf wire format of AssessRequest / AssessResponse, column by column (numba).

Reading a 10,000-household request through Python message objects cost ~150 µs a
household (one Python step per field); here one pass over the request bytes fills, per
table, a matrix of values (varints, or the offset of a string in the request) and
lengths (-1: absent), and strings are gathered into Arrow buffers. The response is
written the same way from the output tables: sizes first, then the bytes, exactly as
upb's deterministic serialisation (fields in number order, zero values of proto3
scalars left out, `optional` fields written when present); tests compare both
directions with the protobuf library on random messages.

Decoding follows the protobuf rules that can occur here: a scalar seen twice keeps the
last value, an embedded `Programs` seen twice is merged, unknown fields (and known
fields with another wire type) are skipped. Anything else — groups, a truncated or
overlong varint, a length past the end — returns None, and the caller hands the bytes
to the protobuf library instead (which accepts them, or raises DecodeError); a string
that is not UTF-8 raises NotUTF8 (an ArrowInvalid) when its column is built, with the
same consequence.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit

from meanstest.kernels.columns import _utf8_ok  # RFC 3629, as the bundle reader checks
from meanstest.kernels.memory import copy_bytes
from meanstest.v1 import meanstest_pb2 as pb

I64 = np.int64
# message kinds: 0 Household, 1..8 the nested tables, 9 Programs
NESTED_FIELDS = ("persons", "supporters", "tax_income", "business_registration", "bank",
                 "vehicle", "property", "social_insurance")  # fmt: skip
MESSAGES = [pb.Household.DESCRIPTOR] + [
    pb.Household.DESCRIPTOR.fields_by_name[n].message_type for n in NESTED_FIELDS
]
INT, INT32, BOOL, STRING, CHILD, PROGRAMS = 1, 2, 3, 4, 5, 6
WIDTH = 32  # field numbers are below 32
# no reference counting: passing the tuples of arrays down would count 18 arrays up and
# down per nested message (kernels/jit.py says why that is slow); nothing here allocates
_serial = njit(cache=True, _nrt=False)
_TYPES = {3: INT, 18: INT, 5: INT32, 8: BOOL, 9: STRING}  # int64 sint64 int32 bool string


def _spec():
    """kind[m, field], column[m, field] (or child message kind), and the column names."""
    kind = np.zeros((len(MESSAGES), WIDTH), I64)
    column = np.zeros((len(MESSAGES), WIDTH), I64)
    names = []
    for m, desc in enumerate(MESSAGES):
        cols = []
        for f in desc.fields:
            if f.type == f.TYPE_MESSAGE:
                if f.message_type.name == "Programs":
                    kind[m, f.number] = PROGRAMS
                    column[m, f.number] = len(cols)
                    cols.append(f.name)
                else:
                    kind[m, f.number] = CHILD
                    column[m, f.number] = 1 + NESTED_FIELDS.index(f.name)
            else:
                kind[m, f.number] = _TYPES[f.type]
                column[m, f.number] = len(cols)
                cols.append(f.name)
        names.append(tuple(cols))
    return kind, column, names


KIND, COLUMN, COLUMNS = _spec()


@njit(cache=True, inline="always", _nrt=False)
def _varint(buf, pos, end):
    """(value, next position); next position -1 when malformed."""
    result = np.uint64(0)
    shift = np.uint64(0)
    for _ in range(10):
        if pos >= end:
            return np.int64(0), -1
        b = np.uint64(buf[pos])
        pos += 1
        result |= (b & np.uint64(0x7F)) << shift
        if b < 128:
            return np.int64(result), pos
        shift += np.uint64(7)
    return np.int64(0), -1


MAX_FIELD = (1 << 29) - 1  # protobuf's largest field number


@njit(cache=True, inline="always", _nrt=False)
def _tag(buf, pos, end):
    """(field number, wire type, next position) of a field's key; next position -1 when
    malformed: truncated, overlong, field number 0 or above 2^29 - 1 (which the protobuf
    library refuses as corrupt)."""
    tag, pos = _varint(buf, pos, end)
    field = tag >> 3
    if pos < 0 or field <= 0 or field > MAX_FIELD:
        return np.int64(0), np.int64(0), -1
    return field, tag & 7, pos


@_serial
def _skip(buf, pos, end, wt):
    if wt == 0:
        _, pos = _varint(buf, pos, end)
        return pos
    if wt == 1:
        return pos + 8 if pos + 8 <= end else -1
    if wt == 5:
        return pos + 4 if pos + 4 <= end else -1
    if wt == 2:
        n, pos = _varint(buf, pos, end)
        if pos < 0 or n < 0 or pos + n > end:
            return -1
        return pos + n
    return -1  # groups (3, 4), 6, 7: left to the protobuf library


@njit(cache=True, inline="always", _nrt=False)
def _scalar(buf, pos, end, m, row, field, k, wt, column, vals, lens, fill):
    """A varint or string field of a known kind into its column; the next position."""
    if wt == 0:
        v, pos = _varint(buf, pos, end)
        if pos >= 0 and fill:
            c = column[m, field]
            if k == INT32:
                v = np.int64(np.int32(v & 0xFFFFFFFF))
            elif k == BOOL:
                v = 1 if v != 0 else 0
            vals[m][row, c] = v
            lens[m][row, c] = 0
        return pos
    n, pos = _varint(buf, pos, end)
    if pos < 0 or n < 0 or pos + n > end:
        return -1
    if fill:
        c = column[m, field]
        vals[m][row, c] = pos
        lens[m][row, c] = n
    return pos + n


@_serial
def _leaf(buf, pos, end, m, row, kind, column, vals, lens, fill):
    """A nested row (person, supporter, source record): scalars and strings only."""
    while pos < end:
        field, wt, pos = _tag(buf, pos, end)
        if pos < 0:
            return -1
        k = kind[m, field] if field < 32 else 0
        if k == 0 or k > STRING or (wt == 2) != (k == STRING) or (wt != 0 and wt != 2):
            pos = _skip(buf, pos, end, wt)
        else:
            pos = _scalar(buf, pos, end, m, row, field, k, wt, column, vals, lens, fill)
        if pos < 0:
            return -1
    return 0 if pos == end else -1


@_serial
def _programs(buf, p, q, counts, prog, fill, h):
    while p < q:
        field, wt, p = _tag(buf, p, q)
        if p < 0:
            return -1
        if field == 1 and wt == 2:  # names
            ln, p = _varint(buf, p, q)
            if p < 0 or ln < 0 or p + ln > q:
                return -1
            r = counts[9]
            counts[9] += 1
            if fill:
                prog[r, 0] = h
                prog[r, 1] = p
                prog[r, 2] = ln
            p += ln
        else:
            p = _skip(buf, p, q, wt)
            if p < 0:
                return -1
    return 0


@_serial
def _household(buf, pos, end, h, kind, column, vals, lens, counts, owners, prog, fill):
    while pos < end:
        field, wt, pos = _tag(buf, pos, end)
        if pos < 0:
            return -1
        k = kind[0, field] if field < 32 else 0
        if k == 0 or (wt == 2) != (k >= STRING) or (wt != 0 and wt != 2):
            pos = _skip(buf, pos, end, wt)
        elif k <= STRING:
            pos = _scalar(buf, pos, end, 0, h, field, k, wt, column, vals, lens, fill)
        else:
            n, pos = _varint(buf, pos, end)
            if pos < 0 or n < 0 or pos + n > end:
                return -1
            if k == CHILD:
                child = column[0, field]
                r = counts[child]
                counts[child] += 1
                if fill:
                    owners[child][r] = h
                # the counting pass needs only the number of rows: a row's own fields are
                # read (and checked) by the filling pass, which declines bad bytes alike
                if fill and _leaf(buf, pos, pos + n, child, r, kind, column, vals, lens, fill) < 0:
                    return -1
            else:  # Programs: present, and its names appended (a repeat merges)
                if fill:
                    lens[0][h, column[0, field]] = 0
                if _programs(buf, pos, pos + n, counts, prog, fill, h) < 0:
                    return -1
            pos += n
        if pos < 0:
            return -1
    return 0 if pos == end else -1


@_serial
def _request(buf, kind, column, vals, lens, counts, owners, prog, fill):
    pos, end = 0, len(buf)
    while pos < end:
        field, wt, pos = _tag(buf, pos, end)
        if pos < 0:
            return -1
        if field == 1 and wt == 2:  # households
            n, pos = _varint(buf, pos, end)
            if pos < 0 or n < 0 or pos + n > end:
                return -1
            h = counts[0]
            counts[0] += 1
            if _household(buf, pos, pos + n, h, kind, column, vals, lens, counts, owners,
                          prog, fill) < 0:  # fmt: skip
                return -1
            pos += n
        else:
            pos = _skip(buf, pos, end, wt)
            if pos < 0:
                return -1
    return 0


def utf8_ok(data: bytes) -> bool:
    """The reader's UTF-8 check of a whole bytes object (tests compare it with Python's
    decoder): meanstest.kernels.columns' check, the one the bundle reader uses too."""
    return bool(
        _utf8_ok(np.frombuffer(data, np.uint8) if data else np.zeros(1, np.uint8), 0, len(data))
    )


@njit(cache=True)
def gather_columns(buf, vals, lens, cols):
    """Arrow string buffers of columns `cols` of one message kind (value = buf[vals[i, c]:
    vals[i, c] + lens[i, c]], absent when lens < 0), in one pass over the rows in request
    order, so the request bytes are read front to back once. Returns (int32 offsets
    [len(cols), >= rows + 1], each column's first byte in data [len(cols) + 1], data, ok:
    every value is UTF-8)."""
    n, k = vals.shape[0], cols.shape[0]
    # every column's offsets and bytes start on a 64-byte boundary, as Arrow's own
    # buffers do (Acero warns of, and may copy, buffers that are not aligned)
    offsets = np.zeros((k, (n + 16) // 16 * 16), np.int32)
    base = np.zeros(k + 1, np.int64)
    for j in range(k):
        c = cols[j]
        total = 0
        for i in range(n):
            total += max(lens[i, c], 0)
            offsets[j, i + 1] = total
        base[j + 1] = base[j] + (total + 63) // 64 * 64
    data = np.empty(max(base[k], 1), np.uint8)
    ok = True
    for i in range(n):
        for j in range(k):
            c = cols[j]
            ln = lens[i, c]
            if ln <= 0:
                continue
            s = vals[i, c]
            copy_bytes(data, base[j] + offsets[j, i], buf, s, ln)
            if ok and not _utf8_ok(buf, s, s + ln):
                ok = False
    return offsets, base, data, ok


@njit(cache=True)
def gather(buf, starts, lengths):
    """Arrow string buffers (int32 offsets, bytes) of buf[starts[i]:starts[i]+lengths[i]]
    (absent rows, length -1, are empty); ok: every value is UTF-8."""
    n = len(starts)
    offsets = np.zeros(n + 1, np.int32)
    for i in range(n):
        offsets[i + 1] = offsets[i] + max(lengths[i], 0)
    data = np.empty(max(offsets[n], 1), np.uint8)
    ok = True
    for i in range(n):
        s = starts[i]
        if lengths[i] > 0:
            copy_bytes(data, offsets[i], buf, s, lengths[i])
        if ok and lengths[i] > 0 and not _utf8_ok(buf, s, s + lengths[i]):
            ok = False
    return offsets, data, ok


class NotUTF8(pa.ArrowInvalid):
    """A string field of the request is not UTF-8 (the protobuf library refuses those)."""


class Decoded:
    """Per message kind m: vals / lens [rows, columns], owners (household of each row);
    programs [names, 3] = (household, start, length)."""

    def __init__(
        self,
        buf: np.ndarray,
        vals: tuple[np.ndarray, ...],
        lens: tuple[np.ndarray, ...],
        owners: tuple[np.ndarray, ...],
        programs: np.ndarray,
    ) -> None:
        self.buf, self.vals, self.lens, self.owners, self.programs = (
            buf,
            vals,
            lens,
            owners,
            programs,
        )

    @property
    def households(self) -> int:
        return len(self.vals[0])

    def strings(self, m: int, c: int) -> pa.Array:
        starts, lengths = self.vals[m][:, c], self.lens[m][:, c]
        return _strings(self.buf, starts, lengths)

    def string_columns(self, m: int, cs: list[int]) -> list[pa.Array]:
        """`strings(m, c)` of every c in cs, gathered in one pass over the request."""
        if not cs:
            return []
        lens = self.lens[m]
        offsets, base, data, ok = gather_columns(self.buf, self.vals[m], lens, np.array(cs, I64))
        if not ok:
            raise NotUTF8("a string field is not UTF-8")
        n = len(lens)
        return [
            _string_array(n, offsets[j, : n + 1], data[base[j] : base[j + 1]], lens[:, c] < 0)
            for j, c in enumerate(cs)
        ]

    def ints(self, m: int, c: int) -> pa.Array:
        absent = self.lens[m][:, c] < 0
        return pa.array(self.vals[m][:, c], pa.int64(), mask=absent if absent.any() else None)

    def bools(self, m: int, c: int) -> pa.Array:
        absent = self.lens[m][:, c] < 0
        values = self.vals[m][:, c] != 0
        return pa.array(values, pa.bool_(), mask=absent if absent.any() else None)

    def program_lists(self, c: int) -> pa.Array:
        """households.current_programs: list<string>, null where Programs is absent."""
        n = len(self.lens[0])
        prog = self.programs
        counts = np.bincount(prog[:, 0], minlength=n) if len(prog) else np.zeros(n, I64)
        offsets = np.zeros(n + 1, np.int32)
        np.cumsum(counts, out=offsets[1:])
        order = np.argsort(prog[:, 0], kind="stable")
        names = _strings(self.buf, prog[order, 1], prog[order, 2])
        absent = self.lens[0][:, c] < 0
        return pa.ListArray.from_arrays(
            pa.array(offsets), names, mask=pa.array(absent) if absent.any() else None
        )


def _string_array(n: int, offsets, data, absent: np.ndarray) -> pa.Array:
    nulls = int(absent.sum())
    validity = pa.py_buffer(np.packbits(~absent, bitorder="little")) if nulls else None
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(data), validity, nulls
    )


def _strings(buf, starts, lengths) -> pa.Array:
    starts = np.ascontiguousarray(starts)
    lengths = np.ascontiguousarray(lengths)
    offsets, data, ok = gather(buf, starts, lengths)
    if not ok:
        raise NotUTF8("a string field is not UTF-8")
    return _string_array(len(starts), offsets, data, lengths < 0)


def count(data: bytes) -> np.ndarray | None:
    """The rows of each message kind of a serialised AssessRequest (`[0]`: households),
    without reading a row's fields or allocating per row; None where `decode` would
    give None."""
    counts = np.zeros(10, I64)
    empty = tuple(np.zeros((0, max(len(c), 1)), I64) for c in COLUMNS)
    no_owner = tuple(np.zeros(0, I64) for _ in COLUMNS)
    no_prog = np.zeros((0, 3), I64)
    buf = np.frombuffer(data, np.uint8)
    if _request(buf, KIND, COLUMN, empty, empty, counts, no_owner, no_prog, False) < 0:
        return None
    return counts


def decode(data: bytes, counts: np.ndarray | None = None) -> Decoded | None:
    """The columns of a serialised AssessRequest, or None (see module docstring);
    `counts`: what `count(data)` gave, if the caller has it."""
    buf = np.frombuffer(data, np.uint8)
    counts = count(data) if counts is None else counts
    if counts is None:
        return None
    args = (KIND, COLUMN)
    vals = tuple(np.zeros((counts[m], max(len(c), 1)), I64) for m, c in enumerate(COLUMNS))
    lens = tuple(np.full((counts[m], max(len(c), 1)), -1, I64) for m, c in enumerate(COLUMNS))
    owners = tuple(np.zeros(counts[m], I64) for m in range(len(COLUMNS)))
    programs = np.zeros((counts[9], 3), I64)
    filled = np.zeros(10, I64)
    if _request(buf, *args, vals, lens, filled, owners, programs, True) < 0:
        return None
    return Decoded(buf, vals, lens, owners, programs)


# -- where a string is not UTF-8 ---------------------------------------------------------


@njit(cache=True)
def _first_not_utf8(buf, starts, lengths):
    """The first row whose string (buf[starts[i]:starts[i] + lengths[i]]) is not UTF-8,
    or -1."""
    for i in range(len(starts)):
        if lengths[i] > 0 and not _utf8_ok(buf, starts[i], starts[i] + lengths[i]):
            return i
    return -1


def _string_columns(m: int) -> list[tuple[int, str]]:
    """(column, field name) of message kind m's string fields."""
    names = COLUMNS[m]
    return [
        (names.index(f.name), f.name)
        for f in MESSAGES[m].fields
        if f.type != f.TYPE_MESSAGE and _TYPES[f.type] == STRING
    ]


def not_utf8_field(data: bytes) -> tuple[str, str] | None:
    """(the request field, "household H …") of the first string of a serialised
    AssessRequest that is not UTF-8, in household order; None when the column reader
    cannot read the request or finds none. For the message of a request the protobuf
    library refuses whole ("String field had bad UTF-8" named no field: a blind client's
    GB18030 `relation` among five households)."""
    decoded = decode(data)
    if decoded is None:
        return None
    found = []  # (household, kind, row, field)
    for m in range(len(MESSAGES)):
        for c, name in _string_columns(m):
            row = _first_not_utf8(decoded.buf, decoded.vals[m][:, c], decoded.lens[m][:, c])
            if row >= 0:
                home = row if m == 0 else int(decoded.owners[m][row])
                found.append((home, m, row, name))
    prog = decoded.programs
    if len(prog):
        row = _first_not_utf8(decoded.buf, prog[:, 1], prog[:, 2])
        if row >= 0:
            found.append((int(prog[row, 0]), len(MESSAGES), row, "names"))
    if not found:
        return None
    home, m, row, name = min(found)
    if m == 0:
        field = f"households[{home}].{name}"
    elif m == len(MESSAGES):
        k = int((prog[:row, 0] == home).sum())
        field = f"households[{home}].current_programs.names[{k}]"
    else:
        k = int((decoded.owners[m][:row] == home).sum())
        field = f"households[{home}].{NESTED_FIELDS[m - 1]}[{k}].{name}"
    said = f"the household at {home + 1:,} of the request"
    c = COLUMNS[0].index("household_id")
    if decoded.lens[0][home, c] >= 0:
        try:
            start = int(decoded.vals[0][home, c])
            hid = bytes(decoded.buf[start : start + int(decoded.lens[0][home, c])]).decode()
            said = f"household {hid!r} ({home + 1:,} of the request)"
        except UnicodeDecodeError:
            pass
    return field, said
