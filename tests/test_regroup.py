"""`meanstest regroup` (meanstest/review/regroup.py): an ingested bundle's rows in
department order become a bundle laid out by blocks of households, which reviews
(single machine beyond memory, Spark) then read in place; same rows, same outputs."""

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from meanstest import cli, schema, synth
from meanstest.conform import conform_tables
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
    bank = pq.ParquetFile(root / "grouped" / "bank.parquet")
    last = bank.read_row_group(bank.num_row_groups - 1)["person_id"].to_pylist()
    assert "NOBODY" in last
    assert doc["rows_of_no_household"] == 2
    # the person who is a member of two households (_scattered), in two blocks: his
    # source rows are in the last row group too, not in his first block's
    twice = persons["person_id"][persons.num_rows - 1].as_py()
    blocks = {
        g
        for g in range(hh.num_row_groups)
        for h in hh.read_row_group(g)["household_id"].to_pylist()
        if h
        in set(
            pc.filter(persons["household_id"], pc.equal(persons["person_id"], twice)).to_pylist()
        )
    }
    shared = sum(
        pq.read_table(root / "grouped" / f"{t}.parquet")["person_id"].to_pylist().count(twice)
        for t in schema.SOURCE_TABLES
    )
    assert len(blocks) > 1
    assert set(last) <= {"NOBODY", twice}
    assert doc["rows_of_people_in_several_blocks"] == shared > 0
    on_disk = json.loads((root / "grouped" / "regroup.json").read_text(encoding="utf-8"))
    assert on_disk == doc and len(doc["tables"]["bank"]["sha256"]) == 64


def _same_review(a_out, a: dict, b_out, b: dict) -> None:
    """Two reviews' four outputs are the same rows (a reject's "(row N)" aside) and
    their summaries the same but for chunking."""
    for name in OUTPUTS:
        got = pq.read_table(b_out / f"{name}.parquet")
        want = pq.read_table(a_out / f"{name}.parquet")
        assert _without_row_numbers(got) == _without_row_numbers(want), name
    drop = ("chunks", "chunk_size")
    assert {k: v for k, v in a.items() if k not in drop} == {
        k: v for k, v in b.items() if k not in drop
    }


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
    _same_review(tmp_path / "a", a, tmp_path / "b", b)
    assert a["rejected"] > 0 and a["orphan_rows"] == 1 and a["unmatched_source_rows"] == 1


def test_the_command_line(bundles, tmp_path, capsys):
    root, _ = bundles
    assert cli.main(["regroup", str(root / "scattered"), "--out", str(tmp_path / "g"),
                     "--block", "100"]) == 0  # fmt: skip
    said = capsys.readouterr()
    assert "2 blocks of up to 100 households" in said.out and "regroup.json" in said.out
    # its steps in its own words: it said "planning blocks", then "planning chunks"
    assert "planning blocks: indexing" in said.err and "chunk" not in said.err


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
    (tmp_path / "out" / "regroup.json").write_text("{}", encoding="utf-8")  # an earlier one
    doc = regroup(tmp_path / "arrow", tmp_path / "out", block=50, quiet=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [f"{t}.parquet" for t in schema.TABLES] + ["regroup.json"]
    )
    for name, table in tables.items():
        assert _multiset(pq.read_table(tmp_path / "out" / f"{name}.parquet")) == _multiset(table)
    assert doc["blocks"] == 4 and inplace.plan(tmp_path / "out", 4) is not None


# Districts joined into a province -------------------------------------------------------


def _district(seed: int, prefix: str, shared: int = 0) -> dict[str, pa.Table]:
    """A scattered district whose household_ids start with `prefix`, but for its first
    `shared` households, whose start with "A-" (district A's, whose ids are mostly the
    same before the prefix: a household in two districts). Person IDs are left alone:
    a person of two districts is real."""
    t = _scattered(seed)
    other = t["households"]["household_id"].slice(0, shared)
    for name in ("households", "persons", "supporters"):
        hid = t[name]["household_id"]
        renamed = pc.if_else(
            pc.is_in(hid, value_set=other.combine_chunks()),
            pc.binary_join_element_wise("A-", hid, ""),
            pc.binary_join_element_wise(prefix, hid, ""),
        )
        at = t[name].schema.get_field_index("household_id")
        t[name] = t[name].set_column(at, "household_id", renamed)
    return t


