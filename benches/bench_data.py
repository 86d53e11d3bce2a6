"""Benchmark bundles: `meanstest synth` output, generated once and cached outside the repo.

A bundle is cached under ``$MEANSTEST_BENCH_CACHE`` (default ``~/.cache/meanstest/bench``)
as ``<households>-<seed>-<synth digest>``: the digest is of meanstest/synth.py's source,
so an edit to the generator gives a fresh bundle instead of yesterday's. A bundle is
written to a temporary folder and renamed into place, so an interrupted generation
is never mistaken for a complete one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from meanstest import synth

SEED = 2024


def cache_root() -> Path:
    default = Path.home() / ".cache" / "meanstest" / "bench"
    return Path(os.environ.get("MEANSTEST_BENCH_CACHE", default))


def synth_digest() -> str:
    return hashlib.sha256(Path(synth.__file__).read_bytes()).hexdigest()[:12]


def bundle_path(n: int, seed: int = SEED) -> Path:
    """The cached bundle of n households (generated on first use)."""
    path = cache_root() / f"{n}-{seed}-{synth_digest()}"
    if path.is_dir():
        return path
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    synth.write_synth(tmp, n, seed)
    os.replace(tmp, path)
    return path


if __name__ == "__main__":  # python benches/bench_data.py 10000 100000 1000000
    import sys
    import time

    for arg in sys.argv[1:]:
        t0 = time.perf_counter()
        p = bundle_path(int(arg))
        print(f"{arg}: {p} ({time.perf_counter() - t0:.1f} s)", flush=True)
