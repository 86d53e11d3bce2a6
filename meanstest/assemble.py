"""EngineInput → the grouped numpy arrays of `meanstest.kernels.layout` (vectorised).

No per-row Python: enumerations become codes with `pc.index_in` over the schema's enum
tuples, dates become day numbers, IDs are dictionary-encoded once over the union of
member and supporter IDs, and every source table is sorted once by (person code,
record_id) — Arrow's sort is stable, so equal record_ids keep bundle order. A person
code owns one contiguous row range per table; a member slot (one persons row) reaches
its records through its person code, so a person who is a member of two households is
joined to both. Resident IDs are matched as integers (`id_numbers`), not hashed as
strings. Sums over records are the kernels' job (RULES.md §3), not assembly's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema
from meanstest.engine import EngineInput
from meanstest.kernels import join
from meanstest.kernels import layout as L
from meanstest.kernels.layout import Households, Pack, People, Records

I32, I64 = np.int32, np.int64
RUN_INSERTION_SORT = 64  # records of one person sorted in numba up to this many


@dataclass
class Assembled:
    """The kernel's input groups plus what the output tables need to name things."""

    households: Households
    people: People
    records: Records
    pack: Pack
    household_ids: pa.Array  # households order
    member_rows: np.ndarray  # member slot -> row of inp.persons
    member_household: np.ndarray  # member slot -> household row
    member_ids: pa.Array  # member slot -> person_id
    record_ids: dict[str, pa.Array]  # table -> record_id of each sorted row
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


def codes_of(column, enum: tuple[str, ...], what: str) -> np.ndarray:
    """Index of each value in `enum` (int32); an unknown value is bad input."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    idx = pc.index_in(column, value_set=pa.array(enum, pa.string()))
    if idx.null_count:
        raise ValueError(f"{what}: value outside {', '.join(enum)}")
    return _np(idx).astype(I32, copy=False)


def days_of(column, null: int | None = None) -> np.ndarray:
    days = pc.cast(column, pa.int32())
    if null is not None:
        days = pc.fill_null(days, null)
    return _np(days).astype(I32, copy=False)


def ints_of(column, dtype=I64, null: int | None = None) -> np.ndarray:
    if null is not None:
        column = pc.fill_null(column, null)
    return _np(column).astype(dtype, copy=False)


def group_rows(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable order of rows grouped by key, and offsets [n_groups + 1] into that order."""
    order = np.argsort(keys, kind="stable")
    off = np.zeros(n_groups + 1, I64)
    np.cumsum(np.bincount(keys, minlength=n_groups), out=off[1:])
    return order, off


# -- policy packs -------------------------------------------------------------------------


def _bits(names, enum) -> int:
    return sum(1 << enum.index(x) for x in names)


def pack_params(params: dict) -> np.ndarray:
    """One pack's parameters in the layout of `layout.PARAM_NAMES`."""
    st, im, su = params["standards"], params["imputation"], params["support"]
    de, ve, ad = params["deductions"], params["veto"], params["addons"]
    ci, ix = params["circles"], params["index"]
    # fmt: off
    row = [
        st["dibao_urban"],
        st["dibao_rural"],
        st["low_income_ratio"],
        st["tekun_ratio"],
        im["min_wage_monthly"],
        im["work_months"],
        im["rural_income_annual"],
        im["land_ratio"],
        *im["age_bands"],
        *[v for band in im["labour_coefficient"] for v in band],
        _bits(im["student_levels_without_labour"], L.STUDENT_LEVELS),
        _bits(im["counted_transfers"], L.RECORD_TYPES),
        *[su["sector_ratio"][s] for s in L.SECTORS],
        su["elevated_bonus"],
        su["cap_ratio"],
        su["supporter_asset_limit"],
        de["medical_cap"],
        *[de["tuition_cap"].get(s, 0) for s in L.STUDENT_LEVELS],
        de["pension_contribution_cap"],
        _bits(ve["enabled"], schema.VETO_CODES),
        _bits(ve["vehicle_types"], L.VEHICLE_TYPES),
        ve["vehicle_value_limit"],
        ve["max_vehicles"],
        ve["max_residential_properties"],
        ve["residential_area_per_capita_limit"],
        ve["financial_asset_months"],
        ve["business_turnover_limit"],
        ve["insurance_grade_limit"],
        ve["recent_purchase_months"],
        ve["recent_transfer_months"],
        ve["recent_vehicle_months"],
        ve["refused_work_min_coefficient"],
        ve["refused_work_min_count"],
        ve["declaration_tolerance_ratio"],
        ve["declaration_tolerance_abs"],
        ve["asset_declaration_tolerance_abs"],
        ad["elderly_70"],
        ad["severe_disability"],
        ad["serious_illness"],
        ad["child_under_16"],
        params["phaseout"]["months"],
        ci["circle3_ratio"],
        ci["circle4_ratio"],
        ix["member_cap"],
        ix["income_max"],
        ix["asset_max"],
        ix["age_70"],
        ix["age_60"],
        ix["age_child"],
        *ix["health_points"],
        *[ix["student_points"].get(s, 0) for s in L.STUDENT_LEVELS],
        ix["extra_property_penalty"],
        ix["vehicle_penalty"],
        ix["asset_penalty"],
        ix["asset_penalty_months"],
    ]
    # fmt: on
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


