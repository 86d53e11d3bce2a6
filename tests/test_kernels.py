"""The kernels (meanstest.fast) against the reference calculator, to the fen.

- random bundles (seeded batches and hypothesis examples) under the default pack and
  extreme ones: results, members and findings tables equal value for value;
- the same outputs with 1 thread, with all threads and without threads; every output
  cell written by the kernels (they allocate with np.empty); record bits only for the
  vetoes that fired;
- the kernel wrapper refuses wrong dtypes with a TypeError naming the argument, and
  inconsistent offsets with a ValueError;
- the kernels' calendar twins against meanstest.arith (RULES.md §0).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numba
import numpy as np
import pyarrow.compute as pc
import pytest
import strategies
from hypothesis import HealthCheck, given, settings
from meanstest.kernels import arith as karith
from meanstest.kernels import assess, join
from meanstest.kernels import layout as L

from meanstest import arith, fast, schema
from meanstest import assemble as assemble_module
from meanstest.assemble import assemble
from meanstest.engine import EngineInput

reference = pytest.importorskip("meanstest.reference")

PACKS = strategies.packs()


def assert_same(inp: EngineInput) -> None:
    """fast.run(inp) == reference.run(inp), table by table, first differing row shown."""
    want, got = reference.run(inp), fast.run(inp)
    for name in ("results", "members", "findings"):
        a, b = getattr(want, name), getattr(got, name)
        assert a.schema == b.schema, name
        if not a.equals(b):
            rows_a, rows_b = a.to_pylist(), b.to_pylist()
            for i, (x, y) in enumerate(zip(rows_a, rows_b)):
                assert x == y, f"{name} row {i}"
            assert len(rows_a) == len(rows_b), f"{name}: {len(rows_a)} != {len(rows_b)} rows"


# (1) equality with the reference -------------------------------------------------------


@pytest.mark.parametrize("batch", range(20))
def test_random_batches_equal_reference(batch):
    """20 × 500 random households, then the same again with prev_status/prev_benefit
    taken from the first run (CONTINUE, ADJUST, PHASE_OUT): 20,000 households."""
    inp = strategies.random_input(1000 + batch, PACKS, 500)
    assert_same(inp)
    assert_same(strategies.with_previous(inp, reference.run(inp).results, batch))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(strategies.engine_inputs(PACKS))
def test_hypothesis_bundles_equal_reference(inp):
    assert_same(inp)


def test_every_pack_is_exercised():
    inp = strategies.random_input(7, PACKS, 400)
    assert set(inp.policy_index.tolist()) == set(range(len(PACKS)))
    codes = set(fast.run(inp).findings["code"].to_pylist())
    assert {"V01", "V02", "V04", "V11", "V13", "PROGRAM_MISSED", "PROGRAM_UNDUE"} <= codes


def test_no_households():
    inp = strategies.random_input(3, PACKS, 3)
    empty = dataclasses.replace(
        inp,
        households=inp.households.slice(0, 0),
        persons=inp.persons.slice(0, 0),
        supporters=inp.supporters.slice(0, 0),
        policy_index=np.zeros(0, np.int32),
    )
    assert_same(empty)


# (2) thread count ----------------------------------------------------------------------


def test_one_thread_and_all_threads_agree():
    inp = strategies.random_input(99, PACKS, 3000)
    a = assemble(inp)
    default = numba.get_num_threads()
    many = assess(a.households, a.people, a.records, a.pack)
    tables = fast.run(inp)
    try:
        numba.set_num_threads(1)
        one = assess(a.households, a.people, a.records, a.pack)
        tables_one = fast.run(inp)
    finally:
        numba.set_num_threads(default)
    unthreaded = assess(a.households, a.people, a.records, a.pack, threads=False)
    for field in many._fields:
        if field == "scratch":  # per-thread workspace, not an output
            continue
        np.testing.assert_array_equal(getattr(many, field), getattr(one, field), field)
        np.testing.assert_array_equal(getattr(many, field), getattr(unthreaded, field), field)
    tables_unthreaded = fast.run(inp, threads=False)
    for name in ("results", "members", "findings"):
        assert getattr(tables, name).equals(getattr(tables_one, name))
        assert getattr(tables, name).equals(getattr(tables_unthreaded, name))


def _assert_outputs_equal(want, got) -> None:
    for field in want._fields:
        if field != "scratch":  # per-thread workspace, not an output
            np.testing.assert_array_equal(getattr(want, field), getattr(got, field), field)


def test_every_output_cell_is_written(monkeypatch):
    """The outputs are allocated with np.empty, not zero-filled: the kernels write every
    cell. Filled first with either of two sentinels, they come out the same."""
    a = assemble(strategies.random_input(11, PACKS, 800))
    args = (a.households, a.people, a.records, a.pack)
    want = assess(*args, threads=False)
    for sentinel in (-7, 12345):
        monkeypatch.setattr(np, "empty", lambda shape, dtype, s=sentinel: np.full(shape, s, dtype))
        for threads in (True, False):
            _assert_outputs_equal(want, assess(*args, threads=threads))
        monkeypatch.undo()


def test_record_bits_only_for_vetoes_that_fired():
    """docs/engine.md: a record instance's bit v (its evidence and detail entry) is set
    only when V(v+1) fired for its household; V01_BY_VALUE only with V01."""
    a = assemble(strategies.random_input(12, PACKS, 1500))
    out = assess(a.households, a.people, a.records, a.pack)
    fired = out.household_codes[L.OC_VETOES].astype(np.int64)
    fired |= (fired & 1) << L.V01_BY_VALUE
    seen = 0
    for table, field in fast._BITS.items():
        bits = getattr(out, field).astype(np.int64)
        sel = np.flatnonzero(bits)
        _, slots = a.instances(table, sel)
        assert not np.any(bits[sel] & ~fired[a.member_household[slots]]), table
        seen |= int(np.bitwise_or.reduce(bits[sel], initial=0))
    listed = [v for v in range(L.N_VETOES) if v not in (10, 11, 12)]  # V11-V13: no records
    assert seen == sum(1 << v for v in [*listed, L.V01_BY_VALUE])


def _shared_people_only(inp: EngineInput) -> EngineInput:
    """`inp` with only the source rows of people who are members of two or more
    households: each such row is a record instance in every one of them, so a table's
    instances outnumber its rows."""
    counts = pc.value_counts(inp.persons["person_id"])
    shared = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    sources = {
        name: t.filter(pc.is_in(t["person_id"], value_set=shared))
        for name, t in inp.sources.items()
    }
    return dataclasses.replace(inp, sources=sources)


@pytest.mark.parametrize("outgrown", ["rows", "instances"])
def test_row_indexes_widen_when_a_batch_outgrows_int32(monkeypatch, outgrown):
    """People's row indexes are int32; a batch whose rows of a table, or whose record
    instances of a table (a person in several households), pass INDEX_MAX gets int64
    ones (the limit lowered here to this batch's size), and the same outputs."""
    inp = _shared_people_only(strategies.random_input(5, PACKS, 300))
    narrow = assemble(inp)
    assert narrow.people.person_ranges.dtype == narrow.people.instance_off.dtype == np.int32
    rows = max(t.num_rows for t in inp.sources.values())
    slot_person = narrow.people.member_codes[:, L.MC_PERSON].astype(np.int64)
    instances = join.instance_offsets(
        slot_person, narrow.people.person_ranges, np.empty_like(narrow.people.instance_off)
    )
    assert instances.max() > rows  # so that "instances" outgrows int32 while rows fit
    monkeypatch.setattr(assemble_module, "INDEX_MAX", rows - 1 if outgrown == "rows" else rows)
    wide = assemble(inp)
    assert wide.people.person_ranges.dtype == wide.people.instance_off.dtype == np.int64
    np.testing.assert_array_equal(wide.people.person_ranges, narrow.people.person_ranges)
    np.testing.assert_array_equal(wide.people.instance_off, narrow.people.instance_off)
    got = fast.run(inp, threads=False)
    monkeypatch.undo()
    want = fast.run(inp, threads=False)
    for name in ("results", "members", "findings"):
        assert getattr(got, name).equals(getattr(want, name)), name


# (3) dtype discipline at the wrapper ----------------------------------------------------


def test_wrapper_refuses_wrong_dtypes():
    a = assemble(strategies.random_input(5, PACKS, 4))
    hh, people, records, pack = a.households, a.people, a.records, a.pack
    cases = [
        ((hh._replace(codes=hh.codes.astype(np.int64)), people, records, pack), "Households.codes"),
        (
            (hh._replace(money=hh.money.astype(np.float64)), people, records, pack),
            "Households.money",
        ),
        (
            (
                hh,
                people._replace(person_ranges=people.person_ranges.astype(np.int16)),
                records,
                pack,
            ),
            "People.person_ranges",
        ),
        (  # the two row indexes: both int32 or both int64
            (
                hh,
                people._replace(person_ranges=people.person_ranges.astype(np.int64)),
                records,
                pack,
            ),
            "People.instance_off",
        ),
        (
            (hh, people._replace(member_codes=people.member_codes[:, :3]), records, pack),
            "People.member_codes",
        ),
        (
            (
                hh,
                people,
                records._replace(vehicle_money=records.vehicle_money.astype(np.uint64)),
                pack,
            ),
            "Records.vehicle_money",
        ),
        ((hh, people, records, pack._replace(params=pack.params.astype(np.int32))), "Pack.params"),
        ((hh, people, records, pack._replace(program_count=[1])), "Pack.program_count"),
        ((tuple(hh), people, records, pack), "Households"),
    ]
    for args, name in cases:
        with pytest.raises(TypeError, match=name.replace(".", r"\.")):
            assess(*args)


def test_wrapper_refuses_inconsistent_offsets():
    """Every member slot belongs to one household (each cell of the member outputs is
    written once), every household has a member (RULES.md §1) and a pack."""
    a = assemble(strategies.random_input(6, PACKS, 5))
    hh, people, records, pack = a.households, a.people, a.records, a.pack
    off = hh.member_off
    empty = off.copy()
    empty[1] = empty[0]
    codes = hh.codes.copy()
    codes[2, L.HC_PACK] = pack.params.shape[0]
    for bad, match in (
        (hh._replace(member_off=empty), "at least one member"),
        (hh._replace(member_off=off - off[1]), "cover the member slots"),
        (hh._replace(codes=codes), "pack row out of range"),
    ):
        with pytest.raises(ValueError, match=match):
            assess(bad, people, records, pack)


# §0 calendar twins -----------------------------------------------------------------------


def test_calendar_twins_agree_with_arith():
    """RULES.md §0: age in full years, add_months with month-end clamping. (The kernels'
    windows, `since < day <= d`, are §6's V09, V10 and V14, each tested at both ends.)"""
    epoch = dt.date(1970, 1, 1)
    rng = np.random.default_rng(0)
    days = [
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
        dt.date(2023, 3, 1),
        dt.date(1900, 2, 28),
        dt.date(2000, 2, 29),
        dt.date(1969, 12, 31),
    ]
    days += [epoch + dt.timedelta(days=int(x)) for x in rng.integers(-40000, 40000, 300)]
    for d in days:
        z = (d - epoch).days
        assert karith.civil_from_days(z) == (d.year, d.month, d.day)
        assert karith.days_from_civil(d.year, d.month, d.day) == z
        for k in (-25, -24, -12, -1, 0, 1, 13):
            assert karith.add_months(z, k) == (arith.add_months(d, k) - epoch).days
        for b in days[:8]:
            assert karith.age_years((b - epoch).days, z) == arith.age(b, d)


def test_calendar_far_from_today():
    """§0 day numbers of any int32 date (date32) round-trip through the civil date, and
    the fast conversion (from year -32,800 on) agrees with the general one; a day
    number and its successor are one day apart in the proleptic Gregorian calendar."""
    rng = np.random.default_rng(1)
    days = [-(2**31), 2**31 - 1, -719469, -719470, -719468, *range(-13_000_000, -12_600_000, 997)]
    days += rng.integers(-(2**31), 2**31, 2000).tolist()
    for z in days:
        y, m, d = karith._civil_from_days_any(z)
        assert karith.days_from_civil(y, m, d) == z
        if z >= -12_699_422:  # year -32,800 and later
            assert karith.civil_from_days(z) == (y, m, d)
        y2, m2, d2 = karith._civil_from_days_any(z + 1) if z < 2**31 - 1 else (y, m, d + 1)
        assert (y2, m2, d2) == (y, m, d + 1) or d2 == 1 and d == karith.days_in_month(y, m)


def test_kernel_enumerations_match_the_schema():
    """kernels/ imports only numpy and numba, so it repeats the enumerations of
    meanstest.schema (a value's index is its code): they must stay identical."""
    from meanstest.kernels import layout

    shared = [
        name
        for name in dir(layout)
        if name.isupper() and isinstance(getattr(layout, name), tuple) and hasattr(schema, name)
    ]
    assert {"STATUSES", "STUDENT_LEVELS", "RECORD_TYPES", "VEHICLE_TYPES"} <= set(shared)
    for name in shared:
        assert getattr(layout, name) == getattr(schema, name), name
