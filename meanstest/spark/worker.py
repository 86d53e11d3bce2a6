"""The executor side: one partition of co-located households through the same
`meanstest.batch.assess_batch` as the single-machine review, its outputs handed back
as Arrow blobs by jurisdiction; and the functions that turn those blobs into the
output tables (the §9 rank finished from every partition's counts).

Nothing here imports pyspark at module level, so the batch functions are tested
without a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema
from meanstest.batch import CHANGES_SCHEMA, assess_batch
from meanstest.spark.layout import (
    blob_rows,
    folder_value,
    from_blobs,
    in_bundle_order,
    range_of,
    read_blob,
    route,
    to_blobs,
)

if TYPE_CHECKING:
    from meanstest.batch import Batch
    from meanstest.policy import PolicyLibrary

OUTPUTS = ("results", "members", "findings", "rejects", "changes")
KIND = {name: i for i, name in enumerate((*OUTPUTS, "tally"))}
# §9 rank buckets: a result's difficulty index d (0-1000) is bucket d + 1, a null one
# bucket 0 (ranked last, as pipeline.rank's sort places nulls)
BUCKETS = 1002
OUT_BLOBS = pa.schema(
    [
        ("_kind", pa.int8()),
        ("_part", pa.int32()),
        ("jurisdiction", pa.string()),
        ("_blob", pa.binary()),
    ]
)


def output_schema(name: str) -> pa.Schema:
    return CHANGES_SCHEMA if name == "changes" else schema.OUTPUTS[name]


def buckets(results: pa.Table) -> np.ndarray:
    """Each result's rank bucket (see BUCKETS)."""
    index = pc.fill_null(results["difficulty_index"], -1).to_numpy()
    return index.astype(np.int64) + 1


def _jurisdiction_groups(jurisdiction) -> tuple[list, np.ndarray]:
    """(the distinct folders' jurisdictions, layout.folder_value: a null one as None;
    each row's index among them)."""
    if isinstance(jurisdiction, pa.ChunkedArray):
        jurisdiction = jurisdiction.combine_chunks()
    codes = pc.dictionary_encode(jurisdiction, null_encoding="encode")
    names = [folder_value(j) for j in codes.dictionary.to_pylist()]
    distinct = list(dict.fromkeys(names))  # two values may share a folder's value
    at = {name: i for i, name in enumerate(distinct)}
    group = np.array([at[name] for name in names], np.int64)
    indices = codes.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return distinct, group[indices]


def _by_jurisdiction(kind: str, part: int, jurisdiction, table: pa.Table):
    """`table` cut by jurisdiction (a null one is its own piece), one blob row each."""
    if table.num_rows == 0:
        return []
    values, group = _jurisdiction_groups(jurisdiction)
    return [
        blob_rows(
            OUT_BLOBS,
            {"_kind": KIND[kind], "_part": part},
            {"jurisdiction": [values[g] for g in groups]},
            blobs,
        )
        for groups, blobs in to_blobs(table, group)
    ]


def by_jurisdiction(name: str, table: pa.Table, jurisdiction: pa.Array | pa.ChunkedArray) -> dict:
    """Output `name`'s rows cut by jurisdiction: {(name, jurisdiction): [rows]}, the
    rows cast to the output's schema (meanstest.spark.write.write_pieces)."""
    if table.num_rows == 0:
        return {}
    values, group = _jurisdiction_groups(jurisdiction)
    table = table.cast(output_schema(name))
    return {(name, value): [table.filter(pa.array(group == g))] for g, value in enumerate(values)}


def assessed(
    tables: dict, numbers: dict, duplicates: dict, library: PolicyLibrary
) -> tuple[Batch, dict[str, tuple[pa.Table, pa.Array | pa.ChunkedArray]], pa.Array]:
    """The single-machine review's assessment step (meanstest.batch.assess_batch) on
    the tables of some households (each row's bundle row number in `numbers`, so that a
    reject naming "(row N)" names the bundle's row) → (the batch, {output: (its table,
    each row's jurisdiction)}, the assessed households' IDs)."""
    b = assess_batch(tables, library, "fast", duplicates=duplicates, places=numbers)
    valid = b.engine_input.households
    valid_ids = valid["household_id"].combine_chunks()
    valid_jurisdictions = valid["jurisdiction"].combine_chunks()

    def jurisdictions(hids: pa.ChunkedArray) -> pa.Array:
        """The jurisdiction of each row's household (an assessed one: ids are unique)."""
        return valid_jurisdictions.take(pc.index_in(hids, value_set=valid_ids))

    households = tables["households"]
    ok = pc.fill_null(pc.is_in(households["household_id"], valid_ids), False)
    rejected_rows = households.filter(pc.invert(ok))
    if rejected_rows.num_rows != b.rejects.num_rows:
        raise RuntimeError("rejects out of step with households rows (a bug in meanstest.spark)")
    outputs = {
        "results": (b.results, valid_jurisdictions),
        "members": (b.members, jurisdictions(b.members["household_id"])),
        "findings": (b.findings, jurisdictions(b.findings["household_id"])),
        "rejects": (b.rejects, rejected_rows["jurisdiction"]),
        "changes": (b.changes, jurisdictions(b.changes["household_id"])),
    }
    return b, outputs, valid_ids


