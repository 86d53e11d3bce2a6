"""The household kernel: public wrapper → parallel driver → serial per-household routine.

`assess` validates the grouped arrays (dtype, shape) and allocates the outputs;
`_assess_all` runs `assess_household` for every household in a `prange`. Each household
writes only its own output rows, its member slots and its members' record instances,
so the result does not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import config, get_thread_id, prange

from .arith import age_on, civil_from_days, rhu
from .income import (
    education_deduction,
    employment_income,
    labour_coefficient,
    medical_deduction,
    pension_deduction,
    record_sums,
    support,
)
from .jit import parallel, serial
from .layout import (
    BANK,
    BUSINESS,
    HC_AREA,
    HC_CHECKED,
    HC_CONSENT,
    HC_DATE,
    HC_PACK,
    HC_PREV_STATUS,
    HM_PREV_BENEFIT,
    MC_BIRTH,
    MC_HEALTH,
    MC_OCCUPATION,
    MC_PERSON,
    MC_STUDENT,
    MM_TUITION,
    MO_AGE,
    MO_BASIS,
    MO_COEFFICIENT,
    MO_EMPLOYMENT,
    MO_INCOME,
    MO_RESIDENT_CONTRIBUTION,
    MO_VERIFIED,
    N_HC,
    N_HM,
    N_MC,
    N_MM,
    N_MO,
    N_O,
    N_PARAMS,
    N_SC,
    N_TABLES,
    N_VETOES,
    O_ASSETS,
    O_BENEFIT,
    O_CIRCLE,
    O_EDUCATION,
    O_ELIGIBLE,
    O_GROSS,
    O_INDEX,
    O_MEDICAL,
    O_NET,
    O_NOT_CHECKED,
    O_PCI,
    O_PENSION,
    O_PHASEOUT,
    O_STANDARD,
    O_STATUS,
    O_TRANSITION,
    O_UNDECLARED,
    O_VETOES,
    P_DIBAO_URBAN,
    P_LOW_INCOME_RATIO,
    PROPERTY,
    SC_PERSON,
    SOCIAL,
    VEHICLE,
    Households,
    Outputs,
    Pack,
    People,
    Records,
)
from .outcome import circle, difficulty_index, eligible_programs, status, transition
from .veto import vetoes


@serial
def assess_household(h, hh, people, records, pack, out, work):
    """RULES.md §2–§11 for household h (serial); `work` is the thread's scratch row."""
    codes, money = hh.codes, hh.money
    pack_row = codes[h, HC_PACK]
    par = pack.params[pack_row]
    d = codes[h, HC_DATE]
    area = codes[h, HC_AREA]
    m0, m1 = hh.member_off[h], hh.member_off[h + 1]
    s0, s1 = hh.supporter_off[h], hh.supporter_off[h + 1]
    n = m1 - m0
    mcodes, mo = people.member_codes, out.member
    # §2 §3 members, with their §5 deductions
    gross = 0
    verified = 0
    fa = 0
    out_of_pocket = 0
    education = 0
    pension = 0
    year, month, day = civil_from_days(d)
    for slot in range(m0, m1):
        age = age_on(mcodes[slot, MC_BIRTH], year, month, day)
        level = mcodes[slot, MC_STUDENT]
        c = labour_coefficient(age, mcodes[slot, MC_HEALTH], level, par)
        wage, business, other, prop, transfer, balance, medical, contribution, resident = (
            record_sums(mcodes[slot, MC_PERSON], d, par, people, records)
        )
        employment, basis = employment_income(wage, c, mcodes[slot, MC_OCCUPATION], area, par)
        rest = business + other + prop + transfer
        mo[slot, MO_AGE] = age
        mo[slot, MO_COEFFICIENT] = c
        mo[slot, MO_EMPLOYMENT] = employment
        mo[slot, MO_BASIS] = basis
        mo[slot, MO_INCOME] = employment + rest
        mo[slot, MO_VERIFIED] = wage + rest
        mo[slot, MO_RESIDENT_CONTRIBUTION] = resident
        gross += employment + rest
        verified += wage + rest
        fa += balance
        out_of_pocket += medical
        education += education_deduction(level, people.member_money[slot, MM_TUITION], par)
        pension += pension_deduction(contribution, par)
    # §4 supporters
    for slot in range(s0, s1):
        gross += support(slot, d, par, people, records, work)
    # §5
    medical = medical_deduction(out_of_pocket, par)
    net = gross - medical - education - pension
    net = max(net, 0)
    pci = rhu(net, 12 * n)
    standard = par[P_DIBAO_URBAN + area]
    low = rhu(standard * par[P_LOW_INCOME_RATIO], 1000)
    # §6 §8
    veto_mask, undeclared_mask, residential, any_vehicle = vetoes(
        h,
        m0,
        m1,
        n,
        d,
        fa,
        standard,
        verified,
        codes[h, HC_CONSENT],
        par,
        money,
        people,
        records,
        out,
        work,
    )
    # §7
    prev, prev_benefit = codes[h, HC_PREV_STATUS], money[h, HM_PREV_BENEFIT]
    state, benefit, months = status(
        veto_mask != 0,
        m0,
        m1,
        s0,
        s1,
        n,
        pci,
        standard,
        low,
        prev,
        prev_benefit,
        par,
        people,
        out,
    )
    not_checked = 0
    for k in range(5):
        if codes[h, HC_CHECKED + k] == 0:
            not_checked |= 1 << k
    o = out.household
    o[h, O_STATUS] = state
    o[h, O_BENEFIT] = benefit
    o[h, O_PHASEOUT] = months
    o[h, O_PCI] = pci
    o[h, O_STANDARD] = standard
    o[h, O_GROSS] = gross
    o[h, O_MEDICAL] = medical
    o[h, O_EDUCATION] = education
    o[h, O_PENSION] = pension
    o[h, O_NET] = net
    o[h, O_ASSETS] = fa
    o[h, O_CIRCLE] = circle(state, pci, standard, low, par)
    o[h, O_TRANSITION] = transition(state, benefit, prev, prev_benefit)
    o[h, O_VETOES] = veto_mask
    o[h, O_UNDECLARED] = undeclared_mask
    o[h, O_NOT_CHECKED] = not_checked
    # §9 §11
    o[h, O_INDEX] = difficulty_index(
        m0, m1, n, pci, standard, fa, residential, any_vehicle, par, people, out
    )
    o[h, O_ELIGIBLE] = eligible_programs(
        pack_row, state, m0, m1, medical, residential, par, pack, people, out
    )


