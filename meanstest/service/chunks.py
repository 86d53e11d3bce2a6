"""Bundle tables as Arrow IPC streams cut into `ArrowChunk` messages (AssessArrow), and
back. The server reads and writes the messages as bytes (`chunk_fields`,
`chunk_bytes_of`): a chunk's data is a view of the bytes gRPC delivered, so a table
is copied once (joined), not three times (parsed, read, joined); the client uses the
message objects. Both are the protobuf wire format (tests/test_service_arrow_chunks.py).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa

from meanstest.errors import MeansTestError
from meanstest.service import wire
from meanstest.service.errors import parse
from meanstest.v1 import meanstest_pb2 as pb


def ipc_stream(table: pa.Table) -> pa.Buffer:
    """The table as one Arrow IPC stream. Measured first (a mock stream: no bytes), then
    written into a buffer of exactly that size: a growing buffer copied its contents at
    each doubling (6.6 MB of a 10,000-household answer: 1.8 -> 0.9 ms)."""

    def write(sink) -> None:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            # the table's own batches, not cut to 65,536 rows: the receiver's pipeline
            # runs on the arrays as read, and validating 100,000 households cut into
            # 65,536-row batches took ~0.3 s more CPU (combining them again)
            writer.write_table(table)

    mock = pa.MockOutputStream()
    write(mock)
    out = pa.allocate_buffer(mock.size())
    write(pa.FixedSizeBufferWriter(out))
    return out


def _pieces(stream: pa.Buffer, chunk_bytes: int) -> Iterator[tuple[memoryview, bool]]:
    data = memoryview(stream)
    n = len(data)
    for start in range(0, max(n, 1), chunk_bytes):
        end = min(start + chunk_bytes, n)
        yield data[start:end], end >= n


def table_chunks(name: str, table: pa.Table, chunk_bytes: int) -> Iterator[pb.ArrowChunk]:
    """A table's Arrow IPC stream cut into ArrowChunk messages of at most `chunk_bytes`."""
    for piece, last in _pieces(ipc_stream(table), chunk_bytes):
        yield pb.ArrowChunk(table=name, data=bytes(piece), last=last)


def tables_to_chunks(tables: dict[str, pa.Table], chunk_bytes: int) -> Iterator[pb.ArrowChunk]:
    for name, table in tables.items():
        yield from table_chunks(name, table, chunk_bytes)


def _varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def chunk_bytes_of(name: str, piece: bytes | memoryview, last: bool) -> bytes:
    """An ArrowChunk serialised without a message object: upb's deterministic bytes
    (fields in number order, a default value left out), one copy of `piece`."""
    head = b""
    if name:
        raw = name.encode("utf-8")
        head = b"\x0a" + _varint(len(raw)) + raw
    if len(piece):
        head += b"\x12" + _varint(len(piece))
    return b"".join((head, piece, b"\x18\x01" if last else b""))


def stream_chunk_bytes(streams: dict[str, pa.Buffer], chunk_bytes: int) -> Iterator[bytes]:
    """`tables_to_chunks` of tables already written as IPC streams, as ArrowChunk bytes."""
    for name, stream in streams.items():
        for piece, last in _pieces(stream, chunk_bytes):
            yield chunk_bytes_of(name, piece, last)


def chunk_fields(data: bytes) -> tuple[str, memoryview, bool]:
    """(table, data, last) of a serialised ArrowChunk, `data` a view of the bytes (no
    copy), read with the request reader's wire-format steps (`wire._tag`, `_varint`, `_skip`).
    Protobuf's rules: the last occurrence of a field wins, unknown fields and fields of
    another wire type are skipped; groups, truncation and invalid UTF-8 go to the
    protobuf library (which parses them or raises DecodeError)."""
    view = memoryview(data)
    buf = np.frombuffer(data, np.uint8)
    n, pos = len(buf), 0
    table, payload, last = view[0:0], view[0:0], False
    while pos < n:
        number, wire_type, pos = wire._tag(buf, pos, n)
        if pos < 0:
            return _chunk_by_library(data)
        if number == 3 and wire_type == 0:
            value, pos = wire._varint(buf, pos, n)
            last = value != 0
        elif number in (1, 2) and wire_type == 2:
            length, start = wire._varint(buf, pos, n)
            if start < 0 or length < 0 or start + length > n:
                return _chunk_by_library(data)
            pos = start + length
            if number == 1:
                table = view[start:pos]
            else:
                payload = view[start:pos]
        else:
            pos = wire._skip(buf, pos, n, wire_type)
        if pos < 0:
            return _chunk_by_library(data)
    try:
        name = str(table, "utf-8")
    except UnicodeDecodeError:
        return _chunk_by_library(data)
    return name, payload, last