def _assess_batch(rows: pa.Table, library, bounds: np.ndarray) -> list[pa.RecordBatch]:
    """`assessed` on the households of one partition's blob rows (meanstest.spark.
    layout), its outputs as blob rows by jurisdiction, and one tally row: the batch's
    summary counts, its results' rank bucket counts and its partition (the range of
    household_ids it covers), which is what the run's rank needs."""
    tables, numbers, duplicates = in_bundle_order(from_blobs(rows.to_batches()))
    b, outputs, valid_ids = assessed(tables, numbers, duplicates, library)
    part = int(range_of(bounds, valid_ids[:1])[0]) if len(valid_ids) else 0
    tally = {
        "tally": b.tally.to_json(),
        "counts": np.bincount(buckets(b.results), minlength=BUCKETS).tolist(),
        "part": part,
    }
    tally_row = blob_rows(
        OUT_BLOBS,
        {"_kind": KIND["tally"], "_part": part},
        {"jurisdiction": [None]},
        [json.dumps(tally).encode()],
    )
    blobs = [
        row
        for name, (table, places) in outputs.items()
        for row in _by_jurisdiction(name, part, places, table)
    ]
    return [*blobs, tally_row]


def rank_offsets(counts: np.ndarray) -> np.ndarray:
    """offsets[k, b]: what turns a batch rank of partition k, bucket b into the run's.

    Partitions are ranges of household_id in order, so a result of bucket b in
    partition k comes after every result of a higher bucket (anywhere) and every result
    of bucket b in an earlier partition; its batch rank already counts the higher
    buckets of its own partition."""
    total = counts.sum(axis=0)
    above = np.cumsum(total[::-1])[::-1] - total  # results of higher buckets, run-wide
    above_here = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1] - counts
    before = np.cumsum(counts, axis=0) - counts  # same bucket, earlier partitions
    return above[None, :] - above_here + before


def ranked(results: pa.Table, part: int, offsets: np.ndarray) -> pa.Table:
    """Results of partition `part` with their batch rank made the run's."""
    rank = results["rank"].to_numpy() + offsets[part, buckets(results)]
    at = results.schema.get_field_index("rank")
    return results.set_column(at, "rank", pa.array(rank, pa.int64()))


def unblob(
    name: str, batches: Iterable[pa.RecordBatch], offsets: np.ndarray | None = None
) -> Iterator[pa.RecordBatch]:
    """Output blob rows → the output's rows with `jurisdiction` (results ranked over
    the run with `offsets`)."""
    target = output_schema(name).append(pa.field("jurisdiction", pa.string()))
    for batch in batches:
        parts = batch.column("_part").to_numpy()
        places = batch.column("jurisdiction")
        for i, blob in enumerate(batch.column("_blob")):
            table = read_blob(blob)
            if name == "results":
                table = ranked(table, parts[i], offsets)
            place = pa.array([places[i].as_py()] * table.num_rows, pa.string())
            table = table.cast(output_schema(name)).append_column("jurisdiction", place)
            yield from table.cast(target).to_batches()


def _threads() -> None:
    """numba on the task's cores (spark.task.cpus)."""
    import numba
    from pyspark import TaskContext

    cpus = TaskContext.get().cpus()
    numba.set_num_threads(max(1, min(numba.config.NUMBA_NUM_THREADS, cpus)))


def _assess_partition(library_broadcast, bounds: np.ndarray):
    def assess(batches):
        _threads()
        library = library_broadcast.value
        rows = [b for b in batches if b.num_rows]
        if rows:  # a partition holds every row of its households: one batch
            yield from _assess_batch(pa.Table.from_batches(rows), library, bounds)

    return assess


def _pack_partition(part: str, keys: np.ndarray, bounds: np.ndarray, how):
    """A table's rows (its part's columns and the column `how` names) → blob rows by
    partition (layout.pack)."""
    from meanstest.spark.layout import pack

    def run(batches):
        for batch in batches:
            if batch.num_rows:
                yield from pack(pa.Table.from_batches([batch]), part, keys, bounds, how)

    return run


def _files_partition(name: str, root: str, firsts: dict, keys, bounds, how, ids=False):
    """Rows of Spark's binaryFile source (whole Parquet files of table `name`) → the
    table's rows, checked and cast by the bundle reader's rules, numbered in bundle
    order (`firsts`: a file's first row number), as blob rows by partition; `ids`:
    only their IDs (layout.id_rows), by household range."""
    from meanstest.spark.layout import IDS, id_rows, pack, parquet_file

    def run(batches):
        for batch in batches:
            paths = batch.column("path").to_pylist()
            for path, content in zip(paths, batch.column("content"), strict=True):
                table = parquet_file(name, root, path, content.as_buffer(), firsts)
                if ids:
                    yield from pack(id_rows(name, table), IDS, keys, bounds, how)
                elif table.num_rows:
                    yield from pack(table, name, keys, bounds, how)

    return run


def _ids_partition(name: str, keys: np.ndarray, bounds: np.ndarray):
    """Rows of table `name` (households, persons or supporters) → their IDs
    (layout.id_rows) as blob rows by household range."""
    from meanstest.spark.layout import IDS, id_rows, pack

    def run(batches):
        for batch in batches:
            table = id_rows(name, pa.Table.from_batches([batch]))
            yield from pack(table, IDS, keys, bounds, ("range", "household_id"))

    return run


def _routes_partition(keys: np.ndarray, bounds: np.ndarray):
    """A household-range partition's IDs → the routes of its households (layout.routes_of)."""
    from meanstest.spark.layout import routes_of

    def run(batches):
        yield from routes_of(from_blobs(batches), keys, bounds)

    return run


def _route_partition(keys: np.ndarray, bounds: np.ndarray):
    """A person-hash partition's source rows and routes → source blobs by household."""

    def run(batches):
        yield from route(from_blobs(batches), keys, bounds)

    return run


def _unblob_partition(name: str, offsets_broadcast=None):
    def run(batches):
        offsets = offsets_broadcast.value if offsets_broadcast is not None else None
        yield from unblob(name, batches, offsets)

    return run
