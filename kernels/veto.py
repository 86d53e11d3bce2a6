"""RULES.md §6 一票否决 and §8 UNDECLARED_* 核对疑点 (serial routines, one household).

Records are visited in evidence order (member slots in persons order, each person's rows
by record_id), so the first hit is the evidence of docs/engine.md. Every triggering
record instance gets its veto bit in `out.<table>_vetoes` for the detail lists; bits
are meaningful only for the vetoes that end up in the household's O_VETOES mask.
"""

from __future__ import annotations

from .arith import add_months, limit_plus, limit_times, rhu
from .income import count_distinct, owned_property
from .jit import serial
from .layout import (
    ACQ_PURCHASE,
    BANK,
    BC_EMPLOYEES,
    BC_ROLE,
    BM_TURNOVER,
    BUSINESS,
    EMPLOYER_GOVERNMENT,
    EMPLOYER_PUBLIC_INSTITUTION,
    HM_DECLARED_ASSETS,
    HM_DECLARED_INCOME,
    HM_DECLARED_PROPERTIES,
    HM_DECLARED_VEHICLES,
    MC_PERSON,
    MC_REFUSED,
    MO_COEFFICIENT,
    MO_REFUSED_WORK,
    MO_RESIDENT_CONTRIBUTION,
    O_ASSET_TOLERANCE,
    O_INCOME_TOLERANCE,
    O_OWNED_PROPERTIES,
    O_OWNED_VEHICLES,
    O_VERIFIED_MONTHLY,
    P_AREA_LIMIT,
    P_ASSET_DECLARATION_ABS,
    P_ASSET_MONTHS,
    P_DECLARATION_ABS,
    P_DECLARATION_RATIO,
    P_INSURANCE_GRADE_LIMIT,
    P_MAX_RESIDENTIAL,
    P_MAX_VEHICLES,
    P_RECENT_PURCHASE,
    P_RECENT_TRANSFER,
    P_RECENT_VEHICLE,
    P_REFUSED_COEFFICIENT,
    P_REFUSED_COUNT,
    P_TURNOVER_LIMIT,
    P_VEHICLE_TYPES,
    P_VEHICLE_VALUE_LIMIT,
    P_VETO_ENABLED,
    PC_ACQUIRED,
    PC_ACQUISITION,
    PC_DISPOSED,
    PC_PROPERTY,
    PC_SHARE,
    PC_USE,
    PM_AREA,
    PROPERTY,
    ROLE_SELF_EMPLOYED,
    RT_EMPLOYMENT,
    RT_PENSION_CONTRIBUTION,
    SCHEME_RESIDENT,
    SIC_EMPLOYER,
    SIC_RECORD_TYPE,
    SIC_SCHEME,
    SOCIAL,
    USE_OTHER,
    USE_RESIDENTIAL,
    VC_PLATE,
    VC_REGISTERED,
    VC_TYPE,
    VEHICLE,
    VM_VALUE,
)

V01, V02, V03, V04, V05, V06, V07, V08, V09, V10, V11, V12, V13, V14 = range(14)


@serial
def _evidence(slots, instances, h, code, slot, instance):
    """Keep the first triggering (member slot, record instance) of veto `code`."""
    if slots[h, code] == -1 and instances[h, code] == -1:
        slots[h, code] = slot
        instances[h, code] = instance


@serial
def _rows(people, slot, table):
    """(first row, end row, first instance) of a member slot's rows of `table`."""
    person = people.member_codes[slot, MC_PERSON]
    start = people.person_ranges[person, 2 * table]
    end = people.person_ranges[person, 2 * table + 1]
    return start, end, people.instance_off[slot, table]


@serial
def vehicle_vetoes(h, m0, m1, d, par, people, records, out, work):
    """V01 VEHICLE and V14 RECENT_VEHICLE; also the distinct owned vehicles (any type)."""
    # arrays are bound to names: numba handles a store through a namedtuple
    # attribute (out.x[i] = v) or a call taking the tuple at a high price
    ev_slot, ev_inst = out.evidence_slot, out.evidence_instance
    codes, money, bits = records.vehicle_codes, records.vehicle_money, out.vehicle_vetoes
    half = work.shape[0] // 2
    veto_plates, any_plates = work[:half], work[half:]
    n_veto = 0
    n_any = 0
    by_value = False
    recent = False
    # "within N months before D" (§0) is since < day <= D; `since` once per household
    since = add_months(d, -par[P_RECENT_VEHICLE])
    for slot in range(m0, m1):
        start, end, first = _rows(people, slot, VEHICLE)
        for r in range(start, end):
            inst = first + r - start
            veto_type = (par[P_VEHICLE_TYPES] >> codes[r, VC_TYPE]) & 1
            if veto_type and since < codes[r, VC_REGISTERED] <= d:
                recent = True
                bits[inst] |= 1 << V14
                _evidence(ev_slot, ev_inst, h, V14, slot, inst)
            if codes[r, VC_REGISTERED] > d:
                continue
            any_plates[n_any] = codes[r, VC_PLATE]
            n_any += 1
            if veto_type:
                veto_plates[n_veto] = codes[r, VC_PLATE]
                n_veto += 1
                if money[r, VM_VALUE] > par[P_VEHICLE_VALUE_LIMIT]:
                    by_value = True
                    bits[inst] |= 1 << V01
                    _evidence(ev_slot, ev_inst, h, V01, slot, inst)
    by_count = count_distinct(veto_plates, n_veto) > par[P_MAX_VEHICLES]
    if by_count:
        # Every owned row of a veto type is evidence of the count (docs/engine.md).
        for slot in range(m0, m1):
            start, end, first = _rows(people, slot, VEHICLE)
            for r in range(start, end):
                if codes[r, VC_REGISTERED] <= d and (par[P_VEHICLE_TYPES] >> codes[r, VC_TYPE]) & 1:
                    bits[first + r - start] |= 1 << V01
    return by_value or by_count, recent, count_distinct(any_plates, n_any)


