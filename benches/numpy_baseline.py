"""RULES.md §2–§11 in plain vectorised NumPy, over the kernels' arrays: a benchmark baseline.

What a careful NumPy programmer writes without numba: whole-array operations on the
arrays of `meanstest.kernels.layout` (as assembled by `meanstest.assemble`), record
instances expanded with `np.repeat`, sums as differences of cumulative sums, distinct
counts with `np.unique`, conditions with `np.where`/`np.select`. Integer arithmetic only,
like the kernels. It returns the same `Outputs` (every array but the scratch space), so
the benchmark and tests/test_numpy_baseline.py check it equal to the kernels array for
array. It is not part of the engine and nothing in meanstest imports it.
"""

from __future__ import annotations

import numpy as np
from meanstest.kernels import layout as L
from meanstest.kernels.layout import Households, Outputs, Pack, People, Records

I64 = np.int64
INT64_MAX = np.iinfo(I64).max
_DIM = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], I64)
V = {f"V{i + 1:02d}": i for i in range(L.N_VETOES)}


# §0 arithmetic on arrays -----------------------------------------------------------------


def rhu(a, b):
    return (2 * a + b) // (2 * b)


def yuan(x):
    return rhu(x, 100) * 100


def limit_times(a, b):
    """a × b saturated at int64's maximum (thresholds only, as kernels.arith)."""
    a, b = np.asarray(a, I64), np.asarray(b, I64)
    over = a > INT64_MAX // np.where(b == 0, 1, b)
    return np.where((a == 0) | (b == 0), 0, np.where(over, INT64_MAX, a * b))


def limit_plus(a, b):
    return np.where(a > INT64_MAX - b, INT64_MAX, a + b)


def civil_from_days(z):
    z = z.astype(I64) + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (m <= 2), m, d


def days_from_civil(y, m, d):
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def age_years(birth, on):
    by, bm, bd = civil_from_days(birth)
    y, m, d = civil_from_days(on)
    return y - by - ((m < bm) | ((m == bm) & (d < bd)))


def add_months(day, months):
    y, m, d = civil_from_days(day)
    total = y * 12 + (m - 1) + months
    y2 = total // 12
    m2 = total - y2 * 12 + 1
    leap = ((y2 % 4 == 0) & (y2 % 100 != 0)) | (y2 % 400 == 0)
    dim = _DIM[m2] + ((m2 == 2) & leap)
    return days_from_civil(y2, m2, np.minimum(dim, d))


# grouping --------------------------------------------------------------------------------


def segment_sum(values, off):
    """Sum of values[off[g]:off[g+1]] for every group g (exact int64)."""
    cs = np.zeros(len(values) + 1, I64)
    np.cumsum(values, out=cs[1:])
    return cs[off[1:]] - cs[off[:-1]]


def distinct(group, code, mask, n_groups):
    """Number of distinct codes among the rows in `mask`, per group."""
    keys = np.unique((group[mask].astype(I64) << 32) | code[mask].astype(I64))
    return np.bincount(keys >> 32, minlength=n_groups).astype(I64)


class Instances:
    """The record instances of one table for owners (member or supporter slots): the
    rows of each owner's person, owner after owner (the kernels' instance numbering)."""

    def __init__(self, ranges, person, t, owner_household):
        start = ranges[person, 2 * t]
        count = ranges[person, 2 * t + 1] - start
        self.off = np.zeros(len(person) + 1, I64)
        np.cumsum(count, out=self.off[1:])
        self.owner = np.repeat(np.arange(len(person)), count)
        self.row = np.arange(self.off[-1]) + np.repeat(start - self.off[:-1], count)
        self.household = owner_household[self.owner]

    def sum(self, values):
        return segment_sum(values, self.off)


def any_hit(inst, mask, n_h):
    """Households with at least one instance in `mask`."""
    return np.bincount(inst.household[mask], minlength=n_h) > 0


# §2 §3 -----------------------------------------------------------------------------------


