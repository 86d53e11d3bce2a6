"""Synthetic districts (合成样本区): realistic, seeded bundles of any size.

`generate(n, seed)` returns the nine bundle tables of DATA.md for households
``start .. start+n-1``; `write_synth` streams millions of households to disk in
bounded memory. Everything is vectorised numpy; the random stream of household i
depends only on (seed, i // BLOCK), so any chunking of a range gives the same rows
(``generate(1000, s) == concat(generate(300, s), generate(700, s, start=300))``).

What a district looks like: about 2.6 persons per household, ~40% of households with
supporters; per member ~1.2 tax, ~0.9 bank, ~0.24 vehicle, ~0.6 property, ~1.15
social-insurance and ~0.04 business rows (supporters' own records included).
Jurisdictions: mostly 150422 (巴林左旗), some 150402/150404 (fall back to the prefecture
pack 150400) and 150502 (province pack 150000); 2% of the background households are assessed six months after D (for the
default D that is 2025-01-01, the day pack 150422-2025 takes effect).

ARCHETYPES (share of households; the status each is designed to reach)
  elderly      10%  1-2 members aged 61+, small resident pension, no / exempt /
                    ordinary supporters               -> TEKUN, some DIBAO / VETOED
  dependant     3%  orphans under 16, or adults with health 5/6 -> TEKUN
  poor         20%  family, earners' wages set so pci is in [1, S)   -> DIBAO
  band          8%  as poor, pci in [S, L], no health 5/6   -> LOW_INCOME
  phase_out     4%  prev dibao with a benefit, pci in [S, L] -> PHASE_OUT
  single_ill    3%  a member with health 5/6, pci in [S, L]  -> DIBAO_SINGLE
  working      17%  wage earners, pci in (L, 4L]             -> NOT_ELIGIBLE
  background   12%  random composition, random wages and imputation, natural vetoes
  veto         17%  a poor-or-band family plus the trigger of one veto, V01..V14
                    cycled so each code has ~1.2% of households   -> VETOED
  edge          6%  one rule boundary of RULES.md (EDGE_KINDS, cycled, each with
                    the value at the limit and just past it), jurisdiction 150422

"Calibrated" archetypes compute every income, support and deduction term of RULES.md
§3-5 with the household's own pack and set the earners' wage records so the per-capita
income is exactly the target; prev_status/prev_benefit follow the archetype so every
transition occurs (a share of continuing households carries exactly the benefit they
will get: CONTINUE, the rest ADJUST). The boundaries use the packs shipped with
meanstest: for the edge households the pack in force for 150422 on D (the default pack
of POLICY.md for the default D).

IDs are valid GB 11643 numbers whose region is the person's place of origin, unique in
the bundle (the region/sequence pair is allotted per block and per birth date, see
`_Block.assign_ids`; beyond ~4M households the regions become synthetic codes) except a
deliberate ~0.4% DUPLICATE_PERSON: a member of one household also listed in another.
Record ids are department keys ("TAX000100000017") or "<export file>.csv:<line>", unique
per table. Plates are unique up to ~11M households, property ids up to ~125M. A few
source rows belong to nobody in the bundle.

`bad_fraction` F: that fraction of households gets one invalid row (sometimes two) of
a kind from BAD_KINDS, cycled so that every kind of DATA.md "Bad input" appears once
there are a few dozen bad households. The valid content does not depend on F.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.arith import add_months

BLOCK = 16_384  # households per random stream
JURISDICTIONS = ("150422", "150402", "150404", "150502")
ARCHETYPES = ("elderly", "dependant", "poor", "band", "phase_out", "single_ill",
              "working", "background", "veto", "edge")  # fmt: skip
ARCHETYPE_SHARES = (0.10, 0.03, 0.20, 0.08, 0.04, 0.03, 0.17, 0.12, 0.17, 0.06)
EDGE_KINDS = {  # kind -> number of variants (at the boundary, just past it, ...)
    "age_boundary": 30, "feb29": 3, "tekun_age60": 4, "vehicle_value": 2,
    "vehicle_date": 4, "property_dates": 7, "balance": 2, "turnover": 2, "refused": 3,
    "insurance_grade": 2, "pension_cap": 3, "tuition_cap": 6, "medical_cap": 3,
    "declared_income": 2, "declared_assets": 2, "declared_counts": 4,
    "housing_area": 2, "pci_standard": 2, "pci_low_income": 2, "supporter_assets": 2,
}  # fmt: skip
BOUNDARY_AGES = (16, 40, 41, 50, 51, 55, 56, 60, 61, 70)
BAD_KINDS = ("null_required", "malformed_id", "bad_check", "id_birth_mismatch",
             "unknown_enum", "negative", "share", "health", "supported_count",
             "current_programs", "jurisdiction_format", "disposed_before_acquired",
             "no_members", "same_person_twice", "duplicate_household_id", "no_pack",
             "bad_source")  # fmt: skip
PROGRAMS = ("medical_assistance", "education_assistance", "housing_assistance",
            "employment_assistance", "disability_subsidy", "elderly_subsidy")  # fmt: skip
ORIGINS = ("150422", "150402", "150404", "150502", "150421", "150423", "150424", "150425",
           "150426", "150428", "150429", "150430", "150403", "152301", "110105", "120104",
           "130102", "210102", "220102", "230102", "320102", "370102", "410102", "440305",
           "500103", "500112", "510104", "610113", "620102", "640104")  # fmt: skip
_PROVINCES = (11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44,
              45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65)  # fmt: skip
BANKS = ("农村信用合作联社", "中国农业银行", "中国邮政储蓄银行", "中国工商银行",
         "中国建设银行", "中国银行", "内蒙古银行", "赤峰农村商业银行")  # fmt: skip
ID_SLOTS = 4  # IDs per (origin, birth date) and block before spilling to the next level
_W = np.array((7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), np.int64)
_CHECK = np.frombuffer(b"10X98765432", np.uint8)
_PLATE = np.frombuffer(b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", np.uint8)
_EPOCH = dt.date(1970, 1, 1)
_SRC_PREFIX = {"tax_income": "TAX", "business_registration": "BIZ", "bank": "BNK",
               "vehicle": "VEH", "property": "PRP", "social_insurance": "SI"}  # fmt: skip
_A = {name: i for i, name in enumerate(ARCHETYPES)}
_E = {name: i for i, name in enumerate(EDGE_KINDS)}
_IX = {t: {v: i for i, v in enumerate(vals)} for t, vals in (
    ("rel", schema.RELATIONS), ("stu", schema.STUDENT_LEVELS), ("occ", schema.OCCUPATIONS),
    ("sec", schema.SECTORS), ("exm", schema.EXEMPT_REASONS), ("inc", schema.INCOME_TYPES),
    ("role", schema.ROLES), ("prod", schema.PRODUCTS), ("veh", schema.VEHICLE_TYPES),
    ("use", schema.PROPERTY_USES), ("acq", schema.ACQUISITIONS), ("rec", schema.RECORD_TYPES),
    ("sch", schema.SCHEMES), ("emp", schema.EMPLOYER_TYPES), ("prev", schema.PREV_STATUSES))}  # fmt: skip
_SRC_COLS = {  # numeric columns of the source tables while a block is built
    "tax_income": ("inc", "amount"),
    "business_registration": ("role", "turnover", "employees"),
    "bank": ("inst", "prod", "balance", "interest"),
    "vehicle": ("plate", "veh", "value", "registered"),
    "property": ("prop", "use", "area", "share", "acquired", "acq", "disposed", "rental"),
    "social_insurance": ("rec", "amount", "reimbursed", "sch", "emp"),
}
_NO_DATE = np.iinfo(np.int32).min  # disposed_on null


def _days(d: dt.date) -> int:
    return (d - _EPOCH).days


def _rhu(a, b):
    return (2 * a + b) // (2 * b)


def _ymd(days: np.ndarray):
    d64 = np.asarray(days, np.int64).astype("datetime64[D]")
    months = d64.astype("datetime64[M]")
    y = months.astype(np.int64) // 12 + 1970
    m = months.astype(np.int64) % 12 + 1
    d = (d64 - months.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, d


def _from_ymd(y, m, d) -> np.ndarray:
    months = ((np.asarray(y) - 1970) * 12 + np.asarray(m) - 1).astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int64) + np.asarray(d) - 1


def _age(birth: np.ndarray, on: np.ndarray) -> np.ndarray:
    by, bm, bd = _ymd(birth)
    oy, om, od = _ymd(on)
    return oy - by - ((om < bm) | ((om == bm) & (od < bd)))


def _years_before(d: dt.date, years: int, shift_days: int = 0) -> int:
    y = d.year - years
    day = d.day if not (d.month == 2 and d.day == 29 and y % 4) else 28
    return _days(dt.date(y, d.month, day)) + shift_days


def _fixed(mat: np.ndarray) -> pa.StringArray:
    """Fixed-width ASCII rows (uint8 matrix) as an Arrow string array, without Python."""
    n, w = mat.shape
    offsets = np.arange(0, n * w + 1, w, dtype=np.int32)
    data = np.ascontiguousarray(mat, np.uint8)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _digits(x: np.ndarray, width: int) -> np.ndarray:
    """The last `width` decimal digits of each x, as a uint8 matrix (most significant first)."""
    x = np.array(x, np.int64)
    out = np.empty((len(x), width), np.uint8)
    for i in range(width - 1, -1, -1):
        out[:, i] = x % 10
        x //= 10
    return out


def _numbered(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    head = np.frombuffer(prefix.encode(), np.uint8)
    mat = np.empty((len(numbers), len(head) + width), np.uint8)
    mat[:, : len(head)] = head
    mat[:, len(head) :] = _digits(numbers, width) + 48
    return _fixed(mat)


def resident_ids(region: np.ndarray, birth_days: np.ndarray, seq: np.ndarray) -> pa.Array:
    """GB 11643 resident ID numbers: region (6 digits), birth date, sequence, check."""
    y, m, d = _ymd(birth_days)
    mat = np.empty((len(y), 18), np.uint8)
    mat[:, :6] = _digits(region, 6)
    mat[:, 6:14] = _digits(y * 10000 + m * 100 + d, 8)
    mat[:, 14:17] = _digits(seq, 3)
    total = np.zeros(len(y), np.int64)
    for i, w in enumerate(_W):
        total += mat[:, i] * w
    mat[:, :17] += 48
    mat[:, 17] = _CHECK[total % 11]
    return _fixed(mat)


def _take(names, idx) -> pa.Array:
    return pa.array(list(names), pa.string()).take(pa.array(np.asarray(idx, np.int64)))


def _date32(days) -> pa.Array:
    days = np.asarray(days, np.int64)
    return pa.array(days.astype(np.int32), pa.date32(), mask=days == _NO_DATE)


def _pick(rng, p, n) -> np.ndarray:
    """n draws from the categorical distribution p (rows of a matrix: one per draw)."""
    p = np.asarray(p, float)
    cdf = np.cumsum(p, axis=-1)
    cdf = cdf / cdf[..., -1:]
    u = rng.random(n)
    if p.ndim == 1:
        return np.searchsorted(cdf, u, side="right").clip(0, p.shape[-1] - 1)
    return (u[:, None] >= cdf).sum(axis=1).clip(0, p.shape[-1] - 1)


def _split(rng, total: np.ndarray, parts: np.ndarray):
    """Split each total into `parts` positive-ish integer pieces summing exactly to it.
    Returns (owner index per piece, amount per piece)."""
    owner = np.repeat(np.arange(len(total)), parts)
    w = rng.random(len(owner)) + 0.5
    share = w / np.bincount(owner, w, len(total))[owner]
    amount = np.floor(total[owner] * share).astype(np.int64)
    first = np.r_[0, np.cumsum(parts)[:-1]][parts > 0]
    rest = total - np.bincount(owner, amount, len(total)).astype(np.int64)
    amount[first] += rest[parts > 0]
    return owner, amount


# ------------------------------------------------------------------------ packs --


@functools.lru_cache(maxsize=8)
def _packs(d: dt.date) -> dict:
    """Per (jurisdiction, date slot) parameters of the shipped packs, as arrays; the
    structural tables (age bands, coefficients, ratios) of the default pack."""
    from meanstest.policy import default_library

    lib = default_library()
    dates = (d, add_months(d, 6))
    chosen = [(j, x, lib.select(j, x)) for j in JURISDICTIONS for x in dates]
    missing = [f"{j} on {x}" for j, x, p in chosen if p is None]
    if missing:
        raise ValueError(f"no shipped policy pack for {', '.join(missing)}")
    slots = [p.params for _, _, p in chosen]
    base = slots[0]
    a = {
        "S": np.array([[p["standards"]["dibao_urban"], p["standards"]["dibao_rural"]]
                       for p in slots], np.int64),
        "tuition_cap": np.array([[p["deductions"]["tuition_cap"].get(lv, 0)
                                  for lv in schema.STUDENT_LEVELS] for p in slots], np.int64),
    }  # fmt: skip
    for key, (sec, name) in {
        "low_ratio": ("standards", "low_income_ratio"), "tekun_ratio": ("standards", "tekun_ratio"),
        "min_wage": ("imputation", "min_wage_monthly"), "months": ("imputation", "work_months"),
        "rural_income": ("imputation", "rural_income_annual"),
        "land": ("imputation", "land_ratio"), "cap_ratio": ("support", "cap_ratio"),
        "bonus": ("support", "elevated_bonus"),
        "sup_asset": ("support", "supporter_asset_limit"),
        "medical_cap": ("deductions", "medical_cap"),
        "pension_cap": ("deductions", "pension_contribution_cap"),
        "veh_limit": ("veto", "vehicle_value_limit"),
    }.items():  # fmt: skip
        a[key] = np.array([p[sec][name] for p in slots], np.int64)
    a["addons"] = np.array([[p["addons"][k] for k in ("elderly_70", "severe_disability",
                            "serious_illness", "child_under_16")] for p in slots], np.int64)  # fmt: skip
    imp = base["imputation"]
    a["bands"] = np.array(imp["age_bands"], np.int64)
    a["lc"] = np.array(imp["labour_coefficient"], np.int64)
    a["no_labour"] = np.isin(schema.STUDENT_LEVELS, imp["student_levels_without_labour"])
    a["transfer"] = np.isin(schema.RECORD_TYPES, imp["counted_transfers"])
    a["sector"] = np.array([base["support"]["sector_ratio"][s] for s in schema.SECTORS])
    a["veh_types"] = np.isin(schema.VEHICLE_TYPES, base["veto"]["vehicle_types"])
    a["veto"] = base["veto"]
    a["dates"] = dates
    return a


def labour_coefficient(age, health, student, packs) -> np.ndarray:
    """RULES.md §2 with the default pack's tables (for calibrating the archetypes)."""
    band = np.searchsorted(packs["bands"], age, side="left")
    c = packs["lc"][np.clip(health, 1, 6) - 1, band]
    return np.where((age < 16) | packs["no_labour"][student], 0, c)


