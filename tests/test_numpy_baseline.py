"""The benchmark's NumPy baseline (benches/numpy_baseline.py) equals the kernels.

The kernel benchmark reports "kernels vs a plain vectorised NumPy implementation of the
same rules"; that ratio means something only if the NumPy code computes the same
thing. Every output array of `meanstest.kernels.assess` (scratch space excepted) is
compared: on seeded random households under the extreme packs of tests/strategies.py,
on the same with previous statuses from a first run (CONTINUE, ADJUST, PHASE_OUT), on a
synthetic district like the benchmark bundles, and the calendar twins on every day of
a span of years (RULES.md §0).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import strategies
from meanstest.kernels import arith as karith
from meanstest.kernels import assess

from meanstest import fast
from meanstest.assemble import assemble
from meanstest.policy import default_library
from meanstest.synth import generate
from meanstest.validate import validate

_FILE = Path(__file__).resolve().parents[1] / "benches" / "numpy_baseline.py"
_spec = importlib.util.spec_from_file_location("numpy_baseline", _FILE)
nb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nb)

PACKS = strategies.packs()


def assert_same_outputs(inp) -> None:
    a = assemble(inp)
    want = assess(a.households, a.people, a.records, a.pack)
    got = nb.assess(a.households, a.people, a.records, a.pack)
    for field in want._fields:
        if field == "scratch":  # the kernels' per-thread workspace, not an output
            continue
        x, y = getattr(want, field), getattr(got, field)
        assert x.dtype == y.dtype and x.shape == y.shape, field
        if not np.array_equal(x, y):
            row = int(np.nonzero((x != y).reshape(len(x), -1).any(axis=1))[0][0])
            raise AssertionError(f"{field} row {row}: kernels {x[row]} numpy {y[row]}")


@pytest.mark.parametrize("batch", range(5))
def test_random_households_equal_kernels(batch):
    """5 × 500 random households over every test pack, then again with prev_status /
    prev_benefit from the first run: 5,000 households."""
    inp = strategies.random_input(5000 + batch, PACKS, 500)
    assert_same_outputs(inp)
    assert_same_outputs(strategies.with_previous(inp, fast.run(inp).results, batch))


def test_synthetic_district_equals_kernels():
    """A `meanstest synth` district (every archetype, boundary and veto; the benchmark's
    data) through validation and assembly, 3,000 households."""
    inp = validate(generate(3000, 7), default_library()).engine_input
    assert inp.households.num_rows > 2900
    assert_same_outputs(inp)


def test_no_households():
    inp = strategies.random_input(3, PACKS, 3)
    empty = dataclasses.replace(
        inp,
        households=inp.households.slice(0, 0),
        persons=inp.persons.slice(0, 0),
        supporters=inp.supporters.slice(0, 0),
        policy_index=np.zeros(0, np.int32),
    )
    assert_same_outputs(empty)


def test_calendar_twins_agree_on_every_day():
    """§0 ages and add_months against the kernels' twins, 1999-12-01 .. 2030-03-01."""
    start = (dt.date(1999, 12, 1) - dt.date(1970, 1, 1)).days
    stop = (dt.date(2030, 3, 1) - dt.date(1970, 1, 1)).days
    days = np.arange(start, stop, dtype=np.int64)
    on = days[::-1]  # every birth day against a date of the span, both orders
    want = [karith.age_years(b, o) for b, o in zip(days[::13].tolist(), on[::13].tolist())]
    assert nb.age_years(days, on)[::13].tolist() == want
    for months in (-13, -1, 0, 1, 12):
        got = nb.add_months(days, months)
        assert got[::7].tolist() == [karith.add_months(x, months) for x in days[::7].tolist()]
