"""The row rules of DATA.md "Bad input", table by table (meanstest.validate runs them).

Each check adds to an `Issues` the invalid rows of one table and, for those rows only,
the reason texts: "{table}.{column} record={key}: {problem}". Column rules (nulls,
enumerations, signs, ranges, the int64 ceiling), GB 11643 problems of IDs and their
birth dates, a property disposed before it was acquired, and the households rows'
own rules (duplicate household_id, jurisdiction, the policy pack of (jurisdiction,
assessment_date), current_programs). Numbers, dates and validity are read as numpy
views of the Arrow buffers; no Arrow compute call runs on valid rows.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import ids, schema
from meanstest.columns import UNKNOWN_CODE, enum_codes, numbers, program_codes
from meanstest.errors import TooManyReasons, quoted, shown_key
from meanstest.kernels.columns import digit_strings

if TYPE_CHECKING:
    from meanstest.policy import Policy, PolicyLibrary

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
# ... and so is a household whose amounts together pass MAX_TOTAL: below it no sum of its
# rows leaves int64 (each amount counted at most MAX_AMOUNT, negatives as 0: those rows
# are rejected anyway, and the bound must hold before they are); 10^4 records at the
# ceiling reach it.
MAX_TOTAL = 10**18


def total_reason(household_id: str | None, total: int) -> str:
    """The reason of a household whose amounts total more than MAX_TOTAL fen."""
    return (
        f"households.household_id record={household_id}: amounts of the household's rows "
        f"total {total} fen, above 10^18 (RULES.md §0: int64)"
    )


def counted(values: Iterable[int | None]) -> int:
    """Σ min(max(v, 0), MAX_AMOUNT) of an iterable of ints and Nones, exactly."""
    return sum(min(max(v, 0), MAX_AMOUNT) for v in values if v is not None)


KEYS = {"households": "household_id", "persons": "person_id", "supporters": "supporter_id"}
ID_COLUMNS = {"persons": "person_id", "supporters": "supporter_id"}
NULL = "null in a required column"
FAR_DATE = "date outside 0001-01-01..9999-12-31"
_FIRST_DAY, _LAST_DAY = -719_162, 2_932_896  # 0001-01-01 and 9999-12-31, days from 1970


class ReasonBudget:
    """The most reason texts one validation may build (a service call's; a review has
    none): each is ~0.7 KB of memory by the time the call has answered, and a row can
    break a rule in every column, so a call of few bytes could otherwise take tens of
    gigabytes (200,000 null persons rows of one household, 202 KB of Arrow IPC: 1.6M
    reasons, 1.2 GB). Counted before any text is built; shared by the tables' checks,
    which may run on two threads."""

    def __init__(self, most: int) -> None:
        self.most, self.used = most, 0
        self._lock = threading.Lock()

    def take(self, count: int, table: str) -> None:
        with self._lock:
            self.used += count
            used = self.used
        if used > self.most:
            raise TooManyReasons(
                f"the call's rejects would hold more than {self.most:,} reasons (at least "
                f"{used:,}, counted up to table {table}): fix the export, or split the call"
            )


@dataclass(frozen=True)
class Unreadable:
    """Cells of one column that held what its bundle type cannot: a service call's
    conversion (meanstest.service.convert) found a date that is not YYYY-MM-DD or an
    integer outside int8/int32, and hands the cell on as a null. Validation reports
    such a cell by `rule` (with its detail, the value as sent) where it would report a
    null, and checks the rest of the row as usual, so the household's reject lists every
    reason (DATA.md) and the cell's one."""

    rows: np.ndarray  # row numbers in the table, ascending
    rule: str  # e.g. "not a date YYYY-MM-DD"
    details: list[str]  # one per row: the value as sent


class Issues:
    """The invalid cells of one table: which rows, and (for those rows only) the texts."""

    def __init__(
        self,
        name: str,
        table: pa.Table,
        places: np.ndarray | None = None,
        budget: ReasonBudget | None = None,
        unreadable: dict[str, Unreadable] | None = None,
    ) -> None:
        """`places`: each row's place in the bundle (0-based) when `table` holds some of
        a bundle table's rows (a review's chunk), for "(row N)"; by default its own.
        `budget`: taken from before the texts are built. `unreadable`: by column, the
        cells that arrived as nulls because their value did not fit (Unreadable)."""
        self.name, self.table, self.places, self.budget = name, table, places, budget
        self.unreadable = unreadable or {}
        self.source = name in schema.SOURCE_TABLES
        self._position = {c.name: i for i, c in enumerate(schema.TABLES[name])}
        self._items: list[tuple[str, np.ndarray, str | None, list | None, int]] = []

    def add(
        self, column: str, rows: np.ndarray, rule: str, details: list | None = None, k: int = 0
    ) -> None:
        """Rows breaking `rule`: "{rule} ({person …; }{detail})"."""
        self._add(column, rows, rule, details, k)

    def add_texts(self, column: str, rows: np.ndarray, problems: list[str], k: int = 0) -> None:
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
        if self.budget is not None:
            self.budget.take(sum(len(item[1]) for item in self._items), self.name)
        key_column = KEYS.get(self.name, "record_id")
        keys = dict(zip(rows.tolist(), take_values(self.table, key_column, rows), strict=True))
        persons = {}
        if self.source:
            persons = dict(
                zip(rows.tolist(), take_values(self.table, "person_id", rows), strict=True)
            )
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
                key = record_key(keys[row], row, self.places)
                text = f"{self.name}.{column} record={key}: {problem}"
                out.setdefault(row, []).append((order, j, text))
        return out