def test_districts_are_joined_into_one_bundle_reviewed_like_their_tables_end_to_end(
    tmp_path, capsys
):
    """`meanstest regroup D1 D2 D3 --out P`: the province bundle, reviewed, gives the
    outputs of one bundle whose every table is the districts' tables end to end (a
    household in two districts rejected in both, as any duplicate household_id); an
    Arrow district and one without a vehicle table join in; every row is kept once and
    regroup.json names each district's file, digest and rows."""
    from meanstest.bundle import write_bundle

    districts = [_district(3, "A-"), _district(4, "B-", shared=2), _district(6, "C-")]
    del districts[2]["vehicle"]
    for k, tables in enumerate(districts):
        write_bundle(tables, tmp_path / f"d{k}", format="arrow" if k == 1 else "parquet")
    (tmp_path / "d2" / "vehicle.parquet").unlink(missing_ok=True)
    folders = [tmp_path / f"d{k}" for k in range(3)]
    doc = regroup(folders, tmp_path / "province", block=64, quiet=False)
    said = capsys.readouterr().err
    assert "note: 2 household_ids are in more than one district (e.g. A-" in said
    assert doc["household_ids_in_several_districts"] == 2

    joined = {
        name: pa.concat_tables([d.get(name, schema.empty_table(name)) for d in districts])
        for name in schema.TABLES
    }
    write_bundle(conform_tables(joined), tmp_path / "end-to-end")
    for name in schema.TABLES:
        got = pq.read_table(tmp_path / "province" / f"{name}.parquet")
        assert _multiset(got) == _multiset(conform_tables(joined)[name]), name
        record = doc["tables"][name]
        assert [f["rows"] for f in record["files"]] == [
            len(d[name]) for d in districts if name in d
        ]
        assert record["rows_in"] == record["rows_out"] == joined[name].num_rows
    assert doc["bundles"] == [str(f.resolve()) for f in folders]

    a = run_review(
        tmp_path / "end-to-end", tmp_path / "a", default_library(), ReviewOptions(quiet=True)
    )
    b = run_review(tmp_path / "province", tmp_path / "b", default_library(),
                   ReviewOptions(quiet=True, chunk_size=64, spool=True))  # fmt: skip
    _same_review(tmp_path / "a", a, tmp_path / "b", b)
    rejects = pq.read_table(tmp_path / "b" / "rejects.parquet").to_pylist()
    ids = [set(d["households"]["household_id"].drop_null().to_pylist()) for d in districts]
    both = ids[0] & ids[1]
    assert both and both == set(districts[1]["households"]["household_id"][:2].to_pylist())
    for hid in both:  # every households row of it rejected: one in each district
        assert sum(r["household_id"] == hid for r in rejects) == 2
    files = sorted(p.name for p in (tmp_path / "province").iterdir())
    assert files == sorted([f"{t}.parquet" for t in schema.TABLES] + ["regroup.json"])
    grouped = pq.ParquetFile(tmp_path / "province" / "households.parquet")
    assert doc["blocks"] >= 7 and grouped.num_row_groups in (doc["blocks"], doc["blocks"] + 1)
    for g in range(grouped.num_row_groups):  # a block of at most 64 households
        ids = grouped.read_row_group(g, columns=["household_id"]).column(0).drop_null()
        assert len(set(ids.to_pylist())) <= 64


def test_joined_districts_keep_their_ingest_records_and_say_them(tmp_path, capsys):
    """Each district's ingest.json and quarantine.parquet go to districts/<k>-<name>/
    (the province has none of its own), and the review's quarantine note is each
    district's, named by its folder."""
    from meanstest.affected import quarantine_note
    from meanstest.bundle import write_bundle

    for k, name in enumerate(("east", "west")):
        write_bundle(_district(3 + k, f"{name}-"), tmp_path / name)
    record = {"affected_households": {"count": 1, "held": False, "household_ids": ["west-HH1"]}}
    (tmp_path / "west" / "ingest.json").write_text(json.dumps(record), encoding="utf-8")
    pq.write_table(pa.table({"file": ["raw.csv"]}), tmp_path / "west" / "quarantine.parquet")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "ingest.json").write_text("{}", encoding="utf-8")  # a stale one
    assert cli.main(["regroup", str(tmp_path / "east"), str(tmp_path / "west"), "--out",
                     str(tmp_path / "p"), "--quiet"]) == 0  # fmt: skip
    doc = json.loads((tmp_path / "p" / "regroup.json").read_text(encoding="utf-8"))
    assert [p["file"] for p in doc["provenance"]] == [
        "districts/2-west/ingest.json",
        "districts/2-west/quarantine.parquet",
    ]
    assert not (tmp_path / "p" / "ingest.json").exists()
    assert (tmp_path / "p" / "districts" / "2-west" / "ingest.json").read_text(
        encoding="utf-8"
    ) == json.dumps(record)
    said = quarantine_note(tmp_path / "p")
    assert said.startswith("note: districts/2-west: the ingest of this bundle quarantined rows")
    assert "west-HH1" in said


