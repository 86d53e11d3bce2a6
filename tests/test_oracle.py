"""meanstest against an independent second reading of RULES.md (tests/oracle.py).

The oracle was written from the spec alone (not from meanstest/reference or kernels) in
plain Python integers, one household at a time. Every household here is assessed by
both and must agree to the fen: every results column (rank included), every members
column, and findings as a multiset of (household, code, severity, person_id, source,
record_id) — `detail` is the engine's own text (docs/engine.md) and is not compared.

Inputs: (a) the shared example district and its expected outputs, (b) synthetic
districts (`meanstest.synth.generate`, with bad rows), (c) seeded random bundles and
hypothesis draws of tests/strategies.py (default and extreme packs, values on the rule
boundaries), (d) hand-made households on the edges named by the spec (birthdays, leap
days, limits, halves, caps, windows, supporters of several households, ties in rank);
(f) the oracle's own random households are in tests/test_oracle_own.py.

Rejects are compared as sets of household_ids with the oracle's own reading of DATA.md
"Bad input" (tests/oracle_validate.py), also on hypothesis mutations of one cell.
"""

from __future__ import annotations

import collections
import datetime as dt

import oracle
import oracle_validate
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import strategies
from builders import EXAMPLE, engine_input, household, pack, person, record, supporter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import add_months

import meanstest
from meanstest import fast, reference, synth
from meanstest.bundle import read_bundle
from meanstest.pipeline import load_policies
from meanstest.pipeline import rank as engine_rank
from meanstest.policy import load_library

ENGINES = ("fast", "reference")
RUNS = {"fast": fast.run, "reference": reference.run}
EVIDENCE = ("household_id", "code", "severity", "person_id", "source", "record_id")
D = dt.date(2024, 7, 1)
RECORD_VETOES = ("V01", "V02", "V03", "V04", "V05", "V06", "V07", "V08", "V09", "V10", "V14")


# -- comparison -------------------------------------------------------------------------


def _findings(rows) -> collections.Counter:
    return collections.Counter(tuple(f[k] for k in EVIDENCE) for f in rows)


def _records(rows) -> dict:
    """(household, code) -> the record_ids a veto's detail lists ("every triggering
    record_id", §6), for the vetoes whose evidence is source records. The engine's
    detail reads "records A, B" (docs/engine.md); the oracle's is "A,B"."""
    out = {}
    for f in rows:
        if f["severity"] == "veto" and f["code"] in RECORD_VETOES:
            text = f["detail"].removeprefix("records ")
            out[(f["household_id"], f["code"])] = {r.strip() for r in text.split(",") if r}
    return out


def assert_same(engine_results, engine_members, engine_findings, expected) -> None:
    """Engine rows (lists of dicts) equal the oracle's `expected` (results, members,
    findings), column by column, naming the household and column that differ."""
    results, members, findings = expected
    assert len(engine_results) == len(results)
    for ours, theirs in zip(engine_results, results):
        for name, value in theirs.items():
            if name in ours:
                assert ours[name] == value, f"{theirs['household_id']} results.{name}"
    assert len(engine_members) == len(members)
    for ours, theirs in zip(engine_members, members):
        assert ours == theirs, f"{theirs['household_id']} member {theirs['person_id']}"
    assert _records(engine_findings) == _records(findings), "veto detail: triggering records"
    engine_only = _findings(engine_findings) - _findings(findings)
    oracle_only = _findings(findings) - _findings(engine_findings)
    assert not engine_only and not oracle_only, (engine_only, oracle_only)


def oracle_of_bundle(tables: dict, library, rejected: set) -> tuple:
    """The oracle's outputs for a bundle's households that were not rejected."""
    households = tables["households"]
    ids = households.column("household_id").to_pylist()
    present = set(ids)
    homes = collections.defaultdict(set)  # §8 DUPLICATE_PERSON: rejected households count
    for p in tables["persons"].to_pylist():
        if p["household_id"] in present:
            homes[p["person_id"]].add(p["household_id"])
    keep = pa.array([i for i, h in enumerate(ids) if h not in rejected], pa.int64())
    return oracle.assess_households(
        households.take(keep),
        tables["persons"],
        tables["supporters"],
        {t: tables[t] for t in oracle.SOURCE_TABLES},
        lambda i, row: oracle_validate.select_pack(
            library, row["jurisdiction"], row["assessment_date"]
        ),
        homes,
    )


