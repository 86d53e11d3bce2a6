"""A second, independent reading of RULES.md (§0–§9, §11): the oracle of test_oracle.py.

Written from the spec text alone, one household at a time, in plain Python integers
(fen, ‰, centi-m²; no float anywhere). It shares nothing with meanstest's reference
calculator or kernels: only the Policy objects (their `params` dicts) and the Arrow
tables of a bundle come in. The veto and finding rules (§6, §8) are in oracle_checks.py.

`assess_households(households, persons, supporters, sources, policy_of, duplicates)`
returns plain dicts: results (one per household, in order, rank included), members and
findings. Rows are `to_pylist` dicts; dates are datetime.date.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

import oracle_checks

# -- §0 Arithmetic ----------------------------------------------------------------------


def rhu(a: int, b: int) -> int:
    """a/b rounded half up, for a ≥ 0, b > 0."""
    assert a >= 0 and b > 0, (a, b)
    return (2 * a + b) // (2 * b)


def yuan(x: int) -> int:
    """x rounded half up to a whole yuan, in fen."""
    return rhu(x, 100) * 100


def age_at(birth: dt.date, d: dt.date) -> int:
    """Full years at D."""
    return d.year - birth.year - (1 if (d.month, d.day) < (birth.month, birth.day) else 0)


def add_months(d: dt.date, months: int) -> dt.date:
    """d plus `months` months, the day clamped to the month's end."""
    y, m = divmod(d.year * 12 + (d.month - 1) + months, 12)
    return dt.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def within_months(x: dt.date | None, d: dt.date, months: int) -> bool:
    """ "Within N months before D": add_months(D, -N) < x <= D."""
    return x is not None and add_months(d, -months) < x <= d


def vehicle_owned(v: dict, d: dt.date) -> bool:
    return v["registered_on"] <= d


def property_owned(p: dict, d: dt.date) -> bool:
    return p["acquired_on"] <= d and (p["disposed_on"] is None or p["disposed_on"] > d)


# -- the records of one person ----------------------------------------------------------

SOURCE_TABLES = (
    "tax_income",
    "business_registration",
    "bank",
    "vehicle",
    "property",
    "social_insurance",
)


def index_sources(sources: dict) -> dict[str, dict[str, list[dict]]]:
    """table -> person_id -> rows, each list sorted by record_id (the §6 evidence order)."""
    out: dict[str, dict[str, list[dict]]] = {}
    for name in SOURCE_TABLES:
        by: dict[str, list[dict]] = {}
        table = sources.get(name)
        for row in table.to_pylist() if table is not None else []:
            by.setdefault(row["person_id"], []).append(row)
        for rows in by.values():
            # a null record_id is bad input: its person's households are rejected
            rows.sort(key=lambda r: r["record_id"] or "")
        out[name] = by
    return out


@dataclass
class Records:
    """Every source row of one person."""

    tax_income: list = field(default_factory=list)
    business_registration: list = field(default_factory=list)
    bank: list = field(default_factory=list)
    vehicle: list = field(default_factory=list)
    property: list = field(default_factory=list)
    social_insurance: list = field(default_factory=list)

    @classmethod
    def of(cls, index: dict, person_id: str) -> Records:
        return cls(**{t: index[t].get(person_id, []) for t in SOURCE_TABLES})


# -- §2 Labour coefficient --------------------------------------------------------------


def labour_coefficient(age: int, health: int, student_level: str | None, imp: dict) -> int:
    """劳动力系数 c(p), ‰."""
    if age < 16:
        return 0
    if student_level in imp["student_levels_without_labour"]:
        return 0
    band = next((i for i, bound in enumerate(imp["age_bands"]) if age <= bound), 4)
    return imp["labour_coefficient"][health - 1][band]


# -- §3 Income of a member --------------------------------------------------------------


def tax_sums(rec: Records) -> tuple[int, int, int]:
    """(wage, business, other); interest and rental tax rows are not counted."""
    wage = sum(r["amount"] for r in rec.tax_income if r["income_type"] in ("wage", "labour"))
    business = sum(r["amount"] for r in rec.tax_income if r["income_type"] == "business")
    other = sum(r["amount"] for r in rec.tax_income if r["income_type"] == "other")
    return wage, business, other


def transfer_sum(rec: Records, imp: dict) -> int:
    return sum(
        r["amount"] for r in rec.social_insurance if r["record_type"] in imp["counted_transfers"]
    )


def property_income(rec: Records, d: dt.date) -> int:
    interest = sum(r["interest"] for r in rec.bank)
    rent = sum(
        rhu(p["rental_income"] * p["share"], 1000) for p in rec.property if property_owned(p, d)
    )
    return interest + rent


