"""Writes the raw-export corpus (tests/corpus/ingest/): bad department exports, bad
manifests and bad profiles, one per [[case]] in ingest/cases.toml.

A case names its data file(s), the profile (a packaged one in adapters/profiles, or a
corpus file) and what `meanstest ingest` must answer: exit 1 with an error fragment,
or exit 0 with a quarantine reason (the row is kept out with that reason, and rows read
= mapped + quarantined). `manifest` cases are a manifest file of their own.
Re-run after changing a case: `python tests/corpus/build_ingest.py`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent / "ingest"
ID1 = "150422197001011233"  # valid GB 11643 IDs
ID2 = "150422198506150022"
VEHICLE = "身份证号,号牌号码,车辆类型,评估价值(元),初次登记日期,机动车序号"
PERSONS = "家庭编号,公民身份号码,与户主关系,出生日期,健康状况,在校情况,就业状况,拒绝推荐就业次数,年学费(元)"
GOOD_CAR = f"{ID1},蒙D12345,小型轿车,50000.00,2015-06-01,VEH1"
GOOD_PERSON = f"HH1,{ID1},户主,1970-01-01,健康,非在校,就业,0,0.00"


def vehicle(*rows: str) -> bytes:
    return ("\r\n".join([VEHICLE, *rows]) + "\r\n").encode("gb18030")


def persons(*rows: str) -> bytes:
    return ("\n".join([PERSONS, *rows]) + "\n").encode("utf-8")


# (name, file name, bytes, profile, exit, fragment): fragment is the quarantine reason
# for exit 0, a fragment of the error line for exit 1.
Q = 0
CASES: list[tuple[str, str, bytes, str, int, str]] = []


def q(name, row, reason, column=None):
    CASES.append((f"vehicle-{name}", "vehicle.csv", vehicle(GOOD_CAR, row), "vehicle", 0, reason))


def qp(name, row, reason):
    CASES.append(
        (f"persons-{name}", "persons.csv", persons(GOOD_PERSON, row), "case_persons", 0, reason)
    )


def err(name, file, data, profile, fragment):
    CASES.append((name, file, data, profile, 1, fragment))


# unmappable cells of a GB18030 CSV (DATA.md: quarantined with file, line, column, reason)
q("id-check-digit", "150422197001011234,蒙D1,小型轿车,1.00,2015-06-01,V2", "bad_id")
q("id-17-digits", "15042219700101123,蒙D1,小型轿车,1.00,2015-06-01,V2", "bad_id")
q("id-19-digits", "1504221970010112331,蒙D1,小型轿车,1.00,2015-06-01,V2", "bad_id")
q("id-letters", "15042219700101123A,蒙D1,小型轿车,1.00,2015-06-01,V2", "bad_id")
q("id-bad-birth", "150422197013011230,蒙D1,小型轿车,1.00,2015-06-01,V2", "bad_id")
q("id-empty", ",蒙D1,小型轿车,1.00,2015-06-01,V2", "empty_required")
q("id-spaces-only", "   ,蒙D1,小型轿车,1.00,2015-06-01,V2", "empty_required")
q("money-three-decimals", f"{ID2},蒙D1,小型轿车,1.005,2015-06-01,V2", "bad_amount")
q("money-word", f"{ID2},蒙D1,小型轿车,五万,2015-06-01,V2", "bad_amount")
q("money-exponent", f"{ID2},蒙D1,小型轿车,1e5,2015-06-01,V2", "bad_amount")
q("money-bad-grouping", f'{ID2},蒙D1,小型轿车,"1,00",2015-06-01,V2', "bad_amount")
q("money-double-sign", f"{ID2},蒙D1,小型轿车,--5,2015-06-01,V2", "bad_amount")
q("money-nan", f"{ID2},蒙D1,小型轿车,NaN,2015-06-01,V2", "bad_amount")
q("money-infinity", f"{ID2},蒙D1,小型轿车,inf,2015-06-01,V2", "bad_amount")
q("money-empty", f"{ID2},蒙D1,小型轿车,,2015-06-01,V2", "empty_required")
q("money-huge", f"{ID2},蒙D1,小型轿车,{'9' * 40},2015-06-01,V2", "bad_amount")
q("money-dot-only", f"{ID2},蒙D1,小型轿车,.,2015-06-01,V2", "bad_amount")
q("date-feb-30", f"{ID2},蒙D1,小型轿车,1.00,2015-02-30,V2", "bad_date")
q("date-month-13", f"{ID2},蒙D1,小型轿车,1.00,20151301,V2", "bad_date")
q("date-words", f"{ID2},蒙D1,小型轿车,1.00,去年,V2", "bad_date")
q("date-time-suffix", f"{ID2},蒙D1,小型轿车,1.00,2015-06-01T00:00,V2", "bad_date")
q("date-empty", f"{ID2},蒙D1,小型轿车,1.00,,V2", "empty_required")
q("date-year-0", f"{ID2},蒙D1,小型轿车,1.00,0000-01-01,V2", "bad_date")
q("enum-unknown", f"{ID2},蒙D1,坦克,1.00,2015-06-01,V2", "unmapped_value")
q("enum-empty", f"{ID2},蒙D1,,1.00,2015-06-01,V2", "empty_required")
q("enum-english-case", f"{ID2},蒙D1,CAR,1.00,2015-06-01,V2", "unmapped_value")
q("plate-empty", f"{ID2},,小型轿车,1.00,2015-06-01,V2", "empty_required")
q("record-id-empty", f"{ID2},蒙D1,小型轿车,1.00,2015-06-01,", "empty_required")  # a mapped key
q("row-too-many-fields", f"{ID2},蒙D1,小型轿车,1.00,2015-06-01,V2,多余", "bad_row")
q("row-too-few-fields", f"{ID2},蒙D1,小型轿车", "bad_row")
q("row-one-field", "孤零零", "bad_row")
q("row-unbalanced-quote-mid", f'{ID2},"蒙D1,小型轿车,1.00,2015-06-01,V2', "bad_row")
q("row-unterminated-quote-at-end", f'{ID2},"蒙D1', "bad_row")
qp("health-unknown", f"HH1,{ID2},配偶,1985-06-15,很好,非在校,就业,0,0.00", "unmapped_value")
qp(
    "health-out-of-range", f"HH1,{ID2},配偶,1985-06-15,9,非在校,就业,0,0.00", ""
)  # validation checks 1..6
qp("refused-not-integer", f"HH1,{ID2},配偶,1985-06-15,健康,非在校,就业,两次,0.00", "bad_integer")
qp("refused-fraction", f"HH1,{ID2},配偶,1985-06-15,健康,非在校,就业,1.5,0.00", "bad_integer")
qp("refused-too-big", f"HH1,{ID2},配偶,1985-06-15,健康,非在校,就业,300,0.00", "out_of_range")
qp(
    "refused-negative-huge",
    f"HH1,{ID2},配偶,1985-06-15,健康,非在校,就业,-999999,0.00",
    "out_of_range",
)
qp("birth-slashes-wrong", f"HH1,{ID2},配偶,15/06/1985,健康,非在校,就业,0,0.00", "bad_date")
qp("household-empty", f",{ID2},配偶,1985-06-15,健康,非在校,就业,0,0.00", "empty_required")
qp("tuition-negative-word", f"HH1,{ID2},配偶,1985-06-15,健康,非在校,就业,0,负一百", "bad_amount")
qp("relation-unknown", f"HH1,{ID2},邻居,1985-06-15,健康,非在校,就业,0,0.00", "unmapped_value")

# JSON Lines (tax_income.toml): a line that is not one object is quarantined as bad_json
TAX_OK = (
    '{"纳税人识别号":"' + ID1 + '","所得项目":"工资薪金所得","收入额":"3000.00","明细流水号":"T1"}'
).encode()
for name, line in (
    ("array", b"[1, 2, 3]"),
    ("number", b"42"),
    ("string", b'"hello"'),
    ("null", b"null"),
    ("truncated", b'{"nsrsbh":"150422'),
    ("trailing-garbage", b'{"a":1} x'),
    ("single-quotes", b"{'a': 1}"),
    ("two-objects", b'{"a":1}{"b":2}'),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000),
):
    CASES.append(
        (f"jsonl-{name}", "tax.jsonl", TAX_OK + b"\n" + line + b"\n", "tax_income", 0, "bad_json")
    )


# a line not in the profile's encoding stops the ingest naming it, as in a CSV (it was a
# bad_json row whose quarantine showed U+FFFD for its bytes; a blind test)
for name, line in (
    ("not-utf8", b'{"nsrsbh":"\xff\xfe"}'),
    ("gbk-bytes", '{"nsrsbh":"张三"}'.encode("gbk")),
):
    err(
        f"jsonl-{name}",
        "tax.jsonl",
        TAX_OK + b"\n" + line + b"\n",
        "tax_income",
        "not utf-8 text at line 2",
    )


def tax(fields: str) -> bytes:
    return TAX_OK + b"\n" + ('{"纳税人识别号":"' + ID2 + '",' + fields + "}").encode() + b"\n"


for name, fields, reason in (
    ("nan-amount", '"所得项目":"工资薪金所得","收入额":NaN,"明细流水号":"T2"', "bad_amount"),
    ("float-amount", '"所得项目":"工资薪金所得","收入额":1.005,"明细流水号":"T2"', "bad_amount"),
    (
        "object-amount",
        '"所得项目":"工资薪金所得","收入额":{"元":1},"明细流水号":"T2"',
        "bad_amount",
    ),
    ("list-amount", '"所得项目":"工资薪金所得","收入额":[1,2],"明细流水号":"T2"', "bad_amount"),
    ("bool-type", '"所得项目":true,"收入额":"1.00","明细流水号":"T2"', "unmapped_value"),
    ("null-type", '"所得项目":null,"收入额":"1.00","明细流水号":"T2"', "empty_required"),
    ("missing-amount", '"所得项目":"工资薪金所得","明细流水号":"T2"', "empty_required"),
    ("surrogate-type", '"所得项目":"\\ud800","收入额":"1.00","明细流水号":"T2"', "bad_json"),
    (
        "huge-int-amount",
        '"所得项目":"工资薪金所得","收入额":' + "9" * 400 + ',"明细流水号":"T2"',
        "bad_amount",
    ),
):
    CASES.append((f"jsonl-{name}", "tax.jsonl", tax(fields), "tax_income", 0, reason))


# whole-file problems: the ingest stops with one line naming the file
err("csv-utf8-for-gb18030", "vehicle.csv", (VEHICLE + "\n" + GOOD_CAR + "\n").encode(), "vehicle",
    "is UTF-8 text, not gb18030")  # fmt: skip
err("csv-gb18030-for-utf8", "persons.csv", (PERSONS + "\n").encode("gb18030"), "case_persons",
    "not utf-8 text")  # fmt: skip
err("csv-utf16", "persons.csv", (PERSONS + "\n").encode("utf-16"), "case_persons", "not utf-8 text")
err("csv-empty-file", "vehicle.csv", b"", "vehicle", "no header line (the file is empty")
err("csv-missing-column", "vehicle.csv", vehicle().replace("车辆类型,".encode("gb18030"), b""),
    "vehicle", "no column '车辆类型' in the export")  # fmt: skip
err("csv-renamed-column", "vehicle.csv", vehicle().replace("身份证号".encode("gb18030"),
    "证件号码".encode("gb18030")), "vehicle", "no column '身份证号'")  # fmt: skip
err("csv-duplicate-column", "vehicle.csv", ((VEHICLE + ",身份证号\n").encode("gb18030")), "vehicle",
    "column '身份证号' appears twice in the header")  # fmt: skip
err("csv-no-header", "vehicle.csv", (GOOD_CAR + "\n").encode("gb18030"), "vehicle",
    "no column '身份证号' in the export")  # fmt: skip
err("csv-binary", "vehicle.csv", bytes(range(256)) * 8, "vehicle", "not gb18030 text")
err("csv-semicolons", "vehicle.csv", vehicle(GOOD_CAR).replace(b",", b";"), "vehicle",
    "no column '身份证号'")  # fmt: skip
err("csv-tab-header", "vehicle.csv", vehicle(GOOD_CAR).replace(b",", b"\t"), "vehicle",
    "no column '身份证号'")  # fmt: skip


err("csv-header-nul", "vehicle.csv", b"\x00" * 64 + b"\n", "vehicle", "no column '身份证号'")
err("parquet-garbage", "bank.parquet", b"PAR1" + b"\x00" * 100 + b"PAR1", "bank",
    "cannot read Parquet")  # fmt: skip
err("parquet-empty", "bank.parquet", b"", "bank", "cannot read Parquet")
err("parquet-is-csv", "bank.parquet", vehicle(GOOD_CAR), "bank", "cannot read Parquet")
err(
    "jsonl-keys-missing",
    "tax.jsonl",
    b'{"a":"1"}\n',
    "tax_income",
    "no key '纳税人识别号' in its first 65,536 lines",
)
err("jsonl-only-garbage", "tax.jsonl", b"42\n[]\n", "tax_income", "no line of its first")
err("jsonl-not-text", "tax.jsonl", b"\xff\xfe\n[]\n", "tax_income", "not utf-8 text at line 1")


def parquet_cases() -> None:
    cols = {"证件号码": [ID1], "机构名称": ["农行"], "产品类别": ["活期存款"], "余额": ["100.00"],
            "年利息": ["1.00"], "核对流水号": ["B1"]}  # fmt: skip
    for name, change, fragment, code in (
        ("missing-column", lambda c: c.pop("余额"), "no column '余额'", 1),
        ("three-decimals", lambda c: c.update({"余额": ["1.005"]}), "bad_amount", 0),
        ("unknown-product", lambda c: c.update({"产品类别": ["比特币"]}), "unmapped_value", 0),
        ("bad-id", lambda c: c.update({"证件号码": ["150422197001011234"]}), "bad_id", 0),
        ("null-id", lambda c: c.update({"证件号码": [None]}), "empty_required", 0),
    ):
        c = {k: list(v) for k, v in cols.items()}
        change(c)
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table(c), sink)
        CASES.append((f"parquet-{name}", "bank.parquet", sink.getvalue().to_pybytes(), "bank",
                      code, fragment))  # fmt: skip


# manifests and profiles: refused before any row is read
MANIFESTS = {
    "manifest-unknown-key": ('[[source]]\nprofile = "P"\nfiles = ["F"]\nowner = "x"\n',
                             "source[0].owner: unknown key"),
    "manifest-top-key": ('name = "x"\n[[source]]\nprofile = "P"\nfiles = ["F"]\n', "name: unknown key"),
    "manifest-no-source": ('description = "nothing"\n', "need at least one [[source]]"),
    "manifest-files-string": ('[[source]]\nprofile = "P"\nfiles = "F"\n', "need a non-empty list"),
    "manifest-files-empty": ('[[source]]\nprofile = "P"\nfiles = []\n', "need a non-empty list"),
    "manifest-no-profile": ('[[source]]\nfiles = ["F"]\n', "need the profile's path"),
    "manifest-profile-missing": ('[[source]]\nprofile = "nowhere.toml"\nfiles = ["F"]\n',
                                 "source[0].profile: nowhere.toml: profile not found"),
    "manifest-file-missing": ('[[source]]\nprofile = "P"\nfiles = ["nowhere.csv"]\n',
                              "raw export not found"),
    "manifest-file-twice": ('[[source]]\nprofile = "P"\nfiles = ["F", "F"]\n', "is listed twice"),
    "manifest-bad-toml": ('[[source]\nprofile = "P"\n', "not valid TOML"),
    "manifest-source-not-table": ('source = [1, 2]\n', "each [[source]] is a table"),
}  # fmt: skip
PROFILE_BASE = """[profile]
table = "vehicle"
format = "csv"
encoding = "gb18030"

