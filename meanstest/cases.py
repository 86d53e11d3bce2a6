"""Case files: hand-worked households in TOML, checked against both engines.

A case file holds one household's input rows (with defaults, so a case is short), the
policy pack it is assessed under (or overrides of its parameters) and the outputs an
auditor worked out by hand from RULES.md. `meanstest check CASES...` runs every case
through the reference calculator and the kernels (`meanstest.pipeline.assess`) and
prints each difference as `file: [engine] field: expected X, got Y`.
The format is documented in docs/cases.md. Exit status: 0 all cases pass, 1 a case
differs, 2 a case file is malformed (the error names the file and the key).
"""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from meanstest import ids, schema
from meanstest.errors import MeansTestError, PolicyError
from meanstest.progress import count

HELP = "run hand-worked case files through both engines and report differences"
EXIT_DIFFERS, EXIT_MALFORMED = 1, 2
ENGINES = ("reference", "fast")
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


@dataclass(frozen=True)
class Difference:
    path: str
    engine: str
    field: str
    expected: object
    got: object

    def __str__(self) -> str:
        return f"{self.path}: [{self.engine}] {self.field}: expected {self.expected!r}, got {self.got!r}"


# -- loading ------------------------------------------------------------------------------


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
        if column is not None and column.enum and value not in column.enum:
            raise self.fail(key, f"unknown value {value!r}; valid: {', '.join(column.enum)}")
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
    findings = exp.get("findings", [])
    if not isinstance(findings, list) or not all(isinstance(c, str) for c in findings):
        raise ld.fail("expected.findings", "wrong type; valid: an array of finding codes")
    for i, ev in enumerate(ld.array("expected.evidence", exp.get("evidence", []))):
        for k in ev:
            if k not in EVIDENCE_FIELDS:
                raise ld.fail(
                    f"expected.evidence[{i}].{k}",
                    f"unknown key; valid: {', '.join(EVIDENCE_FIELDS)}",
                )
        if "code" not in ev:
            raise ld.fail(f"expected.evidence[{i}].code", "missing key (required)")
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


# -- running ------------------------------------------------------------------------------


def case_library(case: Case, library):
    """The policy library a case is assessed under: the whole library when the case
    names no pack and overrides nothing, else a library of that one pack (overridden)."""
    from meanstest.policy import library_from_dicts

    if case.pack is None and not case.overrides:
        return library
    if case.pack is not None:
        try:
            chosen = library.by_id(case.pack)
        except PolicyError as e:
            raise CaseError(case.path, "policy.pack", e.problem) from None
        for h in case.tables["households"].to_pylist():
            if h["assessment_date"] < chosen.effective_from:
                raise CaseError(
                    case.path,
                    "policy.pack",
                    f"pack {chosen.id} is effective from {chosen.effective_from}, after "
                    f"household {h['household_id']}'s assessment_date {h['assessment_date']}",
                )
    else:
        h = case.tables["households"].to_pylist()[0]
        chosen = library.select(h["jurisdiction"] or "150422", h["assessment_date"])
        if chosen is None:
            raise CaseError(case.path, "policy", "no pack in force for the household to override")
    params = copy.deepcopy(chosen.params)
    params["policy"]["effective_from"] = dt.date.fromisoformat(params["policy"]["effective_from"])
    if case.overrides:
        params["policy"]["id"] = f"{chosen.id}+case"
        params = _merge(params, case.overrides)
    try:
        return library_from_dicts({case.path: params}, case.path)
    except PolicyError as e:
        raise CaseError(case.path, f"policy.overrides.{e.key}", e.problem) from None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _with_jurisdiction(case: Case, lib) -> dict[str, pa.Table]:
    """Households without a jurisdiction get the pack's (150422 when selecting)."""
    tables = dict(case.tables)
    hh = tables["households"]
    packs = list(lib)
    fill = packs[0].jurisdiction if len(packs) == 1 else "150422"
    rows = [{**r, "jurisdiction": r["jurisdiction"] or fill} for r in hh.to_pylist()]
    tables["households"] = pa.Table.from_pylist(rows, schema=hh.schema)
    return tables


