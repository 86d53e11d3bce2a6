"""The Spark review itself: read, co-locate, assess and finish on the cluster (the general
path), or hand the bundle to meanstest.spark.inplace when it can be read where it lies."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from meanstest import schema
from meanstest.batch import Tally
from meanstest.errors import MeansTestError
from meanstest.progress import count
from meanstest.review.finish import earlier_outputs
from meanstest.review.state import InputChanged, check_unchanged, identities, read_unchanged
from meanstest.spark.frames import (
    Storage,
    absent_tables,
    co_locate,
    household_bounds,
    partition_keys,
    read_frames,
    spark_schema,
    table_path,
)
from meanstest.spark.worker import (
    BUCKETS,
    KIND,
    OUT_BLOBS,
    OUTPUTS,
    _assess_partition,
    _unblob_partition,
    output_schema,
    rank_offsets,
)
from meanstest.spark.write import arrow_filesystem, write_outputs

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from meanstest.policy import PolicyLibrary


def _write_with_spark(spark, staged, name: str, path: str, offsets=None) -> None:
    """One output as a Parquet folder partitioned by jurisdiction (changes: by
    transition and jurisdiction) through Spark's writer, for an output folder pyarrow
    cannot reach (meanstest.spark.write is the usual way). Its blob rows are gathered
    by jurisdiction (a few large rows), so one task, and one file, has all of a
    jurisdiction's rows."""
    from pyspark.sql import functions as F

    columns = output_schema(name).names
    by = ("transition",) if name == "changes" else ()
    keys = [*by, "jurisdiction"]
    blobs = staged.where(F.col("_kind") == KIND[name])
    places = max(1, min(spark.sparkContext.defaultParallelism * 4, 1000))
    target = spark_schema(output_schema(name).append(pa.field("jurisdiction", pa.string())))
    rows = blobs.repartition(places, "jurisdiction").mapInArrow(
        _unblob_partition(name, offsets), target
    )
    data = rows.select(*[c for c in columns if c not in by], *keys)
    data.write.mode("overwrite").partitionBy(*keys).parquet(str(path))


# Session settings of a review (restored after it). Arrow batches to the Python workers
# are cut by rows only: Spark 4.1's byte limit sizes the batch being built after every
# row, which for a list column walks the whole batch (41% of the JVM's samples at 100k
# households). A partition is one assessment, so its batches may as well be large.
REVIEW_CONF = {
    "spark.sql.execution.arrow.maxBytesPerBatch": str(2**31 - 1),  # = no byte limit
    "spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
}


@contextmanager
def session_conf(spark: SparkSession, conf: dict[str, str]) -> Iterator[None]:
    """`conf` set on the session for the block, the previous values restored after."""
    before = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def review_spark(
    spark: SparkSession,
    bundle: str | os.PathLike[str] | dict[str, pa.Table],
    policies: PolicyLibrary | str | Path | None = None,
    out_path: str | os.PathLike[str] | None = None,
    partitions: int | None = None,
    arrow_writes: bool = True,
    in_place: bool | None = None,
    say: Callable[[str], None] | None = None,
    quiet: bool = True,
) -> dict:
    """Review `bundle` (folder of Parquet files/folders or .arrow files, or a dict of Arrow
    tables) on `spark` into `out_path`; returns the summary (also summary.json).

    `partitions`: how many household groups the run is cut into (default: twice the
    cluster's cores); each is assessed by one task, in one batch. `arrow_writes`: the
    executors write the outputs with pyarrow when it reaches the output folder
    (meanstest.spark.write); False: always through Spark's writer. `in_place`: read a
    household-grouped bundle where it lies, one task per chunk of row groups and no
    shuffle (meanstest.spark.inplace); None: when the bundle allows it, True: or fail,
    False: never. `say` (text → None) hears which way the review goes, and why; unless
    `quiet`, the in-place review's steps and chunks are counted on stderr."""
    with session_conf(spark, REVIEW_CONF):
        return _review(
            spark, bundle, policies, out_path, partitions, arrow_writes, in_place, say, quiet
        )


