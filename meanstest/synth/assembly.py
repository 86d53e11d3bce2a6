"""Assembly of one block's arrays into the bundle tables (with internal order columns)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema
from meanstest.synth.common import (
    _IX,
    _PLATE,
    _SRC_COLS,
    _SRC_PREFIX,
    BANKS,
    JURISDICTIONS,
    PROGRAMS,
    _date32,
    _take,
)
from meanstest.synth.households import _Block
from meanstest.synth.ids import _digits, _fixed, _numbered

_INTERNAL = [("_hh", pa.int64()), ("_o", pa.int64())]


def _internal_schema(table: str) -> pa.Schema:
    s = schema.arrow_schema(table)
    for name, typ in _INTERNAL:
        s = s.append(pa.field(name, typ))
    return s


def _table(name: str, cols: dict) -> pa.Table:
    s = _internal_schema(name)
    return pa.Table.from_arrays([pa.array(cols[f.name], f.type) if not isinstance(
        cols[f.name], (pa.Array, pa.ChunkedArray)) else cols[f.name] for f in s], schema=s)  # fmt: skip


def _assemble(st: _Block) -> dict[str, pa.Table]:
    H, P, Q = st.H, len(st.hh), len(st.shh)
    hid = _numbered("HH", st.g, 9)
    offsets, flat, null = st.programs
    programs = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)),
                                        _take(PROGRAMS, flat), mask=pa.array(null))  # fmt: skip
    d = st.declared
    out = {"households": _table("households", {
        "household_id": hid, "jurisdiction": _take(JURISDICTIONS, st.jur),
        "area": _take(schema.AREAS, st.area), "assessment_date": _date32(st.Dh),
        "consent_signed": st.consent,
        **{f"checked_{x}": st.checked[i] for i, x in enumerate(
            ("tax", "bank", "vehicle", "housing", "social_insurance"))},
        "declared_income_monthly": pa.array(d["income"], pa.int64(), mask=~st.declared_set["income"]),
        "declared_vehicles": pa.array(d["vehicles"], pa.int32(), mask=~st.declared_set["vehicles"]),
        "declared_properties": pa.array(d["properties"], pa.int32(),
                                        mask=~st.declared_set["properties"]),
        "declared_financial_assets": pa.array(d["assets"], pa.int64(),
                                              mask=~st.declared_set["assets"]),
        "prev_status": _take(schema.PREV_STATUSES, st.prev), "prev_benefit": st.prev_benefit,
        "current_programs": programs, "_hh": st.g, "_o": np.zeros(H, np.int64),
    })}  # fmt: skip
    # persons: members, then the deliberate duplicates appended to their new household
    src, tgt = st.dup_src, st.dup_target
    rows = np.r_[np.arange(P), src]
    phh = np.r_[st.hh, tgt]
    order_key = np.r_[2 * np.arange(P), 2 * (st.start[tgt] + st.n[tgt] - 1) + 1]
    rel = np.r_[st.rel, np.where(st.age[src] >= 45, _IX["rel"]["parent"], _IX["rel"]["other"])]
    out["persons"] = _table("persons", {
        "household_id": hid.take(pa.array(phh)), "person_id": st.ids.take(pa.array(rows)),
        "relation": _take(schema.RELATIONS, rel), "birth_date": _date32(st.birth[rows]),
        "health": st.health[rows], "student_level": _take(schema.STUDENT_LEVELS, st.stu[rows]),
        "occupation": _take(schema.OCCUPATIONS, st.occ[rows]),
        "refused_job_offers": st.refused[rows], "tuition": st.tuition[rows],
        "_hh": st.g[phh], "_o": order_key,
    }).sort_by([("_hh", "ascending"), ("_o", "ascending")])  # fmt: skip
    out["supporters"] = _table("supporters", {
        "household_id": hid.take(pa.array(st.shh)),
        "supporter_id": st.ids.take(pa.array(P + np.arange(Q))), "birth_date": _date32(st.sbirth),
        "health": st.shealth, "employment_sector": _take(schema.SECTORS, st.sector),
        "exempt_reason": _take(schema.EXEMPT_REASONS, st.exempt), "supported_count": st.scount,
        "_hh": st.g[st.shh], "_o": 2 * np.arange(Q),
    })  # fmt: skip
    ids = pa.concat_arrays([st.ids, st.ghost_ids])
    owner_hh = np.r_[st.g[st.hh], st.g[st.shh], st.ghost_hh]
    owner_jur = np.r_[st.jur[st.hh], st.jur[st.shh], np.zeros(len(st.ghost_hh), np.int64)]
    for table in _SRC_COLS:
        c = st.cat(table)
        order = np.argsort(owner_hh[c["owner"]], kind="stable")
        c = {k: v[order] for k, v in c.items()}
        n = len(c["owner"])
        cols = {"person_id": ids.take(pa.array(c["owner"])), "record_id": _record_ids(st, table, n),
                "_hh": owner_hh[c["owner"]], "_o": 2 * np.arange(n)}  # fmt: skip
        cols.update(_source_columns(st, table, c, owner_jur[c["owner"]]))
        out[table] = _table(table, cols)
    return out


def _record_ids(st: _Block, table: str, n: int) -> pa.Array:
    """Department keys, or "<export file>:<line>" for the rows of a CSV export."""
    csv = st.rng.random(n) < 0.25
    keys = _numbered(_SRC_PREFIX[table], st.b * 10_000_000 + 1 + np.cumsum(~csv) - 1, 12)
    lines = pc.cast(pa.array(1 + np.cumsum(csv)), pa.string())
    files = pc.binary_join_element_wise(f"{table}_export_{st.b:05d}.csv:", lines, "")
    return pc.if_else(pa.array(csv), files, keys)


def _source_columns(st: _Block, table: str, c: dict, jur: np.ndarray) -> dict:
    if table == "tax_income":
        return {"income_type": _take(schema.INCOME_TYPES, c["inc"]), "amount": c["amount"]}
    if table == "business_registration":
        return {"role": _take(schema.ROLES, c["role"]), "annual_turnover": c["turnover"],
                "employees": c["employees"]}  # fmt: skip
    if table == "bank":
        return {"institution": _take(BANKS, c["inst"]), "product": _take(schema.PRODUCTS, c["prod"]),
                "balance": c["balance"], "interest": c["interest"]}  # fmt: skip
    if table == "vehicle":
        u = (((st.b << 16) + c["plate"]) * 7_654_321) % 34**5
        chars = _PLATE[(u[:, None] // 34 ** np.arange(4, -1, -1)) % 34]
        plate = pc.binary_join_element_wise(_take(("蒙D", "蒙D", "蒙D", "蒙G"), jur),
                                            _fixed(chars), "")  # fmt: skip
        return {"plate": plate, "vehicle_type": _take(schema.VEHICLE_TYPES, c["veh"]),
                "value": c["value"], "registered_on": _date32(c["registered"])}  # fmt: skip
    if table == "property":
        u = (((st.b << 17) + c["prop"]) * 387_420_489) % 10**9
        prefix = _take([f"P{j}-" for j in JURISDICTIONS], jur)
        return {"property_id": pc.binary_join_element_wise(prefix, _fixed(_digits(u, 9) + 48), ""),
                "use": _take(schema.PROPERTY_USES, c["use"]), "area": c["area"],
                "share": c["share"], "acquired_on": _date32(c["acquired"]),
                "acquisition": _take(schema.ACQUISITIONS, c["acq"]),
                "disposed_on": _date32(c["disposed"]), "rental_income": c["rental"]}  # fmt: skip
    return {"record_type": _take(schema.RECORD_TYPES, c["rec"]), "amount": c["amount"],
            "reimbursed": c["reimbursed"], "scheme": _take(schema.SCHEMES, c["sch"]),
            "employer_type": _take(schema.EMPLOYER_TYPES, c["emp"])}  # fmt: skip
