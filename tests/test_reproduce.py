"""Auditor reproduction (issue 6): a review reproduces; tampering, changed input or policy show."""

import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from meanstest import synth
from meanstest.cli import main
from meanstest.policy import default_library, load_library
from meanstest.reproduce import reproduce_review
from meanstest.review import ReviewOptions, run_review

write_bundle = pytest.importorskip("meanstest.bundle").write_bundle


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    bundle = tmp_path_factory.mktemp("bundle")
    write_bundle(synth.generate(120, seed=11, bad_fraction=0.05), bundle)
    out = tmp_path_factory.mktemp("review")
    run_review(bundle, out, default_library(), ReviewOptions(quiet=True))
    return bundle, out


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_review_reproduces_exactly(reviewed, capsys):
    bundle, out = reviewed
    ok, problems = reproduce_review(out, bundle)
    assert problems == [] and ok == pq.read_table(out / "results.parquet").num_rows
    assert main(["reproduce", str(out), "--bundle", str(bundle)]) == 0


def test_tampered_result_is_reported(reviewed, tmp_path, capsys):
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    results = pq.read_table(out2 / "results.parquet")
    benefit = results["benefit"].to_pylist()
    benefit[3] += 100
    results = results.set_column(
        results.schema.get_field_index("benefit"), "benefit", pa.array(benefit, pa.int64())
    )
    pq.write_table(results, out2 / "results.parquet")
    _, problems = reproduce_review(out2, bundle)
    hid = results["household_id"][3].as_py()
    assert [(p.household_id, p.kind, p.columns) for p in problems] == [
        (hid, "result differs", ["benefit"])
    ]
    assert main(["reproduce", str(out2), "--bundle", str(bundle)]) == 1
    assert hid in capsys.readouterr().out


def test_changed_input_is_reported(reviewed, tmp_path):
    bundle, out = reviewed
    b2 = _copy(bundle, tmp_path / "bundle")
    persons = pq.read_table(b2 / "persons.parquet")
    hid = pq.read_table(out / "results.parquet")["household_id"][0].as_py()
    mask = pc.equal(persons["household_id"], hid)
    tuition = pc.if_else(mask, pc.add(persons["tuition"], 1), persons["tuition"])
    persons = persons.set_column(persons.schema.get_field_index("tuition"), "tuition", tuition)
    pq.write_table(persons, b2 / "persons.parquet")
    _, problems = reproduce_review(out, b2)
    assert (hid, "input changed") in [(p.household_id, p.kind) for p in problems]


def test_changed_policy_is_reported(reviewed, tmp_path):
    bundle, out = reviewed
    lib = _copy(default_library().path, tmp_path / "policies")
    pack = lib / "150422-2024.toml"
    pack.write_text(
        pack.read_text(encoding="utf-8").replace("dibao_rural = 57000", "dibao_rural = 57100"),
        encoding="utf-8",
    )
    _, problems = reproduce_review(out, bundle, load_library(lib))
    assert problems and {p.kind for p in problems} >= {"policy changed"}
