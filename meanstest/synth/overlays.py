"""Vetoes and edges: the records that trigger each veto or sit on a rule boundary."""

from __future__ import annotations

import numpy as np

from meanstest.arith import add_months
from meanstest.synth.common import _IX, _NO_DATE, _days
from meanstest.synth.households import _SUP_BANK, _SUP_MED, _SUP_PC, _SUP_PROP, _Block
from meanstest.synth.sources import _bank_rows, _medical


def _suppressions(st: _Block) -> None:
    """Households whose background rows of one kind an overlay replaces exactly."""
    for mask, bits in (
        (st.vcode(2), _SUP_PROP), (st.vcode(9), _SUP_PROP),
        (st.edge("housing_area"), _SUP_PROP), (st.edge("balance"), _SUP_BANK),
        (st.edge("declared_assets"), _SUP_BANK), (st.edge("insurance_grade"), _SUP_PC),
        (st.edge("pension_cap"), _SUP_PC), (st.edge("medical_cap"), _SUP_MED),
    ):  # fmt: skip
        st.suppress[mask] |= bits


def _overlays(st: _Block) -> None:
    """The records that trigger each veto (RULES.md §6) or sit on a boundary."""
    rng, pk, D, v, vv = st.rng, st.pk, st.D, st.evar, st.vvar
    veto = pk["veto"]
    u, a, r = _IX["use"], _IX["acq"], _IX["role"]
    rec, sch, emp = _IX["rec"], _IX["sch"], _IX["emp"]
    limit = veto["vehicle_value_limit"]
    car, truck, moto = _IX["veh"]["car"], _IX["veh"]["truck"], _IX["veh"]["motorcycle"]

    def old(n, lo=500, hi=3000):
        return D - rng.integers(lo, hi, n)

    def heads(mask):
        h = st.heads(mask)
        return h, len(h)

    h, n = heads(st.vcode(1) & (vv == 0))
    st.add("vehicle", h, veh=car, value=rng.integers(limit + 1, 4 * limit, n), registered=old(n))
    h, n = heads(st.vcode(1) & (vv == 1))
    for vt in (car, truck):
        st.add("vehicle", h, veh=vt, value=st.money(15_000, 45_000, n), registered=old(n))
    h, n = heads(st.vcode(2) & (vv == 0))
    for acquisition in (a["self_built"], a["purchase"]):
        st.add("property", h, use=u["residential"], area=st.money(40, 80, n, 1),
               acquired=old(n, 1000, 8000), acq=acquisition)  # fmt: skip
    m = st.vcode(2) & (vv == 1)
    h, n = heads(m)
    excess = veto["residential_area_per_capita_limit"] * st.n[m]
    st.add("property", h, use=u["residential"], area=excess + rng.integers(1000, 8000, n),
           acquired=old(n, 1000, 8000), acq=a["self_built"])  # fmt: skip
    h, n = heads(st.vcode(3))
    st.add("property", h, use=rng.choice([u["commercial"], u["office"], u["industrial"]], n),
           area=st.money(20, 200, n, 1), acquired=old(n, 1000, 8000), acq=a["purchase"],
           rental=np.where(rng.random(n) < 0.5, st.money(2000, 20_000, n), 0))  # fmt: skip
    m = st.vcode(4)
    h, n = heads(m)
    fa_limit = veto["financial_asset_months"] * st.S[m] * st.n[m]
    _bank_rows(st, h, fa_limit + rng.integers(100_000, 5_000_000, n))
    for var, role in ((0, r["legal_rep"]), (1, r["shareholder"]), (2, r["self_employed"])):
        h, n = heads(st.vcode(5) & (vv == var))
        over = veto["business_turnover_limit"]
        turnover = rng.integers(over + 1, 3 * over, n) if var == 2 else st.money(50_000, 900_000, n)
        st.add("business_registration", h, role=role, turnover=turnover)
    h, n = heads(st.vcode(6))
    st.add("social_insurance", h, rec=rec["employment"], sch=sch["employee"],
           emp=np.where(rng.random(n) < 0.5, emp["government"], emp["public_institution"]))  # fmt: skip
    h, n = heads(st.vcode(7))
    st.add("business_registration", h, role=r["self_employed"],
           turnover=st.money(20_000, 95_000, n), employees=rng.integers(1, 6, n))  # fmt: skip
    h, n = heads(st.vcode(8))
    st.add("social_insurance", h, rec=rec["pension_contribution"], sch=sch["resident"],
           amount=rng.choice([400_000, 500_000, 1_000_000], n))  # fmt: skip
    h, n = heads(st.vcode(9))
    st.add("property", h, use=u["residential"], area=st.money(40, 90, n, 1),
           acquired=D - rng.integers(0, 700, n), acq=a["purchase"])  # fmt: skip
    h, n = heads(st.vcode(10))
    st.add("property", h, use=u["residential"], area=st.money(40, 90, n, 1),
           acquired=old(n, 2000, 9000), acq=a["self_built"], disposed=D - rng.integers(0, 700, n))  # fmt: skip
    h, n = heads(st.vcode(13) & (vv == 0))
    st.add("tax_income", h, inc=_IX["inc"]["other"], amount=st.money(1500, 6000, n))
    h, n = heads(st.vcode(13) & (vv == 1))
    st.add("vehicle", h, veh=moto, value=st.money(1500, 6000, n), registered=old(n))
    h, n = heads(st.vcode(13) & (vv == 2))
    _bank_rows(st, h, st.money(3000, 10_000, n), product=0)
    h, n = heads(st.vcode(13) & (vv == 3))
    st.add("property", h, use=u["other"], area=st.money(10, 30, n, 1),
           acquired=old(n, 1000, 8000), acq=a["self_built"])  # fmt: skip
    h, n = heads(st.vcode(14))
    st.add("vehicle", h, veh=car, value=st.money(15_000, 45_000, n), registered=D - rng.integers(0, 360, n))  # fmt: skip

    # ---- boundaries (jurisdiction 150422, date D: the default pack's numbers)
    h, n = heads(st.edge("vehicle_value"))
    st.add("vehicle", h, veh=car, value=limit + v[st.edge("vehicle_value")], registered=old(n))
    year_ago = _days(add_months(st.d, -veto["recent_vehicle_months"]))
    m = st.edge("vehicle_date")
    h, n = heads(m)
    reg = np.array([year_ago, year_ago + 1, D, D + 1])[v[m]]
    st.add("vehicle", h, veh=car, value=st.money(20_000, 40_000, n), registered=reg)
    w24 = _days(add_months(st.d, -veto["recent_purchase_months"]))
    t24 = _days(add_months(st.d, -veto["recent_transfer_months"]))
    m = st.edge("property_dates")
    h, n = heads(m)
    long_ago = D - 4000
    acq = np.array([w24, w24 + 1, long_ago, long_ago, D + 1, long_ago, long_ago])[v[m]]
    disp = np.array([_NO_DATE, _NO_DATE, D, D + 1, _NO_DATE, t24, t24 + 1])[v[m]]
    st.add("property", h, use=u["other"], area=st.money(15, 30, n, 1), acquired=acq,
           acq=a["purchase"], disposed=disp)  # fmt: skip
    m = st.edge("balance")
    h, n = heads(m)
    _bank_rows(st, h, veto["financial_asset_months"] * st.S[m] * st.n[m] + v[m], product=0)
    m = st.edge("turnover")
    h, n = heads(m)
    turnover = veto["business_turnover_limit"] + v[m]
    st.add("business_registration", h, role=r["self_employed"], turnover=turnover)
    st.add("tax_income", h, inc=_IX["inc"]["business"], amount=turnover // 8)
    m = st.edge("insurance_grade")
    h, n = heads(m)
    grade = veto["insurance_grade_limit"]
    st.add("social_insurance", h, rec=rec["pension_contribution"], sch=sch["resident"],
           amount=grade // 3)  # fmt: skip
    st.add("social_insurance", h, rec=rec["pension_contribution"], sch=sch["resident"],
           amount=grade - grade // 3 + v[m])  # fmt: skip
    m = st.edge("pension_cap")
    h, n = heads(m)
    st.add("social_insurance", h, rec=rec["pension_contribution"], sch=sch["employee"],
           amount=pk["pension_cap"][0] - 1 + v[m])  # fmt: skip
    m = st.edge("medical_cap")
    h, n = heads(m)
    paid = st.money(10_000, 30_000, n)
    _medical(st, h, paid + pk["medical_cap"][0] - 1 + v[m], paid)
    m = st.edge("declared_assets")
    h, n = heads(m)
    _bank_rows(st, h, st.money(3000, 10_000, n), product=0)
    for var, table in ((0, "vehicle"), (1, "vehicle"), (2, "property"), (3, "property")):
        h, n = heads(st.edge("declared_counts") & (v == var))
        if table == "vehicle":
            st.add("vehicle", h, veh=moto, value=st.money(1500, 6000, n), registered=old(n))
        else:
            st.add("property", h, use=u["other"], area=st.money(10, 30, n, 1),
                   acquired=old(n, 1000, 8000), acq=a["self_built"])  # fmt: skip
    m = st.edge("housing_area")
    h, n = heads(m)
    area = veto["residential_area_per_capita_limit"] * st.n[m] + v[m]
    st.add("property", h, use=u["residential"], area=area, acquired=old(n, 2000, 9000),
           acq=a["self_built"])  # fmt: skip
    st.add("property", h, use=u["other"], area=st.money(20, 40, n, 1), share=1,
           acquired=old(n, 2000, 9000), acq=a["inheritance"])  # fmt: skip
    m = st.edge("supporter_assets")
    first = len(st.hh) + np.r_[0, np.cumsum(st.q)[:-1]][m]
    cap = pk["sup_asset"][0]
    _bank_rows(st, first, np.full(m.sum(), cap // 2), product=0)
    _bank_rows(st, first, cap - cap // 2 + v[m], product=0)