def check_bundle(tables: dict, library) -> None:
    """A bundle through assess (both engines) and the oracle: same rejects, same outputs."""
    rejected = oracle_validate.rejected(tables, library)
    expected = oracle_of_bundle(tables, library, rejected)
    for engine in ENGINES:
        a = meanstest.assess(tables, library, engine=engine)
        assert set(a.rejects.column("household_id").to_pylist()) == rejected
        assert_same(a.results.to_pylist(), a.members.to_pylist(), a.findings.to_pylist(), expected)


def check_input(inp) -> None:
    """An EngineInput through both engines and the oracle (rank from pipeline.rank)."""
    expected = oracle.assess_households(
        inp.households,
        inp.persons,
        inp.supporters,
        inp.sources,
        lambda i, row: inp.policies[int(inp.policy_index[i])],
        inp.duplicates,
    )
    for r in expected[0]:
        del r["policy_id"], r["policy_digest"]  # added by the pipeline
    for run in RUNS.values():
        out = run(inp)
        results = out.results.append_column("rank", engine_rank(out.results))
        assert_same(
            results.to_pylist(), out.members.to_pylist(), out.findings.to_pylist(), expected
        )


# -- (a) the shared example -------------------------------------------------------------


@pytest.fixture(scope="module")
def example():
    return read_bundle(EXAMPLE / "bundle"), load_library(EXAMPLE / "policies")


def test_example_bundle_engine_equals_oracle(example):
    check_bundle(*example)


def test_oracle_equals_the_examples_expected_outputs(example):
    """The oracle is itself checked against the example's independent implementation
    (the columns its README says must be equal)."""
    tables, library = example
    expected = {
        n: pq.read_table(EXAMPLE / "expected" / f"{n}.parquet")
        for n in ("results", "members", "findings", "rejects")
    }
    rejected = set(expected["rejects"].column("household_id").to_pylist())
    results, members, findings = oracle_of_bundle(tables, library, rejected)
    theirs = {r["household_id"]: r for r in expected["results"].to_pylist()}
    assert len(theirs) == len(results)
    for r in results:
        for name, value in r.items():
            assert theirs[r["household_id"]][name] == value, (r["household_id"], name)
    their_members = {
        (m["household_id"], m["person_id"]): m for m in expected["members"].to_pylist()
    }
    for m in members:
        t = their_members[(m["household_id"], m["person_id"])]
        for name in ("labour_coefficient", "employment", "member_income"):
            assert t[name] == m[name], (m["person_id"], name)
    pairs = collections.Counter((f["household_id"], f["code"]) for f in findings)
    assert pairs == collections.Counter(
        (f["household_id"], f["code"]) for f in expected["findings"].to_pylist()
    )


# -- (b) synthetic districts ------------------------------------------------------------


@pytest.mark.parametrize("seed", [11, 12])
def test_synthetic_district_engine_equals_oracle(seed):
    check_bundle(synth.generate(1200, seed, bad_fraction=0.03), load_policies(None))


def test_synthetic_district_assessed_late_engine_equals_oracle():
    """Six months later: the 2025 pack and other ages, windows and ownership."""
    tables = synth.generate(800, 13, assessment_date=dt.date(2025, 1, 1))
    check_bundle(tables, load_policies(None))


# -- (c) random bundles on the rule boundaries ------------------------------------------

PACKS = strategies.packs()


@pytest.mark.parametrize("seed", range(8))
def test_random_bundles_engine_equals_oracle(seed):
    inp = strategies.random_input(1000 + seed, PACKS, n_households=150)
    check_input(inp)
    # the same households again, as continuing cases: CONTINUE / ADJUST / PHASE_OUT / EXIT
    first = fast.run(inp).results
    check_input(strategies.with_previous(inp, first, seed))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(strategies.engine_inputs(PACKS))
