"""DATA.md "Bundle": reading and writing bundle folders, and every BundleError."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from builders import EXAMPLE
from pyarrow import ipc
from test_validate import valid_bundle

from meanstest import schema
from meanstest.bundle import (
    conform,
    iter_table,
    read_bundle,
    read_table,
    write_bundle,
    write_table_atomic,
)
from meanstest.errors import BundleError, MeansTestError, mask_id


def canonical(tables):
    return {name: conform(name, t) for name, t in tables.items()}


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_round_trip(tmp_path, fmt):
    tables = valid_bundle()
    write_bundle(tables, tmp_path, format=fmt)
    assert sorted(os.listdir(tmp_path)) == sorted(f"{n}.{fmt}" for n in schema.TABLES)
    back = read_bundle(tmp_path)
    assert list(back) == list(schema.TABLES)
    for name, table in canonical(tables).items():
        assert back[name].schema == schema.arrow_schema(name)
        assert back[name].equals(table), name


def test_absent_tables_are_empty_with_the_canonical_schema(tmp_path):
    write_bundle({"households": valid_bundle()["households"]}, tmp_path)
    back = read_bundle(tmp_path)
    assert back["households"].num_rows == 3
    for name in schema.TABLES:
        assert back[name].schema == schema.arrow_schema(name)
    assert back["vehicle"].num_rows == 0


def test_absent_current_programs_becomes_nulls(tmp_path):
    hh = valid_bundle()["households"].drop_columns(["current_programs"])
    pq.write_table(hh, tmp_path / "households.parquet")
    back = read_bundle(tmp_path)["households"]
    assert back.schema == schema.arrow_schema("households")
    assert back["current_programs"].null_count == 3


def test_extra_columns_are_ignored(tmp_path):
    bank = valid_bundle()["bank"]
    bank = bank.append_column("audit_note", pa.array(["x"] * bank.num_rows))
    pq.write_table(bank, tmp_path / "bank.parquet")
    assert read_bundle(tmp_path)["bank"].column_names == schema.arrow_schema("bank").names


def test_other_encodings_of_the_same_values_are_accepted(tmp_path):
    persons = valid_bundle()["persons"]
    odd = pa.table(
        {
            "household_id": persons["household_id"].cast(pa.large_string()),
            "person_id": persons["person_id"].dictionary_encode(),
            "relation": persons["relation"],
            "birth_date": persons["birth_date"].cast(pa.date64()),
            "health": persons["health"].cast(pa.int64()),
            "student_level": persons["student_level"],
            "occupation": persons["occupation"],
            "refused_job_offers": persons["refused_job_offers"].cast(pa.uint16()),
            "tuition": persons["tuition"].cast(pa.int32()),
        }
    )
    ipc_path = tmp_path / "persons.arrow"
    with ipc.new_file(ipc_path, odd.schema) as w:
        w.write_table(odd)
    back = read_bundle(tmp_path)["persons"]
    assert back.schema == schema.arrow_schema("persons")
    assert back.equals(conform("persons", persons))


def _write_households_with(folder, column: str, values) -> None:
    """The valid bundle's households table, `column` replaced by `values`, in `folder`."""
    hh = valid_bundle()["households"]
    hh = hh.set_column(hh.schema.get_field_index(column), column, values)
    pq.write_table(hh, folder / "households.parquet")


@pytest.mark.parametrize(
    "programs",
    [
        pa.array([["medical_assistance"], [], None], pa.large_list(pa.string())),
        pa.array([["medical_assistance"], [], None], pa.list_(pa.large_string())),
        pa.array([[None], [], None], pa.list_(pa.null())),  # a writer's all-null entries
    ],
    ids=["large_list", "large_string_values", "null_values"],
)
def test_current_programs_in_other_list_encodings_is_accepted(tmp_path, programs):
    """DATA.md's list<string>, as another writer may type it (a sweep: only list<string>
    itself, and a column of nulls, were tried)."""
    _write_households_with(tmp_path, "current_programs", programs)
    back = read_bundle(tmp_path)["households"]["current_programs"]
    assert back.type == pa.list_(pa.string()) and back.to_pylist() == programs.to_pylist()


