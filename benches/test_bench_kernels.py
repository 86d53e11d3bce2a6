"""Kernels: the full pass over pre-assembled arrays, against three baselines of the run.

- the plain vectorised NumPy implementation of the same rules (numpy_baseline.py),
  checked equal to the kernels on this very data, every output array;
- the readable reference calculator on a 10,000-household sample (the first 10,000
  households of the same synthetic district), scaled per household;
- the memory-bandwidth bound: bytes of the arrays the kernels read and write, divided
  by this machine's copy bandwidth (np.copyto of a 512 MiB array: bytes read + written
  per second), so the report shows kernel time / bound.

The machine is shared, so each figure also records its process CPU time (`cpu_s`,
least of the rounds; it does not count waiting for a core), and the kernels their CPU
time on one numba thread (`cpu_s_1_thread`): ratios of CPU times hold when the wall
clock does not.
"""

from __future__ import annotations

import time

import numba
import numpy as np
import numpy_baseline
from bench_data import SAMPLE, assembled, engine_input, rounds_for
from meanstest.kernels import assess

from meanstest import reference

COPY_BYTES = 512 * 2**20


def _bytes(groups) -> int:
    return int(sum(a.nbytes for g in groups for a in g))


class _CPU:
    """Wraps a function to keep the process CPU time of each call."""

    def __init__(self, f) -> None:
        self.f, self.times = f, []

    def __call__(self, *args, **kwargs):
        start = time.process_time()
        try:
            return self.f(*args, **kwargs)
        finally:
            self.times.append(time.process_time() - start)

    def least(self) -> float:
        return round(min(self.times), 4)


def _one_thread_cpu(args, rounds: int) -> float:
    timed = _CPU(assess)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        for _ in range(rounds):
            timed(*args)
    finally:
        numba.set_num_threads(threads)
    return timed.least()


def test_kernels(benchmark, households):
    a = assembled(households)
    args = (a.households, a.people, a.records, a.pack)
    out = assess(*args)  # compiled (or loaded from numba's cache) before timing
    timed = _CPU(assess)
    out = benchmark.pedantic(timed, args=args, rounds=rounds_for(households, 7, 5))
    touched = _bytes(args) + _bytes([[x for f, x in zip(out._fields, out) if f != "scratch"]])
    benchmark.extra_info.update(
        households=households,
        bytes=touched,
        threads=numba.get_num_threads(),
        cpu_s=timed.least(),
        cpu_s_1_thread=_one_thread_cpu(args, rounds_for(households, 7, 5)),
        versus=["test_numpy_baseline", "test_reference_sample", "test_copy_bandwidth"],
    )


def test_numpy_baseline(benchmark, households):
    a = assembled(households)
    args = (a.households, a.people, a.records, a.pack)
    timed = _CPU(numpy_baseline.assess)
    got = benchmark.pedantic(timed, args=args, rounds=rounds_for(households, 3))
    want = assess(*args)
    for field in want._fields:  # the ratio means something only if the answers agree
        if field != "scratch":
            np.testing.assert_array_equal(getattr(got, field), getattr(want, field), field)
    benchmark.extra_info.update(households=households, equal_to_kernels=True, cpu_s=timed.least())


def test_reference_sample(benchmark, households):
    """reference.run on the 10,000-household sample; the report scales it to `households`."""
    inp = engine_input(SAMPLE)
    timed = _CPU(reference.run)
    benchmark.pedantic(timed, args=(inp,), rounds=1)
    benchmark.extra_info.update(
        households=inp.households.num_rows, sample_of=households, cpu_s=timed.least()
    )


def test_copy_bandwidth(benchmark, households):
    """Copy bandwidth of this machine; the report turns it into the kernels' bound."""
    src = np.ones(COPY_BYTES // 8, np.int64)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # pages touched before timing
    timed = _CPU(np.copyto)
    benchmark.pedantic(timed, args=(dst, src), rounds=10)
    benchmark.extra_info.update(
        bytes_moved=2 * COPY_BYTES,
        bandwidth_gb_s=round(2 * COPY_BYTES / benchmark.stats["min"] / 1e9, 2),
        cpu_s=timed.least(),
    )
