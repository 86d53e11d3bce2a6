"""Random valid bundles as EngineInput, concentrated on the rule boundaries.

One generator (`_bundle`) written against a small "chooser" interface, driven either by
a seeded numpy Generator (`random_input(seed, ...)`, for large batches) or by
hypothesis draws (`engine_inputs(...)`, which shrinks). Values sit on the edges of
RULES.md: ages 15/16/40/50/55/60/70 ± a day at D, Feb-29 birthdays, month-end dates,
amounts at limits ± 1, window edges ± 1 day, shared property_ids and plates, persons
in two households, declared_* near the true value, unchecked sources, no consent.

Packs (`packs()`) start from the packaged default pack (builders.default_params, read
with tomllib: these tests do not depend on the policy loader) and include extreme
ones: every veto off and no programs, zero tolerances, ratios of 1000, coefficient
tables of all 1000 or all 0, `statuses = []`, limits near int64's maximum.
"""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pyarrow as pa
from builders import default_params

from meanstest import schema
from meanstest.engine import EngineInput
from meanstest.policy import Policy, digest_of

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
DATES = (
    dt.date(2024, 7, 1),
    dt.date(2024, 3, 31),
    dt.date(2024, 2, 29),
    dt.date(2023, 12, 31),
    dt.date(2024, 1, 31),
    dt.date(2025, 3, 1),
    dt.date(2024, 8, 31),
)
AGES = (0, 5, 15, 16, 17, 39, 40, 41, 45, 50, 51, 54, 55, 56, 59, 60, 61, 69, 70, 71, 88)
BIG = 2**63 - 1


# -- packs --------------------------------------------------------------------------------


def make_policy(params: dict) -> Policy:
    p = params["policy"]
    return Policy(
        id=p["id"],
        jurisdiction=p["jurisdiction"],
        name=p["name"],
        effective_from=dt.date.fromisoformat(p["effective_from"]),
        params=params,
        digest=digest_of(params),
    )


def _variant(pack_id: str, changes: dict) -> Policy:
    params = copy.deepcopy(default_params())
    params["policy"]["id"] = pack_id
    for dotted, value in changes.items():
        section, _, key = dotted.partition(".")
        if key:
            params[section][key] = value
        elif value is None:
            params.pop(section, None)
        else:
            params[section] = value
    return make_policy(params)


