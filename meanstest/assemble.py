"""EngineInput → the grouped numpy arrays of `meanstest.kernels.layout`.

No per-row Python and no hashing: IDs come coded from the ID pass validation made
(`EngineInput.ids`, `meanstest.id_pass.IdPass`; made here when absent), enumerations come
coded from validation's enum pass, numbers and dates are numpy views of their Arrow
buffers. Members and supporters are grouped by household with a counting sort on their
household's row; people get codes in order of first appearance over the member slots
then supporter slots (households order), and every source table is ordered by a
counting sort on those person codes, then by record_id within a person (department
exports come sorted, so usually nothing moves; numba sorts the runs that do not) — the
order of a stable sort on (person, record_id), ties in bundle order. A person code owns
one contiguous row range per table; a member slot (one persons row) reaches its records
through its person code, so a person who is a member of two households is joined to
both. record_ids are not gathered: the evidence of a finding takes its few. Sums over
records are the kernels' job (RULES.md §3), not assembly's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import ids, schema
from meanstest.columns import enum_codes, numbers, program_codes, valid
from meanstest.engine import EngineInput
from meanstest.id_pass import IdPass
from meanstest.kernels import join
from meanstest.kernels import layout as L
from meanstest.kernels.layout import Households, Pack, People, Records
from meanstest.registry import PARAMS, Param

I32, I64 = np.int32, np.int64
INDEX_MAX = np.iinfo(I32).max  # row indexes of a batch's tables are int32 up to this
RUN_INSERTION_SORT = 64  # records of one person sorted in numba up to this many


@dataclass
class Assembled:
    """The kernel's input groups plus what the output tables need to name things."""

    households: Households
    people: People
    records: Records | None  # None once the kernels ran (fast.run frees it)
    pack: Pack
    household_ids: pa.Array  # households order
    member_rows: np.ndarray  # member slot -> row of inp.persons
    member_household: np.ndarray  # member slot -> household row
    member_ids: pa.Array  # member slot -> person_id
    record_ids: dict[str, SortedColumn]  # table -> record_id of each sorted row (lazy)
    program_names: list[list[str]]  # pack row -> program names by code point
    current_programs: np.ndarray  # household -> bitmask over its pack's program names

    def instances(self, table: str, instance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sorted row, member slot) of record instances of `table`."""
        t = schema.SOURCE_TABLES.index(table)
        off = self.people.instance_off[:, t]
        slot = np.searchsorted(off, instance, side="right") - 1
        person = self.people.member_codes[slot, L.MC_PERSON]
        return self.people.person_ranges[person, 2 * t] + instance - off[slot], slot


def _np(a) -> np.ndarray:
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks() if a.num_chunks != 1 else a.chunk(0)
    return a.to_numpy(zero_copy_only=False)


def group_rows(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable order of rows grouped by key (rows with key < 0 left out), and offsets
    [n_groups + 1] into that order (a counting sort)."""
    return join.counting_sort(np.ascontiguousarray(keys, dtype=I64), n_groups)


# -- policy packs -------------------------------------------------------------------------


def _bits(names, enum) -> int:
    return sum(1 << enum.index(x) for x in names)


def _cells(p: Param, value) -> list[int]:
    """One parameter's cells (layout.cells): names as bits, maps by enumeration order."""
    if p.shape == "names":
        return [_bits(value, getattr(schema, p.enum))]
    if p.shape == "map":
        return [value.get(k, 0) for k in getattr(schema, p.enum)]
    if p.shape == "grid":
        return [v for row in value for v in row]
    return list(value) if p.shape in ("ints", "ages") else [value]


def pack_params(params: dict) -> np.ndarray:
    """One pack's parameters in the layout of `layout.PARAM_NAMES` (registry order)."""
    row = [v for p in PARAMS for v in _cells(p, params[p.section][p.key])]
    if len(row) != L.N_PARAMS:
        raise ValueError(
            f"pack {params['policy']['id']}: {len(row)} parameters, expected {L.N_PARAMS}"
        )
    return np.array(row, I64)


def assemble_packs(policies: list) -> tuple[Pack, list[list[str]]]:
    names = [sorted(p.programs) for p in policies]
    width = max([len(x) for x in names] + [1])
    statuses = np.zeros((len(policies), width), I64)
    requires = np.zeros((len(policies), width), I64)
    for i, p in enumerate(policies):
        for j, name in enumerate(names[i]):
            prog = p.programs[name]
            statuses[i, j] = _bits(prog["statuses"], L.STATUSES)
            requires[i, j] = L.PROGRAM_REQUIRES.index(prog["requires"])
    params = (
        np.stack([pack_params(p.params) for p in policies])
        if policies
        else np.zeros((0, L.N_PARAMS), I64)
    )
    count = np.array([len(x) for x in names], I64)
    return Pack(params, statuses, requires, count), names


