"""Bundles the Spark review reads as the single machine does (DATA.md, meanstest.bundle:
the reader's rules, whatever the way the review takes): the shuffled way's reading of
columns of no values, tables given as folders of files, and the note after a review
that reads the bundle again.

Each test reviews a tiny bundle with `meanstest review` and on conftest.py's local[2]
session, and compares the outputs row for row."""

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow

pytest.importorskip("pyspark", reason="pyspark not installed (pip install -e '.[spark]')")
if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
    pytest.skip("Spark needs Java 17: no JAVA_HOME and no java on PATH", allow_module_level=True)

from meanstest import schema, synth
from meanstest.bundle import write_bundle
from meanstest.conform import conform_tables
from meanstest.errors import MeansTestError
from meanstest.policy import default_library
from meanstest.review import ReviewOptions, run_review

OUTPUTS = ("results", "members", "findings", "rejects")
DROP = ("chunks", "chunk_size")  # the only keys of summary.json the engines may differ in


def _rows(table: pa.Table) -> list:
    return sorted(table.to_pylist(), key=repr)


def _output(folder: Path) -> pa.Table:
    """A Spark output folder's rows, as meanstest.outputs reads it."""
    return pq.ParquetDataset(folder, partitioning=None).read()


def _same_outputs(single_out: Path, single: dict, spark_out: Path, got: dict) -> None:
    """The Spark review's outputs and summary are the single machine's, row for row."""
    assert {k: v for k, v in got.items() if k not in DROP} == {
        k: v for k, v in single.items() if k not in DROP
    }
    for name in OUTPUTS:
        want = pq.read_table(single_out / f"{name}.parquet")
        assert _rows(_output(spark_out / name)) == _rows(want), name


def _set(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(column), column, values)


def _with_columns_of_no_values(kind: str) -> dict[str, pa.Table]:
    """A small district whose files hold columns of Arrow's null type, as pandas and
    pyarrow write a column of None: `null`, households.current_programs and
    property.disposed_on of type null and a supporters table of no rows whose every
    column is of type null; `listnull`, current_programs of type list<null>."""
    t = conform_tables(synth.generate(8, seed=5))
    hh, n = t["households"], t["households"].num_rows
    if kind == "null":
        t["households"] = _set(hh, "current_programs", pa.nulls(n))
        t["property"] = _set(t["property"], "disposed_on", pa.nulls(t["property"].num_rows))
        t["supporters"] = pa.table(
            {c: pa.nulls(0) for c in schema.arrow_schema("supporters").names}
        )
    else:
        lists = pa.array([None if i % 2 else [] for i in range(n)], pa.list_(pa.null()))
        t["households"] = _set(hh, "current_programs", lists)
    return t


@pytest.mark.parametrize("kind", ["null", "listnull"])
def test_columns_of_no_values_are_read_by_the_shuffled_review(spark, tmp_path, kind):
    """The bundle reader accepts a column of Arrow's null type for any column, and
    list<null> for a list of strings (meanstest.bundle); the single machine and Spark in
    place did, but the shuffled review stopped: Spark reads such a Parquet column as
    int32 (list<int32>), and its check said "column current_programs: expected
    list<item: string>, found int32" (an operator's blind check). It now checks such a
    column by the files' own types, as the executors decode them."""
    from meanstest.spark import review_spark

    tables = _with_columns_of_no_values(kind)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name, table in tables.items():  # as written, not conformed
        pq.write_table(table, bundle / f"{name}.parquet")
    assert pq.read_schema(bundle / "households.parquet").field("current_programs").type in (
        pa.null(),
        pa.list_(pa.null()),
    )
    single = run_review(bundle, tmp_path / "single", default_library(), ReviewOptions(quiet=True))
    got = review_spark(spark, bundle, default_library(), tmp_path / "spark", in_place=False)
    _same_outputs(tmp_path / "single", single, tmp_path / "spark", got)
    assert single["assessed"] > 0


# Tables given as folders of files (docs/spark.md: `<t>.parquet` file or folder, `<t>/`)


