"""The kernels for a few households, without Arrow: rows → kernel arrays → output rows.

`meanstest.assemble` and `meanstest.fast` do this for a whole bundle with Arrow compute,
a fixed cost of a few milliseconds per call; here the same arrays (kernels.layout) are
filled from the rows of a few validated households, the household kernel runs on the
calling thread (`threads=False`, no parallel region), and the output rows and findings
(docs/engine.md: order, evidence, detail text) are read back one value at a time.
Same numbers, same texts as the bulk path (tests/test_service_small.py).

A household here is a `Valid`: its households row, members, supporters, the call's
source rows of its people (in the call's order) and its pack. Households handed in
share no person (the caller sends the others to the bulk path), so DUPLICATE_PERSON
never applies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from meanstest import schema
from meanstest.assemble import INDEX_MAX, assemble_packs
from meanstest.fast import _BITS as _VETO_BITS
from meanstest.fast import _NO_EVIDENCE, UNDECLARED_SOURCES, V01, V11, V12, V13, VETO_SOURCES
from meanstest.kernels import Households, People, Records
from meanstest.kernels import assess as kernel_assess
from meanstest.kernels import layout as L

I32, I64 = np.int32, np.int64
EPOCH = dt.date(1970, 1, 1)
_T = {name: t for t, name in enumerate(schema.SOURCE_TABLES)}


@dataclass
class Valid:
    row: dict
    persons: list[dict]
    supporters: list[dict]
    sources: dict[str, list[dict]]
    pack: object  # meanstest.policy.Policy


@dataclass
class Answer:
    """One household's result row (without rank), member rows and findings."""

    result: dict
    members: list[dict]
    findings: list[dict] = field(default_factory=list)


class PackCache:
    """Kernel arrays of each combination of packs, made once (packs never change while
    the service runs: the library is loaded at start)."""

    def __init__(self) -> None:
        self._cache: dict[tuple, tuple] = {}

    def get(self, packs: list) -> tuple:
        key = tuple((p.id, p.digest) for p in packs)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = assemble_packs(packs)
        return hit


def _days(d: dt.date) -> int:
    return (d - EPOCH).days


def _code(enum: tuple, value) -> int:
    return enum.index(value)


