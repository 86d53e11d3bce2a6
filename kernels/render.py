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

One value's text is written by kernels.text. Dates are written exactly as Arrow's cast
to string writes them, so the text is the same as the Arrow implementation it replaced
even for absurd dates (date32 days -12687428..11248737 in full).

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

from .memory import pointer
from .text import (
    FALSE_TEXT,
    NULL_TEXT,
    TRUE_TEXT,
    any_escape,
    bit,
    is_valid,
    jit,
    put,
    put_date,
    put_int,
    put_string,
    put_tab,
)

BLOCK = 1 << 12  # rows per parallel block
parallel = njit(cache=True, nogil=True, _nrt=False, parallel=True)  # no refcounts: see .text


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
            p = put(NULL_TEXT, out, p, write)
        pos[i] = p


@jit
def int_rows(values, bits, bit_offset, pos, out, write, lo, hi):
    for i in range(lo, hi):
        p = put_tab(out, pos[i], write)
        if is_valid(bits, bit_offset, i):
            p = put_int(values[i], out, p, write)
        else:
            p = put(NULL_TEXT, out, p, write)
        pos[i] = p


@jit
def date_rows(values, bits, bit_offset, pos, out, write, lo, hi):
    for i in range(lo, hi):
        p = put_tab(out, pos[i], write)
        if is_valid(bits, bit_offset, i):
            p = put_date(values[i], out, p, write)
        else:
            p = put(NULL_TEXT, out, p, write)
        pos[i] = p


@jit
def bool_rows(values, value_offset, bits, bit_offset, pos, out, write, lo, hi):
    for i in range(lo, hi):
        p = put_tab(out, pos[i], write)
        if not is_valid(bits, bit_offset, i):
            p = put(NULL_TEXT, out, p, write)
        elif bit(values, value_offset, i):
            p = put(TRUE_TEXT, out, p, write)
        else:
            p = put(FALSE_TEXT, out, p, write)
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
            p = put(NULL_TEXT, out, p, write)
        else:
            for k in range(list_offsets[i], list_offsets[i + 1]):
                if k > list_offsets[i]:
                    if write:
                        out[p] = 44
                    p += 1
                if is_valid(item_bits, item_offset, k):
                    p = put_string(data, offsets[k], offsets[k + 1], escape, out, p, write)
                else:
                    p = put(NULL_TEXT, out, p, write)
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
            p = put(NULL_TEXT, out, p, write)
        pos[i] = p


@jit
def null_rows(pos, out, write, lo, hi):
    """A column of the null type: every value null."""
    for i in range(lo, hi):
        pos[i] = put(NULL_TEXT, out, put_tab(out, pos[i], write), write)


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
