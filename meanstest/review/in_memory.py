"""The in-memory path: the bundle read once, its chunks selected in memory and assessed
one after the other, every output written once (no state: a killed review runs again)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from meanstest import schema
from meanstest.batch import Tally, assess_batch
from meanstest.bundle import read_table
from meanstest.progress import Progress, note
from meanstest.review.finish import (
    OutputFiles,
    ranks,
    with_rank,
    write_change_lists,
    write_summary,
)
from meanstest.review.memory import _households_in
from meanstest.review.plan import Plan, group_by_chunk, make_plan, select_rows
from meanstest.review.state import fault_point, read_unchanged

if TYPE_CHECKING:
    from meanstest.review import ReviewOptions


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
    seen: dict,
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
    with read_unchanged(files, seen):  # the files the review started with
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
    summary = tally.summary(n_chunks, chunk_size, notes, schema.absent_source_tables(files))
    write_summary(out, summary)
    return summary


_RANK_KEYS = ["household_id", "difficulty_index"]
