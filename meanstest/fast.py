"""The fast engine: assemble → numba kernels → the three Arrow output tables.

Same contract as `meanstest.reference.run` (meanstest.engine), same tables value for
value; findings follow docs/engine.md (order, evidence, detail text). Output tables are
built with Arrow compute over the kernel's integer outputs; the only Python loops run
over codes and packs, never over rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema
from meanstest.assemble import Assembled, assemble
from meanstest.engine import EngineInput, EngineOutput
from meanstest.kernels import assess
from meanstest.kernels import layout as L

I64 = np.int64
STR = pa.string()
# findings of one household sort by this sub-key (docs/engine.md "Order of findings")
_K_UNDECLARED = 14
_K_SOURCE = 18
_K_DUPLICATE = 1 << 8
_K_MISSED = 1 << 28
_K_UNDUE = 1 << 29
_K_SHIFT = 31

VETO_SOURCES = (
    "vehicle",
    "property",
    "property",
    "bank",
    "business_registration",
    "social_insurance",
    "business_registration",
    "social_insurance",
    "property",
    "property",
    "persons",
    "households",
    "households",
    "vehicle",
)
# veto index -> source table of its detail records (None: a row of households/persons,
# not a list of source records)
VETO_TABLES = tuple(None if t in ("households", "persons") else t for t in VETO_SOURCES)
UNDECLARED_SOURCES = ("tax_income", "vehicle", "property", "bank")
_VETO_ARRAY = {
    "vehicle": "vehicle_vetoes",
    "property": "property_vetoes",
    "bank": "bank_vetoes",
    "business_registration": "business_vetoes",
    "social_insurance": "social_vetoes",
}
# vetoes whose person_id/record_id are always null (aggregates, households rows)
_NO_EVIDENCE = {1, 3, 11, 12}


def _str(values) -> pa.Array:
    return pa.array(values, STR)


def _lists(mask: np.ndarray, width: int, names_flat: pa.Array, base: np.ndarray) -> pa.Array:
    """list<string> per row from a bitmask: names_flat[base[row] + bit], bits ascending."""
    bits = (mask[:, None] >> np.arange(width, dtype=I64)) & 1
    rows, cols = np.nonzero(bits)
    offsets = np.zeros(len(mask) + 1, np.int32)
    np.cumsum(bits.sum(axis=1), out=offsets[1:])
    values = names_flat.take(pa.array(base[rows] + cols)) if len(rows) else _str([])
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _join(prefix: str, groups: np.ndarray, n_groups: int, values: pa.Array) -> pa.Array:
    """prefix + ", ".join(values of group g), for g in 0..n_groups-1 (groups ascending)."""
    offsets = np.zeros(n_groups + 1, np.int32)
    np.cumsum(np.bincount(groups, minlength=n_groups), out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    return pc.binary_join_element_wise(prefix, pc.binary_join(lists, ", "), "")


class _Findings:
    """Blocks of finding rows, concatenated and sorted by (household, sub-key) at the end."""

    def __init__(self, household_ids: pa.Array) -> None:
        self.household_ids = household_ids
        self.blocks: list[tuple[np.ndarray, dict]] = []

    def add(self, hh: np.ndarray, sub, code, severity, person, source, record, detail):
        n = len(hh)
        if n == 0:
            return

        def col(v):
            if v is None:
                return pa.nulls(n, STR)
            if isinstance(v, str):
                return _repeat(v, n)
            return v

        key = (hh.astype(I64) << _K_SHIFT) + sub
        self.blocks.append(
            (
                key,
                {
                    "code": col(code),
                    "severity": col(severity),
                    "person_id": col(person),
                    "source": col(source),
                    "record_id": col(record),
                    "detail": col(detail),
                    "_hh": pa.array(hh.astype(I64)),
                },
            )
        )

    def table(self) -> pa.Table:
        names = schema.OUTPUTS["findings"].names
        if not self.blocks:
            return schema.OUTPUTS["findings"].empty_table()
        key = np.concatenate([k for k, _ in self.blocks])
        cols = {c: pa.concat_arrays([b[c] for _, b in self.blocks]) for c in [*names[1:], "_hh"]}
        order = pa.array(np.argsort(key, kind="stable"))
        hh = cols.pop("_hh").take(order)
        data = {"household_id": self.household_ids.take(hh)}
        data.update({c: cols[c].take(order) for c in names[1:]})
        return pa.Table.from_pydict(data, schema=schema.OUTPUTS["findings"])


def _repeat(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), _str([value])).cast(STR)


def _enum(codes: np.ndarray, enum) -> pa.Array:
    return _str(list(enum)).take(pa.array(codes.astype(np.int32)))


def run(inp: EngineInput, *, threads: bool = True) -> EngineOutput:
    """Assess every household of `inp` with the kernels (`threads=False`: on the calling
    thread only, for calls of a few households)."""
    a = assemble(inp)
    out = assess(a.households, a.people, a.records, a.pack, threads=threads)
    return EngineOutput(_results(a, out), _members(a, out), _findings(inp, a, out))


def _program_names(a: Assembled) -> tuple[pa.Array, np.ndarray, int]:
    flat = [n for names in a.program_names for n in names]
    base = np.cumsum([0] + [len(n) for n in a.program_names])[:-1].astype(I64)
    width = max([len(n) for n in a.program_names] + [0])
    return _str(flat), base, width


def _results(a: Assembled, out) -> pa.Table:
    o = out.household
    n_h = o.shape[0]
    pack_rows = a.households.codes[:, L.HC_PACK].astype(I64)
    names, base, width = _program_names(a)
    vetoes = _lists(o[:, L.O_VETOES], L.N_VETOES, _str(list(schema.VETO_CODES)), np.zeros(n_h, I64))
    eligible = _lists(
        o[:, L.O_ELIGIBLE], width, names, base[pack_rows] if n_h else np.zeros(0, I64)
    )
    cols = {
        "household_id": a.household_ids,
        "status": _enum(o[:, L.O_STATUS], schema.STATUSES),
        "benefit": pa.array(o[:, L.O_BENEFIT]),
        "phaseout_months": pa.array(o[:, L.O_PHASEOUT].astype(np.int32)),
        "pci": pa.array(o[:, L.O_PCI]),
        "standard": pa.array(o[:, L.O_STANDARD]),
        "gross_income": pa.array(o[:, L.O_GROSS]),
        "medical": pa.array(o[:, L.O_MEDICAL]),
        "education": pa.array(o[:, L.O_EDUCATION]),
        "pension": pa.array(o[:, L.O_PENSION]),
        "net_income": pa.array(o[:, L.O_NET]),
        "financial_assets": pa.array(o[:, L.O_ASSETS]),
        "circle": pa.array(o[:, L.O_CIRCLE].astype(np.int8)),
        "transition": _enum(o[:, L.O_TRANSITION], schema.TRANSITIONS),
        "vetoes": vetoes,
        "difficulty_index": pa.array(o[:, L.O_INDEX].astype(np.int32)),
        "provisional": pa.array(o[:, L.O_NOT_CHECKED] != 0),
        "eligible_programs": eligible,
    }
    result_schema = pa.schema(
        [schema.OUTPUTS["results"].field(n) for n in schema.ENGINE_RESULT_COLUMNS]
    )
    return pa.Table.from_pydict(cols, schema=result_schema)


def _members(a: Assembled, out) -> pa.Table:
    m = out.member
    cols = {
        "household_id": a.household_ids.take(pa.array(a.member_household)),
        "person_id": a.member_ids,
        "age": pa.array(m[:, L.MO_AGE].astype(np.int32)),
        "labour_coefficient": pa.array(m[:, L.MO_COEFFICIENT].astype(np.int32)),
        "employment": pa.array(m[:, L.MO_EMPLOYMENT]),
        "employment_basis": _enum(m[:, L.MO_BASIS], schema.EMPLOYMENT_BASES),
        "member_income": pa.array(m[:, L.MO_INCOME]),
        "verified_income": pa.array(m[:, L.MO_VERIFIED]),
    }
    return pa.Table.from_pydict(cols, schema=schema.OUTPUTS["members"])


def _ints(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values.astype(I64)), STR)


def _findings(inp: EngineInput, a: Assembled, out) -> pa.Table:
    o = out.household
    n_h = o.shape[0]
    f = _Findings(a.household_ids)
    pack_rows = a.households.codes[:, L.HC_PACK].astype(I64)
    enabled = a.pack.params[:, L.P_VETO_ENABLED][pack_rows] if n_h else np.zeros(0, I64)
    veto_mask = o[:, L.O_VETOES]
    member_off = a.households.member_off
    # §6 vetoes
    for v in range(L.N_VETOES):
        hh = np.nonzero((veto_mask >> v) & 1)[0]
        if not len(hh):
            continue
        code = schema.VETO_CODES[v]
        slot = out.evidence_slot[hh, v]
        inst = out.evidence_instance[hh, v]
        person = record = None
        if v not in _NO_EVIDENCE:
            person = a.member_ids.take(
                pa.array(np.where(slot >= 0, slot, 0)),
            )
            person = pc.if_else(pa.array(slot >= 0), person, pa.nulls(len(hh), STR))
        table = VETO_TABLES[v]
        if table is not None and v not in _NO_EVIDENCE:
            ids = a.record_ids[table]
            has = inst >= 0
            rows, _ = a.instances(table, inst[has])
            record = pa.nulls(len(hh), STR)
            if has.any():
                record = pc.replace_with_mask(record, pa.array(has), ids.take(pa.array(rows)))
        if table is not None:
            bits = getattr(out, _VETO_ARRAY[table])
            sel = np.nonzero((bits >> v) & 1)[0]
            rows, slots = a.instances(table, sel)
            owner = a.member_household[slots]
            keep = ((veto_mask[owner] >> v) & 1).astype(bool)
            values = a.record_ids[table].take(pa.array(rows[keep]))
            detail = _join("records ", np.searchsorted(hh, owner[keep]), len(hh), values)
        elif v == 10:  # V11: the triggering members
            sel = np.nonzero(out.member[:, L.MO_REFUSED_WORK])[0]
            owner = a.member_household[sel]
            keep = ((veto_mask[owner] >> v) & 1).astype(bool)
            sel, owner = sel[keep], owner[keep]
            detail = _join(
                "members ", np.searchsorted(hh, owner), len(hh), a.member_ids.take(pa.array(sel))
            )
        elif v == 11:
            detail = "consent_signed is false"
        else:  # V13: the UNDECLARED_* codes found, in order
            und = o[hh, L.O_UNDECLARED]
            texts = {
                m: "findings "
                + ", ".join(c for i, c in enumerate(schema.UNDECLARED_CODES) if (m >> i) & 1)
                for m in np.unique(und).tolist()
            }
            detail = _str([texts[m] for m in und.tolist()])
        f.add(hh, v, code, "veto", person, VETO_SOURCES[v], record, detail)
    # §8 UNDECLARED_*
    und = o[:, L.O_UNDECLARED]
    for i, code in enumerate(schema.UNDECLARED_CODES):
        hh = np.nonzero((und >> i) & 1)[0]
        if not len(hh):
            continue
        severity = pc.if_else(pa.array(((enabled[hh] >> 12) & 1).astype(bool)), "veto", "warning")
        money = a.households.money
        if i == 0:
            detail = pc.binary_join_element_wise(
                "verified ",
                _ints(o[hh, L.O_VERIFIED_MONTHLY]),
                " > declared ",
                _ints(money[hh, L.HM_DECLARED_INCOME]),
                " + tolerance ",
                _ints(o[hh, L.O_INCOME_TOLERANCE]),
                "",
            )
        elif i in (1, 2):
            owned = o[hh, L.O_OWNED_VEHICLES if i == 1 else L.O_OWNED_PROPERTIES]
            declared = money[hh, L.HM_DECLARED_VEHICLES if i == 1 else L.HM_DECLARED_PROPERTIES]
            detail = pc.binary_join_element_wise(
                "owned ", _ints(owned), " > declared ", _ints(declared), ""
            )
        else:
            detail = pc.binary_join_element_wise(
                "financial assets ",
                _ints(o[hh, L.O_ASSETS]),
                " > declared ",
                _ints(money[hh, L.HM_DECLARED_ASSETS]),
                " + tolerance ",
                _ints(o[hh, L.O_ASSET_TOLERANCE]),
                "",
            )
        f.add(hh, _K_UNDECLARED + i, code, severity, None, UNDECLARED_SOURCES[i], None, detail)
    # §8 SOURCE_NOT_CHECKED
    nc = o[:, L.O_NOT_CHECKED]
    for k, dept in enumerate(schema.DEPARTMENTS):
        hh = np.nonzero((nc >> k) & 1)[0]
        f.add(
            hh,
            _K_SOURCE + k,
            "SOURCE_NOT_CHECKED",
            "warning",
            None,
            dept,
            None,
            f"checked_{dept} is false",
        )
    # §8 DUPLICATE_PERSON
    if inp.duplicates and len(a.member_ids):
        keys = sorted(inp.duplicates)
        where = pc.index_in(a.member_ids, value_set=_str(keys))
        slots = np.nonzero(_valid(where))[0]
        if len(slots):
            texts = _str(["member of households " + ", ".join(inp.duplicates[k]) for k in keys])
            which = pc.take(where, pa.array(slots))
            hh = a.member_household[slots]
            f.add(
                hh,
                _K_DUPLICATE + (slots - member_off[hh]),
                "DUPLICATE_PERSON",
                "warning",
                a.member_ids.take(pa.array(slots)),
                "persons",
                None,
                texts.take(which),
            )
    # §11 PROGRAM_MISSED / PROGRAM_UNDUE
    names, base, width = _program_names(a)
    eligible, current = o[:, L.O_ELIGIBLE], a.current_programs
    for sub, code, mask in (
        (_K_MISSED, "PROGRAM_MISSED", eligible & ~current),
        (_K_UNDUE, "PROGRAM_UNDUE", current & ~eligible),
    ):
        bits = (mask[:, None] >> np.arange(width, dtype=I64)) & 1
        hh, bit = np.nonzero(bits)
        if len(hh):
            f.add(
                hh,
                sub + bit,
                code,
                "warning",
                None,
                "households",
                None,
                names.take(pa.array(base[pack_rows[hh]] + bit)),
            )
    return f.table()


def _valid(arr) -> np.ndarray:
    return np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False), dtype=bool)
