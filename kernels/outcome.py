"""RULES.md §7 status/benefit/circle/transition, §9 difficulty index, §11 program routing.

Serial routines for one household; member facts (age, c, income) are already in
`out.member` rows m0..m1-1 when these run.
"""

from __future__ import annotations

from .arith import limit_times, rhu, yuan
from .jit import serial
from .layout import (
    EXEMPT_NONE,
    LEVEL_PRESCHOOL,
    MC_HEALTH,
    MC_OCCUPATION,
    MC_STUDENT,
    MO_AGE,
    MO_COEFFICIENT,
    MO_INCOME,
    OCC_FLEXIBLE,
    OCC_NONE,
    OCC_UNEMPLOYED,
    P_ADDON_CHILD,
    P_ADDON_ELDERLY,
    P_ADDON_SERIOUS,
    P_ADDON_SEVERE,
    P_AGE_60,
    P_AGE_70,
    P_AGE_CHILD,
    P_ASSET_MAX,
    P_ASSET_PENALTY,
    P_ASSET_PENALTY_MONTHS,
    P_CIRCLE3,
    P_CIRCLE4,
    P_EXTRA_PROPERTY_PENALTY,
    P_HEALTH_POINTS,
    P_INCOME_MAX,
    P_MEMBER_CAP,
    P_PHASEOUT_MONTHS,
    P_REFUSED_COEFFICIENT,
    P_STUDENT_POINTS,
    P_TEKUN_RATIO,
    P_VEHICLE_PENALTY,
    PREV_DIBAO,
    PREV_PHASE_OUT,
    PREV_TEKUN,
    REQ_ANY,
    REQ_DISABILITY,
    REQ_ELDERLY,
    REQ_MEDICAL,
    REQ_NO_HOME,
    REQ_STUDENT,
    REQ_WORK_CAPABLE,
    SC_EXEMPT,
    ST_DIBAO,
    ST_DIBAO_SINGLE,
    ST_LOW_INCOME,
    ST_NOT_ELIGIBLE,
    ST_PHASE_OUT,
    ST_TEKUN,
    ST_VETOED,
    TR_ADJUST,
    TR_CONTINUE,
    TR_EXIT,
    TR_NEW,
    TR_NONE,
    TR_PHASE_OUT,
)


@serial
def addon(age, health, par):
    """§7 分类施保: the largest add-on (‰ of S) the member qualifies for."""
    best = 0
    if age >= 70 and par[P_ADDON_ELDERLY] > best:
        best = par[P_ADDON_ELDERLY]
    if health == 6 and par[P_ADDON_SEVERE] > best:
        best = par[P_ADDON_SEVERE]
    if health == 5 and par[P_ADDON_SERIOUS] > best:
        best = par[P_ADDON_SERIOUS]
    if age < 16 and par[P_ADDON_CHILD] > best:
        best = par[P_ADDON_CHILD]
    return best


@serial
def tekun_members(m0, m1, s0, s1, people, out):
    """§7 step 2 without the income test: nobody can work and nobody is liable to support."""
    for slot in range(m0, m1):
        age = out.member[slot, MO_AGE]
        health = people.member_codes[slot, MC_HEALTH]
        if out.member[slot, MO_COEFFICIENT] != 0:
            return False
        if not (age >= 60 or age < 16 or health == 5 or health == 6):
            return False
    for slot in range(s0, s1):
        if people.supporter_codes[slot, SC_EXEMPT] == EXEMPT_NONE:
            return False
    return True


@serial
def status(vetoed, m0, m1, s0, s1, n, pci, standard, low, prev, prev_benefit, par, people, out):
    """§7 steps 1–5: (status, benefit, phaseout_months)."""
    if vetoed:
        return ST_VETOED, 0, 0
    if pci < standard and tekun_members(m0, m1, s0, s1, people, out):
        return ST_TEKUN, yuan(rhu(standard * par[P_TEKUN_RATIO], 1000) * n), 0
    if pci < standard:
        total = (standard - pci) * n
        for slot in range(m0, m1):
            a = addon(out.member[slot, MO_AGE], people.member_codes[slot, MC_HEALTH], par)
            total += rhu(standard * a, 1000)
        return ST_DIBAO, yuan(total), 0
    if pci <= low:
        if prev == PREV_DIBAO and prev_benefit > 0:
            return ST_PHASE_OUT, yuan(prev_benefit), par[P_PHASEOUT_MONTHS]
        single = 0
        any_ill = False
        for slot in range(m0, m1):
            health = people.member_codes[slot, MC_HEALTH]
            if health == 5 or health == 6:
                any_ill = True
                gap = standard - rhu(out.member[slot, MO_INCOME], 12)
                if gap > 0:
                    single += gap
        if any_ill and yuan(single) > 0:
            return ST_DIBAO_SINGLE, yuan(single), 0
        return ST_LOW_INCOME, 0, 0
    return ST_NOT_ELIGIBLE, 0, 0


