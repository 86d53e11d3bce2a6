"""AssessArrow's chunks as bytes (issue 13): the server reads and writes ArrowChunk
messages without message objects (`chunks.chunk_fields`, `chunks.chunk_bytes_of`).

- every ArrowChunk the protobuf library writes, and arbitrary bytes besides, are read
  as the library reads them, or refused (INVALID_ARGUMENT) where it refuses them;
- the bytes written are upb's deterministic serialisation, byte for byte;
- a bundle cut into chunk bytes and reassembled gives the same tables.
"""

from __future__ import annotations

import struct

import pyarrow as pa
import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meanstest import schema, synth
from meanstest.errors import MeansTestError
from meanstest.service import chunks
from meanstest.v1 import meanstest_pb2 as pb

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
names = st.text(max_size=20)
payloads = st.binary(max_size=300)


def by_library(data: bytes):
    try:
        chunk = pb.ArrowChunk.FromString(data)
    except DecodeError:
        return None
    return chunk.table, chunk.data, chunk.last


def by_reader(data: bytes):
    try:
        name, payload, last = chunks.chunk_fields(data)
    except MeansTestError as e:
        assert e.attrs.get("field") == "data"
        return None
    return name, bytes(payload), last


@SETTINGS
@given(names, payloads, st.booleans())
def test_written_bytes_are_upb_deterministic_serialisation(name, payload, last):
    expected = pb.ArrowChunk(table=name, data=payload, last=last)
    assert chunks.chunk_bytes_of(name, memoryview(payload), last) == expected.SerializeToString(
        deterministic=True
    )


@SETTINGS
@given(st.lists(st.tuples(names, payloads, st.booleans()), min_size=1, max_size=3))
def test_messages_sent_twice_or_merged_read_as_the_library_reads_them(parts):
    # concatenated messages are one message to protobuf: the last scalar of each field wins
    data = b"".join(pb.ArrowChunk(table=n, data=p, last=b).SerializeToString() for n, p, b in parts)
    assert by_reader(data) == by_library(data)


@SETTINGS
@given(st.binary(max_size=64))
def test_arbitrary_bytes_read_or_refused_as_the_library_does(data):
    assert by_reader(data) == by_library(data)


@SETTINGS
@given(st.binary(max_size=40), names, payloads)
def test_unknown_fields_and_garbage_around_a_chunk(junk, name, payload):
    data = pb.ArrowChunk(table=name, data=payload, last=True).SerializeToString() + junk
    assert by_reader(data) == by_library(data)


def test_unknown_fields_and_wrong_wire_types_are_skipped():
    # field 9 (varint), field 1 sent as a varint, field 3 as length-delimited: skipped
    data = b"\x48\x05" + b"\x08\x01" + b"\x1a\x01x" + b"\x0a\x02ab\x12\x01z\x18\x01"
    assert by_reader(data) == by_library(data) == ("ab", b"z", True)


# field numbers at protobuf's limit: 2^29 - 1 is an unknown field, 2^29 + 15 is corrupt
# (found by hypothesis at 20,000 examples: the reader skipped it as unknown)
LARGEST_FIELD = b"\xfd\xff\xff\xff\x0f\x00\x00\x00\x00"  # field 2^29 - 1, fixed32
BEYOND_LARGEST = b"\xfd\x80\x80\x80\x10\x00\x00\x00\x00"  # field 2^29 + 15, fixed32


def test_field_numbers_beyond_protobufs_limit_are_refused_as_by_the_library():
    assert by_reader(LARGEST_FIELD) == by_library(LARGEST_FIELD) == ("", b"", False)
    assert by_library(BEYOND_LARGEST) is None
    assert by_reader(BEYOND_LARGEST) is None


def test_invalid_utf8_table_name_is_refused_as_by_the_library():
    data = b"\x0a\x02\xff\xfe\x18\x01"
    assert by_library(data) is None
    with pytest.raises(MeansTestError, match="not an ArrowChunk"):
        chunks.chunk_fields(data)


@pytest.mark.parametrize("chunk_bytes", [1024, 7777, 1 << 20])
def test_a_bundle_cut_into_chunk_bytes_and_reassembled(tmp_path, chunk_bytes):
    synth.write_synth(tmp_path / "b", 40, 7)
    from meanstest.bundle import read_bundle

    tables = read_bundle(tmp_path / "b")
    streams = {name: chunks.ipc_stream(t) for name, t in tables.items()}
    sent = list(chunks.stream_chunk_bytes(streams, chunk_bytes))
    as_messages = [c.SerializeToString() for c in chunks.tables_to_chunks(tables, chunk_bytes)]
    assert sent == as_messages
    assert all(len(pb.ArrowChunk.FromString(c).data) <= chunk_bytes for c in sent)
    back = chunks.chunks_to_tables(iter(sent), schema.TABLES)
    assert back.keys() == tables.keys()
    for name, table in tables.items():
        assert back[name].equals(table)


