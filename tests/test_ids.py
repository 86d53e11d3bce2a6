"""GB 11643 resident IDs and the identifier indexes (DATA.md "Bad input": a bad ID).

The vectorised check and the hash indexes are compared with one-value references
(`ids.id_problems`, a Python dict) on fixed, random and edge inputs.
"""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meanstest import ids


def valid_id(birth: dt.date, seq: int = 1, region: str = "150422") -> str:
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + ids.check_character(body)


def flags_of(problems: list[str]) -> int:
    out = 0
    for p in problems:
        if p.startswith(("malformed", "null")):
            out |= ids.MALFORMED
        elif p.startswith("bad birth date"):
            out |= ids.BAD_DATE
        elif p.startswith("bad GB 11643"):
            out |= ids.BAD_CHECK
    return out


# ------------------------------------------------------------ the reference check --


def test_check_character_of_the_standards_example():
    # GB 11643-1999 appendix: 11010519491231002X
    assert ids.check_character("11010519491231002") == "X"
    assert ids.id_problems("11010519491231002X") == []


def test_valid_id_has_no_problems_and_its_birth_date():
    value = valid_id(dt.date(1947, 7, 20))
    assert ids.id_problems(value) == []
    assert ids.birth_date_of(value) == dt.date(1947, 7, 20)


@pytest.mark.parametrize(
    "value",
    [
        "1504221947072001",  # 16 characters
        "1504221947072001234",  # 19 characters
        "15042219470720014a",  # a letter as check character
        "1504A2194707200147",  # a letter among the digits
        "15042219470720011x",  # lower-case x: adapters normalise, bundles do not
        "１50422194707200147",  # a full-width digit
        "",
    ],
)
def test_malformed_ids(value):
    assert ids.id_problems(value) == [
        f"malformed ID ({value!r}: need 17 digits and a check character 0-9 or upper-case X)"
    ]


def test_bad_check_character_names_found_and_expected():
    good = valid_id(dt.date(1980, 1, 17), 651)
    wrong = "3" if good[-1] != "3" else "4"
    assert ids.id_problems(good[:17] + wrong) == [
        f"bad GB 11643 check character ({wrong!r}, expected {good[-1]!r})"
    ]


@pytest.mark.parametrize("date", ["19470231", "19471301", "19470000", "00000101", "19000229"])
def test_birth_date_must_be_a_calendar_date(date):
    body = f"150422{date}001"
    value = body + ids.check_character(body)
    assert ids.id_problems(value) == [f"bad birth date in ID ({value!r}: {date} is not a date)"]


def test_leap_day_is_a_date():
    assert ids.id_problems(valid_id(dt.date(2000, 2, 29))) == []


def test_bad_date_and_bad_check_are_both_reported():
    body = "15042219470231001"
    wrong = "0" if ids.check_character(body) != "0" else "1"
    problems = ids.id_problems(body + wrong)
    assert [p.split(" (")[0] for p in problems] == [
        "bad birth date in ID",
        "bad GB 11643 check character",
    ]


# ----------------------------------------------------------- the vectorised check --


def random_ids(rng: random.Random, n: int) -> list[str | None]:
    out = []
    for _ in range(n):
        year = rng.choice([rng.randint(0, 9999), rng.randint(1900, 2024)])
        body = (
            f"{rng.randint(0, 999999):06d}{year:04d}{rng.randint(0, 13):02d}"
            f"{rng.randint(0, 32):02d}{rng.randint(0, 999):03d}"
        )
        value = body + (
            ids.check_character(body) if rng.random() < 0.7 else rng.choice("0123456789Xx")
        )
        r = rng.random()
        if r < 0.05:
            value = value[: rng.randint(0, 20)]
        elif r < 0.1:
            i = rng.randrange(18)
            value = value[:i] + rng.choice("a/:9 é０") + value[i + 1 :]
        elif r < 0.12:
            value = None
        out.append(value)
    return out


def assert_check_matches_reference(values: list[str | None], arr=None):
    check = ids.check_ids(pa.array(values, pa.string()) if arr is None else arr)
    for i, v in enumerate(values):
        assert check.flags[i] == flags_of(ids.id_problems(v)), v
        if check.has_birth[i]:
            assert ids.date_of_days(check.birth[i]) == ids.birth_date_of(v), v
        if check.flags[i] & ids.MALFORMED:
            assert check.key[i] == -1
        else:
            assert check.key[i] == int(v[:17]) * 11 + (10 if v[17] == "X" else int(v[17]))


def test_check_ids_matches_the_reference_on_random_ids():
    assert_check_matches_reference(random_ids(random.Random(11643), 20_000))


def test_check_ids_on_sliced_and_chunked_arrays():
    values = random_ids(random.Random(7), 2_000)
    arr = pa.array(values, pa.string())
    assert_check_matches_reference(values[100:1500], arr.slice(100, 1400))
    chunked = pa.chunked_array([arr.slice(0, 700), arr.slice(700)])
    assert_check_matches_reference(values, chunked)
    assert_check_matches_reference(values, arr.cast(pa.large_string()))


