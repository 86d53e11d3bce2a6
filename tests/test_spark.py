"""Province scale on Spark (issue 8): `meanstest review --engine spark` gives the
single-machine review's results, members, findings, rejects, change lists and summary
value for value, on a synthetic bundle with bad rows, in local[2] mode.

One SparkSession (conftest.py's, shared with test_spark_inplace.py) and one Spark
review by the general path, its shuffles (through the CLI, of a bundle
with bad rows, a null household_id, an orphan member and a source row of nobody); the
reader's handling of partitioned folders and in-memory tables is checked on its own."""

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from builders import ingest_record, with_null_keys

pytestmark = pytest.mark.slow  # a JVM per module, ~1.5 min

pytest.importorskip("pyspark", reason="pyspark not installed (pip install -e '.[spark]')")
if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
    pytest.skip("Spark needs Java 17: no JAVA_HOME and no java on PATH", allow_module_level=True)

from meanstest import cli, schema, synth
from meanstest.bundle import write_bundle
from meanstest.conform import conform_tables
from meanstest.errors import BundleError
from meanstest.policy import default_library
from meanstest.review import ReviewOptions, run_review
from meanstest.spark import summarise
from meanstest.spark.frames import arrow_type, read_frames, spark_type

OUTPUTS = ("results", "members", "findings", "rejects")


def _read_output(folder: Path, partitioned_by=("jurisdiction",)) -> pa.Table:
    """A Spark output folder (hive-partitioned), the partition columns dropped."""
    table = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
    return table.drop_columns(list(partitioned_by))


def _rows(table: pa.Table) -> list:
    return sorted(table.to_pylist(), key=repr)


def _odd_bundle() -> dict[str, pa.Table]:
    """A synthetic district with bad rows (5%), plus rows the generator never makes: a
    households row whose household_id is null, a member of no household, a source row
    whose person_id is null, and a null key in every table (builders.with_null_keys)."""
    tables = with_null_keys(synth.generate(1200, seed=11, bad_fraction=0.05))
    return _with_odd_rows(conform_tables(tables))


