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

One pass over the Arrow buffers: IDs are hashed once (`ids.IdPass`, handed on to the
engine in `EngineInput.ids`), enumerations are coded by a numba kernel (the codes are
kept for assembly), numbers and dates are read as numpy views of their buffers and
validity bitmaps. No Arrow compute call runs on a valid bundle's rows; Python builds the
reason strings of invalid rows only, and calls `library.select` once per distinct
(jurisdiction, assessment_date).
"""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import ids, schema
from meanstest.bundle import conform_tables
from meanstest.columns import UNKNOWN_CODE, enum_codes, numbers
from meanstest.engine import EngineInput
from meanstest.kernels.columns import digit_strings

MONEY = {
    "households": ("declared_income_monthly", "declared_financial_assets", "prev_benefit"),
    "persons": ("tuition",),
    "tax_income": ("amount",),
    "business_registration": ("annual_turnover",),
    "bank": ("balance", "interest"),
    "vehicle": ("value",),
    "property": ("rental_income",),
    "social_insurance": ("amount", "reimbursed"),
}
COUNTS = {
    "households": ("declared_vehicles", "declared_properties"),
    "persons": ("refused_job_offers",),
    "business_registration": ("employees",),
}
# (table, column) -> (rule, lowest, highest), bounds inclusive.
RANGES = {
    ("persons", "health"): ("health outside 1..6", 1, 6),
    ("supporters", "health"): ("health outside 1..6", 1, 6),
    ("property", "share"): ("share outside 1..1000", 1, 1000),
    ("property", "area"): ("negative area", 0, None),
    ("supporters", "supported_count"): ("supported_count below 1", 1, None),
}
# RULES.md §0 computes in int64. An amount (fen) or area (centi-m²) above MAX_AMOUNT —
# one trillion yuan in a single record — is not assessed: sums of such rows and their
# per-mille products could leave int64, where the kernels would wrap silently and the
# reference would fail (docs/decisions.md, "Amounts beyond int64").
MAX_AMOUNT = 10**14
CEILINGS = {
    **{(t, c): "money above 10^14 fen (RULES.md §0: int64)" for t, cs in MONEY.items() for c in cs},
    ("property", "area"): "area above 10^14 centi-m2 (RULES.md §0: int64)",
}
KEYS = {"households": "household_id", "persons": "person_id", "supporters": "supporter_id"}
ID_COLUMNS = {"persons": "person_id", "supporters": "supporter_id"}
NULL = "null in a required column"
_SIX_DIGITS = re.compile(r"[0-9]{6}")
_LAST = 1 << 20  # order of a reason after every column reason of its row
_FIRST_DAY, _LAST_DAY = -719_162, 2_932_896  # 0001-01-01 and 9999-12-31, days from 1970


@dataclass(frozen=True)
class Validation:
    engine_input: EngineInput
    rejects: pa.Table  # schema.OUTPUTS["rejects"], one row per rejected households row
    unmatched_source_rows: int  # source rows matching no member/supporter of any household
    orphan_rows: int  # persons/supporters rows whose household_id has no households row
    households_read: int


class _Issues:
    """The invalid cells of one table: which rows, and (for those rows only) the texts."""

    def __init__(self, name: str, table: pa.Table) -> None:
        self.name, self.table = name, table
        self.source = name in schema.SOURCE_TABLES
        self._position = {c.name: i for i, c in enumerate(schema.TABLES[name])}
        self._items: list[tuple[str, np.ndarray, str | None, list | None, int]] = []

    def add(self, column: str, rows, rule: str, details: list | None = None, k: int = 0):
        """Rows breaking `rule`: "{rule} ({person …; }{detail})"."""
        self._add(column, rows, rule, details, k)

    def add_texts(self, column: str, rows, problems: list[str], k: int = 0) -> None:
        """Rows with whole problem texts of their own (ID problems: never prefixed)."""
        self._add(column, rows, None, problems, k)

    def _add(self, column, rows, rule, details, k) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size:
            self._items.append((column, rows, rule, details, self._position[column] * 16 + k))

    def rows(self) -> np.ndarray:
        if not self._items:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate([item[1] for item in self._items]))

    def reasons(self) -> dict[int, list[tuple[int, int, str]]]:
        """row -> [(order, sub-order, text)]."""
        rows = self.rows()
        if not rows.size:
            return {}
        key_column = KEYS.get(self.name, "record_id")
        keys = dict(zip(rows.tolist(), _take(self.table, key_column, rows), strict=True))
        persons = {}
        if self.source:
            persons = dict(zip(rows.tolist(), _take(self.table, "person_id", rows), strict=True))
        out: dict[int, list[tuple[int, int, str]]] = {}
        for column, item_rows, rule, details, order in self._items:
            for j, row in enumerate(item_rows.tolist()):
                detail = details[j] if details is not None else None
                if rule is None:
                    problem = detail
                else:
                    parts = [f"person {persons[row]}"] if self.source else []
                    if detail is not None:
                        parts.append(detail)
                    problem = f"{rule} ({'; '.join(parts)})" if parts else rule
                text = f"{self.name}.{column} record={_key(keys[row], row)}: {problem}"
                out.setdefault(row, []).append((order, j, text))
        return out


def _take(table: pa.Table, column: str, rows: np.ndarray) -> list:
    if not len(rows):  # the usual case: no bad row, no Arrow call
        return []
    return ids.take(table.column(column), rows).to_pylist()


def _flat(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _ints(arr: pa.Array, fill: int = 0) -> np.ndarray:
    return (arr.fill_null(fill) if arr.null_count else arr).to_numpy()


def _valid(arr: pa.Array) -> np.ndarray:
    return ids.valid_mask(arr)


def _at(values: np.ndarray, index: np.ndarray, missing=False) -> np.ndarray:
    """values[index], `missing` where index < 0."""
    if not len(values):  # every index is < 0 (e.g. the only household_id is null)
        return np.full(np.shape(index), missing, dtype=np.asarray(missing).dtype)
    return np.where(index >= 0, values[np.maximum(index, 0)], missing)


def _key(value, row) -> str:
    return value if value is not None else f"(row {int(row) + 1})"


def _check_columns(issues: _Issues, enums: dict, keep: np.ndarray | None = None) -> None:
    """The column rules of DATA.md "Bad input" (nulls, enums, signs, ranges), for the rows
    where `keep` (all when None). Enumeration codes go to enums[(table, column)]."""
    name, table = issues.name, issues.table

    def where(bad: np.ndarray) -> np.ndarray:
        return np.flatnonzero(bad if keep is None else bad & keep)

    for col in schema.TABLES[name]:
        arr = _flat(table.column(col.name))
        nulls = arr.null_count
        if not col.nullable and nulls:
            issues.add(col.name, where(~_valid(arr)), NULL)
        if col.enum:
            codes = enums[name, col.name] = enum_codes(arr, col.enum)
            unknown = codes == UNKNOWN_CODE
            if unknown.any():
                rows = where(unknown)
                allowed = "|".join(col.enum)
                values = _take(table, col.name, rows)
                issues.add(
                    col.name,
                    rows,
                    "unknown enum value",
                    [f"{v!r}; allowed {allowed}" for v in values],
                    k=1,
                )
        rule = _RULES.get((name, col.name))
        if rule is not None:
            rule, low, high = rule
            v = numbers(arr)
            bad = v < low if high is None else (v < low) | (v > high)
            if nulls:
                bad &= _valid(arr)
            if bad.any():
                rows = where(bad)
                issues.add(col.name, rows, rule, [str(x) for x in v[rows].tolist()], k=2)
            ceiling = CEILINGS.get((name, col.name))
            over = v > MAX_AMOUNT if ceiling is not None else None
            if over is not None and nulls:
                over &= _valid(arr)  # a null's slot holds anything
            if over is not None and over.any():
                rows = where(over)
                issues.add(col.name, rows, ceiling, [str(x) for x in v[rows].tolist()], k=2)


# (table, column) -> (rule, lowest, highest) of every signed or bounded column
_RULES = {
    **{(t, c): ("negative money", 0, None) for t, cols in MONEY.items() for c in cols},
    **{(t, c): ("negative count", 0, None) for t, cols in COUNTS.items() for c in cols},
    **RANGES,
}


def validate(tables: dict[str, pa.Table], library) -> Validation:
    """Split a bundle's households into the assessable (an EngineInput) and the rejected.

    `tables` is a bundle as read by meanstest.bundle.read_bundle (or any dict of tables
    it would conform); `library` a meanstest.policy.PolicyLibrary.
    """
    t = {name: table.combine_chunks() for name, table in conform_tables(tables).items()}
    households, persons, supporters = t["households"], t["persons"], t["supporters"]
    n = households.num_rows

    ip = ids.IdPass.of(t)  # every ID hashed here, once
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
        _check_columns(issues, enums)
        column = ID_COLUMNS[issues.name]
        flagged = np.flatnonzero((check.flags != 0) & _valid(_flat(issues.table[column])))
        _add_id_problems(issues, column, flagged)
        _birth_disagreement(issues, column, check)
        return [(home[row], (group, row), r) for row, r in issues.reasons().items()]

    def source_reasons_of(group, name):
        table = t[name]
        code = ip.source_code[name]
        matched = _at(in_household, code)
        issues = _Issues(name, table)
        _check_columns(issues, enums, keep=matched)
        # A matched person_id is the string of a member or supporter: the same flags.
        flagged = matched & (_at(people.flags, code, 0) != 0)
        _add_id_problems(issues, "person_id", np.flatnonzero(flagged))
        if name == "property":
            _disposed_before_acquired(issues, matched)
        found_here = []
        for row, reasons in issues.reasons().items():
            for order, sub, text in reasons:
                found_here.append((int(code[row]), (group, row, order, sub), text))
        return int(table.num_rows - matched.sum()), found_here

    with _executor(n) as pool:
        house_job = pool.submit(_households_issues, households, codes, rows_of, library, enums)
        people_jobs = [
            pool.submit(people_reasons, 0, _Issues("persons", persons), p_check, p_home),
            pool.submit(people_reasons, 1, _Issues("supporters", supporters), s_check, s_home),
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
            key = _key(households["household_id"][int(first)].as_py(), first)
            found.add(
                h, (0, -1, 0, 0), f"persons.household_id record={key}: household has no members"
            )
        p, s = (p_home, p_code, p_in), (s_home, s_code, s_in)
        _same_person_twice(found, persons, supporters, p, s, len(people))

        unmatched = 0
        source_reasons = []  # (people code, order, text)
        for job in source_jobs:
            missed, found_here = job.result()
            unmatched += missed
            source_reasons += found_here
    if source_reasons:
        homes_of = _homes_of({c for c, _, _ in source_reasons}, p, s, len(people))
        for c, order, text in source_reasons:
            for h in homes_of[c]:
                found.add(h, order, text)

    row_reasons = house.reasons()
    code_bad = np.zeros(n_codes, dtype=bool)
    code_bad[list(found.by_code)] = True
    rejected = _at(code_bad, codes)
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
        _keep(persons, _at(valid_code, p_home)),
        _keep(supporters, _at(valid_code, s_home)),
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
            done.set_result(fn(*args))
        except BaseException as e:  # noqa: BLE001 - raised again by .result(), in order
            done.set_exception(e)
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


def _add_id_problems(issues: _Issues, column: str, rows: np.ndarray) -> None:
    """The GB 11643 problems of flagged, non-null `rows` of an ID column."""
    texts = [ids.id_problems(v) for v in _take(issues.table, column, rows)]
    for k in range(2):  # at most two problems: bad birth date and bad check character
        sel = [j for j, p in enumerate(texts) if len(p) > k]
        issues.add_texts(column, rows[sel], [texts[j][k] for j in sel], k=3 + k)


def _birth_disagreement(issues: _Issues, column: str, check: ids.IdCheck) -> None:
    birth = _flat(issues.table["birth_date"])
    days = numbers(birth)
    rows = np.flatnonzero(check.has_birth & _valid(birth) & (check.birth != days))
    texts = [
        ids.disagreement(v, d)
        for v, d in zip(
            _take(issues.table, column, rows), _take(issues.table, "birth_date", rows), strict=True
        )
    ]
    issues.add_texts(column, rows, texts, k=5)


def _disposed_before_acquired(issues: _Issues, keep: np.ndarray) -> None:
    acquired = _flat(issues.table["acquired_on"])
    disposed = _flat(issues.table["disposed_on"])
    a, d = numbers(acquired), numbers(disposed)
    rows = np.flatnonzero(_valid(acquired) & _valid(disposed) & (d < a) & keep)
    details = [
        f"acquired_on {x}, disposed_on {y}"
        for x, y in zip(
            _take(issues.table, "acquired_on", rows),
            _take(issues.table, "disposed_on", rows),
            strict=True,
        )
    ]
    issues.add("disposed_on", rows, "disposed before acquired", details, k=3)


def _households_issues(households: pa.Table, codes, rows_of, library, enums: dict):
    """Issues of the households rows, and the pack of each row (-1: none)."""
    issues = _Issues("households", households)
    _check_columns(issues, enums)
    dup = np.flatnonzero(_at(rows_of, codes, 0) > 1)
    issues.add(
        "household_id",
        dup,
        "duplicate household_id",
        [f"{rows_of[codes[r]]} rows" for r in dup.tolist()],
        k=3,
    )

    jurisdiction = ids.string_array(households["jurisdiction"])
    number = np.empty(len(jurisdiction), dtype=np.int64)  # the 6 digits' value, -1 if not
    digit_strings(
        ids._offsets(jurisdiction), ids._data(jurisdiction), ids.valid_mask(jurisdiction), 6, number
    )
    well = number >= 0
    bad = np.flatnonzero(ids.valid_mask(jurisdiction) & ~well)
    issues.add(
        "jurisdiction",
        bad,
        "jurisdiction not 6 digits",
        [repr(v) for v in _take(households, "jurisdiction", bad)],
        k=3,
    )

    date = _flat(households["assessment_date"])
    days = numbers(date).astype(np.int64)
    # date32 reaches beyond Python's dates (found by fuzzing: an OverflowError)
    far = _valid(date) & ((days < _FIRST_DAY) | (days > _LAST_DAY))
    issues.add("assessment_date", np.flatnonzero(far), "date outside 0001-01-01..9999-12-31")
    ask = well & _valid(date) & ~far
    pair_index, first = ids.encode_keys(np.where(ask, (number << 32) + days + (1 << 31), -1))
    packs, pack_of_pair, detail_of_pair, index_of_pack = [], [], [], {}
    for row in first.tolist():  # distinct (jurisdiction, date) in order of first row
        j, d = f"{number[row]:06d}", ids.date_of_days(days[row])
        pack = library.select(j, d)
        if pack is not None and id(pack) not in index_of_pack:
            index_of_pack[id(pack)] = len(packs)
            packs.append(pack)
        pack_of_pair.append(-1 if pack is None else index_of_pack[id(pack)])
        tried = ", ".join(library.candidates(j))
        detail_of_pair.append(f"jurisdiction {j}, assessment_date {d}; tried {tried}")
    policy_of = np.array(pack_of_pair + [-1], dtype=np.int32)[pair_index]  # -1 reads -1
    none = np.flatnonzero(ask & (policy_of < 0))
    issues.add(
        "jurisdiction",
        none,
        "no policy pack",
        [detail_of_pair[p] for p in pair_index[none].tolist()],
        k=4,
    )
    _check_programs(issues, households, policy_of, packs)
    return packs, policy_of, issues


def _check_programs(issues: _Issues, households: pa.Table, policy_of, packs) -> None:
    """§11: every current_programs entry is a program the household's pack defines."""
    lists = _flat(households["current_programs"])
    if lists.null_count == len(lists):
        return
    names = lists.flatten()  # skips null lists, unlike list_parent_indices
    parent = np.repeat(np.arange(len(lists)), _ints(pc.list_value_length(lists)))
    known = _valid(names)
    issues.add("current_programs", parent[~known], "null program name", k=3)
    pack_of = policy_of[parent]
    for p in np.unique(pack_of[pack_of >= 0]).tolist():
        entries = np.flatnonzero((pack_of == p) & known)
        defined = sorted(packs[p].programs)
        ok = pc.is_in(names.take(pa.array(entries)), value_set=pa.array(defined, pa.string()))
        bad = entries[~ok.to_numpy(zero_copy_only=False)]
        listing = ", ".join(defined) or "none"
        issues.add(
            "current_programs",
            parent[bad],
            "program not defined by the household's pack",
            [
                f"{v!r}; pack {packs[p].id} defines {listing}"
                for v in names.take(pa.array(bad)).to_pylist()
            ],
            k=4,
        )


