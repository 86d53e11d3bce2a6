"""`meanstest ingest` (DATA.md "Ingest manifest", "Adapter profiles"): the synthetic
district round trip (canonical bundle → raw exports → ingest → the same bundle, the
same review), counts that reconcile per file, every quarantine reason, the checked_*
flags, and a new export layout that needs only a new profile."""

import datetime as dt
import hashlib
import html
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from meanstest.adapters import PROFILES
from meanstest.adapters.normalise import REASONS
from meanstest.adapters.profile import ProfileError

from meanstest import schema
from meanstest.affected import quarantine_note
from meanstest.bundle import read_bundle, write_bundle
from meanstest.cli import main
from meanstest.errors import MeansTestError
from meanstest.ingest import ingest
from meanstest.pipeline import assess
from meanstest.rawsynth import write_raw
from meanstest.synth import generate

N_HOUSEHOLDS = 400


def _rows(table: pa.Table) -> list:
    return sorted(map(repr, table.to_pylist()))


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    root = tmp_path_factory.mktemp("district")
    tables = generate(N_HOUSEHOLDS, 11)
    manifest = write_raw(root / "raw", tables, seed=11)
    doc = ingest(manifest, root / "bundle")
    return tables, manifest, root / "bundle", doc


def test_round_trip_gives_back_the_canonical_bundle(district):
    tables, _, bundle, doc = district
    ingested = read_bundle(bundle)
    for name in schema.TABLES:
        assert ingested[name].num_rows == tables[name].num_rows, name
        assert _rows(ingested[name]) == _rows(tables[name]), name
    assert doc["tables"] == {t: tables[t].num_rows for t in schema.TABLES}


def test_review_of_the_ingested_district_equals_review_of_the_synthetic_bundle(district):
    tables, _, bundle, _ = district
    a = assess(tables, engine="reference")
    b = assess(read_bundle(bundle), engine="reference")
    for name in ("results", "members", "findings", "rejects"):
        assert _rows(getattr(a, name)) == _rows(getattr(b, name)), name  # input_digest too
    assert a.results.num_rows > 0


def test_counts_reconcile_per_file_and_hashes_are_the_files(district):
    _, manifest, bundle, doc = district
    assert doc["accounting_closes"]
    here = manifest.parent  # paths are the manifest's, relative to its folder
    for f in doc["files"]:
        assert f["rows_read"] == f["rows_mapped"] + f["rows_quarantined"]
        with open(here / f["file"], "rb") as fh:
            assert f["sha256"] == hashlib.sha256(fh.read()).hexdigest()
    for p in doc["profiles"]:
        with open(here / p["profile"], "rb") as fh:
            assert p["sha256"] == hashlib.sha256(fh.read()).hexdigest()
    saved = json.loads((bundle / "ingest.json").read_text("utf-8"))
    assert saved == json.loads(json.dumps(doc))
    q = pq.read_table(bundle / "quarantine.parquet")
    assert q.num_rows == doc["quarantine"]["entries"]
    per_file = {}
    for file, line in zip(q.column("file").to_pylist(), q.column("line").to_pylist(), strict=True):
        per_file.setdefault(file, set()).add(line)
    for f in doc["files"]:
        name = f["file"].rsplit("/", 1)[-1]
        assert len(per_file.get(name, ())) == f["rows_quarantined"], name


def test_every_unmappable_row_is_quarantined_with_line_column_value_and_reason(district):
    _, manifest, bundle, _ = district
    q = pq.read_table(bundle / "quarantine.parquet").to_pylist()
    reasons = {r["reason"] for r in q}
    assert reasons == set(REASONS) - {
        "out_of_range",
        "bad_integer",
        "bad_boolean",
        "held_household",
    }
    raw = manifest.parent
    for r in q:
        assert r["detail"] and r["line"] >= 1 and r["file"]
        if r["column"] and r["file"].endswith(".csv"):  # the raw value is on that line
            folder = {"households": "case", "persons": "case", "supporters": "case"}.get(
                r["table"], None
            )
            path = next(raw.rglob(r["file"])) if folder is None else raw / folder / r["file"]
            enc = "utf-8-sig" if r["table"] == "persons" else "gb18030"
            line = path.read_bytes().decode(enc).split("\n")[r["line"] - 1]
            assert (r["raw_value"] or "") in line


def test_checked_flags_come_from_the_manifest_when_the_case_profile_lacks_them(tmp_path):
    """DATA.md: a department counts as checked for every household when the manifest
    lists at least one file for it."""
    tables = generate(30, 5)
    manifest = write_raw(tmp_path / "raw", tables, seed=5, dirt=False)
    text = (PROFILES / "case_households.toml").read_text("utf-8")
    lines = [ln for ln in text.splitlines() if not ln.startswith("checked_")]
    keep, out = True, []
    for ln in lines:  # drop the [values.checked_*] sections too
        if ln.startswith("[values.checked_"):
            keep = False
        elif ln.startswith("["):
            keep = True
        if keep:
            out.append(ln)
    (tmp_path / "raw" / "profiles" / "case_households.toml").write_text("\n".join(out), "utf-8")
    m = manifest.read_text("utf-8").split("\n[[source]]")
    m = [s for s in m if "vehicle" not in s and "property" not in s]  # no vehicle, no housing
    manifest.write_text("\n[[source]]".join(m), "utf-8")
    doc = ingest(manifest, tmp_path / "bundle")
    hh = read_bundle(tmp_path / "bundle")["households"]
    assert set(hh.column("checked_tax").to_pylist()) == {True}
    assert set(hh.column("checked_bank").to_pylist()) == {True}
    assert set(hh.column("checked_vehicle").to_pylist()) == {False}
    assert set(hh.column("checked_housing").to_pylist()) == {False}
    assert doc["checked"]["checked_vehicle"] is False and doc["checked"]["checked_tax"] is True


def _without_checked(profile_text: str) -> str:
    """A case households profile without its checked_* columns and their value maps."""
    keep, out = True, []
    for ln in profile_text.splitlines():
        if ln.startswith("[values.checked_"):
            keep = False
        elif ln.startswith("["):
            keep = True
        if keep and not ln.startswith("checked_"):
            out.append(ln)
    return "\n".join(out)


def test_checked_flags_of_two_case_exports_of_which_one_maps_them(tmp_path):
    """Two case exports, one mapping the checked_* columns and one not: each row's flag
    is its own export's, and ingest.json names both sources of the flag (it said "case
    export" for the whole bundle: a blind test)."""
    tables = generate(30, 5)
    manifest = write_raw(tmp_path / "raw", tables, seed=5, dirt=False)
    raw = tmp_path / "raw"
    text = (PROFILES / "case_households.toml").read_text("utf-8")
    (raw / "profiles" / "case_plain.toml").write_text(_without_checked(text), "utf-8")
    case = raw / "case" / "case_households.csv"
    header, *rows = case.read_text("gb18030").rstrip("\n").split("\n")
    case.write_text("\n".join([header, *rows[:10]]) + "\n", "gb18030")
    (raw / "case" / "case_later.csv").write_text("\n".join([header, *rows[10:]]) + "\n", "gb18030")
    sources = manifest.read_text("utf-8").split("\n[[source]]")
    sources = [x for x in sources if "bank" not in x]  # no bank file: the manifest says false
    sources.append('\nprofile = "profiles/case_plain.toml"\nfiles = ["case/case_later.csv"]\n')
    manifest.write_text("\n[[source]]".join(sources), "utf-8")
    doc = ingest(manifest, tmp_path / "bundle")
    said = doc["checked"]["checked_bank"]
    assert said.startswith("case export for the rows of ") and "case_households.toml" in said
    assert "; false (the manifest) for those of " in said and said.endswith("case_plain.toml")
    got = read_bundle(tmp_path / "bundle")["households"].to_pylist()
    want = {r["household_id"]: r["checked_bank"] for r in tables["households"].to_pylist()}
    first = {r.split(",")[0] for r in rows[:10]}
    assert {r["household_id"]: r["checked_bank"] for r in got} == {
        h: (v if h in first else False) for h, v in want.items()
    }
    assert {want[h] for h in first} == {True}  # the case export's, not the manifest's


def test_checked_flags_mapped_by_the_case_profile_win(district):
    tables, _, bundle, doc = district
    got = read_bundle(bundle)["households"]
    assert _rows(got.select(["household_id", "checked_bank"])) == _rows(
        tables["households"].select(["household_id", "checked_bank"])
    )
    assert doc["checked"]["checked_bank"] == "case export"


OTHER_LAYOUT = """
# 另一旗县 人社局 待遇发放表: GBK, semicolons, a title line, other headers and names
[profile]
table = "social_insurance"
format = "csv"
encoding = "gbk"
delimiter = ";"
skip_rows = 1

[columns]
person_id = "证件号"
record_type = "待遇类别"
amount = "发放金额（元）"
scheme = "参保类型"
record_id = "单据号"

[values.record_type]
"退休金" = "pension_benefit"
"失业金" = "unemployment_benefit"

[values.scheme]
"企业职工" = "employee"
"居民" = "resident"

[units]
amount = "yuan"

[defaults]
reimbursed = 0
employer_type = "none"
"""


def test_a_differently_shaped_export_needs_only_a_new_profile(tmp_path):
    (tmp_path / "si.toml").write_text(OTHER_LAYOUT, "utf-8")
    raw = ("某某旗人力资源和社会保障局 2024年6月待遇发放\n证件号;待遇类别;发放金额（元）;参保类型;单据号\n"
           "11010519491231002x;退休金;2,150.5;企业职工;A-1\n"
           " 110105 19491231002X ;失业金;1200;居民;\n"
           "150422198001010016;退休金;3.456;居民;A-3\n"
           "150422198001010016;工伤金;10;居民;A-4\n")  # fmt: skip
    (tmp_path / "si.csv").write_bytes(raw.encode("gbk"))
    (tmp_path / "m.toml").write_text('[[source]]\nprofile = "si.toml"\nfiles = ["si.csv"]\n')
    doc = ingest(tmp_path / "m.toml", tmp_path / "out")
    si = read_bundle(tmp_path / "out")["social_insurance"].to_pylist()
    pid = "11010519491231002X"
    assert si == [
        {"person_id": pid, "record_type": "pension_benefit", "amount": 215050, "reimbursed": 0,
         "scheme": "employee", "employer_type": "none", "record_id": "A-1"},
    ]  # fmt: skip
    # a mapped department key left empty is a required column's empty cell (DATA.md),
    # not file:line, which names the records of a profile that maps no key
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(r["line"], r["record_id"], r["column"], r["raw_value"], r["reason"]) for r in q] == [
        (4, "si.csv:4", "record_id", "", "empty_required"),
        (5, "A-3", "amount", "3.456", "bad_amount"),
        (6, "A-4", "record_type", "工伤金", "unmapped_value"),
    ]
    assert doc["files"][0]["rows_read"] == 4 and doc["files"][0]["rows_quarantined"] == 3
    assert doc["checked"]["checked_social_insurance"] is True


