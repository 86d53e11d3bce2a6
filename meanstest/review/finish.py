"""The review's outputs: written once, under `.tmp` names, renamed into place at the end.

Members, findings and rejects are appended as each batch of households is assessed;
results wait for the §9 rank over the whole run (their difficulty indexes are all that
rank needs), or, when one batch is the run, are appended as soon as its digests are in.
The in-memory review writes the change lists while the writers' threads finish, then
renames the four tables into place; summary.json comes last, so a folder without it is
an unfinished review whatever else it holds.

Each output file is written by a thread of its own (Parquet encoding releases the GIL),
its batches in the order they were appended: the files are encoded side by side and
while the next batch is assessed. A write error is raised by the next `append` or
`close` of that file.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.batch import CHANGE_LISTS, CHANGES_SCHEMA
from meanstest.outputs import writing
from meanstest.review.state import (
    close_quietly,
    fault_point,
    write_json_atomic,
    write_parquet_atomic,
)

OUTPUTS = ("results", "members", "findings", "rejects")
STREAMED = ("members", "findings", "rejects")


def output_names() -> list[str]:
    """Every file a review writes into its output folder (each via `<name>.tmp`)."""
    changes = [f"changes_{t.lower()}.parquet" for t in CHANGE_LISTS]
    return [*(f"{n}.parquet" for n in OUTPUTS), *changes, "summary.json"]


# The Spark engine's outputs: Parquet folders of these names (meanstest.spark.worker's
# OUTPUTS; a test keeps the two equal).
SPARK_FOLDERS = ("results", "members", "findings", "rejects", "changes")


def earlier_outputs() -> list[str]:
    """Everything a review of either engine writes into its output folder, summary.json
    first: a review removes them all before it writes (an operator's check found a Spark
    review leaving a single-machine review's tables and report.html beside its own, and
    the other way round, reproduce then failing on every household)."""
    files = [n for n in output_names() if n != "summary.json"]
    return ["summary.json", "report.html", *files, *SPARK_FOLDERS]


def remove_earlier_outputs(out: Path) -> None:
    """An earlier review's outputs (either engine's) gone from local folder `out`."""
    for name in earlier_outputs():
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def ranks(difficulty: pa.Table) -> pa.Array:
    """§9 rank over the run from every result's (household_id, difficulty_index)."""
    from meanstest.pipeline import rank

    return rank(difficulty)


class OutputFiles:
    """The four output tables of one review, being written (each by its own thread)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.tmp = {name: out / f"{name}.parquet.tmp" for name in OUTPUTS}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self._threads = {name: ThreadPoolExecutor(1, f"write-{name}") for name in OUTPUTS}
        self._pending: dict[str, Future] = {}

    def _writer(self, name: str) -> pq.ParquetWriter:
        w = self.writers.get(name)
        if w is None:
            with writing(self.tmp[name], self.tmp[name]):
                w = self.writers[name] = pq.ParquetWriter(
                    self.tmp[name],
                    schema.OUTPUTS[name],
                    **schema.output_parquet_options(schema.OUTPUTS[name]),
                )
        return w

    def _write(self, name: str, table: pa.Table) -> None:
        w = self._writer(name)
        with writing(self.tmp[name]):
            w.write_table(table.cast(schema.OUTPUTS[name]))

    def _wait(self, name: str) -> None:
        """The file's earlier writes done (their error, if any, raised here)."""
        pending = self._pending.pop(name, None)
        if pending is not None:
            pending.result()

    def append(self, name: str, table: pa.Table) -> None:
        """Write `table` after the file's earlier batches, on the file's thread."""
        self._wait(name)
        self._pending[name] = self._threads[name].submit(self._write, name, table)

    def close(self) -> None:
        """Close every table (an empty one is still written), fsync, rename into place."""
        for name in OUTPUTS:
            self._wait(name)
            w = self._writer(name)
            with writing(self.tmp[name]):
                w.close()
        self._stop()
        self.writers = {}
        for name in OUTPUTS:
            path = self.out / f"{name}.parquet"
            with writing(path, self.tmp[name]):
                with open(self.tmp[name], "rb+") as f:
                    os.fsync(f.fileno())
                os.replace(self.tmp[name], path)
            fault_point(f"finish:{name}")

    def abort(self) -> None:
        for pending in self._pending.values():
            pending.exception()  # wait; the first error is the one being raised
        self._pending = {}
        self._stop()
        close_quietly(self.writers.values())
        self.writers = {}
        for path in self.tmp.values():
            path.unlink(missing_ok=True)

    def _stop(self) -> None:
        for thread in self._threads.values():
            thread.shutdown(wait=True)


def with_rank(results: pa.Table, rank: pa.Array) -> pa.Table:
    i = results.schema.get_field_index("rank")
    return results.set_column(i, schema.OUTPUTS["results"].field("rank"), rank)


def write_change_lists(out: Path, changes: list[pa.Table]) -> None:
    """changes_new/exit/adjust/phase_out.parquet: the households whose status changes."""
    every = pa.concat_tables([c.cast(CHANGES_SCHEMA) for c in changes]) if changes else None
    for t in CHANGE_LISTS:
        if every is None:
            table = CHANGES_SCHEMA.empty_table()
        else:
            table = every.filter(pc.equal(every["transition"], t))
        write_parquet_atomic(table, out / f"changes_{t.lower()}.parquet")


def write_summary(out: Path, summary: dict) -> None:
    write_json_atomic(out / "summary.json", summary)
