"""Reading a case file (docs/cases.md): one hand-worked household in TOML.

`load_case` turns the file into bundle tables (every column the case leaves out takes
its default), the policy choice and the values an auditor expects. A malformed file is
a CaseError naming the file, the key and what is valid.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from meanstest import ids, schema
from meanstest.errors import MeansTestError

DEFAULT_HOUSEHOLD = "H1"

# Defaults of every input column; REQUIRED marks a column the case must state.
REQUIRED = object()
HOUSEHOLD = {
    "id": REQUIRED,  # only for [[other_households]]; the case's own defaults to "H1"
    "jurisdiction": None,  # None: the pack's jurisdiction (150422 when selecting)
    "area": REQUIRED,
    "assessment_date": REQUIRED,
    "consent_signed": True,
    **{f"checked_{d}": True for d in schema.DEPARTMENTS},
    "declared_income_monthly": None,
    "declared_vehicles": None,
    "declared_properties": None,
    "declared_financial_assets": None,
    "prev_status": "none",
    "prev_benefit": 0,
    "current_programs": None,
}
PERSON = {
    "key": None,
    "household": None,
    "same_as": None,
    "person_id": None,
    "relation": None,  # "head" for the first member of a household, else "other"
    "birth_date": REQUIRED,
    "health": 1,
    "student_level": "none",
    "occupation": "none",
    "refused_job_offers": 0,
    "tuition": 0,
}
SUPPORTER = {
    "key": None,
    "household": None,
    "supporter_id": None,
    "birth_date": REQUIRED,
    "health": 1,
    "employment_sector": REQUIRED,
    "exempt_reason": "none",
    "supported_count": 1,
}
# Source rows: `who` names a person or supporter key (or give `person_id`);
# record_id defaults to "<table>:<k>", k counting that table's rows from 1.
SOURCES = {
    "tax_income": {"income_type": REQUIRED, "amount": REQUIRED},
    "business_registration": {"role": REQUIRED, "annual_turnover": 0, "employees": 0},
    "bank": {"institution": "bank", "product": "deposit", "balance": 0, "interest": 0},
    "vehicle": {
        "plate": None,  # None: the record_id (every row its own plate)
        "vehicle_type": REQUIRED,
        "value": REQUIRED,
        "registered_on": REQUIRED,
    },
    "property": {
        "property_id": None,  # None: the record_id (every row its own property)
        "use": REQUIRED,
        "area": REQUIRED,
        "share": 1000,
        "acquired_on": REQUIRED,
        "acquisition": REQUIRED,
        "disposed_on": None,
        "rental_income": 0,
    },
    "social_insurance": {
        "record_type": REQUIRED,
        "amount": REQUIRED,
        "reimbursed": 0,
        "scheme": "none",
        "employer_type": "none",
    },
}
# Expected values a case may state: every engine output column but the run's digests.
RESULT_FIELDS = tuple(
    n
    for n in schema.OUTPUTS["results"].names
    if n not in ("household_id", "policy_digest", "input_digest", "engine_version")
)
MEMBER_FIELDS = schema.OUTPUTS["members"].names[2:]  # after household_id, person_id
NULLABLE = ("person_id", "record_id")
EVIDENCE_FIELDS = ("code", "severity", "person", "source", "detail", "null", *NULLABLE)
_TOP = ("case", "policy", "household", "other_households", "persons", "supporters", "expected")


class CaseError(MeansTestError):
    """A case file is malformed: names the file, the key and what is valid."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}", file=file, key=key, problem=problem)


@dataclass
class Case:
    """One loaded case: bundle tables, policy choice and expected values."""

    path: str
    title: str
    tables: dict[str, pa.Table]
    household_id: str
    pack: str | None
    overrides: dict
    expected: dict
    members: dict[str, str]  # expected.members key -> person_id
    people: dict[str, str] = field(default_factory=dict)  # every key -> person_id


