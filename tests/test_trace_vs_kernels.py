"""The explain trace (the reference calculator traced as it runs) ends in the kernels'
numbers, on thousands of random households (issue 6: "its final values must equal the
kernels' result").

For every household of seeded random bundles (tests/strategies.py, default and extreme
packs, half of them with prev_status/prev_benefit from an earlier run), the
explanation of `meanstest.explain.trace_household` is compared with `fast.run`:
its result, member and finding rows, and the values of the steps an auditor reads — §2
coefficients and §3 member incomes in member order, §4 support, §5 deductions and pci,
§6 vetoes, §7 decision, §9 index.
"""

from __future__ import annotations

import functools

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import strategies

from meanstest import fast, schema
from meanstest.engine import EngineInput, EngineOutput
from meanstest.explain import render, trace_household

PACKS = strategies.packs()
BATCHES, HOUSEHOLDS = 10, 250  # 2,500 households
RESULT_COLUMNS = schema.ENGINE_RESULT_COLUMNS


def _steps(steps, section, prefix=""):
    return [s for s in steps if s["section"] == section and s["label"].startswith(prefix)]


def check_household(explanation: dict, result: dict, members: list[dict]) -> None:
    hid = explanation["household_id"]
    for name in RESULT_COLUMNS:
        assert explanation["result"][name] == result[name], f"{hid} result.{name}"
    assert explanation["members"] == members, f"{hid} members"

    steps = explanation["steps"]
    coefficients = [s["value"] for s in _steps(steps, "§2", "labour_coefficient")]
    assert coefficients == [m["labour_coefficient"] for m in members], f"{hid} §2"
    incomes = _steps(steps, "§3", "member ")
    assert [s["label"] for s in incomes] == [f"member {m['person_id']}" for m in members]
    for s, m in zip(incomes, members):
        assert s["value"] == m["member_income"], f"{hid} §3 {m['person_id']}"
        for key in ("employment", "employment_basis", "verified_income"):
            assert s["inputs"][key] == m[key], f"{hid} §3 {m['person_id']} {key}"
    support = sum(s["value"] for s in _steps(steps, "§4", "support "))
    assert sum(m["member_income"] for m in members) + support == result["gross_income"], hid

    (ded,) = _steps(steps, "§5", "deductions")
    for key in ("medical", "education", "pension"):
        assert ded["inputs"][key] == result[key], f"{hid} §5 {key}"
    net = max(0, result["gross_income"] - ded["value"])
    assert net == result["net_income"], f"{hid} §5 N"
    (pci,) = _steps(steps, "§5", "pci")
    assert pci["value"] == result["pci"], f"{hid} §5 pci"
    assert pci["inputs"]["net_income"] == result["net_income"], f"{hid} §5 N"
    assert pci["inputs"]["standard"] == result["standard"], f"{hid} §5 S"
    assert pci["inputs"]["financial_assets"] == result["financial_assets"], f"{hid} §5 FA"
    assert pci["inputs"]["n"] == len(members), f"{hid} §5 n"

    vetoes = [s for s in _steps(steps, "§6") if s["label"] == "vetoes"]
    assert [s["value"] for s in vetoes] == [result["vetoes"]], f"{hid} §6"
    for s in _steps(steps, "§6", "V"):
        assert s["value"] == (s["label"] in result["vetoes"]), f"{hid} §6 {s['label']}"

    decisions = [s for s in _steps(steps, "§7") if s["label"] in schema.STATUSES]
    assert [s["label"] for s in decisions] == [result["status"]], f"{hid} §7 status"
    assert decisions[0]["value"] == result["benefit"], f"{hid} §7 benefit"
    (final,) = _steps(steps, "§7", "result")
    assert final["value"] == result["status"], f"{hid} §7 result"
    for key in ("benefit", "circle", "transition"):
        assert final["inputs"][key] == result[key], f"{hid} §7 {key}"

    (index,) = _steps(steps, "§9", "difficulty_index")
    assert index["value"] == result["difficulty_index"], f"{hid} §9"