def _with_odd_rows(t: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """`t` with a null household_id, an orphan member (the first member, who stays a
    member of his own household: his source rows are matched, not nobody's) and a
    source row of a null person_id."""
    t = dict(t)
    hh = t["households"]
    null_id = hh.slice(3, 1).set_column(0, "household_id", pa.nulls(1, pa.string()))
    t["households"] = pa.concat_tables([hh.slice(0, 40), null_id, hh.slice(40)])
    orphan = t["persons"].slice(0, 1).set_column(0, "household_id", pa.array(["NO-SUCH-HOME"]))
    t["persons"] = pa.concat_tables([t["persons"], orphan])
    bank = t["bank"]
    nobody = bank.slice(0, 1).set_column(0, "person_id", pa.nulls(1, pa.string()))
    t["bank"] = pa.concat_tables([bank, nobody])
    return t


@pytest.fixture(scope="module")
def reviews(spark, tmp_path_factory):
    """The same bundle reviewed by `meanstest review` and by `meanstest review --engine
    spark --master local[2] --spark-shuffle` (the session's): the general path, which
    test_spark_inplace.py compares with the in-place one."""
    root = tmp_path_factory.mktemp("spark")
    bundle = root / "bundle"
    write_bundle(_odd_bundle(), bundle)
    notes = ingest_record(bundle, ["HH000000003"])  # summary.json keeps them on both engines
    single = run_review(bundle, root / "single", default_library(), ReviewOptions(quiet=True))
    assert single["ingest_notes"] == notes
    argv = ["review", str(bundle), "--out", str(root / "spark"), "--quiet", "--report"]
    code = cli.main([*argv, "--engine", "spark", "--master", "local[2]", "--spark-shuffle"])
    return root, single, code


@pytest.mark.parametrize("name", OUTPUTS)
def test_outputs_identical_to_single_machine_review(reviews, name):
    root, _, code = reviews
    assert code == 0
    expected = pq.read_table(root / "single" / f"{name}.parquet")
    got = _read_output(root / "spark" / name)

    def fields(s):  # list types compare equal whatever their item's name
        return [(f.name, f.type, f.nullable) for f in s]

    assert fields(got.schema) == fields(schema.OUTPUTS[name])
    assert got.num_rows == expected.num_rows > 0
    assert _rows(got) == _rows(expected)


def test_spark_writer_gives_the_same_outputs(spark, reviews):
    """An output folder pyarrow cannot reach is written by Spark's writer: same rows."""
    from meanstest.spark import review_spark

    root = reviews[0]
    review_spark(spark, root / "bundle", default_library(), root / "by-spark", arrow_writes=False)
    for name in (*OUTPUTS, "changes"):
        by = ("transition", "jurisdiction") if name == "changes" else ("jurisdiction",)
        got = _read_output(root / "by-spark" / name, by)
        assert _rows(got) == _rows(_read_output(root / "spark" / name, by)), name


def test_a_bundle_given_as_a_file_uri_keeps_its_ingest_notes(spark, reviews):
    """docs/spark.md allows a `file:` bundle; the notes were looked for under the URI
    as a path, so the summary said [] and reproducing it against the folder failed."""
    from meanstest.spark import review_spark

    root, single, _ = reviews
    uri = (root / "bundle").as_uri()
    got = review_spark(spark, uri, default_library(), root / "by-uri")
    assert uri.startswith("file:") and got["ingest_notes"] == single["ingest_notes"] != []


def test_bundle_has_bad_rows_and_cross_household_findings(reviews):
    """The comparison means something: rejects of many kinds, run-wide duplicates."""
    root = reviews[0]
    rejects = _read_output(root / "spark" / "rejects")
    kinds = {
        r.split(": ", 1)[1].split(" (")[0] for rs in rejects["reasons"].to_pylist() for r in rs
    }
    assert {"duplicate household_id", "no policy pack", "household has no members"} <= kinds
    findings = _read_output(root / "spark" / "findings")
    assert "DUPLICATE_PERSON" in findings["code"].to_pylist()


def test_change_lists_identical(reviews):
    root = reviews[0]
    got = _read_output(root / "spark" / "changes", ("transition", "jurisdiction"))
    changes = ds.dataset(root / "spark" / "changes", partitioning="hive").to_table()
    expected = [pq.read_table(root / "single" / f"changes_{t.lower()}.parquet") for t in
                ("NEW", "EXIT", "ADJUST", "PHASE_OUT")]  # fmt: skip
    assert sum(t.num_rows for t in expected) == got.num_rows > 0
    want = pa.concat_tables([t.select(got.column_names) for t in expected])
    assert _rows(got) == _rows(want)
    assert set(changes["transition"].to_pylist()) <= {"NEW", "EXIT", "ADJUST", "PHASE_OUT"}


def test_the_documented_reading_recipe_gives_string_codes(reviews):
    """docs/spark.md's recipe, run as written: jurisdiction and transition come back as
    the strings of the folder names (left to infer, pyarrow read jurisdiction as int32)."""
    root = reviews[0]
    text = (Path(__file__).parents[1] / "docs" / "spark.md").read_text(encoding="utf-8")
    recipe = re.search(r"```python\n(import pyarrow as pa\n.*?)```", text, re.DOTALL).group(1)
    scope: dict = {}
    exec(recipe.replace("OUT/", f"{root / 'spark'}/"), scope)  # noqa: S102 - our own docs
    results, changes = scope["results"], scope["changes"]
    assert results.schema.field("jurisdiction").type == pa.string()
    assert changes.schema.field("transition").type == pa.string()
    single = pq.read_table(root / "single" / "results.parquet")
    assert results.num_rows == single.num_rows
    households = pq.read_table(root / "bundle" / "households.parquet")
    declared = dict(
        zip(households["household_id"].to_pylist(), households["jurisdiction"].to_pylist())
    )
    got = zip(results["household_id"].to_pylist(), results["jurisdiction"].to_pylist())
    assert all(declared[h] == j for h, j in got)  # the bundle's code, as a string
    assert {*changes["transition"].to_pylist()} <= {"NEW", "EXIT", "ADJUST", "PHASE_OUT"}


def test_summary_identical_but_for_chunking(reviews):
    import json

    root, single, _ = reviews
    got = json.loads((root / "spark" / "summary.json").read_text(encoding="utf-8"))
    drop = ("chunks", "chunk_size")
    assert {k: v for k, v in got.items() if k not in drop} == {
        k: v for k, v in single.items() if k not in drop
    }
    assert got["rejected"] > 0 and got["accounting_closes"]


def test_results_partitioned_by_jurisdiction(reviews):
    root = reviews[0]
    folders = {p.name for p in (root / "spark" / "results").iterdir() if p.is_dir()}
    table = ds.dataset(root / "spark" / "results", partitioning="hive").to_table()
    assert folders == {f"jurisdiction={j}" for j in set(table["jurisdiction"].to_pylist())}
    assert len(folders) > 1


def test_odd_rows_are_in_the_comparison(reviews):
    """The null household_id is rejected naming its bundle row; the orphan and the
    source row of nobody are counted, not lost."""
    root, single, _ = reviews
    rejects = _read_output(root / "spark" / "rejects")
    texts = [r for rs in rejects["reasons"].to_pylist() for r in rs]
    assert "households.household_id record=(row 41): null in a required column" in texts
    assert single["orphan_rows"] >= 1 and single["unmatched_source_rows"] >= 1


# Reading a partitioned bundle -------------------------------------------------------


def _write_partitioned(tables: dict[str, pa.Table], folder: Path) -> dict[str, pa.Table]:
    """households as jurisdiction=…/part-k.parquet (two files each), persons as a folder
    of two files, the rest as single files; returns the tables in the order Spark reads
    them (files by path, rows in file order)."""
    hh = tables["households"]
    ordered = []
    for j in sorted(set(hh["jurisdiction"].to_pylist())):
        part = hh.filter(pc.equal(hh["jurisdiction"], j))
        where = folder / "households" / f"jurisdiction={j}"
        where.mkdir(parents=True)
        half = part.num_rows // 2
        for k, piece in enumerate((part.slice(0, half), part.slice(half))):
            pq.write_table(piece.drop_columns(["jurisdiction"]), where / f"part-{k}.parquet")
            ordered.append(piece)
    persons = tables["persons"]
    (folder / "persons").mkdir()
    half = persons.num_rows // 2
    pq.write_table(persons.slice(0, half), folder / "persons" / "part-0.parquet")
    pq.write_table(persons.slice(half), folder / "persons" / "part-1.parquet")
    write_bundle({n: t for n, t in tables.items() if n not in ("households", "persons")}, folder)
    columns = schema.arrow_schema("households").names
    return {**tables, "households": pa.concat_tables([p.select(columns) for p in ordered])}


def _collect(df, name) -> pa.Table:
    rows = sorted(df.collect(), key=lambda r: r["_row"])
    assert [r["_row"] for r in rows] == list(range(len(rows))), "bundle row numbers"
    if not rows:
        return schema.empty_table(name)
    table = pa.Table.from_pylist([r.asDict() for r in rows]).drop_columns(["_row"])
    return table.cast(schema.arrow_schema(name))


def test_partitioned_folders_read_in_bundle_order(spark, tmp_path):
    t = conform_tables(synth.generate(40, seed=5, bad_fraction=0.1))
    t = {n: t[n] for n in ("households", "persons", "supporters", "bank")}
    expected = _write_partitioned(t, tmp_path)
    frames = read_frames(spark, tmp_path.as_uri())  # file:///…, through Hadoop's FileSystem
    assert set(frames) == set(schema.TABLES)
    for name in ("households", "persons", "bank", "vehicle"):
        got = _collect(frames[name], name)
        want = expected.get(name, schema.empty_table(name))
        assert got.equals(want), name  # jurisdiction=150422 stays the string "150422"


def test_partitioned_bundle_reviewed_like_its_tables(spark, tmp_path):
    """The review reads a partitioned folder's files itself (binaryFile + pyarrow):
    partition values become the column, rows keep their bundle order and numbers."""
    from meanstest.spark import review_spark

    t = conform_tables(synth.generate(200, seed=7, bad_fraction=0.1))
    tables = _write_partitioned(t, tmp_path / "bundle")
    write_bundle(tables, tmp_path / "flat")
    single = run_review(tmp_path / "flat", tmp_path / "single", default_library(),
                        ReviewOptions(quiet=True))  # fmt: skip
    got = review_spark(spark, tmp_path / "bundle", default_library(), tmp_path / "out")
    drop = ("chunks", "chunk_size")
    assert {k: v for k, v in got.items() if k not in drop} == {
        k: v for k, v in single.items() if k not in drop
    }
    for name in OUTPUTS:
        want = pq.read_table(tmp_path / "single" / f"{name}.parquet")
        assert _rows(_read_output(tmp_path / "out" / name)) == _rows(want), name


def test_in_memory_tables_read_as_given(spark):
    t = conform_tables(synth.generate(10, seed=3))
    frames = read_frames(spark, {"households": t["households"], "tax_income": t["tax_income"]})
    assert _collect(frames["households"], "households").equals(t["households"])
    assert _collect(frames["tax_income"], "tax_income").equals(t["tax_income"])
    assert frames["persons"].count() == 0


# Pieces -----------------------------------------------------------------------------


def test_reader_refuses_a_column_of_the_wrong_type(spark, tmp_path):
    t = conform_tables(synth.generate(5, seed=1))
    hh = t["households"]
    i = hh.schema.get_field_index("consent_signed")
    t["households"] = hh.set_column(i, "consent_signed", pc.cast(hh["consent_signed"], pa.string()))
    write_bundle({n: t[n] for n in ("persons", "supporters")}, tmp_path)
    pq.write_table(t["households"], tmp_path / "households.parquet")
    with pytest.raises(BundleError, match="consent_signed: expected bool, found string"):
        read_frames(spark, tmp_path)


def test_reader_refuses_a_table_twice_and_no_households(spark, tmp_path):
    with pytest.raises(BundleError, match="no households table"):
        read_frames(spark, tmp_path)
    t = conform_tables(synth.generate(5, seed=1))
    write_bundle({"households": t["households"], "persons": t["persons"]}, tmp_path)
    with pytest.raises(BundleError, match="no supporters table"):  # only sources may be absent
        read_frames(spark, tmp_path)
    write_bundle({"households": t["households"]}, tmp_path)
    (tmp_path / "households").mkdir()
    with pytest.raises(BundleError, match="table households is in the bundle twice"):
        read_frames(spark, tmp_path)


def test_a_local_session_compiles_with_c1_only(spark):
    """A local session's JVM stops at C1 (LOCAL_JAVA_OPTIONS): C2's compile time is not
    repaid in one review (docs/spark.md, Performance)."""
    from meanstest.spark import LOCAL_JAVA_OPTIONS

    conf = spark.sparkContext.getConf().get("spark.driver.extraJavaOptions")
    assert LOCAL_JAVA_OPTIONS in conf
    jvm = spark.sparkContext._jvm
    flags = jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
    assert "-XX:TieredStopAtLevel=1" in list(flags)


def test_a_local_session_gets_a_third_of_the_memory_for_its_heap(spark):
    """Spark's default 1g heap ran out shuffling a 1M-household bundle in local mode."""
    from meanstest.spark import local_driver_memory

    if "SPARK_DRIVER_MEMORY" in os.environ:
        pytest.skip("SPARK_DRIVER_MEMORY sets the heap")
    assert spark.sparkContext.getConf().get("spark.driver.memory") == local_driver_memory()
    megabytes = int(local_driver_memory().removesuffix("m"))
    assert 1024 <= megabytes <= 8192
    heap = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory()
    assert heap > 0.8 * (megabytes << 20)  # the JVM was started with it


def test_a_session_has_no_console_progress_bar_unless_asked(spark, monkeypatch):
    """The review counts its own steps on stderr; Spark's bar (carriage returns) wrote
    over those lines. A --spark-conf still turns it on."""
    import meanstest.spark as spark_module

    assert spark.sparkContext.getConf().get("spark.ui.showConsoleProgress") == "false"
    seen = {}

    class Builder:
        def appName(self, name):
            return self

        def config(self, key, value):
            seen[key] = value
            return self

        def getOrCreate(self):
            return "session"

    monkeypatch.setattr("pyspark.sql.SparkSession.builder", Builder())
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "1")  # as inside spark-submit: no JVM here
    assert spark_module.session(conf={"spark.ui.showConsoleProgress": "true"}) == "session"
    assert seen["spark.ui.showConsoleProgress"] == "true"


