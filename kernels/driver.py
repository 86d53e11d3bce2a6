"""The household kernel: public wrapper → parallel driver → serial household routine.

`assess` validates the grouped arrays (dtype, shape, offsets) and allocates the outputs
once, uninitialised (`np.empty`); `_assess_all` runs `assess_households` over chunks of
households in a `prange` (`_assess_serial` over all of them, without threads); each
household (`kernels.household`) writes every cell of its own output columns, member
slots and record instances, once, so the result does not depend on the number of
threads.
"""

from __future__ import annotations

import numpy as np
from numba import config, get_thread_id, prange

from .household import assess_household, calendar
from .jit import parallel, serial
from .layout import (
    BANK,
    BUSINESS,
    HC_DATE,
    HC_PACK,
    MAX_PROGRAMS,
    MC_PERSON,
    N_HC,
    N_HM,
    N_MC,
    N_MM,
    N_MOC,
    N_MOM,
    N_OC,
    N_OM,
    N_PARAMS,
    N_SC,
    N_TABLES,
    PROPERTY,
    SC_PERSON,
    SOCIAL,
    VEHICLE,
    Households,
    Outputs,
    Pack,
    People,
    Records,
)


@serial
def assess_households(h0, h1, hh, people, records, pack, out, work):
    """Households h0..h1-1, one after another (serial); `work` is the thread's scratch
    row. Households of one district mostly share a date and a pack: the calendar is
    computed again only when either changes."""
    codes = hh.codes
    last = (-1, 0)
    dates = ((0, 0, 0), 0, 0, 0)  # replaced at the first household
    for h in range(h0, h1):
        pack_row = codes[h, HC_PACK]
        d = codes[h, HC_DATE]
        if (d, pack_row) != last:
            last = (d, pack_row)
            dates = calendar(d, pack.params[pack_row])
        assess_household(h, dates, hh, people, records, pack, out, work)


CHUNK = 256  # households per parallel task: one call per chunk, not per household


