"""Rows moved as Arrow blobs: Spark shuffles a few large binary rows, not millions of
small ones.

Co-location sends every row of the bundle to its household's partition. Shuffling the
rows themselves costs the JVM per row (a row format, a serializer, a sort, an Arrow
conversion back to Python), 1.5M rows per 100k households. Instead a Python task cuts
its rows by destination partition and writes each piece as one Arrow IPC stream: a
*blob* row `(_key, _tag, _blob)` — `_tag` names the table (or the routes and the
DUPLICATE_PERSON entries), `_key` is the integer whose Spark hash picks the
destination partition (see `partition_keys`). Every table keeps its canonical columns
plus `_row` (its row in the bundle's table), so the receiving partition restores
bundle order and drops a source row sent to it twice.

Pure pyarrow and numpy: the workers import it without pyspark.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema

DUPLICATES = "duplicates"  # person_id -> every household_id it is a member of
ROUTES = "routes"  # person ID -> a partition of one of its households
IDS = "ids"  # the IDs of households, persons and supporters rows (routes are made of them)
PARTS = (*schema.TABLES, DUPLICATES, ROUTES, IDS)
TAG = {name: i for i, name in enumerate(PARTS)}
_LIST = pa.list_(pa.string())
_ROW = pa.field("_row", pa.int64())
BLOBS = pa.schema([("_key", pa.int32()), ("_tag", pa.int8()), ("_blob", pa.binary())])
_MAX_BLOB_BATCH = 256 << 20  # bytes of blobs per Arrow batch handed back to the JVM
NULL_FOLDER = "__HIVE_DEFAULT_PARTITION__"  # a null partition value, as Spark and Hive write it
# Bytes of a jurisdiction's folder name at most: file systems refuse names beyond 255
# bytes (ext4, XFS; HDFS's default limit too), and a 300-digit jurisdiction failed the
# whole review with "File name too long".
FOLDER_BYTES = 200
_KEY = "jurisdiction="


def folder_value(value: str | None) -> str | None:
    """What an output's partition folder holds for the jurisdiction `value`, and its
    readers give back: the value itself, unless it cannot be a folder of its own —
    the text NULL_FOLDER (Spark and pyarrow read that folder, however encoded, as a
    null, and Spark's own writer put both in one folder), or a text whose folder name
    (`jurisdiction=` and the percent-encoded text) would be longer than FOLDER_BYTES.
    Such a text is written as its longest beginning that fits, `~` and the first 16
    hex digits of the SHA-256 of its UTF-8 text (docs/spark.md). Only a rejected
    household can have one (a result's jurisdiction is 6 digits)."""
    if value is None:
        return None
    if value != NULL_FOLDER and len(_KEY) + len(quote(value, safe="")) <= FOLDER_BYTES:
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]
    room, end = FOLDER_BYTES - len(_KEY) - 1 - len(digest), 0
    for ch in value:  # whole characters; Spark's writer encodes no more than quote does
        room -= len(quote(ch, safe=""))
        if room < 0:
            break
        end += 1
    return f"{value[:end]}~{digest}"


def part_schema(part: str) -> pa.Schema:
    """The columns a part's blobs hold: a bundle table's canonical columns and `_row`;
    the duplicates' person_id and households; the routes' person ID, household and
    whether the person is a member of it (or a supporter)."""
    if part == DUPLICATES:
        return pa.schema([("person_id", pa.string()), ("households", _LIST)])
    if part == ROUTES:
        return pa.schema([("_pid", pa.string()), ("household_id", pa.string()), ("_m", pa.bool_())])
    if part == IDS:
        return pa.schema([("household_id", pa.string()), ("_pid", pa.string()), ("_of", pa.int8())])
    return schema.arrow_schema(part).append(_ROW)


def read_blob(blob: pa.Scalar | pa.Buffer | bytes) -> pa.Table:
    """One blob (a binary scalar, buffer or bytes) → its table."""
    buffer = blob.as_buffer() if isinstance(blob, pa.Scalar) else pa.py_buffer(blob)
    return pa.ipc.open_stream(buffer).read_all()


_COMPRESSED = pa.ipc.IpcWriteOptions(compression="lz4")


def to_blobs(table: pa.Table, group: np.ndarray) -> Iterator[tuple[np.ndarray, pa.Array]]:
    """`table`'s rows cut by `group` (one non-negative int per row), each piece one
    Arrow IPC stream: yields (the group of each blob, the blobs as a binary array),
    at most _MAX_BLOB_BATCH bytes at a time."""
    if table.num_rows == 0:
        return
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], len(g)]
    if not bool((np.diff(order) > 0).all()):
        table = table.take(pa.array(order))
    sink, offsets, first = pa.BufferOutputStream(), [0], 0
    for n, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        with pa.ipc.new_stream(sink, table.schema, options=_COMPRESSED) as writer:
            writer.write_table(table.slice(a, b - a))
        offsets.append(sink.tell())
        if offsets[-1] >= _MAX_BLOB_BATCH or n == len(starts) - 1:
            bounds = pa.py_buffer(np.array(offsets, np.int32).tobytes())
            data = sink.getvalue()
            blobs = pa.Array.from_buffers(pa.binary(), len(offsets) - 1, [None, bounds, data])
            yield g[starts[first : n + 1]], blobs
            sink, offsets, first = pa.BufferOutputStream(), [0], n + 1


