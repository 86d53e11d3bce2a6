"""input_digest (docs/digests.md): the Arrow implementation equals a naive per-row script."""

import datetime as dt
import hashlib

import builders
import hypothesis.strategies as st
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from meanstest.kernels.canonical import group_texts

from meanstest import schema, synth
from meanstest.bundle import read_bundle, write_bundle
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


@pytest.fixture(scope="module")
def district():
    """A synthetic district: persons in several households, supporters who are members
    elsewhere, shared source rows."""
    return synth.generate(150, seed=5)


def test_input_digest_equals_naive_script_on_a_synthetic_district(district):
    hh = district["households"]
    got = input_digests(
        hh,
        district["persons"],
        district["supporters"],
        {t: district[t] for t in schema.SOURCE_TABLES},
    )
    for i, hid in enumerate(hh["household_id"].to_pylist()):
        assert got[i] == naive_digest(hid, district), hid


def _shuffled(table, seed):
    order = np.random.default_rng(seed).permutation(table.num_rows)
    return table.take(pa.array(order))


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_input_digests_do_not_depend_on_format_or_row_order(district, tmp_path, fmt):
    """A bundle written as Parquet or Arrow IPC, rows shuffled in every table, gives every
    household the same input_digest (the canonical text sorts its lines)."""
    shuffled = {name: _shuffled(table, k) for k, (name, table) in enumerate(district.items())}
    write_bundle(shuffled, tmp_path, format=fmt)
    back = read_bundle(tmp_path)

    def digests(tables):
        got = input_digests(
            tables["households"],
            tables["persons"],
            tables["supporters"],
            {t: tables[t] for t in schema.SOURCE_TABLES},
        )
        return dict(zip(tables["households"]["household_id"].to_pylist(), got))

    assert digests(back) == digests(district)


# The kernel that sorts and joins each household's lines ----------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.binary(max_size=12).filter(lambda b: b"\n" not in b), max_size=6)))
def test_group_texts_sort_lines_by_bytes_and_end_each_with_lf(groups):
    lines = [line for g in groups for line in g]
    offsets = np.cumsum([0] + [len(x) for x in lines]).astype(np.int64)
    data = np.frombuffer(b"".join(lines) or b"\0", dtype=np.uint8)
    bounds = np.cumsum([0] + [len(g) for g in groups]).astype(np.int64)
    refs = np.arange(len(lines), dtype=np.int64)[::-1].copy()  # refs in any order
    text, starts = group_texts(offsets, data, refs, bounds)
    for k, g in enumerate(groups):
        mine = [lines[r] for r in refs[bounds[k] : bounds[k + 1]]]
        want = b"".join(x + b"\n" for x in sorted(mine))
        assert text[starts[k] : starts[k + 1]].tobytes() == want
