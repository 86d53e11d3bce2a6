"""The canonical text of table rows (docs/digests.md), one column at a time, in numba.

A line is the table name, then each value after a TAB: null `\\N`; booleans
`true`/`false`; integers in decimal; dates `YYYY-MM-DD`; strings with `\\` TAB LF CR
written `\\\\` `\\t` `\\n` `\\r`; a list its entries so written, joined by `,`.

Every column is rendered by one routine in two passes over the same code: with
`write=False` it only advances `pos[i]` by the width of row i's field (the line lengths,
from which the wrapper lays the lines out back to back), with `write=True` it also
stores the bytes at `pos[i]` (the cursor of line i). So the widths and the bytes cannot
disagree. Columns arrive as Arrow's own buffers (see meanstest.digest): offsets, data,
a validity bitmap with its bit offset (empty: no nulls); integer and date values as
numpy views of any integer width.

Dates are written exactly as Arrow's cast to string writes them, so the text is the
same as the Arrow implementation it replaced even for absurd dates: at least four year
digits, a `-` before a negative year, and `<value out of range: N>` outside the years
-32767..32767 (date32 days -12687428..11248737).

Layers: the wrapper describes every column chunk in a row of `columns` (kind, rows,
addresses and widths of its Arrow buffers: a parallel loop cannot take a varying set of
arrays of varying types, so the buffers are viewed from their addresses here, and the
wrapper keeps them alive); `render_parallel` / `render_serial` run windows of rows of a
table through all its columns (so the window's lines stay in cache; one parallel
region per pass), `render_chunk` picks the `*_rows` routine by kind and width.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, prange

from .memory import copy_bytes, pointer

BLOCK = 1 << 12  # rows per parallel block
TAB = 9

# _ESCAPED[c]: the letter written after a backslash for byte c, 0 if c is written as is
_ESCAPED = np.zeros(256, dtype=np.uint8)
_ESCAPED[ord("\\")] = ord("\\")
_ESCAPED[ord("\t")] = ord("t")
_ESCAPED[ord("\n")] = ord("n")
_ESCAPED[ord("\r")] = ord("r")

_NULL = np.frombuffer(b"\\N", dtype=np.uint8)
_TRUE = np.frombuffer(b"true", dtype=np.uint8)
_FALSE = np.frombuffer(b"false", dtype=np.uint8)
_INT64_MIN = np.int64(-(2**63))
_INT64_MIN_TEXT = np.frombuffer(b"-9223372036854775808", dtype=np.uint8)
_OUT_OF_RANGE = np.frombuffer(b"<value out of range: ", dtype=np.uint8)
_POW10 = np.array([10**k for k in range(20)], dtype=np.uint64)
_PAIRS = np.frombuffer(b"".join(b"%02d" % k for k in range(100)), dtype=np.uint8)
_U10, _U100 = np.uint64(10), np.uint64(100)
_ERAS = 82  # 400-year eras before 0000-03-01 that FIRST_DAY needs
FIRST_DAY, LAST_DAY = -12687428, 11248737  # -32767-01-01, 32767-12-31
_PLAIN_FIRST, _PLAIN_LAST = -719528, 2932896  # 0000-01-01, 9999-12-31: ten characters

# Without numba's reference counting (as kernels.jit explains): these routines never
# allocate, and with it every call passing an array costs two atomic operations — 8x
# the time of rendering a short string.
jit = njit(cache=True, nogil=True, _nrt=False)
inline = njit(cache=True, nogil=True, _nrt=False, inline="always")
parallel = njit(cache=True, nogil=True, _nrt=False, parallel=True)


# -- values -------------------------------------------------------------------------------


@inline
def is_valid(bits, bit_offset, i):
    """Arrow validity: bit (bit_offset + i) of `bits`; an empty bitmap means no nulls."""
    if bits.shape[0] == 0:
        return True
    return bit(bits, bit_offset, i)


@inline
def bit(bits, bit_offset, i):
    """Bit (bit_offset + i) of an Arrow bitmap (least significant bit first)."""
    j = bit_offset + i
    return ((bits[j >> 3] >> (j & 7)) & 1) == 1


@inline
def copy_short(out, p, src, s, n):
    """out[p:p + n] = src[s:s + n]; most fields are under 16 bytes, where two
    overlapping fixed-size moves beat a call to memcpy."""
    if n >= 8 and n <= 16:
        copy_bytes(out, p, src, s, 8)
        copy_bytes(out, p + n - 8, src, s + n - 8, 8)
    elif n >= 4 and n < 8:
        copy_bytes(out, p, src, s, 4)
        copy_bytes(out, p + n - 4, src, s + n - 4, 4)
    elif n < 4:
        for k in range(n):
            out[p + k] = src[s + k]
    else:
        copy_bytes(out, p, src, s, n)


@inline
def put(src, out, p, write):
    """The bytes of `src` at p (as they are)."""
    if write:
        copy_short(out, p, src, 0, src.shape[0])
    return p + src.shape[0]


@inline
def put_string(data, start, stop, escape, out, p, write):
    """data[start:stop] at p, escaped when `escape` (the column holds a byte to escape)."""
    if not escape:
        if write:
            copy_short(out, p, data, start, stop - start)
        return p + stop - start
    for q in range(start, stop):
        c = data[q]
        e = _ESCAPED[c]
        if e == 0:
            if write:
                out[p] = c
            p += 1
        else:
            if write:
                out[p] = 92
                out[p + 1] = e
            p += 2
    return p


@inline
def _digits_of(u):
    """How many decimal digits the uint64 u has."""
    n = 1
    while n < 20 and u >= _POW10[n]:
        n += 1
    return n


@inline
def put_digits(u, width, out, p, write):
    """The integer u >= 0 in decimal, zero-padded to at least `width` digits.
    Unsigned arithmetic and two digits per division: 2.7x faster than digit by digit in
    int64 (numba's floor division of signed integers corrects for the sign)."""
    u = np.uint64(u)
    n = max(_digits_of(u), width)
    if write:
        k = p + n
        while u >= _U100:
            r = u % _U100
            u //= _U100
            k -= 2
            out[k] = _PAIRS[2 * r]
            out[k + 1] = _PAIRS[2 * r + 1]
        if u >= _U10:
            k -= 2
            out[k] = _PAIRS[2 * u]
            out[k + 1] = _PAIRS[2 * u + 1]
        else:
            k -= 1
            out[k] = _PAIRS[2 * u + 1]
        while k > p:
            k -= 1
            out[k] = 48
    return p + n


@inline
def put_int(v, out, p, write):
    """The integer v in decimal."""
    v = np.int64(v)
    if v < 0:
        if v == _INT64_MIN:  # the one int64 whose negation is not an int64
            return put(_INT64_MIN_TEXT, out, p, write)
        if write:
            out[p] = 45
        return put_digits(-v, 1, out, p + 1, write)
    return put_digits(v, 1, out, p, write)


@inline
def _civil(days):
    """(year, month, day) of a date32 day number >= FIRST_DAY, in unsigned arithmetic
    (H. Hinnant's civil_from_days shifted by 82 400-year eras, so nothing is negative;
    kernels.arith's twin is for real dates only: it is off before 0000-03-01)."""
    z = np.uint64(np.int64(days) + 719468 + _ERAS * 146097)
    era = z // np.uint64(146097)
    doe = z - era * np.uint64(146097)
    yoe = doe - doe // np.uint64(1460) + doe // np.uint64(36524) - doe // np.uint64(146096)
    yoe //= np.uint64(365)
    doy = doe - (np.uint64(365) * yoe + yoe // np.uint64(4) - yoe // np.uint64(100))
    mp = (np.uint64(5) * doy + np.uint64(2)) // np.uint64(153)
    d = doy - (np.uint64(153) * mp + np.uint64(2)) // np.uint64(5) + np.uint64(1)
    m = mp + np.uint64(3) if mp < _U10 else mp - np.uint64(9)
    y = np.int64(yoe + era * np.uint64(400)) - 400 * _ERAS + (1 if m <= np.uint64(2) else 0)
    return y, m, d


@inline
def put_date(days, out, p, write):
    """date32 `days` as Arrow writes it (see the module docstring)."""
    d = np.int64(days)
    if _PLAIN_FIRST <= d <= _PLAIN_LAST:  # years 0000-9999: the only ones of real data
        if write:
            y, m, dd = _civil(d)
            hi, lo = np.uint64(y) // _U100, np.uint64(y) % _U100
            out[p] = _PAIRS[2 * hi]
            out[p + 1] = _PAIRS[2 * hi + 1]
            out[p + 2] = _PAIRS[2 * lo]
            out[p + 3] = _PAIRS[2 * lo + 1]
            out[p + 4] = 45
            out[p + 5] = _PAIRS[2 * m]
            out[p + 6] = _PAIRS[2 * m + 1]
            out[p + 7] = 45
            out[p + 8] = _PAIRS[2 * dd]
            out[p + 9] = _PAIRS[2 * dd + 1]
        return p + 10
    if d < FIRST_DAY or d > LAST_DAY:
        p = put(_OUT_OF_RANGE, out, p, write)
        p = put_int(d, out, p, write)
        if write:
            out[p] = 62
        return p + 1
    y, m, dd = _civil(d)
    if y < 0:
        if write:
            out[p] = 45
        p += 1
        y = -y
    p = put_digits(y, 4, out, p, write)
    if write:
        out[p] = 45
        out[p + 1] = 48 + m // 10
        out[p + 2] = 48 + m % 10
        out[p + 3] = 45
        out[p + 4] = 48 + dd // 10
        out[p + 5] = 48 + dd % 10
    return p + 6


@inline
def put_tab(out, p, write):
    if write:
        out[p] = TAB
    return p + 1


# -- columns: serial routines over rows lo..hi ----------------------------------------------


@jit
def name_rows(name, pos, out, lo, hi):
    """The table name at the start of lines lo..hi (write pass only)."""
    for i in range(lo, hi):
        pos[i] = put(name, out, pos[i], True)


@jit
def string_rows(offsets, data, bits, bit_offset, escape, pos, out, write, lo, hi):
    for i in range(lo, hi):
        p = put_tab(out, pos[i], write)
        if is_valid(bits, bit_offset, i):
            p = put_string(data, offsets[i], offsets[i + 1], escape, out, p, write)
        else:
            p = put(_NULL, out, p, write)
        pos[i] = p


@jit
def int_rows(values, bits, bit_offset, pos, out, write, lo, hi):
    for i in range(lo, hi):
        p = put_tab(out, pos[i], write)
        if is_valid(bits, bit_offset, i):
            p = put_int(values[i], out, p, write)
        else:
            p = put(_NULL, out, p, write)
        pos[i] = p


@jit
def date_rows(values, bits, bit_offset, pos, out, write, lo, hi):
    for i in range(lo, hi):
        p = put_tab(out, pos[i], write)
        if is_valid(bits, bit_offset, i):
            p = put_date(values[i], out, p, write)
        else:
            p = put(_NULL, out, p, write)
        pos[i] = p


@jit
def bool_rows(values, value_offset, bits, bit_offset, pos, out, write, lo, hi):
    for i in range(lo, hi):
        p = put_tab(out, pos[i], write)
        if not is_valid(bits, bit_offset, i):
            p = put(_NULL, out, p, write)
        elif bit(values, value_offset, i):
            p = put(_TRUE, out, p, write)
        else:
            p = put(_FALSE, out, p, write)
        pos[i] = p


@jit
def list_rows(
    list_offsets, bits, bit_offset, offsets, data, item_bits, item_offset, escape, pos, out,
    write, lo, hi,
):  # fmt: skip
    """A list of strings: its entries joined by `,` (a null entry `\\N`); `offsets` and
    `item_bits` / `item_offset` are the entries' (offsets indexed by entry)."""
    for i in range(lo, hi):
        p = put_tab(out, pos[i], write)
        if not is_valid(bits, bit_offset, i):
            p = put(_NULL, out, p, write)
        else:
            for k in range(list_offsets[i], list_offsets[i + 1]):
                if k > list_offsets[i]:
                    if write:
                        out[p] = 44
                    p += 1
                if is_valid(item_bits, item_offset, k):
                    p = put_string(data, offsets[k], offsets[k + 1], escape, out, p, write)
                else:
                    p = put(_NULL, out, p, write)
        pos[i] = p


@jit
def dictionary_rows(indices, bits, bit_offset, texts, starts, ends, pos, out, write, lo, hi):
    """A dictionary-encoded column whose dictionary entries are already rendered
    (entry k is `texts[starts[k]:ends[k]]`, escaped, a null entry `\\N`)."""
    for i in range(lo, hi):
        p = put_tab(out, pos[i], write)
        if is_valid(bits, bit_offset, i):
            k = indices[i]
            p = put_string(texts, starts[k], ends[k], False, out, p, write)
        else:
            p = put(_NULL, out, p, write)
        pos[i] = p


@jit
def null_rows(pos, out, write, lo, hi):
    """A column of the null type: every value null."""
    for i in range(lo, hi):
        pos[i] = put(_NULL, out, put_tab(out, pos[i], write), write)


@inline
def any_escape(data, start, stop):
    """Whether data[start:stop] holds a byte that is written escaped. In blocks of 64
    bytes with unsigned indices and a uint8 flag, so that LLVM vectorises the compares
    (0.35 ns a byte; a bool flag or signed indices: 3-4x slower)."""
    q, end = np.uint64(start), np.uint64(stop)
    while q + np.uint64(64) <= end:
        found = np.uint8(0)
        for k in range(64):
            c = data[q + np.uint64(k)]
            found |= (c == 92) | (c == 9) | (c == 10) | (c == 13)
        if found:
            return True
        q += np.uint64(64)
    while q < end:
        c = data[q]
        if c == 92 or c == 9 or c == 10 or c == 13:
            return True
        q += np.uint64(1)
    return False


# -- column chunks: descriptors, views, drivers ----------------------------------------------

# kinds
STRING, INT, DATE, BOOL, LIST, DICTIONARY, NULL = range(7)
# fields of a column chunk's row in `columns` (addresses are 0 for "none")
KIND = 0
START, STOP = 1, 2  # rows of its table that this chunk holds
LINE = 3  # line number of its table's row 0
VALID, VALID_BIT = 4, 5  # validity bitmap (bytes: VALID_COUNT), bit of the chunk's row 0
A, A_WIDTH, A_COUNT, A_BIT = 6, 7, 8, 9  # offsets / values / bitmap / list offsets / indices
B, B_WIDTH, B_COUNT = 10, 11, 12  # string data / item offsets / rendered dictionary text
C, C_COUNT = 13, 14  # item data / dictionary entry starts (int64)
D, D_BIT, D_COUNT = 15, 16, 17  # item validity / dictionary entry ends (int64)
VALID_COUNT = 18
N_FIELDS = 19
# fields of a table's row in `tables`
T_LINE, T_NAME, T_NAME_END, T_COLUMNS, T_COLUMNS_END = range(5)
N_TABLE_FIELDS = 5

ref = njit(cache=True, nogil=True, inline="always")  # with reference counting: makes views


@ref
def _u8(address, count):
    return carray(pointer(address), count, np.uint8)


@ref
def _i64(address, count):
    return carray(pointer(address), count, np.int64)


@ref
def _i32(address, count):
    return carray(pointer(address), count, np.int32)


@ref
def _i16(address, count):
    return carray(pointer(address), count, np.int16)


@ref
def _i8(address, count):
    return carray(pointer(address), count, np.int8)


@ref
def _string_chunk(d, escape, pos, out, write, a, z):
    data = _u8(d[B], d[B_COUNT])
    bits = _u8(d[VALID], d[VALID_COUNT])
    if d[A_WIDTH] == 4:
        offsets = _i32(d[A], d[A_COUNT])
        if not write:
            escape[0] = any_escape(data, offsets[a], offsets[z])
        string_rows(offsets, data, bits, d[VALID_BIT], escape[0], pos, out, write, a, z)
    else:
        offsets64 = _i64(d[A], d[A_COUNT])
        if not write:
            escape[0] = any_escape(data, offsets64[a], offsets64[z])
        string_rows(offsets64, data, bits, d[VALID_BIT], escape[0], pos, out, write, a, z)


@ref
def _int_chunk(d, pos, out, write, a, z):
    bits = _u8(d[VALID], d[VALID_COUNT])
    w, n = d[A_WIDTH], d[A_COUNT]
    if d[KIND] == DATE:
        date_rows(_i32(d[A], n), bits, d[VALID_BIT], pos, out, write, a, z)
    elif w == 8:
        int_rows(_i64(d[A], n), bits, d[VALID_BIT], pos, out, write, a, z)
    elif w == 4:
        int_rows(_i32(d[A], n), bits, d[VALID_BIT], pos, out, write, a, z)
    elif w == 2:
        int_rows(_i16(d[A], n), bits, d[VALID_BIT], pos, out, write, a, z)
    else:
        int_rows(_i8(d[A], n), bits, d[VALID_BIT], pos, out, write, a, z)


@ref
def _lists(lists, items, d, escape, pos, out, write, a, z):
    bits, data, item_bits = (
        _u8(d[VALID], d[VALID_COUNT]),
        _u8(d[C], d[C_COUNT]),
        _u8(d[D], d[D_COUNT]),
    )
    if not write:
        escape[0] = any_escape(data, items[lists[a]], items[lists[z]])
    list_rows(
        lists, bits, d[VALID_BIT], items, data, item_bits, d[D_BIT], escape[0], pos, out,
        write, a, z,
    )  # fmt: skip


@ref
def _list_chunk(d, escape, pos, out, write, a, z):
    # views of each width: a conversion here would copy the whole column per window
    if d[A_WIDTH] == 4 and d[B_WIDTH] == 4:
        _lists(_i32(d[A], d[A_COUNT]), _i32(d[B], d[B_COUNT]), d, escape, pos, out, write, a, z)
    elif d[A_WIDTH] == 4:
        _lists(_i32(d[A], d[A_COUNT]), _i64(d[B], d[B_COUNT]), d, escape, pos, out, write, a, z)
    elif d[B_WIDTH] == 4:
        _lists(_i64(d[A], d[A_COUNT]), _i32(d[B], d[B_COUNT]), d, escape, pos, out, write, a, z)
    else:
        _lists(_i64(d[A], d[A_COUNT]), _i64(d[B], d[B_COUNT]), d, escape, pos, out, write, a, z)


@ref
def render_chunk(d, escape, pos, out, write, lo, hi):
    """Rows lo..hi of the table (where this chunk holds them) of chunk `d`; pos[i] is the
    width / cursor of the line of table row i; escape[0]: the measure pass's finding."""
    a, z = max(lo, d[START]), min(hi, d[STOP])
    if a >= z:
        return
    at = pos[d[START] : d[STOP]]  # the chunk's rows from 0
    a -= d[START]
    z -= d[START]
    kind = d[KIND]
    if kind == STRING:
        _string_chunk(d, escape, at, out, write, a, z)
    elif kind == INT or kind == DATE:
        _int_chunk(d, at, out, write, a, z)
    elif kind == BOOL:
        bits = _u8(d[VALID], d[VALID_COUNT])
        values = _u8(d[A], d[A_COUNT])
        bool_rows(values, d[A_BIT], bits, d[VALID_BIT], at, out, write, a, z)
    elif kind == LIST:
        _list_chunk(d, escape, at, out, write, a, z)
    elif kind == DICTIONARY:
        bits = _u8(d[VALID], d[VALID_COUNT])
        text = _u8(d[B], d[B_COUNT])
        starts, ends = _i64(d[C], d[C_COUNT]), _i64(d[D], d[D_COUNT])
        w, n = d[A_WIDTH], d[A_COUNT]
        if w == 8:
            dictionary_rows(
                _i64(d[A], n), bits, d[VALID_BIT], text, starts, ends, at, out, write, a, z
            )
        elif w == 4:
            dictionary_rows(
                _i32(d[A], n), bits, d[VALID_BIT], text, starts, ends, at, out, write, a, z
            )
        elif w == 2:
            dictionary_rows(
                _i16(d[A], n), bits, d[VALID_BIT], text, starts, ends, at, out, write, a, z
            )
        else:
            dictionary_rows(
                _i8(d[A], n), bits, d[VALID_BIT], text, starts, ends, at, out, write, a, z
            )
    else:
        null_rows(at, out, write, a, z)


@ref
def render_window(tables, columns, windows, names, escape, pos, out, write, w):
    """Window w (table, rows lo..hi) through the table's name and every column chunk."""
    t, lo, hi = windows[w, 0], windows[w, 1], windows[w, 2]
    lines = pos[tables[t, T_LINE] :]
    if write:
        name_rows(names[tables[t, T_NAME] : tables[t, T_NAME_END]], lines, out, lo, hi)
    first = tables[t, T_COLUMNS]
    for k in range(first, tables[t, T_COLUMNS_END]):
        render_chunk(columns[k], escape[w, k - first :], lines, out, write, lo, hi)


@njit(cache=True, nogil=True, parallel=True)
def render_parallel(tables, columns, windows, names, escape, pos, out, write):
    for w in prange(windows.shape[0]):
        render_window(tables, columns, windows, names, escape, pos, out, write, w)


@njit(cache=True, nogil=True)
def render_serial(tables, columns, windows, names, escape, pos, out, write):
    for w in range(windows.shape[0]):
        render_window(tables, columns, windows, names, escape, pos, out, write, w)
