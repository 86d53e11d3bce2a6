"""Assembly's record order (meanstest.assemble): rows of each source table sorted by
(person, record_id), stably — the evidence order of RULES.md §6 depends on it.

The fast path is a counting sort by person code, then only the runs out of record_id
order are sorted (numba: insertion sort for a few rows, merge sort for many); it must
give exactly the order of Arrow's stable sort on both keys, ties in bundle order, and
leave out the rows of nobody (code -1).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from meanstest import assemble

IDS = ["a", "b", "ab", "", "ba", "a\x00", "é", "z", "TAX000000000002", "TAX00000000001"]


def arrow_order(code: np.ndarray, rid: pa.Array) -> np.ndarray:
    """The reference: Arrow's stable sort on (code, record_id), rows of code -1 dropped."""
    keep = np.flatnonzero(code >= 0)
    key = pa.table({"code": code[keep], "record_id": rid.take(pa.array(keep, pa.int64()))})
    keys = [("code", "ascending"), ("record_id", "ascending")]
    return keep[pc.sort_indices(key, sort_keys=keys).to_numpy()]


def check(code: np.ndarray, rid: pa.Array, n_people: int) -> None:
    rows, off = assemble.by_person_then_record(code, n_people, rid)
    np.testing.assert_array_equal(rows, arrow_order(code, rid))
    expected = np.zeros(n_people + 1, np.int64)
    np.cumsum(np.bincount(code[code >= 0], minlength=n_people), out=expected[1:])
    np.testing.assert_array_equal(off, expected)


@pytest.mark.parametrize("run_limit", [assemble.RUN_INSERTION_SORT, 1])
def test_order_equals_arrow_stable_sort(monkeypatch, run_limit):
    """Random codes (some -1) and record_ids (equal ones, prefixes, non-ASCII); run_limit
    1 forces the merge sort for every run out of order."""
    monkeypatch.setattr(assemble, "RUN_INSERTION_SORT", run_limit)
    rng = np.random.default_rng(11)
    for _ in range(300):
        n = int(rng.integers(0, 200))
        n_people = int(rng.integers(1, 40))
        code = rng.integers(-1, n_people, n)
        rid = pa.array([IDS[i] for i in rng.integers(0, len(IDS), n)], pa.string())
        check(code, rid, n_people)


def test_a_person_with_very_many_records():
    rng = np.random.default_rng(3)
    n = 5_000
    code = np.where(rng.random(n) < 0.8, 0, rng.integers(1, 5, n))
    rid = pa.array([f"R{int(x)}" for x in rng.integers(0, 700, n)], pa.string())
    check(code, rid, 5)


def test_already_sorted_and_null_record_ids():
    code = np.array([0, 0, 1, 1, 1, 2])
    rid = pa.array(["a", "b", "a", "a", "c", "x"])
    rows, _ = assemble.by_person_then_record(code, 3, rid)
    np.testing.assert_array_equal(rows, np.arange(6))
    with_null = pa.array(["b", None, "a", "a", "c", "x"])
    check(code, with_null, 3)
