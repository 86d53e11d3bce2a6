"""input_digest: SHA-256 of a canonical text of one household's rows (docs/digests.md).

Canonical text of a household: one line per row of every table that belongs to it —
its households row, its persons and supporters rows, and every source row whose
person_id is one of its members or supporters. A line is the table name followed by
the row's values in DATA.md column order, separated by TAB:
  - null is `\\N`; booleans `true` / `false`; integers in decimal; dates `YYYY-MM-DD`;
  - strings with `\\` → `\\\\`, TAB → `\\t`, LF → `\\n`, CR → `\\r`;
  - a list (current_programs) is its escaped entries joined by `,` (null entry `\\N`).
Lines are sorted by their UTF-8 bytes, each ends with LF, and the digest is the
hex SHA-256 of the concatenation.

How, all in numba and in parallel: every row's line is rendered once, straight from the
Arrow buffers (meanstest.lines); the lines of each household are found by a counting
sort, sorted by bytes and hashed (meanstest.kernels.canonical); for a bundle written
household by household, a slab of households at a time (`_slab_digests`: the text in
memory is a slab's, not the bundle's). SHA-256 is OpenSSL's — the libcrypto Python's own
hashlib is linked with, called through ctypes (SHA256_Init / _Update / _Final; 1.2 GB/s
with the CPU's SHA instructions) — or, where that cannot be loaded,
meanstest.kernels.sha256 (pure numba, ~0.25 GB/s). `SHA256` says which.

Which rows are a household's: `Owners`, the codes the ID pass computes anyway (household
code of every households / persons / supporters row, person code of every persons /
supporters / source row). Give them (`owners=`) and no ID is hashed here; without them
`owners_of` computes them with meanstest.ids' indexes. Households rows with the same
household_id share one text (the rows of that id), as the auditor's script has it; rows
with a null ID belong to nobody else.
"""

from __future__ import annotations

import ctypes
import hashlib
from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa

from meanstest import schema
from meanstest.ids import IdIndex, StringIndex, string_array
from meanstest.kernels import canonical as K
from meanstest.lines import TABLE_ORDER, Scratch, lines_array, render, table_columns

# -- which rows are whose ----------------------------------------------------------------


@dataclass(frozen=True)
class Owners:
    """Which household each row belongs to, by codes (the ID pass's, or `owners_of`).

    household_code: per households row, equal for equal household_ids, -1 for null;
    person_home / supporter_home: per persons / supporters row, the code of its
    household_id (-1: none of these households); person_code / supporter_code: per row, a
    code of its person_id / supporter_id, equal for equal IDs across both tables;
    source_code: per source table, per row, the code of its person_id (-1: no persons or
    supporters row has it). meanstest.id_pass.IdPass has these same fields."""

    household_code: np.ndarray
    person_home: np.ndarray
    supporter_home: np.ndarray
    person_code: np.ndarray
    supporter_code: np.ndarray
    source_code: dict[str, np.ndarray]


def _people(persons: pa.Table, supporters: pa.Table) -> IdIndex:
    ids = [string_array(persons["person_id"]), string_array(supporters["supporter_id"])]
    return IdIndex(pa.concat_arrays(ids))


def owners_of(
    households: pa.Table,
    persons: pa.Table,
    supporters: pa.Table,
    sources: dict[str, pa.Table],
) -> Owners:
    """The Owners of these tables, with meanstest.ids' exact indexes."""
    homes = StringIndex(households["household_id"])
    people = _people(persons, supporters)
    n = persons.num_rows
    return Owners(
        household_code=homes.codes,
        person_home=homes.lookup(persons["household_id"]),
        supporter_home=homes.lookup(supporters["household_id"]),
        person_code=people.codes[:n],
        supporter_code=people.codes[n:],
        source_code={name: people.lookup(t["person_id"]) for name, t in sources.items()},
    )


def _codes(owners, field: str, rows: int) -> np.ndarray:
    codes = np.asarray(getattr(owners, field))
    if codes.ndim != 1 or len(codes) != rows or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(
            f"owners.{field}: need {rows} integer codes, got {codes.dtype} {codes.shape}"
        )
    return codes


