"""The reference calculator's household view, findings and trace (RULES.md §0 ownership)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field


class Trace:
    """Records each step the calculator takes: section, label, value and inputs used.
    `enabled` is False for NO_TRACE, so values gathered only for the record are skipped
    when nobody records."""

    enabled = True

    def __init__(self) -> None:
        self.steps: list[dict] = []

    def note(self, section: str, label: str, value: object, **inputs: object) -> None:
        self.steps.append({"section": section, "label": label, "value": value, "inputs": inputs})


class _NoTrace(Trace):
    enabled = False

    def note(self, section: str, label: str, value, **inputs) -> None:
        pass


NO_TRACE = _NoTrace()


@dataclass
class Household:
    """One household and every record joined to its people by person_id."""

    row: dict
    members: list[dict]
    supporters: list[dict]
    records: dict[str, dict[str, list[dict]]]  # table -> person_id -> rows by record_id
    pack: dict  # resolved policy parameters
    duplicates: dict[str, list[str]] = field(default_factory=dict)

    def rows(self, table: str, person_id: str) -> list[dict]:
        return self.records[table].get(person_id, [])

    def member_rows(self, table: str) -> Iterator[tuple[dict, dict]]:
        """(member, row) pairs in evidence order: persons order, then record_id."""
        for m in self.members:
            for r in self.rows(table, m["person_id"]):
                yield m, r


@dataclass
class Finding:
    code: str
    severity: str
    person_id: str | None
    source: str
    record_id: str | None
    detail: str


# §0 ownership ---------------------------------------------------------------------------


def owned_vehicle(row: dict, d: dt.date) -> bool:
    return row["registered_on"] <= d


def owned_property(row: dict, d: dt.date) -> bool:
    return row["acquired_on"] <= d and (row["disposed_on"] is None or row["disposed_on"] > d)