def _chunk_by_library(data: bytes) -> tuple[str, memoryview, bool]:
    chunk = parse(pb.ArrowChunk, data, "data")
    return chunk.table, memoryview(chunk.data), chunk.last


def chunks_to_tables(
    chunks: Iterable, allowed: Iterable[str], read: Callable[[str, pa.Table], None] | None = None
) -> dict:
    """Reassemble ArrowChunk messages (or their serialised bytes, read by `chunk_fields`
    without a copy) into tables; names outside `allowed` are refused. A table is read
    as soon as its last chunk is in, while gRPC receives the next table's, and is given
    to `read(name, table)` (which may refuse it) before the next is read."""
    allowed = set(allowed)
    parts: dict[str, list] = {}
    out: dict[str, pa.Table] = {}
    for i, chunk in enumerate(chunks):
        if isinstance(chunk, bytes):
            name, data, last = chunk_fields(chunk)
        else:
            name, data, last = chunk.table, chunk.data, chunk.last
        if name not in allowed:
            raise MeansTestError(
                f"chunk {i}: unknown table {name!r} (allowed: {', '.join(sorted(allowed))})",
                field="table",
            )
        if name in out:
            raise MeansTestError(
                f"chunk {i}: table {name} sent after its last chunk", field="table"
            )
        parts.setdefault(name, []).append(data)
        if last:
            out[name] = _read_table(name, parts.pop(name))
            if read is not None:
                read(name, out[name])
    if parts:
        raise MeansTestError(
            f"table(s) {', '.join(sorted(parts))} ended without a chunk marked last", field="last"
        )
    return out


def _read_table(name: str, pieces: list) -> pa.Table:
    """One table's Arrow IPC stream from its chunks' data, fully validated. A stream
    whose bodies are compressed is refused before any is decoded (`_compressed`)."""
    try:
        data = pa.py_buffer(b"".join(pieces))
        codec = _compressed(data)
        if codec is not None:
            raise MeansTestError(
                f"table {name}: its Arrow IPC stream compresses its bodies ({codec}); send "
                "it uncompressed: a body's size after decompression is not bounded by the "
                "bytes sent (gRPC's own compression, grpc-encoding gzip, is, by "
                "--max-message-mb)",
                field="data",
            )
        source = pa.BufferReader(data)
        table = pa.ipc.open_stream(source).read_all()
        if source.tell() != data.size:  # a second stream, or anything else after it
            raise MeansTestError(
                f"table {name}: {data.size - source.tell():,} bytes after the end of its "
                "Arrow IPC stream (one stream per table: rows there would go unread)",
                field="data",
            )
        # IPC reading trusts the buffers' offsets; a forged one would send the kernels
        # out of bounds (found by fuzzing: a segfault of the server), so check them all
        table.validate(full=True)
        return table
    except UnicodeDecodeError:  # a column name (found by fuzzing: an uncaught error)
        raise MeansTestError(
            f"table {name}: not an Arrow IPC stream (a column name is not UTF-8)",
            field="data",
        ) from None
    except (pa.ArrowException, OSError) as e:  # ArrowNotImplementedError: a type Arrow
        # has no reader for (found by fuzzing: a 128-bit integer ended the call INTERNAL)
        raise MeansTestError(f"table {name}: not an Arrow IPC stream ({e})", field="data") from e


