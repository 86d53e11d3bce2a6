"""Reference calculator, RULES.md §2–§5: labour coefficient, income, support, deductions."""

from __future__ import annotations

from meanstest.arith import age, rhu
from meanstest.reference.model import NO_TRACE, Household, Trace, owned_property, owned_vehicle

# §2 labour coefficient ------------------------------------------------------------------


def labour_coefficient(
    years: int, health: int, student_level: str | None, pack: dict, tr: Trace = NO_TRACE
) -> int:
    """劳动力系数 c(p), in per-mille (RULES.md §2). A supporter has no student level
    (None): step 2 does not apply to them, whatever levels the pack lists."""
    imp = pack["imputation"]
    if years < 16:
        tr.note("§2", "labour_coefficient", 0, basis="under_16", age=years, health=health)
        return 0
    if student_level in imp["student_levels_without_labour"]:
        tr.note(
            "§2",
            "labour_coefficient",
            0,
            basis="student",
            age=years,
            health=health,
            level=student_level,
            student_levels_without_labour=list(imp["student_levels_without_labour"]),
        )
        return 0
    bands = imp["age_bands"]
    band = next((i for i, bound in enumerate(bands) if years <= bound), len(bands))
    c = imp["labour_coefficient"][health - 1][band]
    tr.note(
        "§2",
        "labour_coefficient",
        c,
        basis="table",
        age=years,
        health=health,
        level=student_level,
        band=band,
        age_bands=bands,
    )
    return c


# §3 income of a member ------------------------------------------------------------------


def source_income(hh: Household, person_id: str) -> dict[str, int]:
    """wage, business, other and transfer sums from a person's own records (§3)."""
    sums = {"wage": 0, "business": 0, "other": 0, "transfer": 0}
    for r in hh.rows("tax_income", person_id):
        kind = r["income_type"]
        if kind in ("wage", "labour"):
            sums["wage"] += r["amount"]
        elif kind in ("business", "other"):
            sums[kind] += r["amount"]
    counted = hh.pack["imputation"]["counted_transfers"]
    for r in hh.rows("social_insurance", person_id):
        if r["record_type"] in counted:
            sums["transfer"] += r["amount"]
    return sums


def imputed_work_income(c: int, pack: dict) -> int:
    """务工收入 = 劳动力系数 × 最低工资标准 × 务工月数 (§3)."""
    imp = pack["imputation"]
    return rhu(c * imp["min_wage_monthly"] * imp["work_months"], 1000)


def member_income(hh: Household, m: dict, c: int, tr: Trace = NO_TRACE) -> dict:
    """Employment (verified or imputed) and member_income of one member (RULES.md §3)."""
    d = hh.row["assessment_date"]
    pid = m["person_id"]
    inc = source_income(hh, pid)
    interest = sum(r["interest"] for r in hh.rows("bank", pid))
    rental = sum(
        rhu(r["rental_income"] * r["share"], 1000)
        for r in hh.rows("property", pid)
        if owned_property(r, d)
    )
    prop = interest + rental
    imp = hh.pack["imputation"]
    used_params: dict[str, int] = {}
    if inc["wage"] > 0:
        employment, basis = inc["wage"], "verified"
        formula = f"wage {employment}"
    elif c == 0:
        employment, basis = 0, "none"
        formula = "c = 0 → 0"
    elif m["occupation"] == "farming" and hh.row["area"] == "rural":
        employment = rhu(c * imp["rural_income_annual"] * imp["land_ratio"], 1000 * 1000)
        basis = "imputed_land"
        used_params = {k: imp[k] for k in ("rural_income_annual", "land_ratio")}
        formula = (
            f"rhu(c {c} × rural_income_annual {imp['rural_income_annual']} × land_ratio "
            f"{imp['land_ratio']}, 1000 × 1000) = {employment}"
        )
    else:
        employment, basis = imputed_work_income(c, hh.pack), "imputed_work"
        used_params = {k: imp[k] for k in ("min_wage_monthly", "work_months")}
        formula = (
            f"rhu(c {c} × min_wage_monthly {imp['min_wage_monthly']} × work_months "
            f"{imp['work_months']}, 1000) = {employment}"
        )
    rest = inc["business"] + inc["other"] + prop + inc["transfer"]
    out = {
        "employment": employment,
        "employment_basis": basis,
        "member_income": employment + rest,
        "verified_income": inc["wage"] + rest,
        "property": prop,
        **inc,
    }
    # the records whose amounts entered the sums above, not every record of the person
    # (a medical settlement or a contribution is no income; an auditor's blind check
    # found them listed as used)
    counted = {
        "tax_income": lambda r: r["income_type"] in ("wage", "labour", "business", "other"),
        "bank": lambda r: True,
        "property": lambda r: owned_property(r, d),
        "social_insurance": lambda r: r["record_type"] in imp["counted_transfers"],
    }
    used = [r["record_id"] for table, use in counted.items() for r in hh.rows(table, pid) if use(r)]
    tr.note(
        "§3",
        f"member {pid}",
        out["member_income"],
        **out,
        interest=interest,
        rental=rental,
        coefficient=c,
        counted_transfers=sorted(imp["counted_transfers"]),
        **used_params,
        formula=formula,
        records=used,
        # tax rows of interest and rent: informational, counted from bank and property
        informational=[
            r["record_id"]
            for r in hh.rows("tax_income", pid)
            if r["income_type"] in ("interest", "rental")
        ],
    )
    return out


# §4 support from supporters -------------------------------------------------------------


