"""Canonical lines (docs/digests.md): every row of a bundle table as one line of text —
the table name, then the row's values in DATA.md column order, each after a TAB (null
`\\N`, booleans `true` / `false`, integers in decimal, dates `YYYY-MM-DD`, strings with
`\\ TAB LF CR` escaped, a list's entries joined by `,`).

`render` writes the lines of any number of tables straight from their Arrow buffers
(meanstest.kernels.render, in parallel; any chunking, slicing, string / large_string /
dictionary strings): the input digests (meanstest.digest) and the service journal's
result digests hash them. `table_lines` and `column_text` give them as Arrow strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from meanstest import ids, schema
from meanstest.kernels import render as R

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

NULL = "\\N"
# Lines of different tables sort by table name (a name is followed by TAB, which sorts
# before any letter), so rendering the tables in this order puts every household's
# lines in table order already.
TABLE_ORDER = tuple(sorted(schema.TABLES, key=str.encode))
_NOWHERE = np.empty(0, dtype=np.uint8)  # `out` of the width pass, never written


# -- columns: Arrow arrays → descriptors of their buffers (kernels.render) ---------------

WINDOW = 2048  # rows of a table that go through all its columns together (in L2)


def is_text(t: pa.DataType) -> bool:
    """Whether `t` is one of Arrow's string types (plain, large, view)."""
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


