"""RULES.md §6 一票否决 and §8 UNDECLARED_* 核对疑点 (serial routines).

Row checks (V01 by value, V03, V05–V07, V09, V10, V14) are called from the one pass over
a member's rows (`kernels.records`), which writes each record instance's bits once.
The aggregate vetoes (V01 by count, V02, V04, V08, V11–V13) are decided here after that
pass; only when one fires are its records marked, by a second look at the household's
rows of that table (`mark_*`). Bits are kept only for enabled vetoes, so a set bit means
"listed in the detail of a veto that fired" (docs/engine.md); the evidence of a veto is
its household's first instance with the bit (members in persons order, rows by
record_id: the instance order).
"""

from __future__ import annotations

from .arith import limit_plus, limit_times, owned_property, owned_vehicle, rhu
from .jit import serial
from .layout import (
    ACQ_PURCHASE,
    EMPLOYER_GOVERNMENT,
    EMPLOYER_PUBLIC_INSTITUTION,
    HM_DECLARED_ASSETS,
    HM_DECLARED_INCOME,
    HM_DECLARED_PROPERTIES,
    HM_DECLARED_VEHICLES,
    P_AREA_LIMIT,
    P_ASSET_DECLARATION_ABS,
    P_ASSET_MONTHS,
    P_DECLARATION_ABS,
    P_DECLARATION_RATIO,
    P_INSURANCE_GRADE_LIMIT,
    P_MAX_RESIDENTIAL,
    P_MAX_VEHICLES,
    P_REFUSED_COEFFICIENT,
    P_REFUSED_COUNT,
    P_TURNOVER_LIMIT,
    P_VEHICLE_TYPES,
    P_VEHICLE_VALUE_LIMIT,
    P_VETO_ENABLED,
    PC_ACQUIRED,
    PC_DISPOSED,
    PC_USE,
    ROLE_SELF_EMPLOYED,
    RT_EMPLOYMENT,
    RT_PENSION_CONTRIBUTION,
    SCHEME_RESIDENT,
    SIC_RECORD_TYPE,
    SIC_SCHEME,
    USE_OTHER,
    USE_RESIDENTIAL,
    VC_REGISTERED,
    VC_TYPE,
)

V01, V02, V03, V04, V05, V06, V07, V08, V09, V10, V11, V12, V13, V14 = range(14)

# row checks ------------------------------------------------------------------------------


@serial
def veto_vehicle_type(vehicle_type, par):
    """A vehicle of a type in the pack's vehicle_types (V01, V14)."""
    return (par[P_VEHICLE_TYPES] >> vehicle_type) & 1 == 1


@serial
def valuable_vehicle(value, par):
    """V01 VEHICLE by value: an owned vehicle of a veto type worth more than the limit."""
    return value > par[P_VEHICLE_VALUE_LIMIT]


@serial
def recent_vehicle(registered, since, d):
    """V14 RECENT_VEHICLE: a veto-type vehicle registered within recent_vehicle_months
    before D (`since` = add_months(D, -months))."""
    return since < registered <= d


@serial
def nonresidential(use):
    """V03 NONRESIDENTIAL: an owned commercial, office or industrial property."""
    return use != USE_RESIDENTIAL and use != USE_OTHER


@serial
def residential_area(area, share):
    """V02 an owned residential row's rhu(area × share, 1000) (rounded per row)."""
    return rhu(area * share, 1000)


@serial
def recent_purchase(acquisition, acquired, since, d):
    """V09 RECENT_PURCHASE: bought within recent_purchase_months before D (even if
    disposed since)."""
    return acquisition == ACQ_PURCHASE and since < acquired <= d


@serial
def recent_transfer(disposed, since, d):
    """V10 RECENT_TRANSFER: disposed within recent_transfer_months before D."""
    return since < disposed <= d


@serial
def business_bits(role, employees, turnover, par):
    """V05 BUSINESS (legal_rep or shareholder, or self_employed over the turnover limit)
    and V07 EMPLOYER (employees ≥ 1) of one business_registration row, as bits."""
    bits = 0
    if role != ROLE_SELF_EMPLOYED or turnover > par[P_TURNOVER_LIMIT]:
        bits |= 1 << V05
    if employees >= 1:
        bits |= 1 << V07
    return bits


@serial
def public_employee(kind, employer):
    """V06 PUBLIC_EMPLOYEE: an employment row with a government or public employer."""
    return kind == RT_EMPLOYMENT and (
        employer == EMPLOYER_GOVERNMENT or employer == EMPLOYER_PUBLIC_INSTITUTION
    )


