"""Hand-made households for the rule tests: a household in a few lines, assessed by an engine.

`person(...)` makes a valid resident ID from a birth date; `case(...)` builds one
household with members, supporters and source rows; `assess_case` runs it through an
engine (reference or fast) and returns the result row, member rows and findings.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import tomllib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from meanstest import schema
from meanstest.engine import EngineInput
from meanstest.policy import Policy, digest_of


def _example() -> Path:
    """The shared example district beside the checkout (../shared/examples)."""
    for root in (Path(__file__).resolve().parents[2], Path("/work")):
        path = root / "shared" / "examples" / "district-150422"
        if path.exists():
            return path
    return Path(__file__).resolve().parents[2] / "shared" / "examples" / "district-150422"


EXAMPLE = _example()

PACK_FILE = Path(__file__).resolve().parents[1] / "meanstest" / "policies" / "150422-2024.toml"
D = dt.date(2024, 7, 1)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_seq = itertools.count(1)


def resident_id(birth: dt.date, region: str = "150422") -> str:
    """A valid GB 11643 ID for `birth` (a fresh sequence number each call)."""
    body = f"{region}{birth:%Y%m%d}{next(_seq) % 1000:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _WEIGHTS)) % 11]


def _plain(o):
    if isinstance(o, dict):
        return {k: _plain(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_plain(v) for v in o]
    return o.isoformat() if isinstance(o, dt.date) else o


def default_params() -> dict:
    with open(PACK_FILE, "rb") as f:
        return _plain(tomllib.load(f))


def pack(**changes) -> Policy:
    """The default pack with `section__key=value` changes applied."""
    params = copy.deepcopy(default_params())
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        params[section][key] = value
    p = params["policy"]
    return Policy(
        p["id"],
        p["jurisdiction"],
        p["name"],
        dt.date.fromisoformat(p["effective_from"]),
        params,
        digest_of(params),
    )


def person(birth: dt.date, **kw) -> dict:
    row = {
        "person_id": resident_id(birth),
        "relation": "head",
        "birth_date": birth,
        "health": 1,
        "student_level": "none",
        "occupation": "none",
        "refused_job_offers": 0,
        "tuition": 0,
    }
    row.update(kw)
    return row


def supporter(birth: dt.date, **kw) -> dict:
    row = {
        "supporter_id": resident_id(birth, "150404"),
        "birth_date": birth,
        "health": 1,
        "employment_sector": "enterprise",
        "exempt_reason": "none",
        "supported_count": 1,
    }
    row.update(kw)
    return row


_RECORD_DEFAULTS = {
    "tax_income": {"income_type": "wage", "amount": 0},
    "business_registration": {"role": "self_employed", "annual_turnover": 0, "employees": 0},
    "bank": {"institution": "农村信用合作联社", "product": "deposit", "balance": 0, "interest": 0},
    "vehicle": {
        "plate": "蒙D00001",
        "vehicle_type": "car",
        "value": 0,
        "registered_on": dt.date(2015, 1, 1),
    },
    "property": {
        "property_id": "P1",
        "use": "residential",
        "area": 4000,
        "share": 1000,
        "acquired_on": dt.date(2005, 1, 1),
        "acquisition": "self_built",
        "disposed_on": None,
        "rental_income": 0,
    },
    "social_insurance": {
        "record_type": "pension_contribution",
        "amount": 0,
        "reimbursed": 0,
        "scheme": "resident",
        "employer_type": "none",
    },
}


def record(table: str, who: dict, record_id: str | None = None, **kw) -> tuple[str, dict]:
    """A source row of `table` for member or supporter `who`."""
    row = {"person_id": who.get("person_id") or who["supporter_id"], **_RECORD_DEFAULTS[table]}
    row.update(kw)
    row["record_id"] = record_id or f"{table.upper()[:3]}{next(_seq):06d}"
    return table, row


def household(**kw) -> dict:
    row = {
        "household_id": "H1",
        "jurisdiction": "150422",
        "area": "rural",
        "assessment_date": D,
        "consent_signed": True,
        **{f"checked_{d}": True for d in schema.DEPARTMENTS},
        "declared_income_monthly": None,
        "declared_vehicles": None,
        "declared_properties": None,
        "declared_financial_assets": None,
        "prev_status": "none",
        "prev_benefit": 0,
        "current_programs": None,
    }
    row.update(kw)
    return row


def engine_input(households, members, supporters=(), records=(), policies=None, duplicates=None):
    """EngineInput for already-valid rows. members/supporters rows need household_id."""
    policies = policies or [pack()]
    sources = {t: [] for t in schema.SOURCE_TABLES}
    for table, row in records:
        sources[table].append(row)
    index = np.zeros(len(households), np.int32)
    return EngineInput(
        pa.Table.from_pylist(list(households), schema=schema.arrow_schema("households")),
        pa.Table.from_pylist(list(members), schema=schema.arrow_schema("persons")),
        pa.Table.from_pylist(list(supporters), schema=schema.arrow_schema("supporters")),
        {
            t: pa.Table.from_pylist(rows, schema=schema.arrow_schema(t))
            for t, rows in sources.items()
        },
        policies,
        index,
        duplicates or {},
    )


def assess_case(engine, members, supporters=(), records=(), policy=None, **household_kw):
    """Assess one household; returns (result dict, member dicts, finding dicts)."""
    hh = household(**household_kw)
    ms = [{"household_id": hh["household_id"], **m} for m in members]
    ss = [{"household_id": hh["household_id"], **s} for s in supporters]
    inp = engine_input([hh], ms, ss, records, [policy or pack()])
    out = engine(inp)
    return out.results.to_pylist()[0], out.members.to_pylist(), out.findings.to_pylist()


def codes(findings) -> list[str]:
    return [f["code"] for f in findings]


def with_null_keys(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The tables with one key nulled two thirds of the way down each table (a
    household_id, person_id, supporter_id, every source table's record_id): the rows a
    reject names "(row N)", by their place in the bundle whatever the review's chunks."""
    keys = {"households": "household_id", "persons": "person_id", "supporters": "supporter_id"}
    out = {}
    for name, table in tables.items():
        column = keys.get(name, "record_id")
        if table.num_rows == 0 or column not in table.column_names:
            out[name] = table
            continue
        values = table[column].to_pylist()
        values[table.num_rows * 2 // 3] = None
        at = table.schema.get_field_index(column)
        out[name] = table.set_column(at, table.schema.field(at), pa.array(values, pa.string()))
    return out


def ingest_record(bundle: Path, household_ids: list[str]) -> list[str]:
    """An ingest.json in `bundle` saying the ingest quarantined rows of `household_ids`
    and did not hold them back (as `meanstest ingest` writes it, the part a review reads);
    returns the notes a review of the bundle keeps in summary.json."""
    import json

    from meanstest.affected import ingest_notes

    affected = {
        "count": len(household_ids),
        "held": False,
        "household_ids": household_ids,
        "not_in_bundle": 0,
        "unattributed_rows": {},
    }
    doc = {"affected_households": affected}
    (Path(bundle) / "ingest.json").write_text(json.dumps(doc), encoding="utf-8")
    notes = ingest_notes(bundle)
    assert len(notes) == 1 and all(h in notes[0] for h in household_ids)
    return notes


def lock_held_by_another(out: Path, what: str):
    """A folder's lock (outputs.LOCK) as another process holds it while writing there:
    its own opening of the file (flock refuses a second opening, in one process too),
    `what` ("review", "report", "ingest") written in it. Close it to let go."""
    import fcntl

    from meanstest.outputs import LOCK

    lock = open(out / LOCK, "a+", encoding="utf-8")  # noqa: SIM115 (closed by the caller)
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    lock.truncate(0)
    lock.write(what)
    lock.flush()
    return lock


def why_no_spark() -> str | None:
    """Why the Spark tests cannot run here, None when they can."""
    import importlib.util
    import os
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        return "pyspark not installed (pip install -e '.[spark]')"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "Spark needs Java 17: no JAVA_HOME and no java on PATH"
    return None


# a test that needs a Spark session (the `spark` fixture of conftest.py)
on_spark = pytest.mark.skipif(why_no_spark() is not None, reason=str(why_no_spark()))
