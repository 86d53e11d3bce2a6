"""RULES.md §2–§5: labour coefficient, member income, support, deductions (serial routines).

A member's rows are read once, in the pass that also checks the §6 vetoes
(`kernels.records`); what a row adds to the §3 and §5 sums is decided here (`tax_sums`,
`rental_income`, `counted_transfer`, `out_of_pocket`; bank interest is property income
and balances are FA, summed as they are). Supporters (§4) have no vetoes: `support`
reads their rows itself, once per table. `par` is the pack's int64
parameter row (layout in `kernels.layout`), `d` the assessment date as a day number.
"""

from __future__ import annotations

from .arith import (
    age_on,
    count_distinct,
    limit_times,
    owned_property,
    owned_vehicle,
    per_mille,
    rhu,
)
from .jit import inline, serial
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
    PC_USE,
    PROPERTY,
    SC_BIRTH,
    SC_COUNT,
    SC_EXEMPT,
    SC_HEALTH,
    SC_PERSON,
    SC_SECTOR,
    SIC_RECORD_TYPE,
    SIM_AMOUNT,
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


@inline
def tax_sums(codes, money, start, end):
    """§3 (wage, business, other) of one person's tax_income rows start..end-1: wage and
    labour rows are wage; interest and rental rows are not counted (bank and property
    report them)."""
    wage = 0
    business = 0
    other = 0
    for r in range(start, end):
        kind = codes[r, TC_INCOME_TYPE]
        if kind == INCOME_WAGE or kind == INCOME_LABOUR:
            wage += money[r, TM_AMOUNT]
        elif kind == INCOME_BUSINESS:
            business += money[r, TM_AMOUNT]
        elif kind == INCOME_OTHER:
            other += money[r, TM_AMOUNT]
    return wage, business, other


@inline
def bank_sums(money, start, end):
    """(Σ interest, Σ balance) of one supporter's bank rows (a member's: `records`)."""
    interest = 0
    balance = 0
    for r in range(start, end):
        interest += money[r, KM_INTEREST]
        balance += money[r, KM_BALANCE]
    return interest, balance


@serial
def rental_income(rental, share):
    """§3 property income of one owned property row: rhu(rental_income × share, 1000)."""
    return rhu(rental * share, 1000)


@serial
def counted_transfer(kind, par):
    """§3 transfer: a social_insurance record_type among the pack's counted_transfers."""
    return kind < 3 and (par[P_COUNTED_TRANSFERS] >> kind) & 1 == 1


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


@inline
def supporter_elevated(vcodes, vmoney, pcodes, ranges, person, balance, d, par, work):
    """§4 子女拥有大宗资产/豪华车辆/高档住宅: the elevated_bonus applies."""
    for r in range(ranges[person, 2 * VEHICLE], ranges[person, 2 * VEHICLE + 1]):
        if (
            owned_vehicle(vcodes[r, VC_REGISTERED], d)
            and (par[P_VEHICLE_TYPES] >> vcodes[r, VC_TYPE]) & 1
            and vmoney[r, VM_VALUE] > par[P_VEHICLE_VALUE_LIMIT]
        ):
            return True
    k = 0
    for r in range(ranges[person, 2 * PROPERTY], ranges[person, 2 * PROPERTY + 1]):
        if pcodes[r, PC_USE] == USE_RESIDENTIAL and owned_property(
            pcodes[r, PC_ACQUIRED], pcodes[r, PC_DISPOSED], d
        ):
            work[k] = pcodes[r, PC_PROPERTY]
            k += 1
    if count_distinct(work, k) > par[P_MAX_RESIDENTIAL]:
        return True
    return balance > par[P_SUPPORTER_ASSET_LIMIT]


@inline
def support(slot, year, month, day, d, par, people, records, work):
    """§4 赡养/抚养/扶养费 of one supporter slot (annual fen); (year, month, day) is D."""
    codes = people.supporter_codes
    if codes[slot, SC_EXEMPT] != EXEMPT_NONE:
        return 0
    person = codes[slot, SC_PERSON]
    ranges = people.person_ranges
    wage, business, other = tax_sums(
        records.tax_codes, records.tax_money, ranges[person, 2 * TAX], ranges[person, 2 * TAX + 1]
    )
    transfer = 0
    scodes, smoney = records.social_codes, records.social_money
    for r in range(ranges[person, 2 * SOCIAL], ranges[person, 2 * SOCIAL + 1]):
        if counted_transfer(scodes[r, SIC_RECORD_TYPE], par):
            transfer += smoney[r, SIM_AMOUNT]
    _, balance = bank_sums(
        records.bank_money, ranges[person, 2 * BANK], ranges[person, 2 * BANK + 1]
    )
    income = wage + business + other + transfer  # property income not counted
    if income == 0:
        age = age_on(codes[slot, SC_BIRTH], year, month, day)
        # "supporters have no student level": §2 step 2 does not apply to them
        c = labour_coefficient(age, codes[slot, SC_HEALTH], NO_LEVEL, par)
        income = imputed_work_income(c, par)
    ratio = par[P_SECTOR_RATIO + codes[slot, SC_SECTOR]]
    if supporter_elevated(
        records.vehicle_codes,
        records.vehicle_money,
        records.property_codes,
        ranges,
        person,
        balance,
        d,
        par,
        work,
    ):
        ratio += par[P_ELEVATED_BONUS]
    # min(rhu(I × r × k, 1000), rhu(I × cap_ratio, 1000)) is rhu(I × min(r × k, cap_ratio),
    # 1000) for I >= 0 (rhu never decreases as its numerator grows); r × k is saturated,
    # and per_mille never forms I × q, which wrapped for an income of many records
    # (cap_ratio ≤ 1000 by POLICY.md, so q ≤ 1000)
    return per_mille(income, min(limit_times(ratio, codes[slot, SC_COUNT]), par[P_CAP_RATIO]))


# §5 -------------------------------------------------------------------------------------


@serial
def out_of_pocket(amount, reimbursed):
    """§5 a medical_settlement row's max(0, amount − reimbursed)."""
    paid = amount - reimbursed
    return max(0, paid)


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
def medical_deduction(out_of_pocket_total, par):
    """§5 min(medical_cap, Σ over members of max(0, amount − reimbursed))."""
    cap = par[P_MEDICAL_CAP]
    return min(cap, out_of_pocket_total)
