"""Faults (issue 9): a review killed with SIGKILL at random moments, and a review that
runs out of disk, never loses or duplicates a household and never leaves a corrupt
output table behind.

Repeated SIGKILL: each run kills `meanstest review` at seeded random moments until it
finishes, then compares every output with an uninterrupted run. 3 runs by default,
20 with MEANSTEST_LONG=1.

Disk full: the output folder is a small tmpfs (needs root or an unprivileged user
namespace; skipped with the reason otherwise). The review must fail with one clear
line and exit 1, leave no half-written output, and, once space is freed, resume to the
same outputs as an uninterrupted run.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from meanstest import synth
from meanstest.bundle import write_bundle
from meanstest.policy import default_library
from meanstest.review import ReviewOptions, run_review

OUTPUTS = ("results", "members", "findings", "rejects")
RUNS = 20 if os.environ.get("MEANSTEST_LONG") else 3


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle")
    write_bundle(synth.generate(400, seed=23, bad_fraction=0.05), path)
    return path


@pytest.fixture(scope="module")
def whole(bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    run_review(bundle, out, default_library(), ReviewOptions(chunk_size=50, quiet=True))
    return {name: pq.read_table(out / f"{name}.parquet") for name in OUTPUTS}


def _command(bundle: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "meanstest.cli", "review", str(bundle), "--out", str(out)]


def _assert_same_outputs(out: Path, whole: dict) -> None:
    for name, table in whole.items():
        assert pq.read_table(out / f"{name}.parquet").equals(table), name
    assert not list(out.glob("*.tmp")), "temporary files left behind"
    assert not (out / ".review").exists(), "review state left behind"
    assert not (out / ".review.discarded").exists(), "discarded state left behind"


def _assert_nothing_half_written(out: Path, killed: bool = False) -> None:
    """Every output present is a complete, readable table. A review that failed cleans up
    its temporary files; one killed by SIGKILL cannot (the next run removes them)."""
    for name in OUTPUTS:
        path = out / f"{name}.parquet"
        if path.exists():
            pq.read_table(path)
    if not killed:
        assert not list(out.glob("*.tmp")), sorted(p.name for p in out.iterdir())


PATHS = [pytest.param([], id="in-memory"), pytest.param(["--spool"], id="spooled")]


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("run", range(RUNS))
def test_random_sigkills_then_resume_give_identical_outputs(bundle, whole, tmp_path, run, path):
    """Kill at seeded random moments until the review completes; a run that completes
    before its first kill is discarded and retried with kills drawn from a shorter span.
    The spooled path resumes; the in-memory path starts over."""
    rnd = random.Random(run)
    args = [*_command(bundle, tmp_path), "--quiet", "--chunk-size", "50", *path]
    started = time.monotonic()
    subprocess.run(args, check=True, capture_output=True)  # how long a whole run takes here
    span = time.monotonic() - started
    kills = 0
    while True:
        if kills == 0:  # start from nothing: the previous attempt finished unkilled
            shutil.rmtree(tmp_path)
            tmp_path.mkdir()
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            proc.wait(timeout=rnd.uniform(0.05, span))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            _assert_nothing_half_written(tmp_path, killed=True)
            if kills == 6:
                subprocess.run(args, check=True, capture_output=True)
                break
            continue
        assert proc.returncode == 0, proc.stderr.read().decode()
        if kills:
            break
        span /= 2
    _assert_same_outputs(tmp_path, whole)


def _tmpfs(path: Path, size: str, remount: bool = False) -> None:
    options = f"size={size}" + (",remount" if remount else "")
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    try:
        _tmpfs(disk, "64k")
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot mount a tmpfs here: {e.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=False, capture_output=True)


# Disk sizes that run out at different steps: the spooled path writes the spool, the
# parts, then the outputs (~150 KB here); the in-memory path only the outputs (~140 KB):
# members, findings, rejects and results as they come, the change lists while those
# finish, summary.json last — 112k runs out in the change lists, 120k in results,
# 136k at summary.json.
DISKS = [
    *(pytest.param([], size, id=f"in-memory-{size}") for size in ("64k", "112k", "120k", "136k")),
    *(pytest.param(["--spool"], size, id=f"spooled-{size}") for size in ("64k", "160k", "320k")),
]


@pytest.mark.parametrize(("path", "size"), DISKS)
def test_disk_full_fails_cleanly_and_resumes(bundle, whole, small_disk, size, path):
    out = small_disk / "review"
    _tmpfs(small_disk, size, remount=True)
    failed = subprocess.run(
        [*_command(bundle, out), "--quiet", "--chunk-size", "50", *path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("meanstest: error:"), failed.stderr
    assert "No space left on device" in lines[0], lines[0]
    if out.exists():
        _assert_nothing_half_written(out)

    _tmpfs(small_disk, "64m", remount=True)
    subprocess.run(
        [*_command(bundle, out), "--quiet", "--chunk-size", "50"], check=True, capture_output=True
    )
    _assert_same_outputs(out, whole)
