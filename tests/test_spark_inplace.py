"""Spark with the bundle read where it lies (issue 12): a household-grouped Parquet
bundle is reviewed one task per chunk of row groups, with no shuffle, and gives the
single-machine review's outputs; any other bundle takes the general path, saying why.

The planning and reading (meanstest.spark.inplace.plan and .read) run without Spark
and are compared with the single machine's streamed review, which reads the same
chunks (meanstest.review.stream.read_chunk); the review itself runs on conftest.py's
local[2] session."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from builders import ingest_record, on_spark
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meanstest import schema, synth
from meanstest.bundle import write_bundle
from meanstest.conform import conform_tables
from meanstest.errors import MeansTestError
from meanstest.policy import default_library
from meanstest.review import ReviewOptions, run_review, stream
from meanstest.review.plan import bundle_files, chunk_starts, id_tables, make_plan
from meanstest.spark import inplace

OUTPUTS = ("results", "members", "findings", "rejects")


def _blocks(sizes: list[int], seed: int = 11, odd: bool = True) -> list[dict[str, pa.Table]]:
    """Synthetic blocks of households (bad rows 5%). `odd`: block 0 gets a households
    row with a null household_id, a member of no household and a source row of a null
    person; the last block a member who is also a member in block 0 (DUPLICATE_PERSON
    across chunks: his source rows, in block 0's row groups, belong to both)."""
    blocks, start = [], 0
    for n in sizes:
        block = conform_tables(synth.generate(n, seed=seed, bad_fraction=0.05, start=start))
        blocks.append(block)
        start += n
    if odd:
        first = blocks[0]
        hh = first["households"]
        null_id = hh.slice(0, 1).set_column(0, "household_id", pa.nulls(1, pa.string()))
        first["households"] = pa.concat_tables([hh.slice(0, 2), null_id, hh.slice(2)])
        # the null id is row 3 of the file (row 2 when block 0 has one household)
        persons = first["persons"]
        orphan = persons.slice(0, 1).set_column(0, "household_id", pa.array(["NO-SUCH-HOME"]))
        first["persons"] = pa.concat_tables([persons, orphan])
        bank = first["bank"]
        nobody = bank.slice(0, 1).set_column(0, "person_id", pa.nulls(1, pa.string()))
        first["bank"] = pa.concat_tables([bank, nobody])
        if len(blocks) > 1:
            last = blocks[-1]
            twice = persons.slice(0, 1).set_column(
                0, "household_id", last["households"]["household_id"].slice(0, 1)
            )
            last["persons"] = pa.concat_tables([last["persons"], twice])
    return blocks


def _write_grouped(blocks: list[dict[str, pa.Table]], folder: Path) -> Path:
    """One row group per table for every block, as `meanstest synth` writes a district."""
    folder.mkdir(parents=True, exist_ok=True)
    writers = {t: pq.ParquetWriter(folder / f"{t}.parquet", schema.arrow_schema(t)) for t in
               schema.TABLES}  # fmt: skip
    for block in blocks:
        for name, table in block.items():
            writers[name].write_table(table.cast(schema.arrow_schema(name)))
    for w in writers.values():
        w.close()
    return folder


def _single_machine_chunks(bundle: Path, chunk_size: int):
    """The streamed review's plan and layout of the same chunks (what `plan` builds)."""
    files = bundle_files(bundle)
    groups = stream.group_rows(files["households"])
    the_plan = make_plan(id_tables(files), chunk_size, starts=chunk_starts(groups, chunk_size))
    return files, the_plan, stream.layout(files, the_plan)


def _check_reads_like_the_single_machine(bundle: Path, partitions: int):
    """inplace.plan against the streamed review's plan of the same chunks (about
    `partitions`, whole households row groups): both read in place or neither does,
    and each chunk's tables, and each row's number in its file, are the same."""
    groups = stream.group_rows(bundle / "households.parquet")
    chunk_size = max(min(-(-sum(groups) // partitions), inplace.MAX_CHUNK), max(groups))
    files, the_plan, found = _single_machine_chunks(bundle, chunk_size)
    planned = inplace.plan(bundle, partitions)
    assert (planned is None) == (found is None)
    if planned is None:
        return None
    assert planned.chunk_size == chunk_size and len(planned.chunks) == the_plan.n_chunks
    whole = {t: pq.read_table(files[t]) for t in files}
    for chunk in planned.chunks:
        tables, numbers = inplace.read(planned.files, chunk)
        want, places = stream.read_chunk(files, the_plan, found, chunk.chunk)
        for name in schema.TABLES:
            assert tables[name].equals(want[name]), (chunk.chunk, name)
            assert np.array_equal(numbers[name], places[name]), (chunk.chunk, name)
            if name in whole:  # each row's number is its place in its file
                again = whole[name].take(pa.array(numbers[name], pa.int64()))
                assert again.to_pylist() == tables[name].to_pylist(), (chunk.chunk, name)
    households = np.concatenate([inplace.read(planned.files, c)[1]["households"]
                                 for c in planned.chunks])  # fmt: skip
    assert sorted(households.tolist()) == list(range(sum(groups)))
    return planned


def test_chunks_read_the_rows_the_streamed_review_reads(tmp_path):
    bundle = _write_grouped(_blocks([40, 30, 50, 20]), tmp_path / "bundle")
    planned = _check_reads_like_the_single_machine(bundle, partitions=4)
    assert planned is not None and len(planned.chunks) == 4  # one row group each: none is cut
    assert planned.outside.orphan_rows == 1 and planned.outside.unmatched_source_rows >= 1
    assert planned.duplicates  # the person in two chunks' households


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=5),
    partitions=st.integers(1, 6),
    seed=st.integers(0, 10_000),
)
def test_random_groupings_read_like_the_streamed_review(tmp_path_factory, sizes, partitions, seed):
    bundle = _write_grouped(_blocks(sizes, seed), tmp_path_factory.mktemp("random"))
    _check_reads_like_the_single_machine(bundle, partitions)


def test_a_scattered_bundle_is_not_read_in_place(tmp_path):
    """Households rows shuffled over the row groups: every chunk would read about every
    row group of the other files, so the general path is taken, and the reason said."""
    bundle = _write_grouped(_blocks([30, 30, 30], odd=False), tmp_path / "bundle")
    hh = pq.read_table(bundle / "households.parquet")
    order = np.random.default_rng(7).permutation(hh.num_rows)
    pq.write_table(hh.take(pa.array(order)), bundle / "households.parquet", row_group_size=30)
    said = []
    assert inplace.plan(bundle, 3, said.append) is None
    why = "the chunks' rows are spread over the files' row groups; meanstest regroup lays"
    assert said == [f"{why} the bundle out once to be read in place"]


def test_a_regrouped_bundle_not_read_in_place_says_why_not_to_regroup_it(tmp_path):
    """On meanstest regroup's own output, the review advised "meanstest regroup lays the
    bundle out once to be read in place": circular (an operator's blind check, 1,549
    rows of people in several blocks). Here every member is a member of a second
    household half the district away too: with blocks of 10 households their source rows
    are in the tables' last row groups, read by every chunk. The review says that, with
    regroup.json's count, and that larger blocks help, which they do."""
    from meanstest.review.regroup import regroup

    tables = conform_tables(synth.generate(40, seed=5))
    persons = tables["persons"]
    homes = tables["households"]["household_id"].to_pylist()
    far = {h: homes[(i + 20) % len(homes)] for i, h in enumerate(homes)}
    again = pa.array([far[h] for h in persons["household_id"].to_pylist()], pa.string())
    tables["persons"] = pa.concat_tables([persons, persons.set_column(0, "household_id", again)])
    write_bundle(tables, tmp_path / "bundle")
    done = regroup(tmp_path / "bundle", tmp_path / "by10", block=10, quiet=True)
    shared = done["rows_of_people_in_several_blocks"]
    assert shared > 0
    said = []
    assert inplace.plan(tmp_path / "by10", 4, said.append) is None
    why = (
        "the chunks' rows are spread over the files' row groups; meanstest regroup wrote this"
        f" bundle (regroup.json), but {shared:,} source rows are of people in households of"
        " several blocks (its rows_of_people_in_several_blocks): they are in the last row"
        " group of their table, which every chunk with one of those people reads, and the"
        " chunks would read more than 1.5 times the bundle's rows. Regrouping with larger"
        " blocks (--block; these hold 10 households) puts fewer people in several blocks;"
        " the shuffled review gives the same outputs"
    )
    assert said == [why]
    regroup(tmp_path / "bundle", tmp_path / "by40", block=40, quiet=True)
    assert inplace.plan(tmp_path / "by40", 4) is not None


def test_bundles_that_are_not_one_parquet_file_per_table(tmp_path):
    tables = conform_tables(synth.generate(30, seed=3))
    arrow, folder = tmp_path / "arrow", tmp_path / "folder"
    write_bundle(tables, arrow, format="arrow")
    write_bundle(tables, folder)
    (folder / "bank.parquet").unlink()
    (folder / "bank").mkdir()
    pq.write_table(tables["bank"], folder / "bank" / "part-0.parquet")
    for bundle, why in [
        (arrow, "a table is an Arrow IPC file"),
        (folder, "a table is a folder of files"),
        ("hdfs://namenode/bundle", "the bundle is not a folder on a local or mounted file system"),
        (tables, "the bundle is not a folder on a local or mounted file system"),
    ]:
        said = []
        assert inplace.plan(bundle, 2, said.append) is None
        assert said == [why]


# On Spark -------------------------------------------------------------------------------


def _rows(table: pa.Table) -> list:
    return sorted(table.to_pylist(), key=repr)


def _output(folder: Path, by=("jurisdiction",)) -> pa.Table:
    return (
        ds.dataset(folder, format="parquet", partitioning="hive").to_table().drop_columns(list(by))
    )


@pytest.fixture(scope="module")
def reviewed(spark, tmp_path_factory):
    """A grouped bundle of 4 blocks reviewed by `meanstest review` (one chunk) and in
    place on Spark (4 chunks)."""
    root = tmp_path_factory.mktemp("inplace")
    bundle = _write_grouped(_blocks([300, 250, 300, 200]), root / "bundle")
    notes = ingest_record(bundle, ["HH000000007"])  # summary.json keeps them on both engines
    single = run_review(bundle, root / "single", default_library(), ReviewOptions(quiet=True))
    assert single["ingest_notes"] == notes
    said = []
    from meanstest.spark import review_spark

    summary = review_spark(spark, bundle, default_library(), root / "spark", 4, in_place=True,
                           say=said.append)  # fmt: skip
    return root, single, summary, said


@pytest.mark.slow
@on_spark
def test_in_place_outputs_are_the_single_machine_review_s(reviewed):
    root, single, summary, said = reviewed
    text = "reading the bundle in place: 4 chunks of whole row groups, up to 301 households each"
    assert said == [f"{text}, no shuffle"]
    for name in OUTPUTS:
        want = pq.read_table(root / "single" / f"{name}.parquet")
        got = _output(root / "spark" / name)
        assert got.num_rows == want.num_rows > 0, name
        assert _rows(got) == _rows(want), name
    got = _output(root / "spark" / "changes", ("transition", "jurisdiction"))
    want = [pq.read_table(root / "single" / f"changes_{t}.parquet") for t in
            ("new", "exit", "adjust", "phase_out")]  # fmt: skip
    assert _rows(got) == _rows(pa.concat_tables([t.select(got.column_names) for t in want]))
    on_disk = json.loads((root / "spark" / "summary.json").read_text(encoding="utf-8"))
    assert on_disk == summary
    assert {k: v for k, v in summary.items() if k not in ("chunks", "chunk_size")} == {
        k: v for k, v in single.items() if k not in ("chunks", "chunk_size")
    }
    assert summary["chunks"] == 4 and summary["orphan_rows"] == 1


@pytest.mark.slow
@on_spark
def test_in_place_outputs_have_the_general_path_s_folders(reviewed):
    root = reviewed[0]
    results = root / "spark" / "results"
    assert (results / "_SUCCESS").exists()
    places = {p.name for p in results.iterdir() if p.is_dir()}
    table = ds.dataset(results, partitioning="hive").to_table()
    assert places == {f"jurisdiction={j}" for j in set(table["jurisdiction"].to_pylist())}
    assert not (root / "spark" / "_meanstest_tmp").exists()
    texts = [r for rs in _output(root / "spark" / "rejects")["reasons"].to_pylist() for r in rs]
    assert "households.household_id record=(row 3): null in a required column" in texts
    codes = _output(root / "spark" / "findings")["code"].to_pylist()
    assert "DUPLICATE_PERSON" in codes


@pytest.mark.slow
@on_spark
def test_a_bundle_that_cannot_be_read_in_place(spark, tmp_path):
    """in_place=None takes the general path and says why; in_place=True refuses."""
    from meanstest.spark import review_spark

    bundle = tmp_path / "bundle"
    write_bundle(conform_tables(synth.generate(60, seed=5)), bundle, format="arrow")
    with pytest.raises(MeansTestError, match="cannot be reviewed in place: a table is an Arrow"):
        review_spark(spark, bundle, default_library(), tmp_path / "a", in_place=True)
    said = []
    summary = review_spark(spark, bundle, default_library(), tmp_path / "b", say=said.append)
    assert said == ["shuffling the bundle's rows by household (a table is an Arrow IPC file)"]
    assert summary["households_read"] == 60 and summary["accounting_closes"]


def test_an_output_file_appears_whole_or_not_at_all(tmp_path):
    """A task's file is written under a hidden name and renamed: a write that fails
    leaves neither the file nor its partial copy (a retried or speculative attempt
    of the task can then write it again)."""
    from pyarrow import fs

    from meanstest.spark.write import write_file

    local, folder = fs.LocalFileSystem(), str(tmp_path)
    table = pa.table({"x": [1, 2, 3]})
    write_file(local, f"{folder}/part-00001.parquet", table)
    assert pq.read_table(tmp_path / "part-00001.parquet").equals(table)

    class Broken:  # pq.write_table fails after the file was opened
        schema = table.schema

        def __getattr__(self, name):
            raise OSError("disk full")

    with pytest.raises(Exception, match="disk full|Table"):
        write_file(local, f"{folder}/part-00002.parquet", Broken())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-00001.parquet"]


def test_an_empty_bundle_is_one_empty_chunk(tmp_path):
    bundle = tmp_path / "empty"
    write_bundle({t: schema.empty_table(t) for t in schema.TABLES}, bundle)
    said = []
    planned = inplace.plan(bundle, 4, steps=said.append)
    assert planned is not None and len(planned.chunks) == 1
    assert "finding the row groups of 1 chunk in the bundle's files" in said
    tables, numbers = inplace.read(planned.files, planned.chunks[0])
    assert all(t.num_rows == 0 for t in tables.values())
    assert all(len(n) == 0 for n in numbers.values())
    assert planned.outside.orphan_rows == planned.outside.unmatched_source_rows == 0


def test_a_task_holds_at_most_max_chunk_households(tmp_path, monkeypatch):
    """One partition asked for, but chunks are cut at MAX_CHUNK households (whole row
    groups): a task's memory does not grow with the bundle."""
    monkeypatch.setattr(inplace, "MAX_CHUNK", 25)
    bundle = _write_grouped(_blocks([20, 20, 20, 20], odd=False), tmp_path / "bundle")
    planned = _check_reads_like_the_single_machine(bundle, partitions=1)
    assert planned is not None
    assert planned.chunk_size == 25 and len(planned.chunks) == 4


@pytest.mark.slow
@on_spark
def test_a_review_in_place_says_its_steps_and_counts_its_chunks(spark, tmp_path, capfd):
    from meanstest.spark import review_spark

    bundle = _write_grouped(_blocks([40, 40, 40], odd=False), tmp_path / "bundle")
    said = []
    summary = review_spark(spark, bundle, default_library(), tmp_path / "out", 3,
                           say=said.append, quiet=False)  # fmt: skip
    assert summary["households_read"] == 120 and summary["chunks"] == 3
    assert said[0] == "planning chunks: reading the household and person IDs"
    assert "finding the row groups of 3 chunks in the bundle's files" in said
    err = capfd.readouterr().err
    for text in ("3/3 chunks assessed", "ranking the results of 3 chunks",
                 "3/3 chunks' results written"):  # fmt: skip
        assert text in err, text


def test_a_bundle_path_is_local_whatever_its_spelling():
    """file: URIs are this machine's paths (percent-escapes decoded, as Spark spells
    them); other schemes are not, so the review takes the shuffled path for them."""
    from pathlib import Path

    for text in ("/x/a b", "file:/x/a b", "file:///x/a%20b"):
        assert inplace.local_folder(text) == Path("/x/a b")
    assert inplace.local_folder("rel/dir") == Path("rel/dir")
    for text in ("hdfs://nn/x", "s3a://bucket/x", {"households": None}):
        assert inplace.local_folder(text) is None


@pytest.mark.slow
@on_spark
@pytest.mark.parametrize("how", [[], ["--spark-shuffle"]], ids=["in place", "shuffled"])
def test_a_corrupt_page_read_by_a_task_is_named_in_one_line(spark, tmp_path, capfd, how):
    """An executor that cannot read a file raised a BundleError naming it, which reached
    the operator only inside a py4j traceback of ~100 lines (a blind check): the command
    now ends with `meanstest: error: <file>: ...`, rc 1. The shuffled way's tasks read
    whole files with pyarrow and raised its OSError, an 80-line traceback (a blind
    test)."""
    from meanstest import cli

    bundle = _write_grouped(_blocks([40, 40, 40], odd=False), tmp_path / "bundle")
    data = bytearray((bundle / "tax_income.parquet").read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + 400):
        data[i] ^= 0x5A
    (bundle / "tax_income.parquet").write_bytes(bytes(data))
    argv = ["review", str(bundle), "--out", str(tmp_path / "out"), "--quiet"]
    assert cli.main([*argv, "--engine", "spark", "--master", "local[2]", *how]) == 1
    last = capfd.readouterr().err.strip().splitlines()[-1]
    named = f"meanstest: error: {bundle / 'tax_income.parquet'}: cannot read parquet data"
    assert last.startswith(named), last


def test_only_a_tasks_meanstest_error_is_taken_from_a_spark_failure():
    from meanstest.spark import task_error

    carried = (
        "py4j.protocol.Py4JJavaError: An error occurred while calling o1.collect.\n"
        ": org.apache.spark.SparkException: Job aborted: PythonException: Traceback:\n"
        '  File "stream.py", line 107, in read_groups\n'
        "meanstest.errors.BundleError: /b/tax_income.parquet: cannot read parquet data\n"
        "\tat org.apache.spark.api.python.BasePythonRunner.handlePythonException\n"
    )
    assert task_error(RuntimeError(carried)) == "/b/tax_income.parquet: cannot read parquet data"
    assert task_error(RuntimeError("java.lang.OutOfMemoryError: Java heap space")) is None


@pytest.mark.parametrize(
    "text",
    ["{", "[" * 100_000 + "]" * 100_000, "[]", '{"households_per_block": 1}'],
    ids=["cut", "nested", "a list", "a key missing"],
)
def test_a_damaged_regroup_record_gets_the_advice_to_regroup(tmp_path, text):
    """The advice given when a bundle cannot be read in place reads regroup.json; one
    nested too deeply ended the review in a RecursionError."""
    from meanstest.spark.inplace import _what_helps

    (tmp_path / "regroup.json").write_text(text, encoding="utf-8")
    assert _what_helps(tmp_path) == (
        "its regroup.json cannot be read; meanstest regroup lays it out again"
    )


@pytest.mark.parametrize("in_place", [True, False])
def test_a_file_replaced_while_spark_reads_it_stops_the_review(
    spark, tmp_path, monkeypatch, in_place
):
    """As the single machine (review.state.check_unchanged): bank.parquet replaced while
    the tasks read the bundle stops the review naming it, with no output written; the
    single machine's streamed review exited 0 with the two tables mixed (a blind
    operator's check, 2026-12-07), and Spark's in-place tasks read the same way."""
    from meanstest.review.state import InputChanged
    from meanstest.spark import review as spark_review
    from meanstest.spark import review_spark

    bundle = _write_grouped(_blocks([40, 40, 40], odd=False), tmp_path / "bundle")

    def replace_bank():
        other = tmp_path / "other.parquet"
        pq.write_table(synth.generate(30, seed=98)["bank"], other)
        other.replace(bundle / "bank.parquet")

    if in_place:
        review = inplace.review

        def patched(*args):  # the tasks have read the old file; the new one is in place
            tallies = review(*args)
            replace_bank()
            return tallies

        monkeypatch.setattr(inplace, "review", patched)
    else:
        locate = spark_review.co_locate

        def patched(*args):  # before the tasks read the rows
            grouped = locate(*args)
            replace_bank()
            return grouped

        monkeypatch.setattr(spark_review, "co_locate", patched)
    out = tmp_path / "out"
    with pytest.raises(InputChanged) as e:
        review_spark(spark, bundle, default_library(), out, 3, in_place=in_place)
    assert str(e.value).startswith(
        f"{bundle / 'bank.parquet'}: replaced by another file while the review was reading it"
    )
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")]
