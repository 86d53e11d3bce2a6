"""How the output tables are written as Parquet (schema.output_parquet_options), by each
of their writers: the review (in memory and spooled), `write_outputs`, Spark's tasks.

IDs, digests and free text carry neither dictionary pages nor statistics (a dictionary
of a million distinct values is built and dropped: CPU for nothing); enumerations and
lists keep both; money and rank keep their statistics without a dictionary. Input
digests are stored uncompressed (random hex), every other column with Snappy. The values
are what they were: the tests of each writer compare them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from meanstest import pipeline, schema, synth
from meanstest.bundle import write_bundle
from meanstest.policy import default_library
from meanstest.review import ReviewOptions, run_review

OUTPUT_FILES = (
    "results",
    "members",
    "findings",
    "rejects",
    "changes_new",
    "changes_exit",
    "changes_adjust",
    "changes_phase_out",
)


def _column_chunks(path: Path) -> dict[str, list]:
    """Parquet column path → its column chunk metadata, over every row group."""
    meta = pq.ParquetFile(path).metadata
    chunks: dict[str, list] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            chunks.setdefault(column.path_in_schema, []).append(column)
    return chunks


def _check_file(path: Path) -> set[str]:
    """Asserts the options on every column of `path` that has values; returns the
    columns checked."""
    checked = set()
    for column_path, chunks in _column_chunks(path).items():
        name = column_path.split(".")[0]
        for chunk in chunks:
            if chunk.num_values == 0:
                continue
            dictionary = "RLE_DICTIONARY" in chunk.encodings
            codec = "UNCOMPRESSED" if name in schema.OUTPUT_UNCOMPRESSED else "SNAPPY"
            assert chunk.compression == codec, f"{path.name}: {column_path} {chunk.compression}"
            if name in schema.OUTPUT_FREE_TEXT:
                assert not dictionary, f"{path.name}: {column_path} has dictionary pages"
                assert not chunk.is_stats_set, f"{path.name}: {column_path} has statistics"
            else:
                assert chunk.is_stats_set, f"{path.name}: {column_path} lacks statistics"
                field = pq.read_schema(path).field(name)
                if field.type == pa.int64():
                    assert not dictionary, f"{path.name}: {column_path} has dictionary pages"
                elif field.type != pa.bool_():  # Parquet packs booleans as bits
                    assert dictionary, f"{path.name}: {column_path} lacks dictionary pages"
            checked.add(name)
    return checked


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle")
    write_bundle(synth.generate(200, seed=11, bad_fraction=0.05), path)
    return path


def test_the_options_name_list_columns_by_their_values_path():
    options = schema.output_parquet_options(schema.OUTPUTS["results"])
    assert "vetoes.list.element" in options["use_dictionary"]
    assert "eligible_programs.list.element" in options["write_statistics"]
    assert "household_id" not in options["write_statistics"]
    assert "input_digest" not in options["use_dictionary"]
    assert "benefit" in options["write_statistics"]
    assert "benefit" not in options["use_dictionary"]
    assert "status" in options["use_dictionary"]


def _parquet_leaves(table_schema: pa.Schema) -> list[str]:
    buffer = pa.BufferOutputStream()
    pq.write_table(table_schema.empty_table(), buffer)
    return [c.path for c in pq.ParquetFile(pa.BufferReader(buffer.getvalue())).schema]


@pytest.mark.parametrize("name", sorted(schema.OUTPUTS))
@pytest.mark.parametrize("lists", [pa.list_, pa.large_list])
def test_the_options_name_every_parquet_leaf(name, lists):
    """Parquet's writer takes a column the options do not name as uncompressed, without
    a dictionary and without statistics: every leaf of every output table is named,
    its lists as list or large_list; another nesting is refused, not written raw."""
    fields = [
        pa.field(f.name, lists(f.type.value_type)) if pa.types.is_list(f.type) else f
        for f in schema.OUTPUTS[name]
    ]
    table_schema = pa.schema(fields)
    options = schema.output_parquet_options(table_schema)
    assert sorted(options["compression"]) == sorted(_parquet_leaves(table_schema))
    named = set(options["use_dictionary"]) | set(options["write_statistics"])
    assert named <= set(options["compression"])
    struct = pa.struct([("a", pa.int8())])
    for other in (struct, pa.list_(struct), pa.list_(pa.list_(pa.string()))):
        with pytest.raises(ValueError, match="not a type of the output tables"):
            schema.output_parquet_options(pa.schema([pa.field("s", other)]))


@pytest.mark.parametrize("spooled", [False, True], ids=["in-memory", "spooled"])
def test_review_outputs_are_written_with_the_output_options(bundle, tmp_path, spooled):
    run_review(
        bundle, tmp_path, default_library(), ReviewOptions(quiet=True, spool=spooled, chunk_size=70)
    )
    checked = set()
    for name in OUTPUT_FILES:
        checked |= _check_file(tmp_path / f"{name}.parquet")
    # every kind of column was looked at: IDs, free text, enumerations, lists, money
    assert {"household_id", "detail", "status", "vetoes", "benefit", "reasons"} <= checked
    assert {"input_digest", "person_id", "record_id", "prev_status"} <= checked


def test_write_outputs_uses_the_output_options(bundle, tmp_path):
    assessment = pipeline.assess(bundle)
    pipeline.write_outputs(assessment, tmp_path)
    checked = set()
    for name in ("results", "members", "findings", "rejects"):
        checked |= _check_file(tmp_path / f"{name}.parquet")
        assert pq.read_table(tmp_path / f"{name}.parquet").equals(
            assessment.tables()[name].cast(schema.OUTPUTS[name])
        )
    assert {"household_id", "status", "benefit", "input_digest"} <= checked


def test_spark_tasks_write_files_with_the_output_options(bundle, tmp_path):
    from meanstest.spark.write import arrow_filesystem, write_file

    results = pipeline.assess(bundle).results
    filesystem, root = arrow_filesystem(str(tmp_path))
    piece = results.drop_columns(["policy_id"])  # a piece may lack columns
    write_file(filesystem, f"{root}/part-00000.parquet", piece)
    checked = _check_file(tmp_path / "part-00000.parquet")
    assert {"household_id", "input_digest", "status", "benefit"} <= checked
    assert pq.read_table(tmp_path / "part-00000.parquet").equals(piece)