def test_values_mapped_to_an_empty_cell_and_empty_required_cells(tmp_path):
    """A value map may send a raw value to an empty cell (null, in a nullable column); an
    empty cell of a required column is quarantined (DATA.md), and [defaults] cannot fill
    it: defaults are "constants for columns the export lacks" (an independent reading of
    the spec found the constant filling empty cells here, where the spec quarantines)."""
    prof = """
[profile]
table = "property"
format = "jsonl"
[columns]
person_id = "证件号"
property_id = "单元号"
use = "用途"
area = "面积"
share = "份额"
acquired_on = "登记日期"
acquisition = "取得方式"
disposed_on = "注销日期"
rental_income = "租金"
[values.disposed_on]
"无" = ""
[units]
area = "m2"
"""
    (tmp_path / "p.toml").write_text(prof + "[defaults]\nshare = 1000\n", "utf-8")
    (tmp_path / "m.toml").write_text('[[source]]\nprofile = "p.toml"\nfiles = ["p.jsonl"]\n')
    with pytest.raises(ProfileError, match="defaults.share: share is mapped"):
        ingest(tmp_path / "m.toml", tmp_path / "out")
    (tmp_path / "p.toml").write_text(prof, "utf-8")
    rows = [
        {"证件号": "11010519491231002X", "单元号": "U1", "用途": "residential", "面积": 85.5,
         "份额": "", "登记日期": "2001-02-03", "取得方式": "purchase", "注销日期": "无", "租金": None},
        {"证件号": "11010519491231002X", "单元号": "U2", "用途": "office", "面积": "1,200.25",
         "份额": 500, "登记日期": "2001-02-03", "取得方式": "gift", "注销日期": "2010-01-01",
         "租金": "3600"},
    ]  # fmt: skip
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
    (tmp_path / "p.jsonl").write_text(text, "utf-8")
    (tmp_path / "m.toml").write_text('[[source]]\nprofile = "p.toml"\nfiles = ["p.jsonl"]\n')
    ingest(tmp_path / "m.toml", tmp_path / "out")
    got = read_bundle(tmp_path / "out")["property"].to_pylist()
    assert [(r["area"], r["share"], r["disposed_on"], r["rental_income"]) for r in got] == [
        (120025, 500, dt.date(2010, 1, 1), 3600),
    ]
    assert [r["record_id"] for r in got] == ["p.jsonl:2"]
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert sorted((r["line"], r["column"], r["reason"]) for r in q) == [
        (1, "rental_income", "empty_required"),
        (1, "share", "empty_required"),
    ]


@pytest.mark.parametrize("profile", ["property", "property_county"])
def test_the_shipped_property_profiles_read_a_cancellation_date_of_none_as_still_owned(
    tmp_path, profile
):
    """注销日期 "无" (a registry's word for "not cancelled") is an empty cell in the shipped
    property profiles: the property is still owned (DATA.md: disposed_on null). Without
    the mapping a data officer's export had every such row quarantined as a bad date."""
    header = "权利人证件号,不动产单元号,房屋用途,建筑面积(平方米),产权份额(‰),登记日期,取得方式,注销日期,年租金(元),登记业务号\n"
    rows = (
        "11010519491231002X,U1,住宅,85.50,1000,2001-02-03,购买,无,0,R1\n"
        "11010519491231002X,U2,商业,20,500,2001-02-03,赠与,2010-01-01,3600,R2\n"
        "11010519491231002X,U3,住宅,60,1000,2001-02-03,购买,,0,R3\n"
    )
    (tmp_path / "p.csv").write_bytes((header + rows).encode("gb18030"))
    (tmp_path / "p.toml").write_text((PROFILES / f"{profile}.toml").read_text("utf-8"), "utf-8")
    m = _manifest(tmp_path, "[[source]]\nprofile = 'p.toml'\nfiles = ['p.csv']\n")
    doc = ingest(m, tmp_path / "out")
    got = read_bundle(tmp_path / "out")["property"].to_pylist()
    assert [(r["property_id"], r["disposed_on"]) for r in got] == [
        ("U1", None),
        ("U2", dt.date(2010, 1, 1)),
        ("U3", None),
    ]
    assert doc["files"][0]["rows_quarantined"] == 0 and doc["files"][0]["rows_mapped"] == 3


def test_parquet_typed_columns_and_out_of_range_integers(tmp_path):
    prof = """
[profile]
table = "business_registration"
format = "parquet"
[columns]
person_id = "pid"
role = "role"
annual_turnover = "turnover"
employees = "employees"
"""
    (tmp_path / "b.toml").write_text(prof, "utf-8")
    pq.write_table(pa.table({
        "pid": ["11010519491231002X"] * 3,
        "role": ["legal_rep"] * 3,
        "turnover": pa.array([100, 200, None], pa.int64()),
        "employees": pa.array([3, 2**40, 1], pa.int64()),
    }), tmp_path / "b.parquet")  # fmt: skip
    (tmp_path / "m.toml").write_text('[[source]]\nprofile = "b.toml"\nfiles = ["b.parquet"]\n')
    doc = ingest(tmp_path / "m.toml", tmp_path / "out")
    got = read_bundle(tmp_path / "out")["business_registration"].to_pylist()
    assert [(r["annual_turnover"], r["employees"], r["record_id"]) for r in got] == [
        (100, 3, "b.parquet:1")
    ]
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(r["line"], r["column"], r["reason"]) for r in q] == [
        (2, "employees", "out_of_range"),
        (3, "annual_turnover", "empty_required"),
    ]
    assert doc["files"][0]["rows_read"] == 3


def _manifest(tmp_path, text):
    (tmp_path / "m.toml").write_text(text, "utf-8")
    return tmp_path / "m.toml"


