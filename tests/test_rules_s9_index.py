"""RULES.md §9: the difficulty index (家庭困难指数) and the run's rank."""

import datetime as dt

import pyarrow as pa
from builders import assess_case, person, record

from meanstest.pipeline import rank


def test_member_points_capped(engine):  # §9 member_cap 400
    members = [person(dt.date(1940, 1, 1), health=6) for _ in range(4)]  # (60 + 80) × 4 = 560
    result, _, _ = assess_case(engine, members)
    assert result["difficulty_index"] == 400 + 400 + 200


def test_index_components(engine):  # §9 age, health, student, income, asset points
    old = person(dt.date(1960, 1, 1), health=2)  # 64: 30 + 30
    kid = person(dt.date(2010, 1, 1), student_level="junior")  # 20 + 0 (no junior points)
    col = person(dt.date(2004, 1, 1), student_level="college")  # 0 + 50
    w = person(dt.date(1990, 1, 1), occupation="employed")
    rec = [
        record("tax_income", w, amount=1368000),  # pci 28,500 = S/2 → income 200
        record("property", w, property_id="A"),
        record("property", w, property_id="B"),
        record("vehicle", w, vehicle_type="motorcycle"),
    ]
    result, _, _ = assess_case(engine, [old, kid, col, w], records=rec)
    assert result["pci"] == 28500
    # assets: 200 − 100 (one extra home) − 50 (a vehicle) = 50; the household is vetoed (V02)
    assert result["difficulty_index"] == 130 + 200 + 50 and result["status"] == "VETOED"


def test_asset_penalty_and_floor(engine):  # §9 asset_penalty when FA > 6 × S × n
    m = person(dt.date(1950, 1, 1))
    at = assess_case(engine, [m], records=[record("bank", m, balance=342000)])[0]
    over = assess_case(engine, [m], records=[record("bank", m, balance=342001)])[0]
    assert at["difficulty_index"] - over["difficulty_index"] == 100


def test_no_income_points_at_or_above_standard(engine):
    w = person(dt.date(1990, 1, 1), occupation="employed")
    result, _, _ = assess_case(engine, [w], records=[record("tax_income", w, amount=684000)])
    assert result["difficulty_index"] == 0 + 0 + 200


def test_rank_by_index_then_household_id():  # §9 rank; ties broken by household_id
    results = pa.table(
        {
            "household_id": ["B", "A", "C", "D"],
            "difficulty_index": pa.array([500, 500, 900, 10], pa.int32()),
        }
    )
    assert rank(results).to_pylist() == [3, 2, 1, 4]
