"""End to end: `meanstest review` (Parquet in, Parquet out) against the I/O floor.

The review runs as the operator runs it, `meanstest review BUNDLE --out DIR`, in a
subprocess, so its peak memory (ru_maxrss of that child, from os.wait4) is its own.
(Started through a launcher: see _LAUNCH.)
The I/O floor is the least any review does: read every input table with pyarrow and
write the four output tables (results, members, findings, rejects) of that review;
the outputs are loaded before the clock starts. Both at every size: the report
shows time and peak memory per household (scaling).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from bench_data import rounds_for

OUTPUTS = ("results", "members", "findings", "rejects")
_reviewed: dict[int, Path] = {}


# The review is started by a small launcher process, not by pytest itself: Linux keeps a
# process's peak RSS across exec, so a child forked straight from pytest (holding the
# 1M-household bundle of the other benchmarks) would report pytest's size as its own.
_LAUNCH = """
import os, sys
quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], dict(os.environ), file_actions=quiet)
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_review(bundle: Path, out: Path) -> dict:
    """One `meanstest review` in a child process: wall seconds, peak RSS, summary."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "meanstest.cli", "review", str(bundle), "--out", str(out)]
    start = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", _LAUNCH, *cmd, "--quiet"],
        check=False,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {child.returncode}: {child.stderr}")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    peak_kib = int(child.stdout.split()[-1])
    return {"seconds": seconds, "peak_rss_mib": peak_kib / 1024, "summary": summary}


def test_review_end_to_end(benchmark, households, bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"review{households}") / "out"
    runs = []
    # a review first, untimed, and at 1M two timed rounds, not one: the 2026-12-05
    # 13:50 run timed its one 1M round at 13.5 s, where the same review took 7.3-8.5 s
    # in the hour around it (benches/test_bench_review.py alone: 8.0 s)
    benchmark.pedantic(
        lambda: runs.append(run_review(bundle, out)),
        rounds=rounds_for(households, 3, 2),
        warmup_rounds=1,
    )
    summary = runs[-1]["summary"]
    assert summary["accounting_closes"] and summary["households_read"] == households
    _reviewed[households] = out
    benchmark.extra_info.update(
        households=households,
        peak_rss_mib=round(max(r["peak_rss_mib"] for r in runs), 1),
        versus=["test_io_floor"],
    )


def test_io_floor(benchmark, households, bundle, tmp_path_factory):
    reviewed = _reviewed.get(households)
    if reviewed is None:  # run on its own (-k io_floor): make the outputs first
        reviewed = tmp_path_factory.mktemp(f"floor{households}") / "out"
        run_review(bundle, reviewed)
    outputs = {name: pq.read_table(reviewed / f"{name}.parquet") for name in OUTPUTS}
    inputs = sorted(bundle.glob("*.parquet"))
    target = tmp_path_factory.mktemp(f"floor-out{households}")

    def floor():
        for path in inputs:
            pq.read_table(path)
        for name, table in outputs.items():
            pq.write_table(table, target / f"{name}.parquet")

    benchmark.pedantic(floor, rounds=rounds_for(households, 3, 2))
    benchmark.extra_info.update(
        households=households,
        input_mib=round(sum(p.stat().st_size for p in inputs) / 2**20, 1),
        output_rows=sum(t.num_rows for t in outputs.values()),
    )
