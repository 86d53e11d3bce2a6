"""The executor side: one Arrow batch of co-located households through the same
`validate` and fast engine as the single-machine review (meanstest.review.assess_chunk).

Nothing here imports pyspark at module level but `_assess_partition`'s closure, so the
batch function is tested without a cluster.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema
from meanstest.batch import CHANGES_SCHEMA, assess_batch
from meanstest.spark.layout import unpack

OUTPUTS = ("results", "members", "findings", "rejects", "changes")
KIND = {name: i for i, name in enumerate((*OUTPUTS, "tally"))}
_ROW_REF = re.compile(r"^(\w+)\.(\w+) record=\(row (\d+)\)")
_LIST = pa.list_(pa.string())


def out_schema() -> pa.Schema:
    """The one schema of `_assess_batch`'s output: a kind tag, the household's
    jurisdiction, one struct per output (null unless it is that kind) and, on the one
    "tally" row of each batch, its summary counts as JSON and how many of its results
    have each difficulty index (0–1000, a JSON list: what the run's rank needs)."""
    outputs = dict(schema.OUTPUTS, changes=CHANGES_SCHEMA)
    fields = [pa.field("_kind", pa.int8()), pa.field("jurisdiction", pa.string())]
    fields += [pa.field(name, pa.struct(list(outputs[name]))) for name in OUTPUTS]
    return pa.schema([*fields, pa.field("_tally", pa.string()), pa.field("_index", pa.string())])


INDEX_VALUES = 1001  # RULES.md §9: the difficulty index is 0–1000


def index_counts(results: pa.Table) -> list[int]:
    """How many results have each difficulty index 0..1000."""
    index = results["difficulty_index"].drop_null().to_numpy()
    return np.bincount(index, minlength=INDEX_VALUES).tolist()


def _global_rows(reasons: list[str], rows: dict[str, np.ndarray]) -> list[str]:
    """'(row K)' of a batch-local table → the bundle's row number."""
    out = []
    for text in reasons:
        m = _ROW_REF.match(text)
        if m and m.group(1) in rows:
            n = int(rows[m.group(1)][int(m.group(3)) - 1]) + 1
            text = f"{text[: m.start(3)]}{n}{text[m.end(3) :]}"
        out.append(text)
    return out


def _kind_batch(kind: str, jurisdiction: pa.Array, table: pa.Table | None, tally=None, index=None):
    target = out_schema()
    n = len(jurisdiction)
    cols = [pa.array(np.full(n, KIND[kind], np.int8)), jurisdiction.cast(pa.string())]
    for name in OUTPUTS:
        typ = target.field(name).type
        if name == kind:
            arrays = [table.column(f.name).combine_chunks().cast(f.type) for f in typ]
            cols.append(pa.StructArray.from_arrays(arrays, fields=list(typ)))
        else:
            cols.append(pa.nulls(n, typ))
    for text in (tally, index):
        cols.append(pa.array([text], pa.string()) if text is not None else pa.nulls(n, pa.string()))
    return pa.RecordBatch.from_arrays(cols, schema=target)


def _assess_batch(rows: pa.Table, library) -> list[pa.RecordBatch]:
    """The single-machine review's assessment step (meanstest.batch.assess_batch) on
    the households of one partition's packed rows, tagged for the driver."""
    tables, numbers, duplicates = unpack(rows)
    b = assess_batch(tables, library, "fast", duplicates=duplicates)
    valid = b.engine_input.households
    valid_ids, valid_jurisdictions = valid["household_id"], valid["jurisdiction"]

    def jurisdictions(hids: pa.ChunkedArray) -> pa.Array:
        """The jurisdiction of each row's household (an assessed one: ids are unique)."""
        at = pc.index_in(hids, value_set=valid_ids.combine_chunks()).combine_chunks()
        return valid_jurisdictions.combine_chunks().take(at)

    households = tables["households"]
    ok = pc.fill_null(pc.is_in(households["household_id"], valid["household_id"]), False)
    rejected_rows = households.filter(pc.invert(ok))
    if rejected_rows.num_rows != b.rejects.num_rows:
        raise RuntimeError("rejects out of step with households rows (a bug in meanstest.spark)")
    reasons = [_global_rows(r, numbers) for r in b.rejects["reasons"].to_pylist()]
    rejects = pa.table(
        {"household_id": b.rejects["household_id"], "reasons": pa.array(reasons, _LIST)}
    )
    return [
        _kind_batch("results", valid["jurisdiction"].combine_chunks(), b.results),
        _kind_batch("members", jurisdictions(b.members["household_id"]), b.members),
        _kind_batch("findings", jurisdictions(b.findings["household_id"]), b.findings),
        _kind_batch("rejects", rejected_rows["jurisdiction"].combine_chunks(), rejects),
        _kind_batch("changes", jurisdictions(b.changes["household_id"]), b.changes),
        _kind_batch(
            "tally",
            pa.nulls(1, pa.string()),
            None,
            b.tally.to_json(),
            json.dumps(index_counts(b.results)),
        ),
    ]


def _assess_partition(library_broadcast):
    def assess(batches):
        import numba
        from pyspark import TaskContext

        context = TaskContext.get()
        numba.set_num_threads(max(1, min(numba.config.NUMBA_NUM_THREADS, context.cpus())))
        library = library_broadcast.value
        rows = [b for b in batches if b.num_rows]
        if rows:  # a partition holds every row of its households: one batch
            yield from _assess_batch(pa.Table.from_batches(rows), library)

    return assess
