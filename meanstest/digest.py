"""input_digest: SHA-256 of a canonical text of one household's rows (docs/digests.md).

Canonical text of a household: one line per row of every table that belongs to it —
its households row, its persons and supporters rows, and every source row whose
person_id is one of its members or supporters. A line is the table name followed by
the row's values in DATA.md column order, separated by TAB:
  - null is `\\N`; booleans `true` / `false`; integers in decimal; dates `YYYY-MM-DD`;
  - strings with `\\` → `\\\\`, TAB → `\\t`, LF → `\\n`, CR → `\\r`;
  - a list (current_programs) is its escaped entries joined by `,` (null entry `\\N`).
Lines are sorted by their UTF-8 bytes, each ends with LF, and the digest is the
hex SHA-256 of the concatenation. Built with Arrow compute, not per-row Python.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema

NULL = "\\N"


def _escape(arr: pa.Array) -> pa.Array:
    for old, new in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        arr = pc.replace_substring(arr, old, new)
    return arr


def _text(col) -> pa.Array:
    """One column as canonical text (see module docstring)."""
    t = col.type
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_list(t):
        flat = pc.fill_null(_escape(pc.list_flatten(col)), NULL)
        lengths = pc.list_value_length(col).fill_null(0).to_numpy()
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), flat, mask=pc.is_null(col))
        joined = pc.binary_join(lists, ",")
        return pc.fill_null(joined, NULL)
    if pa.types.is_boolean(t):
        out = pc.if_else(col, "true", "false")
    elif pa.types.is_string(t):
        out = _escape(col)
    else:  # integers and date32 cast to decimal / ISO text
        out = pc.cast(col, pa.string())
    return pc.fill_null(out, NULL)


def table_lines(name: str, table: pa.Table) -> pa.Array:
    """The canonical line of every row of `table` (a bundle table with canonical columns)."""
    cols = [
        _text(table.column(c.name)) for c in schema.TABLES[name] if c.name in table.column_names
    ]
    prefix = pa.array([name] * table.num_rows, pa.string())
    joined = pc.binary_join_element_wise(prefix, *cols, "\t")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def input_digests(
    households: pa.Table,
    persons: pa.Table,
    supporters: pa.Table,
    sources: dict[str, pa.Table],
) -> list[str]:
    """input_digest of every households row, in order."""
    n = households.num_rows
    hh_index = pa.table(
        {"household_id": households["household_id"], "_h": pa.array(np.arange(n, dtype=np.int64))}
    )
    parts = [pa.table({"_h": hh_index["_h"], "_line": table_lines("households", households)})]
    people = []
    for name, table, id_col in (
        ("persons", persons, "person_id"),
        ("supporters", supporters, "supporter_id"),
    ):
        joined = pa.table(
            {
                "household_id": table["household_id"],
                "_pid": table[id_col],
                "_line": table_lines(name, table),
            }
        ).join(hh_index, "household_id", join_type="inner")
        parts.append(joined.select(["_h", "_line"]))
        people.append(joined.select(["_pid", "_h"]))
    people_t = pa.concat_tables(people).group_by(["_pid", "_h"]).aggregate([])
    for name in schema.SOURCE_TABLES:
        table = sources[name]
        if table.num_rows == 0:
            continue
        lines = pa.table({"_pid": table["person_id"], "_line": table_lines(name, table)})
        parts.append(lines.join(people_t, "_pid", join_type="inner").select(["_h", "_line"]))
    allrows = pa.concat_tables(parts)
    order = pc.sort_indices(allrows, [("_h", "ascending"), ("_line", "ascending")])
    allrows = allrows.take(order)
    lines = pc.binary_join_element_wise(allrows["_line"], pa.scalar(""), "\n")
    lines = pc.cast(lines, pa.large_string()).combine_chunks()
    owner = allrows["_h"].to_numpy()
    offsets = np.frombuffer(
        lines.buffers()[1], dtype=np.int64, count=len(lines) + 1, offset=8 * lines.offset
    )
    data = memoryview(lines.buffers()[2] or b"")
    bounds = np.searchsorted(owner, np.arange(n + 1))
    starts = offsets[bounds]
    return [hashlib.sha256(data[starts[i] : starts[i + 1]]).hexdigest() for i in range(n)]
