"""Benchmarks (pytest-benchmark), not tests: `make bench` runs them and writes RESULTS.md.

Sizes: MEANSTEST_BENCH_SIZES, comma-separated household counts (default "10000,100000";
`make bench SIZES=10000,100000,1000000` for the district scale). Bundles come from
`meanstest synth` and are cached outside the repo (bench_data.py). Every figure is a
ratio against a baseline measured in the same run on the same data; the report
(report.py) computes the ratios from what each benchmark leaves in `extra_info`:

- `households`: how many households the timed call handled (per-household figures);
- `versus`: list of test names (same size) this figure is divided by in the report;
- anything else numeric (bytes, peak_rss_mib, ...) is printed beside the figure.

Benchmarks by other engineers (gRPC, Spark) need nothing more than `households`
and `versus` to appear in the report with their ratios.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bench_data import SIZES, bundle_path

from meanstest.cli import arrow_memory_pool

# Arrow's memory pool of the `meanstest` command's process (jemalloc): the in-process
# figures (the I/O floor, assembly, the service and its baseline) use what the command
# would, so that a review in its own process is not compared with a floor measured on
# pyarrow's default pool (mimalloc; the 1M floor was 3.6-3.8 s on it, 3.1-3.5 s on
# jemalloc, benches/ANALYSIS.md)
ARROW_POOL = arrow_memory_pool()


def pytest_generate_tests(metafunc):
    if "households" in metafunc.fixturenames:
        metafunc.parametrize("households", SIZES, ids=[f"{n}hh" for n in SIZES], scope="session")


@pytest.fixture
def bundle(households) -> Path:
    return bundle_path(households)


_LOAD_AT_START = os.getloadavg()


def pytest_benchmark_update_json(config, benchmarks, output_json):
    """How busy the machine was: the report prints it beside the figures."""
    output_json["load_average"] = {"start": _LOAD_AT_START, "end": os.getloadavg()}
    output_json["arrow_pool"] = ARROW_POOL
