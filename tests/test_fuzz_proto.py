"""Fuzzing the protobuf conversion (issue 9), bounded for CI.

Households built field by field from the message descriptors (any presence, any string
including non-ASCII and control characters, any int64, dates that are and are not
YYYY-MM-DD), and arbitrary bytes parsed as requests. Promise: conversion never raises,
a value that does not fit its type arrives as a null (and is listed), and every
household of a request is answered once: results + rejects = households sent.
tests/test_service*.py cover the served path.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor as F
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meanstest import assess
from meanstest.policy import default_library
from meanstest.service import convert
from meanstest.service.bulk import pipeline_tables
from meanstest.v1 import meanstest_pb2 as pb

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
LIBRARY = default_library()
TEXT = st.one_of(
    st.sampled_from(["150422", "150404", "urban", "rural", "head", "deposit", "none", "car",
                     "2024-07-01", "2024-13-45", "", "15042219700101123X", "150422197001011233"]),
    st.text(max_size=20),
)  # fmt: skip
INTS = st.one_of(st.integers(-3, 12), st.integers(-(1 << 63), (1 << 63) - 1))


def _scalar(field):
    if field.type == F.TYPE_STRING:
        return TEXT
    if field.type == F.TYPE_BOOL:
        return st.booleans()
    return (
        INTS
        if field.type in (F.TYPE_INT64, F.TYPE_SINT64)
        else st.integers(-(1 << 31), (1 << 31) - 1)
    )


@st.composite
def messages(draw, descriptor, depth=0):
    msg = getattr(pb, descriptor.name)()
    for field in descriptor.fields:
        if field.type == F.TYPE_MESSAGE:
            if field.message_type.name == "Programs":
                if draw(st.booleans()):
                    msg.current_programs.names.extend(draw(st.lists(TEXT, max_size=3)))
                continue
            if depth == 0:
                for _ in range(draw(st.integers(0, 2))):
                    getattr(msg, field.name).add().CopyFrom(
                        draw(messages(field.message_type, depth + 1))
                    )
            continue
        if draw(st.integers(0, 3)) == 0:
            continue  # absent: a null
        setattr(msg, field.name, draw(_scalar(field)))
    return msg


@SETTINGS
@given(st.lists(messages(pb.Household.DESCRIPTOR), max_size=4))
def test_any_households_are_answered_once_each(households):
    conv = convert.households_to_tables(households)
    out, _ = pipeline_tables(conv.tables, LIBRARY, "fast", None, conv.unreadable)
    assert out["results"].num_rows + out["rejects"].num_rows == len(households)
    response = convert.outputs_to_response(out)
    assert convert.response_to_tables(response)["results"].num_rows == out["results"].num_rows


@SETTINGS
@given(st.binary(max_size=512))
def test_arbitrary_bytes_parse_or_fail_cleanly(data):
    try:
        request = pb.AssessRequest.FromString(data)
    except DecodeError:
        return
    conv = convert.households_to_tables(request.households)
    assert conv.tables["households"].num_rows == len(request.households)
    for name, columns in conv.unreadable.items():  # each cell that did not fit is a null
        for column, cells in columns.items():
            taken = conv.tables[name][column].take(cells.rows)
            assert taken.null_count == len(cells.rows) == len(cells.details)


def _padded(arr, extra: bytes):
    """`arr` (string or integer) with its offsets or values buffer `extra` bytes longer,
    of a size no multiple of its element: valid Arrow, as an IPC stream may send."""
    import pyarrow as pa

    bufs = arr.buffers()
    longer = pa.py_buffer(bufs[1].to_pybytes() + extra)
    return pa.Array.from_buffers(arr.type, len(arr), [bufs[0], longer, *bufs[2:]])


def test_buffers_longer_than_their_rows_are_read_as_their_rows():
    """An AssessArrow stream whose string offsets buffer was 106 bytes (`make fuzz`,
    2026-12-05) ended in numpy's "buffer size must be a multiple of element size" —
    INTERNAL from the service. Only the array's own offsets and values are read. (Our
    IPC writer trims buffers, so the arrays are handed in as they arrived.)"""
    from meanstest import synth

    tables = synth.generate(6, seed=2)
    hh = tables["households"]
    for name in ("household_id", "area", "prev_status", "prev_benefit", "declared_vehicles"):
        at = hh.schema.get_field_index(name)
        hh = hh.set_column(at, hh.field(at), _padded(hh[name].combine_chunks(), b"\0\0"))
    assert hh["area"].chunk(0).buffers()[1].size % 4 == 2
    got = assess({**tables, "households": hh}, LIBRARY).tables()
    want = assess(tables, LIBRARY).tables()
    for name in ("results", "members", "findings", "rejects"):
        assert got[name].equals(want[name]), name


def _no_bytes(field):
    """A zero-row array of `field`'s type whose buffers hold no bytes (valid Arrow;
    pyarrow's IPC keeps it so)."""
    import pyarrow as pa

    empty = pa.py_buffer(b"")
    t = field.type
    if pa.types.is_list(t):
        values = pa.Array.from_buffers(t.value_type, 0, [None, empty, empty])
        return pa.Array.from_buffers(t, 0, [None, empty], children=[values])
    buffers = [None, empty, empty] if pa.types.is_string(t) else [None, empty]
    return pa.Array.from_buffers(t, 0, buffers)


def test_a_table_of_no_rows_whose_buffers_hold_no_bytes_is_empty():
    """A department with no supporters, written by a writer that emits empty buffers:
    the first read of only an array's own offsets (above) asked numpy for one offset
    of a 0-byte buffer, and every review of such a bundle crashed."""
    import pyarrow as pa

    from meanstest import schema, synth

    tables = synth.generate(8, seed=4)
    for name in ("supporters", "vehicle"):
        fields = schema.arrow_schema(name)
        tables[name] = pa.table([_no_bytes(f) for f in fields], schema=fields)
        tables[name].validate(full=True)
    got = assess(tables, LIBRARY).tables()
    empty = {n: schema.empty_table(n) for n in ("supporters", "vehicle")}
    want = assess({**tables, **empty}, LIBRARY).tables()
    for name in ("results", "members", "findings", "rejects"):
        assert got[name].equals(want[name]), name


def test_the_utf8_check_reads_an_arrays_own_offsets():
    """utf8.first_bad_utf8_row on offsets buffers longer than their rows (any size):
    a bundle file holding such an array was refused with numpy's error."""
    import pyarrow as pa

    from meanstest.utf8 import first_bad_utf8_row

    good = pa.array(["150422", "x", "abc"])
    bad = pa.Array.from_buffers(
        pa.string(), 3, [None, good.buffers()[1], pa.py_buffer(b"150422x\xffbc")]
    )
    assert first_bad_utf8_row(_padded(good, b"\0\0\0")) is None
    assert first_bad_utf8_row(_padded(bad, b"\0\0")) == 2