def test_hypothesis_households_engine_equals_oracle(inp):
    check_input(inp)


# -- (d) hand-made households on the edges the spec names -------------------------------


def _years_before(d: dt.date, years: int, days: int = 0) -> dt.date:
    """The birth date of someone `years` old on d (Feb 29 → Feb 28), shifted by days."""
    try:
        born = d.replace(year=d.year - years)
    except ValueError:
        born = d.replace(year=d.year - years, day=28)
    return born + dt.timedelta(days=days)


def _one(members, supporters=(), records=(), policy=None, **household_kw):
    hh = household(**household_kw)
    ms = [{"household_id": hh["household_id"], **m} for m in members]
    ss = [{"household_id": hh["household_id"], **s} for s in supporters]
    return engine_input([hh], ms, ss, records, [policy or pack()])


def _birthdays():
    """Ages 15/16, 59/60, 69/70 and the band bounds, on the day and a day either side;
    Feb-29 births assessed on Feb 28 and Mar 1 of a common year and on Feb 29."""
    out = []
    for d in (D, dt.date(2023, 2, 28), dt.date(2023, 3, 1), dt.date(2024, 2, 29)):
        ms = [
            person(_years_before(d, a, s), occupation="flexible")
            for a in (16, 40, 50, 55, 60, 70)
            for s in (-1, 0, 1)
        ]
        ms += [person(dt.date(2008, 2, 29)), person(dt.date(1964, 2, 29), health=5)]
        out.append(_one(ms, assessment_date=d))
    return out


def _thresholds():
    """pci exactly at S and L (one fen below / at / above), a rounding half in rhu(N, 12n)."""
    S, L = 57000, 85500
    out = []
    for target in (S - 1, S, S + 1, L - 1, L, L + 1):
        for extra in (0, 6):  # N = 12·pci·n, and N + 6 (a half fen: rounds up)
            m = person(dt.date(1980, 1, 1), occupation="employed")
            wage = record("tax_income", m, amount=12 * target + extra)
            for prev in ("none", "dibao"):
                out.append(_one([m], records=[wage], prev_status=prev, prev_benefit=12300))
    return out


def _caps_and_zero_workers():
    """Medical/tuition/pension caps ± 1; every member c = 0 (child, student, 61, health 6)."""
    a = person(dt.date(1980, 1, 1), health=4)
    b = person(dt.date(2007, 1, 1), student_level="senior", tuition=300001)
    c = person(dt.date(2006, 1, 1), student_level="college", tuition=800000)
    recs = [
        record(
            "social_insurance",
            a,
            record_type="medical_settlement",
            amount=7000001,
            reimbursed=1000000,
        ),
        record(
            "social_insurance",
            a,
            record_type="pension_contribution",
            amount=400001,
            scheme="employee",
        ),
        record("social_insurance", b, record_type="pension_contribution", amount=399999),
    ]
    zero = [
        person(dt.date(2015, 1, 1)),
        person(dt.date(2005, 1, 1), student_level="vocational"),
        person(dt.date(1963, 1, 1), health=1),
        person(dt.date(1990, 1, 1), health=6),
    ]
    exempt = supporter(dt.date(1990, 1, 1), exempt_reason="imprisoned")
    liable = supporter(dt.date(1990, 1, 1))
    return [
        _one([a, b, c], records=recs),
        _one(zero),
        _one(zero, supporters=[exempt]),
        _one(zero, supporters=[exempt, liable]),
        _one(zero[:1] + zero[2:], supporters=[exempt], prev_status="tekun", prev_benefit=1),
    ]