def run_case(case: Case, library=None, engines=ENGINES) -> list[Difference]:
    """Every difference between the case's expected values and each engine's output."""
    from meanstest.pipeline import assess, load_policies

    lib = case_library(case, load_policies(library))
    tables = _with_jurisdiction(case, lib)
    diffs = []
    for engine in engines:
        out = assess(tables, lib, engine=engine)
        diffs += _compare(case, engine, out)
    return diffs


def _compare(case: Case, engine: str, out) -> list[Difference]:
    exp, hid = case.expected, case.household_id
    diff = []

    def d(name, want, got):
        if want != got:
            diff.append(Difference(case.path, engine, name, want, got))

    rejected = dict(
        zip(out.rejects["household_id"].to_pylist(), out.rejects["reasons"].to_pylist())
    )
    if hid in rejected:
        return [
            Difference(
                case.path, engine, "household", "assessed", "rejected: " + "; ".join(rejected[hid])
            )
        ]
    result = next(r for r in out.results.to_pylist() if r["household_id"] == hid)
    for name in RESULT_FIELDS:
        if name in exp:
            d(name, exp[name], result[name])
    rows = {m["person_id"]: m for m in out.members.to_pylist() if m["household_id"] == hid}
    for label, values in exp.get("members", {}).items():
        row = rows[case.members[label]]
        for name, want in values.items():
            d(f"members.{label}.{name}", want, row[name])
    found = [f for f in out.findings.to_pylist() if f["household_id"] == hid]
    if "findings" in exp:
        d("findings", sorted(exp["findings"]), sorted(f["code"] for f in found))
    for i, ev in enumerate(exp.get("evidence", [])):
        want = {k: v for k, v in ev.items() if k not in ("person", "null")}
        if "person" in ev:
            want["person_id"] = case.people[ev["person"]]
        want.update({k: None for k in ev.get("null", [])})
        same = [f for f in found if f["code"] == ev["code"]]
        if not any(all(f[k] == v for k, v in want.items()) for f in same):
            got = [{k: f[k] for k in want} for f in same] or "no finding with this code"
            d(f"evidence[{i}]", want, got)
    return diff


# -- command line -------------------------------------------------------------------------


def case_files(paths) -> list[Path]:
    """The case files named: files as given, folders searched for *.toml (sorted)."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*.toml") if not f.name.startswith("."))
            if not found:
                raise CaseError(str(p), "(folder)", "no *.toml case files in this folder")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise CaseError(str(p), "(file)", "no such file or folder")
    return files


def add_arguments(parser) -> None:
    parser.add_argument("cases", nargs="+", help="case files or folders of *.toml case files")
    parser.add_argument("--policies", help="policy library folder (default: packaged packs)")
    parser.add_argument("--engine", choices=(*ENGINES, "both"), default="both")
    parser.add_argument("--quiet", action="store_true", help="print only differences")


def run(args) -> int:
    import sys

    from meanstest.pipeline import load_policies

    engines = ENGINES if args.engine == "both" else (args.engine,)
    library = load_policies(args.policies)  # a bad library is an error of its own (exit 1)
    try:
        files = case_files(args.cases)
    except CaseError as e:
        print(f"meanstest: error: {e.message}", file=sys.stderr)
        return EXIT_MALFORMED
    malformed = failed = 0
    for f in files:
        try:
            diffs = run_case(load_case(f), library, engines)
        except CaseError as e:
            print(f"meanstest: error: {e.message}", file=sys.stderr)
            malformed += 1
            continue
        failed += bool(diffs)
        for diff in diffs:
            print(diff)
        if not diffs and not args.quiet:
            print(f"{f}: ok ({', '.join(engines)})")
    passed = len(files) - failed - malformed
    print(f"{count(len(files), 'case')}: {passed} passed, {failed} differ, {malformed} malformed")
    return EXIT_MALFORMED if malformed else EXIT_DIFFERS if failed else 0