@pytest.mark.parametrize(
    "text, words",
    [
        ("[[source]]\nprofile = 'x.toml'\nfiles = ['a.csv']\ncolour = 1\n", "source[0].colour"),
        ("[[sources]]\nprofile = 'x.toml'\n", "sources: unknown key"),
        ("[[source]]\nprofile = 'x.toml'\nfiles = []\n", "non-empty list"),
        ("description = 'no sources'\n", "at least one [[source]]"),
        (
            "[[source]]\nprofile = ''\nfiles = ['a.csv']\n",
            "source[0].profile: need the profile's path",
        ),
        (
            "[[source]]\nprofile = 5\nfiles = ['a.csv']\n",
            "source[0].profile: need the profile's path",
        ),
        # one [source] table, not an array of them (a sweep: untested); none at all
        ("[source]\nprofile = 'x.toml'\nfiles = ['a.csv']\n", "at least one [[source]]"),
        ("source = []\n", "at least one [[source]]"),
        (
            "[[source]]\nprofile = 'absent.toml'\nfiles = ['a.csv']\n",
            "source[0].profile: absent.toml: profile not found",
        ),
    ],
)
def test_manifest_errors_are_clear_and_before_any_row(tmp_path, text, words):
    with pytest.raises(ProfileError, match=words.replace("[", r"\[").replace("]", r"\]")):
        ingest(_manifest(tmp_path, text), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_raw_file_or_column_fails_before_anything_is_written(tmp_path):
    (tmp_path / "v.toml").write_text((PROFILES / "vehicle.toml").read_text("utf-8"), "utf-8")
    m = _manifest(tmp_path, "[[source]]\nprofile = 'v.toml'\nfiles = ['v.csv']\n")
    with pytest.raises(
        ProfileError, match=r"m.toml: source\[0\]\.files: v.csv: raw export not found"
    ):
        ingest(m, tmp_path / "out")  # the manifest's entry named (it was the path alone)
    (tmp_path / "v.csv").write_bytes("身份证号,号牌号码\n1,2\n".encode("gb18030"))
    with pytest.raises(ProfileError, match="no column '车辆类型'"):
        ingest(m, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    m = _manifest(tmp_path, "[[source]]\nprofile = 'v.toml'\nfiles = ['v.csv', './v.csv']\n")
    with pytest.raises(ProfileError, match="listed twice"):
        ingest(m, tmp_path / "out")
    county = (PROFILES / "vehicle_county.toml").read_text("utf-8")
    (tmp_path / "c.toml").write_text(county, "utf-8")
    m = _manifest(tmp_path, "[[source]]\nprofile = 'c.toml'\nfiles = ['a/v.csv', 'b/v.csv']\n")
    with pytest.raises(ProfileError, match="record_ids 'v.csv:<line>' would collide"):
        ingest(m, tmp_path / "out")
    # with a department key (v.toml), or for a case table (no record_id), the names may
    # be alike: the next check, that the files exist, is the one that speaks (a sweep)
    (tmp_path / "h.toml").write_text((PROFILES / "case_households.toml").read_text("utf-8"))
    for profile in ("v.toml", "h.toml"):
        m = _manifest(
            tmp_path, f"[[source]]\nprofile = '{profile}'\nfiles = ['a/v.csv', 'b/v.csv']\n"
        )
        with pytest.raises(ProfileError, match="a/v.csv: raw export not found"):
            ingest(m, tmp_path / "out")


def test_the_same_export_under_two_names_is_refused_with_keys_and_named_without(tmp_path, capsys):
    """Two files of one table with the same bytes and rows. With a department key, they
    are the same records twice — the export sent again (a blind test: a hard-linked copy
    was ingested twice with no word) — and refused. Without one, two months of a
    pension export are alike too, and each counts (a review: refusing them dropped a
    month): both are read and the second is named, on stderr even with --quiet. Files
    alike without rows are not named."""
    header = "身份证号,号牌号码,车辆类型,评估价值(元),初次登记日期,机动车序号\n"
    rows = "11010519491231002X,蒙D1,小型轿车,1.00,2015-06-01,V1\n"
    for name, text in (("a.csv", header + rows), ("b.csv", header + rows),
                       ("e1.csv", header), ("e2.csv", header)):  # fmt: skip
        (tmp_path / name).write_bytes(text.encode("gb18030"))
    for profile in ("vehicle", "vehicle_county"):
        (tmp_path / f"{profile}.toml").write_text(
            (PROFILES / f"{profile}.toml").read_text("utf-8"), "utf-8"
        )
    files = "files = ['a.csv', 'e1.csv', 'e2.csv']"
    m = _manifest(tmp_path, f"[[source]]\nprofile = 'vehicle.toml'\n{files}\n")
    doc = ingest(m, tmp_path / "ok")
    assert doc["tables"]["vehicle"] == 1 and not any("same_bytes_as" in f for f in doc["files"])
    m = _manifest(tmp_path, "[[source]]\nprofile = 'vehicle.toml'\nfiles = ['a.csv', 'b.csv']\n")
    with pytest.raises(MeansTestError, match=r"b\.csv has the same bytes as .*a\.csv .*keys"):
        ingest(m, tmp_path / "keyed")
    m = _manifest(
        tmp_path, "[[source]]\nprofile = 'vehicle_county.toml'\nfiles = ['a.csv', 'b.csv']\n"
    )
    doc = ingest(m, tmp_path / "out")
    assert doc["tables"]["vehicle"] == 2
    assert doc["files"][1]["same_bytes_as"] == doc["files"][0]["file"]
    assert main(["ingest", str(m), "--out", str(tmp_path / "out2"), "--quiet"]) == 0
    assert "b.csv has the same bytes as" in capsys.readouterr().err


def test_a_copy_with_other_line_endings_is_the_same_export(tmp_path, capsys):
    """A copy whose line endings were converted (CRLF, CR, CR CR LF: an FTP transfer in
    ASCII mode, twice), that lost its final line ending or gained blank lines or a BOM
    (GB18030's, 84 31 95 33, in the county profiles' encoding) holds the same rows as
    the file: with a department key it is refused as the same export twice, without
    one it is read and named (`same_text_as`), on stderr too. A file differing in one
    cell is not named."""
    header = "身份证号,号牌号码,车辆类型,评估价值(元),初次登记日期,机动车序号\n"
    rows = "11010519491231002X,蒙D1,小型轿车,1.00,2015-06-01,V1\n"
    text = header + rows
    copies = {
        "crlf.csv": text.replace("\n", "\r\n"),
        "cr.csv": text.replace("\n", "\r"),
        "crcrlf.csv": text.replace("\n", "\r\r\n"),
        "unended.csv": text.rstrip("\n"),
        "blank.csv": text.replace("\n", "\n\n"),
        "bom.csv": "\ufeff" + text,
    }
    files = {"a.csv": text, **copies, "other.csv": text.replace("1.00", "2.00")}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data.encode("gb18030"))
    for profile in ("vehicle", "vehicle_county"):
        (tmp_path / f"{profile}.toml").write_text(
            (PROFILES / f"{profile}.toml").read_text("utf-8"), "utf-8"
        )
    for copy in copies:
        m = _manifest(
            tmp_path, f"[[source]]\nprofile = 'vehicle.toml'\nfiles = ['a.csv', '{copy}']\n"
        )
        with pytest.raises(
            MeansTestError, match=rf"{copy} has the same text \(line endings, blank"
        ):
            ingest(m, tmp_path / "keyed")
    # a copy read without the key the first file is read with: the same keys, refused
    m = _manifest(
        tmp_path,
        "[[source]]\nprofile = 'vehicle.toml'\nfiles = ['a.csv']\n"
        "[[source]]\nprofile = 'vehicle_county.toml'\nfiles = ['crlf.csv']\n",
    )
    with pytest.raises(MeansTestError, match=r"crlf\.csv has the same text .* department keys"):
        ingest(m, tmp_path / "mixed")
    m = _manifest(
        tmp_path, "[[source]]\nprofile = 'vehicle.toml'\nfiles = ['a.csv', 'other.csv']\n"
    )
    doc = ingest(m, tmp_path / "other")
    assert not any("same_text_as" in f or "same_bytes_as" in f for f in doc["files"])
    listed = ", ".join(f"'{n}'" for n in files)
    m = _manifest(tmp_path, f"[[source]]\nprofile = 'vehicle_county.toml'\nfiles = [{listed}]\n")
    doc = ingest(m, tmp_path / "out")
    assert doc["tables"]["vehicle"] == len(files)
    first = doc["files"][0]["file"]
    assert [f.get("same_text_as") for f in doc["files"]] == [None, *[first] * len(copies), None]
    assert main(["ingest", str(m), "--out", str(tmp_path / "out2"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "crlf.csv has the same text but for line endings, blank lines or a BOM as" in err


def _read_as_rows(data: bytes, bom: bytes) -> bytes:
    """The reference of text_digest's text: the whole file at once."""
    data = data.removeprefix(bom)
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return re.sub(rb"\n+", b"\n", data).strip(b"\n")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"a", b"xy", b"\r", b"\n", b"\r\n", b"\x841\x953", b" "])),
    st.integers(1, 9),
)
def test_text_digest_reads_as_the_whole_file_at_once(tmp_path_factory, pieces, read):
    """text_digest reads a file `_READ` bytes at a time: whatever the cuts (a CR LF
    across them, a BOM, line endings at the ends), its text is the whole file's, line
    endings alike, blank lines and a leading BOM left out."""
    from types import SimpleNamespace

    from meanstest import copies

    path = tmp_path_factory.mktemp("td") / "f.csv"
    data = b"".join(pieces)
    path.write_bytes(data)
    gb = SimpleNamespace(format="csv", encoding="gb18030")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(copies, "_READ", read)
        got = copies.text_digest(path, gb)
    assert got == hashlib.sha256(_read_as_rows(data, b"\x841\x953")).hexdigest()


def test_text_digest_leaves_utf16_and_parquet_to_their_bytes(tmp_path):
    from types import SimpleNamespace

    from meanstest.copies import text_digest

    (tmp_path / "f").write_bytes("a\r\nb\r\n".encode("utf-16"))
    for profile in (SimpleNamespace(format="csv", encoding="utf-16"),
                    SimpleNamespace(format="parquet", encoding="utf-8")):  # fmt: skip
        assert text_digest(tmp_path / "f", profile) is None
    utf8 = SimpleNamespace(format="csv", encoding="utf-8")
    (tmp_path / "g").write_bytes(b"\xef\xbb\xbfa\r\nb")
    assert text_digest(tmp_path / "g", utf8) == hashlib.sha256(b"a\nb").hexdigest()
    # utf-8-sig's decoder drops one BOM and the readers a second: both are left out
    sig = SimpleNamespace(format="csv", encoding="utf-8-sig")
    (tmp_path / "h").write_bytes(b"\xef\xbb\xbf" * 2 + b"a\nb")
    assert text_digest(tmp_path / "h", sig) == hashlib.sha256(b"a\nb").hexdigest()
    assert text_digest(tmp_path / "h", utf8) != hashlib.sha256(b"a\nb").hexdigest()


