"""The review's output folder and its bundle folder, as an adversarial run used them
(session 23): a review killed over an earlier one, two reviews at once, a killed
regroup, a misnamed table file, odd --memory-limit and --out values."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from meanstest import synth
from meanstest.bundle import write_bundle
from meanstest.cli import main
from meanstest.errors import BundleError, MeansTestError
from meanstest.policy import default_library
from meanstest.report import write_report
from meanstest.review import LOCK, ReviewOptions, run_review
from meanstest.review.regroup import regroup


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    a, b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    write_bundle(synth.generate(60, seed=1), a)
    write_bundle(synth.generate(30, seed=2), b)
    return a, b


def _review(bundle, out, **kw):
    return run_review(bundle, out, default_library(), ReviewOptions(quiet=True, **kw))


def test_a_review_killed_over_an_earlier_one_leaves_no_folder_that_looks_complete(
    bundles, tmp_path
):
    """Killed while renaming its tables into place, a review left them beside the earlier
    review's summary.json, change lists and report.html, nothing marking the mix."""
    a, b = bundles
    out = tmp_path / "out"
    _review(a, out)
    write_report(out)
    env = {**os.environ, "MEANSTEST_FAULT_AT": "finish:partial"}
    command = [sys.executable, "-m", "meanstest.cli", "review", str(b), "--out", str(out)]
    assert subprocess.run(command, check=False, env=env, capture_output=True).returncode == -9
    assert not (out / "summary.json").exists() and not (out / "report.html").exists()
    assert not list(out.glob("changes_*.parquet"))
    with pytest.raises(MeansTestError, match="no summary.json"):
        write_report(out)
    summary = _review(b, out)  # the next run completes the folder
    assert summary["households_read"] == 30