class _Loader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.seq = 0

    def fail(self, key: str, problem: str) -> CaseError:
        return CaseError(self.path, key, problem)

    def table(self, key: str, value, what: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"wrong type: got {type(value).__name__}; valid: a table ({what})")
        return value

    def array(self, key: str, value) -> list:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, "wrong type; valid: an array of tables [[...]]")
        return value

    def row(self, key: str, raw: dict, spec: dict, table: str | None) -> dict:
        """raw with defaults filled in, unknown/missing keys and wrong types refused."""
        unknown = sorted(set(raw) - set(spec))
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}", f"unknown key; valid: {', '.join(spec)}")
        out = {}
        for name, default in spec.items():
            if name not in raw:
                if default is REQUIRED:
                    raise self.fail(f"{key}.{name}", "missing key (required)")
                out[name] = default
                continue
            out[name] = self.typed(f"{key}.{name}", raw[name], table, name)
        return out

    def typed(self, key: str, value, table: str | None, name: str):
        columns = {c.name: c for c in schema.TABLES.get(table or "", ())}
        column = columns.get("household_id" if name == "id" else name)
        # key, household, same_as, who and person_id of a source row: plain strings
        _check_type(self, key, value, column.type if column else pa.string())
        _check_values(self, key, value, column.enum if column is not None else None)
        return value

    def new_id(self, birth: dt.date, region: str) -> str:
        """A valid GB 11643 ID from the birth date (like tests/builders.py `person`)."""
        self.seq += 1
        body = f"{region}{birth:%Y%m%d}{self.seq % 1000:03d}"
        return body + ids.check_character(body)


def load_case(path: str | Path) -> Case:
    """Read and check one case file; raises CaseError naming the file and the key."""
    path = str(path)
    ld = _Loader(path)
    try:
        raw = tomllib.loads(Path(path).read_bytes().decode("utf-8-sig"))
    except tomllib.TOMLDecodeError as e:
        raise ld.fail("(syntax)", f"invalid TOML: {e}") from e
    except RecursionError:  # tomllib recurses per nesting level
        raise ld.fail("(syntax)", "invalid TOML: nested too deeply") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ld.fail("(file)", f"cannot be read as UTF-8 text: {e}") from e
    allowed = (*_TOP, *SOURCES)
    for k in raw:
        if k not in allowed:
            raise ld.fail(k, f"unknown section; valid: {', '.join(allowed)}")
    for k in ("household", "expected"):
        if k not in raw:
            raise ld.fail(k, f"missing table [{k}]")
    meta = ld.row("case", ld.table("case", raw.get("case", {}), "title"), {"title": ""}, None)
    policy = ld.table("policy", raw.get("policy", {}), "pack, overrides")
    bad = sorted(set(policy) - {"pack", "overrides"})
    if bad:
        raise ld.fail(f"policy.{bad[0]}", "unknown key; valid: pack, overrides")
    pack = policy.get("pack")
    if pack is not None and not isinstance(pack, str):
        raise ld.fail("policy.pack", "wrong type; valid: a pack id string, e.g. 150422-2024")
    overrides = ld.table("policy.overrides", policy.get("overrides", {}), "pack sections")
    if "policy" in overrides:
        raise ld.fail("policy.overrides.policy", "the [policy] table of a pack is not overridable")

    own = dict(ld.table("household", raw["household"], "household columns"))
    own.setdefault("id", DEFAULT_HOUSEHOLD)
    homes = [ld.row("household", own, HOUSEHOLD, "households")]
    for i, other in enumerate(ld.array("other_households", raw.get("other_households", []))):
        homes.append(ld.row(f"other_households[{i}]", other, HOUSEHOLD, "households"))
    home_ids = [h["id"] for h in homes]
    if len(set(home_ids)) != len(home_ids):
        raise ld.fail("other_households", "a household id is used twice")
    jurisdiction = homes[0]["jurisdiction"] or "150422"

    people, members, persons, supporters = _people(ld, raw, home_ids, jurisdiction)
    tables = {
        "households": pa.Table.from_pylist(
            [{"household_id": h.pop("id"), **h} for h in homes],
            schema=schema.arrow_schema("households"),
        ),
        "persons": pa.Table.from_pylist(persons, schema=schema.arrow_schema("persons")),
        "supporters": pa.Table.from_pylist(supporters, schema=schema.arrow_schema("supporters")),
        **{t: _source_table(ld, raw, t, people) for t in SOURCES},
    }
    expected = _expected(ld, raw["expected"], members, people)
    return Case(
        path, meta["title"], tables, home_ids[0], pack, overrides, expected, members, people
    )


