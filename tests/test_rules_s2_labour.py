"""RULES.md §2: the labour coefficient c(p) — age 16, students, health × age band."""

import datetime as dt

import pytest
from builders import assess_case, engine_input, household, pack, person

from meanstest.pipeline import assess


def _c(engine, birth, policy=None, **kw):
    _, members, _ = assess_case(engine, [person(birth, **kw)], policy=policy)
    return members[0]["labour_coefficient"]


@pytest.mark.parametrize(
    "birth,health,expected",
    [
        (dt.date(2008, 7, 2), 1, 0),  # 15 the day before the 16th birthday: c = 0
        (dt.date(2008, 7, 1), 1, 1000),  # 16 on D: band ≤40, healthy
        (dt.date(1984, 7, 1), 1, 1000),  # exactly 40: still band ≤40
        (dt.date(1983, 7, 1), 1, 900),  # 41: band 41–50
        (dt.date(1974, 7, 1), 2, 700),  # 50, chronic illness
        (dt.date(1973, 7, 1), 3, 400),  # 51, mild disability
        (dt.date(1968, 7, 1), 4, 100),  # 56, major chronic illness: band 56–60
        (dt.date(1964, 7, 1), 1, 500),  # exactly 60: last bounded band
        (dt.date(1964, 6, 30), 1, 500),  # turned 60 the day before D: still 60
        (dt.date(1963, 7, 1), 1, 0),  # 61: above the last bound
        (dt.date(1990, 1, 1), 5, 0),  # serious illness
        (dt.date(1990, 1, 1), 6, 0),  # severe disability
    ],
)
def test_table_cell(engine, birth, health, expected):  # §2 rule 3
    assert _c(engine, birth, health=health) == expected


@pytest.mark.parametrize("level", ["senior", "vocational", "college"])
def test_full_time_students_have_no_labour(engine, level):  # §2 rule 2
    assert _c(engine, dt.date(2005, 1, 1), student_level=level) == 0


def test_junior_student_over_16_keeps_labour(engine):  # §2: only the policy's levels
    assert _c(engine, dt.date(2008, 1, 1), student_level="junior") == 1000


def test_policy_student_levels_are_parameters(engine):  # §2: student_levels_without_labour
    policy = pack(imputation__student_levels_without_labour=["junior"])
    assert _c(engine, dt.date(2005, 1, 1), policy, student_level="senior") == 1000
    assert _c(engine, dt.date(2005, 1, 1), policy, student_level="junior") == 0


def test_feb29_birthday_age_on_feb28(engine):  # §0/§2: born 2008-02-29, D 2024-02-28 → 15
    _, members, _ = assess_case(
        engine, [person(dt.date(2008, 2, 29))], assessment_date=dt.date(2024, 2, 28)
    )
    assert members[0]["age"] == 15 and members[0]["labour_coefficient"] == 0
    _, members, _ = assess_case(
        engine, [person(dt.date(2008, 2, 29))], assessment_date=dt.date(2024, 2, 29)
    )
    assert members[0]["age"] == 16 and members[0]["labour_coefficient"] == 1000


def test_a_member_born_after_d_is_a_child_not_a_reject(engine):
    """§0 age in completed years, §2 rule 1: born after the assessment date is not bad
    input (DATA.md names no such rule; docs/decisions.md Rules 9): the age is negative,
    under 16, so c = 0."""
    _, members, _ = assess_case(engine, [person(dt.date(2025, 1, 1))])
    assert members[0]["age"] == -1 and members[0]["labour_coefficient"] == 0
    inp = engine_input([household()], [{"household_id": "H1", **person(dt.date(2025, 1, 1))}])
    tables = {"households": inp.households, "persons": inp.persons, "supporters": inp.supporters}
    out = assess(tables | inp.sources, engine=engine.__module__.rsplit(".", 1)[-1])  # validated
    assert out.rejects.num_rows == 0 and out.results.num_rows == 1
