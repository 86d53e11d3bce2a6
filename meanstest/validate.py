"""Bad input (DATA.md "Bad input"): which households can be assessed, and why the
others cannot.

A household with any invalid row — its households row, a member or supporter row, or a
source row of one of its members or supporters — is rejected as a whole, with every
reason; the rest are assessed. One reject row per households row: results + rejects =
households, always (checked here; a break is a bug).

A reason reads "{table}.{column} record={key}: {problem}", the key being household_id,
person_id, supporter_id or record_id (or "(row N)", 1-based, when the key itself is
null). Problems of a source row name its person first: "negative money (person …; -1)".
Reasons of one household come households row first, then members, supporters and the
source tables in schema.SOURCE_TABLES order, each in row order and, within a row, in
column order; a reason is listed once.

Where DATA.md is silent:
- persons / supporters rows whose household_id matches no households row ("orphans")
  are not households: they are counted, never rejected, never assessed;
- a source row that matches no member or supporter of any households row is counted
  as unmatched and not checked (it cannot reject anybody);
- an invalid jurisdiction or a null assessment_date is its own reason: no pack is
  looked up for it, so there is no "no policy pack" reason on top;
- current_programs is checked against the household's pack only when it has one;
- a person twice in one household is one reason per (household, person), on the
  first member row (or the first supporter row if only a supporter).

One pass over the Arrow buffers: IDs are hashed once (`id_pass.IdPass`, handed on to the
engine in `EngineInput.ids`), enumerations are coded by a numba kernel (the codes are
kept for assembly), numbers and dates are read as numpy views of their buffers and
validity bitmaps. No Arrow compute call runs on a valid bundle's rows; Python builds the
reason strings of invalid rows only, and calls `library.select` once per distinct
(jurisdiction, assessment_date). The rules of one table's rows are in
meanstest.row_checks; here, the rules across tables (no members, a person twice in a
household, a source row's problems reaching every household of its person) and the
split into the assessable and the rejected.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

import numpy as np
import pyarrow as pa

from meanstest import ids, schema
from meanstest.conform import conform_tables
from meanstest.engine import EngineInput
from meanstest.id_pass import IdPass
from meanstest.row_checks import (
    ID_COLUMNS,
    MAX_AMOUNT,
    MAX_TOTAL,
    MONEY,
    Issues,
    ReasonBudget,
    Unreadable,
    add_id_problems,
    birth_disagreement,
    check_columns,
    counted,
    disposed_before_acquired,
    flat,
    households_issues,
    record_key,
    total_reason,
    values_at,
)

if TYPE_CHECKING:
    from meanstest.policy import PolicyLibrary

_LAST = 1 << 20  # order of a reason after every column reason of its row


@dataclass(frozen=True)
class Validation:
    engine_input: EngineInput
    rejects: pa.Table  # schema.OUTPUTS["rejects"], one row per rejected households row
    unmatched_source_rows: int  # source rows matching no member/supporter of any household
    orphan_rows: int  # persons/supporters rows whose household_id has no households row
    households_read: int


def validate(
    tables: dict[str, pa.Table],
    library: PolicyLibrary,
    places: dict[str, np.ndarray] | None = None,
    max_reasons: int | None = None,
    unreadable: dict[str, dict[str, Unreadable]] | None = None,
) -> Validation:
    """Split a bundle's households into the assessable (an EngineInput) and the rejected.

    `tables` is a bundle as read by meanstest.bundle.read_bundle (or any dict of tables
    it would conform); `library` a meanstest.policy.PolicyLibrary. `places`: when the
    tables hold some of a bundle's rows (a review's chunk), each row's place in its
    bundle table (0-based, by table name), so that a reason's "(row N)" names the row
    in the bundle whatever the chunking; by default a row's place in `tables`.
    `max_reasons`: the most reasons of rows' checks (a service call's budget,
    row_checks.ReasonBudget); past it TooManyReasons, before their texts are built.
    `unreadable`: by table and column, the cells a service call's conversion could not
    hold and passed on as nulls (row_checks.Unreadable), each a reason of its own.
    """
    place = (places or {}).get
    cells = (unreadable or {}).get
    budget = ReasonBudget(max_reasons) if max_reasons is not None else None
    t = {name: table.combine_chunks() for name, table in conform_tables(tables).items()}
    households, persons, supporters = t["households"], t["persons"], t["supporters"]
    n = households.num_rows

    ip = IdPass.of(t)  # every ID hashed here, once
    codes = ip.household_code
    n_codes = ip.n_households
    rows_of = np.bincount(codes[codes >= 0], minlength=n_codes)
    p_home, s_home = ip.person_home, ip.supporter_home
    p_check, s_check = ip.person_check, ip.supporter_check
    people = ip.people
    p_code, s_code = ip.person_code, ip.supporter_code
    p_in = (p_home >= 0) & (p_code >= 0)
    s_in = (s_home >= 0) & (s_code >= 0)
    in_household = np.zeros(len(people), dtype=bool)
    in_household[p_code[p_in]] = True
    in_household[s_code[s_in]] = True
    enums = ip.enums

    # The checks of each table are independent of the other tables' (numpy, Arrow and
    # numba release the GIL): for a large batch, run on two threads, their reasons
    # merged in table order.
    def people_reasons(group, issues, check, home):
        check_columns(issues, enums)
        column = ID_COLUMNS[issues.name]
        flagged = np.flatnonzero((check.flags != 0) & ids.valid_mask(flat(issues.table[column])))
        add_id_problems(issues, column, flagged)
        birth_disagreement(issues, column, check)
        return [(home[row], (group, row), r) for row, r in issues.reasons().items()]

    def source_reasons_of(group, name):
        table = t[name]
        code = ip.source_code[name]
        matched = values_at(in_household, code)
        issues = Issues(name, table, place(name), budget, cells(name))
        check_columns(issues, enums, keep=matched)
        # A matched person_id is the string of a member or supporter: the same flags.
        flagged = matched & (values_at(people.flags, code, 0) != 0)
        add_id_problems(issues, "person_id", np.flatnonzero(flagged))
        if name == "property":
            disposed_before_acquired(issues, matched)
        found_here = []
        for row, reasons in issues.reasons().items():
            for order, sub, text in reasons:
                found_here.append((int(code[row]), (group, row, order, sub), text))
        rows_of_person = np.bincount(code[code >= 0], minlength=len(people))  # for _totals
        return int(table.num_rows - matched.sum()), found_here, rows_of_person

    with _executor(n) as pool:
        house_job = pool.submit(
            households_issues,
            households,
            codes,
            rows_of,
            library,
            enums,
            place("households"),
            budget,
            cells("households"),
        )
        people_jobs = [
            pool.submit(
                people_reasons,
                0,
                Issues("persons", persons, place("persons"), budget, cells("persons")),
                p_check,
                p_home,
            ),
            pool.submit(
                people_reasons,
                1,
                Issues("supporters", supporters, place("supporters"), budget, cells("supporters")),
                s_check,
                s_home,
            ),
        ]
        source_jobs = [
            pool.submit(source_reasons_of, group, name)
            for group, name in enumerate(schema.SOURCE_TABLES, start=2)
        ]
        packs, policy_of, house = house_job.result()
        found = _Reasons()
        for job in people_jobs:
            for home, prefix, reasons in job.result():
                if home >= 0:
                    found.add_all(home, prefix, reasons)

        members_of = np.bincount(p_home[p_home >= 0], minlength=n_codes)
        for h in np.flatnonzero((rows_of > 0) & (members_of == 0)).tolist():
            first = ip.household_first[h]
            key = record_key(
                households["household_id"][int(first)].as_py(), first, place("households")
            )
            found.add(
                h, (0, -1, 0, 0), f"persons.household_id record={key}: household has no members"
            )
        p, s = (p_home, p_code, p_in), (s_home, s_code, s_in)
        _same_person_twice(found, persons, supporters, p, s, len(people))

        unmatched = 0
        source_reasons = []  # (people code, order, text)
        cells_of_person = np.zeros(len(people), dtype=np.int64)  # amount cells of source rows
        for name, job in zip(schema.SOURCE_TABLES, source_jobs, strict=True):
            missed, found_here, rows_of_person = job.result()
            unmatched += missed
            source_reasons += found_here
            cells_of_person += len(MONEY[name]) * rows_of_person
    if source_reasons:
        homes_of = _homes_of({c for c, _, _ in source_reasons}, p, s, len(people))
        if budget is not None:  # a source row's reason is listed in each of its person's
            # households (the review of the budget: one supporter of 200 households,
            # 25,000 bad rows: 5,000,000 reasons answered past a budget of 4,000,000)
            copies = sum(len(homes_of[c]) for c, _, _ in source_reasons) - len(source_reasons)
            budget.take(copies, "the households of the source rows' people")
        for c, order, text in source_reasons:
            for h in homes_of[c]:
                found.add(h, order, text)

    _totals(found, t, ip, (p_home, p_code), (s_home, s_code), rows_of, cells_of_person)

    row_reasons = house.reasons()
    code_bad = np.zeros(n_codes, dtype=bool)
    code_bad[list(found.by_code)] = True
    rejected = values_at(code_bad, codes)
    rejected[list(row_reasons)] = True
    valid = ~rejected

    used = policy_of[valid]
    distinct, first = np.unique(used, return_index=True)
    distinct = distinct[np.argsort(first)]  # packs in order of first use
    remap = np.full(len(packs) + 1, -1, dtype=np.int32)
    remap[distinct] = np.arange(len(distinct), dtype=np.int32)

    rejects = _rejects(households, codes, np.flatnonzero(rejected), row_reasons, found)
    valid_code = np.zeros(n_codes, dtype=bool)
    valid_code[codes[valid]] = True
    engine_tables = (
        _keep(households, valid),
        _keep(persons, values_at(valid_code, p_home)),
        _keep(supporters, values_at(valid_code, s_home)),
    )
    engine_input = EngineInput(
        *engine_tables,
        sources={name: t[name] for name in schema.SOURCE_TABLES},
        policies=[packs[i] for i in distinct.tolist()],
        policy_index=remap[used],
        duplicates=_duplicates(households, ip, p),
        ids=ip.restrict(valid, engine_tables),
    )
    orphans = int((p_home < 0).sum() + (s_home < 0).sum())
    if engine_input.households.num_rows + rejects.num_rows != n or (used < 0).any():
        raise RuntimeError(
            f"validation lost households: read {n}, valid {engine_input.households.num_rows}, "
            f"rejected {rejects.num_rows} (a bug in meanstest.validate)"
        )
    return Validation(engine_input, rejects, unmatched, orphans, n)


# ------------------------------------------------------------------- the pieces --

THREADED_FROM = 1 << 14  # households from which the tables are checked on two threads


def _executor(households: int):
    """Two threads for a large batch when numba allows parallel regions from two threads
    at once (OpenMP, TBB); else the calling thread (a small batch, the service's calls)."""
    if households >= THREADED_FROM and reentrant_layer():
        return ThreadPoolExecutor(2, "validate")
    return _Inline()


def reentrant_layer() -> bool:
    """Whether numba's threading layer lets two threads run parallel regions at once
    (OpenMP and TBB do; workqueue is not re-entrant)."""
    import numba

    try:
        return numba.threading_layer() in ("omp", "tbb")
    except ValueError:  # no parallel region has run yet: the layer is not chosen
        return False


class _Inline:
    """An executor that runs each job when it is submitted, on the calling thread."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def submit(self, fn, *args) -> Future:
        done: Future = Future()
        try:
            value = fn(*args)
        except BaseException as e:  # noqa: BLE001 - raised again by .result(), in order
            done.set_exception(e)
        else:  # not in the try: an interrupt in set_result is not the job's to keep
            done.set_result(value)
        return done


class _Reasons:
    """Reasons attached to households by code (household_id), in canonical order."""

    def __init__(self) -> None:
        self.by_code: dict[int, list[tuple[tuple, str]]] = {}

    def add(self, code, order: tuple, text: str) -> None:
        self.by_code.setdefault(int(code), []).append((order, text))

    def add_all(self, code, prefix: tuple, reasons: list[tuple[int, int, str]]) -> None:
        for order, sub, text in reasons:
            self.add(code, (*prefix, order, sub), text)

    def texts(self, code: int) -> list[str]:
        return [text for _, text in sorted(self.by_code.get(code, ()))]


def _keep(table: pa.Table, mask: np.ndarray) -> pa.Table:
    return table if mask.all() else table.filter(pa.array(mask))


def _same_person_twice(found, persons, supporters, p, s, n_people) -> None:
    """A person twice in one household (two members, two supporters, or both): one reason
    per (household, person), on the first member row, else the first supporter row."""
    (p_home, p_code, p_in), (s_home, s_code, s_in) = p, s
    count = np.bincount(np.concatenate([p_code[p_in], s_code[s_in]]), minlength=n_people)
    p_rows = np.flatnonzero(p_in & values_at(count > 1, p_code))
    s_rows = np.flatnonzero(s_in & values_at(count > 1, s_code))
    if not p_rows.size + s_rows.size:
        return
    home = np.concatenate([p_home[p_rows], s_home[s_rows]]).astype(np.int64)
    code = np.concatenate([p_code[p_rows], s_code[s_rows]]).astype(np.int64)
    kind = np.concatenate([np.zeros(p_rows.size, np.int64), np.ones(s_rows.size, np.int64)])
    row = np.concatenate([p_rows, s_rows])
    key = home * n_people + code
    order = np.lexsort((row, kind, key))
    key, kind, row, home = key[order], kind[order], row[order], home[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, key.size])
    for at, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        members = int((kind[at : at + size] == 0).sum())
        counts = ", ".join(
            f"{c} {what} row{'s' if c > 1 else ''}"
            for c, what in ((members, "member"), (size - members, "supporter"))
            if c
        )
        first, group = int(row[at]), int(kind[at])
        table, column = ("persons", "person_id") if group == 0 else ("supporters", "supporter_id")
        pid = (persons if group == 0 else supporters)[column][first].as_py()
        text = f"{table}.{column} record={pid}: same person twice in one household ({counts})"
        found.add(home[at], (group, first, _LAST, 0), text)


def _totals(found, t: dict[str, pa.Table], ip: IdPass, p, s, rows_of, per_person) -> None:
    """A household whose amounts total more than MAX_TOTAL (row_checks): counted from the
    number of amount cells (each at most MAX_AMOUNT) of its households row, its persons
    rows and its members' and supporters' source rows (`per_person`, by people code);
    summed exactly only for the rare household with more than MAX_TOTAL / MAX_AMOUNT
    such cells."""
    (p_home, p_code), (s_home, s_code) = p, s
    n_people = len(ip.people)
    cells = len(MONEY["households"]) * rows_of.astype(np.int64)
    cells += np.bincount(p_home[p_home >= 0], minlength=len(cells))  # tuition
    for home, code in ((p_home, p_code), (s_home, s_code)):
        inside = (home >= 0) & (code >= 0)
        np.add.at(cells, home[inside], per_person[code[inside]])
    for h in np.flatnonzero(cells > MAX_TOTAL // MAX_AMOUNT).tolist():
        first = int(ip.household_first[h])
        total = counted(
            t["households"].slice(first, 1).select(MONEY["households"]).to_pylist()[0].values()
        )
        mine = p_home == h
        total += counted(t["persons"]["tuition"].filter(pa.array(mine)).to_pylist())
        people = np.zeros(n_people, dtype=bool)
        people[p_code[mine & (p_code >= 0)]] = True
        people[s_code[(s_home == h) & (s_code >= 0)]] = True
        for name in schema.SOURCE_TABLES:
            rows = pa.array(values_at(people, ip.source_code[name]))
            for column in MONEY[name]:
                total += counted(t[name][column].filter(rows).to_pylist())
        if total > MAX_TOTAL:
            hid = t["households"]["household_id"][first].as_py()
            found.add(h, (len(schema.SOURCE_TABLES) + 2, 0, 0, 0), total_reason(hid, total))


def _homes_of(codes: set[int], p, s, n_people) -> dict[int, list[int]]:
    """people code -> household codes where that person is a member or supporter (only
    the few people with an invalid source row: no pass over everybody's households)."""
    wanted = np.zeros(n_people, dtype=bool)
    wanted[list(codes)] = True
    out: dict[int, set[int]] = {c: set() for c in codes}
    for home, code, inside in (p, s):
        rows = np.flatnonzero(inside & values_at(wanted, code))
        for c, h in zip(code[rows].tolist(), home[rows].tolist(), strict=True):
            out[c].add(h)
    return {c: sorted(hs) for c, hs in out.items()}


def _duplicates(households, ip: IdPass, p) -> dict[str, list[str]]:
    """RULES.md §8 DUPLICATE_PERSON: person_id -> sorted distinct household_ids of every
    households row (rejected ones included) of which that person is a member."""
    p_home, p_code, p_in = p
    people, n_homes = ip.people, ip.n_households
    count = np.bincount(p_code[p_in], minlength=len(people))
    rows = np.flatnonzero(p_in & values_at(count > 1, p_code))
    if not rows.size:
        return {}
    pairs = np.unique(p_code[rows].astype(np.int64) * n_homes + p_home[rows])
    code, home = pairs // n_homes, pairs % n_homes
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    sizes = np.diff(np.r_[starts, code.size])
    keep = np.repeat(sizes > 1, sizes)
    code, home = code[keep], home[keep]
    if not code.size:
        return {}
    pids = people.values(code).to_pylist()
    hids = households["household_id"].take(pa.array(ip.household_first[home])).to_pylist()
    out: dict[str, list[str]] = {}
    for pid, hid in zip(pids, hids, strict=True):
        out.setdefault(pid, []).append(hid)
    return {pid: sorted(out[pid]) for pid in sorted(out)}


def _rejects(households, codes, rows, row_reasons, found) -> pa.Table:
    if not len(rows):
        return schema.OUTPUTS["rejects"].empty_table()
    reasons = []
    for r in rows.tolist():
        texts = [text for _, _, text in sorted(row_reasons.get(r, ()))]
        if codes[r] >= 0:
            texts += found.texts(int(codes[r]))
        reasons.append(list(dict.fromkeys(texts)))
    return pa.Table.from_arrays(
        [
            households["household_id"].take(pa.array(rows, type=pa.int64())),
            pa.array(reasons, type=pa.list_(pa.string())),
        ],
        schema=schema.OUTPUTS["rejects"],
    )
