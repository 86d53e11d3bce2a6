"""Reading a review's output folder, whichever engine wrote it.

`meanstest review` writes one Parquet file per output (`results.parquet`,
`changes_new.parquet`, ...); `--engine spark` writes Parquet folders partitioned by
jurisdiction (`results/jurisdiction=150422/part-00000.parquet`, and
`changes/transition=NEW/jurisdiction=…/`), whose files hold the same columns. The
report and `meanstest reproduce` read either through `read_output`.

Also the checks of the folders a command is given (`output_folder`, `review_folder`):
a mistake there is said in the folder's terms, not as a file inside it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.errors import MeansTestError


def check_output_folder(path, flag: str = "--out") -> Path:
    """`path` as a folder a command may make (nothing is made): not empty, not a file,
    not a symbolic link to nothing."""
    if not str(path):  # Path("") is the current folder
        raise MeansTestError(f"{flag} is empty: name the output folder")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MeansTestError(f"{flag} {path} is a file: the command writes a folder")
    if path.is_symlink() and not path.exists():
        raise MeansTestError(f"{flag} {path} is a symbolic link to nothing")
    return path


def output_folder(path, flag: str = "--out") -> Path:
    """The folder a command writes (created, parents too), once it is known to be
    writable: "--out /proc/x: cannot write the output folder there (No such file or
    directory)" rather than the error of a file the command would write inside."""
    path = check_output_folder(path, flag)
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise MeansTestError(
            f"{flag} {path}: cannot write the output folder there ({reason})"
        ) from e
    return path


def review_folder(out) -> Path:
    """A review's output folder given to report or reproduce: an error that says so when
    it is missing or is a file (summary.json itself, say)."""
    out = Path(out)
    if not out.exists():
        raise MeansTestError(f"{out}: review output folder not found")
    if not out.is_dir():
        raise MeansTestError(f"{out}: a review's outputs are a folder, this is a file")
    return out


def read_output(out: Path, name: str, columns: list[str] | None = None) -> pa.Table | None:
    """`columns` (None: all) of output `name` (results, members, findings, rejects,
    changes_new, changes_exit, changes_adjust, changes_phase_out) of the review folder
    `out`; None when the folder has no such output. A Spark folder's files are read in
    path order; a Spark output folder of no files (an empty review), or a change list's
    missing transition folder, is no rows."""
    from meanstest.batch import CHANGES_SCHEMA

    file = out / f"{name}.parquet"
    if file.is_file():
        return pq.read_table(file, columns=columns)
    if name.startswith("changes_"):
        base, empty = out / "changes", CHANGES_SCHEMA
        folder = base / f"transition={name.removeprefix('changes_').upper()}"
    else:
        base = folder = out / name
        empty = schema.OUTPUTS[name]
    if folder.is_dir():
        dataset = pq.ParquetDataset(folder, partitioning=None)
        if dataset.files:
            return dataset.read(columns=columns)
    elif not base.is_dir():
        return None
    return empty.empty_table().select(columns or empty.names)


def summary_mismatches(
    summary: dict, results: pa.Table, rejected: int | None = None
) -> list[tuple[str, object, int]]:
    """(key, summary.json's value, the stored rows' value) of each count and total of
    summary.json that the stored results (and the number of rejects, when given) do not
    give. The report prints summary.json: an edited one would pass as fact (an
    adversarial auditor run). A column `results` lacks is not checked."""
    import pyarrow.compute as pc

    statuses = {c["values"]: c["counts"] for c in results["status"].value_counts().to_pylist()}
    derived = {
        "assessed": results.num_rows,
        "total_monthly_benefit": int(pc.sum(results["benefit"]).as_py() or 0),
        **{f"by_status.{s}": statuses.get(s, 0) for s in summary.get("by_status", {})},
    }
    if rejected is not None:
        derived["rejected"] = rejected
    if "provisional" in results.column_names:
        derived["provisional"] = int(pc.sum(results["provisional"].cast(pa.int64())).as_py() or 0)
    out = []
    for key, want in derived.items():
        section, _, name = key.partition(".")
        got = summary.get(section, {}).get(name) if name else summary.get(key)
        if got is not None and got != want:
            out.append((key, got, want))
    return out
