"""Fuzzing the bundle reader and validator (issue 9), bounded for CI.

tests/test_validate.py already mutates cell values of a valid bundle (300 examples);
this adds what it does not reach: arbitrary bytes and byte-level damage to table files,
and tables of arbitrary Arrow types and column sets. Promise: `read_bundle` / `conform`
return canonical tables or raise BundleError (one line, naming the file), never another
exception; whatever conforms validates with households read = assessed + rejected.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meanstest import schema, synth
from meanstest.bundle import read_bundle
from meanstest.conform import conform
from meanstest.errors import BundleError
from meanstest.policy import default_library
from meanstest.validate import validate

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
BASE = synth.generate(4, seed=2)
TABLES = list(schema.TABLES)


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _read(folder, name: str, data: bytes, suffix: str = ".parquet"):
    for old in folder.iterdir():
        old.unlink()
    (folder / f"{name}{suffix}").write_bytes(data)
    try:
        tables = read_bundle(folder)
    except BundleError as e:
        assert "\n" not in e.message and str(folder) in e.message
        return None
    for n, t in tables.items():
        assert t.schema.equals(schema.arrow_schema(n))
    return tables


@SETTINGS
@given(st.sampled_from(TABLES), st.binary(max_size=2048), st.sampled_from([".parquet", ".arrow"]))
def test_arbitrary_bytes(tmp_path_factory, name, data, suffix):
    _read(tmp_path_factory.mktemp("b"), name, data, suffix)


@SETTINGS
@given(
    st.sampled_from(TABLES),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 64),
)
def test_damaged_parquet(tmp_path_factory, name, flips, cut):
    data = bytearray(_parquet(BASE[name]))
    for at, value in flips:
        data[at % len(data)] = value
    _read(tmp_path_factory.mktemp("b"), name, bytes(data[: len(data) - cut]))


TYPES = st.sampled_from(
    [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint64(), pa.float64(), pa.string(),
     pa.large_string(), pa.binary(), pa.bool_(), pa.date32(), pa.date64(), pa.null(),
     pa.timestamp("s"), pa.list_(pa.string()), pa.list_(pa.int32()), pa.decimal128(10, 2),
     pa.dictionary(pa.int32(), pa.string())]
)  # fmt: skip


@SETTINGS
@given(st.sampled_from(TABLES), st.data())
def test_arbitrary_column_types(name, data):
    table = BASE[name].slice(0, 2)
    columns, arrays = [], []
    for col in schema.TABLES[name]:
        if data.draw(st.integers(0, 9)) == 0:
            continue  # the column is missing
        values = table[col.name]
        if data.draw(st.booleans()):
            try:
                values = values.cast(data.draw(TYPES))
            except (pa.ArrowException, ValueError, TypeError):
                values = pa.nulls(table.num_rows, data.draw(TYPES))
        columns.append(col.name)
        arrays.append(values)
    try:
        conformed = conform(name, pa.table(arrays, names=columns), file=f"{name}.parquet")
    except BundleError as e:
        assert "\n" not in e.message
        return
    assert conformed.schema.equals(schema.arrow_schema(name))
    tables = {n: BASE[n] for n in ("households", "persons", "supporters")}
    tables[name] = conformed
    v = validate(tables, default_library())
    assert v.households_read == v.engine_input.households.num_rows + v.rejects.num_rows
