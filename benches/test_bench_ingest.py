"""Ingest throughput (issue 4): rows per second per core of reading and mapping a raw
CSV export, against plain `pyarrow.csv.read_csv` of the same file on one thread
(`use_threads=False`, the same serial parser ingest streams with), both in CPU seconds
of the process (rows per second per core). The ratio ingest / pyarrow is the figure;
the target is within 3×. pytest-benchmark's own timing is ingest's wall time.

The export is the housing layout (adapters/profiles/property.toml: GB18030, Chinese
headers, ten columns with IDs, m² areas, yuan, dates in three formats, value names)
written by `meanstest.rawsynth` with its dirt, tiled to ROWS rows. Set
MEANSTEST_BENCH_INGEST_ROWS to change the size (default 300,000).
"""

from __future__ import annotations

import os
import random
import time

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from meanstest.adapters import PROFILES, adapter_for
from meanstest.adapters.mapping import map_batch
from meanstest.adapters.profile import load_profile
from meanstest.adapters.readers import open_export

from meanstest.rawsynth import _write_csv, _Writer
from meanstest.synth import generate

ROWS = int(os.environ.get("MEANSTEST_BENCH_INGEST_ROWS", "300000"))


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    profile = load_profile(PROFILES / "property.toml")
    rows = generate(4000, 7)["property"].to_pylist()
    writer = _Writer(profile, random.Random(7), dirt=True)
    header = [profile.columns[c.name] for c in writer.cols]
    lines = []
    for i in range(ROWS):
        r = dict(rows[i % len(rows)], record_id=f"PRP{i:012d}")
        raw = writer.row(r)
        lines.append([raw[h] for h in header])
    path = tmp_path_factory.mktemp("ingest") / "property.csv"
    _write_csv(path, profile, header, lines)
    return path, profile


def _pyarrow(path, profile) -> int:
    read = pacsv.ReadOptions(use_threads=False, encoding=profile.encoding)
    return pacsv.read_csv(path, read_options=read).num_rows


def _ingest(path, profile) -> int:
    adapter = adapter_for(profile.table)
    mapped = 0
    for batch in open_export(path, profile).batches():
        mapped += map_batch(profile, adapter, batch, path.name).table.num_rows
    return mapped


def _cpu_seconds(fn, *args) -> float:
    """CPU time of the whole process (every thread): per-core cost, robust to the other
    jobs a shared machine runs, unlike wall time."""
    start = time.process_time()
    assert fn(*args) == ROWS
    return time.process_time() - start


def test_ingest_csv_throughput_against_pyarrow(benchmark, export):
    path, profile = export
    cpu_floor, cpu_ours = [], []
    for _ in range(3):  # interleaved, so both see the same machine
        cpu_floor.append(_cpu_seconds(_pyarrow, path, profile))
        cpu_ours.append(_cpu_seconds(_ingest, path, profile))
    mapped = benchmark.pedantic(_ingest, args=(path, profile), rounds=3, iterations=1)
    assert mapped == ROWS  # the dirt is all normalised: nothing quarantined
    floor, ours = min(cpu_floor), min(cpu_ours)
    benchmark.extra_info.update(
        rows=ROWS,
        bytes=path.stat().st_size,
        pyarrow_cpu_seconds=round(floor, 4),
        ingest_cpu_seconds=round(ours, 4),
        pyarrow_rows_per_cpu_second=round(ROWS / floor),
        ingest_rows_per_cpu_second=round(ROWS / ours),
        ratio=round(ours / floor, 2),
        arrow_version=pa.__version__,
    )
