"""Province scale on Apache Spark: the single-machine review's rules, Spark's shuffles.

`review_spark(spark, bundle, policies, out)` reviews a bundle whose tables are Parquet
files or folders (possibly partitioned by jurisdiction) and writes what `meanstest
review` writes — results, members, findings, rejects, the changes lists and
summary.json — as Parquet folders partitioned by jurisdiction. Values are identical to
the single-machine review; docs/spark.md is the deployment guide.

How it runs (docs/spark.md has the table; rows move as Arrow blobs, meanstest.spark.
layout, never through Spark's row format):

1. read — each table's columns checked on the driver by the bundle reader's own rules
   (meanstest.bundle); the executors read each Parquet file whole (binaryFile) and
   decode it with pyarrow. `_row` is the row's place in the table (file order, then
   row order), so each household's rows reach the engine in bundle order and a
   reject naming "(row N)" names the bundle's row.
2. co-locate — households partitioned by household_id ranges; the routes (person ID →
   household) made where the households', members' and supporters' IDs meet in their
   range (one exchange, IDs only); source rows routed to their persons' households
   where they meet the routes by person ID (a second), then everything sent to its
   household's partition (a third).
3. assess — each partition is one `meanstest.batch.assess_batch`, the single-machine
   review's step; the policy library is resolved once on the driver and broadcast.
4. finish — the §9 rank from the partitions' counts per difficulty index (no sort),
   the outputs written by the executors by jurisdiction (one job), the summary added
   up from the partitions' tallies on the driver.

A partition is exactly the bundle restricted to its households (a source record of a
person in two of them arrives twice and is kept once, by `_row`) — the argument that
makes the review chunks of meanstest.review correct.
"""

from __future__ import annotations

from meanstest.spark.command import (
    cancel_on_interrupt,
    review_cli,
    spark_conf,
    task_error,
)
from meanstest.spark.review import REVIEW_CONF, review_spark, session_conf, summarise
from meanstest.spark.sessions import (
    LOCAL_JAVA_OPTIONS,
    local_driver_memory,
    not_started,
    session,
)

__all__ = [
    "LOCAL_JAVA_OPTIONS",
    "REVIEW_CONF",
    "cancel_on_interrupt",
    "local_driver_memory",
    "not_started",
    "review_cli",
    "review_spark",
    "session",
    "session_conf",
    "spark_conf",
    "summarise",
    "task_error",
]
