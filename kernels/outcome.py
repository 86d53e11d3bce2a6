"""RULES.md §7 status/benefit/circle/transition, §9 difficulty index, §11 program routing.

Serial routines for one household. What a member contributes (`unable_to_work`,
`addon`, `single_gap`, `member_points`, `member_requirements`) is taken in the member
pass of `kernels.driver`, once per member; the household routines get the sums.
"""

from __future__ import annotations

from .arith import limit_times, rhu, yuan
from .jit import inline, serial
from .layout import (
    LEVEL_PRESCHOOL,
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

# §7 -------------------------------------------------------------------------------------


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
def unable_to_work(c, age, health):
    """§7 step 2, one member: c = 0 and (age ≥ 60 or age < 16 or health 5 or 6)."""
    return c == 0 and (age >= 60 or age < 16 or health == 5 or health == 6)


@serial
def single_gap(health, income, standard):
    """§7 step 4 单人保, one member: (health 5 or 6, max(0, S − rhu(member_income, 12)))."""
    if health != 5 and health != 6:
        return False, 0
    gap = standard - rhu(income, 12)
    return True, max(0, gap)


@serial
def status(vetoed, tekun, n, pci, standard, low, addons, any_ill, gaps, prev, prev_benefit, par):
    """§7 steps 1–5: (status, benefit, phaseout_months). `tekun`: every member unable to
    work and no supporter liable; `addons`: Σ over members rhu(S × addon, 1000);
    `any_ill`, `gaps`: a member with health 5 or 6, and Σ of their single_gap."""
    if vetoed:
        return ST_VETOED, 0, 0
    if pci < standard and tekun:
        return ST_TEKUN, yuan(rhu(standard * par[P_TEKUN_RATIO], 1000) * n), 0
    if pci < standard:
        return ST_DIBAO, yuan((standard - pci) * n + addons), 0
    if pci <= low:
        if prev == PREV_DIBAO and prev_benefit > 0:
            return ST_PHASE_OUT, yuan(prev_benefit), par[P_PHASEOUT_MONTHS]
        if any_ill and yuan(gaps) > 0:
            return ST_DIBAO_SINGLE, yuan(gaps), 0
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


# §9 -------------------------------------------------------------------------------------


@serial
def member_points(age, health, level, par):
    """§9 one member's age points + health points + student points."""
    points = 0
    if age >= 70:
        points += par[P_AGE_70]
    elif age >= 60:
        points += par[P_AGE_60]
    elif age < 16:
        points += par[P_AGE_CHILD]
    points += par[P_HEALTH_POINTS + health - 1]
    points += par[P_STUDENT_POINTS + level]
    return points


@inline
def difficulty_index(points, n, pci, standard, fa, residential, any_vehicle, par):
    """§9 家庭困难指数 0–1000; `points` = Σ member_points."""
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


# §11 ------------------------------------------------------------------------------------


@serial
def member_requirements(c, age, health, level, occupation, par):
    """§11 the `requires` conditions one member meets, as bits of PROGRAM_REQUIRES."""
    bits = 0
    if level > LEVEL_PRESCHOOL:
        bits |= 1 << REQ_STUDENT
    if health == 2 or health == 4 or health == 5:
        bits |= 1 << REQ_MEDICAL
    if c >= par[P_REFUSED_COEFFICIENT] and (
        occupation == OCC_UNEMPLOYED or occupation == OCC_FLEXIBLE or occupation == OCC_NONE
    ):
        bits |= 1 << REQ_WORK_CAPABLE
    if health == 3 or health == 6:
        bits |= 1 << REQ_DISABILITY
    if age >= 60:
        bits |= 1 << REQ_ELDERLY
    return bits


@serial
def requirement_holds(requires, members, medical, residential):
    """§11 the `requires` condition of a program for the household; `members` = OR of
    member_requirements."""
    if requires == REQ_ANY:
        return True
    if requires == REQ_NO_HOME:
        return residential == 0
    if requires == REQ_MEDICAL and medical > 0:
        return True
    return (members >> requires) & 1 == 1


@inline
def eligible_programs(pack_row, state, members, medical, residential, pack):
    """§11 可享受: bit i set when program i (pack's names by code point) qualifies."""
    if state == ST_VETOED:
        return 0
    mask = 0
    for i in range(pack.program_count[pack_row]):
        if not (pack.program_statuses[pack_row, i] >> state) & 1:
            continue
        if requirement_holds(pack.program_requires[pack_row, i], members, medical, residential):
            mask |= 1 << i
    return mask
