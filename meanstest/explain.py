"""Explain one household: the reference calculator's own trace, rendered for an auditor.

The trace is recorded by `meanstest.reference` as it computes (no second copy of the
rules); this module only selects the household and renders the steps as text
(Chinese or English), JSON or a small self-contained HTML page.
"""

from __future__ import annotations

import html
import json

from meanstest import reference
from meanstest.engine import EngineInput
from meanstest.errors import MeansTestError

LABELS_ZH = {
    "labour_coefficient": "劳动力系数",
    "deductions": "刚性支出",
    "pci": "家庭月人均收入",
    "vetoes": "一票否决",
    "difficulty_index": "家庭困难指数",
    "result": "认定结果",
    "member": "成员收入",
    "support": "赡养/抚养/扶养费",
    "TEKUN": "特困供养",
    "DIBAO": "低保(补差)",
    "DIBAO_SINGLE": "单人保",
    "PHASE_OUT": "渐退期",
    "LOW_INCOME": "低收入家庭",
    "NOT_ELIGIBLE": "不符合条件",
    "VETOED": "一票否决",
}
HEADINGS = {
    "zh": ("户 {hid} 的核算过程 (政策 {pid}, 摘要 {dig})", "值", "依据"),
    "en": ("Calculation of household {hid} (policy {pid}, digest {dig})", "value", "inputs"),
}


def select_household(inp: EngineInput, household_id: str) -> EngineInput:
    """The EngineInput restricted to one household (rows of other households dropped)."""
    import pyarrow.compute as pc

    ids = inp.households["household_id"].to_pylist()
    if household_id not in ids:
        raise MeansTestError(f"household {household_id} is not among the assessed households")
    i = ids.index(household_id)
    keep = pc.equal(inp.households["household_id"], household_id)
    return EngineInput(
        inp.households.filter(keep),
        inp.persons.filter(pc.equal(inp.persons["household_id"], household_id)),
        inp.supporters.filter(pc.equal(inp.supporters["household_id"], household_id)),
        inp.sources,
        inp.policies,
        inp.policy_index[i : i + 1],
        inp.duplicates,
    )


def trace_household(inp: EngineInput, household_id: str) -> dict:
    """Run the reference calculator on one household with a Trace; return the explanation."""
    one = select_household(inp, household_id)
    hh = next(reference.households(one))
    tr = reference.Trace()
    result, members, findings = reference.assess_household(hh, tr)
    policy = inp.policies[int(one.policy_index[0])]
    return {
        "household_id": household_id,
        "policy_id": policy.id,
        "policy_digest": policy.digest,
        "steps": tr.steps,
        "result": result,
        "members": members,
        "findings": [f.__dict__ for f in findings],
    }


def _label(label: str, lang: str) -> str:
    if lang != "zh":
        return label
    head, _, rest = label.partition(" ")
    return (LABELS_ZH.get(head, head) + (" " + rest if rest else "")).strip()


def _inputs(inputs: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in inputs.items())


def render(explanation: dict, lang: str = "zh", fmt: str = "text") -> str:
    """The explanation as text, json or html."""
    if lang not in HEADINGS:
        raise MeansTestError(f"unknown language {lang!r} (zh or en)")
    if fmt == "json":
        return json.dumps(explanation, ensure_ascii=False, indent=2, default=str)
    title = HEADINGS[lang][0].format(
        hid=explanation["household_id"],
        pid=explanation["policy_id"],
        dig=explanation["policy_digest"][:12],
    )
    rows = [
        (s["section"], _label(s["label"], lang), s["value"], _inputs(s["inputs"]))
        for s in explanation["steps"]
    ]
    if fmt == "text":
        lines = [title, ""]
        lines += [
            f"[{sec}] {label} = {value}" + (f"  ({inp})" if inp else "")
            for sec, label, value, inp in rows
        ]
        r = explanation["result"]
        summary = (
            f"status={r['status']} benefit={r['benefit']} pci={r['pci']} "
            f"circle={r['circle']} transition={r['transition']}"
        )
        lines += ["", summary]
        return "\n".join(lines) + "\n"
    if fmt == "html":
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
            for row in rows
        )
        _, value_h, inputs_h = HEADINGS[lang]
        return (
            f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<h1>{html.escape(title)}</h1><table border=1><tr><th>§</th><th></th>"
            f"<th>{value_h}</th><th>{inputs_h}</th></tr>{cells}</table>"
        )
    raise MeansTestError(f"unknown format {fmt!r} (text, json or html)")
