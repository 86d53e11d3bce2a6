"""RULES.md §2–§5: labour coefficient, member income, support, deductions (serial routines).

Each routine handles one member or supporter; the parallel driver in `kernels.assess`
calls them per household. `par` is the pack's int64 parameter row
(layout in `kernels.layout`), `d` the assessment date as a day number.
"""

from __future__ import annotations

from .arith import age_years, rhu
from .jit import serial
from .layout import (
    AREA_RURAL,
    BANK,
    BASIS_IMPUTED_LAND,
    BASIS_IMPUTED_WORK,
    BASIS_NONE,
    BASIS_VERIFIED,
    EXEMPT_NONE,
    INCOME_BUSINESS,
    INCOME_LABOUR,
    INCOME_OTHER,
    INCOME_WAGE,
    KM_BALANCE,
    KM_INTEREST,
    NO_LEVEL,
    OCC_FARMING,
    P_AGE_BANDS,
    P_CAP_RATIO,
    P_COUNTED_TRANSFERS,
    P_ELEVATED_BONUS,
    P_LABOUR,
    P_LAND_RATIO,
    P_MAX_RESIDENTIAL,
    P_MEDICAL_CAP,
    P_MIN_WAGE,
    P_NO_LABOUR_LEVELS,
    P_PENSION_CAP,
    P_RURAL_INCOME,
    P_SECTOR_RATIO,
    P_SUPPORTER_ASSET_LIMIT,
    P_TUITION_CAP,
    P_VEHICLE_TYPES,
    P_VEHICLE_VALUE_LIMIT,
    P_WORK_MONTHS,
    PC_ACQUIRED,
    PC_DISPOSED,
    PC_PROPERTY,
    PC_SHARE,
    PC_USE,
    PM_RENTAL,
    PROPERTY,
    RT_MEDICAL,
    RT_PENSION_CONTRIBUTION,
    SC_BIRTH,
    SC_COUNT,
    SC_EXEMPT,
    SC_HEALTH,
    SC_PERSON,
    SC_SECTOR,
    SCHEME_RESIDENT,
    SIC_RECORD_TYPE,
    SIC_SCHEME,
    SIM_AMOUNT,
    SIM_REIMBURSED,
    SOCIAL,
    TAX,
    TC_INCOME_TYPE,
    TM_AMOUNT,
    USE_RESIDENTIAL,
    VC_REGISTERED,
    VC_TYPE,
    VEHICLE,
    VM_VALUE,
)


@serial
def owned_property(codes, r, d):
    """§0 owned at D: acquired_on <= D and (disposed_on null or disposed_on > D)."""
    return codes[r, PC_ACQUIRED] <= d and codes[r, PC_DISPOSED] > d


