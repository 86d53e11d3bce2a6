"""The oracle's §6 one-vote veto and §8 verification findings (and §11's PROGRAM_*).

Independent of meanstest (see oracle.py). A finding is a dict: code, severity,
person_id, source, record_id, detail (detail is informational, never compared).
"""

from __future__ import annotations

import oracle as o

DEPARTMENTS = ("tax", "bank", "vehicle", "housing", "social_insurance")


def _finding(code, severity, source, person_id=None, record_id=None, detail=""):
    return {
        "code": code,
        "severity": severity,
        "person_id": person_id,
        "source": source,
        "record_id": record_id,
        "detail": detail,
    }


def _rows(h, table: str, test) -> list[tuple[str, dict]]:
    """(person_id, row) of every member's row of `table` passing `test`, in evidence
    order: members in persons-table order, records by record_id ascending."""
    return [(m.row["person_id"], r) for m in h.members for r in getattr(m.rec, table) if test(r)]


def _veto_from_rows(code, table, hits, aggregate=False):
    """One veto finding: evidence = first hit unless the condition is an aggregate."""
    detail = ",".join(r["record_id"] for _, r in hits)
    if hits and not aggregate:
        pid, first = hits[0]
        return _finding(code, "veto", table, pid, first["record_id"], detail)
    return _finding(code, "veto", table, None, None, detail)


# -- §8 UNDECLARED_* --------------------------------------------------------------------


def undeclared(h) -> list[tuple[str, str]]:
    """(code, source) of the UNDECLARED_* conditions that hold."""
    hh, veto = h.row, h.params["veto"]
    out = []
    declared = hh["declared_income_monthly"]
    if declared is not None:
        verified = o.rhu(sum(m.verified for m in h.members), 12)
        slack = max(
            o.rhu(declared * veto["declaration_tolerance_ratio"], 1000),
            veto["declaration_tolerance_abs"],
        )
        if verified > declared + slack:
            out.append(("UNDECLARED_INCOME", "tax_income"))
    vehicles = hh["declared_vehicles"]
    if vehicles is not None and len({v["plate"] for v in h.owned_vehicles()}) > vehicles:
        out.append(("UNDECLARED_VEHICLE", "vehicle"))
    owned = len({p["property_id"] for p in h.owned_properties()})
    if hh["declared_properties"] is not None and owned > hh["declared_properties"]:
        out.append(("UNDECLARED_PROPERTY", "property"))
    assets = hh["declared_financial_assets"]
    if assets is not None and h.fa > assets + veto["asset_declaration_tolerance_abs"]:
        out.append(("UNDECLARED_ASSETS", "bank"))
    return out


# -- §6 one-vote veto -------------------------------------------------------------------


