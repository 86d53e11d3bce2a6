"""Explain one household: the reference calculator's own trace, as a document people sign.

The trace is recorded by `meanstest.reference` as it computes (no second copy of the
rules); this module selects the household, keeps the rows the calculation read, and
renders a 核算/核对 document — household and members, each step with its RULES.md
section and thresholds written out, findings with their evidence records, policy and
input digests — as text or HTML (Chinese or English, amounts in yuan), or the raw trace
as JSON (integer fen, codes, for machines).
"""

from __future__ import annotations

import json

from meanstest import labels, reference, schema
from meanstest.amounts import money
from meanstest.document import Document, to_html, to_text
from meanstest.engine import EngineInput
from meanstest.errors import MeansTestError
from meanstest.explain.context import Ctx
from meanstest.explain.steps import steps
from meanstest.explain.tables import (
    findings_table,
    members_table,
    records_table,
    supporters_table,
)

FORMATS = ("text", "json", "html")


def select_household(inp: EngineInput, household_id: str) -> EngineInput:
    """The EngineInput restricted to one household (rows of other households dropped)."""
    import pyarrow.compute as pc

    ids = inp.households["household_id"].to_pylist()
    if household_id not in ids:
        raise MeansTestError(f"household {household_id} is not among the assessed households")
    i = ids.index(household_id)
    keep = pc.equal(inp.households["household_id"], household_id)
    return EngineInput(
        inp.households.filter(keep),
        inp.persons.filter(pc.equal(inp.persons["household_id"], household_id)),
        inp.supporters.filter(pc.equal(inp.supporters["household_id"], household_id)),
        inp.sources,
        inp.policies,
        inp.policy_index[i : i + 1],
        inp.duplicates,
    )


def trace_household(inp: EngineInput, household_id: str) -> dict:
    """Run the reference calculator on one household with a Trace; return the explanation:
    the trace's steps, the result, member and finding rows, and the rows it read."""
    one = select_household(inp, household_id)
    hh = next(reference.households(one))
    tr = reference.Trace()
    result, members, findings = reference.assess_household(hh, tr)
    policy = inp.policies[int(one.policy_index[0])]
    people = [m["person_id"] for m in hh.members] + [s["supporter_id"] for s in hh.supporters]
    return {
        "household_id": household_id,
        "policy_id": policy.id,
        "policy_name": policy.name,
        "policy_digest": policy.digest,
        "steps": tr.steps,
        "result": result,
        "members": members,
        "findings": [f.__dict__ for f in findings],
        "household": hh.row,
        "persons": hh.members,
        "supporters": hh.supporters,
        "records": {
            t: [r for pid in dict.fromkeys(people) for r in hh.rows(t, pid)]
            for t in schema.SOURCE_TABLES
        },
    }


def explain_household(inp: EngineInput, household_id: str) -> dict:
    """`trace_household` plus the household's input_digest and the engine version, as the
    review's results row would carry them."""
    from meanstest.digest import input_digests
    from meanstest.pipeline import ENGINE_VERSION

    explanation = trace_household(inp, household_id)
    one = select_household(inp, household_id)
    (digest,) = input_digests(one.households, one.persons, one.supporters, one.sources)
    return explanation | {"input_digest": digest, "engine_version": ENGINE_VERSION}


def render(explanation: dict, lang: str = "zh", fmt: str = "text") -> str:
    """The explanation as a text or HTML document, or the raw trace as JSON."""
    if lang not in labels.LANGS:
        raise MeansTestError(f"unknown language {lang!r} (zh or en)")
    if fmt == "json":
        return json.dumps(explanation, ensure_ascii=False, indent=2, default=str)
    if fmt == "text":
        return to_text(document(explanation, lang))
    if fmt == "html":
        return to_html(document(explanation, lang))
    raise MeansTestError(f"unknown format {fmt!r} (text, json or html)")


# The document ---------------------------------------------------------------------------