def _daemon_imports(pythonpath: list[str]) -> dict:
    """Where a worker daemon (meanstest.spark.daemon) imports pyspark from, with
    `pythonpath` as Spark sets PYTHONPATH, and the zips left on its import path."""
    import subprocess
    import sys

    code = (
        "import json, sys; import meanstest.spark.daemon; import pyspark, py4j; "
        "print(json.dumps({'pyspark': pyspark.__file__, "
        "'zips': [p for p in sys.path if p.endswith('.zip') and "
        "p.rsplit('/', 1)[1].startswith(('pyspark', 'py4j'))]}))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True, timeout=120)  # fmt: skip
    return json.loads(done.stdout.splitlines()[-1])


def test_worker_daemon_imports_the_installed_pyspark_not_its_zip(tmp_path):
    """Spark puts pyspark.zip and py4j's zip on the workers' PYTHONPATH; the daemon
    imports the same pyspark from its installed files (the zips' importers re-read the
    zip before every task), and keeps the zips when the zipped pyspark is another."""
    import zipfile

    import pyspark

    lib = Path(pyspark.__file__).parent / "python" / "lib"
    zips = [str(p) for p in sorted(lib.glob("*.zip"))]
    assert any("pyspark.zip" in z for z in zips) and any("py4j" in z for z in zips)
    got = _daemon_imports(zips)
    assert got["zips"] == [] and ".zip" not in got["pyspark"]

    other = tmp_path / "pyspark.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("pyspark/__init__.py", "")
        z.writestr("pyspark/version.py", '__version__ = "0.0.1"\n')
    py4j = [z for z in zips if "py4j" in z]
    got = _daemon_imports([str(other), *py4j])
    assert got["zips"] == [str(other), *py4j] and got["pyspark"].startswith(str(other))


def test_worker_daemon_drops_jars_without_python_from_its_path(tmp_path):
    """Spark 4 puts its spark-core jar (5,362 entries, no Python) on the workers' path,
    whose importer re-read it before every task (1.8 CPU-s of a 1M-household shuffled
    review); a jar that holds Python stays."""
    import subprocess
    import sys
    import zipfile

    classes, python = tmp_path / "classes.jar", tmp_path / "python.jar"
    with zipfile.ZipFile(classes, "w") as z:
        z.writestr("org/apache/spark/SparkContext.class", b"")
    with zipfile.ZipFile(python, "w") as z:
        z.writestr("shipped_module.py", "X = 1\n")
    code = (
        "import json, sys; import meanstest.spark.daemon; import shipped_module; "
        "print(json.dumps([p for p in sys.path if p.endswith('.jar')]))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(classes), str(python)])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True, timeout=120)  # fmt: skip
    assert json.loads(done.stdout.splitlines()[-1]) == [str(python)]


def test_blobs_are_lz4_compressed_arrow_streams():
    """Every row a shuffled review moves passes through the JVM as blobs, copied in and
    out of Spark's row format at each exchange: LZ4 blobs took a 1M-household review
    from 47-51 s to 36-37 s (local[2], docs/spark.md). They read back the same."""
    from meanstest.spark.layout import read_blob, to_blobs

    bank = conform_tables(synth.generate(300, seed=5))["bank"]
    group = np.arange(bank.num_rows) % 3
    pieces = [(int(g), blob) for groups, blobs in to_blobs(bank, group)
              for g, blob in zip(groups, blobs, strict=True)]  # fmt: skip
    assert [g for g, _ in pieces] == [0, 1, 2]
    for g, blob in pieces:
        rows = bank.filter(pa.array(group == g))
        assert read_blob(blob).equals(rows)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, rows.schema) as plain:
            plain.write_table(rows)
        assert len(blob.as_buffer()) < 0.75 * sink.tell()


def test_type_mapping_round_trips_every_canonical_type():
    for name in schema.TABLES:
        for field in schema.arrow_schema(name):
            assert arrow_type(spark_type(field.type)) == field.type, (name, field)


def test_tallies_merge_like_review_chunks():
    import json

    a = {"households_read": 3, "assessed": 2, "rejected": 1, "unmatched_source_rows": 1,
         "orphan_rows": 0, "total_monthly_benefit": 500, "provisional": 1,
         "by_jurisdiction": {"150422": {"households": 3, "assessed": 2, "enrolled": 1,
                                         "benefit": 500}},
         "by_status": {"DIBAO": 1, "NOT_ELIGIBLE": 1}, "by_circle": {"0": 2},
         "by_transition": {"NEW": 1, "NONE": 1}, "by_veto": {},
         "rejects_by_reason": {"persons.health: health outside 1..6": 1}}  # fmt: skip
    b = {**a, "by_jurisdiction": {"150402": {"households": 3, "assessed": 2, "enrolled": 1,
                                             "benefit": 500}}}  # fmt: skip
    s = summarise([json.dumps(a), json.dumps(b)], partitions=2)
    assert s["households_read"] == 6 and s["assessed"] == 4 and s["accounting_closes"]
    assert s["by_status"]["DIBAO"] == 2 and s["by_status"]["TEKUN"] == 0
    assert list(s["by_jurisdiction"]) == ["150402", "150422"]
    assert s["rejects_by_reason"] == {"persons.health: health outside 1..6": 2}
    assert s["mean_monthly_benefit_of_recipients"] == 500
    assert s["chunks"] == 2 and s["chunk_size"] == 3


def test_cli_report_of_a_spark_review_is_the_single_machine_s(reviews):
    """report.html from the Spark review's Parquet folders (results/, changes/transition=
    …/) is the single-machine review's page, change lists included."""
    from meanstest.report import build_report

    root, _, code = reviews
    assert code == 0
    page = (root / "spark" / "report.html").read_text(encoding="utf-8")
    assert page == build_report(root / "single")
    assert "<h3>" in page and "household_id" in page  # change lists with rows


def test_an_auditor_reproduces_a_spark_review(reviews):
    """`meanstest reproduce OUT --bundle B` reads the Spark output's Parquet folders: every
    household reproduces with the reference calculator, as the single machine's do."""
    from meanstest.reproduce import reproduce_review

    root, _, code = reviews
    assert code == 0
    ok, discrepancies, moved = reproduce_review(root / "spark", root / "bundle")
    assert discrepancies == [] and moved == []
    assert ok == pq.read_table(root / "single" / "results.parquet").num_rows > 0
    assert reproduce_review(root / "single", root / "bundle") == (ok, [], [])


def test_cli_refuses_report_with_spark_when_out_is_not_mounted(tmp_path, capsys):
    code = cli.main(["review", str(tmp_path), "--out", "hdfs://nn/out", "--engine", "spark",
                     "--report"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "hdfs://nn/out is not a local or mounted folder" in err
    assert "meanstest report OUT" in err


def test_cli_spark_conf_is_key_value_of_spark_settings():
    from meanstest.spark import spark_conf

    assert spark_conf(["spark.driver.memory=12g", " spark.a.b = c=d "]) == {
        "spark.driver.memory": "12g",
        "spark.a.b": "c=d",
    }
    for bad in ("spark.driver.memory", "driver.memory=1g"):
        with pytest.raises(Exception, match="write KEY=VALUE"):
            spark_conf([bad])


def test_cli_says_spark_stopped_when_its_jvm_goes_away(tmp_path, capsys, monkeypatch):
    """A JVM killed under the driver (java.lang.OutOfMemoryError, the OOM killer) shows
    as a refused connection: the command says what happened and what to change."""
    from meanstest.spark import command  # where review_cli looks them up

    def gone(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(command, "session", lambda *args, **kwargs: None)
    monkeypatch.setattr(command, "review_spark", gone)
    code = cli.main(["review", str(tmp_path), "--out", str(tmp_path / "o"), "--engine", "spark",
                     "--spark-conf", "spark.driver.memory=2g"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "Spark stopped during the review (ConnectionRefusedError" in err
    assert "spark.driver.memory" in err


def test_a_partition_of_rows_of_no_household_is_counted_not_assessed():
    """A partition may hold no households row at all (an orphan member, a source row of
    nobody)."""
    import json

    from meanstest.spark.layout import packed_table
    from meanstest.spark.worker import KIND, _assess_batch

    t = conform_tables(synth.generate(3, seed=1))
    rows = packed_table({"persons": t["persons"].slice(0, 1), "bank": t["bank"].slice(0, 1)})
    out = _assess_batch(rows, default_library(), np.array([], dtype=object))
    assert [b.column("_kind")[0].as_py() for b in out] == [KIND["tally"]]
    tally = json.loads(bytes(out[-1].column("_blob")[0].as_py()))
    assert sum(tally["counts"]) == 0
    tally = json.loads(tally["tally"])
    assert tally["orphan_rows"] == 1 and tally["households_read"] == 0
    assert tally["unmatched_source_rows"] == 1


# The data flow without a cluster ----------------------------------------------------


def _deliver(batches, inbox: dict) -> None:
    """Blob rows into the inbox of the partition their `_key` names (keys = partitions
    here: Spark's hash of the key is what the cluster adds)."""
    for batch in batches:
        for i, key in enumerate(batch.column("_key").to_pylist()):
            inbox.setdefault(key, []).append(batch.slice(i, 1))


def _partitioned_review(tables: dict[str, pa.Table], library, partitions: int) -> dict:
    """What review_spark does, with Python lists for Spark's exchanges: the IDs of
    households, persons and supporters packed by household range, where the routes are
    made; source rows and routes meeting in partitions by person ID, where the source
    rows are routed and the duplicates found; every household partition assessed, the
    outputs unpacked and ranked from the partitions' counts."""
    from meanstest.spark.layout import (
        BLOBS,
        IDS,
        from_blobs,
        id_rows,
        pack,
        route,
        routes_of,
    )
    from meanstest.spark.worker import BUCKETS, KIND, OUTPUTS, _assess_batch, rank_offsets, unblob

    keys = np.arange(partitions, dtype=np.int32)
    ids = sorted({h for h in tables["households"]["household_id"].to_pylist() if h is not None})
    cuts = {ids[len(ids) * k // partitions] for k in range(1, partitions)}
    bounds = np.array(sorted(cuts), dtype=object)

    def numbered(name):
        t = tables[name]
        return t.append_column("_row", pa.array(np.arange(t.num_rows, dtype=np.int64)))

    by_household = ("range", "household_id")
    homes: dict = {}
    for name in ("households", "persons", "supporters"):
        _deliver(pack(id_rows(name, numbered(name)), IDS, keys, bounds, by_household), homes)
    meet: dict = {}
    for name in schema.SOURCE_TABLES:
        _deliver(pack(numbered(name), name, keys, bounds, ("person", "person_id")), meet)
    for batches in homes.values():
        _deliver(routes_of(from_blobs(batches), keys, bounds), meet)
    inbox: dict = {}
    for batches in meet.values():
        _deliver(route(from_blobs(batches), keys, bounds), inbox)
    for name in ("households", "persons", "supporters"):
        t = numbered(name)
        _deliver(pack(t, name, keys, bounds, by_household), inbox)
    staged = []
    for batches in inbox.values():
        staged += _assess_batch(pa.Table.from_batches(batches, schema=BLOBS), library, bounds)
    counts = np.zeros((partitions, BUCKETS), np.int64)
    tallies = []
    for b in staged:
        if b.column("_kind")[0].as_py() == KIND["tally"]:
            t = json.loads(bytes(b.column("_blob")[0].as_py()))
            counts[t["part"]] += t["counts"]
            tallies.append(t["tally"])
    offsets = rank_offsets(counts)
    out = {"summary": summarise(tallies, partitions)}
    for name in OUTPUTS:
        mine = [b for b in staged if b.column("_kind")[0].as_py() == KIND[name]]
        out[name] = pa.Table.from_batches(list(unblob(name, mine, offsets)))
    return out


@pytest.mark.parametrize(
    "seed,partitions,odd", [(1, 1, False), (2, 3, False), (3, 7, False), (4, 2, True), (5, 5, True)]
)
def test_partitioned_flow_gives_the_single_machine_outputs(tmp_path, seed, partitions, odd):
    """Without Spark: any number of household ranges gives the single-machine review's
    outputs, ranks included (each partition's counts finish the run's rank), on seeded
    random bundles, some with the odd rows (an orphan who is also a member elsewhere)."""
    tables = conform_tables(synth.generate(300, seed=seed, bad_fraction=0.05))
    if odd:
        tables = _with_odd_rows(tables)
    write_bundle(tables, tmp_path / "bundle")
    single = run_review(tmp_path / "bundle", tmp_path / "single", default_library(),
                        ReviewOptions(quiet=True))  # fmt: skip
    got = _partitioned_review(tables, default_library(), partitions)
    for name in OUTPUTS:
        want = pq.read_table(tmp_path / "single" / f"{name}.parquet")
        assert _rows(got[name].drop_columns(["jurisdiction"])) == _rows(want), name
    changes = [pq.read_table(tmp_path / "single" / f"changes_{t}.parquet")
               for t in ("new", "exit", "adjust", "phase_out")]  # fmt: skip
    assert _rows(got["changes"].drop_columns(["jurisdiction"])) == _rows(pa.concat_tables(changes))
    drop = ("chunks", "chunk_size")
    assert {k: v for k, v in got["summary"].items() if k not in drop} == {
        k: v for k, v in single.items() if k not in drop
    }


def test_each_engine_removes_the_other_engines_earlier_review(reviews, tmp_path):
    """A review removes an earlier review's outputs from its --out (README): a Spark
    review left a single-machine review's tables, change lists and report.html beside
    its folders (reproduce then failed on every household), and the other way round
    (an operator's blind check)."""
    root, _, code = reviews
    assert code == 0
    bundle = root / "bundle"
    over_single = tmp_path / "over_single"
    shutil.copytree(root / "single", over_single)
    assert cli.main(["report", str(over_single)]) == 0
    argv = ["review", str(bundle), "--out", str(over_single), "--quiet"]
    assert cli.main([*argv, "--engine", "spark", "--master", "local[2]"]) == 0
    left = sorted(p.name for p in over_single.iterdir() if not p.name.startswith("."))
    assert left == sorted(["changes", "findings", "members", "rejects", "results", "summary.json"])

    over_spark = tmp_path / "over_spark"
    shutil.copytree(root / "spark", over_spark)
    assert cli.main(["review", str(bundle), "--out", str(over_spark), "--quiet"]) == 0
    left = {p.name for p in over_spark.iterdir() if not p.name.startswith(".")}
    assert not left & {"changes", "findings", "members", "rejects", "results", "report.html"}
    assert "results.parquet" in left and "summary.json" in left


def test_an_unwritable_out_is_refused_before_spark_starts(tmp_path, capsys, monkeypatch):
    """The single machine refuses an --out it cannot write at once; Spark did so only
    after planning (23 s on a 10M bundle: an operator's blind check)."""
    from meanstest.spark import command  # where review_cli looks it up

    def no_spark(*a, **k):
        raise AssertionError("Spark started before --out was checked")

    monkeypatch.setattr(command, "session", no_spark)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    argv = ["review", str(tmp_path), "--out", str(blocker / "sub"), "--engine", "spark"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"--out {blocker / 'sub'}: cannot write the output folder there" in err, err


def test_cli_says_which_master_refused_to_start_without_a_traceback(tmp_path, capsys, monkeypatch):
    """An unreachable --master: Spark gives up after three tries and refuses the session
    as "a stopped SparkContext" in a py4j error (a 100-line traceback in an operator's
    blind check). The command ends in one line naming the master and where to look."""
    from py4j.protocol import Py4JError
    from pyspark.sql import SparkSession

    def refused(self):
        raise Py4JError(
            "An error occurred while calling None.org.apache.spark.sql.classic.SparkSession.\n"
            ": java.lang.IllegalStateException: Cannot call methods on a stopped SparkContext.\n"
            "This stopped SparkContext was created at:\n\norg.apache.spark.api.java..."
        )

    monkeypatch.setattr(SparkSession.Builder, "getOrCreate", refused)
    master = "spark://127.0.0.1:7999"
    code = cli.main(["review", str(tmp_path), "--out", str(tmp_path / "o"), "--engine", "spark",
                     "--master", master])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # made for the review, removed: it never began
    assert err.strip().splitlines() == [
        (
            f"meanstest: error: cannot start Spark with master {master}: "
            "java.lang.IllegalStateException: Cannot call methods on a stopped SparkContext.; "
            "is the master's URL right and the master running? (Spark's log above says why: "
            "'Failed to connect to master' when it cannot be reached)"
        )
    ]


class _Context:
    def __init__(self):
        self.cancelled_by = []

    def cancelAllJobs(self):
        import threading

        self.cancelled_by.append(threading.current_thread())


def test_ctrl_c_cancels_spark_s_jobs_from_another_thread_and_says_interrupted(
    tmp_path, capsys, monkeypatch
):
    """pyspark's SIGINT handler cancelled the jobs on the main thread's py4j connection,
    mid-call: pages of "reentrant call" tracebacks, then one more. The review now gets a
    plain KeyboardInterrupt, cancels the jobs from a thread of its own, and the command
    says "interrupted" (exit 130); py4j's log of the interrupt is dropped."""
    import logging
    import signal
    from types import SimpleNamespace

    from meanstest.spark import command  # where review_cli looks them up

    context = _Context()
    fake = SimpleNamespace(sparkContext=context)

    def interrupted(*args, **kwargs):
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        raise KeyboardInterrupt

    before = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(command, "session", lambda *args, **kwargs: fake)
    monkeypatch.setattr(command, "review_spark", interrupted)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        code = cli.main(["review", str(tmp_path), "--out", str(tmp_path / "o"), "--engine",
                         "spark"])  # fmt: skip
        added = [h for h in root.handlers if h not in handlers]
        try:
            raise BrokenPipeError(32, "Broken pipe")  # closing the interrupted connection
        except BrokenPipeError as pipe:
            pipe.__context__ = KeyboardInterrupt()
            closing = logging.LogRecord("py4j", logging.ERROR, "", 0, "x", None, (None, pipe, None))
        other = logging.LogRecord("py4j", logging.ERROR, "", 0, "x", None, None)
        dropped = [not h.filter(closing) and h.filter(other) for h in root.handlers]
    finally:
        signal.signal(signal.SIGINT, before)
        for h in added:
            root.removeHandler(h)
        for h in root.handlers:
            h.removeFilter(command._not_the_interrupt)
    err = capsys.readouterr().err
    assert code == 130
    assert err.splitlines()[-2:] == [
        "meanstest: interrupted: cancelling Spark's jobs",
        "meanstest: interrupted",
    ]
    assert len(context.cancelled_by) == 1
    assert context.cancelled_by[0] is not __import__("threading").main_thread()
    assert dropped and all(dropped)  # by every handler of the root logger


def test_an_output_with_no_rows_is_a_file_of_its_columns(tmp_path):
    """A Spark review with no rejects left `rejects/` an empty folder, read back as a
    table of no columns. Each output no task wrote gets one Parquet file of no rows with
    the output's columns (changes: without transition, which its folders hold)."""
    from pyarrow import fs

    from meanstest.batch import CHANGES_SCHEMA
    from meanstest.outputs import read_output
    from meanstest.spark.write import TMP, move_outputs, write_file

    root = str(tmp_path)
    results = schema.OUTPUTS["results"].empty_table()
    folder = f"{root}/{TMP}/results/jurisdiction=150422"
    local = fs.LocalFileSystem()
    local.create_dir(folder, recursive=True)
    write_file(local, f"{folder}/part-00000.parquet", results)
    move_outputs(local, root, f"{root}/{TMP}")

    def by_recipe(name, *keys):
        keys = ds.partitioning(pa.schema([(k, pa.string()) for k in keys]), flavor="hive")
        return ds.dataset(tmp_path / name, partitioning=keys).to_table()

    for name in ("members", "findings", "rejects"):
        table = by_recipe(name, "jurisdiction")
        assert table.num_rows == 0
        assert table.schema == schema.OUTPUTS[name].append(pa.field("jurisdiction", pa.string()))
        assert read_output(tmp_path, name).schema == schema.OUTPUTS[name]
    changes = by_recipe("changes", "transition", "jurisdiction")
    assert changes.num_rows == 0 and set(changes.column_names) == {
        *CHANGES_SCHEMA.names,
        "jurisdiction",
    }
    assert read_output(tmp_path, "changes_new").schema == CHANGES_SCHEMA
    assert not (tmp_path / TMP).exists() and (tmp_path / "rejects" / "_SUCCESS").exists()


def test_a_shuffled_review_says_its_steps_and_counts_its_tasks(spark, tmp_path, capsys):
    """The shuffled path said nothing while it ran (an operator's blind check at 1M
    households: minutes of silence). It now says each step and counts the tasks of the
    stages Spark has planned, to the last."""
    from meanstest.spark import review_spark

    write_bundle(synth.generate(200, seed=7), tmp_path / "bundle")
    said: list[str] = []
    review_spark(spark, tmp_path / "bundle", default_library(), tmp_path / "out",
                 in_place=False, say=said.append, quiet=False)  # fmt: skip
    n = max(2, spark.sparkContext.defaultParallelism * 2)
    assert said == [
        "reading the bundle's tables and cutting the households into ranges",
        f"routing the rows to their households and assessing {n} partitions",
        f"ranking the results of {n} partitions and writing the outputs",
    ]
    lines = capsys.readouterr().err.splitlines()
    for label in ("routing and assessing", "writing"):
        counted = [x for x in lines if f"tasks done ({label})" in x]
        last = re.match(r"(\d+)/(\d+) tasks", counted[-1])
        assert last and last.group(1) == last.group(2) != "0", counted


def test_ctrl_c_replaced_by_pyspark_s_own_error_is_still_an_interrupt(
    tmp_path, capsys, monkeypatch
):
    """2 of 6 Ctrl-Cs to the process group ended in a traceback and exit 1: while the
    KeyboardInterrupt unwound, pyspark's call-site bookkeeping opened a py4j connection
    whose error ("Answer from Java side is empty") took its place. An error with a
    KeyboardInterrupt in its chain is an interrupt."""
    from types import SimpleNamespace

    from py4j.protocol import Py4JNetworkError

    from meanstest.spark import command  # where review_cli looks them up

    context = _Context()

    def replaced(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise Py4JNetworkError("Answer from Java side is empty") from None

    monkeypatch.setattr(command, "session", lambda *a, **k: SimpleNamespace(sparkContext=context))
    monkeypatch.setattr(command, "review_spark", replaced)
    monkeypatch.setattr(
        command, "cancel_on_interrupt", lambda spark: lambda: context.cancelAllJobs()
    )
    code = cli.main(["review", str(tmp_path), "--out", str(tmp_path / "o"), "--engine", "spark"])
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err
    assert err.splitlines()[-2:] == [
        "meanstest: interrupted: cancelling Spark's jobs",
        "meanstest: interrupted",
    ]
    assert len(context.cancelled_by) == 1


def test_a_shuffled_review_that_fails_has_removed_the_earlier_review_first(
    reviews, tmp_path, monkeypatch
):
    """README: a review removes an earlier review's outputs from its --out first, so that
    one stopped midway leaves a folder report and reproduce refuse. The shuffled way
    removed them only once the rows were assessed: a corrupt page or a Ctrl-C before
    left the earlier review's outputs, which report and reproduce took for its own (a
    blind test)."""
    from meanstest.errors import MeansTestError
    from meanstest.spark import review as spark_review

    root, _, code = reviews
    assert code == 0
    earlier = tmp_path / "earlier"
    shutil.copytree(root / "spark", earlier)

    def broken(*args, **kwargs):
        raise MeansTestError("a corrupt page")

    monkeypatch.setattr(spark_review, "read_frames", broken)
    argv = ["review", str(root / "bundle"), "--out", str(earlier), "--quiet"]
    assert cli.main([*argv, "--engine", "spark", "--master", "local[2]", "--spark-shuffle"]) == 1
    left = {p.name for p in earlier.iterdir() if not p.name.startswith(".")}
    assert not left & {"summary.json", "results", "members", "report.html"}, left
    assert cli.main(["report", str(earlier)]) == 1


def test_an_out_inside_the_bundle_is_refused_before_spark_starts(tmp_path, capsys, monkeypatch):
    """--out e_outin/bank: Spark failed to read the (absent) bank table and left an empty
    bank/ folder in the bundle, which every later review refused as a table of no files
    (a blind test). Refused at once, as by the single machine."""
    from meanstest.spark import command

    def no_spark(*a, **k):
        raise AssertionError("Spark started before --out was checked")

    monkeypatch.setattr(command, "session", no_spark)
    bundle = tmp_path / "bundle"
    write_bundle(synth.generate(5, seed=1), bundle)
    (bundle / "bank.parquet").unlink()
    argv = ["review", str(bundle), "--out", str(bundle / "bank"), "--engine", "spark"]
    assert cli.main(argv) == 1
    assert f"{bundle / 'bank'} is where the bundle's readers look" in capsys.readouterr().err
    assert not (bundle / "bank").exists()


def test_a_truncated_table_file_is_named_with_pyarrows_reason_when_shuffled(spark, tmp_path, capfd):
    """Spark's own reader refused a truncated bank.parquet as "An error occurred while
    calling o452.parquet." (py4j's words); the single machine and the in-place way say
    what pyarrow says of the file (a blind test)."""
    bundle = tmp_path / "bundle"
    write_bundle(synth.generate(20, seed=1), bundle)
    bank = bundle / "bank.parquet"
    bank.write_bytes(bank.read_bytes()[: bank.stat().st_size // 2])
    argv = ["review", str(bundle), "--out", str(tmp_path / "out"), "--quiet"]
    assert cli.main([*argv, "--engine", "spark", "--master", "local[2]", "--spark-shuffle"]) == 1
    last = capfd.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"meanstest: error: {bank}: cannot read parquet data"), last
    assert "o4" not in last and "An error occurred while calling" not in last, last


def test_the_last_line_counts_chunks_either_way():
    """summary.json's `chunks` (in-place chunks or shuffled household partitions) are
    "chunks" on the console too: the in-place way's line said "1 partition"."""
    from meanstest.spark.command import ended_line

    s = {"households_read": 1200, "assessed": 1190, "rejected": 10, "chunks": 1}
    assert ended_line(s, 2.5, "4.1.4", "local[2]") == (
        "households read 1,200: assessed 1,190, rejected 10 "
        "(2.50 s on Spark 4.1.4, master local[2], 1 chunk)"
    )
    assert ended_line(s | {"chunks": 4}, 2.5, "4.1.4", "local[2]").endswith(", 4 chunks)")