def vetoes(h, undeclared_found) -> list[dict]:
    """One finding per triggered, enabled veto code, ascending."""
    v, d, n, S = h.params["veto"], h.d, h.n, h.S
    types = v["vehicle_types"]
    out: dict[str, dict] = {}

    # V01 VEHICLE: one dear vehicle, or too many
    dear = _rows(
        h,
        "vehicle",
        lambda r: (
            o.vehicle_owned(r, d)
            and r["vehicle_type"] in types
            and r["value"] > v["vehicle_value_limit"]
        ),
    )
    veto_type = _rows(h, "vehicle", lambda r: o.vehicle_owned(r, d) and r["vehicle_type"] in types)
    too_many = len({r["plate"] for _, r in veto_type}) > v["max_vehicles"]
    if dear:
        # evidence: the first dear vehicle; detail: every triggering one (all of a veto
        # type when the count triggers too)
        out["V01"] = _veto_from_rows("V01", "vehicle", veto_type if too_many else dear)
        out["V01"]["person_id"], out["V01"]["record_id"] = dear[0][0], dear[0][1]["record_id"]
    elif too_many:
        out["V01"] = _veto_from_rows("V01", "vehicle", veto_type, aggregate=True)

    # V02 HOUSING: by count or by area: aggregates
    homes = _rows(h, "property", lambda r: o.property_owned(r, d) and r["use"] == "residential")
    area = sum(o.rhu(r["area"] * r["share"], 1000) for _, r in homes)
    if (
        len({r["property_id"] for _, r in homes}) > v["max_residential_properties"]
        or area > v["residential_area_per_capita_limit"] * n
    ):
        out["V02"] = _veto_from_rows("V02", "property", homes, aggregate=True)

    nonres = _rows(
        h,
        "property",
        lambda r: o.property_owned(r, d) and r["use"] in ("commercial", "office", "industrial"),
    )
    if nonres:
        out["V03"] = _veto_from_rows("V03", "property", nonres)

    if h.fa > v["financial_asset_months"] * S * n:
        out["V04"] = _veto_from_rows("V04", "bank", _rows(h, "bank", lambda r: True), True)

    business = _rows(
        h,
        "business_registration",
        lambda r: (
            r["role"] in ("legal_rep", "shareholder")
            or (
                r["role"] == "self_employed" and r["annual_turnover"] > v["business_turnover_limit"]
            )
        ),
    )
    if business:
        out["V05"] = _veto_from_rows("V05", "business_registration", business)

    public = _rows(
        h,
        "social_insurance",
        lambda r: (
            r["record_type"] == "employment"
            and r["employer_type"] in ("government", "public_institution")
        ),
    )
    if public:
        out["V06"] = _veto_from_rows("V06", "social_insurance", public)

    employer = _rows(h, "business_registration", lambda r: r["employees"] >= 1)
    if employer:
        out["V07"] = _veto_from_rows("V07", "business_registration", employer)

    # V08: a member whose resident-scheme contributions exceed the grade limit
    grade = []
    for m in h.members:
        rows = [
            r
            for r in m.rec.social_insurance
            if r["record_type"] == "pension_contribution" and r["scheme"] == "resident"
        ]
        if sum(r["amount"] for r in rows) > v["insurance_grade_limit"]:
            grade += [(m.row["person_id"], r) for r in rows]
    if grade:
        out["V08"] = _veto_from_rows("V08", "social_insurance", grade)

    # V09, V10: events in a window, owned at D or not
    bought = _rows(
        h,
        "property",
        lambda r: (
            r["acquisition"] == "purchase"
            and o.within_months(r["acquired_on"], d, v["recent_purchase_months"])
        ),
    )
    if bought:
        out["V09"] = _veto_from_rows("V09", "property", bought)
    sold = _rows(
        h, "property", lambda r: o.within_months(r["disposed_on"], d, v["recent_transfer_months"])
    )
    if sold:
        out["V10"] = _veto_from_rows("V10", "property", sold)

    refusers = [
        m
        for m in h.members
        if m.c >= v["refused_work_min_coefficient"]
        and m.row["refused_job_offers"] >= v["refused_work_min_count"]
    ]
    if refusers:
        out["V11"] = _finding("V11", "veto", "persons", refusers[0].row["person_id"])

    if not h.row["consent_signed"]:
        out["V12"] = _finding("V12", "veto", "households")

    if undeclared_found:
        out["V13"] = _finding(
            "V13", "veto", "households", detail=",".join(c for c, _ in undeclared_found)
        )

    recent = _rows(
        h,
        "vehicle",
        lambda r: (
            r["vehicle_type"] in types
            and o.within_months(r["registered_on"], d, v["recent_vehicle_months"])
        ),
    )
    if recent:
        out["V14"] = _veto_from_rows("V14", "vehicle", recent)

    return [out[code] for code in sorted(out) if code in v["enabled"]]


# -- §8 findings ------------------------------------------------------------------------


def findings(h, duplicates: dict) -> tuple[list[dict], list[str]]:
    """(findings, veto codes) of one household: vetoes first, then §8 warnings."""
    found = undeclared(h)
    veto_findings = vetoes(h, found)
    severity = "veto" if "V13" in h.params["veto"]["enabled"] else "warning"
    out = list(veto_findings)
    out += [_finding(code, severity, source) for code, source in found]
    for dept in DEPARTMENTS:
        if not h.row[f"checked_{dept}"]:
            out.append(_finding("SOURCE_NOT_CHECKED", "warning", dept))
    for m in h.members:
        pid = m.row["person_id"]
        if len(duplicates.get(pid, ())) > 1:
            out.append(_finding("DUPLICATE_PERSON", "warning", "persons", pid))
    return out, [f["code"] for f in veto_findings]


def program_findings(hh: dict, eligible: list[str]) -> list[dict]:
    """§11 PROGRAM_MISSED (漏救) and PROGRAM_UNDUE (错救), one per program."""
    current = sorted(set(hh.get("current_programs") or []))
    out = [
        _finding("PROGRAM_MISSED", "warning", "households", detail=p)
        for p in eligible
        if p not in current
    ]
    out += [
        _finding("PROGRAM_UNDUE", "warning", "households", detail=p)
        for p in current
        if p not in eligible
    ]
    return out