def run(valid: list[Valid], cache: PackCache) -> list[Answer]:
    """Assess validated households with the serial kernel; one Answer each, in order."""
    packs: list = []
    for v in valid:
        if all(p is not v.pack for p in packs):
            packs.append(v.pack)
    pack, names = cache.get(packs)
    pack_rows = [next(i for i, p in enumerate(packs) if p is v.pack) for v in valid]
    n_h = len(valid)
    hcodes = np.empty((n_h, L.N_HC), I32)
    hmoney = np.empty((n_h, L.N_HM), I64)
    member_off = np.zeros(n_h + 1, I64)
    supporter_off = np.zeros(n_h + 1, I64)
    current = []
    for h, v in enumerate(valid):
        row, prow = v.row, pack_rows[h]
        bits = 0
        for name in row.get("current_programs") or ():
            bits |= 1 << names[prow].index(name)
        current.append(bits)
        hcodes[h] = (
            _days(row["assessment_date"]),
            _code(L.AREAS, row["area"]),
            row["consent_signed"],
            *(row[f"checked_{d}"] for d in schema.DEPARTMENTS),
            _code(L.PREV_STATUSES, row["prev_status"]),
            prow,
        )
        hmoney[h] = (
            *(
                L.NULL if row.get(c) is None else row[c]
                for c in (
                    "declared_income_monthly",
                    "declared_vehicles",
                    "declared_properties",
                    "declared_financial_assets",
                )
            ),
            row["prev_benefit"],
            bits,
        )
        member_off[h + 1] = member_off[h] + len(v.persons)
        supporter_off[h + 1] = supporter_off[h] + len(v.supporters)
    members = [m for v in valid for m in v.persons]
    supporters = [s for v in valid for s in v.supporters]
    code_of: dict[str, int] = {}
    for pid in [m["person_id"] for m in members] + [s["supporter_id"] for s in supporters]:
        code_of.setdefault(pid, len(code_of))
    mcodes = np.array(
        [
            (
                code_of[m["person_id"]],
                _days(m["birth_date"]),
                m["health"],
                _code(L.STUDENT_LEVELS, m["student_level"]),
                _code(L.OCCUPATIONS, m["occupation"]),
                m["refused_job_offers"],
            )
            for m in members
        ],
        I32,
    ).reshape(-1, L.N_MC)
    mmoney = np.array([m["tuition"] for m in members], I64).reshape(-1, L.N_MM)
    scodes = np.array(
        [
            (
                code_of[s["supporter_id"]],
                _days(s["birth_date"]),
                s["health"],
                _code(L.SECTORS, s["employment_sector"]),
                _code(L.EXEMPT_REASONS, s["exempt_reason"]),
                s["supported_count"],
            )
            for s in supporters
        ],
        I32,
    ).reshape(-1, L.N_SC)
    n_p = len(code_of)
    counts = np.zeros((n_p, L.N_TABLES), I64)
    rows: dict[str, list[dict]] = {}
    for name in schema.SOURCE_TABLES:
        joined = [r for v in valid for r in v.sources.get(name, ())]
        joined.sort(key=lambda r: (code_of[r["person_id"]], r["record_id"]))  # stable
        rows[name] = joined
        t = _T[name]
        for r in joined:
            counts[code_of[r["person_id"]], t] += 1
    ends = np.cumsum(counts, axis=0)
    ranges = np.empty((n_p, 2 * L.N_TABLES), I64)
    ranges[:, 0::2] = ends - counts
    ranges[:, 1::2] = ends
    slot_counts = counts[mcodes[:, L.MC_PERSON]] if len(members) else counts[:0]
    instance_off = np.zeros((len(members), L.N_TABLES), I64)
    if len(members):
        np.cumsum(slot_counts[:-1], axis=0, out=instance_off[1:])
    if max(ends.max(initial=0), slot_counts.sum(axis=0).max(initial=0)) <= INDEX_MAX:
        ranges, instance_off = ranges.astype(I32), instance_off.astype(I32)  # as assembly's
    records = _records(rows)
    out = kernel_assess(
        Households(hcodes, hmoney, member_off, supporter_off),
        People(mcodes, mmoney, scodes, ranges, instance_off),
        records,
        pack,
        threads=False,
    )
    ctx = _Context(out, names, pack.params, rows, ranges, instance_off, mcodes, members, hmoney)
    return [
        ctx.answer(h, v, pack_rows[h], int(member_off[h]), int(member_off[h + 1]), current[h])
        for h, v in enumerate(valid)
    ]


def _matrix(rows: list[dict], columns, dtype, width: int) -> np.ndarray:
    return np.array([[f(r) for f in columns] for r in rows], dtype).reshape(-1, width)


def _distinct(rows: list[dict], column: str):
    codes: dict = {}
    return lambda r: codes.setdefault(r[column], len(codes))


def _records(rows: dict[str, list[dict]]) -> Records:
    def col(name):
        return lambda r: r[name]

    def enum(name, values):
        return lambda r: values.index(r[name])

    def days(name, null=None):
        return lambda r: null if r.get(name) is None else _days(r[name])

    tax, biz, bank = rows["tax_income"], rows["business_registration"], rows["bank"]
    veh, prop, si = rows["vehicle"], rows["property"], rows["social_insurance"]
    return Records(
        _matrix(tax, [enum("income_type", L.INCOME_TYPES)], I32, 1),
        _matrix(tax, [col("amount")], I64, 1),
        _matrix(biz, [enum("role", L.ROLES), col("employees")], I32, 2),
        _matrix(biz, [col("annual_turnover")], I64, 1),
        _matrix(bank, [col("balance"), col("interest")], I64, 2),
        _matrix(
            veh,
            [
                _distinct(veh, "plate"),
                enum("vehicle_type", L.VEHICLE_TYPES),
                days("registered_on"),
            ],
            I32,
            3,
        ),
        _matrix(veh, [col("value")], I64, 1),
        _matrix(
            prop,
            [
                _distinct(prop, "property_id"),
                enum("use", L.PROPERTY_USES),
                col("share"),
                days("acquired_on"),
                enum("acquisition", L.ACQUISITIONS),
                days("disposed_on", L.NOT_DISPOSED),
            ],
            I32,
            6,
        ),
        _matrix(prop, [col("area"), col("rental_income")], I64, 2),
        _matrix(
            si,
            [
                enum("record_type", L.RECORD_TYPES),
                enum("scheme", L.SCHEMES),
                enum("employer_type", L.EMPLOYER_TYPES),
            ],
            I32,
            3,
        ),
        _matrix(si, [col("amount"), col("reimbursed")], I64, 2),
    )


