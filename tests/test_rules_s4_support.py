"""RULES.md §4: support from supporters — ratio by sector, cap, exemptions, elevated rate."""

import datetime as dt

import pytest
from builders import assess_case, pack, person, record, supporter
from hypothesis import given, settings
from hypothesis import strategies as st

from meanstest.schema import SECTORS

ELDER = dt.date(1950, 1, 1)  # c = 0, so G is the support alone


def _gross(engine, sups, records=()):
    result, _, _ = assess_case(engine, [person(ELDER)], supporters=sups, records=records)
    return result["gross_income"]


def test_support_ratio_times_supported_count(engine):  # §4 min(I×r×k, I×cap)
    s = supporter(dt.date(1975, 1, 1), employment_sector="flexible", supported_count=2)
    rec = [record("tax_income", s, amount=1000000)]
    assert _gross(engine, [s], rec) == 1000000 * 50 * 2 // 1000  # 100‰ < cap 500‰


def test_support_capped(engine):  # §4 cap_ratio
    s = supporter(dt.date(1975, 1, 1), employment_sector="public", supported_count=6)
    rec = [record("tax_income", s, amount=1000000)]
    assert _gross(engine, [s], rec) == 500000  # 600‰ capped at 500‰


def test_support_of_a_large_income_times_a_large_count_is_still_capped(engine):  # §0, §4
    """I × r × k can leave int64 while every amount is valid (8 wages of 10^14 fen, the
    validation ceiling; r = 100‰, k = 127, int8's largest): the cap still applies, as
    it does in exact integers, instead of a wrapped product."""
    s = supporter(dt.date(1975, 1, 1), employment_sector="public", supported_count=127)
    rec = [record("tax_income", s, amount=10**14) for _ in range(8)]
    assert 8 * 10**14 * 100 * 127 > 2**63 - 1
    assert _gross(engine, [s], rec) == 8 * 10**14 * 500 // 1000


def test_support_of_an_income_of_many_records_does_not_wrap(engine):  # §0, §4
    """I × q (q = min(r × k, cap_ratio) ≤ 1000) left int64 for a supporter's income of a
    thousand wages of 10^14 fen, each valid, where the product's result fits: the kernels
    wrapped it to a negative support and paid DIBAO (found by an adversarial review run).
    Exact: 10^17 × 100‰ = 10^16."""
    s = supporter(dt.date(1975, 1, 1), employment_sector="public", supported_count=1)
    rec = [record("tax_income", s, amount=10**14) for _ in range(1000)]
    assert 10**17 * 100 > 2**63 - 1
    assert _gross(engine, [s], rec) == 10**16


@pytest.mark.parametrize("a", [0, 1, 499, 500, 999, 1000, 10**17 + 1, 2**62, 2**63 - 1])
@pytest.mark.parametrize("q", [0, 1, 100, 333, 500, 999, 1000])
def test_per_mille_is_rhu_of_the_exact_product(a, q):  # §0 rhu, §4
    from meanstest.kernels.arith import per_mille

    assert per_mille(a, q) == (2 * a * q + 1000) // 2000


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 2**63 - 1), st.integers(0, 1000))
def test_per_mille_on_random_amounts(a, q):  # §0 rhu, §4: the whole domain, not a grid
    from meanstest.kernels.arith import per_mille

    assert per_mille(a, q) == (2 * a * q + 1000) // 2000  # Python integers: exact


@pytest.mark.parametrize(
    "reason", ["dibao", "serious_illness", "severe_disability", "imprisoned", "student"]
)
def test_exempt_supporters_owe_nothing(engine, reason):  # §4 exempt_reason ≠ none
    s = supporter(dt.date(1975, 1, 1), exempt_reason=reason)
    assert _gross(engine, [s], [record("tax_income", s, amount=1000000)]) == 0


