"""The spooled path: chunks planned from the ID columns, their rows read in place or
spooled, each chunk assessed and recorded in the review's state (resumable after it),
then ranked over the run and streamed into the outputs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.batch import Tally
from meanstest.bundle import rows_in
from meanstest.progress import Progress, count, note
from meanstest.review import stream
from meanstest.review.finish import (
    STREAMED,
    OutputFiles,
    ranks,
    with_rank,
    write_change_lists,
    write_summary,
)
from meanstest.review.in_memory import _RANK_KEYS
from meanstest.review.plan import chunk_starts, id_tables, make_plan
from meanstest.review.spool import assess_part, assess_spooled, spool
from meanstest.review.state import (
    STATE_DIR,
    InputChanged,
    discard,
    fault_point,
    read_unchanged,
    write_json_atomic,
)

if TYPE_CHECKING:
    from meanstest.review import ReviewOptions


def _review_spooled(
    files: dict[str, Path],
    seen: dict,
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
    with reading(files, seen, state_dir):
        plan = make_plan(
            id_tables(files),
            chunk_size,
            say=lambda text: note(text, quiet=opts.quiet),
            starts=_chunk_starts(files["households"], chunk_size),
        )
    spool_dir, parts_dir = state_dir / "spool", state_dir / "parts"
    total_rows = sum(rows_in(path) for path in files.values())
    if "layout" not in state:  # where each chunk's rows lie: read there, or spool
        found = None
        if opts.stream and all(p.suffix == ".parquet" for p in files.values()):
            rows = Progress(total_rows, "rows located", quiet=opts.quiet)
            with reading(files, seen, state_dir):
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
        with reading(files, seen, state_dir):
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
            with reading(files, seen, state_dir):
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
    summary = tally.summary(plan.n_chunks, chunk_size, notes, schema.absent_source_tables(files))
    write_summary(out, summary)
    discard(state_dir)
    return summary


@contextmanager
def reading(files: dict[str, Path], seen: dict, state_dir: Path) -> Iterator[None]:
    """A read of the bundle's files (state.read_unchanged). When a file changed the
    review's state is discarded: its chunks so far were read from the file as it was,
    so a rerun starts over (resumed, it would take them beside chunks read from the new
    file)."""
    try:
        with read_unchanged(files, seen):
            yield
    except InputChanged:
        discard(state_dir)
        raise


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
