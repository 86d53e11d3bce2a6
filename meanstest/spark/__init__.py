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

import json
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import pyarrow as pa

from meanstest.batch import Tally
from meanstest.errors import MeansTestError
from meanstest.progress import count
from meanstest.review.finish import earlier_outputs
from meanstest.spark.frames import (
    Storage,
    co_locate,
    household_bounds,
    partition_keys,
    read_frames,
    spark_schema,
)
from meanstest.spark.worker import (
    BUCKETS,
    KIND,
    OUT_BLOBS,
    OUTPUTS,
    _assess_partition,
    _unblob_partition,
    output_schema,
    rank_offsets,
)
from meanstest.spark.write import arrow_filesystem, write_outputs

# The review -----------------------------------------------------------------------------


def _write_with_spark(spark, staged, name: str, path: str, offsets=None) -> None:
    """One output as a Parquet folder partitioned by jurisdiction (changes: by
    transition and jurisdiction) through Spark's writer, for an output folder pyarrow
    cannot reach (meanstest.spark.write is the usual way). Its blob rows are gathered
    by jurisdiction (a few large rows), so one task, and one file, has all of a
    jurisdiction's rows."""
    from pyspark.sql import functions as F

    columns = output_schema(name).names
    by = ("transition",) if name == "changes" else ()
    keys = [*by, "jurisdiction"]
    blobs = staged.where(F.col("_kind") == KIND[name])
    places = max(1, min(spark.sparkContext.defaultParallelism * 4, 1000))
    target = spark_schema(output_schema(name).append(pa.field("jurisdiction", pa.string())))
    rows = blobs.repartition(places, "jurisdiction").mapInArrow(
        _unblob_partition(name, offsets), target
    )
    data = rows.select(*[c for c in columns if c not in by], *keys)
    data.write.mode("overwrite").partitionBy(*keys).parquet(str(path))


# Session settings of a review (restored after it). Arrow batches to the Python workers
# are cut by rows only: Spark 4.1's byte limit sizes the batch being built after every
# row, which for a list column walks the whole batch (41% of the JVM's samples at 100k
# households). A partition is one assessment, so its batches may as well be large.
REVIEW_CONF = {
    "spark.sql.execution.arrow.maxBytesPerBatch": str(2**31 - 1),  # = no byte limit
    "spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
}


@contextmanager
def session_conf(spark, conf: dict[str, str]):
    """`conf` set on the session for the block, the previous values restored after."""
    before = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def review_spark(
    spark,
    bundle,
    policies=None,
    out_path=None,
    partitions: int | None = None,
    arrow_writes=True,
    in_place: bool | None = None,
    say=None,
    quiet: bool = True,
):
    """Review `bundle` (folder of Parquet files/folders or .arrow files, or a dict of Arrow
    tables) on `spark` into `out_path`; returns the summary (also summary.json).

    `partitions`: how many household groups the run is cut into (default: twice the
    cluster's cores); each is assessed by one task, in one batch. `arrow_writes`: the
    executors write the outputs with pyarrow when it reaches the output folder
    (meanstest.spark.write); False: always through Spark's writer. `in_place`: read a
    household-grouped bundle where it lies, one task per chunk of row groups and no
    shuffle (meanstest.spark.inplace); None: when the bundle allows it, True: or fail,
    False: never. `say` (text → None) hears which way the review goes, and why; unless
    `quiet`, the in-place review's steps and chunks are counted on stderr."""
    with session_conf(spark, REVIEW_CONF):
        return _review(
            spark, bundle, policies, out_path, partitions, arrow_writes, in_place, say, quiet
        )


