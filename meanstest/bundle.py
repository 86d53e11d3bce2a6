"""Bundles (DATA.md "Bundle"): a folder with one `<table>.parquet` or `<table>.arrow`
(Arrow IPC file format) per table of schema.TABLES.

Reading is strict about what would change a value and lenient about what would not:

- an absent table has no rows (an empty table of the canonical schema);
- a table present in both formats is an error (which one would be the truth?);
- a table given only as a folder of files (`<t>/`, `<t>.parquet/`: Spark's tables) is
  an error naming the folder, not an absent table: Spark's review reads those; beside
  the table's file, such a folder is not read (the review says so);
- a missing required column is an error naming file and column; an absent optional
  column (`current_programs`) becomes a column of nulls;
- extra columns are ignored (departments add audit columns; they are not ours to judge);
- a column's type must be the canonical one, except encodings of the same values:
  any integer type where an integer is expected (cast with overflow checking; a value
  that does not fit the canonical type is an error naming its row: the file breaks
  DATA.md's types, and the rule its value would break cannot be told for certain), large_string / string_view / dictionary-encoded
  strings for strings (decoded), date64 for date32, a list of any of those string
  types for list<string>, and the null type (a column with no values) for any column;
- files other than `<table>.parquet` / `<table>.arrow` are ignored, including the
  `.tmp` files an interrupted `write_bundle` may leave.

Every failure is a BundleError naming the file and the reason, never a raw pyarrow
traceback. Strings must be UTF-8 (Arrow and Parquet promise it): a string value that is
not is a corrupt file, named with its table, column and first bad row (1-based). The result tables have exactly `schema.arrow_schema(table)`.

A table file is read in two steps — its schema is checked and a `conform.Plan` of casts made,
then the data is read and conformed — so `iter_table` reuses the plan per Parquet row
group or IPC record batch (chunked streaming).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import ipc

from meanstest import schema
from meanstest.conform import READ_ERRORS, Plan, conform, first_line, validate_ipc
from meanstest.errors import BundleError

FORMATS = {"parquet": ".parquet", "arrow": ".arrow"}


# ------------------------------------------------------------------------ reading --


INCOMPLETE = ".incomplete"  # a writer of the folder (regroup, ingest) started, not finished


@contextmanager
def writing_bundle(folder: Path, what: str) -> Iterator[None]:
    """Mark `folder` as being written by `what` until the block ends without an error: a
    killed regroup left some tables, and review read the rest as absent (an adversarial
    run: every household kept checked_tax = true, its tax rows gone)."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / INCOMPLETE
    marker.write_text(f"{what} did not finish writing this folder\n", encoding="utf-8")
    yield
    marker.unlink()


def check_complete(folder: Path) -> None:
    """A BundleError when a writer of the bundle folder was interrupted (writing_bundle)."""
    marker = folder / INCOMPLETE
    if marker.exists():
        what = marker.read_text(encoding="utf-8", errors="replace").strip()
        raise BundleError(f"{folder}: {what}; run it again", file=str(marker))


def bundle_folder(path: str | os.PathLike) -> Path:
    """`path` when it is a bundle folder, else a BundleError saying it is missing or a
    file (a table file given instead of its folder)."""
    folder = Path(path)
    if not folder.exists():
        raise BundleError(f"{folder}: bundle folder not found", file=str(folder))
    if not folder.is_dir():
        raise BundleError(f"{folder}: a bundle is a folder, this is a file", file=str(folder))
    return folder


def read_bundle(path: str | os.PathLike, households: bool = False) -> dict[str, pa.Table]:
    """Every table of schema.TABLES, canonical schema, absent ones empty. `households`:
    a folder without its households, persons or supporters table is an error, no bundle
    (DATA.md lets only source tables be absent; explain said "household
    not in the bundle" and reproduce "not assessed now" of each household of such a
    folder; the review says so too, from its plan)."""
    folder = bundle_folder(path)
    check_complete(folder)
    if households:
        present = [n for n in schema.CASE_TABLES if table_file(folder, n) is not None]
        missing = schema.missing_case_table(present, str(folder))
        if missing:
            raise BundleError(missing, file=str(folder))
    tables = {}
    for name in schema.TABLES:
        file = table_file(folder, name)
        tables[name] = schema.empty_table(name) if file is None else read_table(file, name)
    return tables


