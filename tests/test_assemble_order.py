"""Assembly's record order (meanstest.assemble): rows of each source table sorted by
(person, record_id), stably — the evidence order of RULES.md §6 depends on it.

The fast path sorts by person with numpy and only the runs out of record_id order
(numba insertion sort, or Arrow for a person with very many records); it must give
exactly the order of Arrow's stable sort on both keys, ties in bundle order.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from meanstest import assemble

IDS = ["a", "b", "ab", "", "ba", "a\x00", "é", "z", "TAX000000000002", "TAX00000000001"]


def arrow_order(code: np.ndarray, rid: pa.Array) -> np.ndarray:
    key = pa.table({"code": code, "record_id": rid})
    keys = [("code", "ascending"), ("record_id", "ascending")]
    return pc.sort_indices(key, sort_keys=keys).to_numpy()


@pytest.mark.parametrize("run_limit", [assemble.RUN_INSERTION_SORT, 1])
def test_order_equals_arrow_stable_sort(monkeypatch, run_limit):
    """Random codes and record_ids (equal ones, prefixes, non-ASCII); run_limit 1 forces
    the Arrow path for the persons out of order."""
    monkeypatch.setattr(assemble, "RUN_INSERTION_SORT", run_limit)
    rng = np.random.default_rng(11)
    for _ in range(300):
        n = int(rng.integers(0, 200))
        code = rng.integers(0, int(rng.integers(1, 40)), n)
        rid = pa.array([IDS[i] for i in rng.integers(0, len(IDS), n)], pa.string())
        got = assemble._by_person_then_record(code, rid)
        np.testing.assert_array_equal(got, arrow_order(code, rid))


def test_already_sorted_and_null_record_ids():
    code = np.array([0, 0, 1, 1, 1, 2])
    rid = pa.array(["a", "b", "a", "a", "c", "x"])
    np.testing.assert_array_equal(assemble._by_person_then_record(code, rid), np.arange(6))
    with_null = pa.array(["b", None, "a", "a", "c", "x"])
    np.testing.assert_array_equal(
        assemble._by_person_then_record(code, with_null), arrow_order(code, with_null)
    )