def blob_rows(
    target: pa.Schema, same: dict, columns: dict, blobs: pa.Array | Sequence[bytes]
) -> pa.RecordBatch:
    """A batch of `target` (whose last column is `_blob`): `same` values repeated,
    `columns` one value per blob."""
    n = len(blobs)
    arrays = []
    for field in target:
        if field.name == "_blob":
            arrays.append(blobs if isinstance(blobs, pa.Array) else pa.array(blobs, pa.binary()))
        elif field.name in same:
            arrays.append(pa.array(np.full(n, same[field.name]), field.type))
        else:
            arrays.append(pa.array(columns[field.name], field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def range_of(bounds: np.ndarray, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The partition of each household_id: how many of the sorted `bounds` are <= it
    (Python's str order is code point order, the byte order of UTF-8, as Arrow's sort
    and Spark's); -1 for a null."""
    text = values.to_numpy(zero_copy_only=False)
    null = pc.is_null(values).to_numpy(zero_copy_only=False)
    if null.any():
        text = text.copy()
        text[null] = ""
    out = np.searchsorted(bounds, text, side="right").astype(np.int64)
    out[null] = -1
    return out


def person_dest(ids: pa.Array | pa.ChunkedArray, rows: np.ndarray, partitions: int) -> np.ndarray:
    """The partition of each person ID where source rows and routes meet: a mix of
    its 64-bit key (meanstest.ids, the project's one ID hash) mod P; a null ID goes
    by its row number. Any fixed function would do; this one is cheap and spreads."""
    from meanstest.ids import id_keys

    key = id_keys(ids).view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    dest = ((key >> np.uint64(33)) % np.uint64(partitions)).astype(np.int64)
    null = pc.is_null(ids).to_numpy(zero_copy_only=False)
    if null.any():
        dest[null] = rows[null] % partitions
    return dest


def pack(
    table: pa.Table,
    part: str,
    keys: np.ndarray,
    bounds: np.ndarray,
    how: tuple[str, str] = ("to", "_to"),
) -> Iterator[pa.RecordBatch]:
    """Rows of `part` → blob rows for their partitions, picked by `how`: ("to", column)
    names them; ("range", column), a household_id whose range is the partition (a
    null one goes by `_row`); ("person", column), a person ID (person_dest)."""
    kind, column = how
    partitions = len(keys)
    rows = table["_row"].to_numpy() if "_row" in table.column_names else None
    if kind == "to":
        dest = table[column].to_numpy().astype(np.int64)
    elif kind == "person":
        dest = person_dest(table[column], rows, partitions)
    else:
        dest = range_of(bounds, table[column])
        if (dest < 0).any():
            dest = np.where(dest < 0, (rows if rows is not None else 0) % partitions, dest)
    data = table.select(part_schema(part).names)
    for groups, blobs in to_blobs(data, dest):
        yield blob_rows(BLOBS, {"_tag": TAG[part]}, {"_key": keys[groups]}, blobs)


def is_uri(path: str) -> bool:
    """Whether `path` is a URI with a scheme (hdfs://, s3a://, file:/…) rather than a
    path of this machine."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:/", path) is not None


def file_key(path: str) -> str:
    """A file's path as Spark's listings and its binaryFile source spell it, made one
    spelling (file:/x, file:///x and /x; percent-escapes decoded)."""
    from urllib.parse import unquote

    return unquote(re.sub(r"^file:/+", "/", path))


def hadoop_path(uri: str) -> str:
    """A file as Spark lists it (a URI, percent-escaped) as a path to hand back to Spark:
    escapes decoded, since Hadoop escapes a path's text again. Listed as
    `jurisdiction=150%2520422/` (a folder pyarrow named for the value "150 422"), a file
    was looked for under `150%252520422` and the review failed with PATH_NOT_FOUND (an
    operator's blind check)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(uri)
    if not parts.scheme:
        return unquote(uri)
    authority = f"//{parts.netloc}" if parts.netloc or uri.startswith(f"{parts.scheme}://") else ""
    return f"{parts.scheme}:{authority}{unquote(parts.path)}"


def parquet_file(name: str, root: str, path: str, data: pa.Buffer, firsts: dict) -> pa.Table:
    """One Parquet file of table `name` (under `root`, the table's file or folder):
    its partition folders' values (`jurisdiction=150422/`, strings) as columns, checked
    and cast by the bundle reader's rules, and `_row`, its rows' numbers in the table
    (`firsts[file_key(path)]` is its first)."""
    from urllib.parse import unquote

    import pyarrow.parquet as pq

    from meanstest.bundle import unreadable
    from meanstest.conform import READ_ERRORS, conform

    try:  # a corrupt page: the one line the in-place way says, not an 80-line traceback
        table = pq.read_table(pa.BufferReader(data))
    except READ_ERRORS as e:  # (a blind test of the shuffled way)
        raise unreadable(file_key(path), "parquet", e) from None
    n = table.num_rows
    under = file_key(path)[len(file_key(root)) :].strip("/").split("/")[:-1]
    for segment in under:
        key, sep, value = segment.partition("=")
        if sep and key not in table.column_names:
            value = None if value == NULL_FOLDER else unquote(value)
            table = table.append_column(key, pa.array([value] * n, pa.string()))
    table = conform(name, table, path)
    first = firsts[file_key(path)]
    return table.append_column(_ROW, pa.array(np.arange(first, first + n, dtype=np.int64)))


def from_blobs(batches: Iterable[pa.RecordBatch]) -> dict[str, pa.Table]:
    """Blob rows → each part's rows (in no particular order), every part present."""
    pieces: dict[str, list[pa.Table]] = {part: [] for part in PARTS}
    for batch in batches:
        tags = batch.column("_tag").to_numpy()
        blobs = batch.column("_blob")
        for i in range(batch.num_rows):
            pieces[PARTS[tags[i]]].append(read_blob(blobs[i]))
    out = {}
    for part, tables in pieces.items():
        target = part_schema(part)
        out[part] = pa.concat_tables(tables).cast(target) if tables else target.empty_table()
    return out


def in_bundle_order(parts: dict[str, pa.Table]) -> tuple[dict, dict, dict]:
    """One partition's parts → (the nine bundle tables, each in bundle row order, a row
    sent twice kept once; each table's bundle row numbers; the DUPLICATE_PERSON
    entries, person_id → households)."""
    tables, numbers = {}, {}
    for name in schema.TABLES:
        t = parts[name]
        row = t.column("_row").to_numpy()
        order = np.argsort(row, kind="stable")
        row = row[order]
        keep = np.r_[True, row[1:] != row[:-1]] if len(row) else np.zeros(0, bool)
        order, row = order[keep], row[keep]
        if not (len(order) == t.num_rows and bool((np.diff(order) > 0).all())):
            t = t.take(pa.array(order))
        tables[name] = t.drop_columns(["_row"])
        numbers[name] = row
    dup = parts[DUPLICATES]
    duplicates = dict(zip(dup["person_id"].to_pylist(), dup["households"].to_pylist(), strict=True))
    return tables, numbers, duplicates


def route(
    parts: dict[str, pa.Table], keys: np.ndarray, bounds: np.ndarray
) -> Iterator[pa.RecordBatch]:
    """One person-hash partition: each source row joined with the routes of its person
    ID (the households it is a member or supporter of) and sent to each of their
    partitions; a row of nobody goes to partition `_row mod P`, where validate counts
    it unmatched. The partition's persons who are members of two or more households
    are its DUPLICATE_PERSON entries, sent to each of those households' partitions."""
    routes = parts[ROUTES]
    yield from duplicates_of(routes, keys, bounds)
    routes = pa.table({"_pid": routes["_pid"], "_dest": range_of(bounds, routes["household_id"])})
    partitions = len(keys)
    for name in schema.SOURCE_TABLES:
        t = parts[name]
        if t.num_rows == 0:
            continue
        left = pa.table({"_pid": t["person_id"], "_i": np.arange(t.num_rows, dtype=np.int64)})
        joined = left.join(routes, "_pid", join_type="left outer")
        i = joined["_i"].to_numpy()
        unrouted = joined["_dest"].is_null().to_numpy()
        dest = pc.fill_null(joined["_dest"], 0).to_numpy().astype(np.int64)
        dest[unrouted] = t["_row"].to_numpy()[i[unrouted]] % partitions
        for groups, blobs in to_blobs(t.take(pa.array(i)), dest):
            yield blob_rows(BLOBS, {"_tag": TAG[name]}, {"_key": keys[groups]}, blobs)


_ID_OF = {"households": (None, 0), "persons": ("person_id", 1), "supporters": ("supporter_id", 2)}


def id_rows(name: str, table: pa.Table) -> pa.Table:
    """The IDs routes are made of (part IDS), from rows of households, persons or
    supporters: each row's household_id, its person ID (none for a households row)
    and `_of`, which table it is (0, 1, 2). Rows with a null household_id (or a null
    person ID) are left out: they route nothing."""
    column, of = _ID_OF[name]
    keep = pc.is_valid(table["household_id"])
    if column is not None:
        keep = pc.and_(keep, pc.is_valid(table[column]))
    table = table.filter(keep)
    n = table.num_rows
    pid = table[column] if column is not None else pa.nulls(n, pa.string())
    of = pa.array(np.full(n, of, np.int8))
    return pa.table([table["household_id"], pid, of], schema=part_schema(IDS))


def routes_of(
    parts: dict[str, pa.Table], keys: np.ndarray, bounds: np.ndarray
) -> Iterator[pa.RecordBatch]:
    """One household-range partition's IDS rows → the routes of its households (each
    member's and supporter's person ID → the household), as blob rows for the partitions
    where their persons' source rows meet them (person_dest). A member or supporter of a
    household_id with no households row (an orphan) has no route: its source rows are
    nobody's there, as validate counts them."""
    ids = parts[IDS]
    of = ids["_of"].to_numpy()
    homes = ids.filter(pa.array(of == 0))["household_id"]
    people = ids.filter(pa.array(of > 0))
    people = people.filter(pc.is_in(people["household_id"], value_set=homes.combine_chunks()))
    members = pc.equal(people["_of"], 1)
    routes = pa.table([people["_pid"], people["household_id"], members], schema=part_schema(ROUTES))
    yield from pack(routes, ROUTES, keys, bounds, ("person", "_pid"))


def duplicates_of(
    routes: pa.Table, keys: np.ndarray, bounds: np.ndarray
) -> Iterator[pa.RecordBatch]:
    """DUPLICATE_PERSON entries (person_id → its households, sorted) of the persons
    who are members of more than one households row, one blob row per household."""
    members = routes.filter(routes["_m"]).select(["_pid", "household_id"])
    if members.num_rows < 2:
        return
    many = members.group_by("_pid").aggregate([("household_id", "count_distinct")])
    many = many.filter(pc.greater(many["household_id_count_distinct"], 1))
    if many.num_rows == 0:
        return
    found = members.filter(pc.is_in(members["_pid"], many["_pid"]))
    homes: dict[str, set] = {}
    for pid, home in zip(*(found[c].to_pylist() for c in ("_pid", "household_id")), strict=True):
        homes.setdefault(pid, set()).add(home)
    pids, lists, at = [], [], []
    for pid, hs in homes.items():
        for home in sorted(hs):
            pids.append(pid)
            lists.append(sorted(hs))
            at.append(home)
    table = pa.table({"person_id": pids, "households": lists}, schema=part_schema(DUPLICATES))
    dest = range_of(bounds, pa.array(at, pa.string()))
    for groups, blobs in to_blobs(table, dest):
        yield blob_rows(BLOBS, {"_tag": TAG[DUPLICATES]}, {"_key": keys[groups]}, blobs)


def packed_table(tables: dict[str, pa.Table], duplicates: dict | None = None) -> pa.Table:
    """The blob rows of whole tables (rows numbered from 0) for one partition: what
    co-location sends a partition holding all of them. For tests."""
    keys, bounds = np.zeros(1, np.int32), np.array([], dtype=object)
    batches = []
    parts = dict(tables)
    if duplicates:
        parts[DUPLICATES] = pa.table(
            {"person_id": list(duplicates), "households": list(duplicates.values())},
            schema=part_schema(DUPLICATES),
        )
    for name, table in parts.items():
        t = table.append_column("_to", pa.array(np.zeros(table.num_rows, np.int32)))
        if name != DUPLICATES:
            t = t.append_column(_ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))
        batches += pack(t, name, keys, bounds)
    return pa.Table.from_batches(batches, schema=BLOBS)