def absent_tables(path: str | os.PathLike) -> list[str]:
    """The source tables the bundle folder does not have (schema.absent_source_tables)."""
    folder = bundle_folder(path)
    return schema.absent_source_tables({t for t in schema.TABLES if table_file(folder, t)})


class TableIsFolder(BundleError):
    """A table given as a folder of files (`bank/`, `bank.parquet/`), as Spark writes
    tables: Spark's review reads it, this reader does not (docs/spark.md)."""


def table_folder(folder: Path, name: str) -> Path | None:
    """The folder holding table `name` in Spark's form (`<name>/`, `<name>.parquet/`),
    None when there is none."""
    for candidate in (folder / name, *(folder / f"{name}{s}" for s in FORMATS.values())):
        if candidate.is_dir():
            return candidate
    return None


def table_file(folder: Path, name: str) -> Path | None:
    """The file holding table `name` in the bundle folder, None when absent.

    A table that is only a folder of files is a TableIsFolder error, not an absent table:
    read as absent, a `bank/` folder written by Spark made a member with 9,000,000 yuan in
    the bank TEKUN (checked_bank true, no bank rows), where Spark's review vetoed (V04).
    Beside the table's file, a folder of that name is not the table (`meanstest ingest`
    into the raw exports' folder leaves `bank/` exports beside `bank.parquet`); the
    review names it as ignored (review.plan.unknown_files)."""
    nested = table_folder(folder, name)
    if nested is not None and not any((folder / f"{name}{s}").is_file() for s in FORMATS.values()):
        raise TableIsFolder(
            f"{nested}: table {name} is a folder of files, as Spark writes tables; this "
            f"review reads one file per table ({name}.parquet or {name}.arrow). Review "
            "the bundle with --engine spark (docs/spark.md), or write the table as one file",
            file=str(nested),
        )
    found = [folder / f"{name}{s}" for s in FORMATS.values() if (folder / f"{name}{s}").exists()]
    if len(found) > 1:
        raise BundleError(
            f"{found[0]}: table {name} is in the bundle twice ({found[0].name} and "
            f"{found[1].name}); keep one format",
            file=str(found[0]),
        )
    if not found and (other := misnamed_table_file(folder, name)) is not None:
        raise BundleError(
            f"{other}: table {name} is read from {name}.parquet or {name}.arrow only "
            f"(DATA.md), and this review would read it as absent: {_renamed(other, name)}",
            file=str(other),
        )
    return found[0] if found else None