def current_program_bits(column, pack_rows: np.ndarray, names: list[list[str]]) -> np.ndarray:
    """households.current_programs as a bitmask over the household's pack programs (a
    name listed twice counts once); a name the pack does not define is bad input."""
    n = len(pack_rows)
    if column is None:
        return np.zeros(n, I64)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    flat = pc.list_flatten(column)
    if len(flat) == 0:
        return np.zeros(n, I64)
    parent = _np(pc.list_parent_indices(column)).astype(I64)
    bit = np.full(len(flat), -1, I64)
    element_pack = pack_rows[parent]
    for p, prog in enumerate(names):
        sel = np.nonzero(element_pack == p)[0]
        if len(sel) == len(flat):  # one pack for all: no gather
            idx = pc.index_in(flat, value_set=pa.array(prog, pa.string()))
            bit = _np(pc.fill_null(idx, -1)).astype(I64)
        elif len(sel):
            idx = pc.index_in(flat.take(pa.array(sel)), value_set=pa.array(prog, pa.string()))
            bit[sel] = _np(pc.fill_null(idx, -1)).astype(I64)
    if len(bit) and bit.min() < 0:
        raise ValueError("households.current_programs: a program the pack does not define")
    return join.or_bits(n, parent, bit)


# -- tables ----------------------------------------------------------------------------


def string_buffers(column) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, data, valid) numpy views of a string column, for the join kernels."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(arr)
    if n == 0:
        return np.zeros(1, np.int32), np.zeros(1, np.uint8), np.zeros(0, np.uint8)
    if pa.types.is_large_string(arr.type):
        offsets = np.frombuffer(arr.buffers()[1], np.int64, n + 1, arr.offset * 8)
    else:
        offsets = np.frombuffer(arr.buffers()[1], np.int32, n + 1, arr.offset * 4)
    data = arr.buffers()[2]
    data = np.frombuffer(data, np.uint8) if data is not None else np.zeros(1, np.uint8)
    valid = _np(pc.is_valid(arr)).astype(np.uint8) if arr.null_count else np.ones(n, np.uint8)
    return offsets, data, valid


def id_numbers(column) -> np.ndarray:
    """18-character resident IDs as int64 (`kernels.join.id_numbers`); -1 otherwise."""
    offsets, data, valid = string_buffers(column)
    return join.id_numbers(offsets, data, valid)


class PersonCodes:
    """Distinct member/supporter IDs -> person codes 0..P-1 in order of first appearance
    (member slots come in households order, so person ranges and sorted source rows
    follow the households and the kernels read memory front to back); any other ID ->
    -1. Well-formed IDs are matched as integers in a hash table; should a member or
    supporter ID not be 18 characters of digits and X, strings are matched instead."""

    def __init__(self, ids: pa.Array) -> None:
        numbers = id_numbers(ids)
        self.by_number = bool(len(numbers) == 0 or numbers.min() >= 0)
        if self.by_number:
            codes, self.count, self.table = join.encode(numbers)
            self.codes = codes.astype(I32)
        else:
            encoded = pc.dictionary_encode(ids)
            self.dictionary = encoded.dictionary
            self.codes = encoded.indices.to_numpy(zero_copy_only=False).astype(I32)
            self.count = len(self.dictionary)

    def of(self, column) -> np.ndarray:
        """Person code of each ID in `column` (int64, -1 = nobody of these households)."""
        if not self.by_number:
            return _np(pc.fill_null(pc.index_in(column, value_set=self.dictionary), -1)).astype(I64)
        return join.lookup(self.table, id_numbers(column))


