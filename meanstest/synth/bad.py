"""Bad input: invalid rows of every kind of DATA.md "Bad input"."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest.synth.assembly import _internal_schema
from meanstest.synth.common import _SRC_COLS, _SRC_PREFIX, BAD_KINDS, BANKS, BLOCK
from meanstest.synth.households import _Block
from meanstest.synth.ids import resident_ids


def _rows(table: pa.Table, hh: np.ndarray, first_only: bool = False) -> np.ndarray:
    """Mask of the rows of households `hh` (the first row of each when first_only)."""
    h = table.column("_hh").to_numpy()
    mask = np.isin(h, hh)
    if first_only and mask.any():
        idx = np.flatnonzero(mask)
        idx = idx[np.lexsort((table.column("_o").to_numpy()[idx], h[idx]))]
        first = idx[np.r_[True, h[idx][1:] != h[idx][:-1]]]
        mask = np.zeros(len(h), bool)
        mask[first] = True
    return mask


def _edit(tables, name, col, hh, var, fn, first_only=True):
    """Replace `col` in the rows of households hh by fn(old value, variant)."""
    if len(hh) == 0:
        return
    t = tables[name]
    mask = _rows(t, hh, first_only)
    if not mask.any():
        return
    order = np.argsort(hh)
    row_hh = t.column("_hh").to_numpy()[mask]
    row_var = var[order][np.searchsorted(hh[order], row_hh)]
    old = t.column(col).filter(pa.array(mask)).to_pylist()
    new = [None if x is None else fn(x, int(v)) for x, v in zip(old, row_var, strict=True)]
    typ = t.schema.field(col).type
    if pa.types.is_list(typ):  # replace_with_mask has no list kernel
        values = t.column(col).to_pylist()
        for i, x in zip(np.flatnonzero(mask), new, strict=True):
            values[i] = x
        arr = pa.array(values, typ)
    else:
        arr = pc.replace_with_mask(
            t.column(col).combine_chunks(), pa.array(mask), pa.array(new, typ)
        )
    tables[name] = t.set_column(t.schema.get_field_index(col), col, arr)


def _append(tables, name, rows: list[dict]) -> None:
    if rows:
        extra = pa.Table.from_pylist(rows, schema=_internal_schema(name))
        tables[name] = pa.concat_tables([tables[name], extra])


def _heads(tables, hh) -> list[dict]:
    p = tables["persons"]
    return p.filter(pa.array(_rows(p, hh, True))).to_pylist()


_BAD_NULLS = (("households", "checked_bank", None), ("households", "area", None),
              ("persons", "relation", None), ("persons", "birth_date", None),
              ("supporters", "exempt_reason", None), ("households", "prev_benefit", None))  # fmt: skip
_BAD_HEALTH = (("persons", "health", 0), ("persons", "health", 7), ("supporters", "health", 9))
_BAD_ENUMS = (("persons", "relation", "cousin"), ("households", "area", ""),
              ("persons", "occupation", "student"), ("persons", "student_level", "university"),
              ("households", "prev_status", "unknown"),
              ("supporters", "employment_sector", "military"),
              ("supporters", "exempt_reason", "retired"))  # fmt: skip
_BAD_NEGATIVE = (("households", "prev_benefit", -100), ("households", "declared_properties", -1),
                 ("persons", "tuition", -50_000), ("persons", "refused_job_offers", -1),
                 ("households", "declared_income_monthly", -5000))  # fmt: skip
_MALFORMED = (lambda s: s[:-1], lambda s: s + "0", lambda s: s[:17] + "x",
              lambda s: s[:3] + "A" + s[4:])  # fmt: skip
_CHECKS = "10X98765432"
_BAD_PROGRAMS = (["low_income_allowance"], [None, "medical_assistance"],
                 ["medical_assistance", "dibao_plus"])  # fmt: skip
_BAD_JURISDICTIONS = ("15042", "1504220", "15042A", "150 422")
_NO_PACK = ("110105", "310115")  # 6-digit codes no shipped pack covers
_BAD_VALUE_EDITS = {  # kind -> (table, column, new value from (old, variant), all rows?)
    "malformed_id": ("persons", "person_id", lambda s, i: _MALFORMED[i % 4](s), False),
    "bad_check": ("persons", "person_id",
                  lambda s, i: s[:17] + _CHECKS[(_CHECKS.find(s[17:18]) + 1 + i % 10) % 11], False),
    "id_birth_mismatch": ("persons", "birth_date",
                          lambda b, i: b + dt.timedelta(1 if i % 2 else -1), False),
    "current_programs": ("households", "current_programs", lambda x, i: _BAD_PROGRAMS[i % 3], False),
    "jurisdiction_format": ("households", "jurisdiction",
                            lambda x, i: _BAD_JURISDICTIONS[i % 4], False),
    "no_pack": ("households", "jurisdiction", lambda x, i: _NO_PACK[i % 2], False),
}  # fmt: skip


def _const(value):
    return lambda old, variant: value


def _bad_values(tables, sel, v, choices, fallback) -> None:
    """Variant i of each household sets choices[i % len]: (table, column, value); a
    supporters edit becomes `fallback` where the household has no supporter."""
    has = np.isin(sel, tables["supporters"].column("_hh").to_numpy())
    for j, (table, col, value) in enumerate(choices):
        m = (v % len(choices)) == j
        if table == "supporters":
            _edit(tables, table, col, sel[m & has], v[m & has], _const(value), False)
            m &= ~has
            table, col, value = fallback
        _edit(tables, table, col, sel[m], v[m], _const(value))


def _bad_rows(tables, sel, v, ctx, name) -> None:
    """Rows added for the head: an invalid source row, an extra supporter or member."""
    rows: dict[str, list] = {t: [] for t in (*_SRC_COLS, "supporters", "persons")}
    for head, i in zip(_heads(tables, sel), v[np.argsort(sel, kind="stable")], strict=True):
        i = int(i)
        if name in ("share", "disposed_before_acquired", "bad_source"):
            table, row = _bad_source_row(name, i, ctx["d"])
            o = 10**12 + next(ctx["serial"])
            key = f"{_SRC_PREFIX[table]}{ctx['b'] * 10_000_000 + o - 10**12:012d}"
            rows[table].append({"person_id": head["person_id"], "record_id": key,
                                "_hh": head["_hh"], "_o": o, **row})  # fmt: skip
        elif name == "same_person_twice" and i % 2 == 0:
            rows["persons"].append({**head, "relation": "other", "_o": head["_o"] + 1})
        else:
            twice = name == "same_person_twice"
            sid = head["person_id"] if twice else ctx["spare"].pop()
            birth = head["birth_date"] if twice else dt.date(int(sid[6:10]), int(sid[10:12]),
                                                             int(sid[12:14]))  # fmt: skip
            rows["supporters"].append({
                "household_id": head["household_id"], "supporter_id": sid, "birth_date": birth,
                "health": head["health"] if twice else 1, "employment_sector": "enterprise",
                "exempt_reason": "none", "supported_count": 1 if twice else 0,
                "_hh": head["_hh"], "_o": 10**9})  # fmt: skip
    for table, rs in rows.items():
        _append(tables, table, rs)


def _inject_bad(tables: dict, st: _Block, seed: int, fraction: float) -> dict:
    """Invalid rows of every kind of DATA.md "Bad input" in `fraction` of households
    (20% of them get a second kind), kinds cycled in household order."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, st.b, 1])))
    chosen = st.g[rng.random(st.H) < fraction]
    K = len(BAD_KINDS)
    r = rng.integers(K) + np.arange(len(chosen))
    two = rng.random(len(chosen)) < 0.2
    hh = np.r_[chosen, chosen[two]]
    kind = np.r_[r % K, (r[two] + 1 + rng.integers(0, K - 1, two.sum())) % K]
    var = np.r_[r // K, r[two] // K]
    spare = resident_ids(np.full(len(hh), 659002), st.D - rng.integers(20 * 365, 60 * 365,
                         len(hh)), rng.integers(0, 1000, len(hh))).to_pylist()  # fmt: skip
    ctx = {"d": st.d, "b": st.b, "serial": iter(range(9_000_000, 10_000_000)), "spare": spare}
    for k, name in enumerate(BAD_KINDS):
        sel, v = hh[kind == k], var[kind == k]
        if name == "null_required":
            _bad_values(tables, sel, v, _BAD_NULLS, ("households", "consent_signed", None))
        elif name == "unknown_enum":
            _bad_values(tables, sel, v, _BAD_ENUMS, ("persons", "relation", "cousin"))
        elif name == "negative":
            _bad_values(tables, sel, v, _BAD_NEGATIVE, None)
        elif name == "health":
            _bad_values(tables, sel, v, _BAD_HEALTH, ("persons", "health", 7))
        elif name in _BAD_VALUE_EDITS:
            table, col, fn, every = _BAD_VALUE_EDITS[name]
            _edit(tables, table, col, sel, v, fn, not every)
        elif name == "duplicate_household_id":
            for table in ("households", "persons", "supporters"):
                _edit(tables, table, "household_id", sel, v, lambda x, _: _neighbour_id(x), False)
        elif name != "no_members":
            _bad_rows(tables, sel, v, ctx, name)
    gone = hh[kind == BAD_KINDS.index("no_members")]
    p = tables["persons"]
    tables["persons"] = p.filter(pa.array(~_rows(p, gone)))
    return {name: t.sort_by([("_hh", "ascending"), ("_o", "ascending")])
            for name, t in tables.items()}  # fmt: skip


def _neighbour_id(hid: str) -> str:
    """The id of the previous household (the next one for the first of a block)."""
    i = int(hid[2:])
    j = i - 1 if i % BLOCK else i + 1
    return f"HH{j:09d}"


def _bad_source_row(kind: str, i: int, d0: dt.date) -> tuple[str, dict]:
    prop = {"property_id": "P150422-BAD", "use": "residential", "area": 6000, "share": 1000,
            "acquired_on": d0 - dt.timedelta(3000), "acquisition": "self_built",
            "disposed_on": None, "rental_income": 0}  # fmt: skip
    if kind == "share":
        return "property", {**prop, "share": 0 if i % 2 == 0 else 1001}
    if kind == "disposed_before_acquired":
        return "property", {**prop, "disposed_on": prop["acquired_on"] - dt.timedelta(400)}
    tax = {"income_type": "wage", "amount": 120_000}
    veh = {"plate": "蒙DBAD00", "vehicle_type": "motorcycle", "value": 300_000,
           "registered_on": d0 - dt.timedelta(900)}  # fmt: skip
    return (
        ("tax_income", {**tax, "amount": -12_000}),
        ("bank", {"institution": BANKS[0], "product": "stock", "balance": 10_000, "interest": 0}),
        ("property", {**prop, "area": -1}),
        ("business_registration", {"role": "self_employed", "annual_turnover": 500_000,
                                   "employees": -1}),
        ("vehicle", {**veh, "value": -1}),
        ("social_insurance", {"record_type": "medical_settlement", "amount": 50_000,
                              "reimbursed": -100, "scheme": "resident", "employer_type": "none"}),
        ("tax_income", {**tax, "income_type": "salary"}),
        ("vehicle", {**veh, "registered_on": None}),
    )[i % 8]  # fmt: skip
