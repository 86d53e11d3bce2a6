"""Province scale with the bundle read where it lies: one Spark task per chunk of row
groups, no shuffle.

A bundle whose tables are each one Parquet file, written household block by household
block (`meanstest synth`, `meanstest regroup`), on a file system the
executors reach with pyarrow (a local disk in local mode, a mount every node shares),
needs none of the shuffles of meanstest.spark's general path. The driver plans it as
the single machine's streamed review does (meanstest.review.plan and .stream): chunks
of whole households row groups, and the row groups of every file that hold each
chunk's rows. Then:

1. each task reads its chunk's row groups (pyarrow), keeps the chunk's rows — the ID
   tables' rows the driver's plan gives it, the source rows of its own members and
   supporters — and assesses them with `meanstest.batch.assess_batch` (the review's
   own step, through `worker.assessed`). It writes members, findings, rejects and
   changes by jurisdiction, and its results unranked;
2. the driver ranks every result (§9: difficulty index descending, household_id
   ascending) from the unranked files' two columns, as the single machine does;
3. a second pass of tasks writes each chunk's results with their ranks.

No bundle row passes through the JVM; the outputs, folders and file names are those
of the general path (meanstest.spark.write). When the bundle is not laid out this way
(rows of one chunk spread over a file's row groups, an Arrow IPC file, a table in a
folder of files, a URI), `plan` says why and the review takes the general path.
"""

from __future__ import annotations

import math
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.batch import Tally
from meanstest.bundle import check_table, table_folder
from meanstest.progress import Progress, count, note
from meanstest.review import stream
from meanstest.review.plan import ID_COLUMNS, Plan, bundle_files, chunk_starts, id_tables, make_plan
from meanstest.spark.layout import file_key, is_uri

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    from meanstest.policy import PolicyLibrary

UNRANKED = "_unranked"  # results of each chunk before the run's rank, under the output's tmp
# Households a task assesses at most (unless one row group holds more): a task holds its
# chunk in memory, about 0.8 GiB per 200,000 households (the single machine's spooled
# chunk, meanstest.review.SPOOL_CHUNK), whatever the bundle's size.
MAX_CHUNK = 200_000


@dataclass
class Chunk:
    """What a task needs to read chunk `chunk` of the bundle."""

    chunk: int
    groups: dict[str, list[int]]  # table → its row groups holding rows of the chunk
    keep: dict[str, np.ndarray | None]  # ID table → rows kept among those read (None: all)


@dataclass
class InPlace:
    """A bundle planned for the in-place review."""

    files: dict[str, str]  # table → its Parquet file
    chunks: list[Chunk]
    chunk_size: int
    duplicates: dict[str, list[str]]  # DUPLICATE_PERSON entries of the whole bundle
    outside: Tally  # rows no chunk holds: orphans and source rows of nobody


def local_folder(bundle: str | os.PathLike[str] | dict[str, pa.Table]) -> Path | None:
    """`bundle` (a path or URI) as a path of this machine, or None when it is a URI of
    another file system (hdfs://, s3a://, ...) or in-memory tables."""
    if isinstance(bundle, dict):
        return None
    text = str(bundle)
    if text.startswith("file:"):
        return Path(file_key(text))
    return None if is_uri(text) else Path(text)