def document(explanation: dict, lang: str) -> Document:
    ex, row, r = explanation, explanation["household"], explanation["result"]
    ctx = Ctx(
        lang,
        [p["person_id"] for p in ex["persons"]],
        [s["supporter_id"] for s in ex["supporters"]],
        ex["household_id"],
    )
    t = ctx.t
    doc = Document(
        t("家庭经济状况核算核对表", "Means-test calculation and verification record"),
        t(
            f"户号 {ex['household_id']} · 核定日期 {row['assessment_date']} · 适用政策 "
            f"{ex['policy_name']}",
            f"household {ex['household_id']} · assessed on {row['assessment_date']} · policy "
            f"{ex['policy_name']}",
        ),
        lang,
    )
    doc.para(
        t(
            "金额单位：元，保留两位小数；凡除法或乘以比例所得不足一分的部分四舍五入到分，救助金四舍五入到元"
            "（§0）；比例以小数表示（0.7 即 70%）；§ 指《核定规则》（RULES.md）的条款。",
            "Amounts in yuan with two decimals; wherever a division or a ratio leaves a fraction "
            "of a fen it is rounded half up to the fen, and a benefit half up to the whole yuan "
            "(§0); ratios as decimals (0.7 = 70%); § are the sections of the rules (RULES.md).",
        )
    )
    doc.heading(t("一、认定结论", "1. Conclusion"))
    doc.fields(_conclusion(r, ctx), "conclusion")
    if ex.get("quarantined_rows"):  # what the bundle's ingest said of this household
        doc.para(
            t(
                "注意：本户（或其成员、赡养人）有原始记录在数据导入时无法读取而被隔离（见数据包中的"
                " ingest.json 与 quarantine.parquet），以下核算未计入这些记录，须人工核实后方可"
                "据以发放。",
                "Note: rows of this household (its own, or a member's or supporter's) could "
                "not be read by the ingest of the bundle and were quarantined (ingest.json and "
                "quarantine.parquet in the bundle): the calculation below lacks them; check "
                "before paying on it.",
            )
        )
    elif n := ex.get("unattributed_quarantined_rows"):
        doc.para(
            t(
                f"注意：数据导入时有 {n:,} 条原始记录无法读出归属而被隔离（见数据包中的"
                " quarantine.parquet），本户可能缺少其中的记录，须人工核实后方可据以发放。",
                f"Note: the ingest of the bundle quarantined {n:,} rows it could not tie to "
                "any household (quarantine.parquet in the bundle): this household may lack "
                "some of them; check before paying on it.",
            )
        )
    if absent := ex.get("absent_source_tables"):  # read as no rows (DATA.md): say so
        zh, en = _table_names(absent)
        doc.para(
            t(
                f"注意：数据包中没有以下部门数据表：{zh}。缺少的表视为所有家庭均无该类记录，"
                "以下核算据此进行；若系部门数据未送达，结论可能有误。",
                f"Note: the bundle has no table of {en}. A table absent from a bundle has no "
                "rows (DATA.md), and the calculation below reads it so; if a department's "
                "export did not arrive, the conclusion may be wrong.",
            )
        )
    if empty := ex.get("tables_without_export"):  # the ingest had no export for them
        zh, en = _table_names(empty)
        doc.para(
            t(
                f"注意：数据导入时清单中没有以下部门的导出数据：{zh}（见数据包中的 "
                "ingest.json），相应数据表为空，以下核算视为本户在该部门无记录；若系部门数据"
                "未送达，结论可能有误。",
                f"Note: the ingest of the bundle had no export for {en} (ingest.json in the "
                "bundle): those tables are empty, and the calculation below reads this "
                "household as having no records there; if a department's export did not "
                "arrive, the conclusion may be wrong.",
            )
        )
    doc.heading(t("二、家庭基本情况", "2. The household"))
    doc.fields(_household(ex, ctx))
    doc.table(members_table(ex, ctx))
    if ex["supporters"]:
        doc.table(supporters_table(ex, ctx))
    doc.heading(t("三、核算过程", "3. The calculation, step by step"))
    for step in steps(ex["steps"], ctx):
        doc.step(step)
    doc.heading(t("四、核对疑点", "4. Verification findings"))
    if ex["findings"]:
        doc.table(findings_table(ex, ctx))
    else:
        doc.para(t("未发现疑点。", "No findings."))
    doc.heading(t("五、核对记录（部门数据）", "5. Records from the departments"))
    shown = False
    for table, rows in ex["records"].items():
        if rows:
            doc.table(records_table(table, rows, ctx))
            shown = True
    if not shown:
        doc.para(
            t("各部门均无本户成员及义务人的记录。", "No department holds records of these people.")
        )
    doc.heading(t("六、政策与数据摘要", "6. Policy and input digests"))
    doc.fields(_digests(ex, ctx), "wide")
    doc.para(_machine_line(ex, ctx), "mono")
    doc.signatures(
        [
            t("核算人", "Calculated by"),
            t("复核人", "Checked by"),
            t("审批人", "Approved by"),
            t("日期", "Date"),
        ]
    )
    return doc


def _conclusion(r: dict, ctx: Ctx) -> list[tuple[str, str]]:
    t, lang = ctx.t, ctx.lang
    pairs = [
        (t("认定结果", "Status"), labels.of(labels.STATUS, r["status"], lang)),
        (t("月救助金", "Monthly benefit"), money(r["benefit"], lang, "month")),
        (t("家庭人均月收入", "Per-capita monthly income"), money(r["pci"], lang)),
        (t("低保标准", "Dibao standard"), money(r["standard"], lang, "person_month")),
        (t("四级信息圈", "Information circle"), labels.of(labels.CIRCLE, r["circle"], lang)),
        (t("动态管理", "Transition"), labels.of(labels.TRANSITION, r["transition"], lang)),
        (t("一票否决", "Vetoes"), ctx.join(labels.veto(c, lang) for c in r["vetoes"])),
        (t("家庭困难指数", "Difficulty index"), f"{r['difficulty_index']} / 1000"),
        (
            t("可享受救助项目", "Eligible programs"),
            ctx.join(labels.program(p, lang) for p in r["eligible_programs"]),
        ),
        (
            t("结果性质", "Result"),
            t("暂定结果（有部门未核对）", "provisional (a source not checked)")
            if r["provisional"]
            else t("正式结果", "final"),
        ),
    ]
    if r["status"] == "PHASE_OUT":
        pairs.insert(
            2,
            (
                t("渐退期", "Phase-out"),
                t(f"{r['phaseout_months']} 个月", f"{r['phaseout_months']} months"),
            ),
        )
    return pairs