# -- SHA-256 -----------------------------------------------------------------------------


def _openssl_sha256() -> np.ndarray | None:
    """The addresses of OpenSSL's SHA256_Init / _Update / _Final, from the libcrypto that
    Python's hashlib is linked with (symbols of an extension module's dependencies
    resolve through its handle), checked on one message; None when any of that fails."""
    try:
        import _hashlib

        lib = ctypes.CDLL(_hashlib.__file__)
        fns = lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final
    except (ImportError, AttributeError, OSError):  # no OpenSSL, static, or a build without
        return None
    init, update, final = fns
    init.argtypes = [ctypes.c_void_p]
    update.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    final.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    for f in fns:
        f.restype = ctypes.c_int
    context = ctypes.create_string_buffer(K.CONTEXT_BYTES)
    md = ctypes.create_string_buffer(32)
    message = b"meanstest input_digest"
    if not (
        init(context) == 1
        and update(context, message, len(message)) == 1
        and final(md, context) == 1
        and md.raw == hashlib.sha256(message).digest()
    ):
        return None
    return np.array([ctypes.cast(f, ctypes.c_void_p).value for f in fns], dtype=np.int64)


_OPENSSL = _openssl_sha256()
SHA256 = "numba" if _OPENSSL is None else "openssl"


def group_digests(
    line_off: np.ndarray, text: np.ndarray, refs: np.ndarray, bounds: np.ndarray, threads: bool
) -> np.ndarray:
    """SHA-256 of every group's canonical text: uint8 [groups, 32]."""
    n = len(bounds) - 1
    out = np.zeros((n, 32), dtype=np.uint8)
    ok = np.zeros(n, dtype=np.bool_)
    parallel = threads and n > K.BLOCK
    if _OPENSSL is not None:
        if parallel:
            K.digest_blocks_openssl(_OPENSSL, text, line_off, refs, bounds, out, ok)
        else:
            K.digest_groups_openssl(_OPENSSL, text, line_off, refs, bounds, 0, n, out, ok)
    elif parallel:
        K.digest_blocks_numba(text, line_off, refs, bounds, out, ok)
    else:
        K.digest_groups_numba(text, line_off, refs, bounds, 0, n, out, ok)
    if not ok.all():
        raise RuntimeError("input_digest: OpenSSL's SHA-256 reported a failure")
    return out


# -- the digests -------------------------------------------------------------------------


def _lines_by_household(households, persons, supporters, sources, owners, threads: bool):
    """The canonical lines and which group each households row reads:
    (line offsets, text, refs, bounds, group of each households row)."""
    tables, refs, bounds, group = _groups(households, persons, supporters, sources, owners, threads)
    line_off, text = render(tables, threads)
    return line_off, text, refs, bounds, group