def test_current_programs_of_numbers_is_a_wrong_type(tmp_path):
    numbers = pa.array([[1], [], None], pa.list_(pa.int64()))
    _write_households_with(tmp_path, "current_programs", numbers)
    assert error_of(tmp_path).message.endswith(
        "column current_programs: expected list<item: string>, found list<element: int64>"
    )


def test_an_all_null_column_of_null_type_is_accepted(tmp_path):
    _write_households_with(tmp_path, "declared_vehicles", pa.nulls(3))
    assert read_bundle(tmp_path)["households"]["declared_vehicles"].null_count == 3


# ------------------------------------------------------------------ BundleErrors --


def error_of(path) -> BundleError:
    with pytest.raises(BundleError) as info:
        read_bundle(path)
    assert isinstance(info.value, MeansTestError)
    assert "Traceback" not in info.value.message
    return info.value


def test_not_a_folder(tmp_path):
    e = error_of(tmp_path / "nowhere")
    assert "bundle folder not found" in e.message
    (tmp_path / "file").write_text("x")
    assert "is a file" in error_of(tmp_path / "file").message


def test_missing_required_column_names_file_and_column(tmp_path):
    pq.write_table(valid_bundle()["persons"].drop_columns(["health"]), tmp_path / "persons.parquet")
    e = error_of(tmp_path)
    assert (
        e.message
        == f"{tmp_path / 'persons.parquet'}: missing required column health (table persons)"
    )
    assert e.attrs["column"] == "health"


@pytest.mark.parametrize("written", ["\ufeffhealth", "health ", "Health", "hea\u200blth"])
def test_a_missing_column_written_with_a_bom_spaces_or_case_is_hinted(tmp_path, written):
    """A blind test's ETL carried a CSV header's BOM into a column name, which prints as
    the canonical one: "missing required column" alone did not say why."""
    persons = valid_bundle()["persons"]
    persons = persons.rename_columns(
        [written if c == "health" else c for c in persons.column_names]
    )
    pq.write_table(persons, tmp_path / "persons.parquet")
    assert error_of(tmp_path).message == (
        f"{tmp_path / 'persons.parquet'}: missing required column health (table persons); "
        f"the file has {written!r}: name it 'health'"
    )


def test_an_invalid_arrow_column_is_named_not_numbered(tmp_path):
    """Arrow's validation names a column by its place ("Column 3: … date64[ms] … does not
    represent a whole number of days": a date with a time of day, as pandas may write);
    the message names it (a blind test)."""
    persons = valid_bundle()["persons"]
    at = persons.schema.get_field_index("birth_date")
    ms = persons["birth_date"].cast(pa.int32()).cast(pa.int64()).to_numpy() * 86_400_000
    with_time = pa.Array.from_buffers(pa.date64(), len(ms), [None, pa.py_buffer(ms + 3_600_000)])
    persons = persons.set_column(at, "birth_date", with_time)
    with ipc.new_file(tmp_path / "persons.arrow", persons.schema) as w:
        w.write_table(persons)
    e = error_of(tmp_path)
    assert e.message.startswith(
        f"{tmp_path / 'persons.arrow'}: cannot read arrow data: column birth_date: "
    ), e.message
    assert "does not represent a whole number of days" in e.message


def test_wrong_type_names_file_column_expected_and_found(tmp_path):
    bank = valid_bundle()["bank"]
    bank = bank.set_column(
        bank.schema.get_field_index("balance"), "balance", bank["balance"].cast(pa.float64())
    )
    pq.write_table(bank, tmp_path / "bank.parquet")
    e = error_of(tmp_path)
    assert e.message == f"{tmp_path / 'bank.parquet'}: column balance: expected int64, found double"
    assert (e.attrs["expected"], e.attrs["found"]) == ("int64", "double")


