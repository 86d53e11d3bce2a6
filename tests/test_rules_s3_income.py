"""RULES.md §3: a member's income — verified wage, imputed work and land income, sources."""

import datetime as dt

import pytest
from builders import assess_case, pack, person, record

ADULT = dt.date(1990, 1, 1)  # 34 on D: band ≤40


def _member(engine, who, records=(), policy=None, **kw):
    _, members, _ = assess_case(engine, [who], records=records, policy=policy, **kw)
    return members[0]


def test_wage_and_labour_are_verified_employment(engine):  # §3 wage > 0
    m = person(ADULT, occupation="employed")
    rec = [
        record("tax_income", m, amount=300000),
        record("tax_income", m, income_type="labour", amount=50000),
    ]
    out = _member(engine, m, rec)
    assert (out["employment"], out["employment_basis"]) == (350000, "verified")
    assert out["member_income"] == out["verified_income"] == 350000


def test_imputed_work_income_even_without_declared_work(engine):  # §3 不养懒人
    out = _member(engine, person(ADULT, occupation="unemployed"))
    assert out["employment"] == 1000 * 198000 * 8 // 1000 == 1584000
    assert out["employment_basis"] == "imputed_work" and out["verified_income"] == 0


def test_land_income_for_rural_farmers_only(engine):  # §3 土地经营收入
    farmer = person(ADULT, occupation="farming")
    out = _member(engine, farmer)
    assert out["employment"] == 1272000 and out["employment_basis"] == "imputed_land"
    urban = _member(engine, person(ADULT, occupation="farming"), area="urban")
    assert urban["employment_basis"] == "imputed_work" and urban["employment"] == 1584000


# 700‰ × a fen amount: 0.7 → 1 (nearest), 1.4 → 1 (not up: no ceiling), 3.5 → 4 (an exact
# half goes up: half-down or truncation give 3)
HALVES = [(1, 1), (2, 1), (5, 4)]


@pytest.mark.parametrize("wage,employment", HALVES)
def test_imputation_rounds_half_up(engine, wage, employment):  # §3 rhu(c × wage × months, 1000)
    policy = pack(imputation__min_wage_monthly=wage, imputation__work_months=1)
    who = person(dt.date(1983, 7, 1), health=2)  # 41, health 2 → c = 700‰
    assert _member(engine, who, policy=policy)["employment"] == employment


@pytest.mark.parametrize("rural_income,employment", HALVES)
def test_land_income_rounds_half_up(engine, rural_income, employment):
    """§3 rhu(c × rural_income_annual × land_ratio, 1000 × 1000): 700‰ × rural income
    × 1000‰ (land_ratio) is 0.7, 1.4 or 3.5 fen."""
    policy = pack(imputation__rural_income_annual=rural_income, imputation__land_ratio=1000)
    farmer = person(dt.date(1983, 7, 1), health=2, occupation="farming")  # c = 700‰
    out = _member(engine, farmer, policy=policy)
    assert (out["employment"], out["employment_basis"]) == (employment, "imputed_land")


def test_zero_coefficient_means_no_employment(engine):  # §3 c = 0 → 0
    out = _member(engine, person(dt.date(1950, 1, 1)))
    assert (out["employment"], out["employment_basis"]) == (0, "none")


def test_business_other_property_transfer_counted_interest_rental_tax_not(engine):  # §3
    m = person(ADULT, occupation="employed")
    rec = [
        record("tax_income", m, amount=100000),
        record("tax_income", m, income_type="business", amount=20000),
        record("tax_income", m, income_type="other", amount=3000),
        record("tax_income", m, income_type="interest", amount=999999),  # informational
        record("tax_income", m, income_type="rental", amount=999999),  # informational
        record("bank", m, balance=10, interest=400),
        record("property", m, rental_income=10001, share=500),  # rhu(5000.5) = 5001
        record(
            "property", m, property_id="P2", rental_income=7777, disposed_on=dt.date(2024, 1, 1)
        ),  # not owned at D
        record(
            "social_insurance", m, record_type="pension_benefit", amount=60000, scheme="employee"
        ),
        record(
            "social_insurance", m, record_type="unemployment_benefit", amount=5000, scheme="none"
        ),
        record("social_insurance", m, record_type="pension_contribution", amount=8000),
    ]
    out = _member(engine, m, rec)
    assert out["member_income"] == 100000 + 20000 + 3000 + 400 + 5001 + 60000 + 5000


def test_counted_transfers_are_a_parameter(engine):  # §3 counted_transfers
    m = person(ADULT, occupation="employed")
    rec = [
        record("tax_income", m, amount=1),
        record("social_insurance", m, record_type="injury_benefit", amount=700, scheme="none"),
    ]
    assert _member(engine, m, rec)["member_income"] == 701
    policy = pack(imputation__counted_transfers=["pension_benefit"])
    assert _member(engine, m, rec, policy=policy)["member_income"] == 1


def test_property_acquired_after_d_earns_nothing(engine):  # §0 owned at D
    m = person(ADULT, occupation="employed")
    rec = [
        record("tax_income", m, amount=1),
        record("property", m, rental_income=5000, acquired_on=dt.date(2024, 7, 2)),
    ]
    assert _member(engine, m, rec)["member_income"] == 1


def test_wage_is_verified_employment_even_when_c_is_zero(engine):  # §3 wage > 0 first
    """§3 tests wage > 0 before c = 0: a 65-year-old (band > 60, c = 0) with wage records
    has employment = wage, verified — not 0."""
    retired = person(dt.date(1959, 1, 1), occupation="employed")  # 65 on D
    out = _member(engine, retired, [record("tax_income", retired, amount=300000)])
    assert out["labour_coefficient"] == 0
    assert (out["employment"], out["employment_basis"]) == (300000, "verified")
    assert out["member_income"] == out["verified_income"] == 300000