def labour_coefficient(age, health, level, rows, params):
    band = np.full(len(age), 4, I64)
    for i in range(3, -1, -1):
        band = np.where(age <= params[rows, L.P_AGE_BANDS + i], i, band)
    c = params[rows, L.P_LABOUR + (health - 1) * 5 + band]
    # level NO_LEVEL (-1, a supporter: RULES.md §4) skips the student step
    student = (level >= 0) & ((params[rows, L.P_NO_LABOUR_LEVELS] >> np.maximum(level, 0)) & 1 == 1)
    return np.where((age < 16) | student, 0, c)


def record_sums(people, records, params, person, own_d, own_pk, own_h):
    """§3 sums of each owner's records, and the instances they came from."""
    r = people.person_ranges
    inst = {t: Instances(r, person, t, own_h) for t in range(L.N_TABLES)}
    tax, bank, prop, social = inst[L.TAX], inst[L.BANK], inst[L.PROPERTY], inst[L.SOCIAL]
    kind, amount = records.tax_codes[tax.row, 0], records.tax_money[tax.row, 0]
    s = {
        "wage": tax.sum(np.where((kind == L.INCOME_WAGE) | (kind == L.INCOME_LABOUR), amount, 0)),
        "business": tax.sum(np.where(kind == L.INCOME_BUSINESS, amount, 0)),
        "other": tax.sum(np.where(kind == L.INCOME_OTHER, amount, 0)),
    }
    bm = records.bank_money[bank.row]
    s["balance"] = bank.sum(bm[:, L.KM_BALANCE])
    pc, d = records.property_codes[prop.row], own_d[prop.owner]
    owned = (pc[:, L.PC_ACQUIRED] <= d) & (pc[:, L.PC_DISPOSED] > d)
    rent = rhu(records.property_money[prop.row, L.PM_RENTAL] * pc[:, L.PC_SHARE], 1000)
    s["property"] = bank.sum(bm[:, L.KM_INTEREST]) + prop.sum(np.where(owned, rent, 0))
    sc, sm = records.social_codes[social.row], records.social_money[social.row]
    kind, amount = sc[:, L.SIC_RECORD_TYPE], sm[:, L.SIM_AMOUNT]
    counted = (params[own_pk[social.owner], L.P_COUNTED_TRANSFERS] >> np.minimum(kind, 2)) & 1
    s["transfer"] = social.sum(np.where((kind < 3) & (counted == 1), amount, 0))
    paid = amount - sm[:, L.SIM_REIMBURSED]
    s["medical"] = social.sum(np.where((kind == L.RT_MEDICAL) & (paid > 0), paid, 0))
    contribution = kind == L.RT_PENSION_CONTRIBUTION
    s["contribution"] = social.sum(np.where(contribution, amount, 0))
    resident = contribution & (sc[:, L.SIC_SCHEME] == L.SCHEME_RESIDENT)
    s["resident"] = social.sum(np.where(resident, amount, 0))
    s["resident_rows"] = social.sum(resident.astype(I64))
    return s, inst


def imputed_work(c, rows, params):
    return rhu(c * params[rows, L.P_MIN_WAGE] * params[rows, L.P_WORK_MONTHS], 1000)


# §4 --------------------------------------------------------------------------------------


