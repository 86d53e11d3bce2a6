"""`meanstest regroup BUNDLE --out GROUPED` (按户重排): the same bundle, its rows laid
out block of households by block of households, so that it is reviewed in place.

An ingest writes each department's rows in the order of its export (a bank's by
account, a tax bureau's by taxpayer): a chunk of households then has rows in every
row group of every source file, and a review beyond memory, or on Spark, must move
every row to its household first (the spool, or the shuffles). Regrouped once, the
bundle is read where it lies by every later review (meanstest.review.stream and
meanstest.spark.inplace): a chunk reads its own row groups.

Households are cut into blocks of `block` rows in bundle order, by the review's own
plan (meanstest.review.plan: every row of one household_id in the block of its first
row; members and supporters in their household's block). Each row goes once into one
block: a source row into the block of its person's households. A block is one
row group of every table (rows in bundle order within it); rows of no household —
members or supporters of no households row, source rows of nobody's member or
supporter — and the source rows of a person in households of several blocks go to a
last row group. No row is added, dropped or changed: each table
keeps its rows, in another order, and `regroup.json` records the counts of rows in
and out, table by table, and the SHA-256 of every file read and written. Only the
"(row N)" of a reject whose key is null changes, since it names a row by its place.

An ingest's record of where the rows came from (PROVENANCE: `ingest.json`, the raw
files and their digests; `quarantine.parquet`, the rows it could not map and the
households it held back) is copied
beside the regrouped tables: the regrouped bundle is the one reviewed from then on.

Several bundles (`meanstest regroup D1 D2 … --out PROVINCE`) are joined into one: the
districts' tables are read one after the other, as if each table were the districts'
files end to end, and regrouped together. That is how districts become a province
(docs/spark.md): one bundle, household-grouped, reviewed in place by either engine. A
household_id in two districts is then a duplicate of the province's (every row of it
rejected, DATA.md), as within one bundle. Each district's provenance is copied into
`districts/<k>-<folder name>/` (k its place on the command line), which the review's
quarantine note reads.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.bundle import INCOMPLETE, bundle_folder, check_table, rows_in, writing_bundle
from meanstest.errors import BundleError
from meanstest.outputs import output_folder
from meanstest.progress import Progress, note
from meanstest.review.plan import ID_COLUMNS, bundle_files, id_columns, make_plan
from meanstest.review.spool import _ChunkWriters, iter_batches
from meanstest.review.state import fault_point, write_json_atomic
from meanstest.review.stream import take_rows

if TYPE_CHECKING:
    import argparse

    from meanstest.review.plan import Plan

HELP = "lay a bundle's rows out by blocks of households, so reviews read it in place"
BLOCK = 196_608  # households per block: what `meanstest synth` writes
_BATCH_ROWS = 262_144
_WORK = ".regroup"
PROVENANCE = ("ingest.json", "quarantine.parquet")


def _digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def block_of_rows(
    plan: Plan, table: str, batch: pa.RecordBatch, start: int
) -> tuple[np.ndarray, int]:
    """Each row's block (int32; plan.n_chunks: the last row group) and how many rows
    went there because their person is in households of several blocks. ID tables by
    the plan's chunk of the row; source rows by the block of their person, and those
    of a person in several blocks (or in none) to the last row group: written in the
    first block, they made every other block of such a person read that whole block
    too, and a handful of such people kept a regrouped province from being read in
    place at all (an operator's blind check: 38 people, 500k households, blocks of
    196,608). The last row group is small, and read by the chunks that need it."""
    n = batch.num_rows
    shared = 0
    if table in ID_COLUMNS:
        blocks = plan.chunk_of_row(table)[start : start + n].astype(np.int32)
    else:
        rows, chunks, _ = plan.route(batch.column("person_id"))
        blocks = np.full(n, -1, np.int32)
        blocks[rows] = chunks
        several = np.bincount(rows, minlength=n) > 1
        blocks[several] = -1
        shared = int(several.sum())
    blocks[blocks < 0] = plan.n_chunks
    return blocks, shared


DISTRICTS = "districts"  # the joined bundles' provenance, one folder each


def regroup(
    bundle: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    block: int = BLOCK,
    quiet: bool = False,
) -> dict:
    """Write `bundle` (a folder, or a list of folders to join) regrouped into the folder
    `out` (module docstring); returns (and writes as out/regroup.json) the record of
    what was read and written."""
    bundles = [Path(b) for b in ([bundle] if isinstance(bundle, (str, os.PathLike)) else bundle)]
    out = Path(out)
    if block < 1:
        raise BundleError("a block must hold at least 1 household")
    if not bundles:
        raise BundleError("regroup: give at least one bundle folder")
    seen: dict[Path, Path] = {}
    for b in bundles:
        bundle_folder(b)
        if out.resolve() == b.resolve():
            raise BundleError(f"{out}: regroup into another folder than the bundle's own")
        if b.resolve() in seen:
            raise BundleError(f"{b}: the same bundle is given twice ({seen[b.resolve()]} and {b})")
        seen[b.resolve()] = b
    each = [bundle_files(b) for b in bundles]
    for files in each:
        for table, path in files.items():  # schemas first: a bad table writes nothing
            check_table(path, table)
    files = {t: [f[t] for f in each if t in f] for t in schema.TABLES if any(t in f for f in each)}
    for table in schema.TABLES:  # another bundle's table would be read with this one
        for other in (out / f"{table}.parquet", out / f"{table}.arrow"):
            if table not in files and other.exists():
                raise BundleError(
                    f"{other}: the output folder holds a table this bundle does not have;"
                    " regroup into an empty folder"
                )
    held = [
        f"{t}{x}"
        for t in schema.TABLES
        for x in (".parquet", ".arrow")
        if (out / f"{t}{x}").exists()
    ]
    if held and not (out / "regroup.json").exists() and not (out / INCOMPLETE).exists():
        raise BundleError(  # an earlier regroup's output is replaced; another bundle is not
            f"{out}: the output folder holds a bundle regroup did not write ({held[0]}"
            f"{', …' if len(held) > 1 else ''}); regroup into an empty folder, or remove it first"
        )
    output_folder(out)
    note("planning blocks: reading the household and person IDs", quiet=quiet)
    parts = _id_parts(files)
    shared = shared_households(parts["households"]) if len(bundles) > 1 else (0, [])
    if shared[0]:
        note(
            f"note: {shared[0]:,} household_id{'s are' if shared[0] > 1 else ' is'} in more "
            f"than one district (e.g. {', '.join(shared[1])}): the review rejects every "
            "households row of each, as a duplicate household_id (DATA.md)",
            quiet=quiet,
        )
    ids = {table: pa.concat_tables(p) if len(p) > 1 else p[0] for table, p in parts.items()}
    del parts
    # the plan's steps are said as regroup's own: its chunks are regroup's blocks
    plan = make_plan(
        ids, block, say=lambda text: note(text.replace(" chunk", " block"), quiet=quiet)
    )
    del ids
    what = f"meanstest regroup of {', '.join(map(str, bundles))}"
    extra = {"household_ids_in_several_districts": shared[0]} if len(bundles) > 1 else {}
    with writing_bundle(out, what):
        return _write(bundles, out, files, plan, block, quiet, extra)


def shared_households(tables: list[pa.Table], shown: int = 5) -> tuple[int, list[str]]:
    """The household_ids found in more than one of the districts' households tables:
    (how many, the first `shown` of them). The review rejects every row of each (a
    duplicate household_id); an operator learnt of 50,000 such only from the review."""
    import pyarrow.compute as pc

    distinct = pa.chunked_array(
        [pc.unique(t["household_id"].combine_chunks()).drop_null() for t in tables], pa.string()
    )
    counts = pc.value_counts(distinct)
    several = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
    return len(several), several.slice(0, shown).to_pylist()


def _id_parts(files: dict[str, list[Path]]) -> dict[str, list[pa.Table]]:
    """The ID columns of households, persons and supporters, file by file in order."""
    return {
        table: [id_columns(path, table) for path in files.get(table, [])]
        or [schema.empty_table(table).select(columns)]
        for table, columns in ID_COLUMNS.items()
    }


def _write(
    bundles: list[Path], out: Path, files: dict, plan, block: int, quiet: bool, extra: dict
) -> dict:
    work = out / _WORK
    shutil.rmtree(work, ignore_errors=True)
    total = sum(rows_in(path) for paths in files.values() for path in paths)
    progress = Progress(total, "rows regrouped", quiet=quiet)
    done, tables, nobody, shared = 0, {}, 0, 0
    try:
        for table, paths in files.items():
            writers = _ChunkWriters(work, table)
            start = rows_read = 0
            read = []
            try:
                for path in paths:  # the districts' files end to end, as the plan read them
                    rows = 0
                    for batch in iter_batches(path, _BATCH_ROWS, table):
                        blocks, several = block_of_rows(plan, table, batch, start)
                        nobody += int((blocks == plan.n_chunks).sum()) - several
                        shared += several
                        data = pa.Table.from_batches([batch])
                        for b in np.unique(blocks).tolist():
                            writers.write(b, take_rows(data, np.flatnonzero(blocks == b)))
                        start += batch.num_rows
                        rows += batch.num_rows
                        done += batch.num_rows
                        progress.update(done)
                    rows_read += rows
                    read.append(
                        {"file": str(path.resolve()), "sha256": _digest(path), "rows": rows}
                    )
                writers.close()
            except BaseException:
                writers.abort()
                raise
            rows_out = _concatenate(work, table, plan.n_chunks + 1, out / f"{table}.parquet")
            if rows_out != rows_read:
                raise RuntimeError(
                    f"regroup lost rows of {table}: {rows_read} read, {rows_out} written"
                )
            tables[table] = {
                **(
                    {"file": paths[0].name, "sha256": read[0]["sha256"]}
                    if len(bundles) == 1
                    else {"files": read}
                ),
                "rows_in": rows_read,
                "rows_out": rows_out,
                "row_groups_out": pq.ParquetFile(out / f"{table}.parquet").num_row_groups,
                "sha256_out": _digest(out / f"{table}.parquet"),
            }
            (out / f"{table}.arrow").unlink(missing_ok=True)  # else the table is there twice
            fault_point("regroup:table")  # the test of a killed regroup
        progress.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(out / DISTRICTS, ignore_errors=True)  # a stale one must not stay either
    if len(bundles) == 1:
        copied = _copy_records(bundles[0], out, out)
        named = {"bundle": str(bundles[0].resolve())}
    else:
        copied = []
        for name in PROVENANCE:
            (out / name).unlink(missing_ok=True)  # the province has none of its own
        for k, b in enumerate(bundles, 1):
            copied += _copy_records(b, out / DISTRICTS / f"{k}-{b.resolve().name}", out)
        named = {"bundles": [str(b.resolve()) for b in bundles]}
    doc = {
        **named,
        "provenance": copied,
        "households_per_block": block,
        "blocks": plan.n_chunks,
        "tables": tables,
        "rows_of_no_household": nobody,  # in the last row group of their table
        "rows_of_people_in_several_blocks": shared,  # there too
        **extra,
    }
    write_json_atomic(out / "regroup.json", doc)
    return doc


def _copy_records(bundle: Path, place: Path, out: Path) -> list[dict]:
    """The bundle's ingest record (PROVENANCE, one it lacks removed from `place`) and
    its own districts' records (a province regrouped again, or joined into a larger
    one: districts/ copied whole) copied into `place`; {file (from `out`), sha256} of
    each file copied."""
    districts = bundle / DISTRICTS
    recorded = districts.is_dir() or any((bundle / n).is_file() for n in PROVENANCE)
    if place != out and not recorded:
        return []  # no record: no folder
    place.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in PROVENANCE:
        target = place / name
        if (bundle / name).is_file():
            tmp = place / f"{name}.tmp"
            shutil.copyfile(bundle / name, tmp)
            os.replace(tmp, target)
            copied.append(target)
        else:
            target.unlink(missing_ok=True)
    if districts.is_dir():
        shutil.copytree(districts, place / DISTRICTS)
        copied += sorted(p for p in (place / DISTRICTS).rglob("*") if p.is_file())
    return [{"file": p.relative_to(out).as_posix(), "sha256": _digest(p)} for p in copied]


def _concatenate(work: Path, table: str, blocks: int, target: Path) -> int:
    """The blocks' files of one table, in block order, as one Parquet file with a row
    group per block (written to .tmp, fsynced, renamed); returns its rows."""
    tmp = target.with_name(target.name + ".tmp")
    rows = 0
    with open(tmp, "wb") as f:
        with pq.ParquetWriter(f, schema.arrow_schema(table)) as writer:
            for b in range(blocks):
                part = work / f"{b:06d}" / f"{table}.parquet"
                if part.exists():
                    data = pq.read_table(part)
                    writer.write_table(data, row_group_size=max(1, data.num_rows))
                    rows += data.num_rows
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "bundle",
        nargs="+",
        help="bundle folder (<table>.parquet or .arrow files); several are joined into one "
        "(districts into a province)",
    )
    parser.add_argument("--out", required=True, help="folder to write the regrouped bundle to")
    parser.add_argument(
        "--block",
        type=int,
        default=BLOCK,
        help=f"households per block, one row group each (default {BLOCK:,}); a review's "
        "chunks are whole blocks",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress")


def run(args: argparse.Namespace) -> int:
    doc = regroup(args.bundle, args.out, args.block, quiet=args.quiet)
    if not args.quiet:
        for table, t in doc["tables"].items():
            print(f"{table:<22} {t['rows_in']:>11,} rows in {t['row_groups_out']:>4} row groups")
        print(
            f"{doc['blocks']:,} blocks of up to {doc['households_per_block']:,} households"
            f" → {args.out} (regroup.json records the files and rows)"
        )
    return 0
