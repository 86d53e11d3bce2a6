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
from meanstest.id_pass import IdPass
from meanstest.schema import SOURCE_TABLES


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


def test_id_index_lookup_of_records_in_people_order_matches_a_dict():
    """Source rows name people mostly in bundle order (a person's records together, then
    the next person's): the lookup tries the next codes before hashing; the codes must
    be those of a dict whatever the order, with repeats, skips, absent, null and
    malformed IDs, over the serial and the parallel (blocked) kernel."""
    rng = np.random.default_rng(7)
    people = random_ids(random.Random(7), 6_000)
    people[10] = people[11] = people[12]  # one person three times in a row
    people[40] = "15042219470720011x"  # malformed: found by its string
    index = ids.IdIndex(pa.array(people, pa.string()))
    absent = random_ids(random.Random(8), 50)
    queries = []
    at = 0
    while len(queries) < 40_000:
        at = (at + int(rng.choice([0, 1, 1, 2, 3, 5, 9, -7, 400]))) % len(people)
        roll = rng.random()
        if roll < 0.02:
            queries.append(None)
        elif roll < 0.04:
            queries.append(str(rng.choice(absent)))
        else:
            queries += [people[at]] * int(rng.integers(1, 4))
    position = {v: i for i, v in reversed(list(enumerate(people))) if v is not None}
    slim = index.lookup_only()  # what a spooled review's plan keeps
    for part in (queries[:300], queries):
        found = index.lookup(pa.array(part, pa.string()))
        for q, c in zip(part, found.tolist(), strict=True):
            assert (c == -1 and q not in position) or index.first[c] == position[q]
        assert np.array_equal(slim.lookup(pa.array(part, pa.string())), found)


def test_take_from_chunked_arrays_keeps_the_row_order():
    arr = pa.array([f"v{i}" for i in range(100)])
    chunked = pa.chunked_array(
        [arr.slice(0, 10), arr.slice(10, 0), arr.slice(10, 50), arr.slice(60)]
    )
    rows = np.array([99, 0, 15, 15, 60, 59, 9, 10])
    assert ids.take(chunked, rows).to_pylist() == [f"v{i}" for i in rows]
    assert ids.take(chunked, np.array([], dtype=np.int64)).to_pylist() == []
    assert ids.take(arr, rows).to_pylist() == [f"v{i}" for i in rows]


# ------------------------------------------------------------------ the ID pass --


def mangled_bundle(seed: int, n: int = 40) -> dict[str, pa.Table]:
    """A synthetic bundle with the ID cases that matter: duplicate household_ids, null
    ids, orphans, a person in two households and as a supporter, malformed IDs, source
    rows of nobody, and a long (> 32 bytes) household_id."""
    from meanstest import synth

    tables = synth.generate(n, seed=seed, bad_fraction=0.2)
    rng = random.Random(seed)

    def mutate(name, column, fn):
        t = tables[name]
        values = t[column].to_pylist()
        for i in range(len(values)):
            values[i] = fn(i, values[i], values)
        i = t.schema.get_field_index(column)
        tables[name] = t.set_column(i, column, pa.array(values, pa.string()))

    hids = tables["households"]["household_id"].to_pylist()
    pids = tables["persons"]["person_id"].to_pylist()
    mutate(
        "households",
        "household_id",
        lambda i, v, _: rng.choice([v] * 8 + [hids[0], None, "H" * 40]),
    )
    mutate(
        "persons", "household_id", lambda i, v, _: rng.choice([v] * 8 + [hids[1], "nobody", None])
    )
    mutate(
        "persons", "person_id", lambda i, v, _: rng.choice([v] * 8 + [pids[0], v[:17] + "x", None])
    )
    mutate("supporters", "supporter_id", lambda i, v, _: rng.choice([v] * 6 + [pids[2]]))
    for name in ("bank", "tax_income"):
        mutate(name, "person_id", lambda i, v, _: rng.choice([v] * 6 + [pids[0][:17] + "x", "?"]))
    return tables


def first_codes(values: list) -> tuple[list[int], int]:
    seen: dict = {}
    codes = [-1 if v is None else seen.setdefault(v, len(seen)) for v in values]
    return codes, len(seen)