@parallel
def _assess_all(hh, people, records, pack, out):
    n_h = hh.codes.shape[0]
    for k in prange((n_h + CHUNK - 1) // CHUNK):
        # the scratch row only holds values for distinct counting while one household
        # is assessed, so which thread runs which chunk cannot change a result
        h0 = k * CHUNK
        h1 = min(n_h, h0 + CHUNK)
        assess_households(h0, h1, hh, people, records, pack, out, out.scratch[get_thread_id()])


@serial
def _assess_serial(hh, people, records, pack, out):
    # no parallel region: a call of a few households (the service) starts no threads
    # and never waits on them
    # np.int64(0), not 0: a literal argument would compile assess_households a second
    # time, specialised for it (as long again as everything else)
    first = np.int64(0)
    assess_households(first, hh.codes.shape[0], hh, people, records, pack, out, out.scratch[0])


def _check(name: str, a, dtype, ncols: int | None = None) -> None:
    if not isinstance(a, np.ndarray) or a.dtype != dtype:
        got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        raise TypeError(f"{name} must be a numpy {np.dtype(dtype).name} array, got {got}")
    if ncols is not None and (a.ndim != 2 or a.shape[1] != ncols):
        raise TypeError(f"{name} must have shape (rows, {ncols}), got {a.shape}")
    if ncols is None and a.ndim != 1:
        raise TypeError(f"{name} must be one-dimensional, got shape {a.shape}")


def _check_group(group, spec) -> None:
    for field, dtype, ncols in spec:
        _check(f"{type(group).__name__}.{field}", getattr(group, field), dtype, ncols)


I16, I32, I64 = np.int16, np.int32, np.int64


def _index_dtype(people: People):
    """People's row indexes: int32, or int64 throughout (layout: a batch too large for
    int32)."""
    return I64 if getattr(people.person_ranges, "dtype", None) == I64 else I32


@serial
def _prepare(codes, member_off, instance_off, counts, supporter_codes, person_ranges, n_packs):
    """One pass over the households before the kernels: (the first household with no
    member or -1, the first with a pack row out of range or -1, the scratch width).

    The scratch holds four lists per thread (owned plates of a veto type and of any
    type, owned residential and any property ids), each as long as the most vehicle or
    property rows of one household, or property rows of one supporter. A household's
    instances of a table are numbered slot after slot, so its rows are a difference of
    offsets."""
    n_h = codes.shape[0]
    n_m = instance_off.shape[0]
    empty = -1
    bad_pack = -1
    widest = 1
    for h in range(n_h):
        m0, m1 = member_off[h], member_off[h + 1]
        if m1 <= m0:
            if empty < 0:
                empty = h
            continue
        if not 0 <= codes[h, HC_PACK] < n_packs and bad_pack < 0:
            bad_pack = h
        for t in (VEHICLE, PROPERTY):
            end = instance_off[m1, t] if m1 < n_m else counts[t]
            widest = max(widest, end - instance_off[m0, t])
    for s in range(supporter_codes.shape[0]):
        person = supporter_codes[s, SC_PERSON]
        rows = person_ranges[person, 2 * PROPERTY + 1] - person_ranges[person, 2 * PROPERTY]
        widest = max(widest, rows)
    return empty, bad_pack, 4 * widest


def assess(
    hh: Households, people: People, records: Records, pack: Pack, *, threads: bool = True
) -> Outputs:
    """Assess every household (RULES.md §2–§11) and return the filled `Outputs`.

    `threads=False` runs the households one after another on the calling thread (no
    parallel region): for calls of a few households, where starting and waking the
    thread pool costs more than the work. The outputs are identical either way.
    Arrays must be C-contiguous with the dtypes and widths of `kernels.layout`;
    anything else is refused with a TypeError naming the argument."""
    for group, cls in ((hh, Households), (people, People), (records, Records), (pack, Pack)):
        if not isinstance(group, cls):
            raise TypeError(f"expected {cls.__name__}, got {type(group).__name__}")
    _check_group(
        hh,
        (
            ("codes", I32, N_HC),
            ("money", I64, N_HM),
            ("member_off", I64, None),
            ("supporter_off", I64, None),
        ),
    )
    _check_group(
        people,
        (
            ("member_codes", I32, N_MC),
            ("member_money", I64, N_MM),
            ("supporter_codes", I32, N_SC),
            ("person_ranges", _index_dtype(people), 2 * N_TABLES),
            ("instance_off", _index_dtype(people), N_TABLES),
        ),
    )
    _check_group(
        records,
        (
            ("tax_codes", I32, 1),
            ("tax_money", I64, 1),
            ("business_codes", I32, 2),
            ("business_money", I64, 1),
            ("bank_money", I64, 2),
            ("vehicle_codes", I32, 3),
            ("vehicle_money", I64, 1),
            ("property_codes", I32, 6),
            ("property_money", I64, 2),
            ("social_codes", I32, 3),
            ("social_money", I64, 2),
        ),
    )
    _check("Pack.params", pack.params, I64, N_PARAMS)
    _check("Pack.program_count", pack.program_count, I64)
    _check(
        "Pack.program_statuses",
        pack.program_statuses,
        I64,
        getattr(pack.program_statuses, "shape", (0, 0))[-1],
    )
    _check("Pack.program_requires", pack.program_requires, I64, pack.program_statuses.shape[1])
    n_h, n_m = hh.codes.shape[0], people.member_codes.shape[0]
    if hh.member_off.shape[0] != n_h + 1 or hh.supporter_off.shape[0] != n_h + 1:
        raise TypeError("Households.member_off and supporter_off must have H + 1 entries")
    if hh.member_off[0] != 0 or hh.member_off[-1] != n_m:
        raise ValueError("Households.member_off must cover the member slots 0..M")
    if pack.program_statuses.shape[1] > MAX_PROGRAMS:
        raise ValueError(f"a pack defines more than {MAX_PROGRAMS} programs")
    counts = np.zeros(N_TABLES, I64)
    if n_m:
        last = people.member_codes[-1, MC_PERSON]
        ranges = people.person_ranges[last].astype(I64)
        counts = people.instance_off[-1].astype(I64) + (ranges[1::2] - ranges[0::2])
    empty, bad_pack, width = _prepare(
        hh.codes,
        hh.member_off,
        people.instance_off,
        counts,
        people.supporter_codes,
        people.person_ranges,
        pack.params.shape[0],
    )
    if empty >= 0:
        raise ValueError("every household needs at least one member (RULES.md §1)")
    if bad_pack >= 0:
        raise ValueError("Households.codes pack row out of range")
    # np.empty: the kernels write every cell (each household its own)
    out = Outputs(
        household_money=np.empty((N_OM, n_h), I64),
        household_codes=np.empty((N_OC, n_h), I32),
        member_money=np.empty((N_MOM, n_m), I64),
        member_codes=np.empty((N_MOC, n_m), I32),
        business_vetoes=np.empty(counts[BUSINESS], I16),
        bank_vetoes=np.empty(counts[BANK], I16),
        vehicle_vetoes=np.empty(counts[VEHICLE], I16),
        property_vetoes=np.empty(counts[PROPERTY], I16),
        social_vetoes=np.empty(counts[SOCIAL], I16),
        scratch=np.empty((config.NUMBA_NUM_THREADS if threads else 1, width), I32),
    )
    if n_h:
        (_assess_all if threads else _assess_serial)(hh, people, records, pack, out)
    return out