[columns]
person_id = "身份证号"
plate = "号牌号码"
vehicle_type = "车辆类型"
value = "评估价值(元)"
registered_on = "初次登记日期"
record_id = "机动车序号"
"""
PROFILES = {
    "profile-unknown-section": (PROFILE_BASE + "[extra]\na = 1\n", "extra: unknown key"),
    "profile-unknown-table": (PROFILE_BASE.replace('"vehicle"', '"cars"'), "is not a bundle table"),
    "profile-bad-format": (PROFILE_BASE.replace('"csv"', '"xlsx"'), "is not one of csv"),
    "profile-bad-encoding": (PROFILE_BASE.replace('"gb18030"', '"klingon"'), "unknown encoding"),
    "profile-long-delimiter": (PROFILE_BASE.replace('encoding = "gb18030"',
                               'encoding = "gb18030"\ndelimiter = ",,"'), "need one character"),
    "profile-quote-delimiter": (PROFILE_BASE.replace('encoding = "gb18030"',
                                'encoding = "gb18030"\ndelimiter = \'"\''), "need one character"),
    "profile-negative-skip": (PROFILE_BASE.replace('encoding = "gb18030"',
                              'encoding = "gb18030"\nskip_rows = -1'), "need an integer >= 0"),
    "profile-unknown-column": (PROFILE_BASE + 'colour = "颜色"\n', "has no column 'colour'"),
    "profile-unmapped-required": (PROFILE_BASE.replace('plate = "号牌号码"\n', ""), "plate"),
    "profile-empty-raw-name": (PROFILE_BASE.replace('"号牌号码"', '""'), "need the raw column name"),
    "profile-bad-unit": (PROFILE_BASE + '[units]\nvalue = "jiao"\n', "is not one of yuan, fen"),
    "profile-unit-on-text": (PROFILE_BASE + '[units]\nplate = "yuan"\n', "neither an amount"),
    "profile-date-not-list": (PROFILE_BASE + '[dates]\nregistered_on = 5\n', "need a list"),
    "profile-date-no-day": (PROFILE_BASE + '[dates]\nregistered_on = ["%Y"]\n', "needs %Y, %m and %d"),
    "profile-date-directive": (PROFILE_BASE + '[dates]\nregistered_on = ["%Q"]\n', "registered_on"),
    "profile-date-on-money": (PROFILE_BASE + '[dates]\nvalue = ["%Y"]\n', "is not a date column"),
    "profile-values-unmapped": (PROFILE_BASE.replace('plate = "号牌号码"\n', 'plate = "号牌号码"\n')
                                + '[values.use]\n"住宅" = "residential"\n', "has no column 'use'"),
    "profile-values-bad-enum": (PROFILE_BASE + '[values.vehicle_type]\n"坦克" = "tank"\n',
                                "is not a value of vehicle_type"),
    "profile-parquet-encoding": (PROFILE_BASE.replace('"csv"', '"parquet"'),
                                 "Parquet files carry their own encoding"),
    "profile-no-section": ('[columns]\nperson_id = "a"\n', "missing [profile] section"),
    "profile-bad-toml": ("[profile\n", "not valid TOML"),
    "profile-not-utf8": (None, "not UTF-8 text"),
    "profile-default-wrong-type": (PROFILE_BASE + '[defaults]\nvalue = "many"\n', "takes an integer"),
    "profile-columns-not-table": (PROFILE_BASE.replace("[columns]", "columns = 1\n[other]"),
                                  "unknown key"),
}  # fmt: skip


# atheris findings (fuzz/findings/readers-*): first byte = profile index of the harness
FINDINGS = Path(__file__).parents[2] / "fuzz" / "findings"
HARNESS_PROFILES = ("property", "case_persons", "tax_income", "bank")
FINDING_EXPECT = {
    "readers-parquet-corrupt-snappy": (1, "cannot read Parquet data"),
    "readers-parquet-non-utf8-name": (1, "cannot read Parquet"),
    "readers-csv-gb18030-incomplete": (1, "not gb18030 text"),
    "readers-parquet-non-utf8-string": (1, "not UTF-8 text (Parquet text is UTF-8"),
}


def finding_cases() -> None:
    for name, (code, fragment) in FINDING_EXPECT.items():
        data = (FINDINGS / name).read_bytes()
        profile = HARNESS_PROFILES[data[0] % len(HARNESS_PROFILES)]
        suffix = {"bank": "parquet", "tax_income": "jsonl"}.get(profile, "csv")
        CASES.append((f"fuzz-{name}", f"export.{suffix}", data[1:], profile, code, fragment))


def build() -> list[dict]:
    shutil.rmtree(HERE, ignore_errors=True)
    (HERE / "files").mkdir(parents=True)
    parquet_cases()
    finding_cases()
    rows = []
    for name, file, data, profile, code, fragment in CASES:
        folder = HERE / "files" / name
        folder.mkdir()
        (folder / file).write_bytes(data)
        rows.append({"name": name, "profile": profile, "file": f"files/{name}/{file}",
                     "exit": code, "expect": fragment})  # fmt: skip
    good = vehicle(GOOD_CAR)
    for name, (text, fragment) in MANIFESTS.items():
        folder = HERE / "manifests" / name
        folder.mkdir(parents=True)
        (folder / "P").write_text(PROFILE_BASE, encoding="utf-8")
        (folder / "F").write_bytes(good)
        (folder / "manifest.toml").write_text(text, encoding="utf-8")
        rows.append({"name": name, "manifest": f"manifests/{name}/manifest.toml", "exit": 1,
                     "expect": fragment})  # fmt: skip
    for name, (text, fragment) in PROFILES.items():
        folder = HERE / "profiles" / name
        folder.mkdir(parents=True)
        data = text.encode("utf-8") if text is not None else PROFILE_BASE.encode("gb18030")
        (folder / "profile.toml").write_bytes(data)
        (folder / "vehicle.csv").write_bytes(good)
        rows.append({"name": name, "profile": f"profiles/{name}/profile.toml",
                     "file": f"profiles/{name}/vehicle.csv", "exit": 1, "expect": fragment})  # fmt: skip
    return rows


def _toml(rows: list[dict]) -> str:
    out = ["# Generated by build_ingest.py: one bad raw export, manifest or profile per case."]
    for r in rows:
        out.append("\n[[case]]")
        for k, v in r.items():
            if isinstance(v, int):
                out.append(f"{k} = {v}")
            else:
                out.append(
                    f'{k} = "{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    cases = build()
    (HERE / "cases.toml").write_text(_toml(cases), encoding="utf-8")
    print(f"{len(cases)} ingest cases in {HERE}")