def _people(ld: _Loader, raw: dict, home_ids: list[str], jurisdiction: str):
    """Persons and supporters rows; keys -> IDs of everyone and of the case's members."""
    people: dict[str, str] = {}
    births: dict[str, dt.date] = {}
    persons, supporters, members, seen = [], [], {}, set()

    def place(key: str, r: dict, label: str) -> str:
        if label in people:
            raise ld.fail(f"{key}.key", f"key {label!r} is used twice")
        home = r["household"] or home_ids[0]
        if home not in home_ids:
            raise ld.fail(f"{key}.household", f"no household {home!r}; valid: {home_ids}")
        return home

    for i, p in enumerate(ld.array("persons", raw.get("persons", []))):
        key = f"persons[{i}]"
        if p.get("same_as") in births and "birth_date" not in p:
            p = {**p, "birth_date": births[p["same_as"]]}
        r = ld.row(key, p, PERSON, "persons")
        label = r["key"] or f"p{i + 1}"
        home = place(key, r, label)
        if r["same_as"] is not None:  # the same person as an earlier member (two households)
            if r["same_as"] not in people:
                raise ld.fail(f"{key}.same_as", f"no earlier person with key {r['same_as']!r}")
            r["person_id"], r["birth_date"] = people[r["same_as"]], births[r["same_as"]]
        pid = r["person_id"] or ld.new_id(r["birth_date"], jurisdiction)
        people[label], births[label] = pid, r["birth_date"]
        relation = r["relation"] or ("head" if home not in seen else "other")
        seen.add(home)
        if home == home_ids[0]:
            members[label] = pid
        cols = {k: v for k, v in r.items() if k not in ("key", "household", "same_as")}
        persons.append({**cols, "household_id": home, "person_id": pid, "relation": relation})
    if home_ids[0] not in seen:
        raise ld.fail("persons", f"household {home_ids[0]} has no [[persons]] (n ≥ 1)")
    for i, s in enumerate(ld.array("supporters", raw.get("supporters", []))):
        key = f"supporters[{i}]"
        r = ld.row(key, s, SUPPORTER, "supporters")
        label = r["key"] or f"s{i + 1}"
        home = place(key, r, label)
        sid = r["supporter_id"] or ld.new_id(r["birth_date"], jurisdiction)
        people[label] = sid
        cols = {k: v for k, v in r.items() if k not in ("key", "household")}
        supporters.append({**cols, "household_id": home, "supporter_id": sid})
    return people, members, persons, supporters


def _source_table(ld: _Loader, raw: dict, table: str, people: dict[str, str]) -> pa.Table:
    rows = []
    for i, src in enumerate(ld.array(table, raw.get(table, []))):
        key = f"{table}[{i}]"
        src = dict(src)
        who, pid = src.pop("who", None), src.pop("person_id", None)
        if (who is None) == (pid is None):
            raise ld.fail(f"{key}.who", "give exactly one of who (a person key) or person_id")
        if who is not None and who not in people:
            raise ld.fail(f"{key}.who", f"no person or supporter with key {who!r}")
        rid = src.pop("record_id", f"{table}:{i + 1}")
        r = ld.row(key, src, SOURCES[table], table)
        r["person_id"] = people[who] if who is not None else ld.typed(key, pid, None, "")
        r["record_id"] = ld.typed(f"{key}.record_id", rid, table, "record_id")
        for ident in ("plate", "property_id"):  # default: every row its own vehicle/property
            if ident in r and r[ident] is None:
                r[ident] = r["record_id"]
        rows.append(r)
    return pa.Table.from_pylist(rows, schema=schema.arrow_schema(table))


