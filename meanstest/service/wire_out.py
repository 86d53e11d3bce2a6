"""AssessResponse bytes straight from the output tables (numba), no message objects.

The bytes are upb's deterministic serialisation of the same response (fields in number
order; a proto3 scalar at its zero value, an empty string or list left out; an
`optional` field written whenever present): tests/test_service_wire.py compares them
with `convert.outputs_to_response(...).SerializeToString(deterministic=True)`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit

from meanstest.kernels.memory import copy_bytes
from meanstest.service.chunks import _varint
from meanstest.v1 import meanstest_pb2 as pb

I64 = np.int64
VARINT, BOOL, STRING, OPTIONAL, STRINGS = 0, 1, 2, 3, 4
_serial = njit(cache=True, _nrt=False)


@_serial
def _varint_size(v):
    u = np.uint64(v)
    n = 1
    while u >= np.uint64(128):
        u >>= np.uint64(7)
        n += 1
    return n


@_serial
def _put_varint(out, pos, v):
    u = np.uint64(v)
    while u >= np.uint64(128):
        out[pos] = np.uint8((u & np.uint64(0x7F)) | np.uint64(0x80))
        u >>= np.uint64(7)
        pos += 1
    out[pos] = np.uint8(u)
    return pos + 1


@_serial
def _row_size(r, spec, ints, s_lo, s_hi, l_lo, l_hi, i_lo, i_hi):
    size = 0
    for f in range(spec.shape[0]):
        kind, col = spec[f, 1], spec[f, 2]
        tag = _varint_size(spec[f, 0] << 3)
        if kind == VARINT or kind == BOOL:
            v = ints[r, col]
            if v != 0:
                size += tag + (1 if kind == BOOL else _varint_size(v))
        elif kind == STRING or kind == OPTIONAL:
            n = s_hi[r, col] - s_lo[r, col]
            if s_hi[r, col] >= 0 and (n > 0 or kind == OPTIONAL):
                size += tag + _varint_size(n) + n
        else:
            for k in range(l_lo[r, col], l_hi[r, col]):
                n = i_hi[k] - i_lo[k]
                size += tag + _varint_size(n) + n
    return size


@_serial
def _put_bytes(out, pos, data, lo, hi):
    if hi > lo:  # a memcpy: a byte loop with Python's index checks does not vectorise
        copy_bytes(out, pos, data, lo, hi - lo)
    return pos + max(hi - lo, 0)


@njit(cache=True)
def _sizes(spec, ints, s_lo, s_hi, l_lo, l_hi, i_lo, i_hi, number):
    n = ints.shape[0]
    sizes = np.empty(n, I64)
    total = 0
    for r in range(n):
        sizes[r] = _row_size(r, spec, ints, s_lo, s_hi, l_lo, l_hi, i_lo, i_hi)
        total += _varint_size(number << 3) + _varint_size(sizes[r]) + sizes[r]
    return sizes, total


@_serial
def _write(out, pos, number, sizes, spec, ints, data, s_lo, s_hi, l_lo, l_hi, i_lo, i_hi):
    for r in range(ints.shape[0]):
        pos = _put_varint(out, pos, (number << 3) | 2)
        pos = _put_varint(out, pos, sizes[r])
        for f in range(spec.shape[0]):
            kind, col = spec[f, 1], spec[f, 2]
            field = spec[f, 0]
            if kind == VARINT or kind == BOOL:
                v = ints[r, col]
                if v != 0:
                    pos = _put_varint(out, pos, field << 3)
                    pos = _put_varint(out, pos, 1 if kind == BOOL else v)
            elif kind == STRING or kind == OPTIONAL:
                lo, hi = s_lo[r, col], s_hi[r, col]
                if hi >= 0 and (hi > lo or kind == OPTIONAL):
                    pos = _put_varint(out, pos, (field << 3) | 2)
                    pos = _put_varint(out, pos, hi - lo)
                    pos = _put_bytes(out, pos, data, lo, hi)
            else:
                for k in range(l_lo[r, col], l_hi[r, col]):
                    pos = _put_varint(out, pos, (field << 3) | 2)
                    pos = _put_varint(out, pos, i_hi[k] - i_lo[k])
                    pos = _put_bytes(out, pos, data, i_lo[k], i_hi[k])
    return pos


def _flat(column) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


class _Columns:
    """One message type's columns in the encoder's arrays; strings share `chunks`."""

    def __init__(self, table: pa.Table, descriptor, chunks: list, base: list[int]) -> None:
        n = table.num_rows
        spec, ints, s_lo, s_hi, l_lo, l_hi, i_lo, i_hi = [], [], [], [], [], [], [], []
        for f in descriptor.fields:
            col = _flat(table.column(f.name))
            if f.is_repeated:
                values = col.values
                offsets = np.frombuffer(col.buffers()[1], np.int32, n + 1, col.offset * 4)
                lo, hi = self._strings(values, chunks, base)
                spec.append((f.number, STRINGS, len(l_lo)))
                l_lo.append(offsets[:-1].astype(I64) + len(np.concatenate(i_lo or [[]])))
                l_hi.append(offsets[1:].astype(I64) + len(np.concatenate(i_lo or [[]])))
                i_lo.append(lo[: len(values)])
                i_hi.append(hi[: len(values)])
            elif f.type == f.TYPE_STRING:
                lo, hi = self._strings(col, chunks, base)
                kind = OPTIONAL if f.has_presence else STRING
                spec.append((f.number, kind, len(s_lo)))
                s_lo.append(lo)
                s_hi.append(hi)
            else:
                kind = BOOL if f.type == f.TYPE_BOOL else VARINT
                spec.append((f.number, kind, len(ints)))
                values = col.fill_null(0) if col.null_count else col
                ints.append(values.cast(pa.int64()).to_numpy(zero_copy_only=False))

        def matrix(cols):
            return np.ascontiguousarray(np.stack(cols, axis=1) if cols else np.zeros((n, 1), I64))

        self.spec = np.array(spec, I64)
        self.ints, self.s_lo, self.s_hi = matrix(ints), matrix(s_lo), matrix(s_hi)
        self.l_lo, self.l_hi = matrix(l_lo), matrix(l_hi)
        self.i_lo = np.concatenate(i_lo) if i_lo else np.zeros(0, I64)
        self.i_hi = np.concatenate(i_hi) if i_hi else np.zeros(0, I64)

    @staticmethod
    def _strings(arr: pa.Array, chunks: list, base: list[int]):
        """(start, end) of each value in the shared byte buffer (end -1: null)."""
        arr = arr.cast(pa.string()) if arr.type != pa.string() else arr
        n = len(arr)
        bufs = arr.buffers()
        if n == 0:
            return np.zeros(0, I64), np.zeros(0, I64)
        offsets = np.frombuffer(bufs[1], np.int32, n + 1, arr.offset * 4).astype(I64)
        data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
        lo, hi = offsets[:-1] + base[0], offsets[1:] + base[0]
        chunks.append(data)
        base[0] += len(data)
        if arr.null_count:
            hi = np.where(arr.is_valid().to_numpy(zero_copy_only=False), hi, -1)
        return lo, hi


_MESSAGES = (("results", 1, pb.Result), ("members", 2, pb.Member), ("findings", 3, pb.Finding))


def encode_response(tables: dict[str, pa.Table], unmatched_source_rows: int = 0) -> bytes:
    """The serialised AssessResponse of the four output tables and the call's count of
    unmatched source rows (field 5, after the rows: upb writes fields in number order,
    and leaves out a zero)."""
    chunks: list = []
    base = [0]
    parts = [
        (number, _Columns(tables[name], cls.DESCRIPTOR, chunks, base))
        for name, number, cls in (*_MESSAGES, ("rejects", 4, pb.Reject))
    ]
    data = np.concatenate(chunks) if chunks else np.zeros(1, np.uint8)
    if not len(data):
        data = np.zeros(1, np.uint8)
    sized = []
    total = 0
    for number, c in parts:
        rest = (c.s_lo, c.s_hi, c.l_lo, c.l_hi, c.i_lo, c.i_hi)
        sizes, size = _sizes(c.spec, c.ints, *rest, number)
        sized.append((number, c, sizes))
        total += size
    out = np.empty(max(total, 1), np.uint8)
    pos = 0
    for number, c, sizes in sized:
        rest = (c.s_lo, c.s_hi, c.l_lo, c.l_hi, c.i_lo, c.i_hi)
        pos = _write(out, pos, number, sizes, c.spec, c.ints, data, *rest)
    body = out[:total].tobytes()
    if unmatched_source_rows:
        body += bytes([5 << 3]) + _varint(unmatched_source_rows)  # never negative
    return body
