"""The fast engine: assemble → numba kernels → the three Arrow output tables.

Same contract as `meanstest.reference.run` (meanstest.engine), same tables value for
value; findings follow docs/engine.md (order, evidence, detail text).

The tables are built from the kernels' output columns without a pass per row in
Python: integer columns are wrapped as they are, strings are taken from small
dictionaries (statuses, codes, program names) by index, and every finding is written
straight to its final row — a household's findings start at the running sum of the
counts before it, and a finding's place among them is the number of lower bits set in
its category's mask — so nothing is sorted. Python loops run over codes, tables and
programs, never over rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema
from meanstest.assemble import Assembled, assemble
from meanstest.engine import EngineInput, EngineOutput, duplicate_detail
from meanstest.kernels import assess
from meanstest.kernels import layout as L
from meanstest.kernels.registry import VETO_BIT, VETOES

I8, I32, I64 = np.int8, np.int32, np.int64
STR = pa.string()

# veto index -> canonical table of its evidence and detail records (RULES.md §6)
VETO_SOURCES = tuple(v.source for v in VETOES)
UNDECLARED_SOURCES = ("tax_income", "vehicle", "property", "bank")
# kernels' record-instance bits per table (tables of VETO_SOURCES with records)
_BITS = {
    "vehicle": "vehicle_vetoes",
    "property": "property_vetoes",
    "bank": "bank_vetoes",
    "business_registration": "business_vetoes",
    "social_insurance": "social_vetoes",
}
# vetoes whose person_id and record_id are always null (aggregates, households rows)
_NO_EVIDENCE = {i for i, v in enumerate(VETOES) if v.evidence in ("aggregate", "household")}
V01, V11, V12, V13 = (VETO_BIT[c] for c in ("V01", "V11", "V12", "V13"))
CODES = schema.FINDING_CODES
_C_UNDECLARED = L.N_VETOES
_C_NOT_CHECKED, _C_DUPLICATE, _C_MISSED, _C_UNDUE = range(len(CODES) - 4, len(CODES))
SEVERITIES = schema.SEVERITIES
SOURCES = tuple(dict.fromkeys((*VETO_SOURCES, *UNDECLARED_SOURCES, *schema.DEPARTMENTS, "persons")))


def _str(values) -> pa.Array:
    return pa.array(values, STR)


def _take(dictionary, indices: np.ndarray) -> pa.Array:
    """dictionary[indices] as a string array (a tuple of str or an Arrow array)."""
    values = dictionary if isinstance(dictionary, pa.Array) else _str(list(dictionary))
    return values.take(pa.array(indices))


def _set_bits(mask: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, bit) of every set bit among the low `width` bits (< 64) of a non-negative
    mask, row-major, bits ascending: the mask's bytes unpacked at once."""
    rows = np.flatnonzero(mask)
    nbytes = (width + 7) // 8
    if not len(rows) or not nbytes:
        return np.zeros(0, I64), np.zeros(0, I64)
    octets = mask[rows].astype("<u8").view(np.uint8).reshape(-1, 8)[:, :nbytes]
    r, bit = np.nonzero(np.unpackbits(octets, axis=1, bitorder="little"))
    return rows[r], bit


