"""The shipped policy packs as arrays, for calibrating the archetypes."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np

from meanstest import schema
from meanstest.arith import add_months
from meanstest.synth.common import JURISDICTIONS


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


def labour_coefficient(
    age: np.ndarray, health: np.ndarray, student: np.ndarray, packs: dict
) -> np.ndarray:
    """RULES.md §2 with the default pack's tables (for calibrating the archetypes)."""
    band = np.searchsorted(packs["bands"], age, side="left")
    c = packs["lc"][np.clip(health, 1, 6) - 1, band]
    return np.where((age < 16) | packs["no_labour"][student], 0, c)
