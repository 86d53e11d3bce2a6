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


def _addons_of(m: dict, years: int, addons: dict) -> dict[str, int]:
    """The add-on (‰ of S) of each category of §7.3, 0 where the member is not in it."""
    return {
        "elderly_70": addons["elderly_70"] if years >= 70 else 0,
        "severe_disability": addons["severe_disability"] if m["health"] == 6 else 0,
        "serious_illness": addons["serious_illness"] if m["health"] == 5 else 0,
        "child_under_16": addons["child_under_16"] if years < 16 else 0,
    }


def addon(m: dict, years: int, addons: dict) -> int:
    """分类施保: the largest add-on (‰ of S) the member qualifies for (§7)."""
    return max(_addons_of(m, years, addons).values())


def addon_kinds(m: dict, years: int, addons: dict) -> list[str]:
    """The categories whose add-on is the member's (several when they pay the same)."""
    qualifying = _addons_of(m, years, addons)
    best = max(qualifying.values())
    return [k for k, v in qualifying.items() if v == best and v > 0]


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
    # §7.4: only a household paid dibao last year phases out; a phase-out never starts a
    # second one (prev phase_out is read as low_income)
    phases_out = row["prev_status"] == "dibao" and row["prev_benefit"] > 0
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
        prev_dibao_paid=phases_out,
    )
    if no_labour and no_liable and pci < s:
        per_person = rhu(s * pack["standards"]["tekun_ratio"], 1000)
        benefit = yuan(per_person * n)
        ratio = pack["standards"]["tekun_ratio"]
        tr.note(
            "§7",
            "TEKUN",
            benefit,
            standard=s,
            tekun_ratio=ratio,
            per_person=per_person,
            n=n,
            formula=f"yuan(rhu(S {s} × tekun_ratio {ratio}, 1000) × n {n}) = {benefit}",
        )
        return "TEKUN", benefit, 0
    if pci < s:
        addons = [rhu(s * addon(m, a, pack["addons"]), 1000) for m, a in zip(hh.members, ages)]
        extra = sum(addons)
        gap = (s - pci) * n
        benefit = yuan(gap + extra)
        tr.note(
            "§7",
            "DIBAO",
            benefit,
            standard=s,
            pci=pci,
            n=n,
            gap=gap,
            addons=extra,
            addon_per_member=addons,
            addon_ratio_per_member=[addon(m, a, pack["addons"]) for m, a in zip(hh.members, ages)]
            if tr.enabled
            else [],
            addon_kinds_per_member=[
                addon_kinds(m, a, pack["addons"]) for m, a in zip(hh.members, ages)
            ]
            if tr.enabled
            else [],
            addon_ratios=dict(pack["addons"]),
            formula=f"yuan((S {s} − pci {pci}) × n {n} + add-ons {extra}) = {benefit}",
        )
        return "DIBAO", benefit, 0
    if pci <= low:
        if phases_out:
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
        ill = [(m, inc) for m, inc in zip(hh.members, facts["incomes"]) if m["health"] in (5, 6)]
        gaps = [
            (
                m["person_id"],
                rhu(inc["member_income"], 12),
                max(0, s - rhu(inc["member_income"], 12)),
            )
            for m, inc in ill
        ]
        single = yuan(sum(gap for *_, gap in gaps))
        if ill and single > 0:
            text = " + ".join(f"max(0, S {s} − rhu({inc['member_income']}, 12))" for _, inc in ill)
            tr.note(
                "§7",
                "DIBAO_SINGLE",
                single,
                standard=s,
                pci=pci,
                low_income=low,
                members=gaps,
                formula=f"yuan({text}) = {single}",
            )
            return "DIBAO_SINGLE", single, 0
        tr.note("§7", "LOW_INCOME", 0, pci=pci, low_income=low, standard=s, ill_members=gaps)
        return "LOW_INCOME", 0, 0
    tr.note("§7", "NOT_ELIGIBLE", 0, pci=pci, low_income=low)
    return "NOT_ELIGIBLE", 0, 0


