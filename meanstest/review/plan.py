"""The review plan: which chunk every row of the bundle belongs to.

Households are numbered in bundle order and cut into chunks of `chunk_size`; every row
with the same household_id goes to the chunk of its first row (so duplicate ids are seen
together, and rejected together). Members and supporters go to their household's chunk;
a source row goes to the chunk(s) of its person (a person who is a member or supporter
in two chunks is copied to both). The plan is built from the ID columns alone, one
column at a time, whether the bundle is in memory or still on disk.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.bundle import check_complete, table_file
from meanstest.errors import BundleError
from meanstest.id_pass import IdPass
from meanstest.ids import IdIndex, take
from meanstest.utf8 import check_utf8

ID_COLUMNS = {
    "households": ["household_id"],
    "persons": ["household_id", "person_id"],
    "supporters": ["household_id", "supporter_id"],
}


def bundle_files(bundle: Path) -> dict[str, Path]:
    """table → its file in the bundle folder (absent tables are left out)."""
    check_complete(bundle)
    files = {}
    for table in schema.TABLES:
        found = table_file(bundle, table)
        if found is not None:
            files[table] = found
    missing = schema.missing_case_table(files, str(bundle))
    if missing:
        raise BundleError(missing, file=str(bundle))
    return files


NOT_TABLES = ("quarantine.parquet",)  # ingest's, beside the tables it wrote


def unknown_files(bundle: Path) -> list[tuple[str, str]]:
    """(name, hint) of the bundle folder's Parquet and Arrow files that name no table:
    read as absent, a misnamed tax_incomes.parquet raised benefits silently (an
    adversarial run), so the review says which it ignores; and the folders named after a
    table beside that table's file (bundle.table_file reads the file)."""
    out = []
    read = {f.name for t in schema.TABLES if (f := table_file(bundle, t)) is not None}
    for path in sorted(bundle.iterdir()):
        stem, _, suffix = path.name.partition(".")
        tabular = suffix.lower() in ("parquet", "arrow")
        if path.name in read or path.name in NOT_TABLES or path.name.startswith("."):
            continue
        if not (tabular or stem.lower() in schema.TABLES) or not path.is_file():
            continue
        if stem.lower() in schema.TABLES:  # beside the table read (bank.PARQUET, bank.pq)
            out.append((path.name, f" ({table_file(bundle, stem.lower()).name} is the table read)"))
            continue
        near = difflib.get_close_matches(path.stem, list(schema.TABLES), n=1)
        out.append((path.name, f" (did you mean {near[0]}{path.suffix}?)" if near else ""))
    for table in schema.TABLES:  # `<t>/` beside `<t>.parquet` (table_file reads the file)
        if (bundle / table).is_dir() and table_file(bundle, table) is not None:
            out.append((f"{table}/", f" ({table_file(bundle, table).name} is the table read)"))
    return out


def read_columns(path: Path, table: str, columns: list[str]) -> pa.Table:
    """Some columns of one bundle file, with the reader's own checks: an IPC file's
    offsets validated in full, strings that are not UTF-8 named by column and row."""
    try:
        if path.suffix == ".parquet":
            got = pq.read_table(path, columns=columns)
        else:
            with pa.memory_map(str(path)) as src:
                got = pa.ipc.open_file(src).read_all().select(columns)
            try:
                got.validate(full=True)  # IPC trusts its offsets: a forged one must not pass
            except pa.ArrowException:
                check_utf8(got, table, str(path))  # names the row when that is the problem
                raise
    except (pa.ArrowException, OSError, KeyError) as e:
        first = (str(e).strip() or type(e).__name__).splitlines()[0]
        raise BundleError(
            f"{path}: cannot read columns {', '.join(columns)} of table {table}: {first}",
            file=str(path),
        ) from e
    check_utf8(got, table, str(path))
    return got


