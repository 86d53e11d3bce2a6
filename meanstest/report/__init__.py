"""The review report: one self-contained HTML file (inline SVG, no network), 中文 / English.

Reads a review output folder (summary.json, results.parquet, findings.parquet,
changes_*.parquet; or a Spark review's results/ and changes/transition=…/ Parquet
folders) and writes report.html. The NEW list (新纳入, 主动发现 included) shows its 50
most difficult households by rank (§9), the visits to make first; the other change
lists their first 50 by household_id. Both orders are the run's own, so both engines'
reports of one bundle are the same page. Every chart is an inline <svg> with
the class "chart"; the language toggle is a few lines of inline script switching `lang` on <html>. What people
read is in words and yuan: statuses, circles, transitions, vetoes and reject rules by
name (meanstest.labels), amounts in yuan with two decimals and the unit, histogram bins
on round values, and a legend of every code. The files it reads stay codes and fen.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import labels
from meanstest.amounts import yuan
from meanstest.batch import ENROLLED
from meanstest.document import width
from meanstest.errors import MeansTestError
from meanstest.outputs import read_output, summary_mismatches

T = {
    "title": ("社会救助年度复核报告", "Social assistance annual review"),
    "read": ("读取家庭记录(条)", "households rows read"),
    "assessed": ("已核定(户)", "assessed"),
    "rejected": ("退回:数据有误的家庭记录(条)", "households rows rejected: bad input"),
    "benefit": ("月救助金总额", "total monthly benefit"),
    "mean": ("受助家庭户均月救助金", "mean monthly benefit per recipient household"),
    "provisional": ("临时结果:有部门未核对(户)", "provisional: a source not checked"),
    "unmatched": ("未匹配到家庭的部门记录(条)", "source rows matching no household"),
    "paid_rejected": (
        "被退回但上期在保的家庭记录(条)",
        "rejected households rows that were being paid",
    ),
    "findings": (
        "核对疑点(含漏救、错救)",
        "Verification findings (missed and undue help included)",
    ),
    "findings_note": (
        (
            "一户可有多条疑点;每类疑点下列出条数和涉及户数。逐户疑点见 findings.parquet,"
            "逐户核算过程用 meanstest explain 查看。"
        ),
        (
            "A household may have several findings; each kind shows findings and households. "
            "Per household: findings.parquet, and meanstest explain for the calculation."
        ),
    ),
    "many_rules": (
        "一户触发多条规则时每条都计入,合计可多于户数。",
        "A household counts under every rule it meets: totals may exceed the households.",
    ),
    "paid_rejected_note": (
        (
            "这些家庭因数据有误被退回,本期未核定;上期仍在领取救助金(低保、特困或渐退),需人工处理。"
            "列出按户号前 50 户,全部见 rejects.parquet 与数据包。"
        ),
        (
            "Rejected for bad input, so not assessed now, though they were being paid (dibao, "
            "tekun or phase-out): they need a decision by hand. The first 50 by household id; "
            "all in rejects.parquet and the bundle."
        ),
    ),
    "changes_note": (
        (
            "新纳入(含主动发现)按困难排序列出前 50 户,即应优先入户核查的家庭;其余各列按户号列出"
            "前 50 户。完整清单见 changes_*.parquet,逐户核算过程用 meanstest explain 查看。"
        ),
        (
            "Newly enrolled (found by recomputation included): the 50 most difficult by rank, "
            "the households to visit first; the other lists: the first 50 by household id. "
            "Full lists: changes_*.parquet; each household's calculation: meanstest explain."
        ),
    ),
    "ingest": ("数据导入提示", "What the ingest of the bundle said"),
    "ingest_note": (
        (
            "以上为数据包由 meanstest ingest 导入时给出的提示(原文)。其中被隔离的原始记录"
            "(quarantine.parquet)未计入所涉家庭的核算,这些家庭的结果须人工核实后方可据以发放;"
            "重复文件、重复编号等其他提示的详情见数据包中的 ingest.json。"
        ),
        (
            "These are the ingest's own words about the bundle. Rows it quarantined "
            "(quarantine.parquet) are missing from the assessment of the households they "
            "belong to: check those results by hand before paying on them. Its other "
            "warnings (copies, repeated keys, orphan rows) are detailed in ingest.json in "
            "the bundle."
        ),
    ),
    "status": ("认定结果分布(户)", "Status (households)"),
    "circle": ("四级信息圈(户)", "Information circles (households)"),
    "benefit_dist": ("受助家庭月救助金分布(户)", "Monthly benefit of recipients (households)"),
    "veto": ("一票否决规则触发次数(户)", "Vetoes triggered (households)"),
    "transition": ("动态管理变化(户)", "Transitions (households)"),
    "index": ("家庭困难指数分布(户)", "Difficulty index (households)"),
    "top": ("最困难家庭(前 20 户)", "Most difficult households (top 20)"),
    "jurisdiction": ("分地区", "By jurisdiction"),
    "changes": ("变化清单", "Change lists"),
    "rejects": ("退回原因", "Rejects by reason"),
    "legend": ("代码说明", "What the codes mean"),
    "packs": ("所用政策包与核算引擎", "Policy packs and engine used"),
    "packs_note": (
        (
            "政策包摘要(policy_digest)是展开后政策参数的 SHA-256,可与发布的政策包摘要逐一核对;"
            "核算引擎版本见 meanstest --version。"
        ),
        (
            "policy_digest is the SHA-256 of the resolved pack's parameters: compare it with "
            "the published pack's; the engine version is meanstest --version's."
        ),
    ),
    "bins": (
        "区间含下限、不含上限;救助金均为整元。",
        "Each bin includes its lower bound, not its upper; benefits are whole yuan.",
    ),
    "index_bins": ("困难指数 0–1000,越高越困难。", "Index 0–1000; higher is more difficult."),
}
COLUMNS = {  # report table columns: (zh, en)
    "rank": ("排序", "rank"),
    "household_id": ("户号", "household"),
    "difficulty_index": ("困难指数", "difficulty index"),
    "status": ("认定结果", "status"),
    "benefit": ("月救助金", "monthly benefit"),
    "pci": ("月人均收入", "per-capita monthly income"),
    "circle": ("信息圈", "circle"),
    "prev_status": ("上期状态", "previous status"),
    "prev_benefit": ("上期月救助金", "previous monthly benefit"),
    "jurisdiction": ("行政区划", "jurisdiction"),
    "households": ("家庭(户)", "households"),
    "assessed": ("已核定(户)", "assessed"),
    "enrolled": ("纳入保障(户)", "enrolled"),
    "reason": ("退回原因", "reason"),
    "code": ("疑点", "finding"),
    "findings": ("疑点(条)", "findings"),
    "provisional": ("临时结果", "provisional"),
    "policy_id": ("政策包", "policy pack"),
    "policy_digest": ("政策包摘要", "policy digest"),
    "engine_version": ("核算引擎版本", "engine version"),
}
MONEY = ("benefit", "pci", "prev_benefit")


def _b(zh: str, en: str) -> str:
    """Both languages; the page shows the one chosen by the toggle."""
    return f"<span lang='zh'>{html.escape(zh)}</span><span lang='en'>{html.escape(en)}</span>"


def _t(key: str) -> str:
    return _b(*T[key])


def _name(table: dict, code) -> tuple[str, str]:
    return labels.of(table, code, "zh"), labels.of(table, code, "en")


def bar_chart(items: list[tuple[tuple[str, str], int]], size: int = 700) -> str:
    """A horizontal bar chart as inline SVG; each label in both languages."""
    row = 22
    longest = max([width(t) for (zh, en), _ in items for t in (zh, en)] + [8])
    label_w = 12 + 13 * longest // 2  # ~6.5 px a column at font-size 12
    top = max([v for _, v in items] + [1])
    h = row * len(items) + 10
    svg = (
        f"<svg class='chart' role='img' width='{size}' height='{h}' "
        f"viewBox='0 0 {size} {h}' xmlns='http://www.w3.org/2000/svg'>"
    )
    parts = [svg]
    for i, ((zh, en), value) in enumerate(items):
        y = 5 + i * row
        w = (size - label_w - 70) * value // top
        for lang, text in (("zh", zh), ("en", en)):
            parts.append(
                f"<text lang='{lang}' x='{label_w - 6}' y='{y + 15}' text-anchor='end' "
                f"font-size='12'>{html.escape(text)}</text>"
            )
        parts.append(
            f"<rect x='{label_w}' y='{y + 3}' width='{w}' height='{row - 6}' fill='#3572b0'/>"
            f"<text x='{label_w + w + 4}' y='{y + 15}' font-size='12'>{value:,}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def round_step(top: int, bins: int = 10) -> int:
    """The smallest of 1, 2, 5 × 10^k with at most `bins` bins from 0 to `top` inclusive."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if (top // (step * m)) + 1 <= bins:
                return step * m
        step *= 10