class SortedSource:
    """A source table's rows joined to a person, ordered by (person code, record_id);
    Arrow's sort is stable, so equal record_ids keep bundle order."""

    def __init__(self, table: pa.Table, people: PersonCodes) -> None:
        code = people.of(table.column("person_id"))
        keep = np.nonzero(code >= 0)[0]
        rid = table.column("record_id").combine_chunks()
        if len(keep) < table.num_rows:
            rid = rid.take(pa.array(keep))
        order = _by_person_then_record(code[keep], rid)
        self.rows = keep[order]
        self.code = code[self.rows]
        self.table = table
        self.record_ids = rid.take(pa.array(order)) if len(order) else rid
        if isinstance(self.record_ids, pa.ChunkedArray):
            self.record_ids = self.record_ids.combine_chunks()
        self._take = pa.array(self.rows)

    def column(self, name: str) -> pa.Array:
        return self.table.column(name).take(self._take)

    def _joined(self, values, what: str, null: int | None = None) -> np.ndarray:
        """values (an Arrow column over all rows) at the joined rows; rows of nobody may
        hold anything (they are not validated), joined rows must be complete."""
        if values.null_count:
            bad = _np(pc.is_null(values)).astype(bool)[self.rows]
            if null is None and bad.any():
                raise ValueError(f"{what}: null in a joined row")
            values = pc.fill_null(values, 0 if null is None else null)
        return _np(values)[self.rows]

    def ints(self, name: str, dtype=I64, null: int | None = None) -> np.ndarray:
        return self._joined(self.table.column(name), name, null).astype(dtype)

    def codes(self, name: str, enum: tuple[str, ...], table: str) -> np.ndarray:
        column = self.table.column(name).combine_chunks()
        idx = pc.index_in(column, value_set=pa.array(enum, pa.string()))
        return self._joined(idx, f"{table}.{name}: value outside {', '.join(enum)}").astype(I32)

    def days(self, name: str, null: int | None = None) -> np.ndarray:
        values = pc.cast(self.table.column(name), pa.int32())
        return self._joined(values, name, null).astype(I32)


def _by_person_then_record(code: np.ndarray, rid: pa.Array) -> np.ndarray:
    """The stable order of rows by (person code, record_id).

    A stable integer sort by person, then only the persons whose record_ids are not
    already ascending in that order are sorted by record_id (department exports come
    sorted by record id, so usually none are): a full sort on a string key costs about
    ten times as much at district scale (benches/ANALYSIS.md). Same order as Arrow's
    stable sort on both keys."""
    if rid.null_count:  # not in validated input; keep Arrow's null placement
        key = pa.table({"code": code, "record_id": rid})
        keys = [("code", "ascending"), ("record_id", "ascending")]
        return _np(pc.sort_indices(key, sort_keys=keys))
    order = np.argsort(code, kind="stable")
    if len(order) < 2:
        return order
    by_code = code[order]
    rid_sorted = rid.take(pa.array(order))
    descending = _np(pc.less(rid_sorted.slice(1), rid_sorted.slice(0, len(order) - 1)))
    unsorted = (by_code[1:] == by_code[:-1]) & descending.astype(bool)
    if not unsorted.any():
        return order
    starts = np.flatnonzero(np.diff(by_code, prepend=by_code[0] - 1))
    if np.diff(starts, append=len(order)).max() <= RUN_INSERTION_SORT:
        offsets, data, _ = string_buffers(rid_sorted)
        return order[join.sort_runs(by_code, offsets, data)]
    # a person with very many records: the rows of the persons out of order are
    # contiguous runs of `order`, in person order; Arrow sorts them
    rows = np.nonzero(np.isin(by_code, np.unique(by_code[1:][unsorted])))[0]
    sub = pa.table({"code": by_code[rows], "record_id": rid_sorted.take(pa.array(rows))})
    keys = [("code", "ascending"), ("record_id", "ascending")]
    order[rows] = order[rows][_np(pc.sort_indices(sub, sort_keys=keys))]
    return order


