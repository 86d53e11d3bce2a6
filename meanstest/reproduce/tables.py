"""The two reviews' tables: the stored folder read (refused when incomplete), the
reference-engine review made again, and both cut into chunks of households, so that no
more than a chunk's rows are Python dicts at a time."""

from __future__ import annotations

import json
from pathlib import Path

from meanstest.errors import MeansTestError
from meanstest.outputs import incomplete, mistyped, read_output, read_summary

REVIEW_OUTPUTS = ("results", "members", "findings", "rejects")


def _types(table) -> dict:
    return {f.name: f.type for f in table.schema}


def _stored_review(out: Path, columns: list[str] | None = None) -> tuple[dict, dict]:
    """A review folder's four output tables (`columns`: [] for none, to check that the
    folder is complete before the long recomputation) and its summary.json; refuses an
    incomplete folder."""
    try:
        stored = {name: read_output(out, name, columns) for name in REVIEW_OUTPUTS}
    except (OSError, ValueError) as e:
        raise MeansTestError(f"{out}: not a review output folder ({e})") from e
    if (error := incomplete(out)) is not None:  # summary.json is written last: stopped, or edited
        raise error
    return stored, read_summary(out)


# the columns reproduce matches and judges rows by: a stored file without one is refused
KEYS = {  # results: its keys, and what the change lists are compared with
    "results": (
        "household_id",
        "input_digest",
        "policy_digest",
        "policy_id",
        "status",
        "benefit",
        "transition",
        "pci",
        "circle",
    ),
    "members": ("household_id",),
    "findings": ("household_id",),
    "rejects": ("household_id",),
}


def stored_layout(stored: dict, again: dict) -> tuple[list, dict, dict]:
    """The stored tables' columns against those a review writes: one discrepancy per file
    and column missing, added or of another type (report refused a results.parquet whose
    benefit was float64 while reproduce called it clean, a blind audit; a missing rank
    was 290 lines of "rank: None → 270"). Then both sides are compared on the columns
    the stored file has, a column of another type cast back to the review's where its
    values allow (a float 116701.0 is 116701 fen, and a value that differs still shows).
    -> (discrepancies, stored tables, recomputed tables)."""
    import pyarrow as pa

    from meanstest import schema
    from meanstest.reproduce.discrepancy import Discrepancy

    found, kept, compared = [], {}, {}
    for name, table in stored.items():
        written, file = schema.OUTPUTS[name], f"{name}.parquet"
        absent = [f.name for f in written if f.name not in table.column_names]
        if lost := [c for c in KEYS[name] if c in absent]:
            raise MeansTestError(
                f"{file} has no column {lost[0]}, which a review writes and reproduce "
                "matches rows by: not a review's output (rewritten since the review?)"
            )
        found += [Discrepancy(file, f"no column {c}, which a review writes") for c in absent]
        added = [c for c in table.column_names if written.get_field_index(c) < 0]
        found += [Discrepancy(file, f"a column {c} that a review does not write") for c in added]
        table = table.drop_columns(added)
        for column, got, want in mistyped(table, name):
            found.append(
                Discrepancy(
                    file,
                    f"column {column}: {got} where a review writes {want} (the file was "
                    "rewritten since the review)",
                )
            )
            i = table.schema.get_field_index(column)
            try:
                table = table.set_column(i, column, table[column].cast(want))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                pass  # values no cast keeps: the rows show them, types and all
        kept[name] = table
        other = again[name]
        compared[name] = other.drop_columns([c for c in absent if c in other.column_names])
    return found, kept, compared


def _recomputed_review(bundle, library, quiet: bool, memory_limit=None) -> tuple:
    """The four output tables of a reference-engine review of the bundle folder, its
    households table (prev_status and prev_benefit, for the change lists) and the
    review's summary.json."""
    import tempfile

    from meanstest.bundle import bundle_folder, read_table, table_file
    from meanstest.progress import note
    from meanstest.review import ReviewOptions, run_review

    folder = bundle_folder(bundle)
    note("recomputing every household with the reference calculator", quiet=quiet)
    with tempfile.TemporaryDirectory(prefix="meanstest-reproduce-") as tmp:
        options = ReviewOptions(engine="reference", quiet=quiet, memory_limit=memory_limit)
        run_review(folder, tmp, library, options)
        again = {name: read_output(Path(tmp), name) for name in REVIEW_OUTPUTS}
        summary = json.loads((Path(tmp) / "summary.json").read_text("utf-8"))
    # the review refused a folder without a households table: it is there
    households = read_table(table_file(folder, "households"), "households")
    return again, households, summary


def _change_rows(out: Path, transition: str):
    """A stored change list with its `transition` column (a Spark review's partitions
    hold it in their folder's name); None when the review wrote no such list."""
    import pyarrow as pa

    table = read_output(out, f"changes_{transition.lower()}")
    if table is not None and "transition" not in table.column_names:
        column = pa.array([transition] * table.num_rows, pa.string())
        table = table.append_column("transition", column)
    return table


def _household_ids(*tables):
    """Every household_id of the tables (None: no table), each once, in the order they
    first appear: the stored results first, so chunks follow the stored order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = [t["household_id"].cast(pa.string()) for t in tables if t is not None]
    return pc.unique(pa.chunked_array([c for col in columns for c in col.chunks], pa.string()))


class _Groups:
    """The rows of a table by chunk of households: chunk c holds the rows whose
    household_id is among ids[c * size:(c + 1) * size], in the table's order."""

    def __init__(self, table, ids, size: int) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        self.table = table
        if table is None or table.num_rows == 0:
            self.order, self.bounds = None, None
            return
        at = pc.index_in(table["household_id"].cast(pa.string()), value_set=ids, skip_nulls=False)
        number = pc.fill_null(at, -1).to_numpy(zero_copy_only=False) // size
        self.order = np.argsort(number, kind="stable")
        chunks = (len(ids) + size - 1) // size
        self.bounds = np.searchsorted(number[self.order], np.arange(chunks + 1))

    def rows(self, c: int) -> list[dict]:
        if self.order is None:
            return []
        picked = self.order[self.bounds[c] : self.bounds[c + 1]]
        return self.table.take(picked).to_pylist()