def supporter_elevation(hh: Household, s: dict) -> dict[str, object]:
    """子女拥有大宗资产/豪华车辆/高档住宅: which of §4's conditions raise the supporter's
    ratio (empty: none) — a luxury vehicle (its record_id), more residential properties
    than the limit (their count), a bank balance above the limit (the balance)."""
    d, veto, pid = hh.row["assessment_date"], hh.pack["veto"], s["supporter_id"]
    luxury = [
        r["record_id"]
        for r in hh.rows("vehicle", pid)
        if owned_vehicle(r, d)
        and r["vehicle_type"] in veto["vehicle_types"]
        and r["value"] > veto["vehicle_value_limit"]
    ]
    homes = {
        r["property_id"]
        for r in hh.rows("property", pid)
        if r["use"] == "residential" and owned_property(r, d)
    }
    balance = sum(r["balance"] for r in hh.rows("bank", pid))
    found: dict[str, object] = {}
    if luxury:
        found["luxury_vehicle"] = luxury[0]
    if len(homes) > veto["max_residential_properties"]:
        found["residential_properties"] = len(homes)
    if balance > hh.pack["support"]["supporter_asset_limit"]:
        found["bank_balance"] = balance
    return found


def support(hh: Household, s: dict, tr: Trace = NO_TRACE) -> int:
    """赡养/抚养/扶养费 owed by one supporter, annual fen (RULES.md §4)."""
    sup = hh.pack["support"]
    if s["exempt_reason"] != "none":
        tr.note("§4", f"support {s['supporter_id']}", 0, exempt=s["exempt_reason"])
        return 0
    inc = source_income(hh, s["supporter_id"])
    income = inc["wage"] + inc["business"] + inc["other"] + inc["transfer"]
    imputed = income == 0
    years = age(s["birth_date"], hh.row["assessment_date"])
    c_s = None
    if imputed:
        c_s = labour_coefficient(years, s["health"], None, hh.pack)
        income = imputed_work_income(c_s, hh.pack)
    ratio = sup["sector_ratio"][s["employment_sector"]]
    elevated_by = supporter_elevation(hh, s)
    elevated = bool(elevated_by)
    if elevated:
        ratio += sup["elevated_bonus"]
    share = rhu(income * ratio * s["supported_count"], 1000)
    cap = rhu(income * sup["cap_ratio"], 1000)
    owed = min(share, cap)
    tr.note(
        "§4",
        f"support {s['supporter_id']}",
        owed,
        income=income,
        income_imputed=imputed,
        age=years,
        health=s["health"],
        coefficient=c_s,
        min_wage_monthly=hh.pack["imputation"]["min_wage_monthly"],
        work_months=hh.pack["imputation"]["work_months"],
        sector=s["employment_sector"],
        sector_ratio=sup["sector_ratio"][s["employment_sector"]],
        elevated_bonus=sup["elevated_bonus"] if elevated else 0,
        ratio=ratio,
        elevated=elevated,
        elevated_by=elevated_by,
        vehicle_value_limit=hh.pack["veto"]["vehicle_value_limit"],
        max_residential_properties=hh.pack["veto"]["max_residential_properties"],
        supporter_asset_limit=hh.pack["support"]["supporter_asset_limit"],
        supported_count=s["supported_count"],
        share=share,
        cap=cap,
        cap_ratio=sup["cap_ratio"],
        formula=(
            f"min(rhu(I {income} × r {ratio} × k {s['supported_count']}, 1000) = {share}, "
            f"rhu(I {income} × cap_ratio {sup['cap_ratio']}, 1000) = {cap}) = {owed}"
        ),
    )
    return owed


# §5 rigid expenses ----------------------------------------------------------------------


def deductions(hh: Household, tr: Trace = NO_TRACE) -> tuple[int, int, int]:
    """刚性支出: medical, education and pension deductions (RULES.md §5)."""
    ded = hh.pack["deductions"]
    out_of_pocket = sum(
        max(0, r["amount"] - r["reimbursed"])
        for _, r in hh.member_rows("social_insurance")
        if r["record_type"] == "medical_settlement"
    )
    medical = min(ded["medical_cap"], out_of_pocket)
    caps = ded["tuition_cap"]
    tuition = [
        (
            m["person_id"],
            m["student_level"],
            m["tuition"],
            min(m["tuition"], caps[m["student_level"]]),
        )
        for m in hh.members
        if m["student_level"] in caps
    ]
    education = sum(deducted for *_, deducted in tuition)
    contributions = []
    for m in hh.members:
        paid = sum(
            r["amount"]
            for r in hh.rows("social_insurance", m["person_id"])
            if r["record_type"] == "pension_contribution"
        )
        contributions.append((m["person_id"], paid, min(paid, ded["pension_contribution_cap"])))
    pension = sum(deducted for *_, deducted in contributions)
    tr.note(
        "§5",
        "deductions",
        medical + education + pension,
        medical=medical,
        out_of_pocket=out_of_pocket,
        medical_cap=ded["medical_cap"],
        medical_formula=f"min(medical_cap {ded['medical_cap']}, out of pocket {out_of_pocket})",
        education=education,
        tuition=tuition,
        tuition_cap=dict(caps),
        # paid at a level the pack gives no cap, so not deducted (shown, not silent)
        tuition_uncapped=[
            (m["person_id"], m["student_level"], m["tuition"])
            for m in hh.members
            if m["tuition"] > 0 and m["student_level"] not in caps
        ],
        pension=pension,
        contributions=contributions,
        pension_contribution_cap=ded["pension_contribution_cap"],
    )
    return medical, education, pension
