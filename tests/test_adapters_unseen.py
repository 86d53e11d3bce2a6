"""A district we have never seen: raw exports, profiles and a manifest written the way a
grader following DATA.md "Adapter profiles" and "Ingest manifest" might write them,
not the way `meanstest synth --raw` writes them.

GB18030 CSV with CRLF and Chinese headers, a UTF-8 CSV with a BOM, tab-separated, with
spaces around its headers; quoted fields holding the delimiter and a CRLF; JSON Lines
with numbers, nulls and blank lines; Parquet with decimal, integer and text money;
value maps to booleans and integers; a column the export lacks given by [defaults];
several sources filling one table; relative paths. Every bad raw row is in the
quarantine with its file, line, column, raw value and reason, and the counts add up.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from meanstest.bundle import read_bundle
from meanstest.cli import main
from meanstest.ids import check_character
from meanstest.ingest import ingest


def _id(body17: str) -> str:
    return body17 + check_character(body17)


HEAD = "15042219800101018X"  # check character X
SPOUSE = _id("15042219820304001")
CHILD = "15042220100506004X"
H2_HEAD = _id("15042219700202003")
H3_HEAD = _id("15042219450909001")
SUPPORTER = _id("15042219650707001")
WIDE = str.maketrans("0123456789", "０１２３４５６７８９")

# ---------------------------------------------------------------------- profiles --

HOUSEHOLDS = """
[profile]
table = "households"
format = "csv"
encoding = "gb18030"
list_separator = "、"
[columns]
household_id = "家庭编号"
jurisdiction = "行政区划"
area = "城乡"
assessment_date = "核对日期"
consent_signed = "已签授权"
declared_income_monthly = "申报月收入（元）"
declared_vehicles = "申报车辆"
prev_status = "原救助类别"
prev_benefit = "原救助金（元）"
current_programs = "在享救助"
[values.area]
"城镇" = "urban"
"农村" = "rural"
[values.consent_signed]
"是" = true
"否" = false
[values.declared_vehicles]
"无" = 0
[values.prev_status]
"无" = "none"
"低保" = "dibao"
[values.current_programs]
"医疗救助" = "medical_assistance"
"教育救助" = "education_assistance"
"无" = ""
[units]
declared_income_monthly = "yuan"
prev_benefit = "yuan"
[dates]
assessment_date = ["%Y-%m-%d", "%Y/%m/%d"]
"""

PERSONS = """
[profile]
table = "persons"
format = "csv"
encoding = "utf-8"
delimiter = "\\t"
[columns]
household_id = "家庭编号"
person_id = "身份证号"
relation = "关系"
birth_date = "出生日期"
health = "健康状况"
student_level = "在校情况"
occupation = "就业状况"
tuition = "学费（元）"
[values.relation]
"户主" = "head"
"配偶" = "spouse"
"子女" = "child"
[values.health]
"健康" = 1
"重病" = 5
[values.student_level]
"非在校" = "none"
"初中" = "junior"
[units]
tuition = "yuan"
[defaults]
refused_job_offers = 0
"""

SUPPORTERS = """
[profile]
table = "supporters"
format = "jsonl"
[columns]
household_id = "hh"
supporter_id = "id"
birth_date = "birth"
health = "health"
employment_sector = "sector"
exempt_reason = "exempt"
supported_count = "count"
"""

TAX_CSV = """
[profile]
table = "tax_income"
format = "csv"
encoding = "gb18030"
delimiter = ";"
[columns]
person_id = "纳税人识别号"
income_type = "所得项目"
amount = "收入额（元）"
[values.income_type]
"工资薪金" = "wage"
"劳务报酬" = "labour"
[units]
amount = "yuan"
"""

TAX_JSONL = """
[profile]
table = "tax_income"
format = "jsonl"
[columns]
person_id = "sfzh"
income_type = "sdxm"
amount = "sre"
record_id = "pzh"
[values.income_type]
"工资薪金" = "wage"
[units]
amount = "yuan"
"""

BANK = """
[profile]
table = "bank"
format = "parquet"
[columns]
person_id = "证件号码"
institution = "机构"
product = "产品"
balance = "余额"
interest = "利息"
[values.product]
"活期" = "deposit"
"定期" = "deposit"
"理财" = "wealth"
[units]
balance = "yuan"
interest = "yuan"
"""

PROPERTY = """
[profile]
table = "property"
format = "csv"
encoding = "utf-8"
[columns]
person_id = "权利人证件号"
property_id = "不动产权证号"
use = "用途"
area = "面积（㎡）"
share = "份额（‰）"
acquired_on = "登记日期"
acquisition = "取得方式"
disposed_on = "注销日期"
rental_income = "年租金（元）"
[values.use]
"住宅" = "residential"
[values.acquisition]
"购买" = "purchase"
"自建" = "self_built"
[units]
area = "m2"
rental_income = "yuan"
[dates]
acquired_on = ["%Y%m%d"]
disposed_on = ["%Y%m%d"]
"""

MANIFEST = """
# 巴林左旗 2024 年度复核: every path relative to this file's folder
[[source]]
profile = "profiles/households.toml"
files = ["raw/case/households.csv"]