def _split(table: pa.Table, folder: Path, files: int = 2) -> None:
    """`table` as a folder of `files` Parquet files, in order (as Spark writes one)."""
    folder.mkdir(parents=True)
    cuts = [table.num_rows * k // files for k in range(files + 1)]
    for k in range(files):
        piece = table.slice(cuts[k], cuts[k + 1] - cuts[k])
        pq.write_table(piece, folder / f"part-{k:05d}.parquet")


def test_a_persons_parquet_folder_is_reviewed_like_its_file(spark, tmp_path):
    """`persons.parquet/` a folder holding one Parquet file: the in-place check read it
    as a file and stopped the review (fixed in 200480b: inplace.plan asks
    bundle.table_folder). It is reviewed shuffled, saying why, with the outputs of the
    single machine's review of the same tables as files."""
    from meanstest.spark import review_spark

    tables = conform_tables(synth.generate(30, seed=13, bad_fraction=0.1))
    write_bundle(tables, tmp_path / "flat")
    write_bundle({n: t for n, t in tables.items() if n != "persons"}, tmp_path / "folder")
    _split(tables["persons"], tmp_path / "folder" / "persons.parquet", files=1)
    single = run_review(tmp_path / "flat", tmp_path / "single", default_library(),
                        ReviewOptions(quiet=True))  # fmt: skip
    said: list[str] = []
    got = review_spark(spark, tmp_path / "folder", default_library(), tmp_path / "spark",
                       say=said.append)  # fmt: skip
    assert said == ["shuffling the bundle's rows by household (a table is a folder of files)"]
    _same_outputs(tmp_path / "single", single, tmp_path / "spark", got)
    assert single["rejected"] > 0 and single["assessed"] > 0


def _near_match_bundles(root: Path) -> tuple[Path, Path]:
    """The same district written as files (`flat`) and with folder tables (`folders`:
    persons/ partitioned by household_id, the column only in the folder names, and
    bank/ two files). Its bank has a row under a member's ID ending in X written with a
    lower-case x (a near match: the note names it) and a row of nobody."""
    tables = conform_tables(synth.generate(40, seed=11))
    persons = tables["persons"].sort_by("household_id")  # the folder's order, files by path
    with_x = next(p for p in persons.to_pylist() if p["person_id"].endswith("X"))
    bank = tables["bank"].to_pylist()
    near = dict(bank[0], person_id=with_x["person_id"][:-1] + "x", record_id="NEAR-1")
    nobody = dict(bank[0], person_id="150422199001011234", record_id="NOBODY")
    tables = {
        **tables,
        "persons": persons,
        "bank": pa.Table.from_pylist([*bank, near, nobody], tables["bank"].schema),
    }
    flat, folders = root / "flat", root / "folders"
    write_bundle(tables, flat)
    write_bundle({n: t for n, t in tables.items() if n not in ("persons", "bank")}, folders)
    for home in sorted(set(persons["household_id"].to_pylist())):
        mine = persons.filter(pc.equal(persons["household_id"], home))
        where = folders / "persons" / f"household_id={home}"
        where.mkdir(parents=True)
        pq.write_table(mine.drop_columns(["household_id"]), where / "part-00000.parquet")
    _split(tables["bank"], folders / "bank")
    return flat, folders


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    from meanstest import cli

    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _note(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("note: ")]


def test_the_near_match_note_reads_folder_tables_as_the_spark_review_does(spark, tmp_path, capsys):
    """After a Spark review with source rows of nobody, the near-match note read the
    bundle with the single machine's discovery, which refuses folder tables: the review
    wrote every output, then exited 1 (bank/, persons.parquet/), or the note was left
    out (an operator's blind checks). It now reads the tables in every form the review
    reads them, hive partitions included, and says what the single machine says of the
    same tables as files."""
    flat, folders = _near_match_bundles(tmp_path)
    code, out, _ = _cli(capsys, "review", str(flat), "--out", str(tmp_path / "single"))
    assert code == 0
    want = _note(out)
    assert len(want) == 1 and "bank record NEAR-1 (" in want[0] and "NOBODY" not in want[0]
    argv = ["review", str(folders), "--out", str(tmp_path / "spark"), "--engine", "spark"]
    code, out, err = _cli(capsys, *argv, "--master", "local[2]")
    assert code == 0, err
    assert _note(out) == want
    single = json.loads((tmp_path / "single" / "summary.json").read_text("utf-8"))
    got = json.loads((tmp_path / "spark" / "summary.json").read_text("utf-8"))
    _same_outputs(tmp_path / "single", single, tmp_path / "spark", got)
    assert got["unmatched_source_rows"] >= 2


def test_a_note_that_cannot_be_made_does_not_fail_the_review(spark, tmp_path, capsys, monkeypatch):
    """Whatever the look for near matches meets, the review it follows has written its
    outputs: the command says on stderr that the look could not be made, and why, and
    exits 0."""
    from meanstest import unmatched

    _, folders = _near_match_bundles(tmp_path)

    def unreadable(bundle):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(unmatched, "near_matches", unreadable)
    argv = ["review", str(folders), "--out", str(tmp_path / "spark"), "--engine", "spark"]
    code, out, err = _cli(capsys, *argv, "--master", "local[2]")
    assert code == 0 and not _note(out)
    assert "outputs (Parquet folders by jurisdiction) and summary.json in" in out
    said = [line for line in err.splitlines() if "near matches" in line]
    look = "meanstest: the look for near matches among the 2 source rows matching nobody"
    assert said == [f"{look} could not be made: OSError: [Errno 5] Input/output error"]
    assert (tmp_path / "spark" / "summary.json").exists()


@pytest.mark.parametrize("what", ["missing", "file"])
def test_a_bundle_that_is_no_folder_is_said_as_the_single_machine_says_it(
    tmp_path, capsys, monkeypatch, what
):
    """`meanstest review b/nope --out X --engine spark` said "no households table
    (households.parquet or .arrow)…" after starting Spark, and left an empty X/; the
    single machine says "bundle folder not found" and makes nothing. Spark's command now
    checks a local bundle path first, the single machine's way (a URI as it is)."""
    from meanstest.spark import command  # where review_cli looks it up

    def no_spark(*a, **k):
        raise AssertionError("Spark started before the bundle was checked")

    monkeypatch.setattr(command, "session", no_spark)
    bundle = tmp_path / "nope"
    if what == "file":
        bundle.write_text("not a bundle")
    said = {}
    for engine in ([], ["--engine", "spark"]):
        out = tmp_path / f"out{len(engine)}"
        code, _, err = _cli(capsys, "review", str(bundle), "--out", str(out), *engine)
        assert code == 1 and not out.exists()
        said[bool(engine)] = err.strip().splitlines()
    assert (
        said[True]
        == said[False]
        == [
            f"meanstest: error: {bundle}: "
            + (
                "bundle folder not found"
                if what == "missing"
                else "a bundle is a folder, this is a file"
            )
        ]
    )


def test_a_task_s_error_is_one_line_and_its_tracebacks_a_file(tmp_path):
    """A value a task cannot read (persons.health 300 in an int32 column, beyond int8)
    ended the Spark review with the single machine's error line, but after 110-260
    lines of Java and Python tracebacks that Spark's task-failure loggers print (an
    operator's blind check). In a session the command starts they are off: stderr holds
    a line naming the file that keeps Spark's report of the failed task, then the same
    error line as the single machine's. The command runs as an operator runs it, in a
    process of its own (this process's JVM writes to pytest's capture, not the test's)."""
    import subprocess
    import sys

    tables = conform_tables(synth.generate(6, seed=3))
    persons = tables["persons"]
    health = pa.array([300] + persons["health"].to_pylist()[1:], pa.int32())
    tables["persons"] = _set(persons, "health", health)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name, table in tables.items():
        pq.write_table(table, bundle / f"{name}.parquet")
    errors = {}
    for engine in ([], ["--engine", "spark", "--master", "local[1]"]):
        argv = ["review", str(bundle), "--out", str(tmp_path / f"out{len(engine)}"), "--quiet"]
        done = subprocess.run(
            [sys.executable, "-m", "meanstest.cli", *argv, *engine],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        errors[bool(engine)] = done.stderr.strip().splitlines()
    single, lines = errors[False], errors[True]
    assert single[-1].startswith(f"meanstest: error: {bundle / 'persons.parquet'}: column health")
    assert lines[-1] == single[-1]
    noise = ("Traceback", "\tat ", "Exception in task", "Lost task", "aborting job")
    assert not [x for x in lines if any(n in x for n in noise)], lines
    report = "meanstest: Spark's report of the failed task (its Java and Python tracebacks): "
    assert lines[-2].startswith(report), lines
    kept = Path(lines[-2][len(report) :])
    text = kept.read_text(encoding="utf-8")
    kept.unlink()
    assert "PythonException" in text and "meanstest.errors.BundleError" in text
    assert len(lines) < 10, lines  # the JVM's few lines as it starts, and these two


def test_a_spark_review_takes_the_folder_s_lock_as_the_single_machine_does(
    tmp_path, capsys, monkeypatch
):
    """A blind check started a single-machine review into the folder a Spark review was
    writing: both exited 0, and summary.json was Spark's while results.parquet was the
    other's. The Spark command now holds the same lock, before Spark starts; a session
    that then fails to start leaves no folder it made."""
    import fcntl

    from meanstest.review import LOCK
    from meanstest.spark import command

    bundle = tmp_path / "b"
    write_bundle(synth.generate(10, seed=1), bundle)
    out = tmp_path / "out"
    out.mkdir()

    def no_spark(*a, **k):
        raise AssertionError("Spark started while another review held the folder")

    monkeypatch.setattr(command, "session", no_spark)
    with open(out / LOCK, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, _, err = _cli(capsys, "review", str(bundle), "--out", str(out), "--engine", "spark")
        assert code == 1 and f"{out}: another review is writing this folder" in err

    def broken(*a, **k):
        raise MeansTestError("no Java")

    monkeypatch.setattr(command, "session", broken)
    fresh = tmp_path / "fresh"
    code, _, err = _cli(capsys, "review", str(bundle), "--out", str(fresh), "--engine", "spark")
    assert code == 1 and "no Java" in err and not fresh.exists()


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("Job aborted.\n...java.io.IOException: No space left on device\n\tat ..."),
        OSError(28, "No space left on device", "/mnt/full/out/_meanstest_tmp/x.parquet"),
    ],
    ids=["a task's Java error", "the driver's OSError"],
)
def test_a_full_disk_under_spark_is_one_line(tmp_path, monkeypatch, error):
    """A full disk ended a Spark review in 88-190 lines of Java or Python traceback (a
    blind check on a 20 MB tmpfs); the single machine says one line naming the file."""
    import argparse

    from meanstest.spark import command

    def full(*a, **k):
        raise error

    monkeypatch.setattr(command, "review_spark", full)
    args = argparse.Namespace(bundle="b", out=str(tmp_path / "o"), quiet=True)
    with pytest.raises(MeansTestError) as e:
        command._reviewed(None, args, default_library(), None, print)
    assert str(e.value) == (
        f"{tmp_path / 'o'}: cannot write: No space left on device (Spark's tasks stopped; "
        "free space and run the review again)"
    )


@pytest.mark.parametrize("how", ["escaped", "literal"])
def test_a_folder_partitioned_by_a_value_with_a_space_is_read(spark, tmp_path, how):
    """households/ partitioned by jurisdiction, one value "150 422" (synth's bad one):
    pyarrow names its folder `jurisdiction=150%20422`, and Spark lists it escaped again.
    Handed back as listed, the file was looked for under `150%252520422` and the review
    failed with PATH_NOT_FOUND; a folder named with the space itself failed too (an
    operator's blind check). The household is rejected for its jurisdiction, as on the
    single machine, and every other is assessed."""
    from urllib.parse import quote

    from meanstest.spark import review_spark

    tables = conform_tables(synth.generate(12, seed=5))
    hh = tables["households"]
    places = hh["jurisdiction"].to_pylist()
    places[2] = "150 422"
    hh = hh.set_column(hh.schema.get_field_index("jurisdiction"), "jurisdiction", pa.array(places))
    tables = {**tables, "households": hh}
    write_bundle(tables, tmp_path / "flat")
    write_bundle({n: t for n, t in tables.items() if n != "households"}, tmp_path / "folder")
    for place in sorted(set(places)):
        name = quote(place) if how == "escaped" else place
        where = tmp_path / "folder" / "households" / f"jurisdiction={name}"
        where.mkdir(parents=True)
        mine = hh.filter(pc.equal(hh["jurisdiction"], place))
        pq.write_table(mine.drop_columns(["jurisdiction"]), where / "part-0.parquet")
    assert (tmp_path / "folder" / "households" / f"jurisdiction={quote('150 422')}").exists() == (
        how == "escaped"
    )
    single = run_review(tmp_path / "flat", tmp_path / "single", default_library(),
                        ReviewOptions(quiet=True))  # fmt: skip
    got = review_spark(spark, tmp_path / "folder", default_library(), tmp_path / "spark")
    _same_outputs(tmp_path / "single", single, tmp_path / "spark", got)
    assert single["rejected"] >= 1