def imputed_work(c: int, imp: dict) -> int:
    """务工收入 = c × 最低工资标准 × 务工月数."""
    return rhu(c * imp["min_wage_monthly"] * imp["work_months"], 1000)


def member_income(person: dict, c: int, rec: Records, area: str, d: dt.date, imp: dict):
    """(employment, basis, member_income, verified_income) of §3."""
    wage, business, other = tax_sums(rec)
    rest = business + other + property_income(rec, d) + transfer_sum(rec, imp)
    if wage > 0:
        employment, basis = wage, "verified"
    elif c == 0:
        employment, basis = 0, "none"
    elif person["occupation"] == "farming" and area == "rural":
        employment = rhu(c * imp["rural_income_annual"] * imp["land_ratio"], 1000 * 1000)
        basis = "imputed_land"
    else:
        employment, basis = imputed_work(c, imp), "imputed_work"
    return employment, basis, employment + rest, wage + rest


# -- §4 Support from supporters ---------------------------------------------------------


def supporter_elevated(rec: Records, d: dt.date, params: dict) -> bool:
    """子女拥有大宗资产/豪华车辆/高档住宅: the elevated_bonus applies."""
    veto = params["veto"]
    luxury = any(
        vehicle_owned(v, d)
        and v["vehicle_type"] in veto["vehicle_types"]
        and v["value"] > veto["vehicle_value_limit"]
        for v in rec.vehicle
    )
    homes = {
        p["property_id"] for p in rec.property if property_owned(p, d) and p["use"] == "residential"
    }
    balance = sum(b["balance"] for b in rec.bank)
    return (
        luxury
        or len(homes) > veto["max_residential_properties"]
        or balance > params["support"]["supporter_asset_limit"]
    )


def support(s: dict, rec: Records, d: dt.date, params: dict) -> int:
    """赡养/抚养/扶养费 of one supporter, annual."""
    if s["exempt_reason"] != "none":
        return 0
    imp, sup = params["imputation"], params["support"]
    wage, business, other = tax_sums(rec)
    income = wage + business + other + transfer_sum(rec, imp)
    if income == 0:
        c = labour_coefficient(age_at(s["birth_date"], d), s["health"], None, imp)
        income = imputed_work(c, imp)
    ratio = sup["sector_ratio"][s["employment_sector"]]
    if supporter_elevated(rec, d, params):
        ratio += sup["elevated_bonus"]
    return min(
        rhu(income * ratio * s["supported_count"], 1000), rhu(income * sup["cap_ratio"], 1000)
    )


# -- one household ----------------------------------------------------------------------


@dataclass
class Member:
    row: dict
    age: int
    c: int
    rec: Records
    employment: int = 0
    basis: str = "none"
    income: int = 0
    verified: int = 0


@dataclass
class Household:
    """What §5–§11 read: the household row, its members, supporters and pack."""

    row: dict
    members: list[Member]
    supporters: list[tuple[dict, Records]]
    params: dict
    d: dt.date
    S: int = 0
    L: int = 0
    medical: int = 0
    pci: int = 0
    fa: int = 0

    @property
    def n(self) -> int:
        return len(self.members)

    def owned_vehicles(self) -> list[dict]:
        return [v for m in self.members for v in m.rec.vehicle if vehicle_owned(v, self.d)]

    def owned_properties(self) -> list[dict]:
        return [p for m in self.members for p in m.rec.property if property_owned(p, self.d)]

    def owned_residential_ids(self) -> set[str]:
        return {p["property_id"] for p in self.owned_properties() if p["use"] == "residential"}