def plan(
    bundle: str | os.PathLike[str] | dict[str, pa.Table],
    partitions: int,
    say: Callable[[str], None] | None = None,
    steps: Callable[[str], None] | None = None,
) -> InPlace | None:
    """The in-place plan of `bundle` cut into about `partitions` chunks of at most
    MAX_CHUNK households, each whole households row groups (so never fewer households
    than the largest row group), or None (and `say` is told why) when the bundle cannot
    be read in place. `steps` (text → None) hears each planning step as it starts
    (tens of seconds each at 10M)."""
    say = say or (lambda text: None)
    folder = local_folder(bundle)
    if folder is None:
        say("the bundle is not a folder on a local or mounted file system")
        return None
    if any(table_folder(folder, t) is not None for t in schema.TABLES):  # <t>/, <t>.parquet/
        say("a table is a folder of files")
        return None
    files = bundle_files(folder)
    if any(p.suffix != ".parquet" for p in files.values()):
        say("a table is an Arrow IPC file")
        return None
    for table, path in files.items():  # schemas first: a bad table is refused here
        check_table(path, table)
    groups = stream.group_rows(files["households"])
    n = sum(groups)
    wanted = min(math.ceil(n / max(1, partitions)), MAX_CHUNK)
    chunk_size = max(wanted, max(groups, default=1), 1)
    if steps is not None:
        steps("planning chunks: reading the household and person IDs")
    starts = chunk_starts(groups, chunk_size)
    the_plan = make_plan(id_tables(files), chunk_size, say=steps, starts=starts)
    if steps is not None:
        steps(
            f"finding the row groups of {count(the_plan.n_chunks, 'chunk')} in the bundle's files"
        )
    found = stream.layout(files, the_plan)
    if found is None:
        say(f"the chunks' rows are spread over the files' row groups; {_what_helps(folder)}")
        return None
    sizes = {t: stream.group_rows(files[t]) for t in ID_COLUMNS if t in files}
    chunks = [_chunk(sizes, the_plan, found, c) for c in range(the_plan.n_chunks)]
    outside = Tally(unmatched_source_rows=found.unmatched, orphan_rows=the_plan.orphan_rows)
    paths = {t: str(p.resolve()) for t, p in files.items()}
    return InPlace(paths, chunks, chunk_size, the_plan.duplicates, outside)


def _what_helps(folder: Path) -> str:
    """What would let a bundle whose chunks read too much be read in place. Any bundle:
    meanstest regroup. A bundle regroup wrote (regroup.json beside it): its blocks are
    row groups, and only the source rows of people in households of several blocks are
    read by more than one chunk, in their table's last row group (review.regroup); when
    those are too many, regroup again with larger blocks (advising regroup itself was
    circular: an operator's blind check on such a bundle)."""
    from meanstest.jsonfile import parse_json

    record = folder / "regroup.json"
    if not record.is_file():
        return "meanstest regroup lays the bundle out once to be read in place"
    try:
        done = parse_json(record.read_text(encoding="utf-8"))
        shared = int(done["rows_of_people_in_several_blocks"])
        block = int(done["households_per_block"])
    except (OSError, ValueError, KeyError, TypeError):
        return "its regroup.json cannot be read; meanstest regroup lays it out again"
    if not shared:
        return (
            "meanstest regroup wrote this bundle (regroup.json) with no row of a person in"
            " several blocks, so its files have changed since (regroup.json records their"
            " SHA-256); regroup the bundle again"
        )
    return (
        f"meanstest regroup wrote this bundle (regroup.json), but {shared:,} source rows are"
        " of people in households of several blocks (its rows_of_people_in_several_blocks):"
        " they are in the last row group of their table, which every chunk with one of"
        f" those people reads, and the chunks would read more than {stream.STREAM_READS}"
        " times the bundle's rows. Regrouping with larger blocks (--block; these hold"
        f" {block:,} households) puts fewer people in several blocks; the shuffled review"
        " gives the same outputs"
    )


def _chunk(sizes: dict[str, list[int]], the_plan: Plan, found: stream.Layout, c: int) -> Chunk:
    """Chunk c's row groups, and which rows of its ID tables' row groups are its own
    (`sizes`: the rows of each row group of the ID tables' files)."""
    groups = {t: per_chunk[c] for t, per_chunk in found.groups.items()}
    keep: dict[str, np.ndarray | None] = {}
    for table, rows_per_group in sizes.items():
        if not groups[table]:
            continue
        rows = stream.rows_of_groups(rows_per_group, groups[table])
        mine = the_plan.chunk_of_row(table)[rows] == c
        keep[table] = None if bool(mine.all()) else np.flatnonzero(mine).astype(np.int64)
    return Chunk(c, groups, keep)


