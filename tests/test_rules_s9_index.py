"""RULES.md §9: the difficulty index (家庭困难指数) and the run's rank."""

import datetime as dt
import itertools

import pyarrow as pa
import pytest
from builders import assess_case, person, record
from hypothesis import given, settings
from hypothesis import strategies as st

from meanstest.pipeline import rank


def test_member_points_capped(engine):  # §9 member_cap 400
    """Four members of 60 + 80 points each (560) count 400. A pension of 1,368,000 a year
    makes pci 28,500 = S / 2 (income points 200), so the index stays below its own cap
    of 1000 and shows the member cap: 400 + 200 + 200."""
    members = [person(dt.date(1940, 1, day), health=6) for day in (1, 2, 3, 4)]
    pension = record("social_insurance", members[0], record_type="pension_benefit", amount=1368000)
    result, _, _ = assess_case(engine, members, records=[pension])
    assert result["pci"] == 28500
    assert result["difficulty_index"] == 400 + 200 + 200


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


@pytest.mark.parametrize(
    ("birth", "age_points"),
    [
        (dt.date(1954, 7, 1), 60),  # 70 on D: age_70
        (dt.date(1954, 7, 2), 30),  # 69: age_60
        (dt.date(1964, 7, 1), 30),  # 60 on D: age_60
        (dt.date(1964, 7, 2), 0),  # 59
    ],
)
def test_age_points_change_on_the_birthday(engine, birth, age_points):  # §9 ≥ 70, 60–69
    """A seriously ill member (health 5: c = 0, 80 points) alone, TEKUN with pci 0:
    income points 400, assets 200, and the age points of the full years at D."""
    result, _, _ = assess_case(engine, [person(birth, health=5)])
    assert result["pci"] == 0
    assert result["difficulty_index"] == age_points + 80 + 400 + 200


def test_asset_penalty_and_floor(engine):  # §9 asset_penalty when FA > 6 × S × n
    m = person(dt.date(1950, 1, 1))
    at = assess_case(engine, [m], records=[record("bank", m, balance=342000)])[0]
    over = assess_case(engine, [m], records=[record("bank", m, balance=342001)])[0]
    assert at["difficulty_index"] - over["difficulty_index"] == 100
    # Every penalty at once: 200 − 100 × (3 homes − 1) − 50 (a vehicle) − 100 (FA over
    # the bound) = −150, floored at 0. The elder (74: 60 points, pci 0: income 400) is
    # vetoed (V02, V04) but still indexed: 60 + 400 + 0 = 460, not 60 + 400 − 150.
    rec = [
        record("bank", m, balance=342001),
        record("property", m, property_id="A"),
        record("property", m, property_id="B"),
        record("property", m, property_id="C"),
        record("vehicle", m, vehicle_type="motorcycle"),
    ]
    floored = assess_case(engine, [m], records=rec)[0]
    assert floored["pci"] == 0 and floored["status"] == "VETOED"
    assert floored["difficulty_index"] == 60 + 400 + 0


@pytest.mark.parametrize(
    ("registered_on", "assets"),
    [
        (dt.date(2024, 7, 1), 200 - 50),  # registered on D: owned, vehicle_penalty
        (dt.date(2024, 7, 2), 200),  # registered after D: not owned, no penalty
    ],
)
def test_vehicle_penalty_counts_owned_vehicles_only(engine, registered_on, assets):  # §9, §0
    """An elder alone (74: age 60 points, health 1: 0; TEKUN, pci 0: income 400) with a
    motorcycle (no veto type): the vehicle penalty applies only if it is owned at D
    (registered_on ≤ D)."""
    m = person(dt.date(1950, 1, 1))
    bike = record("vehicle", m, vehicle_type="motorcycle", registered_on=registered_on)
    result, _, _ = assess_case(engine, [m], records=[bike])
    assert result["pci"] == 0 and result["vetoes"] == []
    assert result["difficulty_index"] == 60 + 400 + assets


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


def _rank_by_sorting(ids: list, indices: list) -> list[int]:
    """§9's rank by Python's stable sort: index descending, household_id ascending by
    UTF-8 bytes (Arrow's order of strings); nulls after every value of their key, as
    Arrow places them."""

    def key(i):
        h, x = ids[i], indices[i]
        return (x is None, -(x or 0), h is None, (h or "").encode())

    ranks = [0] * len(ids)
    for place, i in enumerate(sorted(range(len(ids)), key=key), start=1):
        ranks[i] = place
    return ranks


_HOUSEHOLD_IDS = st.sampled_from(["A", "AB", "B", "a", "HH01", "HH010", "HH1", "户1", "户10", ""])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_HOUSEHOLD_IDS, st.sampled_from([0, 1, 7, 500, 999, 1000])), max_size=40),
    st.booleans(),
    st.integers(1, 3),
    st.sampled_from([None, "null id", "null index", "index 1001", "index -1"]),
)
def test_rank_equals_a_plain_sort(rows, in_id_order, chunks, odd):
    """pipeline.rank (a counting sort on the index of the rows in household_id order; the
    rows as they are when their ids ascend) against Python's sort, on results in and out
    of household_id order, in several chunks, and with what validated results never hold
    (nulls, an index outside 0..1000), which takes Arrow's two-key sort."""
    if in_id_order:
        rows = sorted(rows, key=lambda r: r[0].encode())
    ids, indices = [r[0] for r in rows], [r[1] for r in rows]
    if odd and rows:
        at = len(rows) // 2
        if odd == "null id":
            ids[at] = None
        elif odd == "null index":
            indices[at] = None
        else:
            indices[at] = int(odd.split()[1])
    cut = [len(rows) * k // chunks for k in range(chunks + 1)]
    table = pa.Table.from_batches(
        [
            pa.record_batch(
                {
                    "household_id": pa.array(ids[a:b], pa.string()),
                    "difficulty_index": pa.array(indices[a:b], pa.int32()),
                }
            )
            for a, b in itertools.pairwise(cut)
        ],
        schema=pa.schema([("household_id", pa.string()), ("difficulty_index", pa.int32())]),
    )
    assert rank(table).to_pylist() == _rank_by_sorting(ids, indices)