@pytest.mark.parametrize("seed", range(12))
def test_id_pass_agrees_with_python_dicts(seed):
    tables = mangled_bundle(seed)
    ip = IdPass.of(tables)
    home_codes, n_homes = first_codes(tables["households"]["household_id"].to_pylist())
    assert ip.household_code.tolist() == home_codes and ip.n_households == n_homes
    home_of = {v: c for v, c in zip(tables["households"]["household_id"].to_pylist(), home_codes)}
    everyone = (
        tables["persons"]["person_id"].to_pylist()
        + tables["supporters"]["supporter_id"].to_pylist()
    )
    # people codes: one per distinct ID (well-formed IDs first, then the others)
    people_codes = np.concatenate([ip.person_code, ip.supporter_code]).tolist()
    n_people = len({v for v in everyone if v is not None})
    assert len(ip.people) == n_people
    by_code = ip.people.values().to_pylist()
    assert [None if c < 0 else by_code[c] for c in people_codes] == everyone
    code_of = {v: c for v, c in zip(everyone, people_codes) if v is not None}
    homes = [home_of.get(h, -1) for h in tables["persons"]["household_id"].to_pylist()]
    homes += [home_of.get(h, -1) for h in tables["supporters"]["household_id"].to_pylist()]
    assert np.concatenate([ip.person_home, ip.supporter_home]).tolist() == homes
    for c, key in enumerate(ip.people.keys.tolist()):
        value = ip.people.values(np.array([c])).to_pylist()[0]
        assert key == (ids.id_keys(pa.array([value]))[0])
    # person -> households, and each source row's households
    expected: dict[int, set] = {}
    for c, h in zip(people_codes, homes):
        if c >= 0 and h >= 0:
            expected.setdefault(c, set()).add(h)
    off, found = ip.households_of_people()
    for c in range(n_people):
        assert found[off[c] : off[c + 1]].tolist() == sorted(expected.get(c, ()))
    assert ip.in_household().tolist() == [c in expected for c in range(n_people)]
    for name in ("tax_income", "bank", "vehicle"):
        codes = [code_of.get(v, -1) for v in tables[name]["person_id"].to_pylist()]
        assert ip.source_code[name].tolist() == codes
        rows, hs = ip.source_households(name)
        pairs = [(r, h) for r, c in enumerate(codes) for h in sorted(expected.get(c, ()))]
        assert list(zip(rows.tolist(), hs.tolist())) == pairs


def test_id_pass_restricted_to_kept_households():
    tables = mangled_bundle(3, 60)
    ip = IdPass.of(tables)
    codes = ip.household_code
    unique = (codes >= 0) & (np.bincount(codes[codes >= 0], minlength=ip.n_households)[codes] == 1)
    keep = unique & (np.arange(len(codes)) % 3 != 0)
    kept_codes = set(codes[keep].tolist())
    p_keep = np.isin(ip.person_home, list(kept_codes))
    s_keep = np.isin(ip.supporter_home, list(kept_codes))
    kept = (
        tables["households"].filter(pa.array(keep)),
        tables["persons"].filter(pa.array(p_keep)),
        tables["supporters"].filter(pa.array(s_keep)),
    )
    sub = ip.restrict(keep, kept)
    fresh = IdPass.of({**tables, "households": kept[0], "persons": kept[1], "supporters": kept[2]})
    assert sub.describes(*kept, {n: tables[n] for n in SOURCE_TABLES})
    whole = [tables[n] for n in ("households", "persons", "supporters")]
    assert not sub.describes(*whole, {n: tables[n] for n in SOURCE_TABLES})
    assert sub.household_code.tolist() == list(range(int(keep.sum())))
    assert sub.person_home.tolist() == fresh.person_home.tolist()
    assert sub.supporter_home.tolist() == fresh.supporter_home.tolist()
    # people codes stay those of the whole bundle: compare by ID string
    for mine, theirs, col in ((sub.person_code, fresh.person_code, "person_id"),):
        assert sub.people.values(mine).to_pylist() == fresh.people.values(theirs).to_pylist()
    assert sub.person_check.key.tolist() == fresh.person_check.key.tolist()


def test_encode_keys_codes_in_order_of_first_occurrence():
    codes, first = ids.encode_keys(np.array([7, -1, 3, 7, 2**62, 3, -5], np.int64))
    assert codes.tolist() == [0, -1, 1, 0, 2, 1, -1]
    assert first.tolist() == [0, 2, 4]


@pytest.mark.parametrize("offset", [0, 1, 7, 8, 13])
def test_valid_mask_of_sliced_arrays(offset):
    values = [None if i % 3 == 0 or i % 7 == 0 else str(i) for i in range(50)]
    arr = pa.array(values).slice(offset, 30)
    assert ids.valid_mask(arr).tolist() == [v is not None for v in values[offset : offset + 30]]
    chunked = pa.chunked_array([arr.slice(0, 11), arr.slice(11)])
    assert ids.valid_mask(chunked).tolist() == ids.valid_mask(arr).tolist()