def support(people, records, params, d, pk, supporter_off):
    n_h = len(d)
    sh = np.repeat(np.arange(n_h), np.diff(supporter_off))
    sc = people.supporter_codes.astype(I64)
    spk, sd = pk[sh], d[sh]
    s, inst = record_sums(people, records, params, sc[:, L.SC_PERSON], sd, spk, sh)
    income = s["wage"] + s["business"] + s["other"] + s["transfer"]
    c = labour_coefficient(
        age_years(sc[:, L.SC_BIRTH], sd),
        sc[:, L.SC_HEALTH],
        np.full(len(sc), L.NO_LEVEL, I64),
        spk,
        params,
    )
    income = np.where(income == 0, imputed_work(c, spk, params), income)
    veh = inst[L.VEHICLE]
    vc, vpk = records.vehicle_codes[veh.row], spk[veh.owner]
    luxury = (
        (vc[:, L.VC_REGISTERED] <= sd[veh.owner])
        & (((params[vpk, L.P_VEHICLE_TYPES] >> vc[:, L.VC_TYPE]) & 1) == 1)
        & (records.vehicle_money[veh.row, L.VM_VALUE] > params[vpk, L.P_VEHICLE_VALUE_LIMIT])
    )
    prop = inst[L.PROPERTY]
    pc, pd = records.property_codes[prop.row], sd[prop.owner]
    home = (
        (pc[:, L.PC_USE] == L.USE_RESIDENTIAL)
        & (pc[:, L.PC_ACQUIRED] <= pd)
        & (pc[:, L.PC_DISPOSED] > pd)
    )
    homes = distinct(prop.owner, pc[:, L.PC_PROPERTY], home, len(sc))
    elevated = (
        (veh.sum(luxury.astype(I64)) > 0)
        | (homes > params[spk, L.P_MAX_RESIDENTIAL])
        | (s["balance"] > params[spk, L.P_SUPPORTER_ASSET_LIMIT])
    )
    ratio = params[spk, L.P_SECTOR_RATIO + sc[:, L.SC_SECTOR]]
    ratio = ratio + np.where(elevated, params[spk, L.P_ELEVATED_BONUS], 0)
    share = rhu(income * ratio * sc[:, L.SC_COUNT], 1000)
    owed = np.minimum(rhu(income * params[spk, L.P_CAP_RATIO], 1000), share)
    owed = np.where(sc[:, L.SC_EXEMPT] != L.EXEMPT_NONE, 0, owed)
    liable = (sc[:, L.SC_EXEMPT] == L.EXEMPT_NONE).astype(I64)
    return segment_sum(owed, supporter_off), segment_sum(liable, supporter_off)


# the whole pass --------------------------------------------------------------------------


