"""The oracle's reading of DATA.md "Bad input": which households a bundle rejects.

Independent of meanstest/validate.py: plain Python over `to_pylist` rows. Returns the
set of rejected household_ids (reasons are the engine's own wording, not compared).
"""

from __future__ import annotations

import collections
import datetime as dt
import re

from oracle import SOURCE_TABLES

ENUMS = {
    "households": {
        "area": ("urban", "rural"),
        "prev_status": ("none", "dibao", "tekun", "low_income", "phase_out"),
    },
    "persons": {
        "relation": ("head", "spouse", "child", "parent", "grandchild", "sibling", "other"),
        "student_level": (
            "none", "preschool", "primary", "junior", "senior", "vocational", "college",
        ),
        "occupation": ("employed", "flexible", "farming", "unemployed", "retired", "none"),
    },
    "supporters": {
        "employment_sector": (
            "public", "enterprise", "self_employed", "flexible", "farming", "none",
        ),
        "exempt_reason": (
            "none", "dibao", "serious_illness", "severe_disability", "imprisoned", "student",
        ),
    },
    "tax_income": {
        "income_type": ("wage", "labour", "business", "interest", "rental", "other"),
    },
    "business_registration": {"role": ("self_employed", "legal_rep", "shareholder")},
    "bank": {"product": ("deposit", "wealth", "securities", "fund", "insurance")},
    "vehicle": {"vehicle_type": ("car", "truck", "motorcycle", "agricultural", "mobility")},
    "property": {
        "use": ("residential", "commercial", "office", "industrial", "other"),
        "acquisition": ("purchase", "self_built", "inheritance", "resettlement", "gift"),
    },
    "social_insurance": {
        "record_type": (
            "pension_benefit", "unemployment_benefit", "injury_benefit",
            "pension_contribution", "medical_settlement", "employment",
        ),
        "scheme": ("employee", "resident", "none"),
        "employer_type": ("government", "public_institution", "enterprise", "none"),
    },
}  # fmt: skip
# negative money, count, area or employees
NON_NEGATIVE = {
    "households": (
        "declared_income_monthly",
        "declared_vehicles",
        "declared_properties",
        "declared_financial_assets",
        "prev_benefit",
    ),
    "persons": ("refused_job_offers", "tuition"),
    "tax_income": ("amount",),
    "business_registration": ("annual_turnover", "employees"),
    "bank": ("balance", "interest"),
    "vehicle": ("value",),
    "property": ("area", "rental_income"),
    "social_insurance": ("amount", "reimbursed"),
}
NULLABLE = {
    "declared_income_monthly",
    "declared_vehicles",
    "declared_properties",
    "declared_financial_assets",
    "disposed_on",
    "current_programs",
}
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def select_pack(library, jurisdiction: str, d: dt.date):
    """POLICY.md "Selecting": among packs of J in force on D (effective_from ≤ D) the
    latest; else the prefecture J[:4] + "00", then the province J[:2] + "0000"."""
    for code in (jurisdiction, jurisdiction[:4] + "00", jurisdiction[:2] + "0000"):
        in_force = [p for p in library if p.jurisdiction == code and p.effective_from <= d]
        if in_force:
            return max(in_force, key=lambda p: p.effective_from)
    return None


def id_is_valid(pid: str, birth: dt.date) -> bool:
    """GB 11643: 17 digits and a check character (upper-case X for 10), whose birth
    date (chars 7–14) is a real date equal to birth_date."""
    if not re.fullmatch(r"[0-9]{17}[0-9X]", pid):
        return False
    try:
        born = dt.date(int(pid[6:10]), int(pid[10:12]), int(pid[12:14]))
    except ValueError:
        return False
    check = "10X98765432"[sum(int(c) * w for c, w in zip(pid, _WEIGHTS)) % 11]
    return pid[17] == check and born == birth


def row_is_bad(table: str, row: dict) -> bool:
    """Nulls, enums, signs and ranges of one row (the checks that need no other row)."""
    for col, value in row.items():
        if value is None and col not in NULLABLE:
            return True
    for col, allowed in ENUMS.get(table, {}).items():
        if row[col] not in allowed:
            return True
    if any(row[c] is not None and row[c] < 0 for c in NON_NEGATIVE.get(table, ())):
        return True
    if table in ("persons", "supporters") and not 1 <= row["health"] <= 6:
        return True
    if table == "supporters" and row["supported_count"] < 1:
        return True
    if table == "persons" and not id_is_valid(row["person_id"], row["birth_date"]):
        return True
    if table == "supporters" and not id_is_valid(row["supporter_id"], row["birth_date"]):
        return True
    if table == "property":
        if not 1 <= row["share"] <= 1000:
            return True
        if row["disposed_on"] is not None and row["disposed_on"] < row["acquired_on"]:
            return True
    return False


def rejected(tables: dict, library) -> set[str]:
    """household_ids of every household the bundle rejects (DATA.md "Bad input")."""
    households = tables["households"].to_pylist()
    bad: set = set()
    count = collections.Counter(h["household_id"] for h in households)
    for h in households:
        hid = h["household_id"]
        if count[hid] > 1 or row_is_bad("households", h):
            bad.add(hid)
            continue
        if not re.fullmatch(r"[0-9]{6}", h["jurisdiction"]):
            bad.add(hid)
            continue
        policy = select_pack(library, h["jurisdiction"], h["assessment_date"])
        if policy is None:
            bad.add(hid)
            continue
        programs = policy.params.get("programs") or {}
        if any(p is None or p not in programs for p in h.get("current_programs") or []):
            bad.add(hid)
    people: dict[str, list[str]] = collections.defaultdict(list)  # household -> ids
    homes_of: dict[str, set] = collections.defaultdict(set)  # person -> households
    members = collections.Counter()
    for table, key in (("persons", "person_id"), ("supporters", "supporter_id")):
        for row in tables[table].to_pylist():
            hid = row["household_id"]
            if table == "persons":
                members[hid] += 1
            if row_is_bad(table, row):
                bad.add(hid)
            people[hid].append(row[key])
            homes_of[row[key]].add(hid)
    for hid, ids in people.items():
        if len(set(ids)) < len(ids):  # twice as members, supporters, or both
            bad.add(hid)
    for h in households:
        if members[h["household_id"]] == 0:
            bad.add(h["household_id"])
    for table in SOURCE_TABLES:
        for row in tables[table].to_pylist():
            if row_is_bad(table, row):
                bad |= homes_of.get(row["person_id"], set())
    return bad & set(count)