def test_a_bundle_given_twice_is_refused(bundles, tmp_path):
    root, _ = bundles
    with pytest.raises(
        BundleError, match=r"the same bundle is given twice \(.*scattered and .*scattered\)"
    ):
        regroup([root / "scattered", root / "scattered"], tmp_path / "p", quiet=True)
    assert not (tmp_path / "p").exists()


def test_a_province_regrouped_again_or_joined_again_keeps_its_districts_records(tmp_path):
    """A province regrouped with another --block, or joined into a larger one, lost
    every district's ingest record silently (a reviewer): its districts/ is copied
    whole, and the quarantine note still names the district."""
    from meanstest.affected import quarantine_note
    from meanstest.bundle import write_bundle

    for k, name in enumerate(("east", "west", "north")):
        write_bundle(_district(3 + k, f"{name}-"), tmp_path / name)
    record = {"affected_households": {"count": 1, "held": False, "household_ids": ["west-HH1"]}}
    (tmp_path / "west" / "ingest.json").write_text(json.dumps(record), encoding="utf-8")
    regroup([tmp_path / "east", tmp_path / "west"], tmp_path / "p", block=50, quiet=True)

    again = regroup(tmp_path / "p", tmp_path / "p2", block=70, quiet=True)
    assert [p["file"] for p in again["provenance"]] == ["districts/2-west/ingest.json"]
    assert quarantine_note(tmp_path / "p2") == quarantine_note(tmp_path / "p")
    assert quarantine_note(tmp_path / "p").startswith("note: districts/2-west: ")

    larger = regroup([tmp_path / "p", tmp_path / "north"], tmp_path / "q", quiet=True)
    assert [p["file"] for p in larger["provenance"]] == [
        "districts/1-p/districts/2-west/ingest.json"
    ]
    said = quarantine_note(tmp_path / "q")
    assert said.startswith("note: districts/1-p/districts/2-west: ") and "west-HH1" in said


def test_a_district_with_large_string_ids_joins(tmp_path):
    """ID columns written as large_string (as Polars writes Arrow) failed the plan with
    a raw ArrowInvalid (a reviewer); the review itself reads them."""
    from meanstest.bundle import write_bundle

    write_bundle(_district(3, "A-"), tmp_path / "a")
    large = {}
    for name, table in _district(4, "B-").items():
        fields = [
            f.with_type(pa.large_string()) if f.type == pa.string() else f for f in table.schema
        ]
        large[name] = table.cast(pa.schema(fields))
    (tmp_path / "b").mkdir()
    for name, table in large.items():
        pq.write_table(table, tmp_path / "b" / f"{name}.parquet")
    doc = regroup([tmp_path / "a", tmp_path / "b"], tmp_path / "p", block=64, quiet=True)
    assert doc["tables"]["persons"]["rows_out"] == sum(
        len(d["persons"]) for d in (_district(3, "A-"), large)
    )
    one = regroup(tmp_path / "b", tmp_path / "b-grouped", block=64, quiet=True)
    assert one["tables"]["households"]["rows_out"] == large["households"].num_rows


def test_a_folder_holding_another_bundle_is_not_written_over(bundles, tmp_path):
    """regroup wrote over a bundle already in the output folder when it had the same
    tables, and said nothing (an operator's blind check); an earlier regroup's output,
    or a killed regroup's, is still replaced."""
    import shutil

    root, _ = bundles
    shutil.copytree(root / "scattered", tmp_path / "other")
    before = {p.name: p.read_bytes() for p in (tmp_path / "other").iterdir()}
    with pytest.raises(BundleError, match="holds a bundle regroup did not write"):
        regroup(root / "scattered", tmp_path / "other", block=40, quiet=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "other").iterdir()} == before
    regroup(root / "scattered", tmp_path / "again", block=40, quiet=True)
    regroup(root / "scattered", tmp_path / "again", block=50, quiet=True)  # replaced
    assert (
        json.loads((tmp_path / "again" / "regroup.json").read_text())["households_per_block"] == 50
    )