def read(files: dict[str, str], chunk: Chunk) -> tuple[dict[str, pa.Table], dict[str, np.ndarray]]:
    """The chunk's tables (file order kept) and each row's place in its file: the ID
    tables' rows the plan gives the chunk; the source rows whose person is one of the
    chunk's members or supporters — the rows meanstest.review.stream.read_chunk keeps."""
    tables, numbers = {}, {}
    order = [*ID_COLUMNS, *(t for t in schema.TABLES if t not in ID_COLUMNS)]
    people = None
    for table in order:
        wanted = chunk.groups.get(table) or []
        if not wanted:
            tables[table], numbers[table] = schema.empty_table(table), np.zeros(0, np.int64)
            continue
        data, rows = stream.read_groups(Path(files[table]), table, wanted)
        if table in ID_COLUMNS:
            keep = chunk.keep.get(table)
            keep = np.arange(data.num_rows) if keep is None else keep
        else:
            if people is None:  # the chunk's members and supporters
                ids = [tables["persons"]["person_id"], tables["supporters"]["supporter_id"]]
                people = pc.drop_null(pa.chunked_array([c for a in ids for c in a.chunks],
                                                       pa.string())).combine_chunks()  # fmt: skip
            mine = pc.is_in(data.column("person_id"), value_set=people)
            keep = np.flatnonzero(pc.fill_null(mine, False).to_numpy(zero_copy_only=False))
        tables[table] = stream.take_rows(data, keep)
        numbers[table] = rows[keep]
    return {t: tables[t] for t in schema.TABLES}, numbers


# The tasks -----------------------------------------------------------------------------


def assess_chunk(
    files: dict[str, str],
    chunk: Chunk,
    library: PolicyLibrary,
    duplicates: dict[str, list[str]],
    filesystem: FileSystem,
    tmp: str,
) -> str:
    """One task of pass 1: chunk read, assessed, its outputs but results written by
    jurisdiction under `tmp`, its results unranked; returns its tally (Tally JSON)."""
    from meanstest.spark.worker import assessed, by_jurisdiction
    from meanstest.spark.write import write_file, write_pieces

    tables, numbers = read(files, chunk)
    b, outputs, _ = assessed(tables, numbers, duplicates, library)
    pieces: dict = {}
    for name, (table, places) in outputs.items():
        if name != "results":
            pieces.update(by_jurisdiction(name, table, places))
    for _ in write_pieces(pieces, filesystem, tmp, chunk.chunk):
        pass
    results, places = outputs["results"]
    filesystem.create_dir(f"{tmp}/{UNRANKED}", recursive=True)
    write_file(
        filesystem, _unranked(tmp, chunk.chunk), results.append_column("jurisdiction", places)
    )
    return b.tally.to_json()


def write_ranked(chunk: int, rank: np.ndarray, filesystem: FileSystem, tmp: str) -> None:
    """One task of pass 3: chunk's results with the run's rank, by jurisdiction."""
    from meanstest.spark.worker import by_jurisdiction, output_schema
    from meanstest.spark.write import write_pieces

    with filesystem.open_input_file(_unranked(tmp, chunk)) as src:
        results = pq.read_table(src)
    at = results.schema.get_field_index("rank")
    results = results.set_column(at, "rank", pa.array(rank, pa.int64()))
    places = results["jurisdiction"]
    results = results.drop_columns(["jurisdiction"]).cast(output_schema("results"))
    for _ in write_pieces(by_jurisdiction("results", results, places), filesystem, tmp, chunk):
        pass


def _unranked(tmp: str, chunk: int) -> str:
    return f"{tmp}/{UNRANKED}/part-{chunk:05d}.parquet"


def run_ranks(filesystem: FileSystem, tmp: str, n_chunks: int) -> list[np.ndarray]:
    """Each chunk's results' §9 rank over the run (pass 2, on the driver), from the
    unranked results' household_id and difficulty_index."""
    from meanstest.review.finish import ranks

    keys = []
    for c in range(n_chunks):
        with filesystem.open_input_file(_unranked(tmp, c)) as src:
            keys.append(pq.read_table(src, columns=["household_id", "difficulty_index"]))
    rank = ranks(pa.concat_tables(keys)).to_numpy() if keys else np.zeros(0, np.int64)
    cuts = np.cumsum([k.num_rows for k in keys])[:-1]
    return np.split(rank.astype(np.int64), cuts) if keys else []


