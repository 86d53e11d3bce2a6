"""input_digest: SHA-256 of a canonical text of one household's rows (docs/digests.md).

Canonical text of a household: one line per row of every table that belongs to it —
its households row, its persons and supporters rows, and every source row whose
person_id is one of its members or supporters. A line is the table name followed by
the row's values in DATA.md column order, separated by TAB:
  - null is `\\N`; booleans `true` / `false`; integers in decimal; dates `YYYY-MM-DD`;
  - strings with `\\` → `\\\\`, TAB → `\\t`, LF → `\\n`, CR → `\\r`;
  - a list (current_programs) is its escaped entries joined by `,` (null entry `\\N`).
Lines are sorted by their UTF-8 bytes, each ends with LF, and the digest is the
hex SHA-256 of the concatenation. Lines are built with Arrow compute; sorting and
joining run in a numba kernel (meanstest.kernels.canonical), hashing in hashlib.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema
from meanstest.ids import IdIndex, StringIndex
from meanstest.kernels.canonical import group_texts

NULL = "\\N"


_SPECIAL = np.zeros(256, dtype=bool)
_SPECIAL[[ord("\\"), ord("\t"), ord("\n"), ord("\r")]] = True


def _escape(arr: pa.Array) -> pa.Array:
    data = arr.buffers()[2]
    if data is None or not _SPECIAL[np.frombuffer(data, dtype=np.uint8)].any():
        return arr  # the common case: nothing to escape, no four passes over the column
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
    if n == 0:
        return []
    homes = StringIndex(households["household_id"])
    lines = [table_lines("households", households)]
    owners = [np.arange(n, dtype=np.int64)]
    refs = [np.arange(n, dtype=np.int64)]
    base = n
    people_h = []
    for name, table, id_col in (
        ("persons", persons, "person_id"),
        ("supporters", supporters, "supporter_id"),
    ):
        h = homes.lookup(table["household_id"]).astype(np.int64)
        keep = np.flatnonzero(h >= 0)
        lines.append(table_lines(name, table))
        owners.append(h[keep])
        refs.append(base + keep)
        base += table.num_rows
        people_h.append(h)
    ids = pa.chunked_array(
        [persons["person_id"].combine_chunks(), supporters["supporter_id"].combine_chunks()],
        pa.string(),
    )
    people = IdIndex(ids)
    # distinct (person code, household) pairs, sorted by person code
    h_all = np.concatenate(people_h)
    pairs = np.unique(people.codes[h_all >= 0].astype(np.int64) * n + h_all[h_all >= 0])
    pair_code, pair_h = pairs // n, pairs % n
    for name in schema.SOURCE_TABLES:
        table = sources[name]
        if table.num_rows == 0:
            continue
        code = people.lookup(table["person_id"])
        lo = np.searchsorted(pair_code, code, side="left")
        hi = np.searchsorted(pair_code, code, side="right")
        counts = np.where(code >= 0, hi - lo, 0)
        rows = np.repeat(np.arange(table.num_rows, dtype=np.int64), counts)
        within = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        owners.append(pair_h[np.repeat(lo, counts) + within])
        refs.append(base + rows)
        lines.append(table_lines(name, table))
        base += table.num_rows
    text = pa.concat_arrays([pc.cast(a, pa.large_string()) for a in lines])
    owner, ref = np.concatenate(owners), np.concatenate(refs)
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(n + 1))
    offsets = np.frombuffer(
        text.buffers()[1], dtype=np.int64, count=len(text) + 1, offset=8 * text.offset
    )
    data = np.frombuffer(text.buffers()[2] or b"\0", dtype=np.uint8)
    canonical, starts = group_texts(offsets, data, ref[order], bounds)
    view = memoryview(canonical)
    return [hashlib.sha256(view[starts[i] : starts[i + 1]]).hexdigest() for i in range(n)]
