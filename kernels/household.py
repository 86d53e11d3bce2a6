"""RULES.md §2–§11 for one household (serial): the member pass, supporters, the rest.

`assess_household` reads each member's rows once, table by table (`kernels.records`:
the §3/§5 sums and the §6 row checks together) and takes what the member adds to
§7, §9 and §11 while its age and coefficient are at hand; then §4 supporters, §5, the
aggregate vetoes (their rows marked only when they fire), §8, §7, §9 and §11 over those
sums. Each section's rules live in its own module (`income`, `veto`, `outcome`); this
one only orders them and writes the household's outputs, every cell once.
"""

from __future__ import annotations

from .arith import add_months_civil, age_on, civil_from_days, count_distinct, rhu
from .income import (
    education_deduction,
    employment_income,
    labour_coefficient,
    medical_deduction,
    pension_deduction,
    support,
    tax_sums,
)
from .jit import inline, serial
from .layout import (
    BANK,
    BUSINESS,
    EXEMPT_NONE,
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
    MC_REFUSED,
    MC_STUDENT,
    MM_TUITION,
    MOC_AGE,
    MOC_BASIS,
    MOC_COEFFICIENT,
    MOC_REFUSED_WORK,
    MOM_EMPLOYMENT,
    MOM_INCOME,
    MOM_VERIFIED,
    N_DEPARTMENTS,
    OC_CIRCLE,
    OC_INDEX,
    OC_NOT_CHECKED,
    OC_OWNED_PROPERTIES,
    OC_OWNED_VEHICLES,
    OC_PHASEOUT,
    OC_STATUS,
    OC_TRANSITION,
    OC_UNDECLARED,
    OC_VETOES,
    OM_ASSETS,
    OM_BENEFIT,
    OM_EDUCATION,
    OM_ELIGIBLE,
    OM_GROSS,
    OM_INCOME_TOLERANCE,
    OM_MEDICAL,
    OM_NET,
    OM_PCI,
    OM_PENSION,
    OM_STANDARD,
    OM_VERIFIED_MONTHLY,
    P_DIBAO_URBAN,
    P_LOW_INCOME_RATIO,
    P_RECENT_PURCHASE,
    P_RECENT_TRANSFER,
    P_RECENT_VEHICLE,
    P_VETO_ENABLED,
    PROPERTY,
    SC_EXEMPT,
    SOCIAL,
    TAX,
    V01_BY_VALUE,
    VEHICLE,
)
from .outcome import (
    addon,
    circle,
    difficulty_index,
    eligible_programs,
    member_points,
    member_requirements,
    single_gap,
    status,
    transition,
    unable_to_work,
)
from .records import bank_rows, business_rows, property_rows, social_rows, vehicle_rows
from .veto import (
    V01,
    V02,
    V04,
    V08,
    V11,
    financial,
    housing,
    insurance_grade,
    mark_financial,
    mark_housing,
    mark_resident_contributions,
    mark_vehicle_count,
    refused_work,
    too_many_vehicles,
    undeclared,
    veto_mask,
)


@serial
def calendar(d, par):
    """§0 the household's date once: its civil date (for ages) and the lower ends of the
    V14, V09 and V10 windows (add_months(D, -months))."""
    year, month, day = civil_from_days(d)
    return (
        (year, month, day),
        add_months_civil(year, month, day, -par[P_RECENT_VEHICLE]),
        add_months_civil(year, month, day, -par[P_RECENT_PURCHASE]),
        add_months_civil(year, month, day, -par[P_RECENT_TRANSFER]),
    )


