"""One row layout for every bundle table, so Spark moves flat rows, not lists of structs.

Co-location shuffles the rows of nine tables (and the run's DUPLICATE_PERSON entries)
to their households' partitions in one exchange. Spark needs one schema for that, and a
union of the nine tables' 75 columns would make every row carry 70 nulls through the
shuffle and the Arrow conversion. Instead each table's columns are laid out on shared
*slots* by kind — the i-th string column of a table in slot `s<i>`, the i-th integer
column (int8/int32/int64) in `i<i>`, dates in `d<i>`, booleans in `b<i>`, the list
column in `l0` — so a row is 19 slots wide whatever its table, plus `_tag` (which table)
and `_row` (its place in that table).

`pack_schema()` is the layout (Arrow types; meanstest.spark.frames builds the Spark
side), `unpack()` turns one partition's rows back into the bundle tables. Pure pyarrow:
the worker imports it without pyspark.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema

DUPLICATES = "duplicates"  # person_id -> every household_id it is a member of
PARTS = (*schema.TABLES, DUPLICATES)
TAG = {name: i for i, name in enumerate(PARTS)}
_LIST = pa.list_(pa.string())
_KINDS = {"s": pa.string(), "i": pa.int64(), "d": pa.date32(), "b": pa.bool_(), "l": _LIST}


def _kind(t: pa.DataType) -> str:
    if pa.types.is_string(t):
        return "s"
    if pa.types.is_integer(t):
        return "i"
    if pa.types.is_date32(t):
        return "d"
    if pa.types.is_boolean(t):
        return "b"
    if t == _LIST:
        return "l"
    raise TypeError(f"no slot for {t}")


def part_schema(part: str) -> pa.Schema:
    """The columns of a part: a bundle table's canonical schema, or the duplicates'."""
    if part == DUPLICATES:
        return pa.schema([("person_id", pa.string()), ("households", _LIST)])
    return schema.arrow_schema(part)


def slots_of(part: str) -> list[tuple[str, str]]:
    """(column, slot) of each column of `part`, in column order."""
    used: dict[str, int] = {}
    out = []
    for field in part_schema(part):
        k = _kind(field.type)
        out.append((field.name, f"{k}{used.get(k, 0)}"))
        used[k] = used.get(k, 0) + 1
    return out


def _slots() -> list[tuple[str, pa.DataType]]:
    width: dict[str, int] = {}
    for part in PARTS:
        for _, slot in slots_of(part):
            k, i = slot[0], int(slot[1:])
            width[k] = max(width.get(k, 0), i + 1)
    return [(f"{k}{i}", _KINDS[k]) for k in _KINDS for i in range(width.get(k, 0))]


SLOTS = _slots()


def pack_schema() -> pa.Schema:
    """A packed row: its part (`_tag`), its row in that part's table, the slots."""
    return pa.schema([("_tag", pa.int8()), ("_row", pa.int64()), *SLOTS])


def unpack(rows: pa.Table) -> tuple[dict[str, pa.Table], dict[str, np.ndarray], dict]:
    """One partition's packed rows → (the nine bundle tables, each in bundle row order,
    a source row sent twice kept once; each table's bundle row numbers; the
    DUPLICATE_PERSON entries, person_id → households)."""
    tag = rows.column("_tag").to_numpy()
    row = rows.column("_row").to_numpy()
    order = np.lexsort((row, tag))
    tag, row = tag[order], row[order]
    keep = np.ones(len(order), dtype=bool)  # the same source row twice: keep one
    keep[1:] = (tag[1:] != tag[:-1]) | (row[1:] != row[:-1]) | (tag[1:] == TAG[DUPLICATES])
    order, tag, row = order[keep], tag[keep], row[keep]
    bounds = np.searchsorted(tag, np.arange(len(PARTS) + 1))
    in_order = len(order) == rows.num_rows and bool((order == np.arange(len(order))).all())
    sorted_rows = rows if in_order else rows.take(pa.array(order))
    tables, numbers = {}, {}
    for part, t in TAG.items():
        a, b = int(bounds[t]), int(bounds[t + 1])
        piece = sorted_rows.slice(a, b - a)
        target = part_schema(part)
        columns = [
            piece.column(slot).cast(target.field(name).type) for name, slot in slots_of(part)
        ]
        tables[part] = pa.Table.from_arrays(columns, schema=target)
        numbers[part] = row[a:b]
    dup = tables.pop(DUPLICATES)
    numbers.pop(DUPLICATES)
    duplicates = dict(zip(dup["person_id"].to_pylist(), dup["households"].to_pylist(), strict=True))
    return tables, numbers, duplicates


def packed_table(tables: dict[str, pa.Table], duplicates: dict | None = None) -> pa.Table:
    """The packed rows of whole tables (rows numbered from 0): what Spark's co-location
    sends a partition holding all of them. For tests, and as the layout's reference."""
    batches = []
    parts = {**tables}
    if duplicates is not None:
        parts[DUPLICATES] = pa.table(
            {"person_id": list(duplicates), "households": list(duplicates.values())},
            schema=part_schema(DUPLICATES),
        )
    target = pack_schema()
    for part, table in parts.items():
        n = table.num_rows
        by_slot = {slot: table.column(name) for name, slot in slots_of(part)}
        columns = [pa.array(np.full(n, TAG[part], np.int8)), pa.array(np.arange(n))]
        for slot, typ in SLOTS:
            col = by_slot.get(slot)
            columns.append(pc.cast(col, typ) if col is not None else pa.nulls(n, typ))
        batches.append(pa.Table.from_arrays(columns, schema=target))
    return pa.concat_tables(batches) if batches else target.empty_table()