@pytest.mark.parametrize("after", ["second stream", "junk"])
def test_bytes_after_a_tables_stream_are_refused_not_dropped(after):
    """Two IPC streams in one table's chunks, or junk after the stream: the reader stops
    at the first stream's end, and the rows after it went unread with status OK (found
    by an adversarial gRPC run). Refused, naming the table and the bytes."""
    import pyarrow as pa

    table = pa.table({"household_id": [f"H{i}" for i in range(20)]})
    first = bytes(chunks.ipc_stream(table.slice(0, 10)))
    tail = bytes(chunks.ipc_stream(table.slice(10))) if after == "second stream" else b"JUNK" * 20
    chunk = pb.ArrowChunk(table="households", data=first + tail, last=True)
    with pytest.raises(MeansTestError, match=rf"table households: {len(tail):,} bytes after"):
        chunks.chunks_to_tables([chunk], ["households"])
    whole = pb.ArrowChunk(table="households", data=bytes(chunks.ipc_stream(table)), last=True)
    assert chunks.chunks_to_tables([whole], ["households"])["households"].num_rows == 20


def _stream(table, compression=None) -> bytes:
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize("codec, name", [("zstd", "ZSTD"), ("lz4", "LZ4_FRAME")])
def test_a_stream_with_compressed_bodies_is_refused_before_it_is_decoded(codec, name):
    """3.4 MB of ZSTD read back as 1 GB (a million 1,000-character household_ids), and
    the call's row bound does not bound a row's bytes: a table whose Arrow IPC bodies
    are compressed is refused, naming the table and the codec, before Arrow allocates
    what the buffers' headers promise. Record batches and dictionary batches alike."""
    households = synth.generate(30, seed=4)["households"]
    for table in (households, households.set_column(0, "household_id",
                                                    households["household_id"].dictionary_encode())):  # fmt: skip
        with pytest.raises(MeansTestError, match=rf"table households: .*\({name}\); send it "):
            chunks._read_table("households", [_stream(table, codec)])
        assert chunks._read_table("households", [_stream(table)]).equals(table)


@SETTINGS
@given(st.data())
def test_the_codec_reader_never_fails_on_damaged_metadata(data):
    """`_compressed` reads Flatbuffers by hand: on any damage it answers a codec or
    None (the stream's own reading then says what is wrong), never an exception."""
    table = synth.generate(5, seed=1)["households"]
    raw = bytearray(_stream(table, data.draw(st.sampled_from([None, "zstd"]))))
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    codec = chunks._compressed(pa.py_buffer(bytes(raw)))
    assert codec is None or isinstance(codec, str)


def _as_v4_experimental(stream: bytes) -> bytes:
    """`stream` (ZSTD batches, each with the custom metadata Arrow 0.17 wrote) made
    metadata version V4 with RecordBatch.compression taken out: Arrow then finds the
    codec in the custom metadata alone (the review's way past the first reader)."""
    buf, pos = bytearray(stream), 0
    while True:
        n = struct.unpack_from("<i", buf, pos + 4)[0]
        if n == 0:
            return bytes(buf)
        view, start = memoryview(buf)[pos + 8 : pos + 8 + n], pos + 8
        message = chunks._deref(view, 0)
        struct.pack_into("<h", buf, start + chunks._field(view, message, 0), 3)  # V4
        body = chunks._field(view, message, 3)
        if view[chunks._field(view, message, 1)] == 3:  # a RecordBatch: no compression
            batch = chunks._deref(view, chunks._field(view, message, 2))
            vtable = batch - struct.unpack_from("<i", view, batch)[0]
            struct.pack_into("<H", buf, start + vtable + 4 + 2 * 3, 0)
        pos += 8 + n + (struct.unpack_from("<q", view, body)[0] if body else 0)


def test_a_stream_compressed_the_arrow_0_17_way_is_refused_too():
    table = pa.table({"household_id": pa.array(["1" * 1000] * 1000)})
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        for batch in table.to_batches():
            marked = {"ARROW:experimental_compression": "ZSTD"}
            writer.write_batch(batch, custom_metadata=marked)
    old = _as_v4_experimental(sink.getvalue().to_pybytes())
    assert pa.ipc.open_stream(pa.py_buffer(old)).read_all().equals(table)  # Arrow reads it
    with pytest.raises(MeansTestError, match=r"table households: .*\(ZSTD\); send it "):
        chunks._read_table("households", [old])
