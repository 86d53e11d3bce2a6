"""The outputs written by the executors with pyarrow, all five in one Spark job.

Spark's own writer would take a job per output (five), convert every output row from
Arrow to Spark's rows and back to Parquet, and sort each task's rows by partition
folder. Here the assessed partitions' output blobs (meanstest.spark.worker) are
gathered by (output, jurisdiction) — a few large rows — and each task writes one
Parquet file per output and jurisdiction with pyarrow, under a temporary folder the
driver then moves into place. A task writes the same file names on every attempt, so
a retried task overwrites, never adds.

The executors reach the output folder through a pyarrow file system: local paths and
`file:`, `hdfs:` (libhdfs, as on a Hadoop node), `s3a:`/`s3:` and `gs:`. When pyarrow
cannot open the folder's file system, the review falls back to Spark's writer
(meanstest.spark.review._write_with_spark), same files, slower.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.spark.layout import NULL_FOLDER, is_uri, read_blob
from meanstest.spark.worker import KIND, OUTPUTS, output_schema, ranked

if TYPE_CHECKING:
    import numpy as np
    from pyspark.broadcast import Broadcast
    from pyspark.sql import DataFrame, SparkSession

TMP = "_meanstest_tmp"


def arrow_filesystem(root: str) -> tuple[pa.fs.FileSystem, str] | None:
    """(pyarrow file system, path of `root` on it), or None when pyarrow cannot reach it."""
    from pyarrow import fs

    if not is_uri(root):
        return fs.LocalFileSystem(), os.path.abspath(root)
    try:
        return fs.FileSystem.from_uri(re.sub(r"^s3a://", "s3://", root))
    except (pa.ArrowException, ValueError, OSError):
        return None


def _folder(name: str, value) -> str:
    """The partition folder of `value` (a jurisdiction already made a folder's value,
    layout.folder_value): `name=` and its percent-encoding, which Spark and pyarrow
    decode back; a null is NULL_FOLDER."""
    return f"{name}={NULL_FOLDER if value is None else quote(str(value), safe='')}"


def _group_order(item) -> tuple:
    """A fixed order of a task's (output, jurisdiction) groups whatever the order its
    rows came in (a null jurisdiction first), so that every attempt of the task gives
    each group the same file name."""
    (name, place), _ = item
    return (name, place is not None, "" if place is None else str(place))


def write_partition(
    batches: Iterable[pa.RecordBatch],
    filesystem: pa.fs.FileSystem,
    tmp: str,
    offsets: np.ndarray | None = None,
    part: int = 0,
) -> Iterator[pa.RecordBatch]:
    """One task: its output blobs (rows of worker.OUT_BLOBS) → one Parquet file per
    output, jurisdiction (and transition); yields (path, rows) of each file."""
    pieces: dict[tuple[str, object], list[pa.Table]] = {}
    names = {i: name for name, i in KIND.items()}
    for batch in batches:
        kinds = batch.column("_kind").to_pylist()
        parts = batch.column("_part").to_pylist()
        places = batch.column("jurisdiction").to_pylist()
        for i, blob in enumerate(batch.column("_blob")):
            name = names[kinds[i]]
            table = read_blob(blob)
            if name == "results":
                table = ranked(table, parts[i], offsets)
            pieces.setdefault((name, places[i]), []).append(table.cast(output_schema(name)))
    yield from write_pieces(pieces, filesystem, tmp, part)


def write_pieces(
    pieces: dict, filesystem: pa.fs.FileSystem, tmp: str, part: int
) -> Iterator[pa.RecordBatch]:
    """{(output, jurisdiction): [tables]} → one Parquet file each (changes: one per
    transition too) in its folder under `tmp`, `part-<part>-<k>.parquet`, k the group's
    place among the task's groups (_group_order); yields one batch of (path, rows) of
    the files written.

    The file name is the group's own, not the folder's: two groups whose folders are
    one (a file system that ignores case, say) write two files, never one over the
    other. It was `part-<part>.parquet`, and a null jurisdiction's reject and one
    spelt `__HIVE_DEFAULT_PARTITION__` wrote the same file (an operator's blind
    check: summary.json said rejected 2, rejects/ held 1 row)."""
    paths, rows = [], []
    for k, ((name, place), tables) in enumerate(sorted(pieces.items(), key=_group_order)):
        table = pa.concat_tables(tables)
        groups = [((), table)]
        if name == "changes":
            groups = []
            for t in sorted(set(table["transition"].to_pylist())):
                mask = pc.equal(table["transition"], t)
                groups.append(((_folder("transition", t),), table.filter(mask)))
        for folders, piece in groups:
            folder = "/".join([tmp, name, *folders, _folder("jurisdiction", place)])
            filesystem.create_dir(folder, recursive=True)
            path = f"{folder}/part-{part:05d}-{k:05d}.parquet"
            data = piece.drop_columns(["transition"]) if folders else piece
            write_file(filesystem, path, data)
            paths.append(path)
            rows.append(piece.num_rows)
    if paths:
        yield pa.RecordBatch.from_arrays(
            [pa.array(paths, pa.string()), pa.array(rows, pa.int64())], names=["path", "rows"]
        )


def write_file(filesystem: pa.fs.FileSystem, path: str, table: pa.Table) -> None:
    """`table` as the Parquet file `path`, written under a hidden name in the same
    folder and then renamed: a task attempt that dies, or a second attempt running
    beside it, never leaves a half-written file under the file's name (readers skip
    names starting with '.')."""
    folder, name = path.rsplit("/", 1)
    partial = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
    try:
        with filesystem.open_output_stream(partial) as stream:
            pq.write_table(table, stream, **schema.output_parquet_options(table.schema))
        filesystem.move(partial, path)
    except BaseException:
        _remove(filesystem, partial)
        raise


def _write_partition(filesystem, tmp: str, offsets_broadcast):
    def run(batches):
        from pyspark import TaskContext

        part = TaskContext.get().partitionId()
        yield from write_partition(batches, filesystem, tmp, offsets_broadcast.value, part)

    return run


def write_outputs(
    spark: SparkSession,
    staged: DataFrame,
    filesystem: pa.fs.FileSystem,
    root: str,
    offsets_broadcast: Broadcast[np.ndarray],
) -> None:
    """Every output folder of the review from `staged` (the assessed partitions' blob
    rows), in one Spark job, then moved into `root`."""
    from pyspark.sql import functions as F

    tmp = f"{root}/{TMP}"
    _remove(filesystem, tmp)
    places = max(1, spark.sparkContext.defaultParallelism * 2)
    blobs = staged.where(F.col("_kind") != KIND["tally"])
    gathered = blobs.repartition(places, "_kind", "jurisdiction")
    with tmp_removed_on_failure(filesystem, tmp):
        gathered.mapInArrow(
            _write_partition(filesystem, tmp, offsets_broadcast), "path string, rows long"
        ).collect()
        move_outputs(filesystem, root, tmp)


@contextmanager
def tmp_removed_on_failure(filesystem: pa.fs.FileSystem, tmp: str) -> Iterator[None]:
    """`tmp` (the outputs being written) removed when the block fails: a review that
    failed while writing left `_meanstest_tmp/` in --out (an operator's blind check).
    As far as it can: a task of the failed job that Spark has not yet stopped may
    still write there."""
    try:
        yield
    except BaseException:
        with suppress(OSError, pa.ArrowException):
            _remove(filesystem, tmp)
        raise


EMPTY = "part-empty.parquet"


def move_outputs(filesystem: pa.fs.FileSystem, root: str, tmp: str) -> None:
    """The output folders written under `tmp` moved into `root`, each with `_SUCCESS`;
    `tmp` removed. An output no task wrote (a review with no rejects) is a folder with
    one Parquet file of no rows and the output's columns: an empty folder read back as
    a table of no columns (an operator's blind check)."""
    for name in OUTPUTS:
        target = f"{root}/{name}"
        _remove(filesystem, target)
        if filesystem.get_file_info(f"{tmp}/{name}").type == pa.fs.FileType.NotFound:
            filesystem.create_dir(target, recursive=True)  # an output with no rows
            columns = output_schema(name)
            if name == "changes":  # in the files as their folders would hold them
                columns = columns.remove(columns.get_field_index("transition"))
            write_file(filesystem, f"{target}/{EMPTY}", columns.empty_table())
        else:
            filesystem.move(f"{tmp}/{name}", target)
        with filesystem.open_output_stream(f"{target}/_SUCCESS"):
            pass
    _remove(filesystem, tmp)


def _remove(filesystem, path: str) -> None:
    info = filesystem.get_file_info(path)
    if info.type == pa.fs.FileType.Directory:
        filesystem.delete_dir(path)
    elif info.type != pa.fs.FileType.NotFound:
        filesystem.delete_file(path)