def _distinct_codes(column) -> np.ndarray:
    """Equal strings -> equal int32 codes (plates, property_ids); only equality matters
    to the kernels (distinct counts), so Arrow's hash encoding serves."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return _np(pc.dictionary_encode(column).indices).astype(I32)


class HouseholdIndex:
    """household_id -> households row, by a string hash table (kernels.join)."""

    def __init__(self, household_ids: pa.Array) -> None:
        self.offsets, self.data, _ = string_buffers(household_ids)
        self._table = None

    @property
    def table(self) -> np.ndarray:
        if self._table is None:  # built only when rows are not in households order
            self._table = join.encode_strings(self.offsets, self.data)[2]
        return self._table

    def rows(self, table: pa.Table, key: str, n_h: int):
        """Rows of `table` grouped by household (households order, then table order):
        (row order, offsets [n_h + 1]); rows of other households are dropped."""
        keys = string_buffers(table.column(key))
        off = join.grouped_offsets(keys[0], keys[1], self.offsets, self.data)
        if len(off) or len(keys[2]) == 0:  # rows already in households order
            off = off if len(off) else np.zeros(n_h + 1, I64)
            return np.arange(off[n_h], dtype=I64), off
        hh = join.lookup_strings(self.table, self.offsets, self.data, *keys)
        hh[hh < 0] = n_h
        if len(hh) and np.all(hh[1:] >= hh[:-1]):  # already grouped: keep it so
            order = np.arange(len(hh), dtype=I64)
            off = np.zeros(n_h + 2, I64)
            np.cumsum(np.bincount(hh, minlength=n_h + 1), out=off[1:])
        else:
            order, off = group_rows(hh, n_h + 1)
        return order[: off[n_h]], off[:-1].copy()


def _in_order(column, order: np.ndarray) -> pa.Array:
    """column.take(order), without the copy when order is the identity."""
    if (
        len(order) == len(column)
        and (len(order) == 0 or order[-1] == len(order) - 1)
        and (np.array_equal(order, np.arange(len(order))))
    ):
        return column.combine_chunks()
    return column.take(pa.array(order)).combine_chunks()


def assemble(inp: EngineInput) -> Assembled:
    hh = inp.households
    n_h = hh.num_rows
    pack_rows = np.asarray(inp.policy_index, dtype=I64).reshape(n_h)
    pack, names = assemble_packs(list(inp.policies))
    # households
    hcodes = np.empty((n_h, L.N_HC), I32)
    hcodes[:, L.HC_DATE] = days_of(hh.column("assessment_date"))
    hcodes[:, L.HC_AREA] = codes_of(hh.column("area"), L.AREAS, "households.area")
    hcodes[:, L.HC_CONSENT] = ints_of(hh.column("consent_signed"), I32)
    for k, dept in enumerate(schema.DEPARTMENTS):
        hcodes[:, L.HC_CHECKED + k] = ints_of(hh.column(f"checked_{dept}"), I32)
    hcodes[:, L.HC_PREV_STATUS] = codes_of(
        hh.column("prev_status"), L.PREV_STATUSES, "households.prev_status"
    )
    hcodes[:, L.HC_PACK] = pack_rows
    hmoney = np.empty((n_h, L.N_HM), I64)
    for col, name in (
        (L.HM_DECLARED_INCOME, "declared_income_monthly"),
        (L.HM_DECLARED_VEHICLES, "declared_vehicles"),
        (L.HM_DECLARED_PROPERTIES, "declared_properties"),
        (L.HM_DECLARED_ASSETS, "declared_financial_assets"),
    ):
        hmoney[:, col] = ints_of(pc.cast(hh.column(name), pa.int64()), null=L.NULL)
    hmoney[:, L.HM_PREV_BENEFIT] = ints_of(hh.column("prev_benefit"))
    current = current_program_bits(
        hh.column("current_programs") if "current_programs" in hh.column_names else None,
        pack_rows,
        names,
    )
    hmoney[:, L.HM_CURRENT_PROGRAMS] = current
    household_ids = hh.column("household_id").combine_chunks()
    # members and supporters: slots grouped by household in households order
    persons, supporters = inp.persons, inp.supporters
    index = HouseholdIndex(household_ids)
    m_order, member_off = index.rows(persons, "household_id", n_h)
    s_order, supporter_off = index.rows(supporters, "household_id", n_h)
    member_ids = _in_order(persons.column("person_id"), m_order)
    supporter_ids = _in_order(supporters.column("supporter_id"), s_order)
    people_codes = PersonCodes(pa.concat_arrays([member_ids, supporter_ids]))
    n_m, n_s, n_p = len(m_order), len(s_order), people_codes.count
    mcodes = np.empty((n_m, L.N_MC), I32)
    mcodes[:, L.MC_PERSON] = people_codes.codes[:n_m]
    mcodes[:, L.MC_BIRTH] = days_of(persons.column("birth_date"))[m_order]
    mcodes[:, L.MC_HEALTH] = ints_of(persons.column("health"), I32)[m_order]
    mcodes[:, L.MC_STUDENT] = codes_of(
        persons.column("student_level"), L.STUDENT_LEVELS, "persons.student_level"
    )[m_order]
    mcodes[:, L.MC_OCCUPATION] = codes_of(
        persons.column("occupation"), L.OCCUPATIONS, "persons.occupation"
    )[m_order]
    mcodes[:, L.MC_REFUSED] = ints_of(persons.column("refused_job_offers"), I32)[m_order]
    mmoney = ints_of(persons.column("tuition"))[m_order].reshape(n_m, L.N_MM)
    scodes = np.empty((n_s, L.N_SC), I32)
    scodes[:, L.SC_PERSON] = people_codes.codes[n_m:]
    scodes[:, L.SC_BIRTH] = days_of(supporters.column("birth_date"))[s_order]
    scodes[:, L.SC_HEALTH] = ints_of(supporters.column("health"), I32)[s_order]
    scodes[:, L.SC_SECTOR] = codes_of(
        supporters.column("employment_sector"), L.SECTORS, "supporters.employment_sector"
    )[s_order]
    scodes[:, L.SC_EXEMPT] = codes_of(
        supporters.column("exempt_reason"), L.EXEMPT_REASONS, "supporters.exempt_reason"
    )[s_order]
    scodes[:, L.SC_COUNT] = ints_of(supporters.column("supported_count"), I32)[s_order]
    member_household = np.repeat(np.arange(n_h, dtype=I64), np.diff(member_off))
    # source tables: each person's rows form one range per table
    counts = np.zeros((n_p, L.N_TABLES), I64)
    src: dict[str, SortedSource] = {}
    for t, name in enumerate(schema.SOURCE_TABLES):
        src[name] = SortedSource(inp.sources[name], people_codes)
        join.count_rows(counts, t, src[name].code)
    ranges = join.ranges_from_counts(counts)
    tax = src["tax_income"]
    tax_codes = tax.codes("income_type", L.INCOME_TYPES, "tax_income").reshape(-1, 1)
    tax_money = tax.ints("amount").reshape(-1, 1)
    bank = src["bank"]
    bank_money = np.stack([bank.ints("balance"), bank.ints("interest")], axis=1)
    si = src["social_insurance"]
    social_codes = np.stack(
        [
            si.codes("record_type", L.RECORD_TYPES, "social_insurance"),
            si.codes("scheme", L.SCHEMES, "social_insurance"),
            si.codes("employer_type", L.EMPLOYER_TYPES, "social_insurance"),
        ],
        axis=1,
    )
    social_money = np.stack([si.ints("amount"), si.ints("reimbursed")], axis=1)
    biz = src["business_registration"]
    business_codes = np.stack(
        [biz.codes("role", L.ROLES, "business_registration"), biz.ints("employees", I32)],
        axis=1,
    )
    business_money = biz.ints("annual_turnover").reshape(-1, 1)
    veh = src["vehicle"]
    vehicle_codes = np.stack(
        [
            _distinct_codes(veh.column("plate")),
            veh.codes("vehicle_type", L.VEHICLE_TYPES, "vehicle"),
            veh.days("registered_on"),
        ],
        axis=1,
    )
    vehicle_money = veh.ints("value").reshape(-1, 1)
    prop = src["property"]
    property_codes = np.stack(
        [
            _distinct_codes(prop.column("property_id")),
            prop.codes("use", L.PROPERTY_USES, "property"),
            prop.ints("share", I32),
            prop.days("acquired_on"),
            prop.codes("acquisition", L.ACQUISITIONS, "property"),
            prop.days("disposed_on", null=L.NOT_DISPOSED),
        ],
        axis=1,
    )
    property_money = np.stack([prop.ints("area"), prop.ints("rental_income")], axis=1)
    # record instances: the rows of each member slot's person, slot after slot
    instance_off = join.instance_offsets(mcodes[:, L.MC_PERSON].astype(I64), counts)
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
        record_ids={name: s.record_ids for name, s in src.items()},
        program_names=names,
        current_programs=current,
    )