def assess(hh: Households, people: People, records: Records, pack: Pack) -> Outputs:
    """Every output array of `meanstest.kernels.assess` (scratch excepted), in NumPy."""
    params = pack.params
    n_h = hh.codes.shape[0]
    pk = hh.codes[:, L.HC_PACK].astype(I64)
    d = hh.codes[:, L.HC_DATE].astype(I64)
    area = hh.codes[:, L.HC_AREA].astype(I64)
    moff = hh.member_off
    n = np.diff(moff)
    mh = np.repeat(np.arange(n_h), n)
    mpk, md = pk[mh], d[mh]

    def P(col):  # a parameter per household
        return params[pk, col]

    def per_h(values):
        return segment_sum(np.asarray(values, I64), moff)

    mc = people.member_codes.astype(I64)
    health, level = mc[:, L.MC_HEALTH], mc[:, L.MC_STUDENT]
    age = age_years(mc[:, L.MC_BIRTH], md)
    c = labour_coefficient(age, health, level, mpk, params)
    s, inst = record_sums(people, records, params, mc[:, L.MC_PERSON], md, mpk, mh)
    wage = s["wage"]
    rest = s["business"] + s["other"] + s["property"] + s["transfer"]
    land = (mc[:, L.MC_OCCUPATION] == L.OCC_FARMING) & (area[mh] == L.AREA_RURAL)
    employment = np.select(
        [wage > 0, c == 0, land],
        [
            wage,
            0,
            rhu(c * params[mpk, L.P_RURAL_INCOME] * params[mpk, L.P_LAND_RATIO], 1000 * 1000),
        ],
        imputed_work(c, mpk, params),
    )
    basis = np.select(
        [wage > 0, c == 0, land],
        [L.BASIS_VERIFIED, L.BASIS_NONE, L.BASIS_IMPUTED_LAND],
        L.BASIS_IMPUTED_WORK,
    )
    income = employment + rest
    # §4 §5
    owed, liable = support(people, records, params, d, pk, hh.supporter_off)
    gross = per_h(income) + owed
    verified = per_h(wage + rest)
    fa = per_h(s["balance"])
    medical = np.minimum(P(L.P_MEDICAL_CAP), per_h(s["medical"]))
    tuition = people.member_money[:, L.MM_TUITION]
    education = per_h(np.minimum(params[mpk, L.P_TUITION_CAP + level], tuition))
    pension = per_h(np.minimum(params[mpk, L.P_PENSION_CAP], s["contribution"]))
    net = np.maximum(gross - medical - education - pension, 0)
    pci = rhu(net, 12 * n)
    standard = params[pk, L.P_DIBAO_URBAN + area]
    low = rhu(standard * P(L.P_LOW_INCOME_RATIO), 1000)
    # §6 §8
    out = _vetoes(hh, records, params, inst, s, c, mc, P, d, n, fa, standard, verified)
    veto_mask, undeclared_mask, residential, any_vehicle, refused, o = out
    # §7
    vetoed = veto_mask != 0
    unable = (c == 0) & ((age >= 60) | (age < 16) | (health == 5) | (health == 6))
    tekun = (per_h(~unable) == 0) & (liable == 0)
    best = np.zeros(len(age), I64)
    for cond, col in (
        (age >= 70, L.P_ADDON_ELDERLY),
        (health == 6, L.P_ADDON_SEVERE),
        (health == 5, L.P_ADDON_SERIOUS),
        (age < 16, L.P_ADDON_CHILD),
    ):
        best = np.where(cond, np.maximum(best, params[mpk, col]), best)
    dibao = yuan((standard - pci) * n + per_h(rhu(standard[mh] * best, 1000)))
    ill = (health == 5) | (health == 6)
    gap = standard[mh] - rhu(income, 12)
    single = yuan(per_h(np.where(ill & (gap > 0), gap, 0)))
    prev, prev_benefit = hh.codes[:, L.HC_PREV_STATUS], hh.money[:, L.HM_PREV_BENEFIT]
    below, band = pci < standard, pci <= low
    phase_out = band & (prev == L.PREV_DIBAO) & (prev_benefit > 0)
    single_ok = band & (per_h(ill) > 0) & (single > 0)
    conds = [vetoed, below & tekun, below, phase_out, single_ok, band]
    state = np.select(
        conds,
        [L.ST_VETOED, L.ST_TEKUN, L.ST_DIBAO, L.ST_PHASE_OUT, L.ST_DIBAO_SINGLE, L.ST_LOW_INCOME],
        L.ST_NOT_ELIGIBLE,
    )
    tekun_benefit = yuan(rhu(standard * P(L.P_TEKUN_RATIO), 1000) * n)
    benefit = np.select(conds, [0, tekun_benefit, dibao, yuan(prev_benefit), single, 0], 0)
    months = np.where(state == L.ST_PHASE_OUT, P(L.P_PHASEOUT_MONTHS), 0)
    circle = np.select(
        [
            vetoed,
            below | (state == L.ST_TEKUN),
            band,
            pci <= rhu(low * P(L.P_CIRCLE3), 1000),
            pci <= rhu(low * P(L.P_CIRCLE4), 1000),
        ],
        [0, 1, 2, 3, 4],
        0,
    )
    enrolled = (state == L.ST_TEKUN) | (state == L.ST_DIBAO) | (state == L.ST_DIBAO_SINGLE)
    was = (prev == L.PREV_DIBAO) | (prev == L.PREV_TEKUN)
    transition = np.select(
        [
            enrolled & was & (benefit == prev_benefit),
            enrolled & was,
            enrolled,
            state == L.ST_PHASE_OUT,
            was | (prev == L.PREV_PHASE_OUT),
        ],
        [L.TR_CONTINUE, L.TR_ADJUST, L.TR_NEW, L.TR_PHASE_OUT, L.TR_EXIT],
        L.TR_NONE,
    )
    # §9
    points = np.select(
        [age >= 70, age >= 60, age < 16],
        [params[mpk, L.P_AGE_70], params[mpk, L.P_AGE_60], params[mpk, L.P_AGE_CHILD]],
        0,
    )
    points = points + params[mpk, L.P_HEALTH_POINTS + health - 1]
    points = points + params[mpk, L.P_STUDENT_POINTS + level]
    member_points = np.minimum(per_h(points), P(L.P_MEMBER_CAP))
    safe = np.where(standard == 0, 1, standard)
    income_points = np.where(below, rhu((standard - pci) * P(L.P_INCOME_MAX), safe), 0)
    assets = P(L.P_ASSET_MAX) - limit_times(
        P(L.P_EXTRA_PROPERTY_PENALTY), np.maximum(residential - 1, 0)
    )
    assets = assets - np.where(any_vehicle, P(L.P_VEHICLE_PENALTY), 0)
    rich = fa > limit_times(limit_times(P(L.P_ASSET_PENALTY_MONTHS), standard), n)
    assets = np.maximum(assets - np.where(rich, P(L.P_ASSET_PENALTY), 0), 0)
    index = np.minimum(member_points + income_points + assets, 1000)
    # §11
    occupation = mc[:, L.MC_OCCUPATION]
    jobless = (
        (occupation == L.OCC_UNEMPLOYED)
        | (occupation == L.OCC_FLEXIBLE)
        | (occupation == L.OCC_NONE)
    )
    holds = {
        L.REQ_ANY: np.ones(n_h, bool),
        L.REQ_STUDENT: per_h(level > L.LEVEL_PRESCHOOL) > 0,
        L.REQ_MEDICAL: (medical > 0) | (per_h((health == 2) | (health == 4) | (health == 5)) > 0),
        L.REQ_NO_HOME: residential == 0,
        L.REQ_WORK_CAPABLE: per_h((c >= params[mpk, L.P_REFUSED_COEFFICIENT]) & jobless) > 0,
        L.REQ_DISABILITY: per_h((health == 3) | (health == 6)) > 0,
        L.REQ_ELDERLY: per_h(age >= 60) > 0,
    }
    eligible = np.zeros(n_h, I64)
    for p in range(params.shape[0]):
        for i in range(int(pack.program_count[p])):
            ok = (
                (pk == p)
                & ~vetoed
                & (((pack.program_statuses[p, i] >> state) & 1) == 1)
                & holds[int(pack.program_requires[p, i])]
            )
            eligible |= ok.astype(I64) << i
    checked = sum(
        (hh.codes[:, L.HC_CHECKED + k] == 0).astype(I64) << k for k in range(L.N_DEPARTMENTS)
    )
    household_money = np.empty((L.N_OM, n_h), I64)
    for row, values in (
        (L.OM_BENEFIT, benefit),
        (L.OM_PCI, pci),
        (L.OM_STANDARD, standard),
        (L.OM_GROSS, gross),
        (L.OM_MEDICAL, medical),
        (L.OM_EDUCATION, education),
        (L.OM_PENSION, pension),
        (L.OM_NET, net),
        (L.OM_ASSETS, fa),
        (L.OM_VERIFIED_MONTHLY, o["monthly"]),
        (L.OM_INCOME_TOLERANCE, o["tolerance"]),
        (L.OM_ELIGIBLE, eligible),
    ):
        household_money[row] = values
    household_codes = np.empty((L.N_OC, n_h), np.int32)
    for row, values in (
        (L.OC_STATUS, state),
        (L.OC_PHASEOUT, months),
        (L.OC_CIRCLE, circle),
        (L.OC_TRANSITION, transition),
        (L.OC_VETOES, veto_mask),
        (L.OC_INDEX, index),
        (L.OC_NOT_CHECKED, checked),
        (L.OC_UNDECLARED, undeclared_mask),
        (L.OC_OWNED_VEHICLES, o["owned_vehicles"]),
        (L.OC_OWNED_PROPERTIES, o["owned_properties"]),
    ):
        household_codes[row] = values
    v11 = ((veto_mask >> V["V11"]) & 1)[mh] == 1
    return Outputs(
        household_money=household_money,
        household_codes=household_codes,
        member_money=np.stack([employment, income, wage + rest]).astype(I64),
        member_codes=np.stack([age, c, basis, refused & v11]).astype(np.int32),
        scratch=np.zeros((0, 0), np.int32),
        **o["bits"],
    )


