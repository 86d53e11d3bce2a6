"""Mutants of the rules: does a test fail when a boundary of RULES.md moves? (`make mutants`)

Each mutant changes one comparison or formula of the reference calculator or of the
kernels (`<` for `<=`, a cap dropped, a condition negated); the rules' tests — one module
per RULES.md section (tests/test_rules_s*.py) and the case files (tests/test_cases.py)
— must then fail. A mutant they let pass is a rule without a test: the run lists it and
exits 1. The oracle and district tests are left out on purpose: they find such a change
too, but only by chance of the random data, not by a test of the rule.

The files are changed in place, one mutant at a time, and restored after each (also
on Ctrl-C); a file with uncommitted changes is refused. A kernel mutant recompiles the
kernels it touches (about a minute each on the 2-core VM); the whole run takes about
30 minutes. `python tests/mutants.py reference` (or `kernels`) runs one half;
`python tests/mutants.py -k V01` the mutants whose rule names contain V01.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = [
    *sorted(f"tests/{p.name}" for p in (ROOT / "tests").glob("test_rules_s*.py")),
    "tests/test_cases.py",
]

REF, OUT, VETO = (
    "meanstest/reference/income.py",
    "meanstest/reference/outcome.py",
    "meanstest/reference/veto.py",
)
MODEL, ARITH = "meanstest/reference/model.py", "meanstest/arith.py"
FACTS = "meanstest/reference/__init__.py"
K_INC, K_OUT, K_VETO, K_ARITH = (
    "kernels/income.py",
    "kernels/outcome.py",
    "kernels/veto.py",
    "kernels/arith.py",
)

# (rule, file, text, mutated text): the text occurs exactly once in the file
# fmt: off
MUTANTS = [
    ('§0 age: a birthday reached on its day', ARITH, '(on.month, on.day) < (birth.month, birth.day)', '(on.month, on.day) <= (birth.month, birth.day)'),
    ('§0 within N months: the start excluded', ARITH, 'add_months(on, -months) < d <= on', 'add_months(on, -months) <= d <= on'),
    ('§0 owned vehicle: registered_on <= D', MODEL, 'row["registered_on"] <= d', 'row["registered_on"] < d'),
    ('§0 owned property: disposed_on > D', MODEL, 'row["disposed_on"] > d)', 'row["disposed_on"] >= d)'),
    ('§2 c = 0 under 16', REF, '    if years < 16:', '    if years <= 16:'),
    ('§2 band: age <= bound', REF, 'if years <= bound)', 'if years < bound)'),
    ('§3 employment: wage > 0 is verified', REF, 'if inc["wage"] > 0:', 'if inc["wage"] >= 0:'),
    ('§3 land income: rural farming only', REF, 'hh.row["area"] == "rural"', 'hh.row["area"] != "rural"'),
    ('§3 rent: rhu(rental × share)', REF, 'rhu(r["rental_income"] * r["share"], 1000)', 'r["rental_income"]'),
    ('§4 support: the lesser of share and cap', REF, 'owed = min(share, cap)', 'owed = max(share, cap)'),
    ('§5 medical cap', REF, 'medical = min(ded["medical_cap"], out_of_pocket)', 'medical = out_of_pocket'),
    ('§6 V01 value over the limit', VETO, 'r["value"] > veto["vehicle_value_limit"]]', 'r["value"] >= veto["vehicle_value_limit"]]'),
    ('§6 V01 more than max_vehicles', VETO, 'plates > veto["max_vehicles"]', 'plates >= veto["max_vehicles"]'),
    ('§6 V02 area over the limit', VETO, 'home_area > area_limit', 'home_area >= area_limit'),
    ('§6 V04 FA over the limit', VETO, 'if facts["financial_assets"] > asset_limit:', 'if facts["financial_assets"] >= asset_limit:'),
    ('§6 V05 turnover over the limit', VETO, 'r["annual_turnover"] > veto["business_turnover_limit"]', 'r["annual_turnover"] >= veto["business_turnover_limit"]'),
    ('§6 V07 employees >= 1', VETO, 'r["employees"] >= 1]', 'r["employees"] > 1]'),
    ('§6 V08 contributions over the grade', VETO, 'total > veto["insurance_grade_limit"]', 'total >= veto["insurance_grade_limit"]'),
    ('§6 V11 c >= the coefficient', VETO, 'if c >= veto["refused_work_min_coefficient"]', 'if c > veto["refused_work_min_coefficient"]'),
    ('§6 V11 offers >= the count', VETO, 'm["refused_job_offers"] >= veto["refused_work_min_count"]', 'm["refused_job_offers"] > veto["refused_work_min_count"]'),
    ('§7.2 TEKUN from age 60', OUT, 'c == 0 and (a >= 60 or a < 16', 'c == 0 and (a > 60 or a < 16'),
    ('§7.3 DIBAO: pci < S strictly', OUT, 'elif state == "TEKUN" or pci < s:', 'elif state == "TEKUN" or pci <= s:'),
    ('§7.3 elderly_70 add-on from age 70', OUT, 'addons["elderly_70"] if years >= 70 else 0', 'addons["elderly_70"] if years > 70 else 0'),
    ('§7.4 pci <= L', OUT, '    if pci <= low:', '    if pci < low:'),
    ('§7.4 PHASE_OUT needs prev_benefit > 0', OUT, 'row["prev_benefit"] > 0', 'row["prev_benefit"] >= 0'),
    ('§7.4 DIBAO_SINGLE needs B > 0', OUT, 'if ill and single > 0', 'if ill and single >= 0'),
    ('§7 circle 3 bound', OUT, 'elif pci <= bound3:', 'elif pci < bound3:'),
    ('§7 circle 4 bound', OUT, 'elif pci <= bound4:', 'elif pci < bound4:'),
    ('§7 CONTINUE only when equal', OUT, '"CONTINUE" if benefit == prev_benefit else "ADJUST"', '"CONTINUE" if benefit >= prev_benefit else "ADJUST"'),
    ('§8 UNDECLARED_INCOME over the tolerance', VETO, '        if monthly > declared + tolerance:', '        if monthly >= declared + tolerance:'),
    ('§8 UNDECLARED_ASSETS over the tolerance', VETO, '        if facts["financial_assets"] > declared + tolerance:', '        if facts["financial_assets"] >= declared + tolerance:'),
    ('§9 age_70 points from 70', OUT, '            if a >= 70', '            if a > 70'),
    ('§9 age_60 points from 60', OUT, '            if a >= 60', '            if a > 60'),
    ('§11 elderly from 60', OUT, 'any(a >= 60 for a in ages)', 'any(a > 60 for a in ages)'),
    ('§11 medical: health 2, 4 or 5', OUT, 'm["health"] in (2, 4, 5) for m in ms', 'm["health"] in (2, 4) for m in ms'),
    # formulas and conditions that are not a boundary
    ('§2 student levels from the pack', REF, 'if student_level in imp["student_levels_without_labour"]:', 'if student_level in ("college",):'),
    ('§3 labour income counts as wage', REF, 'if kind in ("wage", "labour"):', 'if kind in ("wage",):'),
    ('§3 only counted transfers', REF, 'if r["record_type"] in counted:', 'if r["record_type"] in counted or r["record_type"] == "pension_contribution":'),
    ('§3 rent of owned properties only', REF, '        for r in hh.rows("property", pid)\n        if owned_property(r, d)\n', '        for r in hh.rows("property", pid)\n'),
    ('§4 exempt supporters owe nothing', REF, 'if s["exempt_reason"] != "none":', 'if s["exempt_reason"] not in ("none", "student"):'),
    ('§4 elevated bonus', REF, 'ratio += sup["elevated_bonus"]', 'ratio += 0'),
    ('§4 elevated: balances over the limit', REF, 'if balance > hh.pack["support"]["supporter_asset_limit"]:', 'if balance >= hh.pack["support"]["supporter_asset_limit"]:'),
    ('§4 elevated: homes over the maximum', REF, 'if len(homes) > veto["max_residential_properties"]:', 'if len(homes) >= veto["max_residential_properties"]:'),
    ('§4 imputed when I_s = 0', REF, 'imputed = income == 0', 'imputed = False'),
    ('§4 times supported_count', REF, 'rhu(income * ratio * s["supported_count"], 1000)', 'rhu(income * ratio, 1000)'),
    ('§5 medical: out of pocket per row, at least 0', REF, 'max(0, r["amount"] - r["reimbursed"])', 'r["amount"] - r["reimbursed"]'),
    ('§5 pension contribution cap', REF, 'min(paid, ded["pension_contribution_cap"])', 'paid'),
    ('§5 tuition cap', REF, 'min(m["tuition"], caps[m["student_level"]])', 'm["tuition"]'),
    ('§5 N at least 0', FACTS, 'net = max(0, gross - medical - education - pension)', 'net = gross - medical - education - pension'),
    ('§5 pci over 12 × n', FACTS, '"pci": rhu(net, 12 * n),', '"pci": rhu(net, 12),'),
    ('§6 V01 owned vehicles only', VETO, 'if owned_vehicle(r, d) and r["vehicle_type"] in veto["vehicle_types"]', 'if r["vehicle_type"] in veto["vehicle_types"]'),
    ('§6 V02 area rounded per row', VETO, 'home_area = sum(rhu(r["area"] * r["share"], 1000) for _, r in homes)', 'home_area = rhu(sum(r["area"] * r["share"] for _, r in homes), 1000)'),
    ('§6 V03 industrial use', VETO, 'NONRESIDENTIAL = ("commercial", "office", "industrial")', 'NONRESIDENTIAL = ("commercial", "office")'),
    ('§6 V05 shareholders', VETO, 'if r["role"] in ("legal_rep", "shareholder")', 'if r["role"] in ("legal_rep",)'),
    ('§6 V06 public institutions', VETO, 'and r["employer_type"] in ("government", "public_institution")', 'and r["employer_type"] in ("government",)'),
    ('§6 V08 resident scheme only', VETO, 'if r["record_type"] == "pension_contribution" and r["scheme"] == "resident"', 'if r["record_type"] == "pension_contribution"'),
    ('§6 V09 purchases only', VETO, 'if r["acquisition"] == "purchase"', 'if r["acquisition"] != "gift"'),
    ('§6 V14 veto types only', VETO, 'if r["vehicle_type"] in veto["vehicle_types"]\n        and within_months(r["registered_on"]', 'if within_months(r["registered_on"]'),
    ('§8 income tolerance: the larger of ratio and abs', VETO, '        tolerance = max(\n', '        tolerance = min(\n'),
    ('§8 UNDECLARED_PROPERTY owned only', VETO, '{r["property_id"] for _, r in hh.member_rows("property") if owned_property(r, d)}', '{r["property_id"] for _, r in hh.member_rows("property")}'),
    ('§8 severity veto when V13 enabled', VETO, 'severity = "veto" if "V13" in veto["enabled"] else "warning"', 'severity = "warning"'),
    ('§7.2 no liable supporter', OUT, 'no_liable = all(sp["exempt_reason"] != "none" for sp in hh.supporters)', 'no_liable = True'),
    ('§7.3 the largest add-on', OUT, '    return max(_addons_of(m, years, addons).values())', '    return sum(_addons_of(m, years, addons).values())'),
    ('§7.4 DIBAO_SINGLE: health 5 or 6', OUT, 'if m["health"] in (5, 6)]', 'if m["health"] in (6,)]'),
    ('§7 EXIT from phase_out', OUT, 'if prev_status in ("dibao", "tekun", "phase_out"):', 'if prev_status in ("dibao", "tekun"):'),
    ('§9 member cap', OUT, 'member_points = min(ix["member_cap"], points)', 'member_points = points'),
    ('§9 extra homes beyond the first', OUT, 'ix["extra_property_penalty"] * max(0, len(homes) - 1)', 'ix["extra_property_penalty"] * len(homes)'),
    ('§9 asset penalty over the bound', OUT, 'if facts["financial_assets"] > asset_bound else 0', 'if facts["financial_assets"] >= asset_bound else 0'),
    ('§9 index at most 1000', OUT, 'index = min(1000, member_points + income_points + asset_points)', 'index = member_points + income_points + asset_points'),
    ('§11 work_capable occupations', OUT, 'WORK_CAPABLE_OCCUPATIONS = ("unemployed", "flexible", "none")', 'WORK_CAPABLE_OCCUPATIONS = ("unemployed", "flexible")'),
    ('§11 disability: health 3 or 6', OUT, 'return any(m["health"] in (3, 6) for m in ms)', 'return any(m["health"] in (6,) for m in ms)'),
    # the same boundaries in the kernels
    ('§0 owned vehicle (kernels)', K_ARITH, '    return registered <= d', '    return registered < d'),
    ('§2 c = 0 under 16 (kernels)', K_INC, '    if age < 16:', '    if age <= 16:'),
    ('§6 V01 value (kernels)', K_VETO, '    return value > par[P_VEHICLE_VALUE_LIMIT]', '    return value >= par[P_VEHICLE_VALUE_LIMIT]'),
    ('§6 V02 area (kernels)', K_VETO, 'or area > limit_times(par[P_AREA_LIMIT], n)', 'or area >= limit_times(par[P_AREA_LIMIT], n)'),
    ('§7.2 TEKUN from age 60 (kernels)', K_OUT, 'return c == 0 and (age >= 60 or age < 16', 'return c == 0 and (age > 60 or age < 16'),
    ('§7.3 elderly_70 add-on (kernels)', K_OUT, '    if age >= 70 and par[P_ADDON_ELDERLY] > best:', '    if age > 70 and par[P_ADDON_ELDERLY] > best:'),
    ('§7 circle 3 bound (kernels)', K_OUT, '    if pci <= rhu(low * par[P_CIRCLE3], 1000):', '    if pci < rhu(low * par[P_CIRCLE3], 1000):'),
    ('§9 age_70 points (kernels)', K_OUT, '    if age >= 70:\n', '    if age > 70:\n'),
    ('§9 age_60 points (kernels)', K_OUT, '    elif age >= 60:', '    elif age > 60:'),
    ('§11 elderly from 60 (kernels)', K_OUT, '    if age >= 60:\n', '    if age > 60:\n'),
    ('§6 V02 area rounded half up (kernels)', K_VETO, '    return rhu(area * share, 1000)', '    return area * share // 1000'),
    ('§6 V14 veto types only (kernels)', 'kernels/records.py', 'if veto_type and recent_vehicle(registered, since, d):', 'if recent_vehicle(registered, since, d):'),
    ('§9 member cap (kernels)', K_OUT, '    points = min(points, par[P_MEMBER_CAP])', '    points = points'),
    # rules a test audit found with no direct test (tests added with them)
    ('§8 UNDECLARED_INCOME on verified (not imputed) income', FACTS, '"verified_income": sum(i["verified_income"] for i in incomes),', '"verified_income": sum(i["member_income"] for i in incomes),'),
    ('§7.2 TEKUN needs pci < S', OUT, 'if no_labour and no_liable and pci < s:', 'if no_labour and no_liable:'),
    ('§7.2 TEKUN: health 5 adults qualify', OUT, 'c == 0 and (a >= 60 or a < 16 or m["health"] in (5, 6))', 'c == 0 and (a >= 60 or a < 16 or m["health"] in (6,))'),
    ('§11 medical: medical deduction > 0', OUT, 'return facts["medical"] > 0 or any(m["health"] in (2, 4, 5) for m in ms)', 'return any(m["health"] in (2, 4, 5) for m in ms)'),
    ('§6 V06 record_type employment only', VETO, 'if r["record_type"] == "employment"\n        and r["employer_type"]', 'if r["employer_type"]'),
    ('§6 V03 owned rows only', VETO, 'if owned_property(r, d) and r["use"] in NONRESIDENTIAL', 'if r["use"] in NONRESIDENTIAL'),
    ('§4 elevated: homes residential only', REF, 'if r["use"] == "residential" and owned_property(r, d)\n    }', 'if owned_property(r, d)\n    }'),
    ('§4 elevated: homes owned only', REF, 'if r["use"] == "residential" and owned_property(r, d)\n    }', 'if r["use"] == "residential"\n    }'),
    ('§3 wage>0 verified even when c=0', REF, 'if inc["wage"] > 0:\n        employment, basis = inc["wage"], "verified"\n        formula = f"wage {employment}"\n    elif c == 0:\n        employment, basis = 0, "none"\n        formula = "c = 0 → 0"', 'if c == 0:\n        employment, basis = 0, "none"\n        formula = "c = 0 → 0"\n    elif inc["wage"] > 0:\n        employment, basis = inc["wage"], "verified"\n        formula = f"wage {employment}"'),
    ('§9 vehicle penalty: owned vehicles only', OUT, 'any_vehicle = any(owned_vehicle(r, d) for _, r in hh.member_rows("vehicle"))', 'any_vehicle = any(True for _, r in hh.member_rows("vehicle"))'),
    ('§11 no_home: residential only', OUT, 'owned_property(r, d) and r["use"] == "residential"\n            for _, r in hh.member_rows("property")', 'owned_property(r, d)\n            for _, r in hh.member_rows("property")'),
    ('§11 no_home: owned only', OUT, 'owned_property(r, d) and r["use"] == "residential"\n            for _, r in hh.member_rows("property")', 'r["use"] == "residential"\n            for _, r in hh.member_rows("property")'),
    ('§11 work_capable c >= floor', OUT, 'c >= floor and m["occupation"]', 'c > floor and m["occupation"]'),
    ('§6 evidence: records by record_id ascending', FACTS, 'rows.sort(key=lambda r: r["record_id"] or "")', 'rows.sort(key=lambda r: 0)'),
    ('§9 asset points floored at 0', OUT, 'asset_points = max(0, ix["asset_max"] - sum(penalties))', 'asset_points = ix["asset_max"] - sum(penalties)'),
    ('§8 income tolerance: the larger, not the smaller', VETO, '        tolerance = max(\n            rhu(declared * veto["declaration_tolerance_ratio"], 1000),\n            veto["declaration_tolerance_abs"],\n        )', '        tolerance = min(\n            rhu(declared * veto["declaration_tolerance_ratio"], 1000),\n            veto["declaration_tolerance_abs"],\n        )'),
    ('§8 income tolerance: not the ratio term alone', VETO, '        tolerance = max(\n            rhu(declared * veto["declaration_tolerance_ratio"], 1000),\n            veto["declaration_tolerance_abs"],\n        )', '        tolerance = rhu(declared * veto["declaration_tolerance_ratio"], 1000)'),
    ('§8 income tolerance: not the absolute term alone', VETO, '        tolerance = max(\n            rhu(declared * veto["declaration_tolerance_ratio"], 1000),\n            veto["declaration_tolerance_abs"],\n        )', '        tolerance = veto["declaration_tolerance_abs"]'),
    # boundaries an automated sweep of the reference's comparisons found untested (2026-12-07)
    ('§7.2 TEKUN: under 16 strictly', OUT, 'c == 0 and (a >= 60 or a < 16', 'c == 0 and (a >= 60 or a <= 16'),
    ('§0 owned property: acquired_on <= D', MODEL, 'return row["acquired_on"] <= d', 'return row["acquired_on"] < d'),
    ('§7.2 TEKUN: under 16 strictly (kernels)', K_OUT, 'or age < 16 or health == 5', 'or age <= 16 or health == 5'),
    ('§0 owned property: acquired_on <= D (kernels)', K_ARITH, 'return acquired <= d and disposed > d', 'return acquired < d and disposed > d'),
    # rhu rounds an exact half up: each product of a ‰ or a count rounded down instead
    ('§3 imputed work income rounds half up', REF, 'return rhu(c * imp["min_wage_monthly"] * imp["work_months"], 1000)', 'return c * imp["min_wage_monthly"] * imp["work_months"] // 1000'),
    ('§3 land income rounds half up', REF, 'employment = rhu(c * imp["rural_income_annual"] * imp["land_ratio"], 1000 * 1000)', 'employment = c * imp["rural_income_annual"] * imp["land_ratio"] // (1000 * 1000)'),
    ('§4 support share rounds half up', REF, 'share = rhu(income * ratio * s["supported_count"], 1000)', 'share = income * ratio * s["supported_count"] // 1000'),
    ('§4 support cap rounds half up', REF, 'cap = rhu(income * sup["cap_ratio"], 1000)', 'cap = income * sup["cap_ratio"] // 1000'),
    ('§5 L rounds half up', FACTS, '"low_income": rhu(standard * pack["standards"]["low_income_ratio"], 1000),', '"low_income": standard * pack["standards"]["low_income_ratio"] // 1000,'),
    ('§7.2 TEKUN standard rounds half up', OUT, 'per_person = rhu(s * pack["standards"]["tekun_ratio"], 1000)', 'per_person = s * pack["standards"]["tekun_ratio"] // 1000'),
    ('§7.3 add-ons round half up', OUT, 'addons = [rhu(s * addon(m, a, pack["addons"]), 1000) for', 'addons = [s * addon(m, a, pack["addons"]) // 1000 for'),
    ('§7 circle 3 bound rounds half up', OUT, 'bound3 = rhu(low * circles["circle3_ratio"], 1000)', 'bound3 = low * circles["circle3_ratio"] // 1000'),
    ('§7 circle 4 bound rounds half up', OUT, 'bound4 = rhu(low * circles["circle4_ratio"], 1000)', 'bound4 = low * circles["circle4_ratio"] // 1000'),
    ('§3 imputed work income rounds half up (kernels)', K_INC, '    return rhu(c * par[P_MIN_WAGE] * par[P_WORK_MONTHS], 1000)', '    return c * par[P_MIN_WAGE] * par[P_WORK_MONTHS] // 1000'),
    ('§3 land income rounds half up (kernels)', K_INC, 'return rhu(c * par[P_RURAL_INCOME] * par[P_LAND_RATIO], 1000 * 1000), BASIS_IMPUTED_LAND', 'return c * par[P_RURAL_INCOME] * par[P_LAND_RATIO] // (1000 * 1000), BASIS_IMPUTED_LAND'),
    ('§4 support rounds half up (kernels)', K_ARITH, '    return h * q + rhu(l * q, 1000)', '    return h * q + l * q // 1000'),
    ('§5 L rounds half up (kernels)', 'kernels/household.py', '    low = rhu(standard * par[P_LOW_INCOME_RATIO], 1000)', '    low = standard * par[P_LOW_INCOME_RATIO] // 1000'),
    ('§7.2 TEKUN standard rounds half up (kernels)', K_OUT, 'return ST_TEKUN, yuan(rhu(standard * par[P_TEKUN_RATIO], 1000) * n), 0', 'return ST_TEKUN, yuan(standard * par[P_TEKUN_RATIO] // 1000 * n), 0'),
    ('§7.3 add-ons round half up (kernels)', 'kernels/household.py', '        addons += rhu(standard * addon(age, health, par), 1000)', '        addons += standard * addon(age, health, par) // 1000'),
    ('§7 circle 4 bound rounds half up (kernels)', K_OUT, '    if pci <= rhu(low * par[P_CIRCLE4], 1000):', '    if pci <= low * par[P_CIRCLE4] // 1000:'),
    # found by the kernels' sweep (2026-12-07): a declared income of 0 is set; V09's window ends on D
    ('§8 a declared income of 0 is set', VETO, 'declared = row["declared_income_monthly"]\n    if declared is not None:', 'declared = row["declared_income_monthly"]\n    if declared:'),
    ('§8 a declared income of 0 is set (kernels)', K_VETO, '    if declared >= 0:\n        tolerance', '    if declared > 0:\n        tolerance'),
    ('§6 V09 a purchase on D is recent (kernels)', K_VETO, 'return acquisition == ACQ_PURCHASE and since < acquired <= d', 'return acquisition == ACQ_PURCHASE and since < acquired < d'),
    ('§8 distinct count of more than 16 rows (kernels: heapsort)', K_ARITH, '    while 2 * root + 1 < end:', '    while 2 * root + 1 <= end:'),
    ('§8 distinct count, a code moved to the front (kernels: insertion sort)', K_ARITH, '            while j >= 0 and buf[j] > v:', '            while j > 0 and buf[j] > v:'),
]
# fmt: on


def _restore_on_signal(path: Path, text: str) -> None:
    def handler(signum, frame):
        path.write_text(text, encoding="utf-8")
        raise SystemExit(f"interrupted; {path.relative_to(ROOT)} restored")

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


# a mutant may loop: in a sweep of the adapters' date-format parser, `ch in " \t"` made
# `not in` grew a list for 6 minutes, to 23 GB, until stopped by hand (2026-12-07). A run
# that ends takes about 65 s at most (a kernel mutant recompiling), so 3 minutes is
# ample, and stops such a loop near 12 GB on the 24 GB test machine.
TIMEOUT = 180


def run(mutant: tuple[str, str, str, str], tests: list[str] = TESTS) -> tuple[bool, str]:
    """(killed, the first failing test or why it could not run) of one mutant, by `tests`."""
    rule, file, old, new = mutant
    path = ROOT / file
    text = path.read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise SystemExit(f"{file}: the text of mutant '{rule}' occurs {text.count(old)} times")
    _restore_on_signal(path, text)
    path.write_text(text.replace(old, new), encoding="utf-8")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:  # killed: the tests caught it, by never ending
        return True, f"the tests did not end within {TIMEOUT} s"
    finally:
        path.write_text(text, encoding="utf-8")
    failed = [ln for ln in done.stdout.splitlines() if ln.startswith("FAILED")]
    if done.returncode == 0:
        return False, "every test passed"
    return True, failed[0] if failed else done.stdout.strip()[-200:]


def refuse_uncommitted(files: list[str]) -> None:
    """Stop before mutating a file with uncommitted changes: each mutant's run restores
    the file as it read it, and a change made meanwhile would be lost."""
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if dirty:
        raise SystemExit(f"uncommitted changes in files to mutate:\n{dirty}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("half", nargs="?", choices=["reference", "kernels"])
    parser.add_argument("-k", default="", help="only the mutants whose rule contains this")
    args = parser.parse_args(argv)
    chosen = [
        m
        for m in MUTANTS
        if args.k in m[0]
        and (args.half is None or m[1].startswith("kernels/") == (args.half == "kernels"))
    ]
    refuse_uncommitted(sorted({m[1] for m in chosen}))
    survivors = []
    for m in chosen:
        started = time.perf_counter()
        killed, why = run(m)
        verdict = "killed  " if killed else "SURVIVED"
        print(f"{verdict} {time.perf_counter() - started:5.0f} s  {m[0]}  ({why})", flush=True)
        if not killed:
            survivors.append(m[0])
    summary = f"{len(chosen) - len(survivors)} of {len(chosen)} mutants killed"
    return finish(summary, survivors, "no test fails when this rule changes")


def finish(summary: str, survivors: list[str], lead: str) -> int:
    """Print the run's summary and each survivor after `lead`; the exit status (1: some)."""
    print(summary, flush=True)
    for survivor in survivors:
        print(f"{lead}: {survivor}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