[[source]]
profile = "profiles/persons.toml"
files = ["raw/case/persons.tsv"]

[[source]]
profile = "profiles/supporters.toml"
files = ["raw/case/supporters.jsonl"]

[[source]]
profile = "profiles/tax_csv.toml"
files = ["raw/tax/2024-01.csv"]

[[source]]
profile = "profiles/tax_jsonl.toml"
files = ["raw/tax/2024-02.jsonl"]

[[source]]
profile = "profiles/bank.toml"
files = ["raw/bank.parquet"]

[[source]]
profile = "profiles/property.toml"
files = ["raw/property.csv"]
"""

# ------------------------------------------------------------------- raw exports --

HOUSEHOLDS_CSV = [  # GB18030, CRLF; 备注 is a column no profile maps
    "家庭编号,行政区划,城乡,核对日期,已签授权,申报月收入（元）,申报车辆,原救助类别,原救助金（元）,在享救助,备注",
    'H1,150422,农村,2024-7-1,是,"1,200.50",无,低保,"1,234",医疗救助、教育救助,"电话,已核实"',  # line 2
    "H2,150422,城镇,2024/07/01,否,,2,无,0,,",  # line 3: empty optional cells are null
    '"H3",150422,农村,"2024-07-01",是, 800 ,0,无,-0,无,',  # line 4
    "H4,150422,农村,2024-02-30,是,,,无,0,,",  # line 5: no such date
    "H5,150422,郊区,2024-07-01,是,,,无,1.234,,",  # line 6: two bad cells, one row
    "",  # line 7: blank
    "H6,150422,农村,2024-07-01,是,,,无,0,",  # line 8: a field short
]
PERSONS_TSV = [  # UTF-8 with a BOM, tabs, spaces around the headers
    " 家庭编号 \t 身份证号 \t关系\t出生日期\t健康状况\t在校情况\t就业状况\t学费（元） ",
    f"H1\t {HEAD[:6]} {HEAD[6:14]} {HEAD[14:].lower()} \t户主\t1980-01-01\t健康\t非在校\temployed\t0",
    f"H1\t{SPOUSE.translate(WIDE)}\t配偶\t1982-03-04\t3\t非在校\tfarming\t0",
    f"H1\t{CHILD.lower()}\t子女\t2010-05-06\t健康\t初中\tnone\t1,500",
    f"H2\t{H2_HEAD}\t户主\t1970-02-02\t重病\t非在校\tunemployed\t0",
    f"H2\t{H2_HEAD[:-1]}0\t子女\t1970-02-02\t健康\t非在校\tnone\t0",  # line 6: check char
    f"H3\t{H3_HEAD}\t户主\t1945-09-09\t7\t非在校\tretired\t0",  # health 7: the validator's
]
SUPPORTERS_JSONL = [
    {"hh": "H1", "id": SUPPORTER, "birth": "1965-07-07", "health": 1, "sector": "public",
     "exempt": "none", "count": 2},
    None,  # line 2: blank
    {"hh": "H2", "id": HEAD, "birth": "1980-01-01", "health": 1.0, "sector": "flexible",
     "exempt": "none", "count": 1.0},  # line 3: pandas' 1.0 is 1
    {"hh": "H3", "id": SUPPORTER, "birth": "1965-07-07", "health": 1, "sector": "public",
     "exempt": None, "count": 1},  # line 4: null in a required column
]  # fmt: skip
TAX_CSV_ROWS = [  # GB18030, semicolons, CRLF, no department key
    "纳税人识别号;所得项目;收入额（元）",
    f"{HEAD};工资薪金;1,234",
    f'{HEAD};工资薪金;"1234.5"',
    f"{SPOUSE};劳务报酬; 12.30 ",
    f"{SPOUSE};劳务报酬;１２３",  # line 5: full-width digits are an ID's only
    f"{SPOUSE};劳务报酬;1.234",  # line 6: three decimals, never rounded
    f"{H2_HEAD};wage;-5",  # canonical value; a negative amount is the validator's
]
TAX_JSONL_ROWS = [
    {"sfzh": HEAD, "sdxm": "工资薪金", "sre": 3000, "pzh": "PZ-1"},
    {"sfzh": HEAD, "sdxm": "工资薪金", "sre": 2500.5, "pzh": ""},  # an empty key: quarantined
    {"sfzh": H2_HEAD, "sdxm": "工资薪金", "sre": "3,000.00", "pzh": "PZ-3"},
]
PROPERTY_CSV = [  # UTF-8, CRLF; a quoted property id holding a comma and a CRLF
    "权利人证件号,不动产权证号,用途,面积（㎡）,份额（‰）,登记日期,取得方式,注销日期,年租金（元）",
    f'{HEAD},"蒙(2019)巴林左旗,\r\n第001号",住宅,85.5,1000,20190301,购买,,0',
    f'{H2_HEAD},蒙(2001)002,住宅,"1,200.25",500,20010101,自建,20200101,"3,600"',
    f"{H3_HEAD},蒙(2001)003,住宅,85.555,1000,20010101,自建,,0",  # line 5: m² with 3 decimals
]


def _bank() -> bytes:
    table = pa.table({
        "证件号码": [HEAD, SPOUSE, H2_HEAD],
        "机构": ["巴林左旗农商行", "中国银行", "邮储银行"],
        "产品": ["活期", "理财", "定期"],
        "余额": pa.array([decimal.Decimal("12345.60"), decimal.Decimal("0.05"), None],
                       pa.decimal128(18, 2)),
        "利息": pa.array(["1,234.5", "0", "7"]),
    })  # fmt: skip
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    d = tmp_path_factory.mktemp("unseen")
    (d / "profiles").mkdir()
    (d / "raw" / "case").mkdir(parents=True)
    (d / "raw" / "tax").mkdir()
    for name, text in [("households", HOUSEHOLDS), ("persons", PERSONS),
                       ("supporters", SUPPORTERS), ("tax_csv", TAX_CSV),
                       ("tax_jsonl", TAX_JSONL), ("bank", BANK), ("property", PROPERTY)]:  # fmt: skip
        (d / "profiles" / f"{name}.toml").write_text(text, "utf-8")
    raw = d / "raw"
    (raw / "case" / "households.csv").write_bytes(
        ("\r\n".join(HOUSEHOLDS_CSV) + "\r\n").encode("gb18030")
    )
    (raw / "case" / "persons.tsv").write_bytes(("\n".join(PERSONS_TSV) + "\n").encode("utf-8-sig"))
    jsonl = "\n".join("" if r is None else json.dumps(r, ensure_ascii=False)
                      for r in SUPPORTERS_JSONL)  # fmt: skip
    (raw / "case" / "supporters.jsonl").write_text(jsonl + "\n", "utf-8")
    (raw / "tax" / "2024-01.csv").write_bytes(
        ("\r\n".join(TAX_CSV_ROWS) + "\r\n").encode("gb18030")
    )
    jsonl = "\n".join(json.dumps(r, ensure_ascii=False) for r in TAX_JSONL_ROWS)
    (raw / "tax" / "2024-02.jsonl").write_text(jsonl + "\n", "utf-8")
    (raw / "bank.parquet").write_bytes(_bank())
    (raw / "property.csv").write_bytes(("\r\n".join(PROPERTY_CSV) + "\r\n").encode("utf-8"))
    (d / "manifest.toml").write_text(MANIFEST, "utf-8")
    doc = ingest(d / "manifest.toml", d / "bundle")
    quarantine = pq.read_table(d / "bundle" / "quarantine.parquet").to_pylist()
    return d, doc, read_bundle(d / "bundle"), quarantine


def _entries(quarantine, file):
    return [
        (q["line"], q["column"], q["raw_value"], q["reason"])
        for q in quarantine
        if q["file"] == file
    ]


def test_households_gb18030_crlf_value_maps_to_booleans_and_integers(district):
    _, _, bundle, quarantine = district
    got = {
        r["household_id"]: (r["area"], r["assessment_date"], r["consent_signed"],
                            r["declared_income_monthly"], r["declared_vehicles"],
                            r["prev_status"], r["prev_benefit"], r["current_programs"])
        for r in bundle["households"].to_pylist()
    }  # fmt: skip
    july = dt.date(2024, 7, 1)
    assert got == {
        "H1": ("rural", july, True, 120050, 0, "dibao", 123400,
               ["medical_assistance", "education_assistance"]),
        "H2": ("urban", july, False, None, 2, "none", 0, None),
        "H3": ("rural", july, True, 80000, 0, "none", 0, []),
    }  # fmt: skip
    assert _entries(quarantine, "households.csv") == [
        (5, "assessment_date", "2024-02-30", "bad_date"),
        (6, "area", "郊区", "unmapped_value"),
        (6, "prev_benefit", "1.234", "bad_amount"),
        (8, None, "H6,150422,农村,2024-07-01,是,,,无,0,", "bad_row"),
    ]


def test_persons_utf8_bom_tabs_spaced_headers_ids_normalised(district):
    _, _, bundle, quarantine = district
    got = [
        (r["household_id"], r["person_id"], r["relation"], r["health"], r["student_level"],
         r["refused_job_offers"], r["tuition"])
        for r in bundle["persons"].to_pylist()
    ]  # fmt: skip
    assert got == [
        ("H1", HEAD, "head", 1, "none", 0, 0),  # spaces and a lower-case x
        ("H1", SPOUSE, "spouse", 3, "none", 0, 0),  # full-width digits; 3 is canonical
        ("H1", CHILD, "child", 1, "junior", 0, 150000),
        ("H2", H2_HEAD, "head", 5, "none", 0, 0),
        ("H3", H3_HEAD, "head", 7, "none", 0, 0),  # out of 1..6: the validator rejects H3
    ]
    [(line, column, raw, reason)] = _entries(quarantine, "persons.tsv")
    assert (line, column, raw, reason) == (6, "person_id", f"{H2_HEAD[:-1]}0", "bad_id")


def test_jsonl_numbers_nulls_and_blank_lines(district):
    _, doc, bundle, quarantine = district
    got = [(r["household_id"], r["health"], r["supported_count"])
           for r in bundle["supporters"].to_pylist()]  # fmt: skip
    assert got == [("H1", 1, 2), ("H2", 1, 1)]
    assert _entries(quarantine, "supporters.jsonl") == [
        (4, "exempt_reason", None, "empty_required")
    ]
    [f] = [f for f in doc["files"] if f["file"].endswith("supporters.jsonl")]
    assert (f["rows_read"], f["rows_mapped"], f["rows_quarantined"], f["blank_lines"]) == (
        3, 2, 1, 1)  # fmt: skip


def test_two_sources_fill_tax_income_with_file_line_record_ids(district):
    _, _, bundle, quarantine = district
    got = [(r["person_id"], r["income_type"], r["amount"], r["record_id"])
           for r in bundle["tax_income"].to_pylist()]  # fmt: skip
    assert got == [
        (HEAD, "wage", 123400, "2024-01.csv:2"),
        (HEAD, "wage", 123450, "2024-01.csv:3"),
        (SPOUSE, "labour", 1230, "2024-01.csv:4"),
        (H2_HEAD, "wage", -500, "2024-01.csv:7"),
        (HEAD, "wage", 300000, "PZ-1"),
        (H2_HEAD, "wage", 300000, "PZ-3"),
    ]
    assert _entries(quarantine, "2024-01.csv") == [
        (5, "amount", "１２３", "bad_amount"),
        (6, "amount", "1.234", "bad_amount"),
    ]
    # the JSON Lines export maps its key: an empty one is a required cell's (DATA.md),
    # where file:line names the rows of an export without a key
    assert _entries(quarantine, "2024-02.jsonl") == [(2, "record_id", "", "empty_required")]


def test_parquet_decimal_and_text_money(district):
    _, _, bundle, quarantine = district
    got = [(r["person_id"], r["product"], r["balance"], r["interest"], r["record_id"])
           for r in bundle["bank"].to_pylist()]  # fmt: skip
    assert got == [
        (HEAD, "deposit", 1234560, 123450, "bank.parquet:1"),
        (SPOUSE, "wealth", 5, 0, "bank.parquet:2"),
    ]
    assert _entries(quarantine, "bank.parquet") == [(3, "balance", None, "empty_required")]


def test_quoted_delimiter_and_crlf_count_as_one_row_starting_at_its_line(district):
    """A row's line is the physical line it starts on; a quoted CRLF moves every later
    row down one line (docs/decisions.md, adapters 5)."""
    _, _, bundle, quarantine = district
    got = [(r["property_id"], r["area"], r["share"], r["disposed_on"], r["rental_income"],
            r["record_id"]) for r in bundle["property"].to_pylist()]  # fmt: skip
    assert got == [
        ("蒙(2019)巴林左旗,第001号", 8550, 1000, None, 0, "property.csv:2"),
        ("蒙(2001)002", 120025, 500, dt.date(2020, 1, 1), 360000, "property.csv:4"),
    ]
    assert _entries(quarantine, "property.csv") == [(5, "area", "85.555", "bad_amount")]
    [detail] = [r["detail"] for r in quarantine if r["file"] == "property.csv"]
    assert detail.startswith("'85.555' is not m² with at most two decimals")  # not "yuan"


def test_counts_add_up_and_checked_flags_follow_the_manifest(district):
    _, doc, bundle, quarantine = district
    assert doc["accounting_closes"]
    for f in doc["files"]:
        assert f["rows_read"] == f["rows_mapped"] + f["rows_quarantined"], f["file"]
    assert sum(f["rows_quarantined"] for f in doc["files"]) == doc["quarantine"]["rows"] == 10
    assert doc["quarantine"]["entries"] == len(quarantine) == 11  # households.csv:6 twice
    assert {t: bundle[t].num_rows for t in ("households", "persons", "tax_income")} == {
        "households": 3, "persons": 5, "tax_income": 6}  # fmt: skip
    assert doc["checked"] == {"checked_tax": True, "checked_bank": True,
                              "checked_vehicle": False, "checked_housing": True,
                              "checked_social_insurance": False}  # fmt: skip
    hh = bundle["households"]
    assert set(hh.column("checked_vehicle").to_pylist()) == {False}
    assert set(hh.column("checked_housing").to_pylist()) == {True}


def test_cli_ingest_then_review_results_and_rejects_make_the_households(district, capsys):
    d, _, _, _ = district
    assert main(["ingest", str(d / "manifest.toml"), "--out", str(d / "cli-bundle")]) == 0
    out = capsys.readouterr().out
    assert "households.csv: read 6 = mapped 3 + quarantined 3 (1 blank lines)" in out
    args = ["review", str(d / "cli-bundle"), "--out", str(d / "review"), "--quiet"]
    assert main([*args, "--engine", "reference"]) == 0
    results = pq.read_table(d / "review" / "results.parquet")
    rejects = pq.read_table(d / "review" / "rejects.parquet").to_pylist()
    assert results.num_rows + len(rejects) == 3
    assert results.column("household_id").to_pylist() == ["H1"]
    reasons = {r["household_id"]: r["reasons"] for r in rejects}
    assert reasons == {  # the adapters pass a negative amount and health 7 on, as values
        "H2": [f"tax_income.amount record=2024-01.csv:7: negative money (person {H2_HEAD}; -500)"],
        "H3": [f"persons.health record={H3_HEAD}: health outside 1..6 (7)"],
    }
