"""`meanstest regroup` (meanstest/review/regroup.py): an ingested bundle's rows in
department order become a bundle laid out by blocks of households, which reviews
(single machine beyond memory, Spark) then read in place; same rows, same outputs."""

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from meanstest import cli, schema, synth
from meanstest.bundle import conform_tables
from meanstest.errors import BundleError
from meanstest.policy import default_library
from meanstest.review import ReviewOptions, run_review, stream
from meanstest.review.plan import bundle_files, id_tables, make_plan
from meanstest.review.regroup import regroup
from meanstest.spark import inplace

OUTPUTS = ("results", "members", "findings", "rejects")


def _scattered(seed: int = 5) -> dict[str, pa.Table]:
    """A district whose every table is in a random order (as department exports are,
    each in its own), with bad rows, a null household_id, a member of no household, a
    source row of nobody and a person who is a member of two households."""
    t = conform_tables(synth.generate(150, seed=seed, bad_fraction=0.05))
    hh = t["households"]
    t["households"] = pa.concat_tables(
        [hh, hh.slice(0, 1).set_column(0, "household_id", pa.nulls(1, pa.string()))]
    )
    persons = t["persons"]
    orphan = persons.slice(0, 1).set_column(0, "household_id", pa.array(["NO-SUCH-HOME"]))
    twice = persons.slice(0, 1).set_column(0, "household_id", hh["household_id"].slice(140, 1))
    t["persons"] = pa.concat_tables([persons, orphan, twice])
    bank = t["bank"]
    t["bank"] = pa.concat_tables(
        [bank, bank.slice(0, 1).set_column(0, "person_id", pa.array(["NOBODY"]))]
    )
    rng = np.random.default_rng(seed)
    return {name: x.take(pa.array(rng.permutation(x.num_rows))) for name, x in t.items()}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("regroup")
    scattered = root / "scattered"  # row groups of 40 rows, as an ingest's are of its batches
    scattered.mkdir()
    for name, table in _scattered().items():
        pq.write_table(table, scattered / f"{name}.parquet", row_group_size=40)
    doc = regroup(root / "scattered", root / "grouped", block=40, quiet=True)
    return root, doc


def _multiset(table: pa.Table) -> list:
    return sorted(table.to_pylist(), key=repr)


def test_every_row_is_kept_once(bundles):
    root, doc = bundles
    for table in schema.TABLES:
        before = pq.read_table(root / "scattered" / f"{table}.parquet")
        after = pq.read_table(root / "grouped" / f"{table}.parquet")
        assert _multiset(after) == _multiset(before), table
        assert (
            doc["tables"][table]["rows_in"] == doc["tables"][table]["rows_out"] == before.num_rows
        )


def test_the_regrouped_bundle_is_read_in_place_and_the_scattered_one_is_not(bundles):
    root, doc = bundles
    assert doc["blocks"] == 4  # 151 households rows in blocks of 40
    for name, want in ((root / "scattered", None), (root / "grouped", 4)):
        files = bundle_files(name)
        found = stream.layout(files, make_plan(id_tables(files), 40))
        if want is None:
            assert found is None
        else:
            # a chunk also reads the row groups of its supporters' and twice-members'
            # source rows, placed in the block of their own (first) household
            assert found is not None and found.reads <= stream.STREAM_READS * found.rows
    assert inplace.plan(root / "scattered", 4) is None
    planned = inplace.plan(root / "grouped", 4)
    assert planned is not None and len(planned.chunks) == 4


def test_each_block_is_a_row_group_and_rows_of_nobody_come_last(bundles):
    root, doc = bundles
    hh = pq.ParquetFile(root / "grouped" / "households.parquet")
    assert [hh.metadata.row_group(g).num_rows for g in range(hh.num_row_groups)] == [40, 40, 40, 31]
    persons = pq.read_table(root / "grouped" / "persons.parquet")
    assert persons["household_id"][-1].as_py() == "NO-SUCH-HOME"
    assert pq.read_table(root / "grouped" / "bank.parquet")["person_id"][-1].as_py() == "NOBODY"
    assert doc["rows_of_no_household"] == 2
    on_disk = json.loads((root / "grouped" / "regroup.json").read_text(encoding="utf-8"))
    assert on_disk == doc and len(doc["tables"]["bank"]["sha256"]) == 64


def _without_row_numbers(table: pa.Table) -> list:
    rows = table.to_pylist()
    for r in rows:
        if "reasons" in r:
            r["reasons"] = [re.sub(r"\(row \d+\)", "(row N)", x) for x in r["reasons"]]
    return sorted(rows, key=repr)