@inline
def assess_household(h, dates, hh, people, records, pack, out, work):
    """RULES.md §2–§11 for household h (serial); `dates` = its `calendar`."""
    codes, money = hh.codes, hh.money
    pack_row = codes[h, HC_PACK]
    par = pack.params[pack_row]
    d = codes[h, HC_DATE]
    area = codes[h, HC_AREA]
    m0, m1 = hh.member_off[h], hh.member_off[h + 1]
    s0, s1 = hh.supporter_off[h], hh.supporter_off[h + 1]
    n = m1 - m0
    standard = par[P_DIBAO_URBAN + area]
    enabled = par[P_VETO_ENABLED]
    keep = enabled | ((enabled >> V01) & 1) << V01_BY_VALUE  # bits a row may keep
    (year, month, day), since_vehicle, since_purchase, since_transfer = dates
    windows = (since_purchase, since_transfer)
    # arrays bound to names once: numba handles a store through a namedtuple attribute
    # (out.x[i] = v) or a call taking the tuple at a high price
    mcodes, ranges, ioff = people.member_codes, people.person_ranges, people.instance_off
    pcodes, vcodes, scodes = records.property_codes, records.vehicle_codes, records.social_codes
    pbits, vbits, sbits = out.property_vetoes, out.vehicle_vetoes, out.social_vetoes
    omoney, ocodes = out.member_money, out.member_codes
    q = work.shape[0] // 4
    plates = (work[:q], work[q : 2 * q])  # owned plates: of a veto type, of any type
    ids = (work[2 * q : 3 * q], work[3 * q :])  # owned property ids: residential, any use
    n_plates = (0, 0)
    n_ids = (0, 0)
    gross = 0
    verified = 0
    fa = 0
    paid = 0
    education = 0
    pension = 0
    homes_area = 0
    found = 0  # triggered vetoes (bit v = V(v+1)), enabled or not
    tekun = True
    addons = 0
    any_ill = False
    gaps = 0
    points = 0
    requirements = 0
    # the member pass: §2, every row of the member's records once (§3, §5, §6), and
    # what the member adds to §7, §9 and §11
    for slot in range(m0, m1):
        person = mcodes[slot, MC_PERSON]
        age = age_on(mcodes[slot, MC_BIRTH], year, month, day)
        health = mcodes[slot, MC_HEALTH]
        level = mcodes[slot, MC_STUDENT]
        occupation = mcodes[slot, MC_OCCUPATION]
        c = labour_coefficient(age, health, level, par)
        wage, business, other = tax_sums(
            records.tax_codes,
            records.tax_money,
            ranges[person, 2 * TAX],
            ranges[person, 2 * TAX + 1],
        )
        interest, balance = bank_rows(
            records.bank_money,
            out.bank_vetoes,
            ranges[person, 2 * BANK],
            ranges[person, 2 * BANK + 1],
            ioff[slot, BANK],
        )
        rental, share_area, n_ids, f_property = property_rows(
            pcodes,
            records.property_money,
            pbits,
            ranges[person, 2 * PROPERTY],
            ranges[person, 2 * PROPERTY + 1],
            ioff[slot, PROPERTY],
            d,
            windows,
            keep,
            ids,
            n_ids,
        )
        n_plates, f_vehicle = vehicle_rows(
            vcodes,
            records.vehicle_money,
            vbits,
            ranges[person, 2 * VEHICLE],
            ranges[person, 2 * VEHICLE + 1],
            ioff[slot, VEHICLE],
            d,
            since_vehicle,
            par,
            keep,
            plates,
            n_plates,
        )
        f_business = business_rows(
            records.business_codes,
            records.business_money,
            out.business_vetoes,
            ranges[person, 2 * BUSINESS],
            ranges[person, 2 * BUSINESS + 1],
            ioff[slot, BUSINESS],
            par,
            keep,
        )
        s_start, s_end = ranges[person, 2 * SOCIAL], ranges[person, 2 * SOCIAL + 1]
        transfer, medical, contribution, resident, f_social = social_rows(
            scodes, records.social_money, sbits, s_start, s_end, ioff[slot, SOCIAL], par, keep
        )
        found |= f_property | f_vehicle | f_business | f_social
        homes_area += share_area
        if insurance_grade(resident, par):
            found |= 1 << V08
            if (enabled >> V08) & 1:
                mark_resident_contributions(scodes, sbits, s_start, s_end, ioff[slot, SOCIAL])
        refused = refused_work(c, mcodes[slot, MC_REFUSED], par)
        if refused:
            found |= 1 << V11
        employment, basis = employment_income(wage, c, occupation, area, par)
        rest = business + other + interest + rental + transfer
        income = employment + rest
        omoney[MOM_EMPLOYMENT, slot] = employment
        omoney[MOM_INCOME, slot] = income
        omoney[MOM_VERIFIED, slot] = wage + rest
        ocodes[MOC_AGE, slot] = age
        ocodes[MOC_COEFFICIENT, slot] = c
        ocodes[MOC_BASIS, slot] = basis
        ocodes[MOC_REFUSED_WORK, slot] = 1 if refused and (enabled >> V11) & 1 == 1 else 0
        gross += income
        verified += wage + rest
        fa += balance
        paid += medical
        education += education_deduction(level, people.member_money[slot, MM_TUITION], par)
        pension += pension_deduction(contribution, par)
        tekun = tekun and unable_to_work(c, age, health)
        addons += rhu(standard * addon(age, health, par), 1000)
        ill, gap = single_gap(health, income, standard)
        any_ill = any_ill or ill
        gaps += gap
        points += member_points(age, health, level, par)
        requirements |= member_requirements(c, age, health, level, occupation, par)
    # §6 §8 §9 distinct counts (the scratch lists are free again afterwards)
    veto_plates = count_distinct(plates[0], n_plates[0])
    owned_vehicles = count_distinct(plates[1], n_plates[1])
    residential = count_distinct(ids[0], n_ids[0])
    owned_properties = count_distinct(ids[1], n_ids[1])
    # §4 supporters
    for slot in range(s0, s1):
        gross += support(slot, year, month, day, d, par, people, records, work)
        # §7 step 2: no supporter liable to support
        tekun = tekun and people.supporter_codes[slot, SC_EXEMPT] != EXEMPT_NONE
    # §5
    medical = medical_deduction(paid, par)
    net = max(gross - medical - education - pension, 0)
    pci = rhu(net, 12 * n)
    low = rhu(standard * par[P_LOW_INCOME_RATIO], 1000)
    # §6 aggregate vetoes; their rows are marked only when they fire
    if too_many_vehicles(veto_plates, par):
        found |= 1 << V01
        if (enabled >> V01) & 1:
            for slot in range(m0, m1):
                person = mcodes[slot, MC_PERSON]
                start, end = ranges[person, 2 * VEHICLE], ranges[person, 2 * VEHICLE + 1]
                mark_vehicle_count(vcodes, vbits, start, end, ioff[slot, VEHICLE], d, par)
    if housing(residential, homes_area, n, par):
        found |= 1 << V02
        if (enabled >> V02) & 1:
            for slot in range(m0, m1):
                person = mcodes[slot, MC_PERSON]
                start, end = ranges[person, 2 * PROPERTY], ranges[person, 2 * PROPERTY + 1]
                mark_housing(pcodes, pbits, start, end, ioff[slot, PROPERTY], d)
    if financial(fa, standard, n, par):
        found |= 1 << V04
        if (enabled >> V04) & 1:
            for slot in range(m0, m1):
                person = mcodes[slot, MC_PERSON]
                count = ranges[person, 2 * BANK + 1] - ranges[person, 2 * BANK]
                mark_financial(out.bank_vetoes, ioff[slot, BANK], count)
    # §8
    undeclared_mask, monthly, tolerance = undeclared(
        h, verified, owned_vehicles, owned_properties, fa, par, money
    )
    mask = veto_mask(found, codes[h, HC_CONSENT], undeclared_mask, par)
    # §7
    prev, prev_benefit = codes[h, HC_PREV_STATUS], money[h, HM_PREV_BENEFIT]
    state, benefit, months = status(
        mask != 0, tekun, n, pci, standard, low, addons, any_ill, gaps, prev, prev_benefit, par
    )
    not_checked = 0
    for k in range(N_DEPARTMENTS):
        if codes[h, HC_CHECKED + k] == 0:
            not_checked |= 1 << k
    o = out.household_money
    o[OM_BENEFIT, h] = benefit
    o[OM_PCI, h] = pci
    o[OM_STANDARD, h] = standard
    o[OM_GROSS, h] = gross
    o[OM_MEDICAL, h] = medical
    o[OM_EDUCATION, h] = education
    o[OM_PENSION, h] = pension
    o[OM_NET, h] = net
    o[OM_ASSETS, h] = fa
    o[OM_VERIFIED_MONTHLY, h] = monthly
    o[OM_INCOME_TOLERANCE, h] = tolerance
    # §11
    o[OM_ELIGIBLE, h] = eligible_programs(pack_row, state, requirements, medical, residential, pack)
    oc = out.household_codes
    oc[OC_STATUS, h] = state
    oc[OC_PHASEOUT, h] = months
    oc[OC_CIRCLE, h] = circle(state, pci, standard, low, par)
    oc[OC_TRANSITION, h] = transition(state, benefit, prev, prev_benefit)
    oc[OC_VETOES, h] = mask
    # §9
    oc[OC_INDEX, h] = difficulty_index(
        points, n, pci, standard, fa, residential, owned_vehicles > 0, par
    )
    oc[OC_NOT_CHECKED, h] = not_checked
    oc[OC_UNDECLARED, h] = undeclared_mask
    oc[OC_OWNED_VEHICLES, h] = owned_vehicles
    oc[OC_OWNED_PROPERTIES, h] = owned_properties
