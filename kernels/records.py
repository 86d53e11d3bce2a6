"""One pass over a member's rows of each source table (issue 12: sums and vetoes together).

What a row adds to the §3/§5 sums is decided in `kernels.income`, which §6 row checks
it triggers in `kernels.veto`; here both are taken while the row is read, once. Each
record instance's veto bits are written here, once, keeping only the bits in `keep`
(the enabled vetoes); the aggregate vetoes (V01 by count, V02, V08) mark their rows
afterwards, and only when they fire. Codes of owned rows (plates, property ids) are
appended to the household's scratch lists for the §0 distinct counts; each routine
returns the lists' new lengths.
"""

from __future__ import annotations

from .arith import owned_property, owned_vehicle
from .income import counted_transfer, out_of_pocket, rental_income
from .jit import inline
from .layout import (
    BC_EMPLOYEES,
    BC_ROLE,
    BM_TURNOVER,
    KM_BALANCE,
    KM_INTEREST,
    PC_ACQUIRED,
    PC_ACQUISITION,
    PC_DISPOSED,
    PC_PROPERTY,
    PC_SHARE,
    PC_USE,
    PM_AREA,
    PM_RENTAL,
    RT_MEDICAL,
    RT_PENSION_CONTRIBUTION,
    SIC_EMPLOYER,
    SIC_RECORD_TYPE,
    SIC_SCHEME,
    SIM_AMOUNT,
    SIM_REIMBURSED,
    USE_RESIDENTIAL,
    V01_BY_VALUE,
    VC_PLATE,
    VC_REGISTERED,
    VC_TYPE,
    VM_VALUE,
)
from .veto import (
    V01,
    V03,
    V06,
    V09,
    V10,
    V14,
    business_bits,
    nonresidential,
    public_employee,
    recent_purchase,
    recent_transfer,
    recent_vehicle,
    resident_contribution,
    residential_area,
    valuable_vehicle,
    veto_vehicle_type,
)


@inline
def property_rows(codes, money, bits, start, end, first, d, windows, keep, lists, counts):
    """A member's property rows start..end-1 (instances first..): §3 rental income of
    owned rows; V03, V09, V10; owned residential ids and area for V02; owned ids (any use)
    for §8. `windows` = (since_purchase, since_transfer); `lists` = (residential ids,
    owned ids), `counts` their lengths. Returns (rental, area, counts, found bits)."""
    since_purchase, since_transfer = windows
    homes, owned = lists
    n_homes, n_owned = counts
    rental = 0
    area = 0
    found = 0
    for r in range(start, end):
        acquired = codes[r, PC_ACQUIRED]
        disposed = codes[r, PC_DISPOSED]
        b = 0
        if recent_purchase(codes[r, PC_ACQUISITION], acquired, since_purchase, d):
            b |= 1 << V09
        if recent_transfer(disposed, since_transfer, d):
            b |= 1 << V10
        if owned_property(acquired, disposed, d):
            share = codes[r, PC_SHARE]
            rental += rental_income(money[r, PM_RENTAL], share)
            owned[n_owned] = codes[r, PC_PROPERTY]
            n_owned += 1
            use = codes[r, PC_USE]
            if use == USE_RESIDENTIAL:
                homes[n_homes] = codes[r, PC_PROPERTY]
                n_homes += 1
                area += residential_area(money[r, PM_AREA], share)
            elif nonresidential(use):
                b |= 1 << V03
        bits[first + r - start] = b & keep
        found |= b
    return rental, area, (n_homes, n_owned), found


@inline
def bank_rows(money, bits, start, end, first):
    """A member's bank rows: (Σ interest, Σ balance) for §3 property income and §5 FA.
    Bank rows have no row check: their bits are written 0 here, and set afterwards only
    if V04 fires."""
    interest = 0
    balance = 0
    for r in range(start, end):
        interest += money[r, KM_INTEREST]
        balance += money[r, KM_BALANCE]
        bits[first + r - start] = 0
    return interest, balance


@inline
def vehicle_rows(codes, money, bits, start, end, first, d, since, par, keep, lists, counts):
    """A member's vehicle rows: V01 by value, V14; owned veto-type plates (V01 by count)
    and owned plates of any type (§8, §9). `lists` = (veto-type plates, any plates).
    Returns (counts, found bits)."""
    veto_plates, any_plates = lists
    n_veto, n_any = counts
    found = 0
    for r in range(start, end):
        registered = codes[r, VC_REGISTERED]
        veto_type = veto_vehicle_type(codes[r, VC_TYPE], par)
        b = 0
        if veto_type and recent_vehicle(registered, since, d):
            b |= 1 << V14
        if owned_vehicle(registered, d):
            any_plates[n_any] = codes[r, VC_PLATE]
            n_any += 1
            if veto_type:
                veto_plates[n_veto] = codes[r, VC_PLATE]
                n_veto += 1
                if valuable_vehicle(money[r, VM_VALUE], par):
                    b |= (1 << V01) | (1 << V01_BY_VALUE)
        bits[first + r - start] = b & keep
        found |= b
    return (n_veto, n_any), found


@inline
def business_rows(codes, money, bits, start, end, first, par, keep):
    """A member's business_registration rows: V05, V07. Returns the found bits."""
    found = 0
    for r in range(start, end):
        b = business_bits(codes[r, BC_ROLE], codes[r, BC_EMPLOYEES], money[r, BM_TURNOVER], par)
        bits[first + r - start] = b & keep
        found |= b
    return found


@inline
def social_rows(codes, money, bits, start, end, first, par, keep):
    """A member's social_insurance rows: §3 transfer, §5 medical out of pocket and
    pension contribution, the resident contribution of V08, V06. Returns (transfer,
    medical, contribution, resident, found bits)."""
    transfer = 0
    medical = 0
    contribution = 0
    resident = 0
    found = 0
    for r in range(start, end):
        kind = codes[r, SIC_RECORD_TYPE]
        amount = money[r, SIM_AMOUNT]
        if counted_transfer(kind, par):
            transfer += amount
        elif kind == RT_MEDICAL:
            medical += out_of_pocket(amount, money[r, SIM_REIMBURSED])
        elif kind == RT_PENSION_CONTRIBUTION:
            contribution += amount
            if resident_contribution(kind, codes[r, SIC_SCHEME]):
                resident += amount
        b = 0
        if public_employee(kind, codes[r, SIC_EMPLOYER]):
            b = 1 << V06
        bits[first + r - start] = b & keep
        found |= b
    return transfer, medical, contribution, resident, found
