"""The small-call path: a few households from protobuf messages to a response, scalar.

A call of one household through the bulk pipeline costs ~13 ms of server CPU in fixed
per-call work (Arrow compute calls, a parallel region); the household itself is
microseconds. Here the messages are read field by field into rows, checked with the
scalar validator (`scalar_checks`, same reasons as meanstest.validate), assessed by the
serial household kernel (`small_engine`), and digested from the rows in the canonical
text of docs/digests.md. Identical answers to the bulk path, digests included
(tests/test_service_small.py, on random households good and bad).

`assess` returns None whenever the call needs something only the bulk path does —
more than MAX_HOUSEHOLDS, a person in two households, a source record carried by one
household for a person of another, a missing or repeated household_id, a date the
scalar reader is not sure of, a value that does not fit its bundle type (validation
lists it beside the household's other reasons), a pack of more programs than the
kernels hold — and the server then runs the bulk path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from meanstest import schema
from meanstest.kernels import layout as L
from meanstest.pipeline import ENGINE_VERSION
from meanstest.service import scalar_checks
from meanstest.service.journal import RESULT_COLUMNS, reasons_digest
from meanstest.service.small_engine import Answer, PackCache, Valid, run
from meanstest.v1 import meanstest_pb2 as pb

if TYPE_CHECKING:
    from meanstest.policy import PolicyLibrary

MAX_HOUSEHOLDS = 32  # past ~30 households the bulk path is cheaper
NESTED = ("persons", "supporters") + schema.SOURCE_TABLES
_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COLUMNS = {t: tuple(c.name for c in cols) for t, cols in schema.TABLES.items()}
# columns the conversion checks, in column order: (name, is a date) — else an int8
_CHECKED = {
    t: tuple((c.name, c.type == pa.date32()) for c in cols if c.type in (pa.date32(), pa.int8()))
    for t, cols in schema.TABLES.items()
}


class _Unsure(Exception):
    """The scalar reader cannot be sure to agree with the bulk path: use the bulk path."""


def _date(text: str):
    """(date, None) or (None, problem); _Unsure where Arrow's parser decides oddly."""
    if len(text) == 10 and _DATE_SHAPE.fullmatch(text) and text[0] != "0":
        try:
            return dt.date(int(text[:4]), int(text[5:7]), int(text[8:])), None
        except ValueError:
            return None, "bad"
    if _DATE_SHAPE.search(text) is None:
        return None, "bad"
    raise _Unsure(text)


def _row(msg) -> dict:
    return {fd.name: value for fd, value in msg.ListFields()}


def _fits(table: str, rows: list[dict]) -> bool:
    """Dates parsed in place; False when a value does not fit its bundle type (a date
    that is not YYYY-MM-DD, an int8 outside -128..127: convert._column), which the
    bulk path reports beside the household's other reasons."""
    fits = True
    for name, is_date in _CHECKED[table]:
        for row in rows:
            value = row.get(name)
            if value is None:
                continue
            if is_date:
                row[name], bad = _date(value)
                fits = fits and not bad
            elif not -128 <= value <= 127:
                fits = False
    return fits


@dataclass
class _Household:
    row: dict
    tables: dict[str, list[dict]]
    fits: bool


def _decode(msg: pb.Household) -> _Household:
    row = _row(msg)
    tables = {name: [_row(m) for m in row.pop(name, ())] for name in NESTED}
    programs = row.pop("current_programs", None)
    row["current_programs"] = None if programs is None else list(programs.names)
    fits = _fits("households", [row])
    for name in NESTED:
        fits = _fits(name, tables[name]) and fits
    return _Household(row, tables, fits)


@dataclass
class Small:
    """The answer of a small call: output rows, rejects, and the journal's section."""

    results: list[dict]
    members: list[dict]
    findings: list[dict]
    rejects: list[tuple[str, list[str]]]
    # source rows naming no member or supporter of the call: validate's count
    unmatched_source_rows: int = 0


