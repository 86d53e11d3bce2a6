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

A table file is read in two steps — its schema is checked and a `_Plan` of casts made,
then the data is read and conformed — so `iter_table` reuses the plan per Parquet row
group or IPC record batch (chunked streaming).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import ipc

from meanstest import schema
from meanstest.errors import BundleError
from meanstest.utf8 import check_utf8, first_bad_string

FORMATS = {"parquet": ".parquet", "arrow": ".arrow"}
READ_ERRORS = (pa.ArrowException, OSError, ValueError, TypeError, IndexError)


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
    plan = _Plan.make(name, source.schema, str(file))
    return plan.apply(source.read(plan.read_columns))


def read_text_columns(file: str | os.PathLike, columns: list[str]) -> pa.Table:
    """Some text columns (IDs, keys) of a table file as plain strings, without reading the
    rest: for a look at a bundle already reviewed (`meanstest.unmatched`)."""
    table = _TableFile.open(Path(file)).read(columns)
    return pa.table({c: table.column(c).cast(pa.string()) for c in columns})


def check_table(file: str | os.PathLike, name: str) -> _Plan:
    """The checks of `read_table` that need only the file's schema (no data is read).
    Returns the conformer: `.apply(batch)` makes any batch of the file canonical (values
    cast with the same checks, errors naming this file)."""
    file = Path(file)
    if name not in schema.TABLES:
        raise BundleError(f"{file}: unknown table {name!r}", file=str(file))
    return _Plan.make(name, _TableFile.open(file).schema, str(file))


def iter_table(file: str | os.PathLike, name: str) -> Iterator[pa.Table]:
    """The same table as `read_table`, one Parquet row group / IPC record batch at a
    time (each a canonical pa.Table), for chunked reading of large bundles."""
    file = Path(file)
    if name not in schema.TABLES:
        raise BundleError(f"{file}: unknown table {name!r}", file=str(file))
    source = _TableFile.open(file)
    plan = _Plan.make(name, source.schema, str(file))
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
                f"{file}: cannot read {cls._what(kind, file)}: {_reason(e)}", file=str(file)
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
            _validate_ipc(table, self.file, 0)
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
                    _validate_ipc(batch, self.file, first)
                    first += batch.num_rows
                    yield batch
        except BundleError:
            raise
        except READ_ERRORS as e:
            raise unreadable(self.file, self.kind, e) from None