def histogram(values: np.ndarray, step: int) -> list[tuple[int, int]]:
    """(lower bound, count) of bins [k·step, (k+1)·step) from 0 to the largest value."""
    if len(values) == 0:
        return []
    counts = np.bincount(values.astype(np.int64) // step)
    return [(k * step, int(c)) for k, c in enumerate(counts)]


def benefit_bins(benefit_fen: np.ndarray) -> list[tuple[tuple[str, str], int]]:
    """Round yuan bins of the recipients' benefits: '0–499 元', '500–999 元' (whole
    yuan). Give every recipient household (batch.ENROLLED), 0 元 included: a DIBAO whose
    gap rounds to 0 元 is one (the chart left them out while the mean counted them)."""
    paid = benefit_fen // 100
    if len(paid) == 0:
        return []
    step = round_step(int(paid.max()))
    return [
        ((f"{lo:,}–{lo + step - 1:,} 元", f"{lo:,}–{lo + step - 1:,} yuan"), c)
        for lo, c in histogram(paid, step)
    ]


def index_bins(index: np.ndarray) -> list[tuple[tuple[str, str], int]]:
    """Bins of 100 points: '0–99' … '900–1000' (1000 falls in the last)."""
    counts = histogram(np.minimum(index, 999), 100)
    return [((f"{lo}–{lo + 99 if lo < 900 else 1000}",) * 2, c) for lo, c in counts]


def _cell(column: str, value) -> str:
    if value is None:
        return "<td>—</td>"
    if column in MONEY:
        return f"<td class='r'>{_b(f'{yuan(value)} 元', f'{yuan(value)} yuan')}</td>"
    if column == "status":
        return f"<td>{_b(*_name(labels.STATUS, value))}</td>"
    if column == "prev_status":
        return f"<td>{_b(*_name(labels.PREV_STATUS, value))}</td>"
    if column == "circle":
        return f"<td>{_b(*_name(labels.CIRCLE, value))}</td>"
    if column == "reason":
        zh, en = labels.reject_rule(value, "zh"), labels.reject_rule(value, "en")
        return f"<td>{_b(zh, en)}</td>"
    if column == "code":
        return f"<td>{_b(labels.finding(value, 'zh'), labels.finding(value, 'en'))}</td>"
    if isinstance(value, bool):
        return f"<td>{_b('是', 'yes') if value else _b('否', 'no')}</td>"
    if isinstance(value, int):
        return f"<td class='r'>{value:,}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def _table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th{' class=r' if c in MONEY else ''}>{_b(*COLUMNS[c])}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(c, r.get(c)) for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _legend() -> str:
    def rows(table: dict, rules: dict, codes) -> str:
        return "".join(
            f"<tr><td>{_b(*_name(table, c))}</td><td>{_b(*rules[c])}</td></tr>" for c in codes
        )

    veto_rules = {
        code: tuple(_rule_in_words(code, lang) for lang in labels.LANGS) for code in labels.VETO
    }
    vetoes = "".join(
        f"<tr><td>{_b(labels.veto(c, 'zh'), labels.veto(c, 'en'))}</td><td>{_b(*veto_rules[c])}"
        "</td></tr>"
        for c in labels.VETO
    )
    # a finding's name with the code findings.parquet holds (an auditor could not map the
    # one to the other); statuses and transitions stay words, their codes are in DATA.md
    findings = "".join(
        f"<tr><td>{_b(labels.finding(c, 'zh'), labels.finding(c, 'en'))}</td>"
        f"<td>{_b('findings.parquet 中的代码 ', 'the code in findings.parquet: ')}"
        f"<code>{c}</code></td></tr>"
        for c in labels.FINDING
    )
    parts = [
        (("认定结果", "Status"), rows(labels.STATUS, labels.STATUS_RULE, labels.STATUS)),
        (("四级信息圈", "Circles"), rows(labels.CIRCLE, labels.CIRCLE_RULE, labels.CIRCLE)),
        (
            ("动态管理", "Transitions"),
            rows(labels.TRANSITION, labels.TRANSITION_RULE, labels.TRANSITION),
        ),
        (("一票否决规则", "Veto rules"), vetoes),
        (("核对疑点", "Findings"), findings),
    ]
    params = _b(
        "〔〕内为政策参数,取值见各地政策。", "[ ] are policy parameters; each pack sets them."
    )
    return (
        "".join(
            f"<table class='legend'><tr><th>{_b(*head)}</th><th>{_b('含义', 'meaning')}</th></tr>"
            f"{body}</table>"
            for head, body in parts
        )
        + f"<p class='note'>{params}</p>"
    )


def _rule_in_words(code: str, lang: str) -> str:
    """A veto's rule with its parameters named (the report covers every pack)."""
    brackets = "〔{}〕" if lang == "zh" else "[{}]"
    names = {k: brackets.format(labels.parameter(k, lang)) for k in labels.PARAMETER}
    return labels.pick(labels.VETO_RULE[code], lang).format_map(names)


def build_report(out_dir) -> str:
    out = Path(out_dir)
    try:
        if not (out / "summary.json").is_file():
            raise FileNotFoundError("no summary.json")
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        results = read_output(
            out,
            "results",
            ["household_id", "status", "benefit", "difficulty_index", "rank", "pci", "circle",
             "provisional", "transition", "vetoes", "policy_id", "policy_digest",
             "engine_version"],
        )  # fmt: skip
        if results is None:
            raise FileNotFoundError("no results.parquet or results/ folder")
        findings = read_output(out, "findings", ["household_id", "code"])
        rejects = read_output(out, "rejects", ["reasons"])
    except (OSError, ValueError) as e:
        raise MeansTestError(f"{out}: not a review output folder ({e})") from e
    if mismatches := summary_mismatches(summary, results, rejects):
        key, got, want = mismatches[0]
        raise MeansTestError(
            f"{out}: summary.json says {key} {got}, the results give {want}; "
            "run meanstest reproduce"
        )
    enrolled = pc.is_in(results["status"], value_set=pa.array(ENROLLED)).to_numpy()
    benefit = results["benefit"].to_numpy()[enrolled]
    index = results["difficulty_index"].to_numpy()
    top = results.take(pc.sort_indices(results, [("rank", "ascending")])[:20]).to_pylist()
    total, mean = summary["total_monthly_benefit"], summary["mean_monthly_benefit_of_recipients"]
    headline = [
        ("read", f"{summary['households_read']:,}"),
        ("assessed", f"{summary['assessed']:,}"),
        ("rejected", f"{summary['rejected']:,}"),
        ("benefit", _b(f"{yuan(total)} 元/月", f"{yuan(total)} yuan/month")),
        ("mean", _b(f"{yuan(mean)} 元/月", f"{yuan(mean)} yuan/month")),
        ("provisional", f"{summary['provisional']:,}"),
        ("unmatched", f"{summary.get('unmatched_source_rows', 0):,}"),
    ]
    paid = summary.get("rejected_previously_paid")
    if paid is not None:
        money = yuan(paid["prev_benefit"])
        headline.append(
            (
                "paid_rejected",
                f"{paid['households']:,}<br>" + _b(f"{money} 元/月", f"{money} yuan/month"),
            )
        )
    jurisdictions = sorted(summary.get("by_jurisdiction", {}).items())
    note = "<p class='note'>{}</p>"
    sections = [
        (
            "status",
            bar_chart([(_name(labels.STATUS, k), v) for k, v in summary["by_status"].items()]),
        ),
        (
            "circle",
            bar_chart([(_name(labels.CIRCLE, int(k)), v) for k, v in summary["by_circle"].items()]),
        ),
        ("benefit_dist", bar_chart(benefit_bins(benefit)) + note.format(_t("bins"))),
        (
            "veto",
            bar_chart(
                [
                    ((labels.veto(k, "zh"), labels.veto(k, "en")), v)
                    for k, v in summary["by_veto"].items()
                ]
            )
            + note.format(_t("many_rules")),
        ),
        (
            "transition",
            bar_chart(
                [(_name(labels.TRANSITION, k), v) for k, v in summary["by_transition"].items()]
            ),
        ),
        ("index", bar_chart(index_bins(index)) + note.format(_t("index_bins"))),
        (
            "jurisdiction",
            bar_chart([((j, j), v["households"]) for j, v in jurisdictions])
            + _table(
                [{"jurisdiction": j, **v} for j, v in jurisdictions],
                ["jurisdiction", "households", "assessed", "enrolled", "benefit"],
            ),
        ),
        (
            "top",
            _table(top, ["rank", "household_id", "difficulty_index", "status", "benefit", "pci"]),
        ),
        ("findings", _findings_table(findings) + note.format(_t("findings_note"))),
        ("packs", _packs_table(results) + note.format(_t("packs_note"))),
        (
            "rejects",
            _table(
                [{"reason": k, "households": v} for k, v in summary["rejects_by_reason"].items()],
                ["reason", "households"],
            )
            + note.format(_t("many_rules")),
        ),
    ]
    ingest = ""  # above the headline figures: what they rest on
    if notes := summary.get("ingest_notes"):
        said = "".join(f"<li>{html.escape(str(line))}</li>" for line in notes)
        ingest = f"<section><h2>{_t('ingest')}</h2><ul>{said}</ul>{note.format(_t('ingest_note'))}"
        ingest += "</section>"
    if paid and paid["households"]:
        sections.append(
            (
                "paid_rejected",
                _table([{"household_id": h} for h in paid["first_household_ids"]], ["household_id"])
                + note.format(_t("paid_rejected_note")),
            )
        )
    changes = []
    for name in ("new", "exit", "adjust", "phase_out"):
        t = read_output(out, f"changes_{name}")
        if t is not None:
            columns = [c for c in _CHANGE_COLUMNS if c in t.column_names]
            if name == "new":  # the visits to make first: by rank, with why and how sure
                first = _by_rank(t, results)
                columns = ["rank", "difficulty_index", *columns, "provisional"]
            else:
                first = t.take(pc.select_k_unstable(t, 50, [("household_id", "ascending")]))
                first = first.take(pc.sort_indices(first, [("household_id", "ascending")]))
            zh, en = _name(labels.TRANSITION, name.upper())
            changes.append(
                f"<h3>{_b(f'{zh}({t.num_rows:,} 户)', f'{en} ({t.num_rows:,})')}</h3>"
                + _table(first.to_pylist(), columns)
            )
    cards = "".join(f"<div class='card'><div class='n'>{v}</div>{_t(k)}</div>" for k, v in headline)
    body = "".join(f"<section><h2>{_t(k)}</h2>{chart}</section>" for k, chart in sections)
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{T["title"][0]} / {T["title"][1]}</title>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;max-width:1000px}}
html[lang=zh] [lang=en], html[lang=en] [lang=zh]{{display:none}}
.card{{display:inline-block;border:1px solid #ccc;padding:.6em 1em;margin:.3em;min-width:10em;
vertical-align:top}}
.n{{font-size:1.5em;font-weight:bold}} table{{border-collapse:collapse;font-size:12px;margin:.4em 0}}
td,th{{border:1px solid #ddd;padding:2px 6px;text-align:left}} .r{{text-align:right}}
section{{margin:1.5em 0}} .note{{font-size:12px;color:#555;margin:.2em 0}}
table.legend{{margin-bottom:1em;min-width:60%}} table.legend td:first-child{{white-space:nowrap}}
</style></head><body>
<button id="toggle" onclick="var h=document.documentElement;h.lang=h.lang=='zh'?'en':'zh'">
中文 / English</button>
<h1>{_t("title")}</h1>{ingest}<div>{cards}</div>{body}
<section><h2>{_t("changes")}</h2><p class='note'>{_t("changes_note")}</p>{"".join(changes)}</section>
<section><h2>{_t("legend")}</h2>{_legend()}</section>
</body></html>
"""


def _by_rank(changes: pa.Table, results: pa.Table, k: int = 50) -> pa.Table:
    """The k change-list rows of the best rank (§9: the most difficult first), with the
    results' rank, difficulty index and provisional flag beside them."""
    keep = pc.is_in(results["household_id"], value_set=changes["household_id"])
    ranked = results.filter(keep).select(
        ["household_id", "rank", "difficulty_index", "provisional"]
    )
    ranked = ranked.take(pc.select_k_unstable(ranked, k, [("rank", "ascending")]))
    ranked = ranked.take(pc.sort_indices(ranked, [("rank", "ascending")]))
    # only the k rows become Python objects (a million NEW households took 3.5 s and
    # 700 MB as a whole list: a review of the 2026-12-05 changes)
    shown = changes.filter(pc.is_in(changes["household_id"], value_set=ranked["household_id"]))
    rows = {r["household_id"]: r for r in shown.to_pylist()}
    return pa.Table.from_pylist([rows[r["household_id"]] | r for r in ranked.to_pylist()])


def _findings_table(findings: pa.Table | None) -> str:
    """Findings by code, in the legend's order: how many, and in how many households."""
    if findings is None or findings.num_rows == 0:
        return _table([], ["code", "findings", "households"])
    grouped = findings.group_by("code").aggregate(
        [("household_id", "count"), ("household_id", "count_distinct")]
    )
    by_code = {
        r["code"]: {"code": r["code"], "findings": r["household_id_count"],
                    "households": r["household_id_count_distinct"]}
        for r in grouped.to_pylist()
    }  # fmt: skip
    order = [*labels.VETO, *labels.FINDING]
    rows = [by_code[c] for c in order if c in by_code]
    rows += [v for c, v in sorted(by_code.items()) if c not in order]
    return _table(rows, ["code", "findings", "households"])


def _packs_table(results: pa.Table) -> str:
    """The (policy_id, policy_digest, engine_version) of the results and their households:
    what an auditor checks against the published packs (a pack edited but kept under its
    id reproduces against the edited folder; only its digest tells)."""
    keys = [
        c for c in ("policy_id", "policy_digest", "engine_version") if c in results.column_names
    ]
    if not keys or results.num_rows == 0:
        return _table([], [*keys, "households"])
    grouped = results.group_by(keys).aggregate([("household_id", "count")])
    rows = sorted(
        ({**{k: r[k] for k in keys}, "households": r["household_id_count"]}
         for r in grouped.to_pylist()),
        key=lambda r: tuple(str(r[k]) for k in keys),
    )  # fmt: skip
    return _table(rows, [*keys, "households"])


# the columns of a change list the report shows (those an output folder has)
_CHANGE_COLUMNS = (
    "household_id",
    "status",
    "benefit",
    "prev_status",
    "prev_benefit",
    "pci",
    "circle",
)


def write_report(out_dir) -> Path:
    path = Path(out_dir) / "report.html"
    tmp = path.with_name("report.html.tmp")
    tmp.write_text(build_report(out_dir), encoding="utf-8")
    tmp.replace(path)
    return path