def _table_names(tables: list[str]) -> tuple[str, str]:
    """Bundle tables by their names, in Chinese and in English."""
    names = [labels.of(labels.TABLE, name, "zh") for name in tables]
    return "、".join(names), ", ".join(labels.of(labels.TABLE, n, "en") for n in tables)


def _household(ex: dict, ctx: Ctx) -> list[tuple[str, str]]:
    t, lang, row = ctx.t, ctx.lang, ex["household"]

    def declared(key: str, fmt) -> str:
        return t("未申报", "not declared") if row[key] is None else fmt(row[key])

    done = [
        labels.of(labels.DEPARTMENT, d, lang) for d in schema.DEPARTMENTS if row[f"checked_{d}"]
    ]
    missing = [
        labels.of(labels.DEPARTMENT, d, lang) for d in schema.DEPARTMENTS if not row[f"checked_{d}"]
    ]
    checked = (
        t("全部已核对（", "all checked (") + ctx.join(done) + t("）", ")")
        if not missing
        else t("未核对：", "NOT checked: ")
        + ctx.join(missing)
        + t("；已核对：", "; checked: ")
        + ctx.join(done)
    )
    return [
        (t("户号", "Household"), ex["household_id"]),
        (t("行政区划", "Jurisdiction"), row["jurisdiction"]),
        (t("城乡", "Area"), labels.enum("area", row["area"], lang)),
        (t("核定日期", "Assessment date"), str(row["assessment_date"])),
        (t("家庭人数", "Members"), str(len(ex["persons"]))),
        (
            t("适用政策", "Policy"),
            t(
                f"{ex['policy_name']}（{ex['policy_id']}）",
                f"{ex['policy_name']}({ex['policy_id']})",
            ),
        ),
        (
            t("核对授权", "Consent"),
            t("已签署", "signed") if row["consent_signed"] else t("未签署", "NOT signed"),
        ),
        (t("部门核对", "Sources"), checked),
        (
            t("申报月收入", "Declared monthly income"),
            declared("declared_income_monthly", lambda v: money(v, lang)),
        ),
        (
            t("申报金融资产", "Declared financial assets"),
            declared("declared_financial_assets", lambda v: money(v, lang)),
        ),
        (
            t("申报车辆", "Declared vehicles"),
            declared("declared_vehicles", lambda v: t(f"{v} 辆", str(v))),
        ),
        (
            t("申报房产", "Declared properties"),
            declared("declared_properties", lambda v: t(f"{v} 处", str(v))),
        ),
        (
            t("上期状态", "Previous status"),
            labels.enum("prev_status", row["prev_status"], lang)
            + t("，", ", ")
            + money(row["prev_benefit"], lang, "month"),
        ),
        (
            t("已享受救助项目", "Current programs"),
            ctx.join(
                labels.program(p, lang) for p in dict.fromkeys(row.get("current_programs") or [])
            ),
        ),
    ]


def _digests(ex: dict, ctx: Ctx) -> list[tuple[str, str]]:
    t = ctx.t
    return [
        (t("政策编号", "Policy id"), ex["policy_id"]),
        (t("政策名称", "Policy name"), ex["policy_name"]),
        (t("政策摘要（SHA-256）", "Policy digest (SHA-256)"), ex["policy_digest"]),
        (t("数据摘要（SHA-256）", "Input digest (SHA-256)"), ex.get("input_digest") or "—"),
        (t("引擎版本", "Engine version"), ex.get("engine_version") or "—"),
    ]


def _machine_line(ex: dict, ctx: Ctx) -> str:
    """The stored values as results.parquet and members.parquet hold them, to compare with
    the machine outputs (codes and integer fen, said so)."""
    r = ex["result"]
    coefficients = ",".join(str(m["labour_coefficient"]) for m in ex["members"])
    return ctx.t(
        "机读核对（与结果文件比对，金额单位为分）：",
        "Machine check (as in the output files, amounts in fen): ",
    ) + (
        f"status={r['status']} benefit={r['benefit']} pci={r['pci']} circle={r['circle']} "
        f"transition={r['transition']}; labour_coefficient={coefficients}"
    )
