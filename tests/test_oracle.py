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
days, limits, halves, caps, windows, supporters of several households, ties in rank).

Rejects are the engine's: the oracle assesses the households the engine accepted, so
the set of rejects is checked only against the example's expected outputs.
"""

from __future__ import annotations

import collections
import datetime as dt

import oracle
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import strategies
from builders import EXAMPLE
from hypothesis import HealthCheck, given, settings

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


# -- comparison -------------------------------------------------------------------------


def _findings(rows) -> collections.Counter:
    return collections.Counter(tuple(f[k] for k in EVIDENCE) for f in rows)


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
        lambda i, row: library.select(row["jurisdiction"], row["assessment_date"]),
        homes,
    )


def check_bundle(tables: dict, library) -> None:
    for engine in ENGINES:
        a = meanstest.assess(tables, library, engine=engine)
        rejected = set(a.rejects.column("household_id").to_pylist())
        expected = oracle_of_bundle(tables, library, rejected)
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


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(strategies.engine_inputs(PACKS))
def test_hypothesis_households_engine_equals_oracle(inp):
    check_input(inp)
