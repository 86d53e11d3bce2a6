"""The auditor's recomputation: the reference calculator in one process against one
process per core, and `reproduce` of a whole review against the one-process calculator.

`reproduce OUT --bundle B` recomputes B with a reference-engine review and compares it
with OUT chunk by chunk (meanstest/reproduce/__init__.py); its time is mostly the reference
calculator's, which runs in one process per core from 20,000 households on
(meanstest/reference/__init__.py). Sizes above 100,000 households are skipped: one
round of the one-process calculator takes minutes there (1M by hand: docs/documents.md).
"""

from __future__ import annotations

import os
import shutil

import pytest

from meanstest import reference
from meanstest.bundle import read_bundle
from meanstest.policy import default_library
from meanstest.reproduce import reproduce_review
from meanstest.review import ReviewOptions, run_review
from meanstest.validate import validate

LARGEST = 100_000
_inputs: dict[int, object] = {}


def _input(households: int, bundle):
    if households > LARGEST:
        pytest.skip(f"one round takes minutes above {LARGEST:,} households")
    if households not in _inputs:
        _inputs.clear()  # one size at a time
        _inputs[households] = validate(read_bundle(bundle), default_library()).engine_input
    return _inputs[households]


def test_reference_one_process(benchmark, households, bundle):
    inp = _input(households, bundle)
    benchmark.pedantic(reference._run, args=(inp,), rounds=2)
    benchmark.extra_info.update(households=households)


def test_reference_processes(benchmark, households, bundle):
    inp = _input(households, bundle)
    cores = len(os.sched_getaffinity(0))
    out = benchmark.pedantic(reference.run, args=(inp,), kwargs={"processes": cores}, rounds=2)
    assert out.results.equals(reference._run(inp).results)  # the same answer, in order
    benchmark.extra_info.update(
        households=households, processes=cores, versus=["test_reference_one_process"]
    )


def test_reproduce_end_to_end(benchmark, households, bundle, tmp_path_factory):
    _input(households, bundle)  # skipped where the baseline is
    out = tmp_path_factory.mktemp(f"reproduce{households}") / "review"
    run_review(bundle, out, default_library(), ReviewOptions(quiet=True))

    def again():
        ok, problems, _ = reproduce_review(out, bundle)
        assert problems == [] and ok > 0

    benchmark.pedantic(again, rounds=2)
    benchmark.extra_info.update(households=households, versus=["test_reference_one_process"])
    shutil.rmtree(out, ignore_errors=True)