def test_two_reviews_of_one_folder_at_once_are_refused(bundles, tmp_path):
    """Two at once mixed their outputs and corrupted rejects.parquet, one exiting 0."""
    import fcntl

    a, _ = bundles
    out = tmp_path / "out"
    out.mkdir()
    with open(out / LOCK, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(MeansTestError, match="another review is writing this folder"):
            _review(a, out)
    assert _review(a, out)["households_read"] == 60  # free again


def test_a_killed_regroup_leaves_a_folder_review_refuses(bundles, tmp_path):
    """Killed between two tables, regroup left a folder that review read with the rest
    of the tables absent, exit 0 and other results."""
    a, _ = bundles
    grouped = tmp_path / "grouped"
    env = {**os.environ, "MEANSTEST_FAULT_AT": "regroup:table"}
    command = [sys.executable, "-m", "meanstest.cli", "regroup", str(a), "--out", str(grouped)]
    assert subprocess.run(command, check=False, env=env, capture_output=True).returncode == -9
    with pytest.raises(BundleError, match="meanstest regroup of .* did not finish"):
        _review(grouped, tmp_path / "out")
    regroup(a, grouped, quiet=True)
    assert _review(grouped, tmp_path / "out")["households_read"] == 60


def test_a_misnamed_table_file_is_named_as_ignored(bundles, tmp_path, capsys):
    a, _ = bundles
    (a / "tax_incomes.parquet").write_bytes((a / "tax_income.parquet").read_bytes())
    try:
        assert main(["review", str(a), "--out", str(tmp_path / "out")]) == 0
    finally:
        (a / "tax_incomes.parquet").unlink()
    err = capsys.readouterr().err
    assert "tax_incomes.parquet is no table of DATA.md (did you mean tax_income.parquet?)" in err


@pytest.mark.parametrize(
    ("name", "advice"),
    [
        ("bank.feather", "rename it bank.arrow"),
        ("bank.PARQUET", "rename it bank.parquet"),
        ("bank.pq", "rename it bank.parquet"),
        ("Bank.parquet", "rename it bank.parquet"),
        ("bank.csv", "raw export becomes a table through `meanstest ingest`"),
    ],
)
def test_a_table_file_named_otherwise_is_refused_not_read_as_absent(
    bundles, tmp_path, name, advice, capsys
):
    """DATA.md names a table's file <table>.parquet or <table>.arrow. A blind test's
    bank.feather (an Arrow IPC file) and bank.PARQUET were read as no bank table: every
    household had no bank records, its vetoes gone, and the note said "if its export
    was lost". A file named as an absent table otherwise now refuses the bundle; beside
    the table's own file it is named as ignored."""
    a, _ = bundles
    bundle = tmp_path / "b"
    bundle.mkdir()
    for f in a.iterdir():
        target = bundle / (name if f.name == "bank.parquet" else f.name)
        target.write_bytes(f.read_bytes())
    with pytest.raises(BundleError, match=rf"{name}: table bank is read from bank\.parquet"):
        _review(bundle, tmp_path / "out")
    assert main(["review", str(bundle), "--out", str(tmp_path / "out")]) == 1
    assert advice in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.parquet").exists()
    (bundle / "bank.parquet").write_bytes((a / "bank.parquet").read_bytes())
    assert main(["review", str(bundle), "--out", str(tmp_path / "out")]) == 0
    assert f"{name} is no table of DATA.md (bank.parquet is the table read)" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("layout", ["bank/part-0.parquet", "bank.parquet/part-0.parquet"])
def test_a_table_written_as_a_folder_is_refused_not_read_as_absent(
    bundles, tmp_path, layout, capsys
):
    """A `bank/` folder (Spark's way of writing a table) was read as no bank table: a
    member with 9,000,000 yuan in the bank was TEKUN (checked_bank true), where Spark's
    review of the same folder vetoed (V04). A blind Spark check found it."""
    import shutil

    from meanstest.bundle import TableIsFolder, read_bundle

    a, _ = bundles
    bundle = tmp_path / "bundle"
    shutil.copytree(a, bundle)
    part = bundle / layout
    (bundle / "bank.parquet").rename(tmp_path / "bank.parquet")
    part.parent.mkdir()
    (tmp_path / "bank.parquet").rename(part)
    assert main(["review", str(bundle), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"{part.parent}: table bank is a folder of files" in err
    assert "--engine spark" in err
    assert not (tmp_path / "out" / "results.parquet").exists()
    with pytest.raises(TableIsFolder, match="table bank is a folder of files"):
        read_bundle(bundle)


def test_a_folder_named_after_a_table_beside_its_file_is_named_as_ignored(
    bundles, tmp_path, capsys
):
    """`meanstest ingest` into the raw exports' own folder (synth --raw lays them out in
    bank/, vehicle/, …) leaves bank/ beside bank.parquet: the file is the table, as it
    was before table folders were refused, and the review says the folder is ignored (a
    review of this session's diff found that case refused)."""
    import shutil

    import pyarrow.parquet as pq

    a, _ = bundles
    bundle = tmp_path / "bundle"
    shutil.copytree(a, bundle)
    (bundle / "bank").mkdir()
    shutil.copy(bundle / "bank.parquet", bundle / "bank" / "bank.parquet")
    (bundle / "bank" / "bank_export_00000.csv").write_text("id\n", encoding="utf-8")
    assert main(["review", str(bundle), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert (
        f"ignored: {bundle / 'bank'}/ is a folder, not a table file (bank.parquet is the table read)"
        in err
    )
    assert main(["review", str(a), "--out", str(tmp_path / "plain"), "--quiet"]) == 0
    for name in ("results", "members", "findings", "rejects"):
        got = pq.read_table(tmp_path / "out" / f"{name}.parquet")
        assert got.equals(pq.read_table(tmp_path / "plain" / f"{name}.parquet")), name


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "lots"])
def test_memory_limit_must_be_a_number_of_gib(bundles, tmp_path, value, capsys):
    a, _ = bundles
    with pytest.raises(SystemExit) as e:
        main(["review", str(a), "--out", str(tmp_path / "out"), "--memory-limit", value])
    assert e.value.code == 2
    assert f"{value!r} is not a number of GiB (0 or more)" in capsys.readouterr().err


def test_out_that_is_a_file_says_so(bundles, tmp_path, capsys):
    a, _ = bundles
    (tmp_path / "afile").write_text("x")
    assert main(["review", str(a), "--out", str(tmp_path / "afile")]) == 1
    assert "is a file: the review writes a folder of outputs" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_out_into_another_bundles_folder_is_refused(bundles, tmp_path, fmt):
    """--out equal to the bundle was refused; --out another bundle's folder was accepted,
    the outputs written beside that bundle's tables (a blind operator's check, D7 of
    2026-12-07). Refused before anything is written into it."""
    a, _ = bundles
    other = tmp_path / "other"
    write_bundle(synth.generate(5, seed=4), other, format=fmt)
    before = sorted(p.name for p in other.iterdir())
    with pytest.raises(MeansTestError) as e:
        _review(a, other)
    assert str(e.value).startswith(f"--out {other} holds a bundle's tables (households.{fmt}")
    assert "give another folder" in str(e.value)
    assert sorted(p.name for p in other.iterdir()) == before  # no lock, no output
    _review(a, tmp_path / "fresh")  # a folder without tables is taken


def test_an_error_of_the_command_holding_the_folder_is_its_own(tmp_path):
    """The folder's lock names its own file in its own write errors only: an ingest's
    full disk, raised while it held the lock, came out as ".review.lock: cannot write"
    (caught by the full-disk test before it was committed)."""
    from meanstest.outputs import only_writer_of

    with pytest.raises(OSError) as e, only_writer_of(tmp_path, "ingest"):
        raise OSError(28, "No space left on device", str(tmp_path / "bank.parquet"))
    assert e.value.filename == str(tmp_path / "bank.parquet")


def test_an_interrupted_atomic_write_leaves_no_tmp(tmp_path, monkeypatch):
    """A Ctrl-C while a change list was written left changes_new.parquet.tmp (3 of 300
    interrupted reviews, D3 of 2026-12-07): writing() removed its tmp on write errors
    only. An interrupt now removes it too, and goes on up."""
    import pyarrow as pa

    from meanstest.review import state

    def interrupted_write(table, where, **kwargs):
        where.write_bytes(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(state.pq, "write_table", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        state.write_parquet_atomic(pa.table({"a": [1]}), tmp_path / "changes_new.parquet")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("engine", ["fast", "spark"])
@pytest.mark.parametrize("layout", ["file", "folder"])
def test_out_into_a_bundle_is_refused_by_either_engine(bundles, tmp_path, capsys, engine, layout):
    """The blind recheck of D7: the single machine refused --out into another bundle's
    folder, `--engine spark` wrote its outputs there, exit 0. Both refuse it now, before
    Spark starts, whether the bundle's table is a file or a folder as Spark writes one."""
    a, _ = bundles
    other = tmp_path / "other"
    write_bundle(synth.generate(5, seed=4), other)
    if layout == "folder":  # bank as Spark writes a table: a folder of part files
        (other / "bank").mkdir()
        (other / "bank.parquet").rename(other / "bank" / "part-00000.parquet")
    before = sorted(p.name for p in other.iterdir())
    argv = ["review", str(a), "--out", str(other), "--engine", engine, "--quiet"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"--out {other} holds a bundle's tables (households.parquet" in err, err
    assert ("bank/" in err) == (layout == "folder")
    assert sorted(p.name for p in other.iterdir()) == before


def test_an_ingest_into_a_review_folder_is_refused(bundles, tmp_path, capsys):
    """`ingest --out` a finished review's folder wrote the bundle's tables beside
    results.parquet (the same blind recheck)."""
    from meanstest.rawsynth import write_raw

    out = tmp_path / "review"
    _review(bundles[0], out)
    manifest = write_raw(tmp_path / "raw", synth.generate(5, seed=4), seed=4)
    before = sorted(p.name for p in out.iterdir())
    assert main(["ingest", str(manifest), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"--out {out} holds a review's outputs (summary.json, results.parquet" in err, err
    assert sorted(p.name for p in out.iterdir()) == before