def id_columns(path: Path, table: str) -> pa.Table:
    """The ID columns of one households, persons or supporters file, in their canonical
    types: a large_string column (as Polars writes Arrow) made the plan fail with
    "Array chunks must all be same type" (the streamed review and regroup alike)."""
    columns = ID_COLUMNS[table]
    return read_columns(path, table, columns).cast(schema.empty_table(table).select(columns).schema)


def id_tables(files: dict[str, Path]) -> dict[str, pa.Table]:
    """The ID columns of households, persons and supporters, read from the bundle's
    files (absent tables empty): what the plan is made of."""
    out = {}
    for table, columns in ID_COLUMNS.items():
        if table in files:
            out[table] = id_columns(files[table], table)
        else:
            out[table] = schema.empty_table(table).select(columns)
    return out


@dataclass
class Plan:
    n_households: int
    n_chunks: int
    household_chunk: np.ndarray  # int32 per households row
    persons_chunk: np.ndarray  # int32 per persons row, -1 = no households row
    supporters_chunk: np.ndarray
    people: IdIndex  # person and supporter IDs → people code (lookups only)
    chunk_off: np.ndarray  # int32: people code c is in chunks chunks[chunk_off[c]:chunk_off[c+1]]
    chunks: np.ndarray  # int32
    duplicates: dict[str, list[str]]
    orphan_rows: int

    def chunk_of_row(self, table: str) -> np.ndarray:
        """households/persons/supporters: each row's chunk (-1: none)."""
        return {
            "households": self.household_chunk,
            "persons": self.persons_chunk,
            "supporters": self.supporters_chunk,
        }[table]

    def route(
        self, person_ids: pa.Array | pa.ChunkedArray, codes: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Source rows → (rows, chunks): one entry per (row, chunk of its person), by
        row, and the number of rows whose person is in no chunk (unmatched). `codes`:
        the rows' people codes when already known (IdPass.source_code)."""
        code = self.people.lookup(person_ids) if codes is None else codes
        known = code >= 0
        at = np.where(known, code, 0)
        count = np.where(known, self.chunk_off[at + 1] - self.chunk_off[at], 0)
        rows = np.repeat(np.arange(len(code), dtype=np.int64), count)
        start = np.repeat(self.chunk_off[at].astype(np.int64) - (np.cumsum(count) - count), count)
        chunks = self.chunks[start + np.arange(len(rows), dtype=np.int64)]
        return rows, chunks.astype(np.int32), int((count == 0).sum())


def chunk_starts(group_rows: list[int], chunk_size: int) -> np.ndarray:
    """The first households row of every chunk when the households file's row groups
    hold `group_rows` rows each: as many whole row groups as fit in `chunk_size`
    households (a row group larger than that is cut every `chunk_size` rows). A bundle
    written block by block then has chunks that are whole blocks (stream.py)."""
    starts, count, row = [0], 0, 0
    for n in group_rows:
        if n <= 0:
            continue
        if count and count + n > chunk_size:
            starts.append(row)
            count = 0
        first = row
        while count + (row + n - first) > chunk_size:
            first += chunk_size - count
            starts.append(first)
            count = 0
        count += row + n - first
        row += n
    return np.array(starts, dtype=np.int64)


def make_plan(
    tables: dict[str, pa.Table],
    chunk_size: int,
    say: Callable[[str], None] | None = None,
    starts: np.ndarray | None = None,
) -> Plan:
    """The plan of a bundle from its households, persons and supporters tables (only
    their ID columns are read; `id_tables` reads just those from files). Households
    are numbered in bundle order and cut into chunks of `chunk_size`, or where `starts`
    says (chunk_starts); every row with the same household_id goes to the chunk of its
    first row (duplicate ids are seen, and rejected, together). `say` (text → None)
    hears what step starts: at 10M households each takes tens of seconds."""
    from meanstest.kernels import join

    if say is not None:
        people_rows = tables["persons"].num_rows + tables["supporters"].num_rows
        say(
            f"planning chunks: indexing {tables['households'].num_rows:,} household and"
            f" {people_rows:,} person and supporter IDs"
        )
    ids = IdPass.of({name: tables[name] for name in ID_COLUMNS})
    if say is not None:
        say(f"planning chunks: {len(ids.people):,} distinct people; grouping them by chunk")
    n = len(ids.household_code)
    if starts is None:
        starts = np.arange(0, max(n, 1), chunk_size, dtype=np.int64)
    own = (np.searchsorted(starts, np.arange(n, dtype=np.int64), side="right") - 1).astype(np.int32)
    first_chunk = own[ids.household_first]  # by household code
    known = ids.household_code >= 0  # a null id stays in its own row's chunk
    household_chunk = np.where(known, first_chunk[np.maximum(ids.household_code, 0)], own)

    def chunk_of(homes: np.ndarray) -> np.ndarray:
        out = np.full(len(homes), -1, np.int32)
        out[homes >= 0] = first_chunk[homes[homes >= 0]]
        return out

    persons_chunk, supporters_chunk = chunk_of(ids.person_home), chunk_of(ids.supporter_home)
    people = np.concatenate([ids.person_code, ids.supporter_code])
    chunk_off, chunks = join.distinct_groups(
        people, np.concatenate([persons_chunk, supporters_chunk]), len(ids.people)
    )
    orphans = int((persons_chunk < 0).sum() + (supporters_chunk < 0).sum())
    # the plan lives as long as a district's review: it keeps only what routing needs
    # (at 10M households the whole ID pass is several GiB; this is about 1.5)
    return Plan(
        n,
        len(starts),
        household_chunk.astype(np.int32),
        persons_chunk,
        supporters_chunk,
        ids.people.lookup_only(),
        chunk_off.astype(np.int32),
        chunks.astype(np.int32),
        duplicate_members(ids, tables["households"]["household_id"]),
        orphans,
    )


def duplicate_members(
    ids: IdPass, household_ids: pa.Array | pa.ChunkedArray
) -> dict[str, list[str]]:
    """person_id → sorted distinct household_ids, for persons who are members of more
    than one households row of the bundle (§8; rejected households included, rows of
    no households row not counted)."""
    from meanstest.kernels import join

    off, homes = join.distinct_groups(ids.person_code, ids.person_home, len(ids.people))
    multi = np.flatnonzero(np.diff(off) > 1)
    if len(multi) == 0:
        return {}
    pids = ids.people.values(multi).to_pylist()
    # the household names of those persons only (every member's would be GiBs at 10M)
    count = off[multi + 1] - off[multi]
    at = np.repeat(off[multi] - (np.cumsum(count) - count), count) + np.arange(count.sum())
    names = take(household_ids, ids.household_first[homes[at]]).to_pylist()
    ends = np.cumsum(count).tolist()
    return {
        pid: sorted(names[end - k : end])
        for pid, k, end in zip(pids, count.tolist(), ends, strict=True)
    }


# Rows of each chunk ---------------------------------------------------------------------


def group_by_chunk(rows: np.ndarray, chunks: np.ndarray, n_chunks: int) -> list[np.ndarray]:
    """(rows of chunk 0, rows of chunk 1, …), each ascending, from (row, chunk) pairs
    given in ascending row order (entries with chunk -1 belong to none)."""
    keep = chunks >= 0
    rows, chunks = rows[keep], chunks[keep]
    order = np.argsort(chunks, kind="stable")
    bounds = np.searchsorted(chunks[order], np.arange(n_chunks + 1))
    rows = rows[order]
    return [rows[bounds[c] : bounds[c + 1]] for c in range(n_chunks)]


def select_rows(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """table[rows] (rows ascending): a zero-copy slice when they are one run, as in a
    bundle written household by household."""
    if len(rows) == 0:
        return table.slice(0, 0)
    first, last = int(rows[0]), int(rows[-1])
    if last - first + 1 == len(rows):
        return table.slice(first, len(rows))
    return table.take(pa.array(rows))