@parallel
def _assess_all(hh, people, records, pack, out):
    for h in prange(hh.codes.shape[0]):
        # the scratch row only holds values for distinct counting while one household
        # is assessed, so which thread runs which household cannot change a result
        assess_household(h, hh, people, records, pack, out, out.scratch[get_thread_id()])


@serial
def _assess_serial(hh, people, records, pack, out):
    # no parallel region: a call of a few households (the service) starts no threads
    # and never waits on them
    for h in range(hh.codes.shape[0]):
        assess_household(h, hh, people, records, pack, out, out.scratch[0])


def _check(name: str, a, dtype, ncols: int | None = None) -> None:
    if not isinstance(a, np.ndarray) or a.dtype != dtype:
        got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        raise TypeError(f"{name} must be a numpy {np.dtype(dtype).name} array, got {got}")
    if ncols is not None and (a.ndim != 2 or a.shape[1] != ncols):
        raise TypeError(f"{name} must have shape (rows, {ncols}), got {a.shape}")
    if ncols is None and a.ndim != 1:
        raise TypeError(f"{name} must be one-dimensional, got shape {a.shape}")


def _check_group(group, spec) -> None:
    for field, dtype, ncols in spec:
        _check(f"{type(group).__name__}.{field}", getattr(group, field), dtype, ncols)


I32, I64 = np.int32, np.int64


def _work_width(hh: Households, people: People) -> int:
    """Scratch per thread: twice the most vehicle or property rows of one household (or
    one supporter)."""
    rows = people.person_ranges[:, 1::2] - people.person_ranges[:, 0::2]
    rows = rows[:, [VEHICLE, PROPERTY]]
    per_slot = rows[people.member_codes[:, MC_PERSON]]
    cs = np.zeros((per_slot.shape[0] + 1, 2), np.int64)
    np.cumsum(per_slot, axis=0, out=cs[1:])
    per_household = cs[hh.member_off[1:]] - cs[hh.member_off[:-1]]
    widest = max(
        int(per_household.max(initial=0)),
        int(rows[people.supporter_codes[:, SC_PERSON]].max(initial=0)),
    )
    return 2 * max(widest, 1)