@pytest.mark.parametrize(
    "column,array,found",
    [
        (
            "birth_date",
            pa.array([dt.datetime(1960, 1, 1)] * 6, pa.timestamp("ms")),
            "timestamp[ms]",
        ),
        ("health", pa.array(["1"] * 6), "string"),
        ("birth_date", pa.array(["1960-01-01"] * 6), "string"),
        ("person_id", pa.array([1] * 6), "int64"),
    ],
)
def test_other_wrong_types(tmp_path, column, array, found):
    persons = valid_bundle()["persons"]
    persons = persons.set_column(persons.schema.get_field_index(column), column, array)
    pq.write_table(persons, tmp_path / "persons.parquet")
    message = error_of(tmp_path).message
    assert message.endswith(
        f"column {column}: expected "
        f"{schema.arrow_schema('persons').field(column).type}"
        f", found {found}"
    )
    # the timestamps' hint before it, for a date column only (a sweep: its absence untested)
    assert ("holds timestamps, not dates" in message) is found.startswith("timestamp")


def test_integer_overflow_is_an_error_not_a_wraparound(tmp_path):
    persons = valid_bundle()["persons"]
    persons = persons.set_column(
        persons.schema.get_field_index("health"), "health", pa.array([1, 2, 300, 1, 1, 1])
    )
    pq.write_table(persons, tmp_path / "persons.parquet")
    e = error_of(tmp_path)
    third = persons.slice(2, 1).to_pylist()[0]
    assert (
        "column health: cannot convert int64 to int8: row 3 (household "
        f"{third['household_id']}, person {mask_id(third['person_id'])}) holds 300, beyond int8"
    ) in e.message


def test_the_row_named_beyond_its_type_is_the_first_outside_not_one_at_its_end(tmp_path):
    """int32's own ends fit; the error names the first row beyond them (a sweep: a
    value exactly at the end was untested)."""
    values = pa.array([2**31 - 1, -(2**31), 2**31], pa.int64())
    _write_households_with(tmp_path, "declared_vehicles", values)
    message = error_of(tmp_path).message
    assert "cannot convert int64 to int32: row 3 (household" in message
    assert "holds 2147483648, beyond int32" in message
    assert "holds timestamps" not in message  # the hint is for dates only


def test_duplicate_column_is_an_error(tmp_path):
    bank = valid_bundle()["bank"]
    bank = bank.append_column("balance", bank["balance"])
    pq.write_table(bank, tmp_path / "bank.parquet")
    assert "column balance appears more than once" in error_of(tmp_path).message