def _expected(ld: _Loader, raw, members: dict[str, str], people: dict[str, str]) -> dict:
    exp = dict(ld.table("expected", raw, "expected outputs"))
    valid = (*RESULT_FIELDS, "members", "findings", "evidence")
    for k, v in exp.items():
        if k not in valid:
            raise ld.fail(f"expected.{k}", f"unknown key; valid: {', '.join(valid)}")
        if k in RESULT_FIELDS:
            _check_type(ld, f"expected.{k}", v, schema.OUTPUTS["results"].field(k).type)
            _check_values(ld, f"expected.{k}", v, _EXPECTED_VALUES.get(k))
    ms = ld.table("expected.members", exp.get("members", {}), "one table per person key")
    for label, values in ms.items():
        if label not in members:
            raise ld.fail(
                f"expected.members.{label}",
                f"no member with this key in the case's household; valid: {', '.join(members)}",
            )
        for k, v in ld.table(f"expected.members.{label}", values, "member values").items():
            if k not in MEMBER_FIELDS:
                raise ld.fail(
                    f"expected.members.{label}.{k}",
                    f"unknown key; valid: {', '.join(MEMBER_FIELDS)}",
                )
            _check_type(
                ld, f"expected.members.{label}.{k}", v, schema.OUTPUTS["members"].field(k).type
            )
            _check_values(ld, f"expected.members.{label}.{k}", v, _EXPECTED_VALUES.get(k))
    findings = exp.get("findings", [])
    if not isinstance(findings, list) or not all(isinstance(c, str) for c in findings):
        raise ld.fail("expected.findings", "wrong type; valid: an array of finding codes")
    _check_values(ld, "expected.findings", findings, schema.FINDING_CODES)
    for i, ev in enumerate(ld.array("expected.evidence", exp.get("evidence", []))):
        for k in ev:
            if k not in EVIDENCE_FIELDS:
                raise ld.fail(
                    f"expected.evidence[{i}].{k}",
                    f"unknown key; valid: {', '.join(EVIDENCE_FIELDS)}",
                )
        if "code" not in ev:
            raise ld.fail(f"expected.evidence[{i}].code", "missing key (required)")
        _check_values(ld, f"expected.evidence[{i}].code", ev["code"], schema.FINDING_CODES)
        if "severity" in ev:
            _check_values(ld, f"expected.evidence[{i}].severity", ev["severity"], schema.SEVERITIES)
        if "person" in ev and ev["person"] not in people:
            raise ld.fail(f"expected.evidence[{i}].person", f"no person with key {ev['person']!r}")
        if isinstance(ev.get("detail"), str):  # "{key}" stands for that person's ID
            for label, pid in people.items():
                ev["detail"] = ev["detail"].replace("{" + label + "}", pid)
        nulls = ev.get("null", [])
        if not isinstance(nulls, list) or not set(nulls) <= set(NULLABLE):
            raise ld.fail(
                f"expected.evidence[{i}].null",
                f"valid: an array of the columns expected null ({', '.join(NULLABLE)})",
            )
    return exp


# expected values no engine can give but these (a misspelt "LOW_INCOM" was a difference,
# exit 1, as if the engines were wrong: a blind auditor's check); program names are the
# pack's, which the case may override, so they are not checked here
_EXPECTED_VALUES = {
    "status": schema.STATUSES,
    "transition": schema.TRANSITIONS,
    "vetoes": schema.VETO_CODES,
    "employment_basis": schema.EMPLOYMENT_BASES,
}


def _check_values(ld: _Loader, key: str, value, valid) -> None:
    """`value` (or each of a list's) is one of `valid`, when given (an input column's
    enumeration, an expected output's codes)."""
    if not valid:
        return
    for v in value if isinstance(value, list) else [value]:
        if v not in valid:
            raise ld.fail(key, f"unknown value {v!r}; valid: {', '.join(valid)}")


def _check_type(ld: _Loader, key: str, value, arrow_type: pa.DataType) -> None:
    """value has the TOML type of the column (integers are never floats or booleans)."""
    if pa.types.is_list(arrow_type):
        ok, what = isinstance(value, list) and all(isinstance(v, str) for v in value), "an array"
    elif pa.types.is_integer(arrow_type):
        ok, what = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif pa.types.is_boolean(arrow_type):
        ok, what = isinstance(value, bool), "true or false"
    elif pa.types.is_date(arrow_type):
        ok = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
        what = "a TOML date without quotes, e.g. 2024-07-01"
    else:
        ok, what = isinstance(value, str), "a string"
    if not ok:
        raise ld.fail(key, f"wrong type: got {type(value).__name__} {value!r}; valid: {what}")
    if pa.types.is_integer(arrow_type):  # the bundle column's type must hold it
        info = np.iinfo(arrow_type.to_pandas_dtype())
        if not info.min <= value <= info.max:
            raise ld.fail(
                key,
                f"{value} does not fit {arrow_type} (DATA.md's type of the column); valid: "
                f"{info.min}..{info.max} (a value the type holds but the rules do not is a "
                "rejected household, as in a bundle)",
            )
