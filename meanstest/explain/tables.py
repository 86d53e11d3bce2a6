"""The document's tables: members, supporters, findings with their evidence, and the
department records the calculation read — codes by name, amounts in yuan."""

from __future__ import annotations

import re

from meanstest import labels
from meanstest.amounts import area, money, ratio, yes_no
from meanstest.document import Table
from meanstest.engine import duplicate_households
from meanstest.explain.context import Ctx

MONEY = {
    "tuition",
    "amount",
    "annual_turnover",
    "balance",
    "interest",
    "value",
    "rental_income",
    "reimbursed",
}
RECORD_COLUMNS = {  # the columns of each source table shown as evidence, in order
    "tax_income": ("income_type", "amount"),
    "business_registration": ("role", "annual_turnover", "employees"),
    "bank": ("institution", "product", "balance", "interest"),
    "vehicle": ("plate", "vehicle_type", "value", "registered_on"),
    "property": (
        "property_id",
        "use",
        "area",
        "share",
        "acquired_on",
        "acquisition",
        "disposed_on",
        "rental_income",
    ),
    "social_insurance": ("record_type", "amount", "reimbursed", "scheme", "employer_type"),
}


def members_table(ex: dict, ctx: Ctx) -> Table:
    lang = ctx.lang
    cols = (
        "person_id",
        "relation",
        "birth_date",
        "age",
        "health",
        "student_level",
        "occupation",
        "labour_coefficient",
        "employment_basis",
        "member_income",
    )
    rows = []
    for k, (p, m) in enumerate(zip(ex["persons"], ex["members"]), start=1):
        rows.append(
            [
                str(k),
                p["person_id"],
                labels.enum("relation", p["relation"], lang),
                str(p["birth_date"]),
                str(m["age"]),
                labels.enum("health", p["health"], lang),
                labels.enum("student_level", p["student_level"], lang),
                labels.enum("occupation", p["occupation"], lang),
                ratio(m["labour_coefficient"]),
                labels.enum("employment_basis", m["employment_basis"], lang),
                money(m["member_income"], lang),
            ]
        )
    header = [ctx.t("成员", "member")] + [labels.column(c, lang) for c in cols]
    return Table(header, rows, frozenset({4, 8, 10}), ctx.t("家庭成员", "Members"))


def supporters_table(ex: dict, ctx: Ctx) -> Table:
    lang = ctx.lang
    owed = {
        s["label"].split(" ", 1)[1]: s["value"]
        for s in ex["steps"]
        if s["label"].startswith("support ")
    }
    rows = [
        [
            str(k),
            s["supporter_id"],
            str(s["birth_date"]),
            labels.enum("health", s["health"], lang),
            labels.enum("employment_sector", s["employment_sector"], lang),
            labels.enum("exempt_reason", s["exempt_reason"], lang),
            str(s["supported_count"]),
            money(owed.get(s["supporter_id"], 0), lang, "year"),
        ]
        for k, s in enumerate(ex["supporters"], start=1)
    ]
    cols = (
        "supporter_id",
        "birth_date",
        "health",
        "employment_sector",
        "exempt_reason",
        "supported_count",
    )
    header = (
        [ctx.t("义务人", "supporter")]
        + [labels.column(c, lang) for c in cols]
        + [ctx.t("计入赡养费", "support counted")]
    )
    return Table(header, rows, frozenset({6, 7}), ctx.t("赡养（抚养、扶养）义务人", "Supporters"))


def findings_table(ex: dict, ctx: Ctx) -> Table:
    lang = ctx.lang
    records = {(t, r["record_id"]): r for t, rows in ex["records"].items() for r in rows}
    rows = []
    for f in ex["findings"]:
        source = (
            labels.of(labels.DEPARTMENT, f["source"], lang)
            if f["code"] == "SOURCE_NOT_CHECKED"
            else labels.of(labels.TABLE, f["source"], lang)
        )
        # The evidence record first (RULES.md §6), then every other triggering record.
        ids = [f["record_id"]] if f["record_id"] is not None else []
        if (f["detail"] or "").startswith("records "):
            ids += [x for x in f["detail"][len("records ") :].split(", ") if x not in ids]
        evidence = "\n".join(
            rid + (f"{ctx.t('：', ': ')}{describe(f['source'], row, lang)}" if row else "")
            for rid in ids
            for row in [records.get((f["source"], rid))]
        )
        rows.append(
            [
                labels.finding(f["code"], lang),
                labels.of(labels.SEVERITY, f["severity"], lang),
                ctx.who(f["person_id"]) if f["person_id"] else "—",
                source,
                evidence or "—",
                finding_detail(f, ctx),
            ]
        )
    header = [
        ctx.t(*x)
        for x in (
            ("疑点", "finding"),
            ("性质", "severity"),
            ("成员", "person"),
            ("来源", "source"),
            ("证据记录", "evidence"),
            ("说明", "detail"),
        )
    ]
    return Table(header, rows, wrap=frozenset({0, 4, 5}))