@serial
def property_vetoes(h, m0, m1, n, d, par, people, records, out, work):
    """V02 HOUSING, V03 NONRESIDENTIAL, V09 RECENT_PURCHASE, V10 RECENT_TRANSFER.

    Also returns the distinct owned properties (any use) and owned residential ones."""
    # arrays are bound to names: numba handles a store through a namedtuple
    # attribute (out.x[i] = v) or a call taking the tuple at a high price
    ev_slot, ev_inst = out.evidence_slot, out.evidence_instance
    codes, money, bits = records.property_codes, records.property_money, out.property_vetoes
    half = work.shape[0] // 2
    residential, any_use = work[:half], work[half:]
    n_res = 0
    n_any = 0
    area = 0
    nonresidential = False
    purchase = False
    transfer = False
    since_purchase = add_months(d, -par[P_RECENT_PURCHASE])
    since_transfer = add_months(d, -par[P_RECENT_TRANSFER])
    for slot in range(m0, m1):
        start, end, first = _rows(people, slot, PROPERTY)
        for r in range(start, end):
            inst = first + r - start
            acquired = codes[r, PC_ACQUIRED]
            if codes[r, PC_ACQUISITION] == ACQ_PURCHASE and since_purchase < acquired <= d:
                purchase = True
                bits[inst] |= 1 << V09
                _evidence(ev_slot, ev_inst, h, V09, slot, inst)
            if since_transfer < codes[r, PC_DISPOSED] <= d:
                transfer = True
                bits[inst] |= 1 << V10
                _evidence(ev_slot, ev_inst, h, V10, slot, inst)
            if not owned_property(codes, r, d):
                continue
            use = codes[r, PC_USE]
            any_use[n_any] = codes[r, PC_PROPERTY]
            n_any += 1
            if use == USE_RESIDENTIAL:
                residential[n_res] = codes[r, PC_PROPERTY]
                n_res += 1
                area += rhu(money[r, PM_AREA] * codes[r, PC_SHARE], 1000)
                bits[inst] |= 1 << V02
            elif use != USE_OTHER:
                nonresidential = True
                bits[inst] |= 1 << V03
                _evidence(ev_slot, ev_inst, h, V03, slot, inst)
    n_residential = count_distinct(residential, n_res)
    housing = n_residential > par[P_MAX_RESIDENTIAL] or area > limit_times(par[P_AREA_LIMIT], n)
    owned = count_distinct(any_use, n_any)
    return housing, nonresidential, purchase, transfer, owned, n_residential


@serial
def business_vetoes(h, m0, m1, par, people, records, out):
    """V05 BUSINESS and V07 EMPLOYER."""
    # arrays are bound to names: numba handles a store through a namedtuple
    # attribute (out.x[i] = v) or a call taking the tuple at a high price
    ev_slot, ev_inst = out.evidence_slot, out.evidence_instance
    codes, money, bits = records.business_codes, records.business_money, out.business_vetoes
    business = False
    employer = False
    for slot in range(m0, m1):
        start, end, first = _rows(people, slot, BUSINESS)
        for r in range(start, end):
            inst = first + r - start
            role = codes[r, BC_ROLE]
            if role != ROLE_SELF_EMPLOYED or money[r, BM_TURNOVER] > par[P_TURNOVER_LIMIT]:
                business = True
                bits[inst] |= 1 << V05
                _evidence(ev_slot, ev_inst, h, V05, slot, inst)
            if codes[r, BC_EMPLOYEES] >= 1:
                employer = True
                bits[inst] |= 1 << V07
                _evidence(ev_slot, ev_inst, h, V07, slot, inst)
    return business, employer