def _lists(mask: np.ndarray, width: int, names: pa.Array, base: np.ndarray) -> pa.Array:
    """list<string> per row from a bitmask: names[base[row] + bit], bits ascending."""
    offsets = np.zeros(len(mask) + 1, I32)
    np.cumsum(np.bitwise_count(mask), out=offsets[1:])
    rows, bit = _set_bits(mask, width)
    values = names.take(pa.array(base[rows] + bit)) if len(rows) else _str([])
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _join(prefix: str, groups: np.ndarray, n_groups: int, values: pa.Array) -> pa.Array:
    """prefix + ", ".join(values of group g), for g in 0..n_groups-1 (groups ascending)."""
    offsets = np.zeros(n_groups + 1, I32)
    np.cumsum(np.bincount(groups, minlength=n_groups), out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    return pc.binary_join_element_wise(prefix, pc.binary_join(lists, ", "), "")


def _with_bit(mask: np.ndarray, rows: np.ndarray, bit: int) -> np.ndarray:
    """The rows (among `rows`, where mask != 0) with `bit` set in mask."""
    return rows[((mask[rows] >> bit) & 1).astype(bool)]


def _below(mask: np.ndarray, bit) -> np.ndarray:
    """Set bits of `mask` below `bit` (a scalar or one per row): a finding's place within
    its category."""
    return np.bitwise_count(mask & ((np.int64(1) << bit) - 1)).astype(I64)


def _run_starts(groups: np.ndarray) -> np.ndarray:
    """Whether each element starts a run of equal values (groups ascending)."""
    if not len(groups):
        return np.zeros(0, bool)
    return np.concatenate(([True], groups[1:] != groups[:-1]))


def _first_per_group(groups: np.ndarray) -> np.ndarray:
    """Index of the first element of each run of equal values (groups ascending)."""
    return np.flatnonzero(_run_starts(groups))


def _ranges(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which range, value) of every value of the ranges starts[i] .. starts[i]+counts[i]-1,
    in order."""
    which = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    return which, starts[which] + np.arange(len(which)) - first[which]


def _veto_records(a: Assembled, out, table: str, households: np.ndarray):
    """The record instances of `table` with a bit set among the members of `households`
    (ascending): (bits, sorted rows, member slots, households), in instance order —
    households, then members in persons order, then rows by record_id."""
    t = schema.SOURCE_TABLES.index(table)
    people, off = a.people, a.households.member_off
    member, slots = _ranges(off[households], off[households + 1] - off[households])
    person = people.member_codes[slots, L.MC_PERSON]
    start = people.person_ranges[person, 2 * t]
    which, rows = _ranges(start, people.person_ranges[person, 2 * t + 1] - start)
    instances = people.instance_off[slots, t][which] + rows - start[which]
    bits = getattr(out, _BITS[table])[instances]
    hit = bits != 0
    slots = slots[which][hit]
    return bits[hit], rows[hit], slots, households[member][which][hit]


def run(inp: EngineInput, *, threads: bool = True, release: bool = False) -> EngineOutput:
    """Assess every household of `inp` with the kernels (`threads=False`: on the calling
    thread only, for calls of a few households). `release`: the caller is done with
    `inp`'s ID pass (`inp.ids`, a review's batch), which is freed once assembled.

    The kernels hold a pack's programs as bits of one int64 (L.MAX_PROGRAMS); POLICY.md
    sets no limit, so a batch using a pack of more programs is assessed by the
    reference calculator instead: the same outputs (tests/test_rules_s11_programs.py),
    at its speed."""
    if any(len(p.programs) > L.MAX_PROGRAMS for p in inp.policies):
        from meanstest import reference

        return reference.run(inp)
    a = assemble(inp)
    if release and inp.ids is not None:
        inp.ids.release()
    out = assess(a.households, a.people, a.records, a.pack, threads=threads)
    # the records' arrays are the kernels' alone (233 MB at 1M households): freed before
    # the output tables are built, where a review's memory peaks
    a.records = None
    return EngineOutput(_results(a, out), _members(a, out), _findings(inp, a, out))


def _program_names(a: Assembled) -> tuple[pa.Array, np.ndarray, int]:
    flat = [n for names in a.program_names for n in names]
    base = np.cumsum([0] + [len(n) for n in a.program_names])[:-1].astype(I64)
    width = max([len(n) for n in a.program_names] + [0])
    return _str(flat), base, width


def _pack_rows(a: Assembled) -> np.ndarray:
    return a.households.codes[:, L.HC_PACK].astype(I64)


def _results(a: Assembled, out) -> pa.Table:
    money, codes = out.household_money, out.household_codes
    n_h = codes.shape[1]
    names, base, width = _program_names(a)
    vetoes = _lists(codes[L.OC_VETOES], L.N_VETOES, _str(schema.VETO_CODES), np.zeros(n_h, I64))
    eligible = _lists(money[L.OM_ELIGIBLE], width, names, base[_pack_rows(a)])
    cols = {
        "household_id": a.household_ids,
        "status": _take(schema.STATUSES, codes[L.OC_STATUS]),
        "benefit": pa.array(money[L.OM_BENEFIT]),
        "phaseout_months": pa.array(codes[L.OC_PHASEOUT]),
        "pci": pa.array(money[L.OM_PCI]),
        "standard": pa.array(money[L.OM_STANDARD]),
        "gross_income": pa.array(money[L.OM_GROSS]),
        "medical": pa.array(money[L.OM_MEDICAL]),
        "education": pa.array(money[L.OM_EDUCATION]),
        "pension": pa.array(money[L.OM_PENSION]),
        "net_income": pa.array(money[L.OM_NET]),
        "financial_assets": pa.array(money[L.OM_ASSETS]),
        "circle": pa.array(codes[L.OC_CIRCLE].astype(I8)),
        "transition": _take(schema.TRANSITIONS, codes[L.OC_TRANSITION]),
        "vetoes": vetoes,
        "difficulty_index": pa.array(codes[L.OC_INDEX]),
        "provisional": pa.array(codes[L.OC_NOT_CHECKED] != 0),
        "eligible_programs": eligible,
    }
    result_schema = pa.schema(
        [schema.OUTPUTS["results"].field(n) for n in schema.ENGINE_RESULT_COLUMNS]
    )
    return pa.Table.from_pydict(cols, schema=result_schema)


def _members(a: Assembled, out) -> pa.Table:
    money, codes = out.member_money, out.member_codes
    cols = {
        "household_id": a.household_ids.take(pa.array(a.member_household)),
        "person_id": a.member_ids,
        "age": pa.array(codes[L.MOC_AGE]),
        "labour_coefficient": pa.array(codes[L.MOC_COEFFICIENT]),
        "employment": pa.array(money[L.MOM_EMPLOYMENT]),
        "employment_basis": _take(schema.EMPLOYMENT_BASES, codes[L.MOC_BASIS]),
        "member_income": pa.array(money[L.MOM_INCOME]),
        "verified_income": pa.array(money[L.MOM_VERIFIED]),
    }
    return pa.Table.from_pydict(cols, schema=schema.OUTPUTS["members"])


class _Strings:
    """A string column of n rows filled block by block: a block adds its values at given
    rows (`put`), or indexes values added once (`add`, a dictionary); every row is
    filled."""

    def __init__(self, n: int) -> None:
        self.index = np.empty(n, I64)
        self.parts: list[pa.Array] = []
        self.size = 0

    def add(self, values: pa.Array) -> int:
        """Append values; returns the index of the first."""
        first = self.size
        self.parts.append(values)
        self.size += len(values)
        return first

    def put(self, rows: np.ndarray, values: pa.Array) -> None:
        self.index[rows] = self.add(values) + np.arange(len(values), dtype=I64)

    def column(self) -> pa.Array:
        values = pa.concat_arrays(self.parts) if self.parts else _str([])
        return _take(values, self.index)


def _sparse(n: int, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """A string column of n rows, values at `rows` (ascending), null elsewhere: built from
    the values' own buffers, since most rows are null (person_id, record_id)."""
    ends = np.frombuffer(values.buffers()[1], np.int32, len(values) + 1, values.offset * 4)
    lengths = np.zeros(n, I32)
    lengths[rows] = np.diff(ends)
    offsets = np.zeros(n + 1, I32)
    np.cumsum(lengths, out=offsets[1:])
    valid = np.zeros(n, bool)
    valid[rows] = True
    data = values.buffers()[2]
    data = data[ends[0] : ends[-1]] if data is not None else pa.py_buffer(b"")
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), data, bitmap, null_count=n - len(rows)
    )