def take_values(table: pa.Table, column: str, rows: np.ndarray) -> list:
    if not len(rows):  # the usual case: no bad row, no Arrow call
        return []
    return ids.take(table.column(column), rows).to_pylist()


def flat(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _ints(arr: pa.Array, fill: int = 0) -> np.ndarray:
    return (arr.fill_null(fill) if arr.null_count else arr).to_numpy()


def values_at(values: np.ndarray, index: np.ndarray, missing: bool | int = False) -> np.ndarray:
    """values[index], `missing` where index < 0."""
    if not len(values):  # every index is < 0 (e.g. the only household_id is null)
        return np.full(np.shape(index), missing, dtype=np.asarray(missing).dtype)
    return np.where(index >= 0, values[np.maximum(index, 0)], missing)


def record_key(value: str | None, row: int, places: np.ndarray | None = None) -> str:
    """A reason's record: its key, or "(row N)" (1-based: the row's place in the bundle
    when `places` gives the places of a chunk's rows) when the key is null."""
    if value is not None:
        return shown_key(value)
    return f"(row {int(row if places is None else places[row]) + 1})"


def check_columns(issues: Issues, enums: dict, keep: np.ndarray | None = None) -> None:
    """The column rules of DATA.md "Bad input" (nulls, enums, signs, ranges), for the rows
    where `keep` (all when None). Enumeration codes go to enums[(table, column)]."""
    name, table = issues.name, issues.table

    def where(bad: np.ndarray) -> np.ndarray:
        return np.flatnonzero(bad if keep is None else bad & keep)

    for col in schema.TABLES[name]:
        arr = flat(table.column(col.name))
        nulls = arr.null_count
        gone = issues.unreadable.get(col.name)
        if gone is not None:  # nulls that stand for values the type cannot hold
            sel = np.ones(len(gone.rows), bool) if keep is None else keep[gone.rows]
            details = [d for d, s in zip(gone.details, sel.tolist(), strict=True) if s]
            issues.add(col.name, gone.rows[sel], gone.rule, details)
        if not col.nullable and nulls:
            null = ~ids.valid_mask(arr)
            if gone is not None:
                null[gone.rows] = False
            issues.add(col.name, where(null), NULL)
        if col.enum:
            codes = enums[name, col.name] = enum_codes(arr, col.enum)
            unknown = codes == UNKNOWN_CODE
            if unknown.any():
                rows = where(unknown)
                allowed = "|".join(col.enum)
                values = take_values(table, col.name, rows)
                issues.add(
                    col.name,
                    rows,
                    "unknown enum value",
                    [f"{quoted(v)}; allowed {allowed}" for v in values],
                    k=1,
                )
        rule = RULES.get((name, col.name))
        if rule is not None:
            rule, low, high = rule
            v = numbers(arr)
            bad = v < low if high is None else (v < low) | (v > high)
            if nulls:
                bad &= ids.valid_mask(arr)
            if bad.any():
                rows = where(bad)
                issues.add(col.name, rows, rule, [str(x) for x in v[rows].tolist()], k=2)
            ceiling = CEILINGS.get((name, col.name))
            over = v > MAX_AMOUNT if ceiling is not None else None
            if over is not None and nulls:
                over &= ids.valid_mask(arr)  # a null's slot holds anything
            if over is not None and over.any():
                rows = where(over)
                issues.add(col.name, rows, ceiling, [str(x) for x in v[rows].tolist()], k=2)
        if col.type == pa.date32():
            rows = where(far_dates(arr))
            if len(rows):
                days = numbers(arr)[rows].tolist()
                issues.add(col.name, rows, FAR_DATE, [f"day {d} from 1970-01-01" for d in days])


def far_dates(arr: pa.Array) -> np.ndarray:
    """Valid date32 values outside 0001-01-01..9999-12-31: date32 holds them, Python's
    dates (the reference calculator, reasons' texts) do not (found by fuzzing and by an
    adversarial review run: an OverflowError, or the engines disagreeing)."""
    days = numbers(arr).astype(np.int64)
    return ids.valid_mask(arr) & ((days < _FIRST_DAY) | (days > _LAST_DAY))


# A jurisdiction is a division code of 6 ASCII digits (a column is checked by
# `digit_strings`; one value, a call's or a profile's constant, by this)
JURISDICTION = re.compile(r"[0-9]{6}")
JURISDICTION_RULE = "jurisdiction not 6 digits"

# (table, column) -> (rule, lowest, highest) of every signed or bounded column (the
# adapters' profile loader holds its constants to them too)
RULES = {
    **{(t, c): ("negative money", 0, None) for t, cols in MONEY.items() for c in cols},
    **{(t, c): ("negative count", 0, None) for t, cols in COUNTS.items() for c in cols},
    **RANGES,
}


def breaks(rule: tuple[str, int, int | None], value: int) -> bool:
    """Whether one value breaks its column's rule of RULES (bounds inclusive): the
    small-call checks' and the profile loader's test, as check_columns' is a column's."""
    _, low, high = rule
    return value < low or (high is not None and value > high)


def add_id_problems(issues: Issues, column: str, rows: np.ndarray) -> None:
    """The GB 11643 problems of flagged, non-null `rows` of an ID column."""
    texts = [ids.id_problems(v) for v in take_values(issues.table, column, rows)]
    for k in range(2):  # at most two problems: bad birth date and bad check character
        sel = [j for j, p in enumerate(texts) if len(p) > k]
        issues.add_texts(column, rows[sel], [texts[j][k] for j in sel], k=3 + k)


def birth_disagreement(issues: Issues, column: str, check: ids.IdCheck) -> None:
    birth = flat(issues.table["birth_date"])
    days = numbers(birth)
    far = far_dates(birth)
    rows = np.flatnonzero(check.has_birth & ids.valid_mask(birth) & ~far & (check.birth != days))
    texts = [
        ids.disagreement(v, d)
        for v, d in zip(
            take_values(issues.table, column, rows),
            take_values(issues.table, "birth_date", rows),
            strict=True,
        )
    ]
    issues.add_texts(column, rows, texts, k=5)


def disposed_before_acquired(issues: Issues, keep: np.ndarray) -> None:
    acquired = flat(issues.table["acquired_on"])
    disposed = flat(issues.table["disposed_on"])
    a, d = numbers(acquired), numbers(disposed)
    known = ids.valid_mask(acquired) & ids.valid_mask(disposed)
    rows = np.flatnonzero(known & ~far_dates(acquired) & ~far_dates(disposed) & (d < a) & keep)
    details = [
        f"acquired_on {x}, disposed_on {y}"
        for x, y in zip(
            take_values(issues.table, "acquired_on", rows),
            take_values(issues.table, "disposed_on", rows),
            strict=True,
        )
    ]
    issues.add("disposed_on", rows, "disposed before acquired", details, k=3)


def households_issues(
    households: pa.Table,
    codes: np.ndarray,
    rows_of: np.ndarray,
    library: PolicyLibrary,
    enums: dict,
    places: np.ndarray | None = None,
    budget: ReasonBudget | None = None,
    unreadable: dict[str, Unreadable] | None = None,
) -> tuple[list[Policy], np.ndarray, Issues]:
    """Issues of the households rows, and the pack of each row (-1: none); `places`,
    `budget` and `unreadable` as for Issues."""
    issues = Issues("households", households, places, budget, unreadable)
    check_columns(issues, enums)
    dup = np.flatnonzero(values_at(rows_of, codes, 0) > 1)
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
        JURISDICTION_RULE,
        [quoted(v) for v in take_values(households, "jurisdiction", bad)],
        k=3,
    )

    date = flat(households["assessment_date"])
    days = numbers(date).astype(np.int64)
    ask = well & ids.valid_mask(date) & ~far_dates(date)  # far ones: check_columns
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


def _check_programs(issues: Issues, households: pa.Table, policy_of, packs) -> None:
    """§11: every current_programs entry is a program the household's pack defines."""
    lists = flat(households["current_programs"])
    if lists.null_count == len(lists):
        return
    names = lists.flatten()  # skips null lists, unlike list_parent_indices
    parent = np.repeat(np.arange(len(lists)), _ints(pc.list_value_length(lists)))
    known = ids.valid_mask(names)
    issues.add("current_programs", parent[~known], "null program name", k=3)
    pack_of = policy_of[parent]
    programs = [sorted(pack.programs) for pack in packs]
    at = np.flatnonzero(known & (pack_of >= 0))  # named entries of households with a pack
    bad = at[program_codes(names, pack_of, programs)[at] < 0]
    listing = {p: ", ".join(programs[p]) or "none" for p in np.unique(pack_of[bad]).tolist()}
    issues.add(
        "current_programs",
        parent[bad],
        "program not defined by the household's pack",
        [
            f"{quoted(v)}; pack {packs[p].id} defines {listing[p]}"
            for v, p in zip(
                names.take(pa.array(bad)).to_pylist(), pack_of[bad].tolist(), strict=True
            )
        ],
        k=4,
    )
