"""Validation of a few households, one value at a time (the small-call path).

The bulk validator (`meanstest.validate`) is the definition; this is the same set of
rules written for one household's rows (plain dicts), so a call of one household pays
microseconds instead of ~470 Arrow compute calls. Same reasons, same text, same order:
households row first (column order, then the rule's sub-order), then members,
supporters and the source tables in schema.SOURCE_TABLES order, each in row order and
within a row in column order; a reason is listed once. `tests/test_service_small.py`
compares the two on random households, good and bad.

Rows carry `_row`: their 0-based position in the call's table (after conversion
rejects and the removal of repeated source records), which a null key is named by.
The caller sends here only calls whose households share no person (no cross-household
rule applies: DUPLICATE_PERSON, a source record of a person of another household,
duplicate household ids); anything else takes the bulk path.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from meanstest import ids, schema
from meanstest.errors import quoted, shown_key
from meanstest.row_checks import (
    CEILINGS,
    JURISDICTION,
    JURISDICTION_RULE,
    KEYS,
    MAX_AMOUNT,
    MAX_TOTAL,
    MONEY,
    NULL,
    RULES,
    breaks,
    counted,
    total_reason,
)

if TYPE_CHECKING:
    from meanstest.policy import PolicyLibrary

_LAST = 1 << 20  # validate._LAST: after every column reason of its row
_POSITION = {t: {c.name: i for i, c in enumerate(cols)} for t, cols in schema.TABLES.items()}


_RULES = {t: {c: rule for (tt, c), rule in RULES.items() if tt == t} for t in schema.TABLES}
_COLUMNS = {
    t: tuple(
        (pos * 16, c.name, c.nullable, c.enum, "|".join(c.enum) if c.enum else None)
        for pos, c in enumerate(cols)
    )
    for t, cols in schema.TABLES.items()
}


class _Row:
    """The reasons of one row: (order, sub-order, text), texts built on demand."""

    __slots__ = ("items", "row", "table")

    def __init__(self, table: str, row: dict) -> None:
        self.table, self.row, self.items = table, row, []

    def add(self, column: str, k: int, rule: str | None, detail: str | None = None) -> None:
        order = _POSITION[self.table][column] * 16 + k
        if rule is None:  # a whole problem text of its own (ID problems)
            problem = detail
        else:
            parts = [f"person {self.row.get('person_id')}"] if self.table in _SOURCE else []
            if detail is not None:
                parts.append(detail)
            problem = f"{rule} ({'; '.join(parts)})" if parts else rule
        key = self.row.get(KEYS.get(self.table, "record_id"))
        key = shown_key(key) if key is not None else f"(row {self.row['_row'] + 1})"
        self.items.append(
            (order, len(self.items), f"{self.table}.{column} record={key}: {problem}")
        )

    def sorted(self) -> list[tuple[int, int, str]]:
        return sorted(self.items)


_SOURCE = frozenset(schema.SOURCE_TABLES)


def check_columns(table: str, row: dict, r: _Row) -> None:
    """row_checks.check_columns for one row: nulls, enums, signs and ranges."""
    rules = _RULES[table]
    for base, name, nullable, enum, allowed in _COLUMNS[table]:
        v = row.get(name)
        if v is None:
            if not nullable:
                r.add(name, 0, NULL)
            continue
        if enum is not None and v not in enum:
            r.add(name, 1, "unknown enum value", f"{quoted(v)}; allowed {allowed}")
        rule = rules.get(name)
        if rule is not None:
            if breaks(rule, v):
                r.add(name, 2, rule[0], str(v))
            ceiling = CEILINGS.get((table, name))
            if ceiling is not None and v > MAX_AMOUNT:
                r.add(name, 2, ceiling, str(v))


def _id_problems(r: _Row, column: str, value) -> None:
    if value is None:
        return
    for k, text in enumerate(ids.id_problems(value)):
        r.add(column, 3 + k, None, text)


def _birth_of(value) -> dt.date | None:
    """The ID's birth date where the bulk check would have one (`IdCheck.has_birth`)."""
    if value is None:
        return None
    problems = ids.id_problems(value)
    if problems and problems[0].startswith("malformed ID"):
        return None
    return ids.birth_date_of(value)