def _review(spark, bundle, policies, out_path, partitions, arrow_writes, in_place, say, quiet):
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from meanstest.affected import ingest_notes
    from meanstest.pipeline import load_policies
    from meanstest.spark.inplace import local_folder

    if out_path is None:
        raise MeansTestError("review_spark needs an output folder (out_path)")
    # a bundle on this machine is the one the review started with until it ends, or it
    # refuses (review.state.check_unchanged; a blind check replaced a file midway)
    inputs = _table_paths(spark, local_folder(bundle))
    seen = identities(inputs)
    say = say or (lambda text: None)
    absent = absent_tables(spark, bundle)
    for table in absent:
        say(schema.absent_note("the tables given" if isinstance(bundle, dict) else bundle, table))
    library = load_policies(policies)
    # an earlier review's outputs go before any work, whichever way the review goes: the
    # shuffled way removed them only once the rows were assessed, and one that failed or
    # was interrupted before left them for report and reproduce to take for its own (a
    # blind test)
    out = Storage(spark, out_path)
    _remove_earlier(out)
    partitions = partitions or max(2, spark.sparkContext.defaultParallelism * 2)
    if in_place is not False:
        planned = _plan_in_place(
            spark, bundle, out_path, partitions, arrow_writes, in_place, say, quiet
        )
        if planned is not None:
            notes = ingest_notes(local_folder(bundle))  # file: URIs too
            return _review_in_place(
                spark,
                planned,
                library,
                out_path,
                quiet,
                (notes, absent),
                (inputs, seen),
            )
    from meanstest.spark.inplace import counting

    sc = spark.sparkContext
    files: dict = {}
    steps = (lambda text: None) if quiet else say
    steps("reading the bundle's tables and cutting the households into ranges")
    frames = read_frames(spark, bundle, files)
    keys = partition_keys(spark, partitions)
    bounds = household_bounds(frames["households"], partitions)
    grouped = co_locate(spark, frames, files, partitions, keys, bounds)
    broadcast = sc.broadcast(library)
    assess = _assess_partition(broadcast, bounds)
    staged = grouped.mapInArrow(assess, spark_schema(OUT_BLOBS)).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    steps(f"routing the rows to their households and assessing {partitions:,} partitions")
    counted = counting(sc, None, "tasks done (routing and assessing)", quiet)
    with counted, read_unchanged(inputs, seen):  # the files it started with, before writing
        rows = staged.where(F.col("_kind") == KIND["tally"]).select("_blob").collect()
    tallies = [json.loads(bytes(r[0])) for r in rows]
    counts = np.zeros((partitions, BUCKETS), np.int64)
    for t in tallies:
        counts[t["part"]] += np.array(t["counts"], np.int64)
    offsets = spark.sparkContext.broadcast(rank_offsets(counts))
    if not out.remote:
        Path(out.root).mkdir(parents=True, exist_ok=True)
    arrow = arrow_filesystem(out.root) if arrow_writes else None
    steps(f"ranking the results of {partitions:,} partitions and writing the outputs")
    with counting(sc, None, "tasks done (writing)", quiet):
        if arrow is not None:
            write_outputs(spark, staged, *arrow, offsets)
        else:
            for name in OUTPUTS:
                ranks = offsets if name == "results" else None
                _write_with_spark(spark, staged, name, out.join(name), ranks)
    try:  # the writes may read the bundle again (a partition Spark did not keep)
        check_unchanged(inputs, seen)
    except InputChanged:
        _remove_earlier(out)
        raise
    summary = summarise(
        [t["tally"] for t in tallies], partitions, ingest_notes(local_folder(bundle)), absent
    )
    out.write_text(out.join("summary.json"), json.dumps(summary, ensure_ascii=False, indent=2))
    staged.unpersist()
    broadcast.unpersist()
    offsets.unpersist()
    return summary


def _plan_in_place(spark, bundle, out_path, partitions, arrow_writes, required, say, quiet):
    """The in-place plan of the bundle (meanstest.spark.inplace.plan), None (said why)
    when the review must take the general path; `required`: that is an error."""
    from meanstest.spark import inplace

    why: list[str] = []
    planned = None
    if arrow_writes and arrow_filesystem(Storage(spark, out_path).root) is not None:
        steps = None if quiet else say
        planned = inplace.plan(bundle, partitions, why.append, steps)
    else:
        why.append("the executors cannot write the output folder with pyarrow")
    if planned is None:
        if required:
            raise MeansTestError(f"the bundle cannot be reviewed in place: {why[0]}")
        say(f"shuffling the bundle's rows by household ({why[0]})")
    else:
        say(
            f"reading the bundle in place: {count(len(planned.chunks), 'chunk')} of whole"
            " row groups,"
            f" up to {planned.chunk_size:,} households each, no shuffle"
        )
    return planned


def _table_paths(spark, folder: Path | None) -> dict[str, Path]:
    """table → the file or folder of a local bundle folder that Spark reads it from
    (frames.table_path); none for a bundle elsewhere (hdfs://, in-memory tables)."""
    if folder is None or not folder.is_dir():
        return {}
    store = Storage(spark, folder)
    found = {table: table_path(store, table) for table in schema.TABLES}
    return {table: Path(path) for table, path in found.items() if path is not None}


def _remove_earlier(out) -> None:
    """Every output of either engine's review from `out` (a Storage), summary.json first."""
    for name in earlier_outputs():
        out.remove(out.join(name))


def _review_in_place(
    spark,
    planned,
    library,
    out_path,
    quiet,
    said: tuple[list[str], list[str]],
    watched: tuple[dict, dict],
) -> dict:
    """`said`: the ingest's notes and the bundle's absent source tables, for summary.json;
    `watched`: the bundle's files and their identities when the review started."""
    from meanstest.spark import inplace
    from meanstest.spark.write import TMP, move_outputs, tmp_removed_on_failure

    out = Storage(spark, out_path)  # its earlier outputs removed by _review
    if not out.remote:
        Path(out.root).mkdir(parents=True, exist_ok=True)
    filesystem, root = arrow_filesystem(out.root)
    with tmp_removed_on_failure(filesystem, f"{root}/{TMP}"):
        with read_unchanged(*watched):  # the tasks read the files the review started with
            tallies = inplace.review(spark, planned, library, filesystem, root, quiet)
        move_outputs(filesystem, root, f"{root}/{TMP}")
    summary = inplace.summary_of(planned, tallies, *said)
    out.write_text(out.join("summary.json"), json.dumps(summary, ensure_ascii=False, indent=2))
    return summary


def summarise(
    tallies: list[str], partitions: int, notes: Sequence[str] = (), absent: Sequence[str] = ()
) -> dict:
    """summary.json of meanstest.review from the batches' tallies (Tally JSON); `notes`:
    the ingest's (affected.ingest_notes); `absent`: the bundle's absent source tables."""
    total = Tally()
    for text in tallies:
        total = total.merge(Tally.from_json(text))
    return total.summary(partitions, -(-total.households_read // partitions), notes, absent)
