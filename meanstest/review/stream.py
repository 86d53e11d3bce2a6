"""The review of a bundle larger than memory, read where it lies: no spool.

A bundle written block of households by block of households (`meanstest synth`, an
ingest of exports kept in household order, or any writer that keeps a block's rows
together) has Parquet row groups that each hold the rows of one chunk, or of a few.
For such a bundle the spool (spool.py: every row written once more, into chunk files,
and read back) is wasted work: each chunk can read its own row groups.

`layout` finds, for every table, the row groups that hold rows of each chunk: the ID
tables by the plan's chunk of every row, the source tables by routing each row group's
person_id column (the plan's `route`, as the spool does). When the chunks together
would read at most STREAM_READS times the bundle's rows, the review streams: `read_chunk`
reads chunk c's row groups, conformed by the bundle reader's own rules, and keeps the
rows the plan gives chunk c, in file order — exactly the rows, in exactly the order,
that the spool writes into chunk c's folder, so the outputs are the same. Otherwise
(rows of one chunk scattered over the files) the review spools. Parquet only: a bundle
with an Arrow IPC file spools.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.bundle import check_table, parquet_file, unreadable
from meanstest.conform import READ_ERRORS
from meanstest.progress import Progress
from meanstest.review.plan import ID_COLUMNS, Plan

STREAM_READS = 1.5  # rows the chunks read / rows in the bundle, at most, to stream


@dataclass
class Layout:
    groups: dict[str, list[list[int]]]  # table → per chunk, the row groups holding its rows
    unmatched: int  # source rows whose person is in no chunk (what the spool counts)
    reads: int  # rows the chunks read together
    rows: int  # rows in the bundle

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Layout:
        return cls(**d)


def group_rows(path: Path | pq.ParquetFile) -> list[int]:
    """Rows of each row group of a Parquet file (a path or an open file)."""
    meta = (path if isinstance(path, pq.ParquetFile) else parquet_file(path)).metadata
    return [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]


def layout(files: dict[str, Path], plan: Plan, progress: Progress | None = None) -> Layout | None:
    """Which row groups each chunk reads (see the module docstring); None as soon as the
    chunks would read more than STREAM_READS times the bundle's rows (the review then
    spools, without locating the rest). `progress` is told the rows looked at so far."""
    groups: dict[str, list[list[int]]] = {}
    unmatched = reads = total = 0
    most = STREAM_READS * sum(sum(group_rows(path)) for path in files.values())
    for table, path in files.items():
        per_chunk: list[list[int]] = [[] for _ in range(plan.n_chunks)]
        handle = parquet_file(path)
        start = 0
        for g, n in enumerate(group_rows(handle)):
            if table in ID_COLUMNS:
                chunks = plan.chunk_of_row(table)[start : start + n]
            else:
                try:  # a corrupt page names its file (read_groups)
                    person_id = handle.read_row_group(g, columns=["person_id"]).column(0)
                except READ_ERRORS as e:
                    raise unreadable(path, "parquet", e) from None
                _, chunks, missed = plan.route(person_id)
                unmatched += missed
            touched = np.unique(chunks)
            touched = touched[touched >= 0]
            for c in touched.tolist():
                per_chunk[c].append(g)
            reads += n * len(touched)
            if reads > most:
                return None
            total += n
            start += n
            if progress is not None:
                progress.update(total)
        groups[table] = per_chunk
    return Layout(groups, unmatched, reads, total)


def rows_of_groups(sizes: list[int], wanted: list[int]) -> np.ndarray:
    """The places in their file (int64, 0-based) of the rows of row groups `wanted`
    (ascending), the file's row groups holding `sizes` rows each."""
    first = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
    return np.concatenate([np.arange(first[g], first[g + 1], dtype=np.int64) for g in wanted])


def read_groups(path: Path, table: str, wanted: list[int]) -> tuple[pa.Table, np.ndarray]:
    """Row groups `wanted` (ascending) of one bundle file, conformed by the bundle
    reader's rules, and each row's place in the file (int64, 0-based)."""
    conformer = check_table(path, table)
    try:  # a corrupt page names its file, as the whole-file reader says it (Spark's too)
        handle = pq.ParquetFile(path)
        read = handle.read_row_groups(wanted, columns=conformer.read_columns)
    except READ_ERRORS as e:
        raise unreadable(path, "parquet", e) from None
    return conformer.apply(read), rows_of_groups(group_rows(handle), wanted)


def take_rows(data: pa.Table, keep: np.ndarray) -> pa.Table:
    """data[keep] (ascending), the table itself when every row is kept."""
    return data if len(keep) == data.num_rows else data.take(pa.array(keep, pa.int64()))


def read_chunk(
    files: dict[str, Path], plan: Plan, found: Layout, c: int
) -> tuple[dict[str, pa.Table], dict[str, np.ndarray]]:
    """Chunk c's tables: its row groups of every file, conformed, with the rows of other
    chunks left out (file order kept); tables with no row of the chunk are empty. And
    each row's place in its file (int64, 0-based)."""
    tables, places = {}, {}
    for table in schema.TABLES:
        path = files.get(table)
        wanted = found.groups[table][c] if path is not None else []
        if not wanted:
            tables[table], places[table] = schema.empty_table(table), np.zeros(0, np.int64)
            continue
        data, rows = read_groups(path, table, wanted)
        if table in ID_COLUMNS:
            keep = np.flatnonzero(plan.chunk_of_row(table)[rows] == c)
        else:
            routed, chunks, _ = plan.route(data.column("person_id"))
            keep = routed[chunks == c]  # ascending: route lists each row's chunks once
        tables[table], places[table] = take_rows(data, keep), rows[keep]
    return tables, places
