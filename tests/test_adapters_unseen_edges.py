"""Edges of one raw export a grader might write (the companion of
tests/test_adapters_unseen.py, whose profiles it reuses): empty and header-only files,
the wrong encoding or delimiter, Parquet columns of every money kind, lists, binary text
and types with no text form, integers written "2.0", profiles saved with a BOM, and
manifest errors that name the file. Each is a clear result or a clear error, never a
traceback, and the counts add up.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from meanstest.adapters import readers
from meanstest.adapters.profile import ProfileError
from meanstest.adapters.raw import ExportError
from test_adapters_unseen import (
    BANK,
    HEAD,
    PROPERTY,
    SUPPORTER,
    SUPPORTERS,
    TAX_CSV,
    TAX_JSONL,
)

from meanstest.bundle import read_bundle
from meanstest.cli import main
from meanstest.ingest import ingest

# ------------------------------------------------------------ edges of a file --


def _one(tmp_path, profile: str, name: str, data: bytes):
    (tmp_path / "p.toml").write_text(profile, "utf-8")
    (tmp_path / name).write_bytes(data)
    (tmp_path / "m.toml").write_text(f'[[source]]\nprofile = "p.toml"\nfiles = ["{name}"]\n')
    return tmp_path / "m.toml"


@pytest.mark.parametrize("newline", ["", "\n", "\r\n"])
def test_a_header_only_csv_has_no_rows_with_or_without_a_final_newline(tmp_path, newline):
    header = "纳税人识别号;所得项目;收入额（元）" + newline
    m = _one(tmp_path, TAX_CSV, "t.csv", header.encode("gb18030"))
    doc = ingest(m, tmp_path / "out")
    assert doc["files"][0]["rows_read"] == 0 and doc["accounting_closes"]
    assert read_bundle(tmp_path / "out")["tax_income"].num_rows == 0


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n"])
def test_an_empty_csv_is_an_error_naming_the_file_not_a_missing_column(tmp_path, data, capsys):
    """A CSV export without rows still has its header; an empty file is more likely a
    failed export, and taking it as 'no rows' would also make the department count as
    checked for every household (docs/decisions.md)."""
    m = _one(tmp_path, TAX_CSV.replace("gb18030", "utf-8"), "t.csv", data)
    with pytest.raises(ExportError, match=r"t\.csv: no header line"):
        ingest(m, tmp_path / "out")
    assert main(["ingest", str(m), "--out", str(tmp_path / "out")]) == 1
    assert "no header line" in capsys.readouterr().err


@pytest.mark.parametrize("data", [b"", b"\n\n", b"\r\n"])
def test_an_empty_jsonl_file_has_no_rows(tmp_path, data):
    """JSON Lines has no header: a department that found nothing writes no line (as
    pandas' to_json(lines=True) of no rows does), so a file with no line that is not
    blank is a file with no rows, and its department counts as checked (DATA.md)."""
    doc = ingest(_one(tmp_path, TAX_JSONL, "t.jsonl", data), tmp_path / "out")
    [f] = doc["files"]
    assert (f["rows_read"], f["rows_quarantined"], doc["accounting_closes"]) == (0, 0, True)
    bundle = read_bundle(tmp_path / "out")
    assert bundle["tax_income"].num_rows == 0


def test_a_jsonl_file_whose_lines_are_no_objects_is_an_error(tmp_path):
    """Lines, but not one of them a JSON object (another format): not a department with
    no records. (Another encoding is named as such: the reader's tests.)"""
    with pytest.raises(ProfileError, match=r"t\.jsonl: no key .*no line of its first"):
        ingest(_one(tmp_path, TAX_JSONL, "t.jsonl", b'42\n[]\n"a"\n'), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_nullable_key_in_no_jsonl_line_is_empty_and_a_required_one_an_error(
    tmp_path, monkeypatch
):
    """Writers that leave out null values leave out a nullable column's key in every line
    when no row has a value: the cells are empty (null), and ingest.json says which key it
    never saw. A required column's key in no line stays an error (a misnamed key)."""
    profile = PROPERTY.replace('format = "csv"\nencoding = "utf-8"', 'format = "jsonl"')
    row = {"权利人证件号": HEAD, "不动产权证号": "P1", "用途": "住宅", "面积（㎡）": "85.5",
           "份额（‰）": 1000, "登记日期": "20190301", "取得方式": "购买", "年租金（元）": "0"}  # fmt: skip
    data = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    doc = ingest(_one(tmp_path, profile, "p.jsonl", data), tmp_path / "out")
    assert doc["files"][0]["keys_in_no_line"] == ["注销日期"]
    [got] = read_bundle(tmp_path / "out")["property"].to_pylist()
    assert got["disposed_on"] is None and got["property_id"] == "P1"
    # the key first in a line after the first batch: in the bundle, and not listed (a
    # blind test: 66,000 blank lines before it, and ingest.json said no line had it)
    later = dict(row, 注销日期="20230101")
    monkeypatch.setattr(readers, "JSONL_LINES", 4)
    lines = [json.dumps(row, ensure_ascii=False)] * 5 + [json.dumps(later, ensure_ascii=False)]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    doc = ingest(_one(tmp_path, profile, "p.jsonl", data), tmp_path / "late")
    assert "keys_in_no_line" not in doc["files"][0]
    disposed = read_bundle(tmp_path / "late")["property"]["disposed_on"].to_pylist()
    assert disposed == [None] * 5 + [dt.date(2023, 1, 1)]
    del row["用途"]
    data = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    with pytest.raises(ProfileError, match="no key '用途' in its first 4 lines"):
        ingest(_one(tmp_path, profile, "p.jsonl", data), tmp_path / "out2")
    # a required key only after the lines looked at: the message says which lines
    # (a blind test read "no column … in the export" and found it with grep)
    data = "\n".join(
        [json.dumps(row, ensure_ascii=False)] * 4 + [json.dumps(later, ensure_ascii=False)]
    )
    with pytest.raises(ProfileError, match="no key '用途' in its first 4 lines"):
        ingest(_one(tmp_path, profile, "p.jsonl", data.encode("utf-8")), tmp_path / "out3")


def test_a_file_in_the_wrong_encoding_names_the_first_bad_line(tmp_path):
    rows = ["纳税人识别号;所得项目;收入额（元）", f"{HEAD};工资薪金;1", f"{HEAD};工资薪金;2"]
    data = ("\n".join(rows[:2]) + "\n").encode("utf-8") + ("\n".join(rows[2:]) + "\n").encode(
        "gb18030"
    )
    m = _one(tmp_path, TAX_CSV.replace("gb18030", "utf-8"), "t.csv", data)
    with pytest.raises(ExportError, match=r"t\.csv: not utf-8 text at line 3 .*encoding"):
        ingest(m, tmp_path / "out")
    m = _one(tmp_path, TAX_CSV.replace("gb18030", "utf-8"), "t.csv", rows[0].encode("gb18030"))
    with pytest.raises(ExportError, match="at line 1"):
        ingest(m, tmp_path / "out")
    # blank lines before it count (a sweep: a line that is a bare line feed was untested)
    data = ("\n".join(rows[:2]) + "\n\n\n").encode("utf-8") + rows[2].encode("gb18030") + b"\n"
    m = _one(tmp_path, TAX_CSV.replace("gb18030", "utf-8"), "t.csv", data)
    with pytest.raises(ExportError, match=r"not utf-8 text at line 5 "):
        ingest(m, tmp_path / "out")


@pytest.mark.parametrize(
    "tail",
    [
        "纳税人识别号;所得".encode()[:-1],  # the file ends inside a character, two fields
        b"x;\xff\n" + f"{HEAD};工资薪金;3\n".encode(),  # not UTF-8 and two fields, mid-file
    ],
)
# pyarrow's decoding error in its own handler call must not reach Python's unraisable hook
# (it would print "Exception ignored … Traceback" above the error): here, a failure
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_record_of_the_wrong_width_that_is_not_text_names_the_encoding(tmp_path, tail, capsys):
    """pyarrow decodes a record of the wrong number of fields before handing it to the
    reader's handler; when it does not decode, pyarrow stops with "Expected 3 columns".
    The error is the file's encoding, at its line (found by fuzzing), and `ingest`, the
    library call, prints nothing before it."""
    head = f"纳税人识别号;所得项目;收入额（元）\n{HEAD};工资薪金;1\n".encode()
    m = _one(tmp_path, TAX_CSV.replace("gb18030", "utf-8"), "t.csv", head + tail)
    with pytest.raises(ExportError, match=r"t\.csv: not utf-8 text at line 3 .*encoding"):
        ingest(m, tmp_path / "out")
    assert main(["ingest", str(m), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "not utf-8 text at line 3" in err and "Expected 3 columns" not in err


def test_meanstest_ingest_prints_the_encoding_error_without_pyarrow_s_traceback(tmp_path):
    """The same file through the command in a process of its own: the encoding error,
    without the "Exception ignored" traceback of pyarrow's handler call above it."""
    head = f"纳税人识别号;所得项目;收入额（元）\n{HEAD};工资薪金;1\n".encode()
    m = _one(tmp_path, TAX_CSV.replace("gb18030", "utf-8"), "t.csv", head + "纳税".encode()[:-1])
    done = subprocess.run(
        [sys.executable, "-m", "meanstest.cli", "ingest", str(m), "--out", str(tmp_path / "o")],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "not utf-8 text at line 3" in done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------- Parquet --

CASE_PARQUET = """
[profile]
table = "households"
format = "parquet"
[columns]
household_id = "hid"
jurisdiction = "j"
area = "area"
assessment_date = "d"
consent_signed = "c"
prev_status = "ps"
prev_benefit = "pb"
current_programs = "cp"
[values.current_programs]
"医疗救助" = "medical_assistance"
"""


def _parquet(**columns) -> bytes:
    base = {"hid": ["H1", "H2", "H3"], "j": ["150422"] * 3, "area": ["rural"] * 3,
            "d": pa.array([dt.date(2024, 7, 1)] * 3), "c": [True, False, True],
            "ps": ["none"] * 3, "pb": pa.array([0, 100, 5], pa.int64()),
            "cp": pa.array([["医疗救助", " elderly_subsidy "], [], None], pa.list_(pa.string()))}  # fmt: skip
    base.update(columns)
    buf = io.BytesIO()
    pq.write_table(pa.table(base), buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    "list_type",
    [pa.list_(pa.string()), pa.large_list(pa.large_string()), pa.list_(pa.binary())],
)
def test_parquet_current_programs_as_a_list_of_strings(tmp_path, list_type):
    """current_programs is list<string> in a bundle; a Parquet export may well give it so
    (each name trimmed and through the value map; an empty list is [], null is null), or
    as a list of binary UTF-8 (a blind test: its names were read as "b'…'")."""
    names = [["医疗救助", " elderly_subsidy "], [], None]
    if pa.types.is_binary(list_type.value_type):
        names = [None if n is None else [x.encode() for x in n] for n in names]
    cp = pa.array(names, list_type)
    ingest(_one(tmp_path, CASE_PARQUET, "h.parquet", _parquet(cp=cp)), tmp_path / "out")
    got = read_bundle(tmp_path / "out")["households"].column("current_programs").to_pylist()
    assert got == [["medical_assistance", "elderly_subsidy"], [], None]


def test_jsonl_current_programs_empty_arrays_are_no_program_and_null_is_null(tmp_path):
    """A JSON array in current_programs' key is a list: [] (or only empty or null names)
    is the empty list, not null, as a Parquet list's [] is; a null or a missing key is
    null. The two have different input digests (an independent reading of DATA.md
    keeps [] as []; this reader joined it into an empty cell, which is null)."""
    profile = CASE_PARQUET.replace('format = "parquet"', 'format = "jsonl"')
    base = {"j": "150422", "area": "rural", "d": "2024-07-01", "c": "true", "ps": "none",
            "pb": 0}  # fmt: skip
    cps = [["医疗救助", " elderly_subsidy "], [], [None, " "], ["", ""], None, "absent",
           [[], "医疗救助"], [[[[[[]]]]]]]  # fmt: skip
    lines = []
    for i, cp in enumerate(cps):
        row = {"hid": f"H{i}", **base}
        if cp != "absent":
            row["cp"] = cp
        lines.append(json.dumps(row, ensure_ascii=False))
    data = ("\n".join(lines) + "\n").encode()
    ingest(_one(tmp_path, profile, "h.jsonl", data), tmp_path / "out")
    got = read_bundle(tmp_path / "out")["households"].column("current_programs").to_pylist()
    assert got == [["medical_assistance", "elderly_subsidy"], [], [], [], None, None,
                   ["medical_assistance"], []]  # fmt: skip
    # whatever the list separator, a space too (a review: " " trimmed [] to null)
    spaced = profile.replace("[columns]", 'list_separator = " "\n[columns]', 1)
    assert 'list_separator = " "' in spaced
    ingest(_one(tmp_path, spaced, "h.jsonl", data), tmp_path / "spaced")
    got = read_bundle(tmp_path / "spaced")["households"].column("current_programs").to_pylist()
    assert got == [["medical_assistance", "elderly_subsidy"], [], [], [], None, None,
                   ["medical_assistance"], []]  # fmt: skip
    # hundreds of nested arrays: no crash; the text is no program name the pack has
    deep = json.dumps({"hid": "HD", **base, "cp": json.loads("[" * 700 + "]" * 700)})
    ingest(_one(tmp_path, profile, "h.jsonl", (deep + "\n").encode()), tmp_path / "deep")
    [cp] = read_bundle(tmp_path / "deep")["households"].column("current_programs").to_pylist()
    assert cp is not None and "\x00" not in "".join(cp)


@pytest.mark.parametrize(
    "j, type_name",
    [
        (pa.array([{"code": 150422}] * 3), "struct"),
        # a list is read only in current_programs, the one list column (a sweep: untested)
        (pa.array([["150422"]] * 3, pa.list_(pa.string())), "list<element: string>"),
    ],
)
def test_parquet_column_without_a_text_form_is_an_error_naming_file_and_column(
    tmp_path, capsys, j, type_name
):
    m = _one(tmp_path, CASE_PARQUET, "h.parquet", _parquet(j=j))
    with pytest.raises(ExportError, match=r"h\.parquet: column 'j' \(jurisdiction\) is of"):
        ingest(m, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # before any row
    assert main(["ingest", str(m), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"is of Parquet type {type_name}" in err and "list of strings" not in err
    # current_programs may also be a list of strings, and its error says so
    m = _one(tmp_path, CASE_PARQUET, "h.parquet", _parquet(cp=pa.array([{"a": 1}] * 3)))
    with pytest.raises(ExportError, match=r"a date or a timestamp \(or a list of strings\)"):
        ingest(m, tmp_path / "out")


def test_parquet_nulls_in_a_nullable_typed_column_are_null_not_quarantined(tmp_path):
    """declared_income_monthly is nullable: a Parquet int64 column of it with nulls maps
    them to null (undeclared), and only a required column's null is quarantined (a
    sweep: the typed path's nullable case was untested)."""
    profile = CASE_PARQUET.replace(
        'current_programs = "cp"', 'current_programs = "cp"\ndeclared_income_monthly = "dim"'
    )
    data = _parquet(dim=pa.array([None, 5000, None], pa.int64()))
    doc = ingest(_one(tmp_path, profile, "h.parquet", data), tmp_path / "out")
    assert doc["files"][0]["rows_quarantined"] == 0
    got = read_bundle(tmp_path / "out")["households"]["declared_income_monthly"].to_pylist()
    assert got == [None, 5000, None]


def test_parquet_integer_codes_of_a_boolean_and_a_date_are_read_as_their_text(tmp_path):
    """A database's 0/1 flags and 20240701 dates: integer columns read as their text,
    through the value map and the date formats; a null in a required column is
    quarantined (a sweep: the text of a non-text column with nulls was untested)."""
    profile = CASE_PARQUET + '[values.consent_signed]\n"1" = true\n"0" = false\n'
    profile += '[dates]\nassessment_date = ["%Y%m%d"]\n'
    data = _parquet(c=pa.array([1, 0, None], pa.int64()), d=pa.array([20240701, None, 20240702]))
    ingest(_one(tmp_path, profile, "h.parquet", data), tmp_path / "out")
    got = read_bundle(tmp_path / "out")["households"].to_pylist()
    assert [(r["consent_signed"], r["assessment_date"]) for r in got] == [
        (True, dt.date(2024, 7, 1))
    ]
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(r["line"], r["column"], r["reason"]) for r in q] == [
        (2, "assessment_date", "empty_required"), (3, "consent_signed", "empty_required")]  # fmt: skip


def test_parquet_column_twice_is_an_error_naming_file_and_column(tmp_path, capsys):
    """A Parquet schema may hold a name twice (Arrow writes it); a mapped one is an error
    like a CSV header's, not a KeyError (found by an adversarial ingest run)."""
    table = pa.Table.from_arrays(
        [pa.array(["H1"]), pa.array(["150422"]), pa.array(["H2"])], names=["hid", "j", "hid"]
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    m = _one(tmp_path, CASE_PARQUET, "h.parquet", buf.getvalue())
    with pytest.raises(ExportError, match=r"h\.parquet: column 'hid' appears twice"):
        ingest(m, tmp_path / "out")
    assert main(["ingest", str(m), "--out", str(tmp_path / "out")]) == 1
    assert "column 'hid' appears twice in the file's schema" in capsys.readouterr().err


@pytest.mark.parametrize("float_type", [pa.float64(), pa.float32()])
def test_parquet_float_id_numbers_are_refused(tmp_path, float_type):
    """pandas writes an all-digit ID column with a missing cell as float64, which keeps
    ~16 of the 18 digits: 150422198112201798 reads back as 150422198112201800, itself a
    valid ID of nobody. Such a column is refused at opening, naming file and column."""
    ids = pa.array([150422198112201798.0, None, 150422198112201798.0], float_type)
    table = pa.table({"证件号码": ids, "机构": ["行"] * 3, "产品": ["活期"] * 3,
                      "余额": [1.0, 2.0, 3.0], "利息": [0.0, 0.0, 0.0]})  # fmt: skip
    buf = io.BytesIO()
    pq.write_table(table, buf)
    m = _one(tmp_path, BANK, "b.parquet", buf.getvalue())
    with pytest.raises(
        ExportError,
        match=r"b\.parquet: column '证件号码' \(person_id\) is of Parquet type (double|float): a float",
    ):
        ingest(m, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # before any row


def test_parquet_float_keys_are_refused(tmp_path):
    """A household or department number in a float64 column: 20240100000000001 and
    …002 are one float, and were two keys (of two households, or two records) made one
    (a blind test: the bank's keys came out as "2.02401e+16" twice, warned of as an
    export sent again). The file is refused at opening, naming file and columns."""
    numbers = pa.array([20240100000000001.0, 20240100000000002.0, 3.0], pa.float64())
    bank = pa.table({"证件号码": ["150422198112201798"] * 3, "机构": ["行"] * 3,
                     "产品": ["活期"] * 3, "余额": [1.0, 2.0, 3.0], "利息": [0.0] * 3,
                     "流水号": numbers})  # fmt: skip
    buf = io.BytesIO()
    pq.write_table(bank, buf)
    keyed = BANK.replace("[columns]\n", '[columns]\nrecord_id = "流水号"\n')
    cases = [
        (CASE_PARQUET, "h.parquet", _parquet(hid=numbers), "hid", "household_id"),
        (keyed, "b.parquet", buf.getvalue(), "流水号", "record_id"),
    ]
    for k, (profile, name, data, column, canonical) in enumerate(cases):
        (tmp_path / str(k)).mkdir()
        m = _one(tmp_path / str(k), profile, name, data)
        with pytest.raises(
            ExportError,
            match=rf"{name[0]}\.parquet: column '{column}' \({canonical}\) is of Parquet "
            r"type double: a float holds about 16 digits, so an 18-digit household or "
            r"record number in it has lost its last digits",
        ):
            ingest(m, tmp_path / str(k) / "out")
        assert not (tmp_path / str(k) / "out").exists()  # before any row


def test_parquet_binary_text_is_read_and_bad_utf8_names_the_row(tmp_path):
    hid = pa.array([b"H1", b"H2", b"H3"], pa.binary())
    ingest(_one(tmp_path, CASE_PARQUET, "h.parquet", _parquet(hid=hid)), tmp_path / "out")
    assert read_bundle(tmp_path / "out")["households"].num_rows == 3
    hid = pa.array([b"H1", b"\xff", b"H3"], pa.binary())
    m = _one(tmp_path, CASE_PARQUET, "h.parquet", _parquet(hid=hid))
    with pytest.raises(ExportError, match=r"h\.parquet: row 2, column 'hid'.*not UTF-8"):
        ingest(m, tmp_path / "out2")
    hid = pa.array([b"\xff", b"H2", b"H3"], pa.binary())  # the first row is row 1
    m = _one(tmp_path, CASE_PARQUET, "h.parquet", _parquet(hid=hid))
    with pytest.raises(ExportError, match=r"h\.parquet: row 1, column 'hid'.*not UTF-8") as e:
        ingest(m, tmp_path / "out3")
    assert e.value.attrs["line"] == 1  # for a caller that reads the error's fields


def _not_utf8(values: list[bytes], large: bool = False) -> pa.Array:
    """A string column holding bytes that are not UTF-8 (as a corrupt file would)."""
    if large:
        return pa.array(values, pa.large_binary()).view(pa.large_string())
    return pa.array(values, pa.binary()).view(pa.string())


_INDICES = pa.array([0, 1, 0], pa.int32())
_LIST_OFFSETS = pa.array([0, 1, 2, 2], pa.int32())


@pytest.mark.parametrize(
    "column",
    [
        ("hid", _not_utf8([b"H1", b"H\xc9(", b"H3"])),
        ("area", _not_utf8([b"rural", b"rur\xe5", b"rural"], large=True)),
        ("area", pa.DictionaryArray.from_arrays(_INDICES, _not_utf8([b"rural", b"\xff"]))),
        ("cp", pa.ListArray.from_arrays(_LIST_OFFSETS, _not_utf8([b"x", b"\xc3"]))),
    ],
    ids=["string", "large_string", "dictionary", "list"],
)
def test_parquet_strings_that_are_not_utf8_name_the_row(tmp_path, column, capsys):
    """Parquet's reader does not check that a string column is UTF-8: the export reader
    does, and names the row and column, for plain, large, dictionary and list columns
    (found by fuzzing: the mapping ended in a UnicodeDecodeError)."""
    name, values = column
    m = _one(tmp_path, CASE_PARQUET, "h.parquet", _parquet(**{name: values}))
    with pytest.raises(ExportError, match=rf"h\.parquet: row 2, column '{name}': not UTF-8"):
        ingest(m, tmp_path / "out")
    assert main(["ingest", str(m), "--out", str(tmp_path / "out")]) == 1
    assert f"row 2, column '{name}': not UTF-8" in capsys.readouterr().err


def test_parquet_float_money_is_exact_however_large(tmp_path):
    """Arrow writes the float 1e10 as "1e+10": read it in digits, exactly (docs)."""
    prof = BANK.replace('"活期" = "deposit"', '"活期" = "deposit"\n"x" = "fund"')
    table = pa.table({"证件号码": [HEAD] * 3, "机构": ["行"] * 3, "产品": ["活期"] * 3,
                      "余额": [1e10, 12345678901.5, 1.5e-7], "利息": [0.1, 2.0, 0.0]})  # fmt: skip
    buf = io.BytesIO()
    pq.write_table(table, buf)
    ingest(_one(tmp_path, prof, "b.parquet", buf.getvalue()), tmp_path / "out")
    got = read_bundle(tmp_path / "out")["bank"].to_pylist()
    assert [(r["balance"], r["interest"]) for r in got] == [(1_000_000_000_000, 10),
                                                            (1_234_567_890_150, 200)]  # fmt: skip
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(r["line"], r["raw_value"], r["reason"]) for r in q] == [(3, "1.5e-07", "bad_amount")]


@pytest.mark.parametrize("float_type", [pa.float32(), pa.float16()])
def test_parquet_narrow_float_money_is_refused_naming_the_column(tmp_path, float_type):
    """A float32 holds about 7 digits: 12,345,678.91 yuan is 12,345,679 in it, and the
    fen were lost before the export was written (a blind test read it without a word).
    The file is refused, as a float ID column is; float64 money is read exactly."""
    prof = BANK.replace('"活期" = "deposit"', '"活期" = "deposit"\n"x" = "fund"')
    balance = pa.array([12345678.91, 1.5], pa.float32()).cast(float_type, safe=False)
    table = pa.table({"证件号码": [HEAD] * 2, "机构": ["行"] * 2, "产品": ["活期"] * 2,
                      "余额": balance, "利息": [0.1, 2.0]})  # fmt: skip
    buf = io.BytesIO()
    pq.write_table(table, buf)
    with pytest.raises(
        ExportError, match=rf"column '余额' \(balance\) is of Parquet type {float_type}"
    ):
        ingest(_one(tmp_path, prof, "b.parquet", buf.getvalue()), tmp_path / "out")


def test_a_parquet_column_name_with_spaces_around_it_is_named_in_the_error(tmp_path):
    """A CSV header is trimmed, a Parquet name is not: the error quotes the names found
    and says which one differs only by its spaces (a blind test: the space was invisible
    in the list of columns)."""
    prof = '[profile]\ntable = "tax_income"\nformat = "parquet"\n[columns]\nperson_id = "sfzh"\nincome_type = "sdxm"\namount = "sre"\n'
    buf = io.BytesIO()
    pq.write_table(pa.table({"sfzh ": [HEAD], "sdxm": ["wage"], "sre": ["1"]}), buf)
    with pytest.raises(
        ProfileError, match=r"found: 'sfzh ', 'sdxm', 'sre'\); the export has 'sfzh '"
    ):
        ingest(_one(tmp_path, prof, "t.parquet", buf.getvalue()), tmp_path / "out")


# ---------------------------------------------------------- profiles, manifest --


def test_integers_written_as_n_point_zero_are_exact_and_halves_are_errors(tmp_path):
    """pandas writes an integer column with gaps as floats: "2.0" is exactly 2 (as
    "1,200.50" yuan is exactly 120050 fen); "2.5" is never rounded."""
    rows = [{"hh": "H1", "id": SUPPORTER, "birth": "1965-07-07", "health": h,
             "sector": "public", "exempt": "none", "count": n}
            for h, n in ((2.0, "3.00"), (1, 2.5), ("1.", 1))]  # fmt: skip
    text = "\n".join(json.dumps(r) for r in rows) + "\n"
    ingest(_one(tmp_path, SUPPORTERS, "s.jsonl", text.encode()), tmp_path / "out")
    got = read_bundle(tmp_path / "out")["supporters"].to_pylist()
    assert [(r["health"], r["supported_count"]) for r in got] == [(2, 3)]
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(r["line"], r["raw_value"], r["reason"]) for r in q] == [
        (2, "2.5", "bad_integer"), (3, "1.", "bad_integer")]  # fmt: skip


def test_a_value_of_no_map_entry_in_a_mapped_integer_column_is_unmapped(tmp_path):
    """DATA.md: a raw value neither in the column's map nor canonical is an error; with
    a map it is unmapped_value and says so, whatever the column's type (was bad_integer,
    "not an integer", which does not point at the map)."""
    profile = SUPPORTERS + '[values.health]\n"健康" = 1\n"一般" = 2\n'
    rows = [{"hh": "H1", "id": SUPPORTER, "birth": "1965-07-07", "health": h,
             "sector": "public", "exempt": "none", "count": 1} for h in ("一般", 3, "很好")]  # fmt: skip
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
    ingest(_one(tmp_path, profile, "s.jsonl", text.encode()), tmp_path / "out")
    got = read_bundle(tmp_path / "out")["supporters"].to_pylist()
    assert [r["health"] for r in got] == [2, 3]  # mapped, and a canonical value
    [q] = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert (q["line"], q["raw_value"], q["reason"]) == (3, "很好", "unmapped_value")
    assert q["detail"].startswith("not in the value map, and '很好' is not an integer")


def _supporters_parquet(**columns) -> bytes:
    """Three supporters rows as Parquet, typed as a database writes them; `columns`
    replace some."""
    table = {"hh": ["H1", "H2", "H3"], "id": [SUPPORTER] * 3,
             "birth": pa.array([dt.date(1965, 7, 7)] * 3, pa.date32()),
             "health": pa.array([1, 2, 9], pa.int64()), "sector": ["public"] * 3,
             "exempt": ["none"] * 3, "count": pa.array([1, 2, 3], pa.int32())} | columns  # fmt: skip
    buf = io.BytesIO()
    pq.write_table(pa.table(table), buf)
    return buf.getvalue()


def test_a_value_map_applies_to_a_typed_parquet_column(tmp_path):
    """A Parquet integer column of an integer column is taken without text parsing,
    unless the profile maps its values: then each raw value goes through the map
    (DATA.md), 9 → 5 here, not 9 read as out of range (a sweep: untested)."""
    profile = SUPPORTERS.replace('format = "jsonl"', 'format = "parquet"')
    profile += '[values.health]\n"9" = 5\n'
    ingest(_one(tmp_path, profile, "s.parquet", _supporters_parquet()), tmp_path / "out")
    got = read_bundle(tmp_path / "out")["supporters"].to_pylist()
    assert [(r["health"], r["birth_date"]) for r in got] == [
        (1, dt.date(1965, 7, 7)), (2, dt.date(1965, 7, 7)), (5, dt.date(1965, 7, 7))]  # fmt: skip


@pytest.mark.parametrize(
    "birth",
    [
        pa.array([dt.datetime(1965, 7, 7, 0, 0), dt.datetime(1965, 7, 7, 23, 59), None]),
        pa.array([dt.date(1965, 7, 7), dt.date(1965, 7, 7), None], pa.date64()),
    ],
    ids=["timestamp", "date64"],
)
def test_a_parquet_timestamp_or_date64_is_a_date(tmp_path, birth):
    """A database's DATETIME or a date64 column of a date column is its date, taken as it
    is, its time of day dropped (a sweep: untested); a null is a required date missing."""
    profile = SUPPORTERS.replace('format = "jsonl"', 'format = "parquet"')
    ingest(_one(tmp_path, profile, "s.parquet", _supporters_parquet(birth=birth)), tmp_path / "out")
    got = read_bundle(tmp_path / "out")["supporters"]["birth_date"].to_pylist()
    assert got == [dt.date(1965, 7, 7)] * 2
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(r["line"], r["column"], r["reason"]) for r in q] == [
        (3, "birth_date", "empty_required")
    ]


def test_a_parquet_boolean_or_date_column_in_an_integer_column_is_read_as_its_text(tmp_path):
    """A Parquet column typed as another kind than its canonical column is not taken as
    it is (a boolean or a date in an integer column): it is read as its text, which is
    no integer, and each row is quarantined naming it (a sweep: untested)."""
    profile = SUPPORTERS.replace('format = "jsonl"', 'format = "parquet"')
    data = _supporters_parquet(
        count=pa.array([True, False, None]),
        health=pa.array([dt.date(2024, 1, 5), None, None], pa.date32()),
    )
    ingest(_one(tmp_path, profile, "s.parquet", data), tmp_path / "out")
    assert read_bundle(tmp_path / "out")["supporters"].num_rows == 0
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(r["line"], r["column"], r["raw_value"], r["reason"]) for r in q] == [
        (1, "health", "2024-01-05", "bad_integer"), (1, "supported_count", "True", "bad_integer"),
        (2, "health", None, "empty_required"), (2, "supported_count", "False", "bad_integer"),
        (3, "health", None, "empty_required"), (3, "supported_count", None, "empty_required"),
    ]  # fmt: skip


def test_an_empty_and_a_bad_cell_of_one_required_column_each_say_their_own_reason(tmp_path):
    """In a column with both, the empty cell (or one of spaces) is empty_required and the
    bad one says what is wrong with it, not that it is empty (a sweep: untested)."""
    rows = [{"hh": "H1", "id": SUPPORTER, "birth": "1965-07-07", "health": 1,
             "sector": "public", "exempt": "none", "count": n} for n in ("  ", "abc", "", 1)]  # fmt: skip
    text = "\n".join(json.dumps(r) for r in rows) + "\n"
    ingest(_one(tmp_path, SUPPORTERS, "s.jsonl", text.encode()), tmp_path / "out")
    assert read_bundle(tmp_path / "out")["supporters"].num_rows == 1
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(r["line"], r["raw_value"], r["reason"]) for r in q] == [
        (1, "  ", "empty_required"), (2, "abc", "bad_integer"), (3, "", "empty_required")]  # fmt: skip


def test_profile_and_manifest_saved_with_a_bom_are_read(tmp_path):
    row = {"sfzh": HEAD, "sdxm": "工资薪金", "sre": 1, "pzh": "K"}
    m = _one(tmp_path, TAX_JSONL, "t.jsonl", json.dumps(row).encode())
    for f in (tmp_path / "p.toml", m):
        f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    assert ingest(m, tmp_path / "out")["accounting_closes"]


@pytest.mark.parametrize(
    "profile, words",
    [
        (TAX_CSV.replace('"tax_income"', '"income_tax"'), r"p\.toml: profile\.table: 'income_tax'"),
        (TAX_CSV.replace('"纳税人识别号"', '"证件号"'), r"t\.csv: no column '证件号'"),
    ],
)
def test_manifest_errors_name_the_file(tmp_path, profile, words, capsys):
    data = "纳税人识别号;所得项目;收入额（元）\n".encode("gb18030")
    m = _one(tmp_path, profile, "t.csv", data)
    with pytest.raises(ProfileError, match=words):
        ingest(m, tmp_path / "out")
    assert main(["ingest", str(m), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("meanstest: error:") and "Traceback" not in err


def test_a_missing_raw_file_is_named(tmp_path, capsys):
    m = _one(tmp_path, TAX_CSV, "t.csv", b"")
    m.write_text('[[source]]\nprofile = "p.toml"\nfiles = ["raw/absent.csv"]\n')
    assert main(["ingest", str(m), "--out", str(tmp_path / "out")]) == 1
    assert "raw/absent.csv: raw export not found" in capsys.readouterr().err


def test_a_header_in_one_piece_hints_at_the_delimiter(tmp_path):
    data = "纳税人识别号,所得项目,收入额（元）\n".encode("gb18030")
    with pytest.raises(ProfileError, match=r"splits on ',', not ';': is the delimiter right"):
        ingest(_one(tmp_path, TAX_CSV, "t.csv", data), tmp_path / "out")


def test_checked_flags_take_no_case_profile_default(tmp_path):
    """DATA.md: the checked_* flags come from the case export when its profile maps them,
    otherwise from the manifest's files. A constant in [defaults] (checked_bank = true,
    no bank file listed) would certify every household's bank as queried: a profile
    error (an independent reading of the spec found it winning over the manifest)."""
    rows = [{"hid": "H1", "j": "150422", "area": "rural", "d": "2024-07-01", "c": "true",
             "ps": "none", "pb": "0", "cp": None}]  # fmt: skip
    prof = CASE_PARQUET.replace('format = "parquet"', 'format = "jsonl"')
    text = "\n".join(json.dumps(r) for r in rows) + "\n"
    manifest = _one(tmp_path, prof + "[defaults]\nchecked_bank = true\n", "h.jsonl", text.encode())
    with pytest.raises(ProfileError, match="defaults.checked_bank: checked_bank comes from"):
        ingest(manifest, tmp_path / "out")
    doc = ingest(_one(tmp_path, prof, "h.jsonl", text.encode()), tmp_path / "out")
    assert doc["checked"]["checked_bank"] is False
    [row] = read_bundle(tmp_path / "out")["households"].to_pylist()
    assert (row["checked_bank"], row["checked_tax"]) == (False, False)


def test_a_utf8_file_read_as_gb18030_hints_at_the_encoding(tmp_path):
    """GB18030 decodes many UTF-8 byte runs into other characters without an error: the
    header then lacks the profile's columns, and the error says why. (UTF-8 Chinese of
    UTF8_EVIDENCE characters or more is refused as UTF-8 before: test_adapters_encoding.)"""
    data = "号号\n".encode()  # one Chinese character: too little to tell
    assert data.decode("gb18030") != data.decode("utf-8")  # no decode error, nonsense
    assert readers.utf8_chinese(data) is None
    with pytest.raises(ProfileError, match="reads as UTF-8, not gb18030: is the encoding right"):
        ingest(_one(tmp_path, TAX_CSV, "t.csv", data), tmp_path / "out")


@pytest.mark.parametrize(
    "amounts, unit, expected",
    [
        (pa.array([100, -250, None], pa.int32()), "yuan", [10000, -25000]),
        (pa.array([100, -250, None], pa.int64()), "fen", [100, -250]),
        (pa.array(["100", "-2.5", ""]), "yuan", [10000, -250]),
        (pa.array([decimal.Decimal("100.000"), decimal.Decimal("-2.500"), None],
                  pa.decimal128(12, 3)), "yuan", [10000, -250]),
    ],
)  # fmt: skip
def test_parquet_integer_decimal_and_text_money_in_yuan_or_fen(tmp_path, amounts, unit, expected):
    """The third row's money is missing: quarantined as empty_required, counted."""
    prof = TAX_JSONL.replace('format = "jsonl"', 'format = "parquet"')
    prof = prof.replace('amount = "yuan"', f'amount = "{unit}"')
    table = pa.table({"sfzh": [HEAD] * 3, "sdxm": ["wage"] * 3, "sre": amounts,
                      "pzh": ["K1", "K2", "K3"]})  # fmt: skip
    buf = io.BytesIO()
    pq.write_table(table, buf)
    doc = ingest(_one(tmp_path, prof, "t.parquet", buf.getvalue()), tmp_path / "out")
    got = read_bundle(tmp_path / "out")["tax_income"].to_pylist()
    assert [(r["amount"], r["record_id"]) for r in got] == list(zip(expected, ["K1", "K2"]))
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(r["line"], r["record_id"], r["reason"]) for r in q] == [(3, "K3", "empty_required")]
    assert doc["files"][0]["rows_read"] == 3 and doc["accounting_closes"]


def test_a_blank_line_before_the_header_is_named(tmp_path):
    data = "\n纳税人识别号;所得项目;收入额（元）\n".encode("gb18030")
    with pytest.raises(ExportError, match=r"no header line \(line 1 is empty \(skip_rows"):
        ingest(_one(tmp_path, TAX_CSV, "t.csv", data), tmp_path / "out")


# ---------------------------------------------- line breaks of every kind --

TAX_REMARKS = TAX_CSV.replace('amount = "收入额（元）"', 'amount = "收入额（元）"\n')


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("inner", ["\n", "\r\n", "\r"])
def test_a_line_break_inside_quotes_counts_as_a_line_whatever_its_kind(tmp_path, end, inner):
    """docs/adapters.md: lines end in LF, CRLF or CR, and a row's line is the physical
    line where it starts. A blind test: a lone CR inside a quoted remark (old Mac Excel
    writes CR only) was not counted, so every later record_id and quarantine line was one
    too low. The layout is the same for every kind of break, so are the lines."""
    rows = [
        "纳税人识别号;所得项目;收入额（元）;备注",  # line 1
        f'{HEAD};工资薪金;100;"a{inner}b"',  # lines 2-3
        f"{HEAD};工资薪金;200;c",  # line 4
        f"{HEAD};工资薪金;x;d",  # line 5: bad_amount
        f'{HEAD};工资薪金;300;"e{inner}f{inner}g"',  # lines 6-8
        f"{HEAD};工资薪金;400;h;extra",  # line 9: one field too many
        f'{HEAD};工资薪金;500;"i{inner}j"',  # lines 10-11
        f"{HEAD};工资薪金;600;k",  # line 12
    ]
    data = end.join(rows).encode("gb18030") + end.encode()
    doc = ingest(_one(tmp_path, TAX_REMARKS, "t.csv", data), tmp_path / "out")
    tax = read_bundle(tmp_path / "out")["tax_income"]
    assert tax["record_id"].to_pylist() == [f"t.csv:{n}" for n in (2, 4, 6, 10, 12)]
    assert tax["amount"].to_pylist() == [10000, 20000, 30000, 50000, 60000]
    quarantined = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(q["line"], q["reason"]) for q in quarantined] == [(5, "bad_amount"), (9, "bad_row")]
    assert doc["accounting_closes"]


def test_an_undecodable_line_is_named_by_its_physical_line_in_a_cr_file(tmp_path, capsys):
    """The encoding error names the physical line, CR line ends counted as lines."""
    rows = ["纳税人识别号;所得项目;收入额（元）", f"{HEAD};工资薪金;1", f"{HEAD};工资薪金;2"]
    data = "\r".join(rows).encode("gb18030") + b"\r" + HEAD.encode() + b";\x80;3\r"
    m = _one(tmp_path, TAX_CSV, "t.csv", data)
    assert main(["ingest", str(m), "--out", str(tmp_path / "out")]) == 1
    assert "not gb18030 text at line 4" in capsys.readouterr().err
    # a CR-only file is read in 1 MiB pieces: one that ends just after a CR, the bad
    # line the next piece's start, is still its own line (a sweep: the cut was untested)
    head = "\r".join(rows[:2]).encode("gb18030") + b"\r"
    pad = (1 << 20) - len(head) - len(f"{HEAD};工资薪金;".encode("gb18030")) - 1
    data = head + f"{HEAD};工资薪金;{'1' * pad}\r".encode("gb18030")
    assert len(data) == 1 << 20 and data.endswith(b"\r")
    data += HEAD.encode() + b";\x80;3\r"
    m = _one(tmp_path, TAX_CSV, "t.csv", data)
    assert main(["ingest", str(m), "--out", str(tmp_path / "out2")]) == 1
    assert "not gb18030 text at line 4" in capsys.readouterr().err