def _supporters():
    """Supporters with income, without (imputed), exempt, elevated by a dear car, a
    second home or savings — each just at and past its limit — and supporting several."""
    m = person(dt.date(1950, 1, 1))
    out = []
    for k, (table, kw) in enumerate(
        [
            ("vehicle", {"value": 5000000}),
            ("vehicle", {"value": 5000001}),
            ("vehicle", {"value": 5000001, "registered_on": dt.date(2024, 7, 2)}),
            ("vehicle", {"value": 9000000, "vehicle_type": "motorcycle"}),
            ("bank", {"balance": 50000000}),
            ("bank", {"balance": 50000001}),
            ("property", {"property_id": "Q2"}),
            ("property", {"property_id": "Q2", "disposed_on": D}),
        ]
    ):
        s = supporter(dt.date(1980, 3, 3), employment_sector="public", supported_count=1 + k % 3)
        recs = [record(table, s, **kw), record("property", s, property_id="Q1")]
        if k % 2:
            recs.append(record("tax_income", s, amount=3000000 + k))
        out.append(_one([m], supporters=[s], records=recs))
    young = supporter(dt.date(2010, 1, 1), employment_sector="none")
    out.append(_one([m], supporters=[young]))
    return out


def _several_households():
    """A supporter of two households and a person in two of them (DUPLICATE_PERSON);
    equal indices (rank by household_id); a vetoed household ranked too."""
    s = supporter(dt.date(1975, 1, 1), supported_count=2)
    shared = person(dt.date(1944, 1, 1))
    hhs, ms, ss = [], [], []
    for hid in ("H3", "H1", "H2", "H4"):
        hhs.append(household(household_id=hid, consent_signed=hid != "H4"))
        ms += [{"household_id": hid, **shared}] if hid in ("H1", "H3") else []
        ms.append({"household_id": hid, **person(dt.date(1944, 1, 1))})
        ss.append({"household_id": hid, **s})
    recs = [record("tax_income", s, amount=4000000)]
    dup = {shared["person_id"]: ["H1", "H3"]}
    return [engine_input(hhs, ms, ss, recs, [pack()], dup)]


def _property_and_vehicle_windows():
    """One household per event on a window edge (D − 24 and D − 12 months, a day either
    side, D, D + 1): a purchase (V09, owned at D?), a disposal (V10, owned at D?), a
    vehicle registration (V14, owned at D?); declared counts of 0 make ownership show."""
    out = []
    for d in (D, dt.date(2024, 3, 31), dt.date(2024, 2, 29)):
        edges = [d, d + dt.timedelta(days=1)]
        for months in (12, 24):
            e = add_months(d, -months)
            edges += [e - dt.timedelta(days=1), e, e + dt.timedelta(days=1)]
        for day in edges:
            a = person(dt.date(1970, 1, 1))
            for kind, rec in (
                (
                    "property",
                    {"acquired_on": day, "acquisition": "purchase", "rental_income": 1001},
                ),
                ("property", {"disposed_on": day, "rental_income": 999}),
                ("vehicle", {"registered_on": day}),
            ):
                out.append(
                    _one(
                        [a],
                        records=[record(kind, a, **rec)],
                        assessment_date=d,
                        declared_vehicles=0,
                        declared_properties=0,
                    )
                )
    return out


EDGE_CASES = {
    "birthdays": _birthdays,
    "thresholds": _thresholds,
    "caps_and_zero_workers": _caps_and_zero_workers,
    "supporters": _supporters,
    "several_households": _several_households,
    "windows": _property_and_vehicle_windows,
}


@pytest.mark.parametrize("kind", sorted(EDGE_CASES))
def test_hand_made_edges_engine_equals_oracle(kind):
    for inp in EDGE_CASES[kind]():
        check_input(inp)


# -- (e) bad input: one cell changed ----------------------------------------------------

