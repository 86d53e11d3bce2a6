"""`meanstest review --engine spark`: the command around review_spark — its options, its
errors and Ctrl-C said in one line rather than a py4j traceback, and what it prints."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from meanstest.errors import MeansTestError, interrupted
from meanstest.progress import count
from meanstest.spark.review import review_spark
from meanstest.spark.sessions import session

if TYPE_CHECKING:
    import argparse

    from pyspark.sql import SparkSession


def cancel_on_interrupt(spark: SparkSession) -> Callable[[], None]:
    """Ctrl-C during a Spark review: a KeyboardInterrupt in the main thread, its jobs
    cancelled from a thread of its own. pyspark's own SIGINT handler calls cancelAllJobs
    on the main thread's py4j connection, which is mid-call: py4j then logged pages of
    "reentrant call" and "Error while sending or receiving" tracebacks and the command
    ended in one (an operator's blind check). Returns the function that cancels."""
    import signal
    import threading

    def cancel() -> None:
        worker = threading.Thread(target=_cancel_jobs, args=(spark,), daemon=True)
        worker.start()
        worker.join(10)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()  # what py4j's first logging.exception would do
    for handler in root.handlers:
        handler.addFilter(_not_the_interrupt)
    return cancel


def _not_the_interrupt(record: logging.LogRecord) -> bool:
    """False for py4j's log of the interrupt: "KeyboardInterrupt while sending command"
    and the broken pipe of closing that connection, each with a traceback, on the root
    logger. The command itself says "interrupted"."""
    return not interrupted(record.exc_info[1] if record.exc_info else None)


def _cancel_jobs(spark) -> None:
    from py4j.protocol import Py4JError

    with suppress(Py4JError, ConnectionError):  # a JVM already gone has no jobs to cancel
        spark.sparkContext.cancelAllJobs()


# The loggers that print a failed task's Java and Python tracebacks (Executor: "Exception
# in task", TaskSetManager: "Lost task", "aborting job"): 110-260 lines on the console
# before the command's one-line error, in a session the command starts (an operator's
# blind check). The driver's error carries the same text, which the command keeps in a
# file (_reviewed).
TASK_FAILURE_LOGGERS = (
    "org.apache.spark.executor.Executor",
    "org.apache.spark.scheduler.TaskSetManager",
)


def quiet_task_failures(spark: SparkSession) -> bool:
    """TASK_FAILURE_LOGGERS off in `spark`'s JVM (log4j 2, Spark's); whether they are."""
    from py4j.protocol import Py4JError

    try:
        log4j = spark.sparkContext._jvm.org.apache.logging.log4j
        for name in TASK_FAILURE_LOGGERS:
            log4j.core.config.Configurator.setLevel(name, log4j.Level.OFF)
    except (Py4JError, AttributeError, TypeError):
        return False
    return True


def _task_report(e: BaseException) -> str | None:
    """The text of Spark's error for a failed task (its Java and Python tracebacks) in a
    file of the system's temporary folder; its path, None when it cannot be written."""
    import tempfile

    try:
        handle, path = tempfile.mkstemp(prefix="meanstest-spark-", suffix=".log", text=True)
        with open(handle, "w", encoding="utf-8") as f:
            f.write(str(e))
    except OSError:
        return None
    return path


def _reviewed(spark, args, library, in_place, say, quieted: bool = False) -> dict:
    """review_spark for the command, its errors said in one line where they can be;
    `quieted`: Spark's task-failure loggers are off, so a task's error is also kept in a
    file that a line before the error names."""
    try:
        return review_spark(
            spark, args.bundle, library, args.out, in_place=in_place, say=say, quiet=args.quiet
        )
    except (ConnectionError, EOFError) as e:  # the JVM went away under the driver
        if interrupted(e):
            raise
        raise MeansTestError(
            f"Spark stopped during the review ({type(e).__name__}: {e}). If its log above "
            "shows java.lang.OutOfMemoryError, give it more memory: --spark-conf "
            "spark.driver.memory=… in local mode, spark.executor.memory on a cluster"
        ) from e
    except MeansTestError:
        raise
    except Exception as e:  # a task's own error (a corrupt file on an executor) by its text
        said = task_error(e)
        if said is None and "No space left on device" in str(e):  # Java's or Python's
            # ended the review in 88-190 lines of traceback, where the single machine says
            # one line (a blind check on a full tmpfs)
            said = (
                f"{args.out}: cannot write: No space left on device (Spark's tasks stopped; "
                "free space and run the review again)"
            )
        if said is None:
            raise
        if quieted and (path := _task_report(e)) is not None:
            print(
                f"meanstest: Spark's report of the failed task (its Java and Python "
                f"tracebacks): {path}",
                file=sys.stderr,
                flush=True,
            )
        raise MeansTestError(said) from None


def spark_conf(items: list[str]) -> dict[str, str]:
    """`--spark-conf KEY=VALUE` options → a conf dict (a malformed one is refused)."""
    conf = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().startswith("spark."):
            raise MeansTestError(f"--spark-conf {item!r}: write KEY=VALUE, KEY a spark.* setting")
        conf[key.strip()] = value.strip()
    return conf


_TASK_ERROR = re.compile(r"^meanstest\.errors\.\w+: (.+)$", re.MULTILINE)


def task_error(e: BaseException) -> str | None:
    """The message of a meanstest error raised in a Spark task (a file an executor cannot
    read), found in the text of the Java exception that carries the task's traceback; None
    for any other error. Without it the command ended in a py4j traceback of ~100 lines
    (an operator's blind check)."""
    found = _TASK_ERROR.findall(str(e))
    return found[-1].strip() if found else None


def review_cli(args: argparse.Namespace) -> int:
    """`meanstest review --engine spark [--master URL] BUNDLE --out DIR`."""
    from meanstest.bundle import bundle_folder
    from meanstest.outputs import not_a_bundle, only_writer_of, output_folder
    from meanstest.spark.inplace import local_folder

    bundle = local_folder(args.bundle)
    if bundle is not None:  # as the single machine: no --out made, no Spark started
        bundle_folder(bundle)
    local = local_folder(args.out)
    created = local is not None and not local.exists()
    if local is None:
        return _review_cli(args, local, created)
    not_a_bundle(local, bundle)  # as the single machine: the outputs among its tables
    output_folder(local)  # refused at once, as the single machine does, not after planning
    # one review at a time writes the folder, whichever engine: a single-machine review
    # started during a Spark one wrote its outputs beside Spark's, both exiting 0, and
    # summary.json was one's while results.parquet was the other's (a blind check)
    with only_writer_of(local, "review"):
        return _review_cli(args, local, created)


def _review_cli(args: argparse.Namespace, local, created: bool) -> int:
    from meanstest.cli import review_ended, summary_lines
    from meanstest.pipeline import load_policies
    from meanstest.review import LOCK
    from meanstest.spark.inplace import local_folder
    from meanstest.unmatched import say_near_matches

    report = None
    if getattr(args, "report", False):
        report = local
        if report is None:
            raise MeansTestError(
                f"--report writes report.html with this process: {args.out} is not a local "
                "or mounted folder; run `meanstest report OUT` where the output is mounted"
            )
    started = time.perf_counter()
    library = load_policies(args.policies)
    # a local session this command starts (not spark-submit's, not a cluster's)
    starts = (args.master or "local").startswith("local") and not os.environ.get(
        "PYSPARK_GATEWAY_PORT"
    )
    try:
        spark = session(args.master, conf=spark_conf(getattr(args, "spark_conf", None) or []))
    except BaseException:
        if created:  # the folder made for a review that never started (an operator's check)
            with suppress(OSError):
                (local / LOCK).unlink(missing_ok=True)  # its lock, held: the folder goes
                local.rmdir()  # only while empty
        raise

    def say(text: str) -> None:
        if not args.quiet:
            print(f"meanstest: {text}", file=sys.stderr, flush=True)

    in_place = False if getattr(args, "spark_shuffle", False) else None
    quieted = starts and quiet_task_failures(spark)
    cancel = cancel_on_interrupt(spark)
    try:
        s = _reviewed(spark, args, library, in_place, say, quieted)
    except Exception as e:
        if not interrupted(e):
            raise
        # pyspark's call-site bookkeeping opens a py4j connection while the interrupt
        # unwinds, and its error took the KeyboardInterrupt's place (2 of 6 Ctrl-Cs to
        # the process group, a reviewer's check)
        say("interrupted: cancelling Spark's jobs")
        cancel()
        raise KeyboardInterrupt from None
    except KeyboardInterrupt:  # the CLI says "interrupted" and exits 130
        say("interrupted: cancelling Spark's jobs")
        cancel()
        raise
    if not args.quiet:
        took = time.perf_counter() - started
        print(ended_line(s, took, spark.version, spark.sparkContext.master))
        print("\n".join(summary_lines(s)))
        say_near_matches(
            local_folder(args.bundle), s["unmatched_source_rows"], s.get("orphan_rows", 0)
        )
        print(f"outputs (Parquet folders by jurisdiction) and summary.json in {args.out}")
    return review_ended(s, report, args.quiet)


def ended_line(summary: dict, seconds: float, version: str, master: str) -> str:
    """The review's last line before its statuses. summary.json's `chunks` are the
    in-place way's chunks or the shuffled way's household partitions, each assessed as
    one batch: "chunks" for both (the in-place way's line said "1 partition", a blind
    user's check)."""
    return (
        f"households read {summary['households_read']:,}: assessed {summary['assessed']:,}, "
        f"rejected {summary['rejected']:,} ({seconds:.2f} s on Spark {version}, master "
        f"{master}, {count(summary['chunks'], 'chunk')})"
    )
