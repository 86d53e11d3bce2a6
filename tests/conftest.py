import importlib.util
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# Property tests are seeded by default: `make test` draws the same examples on every
# machine and every run, so a red CI run is reproducible and a green one repeatable.
# HYPOTHESIS_PROFILE=explore draws new examples each run (and keeps failures in
# .hypothesis/ to replay) when hunting for bugs.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _engines():
    from meanstest import reference

    engines = [pytest.param(reference.run, id="reference")]
    if importlib.util.find_spec("meanstest.fast") is not None:
        from meanstest import fast

        engines.append(pytest.param(fast.run, id="fast"))
    return engines


@pytest.fixture(params=_engines())
def engine(request):
    """Each hand-computed case runs through every engine: the reference and the kernels."""
    return request.param


@pytest.fixture(scope="session")
def spark():
    """One local[2] SparkSession for the Spark test modules (a JVM start is ~15 s), made
    as `meanstest review --engine spark` makes it: this Python on the executors, Java
    17/21, a loopback driver, one retry of a gateway that exits while starting. Modules
    that use it skip themselves when pyspark or Java is missing."""
    from meanstest.spark import session as spark_session

    session = spark_session(
        "local[2]",
        "meanstest tests",
        conf={
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "4",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