def _ints(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values.astype(I64)), STR)


class _Rows:
    """The findings table being filled: every row is written once, at its final place
    (docs/engine.md order); person_id and record_id are null unless set."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.code = np.empty(n, I8)
        self.severity = np.empty(n, I8)
        self.source = np.empty(n, I8)
        self.person = np.full(n, -1, I64)  # member slot
        self.record_at: list[np.ndarray] = []
        self.records: list[pa.Array] = []
        self.detail = _Strings(n)

    def kind(self, at: np.ndarray, code: int, severity, source: str) -> None:
        self.code[at], self.severity[at], self.source[at] = code, severity, SOURCES.index(source)

    def record(self, at: np.ndarray, values: pa.Array) -> None:
        self.record_at.append(at)
        self.records.append(values)

    def table(self, a: Assembled, per_household: np.ndarray) -> pa.Table:
        n = self.n
        household = np.repeat(np.arange(len(per_household), dtype=I64), per_household)
        has_person = np.flatnonzero(self.person >= 0)
        persons = a.member_ids.take(pa.array(self.person[has_person]))
        record_at = np.concatenate(self.record_at) if self.record_at else np.zeros(0, I64)
        order = np.argsort(record_at)
        records = pa.concat_arrays(self.records) if self.records else _str([])
        data = [
            a.household_ids.take(pa.array(household)),
            _take(CODES, self.code),
            _take(SEVERITIES, self.severity),
            _sparse(n, has_person, persons),
            _take(SOURCES, self.source),
            _sparse(n, record_at[order], records.take(pa.array(order))),
            self.detail.column(),
        ]
        return pa.Table.from_arrays(data, schema=schema.OUTPUTS["findings"])


def _findings(inp: EngineInput, a: Assembled, out) -> pa.Table:
    money, codes = out.household_money, out.household_codes
    n_h = codes.shape[1]
    vetoes, und, unchecked = codes[L.OC_VETOES], codes[L.OC_UNDECLARED], codes[L.OC_NOT_CHECKED]
    eligible, current = money[L.OM_ELIGIBLE], a.current_programs
    missed, undue = eligible & ~current, current & ~eligible
    duplicates = _duplicates(inp, a)
    # where each household's findings start, and each category's within them
    counts = [
        np.bitwise_count(vetoes),
        np.bitwise_count(und),
        np.bitwise_count(unchecked),
        np.bincount(a.member_household[duplicates[0]], minlength=n_h),
        np.bitwise_count(missed),
        np.bitwise_count(undue),
    ]
    total = np.zeros(n_h, I64)
    starts = []
    for count in counts:
        starts.append(total.copy())
        total += count
    offsets = np.zeros(n_h + 1, I64)
    np.cumsum(total, out=offsets[1:])
    at_veto, at_und, at_unchecked, at_dup, at_missed, at_undue = (offsets[:-1] + s for s in starts)
    rows = _Rows(int(offsets[-1]))
    _veto_rows(rows, at_veto, vetoes, und, a, out)
    _undeclared_rows(rows, at_und, und, a, out)
    _unchecked_rows(rows, at_unchecked, unchecked)
    _duplicate_rows(rows, at_dup, duplicates, a)
    _program_rows(rows, (at_missed, at_undue), (missed, undue), a)
    return rows.table(a, total)


def _veto_rows(rows: _Rows, at_veto, vetoes, und, a: Assembled, out) -> None:
    """§6: one row per fired veto; evidence and detail from the kernels' record bits,
    read only for the households where a veto of that table fired."""
    vetoed = np.flatnonzero(vetoes)
    instances = {}
    for table in _BITS:
        table_vetoes = sum(1 << v for v, t in enumerate(VETO_SOURCES) if t == table)
        households = vetoed[(vetoes[vetoed] & table_vetoes) != 0]
        instances[table] = _veto_records(a, out, table, households)
    for v in range(L.N_VETOES):
        hh = _with_bit(vetoes, vetoed, v)
        if not len(hh):
            continue
        at = at_veto[hh] + _below(vetoes[hh], v)
        rows.kind(at, v, 0, VETO_SOURCES[v])
        table = VETO_SOURCES[v]
        if table in _BITS:
            bits, record_rows, slots, owner = instances[table]
            hit = ((bits >> v) & 1).astype(bool)
            ids = a.record_ids[table]
            values = ids.take(pa.array(record_rows[hit]))
            rows.detail.put(at, _join("records ", np.searchsorted(hh, owner[hit]), len(hh), values))
            if v not in _NO_EVIDENCE:  # the household's first instance with the bit
                if v == V01:
                    hit = ((bits >> L.V01_BY_VALUE) & 1).astype(bool)
                first = _first_per_group(owner[hit])
                where = at[np.searchsorted(hh, owner[hit][first])]
                rows.person[where] = slots[hit][first]
                rows.record(where, ids.take(pa.array(record_rows[hit][first])))
        elif v == V11:  # the triggering members
            slots = np.flatnonzero(out.member_codes[L.MOC_REFUSED_WORK])
            owner = a.member_household[slots]
            ids = a.member_ids.take(pa.array(slots))
            rows.detail.put(at, _join("members ", np.searchsorted(hh, owner), len(hh), ids))
            first = _first_per_group(owner)
            rows.person[at[np.searchsorted(hh, owner[first])]] = slots[first]
        elif v == V12:
            rows.detail.index[at] = rows.detail.add(_str(["consent_signed is false"]))
        else:  # V13: the UNDECLARED_* codes found, in order
            texts = [
                "findings "
                + ", ".join(c for i, c in enumerate(schema.UNDECLARED_CODES) if (m >> i) & 1)
                for m in range(1 << L.N_UNDECLARED)
            ]
            rows.detail.index[at] = rows.detail.add(_str(texts)) + und[hh]


def _undeclared_rows(rows: _Rows, at_und, und, a: Assembled, out) -> None:
    """§8 UNDECLARED_*: severity veto when the household's pack enables V13."""
    money, codes, declared = out.household_money, out.household_codes, a.households.money
    pack_rows = _pack_rows(a)
    found = np.flatnonzero(und)
    for i in range(L.N_UNDECLARED):
        hh = _with_bit(und, found, i)
        if not len(hh):
            continue
        at = at_und[hh] + _below(und[hh], i)
        v13 = (a.pack.params[pack_rows[hh], L.P_VETO_ENABLED] >> V13) & 1
        rows.kind(at, _C_UNDECLARED + i, 1 - v13, UNDECLARED_SOURCES[i])
        if i == 0:
            text = pc.binary_join_element_wise(
                "verified ",
                _ints(money[L.OM_VERIFIED_MONTHLY, hh]),
                " > declared ",
                _ints(declared[hh, L.HM_DECLARED_INCOME]),
                " + tolerance ",
                _ints(money[L.OM_INCOME_TOLERANCE, hh]),
                "",
            )
        elif i in (1, 2):
            owned = codes[L.OC_OWNED_VEHICLES if i == 1 else L.OC_OWNED_PROPERTIES, hh]
            column = L.HM_DECLARED_VEHICLES if i == 1 else L.HM_DECLARED_PROPERTIES
            text = pc.binary_join_element_wise(
                "owned ", _ints(owned), " > declared ", _ints(declared[hh, column]), ""
            )
        else:
            text = pc.binary_join_element_wise(
                "financial assets ",
                _ints(money[L.OM_ASSETS, hh]),
                " > declared ",
                _ints(declared[hh, L.HM_DECLARED_ASSETS]),
                " + tolerance ",
                _ints(a.pack.params[pack_rows[hh], L.P_ASSET_DECLARATION_ABS]),
                "",
            )
        rows.detail.put(at, text)


