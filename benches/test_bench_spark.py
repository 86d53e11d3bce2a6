"""Spark against the single-machine review (issue 8): the overhead of local[2] on the same
bundle, and Spark's scaling from 1 to 2 executor cores (local[1] vs local[2]).

All three run in this process on the cached synthetic bundle of each size; the Spark
ones in a session made for their core count (the JVM start is not timed, the first
review of a session is, since a real run pays its executors' imports and numba cache
loads too). The report divides test_spark_review_local2 by test_single_machine_review
(overhead ratio) and test_spark_review_local1 by test_spark_review_local2 (scaling).
docs/spark.md turns the figures into a province projection.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest
from bench_data import rounds_for

pytest.importorskip("pyspark", reason="pyspark not installed (pip install -e '.[spark]')")

from meanstest.policy import default_library
from meanstest.review import ReviewOptions, run_review
from meanstest.spark import review_spark

_session: dict[int, object] = {}


def spark_session(cores: int):
    """A local[cores] session; the session of another core count is stopped first."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if cores not in _session:
        for other in list(_session):
            _session.pop(other).stop()
        session = (
            SparkSession.builder.master(f"local[{cores}]")
            .appName(f"meanstest bench local[{cores}]")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", "8g")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        _session[cores] = session
    return _session[cores]


def test_single_machine_review(benchmark, households, bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"single{households}")
    summaries = []

    def review():
        shutil.rmtree(out, ignore_errors=True)
        summaries.append(run_review(bundle, out, default_library(), ReviewOptions(quiet=True)))

    benchmark.pedantic(review, rounds=rounds_for(households, 2, 1))
    assert summaries[-1]["households_read"] == households
    benchmark.extra_info.update(households=households)


@pytest.mark.parametrize("cores", [2, 1], ids=["local2", "local1"])
def test_spark_review(benchmark, households, bundle, tmp_path_factory, cores):
    spark = spark_session(cores)
    out = tmp_path_factory.mktemp(f"spark{cores}-{households}")
    summaries = []

    def review():
        summaries.append(review_spark(spark, bundle, default_library(), out))

    benchmark.pedantic(review, rounds=1)  # minutes at 100k on 2 shared cores
    assert summaries[-1]["households_read"] == households
    assert summaries[-1]["accounting_closes"]
    versus = ["test_single_machine_review"] if cores == 2 else ["test_spark_review[local2]"]
    benchmark.extra_info.update(households=households, cores=cores, versus=versus)
