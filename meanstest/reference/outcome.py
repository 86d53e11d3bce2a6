"""Reference calculator, RULES.md §7 status/benefit/circle/transition, §9 index, §11 programs."""

from __future__ import annotations

from meanstest.arith import rhu, yuan
from meanstest.reference.model import (
    NO_TRACE,
    Finding,
    Household,
    Trace,
    owned_property,
    owned_vehicle,
)

STUDENT_PROGRAM_LEVELS = ("primary", "junior", "senior", "vocational", "college")
WORK_CAPABLE_OCCUPATIONS = ("unemployed", "flexible", "none")
ENROLLED = ("TEKUN", "DIBAO", "DIBAO_SINGLE")


# §7 status, benefit, circle, transition -------------------------------------------------


def addon(m: dict, years: int, addons: dict) -> int:
    """分类施保: the largest add-on (‰ of S) the member qualifies for (§7)."""
    qualifying = [
        addons["elderly_70"] if years >= 70 else 0,
        addons["severe_disability"] if m["health"] == 6 else 0,
        addons["serious_illness"] if m["health"] == 5 else 0,
        addons["child_under_16"] if years < 16 else 0,
    ]
    return max(qualifying)


def status(hh: Household, facts: dict, tr: Trace = NO_TRACE) -> tuple[str, int, int]:
    """Status, monthly benefit and phase-out months, decided in the order of §7."""
    pack, row = hh.pack, hh.row
    s, low, pci, n = facts["standard"], facts["low_income"], facts["pci"], len(hh.members)
    ages, cs = facts["ages"], facts["coefficients"]
    if facts["vetoes"]:
        tr.note("§7", "VETOED", 0, vetoes=[f.code for f in facts["vetoes"]])
        return "VETOED", 0, 0
    no_labour = all(
        c == 0 and (a >= 60 or a < 16 or m["health"] in (5, 6))
        for m, a, c in zip(hh.members, ages, cs)
    )
    no_liable = all(sp["exempt_reason"] != "none" for sp in hh.supporters)
    tr.note(
        "§7",
        "checks in order",
        "not vetoed",
        tekun_no_labour=no_labour,
        tekun_no_liable_supporter=no_liable,
        pci_below_standard=pci < s,
        pci_at_most_low_income=pci <= low,
        prev_status=row["prev_status"],
        prev_benefit=row["prev_benefit"],
    )
    if no_labour and no_liable and pci < s:
        benefit = yuan(rhu(s * pack["standards"]["tekun_ratio"], 1000) * n)
        ratio = pack["standards"]["tekun_ratio"]
        tr.note(
            "§7",
            "TEKUN",
            benefit,
            standard=s,
            tekun_ratio=ratio,
            formula=f"yuan(rhu(S {s} × tekun_ratio {ratio}, 1000) × n {n}) = {benefit}",
        )
        return "TEKUN", benefit, 0
    if pci < s:
        addons = [rhu(s * addon(m, a, pack["addons"]), 1000) for m, a in zip(hh.members, ages)]
        extra = sum(addons)
        benefit = yuan((s - pci) * n + extra)
        tr.note(
            "§7",
            "DIBAO",
            benefit,
            standard=s,
            pci=pci,
            n=n,
            addons=extra,
            addon_per_member=addons,
            addon_ratios=dict(pack["addons"]),
            formula=f"yuan((S {s} − pci {pci}) × n {n} + add-ons {extra}) = {benefit}",
        )
        return "DIBAO", benefit, 0
    if pci <= low:
        if row["prev_status"] == "dibao" and row["prev_benefit"] > 0:
            tr.note(
                "§7",
                "PHASE_OUT",
                yuan(row["prev_benefit"]),
                pci=pci,
                low_income=low,
                prev_benefit=row["prev_benefit"],
                months=pack["phaseout"]["months"],
            )
            return "PHASE_OUT", yuan(row["prev_benefit"]), pack["phaseout"]["months"]
        ill = [inc for m, inc in zip(hh.members, facts["incomes"]) if m["health"] in (5, 6)]
        single = yuan(sum(max(0, s - rhu(inc["member_income"], 12)) for inc in ill))
        if ill and single > 0:
            gaps = " + ".join(f"max(0, S {s} − rhu({inc['member_income']}, 12))" for inc in ill)
            tr.note("§7", "DIBAO_SINGLE", single, standard=s, formula=f"yuan({gaps}) = {single}")
            return "DIBAO_SINGLE", single, 0
        tr.note("§7", "LOW_INCOME", 0, pci=pci, low_income=low)
        return "LOW_INCOME", 0, 0
    tr.note("§7", "NOT_ELIGIBLE", 0, pci=pci, low_income=low)
    return "NOT_ELIGIBLE", 0, 0