@serial
def social_vetoes(h, m0, m1, par, people, records, out):
    """V06 PUBLIC_EMPLOYEE and V08 INSURANCE_GRADE."""
    # arrays are bound to names: numba handles a store through a namedtuple
    # attribute (out.x[i] = v) or a call taking the tuple at a high price
    ev_slot, ev_inst = out.evidence_slot, out.evidence_instance
    codes, bits = records.social_codes, out.social_vetoes
    public = False
    grade = False
    for slot in range(m0, m1):
        start, end, first = _rows(people, slot, SOCIAL)
        over = out.member[slot, MO_RESIDENT_CONTRIBUTION] > par[P_INSURANCE_GRADE_LIMIT]
        for r in range(start, end):
            inst = first + r - start
            kind = codes[r, SIC_RECORD_TYPE]
            employer = codes[r, SIC_EMPLOYER]
            if kind == RT_EMPLOYMENT and (
                employer == EMPLOYER_GOVERNMENT or employer == EMPLOYER_PUBLIC_INSTITUTION
            ):
                public = True
                bits[inst] |= 1 << V06
                _evidence(ev_slot, ev_inst, h, V06, slot, inst)
            if over and kind == RT_PENSION_CONTRIBUTION and codes[r, SIC_SCHEME] == SCHEME_RESIDENT:
                grade = True
                bits[inst] |= 1 << V08
                _evidence(ev_slot, ev_inst, h, V08, slot, inst)
    return public, grade


@serial
def financial_veto(h, m0, m1, n, fa, standard, par, people, out):
    """V04 FINANCIAL: FA > financial_asset_months × S × n; every member bank row listed."""
    if fa <= limit_times(limit_times(par[P_ASSET_MONTHS], standard), n):
        return False
    bits = out.bank_vetoes
    for slot in range(m0, m1):
        start, end, first = _rows(people, slot, BANK)
        for k in range(end - start):
            bits[first + k] |= 1 << V04
    return True


@serial
def refused_work_veto(h, m0, m1, par, people, out):
    """V11 REFUSED_WORK: c >= refused_work_min_coefficient and refusals >= the count."""
    # arrays are bound to names: numba handles a store through a namedtuple
    # attribute (out.x[i] = v) or a call taking the tuple at a high price
    ev_slot, ev_inst = out.evidence_slot, out.evidence_instance
    refused = False
    mo = out.member
    for slot in range(m0, m1):
        if (
            mo[slot, MO_COEFFICIENT] >= par[P_REFUSED_COEFFICIENT]
            and people.member_codes[slot, MC_REFUSED] >= par[P_REFUSED_COUNT]
        ):
            mo[slot, MO_REFUSED_WORK] = 1
            refused = True
            _evidence(ev_slot, ev_inst, h, V11, slot, -1)
    return refused


@serial
def undeclared(h, verified, owned_vehicles, owned_properties, fa, par, money, out):
    """§8 UNDECLARED_INCOME / _VEHICLE / _PROPERTY / _ASSETS as a 4-bit mask."""
    o = out.household
    mask = 0
    declared = money[h, HM_DECLARED_INCOME]
    monthly = rhu(verified, 12)
    o[h, O_VERIFIED_MONTHLY] = monthly
    if declared >= 0:
        tolerance = rhu(declared * par[P_DECLARATION_RATIO], 1000)
        tolerance = max(tolerance, par[P_DECLARATION_ABS])
        o[h, O_INCOME_TOLERANCE] = tolerance
        if monthly > limit_plus(declared, tolerance):
            mask |= 1
    o[h, O_OWNED_VEHICLES] = owned_vehicles
    o[h, O_OWNED_PROPERTIES] = owned_properties
    declared = money[h, HM_DECLARED_VEHICLES]
    if declared >= 0 and owned_vehicles > declared:
        mask |= 2
    declared = money[h, HM_DECLARED_PROPERTIES]
    if declared >= 0 and owned_properties > declared:
        mask |= 4
    declared = money[h, HM_DECLARED_ASSETS]
    o[h, O_ASSET_TOLERANCE] = par[P_ASSET_DECLARATION_ABS]
    if declared >= 0 and fa > limit_plus(declared, par[P_ASSET_DECLARATION_ABS]):
        mask |= 8
    return mask


@serial
def vetoes(
    h, m0, m1, n, d, fa, standard, verified, consent, par, hh_money, people, records, out, work
):
    """§6 and §8: (enabled triggered veto mask, undeclared mask, owned residential count,
    any owned vehicle)."""
    v01, v14, owned_vehicles = vehicle_vetoes(h, m0, m1, d, par, people, records, out, work)
    v02, v03, v09, v10, owned_properties, residential = property_vetoes(
        h, m0, m1, n, d, par, people, records, out, work
    )
    v05, v07 = business_vetoes(h, m0, m1, par, people, records, out)
    v06, v08 = social_vetoes(h, m0, m1, par, people, records, out)
    v04 = financial_veto(h, m0, m1, n, fa, standard, par, people, out)
    v11 = refused_work_veto(h, m0, m1, par, people, out)
    found = undeclared(h, verified, owned_vehicles, owned_properties, fa, par, hh_money, out)
    flags = (v01, v02, v03, v04, v05, v06, v07, v08, v09, v10, v11, not consent, found != 0, v14)
    mask = 0
    for i in range(14):
        if flags[i]:
            mask |= 1 << i
    return mask & par[P_VETO_ENABLED], found, residential, owned_vehicles > 0