def assess(
    households: Sequence[pb.Household], library: PolicyLibrary, cache: PackCache
) -> Small | None:
    if not households or len(households) > MAX_HOUSEHOLDS:
        return None
    try:
        decoded = [_decode(h) for h in households]
    except _Unsure:
        return None
    hids = [d.row.get("household_id") for d in decoded]
    if None in hids or len(set(hids)) < len(hids) or not all(d.fits for d in decoded):
        return None
    # rows numbered as in the call's tables; a source record equal in every column to one
    # an earlier household carries is dropped (convert.unique_rows: the copies within
    # the household that carries it first each count)
    counter = {name: 0 for name in ("households",) + NESTED}
    seen: dict[str, dict] = {name: {} for name in schema.SOURCE_TABLES}
    home: dict[str, int] = {}
    for i, d in enumerate(decoded):
        d.row["_row"] = counter["households"]
        counter["households"] += 1
        for name in NESTED:
            rows = []
            for r in d.tables[name]:
                if name in seen:
                    line = tuple(r.get(c) for c in _COLUMNS[name])
                    if seen[name].setdefault(line, i) != i:
                        continue
                r["_row"] = counter[name]
                counter[name] += 1
                rows.append(r)
            d.tables[name] = rows
        for name, column in (("persons", "person_id"), ("supporters", "supporter_id")):
            for r in d.tables[name]:
                r["household_id"] = d.row["household_id"]
                pid = r.get(column)
                if pid is not None and home.setdefault(pid, i) != i:
                    return None  # a person in two households: DUPLICATE_PERSON etc.
    own: list[dict[str, list[dict]]] = []
    unmatched = 0  # rows of nobody in the call: ignored, and counted (DATA.md)
    for i, d in enumerate(decoded):
        mine = {}
        for name in schema.SOURCE_TABLES:
            rows = []
            for r in d.tables[name]:
                h = home.get(r.get("person_id"), -1)
                if h >= 0 and h != i:
                    return None  # a record of a person of another household
                if h == i:
                    rows.append(r)
                else:
                    unmatched += 1
            mine[name] = rows
        own.append(mine)
    valid, rejects = [], []
    for d, sources in zip(decoded, own, strict=True):
        persons, supporters = d.tables["persons"], d.tables["supporters"]
        reasons, pack = scalar_checks.reasons(d.row, persons, supporters, sources, library)
        if reasons:
            rejects.append((d.row["household_id"], reasons))
        else:
            valid.append(Valid(d.row, persons, supporters, sources, pack))
    if any(len(v.pack.programs) > L.MAX_PROGRAMS for v in valid):
        return None  # the kernels' program bits: the bulk path (fast.run) routes them
    answers = run(valid, cache) if valid else []
    results, members, findings = [], [], []
    for v, a in zip(valid, answers, strict=True):
        a.result |= {
            "policy_id": v.pack.id,
            "policy_digest": v.pack.digest,
            "input_digest": input_digest(v),
            "engine_version": ENGINE_VERSION,
        }
    for r, rank in zip(answers, _ranks(answers), strict=True):
        r.result["rank"] = rank
        results.append(r.result)
        members += r.members
        findings += r.findings
    return Small(results, members, findings, rejects, unmatched)


def _ranks(answers: list[Answer]) -> list[int]:
    """§9 rank within the call: difficulty_index descending, then household_id."""
    order = sorted(
        range(len(answers)),
        key=lambda i: (-answers[i].result["difficulty_index"], answers[i].result["household_id"]),
    )
    ranks = [0] * len(answers)
    for rank, i in enumerate(order, start=1):
        ranks[i] = rank
    return ranks


# -- the canonical text of docs/digests.md, one value at a time --------------------------

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _escape(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value


def text(value: str | int | bool | list[str | None] | dt.date | None) -> str:
    """One value as canonical text (lines.column_text for one value)."""
    kind = type(value)
    if kind is str:
        return _escape(value)
    if kind is int:
        return str(value)
    if value is None:
        return "\\N"
    if kind is bool:
        return "true" if value else "false"
    if kind is list:
        return ",".join("\\N" if v is None else _escape(v) for v in value)
    return value.isoformat()  # a date (years 1000-9999 only reach here)


def line(table: str, row: dict, columns: Iterable[str]) -> bytes:
    return "\t".join([table, *(text(row.get(c)) for c in columns)]).encode("utf-8")


def _digest(lines: list[bytes]) -> str:
    lines.sort()
    return hashlib.sha256(b"".join(x + b"\n" for x in lines)).hexdigest()


def input_digest(v: Valid) -> str:
    """input_digest of one household (meanstest.digest.input_digests)."""
    lines = [line("households", v.row, _COLUMNS["households"])]
    lines += [line("persons", r, _COLUMNS["persons"]) for r in v.persons]
    lines += [line("supporters", r, _COLUMNS["supporters"]) for r in v.supporters]
    for name in schema.SOURCE_TABLES:
        lines += [line(name, r, _COLUMNS[name]) for r in v.sources[name]]
    return _digest(lines)


_MEMBER_COLUMNS = tuple(schema.OUTPUTS["members"].names)


def journal_section(small: Small) -> dict:
    """The `households` and `rejects` of the journal entry (journal.households_section)."""
    by_household: dict[str, list[bytes]] = {}
    for m in small.members:
        by_household.setdefault(m["household_id"], []).append(line("members", m, _MEMBER_COLUMNS))
    households = []
    for r in small.results:
        lines = [line("results", r, RESULT_COLUMNS), *by_household.get(r["household_id"], ())]
        households.append(
            {
                "household_id": r["household_id"],
                "policy_id": r["policy_id"],
                "policy_digest": r["policy_digest"],
                "input_digest": r["input_digest"],
                "status": r["status"],
                "benefit": r["benefit"],
                "result_digest": _digest(lines),
            }
        )
    rejects = [{"household_id": h, "reasons_digest": reasons_digest(rs)} for h, rs in small.rejects]
    return {"households": households, "rejects": rejects}


def response(small: Small) -> pb.AssessResponse:
    out = pb.AssessResponse()
    for r in small.results:
        out.results.add(**r)
    for m in small.members:
        out.members.add(**m)
    for f in small.findings:
        out.findings.add(**{k: v for k, v in f.items() if v is not None})
    for hid, reasons in small.rejects:
        out.rejects.add(household_id=hid, reasons=reasons)
    out.unmatched_source_rows = small.unmatched_source_rows
    return out