def test_remarks_kept_over_lines_are_counted_and_warned_of(tmp_path, capsys):
    """A row kept whose remark over lines holds a row's worth of delimiters: its line in
    ingest.json (`remarks_over_lines`) and a warning, since a stray quote there would
    have read the next row into it; a row of that kind quarantined for a bad cell is
    not listed as kept (a review: it was)."""
    (tmp_path / "v.toml").write_text((PROFILES / "vehicle_county.toml").read_text("utf-8"), "utf-8")
    rows = [
        "身份证号,号牌号码,车辆类型,评估价值(元),初次登记日期,备注",
        '11010519491231002X,蒙D1,小型轿车,1.00,2015-06-01,"年检\n2016,2017,2018,2019,2020,2021"',
        '11010519491231002X,蒙D2,小型轿车,x,2015-06-01,"年检\n2016,2017,2018,2019,2020,2021"',
        "11010519491231002X,蒙D3,小型轿车,3.00,2015-06-01,ok",
    ]
    (tmp_path / "v.csv").write_bytes(("\n".join(rows) + "\n").encode("gb18030"))
    m = _manifest(tmp_path, "[[source]]\nprofile = 'v.toml'\nfiles = ['v.csv']\n")
    assert main(["ingest", str(m), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    doc = json.loads((tmp_path / "out" / "ingest.json").read_text("utf-8"))
    assert doc["files"][0]["remarks_over_lines"] == {"rows": 1, "lines": [2]}
    assert doc["tables"]["vehicle"] == 2 and doc["quarantine"]["by_reason"] == {"bad_amount": 1}
    assert "v.csv: 1 row kept whose quoted field over lines" in capsys.readouterr().err


def test_cli_synth_raw_then_ingest_then_review(tmp_path, capsys):
    """The issue's end-to-end flow: meanstest synth --raw, meanstest ingest, meanstest
    review — the review of the ingested bundle equals the review of the synthetic one."""
    bundle, raw, ingested = tmp_path / "bundle", tmp_path / "raw", tmp_path / "ingested"
    assert main(["synth", "--households", "40", "--seed", "2", "--out", str(bundle),
                 "--raw", str(raw)]) == 0  # fmt: skip
    assert "raw exports →" in capsys.readouterr().out
    assert main(["ingest", str(raw / "manifest.toml"), "--out", str(ingested)]) == 0
    out = capsys.readouterr().out
    assert "case_households.csv: read 46 = mapped 40 + quarantined 6" in out
    assert re.search(
        r"^quarantine: \d+ rows, \d+ entr(y|ies) .*bad_json", out, flags=re.MULTILINE
    ), out
    for b in (bundle, ingested):
        args = ["review", str(b), "--out", str(b) + "-review", "--quiet", "--engine", "reference"]
        assert main(args) == 0
    for name in ("results", "members", "findings", "rejects"):
        x = pq.read_table(f"{bundle}-review/{name}.parquet")
        y = pq.read_table(f"{ingested}-review/{name}.parquet")
        assert _rows(x) == _rows(y), name
    assert (
        pq.read_table(f"{ingested}-review/results.parquet").num_rows
        + pq.read_table(f"{ingested}-review/rejects.parquet").num_rows
        == 40
    )
    assert main(["ingest", str(tmp_path / "absent.toml"), "--out", str(tmp_path / "c")]) == 1
    assert "meanstest: error:" in capsys.readouterr().err


def test_affected_households_are_reported_and_held_back_with_hold(tmp_path, capsys):
    """A quarantined row of a household (case export) or of a member's source record
    makes the household's assessment incomplete: ingest names it, and --hold leaves it
    (members and supporters too) out of the bundle."""
    tables = generate(30, 4)
    manifest = write_raw(tmp_path / "raw", tables, seed=4, dirt=False)
    persons = tables["persons"].to_pylist()
    member, other = (
        persons[0],
        next(p for p in persons if p["household_id"] != persons[0]["household_id"]),
    )
    with open(tmp_path / "raw" / "tax" / "tax_income.jsonl", "a", encoding="utf-8") as f:
        f.write(
            json.dumps(
                {
                    "纳税人识别号": member["person_id"],
                    "所得项目": "工资薪金所得",
                    "收入额": "12.345",
                    "明细流水号": "T-BAD",
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        f.write(json.dumps({"纳税人识别号": "123", "所得项目": "工资薪金所得", "收入额": "1",
                            "明细流水号": "T-NOBODY"}, ensure_ascii=False) + "\n")  # fmt: skip
    with open(tmp_path / "raw" / "case" / "case_persons.csv", "a", encoding="utf-8") as f:
        f.write(f"{other['household_id']},11010519491231002X,子女,1949-13-31,健康,非在校,无,0,0\n")
    # a third household's own households row is quarantined (an area not in the map): it
    # is not in the bundle, and its members' rows would be left without it
    third = next(
        h for h in tables["households"].column("household_id").to_pylist()
        if h not in (member["household_id"], other["household_id"])
        and h in tables["persons"].column("household_id").to_pylist()
    )  # fmt: skip
    case = tmp_path / "raw" / "case" / "case_households.csv"
    lines = case.read_text("gb18030").split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(third + ","))
    cells = lines[at].split(",")
    cells[2] = "火星"
    lines[at] = ",".join(cells)
    case.write_text("\n".join(lines), "gb18030")
    doc = ingest(manifest, tmp_path / "plain")
    expected = sorted({member["household_id"], other["household_id"], third})
    assert doc["affected_households"] == {
        "count": 3,
        "held": False,
        "household_ids": expected,
        "not_in_bundle": 1,
        "unattributed_rows": {"tax_income": 1},  # T-NOBODY: its ID "123" names nobody
        "held_rows": {},
    }
    plain = read_bundle(tmp_path / "plain")
    assert _rows(plain["households"]) == _rows(
        tables["households"].filter(pc.not_equal(tables["households"]["household_id"], third))
    )
    assert _rows(plain["persons"]) == _rows(tables["persons"])  # held only with --hold

    # the review of that bundle says first that it assesses them without those rows
    assert main(["review", str(tmp_path / "plain"), "--out", str(tmp_path / "r")]) == 0
    said = capsys.readouterr().out
    assert "quarantined rows of 3 households" in said
    assert all(h in said for h in expected)  # named, not only counted
    # the third is in neither results nor rejects, and only it is said to be missing
    assert "2 are assessed without those rows, and 1 is not in the bundle at all" in said
    # the review's record keeps what its console said: summary.json and report.html (an
    # auditor's blind check found households paid on a bundle that lacked some of their
    # rows, and only the console had said so)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text("utf-8"))
    assert summary["ingest_notes"] == quarantine_note(tmp_path / "plain").splitlines()
    assert all(h in summary["ingest_notes"][0] for h in expected)
    assert assess(tmp_path / "plain").summary["ingest_notes"] == summary["ingest_notes"]
    argv = ["review", str(tmp_path / "plain"), "--out", str(tmp_path / "rs"), "--spool"]
    assert main([*argv, "--quiet"]) == 0  # chunk by chunk, the same
    spooled = json.loads((tmp_path / "rs" / "summary.json").read_text("utf-8"))
    assert spooled["ingest_notes"] == summary["ingest_notes"]
    assert main(["report", str(tmp_path / "r")]) == 0
    page = (tmp_path / "r" / "report.html").read_text("utf-8")
    assert html.escape(summary["ingest_notes"][0]) in page and "数据导入提示" in page
    assert page.index("数据导入提示") < page.index("class='card'")  # above the figures
    capsys.readouterr()
    assert main(["reproduce", str(tmp_path / "r"), "--bundle", str(tmp_path / "plain")]) == 0
    summary["ingest_notes"] = []  # an edited record of what the ingest said is caught
    (tmp_path / "r" / "summary.json").write_text(json.dumps(summary), "utf-8")
    assert main(["reproduce", str(tmp_path / "r"), "--bundle", str(tmp_path / "plain")]) != 0
    assert "ingest_notes" in capsys.readouterr().out
    # and the household's own calculation document says it lacks those rows
    plain = str(tmp_path / "plain")
    fine = next(h for h in tables["households"]["household_id"].to_pylist() if h not in expected)
    # (and every other household may lack T-NOBODY, whose ID names nobody)
    for hid, lacks in ((member["household_id"], True), (fine, False)):
        for lang, own, may in (
            ("zh", "本户（或其成员、赡养人）有原始记录", "本户可能缺少"),
            ("en", "rows of this household", "may lack"),
        ):
            assert main(["explain", plain, hid, "--lang", lang]) == 0
            out = capsys.readouterr().out
            assert (own in out, may in out) == (lacks, not lacks), (hid, lang)
        assert main(["explain", plain, hid, "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["quarantined_rows"] is lacks
    assert main(["ingest", str(manifest), "--out", str(tmp_path / "again")]) == 0
    assert "2 are reviewed without those rows, and 1 is not in the bundle at all" in (
        capsys.readouterr().out
    )

    assert main(["ingest", str(manifest), "--out", str(tmp_path / "held"), "--hold"]) == 0
    doc = json.loads((tmp_path / "held" / "ingest.json").read_text("utf-8"))
    # the rows that left with them are counted by table, on the console too (a blind
    # test: 23 mapped rows were in neither the bundle nor any count)
    held_rows = doc["affected_households"]["held_rows"]
    assert held_rows["households"] == 2 and set(held_rows) <= set(schema.TABLES)
    for name in schema.TABLES:
        mapped = sum(f["rows_mapped"] for f in doc["files"] if f["table"] == name)
        assert mapped == doc["tables"][name] + held_rows.get(name, 0), name
    shown = ", ".join(f"{t} {n:,}" for t, n in held_rows.items())
    assert f"mapped rows left out with them: {shown}" in capsys.readouterr().out
    # the review of the held bundle names them: not in it, not assessed (a blind test: a
    # household paid 500 yuan a month was held back, and its review said nothing)
    assert main(["review", str(tmp_path / "held"), "--out", str(tmp_path / "rh")]) == 0
    said = capsys.readouterr().out
    assert "held back 3 households" in said and all(h in said for h in expected)
    notes = json.loads((tmp_path / "rh" / "summary.json").read_text("utf-8"))["ingest_notes"]
    assert notes == quarantine_note(tmp_path / "held").splitlines() and len(notes) == 2
    assert "not in this bundle and not assessed" in notes[0]
    assert "could not tell whose they are (tax_income 1;" in notes[1]  # T-NOBODY
    assert (
        doc["affected_households"]["held"]
        and doc["affected_households"]["household_ids"] == expected
    )
    held = read_bundle(tmp_path / "held")
    for name in schema.CASE_TABLES:
        keep = [r for r in tables[name].to_pylist() if r["household_id"] not in expected]
        assert sorted(map(repr, held[name].to_pylist())) == sorted(map(repr, keep)), name
        assert doc["tables"][name] == len(keep)
    # their members' and supporters' records go too (they were left matching nobody)
    people = {
        r.get("person_id") or r.get("supporter_id")
        for name in ("persons", "supporters")
        for r in tables[name].to_pylist()
        if r["household_id"] in expected
    }
    kept = set(
        held["persons"]["person_id"].to_pylist() + held["supporters"]["supporter_id"].to_pylist()
    )
    plain = read_bundle(tmp_path / "plain")
    for name in schema.SOURCE_TABLES:
        assert not people - kept & set(held[name]["person_id"].to_pylist()), name
        assert doc["tables"][name] == held[name].num_rows
    assert sum(held[n].num_rows for n in schema.SOURCE_TABLES) < sum(
        plain[n].num_rows for n in schema.SOURCE_TABLES
    )
    q = pq.read_table(tmp_path / "held" / "quarantine.parquet").to_pylist()
    held_rows = [r for r in q if r["reason"] == "held_household"]
    assert [r["record_id"] for r in held_rows] == expected
    assert "tax_income 1" in held_rows[expected.index(member["household_id"])]["detail"]


def test_large_files_get_a_progress_line_and_empty_exports_map_nothing(tmp_path, monkeypatch):
    import io

    import meanstest.ingest as ing

    (tmp_path / "v.toml").write_text((PROFILES / "vehicle.toml").read_text("utf-8"), "utf-8")
    header = "身份证号,号牌号码,车辆类型,评估价值(元),初次登记日期,机动车序号\n"
    (tmp_path / "v.csv").write_bytes(header.encode("gb18030"))
    (tmp_path / "w.csv").write_bytes((header + "\n\n").encode("gb18030"))
    m = _manifest(tmp_path, "[[source]]\nprofile = 'v.toml'\nfiles = ['v.csv', 'w.csv']\n")
    monkeypatch.setattr(ing, "PROGRESS_BYTES", 1)
    stream = io.StringIO()
    doc = ingest(m, tmp_path / "out", quiet=False, stream=stream)
    assert "bytes" in stream.getvalue() and "/s" in stream.getvalue()
    assert [(f["rows_read"], f["blank_lines"]) for f in doc["files"]] == [(0, 0), (0, 2)]
    assert read_bundle(tmp_path / "out")["vehicle"].num_rows == 0


def test_bad_boolean_and_bad_integer_cells_and_a_bad_profile_before_any_row(tmp_path):
    cols = {c.name: c.name for c in schema.TABLES["households"] if not c.optional}
    prof = (
        "[profile]\ntable = 'households'\nformat = 'jsonl'\n[columns]\n"
        + "".join(f"{k} = '{v}'\n" for k, v in cols.items())
        + "[values.area]\n'农村' = 'rural'\n"
    )
    (tmp_path / "h.toml").write_text(prof, "utf-8")
    row = {"household_id": "H1", "jurisdiction": "150422", "area": "农村",
           "assessment_date": "2024-07-01", "consent_signed": True, "checked_tax": True,
           "checked_bank": True, "checked_vehicle": True, "checked_housing": True,
           "checked_social_insurance": True, "declared_income_monthly": None,
           "declared_vehicles": "", "declared_properties": 1, "declared_financial_assets": None,
           "prev_status": "none", "prev_benefit": 0}  # fmt: skip
    rows = [row, {**row, "household_id": "H2", "consent_signed": "yes"},
            {**row, "household_id": "H3", "declared_vehicles": "1.5"}]  # fmt: skip
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
    (tmp_path / "h.jsonl").write_text(text, "utf-8")
    m = _manifest(tmp_path, "[[source]]\nprofile = 'h.toml'\nfiles = ['h.jsonl']\n")
    doc = ingest(m, tmp_path / "out")
    got = read_bundle(tmp_path / "out")["households"].to_pylist()
    assert [(r["household_id"], r["declared_vehicles"], r["declared_properties"]) for r in got] == [
        ("H1", None, 1)
    ]
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(r["line"], r["record_id"], r["column"], r["reason"]) for r in q] == [
        (2, "h.jsonl:2", "consent_signed", "bad_boolean"),
        (3, "h.jsonl:3", "declared_vehicles", "bad_integer"),
    ]
    # their own households rows are quarantined: affected, though not in the bundle
    assert doc["affected_households"]["household_ids"] == ["H2", "H3"]
    (tmp_path / "h.toml").write_text(prof + "[profile.extra]\n", "utf-8")
    with pytest.raises(ProfileError, match="profile.extra: unknown key"):
        ingest(m, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_parquet_decimal_and_float_amounts_in_yuan_are_read_exactly(tmp_path):
    import decimal

    prof = """
[profile]
table = "bank"
format = "parquet"
[columns]
person_id = "pid"
institution = "inst"
product = "product"
balance = "balance"
interest = "interest"
[units]
balance = "yuan"
interest = "yuan"
"""
    (tmp_path / "b.toml").write_text(prof, "utf-8")
    d = decimal.Decimal
    pq.write_table(pa.table({
        "pid": ["11010519491231002X"] * 4, "inst": ["农村信用合作联社"] * 4, "product": ["deposit"] * 4,
        "balance": pa.array([d("12345.600"), d("0.010"), d("1.005"), d("-2.000")], pa.decimal128(18, 3)),
        "interest": pa.array([12.5, 0.1, 0.1 + 0.2, 3.0], pa.float64()),
    }), tmp_path / "b.parquet")  # fmt: skip
    (tmp_path / "m.toml").write_text('[[source]]\nprofile = "b.toml"\nfiles = ["b.parquet"]\n')
    ingest(tmp_path / "m.toml", tmp_path / "out")
    got = read_bundle(tmp_path / "out")["bank"].to_pylist()
    assert [(r["balance"], r["interest"]) for r in got] == [(1234560, 1250), (1, 10), (-200, 300)]
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert [(r["line"], r["column"], r["raw_value"], r["reason"]) for r in q] == [
        (3, "balance", "1.005", "bad_amount"),  # fractions of a fen are an error, not rounded
        (3, "interest", "0.30000000000000004", "bad_amount"),  # a float with more decimals
    ]


def test_one_yuan_amount_is_the_same_fen_in_every_export_format(tmp_path):
    """DATA.md: money in yuan is a decimal string. 12.300 is 12.30 exactly whether a CSV,
    a Parquet text or decimal column, or a JSON number holds it (a helper's audit found
    the decimal column read and the others quarantined), and 1.2345678E7 in JSON is a
    number (Java's Double.toString). A fraction of a fen is an error in every format."""
    import decimal

    cols = "[columns]\nperson_id = 'pid'\ninstitution = 'inst'\nproduct = 'product'\n"
    cols += "balance = 'balance'\ninterest = 'interest'\n[units]\nbalance = 'yuan'\n"
    cols += "interest = 'yuan'\n"
    pid = "11010519491231002X"
    balances = ["12.300", "1,234.5000", "0.010", "1.0050"]  # the last is an error
    for fmt in ("csv", "jsonl", "parquet"):
        head = f"[profile]\ntable = 'bank'\nformat = '{fmt}'\n"
        (tmp_path / f"{fmt}.toml").write_text(head + cols, "utf-8")
    rows = [f'{pid},信用社,deposit,"{b}",0' for b in balances]
    (tmp_path / "b.csv").write_text("pid,inst,product,balance,interest\n" + "\n".join(rows) + "\n")
    numbers = ["12.300", "1234.5000", "1.0E-2", "1.0050"]  # JSON numbers, not strings
    numbers.append("1.2345678E7")
    lines = [
        f'{{"pid": "{pid}", "inst": "信用社", "product": "deposit", "balance": {b}, "interest": 0}}'
        for b in numbers
    ]
    (tmp_path / "b.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    d = decimal.Decimal
    pq.write_table(pa.table({
        "pid": [pid] * 4, "inst": ["信用社"] * 4, "product": ["deposit"] * 4,
        "balance": pa.array([d("12.300"), d("1234.500"), d("0.010"), d("1.005")], pa.decimal128(18, 3)),
        "interest": pa.array([d("0"), d("100"), d("0"), d("0")], pa.decimal128(10, 0)),
    }), tmp_path / "b.parquet")  # fmt: skip
    sources = "".join(
        f'[[source]]\nprofile = "{f}.toml"\nfiles = ["b.{f}"]\n'
        for f in ("csv", "jsonl", "parquet")
    )
    (tmp_path / "m.toml").write_text(sources, "utf-8")
    ingest(tmp_path / "m.toml", tmp_path / "out")
    got = read_bundle(tmp_path / "out")["bank"].to_pylist()
    by_file = {}
    for r in got:
        by_file.setdefault(r["record_id"].split(":")[0], []).append((r["balance"], r["interest"]))
    assert by_file == {
        "b.csv": [(1230, 0), (123450, 0), (1, 0)],
        "b.jsonl": [(1230, 0), (123450, 0), (1, 0), (1234567800, 0)],
        "b.parquet": [(1230, 0), (123450, 10000), (1, 0)],
    }
    q = pq.read_table(tmp_path / "out" / "quarantine.parquet").to_pylist()
    assert sorted((r["file"].split("/")[-1], r["raw_value"], r["reason"]) for r in q) == [
        ("b.csv", "1.0050", "bad_amount"),
        ("b.jsonl", "1.0050", "bad_amount"),
        ("b.parquet", "1.005", "bad_amount"),
    ]


def test_a_killed_ingest_leaves_a_folder_reviews_refuse(district, tmp_path):
    """Killed while its tables replace an earlier ingest's (new tables beside old ones,
    the old ingest.json beside them), the folder is marked incomplete and refused; the
    next ingest finishes it."""
    import os
    import subprocess
    import sys

    from meanstest.errors import BundleError

    _, manifest, _, _ = district
    out = tmp_path / "bundle"
    assert ingest(manifest, out)["accounting_closes"]
    env = {**os.environ, "MEANSTEST_FAULT_AT": "ingest:table"}
    command = [sys.executable, "-m", "meanstest.cli", "ingest", str(manifest), "--out", str(out)]
    assert subprocess.run(command, check=False, env=env, capture_output=True).returncode == -9
    with pytest.raises(BundleError, match="meanstest ingest of .* did not finish"):
        read_bundle(out)
    assert main(["review", str(out), "--out", str(tmp_path / "review")]) == 1
    ingest(manifest, out)
    assert read_bundle(out)["households"].num_rows == N_HOUSEHOLDS


def test_hold_also_leaves_out_the_records_of_a_member_whose_own_row_was_quarantined(tmp_path):
    """A member whose persons row is quarantined (a bad birth date) is held with the
    household, and so are his records: they stayed in the bundle, matching nobody (a
    review of the 2026-12-05 changes)."""
    tables = generate(40, 5)
    manifest = write_raw(tmp_path / "raw", tables, seed=5, dirt=False)
    taxed = set(tables["tax_income"]["person_id"].to_pylist())
    people = tables["persons"].to_pylist() + [
        {"person_id": s["supporter_id"], "household_id": s["household_id"]}
        for s in tables["supporters"].to_pylist()
    ]
    once = {
        p["person_id"]
        for p in people
        if [q["person_id"] for q in people].count(p["person_id"]) == 1
    }
    member = next(p for p in tables["persons"].to_pylist() if p["person_id"] in taxed & once)
    case = tmp_path / "raw" / "case" / "case_persons.csv"
    lines = case.read_text("utf-8-sig").split("\n")
    at = next(i for i, line in enumerate(lines) if member["person_id"] in line)
    cells = lines[at].split(",")
    cells[3] = "1949-13-31"  # birth_date: the row is quarantined (bad_date)
    lines[at] = ",".join(cells)
    case.write_text("\ufeff" + "\n".join(lines), "utf-8")
    doc = ingest(manifest, tmp_path / "held", hold=True)
    assert member["household_id"] in doc["affected_households"]["household_ids"]
    held = read_bundle(tmp_path / "held")
    for name in schema.SOURCE_TABLES:
        assert member["person_id"] not in set(held[name]["person_id"].to_pylist()), name


def test_unreadable_rows_are_tied_to_the_household_whose_ids_they_hold(tmp_path, capsys):
    """A row no reader can split into cells (bad_json, bad_row) is a household's when its
    text holds a member's resident ID, or for a case export the household_id in its
    household_id column — not another household's ID elsewhere in the row; one that
    names nobody is counted as tied to no household, and the ingest and the review say
    so (a blind test: a bank export whose rows had one field too many was quarantined
    whole, and no household was named, held back or noted)."""
    tables = generate(30, 4)
    manifest = write_raw(tmp_path / "raw", tables, seed=4, dirt=False)
    persons = tables["persons"].to_pylist()
    member = persons[0]
    other = next(p for p in persons if p["household_id"] != member["household_id"])
    bystander = next(
        h for h in tables["households"]["household_id"].to_pylist()
        if h not in (member["household_id"], other["household_id"])
    )  # fmt: skip
    with open(tmp_path / "raw" / "tax" / "tax_income.jsonl", "a", encoding="utf-8") as f:
        wide = "".join(chr(ord(c) + 0xFEE0) for c in member["person_id"])  # full-width
        f.write(f'{{"纳税人识别号": "{wide}", "所得项目": "工资薪金所得", "收入额": "12",}}\n')
        f.write('{"纳税人识别号": "nobody", "所得项目"\n')
    with open(tmp_path / "raw" / "case" / "case_persons.csv", "a", encoding="utf-8") as f:
        f.write(
            f"{other['household_id']},11010519491231002X,{bystander},1949-12-31,健康,非在校,无,0,0,多\n"
        )
    doc = ingest(manifest, tmp_path / "plain")
    affected = doc["affected_households"]
    assert affected["household_ids"] == sorted({member["household_id"], other["household_id"]})
    assert bystander not in affected["household_ids"]  # its ID is in the row, elsewhere
    assert affected["unattributed_rows"] == {"tax_income": 1}
    assert doc["quarantine"]["by_reason"] == {"bad_json": 2, "bad_row": 1}

    assert main(["review", str(tmp_path / "plain"), "--out", str(tmp_path / "r")]) == 0
    said = capsys.readouterr().out
    assert member["household_id"] in said and other["household_id"] in said
    assert "could not tell whose they are (tax_income 1" in said
    assert "they are assessed without those rows" in said and "at all" not in said
    # a household's own document: it lacks rows, or (a bystander) may lack the untied one
    for hid, lacks in ((member["household_id"], "被隔离"), (bystander, "可能缺少")):
        assert main(["explain", str(tmp_path / "plain"), hid]) == 0
        assert lacks in capsys.readouterr().out, hid
    assert main(["explain", str(tmp_path / "plain"), bystander, "--format", "json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert (explained["quarantined_rows"], explained["unattributed_quarantined_rows"]) == (False, 1)

    held = ingest(manifest, tmp_path / "held", hold=True)
    assert held["affected_households"]["held"]
    kept = set(read_bundle(tmp_path / "held")["households"]["household_id"].to_pylist())
    assert not kept & {member["household_id"], other["household_id"]}


def test_an_unreadable_case_row_with_line_breaks_is_tied_by_its_household_id_column():
    """A misquoted record's text (its cells rejoined: the rows a quote swallowed, line
    breaks outside any quote) gives the household_id column's value of each of its lines,
    and its IDs (Python's csv reader refused such text: the ingest stopped with its
    error; then only the first line's household was named)."""
    import types

    from meanstest.affected import unread_row

    profile = types.SimpleNamespace(
        table="persons", format="csv", delimiter=",", columns={"household_id": "户号"}
    )
    raw = "H7,150422198001010016,open\nH8,150422197003030032,x\nH9"
    found = unread_row(raw, profile, ["户号", "证件号", "备注"])
    assert found.households == {"H7", "H8", "H9"}
    assert found.ids == {"150422198001010016", "150422197003030032"}
    # a properly quoted cell over lines before the household_id column is one record's
    # (a review: cutting at every line break named the ID as the household, and lost it)
    # (line by line it also reads the ID there: a value that names no household of the
    # bundle is dropped when households are tied, affected_households' `present`)
    header = ["序号", "备注", "户号", "证件号"]
    raw = '1,"住址甲市\n乙县",H7,150422198001010016,多余'
    assert "H7" in unread_row(raw, profile, header).households
    # a remark's line naming another household is no row of it (a review: that household
    # was held back), and a full-width number is read as the mapped rows' ids are
    raw = 'HH29,150422198001010016,x,"分户说明：\nHH30,原户已注销"'
    # a remark's line naming another household names it too: noted (held with --hold),
    # the safe side of a short row a stray quote read in (a review), which would else
    # leave its household a member short in silence
    assert unread_row(raw, profile, ["户号", "证件号", "关系", "备注"]).households == {
        "HH29",
        "HH30",
    }
    raw = 'H4,150422198001010016,子女,"见附件\nH5,150404199803280001\nH6,150422197003030032,户主,同上",多余'
    assert unread_row(raw, profile, ["户号", "证件号", "关系", "备注"]).households == {
        "H4",
        "H5",
        "H6",
    }
    raw = "ＨＨ２９,150422198001010016,x,y,z"
    assert unread_row(raw, profile, ["户号", "证件号", "关系", "备注"]).households == {"HH29"}
    # a stray quote that pairs with the next row's reads that row into the record: the
    # row is a line with a row's delimiters, and names its household (a review)
    raw = 'HH010,150422198001010016,配偶,"见附件\nHH011,150422197003030032,户主,同上",'
    found = unread_row(raw, profile, ["户号", "证件号", "关系", "备注", "空"])
    assert found.households == {"HH010", "HH011"}
    # a stray quote inside a swallowed line does not carry the reading past the others
    raw = 'H4,150422198001010016,"见附件\nH5,150422197003030032,"\nH6,150422198402290004,同上"'
    assert {"H4", "H5", "H6"} <= unread_row(raw, profile, ["户号", "证件号", "备注"]).households
    # only line feeds end lines: a CR, a form feed or U+2028 inside a cell does not
    for ch in "\r\x0c\u2028\x1e":
        raw = f"1,住址甲市{ch}乙县,H7,150422198001010016,多余"
        assert "H7" in unread_row(raw, profile, header).households


def test_a_mistyped_household_id_is_said_to_have_no_households_row(tmp_path, capsys):
    """A persons row of a household that never existed (a mistyped household_id) names
    that id as affected and not in the bundle, and the words say why either may be: its
    row quarantined, or none in the case export (a review: they said "own households row
    quarantined", which it never had; then "reviewed without those rows", which it is
    not)."""
    tables = generate(30, 4)
    manifest = write_raw(tmp_path / "raw", tables, seed=4, dirt=False)
    with open(tmp_path / "raw" / "case" / "case_persons.csv", "a", encoding="utf-8") as f:
        f.write("HH-TYPO,11010519491231002X,子女,1949-13-31,健康,非在校,无,0,0\n")
    doc = ingest(manifest, tmp_path / "out")
    assert doc["affected_households"]["household_ids"] == ["HH-TYPO"]
    assert doc["affected_households"]["not_in_bundle"] == 1
    assert main(["ingest", str(manifest), "--out", str(tmp_path / "again")]) == 0
    said = capsys.readouterr().out
    assert "1 is not in the bundle at all (no households row: quarantined, or none" in said
    assert "reviewed without" not in said


def test_resent_keys_orphan_members_and_full_width_household_numbers(tmp_path, capsys):
    """Three things a blind test of a realistic county ingest found passing in silence:
    a month's export sent again under another name (its department keys twice: every
    wage counted twice), a member whose household number matches no household, and a
    household number typed in full-width digits. The first two are warnings (stderr,
    ingest.json, the review's notes); the third is cleaned up to its household."""
    tables = generate(30, 4)
    manifest = write_raw(tmp_path / "raw", tables, seed=4, dirt=False)
    raw = tmp_path / "raw"
    jsonl = raw / "tax" / "tax_income.jsonl"
    lines = jsonl.read_text("utf-8").splitlines()
    (raw / "tax" / "tax_income_resent.jsonl").write_text("\n".join(lines[:3]) + "\n", "utf-8")
    text = manifest.read_text("utf-8").replace(
        'files = ["tax/tax_income.jsonl"]',
        'files = ["tax/tax_income.jsonl", "tax/tax_income_resent.jsonl"]',
    )
    assert text != manifest.read_text("utf-8")
    manifest.write_text(text, "utf-8")
    path = raw / "case" / "case_persons.csv"
    rows = path.read_text("utf-8-sig").split("\n")
    wide_home = rows[2].split(",")[0]
    rows[2] = (
        wide_home.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789H"})
        + rows[2][len(wide_home) :]
    )
    rows[3] = "HH-NOWHERE" + rows[3][rows[3].index(",") :]
    path.write_text("\n".join(rows), "utf-8-sig")
    assert main(["ingest", str(manifest), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    err = capsys.readouterr().err
    doc = json.loads((tmp_path / "out" / "ingest.json").read_text("utf-8"))
    dup = doc["duplicate_keys"]["tax_income"]
    assert dup["keys"] == 3 and dup["rows"] == 6
    assert "tax_income: 3 department keys each on more than one row" in err
    assert doc["orphan_rows"] == {"rows": 1, "households": 1, "household_ids": ["HH-NOWHERE"]}
    assert "1 persons or supporters row names a household with no households row" in err
    persons = read_bundle(tmp_path / "out")["persons"]
    assert (
        persons["household_id"].to_pylist().count(wide_home)
        == [r.split(",")[0] for r in rows[1:] if r].count(wide_home) + 1
    )  # the full-width one found its household
    assert main(["review", str(tmp_path / "out"), "--out", str(tmp_path / "r")]) == 0
    said = capsys.readouterr().out
    assert "note: the ingest of this bundle warned: tax_income: 3 department keys" in said
    assert "persons/supporters rows of no household 1" in said


def test_duplicate_keys_are_one_persons_key_on_several_rows(tmp_path):
    """The same key for two people (a firm's code for its representative and a
    shareholder) is no record twice; the same key for one person twice is."""
    from meanstest.affected import duplicate_keys

    tmp = {t: tmp_path / f"{t}.parquet" for t in schema.TABLES}
    for t in schema.TABLES:
        pq.write_table(schema.arrow_schema(t).empty_table(), tmp[t])
    rows = [("B1", "110105194912310021"), ("B1", "150422198001010016"),
            ("B2", "110105194912310021"), ("B2", "110105194912310021"),
            ("B3", "110105194912310021"), ("B3", "110105194912310021"),
            ("B3", "150422198001010016"), ("B3", "150422198001010016")]  # fmt: skip
    table = pa.table({"record_id": [r for r, _ in rows], "person_id": [p for _, p in rows]})
    pq.write_table(table, tmp["business_registration"])
    # elsewhere a key is one record whoever it names: a re-sent wage with its person_id
    # corrected is the same wage (a review: it was no longer warned of)
    pq.write_table(table, tmp["tax_income"])
    assert duplicate_keys(tmp) == {
        "business_registration": {"keys": 2, "rows": 6, "examples": ["B2", "B3"]},
        "tax_income": {"keys": 3, "rows": 8, "examples": ["B1", "B2", "B3"]},
    }


def test_a_persons_row_a_stray_quote_swallowed_names_its_household_too(tmp_path):
    """Two stray quotes on adjacent rows of the case persons export read the second
    household's head into the first row's remark: both households are named (a blind
    test: the second was assessed with a member missing, DIBAO 886.00 instead of 396.00,
    and --hold kept it)."""
    tables = generate(30, 4)
    manifest = write_raw(tmp_path / "raw", tables, seed=4, dirt=False)
    path = tmp_path / "raw" / "case" / "case_persons.csv"
    lines = path.read_text("utf-8-sig").split("\n")
    homes = [ln.split(",")[0] for ln in lines]
    at = next(i for i in range(2, len(lines) - 1) if homes[i] != homes[i + 1] and homes[i + 1])
    first, second = homes[at], homes[at + 1]
    lines[at] = lines[at].rsplit(",", 1)[0] + ',"说明'
    lines[at + 1] = lines[at + 1].rsplit(",", 1)[0] + ',同上"'
    path.write_text("\n".join(lines), "utf-8-sig")
    doc = ingest(manifest, tmp_path / "out")
    assert doc["quarantine"]["by_reason"] == {"bad_row": 1}
    assert {first, second} <= set(doc["affected_households"]["household_ids"])
    held = ingest(manifest, tmp_path / "held", hold=True)
    kept = set(read_bundle(tmp_path / "held")["households"]["household_id"].to_pylist())
    assert held["affected_households"]["held"] and not kept & {first, second}


def test_a_bad_id_cell_holding_a_valid_id_names_that_persons_household(tmp_path):
    """Excel protects an ID from becoming a number as ="150422…" or '150422…: the cell is
    a bad ID (DATA.md names the clean-ups, and these are not among them), but the row is
    that person's, so their household is named as lacking it (a blind test: the
    household was assessed without its car, and nobody was told)."""
    tables = generate(30, 4)
    manifest = write_raw(tmp_path / "raw", tables, seed=4, dirt=False)
    persons = tables["persons"].to_pylist()
    a, b = persons[0], next(p for p in persons if p["household_id"] != persons[0]["household_id"])
    with open(tmp_path / "raw" / "tax" / "tax_income.jsonl", "a", encoding="utf-8") as f:
        for k, cell in enumerate((f'="{a["person_id"]}"', f"'{b['person_id']}", "12345")):
            row = {"纳税人识别号": cell, "所得项目": "工资薪金所得", "收入额": "12",
                   "明细流水号": f"T-X{k}"}  # fmt: skip
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    doc = ingest(manifest, tmp_path / "out")
    assert doc["quarantine"]["by_reason"] == {"bad_id": 3}
    assert doc["affected_households"]["household_ids"] == sorted(
        {a["household_id"], b["household_id"]}
    )


def test_a_row_quarantined_for_its_id_is_tied_to_whom_the_id_was_meant_or_to_none(tmp_path, capsys):
    """A source row whose ID cell is bad names its person when only the check character
    is wrong (a typed 0 for X), so that household is told it lacks the row; an ID cell
    naming nobody (Excel's 1.50422E+17), or a case row with no household_id, is counted
    as tied to no household. A blind test's wage row with a mistyped check character and
    a housing row of Excel's scientific notation were in the quarantine only: the
    household was assessed as final and nothing said any household might lack them."""
    tables = generate(30, 4)
    manifest = write_raw(tmp_path / "raw", tables, seed=4, dirt=False)
    member = tables["persons"].to_pylist()[0]
    pid = member["person_id"]
    typo = pid[:17] + ("0" if pid[17] != "0" else "1")
    with open(tmp_path / "raw" / "tax" / "tax_income.jsonl", "a", encoding="utf-8") as f:
        f.writelines(
            f'{{"纳税人识别号": "{who}", "所得项目": "工资薪金所得", "收入额": "12", '
            f'"明细流水号": "TYPO{i}"}}\n'
            for i, who in enumerate((typo, "1.50422E+17"))
        )
    with open(tmp_path / "raw" / "case" / "case_persons.csv", "a", encoding="utf-8") as f:
        f.write(",11010519491231002X,户主,1949-12-31,健康,非在校,无,0,0.00\n")
    assert main(["ingest", str(manifest), "--out", str(tmp_path / "plain")]) == 0
    said = capsys.readouterr().out
    assert "quarantined rows tied to no household (persons 1, tax_income 1)" in said
    assert "1 household has quarantined rows of their own or of a member or supporter" in said
    doc = json.loads((tmp_path / "plain" / "ingest.json").read_text("utf-8"))
    affected = doc["affected_households"]
    assert affected["household_ids"] == [member["household_id"]]
    assert affected["unattributed_rows"] == {"persons": 1, "tax_income": 1}
    assert doc["quarantine"]["by_reason"] == {"bad_id": 2, "empty_required": 1}
    assert main(["review", str(tmp_path / "plain"), "--out", str(tmp_path / "r")]) == 0
    said = capsys.readouterr().out
    assert member["household_id"] in said
    assert "could not tell whose they are (persons 1, tax_income 1;" in said
    doc = ingest(manifest, tmp_path / "held", hold=True)
    assert doc["affected_households"]["household_ids"] == [member["household_id"]]
    held = read_bundle(tmp_path / "held")["households"]["household_id"].to_pylist()
    assert member["household_id"] not in held


def test_unreadable_rows_beyond_the_kept_ones_are_counted_as_tied_to_none(tmp_path, monkeypatch):
    """Unreadable rows are examined for IDs up to UNREAD_KEPT (a million); any beyond are
    counted as tied to no household, not dropped (a sweep: the bound was untested)."""
    import meanstest.ingest as ingest_module

    tables = generate(30, 4)
    manifest = write_raw(tmp_path / "raw", tables, seed=4, dirt=False)
    member = tables["persons"].to_pylist()[0]
    with open(tmp_path / "raw" / "tax" / "tax_income.jsonl", "a", encoding="utf-8") as f:
        f.writelines(
            f'{{"纳税人识别号": "{member["person_id"]}", "所得项目": [\n' for _ in range(3)
        )
    monkeypatch.setattr(ingest_module, "UNREAD_KEPT", 2)
    affected = ingest(manifest, tmp_path / "out")["affected_households"]
    assert affected["household_ids"] == [member["household_id"]]  # by the two examined
    assert affected["unattributed_rows"] == {"tax_income": 1}  # the third


def test_an_unreadable_row_names_an_id_written_with_spaces_inside():
    """An ID cell loses all whitespace (DATA.md), so an unreadable row holding
    "150422 19800101 0016" (or with full-width spaces, tabs, a lower-case x) names that
    person; digits of other fields next to it do not hide it, and 18 digits that are no
    valid ID name nobody (they were counted as tied to no household)."""
    import types

    from meanstest.affected import unread_row

    profile = types.SimpleNamespace(table="bank", format="jsonl", delimiter=",", columns={})
    raw = (
        '{"a": "7 150422 19800101 0016", "b": "1504\u3000221970\t0303 0032", '
        '"c": "11010519491231002x", "d": "123456 789012 345678"'
    )
    found = unread_row(raw, profile, [])
    assert found.ids == {"150422198001010016", "150422197003030032", "11010519491231002X"}
    assert unread_row('{"a": "123456 789012 345678", "b": 1', profile, []).ids == frozenset()


def test_a_partial_ingest_record_is_said_not_a_crash(tmp_path):
    """An ingest.json whose warnings lack a part (duplicate_keys without its examples, as
    an edited file may) stopped a quiet review, `meanstest.assess` and reproduce with a
    KeyError once the review kept the ingest's notes in summary.json."""
    from meanstest.affected import ingest_notes

    write_bundle(generate(20, 2), tmp_path / "b")
    affected = {"count": 0, "held": False, "household_ids": [], "not_in_bundle": 0}
    doc = {"affected_households": affected, "duplicate_keys": {"bank": {"keys": 2, "rows": 4}}}
    (tmp_path / "b" / "ingest.json").write_text(json.dumps(doc), "utf-8")
    said = "its warnings could not be read (ingest.json is partial or was edited)"
    assert ingest_notes(tmp_path / "b") == [f"note: the ingest of this bundle warned: {said}"]
    del doc["affected_households"]  # the warnings are read even without that part
    (tmp_path / "b" / "ingest.json").write_text(json.dumps(doc), "utf-8")
    assert ingest_notes(tmp_path / "b") == [f"note: the ingest of this bundle warned: {said}"]
    assert main(["review", str(tmp_path / "b"), "--out", str(tmp_path / "r"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text("utf-8"))
    assert summary["ingest_notes"] == ingest_notes(tmp_path / "b")


def test_cli_ingest_line_of_an_empty_quarantine_and_of_two_reasons(tmp_path, capsys):
    """The console's quarantine line: "0 entries ;" had a stray space before its `;`."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "veh.toml").write_text(
        '[profile]\ntable = "vehicle"\nformat = "csv"\nencoding = "utf-8"\n'
        '[columns]\nperson_id = "id"\nplate = "plate"\nvehicle_type = "type"\n'
        'value = "value"\nregistered_on = "on"\n[units]\nvalue = "yuan"\n',
        encoding="utf-8",
    )
    (tmp_path / "m.toml").write_text(
        '[[source]]\nprofile = "veh.toml"\nfiles = ["raw/v.csv"]\n', encoding="utf-8"
    )
    head = "id,plate,type,value,on\n"
    good = "150422195106296993,P1,car,100.00,2024-03-05\n"
    (tmp_path / "raw" / "v.csv").write_text(head + good, encoding="utf-8")
    assert main(["ingest", str(tmp_path / "m.toml"), "--out", str(tmp_path / "a")]) == 0
    assert "quarantine: 0 rows, 0 entries; quarantine.parquet and ingest.json in" in (
        capsys.readouterr().out
    )
    bad = "150422195106296993,P2,car,lots,2024-03-05\n150422195106296993,P3,car,1.00,someday\n"
    (tmp_path / "raw" / "v.csv").write_text(head + good + bad, encoding="utf-8")
    assert main(["ingest", str(tmp_path / "m.toml"), "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    line = r"^quarantine: 2 rows, 2 entries bad_\w+ 1, bad_\w+ 1; quarantine"
    assert re.search(line, out, re.MULTILINE), out


def test_an_ingest_record_nested_too_deeply_gives_no_note(tmp_path):
    """A review reads the bundle's ingest.json for its first note; one nested too deeply
    ended the review in a RecursionError before it began. Unreadable, it says nothing,
    as a missing or malformed record does."""
    (tmp_path / "ingest.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert quarantine_note(tmp_path) is None


def test_an_ingest_record_with_a_lone_surrogate_gives_no_note(tmp_path):
    """ "\\ud800" is valid JSON and a text with no UTF-8: a household ID so written in
    ingest.json ended the review in a UnicodeEncodeError, printing its note or writing
    summary.json. Unreadable, the record says nothing, as a malformed one does."""
    record = {"affected_households": {"count": 1, "held": False, "household_ids": ["\ud800"]}}
    (tmp_path / "ingest.json").write_text(json.dumps(record), encoding="utf-8")
    assert quarantine_note(tmp_path) is None


def test_a_manifest_without_the_households_export_is_warned_of(tmp_path, capsys):
    """A manifest that lists department files but not the case system's households
    export wrote a bundle of no household, exit 0, without a word: every record of it is
    then of nobody (a blind test of messy exports)."""
    tables = generate(10, 5)
    manifest = write_raw(tmp_path / "raw", tables, seed=5, dirt=False)
    text = manifest.read_text("utf-8")
    blocks = text.split("[[source]]")
    kept = [b for b in blocks if "case_households" not in b]
    assert len(kept) == len(blocks) - 1
    manifest.write_text("[[source]]".join(kept), "utf-8")
    assert main(["ingest", str(manifest), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    err = capsys.readouterr().err
    doc = json.loads((tmp_path / "out" / "ingest.json").read_text("utf-8"))
    assert doc["tables"]["households"] == 0 and doc["tables"]["persons"] > 0
    assert "warning: the bundle has no households row" in err
    assert "does the manifest list the case system's households export?" in err


def test_a_manifest_without_a_department_s_export_is_warned_of(tmp_path, capsys):
    """A manifest without the bank's exports wrote an empty bank.parquet and said only
    "bank 0" among the counts; the review, finding a bank table, said nothing, and read
    every household as having no savings (the export that never arrived, found through
    the absent-table check of 2026-12-07). The ingest now warns, and its note reaches
    the review's summary.json and report."""
    tables = generate(10, 5)
    manifest = write_raw(tmp_path / "raw", tables, seed=5, dirt=False)
    blocks = manifest.read_text("utf-8").split("[[source]]")
    kept = [b for b in blocks if 'profile = "profiles/bank' not in b]
    assert len(kept) < len(blocks)
    manifest.write_text("[[source]]".join(kept), "utf-8")
    out = tmp_path / "out"
    assert main(["ingest", str(manifest), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    doc = json.loads((out / "ingest.json").read_text("utf-8"))
    assert doc["tables_without_export"] == ["bank"] and doc["tables"]["bank"] == 0
    assert "warning: no export in the manifest for bank: written empty" in err
    assert main(["review", str(out), "--out", str(tmp_path / "review"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "review" / "summary.json").read_text("utf-8"))
    assert any("no export in the manifest for bank" in n for n in summary["ingest_notes"])
    hid = pq.read_table(out / "households.parquet")["household_id"][0].as_py()
    assert main(["explain", str(out), hid]) == 0
    assert (
        "注意：数据导入时清单中没有以下部门的导出数据：银行存款及金融资产"
        in capsys.readouterr().out
    )
    assert main(["explain", str(out), hid, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["tables_without_export"] == ["bank"]


def test_a_full_manifest_has_every_table_exported(district):
    assert district[3]["tables_without_export"] == []


def test_an_edited_record_s_tables_without_export_warn_of_table_names_only():
    from meanstest.affected import ingest_warnings

    (line,) = ingest_warnings({"tables_without_export": ["x" * 10_000, "bank", {"a": 1}]})
    assert line.startswith("no export in the manifest for bank: written empty")
    assert ingest_warnings({"tables_without_export": "bank"}) == []


def test_a_household_id_on_two_households_rows_is_warned_of(tmp_path, capsys):
    """Two case exports listing one household: the review rejects every row of the id
    (DATA.md), and the ingest said nothing (a blind test of messy exports)."""
    tables = generate(10, 6)
    manifest = write_raw(tmp_path / "raw", tables, seed=6, dirt=False)
    path = tmp_path / "raw" / "case" / "case_households.csv"
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join([*lines, lines[1]]) + b"\n")
    assert main(["ingest", str(manifest), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    err = capsys.readouterr().err
    doc = json.loads((tmp_path / "out" / "ingest.json").read_text("utf-8"))
    first = lines[1].split(b",")[0].decode("ascii")
    assert doc["duplicate_keys"]["households"] == {"keys": 1, "rows": 2, "examples": [first]}
    assert f"households: 1 household_id each on more than one row (2 rows: {first})" in err


def test_an_out_folder_where_the_bundle_would_overwrite_an_input_is_refused(tmp_path):
    """`ingest --out raw/bank` wrote the bundle's bank.parquet over the bank's own export
    of that name, exit 0: a department's file lost (an adversarial run). Such a folder is
    refused and nothing in it changes; one whose inputs the ingest does not write over
    (the raw exports' own folder, its subfolders) is still written."""
    import hashlib

    tables = generate(10, 7)
    manifest = write_raw(tmp_path / "raw", tables, seed=7, dirt=False)
    own = manifest.parent / "bank" / "bank.parquet"  # the bank's export, named so
    assert '"bank/bank.parquet"' in manifest.read_text("utf-8")

    def digests():
        return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in own.parent.iterdir()}

    before = digests()
    with pytest.raises(MeansTestError, match=r"--out .* holds bank.parquet, which this ingest"):
        ingest(manifest, own.parent)
    assert digests() == before
    doc = ingest(manifest, manifest.parent)  # the manifest's folder: nothing of it written over
    assert doc["tables"]["bank"] > 0 and digests() == before


def test_a_full_disk_is_one_line_naming_the_folder(district, tmp_path):
    """Ingest into a full tmpfs (a blind operator's check, 2026-12-07) said "Error
    writing bytes to file" without saying where, then printed pyarrow's "Exception
    ignored" traceback for every table writer whose close failed again when collected.
    Two of the writers here write to /dev/full (their .tmp files are links to it)."""
    import os
    import subprocess
    import sys

    _, manifest, _, _ = district
    out = tmp_path / "bundle"
    out.mkdir()
    for table in ("tax_income", "bank"):
        (out / f"{table}.parquet.tmp").symlink_to("/dev/full")
    command = [sys.executable, "-m", "meanstest.cli", "ingest", str(manifest), "--out", str(out)]
    run = subprocess.run(command, check=False, capture_output=True, text=True, env=os.environ)
    assert run.returncode == 1
    assert run.stderr.endswith(f"No space left on device: {out}\n"), run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    # no table, no .tmp, no link; the folder's lock (outputs.LOCK), never removed
    assert sorted(p.name for p in out.iterdir()) == [".review.lock"]


def test_a_writer_whose_close_failed_is_not_closed_again_when_collected(tmp_path, monkeypatch):
    """close_quietly (ingest, the review's outputs and spool): a writer on a full disk
    fails to close; left open, pyarrow's __del__ closed it again on collection and
    printed the failure as "Exception ignored"."""
    import gc
    import sys

    from meanstest.review.state import close_quietly

    class FullDisk:  # in place of the C++ writer: its file system is full
        def close(self):
            raise OSError(28, "Error writing bytes to file. Detail: No space left on device")

    raised = []
    monkeypatch.setattr(sys, "unraisablehook", raised.append)
    writer = pq.ParquetWriter(tmp_path / "t.parquet", pa.schema([("a", pa.int64())]))
    writer.write_table(pa.table({"a": [1, 2, 3]}))
    real, writer.writer = writer.writer, FullDisk()
    close_quietly([writer])
    del writer
    gc.collect()
    assert raised == []
    real.close()


def test_two_ingests_into_one_folder_refuse_each_other(district, tmp_path):
    """Two ingests into one --out took no lock: both failed, one naming no problem, one
    an unnamed file, once with a traceback (D4 of a blind operator's check, 2026-12-07).
    The second now says another ingest is writing the folder, and writes nothing."""
    from builders import lock_held_by_another

    _, manifest, _, _ = district
    out = tmp_path / "bundle"
    out.mkdir()
    with lock_held_by_another(out, "ingest"):
        with pytest.raises(MeansTestError, match=f"^{out}: another ingest is writing this"):
            ingest(manifest, out)
        assert sorted(p.name for p in out.iterdir()) == [".review.lock"]  # the holder's
    assert ingest(manifest, out)["accounting_closes"]  # once it is done


def test_a_bad_json_line_of_a_gb18030_export_is_tied_to_its_household(tmp_path):
    """The household_id of a case export's line that is not JSON is found in the line's
    text as the export wrote it: decoded as UTF-8, a GB18030 line's Chinese keys were
    mojibake, no household was named, and `--hold` could not hold it (a blind test)."""
    (tmp_path / "hh.toml").write_text(
        '[profile]\ntable = "households"\nformat = "jsonl"\nencoding = "gb18030"\n'
        '[columns]\nhousehold_id = "家庭编号"\njurisdiction = "区划"\narea = "城乡"\n'
        'assessment_date = "日期"\nconsent_signed = "授权"\nprev_status = "类别"\n'
        'prev_benefit = "救助金"\n',
        encoding="utf-8",
    )
    line = (
        '"家庭编号":"H1","区划":"150422","城乡":"urban","日期":"2024-03-01","授权":true,'
        '"类别":"none","救助金":0'
    )
    (tmp_path / "hh.jsonl").write_bytes(f"{{{line}}}\n{{{line},}}\n".encode("gb18030"))
    manifest = tmp_path / "manifest.toml"
    manifest.write_text('[[source]]\nprofile = "hh.toml"\nfiles = ["hh.jsonl"]\n', encoding="utf-8")
    doc = ingest(manifest, tmp_path / "bundle")
    affected = doc["affected_households"]
    assert (affected["household_ids"], affected["unattributed_rows"]) == (["H1"], {})
    quarantined = pq.read_table(tmp_path / "bundle" / "quarantine.parquet").to_pylist()
    assert [(q["line"], q["raw_value"]) for q in quarantined] == [(2, f"{{{line},}}")]


def test_ingest_json_names_paths_as_the_manifest_does_from_any_folder(tmp_path, monkeypatch):
    """The same inputs give the same ingest.json whatever folder the ingest runs in: its
    paths are the manifest's own, relative to the manifest's folder, and the manifest is
    named by its file name (they were relative to the working folder: a blind test)."""
    manifest = write_raw(tmp_path / "raw", generate(20, 5), seed=5)
    monkeypatch.chdir(tmp_path)
    ingest(Path("raw") / manifest.name, tmp_path / "a")
    monkeypatch.chdir(manifest.parent)
    ingest(manifest.name, tmp_path / "b")
    a, b = ((tmp_path / x / "ingest.json").read_bytes() for x in "ab")
    assert a == b
    doc = json.loads(a)
    assert doc["manifest"] == manifest.name
    for f in doc["files"]:
        assert (manifest.parent / f["file"]).is_file() and not f["file"].startswith("raw/")


def test_one_export_may_fill_two_tables_each_by_its_own_profile(tmp_path):
    """A tax export whose rows give a wage and a business registration is listed once per
    table, each with its profile: read into both (it was refused as "listed twice (its
    rows would be doubled)", a blind test); listed twice for one table, still refused."""
    wage = (
        '[columns]\nperson_id = "证件号"\namount = "工资薪金(元)"\n'
        '[units]\namount = "yuan"\n[defaults]\nincome_type = "wage"\n'
    )
    firm = (
        '[columns]\nperson_id = "证件号"\nrole = "经营角色"\nannual_turnover = "年营业额(元)"\n'
        'employees = "雇员数"\n[values.role]\n"个体" = "self_employed"\n'
        '[units]\nannual_turnover = "yuan"\n'
    )
    profiles = {"wage.toml": ("tax_income", wage), "firm.toml": ("business_registration", firm)}
    for name, (table, rest) in profiles.items():
        head = f'[profile]\ntable = "{table}"\nformat = "csv"\nencoding = "utf-8"\n'
        (tmp_path / name).write_text(head + rest, encoding="utf-8")
    (tmp_path / "tax.csv").write_text(
        '证件号,工资薪金(元),经营角色,年营业额(元),雇员数\n150422196503040013,"3,000.00",个体,"50,000",2\n',
        encoding="utf-8",
    )
    both = "[[source]]\nprofile = '{}'\nfiles = ['tax.csv']\n"
    m = _manifest(tmp_path, both.format("wage.toml") + both.format("firm.toml"))
    doc = ingest(m, tmp_path / "out")
    assert (doc["tables"]["tax_income"], doc["tables"]["business_registration"]) == (1, 1)
    bundle = read_bundle(tmp_path / "out")
    assert bundle["tax_income"]["amount"].to_pylist() == [300000]
    assert bundle["business_registration"]["annual_turnover"].to_pylist() == [5000000]
    assert [f.get("same_bytes_as") for f in doc["files"]] == [None, None]
    m = _manifest(tmp_path, both.format("wage.toml") * 2)
    with pytest.raises(ProfileError, match="listed twice for tax_income"):
        ingest(m, tmp_path / "again")
