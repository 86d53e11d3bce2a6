"""The Spark review's output folders, whatever the jurisdictions (DATA.md: results +
rejects = households, nothing dropped silently): each output is a Parquet folder
partitioned by jurisdiction, and no jurisdiction string, however odd, may cost a row
or the review.

Each test reviews a tiny bundle with `meanstest review` and on conftest.py's local[2]
session every way (in place; shuffled, written by the executors with pyarrow or by
Spark's writer) and compares the outputs row for row."""

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow

pytest.importorskip("pyspark", reason="pyspark not installed (pip install -e '.[spark]')")
if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
    pytest.skip("Spark needs Java 17: no JAVA_HOME and no java on PATH", allow_module_level=True)

from meanstest import synth
from meanstest.bundle import write_bundle
from meanstest.conform import conform_tables
from meanstest.policy import default_library
from meanstest.review import ReviewOptions, run_review

OUTPUTS = ("results", "members", "findings", "rejects")


def _rows(table: pa.Table) -> list:
    return sorted(table.to_pylist(), key=repr)


def _output(folder: Path) -> pa.Table:
    """A Spark output folder's rows, as meanstest.outputs reads it (its files, without
    the folders' values)."""
    return pq.ParquetDataset(folder, partitioning=None).read()


def _with_jurisdictions(tables: dict[str, pa.Table], places: dict[int, str | None]):
    """`tables` with the jurisdiction of households row i set to places[i]."""
    hh = tables["households"]
    values = hh["jurisdiction"].to_pylist()
    for i, value in places.items():
        values[i] = value
    at = hh.schema.get_field_index("jurisdiction")
    return {
        **tables,
        "households": hh.set_column(at, "jurisdiction", pa.array(values, pa.string())),
    }


# The Spark review's ways of writing: in place, shuffled (the executors write with
# pyarrow), and shuffled through Spark's writer (an output folder pyarrow cannot reach).
WAYS = {
    "inplace": {"in_place": True},
    "shuffled": {"in_place": False},
    "spark-writer": {"in_place": False, "arrow_writes": False},
}


def _reviewed_every_way(spark, tables: dict[str, pa.Table], root: Path) -> dict:
    """The bundle reviewed by the single machine, and by Spark each of the WAYS; every
    output of each Spark review equal to the single machine's, row for row, and their
    summaries but for the chunking. Returns the single machine's summary."""
    from meanstest.spark import review_spark

    write_bundle(tables, root / "bundle")
    single = run_review(root / "bundle", root / "single", default_library(),
                        ReviewOptions(quiet=True))  # fmt: skip
    drop = ("chunks", "chunk_size")
    for way, how in WAYS.items():
        got = review_spark(spark, root / "bundle", default_library(), root / way, **how)
        assert {k: v for k, v in got.items() if k not in drop} == {
            k: v for k, v in single.items() if k not in drop
        }, way
        for name in OUTPUTS:
            want = pq.read_table(root / "single" / f"{name}.parquet")
            assert _rows(_output(root / way / name)) == _rows(want), (way, name)
        assert not (root / way / "_meanstest_tmp").exists()
    return single


def test_a_null_jurisdiction_and_one_spelt_as_hive_s_null_folder_both_keep_their_reject(
    spark, tmp_path
):
    """A households row with a null jurisdiction and one whose jurisdiction is the text
    `__HIVE_DEFAULT_PARTITION__` (the folder name of a null) are both rejected. Both
    rejects went to `rejects/jurisdiction=__HIVE_DEFAULT_PARTITION__/part-<task>.parquet`
    and one file overwrote the other: summary.json said rejected 2, rejects/ held 1 row,
    in place and shuffled (an operator's blind check). A file is now named by its group
    (output and jurisdiction) in the task, and the text has a folder of its own
    (layout.folder_value), which Spark reads back as a text, not as a null."""
    from meanstest.spark.layout import folder_value

    tables = conform_tables(synth.generate(6, seed=3))
    odd = "__HIVE_DEFAULT_PARTITION__"
    single = _reviewed_every_way(spark, _with_jurisdictions(tables, {1: None, 4: odd}), tmp_path)
    assert single["rejected"] >= 2
    rejects = pq.read_table(tmp_path / "single" / "rejects.parquet")
    assert {"HH000000001", "HH000000004"} <= set(rejects["household_id"].to_pylist())
    written = folder_value(odd)
    assert written.startswith(f"{odd}~") and len(written) == len(odd) + 17
    for way in WAYS:
        folders = {p.name for p in (tmp_path / way / "rejects").iterdir() if p.is_dir()}
        assert {f"jurisdiction={odd}", f"jurisdiction={written}"} <= folders
        conf = "spark.sql.sources.partitionColumnTypeInference.enabled"  # docs/spark.md
        spark.conf.set(conf, "false")
        try:
            back = spark.read.parquet(str(tmp_path / way / "rejects")).collect()
        finally:
            spark.conf.unset(conf)
        places = {r["household_id"]: r["jurisdiction"] for r in back}
        assert places["HH000000001"] is None and places["HH000000004"] == written, way