def _groups(households, persons, supporters, sources, owners, threads: bool):
    """Which lines each group reads, before any line is rendered: (tables to render, in
    `render`'s form; refs; bounds: group g reads lines refs[bounds[g]:bounds[g + 1]],
    numbered over the tables back to back; group of each households row)."""
    n = households.num_rows
    if owners is None:
        owners = owners_of(households, persons, supporters, sources)
    group = _codes(owners, "household_code", n).astype(np.int64)
    n_groups = int(group.max(initial=-1)) + 1
    nameless = np.flatnonzero(group < 0)  # a null household_id: a group of its own row
    group[nameless] = n_groups + np.arange(len(nameless))
    n_groups += len(nameless)
    person_code = _codes(owners, "person_code", persons.num_rows)
    supporter_code = _codes(owners, "supporter_code", supporters.num_rows)
    homes = {  # a code outside these households' (an ID pass of more tables): none
        "persons": _codes(owners, "person_home", persons.num_rows),
        "supporters": _codes(owners, "supporter_home", supporters.num_rows),
    }
    named = n_groups - len(nameless)
    homes = {k: np.where((h >= 0) & (h < named), h, -1) for k, h in homes.items()}
    n_people = int(max(person_code.max(initial=-1), supporter_code.max(initial=-1))) + 1
    person_off, person_group = K.person_groups(
        np.concatenate([person_code, supporter_code]).astype(np.int64),
        np.concatenate([homes["persons"], homes["supporters"]]).astype(np.int64),
        n_people,
    )
    given = getattr(owners, "source_code", {}) or {}
    people = None
    tables, codes, via = [], [], []
    for name in TABLE_ORDER:
        if name == "households":
            table, code = households, group
        elif name in homes:
            table, code = (persons if name == "persons" else supporters), homes[name]
        else:
            table = sources.get(name)
            if table is None or table.num_rows == 0:
                continue
            if name in given:
                code = np.asarray(given[name])
                if code.shape != (table.num_rows,) or not np.issubdtype(code.dtype, np.integer):
                    raise ValueError(f"owners.source_code[{name!r}]: need {table.num_rows} codes")
            else:  # the ID pass left this table out: look its person_ids up here
                people = people or _people(persons, supporters)
                code = people.lookup(table["person_id"])
            code = np.where(code < n_people, code, -1)
        table, code = _referenced(table, code, person_off if name in schema.SOURCE_TABLES else None)
        tables.append((name.encode(), name, table_columns(name, table), table.num_rows))
        codes.append(code.astype(np.int32))
        via.append(name in schema.SOURCE_TABLES)
    code = np.concatenate(codes)
    table_end = np.cumsum([len(c) for c in codes]).astype(np.int64)
    table_via = np.array(via, dtype=np.bool_)
    segments = numba.get_num_threads() if threads and len(code) > (1 << 16) else 1
    slots = np.zeros((segments, n_groups), dtype=np.int64)
    args = (code, table_end, table_via, person_off, person_group)
    if segments == 1:
        K.count_lines(*args, 0, len(code), slots[0])
    else:
        K.count_segments(*args, slots)
    bounds = K.place_lines(slots)
    refs = np.empty(bounds[-1], dtype=np.int64)
    if segments == 1:
        K.fill_lines(*args, 0, len(code), slots[0], refs)
    else:
        K.fill_segments(*args, slots, refs)
    return tables, refs, bounds, group


# Slabs: a bundle written household by household (as synth and most exports write it)
# has each group's lines near those of its neighbours, so groups are rendered and hashed
# a slab at a time: the text in memory is a slab's (~SLAB_LINES x 80 bytes), not the
# bundle's (1.2 GB at 1M households), and its arrays are reused from slab to slab.
SLAB_LINES = 1 << 20  # lines read by one slab's groups (at least one group per slab)
SLAB_SPREAD = 2  # slabs only when they render at most this many times the lines read


def _slab_digests(tables, refs, bounds, threads: bool) -> np.ndarray | None:
    """SHA-256 of every group (as `group_digests`), slab by slab; None when the groups' lines
    are too scattered over the tables for slabs to pay (then all is rendered at once)."""
    n_groups, total = len(bounds) - 1, int(bounds[-1])
    if total <= SLAB_LINES:
        return None
    edges = [0]
    while edges[-1] < n_groups:
        g0 = edges[-1]
        g1 = int(np.searchsorted(bounds, bounds[g0] + SLAB_LINES, side="left"))
        edges.append(min(n_groups, max(g1, g0 + 1)))
    edges = np.array(edges, dtype=np.int64)
    table_start = np.zeros(len(tables) + 1, dtype=np.int64)
    table_start[1:] = np.cumsum([n for *_, n in tables])
    lo = np.empty((len(edges) - 1, len(tables)), dtype=np.int64)
    hi = np.empty_like(lo)
    K.slab_ranges(refs, bounds, table_start, edges, lo, hi)
    if int((hi - lo).sum()) > SLAB_SPREAD * total:
        return None
    out = np.empty((n_groups, 32), dtype=np.uint8)
    scratch = Scratch(keep=True)
    for s in range(len(edges) - 1):
        part, shift, base = [], np.zeros(len(tables), dtype=np.int64), 0
        for t, (name, label, cols, _) in enumerate(tables):
            a, z = int(lo[s, t] - table_start[t]), int(hi[s, t] - table_start[t])
            if z <= a:
                continue
            part.append((name, label, [c.slice(a, z - a) for c in cols], z - a))
            shift[t] = base - a - table_start[t]  # line id in the slab - line id
            base += z - a
        line_off, text = render(part, threads, scratch)
        g0, g1 = int(edges[s]), int(edges[s + 1])
        read = refs[bounds[g0] : bounds[g1]]
        local = scratch.get("refs", len(read), np.int64)
        K.relabel(read, table_start, shift, local)
        out[g0:g1] = group_digests(line_off, text, local, bounds[g0 : g1 + 1] - bounds[g0], threads)
    return out


