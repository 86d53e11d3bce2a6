"""Auditor reproduction (issues 6 and 14): a review reproduces; tampering, changed input or
policy show; a rank moved by other households is reported apart, not as a discrepancy."""

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
    ok, problems, moved = reproduce_review(out, bundle)
    assert problems == [] and moved == [] and ok == pq.read_table(out / "results.parquet").num_rows
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
    _, problems, _ = reproduce_review(out2, bundle)
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
    _, problems, _ = reproduce_review(out, b2)
    assert (hid, "input changed") in [(p.household_id, p.kind) for p in problems]


def test_changed_policy_is_reported(reviewed, tmp_path):
    bundle, out = reviewed
    lib = _copy(default_library().path, tmp_path / "policies")
    pack = lib / "150422-2024.toml"
    pack.write_text(
        pack.read_text(encoding="utf-8").replace("dibao_rural = 57000", "dibao_rural = 57100"),
        encoding="utf-8",
    )
    _, problems, _ = reproduce_review(out, bundle, load_library(lib))
    assert problems and {p.kind for p in problems} >= {"policy changed"}


def _results(out):
    return pq.read_table(out / "results.parquet")


def test_rank_moved_by_another_household_is_not_a_discrepancy(reviewed, tmp_path, capsys):
    """One household's index rises: it is `input changed`; the households it overtakes
    reproduce in everything but rank, and are listed apart with both ranks."""
    bundle, out = reviewed
    results = _results(out).to_pylist()
    last = max(results, key=lambda r: r["rank"])  # the least difficult household
    b2 = _copy(bundle, tmp_path / "bundle")
    persons = pq.read_table(b2 / "persons.parquet")
    mask = pc.equal(persons["household_id"], last["household_id"])
    health = pc.if_else(mask, pa.scalar(6, pa.int8()), persons["health"])  # 重度残疾
    persons = persons.set_column(persons.schema.get_field_index("health"), "health", health)
    pq.write_table(persons, b2 / "persons.parquet")

    ok, problems, moved = reproduce_review(out, b2)
    assert [(p.household_id, p.kind) for p in problems] == [(last["household_id"], "input changed")]
    assert moved, "some households moved down one place"
    assert all(m.recomputed == m.stored + 1 for m in moved)
    assert ok == len(results) - 1

    assert main(["reproduce", str(out), "--bundle", str(b2)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{last['household_id']}: input changed"
    noun = "household" if len(moved) == 1 else "households"
    assert lines[1].startswith(f"rank only: {len(moved):,} {noun} reproduced but moved")
    assert f"{moved[0].household_id} ({moved[0].stored} → {moved[0].recomputed})" in lines[1]
    assert lines[2] == f"reproduced {ok:,} households; 1 discrepancy"


def test_tampered_ranks_are_discrepancies(reviewed, tmp_path):
    """Ranks that do not rank the stored rows themselves were edited: each is reported."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    results = _results(out2)
    rank = results["rank"].to_pylist()
    i, j = rank.index(1), rank.index(2)
    rank[i], rank[j] = 2, 1
    results = results.set_column(
        results.schema.get_field_index("rank"), "rank", pa.array(rank, pa.int64())
    )
    pq.write_table(results, out2 / "results.parquet")
    _, problems, moved = reproduce_review(out2, bundle)
    assert moved == []
    assert sorted((p.household_id, p.kind, tuple(p.columns)) for p in problems) == sorted(
        (results["household_id"][k].as_py(), "result differs", ("rank",)) for k in (i, j)
    )