class _Columns:
    """Descriptor rows of column chunks (fields of kernels.render) and every array whose
    buffers they address (kept alive here while the kernels read them)."""

    def __init__(self) -> None:
        self.rows: list[list[int]] = []
        self.keep: list = []

    def add(self, arr: pa.Array, start: int, label: str) -> None:
        """One chunk holding table rows start..start + len(arr)."""
        d = [0] * R.N_FIELDS  # a list: a call of one household describes ~50 chunks
        d[R.START], d[R.STOP] = start, start + len(arr)
        self._describe(arr, d, label)
        self.rows.append(d)

    def _describe(self, arr: pa.Array, d: list, label: str) -> None:
        t, n, off = arr.type, len(arr), arr.offset
        self.keep.append(arr)
        bufs = arr.buffers()
        if arr.null_count and bufs[0] is not None:
            d[R.VALID], d[R.VALID_BIT], d[R.VALID_COUNT] = bufs[0].address, off, bufs[0].size
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            d[R.KIND] = R.STRING
            self._strings(arr, d, R.A, R.A_WIDTH, R.A_COUNT, R.B, R.B_COUNT)
        elif pa.types.is_integer(t):
            if pa.types.is_unsigned_integer(t):  # not a bundle type; values kept exact
                return self._describe(arr.cast(pa.int64()), d, label)
            d[R.KIND], d[R.A_WIDTH], d[R.A_COUNT] = R.INT, t.bit_width // 8, n
            d[R.A] = bufs[1].address + off * (t.bit_width // 8)
        elif pa.types.is_date32(t):
            d[R.KIND], d[R.A_WIDTH], d[R.A_COUNT] = R.DATE, 4, n
            d[R.A] = bufs[1].address + off * 4
        elif pa.types.is_boolean(t):
            d[R.KIND], d[R.A], d[R.A_BIT], d[R.A_COUNT] = R.BOOL, bufs[1].address, off, bufs[1].size
        elif pa.types.is_null(t):
            d[R.KIND] = R.NULL
        elif pa.types.is_dictionary(t) and is_text(t.value_type):
            indices = arr.indices
            if pa.types.is_unsigned_integer(indices.type):
                indices = indices.cast(pa.int64())
            self.keep.append(indices)
            width = indices.type.bit_width // 8
            d[R.KIND], d[R.A_WIDTH], d[R.A_COUNT] = R.DICTIONARY, width, n
            d[R.A] = indices.buffers()[1].address + indices.offset * width
            lines, text = render([(b"", label, [arr.dictionary], len(arr.dictionary))], False)
            starts, ends = lines[:-1] + 1, lines[1:].copy()  # each entry follows a TAB
            text = text if len(text) else np.zeros(1, dtype=np.uint8)
            self.keep += [starts, ends, text]
            d[R.B], d[R.B_COUNT] = text.ctypes.data, len(text)
            d[R.C], d[R.C_COUNT], d[R.D], d[R.D_COUNT] = (
                starts.ctypes.data,
                len(starts),
                ends.ctypes.data,
                len(ends),
            )
        elif (pa.types.is_list(t) or pa.types.is_large_list(t)) and (
            is_text(t.value_type) or pa.types.is_null(t.value_type)
        ):
            items = arr.values
            if not (pa.types.is_string(items.type) or pa.types.is_large_string(items.type)):
                return self._describe(arr.cast(pa.list_(pa.string())), d, label)
            self.keep.append(items)
            width = 8 if pa.types.is_large_list(t) else 4
            d[R.KIND], d[R.A_WIDTH], d[R.A_COUNT] = R.LIST, width, n + 1
            d[R.A] = bufs[1].address + off * width
            self._strings(items, d, R.B, R.B_WIDTH, R.B_COUNT, R.C, R.C_COUNT)
            item_bits = items.buffers()[0]
            if items.null_count and item_bits is not None:
                d[R.D], d[R.D_BIT], d[R.D_COUNT] = item_bits.address, items.offset, item_bits.size
        elif pa.types.is_string_view(t) or pa.types.is_date64(t):  # encodings of the same values
            return self._describe(arr.cast(pa.string() if is_text(t) else pa.date32()), d, label)
        else:
            raise TypeError(
                f"input_digest: column {label} has type {t}, which has no canonical text"
            )

    def _strings(self, arr, d, at, width_at, count_at, data_at, size_at) -> None:
        """Offsets (from the array's first row) and data of a string array into d."""
        width = 8 if pa.types.is_large_string(arr.type) else 4
        dtype, n, bufs = (np.int64 if width == 8 else np.int32), len(arr), arr.buffers()
        ends = None if bufs[1] is None else ids.buffer_values(bufs[1], dtype, arr.offset, n + 1)
        if ends is None or len(ends) != n + 1:
            if n:  # the kernels read n + 1 offsets
                raise ValueError("input_digest: a malformed string array (offsets missing)")
            zero = np.zeros(1, dtype=dtype)  # no rows: no offsets buffer, or an empty one
            self.keep.append(zero)
            d[at] = zero.ctypes.data
        else:
            d[at] = bufs[1].address + arr.offset * width
        d[width_at], d[count_at] = width, n + 1
        if bufs[2] is not None:
            d[data_at], d[size_at] = bufs[2].address, bufs[2].size
        if n:  # the kernels trust the offsets to lie within the data
            lo, hi = int(ends[0]), int(ends[-1])
            if not 0 <= lo <= hi <= (0 if bufs[2] is None else bufs[2].size):
                raise ValueError(f"input_digest: a malformed string array ({lo}..{hi})")


class Scratch:
    """Arrays by name, reused from call to call when large enough (`get` gives a view of
    the asked size): new memory costs its page faults, about 1 s per GB here."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, size: int, dtype: DTypeLike) -> np.ndarray:
        if not self.keep:
            return np.empty(size, dtype=dtype)
        a = self._arrays.get(name)
        if a is None or len(a) < size:
            grown = size if a is None else max(size, len(a) + len(a) // 4)
            a = self._arrays[name] = np.empty(grown, dtype=dtype)
        return a[:size]


def render(
    tables: Iterable[tuple[bytes, str, Sequence[pa.Array | pa.ChunkedArray], int]],
    threads: bool,
    scratch: Scratch | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every row's line, table after table: (offsets int64 [rows + 1], text uint8).
    `tables`: (name bytes, label, columns (arrays or chunked arrays), rows); `scratch`:
    arrays to render into (the slabs of `_slab_digests`), else new ones.

    Rows go through all columns a window at a time (kernels.render): a column after
    column pass over a whole table would fetch each line from memory once per column."""
    columns = _Columns()
    table_rows, names, windows, base = [], [], [], 0
    widest = 1
    for t, (name, label, cols, n) in enumerate(tables):
        first = len(columns.rows)
        for c, column in enumerate(cols):
            start = 0
            for arr in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
                if len(arr):
                    columns.add(arr, start, f"{label}.{c}")
                start += len(arr)
            if start != n:
                raise ValueError(f"input_digest: {label} columns differ in length")
        at = sum(len(x) for x in names)
        table_rows.append([base, at, at + len(name), first, len(columns.rows)])
        widest = max(widest, len(columns.rows) - first)
        names.append(name)
        windows += [[t, lo, min(n, lo + WINDOW)] for lo in range(0, n, WINDOW)]
        base += n
    args = (
        np.array(table_rows, dtype=np.int64).reshape(-1, R.N_TABLE_FIELDS),
        np.array(columns.rows, dtype=np.int64).reshape(-1, R.N_FIELDS),
        np.array(windows, dtype=np.int64).reshape(-1, 3),
        np.frombuffer(b"".join(names) or b"\0", dtype=np.uint8),
        np.zeros((len(windows), widest), dtype=np.uint8),  # escape flags of the width pass
    )
    run = R.render_parallel if threads and base > WINDOW else R.render_serial
    scratch = scratch or Scratch()
    line_off = scratch.get("line_off", base + 1, np.int64)
    line_off[0] = 0
    widths = line_off[1:]  # first the width of every line, then (cumsum) where it starts
    for t, (name, _, _, n) in enumerate(tables):
        widths[table_rows[t][0] : table_rows[t][0] + n] = len(name)
    run(*args, widths, _NOWHERE, False)
    np.cumsum(line_off, out=line_off)
    text = scratch.get("text", int(line_off[-1]), np.uint8)
    pos = scratch.get("pos", base, np.int64)
    pos[:] = line_off[:-1]
    run(*args, pos, text, True)
    if not np.array_equal(pos, line_off[1:]):  # the two passes share their code: never
        raise RuntimeError("input_digest: rendered widths and bytes disagree")
    del columns  # the buffers may go now
    return line_off, text


def _render_columns(columns, n: int, name: bytes, label: str, threads: bool):
    """Lines of `n` rows: name, then each column after a TAB → (line offsets, text)."""
    return render([(name, label, columns, n)], threads)


def table_columns(name: str, table: pa.Table) -> list:
    present = set(table.column_names)
    return [table.column(c.name) for c in schema.TABLES[name] if c.name in present]


def lines_array(line_off: np.ndarray, text: np.ndarray, skip: int = 0) -> pa.Array:
    """Lines as an Arrow string array (large_string past 2 GiB); `skip`: leading bytes
    of every line to leave out."""
    n = len(line_off) - 1
    if skip:
        keep = np.ones(len(text), dtype=bool)
        for k in range(skip):
            keep[line_off[:-1] + k] = False
        text = text[keep]
        line_off = line_off - skip * np.arange(n + 1, dtype=np.int64)
    if line_off[-1] < 2**31:
        return pa.StringArray.from_buffers(
            n, pa.py_buffer(line_off.astype(np.int32)), pa.py_buffer(text)
        )
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(line_off), pa.py_buffer(text))


def table_lines(name: str, table: pa.Table) -> pa.Array:
    """The canonical line of every row of `table` (a bundle table with canonical columns)."""
    line_off, text = _render_columns(
        table_columns(name, table), table.num_rows, name.encode(), name, threads=True
    )
    return lines_array(line_off, text)


def column_text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Every value of one column as its canonical text (no nulls: a null is `\\N`)."""
    line_off, text = _render_columns([column], len(column), b"", "column", threads=True)
    return lines_array(line_off, text, skip=1)  # the TAB before the value
