"""input_digest (docs/digests.md): the Arrow implementation equals a naive per-row script."""

import datetime as dt
import hashlib

import builders
import pyarrow.parquet as pq
import pytest

from meanstest import schema
from meanstest.digest import input_digests

EXAMPLE = str(builders.EXAMPLE / "bundle")


def _field(v):
    """The canonical text of one value, written the way an auditor's script would."""
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, dt.date)):
        return str(v) if isinstance(v, int) else v.isoformat()
    if isinstance(v, list):
        return ",".join(_field(x) for x in v)
    return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def naive_digest(hid, tables):
    """Twenty lines an auditor can write from the README: the reference of input_digest."""
    lines = []
    people = set()
    for name in schema.CASE_TABLES:
        for row in tables[name].to_pylist():
            if row["household_id"] == hid:
                lines.append("\t".join([name] + [_field(v) for v in row.values()]))
                people.add(row.get("person_id") or row.get("supporter_id"))
    for name in schema.SOURCE_TABLES:
        for row in tables[name].to_pylist():
            if row["person_id"] in people:
                lines.append("\t".join([name] + [_field(v) for v in row.values()]))
    text = "".join(line + "\n" for line in sorted(lines, key=lambda s: s.encode()))
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def example():
    return {t: pq.read_table(f"{EXAMPLE}/{t}.parquet") for t in schema.TABLES}


def test_input_digest_equals_naive_script(example):
    hh = example["households"].slice(0, 60)
    fast = input_digests(
        hh, example["persons"], example["supporters"], {t: example[t] for t in schema.SOURCE_TABLES}
    )
    for i, hid in enumerate(hh["household_id"].to_pylist()):
        assert fast[i] == naive_digest(hid, example), hid


def test_input_digest_changes_with_any_source_value(example):
    hh = example["households"].slice(0, 5)
    sources = {t: example[t] for t in schema.SOURCE_TABLES}
    before = input_digests(hh, example["persons"], example["supporters"], sources)
    bank = example["bank"].to_pylist()
    target = hh["household_id"][0].as_py()
    pid = next(
        p["person_id"] for p in example["persons"].to_pylist() if p["household_id"] == target
    )
    bank.append(
        {
            "person_id": pid,
            "institution": "x\tbank",
            "product": "deposit",
            "balance": 1,
            "interest": 0,
            "record_id": "NEW",
        }
    )
    sources["bank"] = example["bank"].from_pylist(bank, schema=example["bank"].schema)
    after = input_digests(hh, example["persons"], example["supporters"], sources)
    assert after[0] != before[0]
    assert after[1:] == before[1:]