# -- the compression of IPC bodies ------------------------------------------------------
# Arrow IPC may compress each record batch's buffers (LZ4 frame or ZSTD); a reader then
# allocates what each buffer's header says it decompresses to. 3.4 MB of ZSTD read back
# as 1 GB (a million 1,000-character household_ids), and one row can hold a 1 GB string:
# the call's row bound (errors.CallRows) does not bound that. pyarrow does not tell
# whether a batch is compressed before decoding it, so the messages' Flatbuffers
# metadata (format/Message.fbs: Message.header -> RecordBatch.compression) is read here.

_CODECS = {0: "LZ4_FRAME", 1: "ZSTD"}


def _compressed(stream: pa.Buffer) -> str | None:
    """The codec of the first compressed batch of an Arrow IPC stream, or None (also for
    bytes that are not a stream: reading them says why)."""
    try:
        for message in pa.ipc.MessageReader.open_stream(pa.BufferReader(stream)):
            if message.type in ("record batch", "dictionary"):
                codec = _body_codec(memoryview(message.metadata))
                if codec is not None:
                    return codec
    except (pa.ArrowException, OSError, struct.error, IndexError):
        return None  # not a stream, or metadata Arrow will refuse when it reads it
    return None


def _field(buf: memoryview, table: int, i: int) -> int | None:
    """Where field i of the Flatbuffers table at `table` is, or None if absent."""
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    if 4 + 2 * i >= struct.unpack_from("<H", buf, vtable)[0]:
        return None
    offset = struct.unpack_from("<H", buf, vtable + 4 + 2 * i)[0]
    return table + offset if offset else None


def _deref(buf: memoryview, at: int) -> int:
    return at + struct.unpack_from("<I", buf, at)[0]


def _strings_at(buf: memoryview, at: int) -> str:
    start = _deref(buf, at)
    n = struct.unpack_from("<I", buf, start)[0]
    return bytes(buf[start + 4 : start + 4 + n]).decode("utf-8", "replace")


def _experimental_codec(buf: memoryview, message: int) -> str | None:
    """The codec of Arrow 0.17's way of saying a body is compressed, which Arrow still
    reads from a message of metadata version V4: Message field 4 (custom_metadata, a
    vector of KeyValue {key, value}) holding ARROW:experimental_compression (found by
    the review of this reader: a V4 stream so marked passed, 6.8 KB read as 1.4 GB)."""
    pairs_at = _field(buf, message, 4)
    if pairs_at is None:
        return None
    vector = _deref(buf, pairs_at)
    for i in range(struct.unpack_from("<I", buf, vector)[0]):
        pair = _deref(buf, vector + 4 + 4 * i)
        key_at = _field(buf, pair, 0)
        if key_at is not None and _strings_at(buf, key_at) == "ARROW:experimental_compression":
            value_at = _field(buf, pair, 1)
            return _strings_at(buf, value_at) if value_at is not None else "an unknown codec"
    return None


def _body_codec(buf: memoryview) -> str | None:
    """The body codec of one message's metadata: Message field 1 is the header's type
    (2 DictionaryBatch, whose field 1 is its RecordBatch; 3 RecordBatch), field 2 the
    header; RecordBatch field 3 is BodyCompression, whose field 0 is the codec."""
    message = _deref(buf, 0)
    experimental = _experimental_codec(buf, message)
    if experimental is not None:
        return experimental
    kind_at, header_at = _field(buf, message, 1), _field(buf, message, 2)
    if kind_at is None or header_at is None or buf[kind_at] not in (2, 3):
        return None
    batch = _deref(buf, header_at)
    if buf[kind_at] == 2:
        data_at = _field(buf, batch, 1)
        if data_at is None:
            return None
        batch = _deref(buf, data_at)
    compression_at = _field(buf, batch, 3)
    if compression_at is None:
        return None
    codec_at = _field(buf, _deref(buf, compression_at), 0)
    return _CODECS.get(buf[codec_at] if codec_at is not None else 0, "an unknown codec")
