"""Generation by blocks (any chunking of a range gives the same rows) and streaming to disk."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.synth.assembly import _INTERNAL, _assemble
from meanstest.synth.bad import _inject_bad
from meanstest.synth.calibration import _calibrate, _extras, _household_fields
from meanstest.synth.common import BLOCK
from meanstest.synth.households import _Block
from meanstest.synth.overlays import _overlays, _suppressions
from meanstest.synth.sources import _sources


def _block_tables(seed: int, b: int, bad_fraction: float, d: dt.date) -> dict[str, pa.Table]:
    st = _Block(seed, b, d)
    st.households()
    st.members()
    st.supporters()
    st.assign_ids()
    _suppressions(st)
    _sources(st)
    _overlays(st)
    _calibrate(st)
    _household_fields(st)
    _extras(st)
    tables = _assemble(st)
    if bad_fraction > 0:
        tables = _inject_bad(tables, st, seed, bad_fraction)
    return tables


def generate(
    n_households: int,
    seed: int,
    *,
    bad_fraction: float = 0.0,
    start: int = 0,
    assessment_date: dt.date = dt.date(2024, 7, 1),
) -> dict[str, pa.Table]:
    """The nine bundle tables (schema.arrow_schema) of households start .. start+n-1.

    Deterministic in (seed, bad_fraction, assessment_date) and the household range only:
    any split of a range into chunks concatenates to the same tables."""
    if n_households < 0 or start < 0 or seed < 0:
        raise ValueError("n_households, start and seed must be >= 0")
    if not 0.0 <= bad_fraction <= 1.0:
        raise ValueError("bad_fraction must be between 0 and 1")
    parts: dict[str, list[pa.Table]] = {t: [] for t in schema.TABLES}
    stop = start + n_households
    for b in range(start // BLOCK, -(-stop // BLOCK)):
        tables = _block_tables(seed, b, bad_fraction, assessment_date)
        lo, hi = max(start, b * BLOCK), min(stop, (b + 1) * BLOCK)
        for name, t in tables.items():
            h = t.column("_hh")
            if lo > b * BLOCK or hi < (b + 1) * BLOCK:
                t = t.filter(pc.and_(pc.greater_equal(h, lo), pc.less(h, hi)))
            parts[name].append(t.drop_columns([c for c, _ in _INTERNAL]))
    return {
        name: pa.concat_tables(ts) if ts else schema.empty_table(name) for name, ts in parts.items()
    }


def write_synth(
    out_dir: str | os.PathLike[str],
    n_households: int,
    seed: int,
    *,
    bad_fraction: float = 0.0,
    format: str = "parquet",
    chunk: int = 200_000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Stream a synthetic bundle to `out_dir`, one file per table, each written to
    `<file>.tmp` and renamed when complete. Memory is bounded by `chunk` households
    (rounded to whole blocks of BLOCK). Returns the row count of each table."""
    if format not in ("parquet", "arrow"):
        raise ValueError(f"unknown bundle format {format!r} (choose parquet or arrow)")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    suffix, other = (".parquet", ".arrow") if format == "parquet" else (".arrow", ".parquet")
    step = max(BLOCK, chunk // BLOCK * BLOCK)
    files, writers = {}, {}
    counts = dict.fromkeys(schema.TABLES, 0)
    try:
        for name in schema.TABLES:
            f = open(folder / f"{name}{suffix}.tmp", "wb")  # noqa: SIM115 - closed below
            files[name] = f
            s = schema.arrow_schema(name)
            writers[name] = pq.ParquetWriter(f, s) if format == "parquet" else pa.ipc.new_file(f, s)
        for lo in range(0, n_households, step):
            tables = generate(min(step, n_households - lo), seed, bad_fraction=bad_fraction,
                              start=lo)  # fmt: skip
            for name, t in tables.items():
                writers[name].write_table(t)
                counts[name] += t.num_rows
            del tables
            if progress is not None:
                progress(min(lo + step, n_households), n_households)
        for name in schema.TABLES:
            writers.pop(name).close()
            f = files.pop(name)
            f.flush()
            os.fsync(f.fileno())
            f.close()
            os.replace(folder / f"{name}{suffix}.tmp", folder / f"{name}{suffix}")
            (folder / f"{name}{other}").unlink(missing_ok=True)
    finally:
        for w in writers.values():
            w.close()
        for f in files.values():
            f.close()
        # every table's: a Ctrl-C between a file's opening (or its leaving `files`) and
        # its rename left business_registration.parquet.tmp (a blind recheck, 2026-12-07)
        for name in schema.TABLES:
            (folder / f"{name}{suffix}.tmp").unlink(missing_ok=True)
    return counts