BASE = synth.generate(12, 21)
_ANY_ID = BASE["persons"].column("person_id")[0].as_py()
_CELLS = {
    pa.string(): (None, "", "none", "other", "urban", "car", _ANY_ID, _ANY_ID[:17] + "x",
                  "150422", "15042", "medical_assistance"),
    pa.int64(): (None, -1, 0, 1, 2**40),
    pa.int32(): (None, -1, 0, 1, 1000, 1001),
    pa.int8(): (None, -1, 0, 1, 6, 7),
    pa.bool_(): (None, False, True),
    pa.date32(): (None, D, D + dt.timedelta(days=1), dt.date(1900, 1, 1), dt.date(2099, 1, 1)),
    pa.list_(pa.string()): (None, [], [None], ["medical_assistance"], ["nope"],
                            ["elderly_subsidy", "elderly_subsidy"]),
}  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_one_changed_cell_engine_equals_oracle(data):
    """Rejects (and every assessed household) agree after any one cell of a valid bundle
    is replaced by a value on the edge of DATA.md "Bad input"."""
    tables = dict(BASE)
    name = data.draw(st.sampled_from(sorted(t for t in tables if tables[t].num_rows)))
    table = tables[name]
    column = data.draw(st.sampled_from(table.column_names))
    row = data.draw(st.integers(0, table.num_rows - 1))
    field = table.schema.field(column)
    value = data.draw(st.sampled_from(_CELLS[field.type]))
    values = table.column(column).to_pylist()
    values[row] = value
    i = table.column_names.index(column)
    tables[name] = table.set_column(i, field, pa.array(values, field.type))
    check_bundle(tables, load_policies(None))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_null_record_id_rejects_its_household_in_both_engines(engine):
    """Found by the test above: a source row with a null record_id (DATA.md: a null in a
    required column) beside another row of the same person made the reference engine
    raise TypeError while sorting the person's rows by record_id, instead of rejecting."""
    tables = dict(BASE)
    si = tables["social_insurance"]
    ids = si.column("record_id").to_pylist()
    ids[0] = None
    tables["social_insurance"] = si.set_column(
        si.column_names.index("record_id"), "record_id", pa.array(ids, pa.string())
    )
    a = meanstest.assess(tables, None, engine=engine)
    assert set(a.rejects.column("household_id").to_pylist()) == oracle_validate.rejected(
        tables, load_policies(None)
    )
    assert a.rejects.num_rows == 1


# -- sums beyond int64: a record above 10^14 fen is bad input (docs/decisions.md) ----------


@pytest.mark.parametrize("engine", ENGINES)
def test_balances_beyond_int64_are_rejected_not_assessed(engine):
    """Two deposits of 2^62 fen each (valid int64 values): the exact FA (2^63) does not
    fit in int64. The fast engine used to wrap FA to −2^63 and pay TEKUN, the reference
    to raise; both now reject the household, each record named (row_checks.CEILINGS)."""
    m = person(dt.date(1950, 1, 1))
    inp = _one([m], records=[record("bank", m, balance=2**62), record("bank", m, balance=2**62)])
    tables = {"households": inp.households, "persons": inp.persons,
              "supporters": inp.supporters, **inp.sources}  # fmt: skip
    a = meanstest.assess(tables, None, engine=engine)
    assert a.results.num_rows == 0 and a.rejects.num_rows == 1
    reasons = a.rejects.column("reasons").to_pylist()[0]
    assert len(reasons) == 2 and all("money above 10^14 fen" in r for r in reasons)


def test_a_run_with_a_wide_pack_assesses_every_household_as_the_oracle_does():
    """RULES.md §11 sets no limit on programs: `assess` (the review's and the service's
    bulk path) on a synthetic district whose pack defines 70, more than the kernels hold,
    gives on both engines what the oracle gives. (Compared with the reference calculator
    only, this compared the reference with itself. It is here, not in the §11 module,
    because tests/mutants.py runs the § modules without the oracle on purpose.)"""
    from test_rules_s11_programs import WIDE, _with_programs

    from meanstest import assess, synth
    from meanstest.policy import PolicyLibrary

    wide = _with_programs(
        {n: {"statuses": ["DIBAO", "NOT_ELIGIBLE", "VETOED"], "requires": "any"} for n in WIDE}
    )
    library = PolicyLibrary([wide])
    tables = synth.generate(60, seed=3, bad_fraction=0.05)
    check_bundle(tables, library)
    eligible = assess(tables, library).results["eligible_programs"].to_pylist()
    assert max(len(e) for e in eligible) == 70
