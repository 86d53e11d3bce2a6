"""The review of a bundle larger than memory: spool, then assess chunk by chunk.

Every table is streamed once in record batches; each row goes to the chunk(s) the plan
gives it and is appended to OUT/.review/spool/<chunk>/<table>.parquet, so each spooled
chunk folder is itself a bundle. Chunks are then assessed one at a time, each writing
its parts (results, members, findings, rejects, changes, tally) before its marker in
the state file: a killed review resumes after its last finished chunk.

A spooled row carries its place in the bundle's file (column PLACE, which the bundle
reader ignores as it ignores any column of no table), so that a reject's "(row N)"
names the bundle's row, as the in-memory and streamed reviews' do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.batch import Tally, assess_batch
from meanstest.bundle import check_table, unreadable
from meanstest.outputs import writing
from meanstest.progress import Progress
from meanstest.review.plan import Plan
from meanstest.review.state import (
    close_quietly,
    fault_point,
    write_parquet_atomic,
)

if TYPE_CHECKING:
    from meanstest.policy import PolicyLibrary

PARTS = ("results", "members", "findings", "rejects", "changes")
PLACE = "_meanstest_bundle_row"


def _valid(batch: pa.RecordBatch) -> pa.RecordBatch:
    batch.validate(full=True)  # IPC trusts its offsets; a forged one must not reach kernels
    return batch


def iter_batches(path: Path, batch_rows: int, table: str) -> Iterator[pa.RecordBatch]:
    """The file's rows in batches, conformed to the canonical schema here, so that a
    value that does not fit its column is an error naming the bundle's file."""
    conformer = check_table(path, table)
    src = None
    try:
        if path.suffix == ".parquet":
            batches = pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
        else:
            src = pa.memory_map(str(path))
            reader = pa.ipc.open_file(src)
            batches = (_valid(reader.get_batch(i)) for i in range(reader.num_record_batches))
        for batch in batches:
            yield from conformer.apply(batch).combine_chunks().to_batches()
    except (pa.ArrowException, OSError) as e:  # out of memory goes up as itself
        raise unreadable(path, "parquet" if path.suffix == ".parquet" else "arrow", e) from e
    finally:
        if src is not None:
            src.close()


class _ChunkWriters:
    """One Parquet writer per chunk for one table, opened on first use, renamed on close."""

    def __init__(self, spool: Path, table: str) -> None:
        self.spool, self.table, self.writers = spool, table, {}

    def _tmp(self, chunk: int) -> Path:
        return self.spool / f"{chunk:06d}" / f"{self.table}.parquet.tmp"

    def write(self, chunk: int, batch: pa.Table) -> None:
        if batch.num_rows == 0:
            return
        tmp = self._tmp(chunk)
        with writing(tmp):
            w = self.writers.get(chunk)
            if w is None:
                tmp.parent.mkdir(parents=True, exist_ok=True)
                w = pq.ParquetWriter(tmp, batch.schema)
                self.writers[chunk] = w
            w.write_table(batch)

    def close(self) -> None:
        for chunk, w in self.writers.items():
            tmp = self._tmp(chunk)
            with writing(tmp):
                w.close()
                os.replace(tmp, tmp.with_suffix(""))
        self.writers = {}

    def abort(self) -> None:
        close_quietly(self.writers.values())
        for chunk in self.writers:
            self._tmp(chunk).unlink(missing_ok=True)
        self.writers = {}


def _route(t: pa.Table, rows: np.ndarray, chunks: np.ndarray, writers: _ChunkWriters) -> None:
    for chunk in np.unique(chunks):
        if chunk >= 0:
            writers.write(int(chunk), t.take(pa.array(rows[chunks == chunk])))


def spool(
    files: dict[str, Path],
    plan: Plan,
    spool_dir: Path,
    batch_rows: int,
    progress: Progress | None = None,
) -> int:
    """Write every table's rows into the chunk bundles; returns unmatched source rows.
    `progress` is told the rows spooled so far, over all tables."""
    unmatched, spooled = 0, 0
    for table, path in files.items():
        writers = _ChunkWriters(spool_dir, table)
        start = 0
        try:
            for batch in iter_batches(path, batch_rows, table):
                places = np.arange(start, start + batch.num_rows, dtype=np.int64)
                t = pa.Table.from_batches([batch]).append_column(PLACE, pa.array(places))
                if table in ("households", "persons", "supporters"):
                    chunks = plan.chunk_of_row(table)[start : start + batch.num_rows]
                    rows = np.arange(batch.num_rows)
                else:
                    rows, chunks, missed = plan.route(batch.column("person_id"))
                    unmatched += missed
                _route(t, rows, chunks, writers)
                start += batch.num_rows
                spooled += batch.num_rows
                if progress is not None:
                    progress.update(spooled)
            writers.close()
        except BaseException:
            writers.abort()
            raise
        fault_point(f"spool:{table}")
    return unmatched


def assess_spooled(
    folder: Path, parts: Path, library: PolicyLibrary, plan: Plan, engine: str
) -> Tally:
    """Assess one spooled chunk and write its parts; returns the chunk's tally."""
    from meanstest.bundle import read_bundle

    if not (folder / "households.parquet").exists():
        tables = {t: schema.empty_table(t) for t in schema.TABLES}
    else:
        tables = read_bundle(folder)
    places = {}
    for name, table in tables.items():
        path = folder / f"{name}.parquet"
        if table.num_rows and path.exists():
            column = pq.read_table(path, columns=[PLACE]).column(PLACE)
            places[name] = column.to_numpy().astype(np.int64, copy=False)
        else:
            places[name] = np.zeros(0, np.int64)
    return assess_part(tables, parts, library, plan, engine, places)


def assess_part(
    tables: dict,
    parts: Path,
    library: PolicyLibrary,
    plan: Plan,
    engine: str,
    places: dict | None = None,
) -> Tally:
    """Assess one chunk's tables (spooled or streamed) and write its parts, named by the
    chunk's folder; returns the chunk's tally. `places`: each row's place in the bundle
    (batch.assess_batch)."""
    parts.mkdir(parents=True, exist_ok=True)
    batch = assess_batch(
        tables, library, engine, duplicates=plan.duplicates, places=places, overlap=True,
        release=True,
    )  # fmt: skip
    for name in PARTS:
        write_parquet_atomic(getattr(batch, name), parts / f"{name}.parquet")
    fault_point(f"chunk:{parts.name}")
    return batch.tally