def current_program_bits(
    column: pa.Array | pa.ChunkedArray | None, pack_rows: np.ndarray, names: list[list[str]]
) -> np.ndarray:
    """households.current_programs as a bitmask over the household's pack programs (a
    name listed twice counts once); a name the pack does not define is bad input."""
    n = len(pack_rows)
    if column is None or column.null_count == len(column):
        return np.zeros(n, I64)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    flat = pc.list_flatten(column)
    if len(flat) == 0:
        return np.zeros(n, I64)
    parent = _np(pc.list_parent_indices(column)).astype(I64)
    bit = program_codes(flat, pack_rows[parent], names)
    if len(bit) and bit.min() < 0:
        raise ValueError("households.current_programs: a program the pack does not define")
    return join.or_bits(n, parent, bit)


# -- tables ---


class SortedColumn:
    """A column of a source table in the joined, sorted row order, gathered only where
    asked (`take`): assembly does not copy every record_id for the few a finding cites."""

    def __init__(self, column: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> None:
        self._column, self._rows = column, rows

    def __len__(self) -> int:
        return len(self._rows)

    def take(self, indices: pa.Array | np.ndarray) -> pa.Array:
        """Values at sorted rows `indices` (an integer array, Arrow or numpy)."""
        idx = np.asarray(
            indices.to_numpy(zero_copy_only=False) if hasattr(indices, "to_numpy") else indices,
            dtype=I64,
        )
        return ids.take(self._column, self._rows[idx])

    def to_array(self) -> pa.Array:
        return ids.take(self._column, self._rows)


def by_person_then_record(
    code: np.ndarray, n_people: int, rid: pa.Array | pa.ChunkedArray
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, offsets [n_people + 1]): the rows with code >= 0 in the stable order of
    (person code, record_id) — a counting sort on the code, then each person's rows put
    in record_id order when they are not already (numba: insertion sort for a few rows,
    merge sort for many). Same order as Arrow's stable sort on both keys."""
    order, off = join.counting_sort(np.ascontiguousarray(code, dtype=I64), n_people)
    if len(order) < 2:
        return order, off
    arr = ids.string_array(rid)
    if arr.null_count and not ids.valid_mask(arr)[order].all():
        # not in validated input (a null record_id rejects its households): Arrow's order
        by_code = code[order]
        key = pa.table({"code": by_code, "record_id": arr.take(pa.array(order))})
        keys = [("code", "ascending"), ("record_id", "ascending")]
        return order[_np(pc.sort_indices(key, sort_keys=keys))], off
    by_code = code[order]
    offsets, data = ids._offsets(arr), ids._data(arr)
    if not join.runs_in_order(by_code, order, offsets, data):
        order = join.sort_runs(by_code, order, offsets, data, RUN_INSERTION_SORT)
    return order, off


def _source_values(table: pa.Table, rows: np.ndarray, name: str, what: str, null=None):
    """Numbers of column `name` at the joined rows; rows of nobody may hold anything (they
    are not validated), joined rows must be complete unless `null` fills them."""
    column = table.column(name)
    values = numbers(column)[rows]
    if column.null_count:
        ok = valid(column)[rows]
        if not ok.all():
            if null is None:
                raise ValueError(f"{what}.{name}: null in a joined row")
            values = np.where(ok, values, null)
    return values


def _codes(ip: IdPass, table_name: str, table: pa.Table, column: str, enum, rows=None):
    """Enumeration codes of a column (from validation's pass when it made them), at
    `rows`; a value outside the enumeration (or a null) is bad input."""
    codes = ip.enums.get((table_name, column))
    if codes is None or len(codes) != table.num_rows:
        codes = enum_codes(table.column(column), enum)
    if rows is not None:
        codes = codes[rows]
    if len(codes) and codes.min() < 0:
        raise ValueError(f"{table_name}.{column}: value outside {', '.join(enum)}")
    return codes.astype(I32, copy=False)


def _distinct_codes(table: pa.Table, column: str, rows: np.ndarray) -> np.ndarray:
    """Equal strings -> equal int32 codes (plates, property_ids), numbered in order of
    first appearance among the joined rows; only equality matters to the kernels
    (distinct counts)."""
    index = ids.StringIndex(table.column(column))
    codes = index.codes[rows].astype(I64)
    renumber, _ = join.first_appearance(codes, len(index))
    return renumber[codes].astype(I32)


def _in_order(column, order: np.ndarray) -> pa.Array:
    """column.take(order), without the copy when order is the identity."""
    n = len(order)
    if n == len(column) and (n == 0 or order[-1] == n - 1) and np.array_equal(order, np.arange(n)):
        return _flat(column)
    return ids.take(column, order)


def _flat(column):
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def assemble(inp: EngineInput) -> Assembled:
    ip = inp.id_pass()
    hh = inp.households
    n_h = hh.num_rows
    pack_rows = np.asarray(inp.policy_index, dtype=I64).reshape(n_h)
    pack, names = assemble_packs(list(inp.policies))
    # households
    hcodes = np.empty((n_h, L.N_HC), I32)
    hcodes[:, L.HC_DATE] = numbers(hh.column("assessment_date"))
    hcodes[:, L.HC_AREA] = _codes(ip, "households", hh, "area", L.AREAS)
    hcodes[:, L.HC_CONSENT] = numbers(hh.column("consent_signed"))
    for k, dept in enumerate(schema.DEPARTMENTS):
        hcodes[:, L.HC_CHECKED + k] = numbers(hh.column(f"checked_{dept}"))
    hcodes[:, L.HC_PREV_STATUS] = _codes(ip, "households", hh, "prev_status", L.PREV_STATUSES)
    hcodes[:, L.HC_PACK] = pack_rows
    hmoney = np.empty((n_h, L.N_HM), I64)
    for col, name in (
        (L.HM_DECLARED_INCOME, "declared_income_monthly"),
        (L.HM_DECLARED_VEHICLES, "declared_vehicles"),
        (L.HM_DECLARED_PROPERTIES, "declared_properties"),
        (L.HM_DECLARED_ASSETS, "declared_financial_assets"),
    ):
        column = hh.column(name)
        hmoney[:, col] = numbers(column)
        if column.null_count:
            hmoney[~valid(column), col] = L.NULL
    hmoney[:, L.HM_PREV_BENEFIT] = numbers(hh.column("prev_benefit"))
    current = current_program_bits(
        hh.column("current_programs") if "current_programs" in hh.column_names else None,
        pack_rows,
        names,
    )
    hmoney[:, L.HM_CURRENT_PROGRAMS] = current
    household_ids = _flat(hh.column("household_id"))
    # members and supporters: slots grouped by household in households order
    persons, supporters = inp.persons, inp.supporters
    m_order, member_off = group_rows(ip.person_home, n_h)
    s_order, supporter_off = group_rows(ip.supporter_home, n_h)
    member_ids = _in_order(persons.column("person_id"), m_order)
    # people: codes in order of first appearance over member slots, then supporter slots
    slot_people = np.concatenate([ip.person_code[m_order], ip.supporter_code[s_order]])
    person_of, n_p = join.first_appearance(slot_people.astype(I64), len(ip.people))
    slot_codes = person_of[slot_people]
    n_m, n_s = len(m_order), len(s_order)
    mcodes = np.empty((n_m, L.N_MC), I32)
    mcodes[:, L.MC_PERSON] = slot_codes[:n_m]
    mcodes[:, L.MC_BIRTH] = numbers(persons.column("birth_date"))[m_order]
    mcodes[:, L.MC_HEALTH] = numbers(persons.column("health"))[m_order]
    mcodes[:, L.MC_STUDENT] = _codes(
        ip, "persons", persons, "student_level", L.STUDENT_LEVELS, m_order
    )
    mcodes[:, L.MC_OCCUPATION] = _codes(
        ip, "persons", persons, "occupation", L.OCCUPATIONS, m_order
    )
    mcodes[:, L.MC_REFUSED] = numbers(persons.column("refused_job_offers"))[m_order]
    mmoney = (
        numbers(persons.column("tuition"))[m_order].astype(I64, copy=False).reshape(n_m, L.N_MM)
    )
    scodes = np.empty((n_s, L.N_SC), I32)
    scodes[:, L.SC_PERSON] = slot_codes[n_m:]
    scodes[:, L.SC_BIRTH] = numbers(supporters.column("birth_date"))[s_order]
    scodes[:, L.SC_HEALTH] = numbers(supporters.column("health"))[s_order]
    scodes[:, L.SC_SECTOR] = _codes(
        ip, "supporters", supporters, "employment_sector", L.SECTORS, s_order
    )
    scodes[:, L.SC_EXEMPT] = _codes(
        ip, "supporters", supporters, "exempt_reason", L.EXEMPT_REASONS, s_order
    )
    scodes[:, L.SC_COUNT] = numbers(supporters.column("supported_count"))[s_order]
    member_household = np.repeat(np.arange(n_h, dtype=I64), np.diff(member_off))
    # source tables: a counting sort on person codes; each person's rows form one range
    most = max(inp.sources[name].num_rows for name in schema.SOURCE_TABLES)
    offsets = np.empty((L.N_TABLES, n_p + 1), I32 if most <= INDEX_MAX else I64)
    rows: dict[str, np.ndarray] = {}
    for t, name in enumerate(schema.SOURCE_TABLES):
        table = inp.sources[name]
        code = person_of[ip.source_code[name]] if table.num_rows else np.zeros(0, I64)
        rows[name], offsets[t] = by_person_then_record(code, n_p, table.column("record_id"))
    ranges = join.ranges_of(offsets)
    src = inp.sources

    def money(name, *cols):
        return np.stack(
            [_source_values(src[name], rows[name], c, name) for c in cols], axis=1
        ).astype(I64, copy=False)

    def codes(name, *cols):
        out = []
        for c in cols:
            if isinstance(c, tuple):
                out.append(_codes(ip, name, src[name], c[0], c[1], rows[name]))
            else:
                out.append(_source_values(src[name], rows[name], c, name))
        return np.stack(out, axis=1).astype(I32, copy=False)

    tax_codes = codes("tax_income", ("income_type", L.INCOME_TYPES))
    tax_money = money("tax_income", "amount")
    bank_money = money("bank", "balance", "interest")
    social_codes = codes(
        "social_insurance",
        ("record_type", L.RECORD_TYPES),
        ("scheme", L.SCHEMES),
        ("employer_type", L.EMPLOYER_TYPES),
    )
    social_money = money("social_insurance", "amount", "reimbursed")
    business_codes = codes("business_registration", ("role", L.ROLES), "employees")
    business_money = money("business_registration", "annual_turnover")
    veh, prop = src["vehicle"], src["property"]
    vehicle_codes = np.stack(
        [
            _distinct_codes(veh, "plate", rows["vehicle"]),
            codes("vehicle", ("vehicle_type", L.VEHICLE_TYPES))[:, 0],
            codes("vehicle", "registered_on")[:, 0],
        ],
        axis=1,
    ).astype(I32, copy=False)
    vehicle_money = money("vehicle", "value")
    property_codes = np.stack(
        [
            _distinct_codes(prop, "property_id", rows["property"]),
            codes("property", ("use", L.PROPERTY_USES))[:, 0],
            codes("property", "share")[:, 0],
            codes("property", "acquired_on")[:, 0],
            codes("property", ("acquisition", L.ACQUISITIONS))[:, 0],
            _source_values(prop, rows["property"], "disposed_on", "property", L.NOT_DISPOSED),
        ],
        axis=1,
    ).astype(I32, copy=False)
    property_money = money("property", "area", "rental_income")
    # record instances: the rows of each member slot's person, slot after slot
    slot_person = mcodes[:, L.MC_PERSON].astype(I64)
    instance_off = np.empty((n_m, L.N_TABLES), ranges.dtype)
    instances = join.instance_offsets(slot_person, ranges, instance_off)
    if ranges.dtype == I32 and len(instances) and instances.max() > INDEX_MAX:
        # a person in many households multiplies their rows: int64 throughout
        ranges, instance_off = ranges.astype(I64), np.empty((n_m, L.N_TABLES), I64)
        join.instance_offsets(slot_person, ranges, instance_off)
    c = np.ascontiguousarray
    return Assembled(
        households=Households(hcodes, hmoney, member_off, supporter_off),
        people=People(mcodes, c(mmoney), scodes, ranges, instance_off),
        records=Records(
            *[
                c(x)
                for x in (
                    tax_codes,
                    tax_money,
                    business_codes,
                    business_money,
                    bank_money,
                    vehicle_codes,
                    vehicle_money,
                    property_codes,
                    property_money,
                    social_codes,
                    social_money,
                )
            ]
        ),
        pack=pack,
        household_ids=household_ids,
        member_rows=m_order,
        member_household=member_household,
        member_ids=member_ids,
        record_ids={n: SortedColumn(src[n].column("record_id"), rows[n]) for n in rows},
        program_names=names,
        current_programs=current,
    )
