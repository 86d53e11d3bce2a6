"""RULES.md §0: rounding half up, yuan rounding, ages, month windows with clamping."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meanstest.arith import add_months, age, rhu, within_months, yuan


def test_rhu_rounds_half_up():  # §0 rhu(a, b) = (2a + b) // 2b
    assert rhu(5, 10) == 1 and rhu(4, 10) == 0 and rhu(15, 10) == 2 and rhu(0, 7) == 0


def test_rhu_refuses_negative():
    with pytest.raises(ValueError):
        rhu(-1, 10)


@given(st.integers(0, 10**15), st.integers(1, 10**6))
def test_rhu_is_exact_rounding(a, b):  # §0: equals round-half-up of the exact fraction
    q, r = divmod(a, b)
    assert rhu(a, b) == q + (1 if 2 * r >= b else 0)


def test_yuan_rounds_to_whole_yuan():  # §0 yuan(x)
    assert yuan(171049) == 171000 and yuan(171050) == 171100 and yuan(0) == 0


def test_age_full_years_and_feb29():  # §0 age; a Feb-29 birthday is reached on Mar 1
    d = dt.date(2024, 7, 1)
    assert age(dt.date(2008, 7, 1), d) == 16 and age(dt.date(2008, 7, 2), d) == 15
    assert age(dt.date(2004, 2, 29), dt.date(2023, 2, 28)) == 18
    assert age(dt.date(2004, 2, 29), dt.date(2023, 3, 1)) == 19
    assert age(dt.date(2004, 2, 29), dt.date(2024, 2, 29)) == 20


def test_add_months_clamps_to_month_end():  # §0 example
    assert add_months(dt.date(2024, 3, 31), -1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2023, 3, 31), -1) == dt.date(2023, 2, 28)
    assert add_months(dt.date(2024, 7, 1), -24) == dt.date(2022, 7, 1)
    assert add_months(dt.date(2024, 1, 31), -13) == dt.date(2022, 12, 31)


def test_within_months_excludes_the_start_includes_d():  # §0 add_months(D,-N) < d <= D
    d = dt.date(2024, 7, 1)
    assert not within_months(dt.date(2023, 7, 1), d, 12)
    assert within_months(dt.date(2023, 7, 2), d, 12)
    assert within_months(d, d, 12)
    assert not within_months(dt.date(2024, 7, 2), d, 12)
    assert not within_months(None, d, 12)