def _referenced(table: pa.Table, code: np.ndarray, person_off):
    """Only the rows some household reads, when most rows are read by none (a source
    table of a whole bundle for a few households): they need no text."""
    if len(code) < 4096:  # a few rows: rendering them is cheaper than choosing
        return table, code
    read = code >= 0
    if person_off is not None:  # a person's rows are read by each of their households
        households_of = np.append(np.diff(person_off), 0)  # code -1 → the appended 0
        read = households_of[np.where(read, code, -1)] > 0
    count = int(read.sum())
    if count * 4 >= len(code) * 3:
        return table, code
    rows = pa.array(np.flatnonzero(read))
    columns = [  # Arrow cannot take from string_view columns
        (c.cast(pa.string()) if pa.types.is_string_view(c.type) else c).take(rows)
        for c in table.columns
    ]
    return pa.table(columns, names=table.column_names), code[rows.to_numpy()]


def _hex(households, persons, supporters, sources, owners, threads) -> np.ndarray:
    n = households.num_rows
    tables, refs, bounds, group = _groups(households, persons, supporters, sources, owners, threads)
    digests = _slab_digests(tables, refs, bounds, threads)
    if digests is None:
        line_off, text = render(tables, threads)
        digests = group_digests(line_off, text, refs, bounds, threads)
        del line_off, text
    out = np.empty((n, 64), dtype=np.uint8)
    K.hex_rows(digests, group, out)
    return out


def input_digests(
    households: pa.Table,
    persons: pa.Table,
    supporters: pa.Table,
    sources: dict[str, pa.Table],
    owners: Owners | None = None,
    *,
    threads: bool = True,
) -> list[str]:
    """input_digest of every households row, in order.

    `owners`: the rows' household and person codes if already known (an Owners, or
    meanstest.id_pass.IdPass of these very tables); computed here when not given.
    `threads=False` runs on the calling thread only (a call of a few households)."""
    return input_digest_array(  # Arrow makes the Python strings 3x faster than slicing
        households, persons, supporters, sources, owners, threads=threads
    ).to_pylist()


def input_digest_array(
    households: pa.Table,
    persons: pa.Table,
    supporters: pa.Table,
    sources: dict[str, pa.Table],
    owners: Owners | None = None,
    *,
    threads: bool = True,
) -> pa.StringArray:
    """input_digests as an Arrow string array (no Python string per household)."""
    n = households.num_rows
    if n == 0:
        return pa.array([], pa.string())
    hexes = _hex(households, persons, supporters, sources, owners, threads)
    return lines_array(np.arange(0, 64 * n + 1, 64, dtype=np.int64), hexes.reshape(-1))


def canonical_texts(
    households: pa.Table,
    persons: pa.Table,
    supporters: pa.Table,
    sources: dict[str, pa.Table],
    owners: Owners | None = None,
) -> list[bytes]:
    """The canonical text of every households row (what input_digest hashes), for
    auditors and tests."""
    if households.num_rows == 0:
        return []
    line_off, text, refs, bounds, group = _lines_by_household(
        households, persons, supporters, sources, owners, threads=False
    )
    spare = np.empty(max(1, int(np.diff(bounds).max(initial=0))), dtype=np.int64)
    buf = np.empty(max(1, int(line_off[-1]) + len(line_off)), dtype=np.uint8)
    texts = []
    for g in range(len(bounds) - 1):
        size = K.group_text(text, line_off, refs, bounds[g], bounds[g + 1], spare, buf)
        texts.append(buf[:size].tobytes())
    return [texts[g] for g in group]
