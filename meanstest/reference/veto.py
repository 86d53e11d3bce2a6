"""Reference calculator, RULES.md §6 one-vote veto and §8 verification findings."""

from __future__ import annotations

from meanstest import schema
from meanstest.arith import add_months, rhu, within_months
from meanstest.engine import duplicate_detail
from meanstest.reference.model import (
    NO_TRACE,
    Finding,
    Household,
    Trace,
    owned_property,
    owned_vehicle,
)
from meanstest.registry import VETOES

NONRESIDENTIAL = ("commercial", "office", "industrial")


# §6 one-vote veto -----------------------------------------------------------------------


# The [veto] parameters each rule reads, shown with their values in the trace.
VETO_PARAMETERS = {v.code: v.params for v in VETOES}


def _records_finding(code: str, source: str, hits: list, evidence=None) -> Finding:
    """A veto finding whose detail lists every triggering (member, row)."""
    first = evidence if evidence is not None else (hits[0] if hits else None)
    return Finding(
        code,
        "veto",
        first[0]["person_id"] if first else None,
        source,
        first[1]["record_id"] if first else None,
        "records " + ", ".join(r["record_id"] for _, r in hits),
    )


def vetoes(hh: Household, facts: dict, tr: Trace = NO_TRACE) -> list[Finding]:
    """一票否决: every enabled rule that excludes the household, with evidence (§6)."""
    d, n, veto = hh.row["assessment_date"], len(hh.members), hh.pack["veto"]
    found: dict[str, Finding] = {}
    # What each rule measured, for the trace (the rule's own values, nothing recomputed).
    measured: dict[str, dict] = {}

    veto_vehicles = [
        (m, r)
        for m, r in hh.member_rows("vehicle")
        if owned_vehicle(r, d) and r["vehicle_type"] in veto["vehicle_types"]
    ]
    costly = [(m, r) for m, r in veto_vehicles if r["value"] > veto["vehicle_value_limit"]]
    plates = len({r["plate"] for _, r in veto_vehicles})
    too_many = plates > veto["max_vehicles"]
    measured["V01"] = {"vehicles": plates, "over_value": [r["record_id"] for _, r in costly]}
    if costly or too_many:
        hits = veto_vehicles if too_many else costly
        f = _records_finding("V01", "vehicle", hits, costly[0] if costly else None)
        if not costly:
            f.person_id = f.record_id = None
        found["V01"] = f

    homes = [
        (m, r)
        for m, r in hh.member_rows("property")
        if owned_property(r, d) and r["use"] == "residential"
    ]
    home_area = sum(rhu(r["area"] * r["share"], 1000) for _, r in homes)
    home_count = len({r["property_id"] for _, r in homes})
    area_limit = veto["residential_area_per_capita_limit"] * n
    measured["V02"] = {
        "homes": home_count,
        "home_area": home_area,
        "area_limit": area_limit,
        "n": n,
    }
    if home_count > veto["max_residential_properties"] or home_area > area_limit:
        found["V02"] = _records_finding("V02", "property", homes)
        found["V02"].person_id = found["V02"].record_id = None

    other_use = [
        (m, r)
        for m, r in hh.member_rows("property")
        if owned_property(r, d) and r["use"] in NONRESIDENTIAL
    ]
    if other_use:
        found["V03"] = _records_finding("V03", "property", other_use)

    asset_limit = veto["financial_asset_months"] * facts["standard"] * n
    measured["V04"] = {
        "financial_assets": facts["financial_assets"],
        "standard": facts["standard"],
        "n": n,
        "limit": asset_limit,
    }
    if facts["financial_assets"] > asset_limit:
        found["V04"] = _records_finding("V04", "bank", list(hh.member_rows("bank")))
        found["V04"].person_id = None
        found["V04"].record_id = None

    business = [
        (m, r)
        for m, r in hh.member_rows("business_registration")
        if r["role"] in ("legal_rep", "shareholder")
        or (r["role"] == "self_employed" and r["annual_turnover"] > veto["business_turnover_limit"])
    ]
    if business:
        found["V05"] = _records_finding("V05", "business_registration", business)

    public = [
        (m, r)
        for m, r in hh.member_rows("social_insurance")
        if r["record_type"] == "employment"
        and r["employer_type"] in ("government", "public_institution")
    ]
    if public:
        found["V06"] = _records_finding("V06", "social_insurance", public)

    employer = [(m, r) for m, r in hh.member_rows("business_registration") if r["employees"] >= 1]
    if employer:
        found["V07"] = _records_finding("V07", "business_registration", employer)

    resident = [
        (m, r)
        for m, r in hh.member_rows("social_insurance")
        if r["record_type"] == "pension_contribution" and r["scheme"] == "resident"
    ]
    paid = {m["person_id"]: sum(r["amount"] for p, r in resident if p is m) for m in hh.members}
    over = {pid for pid, total in paid.items() if total > veto["insurance_grade_limit"]}
    measured["V08"] = {"resident_contributions": paid}
    grade = [(m, r) for m, r in resident if m["person_id"] in over]
    if grade:
        found["V08"] = _records_finding("V08", "social_insurance", grade)

    purchases = [
        (m, r)
        for m, r in hh.member_rows("property")
        if r["acquisition"] == "purchase"
        and within_months(r["acquired_on"], d, veto["recent_purchase_months"])
    ]
    if tr.enabled:
        measured["V09"] = {"after": add_months(d, -veto["recent_purchase_months"]), "until": d}
    if purchases:
        found["V09"] = _records_finding("V09", "property", purchases)

    transfers = [
        (m, r)
        for m, r in hh.member_rows("property")
        if within_months(r["disposed_on"], d, veto["recent_transfer_months"])
    ]
    if tr.enabled:
        measured["V10"] = {"after": add_months(d, -veto["recent_transfer_months"]), "until": d}
    if transfers:
        found["V10"] = _records_finding("V10", "property", transfers)

    refusing = [
        m
        for m, c in zip(hh.members, facts["coefficients"])
        if c >= veto["refused_work_min_coefficient"]
        and m["refused_job_offers"] >= veto["refused_work_min_count"]
    ]
    measured["V11"] = (
        {}
        if not tr.enabled
        else {
            "members": [
                (m["person_id"], c, m["refused_job_offers"])
                for m, c in zip(hh.members, facts["coefficients"])
            ]
        }
    )
    if refusing:
        found["V11"] = Finding(
            "V11",
            "veto",
            refusing[0]["person_id"],
            "persons",
            None,
            "members " + ", ".join(m["person_id"] for m in refusing),
        )

    measured["V12"] = {"consent_signed": hh.row["consent_signed"]}
    if not hh.row["consent_signed"]:
        found["V12"] = Finding("V12", "veto", None, "households", None, "consent_signed is false")

    undeclared = [f.code for f in facts["undeclared"]]
    measured["V13"] = {"findings": undeclared}
    if undeclared:
        found["V13"] = Finding(
            "V13", "veto", None, "households", None, "findings " + ", ".join(undeclared)
        )

    recent_cars = [
        (m, r)
        for m, r in hh.member_rows("vehicle")
        if r["vehicle_type"] in veto["vehicle_types"]
        and within_months(r["registered_on"], d, veto["recent_vehicle_months"])
    ]
    if tr.enabled:
        measured["V14"] = {"after": add_months(d, -veto["recent_vehicle_months"]), "until": d}
    if recent_cars:
        found["V14"] = _records_finding("V14", "vehicle", recent_cars)

    enabled = [code for code in schema.VETO_CODES if code in found and code in veto["enabled"]]
    for code in veto["enabled"] if tr.enabled else ():
        f = found.get(code)
        tr.note(
            "§6",
            code,
            f is not None,
            **{name: veto[name] for name in VETO_PARAMETERS[code]},
            **measured.get(code, {}),
            evidence=f.record_id if f else None,
            detail=f.detail if f else "",
        )
    tr.note("§6", "vetoes", enabled, enabled_rules=list(veto["enabled"]))
    return [found[code] for code in enabled]


