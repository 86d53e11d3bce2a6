"""The 150422 example: our pipeline against an independent implementation's outputs.

Compared as its README says: results household by household on every rule column,
members on labour_coefficient, employment and member_income, findings as a multiset of
(household_id, code), rejects as the set of household_ids.
"""

from collections import Counter

import builders
import pyarrow.parquet as pq
import pytest

from meanstest import assess
from meanstest.policy import load_library

EXAMPLE = builders.EXAMPLE
COLUMNS = [
    "status",
    "benefit",
    "phaseout_months",
    "pci",
    "standard",
    "gross_income",
    "medical",
    "education",
    "pension",
    "net_income",
    "financial_assets",
    "circle",
    "transition",
    "vetoes",
    "difficulty_index",
    "rank",
    "provisional",
    "eligible_programs",
    "policy_id",
    "policy_digest",
]

pytestmark = pytest.mark.skipif(not EXAMPLE.exists(), reason="shared/examples not present")


@pytest.fixture(scope="module", params=["reference", "fast"])
def ours(request):
    if request.param == "fast":
        pytest.importorskip("meanstest.fast")
    return assess(EXAMPLE / "bundle", load_library(EXAMPLE / "policies"), engine=request.param)


def _expected(name):
    return pq.read_table(EXAMPLE / "expected" / f"{name}.parquet").to_pylist()


def test_results_equal(ours):
    expected = {r["household_id"]: r for r in _expected("results")}
    got = {r["household_id"]: r for r in ours.results.to_pylist()}
    assert got.keys() == expected.keys()
    diffs = [
        (h, c, got[h][c], e[c]) for h, e in expected.items() for c in COLUMNS if got[h][c] != e[c]
    ]
    assert diffs == []


def test_members_equal(ours):
    expected = {(m["household_id"], m["person_id"]): m for m in _expected("members")}
    got = {(m["household_id"], m["person_id"]): m for m in ours.members.to_pylist()}
    assert got.keys() == expected.keys()
    for key, e in expected.items():
        for c in ("labour_coefficient", "employment", "member_income"):
            assert got[key][c] == e[c], (key, c)


def test_findings_multiset_equal(ours):
    key = lambda rows: Counter((f["household_id"], f["code"]) for f in rows)
    assert key(ours.findings.to_pylist()) == key(_expected("findings"))


def test_rejects_same_households(ours):
    assert set(ours.rejects["household_id"].to_pylist()) == {
        r["household_id"] for r in _expected("rejects")
    }
    assert ours.summary["accounting_closes"]
