"""A bundle table's columns made canonical (DATA.md "Bundle"; bundle.py's docstring has
the rules): a file's schema is checked once and a `Plan` of casts made, then each
piece of data read (a whole table, a Parquet row group, an IPC record batch) is
conformed by it, a bad value named by its row in the file. `conform` and
`conform_tables` apply the same rules to tables built in memory (a call's, Spark's)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from meanstest import schema
from meanstest.errors import BundleError
from meanstest.utf8 import check_utf8, first_bad_string

# what reading or conforming a table's data may raise, beside BundleError
READ_ERRORS = (pa.ArrowException, OSError, ValueError, TypeError, IndexError)


def first_line(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


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
class Plan:
    """How a file's columns become the canonical table: for each canonical column, the
    source column (None: absent optional column → nulls) and whether to cast.
    `rows_done` counts the rows it has conformed, so that batches applied in file order
    name a bad value by its row in the file."""

    name: str
    file: str
    sources: tuple[str | None, ...]
    rows_done: int = 0

    @classmethod
    def make(cls, name: str, found: pa.Schema, file: str) -> Plan:
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
            if not compatible(col.type, got):
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
                f"{field.type}: {where}{first_line(e)}",
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


def validate_ipc(data: pa.Table | pa.RecordBatch, file: Path, first_row: int) -> None:
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
                f"{file}: cannot read arrow data: column {column}: {first_line(said[2])}",
                file=str(file),
                column=column,
            ) from None
        raise


def _is_string(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_string(t.value_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def compatible(expected: pa.DataType, got: pa.DataType) -> bool:
    """Whether `got` holds the same values as `expected` in another encoding."""
    if got == expected or pa.types.is_null(got):
        return True
    if pa.types.is_dictionary(got) and not _is_string(got):
        return compatible(expected, got.value_type)
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
    return Plan.make(name, table.schema, file or f"table {name}").apply(table)


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