def _same_person_twice(found, persons, supporters, p, s, n_people) -> None:
    """A person twice in one household (two members, two supporters, or both): one reason
    per (household, person), on the first member row, else the first supporter row."""
    (p_home, p_code, p_in), (s_home, s_code, s_in) = p, s
    count = np.bincount(np.concatenate([p_code[p_in], s_code[s_in]]), minlength=n_people)
    p_rows = np.flatnonzero(p_in & _at(count > 1, p_code))
    s_rows = np.flatnonzero(s_in & _at(count > 1, s_code))
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


def _homes_of(codes: set[int], p, s, n_people) -> dict[int, list[int]]:
    """people code -> household codes where that person is a member or supporter (only
    the few people with an invalid source row: no pass over everybody's households)."""
    wanted = np.zeros(n_people, dtype=bool)
    wanted[list(codes)] = True
    out: dict[int, set[int]] = {c: set() for c in codes}
    for home, code, inside in (p, s):
        rows = np.flatnonzero(inside & _at(wanted, code))
        for c, h in zip(code[rows].tolist(), home[rows].tolist(), strict=True):
            out[c].add(h)
    return {c: sorted(hs) for c, hs in out.items()}


def _duplicates(households, ip: ids.IdPass, p) -> dict[str, list[str]]:
    """RULES.md §8 DUPLICATE_PERSON: person_id -> sorted distinct household_ids of every
    households row (rejected ones included) of which that person is a member."""
    p_home, p_code, p_in = p
    people, n_homes = ip.people, ip.n_households
    count = np.bincount(p_code[p_in], minlength=len(people))
    rows = np.flatnonzero(p_in & _at(count > 1, p_code))
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
