"""The UTF-8 check of string columns: Arrow and Parquet strings are UTF-8, and neither
pyarrow's Parquet reader nor an IPC stream checks it, so a file whose strings are not
is corrupt and is named (file, table, column, row) before its strings reach the
engine, the digests or a reason text. Used by the bundle reader (meanstest.bundle), the
review's ID reads and the export readers (meanstest.adapters.readers).

Cheap on good data: a column whose bytes are all ASCII is not looked at row by row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from meanstest.errors import BundleError


def check_utf8(data: pa.Table | pa.RecordBatch, name: str, file: str, first_row: int = 0) -> None:
    """BundleError naming file, table, column and row (1-based, counted from
    `first_row`) of the first string value of `data` (a table or record batch) that is
    not UTF-8 (string and list<string> columns)."""
    found = first_bad_string(data)
    if found is None or found[1] < 0:
        return
    column, row = found
    raise BundleError(
        f"{file}: table {name}, column {column}: row {first_row + row + 1} is not valid "
        "UTF-8 (Arrow and Parquet strings are UTF-8: the file is corrupt)",
        file=file,
        table=name,
        column=column,
        row=first_row + row + 1,
    )


def first_bad_string(data: pa.Table | pa.RecordBatch) -> tuple[str, int] | None:
    """(column, row) of the first string that is not UTF-8, in column order; row -2
    when a column's offsets are broken; None when every string is UTF-8."""
    for i, field in enumerate(data.schema):
        column = data.column(i)
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        base = 0
        for chunk in chunks:
            row = first_bad_utf8_row(chunk)
            if row is not None:
                return field.name, row if row < 0 else base + row
            base += len(chunk)
    return None


def first_bad_utf8_row(arr: pa.Array) -> int | None:
    """The first row of one array that holds a string that is not UTF-8 (-2: broken
    offsets), None if none; other types (and string views, which Arrow validates
    itself) are not looked at."""
    from meanstest.ids import buffer_values
    from meanstest.kernels.columns import first_bad_utf8

    t = arr.type
    if len(arr) == 0:
        return None
    if pa.types.is_dictionary(t):
        if not (pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)):
            return None
        bad = first_bad_utf8_row(arr.dictionary)
        if bad is None or bad < 0:
            return bad
        idx = arr.indices.to_numpy(zero_copy_only=False)
        hits = np.flatnonzero(np.asarray(arr.indices.is_valid()) & (idx == bad))
        return int(hits[0]) if hits.size else None
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        values = arr.values
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            return None
        width = np.int32 if pa.types.is_list(t) else np.int64
        offsets = buffer_values(arr.buffers()[1], width, arr.offset, len(arr) + 1)
        if len(offsets) != len(arr) + 1 or offsets[0] < 0 or offsets[-1] > len(values):
            return -2
        bad = first_bad_utf8_row(values.slice(int(offsets[0]), int(offsets[-1] - offsets[0])))
        if bad is None or bad < 0:
            return bad
        return int(np.searchsorted(offsets, offsets[0] + bad, side="right") - 1)
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return None
    buffers = arr.buffers()
    width = np.int32 if pa.types.is_string(t) else np.int64
    if buffers[1] is None:
        return None
    offsets = buffer_values(buffers[1], width, arr.offset, len(arr) + 1)
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    if len(offsets) != len(arr) + 1:
        return -2
    lo, hi = int(offsets[0]), int(offsets[-1])
    if 0 <= lo <= hi <= len(data) and _ascii(data[lo:hi]):
        return None  # the usual case: IDs, codes, record ids
    from meanstest.ids import valid_mask

    valid = valid_mask(arr)
    if len(valid) != len(arr):
        valid = np.ones(len(arr), dtype=np.bool_)
    row = int(first_bad_utf8(offsets, data, valid))
    return None if row == -1 else row


def _ascii(data) -> bool:
    """Whether every byte is < 0x80 (eight at a time)."""
    k = len(data) // 8 * 8
    high = np.uint64(0x8080808080808080)
    if k and np.bitwise_or.reduce(data[:k].view(np.uint64)) & high:
        return False
    return not (k < len(data) and int(data[k:].max()) >= 0x80)