@serial
def circle(state, pci, standard, low, par):
    """§7 四级信息圈 (0 = outside every circle, and every vetoed household)."""
    if state == ST_VETOED:
        return 0
    if state == ST_TEKUN or pci < standard:
        return 1
    if pci <= low:
        return 2
    if pci <= rhu(low * par[P_CIRCLE3], 1000):
        return 3
    if pci <= rhu(low * par[P_CIRCLE4], 1000):
        return 4
    return 0


@serial
def transition(state, benefit, prev, prev_benefit):
    """§7 transition against prev_status."""
    enrolled = state == ST_TEKUN or state == ST_DIBAO or state == ST_DIBAO_SINGLE
    if enrolled:
        if prev == PREV_DIBAO or prev == PREV_TEKUN:
            return TR_CONTINUE if benefit == prev_benefit else TR_ADJUST
        return TR_NEW
    if state == ST_PHASE_OUT:
        return TR_PHASE_OUT
    if prev == PREV_DIBAO or prev == PREV_TEKUN or prev == PREV_PHASE_OUT:
        return TR_EXIT
    return TR_NONE


@serial
def difficulty_index(m0, m1, n, pci, standard, fa, residential, any_vehicle, par, people, out):
    """§9 家庭困难指数 0–1000."""
    points = 0
    for slot in range(m0, m1):
        age = out.member[slot, MO_AGE]
        if age >= 70:
            points += par[P_AGE_70]
        elif age >= 60:
            points += par[P_AGE_60]
        elif age < 16:
            points += par[P_AGE_CHILD]
        points += par[P_HEALTH_POINTS + people.member_codes[slot, MC_HEALTH] - 1]
        points += par[P_STUDENT_POINTS + people.member_codes[slot, MC_STUDENT]]
    points = min(points, par[P_MEMBER_CAP])
    income = rhu((standard - pci) * par[P_INCOME_MAX], standard) if pci < standard else 0
    extra = residential - 1 if residential > 1 else 0
    assets = par[P_ASSET_MAX] - limit_times(par[P_EXTRA_PROPERTY_PENALTY], extra)
    if any_vehicle:
        assets -= par[P_VEHICLE_PENALTY]
    if fa > limit_times(limit_times(par[P_ASSET_PENALTY_MONTHS], standard), n):
        assets -= par[P_ASSET_PENALTY]
    assets = max(assets, 0)
    total = points + income + assets
    return min(1000, total)


@serial
def member_meets(requires, slot, par, people, out):
    """§11 the member conditions of `requires` (student, medical, work_capable, ...)."""
    health = people.member_codes[slot, MC_HEALTH]
    if requires == REQ_STUDENT:
        return people.member_codes[slot, MC_STUDENT] > LEVEL_PRESCHOOL
    if requires == REQ_MEDICAL:
        return health == 2 or health == 4 or health == 5
    if requires == REQ_WORK_CAPABLE:
        occupation = people.member_codes[slot, MC_OCCUPATION]
        capable = out.member[slot, MO_COEFFICIENT] >= par[P_REFUSED_COEFFICIENT]
        return capable and (
            occupation == OCC_UNEMPLOYED or occupation == OCC_FLEXIBLE or occupation == OCC_NONE
        )
    if requires == REQ_DISABILITY:
        return health == 3 or health == 6
    if requires == REQ_ELDERLY:
        return out.member[slot, MO_AGE] >= 60
    return False


@serial
def requirement_holds(requires, m0, m1, medical, residential, par, people, out):
    """§11 the `requires` condition of a program for the household."""
    if requires == REQ_ANY:
        return True
    if requires == REQ_NO_HOME:
        return residential == 0
    if requires == REQ_MEDICAL and medical > 0:
        return True
    for slot in range(m0, m1):
        if member_meets(requires, slot, par, people, out):
            return True
    return False


@serial
def eligible_programs(pack_row, state, m0, m1, medical, residential, par, pack, people, out):
    """§11 可享受: bit i set when program i (pack's names by code point) qualifies."""
    if state == ST_VETOED:
        return 0
    mask = 0
    for i in range(pack.program_count[pack_row]):
        if not (pack.program_statuses[pack_row, i] >> state) & 1:
            continue
        requires = pack.program_requires[pack_row, i]
        if requirement_holds(requires, m0, m1, medical, residential, par, people, out):
            mask |= 1 << i
    return mask