def test_truncated_parquet(tmp_path):
    pq.write_table(valid_bundle()["bank"], tmp_path / "bank.parquet")
    data = (tmp_path / "bank.parquet").read_bytes()
    (tmp_path / "bank.parquet").write_bytes(data[: len(data) // 2])
    e = error_of(tmp_path)
    assert e.message.startswith(f"{tmp_path / 'bank.parquet'}: cannot read Parquet file: ")


def test_corrupt_parquet_data_pages(tmp_path):
    path = tmp_path / "bank.parquet"
    pq.write_table(valid_bundle(50)["bank"], path, compression="snappy")
    data = bytearray(path.read_bytes())
    for i in range(8, len(data) // 2):  # keep the magic and the footer, break the pages
        data[i] = 0xFF
    path.write_bytes(bytes(data))
    e = error_of(tmp_path)
    assert e.message.startswith(f"{path}: cannot read")


def test_empty_file(tmp_path):
    (tmp_path / "households.parquet").write_bytes(b"")
    assert error_of(tmp_path).message == f"{tmp_path / 'households.parquet'}: empty file (0 bytes)"


def test_garbage_arrow_file(tmp_path):
    (tmp_path / "vehicle.arrow").write_bytes(b"this is not arrow at all")
    assert error_of(tmp_path).message.startswith(
        f"{tmp_path / 'vehicle.arrow'}: cannot read Arrow IPC file: "
    )


def test_ipc_stream_format_is_named(tmp_path):
    table = valid_bundle()["vehicle"]
    with ipc.new_stream(tmp_path / "vehicle.arrow", table.schema) as w:
        w.write_table(table)
    assert "this is the IPC stream format" in error_of(tmp_path).message


def test_both_formats_of_one_table(tmp_path):
    table = valid_bundle()["bank"]
    pq.write_table(table, tmp_path / "bank.parquet")
    with ipc.new_file(tmp_path / "bank.arrow", table.schema) as w:
        w.write_table(table)
    e = error_of(tmp_path)
    assert "table bank is in the bundle twice (bank.parquet and bank.arrow)" in e.message


def test_read_table_of_an_unknown_table(tmp_path):
    pq.write_table(valid_bundle()["bank"], tmp_path / "bank.parquet")
    with pytest.raises(BundleError, match="unknown table 'banks'"):
        read_table(tmp_path / "bank.parquet", "banks")


def test_conform_refuses_unknown_tables():
    with pytest.raises(BundleError, match="unknown table 'household'"):
        conform("household", valid_bundle()["households"])


def test_conform_names_the_file_it_is_given_else_the_table():
    """A table built in memory (a call's, Spark's) is named as such; one read from a
    file by the file (a sweep: neither message was checked)."""
    persons = valid_bundle()["persons"]
    bad = persons.set_column(
        persons.schema.get_field_index("health"), "health", pa.array(["1"] * 6)
    )
    with pytest.raises(BundleError, match=r"^table persons: column health: expected int8"):
        conform("persons", bad)
    with pytest.raises(BundleError, match=r"^p\.parquet: column health: expected int8"):
        conform("persons", bad, "p.parquet")


# ------------------------------------------------------------------------ writing --


def test_write_table_atomic_leaves_no_temporary_file(tmp_path):
    table = valid_bundle()["tax_income"]
    write_table_atomic(table, tmp_path / "out.parquet")
    write_table_atomic(table, tmp_path / "out.arrow")
    assert sorted(os.listdir(tmp_path)) == ["out.arrow", "out.parquet"]
    assert pq.read_table(tmp_path / "out.parquet").equals(table)
    assert ipc.open_file(tmp_path / "out.arrow").read_all().equals(table)


def test_write_table_atomic_replaces_an_old_file(tmp_path):
    path = tmp_path / "rejects.parquet"
    path.write_bytes(b"old")
    table = pa.table({"x": [1, 2]})
    write_table_atomic(table, path)
    assert pq.read_table(path).equals(table)


def test_write_table_atomic_refuses_other_suffixes(tmp_path):
    with pytest.raises(BundleError, match="write as .parquet or .arrow"):
        write_table_atomic(pa.table({"x": [1]}), tmp_path / "out.csv")


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch):
    path = tmp_path / "bank.parquet"
    write_table_atomic(valid_bundle()["bank"], path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(BundleError, match="cannot write: disk full"):
        write_table_atomic(valid_bundle()["bank"], path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["bank.parquet"]


def test_leftover_temporary_files_are_ignored(tmp_path):
    write_bundle(valid_bundle(), tmp_path)
    (tmp_path / "bank.parquet.tmp").write_bytes(b"half a file")
    assert read_bundle(tmp_path)["bank"].num_rows == 3


def test_write_bundle_switching_format_removes_the_old_file(tmp_path):
    write_bundle(valid_bundle(), tmp_path, format="arrow")
    write_bundle(valid_bundle(), tmp_path, format="parquet")
    assert not any(n.endswith(".arrow") for n in os.listdir(tmp_path))
    assert read_bundle(tmp_path)["persons"].num_rows == 6


def test_write_bundle_refuses_unknown_formats_and_tables(tmp_path):
    with pytest.raises(BundleError, match="unknown bundle format 'csv'"):
        write_bundle(valid_bundle(), tmp_path, format="csv")
    with pytest.raises(BundleError, match="unknown table 'banks'"):
        write_bundle({"banks": valid_bundle()["bank"]}, tmp_path)


def test_write_bundle_conforms_tables(tmp_path):
    persons = valid_bundle()["persons"]
    persons = persons.set_column(
        persons.schema.get_field_index("health"), "health", persons["health"].cast(pa.int64())
    )
    write_bundle({"persons": persons}, tmp_path)
    assert pq.read_schema(tmp_path / "persons.parquet").field("health").type == pa.int8()


def test_the_example_bundle_reads():
    tables = read_bundle(EXAMPLE / "bundle")
    assert tables["households"].num_rows == 600
    assert all(tables[n].schema == schema.arrow_schema(n) for n in schema.TABLES)


@pytest.mark.parametrize("suffix", ["parquet", "arrow"])
def test_iter_table_reads_row_group_by_row_group(tmp_path, suffix):
    persons = valid_bundle(40)["persons"]
    odd = persons.set_column(
        persons.schema.get_field_index("health"), "health", persons["health"].cast(pa.int64())
    )
    path = tmp_path / f"persons.{suffix}"
    if suffix == "parquet":
        pq.write_table(odd, path, row_group_size=25)
    else:
        with ipc.new_file(path, odd.schema) as w:
            for batch in odd.to_batches(max_chunksize=25):
                w.write_batch(batch)
    parts = list(iter_table(path, "persons"))
    assert [p.num_rows for p in parts] == [25, 25, 25, 5]
    assert all(p.schema == schema.arrow_schema("persons") for p in parts)
    assert pa.concat_tables(parts).equals(read_table(path, "persons"))
    assert read_table(path, "persons").equals(conform("persons", persons))


# --------------------------------------------------------------- not UTF-8 --
# Arrow and Parquet promise UTF-8 strings; a file breaking it is corrupt: a BundleError
# naming file, table, column and first bad row (docs/decisions.md, issue 12), never a
# UnicodeDecodeError from whoever reads the value first.


def _not_utf8(column: pa.ChunkedArray, row: int, bad: bytes = b"\xff") -> pa.Array:
    """`column` with the first byte(s) of row `row` replaced by bytes that are not UTF-8."""
    arr = column.combine_chunks()
    offsets = arr.buffers()[1]
    start = int.from_bytes(offsets.to_pybytes()[4 * (arr.offset + row) :][:4], "little")
    data = bytearray(arr.buffers()[2].to_pybytes())
    data[start : start + len(bad)] = bad
    return pa.Array.from_buffers(
        arr.type,
        len(arr),
        [arr.buffers()[0], offsets, pa.py_buffer(bytes(data))],
        arr.null_count,
        arr.offset,
    )


def _write(table: pa.Table, path, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path)
    else:
        with ipc.new_file(str(path), table.schema) as writer:
            writer.write_table(table)


NOT_UTF8 = [
    ("persons", "person_id", 1),
    ("supporters", "supporter_id", 2),
    ("households", "household_id", 2),
    ("bank", "record_id", 0),
    ("persons", "relation", 3),  # an enumeration
    ("social_insurance", "scheme", 1),
    ("vehicle", "plate", 2),  # not ASCII to begin with (蒙D…)
]


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
@pytest.mark.parametrize("table,column,row", NOT_UTF8)
def test_a_string_that_is_not_utf8_is_a_bundle_error(tmp_path, fmt, table, column, row):
    from meanstest import pipeline

    tables = valid_bundle()
    t = tables[table]
    for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80"):  # overlong, surrogate…
        col = _not_utf8(t[column], row, bad)
        broken = t.set_column(t.schema.get_field_index(column), column, col)
        write_bundle(tables, tmp_path, format=fmt)
        _write(broken, tmp_path / f"{table}.{fmt}", fmt)
        expect = f"table {table}, column {column}: row {row + 1} is not valid UTF-8"
        with pytest.raises(BundleError, match=expect) as e:
            read_bundle(tmp_path)
        assert f"{table}.{fmt}" in str(e.value)
        with pytest.raises(BundleError, match=expect):
            pipeline.assess(tmp_path)


def test_not_utf8_in_a_list_column_names_the_row(tmp_path):
    tables = valid_bundle()
    hh = tables["households"]
    values = _not_utf8(pa.chunked_array([pa.array(["ok", "x", "y"])]), 2)
    lists = pa.ListArray.from_arrays(pa.array([0, 1, 1, 3], pa.int32()), values)
    hh = hh.set_column(hh.schema.get_field_index("current_programs"), "current_programs", lists)
    pq.write_table(hh, tmp_path / "households.parquet")
    with pytest.raises(BundleError, match="column current_programs: row 3 is not valid UTF-8"):
        read_bundle(tmp_path)


def test_not_utf8_rows_are_counted_across_batches(tmp_path):
    persons = valid_bundle(40)["persons"]
    col = _not_utf8(persons["person_id"], 57)
    broken = persons.set_column(1, "person_id", col)
    pq.write_table(broken, tmp_path / "persons.parquet", row_group_size=10)
    with pytest.raises(BundleError, match="row 58 is not valid UTF-8"):
        list(iter_table(tmp_path / "persons.parquet", "persons"))
    with pytest.raises(BundleError, match="row 58 is not valid UTF-8"):
        read_table(tmp_path / "persons.parquet", "persons")


def test_valid_utf8_beyond_ascii_reads(tmp_path):
    tables = valid_bundle()
    bank = tables["bank"]
    names = pa.array(["中国工商银行", "农行😀", "É"])
    tables["bank"] = bank.set_column(
        bank.schema.get_field_index("institution"), "institution", names
    )
    write_bundle(tables, tmp_path)
    assert read_bundle(tmp_path)["bank"]["institution"].to_pylist() == names.to_pylist()


def test_utf8_kernel_agrees_with_python_on_random_bytes():
    import numpy as np
    from meanstest.kernels.columns import first_bad_utf8

    rng = np.random.default_rng(7)
    pieces = [
        b"a",
        b"\xc3\xa9",
        b"\xe4\xb8\xad",
        b"\xf0\x9f\x98\x80",
        b"\xff",
        b"\x80",
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xe2\x82",
        b"\xf0\x9f",
    ]
    for _ in range(3000):
        value = b"".join(pieces[i] for i in rng.integers(0, len(pieces), rng.integers(0, 4)))
        try:
            value.decode("utf-8")
            ok = True
        except UnicodeDecodeError:
            ok = False
        offsets = np.array([0, len(value)], np.int64)
        data = np.frombuffer(value or b"\0", np.uint8)
        row = first_bad_utf8(offsets, data, np.ones(1, np.bool_))
        assert (row == -1) == ok, value


def test_a_value_beyond_its_type_is_named_by_its_row_in_the_file_when_streamed(tmp_path):
    """Row groups are conformed one at a time (iter_table): the row named is the file's."""
    from meanstest.bundle import iter_table

    persons = valid_bundle()["persons"]
    health = pa.array([1, 2, 3, 1, 2**40, 1], pa.int64())
    persons = persons.set_column(persons.schema.get_field_index("health"), "health", health)
    pq.write_table(persons, tmp_path / "persons.parquet", row_group_size=2)
    with pytest.raises(
        BundleError, match=r"row 5 \(household .*\) holds 1099511627776, beyond int8"
    ):
        list(iter_table(tmp_path / "persons.parquet", "persons"))
