"""Human names (中文 / English) of every code the engine writes, and how they read.

One place, keyed by code, for what people see: statuses, transitions, circles, vetoes
(named after the RULES.md §6 rule each one implements), findings, severities, sources,
enumeration values, columns, policy parameters and reject rules (`codes.py`, `data.py`),
with the lookups below. The explain document, the review report and the CLI take their
words from here; machine outputs (Parquet, JSON, summary.json) keep the codes and
integer fen. Amounts are formatted in meanstest.amounts (integer arithmetic, no float).
"""

from __future__ import annotations

import re
from typing import Any

from meanstest.amounts import money, ratio, value
from meanstest.labels.codes import (
    ADDON,
    CIRCLE,
    CIRCLE_RULE,
    DEPARTMENT,
    EMPLOYMENT_BASIS,
    FINDING,
    FINDING_RULE,
    PREV_STATUS,
    PROGRAM,
    PROGRAM_REQUIRES,
    SECTION,
    SEVERITY,
    STATUS,
    STATUS_RULE,
    TABLE,
    TRANSITION,
    TRANSITION_RULE,
    VETO,
    VETO_RULE,
    Name,
)
from meanstest.labels.data import (
    COLUMN,
    ENUM,
    PARAMETER,
    REJECT_DETAIL_ZH,
    REJECT_RULE,
)

__all__ = [
    "ADDON",
    "CIRCLE",
    "CIRCLE_RULE",
    "COLUMN",
    "DEPARTMENT",
    "EMPLOYMENT_BASIS",
    "ENUM",
    "FINDING",
    "FINDING_RULE",
    "LANGS",
    "PARAMETER",
    "PREV_STATUS",
    "PROGRAM",
    "PROGRAM_REQUIRES",
    "REJECT_RULE",
    "SECTION",
    "SEVERITY",
    "STATUS",
    "STATUS_RULE",
    "TABLE",
    "TRANSITION",
    "TRANSITION_RULE",
    "VETO",
    "VETO_RULE",
    "Name",
]

LANGS = ("zh", "en")

_REASON = re.compile(
    r"^(?P<table>[a-z_]+)\.(?P<column>[a-z_]+)(?P<record> record=(?:\(row \d+\)|\S+))?: "
    r"(?P<rest>.*)$",
    re.DOTALL,
)


# Lookups --------------------------------------------------------------------------------


def pick(name: Name, lang: str) -> str:
    """The zh or en half of a (zh, en) pair."""
    return name[0] if lang == "zh" else name[1]


def of(table: dict, code: str | int | None, lang: str) -> str:
    """The name of `code` in `table`; a code the table lacks is shown as written."""
    name = table.get(code)
    return pick(name, lang) if name else str(code)


def veto(code: str, lang: str) -> str:
    """'V04 金融资产超标': the code with the name of its rule."""
    return f"{code} {of(VETO, code, lang)}"


def finding(code: str, lang: str) -> str:
    """A findings code as people read it (vetoes with their code, others by name)."""
    if code in VETO:
        return veto(code, lang)
    return of(FINDING, code, lang)


def enum(column: str, value: str | int | None, lang: str) -> str:
    """An enumeration value of `column` (health, relation, …) by name."""
    if value is None:
        return "—"
    return of(ENUM.get(column, {}), value, lang)


def program(name: str, lang: str) -> str:
    return of(PROGRAM, name, lang)


def column(name: str, lang: str, table: str = "") -> str:
    """A column's name; `table` tells apart columns of the same name (property.area)."""
    return of(COLUMN, f"{table}.{name}" if f"{table}.{name}" in COLUMN else name, lang)


def parameter(name: str, lang: str) -> str:
    entry = PARAMETER.get(name)
    return (entry[0] if lang == "zh" else entry[1]) if entry else name


def reject_rule(rule: str, lang: str) -> str:
    """A rule of a reject reason ('persons.health: health outside 1..6' or a whole reason)
    in words: '家庭成员·健康状况：健康状况不在 1–6 之间（…）'. The details in parentheses
    are in the same language, with their values, IDs and codes as written; a rule not
    listed here is shown as written. Chinese takes full-width punctuation (GB/T 15834)."""
    m = _REASON.match(rule)
    if not m:
        return _rule_words(rule, lang)
    where = f"{of(TABLE, m['table'], lang)}·{column(m['column'], lang, m['table'])}"
    record = m["record"]
    if record:
        value = record.split("=", 1)[1]
        row = re.fullmatch(r"\(row (\d+)\)", value)  # a row whose key is null
        if row:
            where += f"（第 {row[1]} 行）" if lang == "zh" else f" (row {row[1]})"
        else:
            where += f"（记录 {value}）" if lang == "zh" else f" (record {value})"
    return f"{where}{'：' if lang == 'zh' else ': '}{_rule_words(m['rest'], lang)}"


def _rule_words(text: str, lang: str) -> str:
    for prefix, zh, en in REJECT_RULE:
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            if prefix == "date outside":
                rest = rest.removeprefix(" 0001-01-01..9999-12-31")
            elif prefix == "program not defined":
                rest = rest.removeprefix(" by the household's pack")
            elif prefix.startswith("amounts of") and lang == "zh":
                total = rest.split(" fen", 1)[0].strip()
                rest = f" {total} 分，超过 10^18 分，超出 int64 计算范围"
            if lang == "zh":
                for pattern, words in REJECT_DETAIL_ZH:
                    rest = re.sub(pattern, words, rest)
            return (zh if lang == "zh" else en) + rest
    return text


def parameter_value(name: str, v: Any, lang: str) -> str:
    """A policy parameter's value in its unit, enumerations by name."""
    unit = PARAMETER.get(name, ("", "", ""))[2]
    if name == "vehicle_types":
        return ("、" if lang == "zh" else " or ").join(enum("vehicle_type", t, lang) for t in v)
    if name in ("student_levels_without_labour",):
        return _join([enum("student_level", x, lang) for x in v], lang)
    if name == "counted_transfers":
        return _join([enum("record_type", x, lang) for x in v], lang)
    if name == "enabled":
        return _join([veto(x, lang) for x in v], lang)
    if name == "tuition_cap":
        return _join(
            [f"{enum('student_level', k, lang)} {money(x, lang)}" for k, x in v.items()], lang
        )
    if name == "sector_ratio":
        return _join(
            [f"{enum('employment_sector', k, lang)} {ratio(x)}" for k, x in v.items()], lang
        )
    if name == "student_points":
        return _join([f"{enum('student_level', k, lang)} {x}" for k, x in v.items()], lang)
    return value(unit, v, lang)


def _join(items: list[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(items) if items else "—"