def assess(
    hh: Households, people: People, records: Records, pack: Pack, *, threads: bool = True
) -> Outputs:
    """Assess every household (RULES.md §2–§11) and return the filled `Outputs`.

    `threads=False` runs the households one after another on the calling thread (no
    parallel region): for calls of a few households, where starting and waking the
    thread pool costs more than the work. The outputs are identical either way.
    Arrays must be C-contiguous with the dtypes and widths of `kernels.layout`;
    anything else is refused with a TypeError naming the argument."""
    for group, cls in ((hh, Households), (people, People), (records, Records), (pack, Pack)):
        if not isinstance(group, cls):
            raise TypeError(f"expected {cls.__name__}, got {type(group).__name__}")
    _check_group(
        hh,
        (
            ("codes", I32, N_HC),
            ("money", I64, N_HM),
            ("member_off", I64, None),
            ("supporter_off", I64, None),
        ),
    )
    _check_group(
        people,
        (
            ("member_codes", I32, N_MC),
            ("member_money", I64, N_MM),
            ("supporter_codes", I32, N_SC),
            ("person_ranges", I64, 2 * N_TABLES),
            ("instance_off", I64, N_TABLES),
        ),
    )
    _check_group(
        records,
        (
            ("tax_codes", I32, 1),
            ("tax_money", I64, 1),
            ("business_codes", I32, 2),
            ("business_money", I64, 1),
            ("bank_money", I64, 2),
            ("vehicle_codes", I32, 3),
            ("vehicle_money", I64, 1),
            ("property_codes", I32, 6),
            ("property_money", I64, 2),
            ("social_codes", I32, 3),
            ("social_money", I64, 2),
        ),
    )
    _check("Pack.params", pack.params, I64, N_PARAMS)
    _check("Pack.program_count", pack.program_count, I64)
    _check(
        "Pack.program_statuses",
        pack.program_statuses,
        I64,
        getattr(pack.program_statuses, "shape", (0, 0))[-1],
    )
    _check("Pack.program_requires", pack.program_requires, I64, pack.program_statuses.shape[1])
    n_h = hh.codes.shape[0]
    if hh.member_off.shape[0] != n_h + 1 or hh.supporter_off.shape[0] != n_h + 1:
        raise TypeError("Households.member_off and supporter_off must have H + 1 entries")
    if n_h and np.any(np.diff(hh.member_off) < 1):
        raise ValueError("every household needs at least one member (RULES.md §1)")
    if pack.params.shape[0] and n_h:
        rows = hh.codes[:, HC_PACK]
        if rows.min() < 0 or rows.max() >= pack.params.shape[0]:
            raise ValueError("Households.codes pack row out of range")
    if pack.program_statuses.shape[1] > 62:
        raise ValueError("a pack defines more than 62 programs")
    counts = (
        people.instance_off[-1]
        + (
            people.person_ranges[people.member_codes[-1, MC_PERSON], 1::2]
            - people.person_ranges[people.member_codes[-1, MC_PERSON], 0::2]
        )
        if people.member_codes.shape[0]
        else np.zeros(N_TABLES, np.int64)
    )
    n_m = people.member_codes.shape[0]
    out = Outputs(
        household=np.zeros((n_h, N_O), I64),
        member=np.zeros((n_m, N_MO), I64),
        evidence_slot=np.full((n_h, N_VETOES), -1, I64),
        evidence_instance=np.full((n_h, N_VETOES), -1, I64),
        business_vetoes=np.zeros(counts[BUSINESS], I32),
        bank_vetoes=np.zeros(counts[BANK], I32),
        vehicle_vetoes=np.zeros(counts[VEHICLE], I32),
        property_vetoes=np.zeros(counts[PROPERTY], I32),
        social_vetoes=np.zeros(counts[SOCIAL], I32),
        scratch=np.zeros(
            (config.NUMBA_NUM_THREADS if threads else 1, _work_width(hh, people)), I64
        ),
    )
    if n_h:
        (_assess_all if threads else _assess_serial)(hh, people, records, pack, out)
    return out