def _vetoes(hh, records, params, inst, s, c, mc, P, d, n, fa, standard, verified):
    """§6 and §8 over the members' record instances."""
    n_h = len(d)
    flags = {}

    def hit(t, mask, code):
        flags[code] = any_hit(inst[t], mask, n_h)

    def bit(mask, code):
        return mask.astype(np.int32) << V[code]

    def window(t, day, months_col):
        lo = add_months(d, -P(months_col))[inst[t].household]
        return (lo < day) & (day <= d[inst[t].household])

    # V01 V14
    veh = inst[L.VEHICLE]
    vc, vh = records.vehicle_codes[veh.row], veh.household
    veto_type = ((P(L.P_VEHICLE_TYPES)[vh] >> vc[:, L.VC_TYPE]) & 1) == 1
    registered = vc[:, L.VC_REGISTERED]
    recent = veto_type & window(L.VEHICLE, registered, L.P_RECENT_VEHICLE)
    owned = registered <= d[vh]
    by_value = (
        owned
        & veto_type
        & (records.vehicle_money[veh.row, L.VM_VALUE] > P(L.P_VEHICLE_VALUE_LIMIT)[vh])
    )
    hit(L.VEHICLE, recent, "V14")
    hit(L.VEHICLE, by_value, "V01")
    plate = vc[:, L.VC_PLATE]
    by_count = distinct(vh, plate, owned & veto_type, n_h) > P(L.P_MAX_VEHICLES)
    flags["V01"] = flags["V01"] | by_count
    owned_vehicles = distinct(vh, plate, owned, n_h)
    vehicle_bits = (
        bit(by_value | (owned & veto_type & by_count[vh]), "V01")
        | bit(recent, "V14")
        | (by_value.astype(np.int32) << L.V01_BY_VALUE)
    )
    # V02 V03 V09 V10
    prop = inst[L.PROPERTY]
    pc, ph = records.property_codes[prop.row], prop.household
    acquired, disposed = pc[:, L.PC_ACQUIRED], pc[:, L.PC_DISPOSED]
    purchase = (pc[:, L.PC_ACQUISITION] == L.ACQ_PURCHASE) & window(
        L.PROPERTY, acquired, L.P_RECENT_PURCHASE
    )
    transfer = window(L.PROPERTY, disposed, L.P_RECENT_TRANSFER)
    owned = (acquired <= d[ph]) & (disposed > d[ph])
    use = pc[:, L.PC_USE]
    home = owned & (use == L.USE_RESIDENTIAL)
    nonresidential = owned & (use != L.USE_RESIDENTIAL) & (use != L.USE_OTHER)
    hit(L.PROPERTY, purchase, "V09")
    hit(L.PROPERTY, transfer, "V10")
    hit(L.PROPERTY, nonresidential, "V03")
    pid = pc[:, L.PC_PROPERTY]
    residential = distinct(ph, pid, home, n_h)
    hoff = prop.off[hh.member_off]
    area = segment_sum(
        np.where(
            home, rhu(records.property_money[prop.row, L.PM_AREA] * pc[:, L.PC_SHARE], 1000), 0
        ),
        hoff,
    )
    flags["V02"] = (residential > P(L.P_MAX_RESIDENTIAL)) | (
        area > limit_times(P(L.P_AREA_LIMIT), n)
    )
    owned_properties = distinct(ph, pid, owned, n_h)
    property_bits = (
        bit(home, "V02") | bit(nonresidential, "V03") | bit(purchase, "V09") | bit(transfer, "V10")
    )
    # V05 V07
    biz = inst[L.BUSINESS]
    bc, bh = records.business_codes[biz.row], biz.household
    business = (bc[:, L.BC_ROLE] != L.ROLE_SELF_EMPLOYED) | (
        records.business_money[biz.row, L.BM_TURNOVER] > P(L.P_TURNOVER_LIMIT)[bh]
    )
    employer = bc[:, L.BC_EMPLOYEES] >= 1
    hit(L.BUSINESS, business, "V05")
    hit(L.BUSINESS, employer, "V07")
    business_bits = bit(business, "V05") | bit(employer, "V07")
    # V06 V08
    soc = inst[L.SOCIAL]
    sc = records.social_codes[soc.row]
    kind, employer_type = sc[:, L.SIC_RECORD_TYPE], sc[:, L.SIC_EMPLOYER]
    public = (kind == L.RT_EMPLOYMENT) & (
        (employer_type == L.EMPLOYER_GOVERNMENT) | (employer_type == L.EMPLOYER_PUBLIC_INSTITUTION)
    )
    mh = np.repeat(np.arange(n_h), n)
    over = s["resident"] > P(L.P_INSURANCE_GRADE_LIMIT)[mh]
    grade = (
        over[soc.owner]
        & (kind == L.RT_PENSION_CONTRIBUTION)
        & (sc[:, L.SIC_SCHEME] == L.SCHEME_RESIDENT)
    )
    hit(L.SOCIAL, public, "V06")
    hit(L.SOCIAL, grade, "V08")
    social_bits = bit(public, "V06") | bit(grade, "V08")
    # V04
    flags["V04"] = fa > limit_times(limit_times(P(L.P_ASSET_MONTHS), standard), n)
    bank_bits = bit(flags["V04"][inst[L.BANK].household], "V04")
    # V11
    refused = (c >= P(L.P_REFUSED_COEFFICIENT)[mh]) & (
        mc[:, L.MC_REFUSED] >= P(L.P_REFUSED_COUNT)[mh]
    )
    flags["V11"] = np.bincount(mh[refused], minlength=n_h) > 0
    flags["V12"] = hh.codes[:, L.HC_CONSENT] == 0
    # §8 UNDECLARED_*
    money = hh.money
    monthly = rhu(verified, 12)
    declared = money[:, L.HM_DECLARED_INCOME]
    tolerance = np.maximum(rhu(declared * P(L.P_DECLARATION_RATIO), 1000), P(L.P_DECLARATION_ABS))
    tolerance = np.where(declared >= 0, tolerance, 0)
    undeclared = ((declared >= 0) & (monthly > limit_plus(declared, tolerance))).astype(I64)
    for k, (col, count) in enumerate(
        ((L.HM_DECLARED_VEHICLES, owned_vehicles), (L.HM_DECLARED_PROPERTIES, owned_properties)),
        start=1,
    ):
        declared = money[:, col]
        undeclared |= ((declared >= 0) & (count > declared)).astype(I64) << k
    declared = money[:, L.HM_DECLARED_ASSETS]
    asset_abs = P(L.P_ASSET_DECLARATION_ABS)
    undeclared |= ((declared >= 0) & (fa > limit_plus(declared, asset_abs))).astype(I64) << 3
    flags["V13"] = undeclared != 0
    mask = sum(flags[code].astype(I64) << v for code, v in V.items())
    mask &= P(L.P_VETO_ENABLED)
    # an instance keeps the bits of the vetoes that fired for its household; V01's
    # by-value bit goes with V01
    fired = mask | (((mask >> V["V01"]) & 1) << L.V01_BY_VALUE)

    def kept(t, bits):
        return (bits & fired[inst[t].household]).astype(np.int16)

    bits = {
        "business_vetoes": kept(L.BUSINESS, business_bits),
        "bank_vetoes": kept(L.BANK, bank_bits),
        "vehicle_vetoes": kept(L.VEHICLE, vehicle_bits),
        "property_vetoes": kept(L.PROPERTY, property_bits),
        "social_vetoes": kept(L.SOCIAL, social_bits),
    }
    rest = {
        "bits": bits,
        "monthly": monthly,
        "tolerance": tolerance,
        "owned_vehicles": owned_vehicles,
        "owned_properties": owned_properties,
    }
    any_vehicle = owned_vehicles > 0
    return mask, undeclared, residential, any_vehicle, refused, rest