def packs() -> list[Policy]:
    """The default pack and extreme ones (all valid per POLICY.md)."""
    every_program_any = {
        "aa_any": {"statuses": list(schema.STATUSES[1:]), "requires": "any"},
        "never": {"statuses": [], "requires": "any"},
        "no_home": {"statuses": ["NOT_ELIGIBLE", "LOW_INCOME"], "requires": "no_home"},
        "work": {"statuses": ["NOT_ELIGIBLE", "DIBAO"], "requires": "work_capable"},
        "zz_elderly": {"statuses": ["TEKUN", "DIBAO", "NOT_ELIGIBLE"], "requires": "elderly"},
    }
    return [
        make_policy(default_params()),
        _variant(
            "off",
            {
                "veto.enabled": [],
                "programs": None,
                "veto.declaration_tolerance_ratio": 0,
                "veto.declaration_tolerance_abs": 0,
                "veto.asset_declaration_tolerance_abs": 0,
                "imputation.student_levels_without_labour": [],
                "imputation.counted_transfers": [],
            },
        ),
        _variant(
            "max",
            {
                "standards.low_income_ratio": 1000,
                "standards.tekun_ratio": 1000,
                "imputation.land_ratio": 1000,
                "imputation.labour_coefficient": [[1000] * 5 for _ in range(6)],
                "imputation.age_bands": [16, 17, 60, 70],
                "imputation.student_levels_without_labour": ["none", "preschool", "college"],
                "imputation.counted_transfers": ["injury_benefit"],
                "support.sector_ratio": {s: 1000 for s in schema.SECTORS},
                "support.elevated_bonus": 1000,
                "support.cap_ratio": 1000,
                "support.supporter_asset_limit": BIG,
                "deductions.tuition_cap": {"none": 1000, "primary": 0, "college": BIG},
                "deductions.medical_cap": BIG,
                "deductions.pension_contribution_cap": BIG,
                "veto.enabled": ["V01", "V02", "V04", "V08", "V11", "V13", "V14"],
                "veto.vehicle_types": ["motorcycle", "mobility", "car"],
                "veto.vehicle_value_limit": BIG,
                "veto.max_vehicles": BIG,
                "veto.max_residential_properties": BIG,
                "veto.residential_area_per_capita_limit": BIG,
                "veto.financial_asset_months": 2**60,
                "veto.insurance_grade_limit": BIG,
                "veto.business_turnover_limit": BIG,
                "veto.recent_vehicle_months": 600,
                "veto.recent_purchase_months": 1,
                "veto.recent_transfer_months": 0,
                "veto.declaration_tolerance_abs": BIG,
                "veto.asset_declaration_tolerance_abs": BIG,
                "veto.refused_work_min_coefficient": 1000,
                "veto.refused_work_min_count": 0,
                "addons": {
                    "elderly_70": 1000,
                    "severe_disability": 1000,
                    "serious_illness": 0,
                    "child_under_16": 999,
                },
                "phaseout.months": 11,
                "circles.circle3_ratio": 999,
                "circles.circle4_ratio": 999,
                "programs": every_program_any,
                "index.student_points": {"none": 7, "preschool": 1000},
                "index.member_cap": 1000,
                "index.asset_penalty_months": 2**40,
            },
        ),
        _variant(
            "zero",
            {
                "standards.dibao_urban": 0,
                "standards.dibao_rural": 1,
                "imputation.min_wage_monthly": 0,
                "imputation.rural_income_annual": 0,
                "imputation.labour_coefficient": [[0] * 5 for _ in range(6)],
                "imputation.age_bands": [0, 1, 2, 3],
                "support.sector_ratio": {s: 0 for s in schema.SECTORS},
                "support.elevated_bonus": 0,
                "support.cap_ratio": 0,
                "support.supporter_asset_limit": 0,
                "deductions.medical_cap": 0,
                "deductions.tuition_cap": {},
                "deductions.pension_contribution_cap": 0,
                "veto.vehicle_types": [],
                "veto.vehicle_value_limit": 0,
                "veto.max_vehicles": 0,
                "veto.max_residential_properties": 0,
                "veto.residential_area_per_capita_limit": 0,
                "veto.financial_asset_months": 0,
                "veto.business_turnover_limit": 0,
                "veto.insurance_grade_limit": 0,
                "veto.recent_purchase_months": 0,
                "veto.recent_transfer_months": 0,
                "veto.recent_vehicle_months": 0,
                "veto.refused_work_min_coefficient": 0,
                "veto.refused_work_min_count": 0,
                "veto.declaration_tolerance_ratio": 0,
                "veto.declaration_tolerance_abs": 0,
                "veto.asset_declaration_tolerance_abs": 0,
                "addons": {
                    k: 0
                    for k in (
                        "elderly_70",
                        "severe_disability",
                        "serious_illness",
                        "child_under_16",
                    )
                },
                "phaseout.months": 0,
                "circles.circle3_ratio": 0,
                "circles.circle4_ratio": 0,
                "programs": {"a": {"statuses": [], "requires": "student"}},
                "index": {
                    "member_cap": 0,
                    "income_max": 0,
                    "asset_max": 0,
                    "age_70": 0,
                    "age_60": 0,
                    "age_child": 0,
                    "health_points": [0] * 6,
                    "student_points": {},
                    "extra_property_penalty": 0,
                    "vehicle_penalty": 0,
                    "asset_penalty": 0,
                    "asset_penalty_months": 0,
                },
            },
        ),
        _variant(
            "tight",
            {
                "standards.dibao_rural": 300000,
                "standards.dibao_urban": 400000,
                "standards.low_income_ratio": 2500,
                "standards.tekun_ratio": 3000,
                "veto.enabled": ["V03", "V05", "V06", "V07", "V09", "V10", "V12", "V13"],
                "veto.recent_purchase_months": 1,
                "veto.recent_transfer_months": 1,
                "veto.declaration_tolerance_ratio": 1000,
                "imputation.student_levels_without_labour": ["junior", "senior"],
                "circles.circle3_ratio": 1000,
                "circles.circle4_ratio": 5000,
                "index.extra_property_penalty": 10**12,
                "index.asset_penalty_months": 0,
                "programs": {
                    "medical_assistance": {
                        "statuses": ["DIBAO", "PHASE_OUT"],
                        "requires": "medical",
                    },
                    "disability_subsidy": {
                        "statuses": list(schema.STATUSES[1:]),
                        "requires": "disability",
                    },
                },
            },
        ),
        # Products that end in an exact half, so random households meet rhu's .5 (a test
        # audit found every other pack gave whole products there): c × 1,001 fen × 1 month
        # and c × 1,001 × 1000‰ land at c = 500 are 500.5; 1.5 × 57,033 (TEKUN, L) and
        # 0.5 × 57,033 (add-ons) end in .5; the support ratios and circles likewise.
        _variant(
            "halves",
            {
                "standards.dibao_rural": 57033,
                "standards.dibao_urban": 78001,
                "standards.tekun_ratio": 1500,
                "imputation.min_wage_monthly": 1001,
                "imputation.work_months": 1,
                "imputation.rural_income_annual": 1001,
                "imputation.land_ratio": 1000,
                "imputation.labour_coefficient": [
                    [500, 701, 555, 333, 1],
                    [500, 499, 301, 101, 0],
                    [333, 500, 250, 99, 0],
                    [501, 300, 200, 100, 0],
                    [0, 0, 0, 0, 0],
                    [0, 0, 0, 0, 0],
                ],
                "support.sector_ratio": {
                    "public": 500,
                    "enterprise": 333,
                    "self_employed": 501,
                    "flexible": 499,
                    "farming": 1,
                    "none": 999,
                },
                "support.cap_ratio": 500,
                "support.elevated_bonus": 1,
                "addons": {
                    "elderly_70": 500,
                    "severe_disability": 333,
                    "serious_illness": 501,
                    "child_under_16": 1,
                },
                "circles.circle3_ratio": 1010,
                "circles.circle4_ratio": 1030,
                "veto.declaration_tolerance_ratio": 333,
                "index.income_max": 333,
            },
        ),
    ]