@serial
def resident_contribution(kind, scheme):
    """A pension_contribution row of scheme resident (V08's rows)."""
    return kind == RT_PENSION_CONTRIBUTION and scheme == SCHEME_RESIDENT


# aggregate vetoes ------------------------------------------------------------------------


@serial
def too_many_vehicles(distinct_veto_plates, par):
    """V01 VEHICLE by count: more than max_vehicles distinct owned veto-type plates."""
    return distinct_veto_plates > par[P_MAX_VEHICLES]


@serial
def housing(distinct_residential, area, n, par):
    """V02 HOUSING: too many distinct residential properties, or Σ rhu(area × share,
    1000) over owned residential rows above residential_area_per_capita_limit × n."""
    return distinct_residential > par[P_MAX_RESIDENTIAL] or area > limit_times(par[P_AREA_LIMIT], n)


@serial
def financial(fa, standard, n, par):
    """V04 FINANCIAL: FA > financial_asset_months × S × n."""
    return fa > limit_times(limit_times(par[P_ASSET_MONTHS], standard), n)


@serial
def insurance_grade(resident, par):
    """V08 INSURANCE_GRADE: a member's Σ resident pension_contribution over the limit."""
    return resident > par[P_INSURANCE_GRADE_LIMIT]


@serial
def refused_work(c, refused, par):
    """V11 REFUSED_WORK: c ≥ refused_work_min_coefficient and refusals ≥ the count."""
    return c >= par[P_REFUSED_COEFFICIENT] and refused >= par[P_REFUSED_COUNT]


@serial
def undeclared(h, verified, owned_vehicles, owned_properties, fa, par, money):
    """§8 UNDECLARED_INCOME / _VEHICLE / _PROPERTY / _ASSETS: (4-bit mask, rhu(Σ verified,
    12), income tolerance — 0 when no income is declared)."""
    mask = 0
    declared = money[h, HM_DECLARED_INCOME]
    monthly = rhu(verified, 12)
    tolerance = 0
    if declared >= 0:
        tolerance = max(rhu(declared * par[P_DECLARATION_RATIO], 1000), par[P_DECLARATION_ABS])
        if monthly > limit_plus(declared, tolerance):
            mask |= 1
    declared = money[h, HM_DECLARED_VEHICLES]
    if declared >= 0 and owned_vehicles > declared:
        mask |= 2
    declared = money[h, HM_DECLARED_PROPERTIES]
    if declared >= 0 and owned_properties > declared:
        mask |= 4
    declared = money[h, HM_DECLARED_ASSETS]
    if declared >= 0 and fa > limit_plus(declared, par[P_ASSET_DECLARATION_ABS]):
        mask |= 8
    return mask, monthly, tolerance


@serial
def veto_mask(found, consent, undeclared_mask, par):
    """The enabled triggered vetoes (bit v for V(v+1)): `found` holds the row and
    aggregate checks; V12 NO_CONSENT and V13 FALSE_DECLARATION are added here."""
    if not consent:
        found |= 1 << V12
    if undeclared_mask != 0:
        found |= 1 << V13
    return found & par[P_VETO_ENABLED]


# evidence of aggregate vetoes (only when one fired) --------------------------------------


@serial
def mark_vehicle_count(codes, bits, start, end, first, d, par):
    """V01 by count: every owned veto-type row of one member is listed."""
    for r in range(start, end):
        if owned_vehicle(codes[r, VC_REGISTERED], d) and veto_vehicle_type(codes[r, VC_TYPE], par):
            bits[first + r - start] |= 1 << V01


@serial
def mark_housing(codes, bits, start, end, first, d):
    """V02: every owned residential row of one member is listed."""
    for r in range(start, end):
        if codes[r, PC_USE] == USE_RESIDENTIAL and owned_property(
            codes[r, PC_ACQUIRED], codes[r, PC_DISPOSED], d
        ):
            bits[first + r - start] |= 1 << V02


@serial
def mark_resident_contributions(codes, bits, start, end, first):
    """V08: the resident pension_contribution rows of a member over the limit."""
    for r in range(start, end):
        if resident_contribution(codes[r, SIC_RECORD_TYPE], codes[r, SIC_SCHEME]):
            bits[first + r - start] |= 1 << V08


@serial
def mark_financial(bits, first, count):
    """V04: every bank row of one member is listed."""
    for k in range(first, first + count):
        bits[k] |= 1 << V04
