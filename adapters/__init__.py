"""Department adapters (部门数据接口): raw exports → bundle tables, driven by profiles.

One module per department (tax, banking, vehicle, housing, social_insurance) and one
for the case system export; `profile` loads the TOML profiles, `readers` streams CSV,
JSON Lines and Parquet, `normalise` and `mapping` turn raw cells into canonical
values or quarantine entries. `meanstest.ingest` runs a whole manifest.
"""

from __future__ import annotations

from pathlib import Path

from meanstest.adapters import banking, case, housing, social_insurance, tax, vehicle
from meanstest.adapters.base import Adapter

ADAPTERS: tuple[Adapter, ...] = (
    tax.ADAPTER,
    banking.ADAPTER,
    vehicle.ADAPTER,
    housing.ADAPTER,
    social_insurance.ADAPTER,
    case.ADAPTER,
)
PROFILES = Path(__file__).parent / "profiles"  # the sample district's profiles


def adapter_for(table: str) -> Adapter:
    """The department adapter that fills `table`."""
    for a in ADAPTERS:
        if table in a.tables:
            return a
    raise KeyError(table)
