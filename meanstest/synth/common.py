"""Shared constants, index tables and vectorised date/array helpers of the synthetic
district generator."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from meanstest import schema

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
BANKS = ("农村信用合作联社", "中国农业银行", "中国邮政储蓄银行", "中国工商银行",
         "中国建设银行", "中国银行", "内蒙古银行", "赤峰农村商业银行")  # fmt: skip
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
