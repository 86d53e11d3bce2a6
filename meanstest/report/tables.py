"""The report's HTML tables: a cell in words and yuan, the legend of every code, and the
findings and policy-pack tables."""

from __future__ import annotations

import html

import pyarrow as pa
import pyarrow.compute as pc

from meanstest import labels
from meanstest.amounts import yuan
from meanstest.report.words import COLUMNS, MONEY, _b, _name


def _cell(column: str, value) -> str:
    if value is None:
        return "<td>—</td>"
    if column in MONEY:  # benefit, pci and prev_benefit are all monthly (RULES.md §7)
        return f"<td class='r'>{_b(f'{yuan(value)} 元/月', f'{yuan(value)} yuan/month')}</td>"
    if column == "status":
        return f"<td>{_b(*_name(labels.STATUS, value))}</td>"
    if column == "prev_status":
        return f"<td>{_b(*_name(labels.PREV_STATUS, value))}</td>"
    if column == "circle":
        return f"<td>{_b(*_name(labels.CIRCLE, value))}</td>"
    if column == "reason":
        zh, en = labels.reject_rule(value, "zh"), labels.reject_rule(value, "en")
        return f"<td>{_b(zh, en)}</td>"
    if column == "reasons":  # a reject's reasons in words, the first few
        shown = [_b(labels.reject_rule(r, "zh"), labels.reject_rule(r, "en")) for r in value[:3]]
        if len(value) > 3:
            shown.append(_b(f"另有 {len(value) - 3} 条", f"and {len(value) - 3} more"))
        return f"<td>{'<br>'.join(shown)}</td>"
    if column == "code":
        return f"<td>{_b(labels.finding(value, 'zh'), labels.finding(value, 'en'))}</td>"
    if column == "program":
        zh, en = labels.program(value, "zh"), labels.program(value, "en")
        return f"<td>{_b(zh, en)} <code>{html.escape(str(value))}</code></td>"
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
        f"<td>{_b(*labels.FINDING_RULE[c])} <code>{c}</code></td></tr>"
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
        "〔〕内为政策参数，取值见各地政策。", "[ ] are policy parameters; each pack sets them."
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


PROGRAM_FINDINGS = {"PROGRAM_MISSED": "missed", "PROGRAM_UNDUE": "undue"}


def _programs_table(findings: pa.Table | None) -> str:
    """Per program (a PROGRAM_MISSED / PROGRAM_UNDUE finding's detail is its name), the
    households that qualify and do not receive it, and that receive it and do not qualify:
    who to visit for which help (主动发现). The findings table gave the totals only, and an
    officer could not tell which program a county's households miss (a blind test)."""
    columns = ["program", "missed", "undue"]
    if findings is None or "detail" not in findings.column_names:
        return _table([], columns)
    wanted = findings.filter(pc.is_in(findings["code"], pa.array(list(PROGRAM_FINDINGS))))
    if wanted.num_rows == 0:
        return _table([], columns)
    grouped = wanted.group_by(["detail", "code"]).aggregate([("household_id", "count_distinct")])
    rows: dict[str, dict] = {}
    for r in grouped.to_pylist():
        row = rows.setdefault(r["detail"], {"program": r["detail"], "missed": 0, "undue": 0})
        row[PROGRAM_FINDINGS[r["code"]]] = r["household_id_count_distinct"]
    return _table([rows[k] for k in sorted(rows, key=str)], columns)


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