# §8 verification findings ---------------------------------------------------------------


def undeclared_findings(hh: Household, facts: dict, tr: Trace = NO_TRACE) -> list[Finding]:
    """核对疑点: what the records show beyond what was declared (RULES.md §8)."""
    row, veto, d = hh.row, hh.pack["veto"], hh.row["assessment_date"]
    severity = "veto" if "V13" in veto["enabled"] else "warning"
    out = []
    declared = row["declared_income_monthly"]
    if declared is not None:
        monthly = rhu(facts["verified_income"], 12)
        tolerance = max(
            rhu(declared * veto["declaration_tolerance_ratio"], 1000),
            veto["declaration_tolerance_abs"],
        )
        tr.note(
            "§8",
            "UNDECLARED_INCOME",
            monthly > declared + tolerance,
            verified_monthly=monthly,
            verified_income=facts["verified_income"],
            declared=declared,
            tolerance=tolerance,
            declaration_tolerance_ratio=veto["declaration_tolerance_ratio"],
            declaration_tolerance_abs=veto["declaration_tolerance_abs"],
        )
        if monthly > declared + tolerance:
            out.append(
                Finding(
                    "UNDECLARED_INCOME",
                    severity,
                    None,
                    "tax_income",
                    None,
                    f"verified {monthly} > declared {declared} + tolerance {tolerance}",
                )
            )
    declared = row["declared_vehicles"]
    if declared is not None:
        owned = len({r["plate"] for _, r in hh.member_rows("vehicle") if owned_vehicle(r, d)})
        tr.note("§8", "UNDECLARED_VEHICLE", owned > declared, owned=owned, declared=declared)
        if owned > declared:
            out.append(
                Finding(
                    "UNDECLARED_VEHICLE",
                    severity,
                    None,
                    "vehicle",
                    None,
                    f"owned {owned} > declared {declared}",
                )
            )
    declared = row["declared_properties"]
    if declared is not None:
        owned = len(
            {r["property_id"] for _, r in hh.member_rows("property") if owned_property(r, d)}
        )
        tr.note("§8", "UNDECLARED_PROPERTY", owned > declared, owned=owned, declared=declared)
        if owned > declared:
            out.append(
                Finding(
                    "UNDECLARED_PROPERTY",
                    severity,
                    None,
                    "property",
                    None,
                    f"owned {owned} > declared {declared}",
                )
            )
    declared = row["declared_financial_assets"]
    if declared is not None:
        tolerance = veto["asset_declaration_tolerance_abs"]
        tr.note(
            "§8",
            "UNDECLARED_ASSETS",
            facts["financial_assets"] > declared + tolerance,
            financial_assets=facts["financial_assets"],
            declared=declared,
            tolerance=tolerance,
        )
        if facts["financial_assets"] > declared + tolerance:
            out.append(
                Finding(
                    "UNDECLARED_ASSETS",
                    severity,
                    None,
                    "bank",
                    None,
                    f"financial assets {facts['financial_assets']} > declared {declared} "
                    f"+ tolerance {tolerance}",
                )
            )
    return out


def source_findings(hh: Household) -> list[Finding]:
    """SOURCE_NOT_CHECKED, one per department not queried: the result is provisional (§8)."""
    return [
        Finding("SOURCE_NOT_CHECKED", "warning", None, dept, None, f"checked_{dept} is false")
        for dept in schema.DEPARTMENTS
        if not hh.row[f"checked_{dept}"]
    ]


def duplicate_findings(hh: Household) -> list[Finding]:
    """DUPLICATE_PERSON: a member of more than one household row of the bundle (§8)."""
    return [
        Finding(
            "DUPLICATE_PERSON",
            "warning",
            m["person_id"],
            "persons",
            None,
            duplicate_detail(hh.duplicates[m["person_id"]]),
        )
        for m in hh.members
        if m["person_id"] in hh.duplicates
    ]