def circle(state: str, facts: dict, pack: dict, tr: Trace = NO_TRACE) -> int:
    """四级信息圈 of a household not vetoed (§7); vetoed households are circle 0."""
    pci, s, low = facts["pci"], facts["standard"], facts["low_income"]
    circles = pack["circles"]
    bound3 = rhu(low * circles["circle3_ratio"], 1000)
    bound4 = rhu(low * circles["circle4_ratio"], 1000)
    if state == "VETOED":
        value = 0
    elif state == "TEKUN" or pci < s:
        value = 1
    elif pci <= low:
        value = 2
    elif pci <= bound3:
        value = 3
    elif pci <= bound4:
        value = 4
    else:
        value = 0
    tr.note(
        "§7",
        "circle",
        value,
        status=state,
        pci=pci,
        standard=s,
        low_income=low,
        circle3_ratio=circles["circle3_ratio"],
        circle3_bound=bound3,
        circle4_ratio=circles["circle4_ratio"],
        circle4_bound=bound4,
    )
    return value


def transition(
    state: str, benefit: int, prev_status: str, prev_benefit: int, tr: Trace = NO_TRACE
) -> str:
    """NEW / CONTINUE / ADJUST / PHASE_OUT / EXIT / NONE against prev_status (§7)."""
    value = _transition(state, benefit, prev_status, prev_benefit)
    tr.note(
        "§7",
        "transition",
        value,
        status=state,
        benefit=benefit,
        prev_status=prev_status,
        prev_benefit=prev_benefit,
    )
    return value


def _transition(state: str, benefit: int, prev_status: str, prev_benefit: int) -> str:
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
    per_member = []  # (person_id, age points, health points, student points)
    for m, a in zip(hh.members, facts["ages"]):
        age_points = (
            ix["age_70"]
            if a >= 70
            else ix["age_60"]
            if a >= 60
            else (ix["age_child"] if a < 16 else 0)
        )
        per_member.append(
            (
                m["person_id"],
                age_points,
                ix["health_points"][m["health"] - 1],
                ix["student_points"].get(m["student_level"], 0),
            )
        )
    points = sum(a + h + st for _, a, h, st in per_member)
    member_points = min(ix["member_cap"], points)
    s, pci, n = facts["standard"], facts["pci"], len(hh.members)
    income_points = rhu((s - pci) * ix["income_max"], s) if pci < s else 0
    homes = {
        r["property_id"]
        for _, r in hh.member_rows("property")
        if owned_property(r, d) and r["use"] == "residential"
    }
    any_vehicle = any(owned_vehicle(r, d) for _, r in hh.member_rows("vehicle"))
    asset_bound = ix["asset_penalty_months"] * s * n
    penalties = (
        ix["extra_property_penalty"] * max(0, len(homes) - 1),
        ix["vehicle_penalty"] if any_vehicle else 0,
        ix["asset_penalty"] if facts["financial_assets"] > asset_bound else 0,
    )
    asset_points = max(0, ix["asset_max"] - sum(penalties))
    index = min(1000, member_points + income_points + asset_points)
    tr.note(
        "§9",
        "difficulty_index",
        index,
        member=member_points,
        income=income_points,
        asset=asset_points,
        member_points=per_member,
        member_sum=points,
        member_cap=ix["member_cap"],
        pci=pci,
        standard=s,
        income_max=ix["income_max"],
        asset_max=ix["asset_max"],
        homes=len(homes),
        any_vehicle=any_vehicle,
        financial_assets=facts["financial_assets"],
        asset_penalty_months=ix["asset_penalty_months"],
        asset_bound=asset_bound,
        penalties=list(penalties),
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


def programs(
    hh: Household, state: str, facts: dict, tr: Trace = NO_TRACE
) -> tuple[list[str], list[Finding]]:
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
    for name in sorted(defined) if tr.enabled else ():
        p = defined[name]
        tr.note(
            "§11",
            name,
            name in eligible,
            status=state,
            statuses=list(p["statuses"]),
            requires=p["requires"],
            requirement_holds=requirement_holds(p["requires"], hh, facts),
            current=name in current,
        )
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