@serial
def count_distinct(buf, k):
    """Number of distinct values among buf[:k]; sorts buf[:k] in place.

    Insertion sort for the few values a household has, heapsort beyond: plain loops,
    cheaper here than numba's general sort for k of 0..10."""
    if k == 0:
        return 0
    if k <= 16:
        for i in range(1, k):
            v = buf[i]
            j = i - 1
            while j >= 0 and buf[j] > v:
                buf[j + 1] = buf[j]
                j -= 1
            buf[j + 1] = v
    else:
        for start in range(k // 2 - 1, -1, -1):
            _sift_down(buf, start, k)
        for end in range(k - 1, 0, -1):
            buf[0], buf[end] = buf[end], buf[0]
            _sift_down(buf, 0, end)
    count = 1
    for i in range(1, k):
        if buf[i] != buf[i - 1]:
            count += 1
    return count


@serial
def _sift_down(buf, root, end):
    while 2 * root + 1 < end:
        child = 2 * root + 1
        if child + 1 < end and buf[child] < buf[child + 1]:
            child += 1
        if buf[root] >= buf[child]:
            return
        buf[root], buf[child] = buf[child], buf[root]
        root = child


# §2 -------------------------------------------------------------------------------------


@serial
def labour_coefficient(age, health, level, par):
    """§2 劳动力系数 c (‰); level NO_LEVEL (a supporter) skips the student step."""
    if age < 16:
        return 0
    if level >= 0 and (par[P_NO_LABOUR_LEVELS] >> level) & 1:
        return 0
    band = 4
    for i in range(4):
        if age <= par[P_AGE_BANDS + i]:
            band = i
            break
    return par[P_LABOUR + (health - 1) * 5 + band]


# §3 -------------------------------------------------------------------------------------


@serial
def record_sums(person, d, par, people, records):
    """§3 and §5 sums over one person's own records.

    Returns (wage, business, other, property, transfer, balance, medical, contribution,
    resident_contribution): wage = wage + labour tax rows; property = bank interest +
    rhu(rental × share, 1000) over owned properties; transfer = the counted
    social_insurance types; medical = Σ max(0, amount − reimbursed) of settlements;
    contribution = Σ pension_contribution, resident_ that of scheme resident (V08)."""
    ranges = people.person_ranges
    wage = 0
    business = 0
    other = 0
    tcodes, tmoney = records.tax_codes, records.tax_money
    for r in range(ranges[person, 2 * TAX], ranges[person, 2 * TAX + 1]):
        kind = tcodes[r, TC_INCOME_TYPE]
        if kind == INCOME_WAGE or kind == INCOME_LABOUR:
            wage += tmoney[r, TM_AMOUNT]
        elif kind == INCOME_BUSINESS:
            business += tmoney[r, TM_AMOUNT]
        elif kind == INCOME_OTHER:
            other += tmoney[r, TM_AMOUNT]
    prop = 0
    balance = 0
    bmoney = records.bank_money
    for r in range(ranges[person, 2 * BANK], ranges[person, 2 * BANK + 1]):
        prop += bmoney[r, KM_INTEREST]
        balance += bmoney[r, KM_BALANCE]
    pcodes, pmoney = records.property_codes, records.property_money
    for r in range(ranges[person, 2 * PROPERTY], ranges[person, 2 * PROPERTY + 1]):
        if owned_property(pcodes, r, d):
            prop += rhu(pmoney[r, PM_RENTAL] * pcodes[r, PC_SHARE], 1000)
    transfer = 0
    medical = 0
    contribution = 0
    resident = 0
    scodes, smoney = records.social_codes, records.social_money
    for r in range(ranges[person, 2 * SOCIAL], ranges[person, 2 * SOCIAL + 1]):
        kind = scodes[r, SIC_RECORD_TYPE]
        amount = smoney[r, SIM_AMOUNT]
        if kind < 3:
            if (par[P_COUNTED_TRANSFERS] >> kind) & 1:
                transfer += amount
        elif kind == RT_MEDICAL:
            paid = amount - smoney[r, SIM_REIMBURSED]
            if paid > 0:
                medical += paid
        elif kind == RT_PENSION_CONTRIBUTION:
            contribution += amount
            if scodes[r, SIC_SCHEME] == SCHEME_RESIDENT:
                resident += amount
    return wage, business, other, prop, transfer, balance, medical, contribution, resident


@serial
def employment_income(wage, c, occupation, area, par):
    """§3 务工/土地经营收入: (employment, basis) — verified wage, else imputed."""
    if wage > 0:
        return wage, BASIS_VERIFIED
    if c == 0:
        return 0, BASIS_NONE
    if occupation == OCC_FARMING and area == AREA_RURAL:
        return rhu(c * par[P_RURAL_INCOME] * par[P_LAND_RATIO], 1000 * 1000), BASIS_IMPUTED_LAND
    return imputed_work_income(c, par), BASIS_IMPUTED_WORK


@serial
def imputed_work_income(c, par):
    """务工收入 = 劳动力系数 × 最低工资标准 × 务工月数."""
    return rhu(c * par[P_MIN_WAGE] * par[P_WORK_MONTHS], 1000)


# §4 -------------------------------------------------------------------------------------


@serial
def supporter_elevated(person, balance, d, par, people, records, work):
    """§4 子女拥有大宗资产/豪华车辆/高档住宅: the elevated_bonus applies."""
    ranges = people.person_ranges
    vcodes, vmoney = records.vehicle_codes, records.vehicle_money
    for r in range(ranges[person, 2 * VEHICLE], ranges[person, 2 * VEHICLE + 1]):
        if (
            vcodes[r, VC_REGISTERED] <= d
            and (par[P_VEHICLE_TYPES] >> vcodes[r, VC_TYPE]) & 1
            and vmoney[r, VM_VALUE] > par[P_VEHICLE_VALUE_LIMIT]
        ):
            return True
    pcodes = records.property_codes
    k = 0
    for r in range(ranges[person, 2 * PROPERTY], ranges[person, 2 * PROPERTY + 1]):
        if pcodes[r, PC_USE] == USE_RESIDENTIAL and owned_property(pcodes, r, d):
            work[k] = pcodes[r, PC_PROPERTY]
            k += 1
    if count_distinct(work, k) > par[P_MAX_RESIDENTIAL]:
        return True
    return balance > par[P_SUPPORTER_ASSET_LIMIT]


@serial
def support(slot, d, par, people, records, work):
    """§4 赡养/抚养/扶养费 of one supporter slot (annual fen)."""
    codes = people.supporter_codes
    if codes[slot, SC_EXEMPT] != EXEMPT_NONE:
        return 0
    person = codes[slot, SC_PERSON]
    wage, business, other, _, transfer, balance, _, _, _ = record_sums(
        person, d, par, people, records
    )
    income = wage + business + other + transfer  # property income not counted
    if income == 0:
        age = age_years(codes[slot, SC_BIRTH], d)
        # "supporters have no student level": §2 step 2 does not apply to them
        c = labour_coefficient(age, codes[slot, SC_HEALTH], NO_LEVEL, par)
        income = imputed_work_income(c, par)
    ratio = par[P_SECTOR_RATIO + codes[slot, SC_SECTOR]]
    if supporter_elevated(person, balance, d, par, people, records, work):
        ratio += par[P_ELEVATED_BONUS]
    share = rhu(income * ratio * codes[slot, SC_COUNT], 1000)
    cap = rhu(income * par[P_CAP_RATIO], 1000)
    return min(cap, share)


# §5 -------------------------------------------------------------------------------------


@serial
def education_deduction(level, tuition, par):
    """§5 min(tuition, tuition_cap[level]); a level without a cap (0) deducts 0."""
    cap = par[P_TUITION_CAP + level]
    return min(cap, tuition)


@serial
def pension_deduction(contribution, par):
    """§5 min(Σ pension_contribution, pension_contribution_cap), per member."""
    cap = par[P_PENSION_CAP]
    return min(cap, contribution)


@serial
def medical_deduction(out_of_pocket, par):
    """§5 min(medical_cap, Σ over members of max(0, amount − reimbursed))."""
    cap = par[P_MEDICAL_CAP]
    return min(cap, out_of_pocket)
