"""benches/report.py judges the issues' targets from one benchmark run's figures."""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "bench_report", Path(__file__).parent.parent / "benches" / "report.py"
)
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)

N = 1_000_000


def _bench(name, seconds, **extra):
    return {
        "name": name,
        "params": {"households": N},
        "stats": {"min": seconds},
        "extra_info": extra,
    }


def _targets(*benchmarks):
    return {
        row[0]: row[1:] for row in report.targets(report.collect({"benchmarks": benchmarks}), [N])
    }


def test_review_against_the_io_floor_is_judged_within_the_run():
    rows = _targets(
        _bench("test_review_end_to_end[1000000hh]", 11.0), _bench("test_io_floor[1000000hh]", 5.0)
    )
    assert rows["review / I/O floor (1,000,000 households)"] == ("≤ 2×", "2.2×", "**missed**")


def test_spark_per_core_ratio_is_judged_for_each_way_and_session_size():
    rows = _targets(
        _bench("test_spark_review[inplace-local2-1000000hh]", 60.0, per_core_ratio=2.9),
        _bench("test_spark_review[inplace-local1-1000000hh]", 90.0, per_core_ratio=3.4),
        _bench("test_spark_review[shuffle-local2-1000000hh]", 99.0, per_core_ratio=4.5),
    )
    at = "(1,000,000 households)"
    assert rows[f"Spark local[2] in place per-core / single {at}"] == ("≤ 3×", "2.9×", "met")
    assert rows[f"Spark local[1] in place per-core / single {at}"] == (
        "≤ 3×",
        "3.4×",
        "**missed**",
    )
    assert rows[f"Spark local[2] shuffled per-core / single {at}"] == (
        "≤ 3×",
        "4.5×",
        "**missed**",
    )
    assert f"Spark local[1] shuffled per-core / single {at}" not in rows  # not measured


def test_service_targets_are_judged_per_journal_at_the_largest_size():
    rows = _targets(
        _bench("test_grpc_baseline_inprocess[1000000hh]", 1.0),
        _bench("test_grpc_assess[disk-1000000hh]", 2.0),
        _bench("test_grpc_flight[tmpfs-1000000hh]", 1.1),
        _bench(
            "test_grpc_single_household_latency[disk-1000000hh]",
            0.01,
            p50_vs_bare=3.0,
            p99_vs_bare=12.5,
        ),
    )
    where = "1,000,000 households, journal on"
    assert rows[f"assess / in-process ({where} disk)"] == ("≥ 0.8×", "0.5×", "**missed**")
    assert rows[f"flight / in-process ({where} tmpfs)"] == ("≥ 0.9×", "0.909×", "met")
    assert rows[f"single household p50 / bare call ({where} disk)"] == ("≤ 10×", "3×", "met")
    assert rows[f"single household p99 / bare call ({where} disk)"] == (
        "≤ 10×",
        "12.5×",
        "**missed**",
    )


def _run(load_start, load_end, *benchmarks):
    return {
        "datetime": f"run at load {load_start}",
        "load_average": {"start": [load_start] * 3, "end": [load_end] * 3},
        "benchmarks": [dict(b, fullname=f"benches/x.py::{b['name']}") for b in benchmarks],
    }


def test_back_to_back_sessions_merge_into_one_run():
    review = _run(0.5, 1.0, _bench("test_review_end_to_end[1000000hh]", 11.0))
    floor = _run(1.5, 2.0, _bench("test_io_floor[1000000hh]", 5.0))
    merged = report.merge([review, floor])
    assert merged["datetime"] == "run at load 0.5"
    assert merged["load_average"] == {"start": [0.5] * 3, "end": [2.0] * 3}
    rows = {row[0]: row[1:] for row in report.targets(report.collect(merged), [N])}
    assert rows["review / I/O floor (1,000,000 households)"][1] == "2.2×"


def test_a_benchmark_in_two_sessions_is_refused():
    one = _run(0.5, 1.0, _bench("test_io_floor[1000000hh]", 5.0))
    with pytest.raises(ValueError, match=r"test_io_floor\[1000000hh\] is in file 1 and file 2"):
        report.merge([one, one])


def test_the_report_names_each_sessions_arrow_pool():
    # the review runs on the command's pool; a floor on another would not be its floor
    def timed(name, seconds):
        return dict(_bench(name, seconds), stats={"min": seconds, "median": seconds, "rounds": 1})

    review = _run(0.5, 1.0, timed("test_review_end_to_end[1000000hh]", 11.0))
    floor = _run(0.5, 1.0, timed("test_io_floor[1000000hh]", 5.0))
    review["arrow_pool"], floor["arrow_pool"] = "jemalloc", "mimalloc"
    merged = report.merge([review, floor])
    assert merged["arrow_pool"] == "jemalloc, mimalloc"
    assert "Arrow's memory pool jemalloc, mimalloc;" in report.render(merged)
    floor["arrow_pool"] = "jemalloc"
    assert "Arrow's memory pool jemalloc;" in report.render(report.merge([review, floor]))
