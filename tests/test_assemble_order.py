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
from hypothesis import given, settings
from hypothesis import strategies as st
from meanstest.kernels import join

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


# byte strings around the word compare's edges: lengths about 8 and 16, shared
# prefixes, NUL and bytes >= 0x80 (compared unsigned)
_BYTES = st.lists(
    st.binary(min_size=0, max_size=20).map(lambda b: b.replace(b"\x01", b"\x00"))
    | st.sampled_from([b"TAX000000000001", b"TAX00000000001", b"TAX000000000001\x00",
                       b"\xff" * 9, b"\x80", b"", b"A" * 8, b"A" * 16]),
    max_size=40,
)  # fmt: skip


def _buffers(strings: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(strings) + 1, np.int64)
    offsets[1:] = np.cumsum([len(s) for s in strings])
    data = np.frombuffer(b"".join(strings) + b"\x00", np.uint8)[:-1].copy()
    return offsets, np.ascontiguousarray(data)


@settings(max_examples=300, deadline=None)  # the first call loads the kernels
@given(_BYTES, st.sampled_from([assemble.RUN_INSERTION_SORT, 1]))
def test_string_order_is_bytes_order(strings, run_limit):
    """The kernels' string order (join._less: 8 bytes at a time, then byte by byte) is
    Python's order of bytes, which is Arrow's: sort_runs over one run sorts stably as
    `sorted` does, and strings_ascend says whether the strings already ascend."""
    offsets, data = _buffers(strings)
    n = len(strings)
    order = join.sort_runs(
        np.zeros(n, np.int64), np.arange(n, dtype=np.int64), offsets, data, run_limit
    )
    assert list(order) == sorted(range(n), key=lambda i: strings[i])
    assert join.strings_ascend(offsets, data) == (strings == sorted(strings))