def _bits(mask: int, width: int) -> list[int]:
    return [b for b in range(width) if (mask >> b) & 1]


class _Context:
    """Reads one household's rows of the kernel outputs (fast._results, _members and
    _findings for one household)."""

    def __init__(self, out, names, params, rows, ranges, instance_off, mcodes, members, money):
        self.out, self.names, self.params, self.rows = out, names, params, rows
        self.ranges, self.instance_off, self.mcodes = ranges, instance_off, mcodes
        self.members, self.money = members, money

    def answer(self, h: int, v: Valid, prow: int, m0: int, m1: int, current: int) -> Answer:
        m = [int(x) for x in self.out.household_money[:, h]]
        c = [int(x) for x in self.out.household_codes[:, h]]
        hid = v.row["household_id"]
        names = self.names[prow]
        result = {
            "household_id": hid,
            "status": schema.STATUSES[c[L.OC_STATUS]],
            "benefit": m[L.OM_BENEFIT],
            "phaseout_months": c[L.OC_PHASEOUT],
            "pci": m[L.OM_PCI],
            "standard": m[L.OM_STANDARD],
            "gross_income": m[L.OM_GROSS],
            "medical": m[L.OM_MEDICAL],
            "education": m[L.OM_EDUCATION],
            "pension": m[L.OM_PENSION],
            "net_income": m[L.OM_NET],
            "financial_assets": m[L.OM_ASSETS],
            "circle": c[L.OC_CIRCLE],
            "transition": schema.TRANSITIONS[c[L.OC_TRANSITION]],
            "vetoes": [schema.VETO_CODES[b] for b in _bits(c[L.OC_VETOES], L.N_VETOES)],
            "difficulty_index": c[L.OC_INDEX],
            "provisional": c[L.OC_NOT_CHECKED] != 0,
            "eligible_programs": [names[b] for b in _bits(m[L.OM_ELIGIBLE], len(names))],
        }
        mm, mc = self.out.member_money, self.out.member_codes
        member_rows = [
            {
                "household_id": hid,
                "person_id": self.members[slot]["person_id"],
                "age": int(mc[L.MOC_AGE, slot]),
                "labour_coefficient": int(mc[L.MOC_COEFFICIENT, slot]),
                "employment": int(mm[L.MOM_EMPLOYMENT, slot]),
                "employment_basis": schema.EMPLOYMENT_BASES[int(mc[L.MOC_BASIS, slot])],
                "member_income": int(mm[L.MOM_INCOME, slot]),
                "verified_income": int(mm[L.MOM_VERIFIED, slot]),
            }
            for slot in range(m0, m1)
        ]
        findings = self._findings(h, m, c, hid, prow, m0, m1, current, names)
        return Answer(result, member_rows, findings)

    def _instances(self, table: str, bit: int, m0: int, m1: int):
        """(member slot, sorted row) of every record instance of the household's members
        with `bit` set, members in persons order, records in record_id order."""
        t = _T[table]
        bits = getattr(self.out, _VETO_BITS[table])
        for slot in range(m0, m1):
            person = self.mcodes[slot, L.MC_PERSON]
            start, end = self.ranges[person, 2 * t], self.ranges[person, 2 * t + 1]
            first = self.instance_off[slot, t]
            for k in range(int(end - start)):
                if (int(bits[first + k]) >> bit) & 1:
                    yield slot, self.rows[table][int(start + k)]

    def _findings(self, h, m, c, hid, prow, m0, m1, current, names) -> list[dict]:
        found: list[tuple[int, dict]] = []

        def add(sub, code, severity, person, source, record, detail):
            found.append(
                (
                    sub,
                    {
                        "household_id": hid,
                        "code": code,
                        "severity": severity,
                        "person_id": person,
                        "source": source,
                        "record_id": record,
                        "detail": detail,
                    },
                )
            )

        for v in _bits(c[L.OC_VETOES], L.N_VETOES):
            table = VETO_SOURCES[v]
            person = record = None
            if table in _VETO_BITS:
                hits = list(self._instances(table, v, m0, m1))
                detail = "records " + ", ".join(r["record_id"] for _, r in hits)
                if v not in _NO_EVIDENCE:  # the first record with the bit (V01: by value)
                    if v == V01:
                        hits = list(self._instances(table, L.V01_BY_VALUE, m0, m1))
                    if hits:
                        slot, row = hits[0]
                        person, record = self.members[slot]["person_id"], row["record_id"]
            elif v == V11:
                refused = [
                    self.members[s]["person_id"]
                    for s in range(m0, m1)
                    if self.out.member_codes[L.MOC_REFUSED_WORK, s]
                ]
                detail = "members " + ", ".join(refused)
                person = refused[0] if refused else None
            elif v == V12:
                detail = "consent_signed is false"
            else:
                detail = "findings " + ", ".join(
                    schema.UNDECLARED_CODES[i] for i in _bits(c[L.OC_UNDECLARED], 4)
                )
            add(v, schema.VETO_CODES[v], "veto", person, VETO_SOURCES[v], record, detail)
        money = [int(x) for x in self.money[h]]
        par = self.params[prow]
        severity = "veto" if (int(par[L.P_VETO_ENABLED]) >> V13) & 1 else "warning"
        for i in _bits(c[L.OC_UNDECLARED], 4):
            if i == 0:
                detail = (
                    f"verified {m[L.OM_VERIFIED_MONTHLY]} > declared "
                    f"{money[L.HM_DECLARED_INCOME]} + tolerance {m[L.OM_INCOME_TOLERANCE]}"
                )
            elif i in (1, 2):
                owned = c[L.OC_OWNED_VEHICLES if i == 1 else L.OC_OWNED_PROPERTIES]
                declared = money[L.HM_DECLARED_VEHICLES if i == 1 else L.HM_DECLARED_PROPERTIES]
                detail = f"owned {owned} > declared {declared}"
            else:
                detail = (
                    f"financial assets {m[L.OM_ASSETS]} > declared "
                    f"{money[L.HM_DECLARED_ASSETS]} + tolerance "
                    f"{int(par[L.P_ASSET_DECLARATION_ABS])}"
                )
            code = schema.UNDECLARED_CODES[i]
            add(L.N_VETOES + i, code, severity, None, UNDECLARED_SOURCES[i], None, detail)
        for k in _bits(c[L.OC_NOT_CHECKED], len(schema.DEPARTMENTS)):
            dept = schema.DEPARTMENTS[k]
            add(
                L.N_VETOES + L.N_UNDECLARED + k,
                "SOURCE_NOT_CHECKED",
                "warning",
                None,
                dept,
                None,
                f"checked_{dept} is false",
            )
        eligible = m[L.OM_ELIGIBLE]
        for sub, code, mask in (
            (1 << 28, "PROGRAM_MISSED", eligible & ~current),
            (1 << 29, "PROGRAM_UNDUE", current & ~eligible),
        ):
            for b in _bits(mask, len(names)):
                add(sub + b, code, "warning", None, "households", None, names[b])
        found.sort(key=lambda item: item[0])
        return [f for _, f in found]
