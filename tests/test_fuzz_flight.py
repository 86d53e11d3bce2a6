"""Fuzzing Flight's request path, bounded for CI (fuzz/fuzz_proto.py runs it unbounded).

A Flight request is an Arrow IPC stream of the nested request table (service/nested.py).
Byte damage to a valid one is read as Flight's reader reads it, then goes through the
DoExchange handler's own steps: `flight.bounded_request`, `flight.request_tables`, the
service's engine step with its reason budget, and the answer table. Promise: nothing is
raised after the stream is read but what the handler answers INVALID_ARGUMENT (a
MeansTestError, or Arrow's and Python's errors of bad input: flight._FOREIGN_BAD_INPUT),
never what it would answer INTERNAL, and every household of a request read is answered
once (a forged request once killed the server: 3468e3c).
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meanstest import synth
from meanstest.errors import MeansTestError
from meanstest.policy import default_library
from meanstest.service import nested
from meanstest.service.call import ServiceConfig
from meanstest.service.flight import _FOREIGN_BAD_INPUT, bounded_request, request_tables
from meanstest.service.server import MeansTestService

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
HOUSEHOLDS = 64  # --max-call-households of these calls
SERVICE = MeansTestService(ServiceConfig(default_library(), max_call_households=HOUSEHOLDS))


def _stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


REQUEST = nested.tables_to_nested(synth.generate(4, seed=3, bad_fraction=0.3))
STREAM = _stream(REQUEST)
BODY = len(STREAM) // 2


def served(data: bytes) -> pa.Table | None:
    """The answer table the handler's steps give for the stream `data`; None when the
    stream cannot be read (Flight's reader refuses it before the handler)."""
    try:
        request = pa.ipc.open_stream(data).read_all()
    except (pa.ArrowException, OSError):
        return None
    bound = bounded_request(request, HOUSEHOLDS)
    tables = request_tables(request, bound)
    outputs, _, _ = SERVICE.assess_tables(tables)  # the handler's engine step itself
    answer = nested.answer_table(outputs)
    assert answer.num_rows == request.num_rows
    return answer


def test_an_undamaged_request_is_answered_household_by_household():
    answer = served(STREAM)
    assert answer is not None and answer.num_rows == REQUEST.num_rows == 4
    sent = sorted(REQUEST["household_id"].to_pylist())
    assert sorted(answer["household_id"].to_pylist()) == sent


def test_offsets_that_go_down_are_refused_before_anything_reads_them():
    """The crash of 3468e3c: household_id offsets 0, n, 0, n, … (each within the data,
    which Arrow's cheap validation accepts)."""
    ids = REQUEST["household_id"].combine_chunks()
    n = len(ids[0].as_py())
    offsets = pa.array([0, n, 0, n, n], pa.int32())
    forged = pa.StringArray.from_buffers(4, offsets.buffers()[1], ids.buffers()[2])
    table = REQUEST.set_column(0, "household_id", forged)
    with pytest.raises(MeansTestError, match="not valid Arrow data"):
        served(_stream(table))


@SETTINGS
@given(st.data())
def test_damaged_requests_are_answered_or_refused(data):
    raw = bytearray(STREAM)
    # anywhere, or past the schema and most of the batch's metadata: in its values
    start = data.draw(st.sampled_from([0, BODY]))
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(start, len(raw) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    try:
        served(bytes(raw))
    except (MeansTestError, *_FOREIGN_BAD_INPUT):
        pass


@pytest.mark.parametrize("name", [b"jurisdiction", b"relation"])  # a column, a nested field
def test_a_name_that_is_not_utf8_is_refused_as_such(name):
    """A field name whose bytes are not UTF-8: pyarrow decodes names when asked for
    them, and the handler answered with the codec's own words ("'utf-8' codec can't
    decode byte 0xff in position 0"), or for a nested field not before un-nesting."""
    assert STREAM.count(name) == 1
    damaged = STREAM.replace(name, b"\xff" + name[1:])
    with pytest.raises(
        MeansTestError, match=r"not valid Arrow data \(a column name is not UTF-8\)"
    ):
        served(damaged)


@pytest.mark.parametrize(
    ("kind", "entries"),
    [(pa.list_(pa.null()), [[None, None], [None]]), (pa.list_(pa.int64()), [[1], [2, 3]])],
)
def test_a_table_whose_entries_are_not_records_is_refused_naming_it(kind, entries):
    """`make fuzz` (2026-12-07): a persons column of list<null> with entries (a shuffled
    schema) ended the un-nesting in a TypeError, which the handler answers "internal
    error"; list<int64> did the same. A list<null> with no entries is an empty table."""
    persons = REQUEST.schema.get_field_index("persons")
    table = REQUEST.slice(0, 2).set_column(persons, "persons", pa.array(entries, kind))
    with pytest.raises(MeansTestError, match=r"column persons: list<item: \w+> holds 3 entries"):
        served(_stream(table))
    empty = REQUEST.slice(0, 2).set_column(persons, "persons", pa.array([[], None], kind))
    answer = served(_stream(empty))
    assert answer is not None and answer.num_rows == 2
