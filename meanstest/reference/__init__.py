"""The reference calculator: RULES.md in plain Python, one function per section.

Written to be read next to the spec by an auditor; it is the oracle the kernels are
tested against and, through `Trace`, the source of explanation traces. Households are
plain dicts (Arrow `to_pylist` rows); money is int fen, ratios int per-mille.
Everything that is not a rule of one household (validation, rank, digests) lives in the
pipeline; the order and wording of findings is fixed in docs/engine.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import pairwise

import pyarrow as pa

from meanstest import schema
from meanstest.arith import age, rhu
from meanstest.engine import EngineInput, EngineOutput
from meanstest.reference.income import deductions, labour_coefficient, member_income, support
from meanstest.reference.model import NO_TRACE, Finding, Household, Trace
from meanstest.reference.outcome import circle, difficulty_index, programs, status, transition
from meanstest.reference.veto import (
    duplicate_findings,
    source_findings,
    undeclared_findings,
    vetoes,
)
from meanstest.row_checks import far_dates

__all__ = ["Finding", "Household", "Trace", "assess_household", "households", "run"]


# One household, all sections in order ---------------------------------------------------


def assess_household(hh: Household, tr: Trace = NO_TRACE) -> tuple[dict, list[dict], list]:
    """RULES.md §1–§11 for one household: (result row, member rows, findings)."""
    row, pack, d = hh.row, hh.pack, hh.row["assessment_date"]
    n = len(hh.members)
    ages = [age(m["birth_date"], d) for m in hh.members]
    cs = [
        labour_coefficient(a, m["health"], m["student_level"], pack, tr)
        for m, a in zip(hh.members, ages)
    ]
    incomes = [member_income(hh, m, c, tr) for m, c in zip(hh.members, cs)]
    gross = sum(i["member_income"] for i in incomes) + sum(
        support(hh, s, tr) for s in hh.supporters
    )
    medical, education, pension = deductions(hh, tr)
    net = max(0, gross - medical - education - pension)
    standard = pack["standards"][f"dibao_{row['area']}"]
    facts = {
        "ages": ages,
        "coefficients": cs,
        "incomes": incomes,
        "verified_income": sum(i["verified_income"] for i in incomes),
        "medical": medical,
        "pci": rhu(net, 12 * n),
        "standard": standard,
        "low_income": rhu(standard * pack["standards"]["low_income_ratio"], 1000),
        "financial_assets": sum(r["balance"] for _, r in hh.member_rows("bank")),
    }
    tr.note(
        "§5",
        "pci",
        facts["pci"],
        gross_income=gross,
        medical=medical,
        education=education,
        pension=pension,
        net_income=net,
        n=n,
        area=row["area"],
        standard=standard,
        low_income_ratio=pack["standards"]["low_income_ratio"],
        low_income=facts["low_income"],
        financial_assets=facts["financial_assets"],
        formula=(
            f"N = max(0, G {gross} − {medical} − {education} − {pension}) = {net}; "
            f"pci = rhu(N {net}, 12 × n {n}) = {facts['pci']}; L = rhu(S {standard} × "
            f"low_income_ratio {pack['standards']['low_income_ratio']}, 1000) = "
            f"{facts['low_income']}"
        ),
    )
    facts["undeclared"] = undeclared_findings(hh, facts, tr)
    facts["vetoes"] = vetoes(hh, facts, tr)
    state, benefit, months = status(hh, facts, tr)
    eligible, routing = programs(hh, state, facts, tr)
    checks = source_findings(hh)
    result = {
        "household_id": row["household_id"],
        "status": state,
        "benefit": benefit,
        "phaseout_months": months,
        "pci": facts["pci"],
        "standard": standard,
        "gross_income": gross,
        "medical": medical,
        "education": education,
        "pension": pension,
        "net_income": net,
        "financial_assets": facts["financial_assets"],
        "circle": circle(state, facts, pack, tr),
        "transition": transition(state, benefit, row["prev_status"], row["prev_benefit"], tr),
        "vetoes": [f.code for f in facts["vetoes"]],
        "difficulty_index": difficulty_index(hh, facts, tr),
        "provisional": bool(checks),
        "eligible_programs": eligible,
    }
    tr.note(
        "§7",
        "result",
        state,
        benefit=benefit,
        circle=result["circle"],
        transition=result["transition"],
    )
    members = [
        {
            "household_id": row["household_id"],
            "person_id": m["person_id"],
            "age": a,
            "labour_coefficient": c,
            "employment": i["employment"],
            "employment_basis": i["employment_basis"],
            "member_income": i["member_income"],
            "verified_income": i["verified_income"],
        }
        for m, a, c, i in zip(hh.members, ages, cs, incomes)
    ]
    findings = facts["vetoes"] + facts["undeclared"] + checks + duplicate_findings(hh) + routing
    return result, members, findings


# The engine entry point -----------------------------------------------------------------


def households(inp: EngineInput) -> Iterator[Household]:
    """Yield a `Household` per households row of the input, records joined by person_id."""
    by_household: dict[str, list[dict]] = {}
    for p in inp.persons.to_pylist():
        by_household.setdefault(p["household_id"], []).append(p)
    supporters: dict[str, list[dict]] = {}
    for s in inp.supporters.to_pylist():
        supporters.setdefault(s["household_id"], []).append(s)
    records: dict[str, dict[str, list[dict]]] = {}
    for table in schema.SOURCE_TABLES:
        per_person: dict[str, list[dict]] = {}
        for r in _python_dates(inp.sources[table]).to_pylist():
            per_person.setdefault(r["person_id"], []).append(r)
        for rows in per_person.values():
            # a null record_id is bad input (its person's households are rejected) but its
            # row is still in `sources`: it must not break the sort of its person's rows
            rows.sort(key=lambda r: r["record_id"] or "")
        records[table] = per_person
    for i, row in enumerate(inp.households.to_pylist()):
        pack = inp.policies[int(inp.policy_index[i])].params
        yield Household(
            row,
            by_household.get(row["household_id"], []),
            supporters.get(row["household_id"], []),
            records,
            pack,
            inp.duplicates,
        )


def _python_dates(table: pa.Table) -> pa.Table:
    """The rows whose dates Python can hold. A row with a date beyond 0001..9999 is bad
    input: it rejects its person's households (row_checks.far_dates), or its person is
    in none; either way no household assessed here reads it."""
    far = None
    for field in table.schema:
        if field.type == pa.date32():
            bad = far_dates(table.column(field.name))
            far = bad if far is None else far | bad
    return table if far is None or not far.any() else table.filter(pa.array(~far))


PARALLEL_FROM = 20_000  # households: below, one process (starting others costs more)


def run(inp: EngineInput, processes: int = 1) -> EngineOutput:
    """Assess every household of `inp` with the reference calculator; with `processes`
    above 1 and at least PARALLEL_FROM households, in that many processes, each given
    a contiguous range of the households and only its people's rows (the calculator
    reads no record of anyone outside the household), the outputs put back in order.
    It is single-threaded Python: a 1M-household reproduce spent 2 min 36 s in it."""
    n = inp.households.num_rows
    processes = max(1, min(processes, n // max(1, PARALLEL_FROM // 2)))
    if processes < 2 or n < PARALLEL_FROM:
        return _run(inp)
    outs = _run_parts(split(inp, processes))
    return EngineOutput(
        *(pa.concat_tables([getattr(o, name) for o in outs]) for name in _OUTPUT_TABLES)
    )


def _run_parts(parts: list[EngineInput]) -> list[EngineOutput]:
    """The first part here, each other in a worker process (meanstest.reference.worker)
    of this meanstest, at the same time; their outputs in order."""
    import json
    import pickle
    import subprocess
    import sys
    import threading

    from meanstest.errors import MeansTestError

    # the worker imports what this process imports: this meanstest, from its sys.path
    env = {**os.environ, "MEANSTEST_SYS_PATH": json.dumps(sys.path)}
    start = (
        "import json, os, sys; sys.path[:] = json.loads(os.environ['MEANSTEST_SYS_PATH']); "
        "from meanstest.reference.worker import main; main()"
    )
    workers = []
    try:
        for part in parts[1:]:
            proc = subprocess.Popen(
                [sys.executable, "-c", start], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                env=env,
            )  # fmt: skip
            feeder = threading.Thread(target=_feed, args=(proc, part), daemon=True)
            feeder.start()
            workers.append((proc, feeder))
        outs = [_run(parts[0])]
        for proc, feeder in workers:
            data = proc.stdout.read()
            feeder.join()
            code = proc.wait()
            if code != 0 or not data:
                raise MeansTestError(
                    f"a process of the reference calculator died (exit status {code}); if "
                    "the machine ran out of memory, give --memory-limit less (the review "
                    "then takes smaller chunks)"
                )
            kind, value = pickle.loads(data)
            if kind == "error":
                raise value
            outs.append(value)
        return outs
    finally:
        for proc, _ in workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _feed(proc, part: EngineInput) -> None:
    import pickle

    try:
        with proc.stdin:
            proc.stdin.write(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
    except (BrokenPipeError, OSError):
        pass  # the worker died: its exit status says so


_OUTPUT_TABLES = ("results", "members", "findings")


def split(inp: EngineInput, parts: int) -> list[EngineInput]:
    """`inp` cut into `parts` contiguous ranges of its households, each with the rows
    of its members and supporters only (in their order) and the source rows of those
    people."""
    import numpy as np
    import pyarrow.compute as pc

    n = inp.households.num_rows
    bounds = [n * k // parts for k in range(parts + 1)]
    out = []
    for lo, hi in pairwise(bounds):
        households = inp.households.slice(lo, hi - lo)
        ids = households["household_id"]

        def mine(table: pa.Table, ids=ids) -> pa.Table:
            return table.filter(
                pc.fill_null(pc.is_in(table["household_id"], value_set=ids.combine_chunks()), False)
            )

        persons, supporters = mine(inp.persons), mine(inp.supporters)
        people = pa.chunked_array(
            [
                *persons["person_id"].cast(pa.string()).chunks,
                *supporters["supporter_id"].cast(pa.string()).chunks,
            ],
            pa.string(),
        ).combine_chunks()
        sources = {
            name: table.filter(pc.fill_null(pc.is_in(table["person_id"], value_set=people), False))
            for name, table in inp.sources.items()
        }
        out.append(
            EngineInput(
                households,
                persons,
                supporters,
                sources,
                inp.policies,
                np.ascontiguousarray(inp.policy_index[lo:hi]),
                inp.duplicates,
            )
        )
    return out


def _run(inp: EngineInput) -> EngineOutput:
    """Assess every household of `inp` with the reference calculator, in this process."""
    results, members, findings = [], [], []
    for hh in households(inp):
        result, member_rows, found = assess_household(hh)
        results.append(result)
        members.extend(member_rows)
        findings.extend({"household_id": hh.row["household_id"], **f.__dict__} for f in found)
    result_schema = pa.schema(
        [schema.OUTPUTS["results"].field(n) for n in schema.ENGINE_RESULT_COLUMNS]
    )
    return EngineOutput(
        pa.Table.from_pylist(results, schema=result_schema),
        pa.Table.from_pylist(members, schema=schema.OUTPUTS["members"]),
        pa.Table.from_pylist(findings, schema=schema.OUTPUTS["findings"]),
    )
