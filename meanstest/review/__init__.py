"""The district annual review (年审): every household of a bundle, bounded in memory.

A review takes one of two paths, chosen by the bundle's decoded size against the memory
limit (`ReviewOptions.memory_limit`):

- **in memory** (a district: 1M households decode to about 1.3 GB): the bundle is read
  once and assessed as one batch when memory allows, else chunk by chunk (`chunk_size`),
  each chunk's rows selected in memory (a zero-copy slice when the bundle is written
  household by household); members, findings and rejects are
  appended to the outputs as each chunk finishes, results once the §9 rank over the
  run is known. Nothing is spooled and every output is written once. A review killed
  on this path keeps no state and is simply run again.
- **spooled** (a province, or a machine short of memory): `plan` assigns every row
  a chunk, `spool` streams each table once into per-chunk bundles under OUT/.review/,
  and the chunks are assessed one at a time, each recorded in OUT/.review/state.json
  when its parts are written. A review killed at any point and started again with the
  same arguments resumes after its last finished chunk; if the inputs, the policies or
  the arguments changed, it refuses (`--restart` starts over). Memory is bounded by a
  chunk, the person key index (8 bytes + chunk per person) and the two rank columns.

Both paths give identical outputs (tests/test_review.py), whatever the chunk size.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.affected import ingest_notes
from meanstest.batch import Tally, assess_batch
from meanstest.bundle import bundle_folder, check_table, read_table
from meanstest.errors import MeansTestError
from meanstest.outputs import output_folder
from meanstest.progress import Progress, count, kernels_need_compiling, note
from meanstest.review import stream
from meanstest.review.finish import (
    STREAMED,
    OutputFiles,
    output_names,
    ranks,
    remove_earlier_outputs,
    with_rank,
    write_change_lists,
    write_summary,
)
from meanstest.review.plan import (
    Plan,
    bundle_files,
    chunk_starts,
    group_by_chunk,
    id_tables,
    make_plan,
    select_rows,
    unknown_files,
)
from meanstest.review.spool import assess_part, assess_spooled, spool
from meanstest.review.state import (
    DONE_DIR,
    STATE_DIR,
    ResumeRefused,
    WriteFailed,
    discard,
    explain_change,
    fault_point,
    fingerprint,
    write_json_atomic,
)

__all__ = [
    "ResumeRefused",
    "ReviewOptions",
    "WriteFailed",
    "bundle_files",
    "make_plan",
    "run_review",
    "write_json_atomic",
]

GiB = 1 << 30
SPOOL_CHUNK = 200_000  # households per chunk of a spooled review unless told otherwise
# Peak memory of the in-memory path, measured (peak RSS of `meanstest review`, docs/
# decisions.md "issue 12: the memory model"): a fixed base (interpreter, numba, Arrow's
# pools), then either, for one chunk holding every household, this many times the
# bundle's decoded size (the tables, the ID pass, the engine's arrays and the outputs;
# 4.1 GiB at 1M households), or, chunk by chunk, this many times the decoded size (the
# tables and the plan) and this many bytes per household of the chunk being assessed
# (its rows selected, validated and assessed). Measured at 100k, 200k and 1M: one chunk
# 0.78 / 1.29 / 4.14 GiB; 1M in chunks of 250k / 500k 3.52 / 4.25 GiB.
_PEAK_BASE = 640 << 20
_PEAK_PER_DECODED_BYTE_ONE_CHUNK = 5.5
_PEAK_PER_DECODED_BYTE = 3.2
_PEAK_PER_CHUNK_HOUSEHOLD = 3_300
# The reference engine holds each household of its chunk as Python objects: 15 KB per
# household measured (100k households in chunks of 10k / 25k / 50k: 0.73 / 0.96 / 1.32
# GiB peak); in one chunk a 1M review took 14.96 GiB against the 8 GiB limit. In two
# processes (meanstest.reference.run) each holds its part, and the parts' copies are
# passed between them: a 1M reproduce's processes peaked at 8.45 GiB together with
# 16 KB allowed here; 18 KB leaves room for that.
_PEAK_PER_REFERENCE_HOUSEHOLD = 18_000
_MIN_CHUNK = 20_000  # below this a chunked in-memory review is slower than spooling


def default_memory_limit() -> int:
    """Half of this machine's memory, at most 8 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * GiB
    return min(8 * GiB, total // 2)


@dataclass
class ReviewOptions:
    chunk_size: int | None = None  # households per chunk; None: as large as memory allows
    engine: str = "fast"
    quiet: bool = False
    restart: bool = False
    batch_rows: int = 262_144
    memory_limit: int | None = None  # bytes; None: default_memory_limit()
    spool: bool = False  # force the chunk-by-chunk path (resumable after each chunk)
    stream: bool = True  # that path reads a household-grouped bundle in place (stream.py)


def decoded_size(files: dict[str, Path]) -> int:
    """The bundle's size once read into Arrow, from the files' metadata (Parquet: the
    uncompressed size of every row group; Arrow IPC: the file's size)."""
    total = 0
    for path in files.values():
        if path.suffix == ".parquet":
            meta = pq.ParquetFile(path).metadata
            total += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        else:
            total += path.stat().st_size
    return total


def in_memory_chunk(files: dict[str, Path], households: int, opts: ReviewOptions) -> int | None:
    """The chunk size of an in-memory review of this bundle, None when it does not fit
    the memory limit (then it is spooled). Without a chunk size, one chunk holds every
    household if memory allows, else the largest chunk that fits."""
    limit = opts.memory_limit if opts.memory_limit is not None else default_memory_limit()
    decoded = decoded_size(files)
    want = max(1, households) if opts.chunk_size is None else min(opts.chunk_size, households)
    reference = opts.engine == "reference"
    one_chunk = _PEAK_BASE + _PEAK_PER_DECODED_BYTE_ONE_CHUNK * decoded
    if want >= households and not reference and one_chunk <= limit:
        return max(1, want)
    room = limit - _PEAK_BASE - _PEAK_PER_DECODED_BYTE * decoded
    per = _PEAK_PER_REFERENCE_HOUSEHOLD if reference else _PEAK_PER_CHUNK_HOUSEHOLD
    fits = max(0, room) // per
    if want <= fits:
        return max(1, want)
    if opts.chunk_size is None and fits >= _MIN_CHUNK:
        return int(fits)
    return None


def _rows_in(path: Path) -> int:
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    with pa.memory_map(str(path)) as src:
        return pa.ipc.open_file(src).read_all().num_rows  # counts only: buffers are mapped


def _households_in(files: dict[str, Path]) -> int:
    return _rows_in(files["households"])


# The review ---------------------------------------------------------------------------------


def run_review(bundle, out, library, options: ReviewOptions | None = None) -> dict:
    """Review a bundle into `out`; resumes an interrupted (spooled) review of the same
    inputs. Returns the summary (also written to summary.json)."""
    opts = options or ReviewOptions()
    if opts.chunk_size is not None and opts.chunk_size < 1:
        raise MeansTestError("chunk size must be at least 1 household")
    bundle, out = bundle_folder(bundle), Path(out)
    files = bundle_files(bundle)
    for table, path in files.items():  # schemas first: a bad table creates no output
        check_table(path, table)
    for name, hint in unknown_files(bundle):
        note(f"ignored: {bundle / name} is no table of DATA.md{hint}", quiet=opts.quiet)
    if out.exists() and not out.is_dir():
        raise MeansTestError(f"--out {out} is a file: the review writes a folder of outputs")
    output_folder(out)
    notes = ingest_notes(bundle)
    with _only_review_of(out):
        return _run_review(files, out, library, opts, notes)


LOCK = ".review.lock"  # held (flock) by the review writing the folder


@contextmanager
def _only_review_of(out: Path):
    """One review at a time writes `out`: two at once mixed their outputs and corrupted a
    file, each exiting 0 (an adversarial run). The lock is the kernel's (flock): a
    killed review holds none."""
    with open(out / LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MeansTestError(f"{out}: another review is writing this folder") from None
        yield


def _run_review(
    files: dict[str, Path], out: Path, library, opts: ReviewOptions, notes: list[str]
) -> dict:
    discard(out / DONE_DIR)  # a finished review's state, killed while being removed
    for name in output_names():  # a killed run's outputs, never renamed into place
        (out / f"{name}.tmp").unlink(missing_ok=True)
    # An earlier review's outputs go before anything is written, summary.json first (it is
    # written last): a killed run then leaves no folder that looks complete, where it left
    # new tables beside the old summary, change lists and report.html (an adversarial run).
    remove_earlier_outputs(out)  # the Spark engine's folders too
    state_dir = out / STATE_DIR
    if opts.restart and state_dir.exists():
        discard(state_dir)
    spool_chunk = opts.chunk_size or SPOOL_CHUNK
    fp = fingerprint(files, library, spool_chunk, opts.engine)
    state = _resumable_state(state_dir, fp)
    if opts.engine == "fast" and kernels_need_compiling():
        note("compiling kernels, first run only (1-3 minutes)", quiet=opts.quiet)
    chunk = None
    if state is None and not opts.spool:
        chunk = in_memory_chunk(files, _households_in(files), opts)
    if chunk is not None:
        if state_dir.exists():
            discard(state_dir)  # killed before its state was first written
        return _review_in_memory(files, out, library, opts, chunk, notes)
    return _review_spooled(files, out, library, opts, state, fp, spool_chunk, notes)


def _resumable_state(state_dir: Path, fp: dict) -> dict | None:
    """The state of an interrupted spooled review of the same inputs, None if there is
    none; refuses (ResumeRefused) one of different inputs, policies or arguments."""
    path = state_dir / "state.json"
    if not path.exists():
        return None
    state = json.loads(path.read_text(encoding="utf-8"))
    if state["fingerprint"] != fp:
        raise ResumeRefused(
            f"{state_dir.parent} holds an interrupted review that cannot be resumed: "
            f"{explain_change(state['fingerprint'], fp)}; rerun with --restart to start over"
        )
    return state


# In memory ----------------------------------------------------------------------------------


def _chunks_in_memory(
    tables: dict[str, pa.Table], chunk_size: int
) -> tuple[int, Iterator[tuple[dict, dict | None]], Tally]:
    """(number of chunks, the chunks' (tables, duplicates list, each row's place in the
    bundle), the rows no chunk holds as a tally). One chunk holding every household is
    the bundle itself."""
    n = tables["households"].num_rows
    if n <= chunk_size:
        return 1, iter([(tables, None, None)]), Tally()
    plan: Plan = make_plan(tables, chunk_size)
    rows: dict[str, list] = {}
    unmatched = 0
    for name in schema.TABLES:
        if name in ("households", "persons", "supporters"):
            chunk = plan.chunk_of_row(name)
            rows[name] = group_by_chunk(np.arange(len(chunk)), chunk, plan.n_chunks)
        else:
            r, c, missed = plan.route(tables[name]["person_id"])
            unmatched += missed
            rows[name] = group_by_chunk(r, c, plan.n_chunks)
    outside = Tally(unmatched_source_rows=unmatched, orphan_rows=plan.orphan_rows)

    def chunks():
        for c in range(plan.n_chunks):
            part = {name: select_rows(tables[name], rows[name][c]) for name in schema.TABLES}
            yield part, plan.duplicates, {name: rows[name][c] for name in schema.TABLES}

    return plan.n_chunks, chunks(), outside


def read_tables(files: dict[str, Path]) -> dict[str, pa.Table]:
    """Every table of the bundle (absent ones empty), read side by side: Parquet decoding
    releases the GIL, and one table's Python checks run while another's pages decode.
    Each table comes as one chunk per column (what validation works on), made by its
    reader: the row groups' arrays are freed as soon as they are copied, not kept beside
    the copy. A bad file raises the error a reading in bundle order would raise first."""

    def read(t: str) -> pa.Table:
        return read_table(files[t], t).combine_chunks()

    with ThreadPoolExecutor(_READERS, "read") as pool:
        pending = {t: pool.submit(read, t) for t in schema.TABLES if t in files}
        try:
            return {
                t: pending[t].result() if t in pending else schema.empty_table(t)
                for t in schema.TABLES
            }
        finally:
            for f in pending.values():
                f.cancel()


_READERS = 3


STEP_NOTES_FROM = 100_000  # households of a one-chunk review whose steps are said


def _review_in_memory(
    files: dict[str, Path],
    out: Path,
    library,
    opts: ReviewOptions,
    chunk_size: int,
    notes: list[str],
) -> dict:
    # one chunk of a district: the households' line moves once, at the end; its steps
    # (each seconds long at 1M households) are said as they start instead
    expected = _households_in(files)
    say = STEP_NOTES_FROM <= expected <= chunk_size and not opts.quiet
    if say:
        note(f"reading the bundle: {expected:,} households")
    tables = read_tables(files)
    n = tables["households"].num_rows
    progress = Progress(n, quiet=opts.quiet)
    outputs = OutputFiles(out)
    try:
        n_chunks, chunks, tally = _chunks_in_memory(tables, chunk_size)
        say = say and n_chunks == 1
        if say:
            note("validating")
        results, changes, done = [], [], 0
        for c, (part, duplicates, places) in enumerate(chunks):

            def emit(name: str, table: pa.Table) -> None:
                # members, findings and rejects as they come; results too when this
                # batch is the run (its rank is the run's)
                if name != "results" or n_chunks == 1:
                    outputs.append(name, table)
                if say and name == "rejects":
                    note(f"{table.num_rows:,} households rejected; assessing the others")
                elif say and name == "findings":
                    note("assessed; finishing the input digests")

            batch = assess_batch(
                part, library, opts.engine, duplicates=duplicates, places=places, overlap=True,
                release=True, emit=emit,
            )  # fmt: skip
            results.append(batch.results)
            changes.append(batch.changes)
            tally = tally.merge(batch.tally)
            done += batch.tally.households_read
            # this chunk's tables (emptied by the batch: with one chunk, the bundle's), ID
            # pass and engine input go before the next is selected
            del part, batch
            progress.update(done)
            fault_point(f"chunk:{c:06d}")
        del chunks, tables
        progress.close()
        if n_chunks == 1:  # one batch: its results were written as it gave them
            results.clear()
        else:
            every = (
                pa.concat_tables(results) if results else schema.OUTPUTS["results"].empty_table()
            )
            del results
            outputs.append("results", with_rank(every, ranks(every.select(_RANK_KEYS))))
        fault_point("finish:partial")  # outputs written, still under .tmp names
        if say:
            note("writing the outputs")
        write_change_lists(out, changes)  # while the writers' threads finish theirs
        outputs.close()
    except BaseException:
        outputs.abort()
        raise
    summary = tally.summary(n_chunks, chunk_size, notes)
    write_summary(out, summary)
    return summary


_RANK_KEYS = ["household_id", "difficulty_index"]


# Spooled -----------------------------------------------------------------------------------


def _review_spooled(
    files: dict[str, Path],
    out: Path,
    library,
    opts: ReviewOptions,
    state,
    fp,
    chunk_size: int,
    notes: list[str],
) -> dict:
    state_dir = out / STATE_DIR
    state_path = state_dir / "state.json"
    if state is None:
        if state_dir.exists():
            discard(state_dir)  # killed before its state was first written
        state_dir.mkdir(parents=True)
        state = {"fingerprint": fp, "spooled": False, "chunks": {}}
        write_json_atomic(state_path, state)

    # planning and spooling a district take minutes: say what is happening before the
    # households' progress line can start
    note("planning chunks: reading the household and person IDs", quiet=opts.quiet)
    plan = make_plan(
        id_tables(files),
        chunk_size,
        say=lambda text: note(text, quiet=opts.quiet),
        starts=_chunk_starts(files["households"], chunk_size),
    )
    spool_dir, parts_dir = state_dir / "spool", state_dir / "parts"
    total_rows = sum(_rows_in(path) for path in files.values())
    if "layout" not in state:  # where each chunk's rows lie: read there, or spool
        found = None
        if opts.stream and all(p.suffix == ".parquet" for p in files.values()):
            rows = Progress(total_rows, "rows located", quiet=opts.quiet)
            found = stream.layout(files, plan, rows)
            rows.close()
            if found is None:
                note(
                    "the chunks' rows are spread over the files' row groups: spooling"
                    " (meanstest regroup lays the bundle out once to be read in place)",
                    quiet=opts.quiet,
                )
        if found is not None:
            state["layout"] = found.to_json()
            state["unmatched_spool"] = found.unmatched
        else:
            state["layout"] = None
        write_json_atomic(state_path, state)
    found = stream.Layout.from_json(state["layout"]) if state["layout"] else None
    how = ("streamed", "read in place, ") if found else ("spooled", "")
    note(
        f"{how[0]} review of {plan.n_households:,} households in {plan.n_chunks:,} chunks"
        f" of up to {chunk_size:,} ({how[1]}resumable after each chunk)",
        quiet=opts.quiet,
    )
    if found is None and not state["spooled"]:
        if spool_dir.exists():
            shutil.rmtree(spool_dir)
        rows = Progress(total_rows, "rows spooled", quiet=opts.quiet)
        state["unmatched_spool"] = spool(files, plan, spool_dir, opts.batch_rows, rows)
        rows.close()
        state["spooled"] = True
        write_json_atomic(state_path, state)

    done = sum(c["households_read"] for c in state["chunks"].values())  # resumed ones
    progress = Progress(plan.n_households, quiet=opts.quiet, start=done)
    progress.update(done, force=True)
    for chunk in range(plan.n_chunks):
        key = f"{chunk:06d}"
        if key in state["chunks"]:
            continue
        parts = parts_dir / key
        if parts.exists():
            shutil.rmtree(parts)
        if found is not None:
            tables, places = stream.read_chunk(files, plan, found, chunk)
            tally = assess_part(tables, parts, library, plan, opts.engine, places)
            del tables
        else:
            tally = assess_spooled(spool_dir / key, parts, library, plan, opts.engine)
        state["chunks"][key] = json.loads(tally.to_json())
        write_json_atomic(state_path, state)
        done += tally.households_read
        progress.update(done)
    progress.close()

    tally = Tally(unmatched_source_rows=state["unmatched_spool"], orphan_rows=plan.orphan_rows)
    for key in sorted(state["chunks"]):
        tally = tally.merge(Tally.from_json(json.dumps(state["chunks"][key])))
    part_dirs = [parts_dir / f"{c:06d}" for c in range(plan.n_chunks)]
    _finish_spooled(part_dirs, out, opts.quiet)
    summary = tally.summary(plan.n_chunks, chunk_size, notes)
    write_summary(out, summary)
    discard(state_dir)
    return summary


def _chunk_starts(households: Path, chunk_size: int) -> np.ndarray | None:
    """Chunks of whole row groups of a Parquet households file (plan.chunk_starts): a
    bundle written block by block can then be streamed; None (every chunk_size rows)
    for an Arrow IPC file."""
    if households.suffix != ".parquet":
        return None
    return chunk_starts(stream.group_rows(households), chunk_size)


def _finish_spooled(part_dirs: list[Path], out: Path, quiet: bool = False) -> None:
    """Global rank, then stream the parts into the outputs (each renamed into place).
    At 10M households this takes minutes: it says so, and counts the chunks written."""
    note(f"ranking the results of {count(len(part_dirs), 'chunk')}", quiet=quiet)
    keys = [pq.read_table(d / "results.parquet", columns=_RANK_KEYS) for d in part_dirs]
    rank = ranks(pa.concat_tables(keys)) if keys else pa.array([], pa.int64())
    outputs = OutputFiles(out)
    changes, offset = [], 0
    written = Progress(len(part_dirs), "chunks written to the outputs", quiet=quiet)
    try:
        for c, d in enumerate(part_dirs):
            written.update(c)
            r = pq.read_table(d / "results.parquet")
            outputs.append("results", with_rank(r, rank.slice(offset, r.num_rows)))
            offset += r.num_rows
            for name in STREAMED:
                outputs.append(name, pq.read_table(d / f"{name}.parquet"))
            fault_point("finish:partial")  # outputs half-written, still under .tmp names
            changes.append(pq.read_table(d / "changes.parquet"))
        written.update(len(part_dirs))
        outputs.close()
        written.close()
    except BaseException:
        outputs.abort()
        raise
    write_change_lists(out, changes)