def _unchecked_rows(rows: _Rows, at_unchecked, unchecked) -> None:
    """§8 SOURCE_NOT_CHECKED, one per department whose checked_* flag is false."""
    provisional = np.flatnonzero(unchecked)
    for k, dept in enumerate(schema.DEPARTMENTS):
        hh = _with_bit(unchecked, provisional, k)
        at = at_unchecked[hh] + _below(unchecked[hh], k)
        rows.kind(at, _C_NOT_CHECKED, 1, dept)
        rows.detail.index[at] = rows.detail.add(_str([f"checked_{dept} is false"]))


def _duplicates(inp: EngineInput, a: Assembled) -> tuple[np.ndarray, pa.Array | None]:
    """Member slots (persons order) whose person_id is a member of several households,
    and their detail texts."""
    if not inp.duplicates or not len(a.member_ids):
        return np.zeros(0, I64), None
    keys = sorted(inp.duplicates)
    where = pc.index_in(a.member_ids, value_set=_str(keys))
    slots = np.flatnonzero(np.asarray(pc.is_valid(where)))
    texts = _str([duplicate_detail(inp.duplicates[k]) for k in keys])
    return slots, texts.take(where.take(pa.array(slots)))


def _duplicate_rows(rows: _Rows, at_dup, duplicates, a: Assembled) -> None:
    """§8 DUPLICATE_PERSON, one per such member, members in persons order."""
    slots, texts = duplicates
    if not len(slots):
        return
    household = a.member_household[slots]
    k = np.arange(len(slots))
    rank = k - np.maximum.accumulate(np.where(_run_starts(household), k, 0))
    at = at_dup[household] + rank
    rows.kind(at, _C_DUPLICATE, 1, "persons")
    rows.person[at] = slots
    rows.detail.put(at, texts)


def _program_rows(rows: _Rows, at_categories, masks, a: Assembled) -> None:
    """§11 PROGRAM_MISSED, then PROGRAM_UNDUE: one per program, names by code point."""
    names, base, width = _program_names(a)
    pack_rows = _pack_rows(a)
    first_name = rows.detail.add(names)
    for category, mask, at_category in zip((_C_MISSED, _C_UNDUE), masks, at_categories):
        hh, bit = _set_bits(mask, width)
        at = at_category[hh] + _below(mask[hh], bit)
        rows.kind(at, category, 1, "households")
        rows.detail.index[at] = first_name + base[pack_rows[hh]] + bit