def _review(spark, bundle, policies, out_path, partitions, arrow_writes, in_place, say, quiet):
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from meanstest.affected import ingest_notes
    from meanstest.pipeline import load_policies
    from meanstest.spark.inplace import local_folder

    if out_path is None:
        raise MeansTestError("review_spark needs an output folder (out_path)")
    say = say or (lambda text: None)
    library = load_policies(policies)
    partitions = partitions or max(2, spark.sparkContext.defaultParallelism * 2)
    if in_place is not False:
        planned = _plan_in_place(
            spark, bundle, out_path, partitions, arrow_writes, in_place, say, quiet
        )
        if planned is not None:
            notes = ingest_notes(local_folder(bundle))  # file: URIs too
            return _review_in_place(spark, planned, library, out_path, quiet, notes)
    from meanstest.spark.inplace import counting

    sc = spark.sparkContext
    files: dict = {}
    steps = (lambda text: None) if quiet else say
    steps("reading the bundle's tables and cutting the households into ranges")
    frames = read_frames(spark, bundle, files)
    keys = partition_keys(spark, partitions)
    bounds = household_bounds(frames["households"], partitions)
    grouped = co_locate(spark, frames, files, partitions, keys, bounds)
    broadcast = sc.broadcast(library)
    assess = _assess_partition(broadcast, bounds)
    staged = grouped.mapInArrow(assess, spark_schema(OUT_BLOBS)).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    steps(f"routing the rows to their households and assessing {partitions:,} partitions")
    with counting(sc, None, "tasks done (routing and assessing)", quiet):
        rows = staged.where(F.col("_kind") == KIND["tally"]).select("_blob").collect()
    tallies = [json.loads(bytes(r[0])) for r in rows]
    counts = np.zeros((partitions, BUCKETS), np.int64)
    for t in tallies:
        counts[t["part"]] += np.array(t["counts"], np.int64)
    offsets = spark.sparkContext.broadcast(rank_offsets(counts))
    out = Storage(spark, out_path)
    for name in earlier_outputs():  # summary.json first; a single-machine review's too
        out.remove(out.join(name))
    if not out.remote:
        Path(out.root).mkdir(parents=True, exist_ok=True)
    arrow = arrow_filesystem(out.root) if arrow_writes else None
    steps(f"ranking the results of {partitions:,} partitions and writing the outputs")
    with counting(sc, None, "tasks done (writing)", quiet):
        if arrow is not None:
            write_outputs(spark, staged, *arrow, offsets)
        else:
            for name in OUTPUTS:
                ranks = offsets if name == "results" else None
                _write_with_spark(spark, staged, name, out.join(name), ranks)
    summary = summarise(
        [t["tally"] for t in tallies], partitions, ingest_notes(local_folder(bundle))
    )
    out.write_text(out.join("summary.json"), json.dumps(summary, ensure_ascii=False, indent=2))
    staged.unpersist()
    broadcast.unpersist()
    offsets.unpersist()
    return summary


def _plan_in_place(spark, bundle, out_path, partitions, arrow_writes, required, say, quiet):
    """The in-place plan of the bundle (meanstest.spark.inplace.plan), None (said why)
    when the review must take the general path; `required`: that is an error."""
    from meanstest.spark import inplace

    why: list[str] = []
    planned = None
    if arrow_writes and arrow_filesystem(Storage(spark, out_path).root) is not None:
        steps = None if quiet else say
        planned = inplace.plan(bundle, partitions, why.append, steps)
    else:
        why.append("the executors cannot write the output folder with pyarrow")
    if planned is None:
        if required:
            raise MeansTestError(f"the bundle cannot be reviewed in place: {why[0]}")
        say(f"shuffling the bundle's rows by household ({why[0]})")
    else:
        say(
            f"reading the bundle in place: {count(len(planned.chunks), 'chunk')} of whole"
            " row groups,"
            f" up to {planned.chunk_size:,} households each, no shuffle"
        )
    return planned


def _review_in_place(spark, planned, library, out_path, quiet, notes: list[str]) -> dict:
    from meanstest.spark import inplace
    from meanstest.spark.write import TMP, move_outputs

    out = Storage(spark, out_path)
    for name in earlier_outputs():  # summary.json first; a single-machine review's too
        out.remove(out.join(name))
    if not out.remote:
        Path(out.root).mkdir(parents=True, exist_ok=True)
    filesystem, root = arrow_filesystem(out.root)
    tallies = inplace.review(spark, planned, library, filesystem, root, quiet)
    move_outputs(filesystem, root, f"{root}/{TMP}")
    summary = inplace.summary_of(planned, tallies, notes)
    out.write_text(out.join("summary.json"), json.dumps(summary, ensure_ascii=False, indent=2))
    return summary