def household_reasons(hh: dict, library: PolicyLibrary) -> tuple[list[str], object]:
    """(reasons of the households row in order, its pack or None)."""
    r = _Row("households", hh)
    check_columns("households", hh, r)
    j = hh.get("jurisdiction")
    d = hh.get("assessment_date")
    pack = None
    well = j is not None and JURISDICTION.fullmatch(j) is not None
    if j is not None and not well:
        r.add("jurisdiction", 3, JURISDICTION_RULE, quoted(j))
    if well and d is not None:
        pack = library.select(j, d)
        if pack is None:
            tried = ", ".join(library.candidates(j))
            r.add(
                "jurisdiction",
                4,
                "no policy pack",
                f"jurisdiction {j}, assessment_date {d}; tried {tried}",
            )
    programs = hh.get("current_programs")
    if pack is not None and programs:
        defined = sorted(pack.programs)
        listing = ", ".join(defined) or "none"
        for name in programs:
            if name not in pack.programs:
                r.add(
                    "current_programs",
                    4,
                    "program not defined by the household's pack",
                    f"{quoted(name)}; pack {pack.id} defines {listing}",
                )
    return [text for _, _, text in r.sorted()], pack


def people_reasons(persons: list[dict], supporters: list[dict], sources: dict) -> list[str]:
    """Reasons of a household's members, supporters and their source records, in the
    bulk validator's order. `sources[table]` holds the call's rows of that table whose
    person_id is one of this household's people."""
    found: list[tuple[tuple, str]] = []
    for group, (table, rows, column) in enumerate(
        (("persons", persons, "person_id"), ("supporters", supporters, "supporter_id"))
    ):
        for row in rows:
            r = _Row(table, row)
            check_columns(table, row, r)
            value = row.get(column)
            _id_problems(r, column, value)
            birth, stated = _birth_of(value), row.get("birth_date")
            if birth is not None and stated is not None and birth != stated:
                r.add(column, 5, None, ids.disagreement(value, stated))
            found += [((group, row["_row"], o, s), t) for o, s, t in r.sorted()]
    _same_person_twice(found, persons, supporters)
    for group, table in enumerate(schema.SOURCE_TABLES, start=2):
        for row in sources.get(table, ()):
            r = _Row(table, row)
            check_columns(table, row, r)
            _id_problems(r, "person_id", row.get("person_id"))
            if table == "property":
                a, d = row.get("acquired_on"), row.get("disposed_on")
                if a is not None and d is not None and d < a:
                    detail = f"acquired_on {a}, disposed_on {d}"
                    r.add("disposed_on", 3, "disposed before acquired", detail)
            found += [((group, row["_row"], o, s), t) for o, s, t in r.sorted()]
    found.sort(key=lambda item: item[0])
    return [text for _, text in found]


def no_members_reason(hh: dict) -> str:
    key = hh.get("household_id")
    key = key if key is not None else f"(row {hh['_row'] + 1})"
    return f"persons.household_id record={key}: household has no members"


def _same_person_twice(found: list, persons: list[dict], supporters: list[dict]) -> None:
    seen: dict[str, list] = {}
    for kind, (rows, column) in enumerate(((persons, "person_id"), (supporters, "supporter_id"))):
        for row in rows:
            pid = row.get(column)
            if pid is not None:
                seen.setdefault(pid, []).append((kind, row["_row"]))
    for pid, where in seen.items():
        if len(where) < 2:
            continue
        members = sum(1 for kind, _ in where if kind == 0)
        counts = ", ".join(
            f"{c} {what} row{'s' if c > 1 else ''}"
            for c, what in ((members, "member"), (len(where) - members, "supporter"))
            if c
        )
        kind, first = min(where)
        table, column = ("persons", "person_id") if kind == 0 else ("supporters", "supporter_id")
        text = f"{table}.{column} record={pid}: same person twice in one household ({counts})"
        found.append(((kind, first, _LAST, 0), text))


def reasons(
    hh: dict,
    persons: list[dict],
    supporters: list[dict],
    sources: dict[str, list[dict]],
    library: PolicyLibrary,
) -> tuple[list[str], object]:
    """Every reason of one household (empty: valid) and its pack."""
    texts, pack = household_reasons(hh, library)
    rest = people_reasons(persons, supporters, sources)
    if not persons:
        rest.insert(0, no_members_reason(hh))  # order (0, -1, ...): before every member
    total = counted(hh.get(c) for c in MONEY["households"])
    total += counted(r.get("tuition") for r in persons)
    for name, rows in sources.items():
        total += sum(counted(r.get(c) for r in rows) for c in MONEY[name])
    if total > MAX_TOTAL:  # after every other reason, as validate._totals
        rest.append(total_reason(hh.get("household_id"), total))
    return list(dict.fromkeys(texts + rest)), pack