@functools.cache
def batch(seed: int) -> tuple[EngineInput, EngineOutput]:
    """A random bundle and the kernels' output; odd batches carry an earlier result."""
    inp = strategies.random_input(6000 + seed, PACKS, HOUSEHOLDS)
    if seed % 2:  # CONTINUE, ADJUST and PHASE_OUT need an earlier result
        inp = strategies.with_previous(inp, fast.run(inp).results, seed)
    return inp, fast.run(inp)


def chunks(inp: EngineInput, size: int):
    """The input cut into valid EngineInputs of `size` households with only their own
    rows (tracing one household joins every source row of its input)."""
    people = {}
    for t, column in (("persons", "person_id"), ("supporters", "supporter_id")):
        for hid, pid in zip(
            getattr(inp, t)["household_id"].to_pylist(), getattr(inp, t)[column].to_pylist()
        ):
            people.setdefault(hid, set()).add(pid)
    ids = inp.households["household_id"].to_pylist()
    for start in range(0, len(ids), size):
        part = ids[start : start + size]
        keep = pa.array(part)
        who = pa.array(sorted(set().union(*(people.get(h, set()) for h in part))), pa.string())
        yield (
            part,
            EngineInput(
                inp.households.slice(start, len(part)),
                inp.persons.filter(pc.is_in(inp.persons["household_id"], keep)),
                inp.supporters.filter(pc.is_in(inp.supporters["household_id"], keep)),
                {t: s.filter(pc.is_in(s["person_id"], who)) for t, s in inp.sources.items()},
                inp.policies,
                inp.policy_index[start : start + len(part)],
                inp.duplicates,
            ),
        )


@pytest.mark.parametrize("seed", range(BATCHES))
def test_trace_ends_in_the_kernels_values(seed):
    inp, out = batch(seed)
    members: dict[str, list[dict]] = {}
    for m in out.members.to_pylist():
        members.setdefault(m["household_id"], []).append(m)
    results = {r["household_id"]: r for r in out.results.to_pylist()}
    assert len(results) == inp.households.num_rows == HOUSEHOLDS
    findings: dict[str, list[dict]] = {}
    for f in out.findings.to_pylist():
        findings.setdefault(f.pop("household_id"), []).append(f)
    traced = 0
    for part, small in chunks(inp, 25):
        for hid in part:
            explanation = trace_household(small, hid)
            check_household(explanation, results[hid], members.get(hid, []))
            assert explanation["findings"] == findings.get(hid, []), f"{hid} findings"
            text = render(explanation, "en", "text")
            assert f"status={results[hid]['status']} benefit={results[hid]['benefit']}" in text
            traced += 1
    assert traced == HOUSEHOLDS


def test_trace_comparison_notices_a_wrong_value():
    """The check above fails when one step's value differs from the kernels'."""
    inp = strategies.random_input(6100, PACKS, 3)
    out = fast.run(inp)
    result = out.results.to_pylist()[0]
    members = [m for m in out.members.to_pylist() if m["household_id"] == result["household_id"]]
    explanation = trace_household(inp, result["household_id"])
    check_household(explanation, result, members)
    (index,) = _steps(explanation["steps"], "§9", "difficulty_index")
    index["value"] += 1
    with pytest.raises(AssertionError, match="§9"):
        check_household(explanation, result, members)


def test_random_batches_cover_every_status():
    """The batches above reach every status and transition (else the check is thin)."""
    statuses, transitions = set(), set()
    for seed in range(BATCHES):
        res = batch(seed)[1].results
        statuses |= set(res["status"].to_pylist())
        transitions |= set(res["transition"].to_pylist())
    assert statuses == set(schema.STATUSES)
    assert transitions == set(schema.TRANSITIONS)
