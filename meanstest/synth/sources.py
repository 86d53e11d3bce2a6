"""Background department records of members and supporters (RULES.md §3 inputs)."""

from __future__ import annotations

import numpy as np

from meanstest.synth.common import _IX, _NO_DATE, _pick, _split
from meanstest.synth.households import _SUP_BANK, _SUP_MED, _SUP_PC, _SUP_PROP, _Block


def _sources(st: _Block) -> None:
    """Background department records of members and supporters (RULES.md §3 inputs)."""
    rng, hh, P = st.rng, st.hh, len(st.hh)
    age, occ, o, inc = st.age, st.occ, _IX["occ"], _IX["inc"]
    nc = ~st.calibrated[hh]
    adult = age >= 18
    sup_h = st.suppress[hh]

    # tax: wages of the uncalibrated, small other income, informational interest/rent
    for mask, lo, hi, kind, rows in (
        (nc & (occ == o["employed"]), 30_000, 80_000, "wage", 3),
        (nc & (occ == o["flexible"]) & (rng.random(P) < 0.6), 5_000, 30_000, "labour", 2),
        (nc & (occ == o["farming"]) & (rng.random(P) < 0.1), 2_000, 10_000, "labour", 1),
    ):
        who = np.flatnonzero(mask)
        owner, amount = _split(rng, st.money(lo, hi, len(who), 1), rng.integers(1, rows + 1,
                                                                              len(who)))  # fmt: skip
        st.add("tax_income", who[owner], inc=inc[kind], amount=amount)
    for kind, p, lo, hi in (("other", 0.03, 500, 5000), ("interest", 0.03, 10, 500),
                            ("rental", 0.01, 1000, 10_000)):  # fmt: skip
        who = np.flatnonzero(adult & (rng.random(P) < p))
        st.add("tax_income", who, inc=inc[kind], amount=st.money(lo, hi, len(who), 1))

    # business registrations: a few small self-employed; in the background a few vetoes
    r = _IX["role"]
    who = np.flatnonzero((age >= 20) & (age < 65) & (rng.random(P) < 0.012))
    turnover = st.money(20_000, 95_000, len(who))
    st.add("business_registration", who, role=r["self_employed"], turnover=turnover)
    st.add("tax_income", who, inc=inc["business"],
           amount=(turnover * st.u(0.1, 0.25, len(who))).astype(np.int64))  # fmt: skip
    bg = st.on("background")[hh] & (age >= 20) & (age < 65)
    who = np.flatnonzero(bg & (rng.random(P) < 0.004))
    st.add("business_registration", who, role=np.where(rng.random(len(who)) < 0.5,
           r["legal_rep"], r["shareholder"]), turnover=st.money(50_000, 900_000, len(who)))  # fmt: skip
    who = np.flatnonzero(bg & (rng.random(P) < 0.004))
    st.add("business_registration", who, role=r["self_employed"],
           turnover=st.money(30_000, 95_000, len(who)), employees=rng.integers(1, 4, len(who)))  # fmt: skip

    # bank
    median = np.select([st.on("working"), st.on("background"), st.on("elderly")],
                       [3_000, 2_500, 1_500], 1_500)[hh]  # fmt: skip
    has = (age >= 16) | (rng.random(P) < 0.1)
    nrows = np.where(has & ~(sup_h & _SUP_BANK).astype(bool), _pick(rng, (0.3, 0.5, 0.2), P), 0)
    owner = np.repeat(np.arange(P), nrows)
    bal = (median[owner] * 100 * np.exp(rng.normal(0, 1.1, len(owner)))).astype(np.int64)
    limit = 24 * st.S[hh][owner] * st.n[hh][owner]
    bal = np.where(st.calibrated[hh][owner], np.minimum(bal, limit * 2 // 5), bal)
    _bank_rows(st, owner, bal)

    # vehicles
    rate = np.select([st.on("working"), st.on("background"), st.on("elderly"),
                      st.on("dependant")], [0.35, 0.3, 0.1, 0.02], 0.18)[hh]  # fmt: skip
    who = np.flatnonzero((age >= 18) & (age <= 75) & (rng.random(P) < rate))
    rural = st.area[hh][who] == 1
    vt = np.where(rural, _pick(rng, (0.2, 0.08, 0.37, 0.3, 0.05), len(who)),
                  _pick(rng, (0.5, 0.05, 0.3, 0.02, 0.13), len(who)))  # fmt: skip
    lo = np.array([15_000, 15_000, 1_500, 5_000, 1_000])[vt]
    hi = np.array([48_000, 45_000, 8_000, 40_000, 5_000])[vt]
    value = ((lo + (hi - lo) * rng.random(len(who))) * 100).astype(np.int64)
    lux = st.on("background")[hh][who] & (vt == 0) & (rng.random(len(who)) < 0.2)
    value[lux] = st.money(50_000, 200_000, lux.sum())
    reg = st.Dp[who] - rng.integers(400, 5500, len(who))
    recent = st.on("background")[hh][who] & (rng.random(len(who)) < 0.04)
    reg[recent] = st.Dp[who][recent] - rng.integers(0, 360, recent.sum())
    plate = st.next("plate", len(who))
    st.add("vehicle", who, plate=plate, veh=vt, value=value, registered=reg)
    dup = rng.random(len(who)) < 0.01  # the same vehicle in two exports: one plate
    st.add("vehicle", who[dup], plate=plate[dup], veh=vt[dup], value=value[dup],
           registered=reg[dup])  # fmt: skip
    _homes(st)
    _social_insurance(st)
    _supporter_sources(st)


def _bank_rows(st: _Block, owner, balance, product=None) -> None:
    rng, n = st.rng, len(owner)
    prod = _pick(rng, (0.72, 0.1, 0.04, 0.06, 0.08), n) if product is None else product
    rate = np.where(prod <= 1, st.u(0.002, 0.02, n), 0) * (rng.random(n) < 0.7)
    st.add("bank", owner, inst=_pick(rng, (0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.05), n),
           prod=prod, balance=balance, interest=(balance * rate).astype(np.int64))  # fmt: skip


def _homes(st: _Block) -> None:
    rng, H = st.rng, st.H
    u, a = _IX["use"], _IX["acq"]
    own = rng.random(H) < np.select([st.on("elderly"), st.on("dependant"), st.on("working")],
                                    [0.75, 0.5, 0.9], 0.85)  # fmt: skip
    own &= ~(st.suppress & _SUP_PROP).astype(bool)
    homes = np.flatnonzero(own)
    roomy = (st.on("working") | st.on("background"))[homes] & (rng.random(len(homes)) < 0.05)
    per = np.where(roomy, st.u(50, 80, len(homes)), st.u(15, 45, len(homes)))
    area = np.minimum(per * st.n[homes], np.where(roomy, 240, 48 * st.n[homes])) * 100
    rural = st.area[homes] == 1
    acq = np.where(rural, _pick(rng, (0.1, 0.6, 0.15, 0.1, 0.05), len(homes)),
                   _pick(rng, (0.65, 0, 0.12, 0.15, 0.08), len(homes)))  # fmt: skip
    acquired = st.Dh[homes] - (365.2425 * st.u(2.5, 40, len(homes))).astype(np.int64)
    fresh = st.on("background")[homes] & (rng.random(len(homes)) < 0.02)
    acquired[fresh] = st.Dh[homes][fresh] - rng.integers(0, 700, fresh.sum())
    prop = st.next("prop", len(homes))
    second = np.minimum(st.start[homes] + 1, len(st.hh) - 1)
    joint = (st.n[homes] >= 2) & (st.role[second] == 1) & (rng.random(len(homes)) < 0.3)
    share = np.where(joint, 500, 1000)
    common = {
        "use": u["residential"],
        "area": area.astype(np.int64),
        "acquired": acquired,
        "acq": acq,
    }
    st.add("property", st.start[homes], prop=prop, share=share, **common)
    st.add("property", st.start[homes][joint] + 1, prop=prop[joint], share=500,
           **{k: v[joint] if np.ndim(v) else v for k, v in common.items()})  # fmt: skip
    # extras: a storage shed or garage, an old sold house; in the background some vetoes
    heads = st.start
    free = ~(st.suppress & _SUP_PROP).astype(bool)
    m = free & (rng.random(H) < 0.03)
    st.add("property", heads[m], use=u["other"], area=st.money(10, 30, m.sum(), 1),
           acquired=st.Dh[m] - rng.integers(1000, 9000, m.sum()), acq=a["self_built"],
           rental=np.where(rng.random(m.sum()) < 0.2, st.money(500, 3000, m.sum()), 0))  # fmt: skip
    m = free & (rng.random(H) < 0.05)
    disposed = st.Dh[m] - (365.2425 * st.u(3, 15, m.sum())).astype(np.int64)
    st.add("property", heads[m], use=u["residential"], area=st.money(40, 90, m.sum(), 1),
           acquired=disposed - rng.integers(1500, 9000, m.sum()), acq=a["inheritance"],
           disposed=disposed)  # fmt: skip
    bg = st.on("background") & free
    for p, use, extra in ((0.03, "residential", {}), (0.01, "commercial", {}),
                          (0.01, "residential", {"recent_sale": True})):  # fmt: skip
        m = bg & (rng.random(H) < p)
        acquired = st.Dh[m] - rng.integers(1000, 9000, m.sum())
        disposed = st.Dh[m] - rng.integers(0, 700, m.sum()) if extra else _NO_DATE
        st.add("property", heads[m], use=u[use], area=st.money(40, 120, m.sum(), 1),
               acquired=acquired, acq=a["purchase"], disposed=disposed,
               rental=np.where(use == "commercial", st.money(3000, 20_000, m.sum()), 0))  # fmt: skip


def _social_insurance(st: _Block) -> None:
    rng, hh, P = st.rng, st.hh, len(st.hh)
    age, occ, o, health = st.age, st.occ, _IX["occ"], st.health
    rec, sch, emp = _IX["rec"], _IX["sch"], _IX["emp"]
    sup_h = st.suppress[hh]
    adult = (age >= 16) & (age < 60) & (st.stu == _IX["stu"]["none"])
    employed = occ == o["employed"]
    pc_ok = ~(sup_h & _SUP_PC).astype(bool)
    who = np.flatnonzero(adult & employed & pc_ok)
    st.add("social_insurance", who, rec=rec["pension_contribution"],
           amount=st.money(1500, 5000, len(who)), sch=sch["employee"], emp=emp["none"])  # fmt: skip
    who = np.flatnonzero(adult & ~employed & pc_ok & (rng.random(P) < 0.6))
    grades = np.array([20_000, 30_000, 50_000, 100_000, 150_000, 200_000, 300_000])
    amount = grades[_pick(rng, (0.3, 0.2, 0.2, 0.15, 0.07, 0.05, 0.03), len(who))]
    high = st.on("background")[hh][who] & (rng.random(len(who)) < 0.01)
    amount = np.where(high, 500_000, amount)
    st.add("social_insurance", who, rec=rec["pension_contribution"], amount=amount,
           sch=sch["resident"], emp=emp["none"])  # fmt: skip
    who = np.flatnonzero(employed)
    st.add("social_insurance", who, rec=rec["employment"], sch=sch["employee"],
           emp=emp["enterprise"])  # fmt: skip
    # pensions of the elderly: resident (basic) or retired employees' pensions
    old = np.flatnonzero(age >= 60)
    retired = (occ[old] == o["retired"]) & (rng.random(len(old)) < 0.7)
    retired &= ~st.on("elderly")[hh][old] | (rng.random(len(old)) < 0.15)
    monthly = np.where(retired, st.money(1200, 4500, len(old)), st.money(150, 350, len(old)))
    st.add("social_insurance", old, rec=rec["pension_benefit"], amount=monthly * 12,
           sch=np.where(retired, sch["employee"], sch["resident"]), emp=emp["none"])  # fmt: skip
    who = np.flatnonzero((occ == o["unemployed"]) & (st.area[hh] == 0) & (rng.random(P) < 0.15))
    st.add("social_insurance", who, rec=rec["unemployment_benefit"], sch=sch["none"],
           amount=st.money(1200, 1800, len(who)) * rng.integers(3, 13, len(who)))  # fmt: skip
    who = np.flatnonzero((age >= 18) & (rng.random(P) < 0.003))
    st.add("social_insurance", who, rec=rec["injury_benefit"], sch=sch["employee"],
           amount=st.money(3000, 12_000, len(who)))  # fmt: skip
    # medical settlements (cost, reimbursed) by health
    p = np.array([0.05, 0.3, 0.05, 0.75, 0.95, 0.5])[health - 1]
    rows = np.where((rng.random(P) < p) & ~(sup_h & _SUP_MED).astype(bool),
                    1 + (rng.random(P) < 0.3) + (health == 5) * (rng.random(P) < 0.5), 0)  # fmt: skip
    owner = np.repeat(np.arange(P), rows)
    lo = np.array([500, 1000, 500, 5000, 20_000, 2000])[health[owner] - 1]
    hi = np.array([5000, 10_000, 5000, 50_000, 150_000, 20_000])[health[owner] - 1]
    cost = ((lo + (hi - lo) * rng.random(len(owner))) * 100).astype(np.int64)
    _medical(st, owner, cost, (cost * st.u(0.45, 0.8, len(owner))).astype(np.int64))


def _medical(st: _Block, owner, cost, reimbursed) -> None:
    st.add("social_insurance", owner, rec=_IX["rec"]["medical_settlement"], amount=cost,
           reimbursed=reimbursed, sch=_IX["sch"]["resident"], emp=_IX["emp"]["none"])  # fmt: skip


def _supporter_sources(st: _Block) -> None:
    """Supporters' own records (§4 I_s and the elevated-ratio assets); people index P+j."""
    rng, Q, P = st.rng, len(st.shh), len(st.hh)
    s, inc = _IX["sec"], _IX["inc"]
    sec, who = st.sector, P + np.arange(Q)
    for mask, lo, hi, kind, rows in (
        (np.isin(sec, (s["public"], s["enterprise"])), 36_000, 90_000, "wage", 2),
        ((sec == s["flexible"]) & (rng.random(Q) < 0.5), 10_000, 40_000, "labour", 2),
        (sec == s["self_employed"], 30_000, 120_000, "business", 1),
    ):
        idx = np.flatnonzero(mask)
        owner, amount = _split(rng, st.money(lo, hi, len(idx), 1), rng.integers(1, rows + 1,
                                                                              len(idx)))  # fmt: skip
        st.add("tax_income", who[idx][owner], inc=inc[kind], amount=amount)
    idx = np.flatnonzero(sec == s["self_employed"])
    st.add("business_registration", who[idx], role=_IX["role"]["self_employed"],
           turnover=st.money(60_000, 400_000, len(idx)))  # fmt: skip
    idx = np.flatnonzero(sec == s["public"])
    st.add("social_insurance", who[idx], rec=_IX["rec"]["employment"], sch=_IX["sch"]["employee"],
           emp=np.where(rng.random(len(idx)) < 0.5, _IX["emp"]["government"],
                        _IX["emp"]["public_institution"]))  # fmt: skip
    idx = np.flatnonzero(st.sage >= 60)
    st.add("social_insurance", who[idx], rec=_IX["rec"]["pension_benefit"],
           amount=st.money(150, 3000, len(idx)) * 12, sch=_IX["sch"]["resident"])  # fmt: skip
    idx = np.flatnonzero((rng.random(Q) < 0.5) & ~st.sfirst_edge)
    bal = (2_000_000 * np.exp(rng.normal(0, 1.2, len(idx)))).astype(np.int64)
    _bank_rows(st, who[idx], bal)
    idx = np.flatnonzero(rng.random(Q) < 0.25)
    vt = np.where(rng.random(len(idx)) < 0.6, 0, 2)
    st.add("vehicle", who[idx], veh=vt, value=np.where(vt == 0, st.money(30_000, 120_000,
           len(idx)), st.money(2000, 8000, len(idx))),
           registered=st.Dh[st.shh[idx]] - rng.integers(30, 4000, len(idx)))  # fmt: skip
    n_res = (rng.random(Q) < 0.7).astype(int) + (rng.random(Q) < 0.08)
    owner = np.repeat(who, n_res)
    st.add("property", owner, use=_IX["use"]["residential"], area=st.money(50, 140, len(owner), 1),
           acquired=st.Dh[st.shh[owner - P]] - rng.integers(800, 9000, len(owner)),
           acq=_IX["acq"]["purchase"])  # fmt: skip