def misnamed_table_file(folder: Path, name: str) -> Path | None:
    """A file named as table `name` with another case or suffix (bank.PARQUET, bank.pq,
    bank.feather, Bank.parquet, bank.csv): read as absent, a blind test's bank.feather
    made every household one of no bank records, its vetoes gone, and only the note
    "if its export was lost" said so. None when there is none (hidden files aside)."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return None
    for entry in entries:
        stem = entry.name.split(".", 1)[0]
        if stem.lower() == name and not entry.name.startswith(".") and entry.is_file():
            return entry
    return None


def _renamed(file: Path, name: str) -> str:
    suffix = file.name.split(".", 1)[1].lower() if "." in file.name else ""
    if suffix in ("parquet", "pq", "parq"):
        return f"rename it {name}.parquet"
    if suffix in ("arrow", "feather", "ipc", "arrows"):
        return f"rename it {name}.arrow (a Feather v2 file is an Arrow IPC file)"
    if suffix in ("csv", "jsonl", "json", "txt", "xlsx", "xls"):
        return "a department's raw export becomes a table through `meanstest ingest`"
    return f"rename it {name}.parquet or {name}.arrow if it is one, or move it out of the folder"


def read_table(file: str | os.PathLike, name: str) -> pa.Table:
    """One table file (format by suffix), checked and conformed to the canonical schema."""
    file = Path(file)
    if name not in schema.TABLES:
        raise BundleError(f"{file}: unknown table {name!r}", file=str(file))
    source = _TableFile.open(file)
    plan = Plan.make(name, source.schema, str(file))
    return plan.apply(source.read(plan.read_columns))


def read_text_columns(file: str | os.PathLike, columns: list[str]) -> pa.Table:
    """Some text columns (IDs, keys) of a table file as plain strings, without reading the
    rest: for a look at a bundle already reviewed (`meanstest.unmatched`)."""
    table = _TableFile.open(Path(file)).read(columns)
    return pa.table({c: table.column(c).cast(pa.string()) for c in columns})


def check_table(file: str | os.PathLike, name: str) -> Plan:
    """The checks of `read_table` that need only the file's schema (no data is read).
    Returns the conformer: `.apply(batch)` makes any batch of the file canonical (values
    cast with the same checks, errors naming this file)."""
    file = Path(file)
    if name not in schema.TABLES:
        raise BundleError(f"{file}: unknown table {name!r}", file=str(file))
    return Plan.make(name, _TableFile.open(file).schema, str(file))


def iter_table(file: str | os.PathLike, name: str) -> Iterator[pa.Table]:
    """The same table as `read_table`, one Parquet row group / IPC record batch at a
    time (each a canonical pa.Table), for chunked reading of large bundles."""
    file = Path(file)
    if name not in schema.TABLES:
        raise BundleError(f"{file}: unknown table {name!r}", file=str(file))
    source = _TableFile.open(file)
    plan = Plan.make(name, source.schema, str(file))
    for batch in source.batches(plan.read_columns):
        yield plan.apply(batch)


class _TableFile:
    """An opened Parquet or Arrow IPC file: its Arrow schema, and its data."""

    def __init__(self, file: Path, kind: str, handle) -> None:
        self.file, self.kind, self._handle = file, kind, handle

    @classmethod
    def open(cls, file: Path) -> _TableFile:
        kind = next((k for k, s in FORMATS.items() if file.name.endswith(s)), None)
        if kind is None:
            raise BundleError(f"{file}: not a .parquet or .arrow file", file=str(file))
        try:
            size = file.stat().st_size
        except OSError as e:
            raise BundleError(f"{file}: cannot open: {e.strerror or e}", file=str(file)) from None
        if size == 0:
            raise BundleError(f"{file}: empty file (0 bytes)", file=str(file))
        try:
            if kind == "parquet":
                return cls(file, kind, pq.ParquetFile(file))
            return cls(file, kind, ipc.open_file(pa.memory_map(str(file), "r")))
        except MemoryError:
            raise
        except READ_ERRORS as e:
            raise BundleError(
                f"{file}: cannot read {cls._what(kind, file)}: {first_line(e)}", file=str(file)
            ) from None

    @staticmethod
    def _what(kind: str, file: Path) -> str:
        if kind == "parquet":
            return "Parquet file"
        try:  # a common mistake: the IPC *stream* format under an .arrow name
            with pa.OSFile(str(file)) as f:
                ipc.open_stream(f).schema  # noqa: B018
            return "Arrow IPC file (this is the IPC stream format; write the file format)"
        except READ_ERRORS:
            return "Arrow IPC file"

    @property
    def schema(self) -> pa.Schema:
        return self._handle.schema_arrow if self.kind == "parquet" else self._handle.schema

    def read(self, columns: list[str]) -> pa.Table:
        try:
            if self.kind == "parquet":
                return self._handle.read(columns=columns, use_threads=True)
            table = self._handle.read_all().select(columns)
            validate_ipc(table, self.file, 0)
            return table
        except BundleError:
            raise
        except READ_ERRORS as e:
            raise unreadable(self.file, self.kind, e) from None

    def batches(self, columns: list[str]):
        """Parquet row groups / IPC record batches, one at a time."""
        try:
            if self.kind == "parquet":
                for i in range(self._handle.num_row_groups):
                    yield self._handle.read_row_group(i, columns=columns)
            else:
                first = 0
                for i in range(self._handle.num_record_batches):
                    batch = self._handle.get_batch(i).select(columns)
                    validate_ipc(batch, self.file, first)
                    first += batch.num_rows
                    yield batch
        except BundleError:
            raise
        except READ_ERRORS as e:
            raise unreadable(self.file, self.kind, e) from None


def unreadable(file: str | os.PathLike[str], kind: str, e: Exception) -> Exception:
    """The error for a table file whose data pyarrow cannot read, naming the file; out of
    memory (ArrowMemoryError is a MemoryError) is the machine's, not the file's, and is
    raised as itself: "truncated or corrupt?" sent an operator under `ulimit -v` to
    check a sound file (a blind check, 2026-12-07)."""
    if isinstance(e, MemoryError):
        return e
    return BundleError(
        f"{file}: cannot read {kind} data (truncated or corrupt?): {first_line(e)}", file=str(file)
    )


def parquet_file(path: str | os.PathLike[str]) -> pq.ParquetFile:
    """A bundle's Parquet file opened for its metadata or row groups. The review opens a
    file again after reading it once (its row counts, sizes and row groups), so one
    truncated or replaced in between is a BundleError naming it, not pyarrow's
    traceback (a blind operator's check, 2026-12-07)."""
    try:
        return pq.ParquetFile(path)
    except READ_ERRORS as e:
        raise unreadable(path, "parquet", e) from None


def rows_in(path: Path) -> int:
    """Rows of one bundle file (Parquet: from its footer; Arrow IPC: its batches, mapped,
    not read)."""
    if path.suffix == ".parquet":
        return parquet_file(path).metadata.num_rows
    try:
        with pa.memory_map(str(path)) as src:
            return ipc.open_file(src).read_all().num_rows
    except READ_ERRORS as e:
        raise unreadable(path, "arrow", e) from None


# ------------------------------------------------------------------------ writing --


def write_bundle(
    tables: dict[str, pa.Table], path: str | os.PathLike, format: str = "parquet"
) -> None:
    """Write the given tables (conformed) as `<table>.<format>` in folder `path`,
    each atomically. Tables not given are left as they are; a file of the same table in
    the other format is removed, so the bundle stays readable."""
    if format not in FORMATS:
        raise BundleError(f"unknown bundle format {format!r} (choose parquet or arrow)")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    conformed = {name: conform(name, t) for name, t in tables.items()}
    for name, table in conformed.items():
        write_table_atomic(table, folder / f"{name}{FORMATS[format]}")
        for other in FORMATS.values():
            stale = folder / f"{name}{other}"
            if other != FORMATS[format] and stale.exists():
                stale.unlink()


def write_table_atomic(
    table: pa.Table, path: str | os.PathLike, parquet_options: dict | None = None
) -> None:
    """Write one table (Parquet or Arrow IPC file, by suffix) to `<path>.tmp`, fsync it,
    then rename it over `path`: readers see the old file or the new, never half.
    `parquet_options`: keyword arguments of pq.write_table (schema.output_parquet_options)."""
    path = Path(path)
    kind = next((k for k, s in FORMATS.items() if path.name.endswith(s)), None)
    if kind is None:
        raise BundleError(f"{path}: write as .parquet or .arrow", file=str(path))
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            if kind == "parquet":
                pq.write_table(table, f, **(parquet_options or {}))
            else:
                with ipc.new_file(f, table.schema) as writer:
                    writer.write_table(table)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except (OSError, pa.ArrowException) as e:
        tmp.unlink(missing_ok=True)
        raise BundleError(f"{path}: cannot write: {first_line(e)}", file=str(path)) from None
    except BaseException:  # an interrupt: no half-written .tmp left behind either
        tmp.unlink(missing_ok=True)
        raise


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not every platform opens folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