def test_supporter_without_income_is_imputed(engine):  # §4 I_s = 0 → imputed work income
    s = supporter(dt.date(1983, 7, 1), health=2, employment_sector="enterprise")  # 41 → 700
    assert _gross(engine, [s]) == (700 * 198000 * 8 // 1000) * 80 // 1000  # 1108800 × 80‰


def test_imputed_supporter_income_rounds_half_up(engine):  # §4 I_s = rhu(c_s × w × m, 1000)
    """A supporter of 41 with health 2 (c_s = 700‰), 5 fen × 1 month: I_s = 3.5 → 4 (half
    down: 3); every sector ratio and the cap 1000‰, so the support is I_s itself."""
    policy = pack(
        imputation__min_wage_monthly=5,
        imputation__work_months=1,
        support__sector_ratio=dict.fromkeys(SECTORS, 1000),
        support__cap_ratio=1000,
    )
    s = supporter(dt.date(1983, 7, 1), health=2)
    result, _, _ = assess_case(engine, [person(ELDER)], supporters=[s], policy=policy)
    assert result["gross_income"] == 4


def test_support_rounds_half_up(engine):  # §4 rhu(I × r × k, 1000), rhu(I × cap_ratio, 1000)
    """I = 1,001 fen of wage, r = 500‰ (flexible) and cap 500‰: both 500.5 → 501 (half
    down: 500, whichever of the two roundings moved)."""
    policy = pack(support__sector_ratio={**dict.fromkeys(SECTORS, 50), "flexible": 500})
    s = supporter(dt.date(1975, 1, 1), employment_sector="flexible")
    rec = [record("tax_income", s, amount=1001)]
    result, _, _ = assess_case(engine, [person(ELDER)], supporters=[s], records=rec, policy=policy)
    assert result["gross_income"] == 501


def test_supporter_has_no_student_level(engine):  # §4 "supporters have no student level"
    """A pack that lists `none` among the levels without labour zeroes members with no
    student level (§2 step 2), but a supporter has no student level at all: the step
    does not apply, and I_s is still imputed."""
    policy = pack(imputation__student_levels_without_labour=["none", "senior"])
    s = supporter(dt.date(1983, 7, 1), health=2, employment_sector="enterprise")  # 41 → 700
    adult = person(dt.date(1983, 7, 1), occupation="flexible")
    result, members, _ = assess_case(engine, [adult], supporters=[s], policy=policy)
    assert members[0]["labour_coefficient"] == 0  # the member's level none is listed
    assert result["gross_income"] == (700 * 198000 * 8 // 1000) * 80 // 1000


def test_supporter_property_income_not_counted(engine):  # §4 property income excluded
    s = supporter(dt.date(1975, 1, 1), employment_sector="enterprise")
    rec = [record("tax_income", s, amount=100000), record("bank", s, interest=50000)]
    assert _gross(engine, [s], rec) == 8000


@pytest.mark.parametrize(
    "asset,elevated",
    [
        (("vehicle", {"value": 5000001}), True),
        (("vehicle", {"value": 5000000}), False),
        (("vehicle", {"value": 9000000, "vehicle_type": "motorcycle"}), False),
        (("vehicle", {"value": 9000000, "registered_on": dt.date(2024, 7, 2)}), False),
        (("bank", {"balance": 50000001}), True),
        (("bank", {"balance": 50000000}), False),
    ],
)
def test_elevated_bonus_for_large_assets(engine, asset, elevated):  # §4 elevated_bonus
    s = supporter(dt.date(1975, 1, 1), employment_sector="enterprise")
    table, kw = asset
    rec = [record("tax_income", s, amount=100000), record(table, s, **kw)]
    assert _gross(engine, [s], rec) == 100000 * (130 if elevated else 80) // 1000


def test_elevated_for_two_residential_properties(engine):  # §4 > max_residential_properties
    s = supporter(dt.date(1975, 1, 1), employment_sector="enterprise")
    rec = [
        record("tax_income", s, amount=100000),
        record("property", s, property_id="A"),
        record("property", s, property_id="B"),
    ]
    assert _gross(engine, [s], rec) == 13000
    rec[2] = record("property", s, property_id="A")  # same property twice: one distinct
    assert _gross(engine, [s], rec) == 8000


@pytest.mark.parametrize(
    "second",
    [
        {"acquired_on": dt.date(2024, 7, 2)},  # residential, acquired after D: not owned
        {"disposed_on": dt.date(2020, 1, 1)},  # residential, disposed before D: not owned
        {"use": "commercial"},  # owned, but not residential
    ],
)
def test_elevated_bonus_counts_owned_residential_properties_only(engine, second):  # §4, §0
    """§4 "more than max_residential_properties distinct owned residential properties":
    one owned home plus a second property that is either not owned at D or not
    residential is one home (not more than 1), so the ratio stays 80‰, not 80 + 50."""
    s = supporter(dt.date(1975, 1, 1), employment_sector="enterprise")
    rec = [
        record("tax_income", s, amount=100000),
        record("property", s, property_id="A"),
        record("property", s, property_id="B", **second),
    ]
    assert _gross(engine, [s], rec) == 100000 * 80 // 1000  # 8,000, not 100,000 × 130‰