_UNDECLARED_MONEY = re.compile(
    r"^(?:verified|financial assets) (\d+) > declared (\d+) \+ tolerance (\d+)$"
)
_COUNTS = re.compile(r"^owned (\d+) > declared (\d+)$")


def finding_detail(f: dict, ctx: Ctx) -> str:
    """A finding's `detail` (docs/engine.md's fixed wording) in words and yuan."""
    code, d, t = f["code"], f["detail"] or "", ctx.t
    if d.startswith("records "):
        n = len(d[len("records ") :].split(", "))
        return t(f"触发记录 {n} 条（见证据记录）", f"{n} triggering record(s), see evidence")
    if d.startswith("members "):
        return t("涉及：", "members: ") + ctx.join(
            ctx.who(p) for p in d[len("members ") :].split(", ")
        )
    if d.startswith("findings "):
        return ctx.join(labels.finding(c, ctx.lang) for c in d[len("findings ") :].split(", "))
    if listed := duplicate_households(d):  # the others: this one is the document's
        named, total = listed
        others = [h for h in named if h != ctx.household]
        rest = total - 1 - len(others)  # engine.duplicate_detail names the first 20
        return (
            t("该成员同时登记在户：", "also a member of households: ")
            + ctx.join(others)
            + (t(f"等，另有 {rest:,} 户", f" and {rest:,} more") if rest > 0 else "")
        )
    if code == "V12":
        return t("核对授权书未签署", "consent not signed")
    if code == "SOURCE_NOT_CHECKED":
        return t("该部门未核对，结果为暂定结果", "not checked: the result is provisional")
    if code in ("PROGRAM_MISSED", "PROGRAM_UNDUE"):
        return labels.program(d, ctx.lang)
    if m := _UNDECLARED_MONEY.match(d):
        found, declared, tol = (ctx.m(int(x)) for x in m.groups())
        what = (
            t("核实月收入", "verified monthly")
            if code == "UNDECLARED_INCOME"
            else t("核实金融资产", "verified assets")
        )
        return t(
            f"{what} {found} > 申报 {declared} + 容差 {tol}",
            f"{what} {found} > declared {declared} + tolerance {tol}",
        )
    if m := _COUNTS.match(d):
        unit = "辆" if code == "UNDECLARED_VEHICLE" else "处"
        return t(f"核实拥有 {m[1]} {unit} > 申报 {m[2]} {unit}", f"owned {m[1]} > declared {m[2]}")
    return d


def describe(table: str, row: dict, lang: str) -> str:
    """One source record in a few words: '存款 余额 8,000.00 元、利息 120.00 元'."""
    parts = []
    for col in RECORD_COLUMNS[table]:
        parts.append(f"{labels.column(col, lang, table)} {_cell(col, row[col], lang)}")
    return ("、" if lang == "zh" else ", ").join(parts)


def _cell(col: str, v, lang: str) -> str:
    if v is None:
        return "—"
    if col in MONEY:
        return money(v, lang)
    if col == "area":
        return area(v, lang)
    if col == "share":
        return ratio(v)
    if isinstance(v, bool):
        return yes_no(v, lang)
    if col in labels.ENUM:
        return labels.enum(col, v, lang)
    return str(v)


def records_table(table: str, rows: list[dict], ctx: Ctx) -> Table:
    cols = RECORD_COLUMNS[table]
    header = [labels.column("record_id", ctx.lang), ctx.t("人员", "person")] + [
        labels.column(c, ctx.lang, table) for c in cols
    ]
    body = [
        [r["record_id"], ctx.who(r["person_id"])] + [_cell(c, r[c], ctx.lang) for c in cols]
        for r in rows
    ]
    right = frozenset(
        i + 2 for i, c in enumerate(cols) if c in MONEY or c in ("area", "share", "employees")
    )
    return Table(header, body, right, labels.of(labels.TABLE, table, ctx.lang), wrap=frozenset({0}))
