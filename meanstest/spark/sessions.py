"""Starting a SparkSession for the review: Java 17/21 found, a local JVM's memory and
compiler settings, one retry of a gateway that exits while starting, and a refused
start said in one line."""

from __future__ import annotations

import os
import re
import sys
import time
from typing import TYPE_CHECKING

from meanstest.errors import MeansTestError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

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


def session(
    master: str | None = None, app: str = "meanstest review", conf: dict | None = None
) -> SparkSession:
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