# -- choosers -----------------------------------------------------------------------------


class NumpyChooser:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi, endpoint=True))

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)


class DrawChooser:
    """Hypothesis draws behind the same interface (so examples shrink)."""

    def __init__(self, draw) -> None:
        from hypothesis import strategies as st

        self.draw, self.st = draw, st

    def int(self, lo: int, hi: int) -> int:
        return self.draw(self.st.integers(lo, hi))

    def pick(self, seq):
        return self.draw(self.st.sampled_from(seq))

    def chance(self, p: float) -> bool:
        return self.draw(self.st.integers(0, 999)) < int(p * 1000)


# -- IDs and dates -------------------------------------------------------------------------


def resident_id(region: str, birth: dt.date, seq: int) -> str:
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS)) % 11]


def _years_before(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # Feb 29 in a common year
        return d.replace(year=d.year - years, day=28)


def _months_before(d: dt.date, months: int) -> dt.date:
    total = d.year * 12 + d.month - 1 - months
    y, m = divmod(total, 12)
    last = [
        31,
        29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][m]
    return dt.date(y, m + 1, min(d.day, last))


# -- the generator ------------------------------------------------------------------------


class _Gen:
    def __init__(self, c, pack_list: list[Policy], prefix: str) -> None:
        self.c, self.packs, self.prefix = c, pack_list, prefix
        self.ids: set[str] = set()
        self.rows = {t: [] for t in schema.TABLES}
        self.record_seq = 0

    def new_id(self, birth: dt.date) -> str:
        c = self.c
        while True:
            pid = resident_id(
                c.pick(("150422", "150404", "110105", "500103")), birth, c.int(0, 999)
            )
            if pid not in self.ids:
                self.ids.add(pid)
                return pid

    def birth(self, d: dt.date) -> dt.date:
        c = self.c
        if c.chance(0.08):
            return c.pick(
                (
                    dt.date(1964, 2, 29),
                    dt.date(2008, 2, 29),
                    dt.date(1954, 2, 28),
                    dt.date(1964, 3, 1),
                    dt.date(1984, 2, 29),
                )
            )
        return _years_before(d, c.pick(AGES)) + dt.timedelta(days=c.pick((-1, 0, 0, 1, 40)))

    def near(self, limit: int, spread: int = 3) -> int:
        """A non-negative value at limit ± 1, or random below/above."""
        c = self.c
        limit = min(limit, 10**12)
        k = c.int(0, 5)
        if k <= 2:
            return max(0, limit + c.int(-1, 1))
        if k == 3:
            return c.int(0, max(0, limit))
        if k == 4:
            return c.int(0, 1)
        return c.int(0, max(1, limit) * spread)

    def date_near(self, d: dt.date, months: int) -> dt.date:
        c = self.c
        months = min(months, 600)
        base = c.pick((_months_before(d, months), d, _months_before(d, c.int(0, 60))))
        return base + dt.timedelta(days=c.pick((-1, 0, 1, 0, -400)))

    def record_id(self) -> str:
        c = self.c
        self.record_seq += 1
        k = c.int(0, 9)
        if k == 0:
            return "R" + str(c.int(1, 3))  # duplicates within a person are allowed
        if k <= 3:
            return f"R{c.int(1, 120)}"  # "R10" < "R9": code-point order matters
        if k == 4:
            return f"export_{c.pick(('tax', '银行'))}.csv:{c.int(1, 30)}"
        return f"{self.prefix}{self.record_seq:05d}"

    def sources(
        self, pid: str, d: dt.date, par: dict, plates, props, n: int, dense: bool = True
    ) -> None:
        c, rows, ve = self.c, self.rows, par["veto"]

        if not dense:
            self.benign_sources(pid, plates, props)
            return

        def count(*weights):
            return c.pick(weights)

        for _ in range(count(0, 0, 1, 1, 2, 3)):
            rows["tax_income"].append(
                {
                    "person_id": pid,
                    "income_type": c.pick(schema.INCOME_TYPES),
                    "amount": c.pick((0, 1, 99, 100, 150, self.near(600000, 5))),
                    "record_id": self.record_id(),
                }
            )
        for _ in range(count(0, 0, 0, 0, 0, 0, 1, 2)):
            rows["business_registration"].append(
                {
                    "person_id": pid,
                    "role": c.pick(("self_employed",) * 6 + schema.ROLES),
                    "annual_turnover": self.near(ve["business_turnover_limit"]),
                    "employees": c.pick((0, 0, 0, 0, 0, 1, 2)),
                    "record_id": self.record_id(),
                }
            )
        for _ in range(count(0, 0, 1, 1, 2)):
            s = par["standards"]["dibao_rural"]
            limit = ve["financial_asset_months"] * s * n
            rows["bank"].append(
                {
                    "person_id": pid,
                    "institution": c.pick(("农村信用合作联社", "中国银行")),
                    "product": c.pick(schema.PRODUCTS),
                    "balance": c.pick(
                        (
                            0,
                            self.near(limit // c.pick((1, 2)), 2),
                            self.near(par["support"]["supporter_asset_limit"]),
                        )
                    ),
                    "interest": c.pick((0, 1, 50, 12000)),
                    "record_id": self.record_id(),
                }
            )
        for _ in range(count(0, 0, 0, 1, 1, 2)):
            rows["vehicle"].append(
                {
                    "person_id": pid,
                    "plate": c.pick(plates),
                    "vehicle_type": c.pick(schema.VEHICLE_TYPES),
                    "value": self.near(ve["vehicle_value_limit"]),
                    "registered_on": c.pick(
                        (
                            self.date_near(d, ve["recent_vehicle_months"]),
                            d + dt.timedelta(days=1),
                            dt.date(2010, 5, 5),
                        )
                    ),
                    "record_id": self.record_id(),
                }
            )
        for _ in range(count(0, 0, 1, 1, 2)):
            acquired = c.pick(
                (
                    self.date_near(d, ve["recent_purchase_months"]),
                    dt.date(2001, 1, 1),
                    d + dt.timedelta(days=1),
                )
            )
            disposed = None
            if c.chance(0.3):
                disposed = max(
                    acquired,
                    c.pick(
                        (
                            self.date_near(d, ve["recent_transfer_months"]),
                            d,
                            d + dt.timedelta(days=1),
                            acquired,
                        )
                    ),
                )
            area_limit = min(ve["residential_area_per_capita_limit"], 10**9) * n
            rows["property"].append(
                {
                    "person_id": pid,
                    "property_id": c.pick(props),
                    "use": c.pick(("residential",) * 8 + schema.PROPERTY_USES),
                    "area": self.near(area_limit),
                    "share": c.pick((1000, 1000, 500, 1, 333, 999)),
                    "acquired_on": acquired,
                    "acquisition": c.pick(schema.ACQUISITIONS),
                    "disposed_on": disposed,
                    "rental_income": c.pick((0, 0, 1, 1001, 240000)),
                    "record_id": self.record_id(),
                }
            )
        for _ in range(count(0, 0, 1, 1, 2, 3)):
            kind = c.pick(schema.RECORD_TYPES)
            amount = c.pick(
                (
                    0,
                    1,
                    self.near(ve["insurance_grade_limit"]),
                    self.near(par["deductions"]["pension_contribution_cap"]),
                    self.near(3000000),
                )
            )
            rows["social_insurance"].append(
                {
                    "person_id": pid,
                    "record_type": kind,
                    "amount": amount,
                    "reimbursed": c.int(0, amount + 10) if kind == "medical_settlement" else 0,
                    "scheme": c.pick(schema.SCHEMES),
                    "employer_type": c.pick(("none", "enterprise") * 3 + schema.EMPLOYER_TYPES),
                    "record_id": self.record_id(),
                }
            )

    def benign_sources(self, pid: str, plates, props) -> None:
        """Few rows that rarely veto: income near the standards, small deposits."""
        c, rows = self.c, self.rows
        if c.chance(0.5):
            rows["tax_income"].append(
                {
                    "person_id": pid,
                    "income_type": c.pick(("wage", "labour", "other", "business")),
                    "amount": c.pick((c.int(0, 2500000), c.int(0, 12) * 57000, 1026000, 1026001)),
                    "record_id": self.record_id(),
                }
            )
        if c.chance(0.3):
            rows["bank"].append(
                {
                    "person_id": pid,
                    "institution": "中国银行",
                    "product": "deposit",
                    "balance": c.int(0, 300000),
                    "interest": c.int(0, 3000),
                    "record_id": self.record_id(),
                }
            )
        if c.chance(0.3):
            kind = c.pick(
                (
                    "pension_benefit",
                    "medical_settlement",
                    "pension_contribution",
                    "unemployment_benefit",
                    "injury_benefit",
                )
            )
            amount = c.int(0, 800000)
            rows["social_insurance"].append(
                {
                    "person_id": pid,
                    "record_type": kind,
                    "amount": amount,
                    "reimbursed": c.int(0, amount) if kind == "medical_settlement" else 0,
                    "scheme": c.pick(("employee", "none")),
                    "employer_type": "none",
                    "record_id": self.record_id(),
                }
            )
        if c.chance(0.2):
            rows["property"].append(
                {
                    "person_id": pid,
                    "property_id": props[0],
                    "use": "residential",
                    "area": c.int(1000, 8000),
                    "share": c.pick((1000, 500)),
                    "acquired_on": dt.date(2001, 1, 1),
                    "acquisition": "self_built",
                    "disposed_on": None,
                    "rental_income": 0,
                    "record_id": self.record_id(),
                }
            )
        if c.chance(0.1):
            rows["vehicle"].append(
                {
                    "person_id": pid,
                    "plate": plates[0],
                    "vehicle_type": c.pick(("motorcycle", "agricultural")),
                    "value": 300000,
                    "registered_on": dt.date(2012, 1, 1),
                    "record_id": self.record_id(),
                }
            )

    def household(self, k: int, pack_index: int, members_pool: list) -> tuple:
        c, pol = self.c, self.packs[pack_index]
        par = pol.params
        d = c.pick(DATES)
        dense = c.chance(0.4)  # most households have few records: statuses other than VETOED
        hid = f"{self.prefix}H{k:04d}"
        n = c.int(1, 6)
        plates = [f"蒙D{self.prefix}{k}{j}" for j in range(c.int(1, 3))]
        props = [f"P{self.prefix}{k}-{j}" for j in range(c.int(1, 3))]
        members = []
        used = set()
        for _ in range(n):
            if members_pool and c.chance(0.03):
                other = dict(c.pick(members_pool))
                if other["person_id"] in used:
                    continue
                other["household_id"] = hid
                members.append(other)
                used.add(other["person_id"])
                continue
            b = self.birth(d)
            level = c.pick(("none",) * 4 + schema.STUDENT_LEVELS)
            cap = par["deductions"]["tuition_cap"].get(level, 300000)
            pid = self.new_id(b)
            used.add(pid)
            members.append(
                {
                    "household_id": hid,
                    "person_id": pid,
                    "relation": c.pick(schema.RELATIONS),
                    "birth_date": b,
                    "health": c.int(1, 6),
                    "student_level": level,
                    "occupation": c.pick(schema.OCCUPATIONS),
                    "refused_job_offers": c.pick(
                        (0, 0, 0, 0, 0, 1, 2, 3) if dense else (0, 0, 0, 1)
                    ),
                    "tuition": c.pick((0, 0, self.near(cap))),
                }
            )
            self.sources(pid, d, par, plates, props, n, dense)
        if not members:
            return self.household(k, pack_index, [])
        supporters = []
        for _ in range(c.pick((0, 0, 1, 1, 2, 3))):
            if members_pool and c.chance(0.1):  # a member of another household supports
                other = c.pick(members_pool)
                if other["person_id"] in used:
                    continue
                pid, b = other["person_id"], other["birth_date"]
            else:
                b = self.birth(d)
                pid = self.new_id(b)
                self.sources(pid, d, par, plates, props, 1, dense)
            used.add(pid)
            supporters.append(
                {
                    "household_id": hid,
                    "supporter_id": pid,
                    "birth_date": b,
                    "health": c.int(1, 6),
                    "employment_sector": c.pick(schema.SECTORS),
                    "exempt_reason": c.pick(("none",) * 4 + schema.EXEMPT_REASONS),
                    "supported_count": c.int(1, 4),
                }
            )
        fa = sum(r["balance"] for r in self.rows["bank"] if r["person_id"] in used)
        names = sorted(pol.programs)
        current = None
        if names and c.chance(0.6):
            current = [x for x in names if c.chance(0.4)]
            if current and c.chance(0.2):
                current.append(current[0])  # listed twice counts once
        hh = {
            "household_id": hid,
            "jurisdiction": "150422",
            "area": c.pick(schema.AREAS),
            "assessment_date": d,
            "consent_signed": c.chance(0.96),
            **{f"checked_{x}": c.chance(0.92) for x in schema.DEPARTMENTS},
            "declared_income_monthly": c.pick((None,) * 6 + (0, c.int(0, 200000), 10000, 90000)),
            "declared_vehicles": c.pick((None,) * 6 + (0, 1, 2)),
            "declared_properties": c.pick((None,) * 6 + (0, 1, 2)),
            "declared_financial_assets": c.pick(
                (None,) * 6 + (0, max(0, fa + c.int(-100001, -99999)), fa, max(0, fa - 1))
            ),
            "prev_status": c.pick(schema.PREV_STATUSES),
            "prev_benefit": c.pick((0, 0, 57000, 171000, c.int(0, 400) * 100, c.int(1, 99))),
            "current_programs": current,
        }
        return hh, members, supporters


def _bundle(c, pack_list: list[Policy], n_households: int, prefix: str = "") -> EngineInput:
    g = _Gen(c, pack_list, prefix)
    hhs, pool, index = [], [], []
    for k in range(n_households):
        pi = c.pick((0, 0, 0, *range(len(pack_list))))  # the default pack most often
        hh, members, supporters = g.household(k, pi, pool)
        hhs.append(hh)
        index.append(pi)
        g.rows["persons"].extend(members)
        g.rows["supporters"].extend(supporters)
        pool.extend(m for m in members)
    for _ in range(c.int(0, 2)):  # rows of nobody in the bundle: ignored
        g.sources(
            resident_id("150422", dt.date(1970, 1, 1), 0),
            DATES[0],
            pack_list[0].params,
            ["X"],
            ["X"],
            1,
        )
    households_of: dict[str, set] = {}
    for m in g.rows["persons"]:
        households_of.setdefault(m["person_id"], set()).add(m["household_id"])
    duplicates = {}
    for pid, hs in households_of.items():
        if len(hs) > 1 or (c.chance(0.01)):  # a rejected household elsewhere in the bundle
            hs = hs | ({f"{prefix}REJECTED"} if len(hs) == 1 else set())
            duplicates[pid] = sorted(hs)
    tables = {
        t: pa.Table.from_pylist(g.rows[t], schema=schema.arrow_schema(t))
        for t in schema.TABLES
        if t != "households"
    }
    households = pa.Table.from_pylist(hhs, schema=schema.arrow_schema("households"))
    return EngineInput(
        households=households,
        persons=tables["persons"],
        supporters=tables["supporters"],
        sources={t: tables[t] for t in schema.SOURCE_TABLES},
        policies=list(pack_list),
        policy_index=np.array(index, np.int32),
        duplicates=duplicates,
    )


def random_input(
    seed: int, pack_list: list[Policy] | None = None, n_households: int = 50
) -> EngineInput:
    """A seeded random bundle of `n_households` households."""
    return _bundle(
        NumpyChooser(np.random.default_rng(seed)),
        pack_list or packs(),
        n_households,
        prefix=f"s{seed}-",
    )


def engine_inputs(pack_list: list[Policy] | None = None, max_households: int = 6):
    """Hypothesis strategy: EngineInput of 1..max_households households."""
    from hypothesis import strategies as st

    pl = pack_list or packs()

    @st.composite
    def build(draw):
        c = DrawChooser(draw)
        return _bundle(c, pl, c.int(1, max_households))

    return build()


def with_previous(inp: EngineInput, results: pa.Table, seed: int) -> EngineInput:
    """The same input with about half the households' prev_status/prev_benefit set from
    `results` (an earlier run): CONTINUE, ADJUST by one yuan, PHASE_OUT after DIBAO."""
    rng = np.random.default_rng(seed)
    hh = inp.households.to_pylist()
    for row, res in zip(hh, results.to_pylist()):
        k = int(rng.integers(0, 6))
        if k == 0:
            row["prev_status"], row["prev_benefit"] = "dibao", res["benefit"]
        elif k == 1:
            row["prev_status"], row["prev_benefit"] = "tekun", res["benefit"]
        elif k == 2:
            row["prev_status"] = str(rng.choice(["dibao", "tekun"]))
            row["prev_benefit"] = max(0, res["benefit"] + int(rng.choice([-100, 100, 1])))
    households = pa.Table.from_pylist(hh, schema=inp.households.schema)
    return EngineInput(
        households,
        inp.persons,
        inp.supporters,
        inp.sources,
        inp.policies,
        inp.policy_index,
        inp.duplicates,
    )