def summarise(tallies: list[str], partitions: int, notes: Sequence[str] = ()) -> dict:
    """summary.json of meanstest.review from the batches' tallies (Tally JSON); `notes`:
    the ingest's (affected.ingest_notes)."""
    total = Tally()
    for text in tallies:
        total = total.merge(Tally.from_json(text))
    return total.summary(partitions, -(-total.households_read // partitions), notes)


# The command line -----------------------------------------------------------------------


_JAVA_HOMES = ("/usr/lib/jvm/java-17-openjdk-amd64", "/usr/lib/jvm/java-17-openjdk-arm64")


def _java_major(java: str) -> int | None:
    """The major version `java -version` reports, None if it does not run."""
    import re
    import subprocess

    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)', done.stderr)
    return int(m.group(1)) if m else None


def _local_java() -> None:
    """For a Spark started here: Java 17 when the java found first is another version
    (pyspark 4.1 supports 17 and 21; a newer JDK on PATH makes the gateway exit), and the
    driver bound to loopback (a machine whose host name does not resolve cannot start
    one otherwise)."""
    import shutil

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if java and _java_major(java) in (17, 21):
        return
    for candidate in _JAVA_HOMES:
        if os.access(os.path.join(candidate, "bin", "java"), os.X_OK):
            os.environ["JAVA_HOME"] = candidate
            return
    found = "no java" if not java else f"{java} (version {_java_major(java)})"
    raise MeansTestError(
        f"--engine spark needs Java 17 or 21 and found {found}: install "
        "openjdk-17-jre-headless or set JAVA_HOME"
    )


# A local session's JVM compiles with C1 only (no tiered C2): a review in local mode is
# one short job, and C2 compiling Spark's hot paths cost ~28 of the first 200k-household
# review's 93 CPU-seconds, for code that ran no faster (measured: docs/spark.md).
LOCAL_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1"


def local_driver_memory() -> str:
    """spark.driver.memory of a local session started here: a third of this machine's
    memory, between 1 and 8 GiB. In local mode the driver's JVM is the executor, and
    Spark's default (1g) runs out of heap shuffling a 1M-household bundle."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 3 << 30
    return f"{max(1 << 10, min(8 << 10, total // 3 >> 20))}m"


def session(master: str | None = None, app: str = "meanstest review", conf: dict | None = None):
    """A SparkSession: `master` when given, else spark-submit's (or pyspark's local[*]).
    Its Python workers fork from meanstest.spark.daemon (meanstest imported once).

    A local session starts its own JVM: it gets Java 17/21, a loopback driver,
    LOCAL_JAVA_OPTIONS (unless `conf` sets spark.driver.extraJavaOptions) and
    local_driver_memory() (unless `conf` or SPARK_DRIVER_MEMORY sets it), and a
    gateway that exits while starting is started once more (a JVM killed by a loaded
    machine's memory pressure) before the error is raised. Spark's console progress bar
    is off unless `conf` turns it on: the review counts its own steps and chunks on
    stderr, and the bar's carriage returns overwrote those lines."""
    try:
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkRuntimeError
        from pyspark.sql import SparkSession
    except ImportError:
        raise MeansTestError(
            "--engine spark needs pyspark: pip install 'meanstest[spark]' (and Java 17)"
        ) from None
    local = (master or "local").startswith("local")
    launching = "PYSPARK_GATEWAY_PORT" not in os.environ  # not inside spark-submit
    if local and launching:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # not python3 on PATH
        _local_java()
    builder = SparkSession.builder.appName(app)
    if master:
        builder = builder.master(master)
    conf = {
        "spark.python.daemon.module": "meanstest.spark.daemon",
        "spark.ui.showConsoleProgress": "false",
        **(conf or {}),
    }
    if local and launching:
        conf.setdefault("spark.driver.extraJavaOptions", LOCAL_JAVA_OPTIONS)
        if "SPARK_DRIVER_MEMORY" not in os.environ:
            conf.setdefault("spark.driver.memory", local_driver_memory())
    for key, value in conf.items():
        builder = builder.config(key, value)
    for attempt in (1, 2):
        try:
            return builder.getOrCreate()
        except PySparkRuntimeError as e:
            if attempt == 2 or not launching or "JAVA_GATEWAY_EXITED" not in str(e):
                raise MeansTestError(f"cannot start Spark: {e}") from e
            time.sleep(2)
        except Py4JError as e:  # the JVM's refusal (a Java exception): no traceback
            raise MeansTestError(not_started(master, e)) from None
    raise AssertionError("unreachable")


def not_started(master: str | None, e: BaseException) -> str:
    """What to say when the JVM refused to start a session: the Java exception's own line
    and where to look. A master that never answers is given up after three tries, 20 s
    apart, and the session is then refused as "a stopped SparkContext" (an operator's
    blind check: a 100-line py4j traceback)."""
    text = str(e)
    java = re.search(r"^: (\S+(?:Exception|Error)\b.*)$", text, re.MULTILINE)
    said = java.group(1) if java else text.strip().splitlines()[0] if text.strip() else ""
    said = said or type(e).__name__
    where = master or "spark-submit's or pyspark's default"
    hint = (
        "; is the master's URL right and the master running? (Spark's log above says "
        "why: 'Failed to connect to master' when it cannot be reached)"
        if "stopped SparkContext" in said or "masters are unresponsive" in text
        else "; Spark's log above says why"
    )
    return f"cannot start Spark with master {where}: {said}{hint}"


def cancel_on_interrupt(spark):
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


def _reviewed(spark, args, library, in_place, say) -> dict:
    """review_spark for the command, its errors said in one line where they can be."""
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
        if said is None:
            raise
        raise MeansTestError(said) from None


def interrupted(e: BaseException | None) -> bool:
    """Whether a KeyboardInterrupt is in the chain of exceptions `e` came from."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


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


def review_cli(args) -> int:
    """`meanstest review --engine spark [--master URL] BUNDLE --out DIR`."""
    from meanstest.cli import summary_lines
    from meanstest.outputs import output_folder
    from meanstest.pipeline import load_policies
    from meanstest.spark.inplace import local_folder
    from meanstest.unmatched import near_match_note

    local = local_folder(args.out)
    created = local is not None and not local.exists()
    if local is not None:  # refused at once, as the single machine does, not after planning
        output_folder(local)
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
    try:
        spark = session(args.master, conf=spark_conf(getattr(args, "spark_conf", None) or []))
    except BaseException:
        if created:  # the folder made for a review that never started (an operator's check)
            with suppress(OSError):
                local.rmdir()  # only while empty
        raise

    def say(text: str) -> None:
        if not args.quiet:
            print(f"meanstest: {text}", file=sys.stderr, flush=True)

    in_place = False if getattr(args, "spark_shuffle", False) else None
    cancel = cancel_on_interrupt(spark)
    try:
        s = _reviewed(spark, args, library, in_place, say)
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
        print(
            f"households read {s['households_read']:,}: assessed {s['assessed']:,}, "
            f"rejected {s['rejected']:,} ({time.perf_counter() - started:.2f} s on Spark "
            f"{spark.version}, master {spark.sparkContext.master}, "
            f"{count(s['chunks'], 'partition')})"
        )
        print("\n".join(summary_lines(s)))
        if said := near_match_note(local_folder(args.bundle), s["unmatched_source_rows"]):
            print(said)
        print(f"outputs (Parquet folders by jurisdiction) and summary.json in {args.out}")
    if report is not None:
        from meanstest.report import write_report

        path = write_report(report)
        if not args.quiet:
            print(f"report: {path}")
    if not s["accounting_closes"]:
        print(
            "meanstest: error: accounting does not close (read != assessed + rejected)",
            file=sys.stderr,
        )
        return 1
    return 0