def assess_one(hh: dict, persons: list[dict], sups: list[dict], index: dict, policy, dup_of):
    """results row (without rank), member rows, findings of one household."""
    params = policy.params
    imp = params["imputation"]
    d = hh["assessment_date"]
    members = []
    for p in persons:
        age = age_at(p["birth_date"], d)
        c = labour_coefficient(age, p["health"], p["student_level"], imp)
        m = Member(p, age, c, Records.of(index, p["person_id"]))
        m.employment, m.basis, m.income, m.verified = member_income(p, c, m.rec, hh["area"], d, imp)
        members.append(m)
    h = Household(hh, members, [(s, Records.of(index, s["supporter_id"])) for s in sups], params, d)

    # §5 household income, rigid expenses, per-capita income
    support_total = sum(support(s, rec, d, params) for s, rec in h.supporters)
    gross = sum(m.income for m in members) + support_total
    ded = params["deductions"]
    h.medical = min(
        ded["medical_cap"],
        sum(
            max(0, r["amount"] - r["reimbursed"])
            for m in members
            for r in m.rec.social_insurance
            if r["record_type"] == "medical_settlement"
        ),
    )
    education = sum(
        min(m.row["tuition"], ded["tuition_cap"].get(m.row["student_level"], 0)) for m in members
    )
    pension = sum(
        min(
            sum(
                r["amount"]
                for r in m.rec.social_insurance
                if r["record_type"] == "pension_contribution"
            ),
            ded["pension_contribution_cap"],
        )
        for m in members
    )
    net = max(0, gross - h.medical - education - pension)
    h.pci = rhu(net, 12 * h.n)
    std = params["standards"]
    h.S = std["dibao_urban"] if hh["area"] == "urban" else std["dibao_rural"]
    h.L = rhu(h.S * std["low_income_ratio"], 1000)
    h.fa = sum(b["balance"] for m in members for b in m.rec.bank)

    # §6 and §8: vetoes and findings (oracle_checks.py)
    findings, vetoes = oracle_checks.findings(h, dup_of)

    status, benefit, phaseout = decide_status(h, vetoes)
    programs = eligible_programs(h, status) if not vetoes else []
    findings += oracle_checks.program_findings(hh, programs)
    result = {
        "household_id": hh["household_id"],
        "status": status,
        "benefit": benefit,
        "phaseout_months": phaseout,
        "pci": h.pci,
        "standard": h.S,
        "gross_income": gross,
        "medical": h.medical,
        "education": education,
        "pension": pension,
        "net_income": net,
        "financial_assets": h.fa,
        "circle": circle(h, status),
        "transition": transition(status, benefit, hh),
        "vetoes": vetoes,
        "difficulty_index": difficulty_index(h),
        "provisional": not all(hh[f"checked_{s}"] for s in oracle_checks.DEPARTMENTS),
        "eligible_programs": programs,
        "policy_id": policy.id,
        "policy_digest": policy.digest,
    }
    member_rows = [
        {
            "household_id": hh["household_id"],
            "person_id": m.row["person_id"],
            "age": m.age,
            "labour_coefficient": m.c,
            "employment": m.employment,
            "employment_basis": m.basis,
            "member_income": m.income,
            "verified_income": m.verified,
        }
        for m in members
    ]
    for f in findings:
        f["household_id"] = hh["household_id"]
    return result, member_rows, findings


# -- §7 Status, benefit, circle, transition ---------------------------------------------

ENROLLED = ("TEKUN", "DIBAO", "DIBAO_SINGLE")


def addon(m: Member, addons: dict) -> int:
    """The largest add-on the member qualifies for (分类施保), ‰."""
    qualifies = {
        "elderly_70": m.age >= 70,
        "severe_disability": m.row["health"] == 6,
        "serious_illness": m.row["health"] == 5,
        "child_under_16": m.age < 16,
    }
    return max([addons[k] for k, yes in qualifies.items() if yes], default=0)


def is_tekun(h: Household) -> bool:
    """特困供养: no labour, all old/young/ill, no supporter obliged, pci < S."""
    return (
        all(
            m.c == 0 and (m.age >= 60 or m.age < 16 or m.row["health"] in (5, 6)) for m in h.members
        )
        and not any(s["exempt_reason"] == "none" for s, _ in h.supporters)
        and h.pci < h.S
    )


def decide_status(h: Household, vetoes: list[str]) -> tuple[str, int, int]:
    """(status, benefit, phaseout_months), §7 steps 1–5 in order."""
    S, n, p = h.S, h.n, h.params
    if vetoes:
        return "VETOED", 0, 0
    if is_tekun(h):
        return "TEKUN", yuan(rhu(S * p["standards"]["tekun_ratio"], 1000) * n), 0
    if h.pci < S:
        extra = sum(rhu(S * addon(m, p["addons"]), 1000) for m in h.members)
        return "DIBAO", yuan((S - h.pci) * n + extra), 0
    if h.pci <= h.L:
        if h.row["prev_status"] == "dibao" and h.row["prev_benefit"] > 0:
            return "PHASE_OUT", yuan(h.row["prev_benefit"]), p["phaseout"]["months"]
        ill = [m for m in h.members if m.row["health"] in (5, 6)]
        if ill:
            b = yuan(sum(max(0, S - rhu(m.income, 12)) for m in ill))
            if b > 0:
                return "DIBAO_SINGLE", b, 0
        return "LOW_INCOME", 0, 0
    return "NOT_ELIGIBLE", 0, 0


