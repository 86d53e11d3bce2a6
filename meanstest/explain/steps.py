"""The document's steps from the trace: each traced step to its writer, in RULES.md order.

Every number was recorded by the reference calculator as it computed (its `Trace`); the
writers only word it — money in yuan from integer fen, ratios as decimals, codes by their
names (meanstest.labels). Nothing is computed again, so the document cannot disagree
with the calculation it explains.
"""

from __future__ import annotations

from meanstest.document import Step
from meanstest.explain import decision, income
from meanstest.explain.context import Ctx

# §8 before §6: V13 reads the §8 findings.
SECTION_ORDER = ("§2", "§3", "§4", "§5", "§8", "§6", "§7", "§9", "§11")

WRITERS = {
    "member": income.member,
    "support": income.support,
    "deductions": income.deductions,
    "pci": income.pci,
    "checks": decision.checks,
    "circle": decision.circle,
    "transition": decision.transition,
    "UNDECLARED_INCOME": decision.undeclared,
    "UNDECLARED_VEHICLE": decision.undeclared,
    "UNDECLARED_PROPERTY": decision.undeclared,
    "UNDECLARED_ASSETS": decision.undeclared,
    "difficulty_index": decision.index,
    **dict.fromkeys(decision.DECISIONS, decision.decision),
}


def steps(trace: list[dict], ctx: Ctx) -> list[Step]:
    """The document's steps, in RULES.md order; the final `result` step is the
    document's conclusion, not a step."""
    out: list[Step] = []
    coefficients = [s for s in trace if s["label"] == "labour_coefficient"]
    if coefficients:
        out.append(income.labour(coefficients, ctx))
    rules = [s for s in trace if s["section"] == "§6" and s["label"] != "vetoes"]
    summary = [s for s in trace if s["section"] == "§6" and s["label"] == "vetoes"]
    if summary:
        out.append(decision.vetoes(rules, summary[0], ctx))
    programs = [s for s in trace if s["section"] == "§11"]
    if programs:
        out.append(decision.programs(programs, ctx))
    for s in trace:
        writer = WRITERS.get(s["label"]) or WRITERS.get(s["label"].split(" ")[0])
        if writer is not None and s["section"] not in ("§2", "§6", "§11"):
            out.append(writer(s, ctx))
    return sorted(out, key=lambda st: SECTION_ORDER.index(st.section))
