"""Bundle tables ↔ one Arrow table of households with their rows nested (the Flight path).

Arrow Flight streams one schema per direction, so a call carries one table: a row per
household with DATA.md's households columns, and `persons`, `supporters` and the six
source tables as list<struct> columns of their rows (DATA.md columns, without
household_id, implied by nesting) — the protobuf `Household` message, in Arrow. As
there, source rows join members and supporters by person_id across the whole call, and
a row equal in every column to one an earlier household carries is that record again.

The answer is one row per household sent: the results columns (null for a rejected
household), its `members` and `findings` as list<struct> (without household_id), and
`reasons` (null for an assessed household). Results come first, in results order, then
the rejects.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema
from meanstest.service.convert import unique_rows, unmatched_of, with_unmatched
from meanstest.service.errors import InvalidArgument

NESTED = ("persons", "supporters") + schema.SOURCE_TABLES


def _fields(name: str) -> list[pa.Field]:
    return [
        f for f in schema.arrow_schema(name) if f.name != "household_id" or name == "households"
    ]


def request_schema() -> pa.Schema:
    fields = list(schema.arrow_schema("households"))
    fields += [pa.field(n, pa.list_(pa.struct(_fields(n)))) for n in NESTED]
    return pa.schema(fields)


def answer_schema() -> pa.Schema:
    fields = [f.with_nullable(True) for f in schema.OUTPUTS["results"]]
    for name in ("members", "findings"):
        inner = [f for f in schema.OUTPUTS[name] if f.name != "household_id"]
        fields.append(pa.field(name, pa.list_(pa.struct(inner))))
    fields.append(pa.field("reasons", pa.list_(pa.string())))
    return pa.schema(fields)


def _flat(col) -> pa.Array:
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _grouped(rows: pa.Table, group: np.ndarray, n: int, fields: list[pa.Field]) -> pa.Array:
    """list<struct> per group 0..n-1 of `rows` (rows already in group order)."""
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(np.bincount(group, minlength=n), out=offsets[1:])
    struct = pa.StructArray.from_arrays(
        [rows.column(f.name).combine_chunks().cast(f.type) for f in fields],
        fields=fields,
    )
    return pa.ListArray.from_arrays(pa.array(offsets), struct)


def tables_to_nested(tables: dict[str, pa.Table]) -> pa.Table:
    """Bundle tables → the request table (the client side). A source row goes under every
    household whose member or supporter it names, and a row naming nobody under the first
    household, where the service ignores and counts it (convert.tables_to_households)."""
    from meanstest.conform import conform_tables

    t = conform_tables(tables)
    hh = t["households"]
    n = hh.num_rows
    ids = _flat(hh["household_id"])
    home = {}
    for name in ("persons", "supporters"):
        table = t[name]
        h = pc.index_in(table["household_id"], value_set=ids).to_numpy(zero_copy_only=False)
        h = np.where(np.isnan(h.astype(float)), -1, h).astype(np.int64) if len(h) else h
        home[name] = h
    people = pa.table(
        {
            "person_id": pa.concat_arrays(
                [_flat(t["persons"]["person_id"]), _flat(t["supporters"]["supporter_id"])]
            ),
            "_h": np.concatenate([home["persons"], home["supporters"]]).astype(np.int64),
        }
    )
    people = (
        people.filter(pc.greater_equal(people["_h"], 0)).group_by(["person_id", "_h"]).aggregate([])
    )
    columns = {f.name: hh.column(f.name) for f in schema.arrow_schema("households")}
    for name in NESTED:
        table = t[name]
        if name in ("persons", "supporters"):
            h = home[name]
            keep = np.flatnonzero(h >= 0)
            order = keep[np.argsort(h[keep], kind="stable")]
            rows, group = table.take(pa.array(order, pa.int64())), h[order]
        else:
            indexed = table.append_column("_row", pa.array(np.arange(table.num_rows)))
            pairs = indexed.join(people, "person_id", join_type="left outer")
            nobody = pc.is_null(pairs["_h"])
            pairs = pairs.set_column(
                pairs.schema.get_field_index("_h"), "_h", pc.fill_null(pairs["_h"], 0)
            )
            if n == 0:
                pairs = pairs.filter(pc.invert(nobody))
            pairs = pairs.sort_by([("_h", "ascending"), ("_row", "ascending")])
            rows, group = pairs, pairs["_h"].to_numpy()
        columns[name] = _grouped(rows, np.asarray(group, np.int64), n, _fields(name))
    return pa.table(columns, schema=request_schema())


def nested_rows(request: pa.Table) -> Iterator[tuple[str, int]]:
    """(table, rows) of a request table without reading a row: households, then each
    nested table's entries (what its lists' offsets span), for errors.CallRows before
    the un-nesting allocates them (a list of null-typed structs takes no bytes)."""
    yield "households", request.num_rows
    for name in NESTED:
        if name not in request.column_names:
            continue
        col = request[name]
        if pa.types.is_null(col.type):
            continue  # no records
        if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)):
            # a fixed_size_list or list_view was un-nested uncounted (the review of the
            # bound: 20,000 rows past a bound of 3,200)
            raise InvalidArgument(
                f"column {name}: {col.type} is not a list of records (list<struct<…>> or "
                "large_list<struct<…>>)",
                field="schema",
            )
        spans = (c.offsets[-1].as_py() - c.offsets[0].as_py() for c in col.chunks if len(c))
        entries = sum(spans)
        if entries and not pa.types.is_struct(col.type.value_type):
            # list<null> or list<int64> of entries ended the un-nesting in a TypeError,
            # answered "internal error" (found by fuzzing Flight's request path);
            # list<null> with no entries is an empty table, as pandas writes one
            raise InvalidArgument(
                f"column {name}: {col.type} holds {entries:,} "
                f"entr{'y' if entries == 1 else 'ies'} that are not records "
                "(list<struct<…>> or large_list<struct<…>>)",
                field="schema",
            )
        yield name, entries


def nested_to_tables(request: pa.Table) -> dict[str, pa.Table]:
    """The request table → bundle tables (the server side); columns the request lacks are
    left to validation (a missing required column rejects the household)."""
    names = set(request.column_names)
    hh_cols = [f.name for f in schema.arrow_schema("households") if f.name in names]
    out = {"households": request.select(hh_cols)}
    ids = _flat(request["household_id"]) if "household_id" in names else None
    for name in NESTED:
        if name not in names:
            continue
        col = _flat(request[name])
        if col.null_count:  # a null list is empty: list_flatten skips what its offsets span,
            # list_parent_indices does not (valid Arrow; found by an adversarial gRPC run)
            col = pc.fill_null(col, pa.scalar([], col.type))
        values = pc.list_flatten(col)
        rows = pa.Table.from_struct_array(values) if len(values) else None
        if rows is None:
            rows = pa.schema(_fields(name)).empty_table()
        parent = pc.list_parent_indices(col)
        if name in ("persons", "supporters"):
            owner = ids.take(parent) if ids is not None else pa.nulls(len(parent), pa.string())
            rows = rows.add_column(0, "household_id", owner)
        else:
            rows = unique_rows(name, rows, parent.to_numpy())
        out[name] = rows
    return out


def answer_table(outputs: dict[str, pa.Table]) -> pa.Table:
    """The four output tables → the answer table (one row per household). The engine
    writes members and findings in results order and most calls have no rejects: then
    no row is moved and no column copied (a 10,000-household answer: ~8 -> ~3 ms)."""
    results, rejects = outputs["results"], outputs["rejects"]
    n, m = results.num_rows, rejects.num_rows
    ids = _flat(results["household_id"])

    def then_rejects(first: pa.Array, rest) -> pa.Array:
        return pa.concat_arrays([first, rest]) if m else first

    columns = {}
    for f in schema.OUTPUTS["results"]:
        columns[f.name] = then_rejects(_flat(results[f.name]), pa.nulls(m, f.type))
    columns["household_id"] = then_rejects(ids, _flat(rejects["household_id"]))
    for name in ("members", "findings"):
        table = outputs[name]
        group = pc.index_in(table["household_id"], value_set=ids).to_numpy(zero_copy_only=False)
        group = np.asarray(group, np.int64)
        if len(group) and not (group[1:] >= group[:-1]).all():
            order = np.argsort(group, kind="stable")
            table, group = table.take(pa.array(order, pa.int64())), group[order]
        inner = [f for f in schema.OUTPUTS[name] if f.name != "household_id"]
        nested = _grouped(table, group, n, inner)
        columns[name] = then_rejects(nested, pa.array([[]] * m, nested.type))
    columns["reasons"] = then_rejects(pa.nulls(n, pa.list_(pa.string())), _flat(rejects["reasons"]))
    return pa.table(columns, schema=answer_schema())


def answer_to_tables(answer: pa.Table) -> dict[str, pa.Table]:
    """The answer table → results, members, findings, rejects (the client side)."""
    rejected = pc.is_valid(answer["reasons"])
    res = answer.filter(pc.invert(rejected))
    rej = answer.filter(rejected)
    out = {"results": res.select(schema.OUTPUTS["results"].names).cast(schema.OUTPUTS["results"])}
    for name in ("members", "findings"):
        col = _flat(res[name])
        flat = pc.list_flatten(col)
        rows = pa.Table.from_struct_array(flat) if len(flat) else None
        owner = _flat(res["household_id"]).take(pc.list_parent_indices(col))
        if rows is None:
            out[name] = schema.OUTPUTS[name].empty_table()
        else:
            out[name] = rows.add_column(0, "household_id", owner).cast(schema.OUTPUTS[name])
    out["rejects"] = rej.select(["household_id", "reasons"]).cast(schema.OUTPUTS["rejects"])
    count = unmatched_of(answer)  # the answer's metadata, kept on the results
    if count is not None:
        out["results"] = with_unmatched(out["results"], count)
    return out