def review(
    spark: SparkSession,
    planned: InPlace,
    library: PolicyLibrary,
    filesystem: FileSystem,
    root: str,
    quiet: bool = True,
) -> list[str]:
    """Passes 1-3 (module docstring) with the outputs left under `root`/_meanstest_tmp
    for meanstest.spark.write.move_outputs; returns the chunks' tallies (JSON). Unless
    `quiet`, the chunks assessed and written are counted on stderr as tasks finish."""
    from meanstest.spark.worker import _threads
    from meanstest.spark.write import TMP, _remove

    tmp = f"{root}/{TMP}"
    _remove(filesystem, tmp)
    sc = spark.sparkContext
    shared = sc.broadcast((planned.files, library, planned.duplicates))
    n = len(planned.chunks)

    def first(chunks):
        _threads()
        files, lib, duplicates = shared.value
        for chunk in chunks:
            yield assess_chunk(files, chunk, lib, duplicates, filesystem, tmp)

    def third(items):
        for chunk, rank in items:
            write_ranked(chunk, rank, filesystem, tmp)
        return iter(())

    try:
        with counting(sc, n, "chunks assessed", quiet):
            tallies = sc.parallelize(planned.chunks, n).mapPartitions(first).collect()
        note(f"ranking the results of {count(n, 'chunk')}", quiet=quiet)
        ranked = list(enumerate(run_ranks(filesystem, tmp, n)))
        with counting(sc, n, "chunks' results written", quiet):
            sc.parallelize(ranked, n).foreachPartition(third)
    finally:
        shared.unpersist()
    return tallies


@contextmanager
def counting(sc: SparkContext, tasks: int | None, label: str, quiet: bool) -> Iterator[None]:
    """A Progress line of the tasks finished by the jobs started in the block (polled
    from Spark's status tracker, every second). `tasks` None: the total is the tasks of
    the stages Spark has planned so far (a shuffled review's stages, whose task counts
    are known only as they are planned)."""
    if quiet:
        yield
        return
    group = f"meanstest-{uuid.uuid4().hex}"
    sc.setJobGroup(group, label)
    progress = Progress(tasks or 0, label)
    stop = threading.Event()

    tracker = sc.statusTracker()

    def tally() -> tuple[int, int]:
        done = planned = 0
        for job in tracker.getJobIdsForGroup(group):
            info = tracker.getJobInfo(job)
            for stage in info.stageIds if info else ():
                got = tracker.getStageInfo(stage)
                done += got.numCompletedTasks if got else 0
                planned += got.numTasks if got else 0
        return done, planned

    def poll() -> None:
        while not stop.wait(1.0):
            done, planned = tally()
            if tasks is None:
                progress.total = max(planned, done)
            progress.update(done if tasks is None else min(done, tasks))

    watcher = threading.Thread(target=poll, name="meanstest-progress", daemon=True)
    watcher.start()
    finished = False
    try:
        yield
        finished = True
    finally:
        stop.set()
        watcher.join()  # the line is the block's alone from here
        sc.setLocalProperty("spark.jobGroup.id", None)
        if finished and tasks is None:  # the stages of a job done within the second
            done, planned = tally()
            progress.total = max(planned, done, progress.total)
            progress.update(progress.total)
        elif finished:
            progress.update(tasks)
        progress.close()


def summary_of(
    planned: InPlace, tallies: list[str], notes: Sequence[str] = (), absent: Sequence[str] = ()
) -> dict:
    """summary.json: the chunks' tallies and the rows no chunk holds; `notes`: the
    ingest's (affected.ingest_notes); `absent`: the bundle's absent source tables."""
    total = planned.outside
    for text in tallies:
        total = total.merge(Tally.from_json(text))
    return total.summary(len(planned.chunks), planned.chunk_size, notes, absent)