def _reason(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


def unreadable(file: str | os.PathLike[str], kind: str, e: Exception) -> Exception:
    """The error for a table file whose data pyarrow cannot read, naming the file; out of
    memory (ArrowMemoryError is a MemoryError) is the machine's, not the file's, and is
    raised as itself: "truncated or corrupt?" sent an operator under `ulimit -v` to
    check a sound file (a blind check, 2026-12-07)."""
    if isinstance(e, MemoryError):
        return e
    return BundleError(
        f"{file}: cannot read {kind} data (truncated or corrupt?): {_reason(e)}", file=str(file)
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


# --------------------------------------------------------------------- conforming --


def _near_column(name: str, names: list[str]) -> str:
    """A hint at a column whose name is `name` but for case, spaces around it or an
    invisible character (a BOM carried over from a CSV header): such a name prints as
    the canonical one, and a blind test's ETL engineer could not see why it was missing."""
    for found in names:
        bare = "".join(c for c in found if c.isprintable() and c != "\ufeff").strip()
        if found != name and bare.lower() == name:
            return f"; the file has {found!r}: name it {name!r}"
    return ""


@dataclass
class _Plan:
    """How a file's columns become the canonical table: for each canonical column, the
    source column (None: absent optional column → nulls) and whether to cast.
    `rows_done` counts the rows it has conformed, so that batches applied in file order
    name a bad value by its row in the file."""

    name: str
    file: str
    sources: tuple[str | None, ...]
    rows_done: int = 0

    @classmethod
    def make(cls, name: str, found: pa.Schema, file: str) -> _Plan:
        sources = []
        for col in schema.TABLES[name]:
            index = found.get_field_index(col.name)
            if index == -1:
                if found.get_all_field_indices(col.name):
                    raise BundleError(
                        f"{file}: column {col.name} appears more than once",
                        file=file,
                        table=name,
                        column=col.name,
                    )
                if col.optional:
                    sources.append(None)
                    continue
                where = "" if file == f"table {name}" else f" (table {name})"
                raise BundleError(
                    f"{file}: missing required column {col.name}{where}"
                    + _near_column(col.name, found.names),
                    file=file,
                    table=name,
                    column=col.name,
                )
            got = found.field(index).type
            if not _compatible(col.type, got):
                raise BundleError(
                    f"{file}: {_hint(col.name, col.type, got)}"
                    f"column {col.name}: expected {col.type}, found {got}",
                    file=file,
                    table=name,
                    column=col.name,
                    expected=str(col.type),
                    found=str(got),
                )
            sources.append(col.name)
        return cls(name, file, tuple(sources))

    @property
    def read_columns(self) -> list[str]:
        return [s for s in self.sources if s is not None]

    def apply(self, data: pa.Table | pa.RecordBatch) -> pa.Table:
        target = schema.arrow_schema(self.name)
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        arrays = []
        for field, src in zip(target, self.sources, strict=True):
            if src is None:
                arrays.append(pa.nulls(data.num_rows, field.type))
                continue
            column = data.column(src)
            if column.type != field.type:
                column = self._cast(column, field, data)
            arrays.append(column)
        table = pa.Table.from_arrays(arrays, schema=target)
        first, self.rows_done = self.rows_done, self.rows_done + table.num_rows
        check_utf8(table, self.name, self.file, first)
        return table

    def _cast(self, column: pa.ChunkedArray, field: pa.Field, data: pa.Table) -> pa.ChunkedArray:
        try:  # dictionaries decode, integers cast with overflow checks
            return column.cast(field.type, safe=True)
        except MemoryError:  # a dictionary decoding to more than the machine holds
            raise
        except READ_ERRORS as e:
            where = ""
            if pa.types.is_integer(column.type) and pa.types.is_integer(field.type):
                found = _first_beyond(column, field.type)
                if found is not None:
                    row, value = found
                    whose = _row_keys(data, self.name, row)
                    row += self.rows_done + 1
                    where = f"row {row}{whose} holds {value}, beyond {field.type} (DATA.md); "
            raise BundleError(
                f"{self.file}: column {field.name}: cannot convert {column.type} to "
                f"{field.type}: {where}{_reason(e)}",
                file=self.file,
                table=self.name,
                column=field.name,
            ) from None


def _row_keys(data: pa.Table, table: str, row: int) -> str:
    """ " (household H, person P)" or " (record R)": a row's keys, as the file has them
    (a blind test: a value beyond its type named a row number only)."""
    keys = {
        "households": ("household_id",),
        "persons": ("household_id", "person_id"),
        "supporters": ("household_id", "supporter_id"),
    }.get(table, ("record_id", "person_id"))
    said = []
    for key in keys:
        if key in data.column_names:
            value = data.column(key)[row].as_py()
            if value is not None:
                said.append(f"{key.split('_')[0]} {value}")
    return f" ({', '.join(said)})" if said else ""


def _first_beyond(column: pa.ChunkedArray, target: pa.DataType) -> tuple[int, int] | None:
    """(row, value) of the first value of an integer column outside `target`'s range."""
    info = np.iinfo(target.to_pandas_dtype())  # an error's path: Python ints are exact
    for row, value in enumerate(column.to_pylist()):
        if value is not None and not info.min <= value <= info.max:
            return row, value
    return None


def _validate_ipc(data, file: Path, first_row: int) -> None:
    """Arrow's full validation of IPC data (IPC trusts its offsets; a forged one must
    not pass), with a string that is not UTF-8 named by table, column and row."""
    try:
        data.validate(full=True)
    except READ_ERRORS as e:
        found = first_bad_string(data)  # bounds-checked: safe on unvalidated offsets
        if found is not None and found[1] >= 0:
            name = file.name.rsplit(".", 1)[0]
            check_utf8(data, name, str(file), first_row)
        # Arrow names a column by its place ("Column 3: … date64[ms] 152380800000 does
        # not represent a whole number of days", a date with a time of day): by name
        said = re.match(r"Column (\d+): (.*)", str(e), re.DOTALL)
        if said and int(said[1]) < data.num_columns:
            column = data.schema.names[int(said[1])]
            raise BundleError(
                f"{file}: cannot read arrow data: column {column}: {_reason(said[2])}",
                file=str(file),
                column=column,
            ) from None
        raise


def _is_string(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_string(t.value_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _compatible(expected: pa.DataType, got: pa.DataType) -> bool:
    """Whether `got` holds the same values as `expected` in another encoding."""
    if got == expected or pa.types.is_null(got):
        return True
    if pa.types.is_dictionary(got) and not _is_string(got):
        return _compatible(expected, got.value_type)
    if pa.types.is_integer(expected):
        return pa.types.is_integer(got)
    if pa.types.is_string(expected):
        return _is_string(got)
    if pa.types.is_date32(expected):
        return pa.types.is_date64(got)
    if pa.types.is_list(expected):
        return (pa.types.is_list(got) or pa.types.is_large_list(got)) and (
            _is_string(got.value_type) or pa.types.is_null(got.value_type)
        )
    return False


def _hint(name: str, expected: pa.DataType, got: pa.DataType) -> str:
    """How to fix a common mismatch, said before it: timestamps (what pandas writes for
    datetime64) where dates belong."""
    if pa.types.is_date32(expected) and pa.types.is_timestamp(got):
        return (
            f"column {name} holds timestamps, not dates: write it as date32 (pandas "
            f"df[{name!r}] = df[{name!r}].dt.date; pyarrow pc.cast(table[{name!r}], "
            "pa.date32()), after checking the times are midnight in the intended time zone); "
        )
    return ""


def conform(name: str, table: pa.Table, file: str | None = None) -> pa.Table:
    """`table` as table `name` of the canonical schema (the read rules above)."""
    if name not in schema.TABLES:
        raise BundleError(
            f"unknown table {name!r} (tables: {', '.join(schema.TABLES)})", table=name
        )
    target = schema.arrow_schema(name)
    if table.schema.equals(target):  # fast path: already canonical (metadata ignored)
        return table
    return _Plan.make(name, table.schema, file or f"table {name}").apply(table)


def conform_tables(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """All tables of schema.TABLES, conformed; absent ones empty; unknown names refused."""
    unknown = sorted(set(tables) - set(schema.TABLES))
    if unknown:
        raise BundleError(
            f"unknown table(s) {', '.join(unknown)} (tables: {', '.join(schema.TABLES)})"
        )
    return {
        name: conform(name, tables[name]) if name in tables else schema.empty_table(name)
        for name in schema.TABLES
    }


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
        raise BundleError(f"{path}: cannot write: {_reason(e)}", file=str(path)) from None
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