# ------------------------------------------------------------------- one block --

_SUP_BANK, _SUP_PROP, _SUP_PC, _SUP_MED = 1, 2, 4, 8  # background rows a household lacks
_HEALTH_P = np.array([[0.90, 0.04, 0.02, 0.01, 0.02, 0.01],   # under 16
                      [0.62, 0.20, 0.06, 0.07, 0.03, 0.02],   # 16-59
                      [0.30, 0.38, 0.08, 0.14, 0.05, 0.05]])  # 60 and over  # fmt: skip
_CALIBRATED = np.isin(ARCHETYPES, ("poor", "band", "phase_out", "single_ill", "working",
                                   "veto", "edge"))  # fmt: skip
_VETO_VARIANTS = (2, 2, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1, 4, 1)


class _Block:
    """The households g0 .. g0+BLOCK-1 of one random stream, built table by table."""

    def __init__(self, seed: int, b: int, d: dt.date) -> None:
        self.seed, self.b, self.d = seed, b, d
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, b, 0])))
        self.pk = _packs(d)
        self.H = BLOCK
        self.g = b * BLOCK + np.arange(BLOCK, dtype=np.int64)
        self.parts: dict[str, list[dict]] = {t: [] for t in _SRC_COLS}
        self.serial = {"plate": 0, "prop": 0}
        self.D = _days(d)

    # ---------------------------------------------------------------- helpers --

    def u(self, lo, hi, n=None):
        n = self.H if n is None else n
        return lo + (hi - lo) * self.rng.random(n)

    def money(self, lo_yuan, hi_yuan, n, step=100) -> np.ndarray:
        """Random amounts in fen, a multiple of `step` fen."""
        return (self.u(lo_yuan * 100 / step, hi_yuan * 100 / step, n)).astype(np.int64) * step

    def add(self, table: str, owner, **cols) -> None:
        owner = np.atleast_1d(np.asarray(owner, np.int64))
        n = len(owner)
        if n == 0:
            return
        row = {"owner": owner}
        for c in _SRC_COLS[table]:
            v = cols.get(c, 0)
            if table == "vehicle" and c == "plate" and c not in cols:
                v = self.next("plate", n)
            if table == "property" and c == "prop" and c not in cols:
                v = self.next("prop", n)
            if table == "property" and c == "disposed" and c not in cols:
                v = _NO_DATE
            if table == "property" and c == "share" and c not in cols:
                v = 1000
            row[c] = np.broadcast_to(np.asarray(v, np.int64), (n,)).copy()
        self.parts[table].append(row)

    def next(self, what: str, n: int) -> np.ndarray:
        s = self.serial[what]
        self.serial[what] = s + n
        return np.arange(s, s + n, dtype=np.int64)

    def cat(self, table: str) -> dict[str, np.ndarray]:
        parts = self.parts[table]
        if not parts:
            return {c: np.zeros(0, np.int64) for c in ("owner", *_SRC_COLS[table])}
        return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}

    def heads(self, mask_h: np.ndarray) -> np.ndarray:
        return self.start[np.flatnonzero(mask_h)]

    def on(self, arch: str) -> np.ndarray:
        return self.arch == _A[arch]

    def edge(self, kind: str) -> np.ndarray:
        return self.ekind == _E[kind]

    def vcode(self, code: int) -> np.ndarray:
        return self.veto == code - 1

    # ------------------------------------------------------------- households --

    def households(self) -> None:
        rng, H, pk = self.rng, self.H, self.pk
        self.arch = _pick(rng, ARCHETYPE_SHARES, H)
        self.veto = np.full(H, -1)
        self.vvar = np.zeros(H, np.int64)
        iv = np.flatnonzero(self.on("veto"))
        r = rng.integers(14) + np.arange(len(iv))
        self.veto[iv] = r % 14
        self.vvar[iv] = (r // 14) % np.array(_VETO_VARIANTS)[r % 14]
        self.ekind = np.full(H, -1)
        self.evar = np.zeros(H, np.int64)
        ie = np.flatnonzero(self.on("edge"))
        r = rng.integers(len(EDGE_KINDS)) + np.arange(len(ie))
        self.ekind[ie] = r % len(EDGE_KINDS)
        self.evar[ie] = (r // len(EDGE_KINDS)) % np.array(list(EDGE_KINDS.values()))[r % 20]

        self.jur = _pick(rng, (0.88, 0.045, 0.045, 0.03), H)
        self.jur[ie] = 0
        self.dslot = ((self.arch == _A["background"]) & (rng.random(H) < 0.02)).astype(int)
        self.area = (rng.random(H) < np.array([0.64, 0.15, 0.15, 0.3])[self.jur]).astype(int)
        self.slot = self.jur * 2 + self.dslot
        self.Dh = np.where(self.dslot == 1, _days(pk["dates"][1]), self.D)
        self.S = pk["S"][self.slot, self.area]
        self.L = _rhu(self.S * pk["low_ratio"][self.slot], 1000)
        self.calibrated = _CALIBRATED[self.arch] & ~self.edge("tekun_age60")
        self.suppress = np.zeros(H, np.int64)
        self.sets = {}  # household-level values fixed by an overlay

        # target per-capita income of the calibrated archetypes (RULES.md §5 pci)
        t = np.zeros(H, np.int64)
        S, L = self.S, self.L
        for name, lo, hi in (("poor", 1, S), ("band", S, L + 1), ("phase_out", S, L + 1),
                             ("single_ill", S, L + 1), ("working", L + 1, 4 * L),
                             ("veto", 1, L + 1), ("edge", 1, L + 1)):  # fmt: skip
            m = self.on(name)
            lo_, hi_ = np.broadcast_to(lo, (H,)), np.broadcast_to(hi, (H,))
            t[m] = (lo_[m] + rng.random(m.sum()) * (hi_[m] - lo_[m])).astype(np.int64)
        v = self.evar
        m = self.edge("pci_standard")
        t[m] = S[m] - v[m]
        m = self.edge("pci_low_income")
        t[m] = L[m] + v[m]
        self.target = t
        self.exact_pci = self.edge("pci_standard") | self.edge("pci_low_income")

    # ---------------------------------------------------------------- members --

    def members(self) -> None:
        rng, H = self.rng, self.H
        fam = ~(self.on("elderly") | self.on("dependant"))
        sp = np.where(fam, rng.random(H) < 0.68, self.on("elderly") & (rng.random(H) < 0.4))
        ch = np.where(fam, _pick(rng, (0.38, 0.40, 0.17, 0.04, 0.01), H), 0)
        ch = np.where(self.on("elderly"), rng.random(H) < 0.1, ch)
        ch = np.where(self.on("dependant"), rng.random(H) < 0.5, ch)
        pa_ = np.where(fam, _pick(rng, (0.85, 0.12, 0.03), H), 0)
        sp = sp.astype(np.int64)
        ch = ch.astype(np.int64)
        lone_ill = self.on("single_ill") & (sp + ch == 0)
        sp[lone_ill] = 1
        need_child = (
            (self.edge("age_boundary") & (self.evar // 3 == 0))
            | self.edge("tuition_cap")
            | (self.edge("feb29") & (self.evar == 1))
        )
        ch = np.where(need_child, np.maximum(ch, 1), ch)
        single = self.edge("tekun_age60")
        sp[single] = ch[single] = pa_[single] = 0
        n = 1 + sp + ch + pa_
        self.n = n
        self.start = np.r_[0, np.cumsum(n)[:-1]]
        P = int(n.sum())
        hh = np.repeat(np.arange(H), n)
        k = np.arange(P) - self.start[hh]
        role = np.select([k == 0, k <= sp[hh], k <= (sp + ch)[hh]], [0, 1, 2], 3)
        self.hh, self.k, self.role = hh, k, role
        self.first_child = self.start + 1 + sp  # valid where ch >= 1

        # ages in years (fractional: the day of birth is random)
        ha = self.u(24, 59)
        ha = np.where(self.on("working"), self.u(22, 59), ha)
        ha = np.where(self.on("background"), self.u(20, 86), ha)
        ha = np.where(self.on("elderly"), 61 + 34 * self.rng.random(H) ** 1.6, ha)
        orphan = self.on("dependant") & (rng.random(H) < 0.5)
        ha = np.where(self.on("dependant"), np.where(orphan, self.u(3, 16), self.u(16, 60)), ha)
        ha = np.where(single, self.u(61, 80), ha)
        head_age = ha[hh]
        a = head_age.copy()
        a = np.where(role == 1, head_age + rng.normal(-2, 4, P), a)
        a = np.where((role == 1) & self.on("elderly")[hh], np.maximum(a, 61), a)
        a = np.where(role == 2, head_age - self.u(20, 36, P), a)
        a = np.where((role == 2) & (a < 0), self.u(0, 5, P), a)
        a = np.where((role == 2) & (self.on("elderly") | self.on("dependant"))[hh],
                     self.u(3, 16, P), a)  # fmt: skip
        a = np.where(role == 3, head_age + self.u(22, 35, P), a)
        a = np.clip(a, 0, 99.9)
        Dp = self.Dh[hh]
        birth = Dp - np.floor(a * 365.2425).astype(np.int64) - 1

        group = np.where(a < 16, 0, np.where(a < 60, 1, 2))
        health = 1 + _pick(rng, _HEALTH_P[group], P)
        earner_like = (role == 0) & self.calibrated[hh]
        health = np.where(earner_like, 1 + _pick(rng, (0.35, 0.3, 0.12, 0.23), P), health)
        fit = self.on("working")[hh] & (role <= 1)
        health = np.where(fit, 1 + _pick(rng, (0.8, 0.15, 0.03, 0.02), P), health)
        health = np.where(self.on("band")[hh] & (health >= 5), 4, health)
        ill = self.on("single_ill")
        ill_k = 1 + (rng.random(H) * (n - 1)).astype(np.int64)
        ill_p = self.start[ill] + ill_k[ill]
        health[ill_p] = 5 + (rng.random(len(ill_p)) < 0.4)
        ill_adult = self.on("dependant") & ~orphan
        health[self.start[ill_adult]] = 5 + (rng.random(ill_adult.sum()) < 0.5)
        self.birth, self.health, self.Dp = birth, health, Dp
        self.orphan = orphan
        self.no_wage = np.zeros(P, bool)
        self.refused = np.where(rng.random(P) < 0.03, 1, 0)
        bg = self.on("background")[hh]
        self.refused = np.where(bg & (rng.random(P) < 0.004), 2, self.refused)
        self.edge_members()
        self.describe_members()

    def edge_members(self) -> None:
        """Birth dates and health set by the veto/edge overlays (before ages are known)."""
        d, v, rng = self.d, self.evar, self.rng
        # age boundaries: birthday on D, the day before, the day after
        m = self.edge("age_boundary")
        for i, years in enumerate(BOUNDARY_AGES):
            for j, shift in enumerate((-1, 0, 1)):
                sel = np.flatnonzero(m & (v == 3 * i + j))
                who = self.first_child[sel] if years == 16 else self.start[sel]
                self.birth[who] = _years_before(d, years, shift)
                self.no_wage[who] = True
                self.health[who] = np.minimum(self.health[who], 4)
        m = self.edge("feb29")
        leap = np.array([1952, 1964, 1972, 1980, 1984, 1988, 1996, 2000])
        sel = np.flatnonzero(m & (v != 1))
        y = leap[rng.integers(2, 7, len(sel))] if len(sel) else leap[:0]
        self.birth[self.start[sel]] = _from_ymd(y, 2, 29)
        sel = np.flatnonzero(m & (v == 1))
        kid = self.first_child[sel]
        self.birth[kid] = _from_ymd(rng.choice([2008, 2012, 2016, 2020], len(sel)), 2, 29)
        m = self.edge("tekun_age60")
        for j, (years, shift) in enumerate(((60, 1), (60, 0), (61, 1), (61, 0))):
            heads = self.heads(m & (v == j))
            self.birth[heads] = _years_before(d, years, shift)
            self.health[heads] = 1
        m = self.edge("refused")
        heads = self.heads(m & (v <= 1))  # c = 500: age 56-60, healthy
        self.birth[heads] = _years_before(d, 57) - rng.integers(1, 300, len(heads))
        self.health[heads] = 1
        heads = self.heads(m & (v == 2))  # c = 400: age <= 40, major chronic illness
        self.birth[heads] = _years_before(d, 35) - rng.integers(1, 300, len(heads))
        self.health[heads] = 4
        self.refused[self.heads(m)] = np.where(v[m] == 1, 1, 2)
        heads = self.heads(self.vcode(11))
        self.health[heads] = 1
        self.birth[heads] = self.D - (365.2425 * self.u(25, 50, len(heads))).astype(np.int64)
        self.refused[heads] = self.rng.integers(2, 5, len(heads))
        m = self.edge("tuition_cap")
        for j, years in enumerate((16, 16, 17, 17, 19, 19)):
            kid = self.first_child[m & (v == j)]
            self.birth[kid] = _years_before(d, years) - rng.integers(1, 300, len(kid))

    def describe_members(self) -> None:
        """Student level, tuition, occupation, relation, c and the earners, from exact ages."""
        rng, pk, hh, role = self.rng, self.pk, self.hh, self.role
        P = len(hh)
        age = _age(self.birth, self.Dp)
        rural = self.area[hh] == 1
        ix = _IX["stu"]
        young = (role == 2) | (self.orphan[hh] & (role == 0)) | (age < 23) & (role == 0)
        stu = np.select(
            [age < 3, age < 6, age < 12, age < 15, age < 18, age < 23],
            [ix["none"], np.where(rng.random(P) < 0.7, ix["preschool"], ix["none"]),
             ix["primary"], ix["junior"],
             _pick(rng, (0.15, 0, 0, 0, 0.7, 0.15, 0), P),
             _pick(rng, (0.52, 0, 0, 0, 0, 0.08, 0.4), P)],
            ix["none"],
        )  # fmt: skip
        stu = np.where(young | (age < 16), stu, ix["none"])
        fee = {"preschool": (0.4, 1000, 4000), "primary": (0.05, 200, 800),
               "junior": (0.05, 200, 800), "senior": (0.7, 1000, 6000),
               "vocational": (0.6, 500, 4000), "college": (1.0, 4000, 12000)}  # fmt: skip
        tuition = np.zeros(P, np.int64)
        for level, (p, lo, hi) in fee.items():
            m = (stu == ix[level]) & (rng.random(P) < p)
            tuition[m] = self.money(lo, hi, m.sum(), step=10000)
        o = _IX["occ"]
        work = np.where(
            rural,
            _pick(rng, (0.10, 0.2, 0.55, 0.1, 0, 0.05), P),
            _pick(rng, (0.40, 0.3, 0.0, 0.2, 0, 0.1), P),
        )
        old = np.where(rural, _pick(rng, (0, 0, 0.5, 0, 0.2, 0.3), P),
                       _pick(rng, (0, 0, 0, 0, 0.8, 0.2), P))  # fmt: skip
        occ = np.where(age >= 60, old, work)
        occ = np.where((age < 16) | (stu != ix["none"]), o["none"], occ)
        w = self.on("working")[hh] & (role <= 1) & (age < 60)
        occ = np.where(w, np.where(rng.random(P) < 0.8, o["employed"], o["flexible"]), occ)
        self.age, self.stu, self.tuition, self.occ = age, stu, tuition, occ
        self.edge_students()
        self.c = labour_coefficient(self.age, self.health, self.stu, pk)
        self.earner = (
            self.calibrated[hh]
            & (self.age >= 18) & (self.age <= 59) & (self.c > 0)
            & ((role == 0) | (rng.random(P) < 0.65) | self.exact_pci[hh])
            & ~self.no_wage
        )  # fmt: skip
        idle = self.earner & np.isin(self.occ, (o["none"], o["retired"]))
        self.occ = np.where(idle, o["flexible"], self.occ)
        r = _IX["rel"]
        rel = np.choose(role, [r["head"], r["spouse"], r["child"], r["parent"]])
        rel = np.where((role == 2) & (rng.random(P) < 0.04), r["grandchild"], rel)
        rel = np.where((role == 2) & (rng.random(P) < 0.01), r["other"], rel)
        rel = np.where((role == 3) & (rng.random(P) < 0.04), r["sibling"], rel)
        rel = np.where((role == 2) & self.on("elderly")[hh], r["grandchild"], rel)
        rel = np.where((role == 2) & self.on("dependant")[hh] & self.orphan[hh], r["sibling"], rel)
        self.rel = rel

    def edge_students(self) -> None:
        m = self.edge("tuition_cap")
        ix = _IX["stu"]
        for j, level in enumerate(("senior", "senior", "vocational", "vocational",
                                   "college", "college")):  # fmt: skip
            kid = self.first_child[m & (self.evar == j)]
            self.stu[kid] = ix[level]
            self.occ[kid] = _IX["occ"]["none"]
            cap = self.pk["tuition_cap"][0, ix[level]]
            self.tuition[kid] = cap + j % 2

    # ------------------------------------------------------------- supporters --

    def supporters(self) -> None:
        rng, H = self.rng, self.H
        p = np.where(self.on("elderly"), 0.65, np.where(self.on("dependant"), 0.4, 0.36))
        q = (rng.random(H) < p) * (1 + (rng.random(H) < 0.35) + (rng.random(H) < 0.1))
        q = np.where(self.edge("tekun_age60"), 0, q)
        q = np.where(self.edge("supporter_assets"), np.maximum(q, 1), q)
        Q = int(q.sum())
        shh = np.repeat(np.arange(H), q)
        first = np.r_[True, shh[1:] != shh[:-1]] if Q else np.zeros(0, bool)
        p_ex = np.where(self.on("elderly"), 0.35, 0.15)[shh]
        e = _IX["exm"]
        exempt = np.where(rng.random(Q) < p_ex, 1 + _pick(rng, (0.3, 0.2, 0.15, 0.1, 0.25), Q), 0)
        exempt = np.where(self.edge("supporter_assets")[shh] & first, e["none"], exempt)
        head_age = self.age[self.start[shh]]
        top = np.maximum(head_age - 18, 26)
        age = np.where(head_age >= 55, 25 + rng.random(Q) * (top - 25), self.u(25, 66, Q))
        age = np.where(exempt == e["student"], self.u(18, 24, Q), age)
        birth = self.Dh[shh] - np.floor(age * 365.2425).astype(np.int64) - 1
        health = 1 + _pick(rng, (0.7, 0.2, 0.04, 0.06), Q)
        health = np.where(exempt == e["serious_illness"], 5, health)
        health = np.where(exempt == e["severe_disability"], 6, health)
        sector = _pick(rng, (0.05, 0.25, 0.1, 0.25, 0.3, 0.05), Q)
        sector = np.where(np.isin(exempt, (e["student"], e["imprisoned"])), _IX["sec"]["none"],
                          sector)  # fmt: skip
        count = 1 + (rng.random(Q) < 0.4) + (rng.random(Q) < 0.1)
        self.shh, self.sbirth, self.shealth = shh, birth, health
        self.sfirst_edge = first & self.edge("supporter_assets")[shh]
        self.sector, self.exempt, self.scount = sector, exempt, count
        self.sage = _age(birth, self.Dh[shh])
        self.q = q

    # -------------------------------------------------------------------- IDs --

    def assign_ids(self) -> None:
        """Resident IDs for members and supporters, unique across blocks: within a block
        the persons sharing an origin and a birth date are ranked r = 0, 1, ...; block b
        uses sequence numbers (b mod 250)·4 + r mod 4 of the origin's code while r < 4;
        each further 4 persons (and every block from the 250th, ~4M households) moves to
        a synthetic code of another province that no origin uses (`_region`). Unique
        for up to 16,000 blocks (262M households)."""
        rng = self.rng
        P, Q = len(self.hh), len(self.shh)
        main = np.r_[self.jur[self.hh], self.jur[self.shh]]
        own = rng.random(P + Q) < np.r_[np.full(P, 0.88), np.full(Q, 0.6)]
        origin = np.where(own, main, rng.integers(4, len(ORIGINS), P + Q))
        birth = np.r_[self.birth, self.sbirth]
        key = origin * (1 << 22) + (birth + (1 << 21))
        order = np.argsort(key, kind="stable")
        ks = key[order]
        starts = np.r_[0, np.flatnonzero(ks[1:] != ks[:-1]) + 1]
        rank = np.empty(P + Q, np.int64)
        rank[order] = np.arange(P + Q) - np.repeat(starts, np.diff(np.r_[starts, P + Q]))
        per_cycle = 1000 // ID_SLOTS
        seq = (self.b % per_cycle) * ID_SLOTS + rank % ID_SLOTS
        level = (rank // ID_SLOTS) * 64 + self.b // per_cycle
        region = _region(origin, level)
        self.ids = resident_ids(region, birth, seq)
        self.n_people = P + Q


def _region(origin: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The region code of an ID: the origin itself at level 0, else a synthetic code
    PP5xxx-PP9xxx (province PP) that no origin and no other (origin, level) uses."""
    codes = np.array([int(c) for c in ORIGINS], np.int64)
    index = np.maximum(level - 1, 0) * len(ORIGINS) + origin
    prov = np.array(_PROVINCES, np.int64)[index % len(_PROVINCES)]
    synthetic = prov * 10000 + 5000 + index // len(_PROVINCES)
    return np.where(level == 0, codes[origin], synthetic)


def _sources(st: _Block) -> None:
    """Background department records of members and supporters (RULES.md §3 inputs)."""
    rng, hh, P = st.rng, st.hh, len(st.hh)
    age, occ, o, inc = st.age, st.occ, _IX["occ"], _IX["inc"]
    nc = ~st.calibrated[hh]
    adult = age >= 18
    sup_h = st.suppress[hh]

    # tax: wages of the uncalibrated, small other income, informational interest/rent
    for mask, lo, hi, kind, rows in (
        (nc & (occ == o["employed"]), 30_000, 80_000, "wage", 3),
        (nc & (occ == o["flexible"]) & (rng.random(P) < 0.6), 5_000, 30_000, "labour", 2),
        (nc & (occ == o["farming"]) & (rng.random(P) < 0.1), 2_000, 10_000, "labour", 1),
    ):
        who = np.flatnonzero(mask)
        owner, amount = _split(rng, st.money(lo, hi, len(who), 1), rng.integers(1, rows + 1,
                                                                              len(who)))  # fmt: skip
        st.add("tax_income", who[owner], inc=inc[kind], amount=amount)
    for kind, p, lo, hi in (("other", 0.03, 500, 5000), ("interest", 0.03, 10, 500),
                            ("rental", 0.01, 1000, 10_000)):  # fmt: skip
        who = np.flatnonzero(adult & (rng.random(P) < p))
        st.add("tax_income", who, inc=inc[kind], amount=st.money(lo, hi, len(who), 1))

    # business registrations: a few small self-employed; in the background a few vetoes
    r = _IX["role"]
    who = np.flatnonzero((age >= 20) & (age < 65) & (rng.random(P) < 0.012))
    turnover = st.money(20_000, 95_000, len(who))
    st.add("business_registration", who, role=r["self_employed"], turnover=turnover)
    st.add("tax_income", who, inc=inc["business"],
           amount=(turnover * st.u(0.1, 0.25, len(who))).astype(np.int64))  # fmt: skip
    bg = st.on("background")[hh] & (age >= 20) & (age < 65)
    who = np.flatnonzero(bg & (rng.random(P) < 0.004))
    st.add("business_registration", who, role=np.where(rng.random(len(who)) < 0.5,
           r["legal_rep"], r["shareholder"]), turnover=st.money(50_000, 900_000, len(who)))  # fmt: skip
    who = np.flatnonzero(bg & (rng.random(P) < 0.004))
    st.add("business_registration", who, role=r["self_employed"],
           turnover=st.money(30_000, 95_000, len(who)), employees=rng.integers(1, 4, len(who)))  # fmt: skip

    # bank
    median = np.select([st.on("working"), st.on("background"), st.on("elderly")],
                       [3_000, 2_500, 1_500], 1_500)[hh]  # fmt: skip
    has = (age >= 16) | (rng.random(P) < 0.1)
    nrows = np.where(has & ~(sup_h & _SUP_BANK).astype(bool), _pick(rng, (0.3, 0.5, 0.2), P), 0)
    owner = np.repeat(np.arange(P), nrows)
    bal = (median[owner] * 100 * np.exp(rng.normal(0, 1.1, len(owner)))).astype(np.int64)
    limit = 24 * st.S[hh][owner] * st.n[hh][owner]
    bal = np.where(st.calibrated[hh][owner], np.minimum(bal, limit * 2 // 5), bal)
    _bank_rows(st, owner, bal)

    # vehicles
    rate = np.select([st.on("working"), st.on("background"), st.on("elderly"),
                      st.on("dependant")], [0.35, 0.3, 0.1, 0.02], 0.18)[hh]  # fmt: skip
    who = np.flatnonzero((age >= 18) & (age <= 75) & (rng.random(P) < rate))
    rural = st.area[hh][who] == 1
    vt = np.where(rural, _pick(rng, (0.2, 0.08, 0.37, 0.3, 0.05), len(who)),
                  _pick(rng, (0.5, 0.05, 0.3, 0.02, 0.13), len(who)))  # fmt: skip
    lo = np.array([15_000, 15_000, 1_500, 5_000, 1_000])[vt]
    hi = np.array([48_000, 45_000, 8_000, 40_000, 5_000])[vt]
    value = ((lo + (hi - lo) * rng.random(len(who))) * 100).astype(np.int64)
    lux = st.on("background")[hh][who] & (vt == 0) & (rng.random(len(who)) < 0.2)
    value[lux] = st.money(50_000, 200_000, lux.sum())
    reg = st.Dp[who] - rng.integers(400, 5500, len(who))
    recent = st.on("background")[hh][who] & (rng.random(len(who)) < 0.04)
    reg[recent] = st.Dp[who][recent] - rng.integers(0, 360, recent.sum())
    plate = st.next("plate", len(who))
    st.add("vehicle", who, plate=plate, veh=vt, value=value, registered=reg)
    dup = rng.random(len(who)) < 0.01  # the same vehicle in two exports: one plate
    st.add("vehicle", who[dup], plate=plate[dup], veh=vt[dup], value=value[dup],
           registered=reg[dup])  # fmt: skip
    _homes(st)
    _social_insurance(st)
    _supporter_sources(st)


def _bank_rows(st: _Block, owner, balance, product=None) -> None:
    rng, n = st.rng, len(owner)
    prod = _pick(rng, (0.72, 0.1, 0.04, 0.06, 0.08), n) if product is None else product
    rate = np.where(prod <= 1, st.u(0.002, 0.02, n), 0) * (rng.random(n) < 0.7)
    st.add("bank", owner, inst=_pick(rng, (0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.05), n),
           prod=prod, balance=balance, interest=(balance * rate).astype(np.int64))  # fmt: skip


def _homes(st: _Block) -> None:
    rng, H = st.rng, st.H
    u, a = _IX["use"], _IX["acq"]
    own = rng.random(H) < np.select([st.on("elderly"), st.on("dependant"), st.on("working")],
                                    [0.75, 0.5, 0.9], 0.85)  # fmt: skip
    own &= ~(st.suppress & _SUP_PROP).astype(bool)
    homes = np.flatnonzero(own)
    roomy = (st.on("working") | st.on("background"))[homes] & (rng.random(len(homes)) < 0.05)
    per = np.where(roomy, st.u(50, 80, len(homes)), st.u(15, 45, len(homes)))
    area = np.minimum(per * st.n[homes], np.where(roomy, 240, 48 * st.n[homes])) * 100
    rural = st.area[homes] == 1
    acq = np.where(rural, _pick(rng, (0.1, 0.6, 0.15, 0.1, 0.05), len(homes)),
                   _pick(rng, (0.65, 0, 0.12, 0.15, 0.08), len(homes)))  # fmt: skip
    acquired = st.Dh[homes] - (365.2425 * st.u(2.5, 40, len(homes))).astype(np.int64)
    fresh = st.on("background")[homes] & (rng.random(len(homes)) < 0.02)
    acquired[fresh] = st.Dh[homes][fresh] - rng.integers(0, 700, fresh.sum())
    prop = st.next("prop", len(homes))
    second = np.minimum(st.start[homes] + 1, len(st.hh) - 1)
    joint = (st.n[homes] >= 2) & (st.role[second] == 1) & (rng.random(len(homes)) < 0.3)
    share = np.where(joint, 500, 1000)
    common = {
        "use": u["residential"],
        "area": area.astype(np.int64),
        "acquired": acquired,
        "acq": acq,
    }
    st.add("property", st.start[homes], prop=prop, share=share, **common)
    st.add("property", st.start[homes][joint] + 1, prop=prop[joint], share=500,
           **{k: v[joint] if np.ndim(v) else v for k, v in common.items()})  # fmt: skip
    # extras: a storage shed or garage, an old sold house; in the background some vetoes
    heads = st.start
    free = ~(st.suppress & _SUP_PROP).astype(bool)
    m = free & (rng.random(H) < 0.03)
    st.add("property", heads[m], use=u["other"], area=st.money(10, 30, m.sum(), 1),
           acquired=st.Dh[m] - rng.integers(1000, 9000, m.sum()), acq=a["self_built"],
           rental=np.where(rng.random(m.sum()) < 0.2, st.money(500, 3000, m.sum()), 0))  # fmt: skip
    m = free & (rng.random(H) < 0.05)
    disposed = st.Dh[m] - (365.2425 * st.u(3, 15, m.sum())).astype(np.int64)
    st.add("property", heads[m], use=u["residential"], area=st.money(40, 90, m.sum(), 1),
           acquired=disposed - rng.integers(1500, 9000, m.sum()), acq=a["inheritance"],
           disposed=disposed)  # fmt: skip
    bg = st.on("background") & free
    for p, use, extra in ((0.03, "residential", {}), (0.01, "commercial", {}),
                          (0.01, "residential", {"recent_sale": True})):  # fmt: skip
        m = bg & (rng.random(H) < p)
        acquired = st.Dh[m] - rng.integers(1000, 9000, m.sum())
        disposed = st.Dh[m] - rng.integers(0, 700, m.sum()) if extra else _NO_DATE
        st.add("property", heads[m], use=u[use], area=st.money(40, 120, m.sum(), 1),
               acquired=acquired, acq=a["purchase"], disposed=disposed,
               rental=np.where(use == "commercial", st.money(3000, 20_000, m.sum()), 0))  # fmt: skip


def _social_insurance(st: _Block) -> None:
    rng, hh, P = st.rng, st.hh, len(st.hh)
    age, occ, o, health = st.age, st.occ, _IX["occ"], st.health
    rec, sch, emp = _IX["rec"], _IX["sch"], _IX["emp"]
    sup_h = st.suppress[hh]
    adult = (age >= 16) & (age < 60) & (st.stu == _IX["stu"]["none"])
    employed = occ == o["employed"]
    pc_ok = ~(sup_h & _SUP_PC).astype(bool)
    who = np.flatnonzero(adult & employed & pc_ok)
    st.add("social_insurance", who, rec=rec["pension_contribution"],
           amount=st.money(1500, 5000, len(who)), sch=sch["employee"], emp=emp["none"])  # fmt: skip
    who = np.flatnonzero(adult & ~employed & pc_ok & (rng.random(P) < 0.6))
    grades = np.array([20_000, 30_000, 50_000, 100_000, 150_000, 200_000, 300_000])
    amount = grades[_pick(rng, (0.3, 0.2, 0.2, 0.15, 0.07, 0.05, 0.03), len(who))]
    high = st.on("background")[hh][who] & (rng.random(len(who)) < 0.01)
    amount = np.where(high, 500_000, amount)
    st.add("social_insurance", who, rec=rec["pension_contribution"], amount=amount,
           sch=sch["resident"], emp=emp["none"])  # fmt: skip
    who = np.flatnonzero(employed)
    st.add("social_insurance", who, rec=rec["employment"], sch=sch["employee"],
           emp=emp["enterprise"])  # fmt: skip
    # pensions of the elderly: resident (basic) or retired employees' pensions
    old = np.flatnonzero(age >= 60)
    retired = (occ[old] == o["retired"]) & (rng.random(len(old)) < 0.7)
    retired &= ~st.on("elderly")[hh][old] | (rng.random(len(old)) < 0.15)
    monthly = np.where(retired, st.money(1200, 4500, len(old)), st.money(150, 350, len(old)))
    st.add("social_insurance", old, rec=rec["pension_benefit"], amount=monthly * 12,
           sch=np.where(retired, sch["employee"], sch["resident"]), emp=emp["none"])  # fmt: skip
    who = np.flatnonzero((occ == o["unemployed"]) & (st.area[hh] == 0) & (rng.random(P) < 0.15))
    st.add("social_insurance", who, rec=rec["unemployment_benefit"], sch=sch["none"],
           amount=st.money(1200, 1800, len(who)) * rng.integers(3, 13, len(who)))  # fmt: skip
    who = np.flatnonzero((age >= 18) & (rng.random(P) < 0.003))
    st.add("social_insurance", who, rec=rec["injury_benefit"], sch=sch["employee"],
           amount=st.money(3000, 12_000, len(who)))  # fmt: skip
    # medical settlements (cost, reimbursed) by health
    p = np.array([0.05, 0.3, 0.05, 0.75, 0.95, 0.5])[health - 1]
    rows = np.where((rng.random(P) < p) & ~(sup_h & _SUP_MED).astype(bool),
                    1 + (rng.random(P) < 0.3) + (health == 5) * (rng.random(P) < 0.5), 0)  # fmt: skip
    owner = np.repeat(np.arange(P), rows)
    lo = np.array([500, 1000, 500, 5000, 20_000, 2000])[health[owner] - 1]
    hi = np.array([5000, 10_000, 5000, 50_000, 150_000, 20_000])[health[owner] - 1]
    cost = ((lo + (hi - lo) * rng.random(len(owner))) * 100).astype(np.int64)
    _medical(st, owner, cost, (cost * st.u(0.45, 0.8, len(owner))).astype(np.int64))


def _medical(st: _Block, owner, cost, reimbursed) -> None:
    st.add("social_insurance", owner, rec=_IX["rec"]["medical_settlement"], amount=cost,
           reimbursed=reimbursed, sch=_IX["sch"]["resident"], emp=_IX["emp"]["none"])  # fmt: skip


def _supporter_sources(st: _Block) -> None:
    """Supporters' own records (§4 I_s and the elevated-ratio assets); people index P+j."""
    rng, Q, P = st.rng, len(st.shh), len(st.hh)
    s, inc = _IX["sec"], _IX["inc"]
    sec, who = st.sector, P + np.arange(Q)
    for mask, lo, hi, kind, rows in (
        (np.isin(sec, (s["public"], s["enterprise"])), 36_000, 90_000, "wage", 2),
        ((sec == s["flexible"]) & (rng.random(Q) < 0.5), 10_000, 40_000, "labour", 2),
        (sec == s["self_employed"], 30_000, 120_000, "business", 1),
    ):
        idx = np.flatnonzero(mask)
        owner, amount = _split(rng, st.money(lo, hi, len(idx), 1), rng.integers(1, rows + 1,
                                                                              len(idx)))  # fmt: skip
        st.add("tax_income", who[idx][owner], inc=inc[kind], amount=amount)
    idx = np.flatnonzero(sec == s["self_employed"])
    st.add("business_registration", who[idx], role=_IX["role"]["self_employed"],
           turnover=st.money(60_000, 400_000, len(idx)))  # fmt: skip
    idx = np.flatnonzero(sec == s["public"])
    st.add("social_insurance", who[idx], rec=_IX["rec"]["employment"], sch=_IX["sch"]["employee"],
           emp=np.where(rng.random(len(idx)) < 0.5, _IX["emp"]["government"],
                        _IX["emp"]["public_institution"]))  # fmt: skip
    idx = np.flatnonzero(st.sage >= 60)
    st.add("social_insurance", who[idx], rec=_IX["rec"]["pension_benefit"],
           amount=st.money(150, 3000, len(idx)) * 12, sch=_IX["sch"]["resident"])  # fmt: skip
    idx = np.flatnonzero((rng.random(Q) < 0.5) & ~st.sfirst_edge)
    bal = (2_000_000 * np.exp(rng.normal(0, 1.2, len(idx)))).astype(np.int64)
    _bank_rows(st, who[idx], bal)
    idx = np.flatnonzero(rng.random(Q) < 0.25)
    vt = np.where(rng.random(len(idx)) < 0.6, 0, 2)
    st.add("vehicle", who[idx], veh=vt, value=np.where(vt == 0, st.money(30_000, 120_000,
           len(idx)), st.money(2000, 8000, len(idx))),
           registered=st.Dh[st.shh[idx]] - rng.integers(30, 4000, len(idx)))  # fmt: skip
    n_res = (rng.random(Q) < 0.7).astype(int) + (rng.random(Q) < 0.08)
    owner = np.repeat(who, n_res)
    st.add("property", owner, use=_IX["use"]["residential"], area=st.money(50, 140, len(owner), 1),
           acquired=st.Dh[st.shh[owner - P]] - rng.integers(800, 9000, len(owner)),
           acq=_IX["acq"]["purchase"])  # fmt: skip


# --------------------------------------------------------- vetoes and edges --


def _suppressions(st: _Block) -> None:
    """Households whose background rows of one kind an overlay replaces exactly."""
    for mask, bits in (
        (st.vcode(2), _SUP_PROP), (st.vcode(9), _SUP_PROP),
        (st.edge("housing_area"), _SUP_PROP), (st.edge("balance"), _SUP_BANK),
        (st.edge("declared_assets"), _SUP_BANK), (st.edge("insurance_grade"), _SUP_PC),
        (st.edge("pension_cap"), _SUP_PC), (st.edge("medical_cap"), _SUP_MED),
    ):  # fmt: skip
        st.suppress[mask] |= bits


def _overlays(st: _Block) -> None:
    """The records that trigger each veto (RULES.md §6) or sit on a boundary."""
    rng, pk, D, v, vv = st.rng, st.pk, st.D, st.evar, st.vvar
    veto = pk["veto"]
    u, a, r = _IX["use"], _IX["acq"], _IX["role"]
    rec, sch, emp = _IX["rec"], _IX["sch"], _IX["emp"]
    limit = veto["vehicle_value_limit"]
    car, truck, moto = _IX["veh"]["car"], _IX["veh"]["truck"], _IX["veh"]["motorcycle"]

    def old(n, lo=500, hi=3000):
        return D - rng.integers(lo, hi, n)

    def heads(mask):
        h = st.heads(mask)
        return h, len(h)

    h, n = heads(st.vcode(1) & (vv == 0))
    st.add("vehicle", h, veh=car, value=rng.integers(limit + 1, 4 * limit, n), registered=old(n))
    h, n = heads(st.vcode(1) & (vv == 1))
    for vt in (car, truck):
        st.add("vehicle", h, veh=vt, value=st.money(15_000, 45_000, n), registered=old(n))
    h, n = heads(st.vcode(2) & (vv == 0))
    for acquisition in (a["self_built"], a["purchase"]):
        st.add("property", h, use=u["residential"], area=st.money(40, 80, n, 1),
               acquired=old(n, 1000, 8000), acq=acquisition)  # fmt: skip
    m = st.vcode(2) & (vv == 1)
    h, n = heads(m)
    excess = veto["residential_area_per_capita_limit"] * st.n[m]
    st.add("property", h, use=u["residential"], area=excess + rng.integers(1000, 8000, n),
           acquired=old(n, 1000, 8000), acq=a["self_built"])  # fmt: skip
    h, n = heads(st.vcode(3))
    st.add("property", h, use=rng.choice([u["commercial"], u["office"], u["industrial"]], n),
           area=st.money(20, 200, n, 1), acquired=old(n, 1000, 8000), acq=a["purchase"],
           rental=np.where(rng.random(n) < 0.5, st.money(2000, 20_000, n), 0))  # fmt: skip
    m = st.vcode(4)
    h, n = heads(m)
    fa_limit = veto["financial_asset_months"] * st.S[m] * st.n[m]
    _bank_rows(st, h, fa_limit + rng.integers(100_000, 5_000_000, n))
    for var, role in ((0, r["legal_rep"]), (1, r["shareholder"]), (2, r["self_employed"])):
        h, n = heads(st.vcode(5) & (vv == var))
        over = veto["business_turnover_limit"]
        turnover = rng.integers(over + 1, 3 * over, n) if var == 2 else st.money(50_000, 900_000, n)
        st.add("business_registration", h, role=role, turnover=turnover)
    h, n = heads(st.vcode(6))
    st.add("social_insurance", h, rec=rec["employment"], sch=sch["employee"],
           emp=np.where(rng.random(n) < 0.5, emp["government"], emp["public_institution"]))  # fmt: skip
    h, n = heads(st.vcode(7))
    st.add("business_registration", h, role=r["self_employed"],
           turnover=st.money(20_000, 95_000, n), employees=rng.integers(1, 6, n))  # fmt: skip
    h, n = heads(st.vcode(8))
    st.add("social_insurance", h, rec=rec["pension_contribution"], sch=sch["resident"],
           amount=rng.choice([400_000, 500_000, 1_000_000], n))  # fmt: skip
    h, n = heads(st.vcode(9))
    st.add("property", h, use=u["residential"], area=st.money(40, 90, n, 1),
           acquired=D - rng.integers(0, 700, n), acq=a["purchase"])  # fmt: skip
    h, n = heads(st.vcode(10))
    st.add("property", h, use=u["residential"], area=st.money(40, 90, n, 1),
           acquired=old(n, 2000, 9000), acq=a["self_built"], disposed=D - rng.integers(0, 700, n))  # fmt: skip
    h, n = heads(st.vcode(13) & (vv == 0))
    st.add("tax_income", h, inc=_IX["inc"]["other"], amount=st.money(1500, 6000, n))
    h, n = heads(st.vcode(13) & (vv == 1))
    st.add("vehicle", h, veh=moto, value=st.money(1500, 6000, n), registered=old(n))
    h, n = heads(st.vcode(13) & (vv == 2))
    _bank_rows(st, h, st.money(3000, 10_000, n), product=0)
    h, n = heads(st.vcode(13) & (vv == 3))
    st.add("property", h, use=u["other"], area=st.money(10, 30, n, 1),
           acquired=old(n, 1000, 8000), acq=a["self_built"])  # fmt: skip
    h, n = heads(st.vcode(14))
    st.add("vehicle", h, veh=car, value=st.money(15_000, 45_000, n), registered=D - rng.integers(0, 360, n))  # fmt: skip

    # ---- boundaries (jurisdiction 150422, date D: the default pack's numbers)
    h, n = heads(st.edge("vehicle_value"))
    st.add("vehicle", h, veh=car, value=limit + v[st.edge("vehicle_value")], registered=old(n))
    year_ago = _days(add_months(st.d, -veto["recent_vehicle_months"]))
    m = st.edge("vehicle_date")
    h, n = heads(m)
    reg = np.array([year_ago, year_ago + 1, D, D + 1])[v[m]]
    st.add("vehicle", h, veh=car, value=st.money(20_000, 40_000, n), registered=reg)
    w24 = _days(add_months(st.d, -veto["recent_purchase_months"]))
    t24 = _days(add_months(st.d, -veto["recent_transfer_months"]))
    m = st.edge("property_dates")
    h, n = heads(m)
    long_ago = D - 4000
    acq = np.array([w24, w24 + 1, long_ago, long_ago, D + 1, long_ago, long_ago])[v[m]]
    disp = np.array([_NO_DATE, _NO_DATE, D, D + 1, _NO_DATE, t24, t24 + 1])[v[m]]
    st.add("property", h, use=u["other"], area=st.money(15, 30, n, 1), acquired=acq,
           acq=a["purchase"], disposed=disp)  # fmt: skip
    m = st.edge("balance")
    h, n = heads(m)
    _bank_rows(st, h, veto["financial_asset_months"] * st.S[m] * st.n[m] + v[m], product=0)
    m = st.edge("turnover")
    h, n = heads(m)
    turnover = veto["business_turnover_limit"] + v[m]
    st.add("business_registration", h, role=r["self_employed"], turnover=turnover)
    st.add("tax_income", h, inc=_IX["inc"]["business"], amount=turnover // 8)
    m = st.edge("insurance_grade")
    h, n = heads(m)
    grade = veto["insurance_grade_limit"]
    st.add("social_insurance", h, rec=rec["pension_contribution"], sch=sch["resident"],
           amount=grade // 3)  # fmt: skip
    st.add("social_insurance", h, rec=rec["pension_contribution"], sch=sch["resident"],
           amount=grade - grade // 3 + v[m])  # fmt: skip
    m = st.edge("pension_cap")
    h, n = heads(m)
    st.add("social_insurance", h, rec=rec["pension_contribution"], sch=sch["employee"],
           amount=pk["pension_cap"][0] - 1 + v[m])  # fmt: skip
    m = st.edge("medical_cap")
    h, n = heads(m)
    paid = st.money(10_000, 30_000, n)
    _medical(st, h, paid + pk["medical_cap"][0] - 1 + v[m], paid)
    m = st.edge("declared_assets")
    h, n = heads(m)
    _bank_rows(st, h, st.money(3000, 10_000, n), product=0)
    for var, table in ((0, "vehicle"), (1, "vehicle"), (2, "property"), (3, "property")):
        h, n = heads(st.edge("declared_counts") & (v == var))
        if table == "vehicle":
            st.add("vehicle", h, veh=moto, value=st.money(1500, 6000, n), registered=old(n))
        else:
            st.add("property", h, use=u["other"], area=st.money(10, 30, n, 1),
                   acquired=old(n, 1000, 8000), acq=a["self_built"])  # fmt: skip
    m = st.edge("housing_area")
    h, n = heads(m)
    area = veto["residential_area_per_capita_limit"] * st.n[m] + v[m]
    st.add("property", h, use=u["residential"], area=area, acquired=old(n, 2000, 9000),
           acq=a["self_built"])  # fmt: skip
    st.add("property", h, use=u["other"], area=st.money(20, 40, n, 1), share=1,
           acquired=old(n, 2000, 9000), acq=a["inheritance"])  # fmt: skip
    m = st.edge("supporter_assets")
    first = len(st.hh) + np.r_[0, np.cumsum(st.q)[:-1]][m]
    cap = pk["sup_asset"][0]
    _bank_rows(st, first, np.full(m.sum(), cap // 2), product=0)
    _bank_rows(st, first, cap - cap // 2 + v[m], product=0)


# ------------------------------------------------------------- calibration --


def _terms(st: _Block) -> dict[str, np.ndarray]:
    """RULES.md §3-§5 terms per person (members then supporters) from the rows so far."""
    pk, N = st.pk, st.n_people
    people_hh = np.r_[st.hh, st.shh]

    def total(rows, values, mask=None):
        o = rows["owner"] if mask is None else rows["owner"][mask]
        w = values if mask is None else values[mask]
        return np.bincount(o, w.astype(float), N).astype(np.int64)

    inc = _IX["inc"]
    tax = st.cat("tax_income")
    t = {
        "wage": total(tax, tax["amount"], np.isin(tax["inc"], (inc["wage"], inc["labour"]))),
        "business": total(tax, tax["amount"], tax["inc"] == inc["business"]),
        "other": total(tax, tax["amount"], tax["inc"] == inc["other"]),
    }
    bank = st.cat("bank")
    t["balance"] = total(bank, bank["balance"])
    prop = st.cat("property")
    Dh = st.Dh[people_hh[prop["owner"]]]
    owned = (prop["acquired"] <= Dh) & ((prop["disposed"] == _NO_DATE) | (prop["disposed"] > Dh))
    rent = _rhu(prop["rental"] * prop["share"], 1000)
    t["property"] = total(bank, bank["interest"]) + total(prop, rent, owned)
    res = owned & (prop["use"] == _IX["use"]["residential"])
    pairs = np.unique(prop["owner"][res] * (1 << 30) + prop["prop"][res])
    t["residences"] = np.bincount(pairs >> 30, minlength=N)
    si = st.cat("social_insurance")
    rec = _IX["rec"]
    t["transfer"] = total(si, si["amount"], pk["transfer"][si["rec"]])
    t["medical"] = total(si, np.maximum(si["amount"] - si["reimbursed"], 0),
                         si["rec"] == rec["medical_settlement"])  # fmt: skip
    t["contrib"] = total(si, si["amount"], si["rec"] == rec["pension_contribution"])
    veh = st.cat("vehicle")
    vslot = st.slot[people_hh[veh["owner"]]]
    lux = (veh["registered"] <= st.Dh[people_hh[veh["owner"]]]) & pk["veh_types"][veh["veh"]]
    lux &= veh["value"] > pk["veh_limit"][vslot]
    t["luxury"] = np.bincount(veh["owner"][lux], minlength=N) > 0
    return t


def _household_income(st: _Block, t: dict, earner: np.ndarray):
    """(income of everything but the earners' wages, deductions) per household."""
    pk, hh, H = st.pk, st.hh, st.H
    P = len(hh)
    slot = st.slot[hh]
    wage = t["wage"][:P]
    land = _rhu(st.c * pk["rural_income"][slot] * pk["land"][slot], 1_000_000)
    work = _rhu(st.c * pk["min_wage"][slot] * pk["months"][slot], 1000)
    farming = (st.occ == _IX["occ"]["farming"]) & (st.area[hh] == 1)
    employment = np.where(wage > 0, wage, np.where(st.c == 0, 0, np.where(farming, land, work)))
    rest = t["business"][:P] + t["other"][:P] + t["property"][:P] + t["transfer"][:P]
    member = np.where(earner, rest, employment + rest)
    # §4 support
    Q = len(st.shh)
    s = slice(P, P + Q)
    sslot = st.slot[st.shh]
    own = t["wage"][s] + t["business"][s] + t["other"][s] + t["transfer"][s]
    cs = labour_coefficient(st.sage, st.shealth, np.zeros(Q, np.int64), pk)
    own = np.where(own == 0, _rhu(cs * pk["min_wage"][sslot] * pk["months"][sslot], 1000), own)
    elevated = t["luxury"][s] | (t["residences"][s] > pk["veto"]["max_residential_properties"])
    elevated |= t["balance"][s] > pk["sup_asset"][sslot]
    ratio = pk["sector"][st.sector] + pk["bonus"][sslot] * elevated
    support = np.minimum(_rhu(own * ratio * st.scount, 1000), _rhu(own * pk["cap_ratio"][sslot],
                                                                     1000))  # fmt: skip
    support = np.where(st.exempt == 0, support, 0)
    income = np.bincount(hh, member.astype(float), H) + np.bincount(
        st.shh, support.astype(float), H
    )
    medical = np.minimum(np.bincount(hh, t["medical"][:P].astype(float), H).astype(np.int64),
                         pk["medical_cap"][st.slot])  # fmt: skip
    education = np.minimum(st.tuition, pk["tuition_cap"][slot, st.stu])
    pension = np.minimum(t["contrib"][:P], pk["pension_cap"][slot])
    ded = medical + np.bincount(hh, (education + pension).astype(float), H).astype(np.int64)
    verified = np.bincount(hh, (wage + rest).astype(float), H).astype(np.int64)
    return income.astype(np.int64), ded, verified


def _calibrate(st: _Block) -> None:
    """Earners' wage records so that pci = target exactly (RULES.md §5)."""
    rng = st.rng
    t = _terms(st)
    income, ded, _ = _household_income(st, t, st.earner)
    ne = np.bincount(st.hh[st.earner], minlength=st.H)
    want = st.target * 12 * st.n + ded - income
    go = np.flatnonzero(st.calibrated & (ne > 0))
    total = np.maximum(want[go], 50_000 * ne[go])
    _, share = _split(rng, total, ne[go])
    earners = np.flatnonzero(st.earner & (ne[st.hh] > 0) & st.calibrated[st.hh])
    owner, amount = _split(rng, share, rng.integers(1, 4, len(earners)))
    who = earners[owner]
    kind = np.where(st.occ[who] == _IX["occ"]["employed"], _IX["inc"]["wage"], _IX["inc"]["labour"])
    st.add("tax_income", who, inc=kind, amount=amount)
    st.exact = np.zeros(st.H, bool)
    st.exact[go] = want[go] >= total


# ------------------------------------------------------- household columns --

_PREV_P = {  # prev_status shares (none, dibao, tekun, low_income, phase_out) by archetype
    "elderly": (0.3, 0.2, 0.45, 0.05, 0), "dependant": (0.3, 0.1, 0.6, 0, 0),
    "poor": (0.35, 0.5, 0, 0.1, 0.05), "band": (0.5, 0.03, 0.05, 0.3, 0.12),
    "phase_out": (0, 1, 0, 0, 0), "single_ill": (0.5, 0, 0.05, 0.3, 0.15),
    "working": (0.8, 0.1, 0, 0.05, 0.05), "background": (0.6, 0.2, 0.05, 0.1, 0.05),
    "veto": (0.5, 0.3, 0.05, 0.1, 0.05), "edge": (0.5, 0.3, 0.05, 0.1, 0.05),
}  # fmt: skip


def _household_fields(st: _Block) -> None:
    rng, pk, H, hh = st.rng, st.pk, st.H, st.hh
    veto = pk["veto"]
    S, n = st.S, st.n
    # prev_status / prev_benefit (RULES.md §7 transitions)
    prev = _pick(rng, np.array([_PREV_P[a] for a in ARCHETYPES])[st.arch], H)
    p = _IX["prev"]
    tekun = _rhu(_rhu(S * pk["tekun_ratio"][st.slot], 1000) * n, 100) * 100
    a70, sev, ser, kid = (pk["addons"][st.slot[hh], i] for i in range(4))
    addon = np.maximum.reduce([np.where(st.age >= 70, a70, 0), np.where(st.health == 6, sev, 0),
                               np.where(st.health == 5, ser, 0), np.where(st.age < 16, kid, 0)])  # fmt: skip
    addons = np.bincount(hh, _rhu(S[hh] * addon, 1000).astype(float), H).astype(np.int64)
    dibao = _rhu((S - st.target) * n + addons, 100) * 100
    random_benefit = (S * n * st.u(0.2, 1.0)).astype(np.int64) // 100 * 100
    benefit = np.select([prev == p["dibao"], prev == p["tekun"]], [random_benefit, tekun], 0)
    same = rng.random(H) < 0.4
    keep = same & st.exact & st.on("poor") & (prev == p["dibao"])
    benefit = np.where(keep, dibao, benefit)
    nudge = (prev == p["tekun"]) & (rng.random(H) < 0.3)
    benefit = np.where(nudge, benefit + 100 * rng.integers(1, 50, H), benefit)
    phase = (prev == p["phase_out"]) & (rng.random(H) < 0.4)
    benefit = np.where(phase, random_benefit, benefit)
    enrolled = (prev == p["dibao"]) | (prev == p["tekun"])  # always paid something
    st.prev, st.prev_benefit = prev, np.where(enrolled, np.maximum(benefit, 100), benefit)
    # consent and checked sources (V12, SOURCE_NOT_CHECKED)
    quiet = st.on("edge") | st.on("veto")
    st.consent = ~((rng.random(H) < 0.003) & ~quiet) & ~st.vcode(12)
    st.checked = (rng.random((5, H)) >= 0.005) | st.on("edge")
    # declarations (UNDECLARED_*, V13) from the final records
    t = _terms(st)
    _, _, verified = _household_income(st, t, np.zeros(len(hh), bool))
    P = len(hh)
    fa = np.bincount(hh, t["balance"][:P].astype(float), H).astype(np.int64)
    nveh, nprop = _owned_counts(st)
    plain = ~quiet
    decl = {k: np.zeros(H, np.int64) for k in ("income", "vehicles", "properties", "assets")}
    mask = {k: plain & (rng.random(H) < 0.15) for k in decl}
    under = rng.random(H) < 0.02
    vm = _rhu(verified, 12)
    decl["income"] = (vm * np.where(under, st.u(0.6, 0.9), st.u(0.95, 1.4))).astype(np.int64)
    decl["vehicles"] = np.maximum(nveh + np.where(under, -1, rng.random(H) < 0.2), 0)
    decl["properties"] = np.maximum(nprop - under, 0)
    decl["assets"] = np.where(under, fa // 2, fa + st.money(0, 2000, H))
    tol, tol_abs = veto["declaration_tolerance_ratio"], veto["declaration_tolerance_abs"]
    asset_tol = veto["asset_declaration_tolerance_abs"]
    for var, key, value in (
        (0, "income", np.maximum((vm - tol_abs - 1) * 1000 // (1000 + tol), 0)),
        (1, "vehicles", nveh - 1), (3, "properties", nprop - 1),
        (2, "assets", np.maximum(fa - asset_tol - 1 - st.money(0, 500, H), 0)),
    ):  # fmt: skip
        m = st.vcode(13) & (st.vvar == var)
        decl[key] = np.where(m, value, decl[key])
        mask[key] |= m
    m = st.edge("declared_counts")
    for var, key, count in ((0, "vehicles", nveh), (1, "vehicles", nveh),
                            (2, "properties", nprop), (3, "properties", nprop)):  # fmt: skip
        mv = m & (st.evar == var)
        decl[key] = np.where(mv, count - var % 2, decl[key])
        mask[key] |= mv
    m = st.edge("declared_assets")
    decl["assets"] = np.where(m, fa - asset_tol - st.evar, decl["assets"])
    mask["assets"] |= m
    m = st.edge("declared_income")
    d, delta = _declaration_boundary(
        verified[m], st.evar[m], tol, tol_abs, st.money(0, 50, m.sum())
    )
    decl["income"][m] = d
    mask["income"] |= m
    st.add("tax_income", st.start[m], inc=_IX["inc"]["other"], amount=delta)
    st.declared, st.declared_set = decl, mask
    # current_programs: null, empty or a random subset
    kind = _pick(rng, (0.4, 0.1, 0.5), H)
    size = np.where(kind == 2, rng.integers(1, 4, H), 0)
    order = np.argsort(rng.random((H, len(PROGRAMS))), axis=1)
    take = np.arange(len(PROGRAMS))[None, :] < size[:, None]
    values = order[take]
    twice = (kind == 2) & (rng.random(H) < 0.01)
    offsets = np.r_[0, np.cumsum(size + twice)]
    flat = np.empty(offsets[-1], np.int64)
    pos = offsets[:-1][:, None] + np.arange(len(PROGRAMS))[None, :]
    flat[pos[take]] = values
    flat[offsets[1:][twice] - 1] = order[twice, 0]
    st.programs = (offsets, flat, kind == 0)


def _declaration_boundary(verified, variant, ratio, abs_tol, slack):
    """A declared income d whose tolerance threshold T (RULES.md §8 UNDECLARED_INCOME) is
    just above the verified monthly income, and the extra annual income that makes the
    verified monthly income exactly T (variant 0: no finding) or T + 1 (variant 1)."""
    want = verified // 12 + 1 + slack

    def threshold(d):
        return d + np.maximum(_rhu(d * ratio, 1000), abs_tol)

    d = np.maximum(want * 1000 // (1000 + ratio) - 3, 0)
    d = np.where(want <= abs_tol, 0, np.where(want <= abs_tol * (1000 + ratio) // ratio,
                                             np.maximum(want - abs_tol, 0), d))  # fmt: skip
    for _ in range(8):
        d = np.where(threshold(d) < want, d + 1, d)
    return d, 12 * threshold(d) + 6 * variant - verified


def _owned_counts(st: _Block):
    """Distinct owned vehicles (plates) and properties of each household's members."""
    P, H = len(st.hh), st.H
    counts = []
    for table, key, date in (("vehicle", "plate", "registered"), ("property", "prop", "acquired")):
        rows = st.cat(table)
        mine = rows["owner"] < P
        o = rows["owner"][mine]
        h = st.hh[o]
        owned = rows[date][mine] <= st.Dh[h]
        if table == "property":
            disp = rows["disposed"][mine]
            owned &= (disp == _NO_DATE) | (disp > st.Dh[h])
        pairs = np.unique(h[owned] * (1 << 32) + rows[key][mine][owned])
        counts.append(np.bincount(pairs >> 32, minlength=H))
    return counts


def _extras(st: _Block) -> None:
    """Deliberate DUPLICATE_PERSON members and source rows that match nobody."""
    rng, H = st.rng, st.H
    bg = st.on("background")
    targets = np.flatnonzero(bg & (rng.random(H) < 0.04))
    pool = np.flatnonzero(bg[st.hh])
    src = pool[rng.integers(0, len(pool), len(targets))] if len(pool) else np.zeros(0, int)
    ok = st.hh[src] != targets
    st.dup_target, st.dup_src = targets[ok], src[ok]
    # ghosts: valid IDs of people outside the bundle
    G = max(2, H // 500)
    birth = st.D - rng.integers(18 * 365, 80 * 365, G)
    st.ghost_ids = resident_ids(np.full(G, 659001), birth, rng.integers(0, 1000, G))
    owner = st.n_people + np.arange(G)
    which = rng.integers(0, 4, G)
    inc, rec = _IX["inc"], _IX["rec"]
    st.add("tax_income", owner[which == 0], inc=inc["wage"], amount=st.money(5000, 50_000,
                                                                              (which == 0).sum()))  # fmt: skip
    _bank_rows(st, owner[which == 1], st.money(100, 50_000, (which == 1).sum()))
    m = which == 2
    st.add("vehicle", owner[m], veh=_IX["veh"]["car"], value=st.money(20_000, 90_000, m.sum()),
           registered=st.D - rng.integers(100, 4000, m.sum()))  # fmt: skip
    m = which == 3
    st.add("social_insurance", owner[m], rec=rec["pension_benefit"], sch=_IX["sch"]["resident"],
           amount=st.money(2000, 4000, m.sum()))  # fmt: skip
    st.ghost_hh = st.g[rng.integers(0, H, G)]


# ---------------------------------------------------------------- assembly --

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


# ---------------------------------------------------------------- bad input --


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


def _with_supporters(tables, hh):
    has = np.isin(hh, tables["supporters"].column("_hh").to_numpy())
    return has


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


# --------------------------------------------------------------------- API --


def _block_tables(seed: int, b: int, bad_fraction: float, d: dt.date) -> dict[str, pa.Table]:
    st = _Block(seed, b, d)
    st.households()
    st.members()
    st.supporters()
    st.assign_ids()
    _suppressions(st)
    _sources(st)
    _overlays(st)
    _calibrate(st)
    _household_fields(st)
    _extras(st)
    tables = _assemble(st)
    if bad_fraction > 0:
        tables = _inject_bad(tables, st, seed, bad_fraction)
    return tables


def generate(
    n_households: int,
    seed: int,
    *,
    bad_fraction: float = 0.0,
    start: int = 0,
    assessment_date: dt.date = dt.date(2024, 7, 1),
) -> dict[str, pa.Table]:
    """The nine bundle tables (schema.arrow_schema) of households start .. start+n-1.

    Deterministic in (seed, bad_fraction, assessment_date) and the household range only:
    any split of a range into chunks concatenates to the same tables."""
    if n_households < 0 or start < 0 or seed < 0:
        raise ValueError("n_households, start and seed must be >= 0")
    if not 0.0 <= bad_fraction <= 1.0:
        raise ValueError("bad_fraction must be between 0 and 1")
    parts: dict[str, list[pa.Table]] = {t: [] for t in schema.TABLES}
    stop = start + n_households
    for b in range(start // BLOCK, -(-stop // BLOCK)):
        tables = _block_tables(seed, b, bad_fraction, assessment_date)
        lo, hi = max(start, b * BLOCK), min(stop, (b + 1) * BLOCK)
        for name, t in tables.items():
            h = t.column("_hh")
            if lo > b * BLOCK or hi < (b + 1) * BLOCK:
                t = t.filter(pc.and_(pc.greater_equal(h, lo), pc.less(h, hi)))
            parts[name].append(t.drop_columns([c for c, _ in _INTERNAL]))
    return {
        name: pa.concat_tables(ts) if ts else schema.empty_table(name) for name, ts in parts.items()
    }


def write_synth(
    out_dir,
    n_households: int,
    seed: int,
    *,
    bad_fraction: float = 0.0,
    format: str = "parquet",
    chunk: int = 200_000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Stream a synthetic bundle to `out_dir`, one file per table, each written to
    `<file>.tmp` and renamed when complete. Memory is bounded by `chunk` households
    (rounded to whole blocks of BLOCK). Returns the row count of each table."""
    if format not in ("parquet", "arrow"):
        raise ValueError(f"unknown bundle format {format!r} (choose parquet or arrow)")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    suffix, other = (".parquet", ".arrow") if format == "parquet" else (".arrow", ".parquet")
    step = max(BLOCK, chunk // BLOCK * BLOCK)
    files, writers = {}, {}
    counts = dict.fromkeys(schema.TABLES, 0)
    try:
        for name in schema.TABLES:
            f = open(folder / f"{name}{suffix}.tmp", "wb")  # noqa: SIM115 - closed below
            files[name] = f
            s = schema.arrow_schema(name)
            writers[name] = pq.ParquetWriter(f, s) if format == "parquet" else pa.ipc.new_file(f, s)
        for lo in range(0, n_households, step):
            tables = generate(min(step, n_households - lo), seed, bad_fraction=bad_fraction,
                              start=lo)  # fmt: skip
            for name, t in tables.items():
                writers[name].write_table(t)
                counts[name] += t.num_rows
            del tables
            if progress is not None:
                progress(min(lo + step, n_households), n_households)
        for name in schema.TABLES:
            writers.pop(name).close()
            f = files.pop(name)
            f.flush()
            os.fsync(f.fileno())
            f.close()
            os.replace(folder / f"{name}{suffix}.tmp", folder / f"{name}{suffix}")
            (folder / f"{name}{other}").unlink(missing_ok=True)
    finally:
        for w in writers.values():
            w.close()
        for name, f in files.items():
            f.close()
            (folder / f"{name}{suffix}.tmp").unlink(missing_ok=True)
    return counts
