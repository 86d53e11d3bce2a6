"""Arrow columns read as numpy, without Arrow compute calls: numbers and dates from
their value buffers, validity from the bitmap, enumeration codes by a numba kernel
(kernels.columns). Shared by validation and assembly; a column is read once and its
codes travel in `id_pass.IdPass.enums`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import ids
from meanstest.kernels import columns as C

NULL_CODE = C.NULL_CODE  # enum code of a null
UNKNOWN_CODE = C.UNKNOWN_CODE  # enum code of a value outside the enumeration


def flat(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous array (chunks combined; one chunk taken as it is)."""
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def valid(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """bool per row: not null."""
    return ids.valid_mask(column)


def numbers(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The values of an integer, date32 (days) or bool column as numpy, read from its
    buffers (no copy for numbers; a null's slot holds anything)."""
    arr = flat(column)
    t, n = arr.type, len(arr)
    buffers = arr.buffers()
    buf = buffers[1] if len(buffers) > 1 else None
    if buf is None or pa.types.is_null(t):
        return np.zeros(n, dtype=np.int64)
    if pa.types.is_boolean(t):
        first = arr.offset
        raw = np.frombuffer(buf, np.uint8)[first >> 3 : (first + n + 7) // 8 + 1]
        bits = np.unpackbits(raw, bitorder="little")
        return bits[first & 7 : (first & 7) + n].view(np.bool_)
    values = ids.buffer_values(buf, np.dtype(f"int{t.bit_width}"), arr.offset, n)
    if len(values) != n:
        raise ValueError(f"a {t} array of {n} rows with {len(values)} values")
    return values


def enum_codes(column: pa.ChunkedArray | pa.Array, enum: tuple[str, ...]) -> np.ndarray:
    """int8 per row: index of the value in `enum`, UNKNOWN_CODE for another value,
    NULL_CODE for null."""
    arr = ids.string_array(column)
    n = len(arr)
    out = np.empty(n, dtype=np.int8)
    e_off, e_data, dispatch = _enum_buffers(enum)
    buffers = ids._offsets(arr), ids._data(arr), ids.valid_mask(arr), e_off, e_data, dispatch
    if n < ids.K.SERIAL_BELOW:
        C.enum_rows(*buffers, 0, n, out)
    else:
        C.enum_parallel(*buffers, out)
    return out


_ENUM_BUFFERS: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _enum_buffers(enum: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if enum not in _ENUM_BUFFERS:
        encoded = [v.encode() for v in enum]
        off = np.zeros(len(enum) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=off[1:])
        data = np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8).copy()
        _ENUM_BUFFERS[enum] = off, data, C.enum_dispatch(off, data)
    return _ENUM_BUFFERS[enum]


def program_codes(names: pa.Array, entry_pack: np.ndarray, programs: list) -> np.ndarray:
    """Per entry of a flattened current_programs column (RULES.md §11): the index of its
    name among its household's pack's programs (`programs[entry_pack[k]]`, a list of
    names), -1 for a null entry, a name that pack does not define, or a household with
    no pack (entry_pack < 0). One lookup of every entry among all the packs' names, then
    a (pack, name) table: validation's check and assembly's bits read the same codes."""
    universe = sorted({name for names_of_pack in programs for name in names_of_pack})
    found = pc.index_in(names, value_set=pa.array(universe, pa.string()))
    code = found.fill_null(len(universe)).to_numpy(zero_copy_only=False).astype(np.int64)
    table = np.full((max(len(programs), 1), len(universe) + 1), -1, np.int64)
    for p, names_of_pack in enumerate(programs):
        for i, name in enumerate(names_of_pack):
            table[p, universe.index(name)] = i
    out = np.full(len(code), -1, np.int64)
    has = np.flatnonzero(np.asarray(entry_pack) >= 0)
    out[has] = table[np.asarray(entry_pack)[has], code[has]]
    return out