def circle(h: Household, status: str) -> int:
    """四级信息圈 1..4, 0 outside or vetoed."""
    if status == "VETOED":
        return 0
    c = h.params["circles"]
    if status == "TEKUN" or h.pci < h.S:
        return 1
    if h.pci <= h.L:
        return 2
    if h.pci <= rhu(h.L * c["circle3_ratio"], 1000):
        return 3
    if h.pci <= rhu(h.L * c["circle4_ratio"], 1000):
        return 4
    return 0


def transition(status: str, benefit: int, hh: dict) -> str:
    prev = hh["prev_status"]
    if status in ENROLLED:
        if prev in ("none", "low_income", "phase_out"):
            return "NEW"
        return "CONTINUE" if benefit == hh["prev_benefit"] else "ADJUST"
    if status == "PHASE_OUT":
        return "PHASE_OUT"
    if prev in ("dibao", "tekun", "phase_out"):
        return "EXIT"
    return "NONE"


# -- §9 Difficulty index ----------------------------------------------------------------


def difficulty_index(h: Household) -> int:
    """家庭困难指数, 0–1000."""
    ix = h.params["index"]
    points = 0
    for m in h.members:
        if m.age >= 70:
            points += ix["age_70"]
        elif m.age >= 60:
            points += ix["age_60"]
        elif m.age < 16:
            points += ix["age_child"]
        points += ix["health_points"][m.row["health"] - 1]
        points += ix["student_points"].get(m.row["student_level"], 0)
    member = min(ix["member_cap"], points)
    income = rhu((h.S - h.pci) * ix["income_max"], h.S) if h.pci < h.S else 0
    asset = ix["asset_max"]
    asset -= ix["extra_property_penalty"] * max(0, len(h.owned_residential_ids()) - 1)
    if h.owned_vehicles():
        asset -= ix["vehicle_penalty"]
    if h.fa > ix["asset_penalty_months"] * h.S * h.n:
        asset -= ix["asset_penalty"]
    return min(1000, member + income + max(0, asset))


def ranks(results: list[dict]) -> None:
    """Rank over every assessed household: index descending, household_id ascending."""
    order = sorted(results, key=lambda r: (-r["difficulty_index"], r["household_id"]))
    for i, r in enumerate(order, start=1):
        r["rank"] = i


# -- §11 Program routing ----------------------------------------------------------------

STUDENTS = ("primary", "junior", "senior", "vocational", "college")


def requirement_holds(h: Household, requires: str) -> bool:
    ms = h.members
    if requires == "any":
        return True
    if requires == "student":
        return any(m.row["student_level"] in STUDENTS for m in ms)
    if requires == "medical":
        return h.medical > 0 or any(m.row["health"] in (2, 4, 5) for m in ms)
    if requires == "no_home":
        return not h.owned_residential_ids()
    if requires == "work_capable":
        least = h.params["veto"]["refused_work_min_coefficient"]
        return any(
            m.c >= least and m.row["occupation"] in ("unemployed", "flexible", "none") for m in ms
        )
    if requires == "disability":
        return any(m.row["health"] in (3, 6) for m in ms)
    if requires == "elderly":
        return any(m.age >= 60 for m in ms)
    raise ValueError(f"unknown requires {requires!r}")


def eligible_programs(h: Household, status: str) -> list[str]:
    programs = h.params.get("programs") or {}
    return sorted(
        name
        for name, prog in programs.items()
        if status in prog["statuses"] and requirement_holds(h, prog["requires"])
    )


# -- a run ------------------------------------------------------------------------------


def assess_households(households, persons, supporters, sources, policy_of, duplicates):
    """Oracle outputs for the given (valid) households.

    households, persons, supporters: Arrow tables (persons/supporters may hold rows of
    other households: they are matched by household_id); sources: table name -> Arrow
    table; policy_of(i, row) -> Policy of households row i; duplicates: person_id ->
    household_ids (§8 DUPLICATE_PERSON, from the whole bundle).
    """
    index = index_sources(sources)
    persons_of: dict[str, list[dict]] = {}
    for p in persons.to_pylist():
        persons_of.setdefault(p["household_id"], []).append(p)
    supporters_of: dict[str, list[dict]] = {}
    for s in supporters.to_pylist():
        supporters_of.setdefault(s["household_id"], []).append(s)
    results, members, findings = [], [], []
    for i, hh in enumerate(households.to_pylist()):
        hid = hh["household_id"]
        r, ms, fs = assess_one(
            hh,
            persons_of.get(hid, []),
            supporters_of.get(hid, []),
            index,
            policy_of(i, hh),
            duplicates,
        )
        results.append(r)
        members += ms
        findings += fs
    ranks(results)
    return results, members, findings