def test_check_ids_of_an_empty_column():
    check = ids.check_ids(pa.array([], pa.string()))
    assert check.flags.size == check.birth.size == check.key.size == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(), st.text(max_size=20), st.from_regex(r"[0-9]{17}[0-9Xx]", fullmatch=True)
        )
    )
)
def test_check_ids_matches_the_reference_on_any_text(values):
    assert_check_matches_reference(values)


def test_id_keys_are_check_keys():
    values = random_ids(random.Random(3), 5_000)
    assert np.array_equal(ids.id_keys(pa.array(values)), ids.check_ids(pa.array(values)).key)


# ------------------------------------------------------------------------ indexes --


def assert_index_is_exact(index, values, queries):
    distinct = {}
    for v in values:
        if v is not None:
            distinct.setdefault(v, len(distinct))
    assert len(index) == len(distinct)
    by_code = index.values().to_pylist()
    assert sorted(by_code) == sorted(distinct)
    for row, (v, c) in enumerate(zip(values, index.codes.tolist(), strict=True)):
        if v is None:
            assert c == -1
        else:
            assert by_code[c] == v
            assert values[index.first[c]] == v and index.first[c] <= row
    found = index.lookup(pa.array(queries, pa.string())).tolist()
    for q, c in zip(queries, found, strict=True):
        assert (c == -1) if q not in distinct else by_code[c] == q


def test_string_index_on_household_ids_with_runs_nulls_and_duplicates():
    values = [f"HH{i // 3:07d}" for i in range(3000)] + [None, "", "HH0000001", None, "é"]
    queries = values[::-1] + ["HH9999999", "HH000000", "", None]
    assert_index_is_exact(ids.StringIndex(values), values, queries)


def test_string_index_codes_follow_first_occurrence():
    index = ids.StringIndex(pa.array(["b", "a", "b", None, "c", "a"]))
    assert index.codes.tolist() == [0, 1, 0, -1, 2, 1]
    assert index.first.tolist() == [0, 1, 4]


def test_string_index_long_strings_fall_back_to_arrow():
    values = ["x" * 40, "y" * 33, "x" * 40, None, "short"]
    assert_index_is_exact(ids.StringIndex(values), values, ["x" * 40, "z" * 40, "short", None])


def test_string_index_of_nothing():
    index = ids.StringIndex(pa.array([], pa.string()))
    assert len(index) == 0
    assert index.lookup(pa.array(["a", None])).tolist() == [-1, -1]


def test_string_index_on_a_sliced_array():
    arr = pa.array([f"k{i % 50}" for i in range(500)])
    values = arr.slice(123, 200).to_pylist()
    index = ids.StringIndex(arr.slice(123, 200))
    assert_index_is_exact(index, values, arr.slice(0, 300).to_pylist())


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=36)), max_size=60),
    st.lists(st.one_of(st.none(), st.text(max_size=36)), max_size=60),
)
def test_string_index_is_exact_on_any_text(values, extra):
    assert_index_is_exact(ids.StringIndex(pa.array(values, pa.string())), values, values + extra)


def test_id_index_on_valid_and_malformed_ids():
    rng = random.Random(5)
    values = random_ids(rng, 3_000)
    values += values[:500]  # repeats
    queries = values[::-1] + random_ids(rng, 500) + ["15042219470720011x", None]
    index = ids.IdIndex(pa.array(values, pa.string()))
    assert_index_is_exact(index, values, queries)
    by_code = index.values().to_pylist()
    for c, v in enumerate(by_code):
        assert index.flags[c] == flags_of(ids.id_problems(v))


def test_id_index_large_random_set_matches_a_dict():
    rng = np.random.default_rng(0)
    n = 200_000
    digits = rng.integers(0, 10, size=(n, 18), dtype=np.uint8) + 48
    raw = [bytes(row).decode() for row in digits]
    queries = [raw[i] for i in rng.integers(0, n, 100_000)] + [r[:17] + "Q" for r in raw[:10]]
    index = ids.IdIndex(pa.array(raw))
    position = {v: i for i, v in reversed(list(enumerate(raw)))}
    found = index.lookup(pa.array(queries)).tolist()
    firsts = index.first
    for q, c in zip(queries, found, strict=True):
        assert (c == -1 and q not in position) or firsts[c] == position[q]


def test_take_from_chunked_arrays_keeps_the_row_order():
    arr = pa.array([f"v{i}" for i in range(100)])
    chunked = pa.chunked_array(
        [arr.slice(0, 10), arr.slice(10, 0), arr.slice(10, 50), arr.slice(60)]
    )
    rows = np.array([99, 0, 15, 15, 60, 59, 9, 10])
    assert ids.take(chunked, rows).to_pylist() == [f"v{i}" for i in rows]
    assert ids.take(chunked, np.array([], dtype=np.int64)).to_pylist() == []
    assert ids.take(arr, rows).to_pylist() == [f"v{i}" for i in rows]