def circle(state: str, facts: dict, pack: dict) -> int:
    """四级信息圈 of a household not vetoed (§7); vetoed households are circle 0."""
    pci, s, low = facts["pci"], facts["standard"], facts["low_income"]
    circles = pack["circles"]
    if state == "VETOED":
        return 0
    if state == "TEKUN" or pci < s:
        return 1
    if pci <= low:
        return 2
    if pci <= rhu(low * circles["circle3_ratio"], 1000):
        return 3
    if pci <= rhu(low * circles["circle4_ratio"], 1000):
        return 4
    return 0


def transition(state: str, benefit: int, prev_status: str, prev_benefit: int) -> str:
    """NEW / CONTINUE / ADJUST / PHASE_OUT / EXIT / NONE against prev_status (§7)."""
    if state == "PHASE_OUT":
        return "PHASE_OUT"
    if state in ENROLLED:
        if prev_status in ("dibao", "tekun"):
            return "CONTINUE" if benefit == prev_benefit else "ADJUST"
        return "NEW"
    if prev_status in ("dibao", "tekun", "phase_out"):
        return "EXIT"
    return "NONE"


# §9 difficulty index --------------------------------------------------------------------


def difficulty_index(hh: Household, facts: dict, tr: Trace = NO_TRACE) -> int:
    """家庭困难指数, 0–1000 (RULES.md §9)."""
    ix, d = hh.pack["index"], hh.row["assessment_date"]
    points = 0
    for m, a in zip(hh.members, facts["ages"]):
        points += (
            ix["age_70"]
            if a >= 70
            else ix["age_60"]
            if a >= 60
            else (ix["age_child"] if a < 16 else 0)
        )
        points += ix["health_points"][m["health"] - 1]
        points += ix["student_points"].get(m["student_level"], 0)
    member_points = min(ix["member_cap"], points)
    s, pci, n = facts["standard"], facts["pci"], len(hh.members)
    income_points = rhu((s - pci) * ix["income_max"], s) if pci < s else 0
    homes = {
        r["property_id"]
        for _, r in hh.member_rows("property")
        if owned_property(r, d) and r["use"] == "residential"
    }
    any_vehicle = any(owned_vehicle(r, d) for _, r in hh.member_rows("vehicle"))
    asset_points = max(
        0,
        ix["asset_max"]
        - ix["extra_property_penalty"] * max(0, len(homes) - 1)
        - (ix["vehicle_penalty"] if any_vehicle else 0)
        - (
            ix["asset_penalty"]
            if facts["financial_assets"] > ix["asset_penalty_months"] * s * n
            else 0
        ),
    )
    index = min(1000, member_points + income_points + asset_points)
    tr.note(
        "§9",
        "difficulty_index",
        index,
        member=member_points,
        income=income_points,
        asset=asset_points,
    )
    return index


# §11 program routing --------------------------------------------------------------------


def requirement_holds(requires: str, hh: Household, facts: dict) -> bool:
    d = hh.row["assessment_date"]
    ms, ages, cs = hh.members, facts["ages"], facts["coefficients"]
    if requires == "any":
        return True
    if requires == "student":
        return any(m["student_level"] in STUDENT_PROGRAM_LEVELS for m in ms)
    if requires == "medical":
        return facts["medical"] > 0 or any(m["health"] in (2, 4, 5) for m in ms)
    if requires == "no_home":
        return not any(
            owned_property(r, d) and r["use"] == "residential"
            for _, r in hh.member_rows("property")
        )
    if requires == "work_capable":
        floor = hh.pack["veto"]["refused_work_min_coefficient"]
        return any(
            c >= floor and m["occupation"] in WORK_CAPABLE_OCCUPATIONS for m, c in zip(ms, cs)
        )
    if requires == "disability":
        return any(m["health"] in (3, 6) for m in ms)
    if requires == "elderly":
        return any(a >= 60 for a in ages)
    raise ValueError(f"unknown program requirement {requires!r}")


def programs(hh: Household, state: str, facts: dict) -> tuple[list[str], list[Finding]]:
    """可享受 / 已享受: eligible programs and the 漏救 / 错救 findings (RULES.md §11)."""
    defined = hh.pack.get("programs", {})
    eligible = sorted(
        name
        for name, p in defined.items()
        if state != "VETOED"
        and state in p["statuses"]
        and requirement_holds(p["requires"], hh, facts)
    )
    current = set(hh.row.get("current_programs") or [])
    missed = [
        Finding("PROGRAM_MISSED", "warning", None, "households", None, name)
        for name in eligible
        if name not in current
    ]
    undue = [
        Finding("PROGRAM_UNDUE", "warning", None, "households", None, name)
        for name in sorted(current)
        if name not in eligible
    ]
    return eligible, missed + undue