@pytest.mark.parametrize("options", [ReviewOptions(quiet=True),
                                     ReviewOptions(quiet=True, chunk_size=40, spool=True)],
                         ids=["in-memory", "streamed"])  # fmt: skip
def test_reviews_of_both_bundles_give_the_same_outputs(bundles, tmp_path, options):
    root, _ = bundles
    a = run_review(root / "scattered", tmp_path / "a", default_library(), ReviewOptions(quiet=True))
    b = run_review(root / "grouped", tmp_path / "b", default_library(), options)
    for name in OUTPUTS:
        got = pq.read_table(tmp_path / "b" / f"{name}.parquet")
        want = pq.read_table(tmp_path / "a" / f"{name}.parquet")
        assert _without_row_numbers(got) == _without_row_numbers(want), name
    drop = ("chunks", "chunk_size")
    assert {k: v for k, v in a.items() if k not in drop} == {
        k: v for k, v in b.items() if k not in drop
    }
    assert a["rejected"] > 0 and a["orphan_rows"] == 1 and a["unmatched_source_rows"] == 1


def test_the_command_line(bundles, tmp_path, capsys):
    root, _ = bundles
    assert cli.main(["regroup", str(root / "scattered"), "--out", str(tmp_path / "g"),
                     "--block", "100"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "2 blocks of up to 100 households" in out and "regroup.json" in out


def test_bad_arguments_are_refused_before_anything_is_written(bundles, tmp_path):
    root, _ = bundles
    with pytest.raises(BundleError, match="another folder"):
        regroup(root / "scattered", root / "scattered", quiet=True)
    with pytest.raises(BundleError, match="at least 1 household"):
        regroup(root / "scattered", tmp_path / "x", block=0, quiet=True)
    with pytest.raises(BundleError, match="not found"):
        regroup(tmp_path / "nowhere", tmp_path / "y", quiet=True)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "vehicle.parquet").write_bytes(b"another bundle's")
    no_vehicles = tmp_path / "no-vehicles"
    no_vehicles.mkdir()
    for name in schema.TABLES:
        if name != "vehicle":
            (no_vehicles / f"{name}.parquet").write_bytes(
                (root / "scattered" / f"{name}.parquet").read_bytes()
            )
    with pytest.raises(BundleError, match="vehicle.parquet: the output folder holds a table"):
        regroup(no_vehicles, tmp_path / "z", quiet=True)
    assert sorted(p.name for p in (tmp_path / "z").iterdir()) == ["vehicle.parquet"]


def test_an_ingests_record_goes_with_the_regrouped_bundle(tmp_path):
    """ingest.json and quarantine.parquet (where the rows came from, and the rows that
    could not be mapped) are copied beside the regrouped tables; a stale one of another
    bundle is removed; regroup.json names the bundle by its full path."""
    from meanstest.bundle import write_bundle

    write_bundle(_scattered(seed=3), tmp_path / "ingested")
    (tmp_path / "ingested" / "ingest.json").write_text('{"sources": []}', encoding="utf-8")
    pq.write_table(pa.table({"file": ["raw.csv"]}), tmp_path / "ingested" / "quarantine.parquet")
    doc = regroup(tmp_path / "ingested", tmp_path / "g", block=50, quiet=True)
    for name in ("ingest.json", "quarantine.parquet"):
        got, want = tmp_path / "g" / name, tmp_path / "ingested" / name
        assert got.read_bytes() == want.read_bytes(), name
    assert [p["file"] for p in doc["provenance"]] == ["ingest.json", "quarantine.parquet"]
    assert doc["bundle"] == str((tmp_path / "ingested").resolve())
    write_bundle(_scattered(seed=4), tmp_path / "plain")  # no ingest record
    again = regroup(tmp_path / "plain", tmp_path / "g", block=50, quiet=True)
    assert again["provenance"] == [] and not (tmp_path / "g" / "ingest.json").exists()
    assert not (tmp_path / "g" / "quarantine.parquet").exists()


def test_an_arrow_bundle_is_regrouped_into_parquet(tmp_path):
    from meanstest.bundle import write_bundle

    tables = _scattered(seed=9)
    write_bundle(tables, tmp_path / "arrow", format="arrow")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "bank.arrow").write_bytes(b"stale")  # would make bank twice
    doc = regroup(tmp_path / "arrow", tmp_path / "out", block=50, quiet=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [f"{t}.parquet" for t in schema.TABLES] + ["regroup.json"]
    )
    for name, table in tables.items():
        assert _multiset(pq.read_table(tmp_path / "out" / f"{name}.parquet")) == _multiset(table)
    assert doc["blocks"] == 4 and inplace.plan(tmp_path / "out", 4) is not None