LONG = "1" * 300
ADDRESS = "内蒙古自治区赤峰市巴林左旗林东镇北城街道办事处第一社区居委会"  # 30 characters


def test_a_jurisdiction_too_long_for_a_folder_name_is_rejected_not_fatal(spark, tmp_path):
    """A households row whose jurisdiction is 300 digits, or a 30-character address put
    in the column by mistake, is rejected by the single machine ("not 6 digits") and
    the rest assessed. On Spark the whole review failed: its folder name
    (`jurisdiction=` and the encoded text, 313 and 283 bytes) is beyond the file
    system's 255 (`OSError: [Errno 36] File name too long`, _meanstest_tmp/ left in
    --out). Now such a text's folder is its beginning and a digest, at most
    FOLDER_BYTES, and the review gives the single machine's outputs every way."""
    from urllib.parse import quote

    tables = _with_jurisdictions(conform_tables(synth.generate(6, seed=3)), {2: LONG, 5: ADDRESS})
    single = _reviewed_every_way(spark, tables, tmp_path)
    from meanstest.spark.layout import FOLDER_BYTES, folder_value  # after: none before the fix

    rejects = pq.read_table(tmp_path / "single" / "rejects.parquet")
    assert {"HH000000002", "HH000000005"} <= set(rejects["household_id"].to_pylist())
    assert single["assessed"] == 4
    for way in WAYS:
        names = [p.name for p in (tmp_path / way / "rejects").iterdir() if p.is_dir()]
        assert max(len(n.encode("utf-8")) for n in names) <= FOLDER_BYTES, way
        keys = ds.partitioning(pa.schema([("jurisdiction", pa.string())]), flavor="hive")
        back = ds.dataset(tmp_path / way / "rejects", partitioning=keys).to_table()
        places = dict(zip(*(back[c].to_pylist() for c in ("household_id", "jurisdiction"))))
        for household, value in (("HH000000002", LONG), ("HH000000005", ADDRESS)):
            written = folder_value(value)
            assert places[household] == written, (way, household)
            assert value.startswith(written.split("~")[0]) and len(written.split("~")[1]) == 16
            assert len("jurisdiction=" + quote(written, safe="")) <= FOLDER_BYTES


def test_a_review_that_fails_while_writing_leaves_no_tmp_folder(spark, tmp_path, monkeypatch):
    """A Spark review that failed after its tasks had written (the too-long folder
    name above) left `_meanstest_tmp/` in --out. Whatever fails once the outputs are
    being written, in place or shuffled, the folder is removed and the error raised."""
    from meanstest.spark import inplace, review_spark, write

    write_bundle(conform_tables(synth.generate(6, seed=3)), tmp_path / "bundle")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(write, "move_outputs", full)  # after the shuffled way's writes
    monkeypatch.setattr(inplace, "run_ranks", full)  # between the in-place way's passes
    for way in ("inplace", "shuffled"):  # Spark's writer has its own temporary files
        how = WAYS[way]
        with pytest.raises(OSError, match="No space left"):
            review_spark(spark, tmp_path / "bundle", default_library(), tmp_path / way, **how)
        assert not (tmp_path / way / "_meanstest_tmp").exists(), way
