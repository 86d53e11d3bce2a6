"""Reading a review's output folder, whichever engine wrote it.

`meanstest review` writes one Parquet file per output (`results.parquet`,
`changes_new.parquet`, ...); `--engine spark` writes Parquet folders partitioned by
jurisdiction (`results/jurisdiction=150422/part-00000-00000.parquet`, and
`changes/transition=NEW/jurisdiction=…/`), whose files hold the same columns. The
report and `meanstest reproduce` read either through `read_output`.

Also the checks of the folders a command is given (`output_folder`, `review_folder`):
a mistake there is said in the folder's terms, not as a file inside it; the lock a
command holds on the folder it writes (`only_writer_of`); and the write errors that name
their file (`writing`).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.batch import CHANGE_LISTS
from meanstest.bundle import FORMATS, table_folder
from meanstest.errors import MeansTestError
from meanstest.jsonfile import NotUTF8Text, parse_json
from meanstest.utf8 import check_utf8


def check_output_folder(path: str | os.PathLike[str], flag: str = "--out") -> Path:
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


def output_folder(path: str | os.PathLike[str], flag: str = "--out") -> Path:
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


class WriteFailed(MeansTestError):
    """An output or state file could not be written (disk full, read-only, quota)."""


@contextmanager
def writing(path: Path, *tmps: Path) -> Iterator[None]:
    """Name `path` in any write error, and leave none of `tmps` behind when the write
    stops, by an error or an interrupt (a Ctrl-C while the change lists were written
    left changes_*.parquet.tmp: 3 of 300 interrupted reviews, D3 of 2026-12-07)."""
    try:
        yield
    except BaseException as e:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        if not isinstance(e, OSError):
            raise
        reason = os.strerror(e.errno) if e.errno else str(e)
        raise WriteFailed(f"{path}: cannot write: {reason}", file=str(path)) from None


LOCK = ".review.lock"  # held (flock) by the review, report or ingest writing the folder
_HELD: set[Path] = set()  # the folders this process holds the lock of


@contextmanager
def only_writer_of(out: Path, what: str) -> Iterator[None]:
    """One command at a time writes a folder `out` (`what`: "review", "report" or
    "ingest"): two reviews at once mixed their outputs and corrupted a file, each exiting
    0 (an adversarial run), and a report written while a review started there left the
    old report.html beside the new outputs (D2 of a blind operator's check, 2026-12-07).
    The lock is the kernel's (flock): a killed command holds none. The holder writes
    what it is into the lock file, so that the one refused can say. A process holding
    the lock already holds it again (a Spark review writes its report under its lock:
    flock refuses a second opening even in one process)."""
    key = out.resolve()
    if key in _HELD:
        yield
        return
    path = out / LOCK
    with writing(path):  # only the lock's own writes: the holder's errors are its own
        lock = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (closed below)
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read(16).strip()
            holder = holder if holder in ("review", "report", "ingest") else "review"
            raise MeansTestError(f"{out}: another {holder} is writing this folder") from None
        with writing(path):
            lock.seek(0)
            lock.truncate()
            lock.write(what)
            lock.flush()
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)


def not_a_bundle(out: Path, bundle: Path | None = None) -> None:
    """Refuse a review's `--out` that is its bundle folder or holds a bundle's tables (a
    file, or a folder as Spark writes one): the outputs were written among them, with
    either engine (D7 of a blind operator's check, 2026-12-07, and its recheck)."""
    if bundle is not None and out.resolve() == bundle.resolve():
        raise MeansTestError(
            f"--out {out} is the bundle folder: the review's outputs (results.parquet, …) "
            "would lie beside the tables it reads; give another folder"
        )
    if bundle is not None and bundle.resolve() in out.resolve().parents:
        # a folder of the bundle named like a table (bank/) is read as that table: a Spark
        # review into it failed and left an empty bank/ that every later review refused,
        # and the single machine's outputs there became the bundle's bank table (a blind
        # test). Other folders of the bundle's folder are no table: a review may go there.
        first = out.resolve().relative_to(bundle.resolve()).parts[0]
        names = {f"{t}{s}" for t in schema.TABLES for s in ("", *FORMATS.values())}
        if first in names:
            raise MeansTestError(
                f"--out {out}: {bundle / first} is where the bundle's readers look for a "
                "table, so the review's outputs would become part of the bundle; give "
                "another folder"
            )
    held = [
        f"{t}{s}" for t in schema.TABLES for s in FORMATS.values() if (out / f"{t}{s}").is_file()
    ]
    held += [f"{f.name}/" for t in schema.TABLES if (f := table_folder(out, t)) is not None]
    if held:
        raise MeansTestError(
            f"--out {out} holds a bundle's tables ({', '.join(held)}): the review's outputs "
            "(results.parquet, …) would lie beside them; give another folder"
        )


def not_a_review_folder(out: Path) -> None:
    """Refuse an ingest's `--out` that holds a review's outputs: the bundle's tables were
    written beside results.parquet (a blind operator's check, 2026-12-07)."""
    found = [
        name
        for name in ("summary.json", *(f"{t}.parquet" for t in schema.OUTPUTS))
        if (out / name).is_file()
    ] + [f"{t}/" for t in schema.OUTPUTS if (out / t).is_dir()]
    if found:
        raise MeansTestError(
            f"--out {out} holds a review's outputs ({', '.join(found)}): the bundle's tables "
            "would lie beside them; give the bundle a folder of its own"
        )


def review_folder(out: str | os.PathLike[str]) -> Path:
    """A review's output folder given to report or reproduce: an error that says so when
    it is missing or is a file (summary.json itself, say)."""
    out = Path(out)
    if not out.exists():
        raise MeansTestError(f"{out}: review output folder not found")
    if not out.is_dir():
        raise MeansTestError(f"{out}: a review's outputs are a folder, this is a file")
    return out


# the tables a finished review writes: the four outputs, then the change lists
REVIEW_TABLES = (*schema.OUTPUTS, *(f"changes_{t.lower()}" for t in CHANGE_LISTS))


def missing_outputs(out: Path) -> list[str]:
    """What a finished review writes and the folder `out` lacks: each table as a file (or
    a Spark review's folder; the change lists its `changes/` folder), and summary.json. A
    review stopped midway, or a folder edited since, lacks some: `report` drew an empty
    findings table from a folder without findings.parquet (an adversarial run)."""
    missing = []
    for name in REVIEW_TABLES:
        folder = out / ("changes" if name.startswith("changes_") else name)
        if not ((out / f"{name}.parquet").is_file() or folder.is_dir()):
            missing.append(f"{name}.parquet")
    return missing + ([] if (out / "summary.json").is_file() else ["summary.json"])


def incomplete(out: Path) -> MeansTestError | None:
    """The error for a review folder that lacks outputs (`missing_outputs`), else None."""
    missing = missing_outputs(out)
    if not missing:
        return None
    return MeansTestError(
        f"{out}: not a complete review output folder (no {', '.join(missing)}; a review "
        "stopped midway leaves it so, and so does a file removed since the review: run the "
        "review again)"
    )


def read_output(out: Path, name: str, columns: list[str] | None = None) -> pa.Table | None:
    """`columns` (None: all) of output `name` (results, members, findings, rejects,
    changes_new, changes_exit, changes_adjust, changes_phase_out) of the review folder
    `out`; None when the folder has no such output. A Spark folder's files are read in
    path order; a Spark output folder of no files (an empty review), or a change list's
    missing transition folder, is no rows."""
    from meanstest.batch import CHANGES_SCHEMA

    file = out / f"{name}.parquet"
    if file.is_file():
        _has_columns(pq.read_schema(file).names, columns, file)
        return _text_checked(pq.read_table(file, columns=columns), name, file)
    if name.startswith("changes_"):
        base, empty = out / "changes", CHANGES_SCHEMA
        folder = base / f"transition={name.removeprefix('changes_').upper()}"
    else:
        base = folder = out / name
        empty = schema.OUTPUTS[name]
    if folder.is_dir():
        dataset = pq.ParquetDataset(folder, partitioning=None)
        if dataset.files:
            _has_columns(dataset.schema.names, columns, folder)
            return _text_checked(dataset.read(columns=columns), name, folder)
    elif not base.is_dir():
        return None
    return empty.empty_table().select(columns or empty.names)


def _has_columns(names: list[str], columns: list[str] | None, where: Path) -> None:
    """MeansTestError naming the columns a reader asks for that an output file lacks:
    Arrow's own error printed the file's whole schema, its internal fields included
    (`meanstest report` of a results.parquet without rank, a blind audit)."""
    if lost := [c for c in columns or () if c not in names]:
        raise MeansTestError(
            f"{where}: no column {', '.join(lost)}, which a review writes (the file was "
            "rewritten since the review); run meanstest reproduce"
        )


def _text_checked(table: pa.Table, name: str, where: Path) -> pa.Table:
    """`table`, its strings UTF-8 (Parquet does not check them on reading: a results
    file with a household_id that was not ended `reproduce` in a UnicodeDecodeError);
    BundleError naming the output, column and row otherwise."""
    check_utf8(table, name, str(where))
    return table


def mistyped(table: pa.Table, name: str) -> list[tuple[str, pa.DataType, pa.DataType]]:
    """(column, its type, the type a review writes) of each column of output `name` read
    back in another type: a file rewritten by something else. `reproduce` reports its
    rows as not those the review wrote; the report, which prints them, refuses it (a
    results.parquet whose benefit was text ended both in Arrow's "Function 'sum' has no
    kernel matching input types (string)")."""
    from meanstest.batch import CHANGES_SCHEMA

    written = CHANGES_SCHEMA if name.startswith("changes_") else schema.OUTPUTS[name]
    return [
        (f.name, f.type, written.field(f.name).type)
        for f in table.schema
        if written.get_field_index(f.name) >= 0 and f.type != written.field(f.name).type
    ]


# summary.json as a review writes it (batch.Tally.summary): what the report and
# `summary_mismatches` read from it, and the kinds of value they read
_COUNTS = ("households_read", "assessed", "rejected", "total_monthly_benefit",
           "mean_monthly_benefit_of_recipients", "provisional")  # fmt: skip
_OPTIONAL_COUNTS = ("unmatched_source_rows", "orphan_rows", "chunks", "chunk_size")
_COUNT_SECTIONS = ("by_status", "by_circle", "by_transition", "by_veto", "rejects_by_reason")
_TABLE_SECTIONS = ("by_jurisdiction", "by_policy")  # a JSON object of JSON objects
_PAID = ("households", "prev_benefit")  # of rejected_previously_paid (batch.paid_section)
_PLACE = ("households", "assessed", "enrolled", "benefit")  # of each by_jurisdiction entry


def read_summary(out: Path) -> dict | None:
    """A review folder's summary.json (None when it has none); MeansTestError when it is
    not one a review writes: not JSON, not an object, or a value the report and
    `summary_mismatches` read of another kind (an edited or damaged file: a summary
    nested 100,000 deep, or a list, ended `report` and `reproduce` in tracebacks)."""
    file = out / "summary.json"
    if not file.is_file():
        return None
    try:
        summary = parse_json(file.read_text("utf-8"))
    except NotUTF8Text as e:  # report.html could not hold such a text
        raise MeansTestError(f"{out}: summary.json is not JSON of UTF-8 texts ({e})") from None
    except (OSError, ValueError) as e:
        raise MeansTestError(f"{out}: summary.json is not JSON ({e})") from None
    problem = _summary_problem(summary)
    if problem:
        raise MeansTestError(f"{out}: summary.json is not a review's summary ({problem})")
    return summary


def _summary_problem(summary) -> str | None:
    def count(v) -> bool:
        return type(v) is int

    if not isinstance(summary, dict):
        return f"a JSON {type(summary).__name__}, not an object"
    for key in _COUNTS + _OPTIONAL_COUNTS:
        if (key in summary or key in _COUNTS) and not count(summary.get(key)):
            return f"{key} is {_shown(summary.get(key))}, not a count"
    if "accounting_closes" in summary and not isinstance(summary["accounting_closes"], bool):
        return "accounting_closes is not true or false"
    paid = summary.get("rejected_previously_paid", dict.fromkeys(_PAID, 0))
    if not isinstance(paid, dict) or not all(count(paid.get(k)) for k in _PAID):
        return f"rejected_previously_paid is not an object with counts {' and '.join(_PAID)}"
    absent = summary.get("absent_source_tables", [])
    if not isinstance(absent, list) or not all(t in schema.SOURCE_TABLES for t in absent):
        return "absent_source_tables is not a list of source tables"
    notes = summary.get("ingest_notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        return "ingest_notes is not a list of texts"
    ids = paid.get("first_household_ids", [])  # a null household_id is rejected too: null
    if not isinstance(ids, list) or not all(h is None or isinstance(h, str) for h in ids):
        return "rejected_previously_paid.first_household_ids is not a list of IDs"
    for key in _COUNT_SECTIONS + _TABLE_SECTIONS:
        section = summary.get(key, {})
        if not isinstance(section, dict):
            return f"{key} is not a JSON object"
        for name, value in section.items():
            if key == "by_jurisdiction":
                if not isinstance(value, dict) or not all(count(value.get(k)) for k in _PLACE):
                    return f"{key}.{_shown(name)} is not an object with counts {', '.join(_PLACE)}"
            elif key == "by_policy":
                if not isinstance(value, dict):
                    return f"{key}.{_shown(name)} is not a JSON object"
            elif not count(value):
                return f"{key}.{_shown(name)} is {_shown(value)}, not a count"
    return None


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def summary_mismatches(
    summary: dict, results: pa.Table, rejects: pa.Table | int | None = None
) -> list[tuple[str, object, object]]:
    """(key, summary.json's value, the stored rows' value) of each value of summary.json
    that the stored results (and rejects: the table, or only its number of rows) do not
    give. The report prints summary.json: an edited one would pass as fact (adversarial
    auditor runs: first the total and statuses, then the counts by circle, transition,
    veto, jurisdiction and pack, the mean, the rejects by reason). A column `results` lacks is
    not checked; nor is what only the bundle gives (unmatched and orphan rows: `meanstest
    reproduce` checks those against its recomputation)."""
    import pyarrow.compute as pc

    from meanstest.batch import ENROLLED, mean_benefit, reject_rules
    from meanstest.batch import value_counts as counts

    def section(name: str, found: dict) -> dict:  # every key of either side
        keys = [*summary.get(name, {}), *(k for k in found if k not in summary.get(name, {}))]
        return {f"{name}.{k}": found.get(k, 0) for k in keys}

    names = set(results.column_names)
    statuses = counts(results["status"])
    total = int(pc.sum(results["benefit"]).as_py() or 0)
    enrolled = sum(statuses.get(s, 0) for s in ENROLLED)
    derived = {
        "assessed": results.num_rows,
        "total_monthly_benefit": total,
        "mean_monthly_benefit_of_recipients": mean_benefit(total, enrolled),
        **section("by_status", statuses),
    }
    if "circle" in names:
        derived |= section("by_circle", {str(k): v for k, v in counts(results["circle"]).items()})
    if "transition" in names:
        derived |= section("by_transition", counts(results["transition"]))
    if "vetoes" in names:
        derived |= section("by_veto", counts(pc.list_flatten(results["vetoes"])))
    if "provisional" in names:
        derived["provisional"] = int(pc.sum(results["provisional"].cast(pa.int64())).as_py() or 0)
    if {"policy_id", "policy_digest"} <= names and "by_policy" in summary:
        packs = results.group_by(["policy_id", "policy_digest"]).aggregate([("policy_id", "count")])
        derived |= section(
            "by_policy",
            {
                r["policy_id"]: {
                    "policy_digest": r["policy_digest"],
                    "assessed": r["policy_id_count"],
                }
                for r in packs.to_pylist()
            },
        )
    jurisdictions = summary.get("by_jurisdiction", {}).values()
    if jurisdictions:  # their sums: which jurisdiction a household is in, only the bundle says
        for name, want in (("assessed", results.num_rows), ("enrolled", enrolled),
                           ("benefit", total)):  # fmt: skip
            derived[f"by_jurisdiction (sum of {name})"] = want
    if rejects is not None:
        rejected = rejects if isinstance(rejects, int) else rejects.num_rows
        derived["rejected"] = rejected
        if summary.get("accounting_closes") is not False:
            derived["households_read"] = results.num_rows + rejected
            derived["accounting_closes"] = True
            if jurisdictions:
                derived["by_jurisdiction (sum of households)"] = results.num_rows + rejected
        if not isinstance(rejects, int) and "reasons" in rejects.column_names:
            derived |= section("rejects_by_reason", reject_rules(rejects["reasons"]))
    out = []
    for key, want in derived.items():
        if key.startswith("by_jurisdiction (sum of "):
            got = sum(j.get(key[len("by_jurisdiction (sum of ") : -1], 0) for j in jurisdictions)
        else:
            head, _, name = key.partition(".")
            got = summary.get(head, {}).get(name) if name else summary.get(key)
        if got != want and (got is not None or "." in key):
            out.append((key, got, want))
    return out
