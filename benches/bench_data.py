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
DEFAULT_SIZES = "10000,100000"
SIZES = [int(s) for s in os.environ.get("MEANSTEST_BENCH_SIZES", DEFAULT_SIZES).split(",") if s]
SAMPLE = 10_000  # households the reference calculator is timed on (scaled per household)


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


_inputs: dict[int, object] = {}
_assembled: dict[int, object] = {}


def engine_input(n: int):
    """The validated EngineInput of the n-household bundle (read once per session)."""
    if n not in _inputs:
        from meanstest.bundle import read_bundle
        from meanstest.policy import default_library
        from meanstest.validate import validate

        if n != SAMPLE:  # one district size in memory at a time (1M households: GBs)
            for k in [k for k in _inputs if k != SAMPLE]:
                _inputs.pop(k)
                _assembled.pop(k, None)
        _inputs[n] = validate(read_bundle(bundle_path(n)), default_library()).engine_input
    return _inputs[n]


def assembled(n: int):
    """`meanstest.assemble.assemble` of engine_input(n), once per session."""
    if n not in _assembled:
        from meanstest.assemble import assemble

        _assembled[n] = assemble(engine_input(n))
    return _assembled[n]


def rounds_for(n: int, small: int, large: int = 1) -> int:
    """Fewer rounds at district scale, where one round takes seconds."""
    return small if n < 1_000_000 else large


if __name__ == "__main__":  # python benches/bench_data.py 10000 100000 1000000
    import sys
    import time

    for arg in sys.argv[1:]:
        t0 = time.perf_counter()
        p = bundle_path(int(arg))
        print(f"{arg}: {p} ({time.perf_counter() - t0:.1f} s)", flush=True)
