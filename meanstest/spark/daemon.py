"""pyspark's Python worker daemon with meanstest already imported.

Spark starts one daemon per executor and forks a worker from it for each Python task
slot; a worker forked from this daemon starts with numpy, pyarrow, numba and
meanstest's modules loaded (about 0.7 CPU-seconds and several wall seconds on a busy
machine, per worker) instead of importing them. `meanstest.spark.session()` sets
`spark.python.daemon.module` to it; nothing here runs the kernels (numba's threads
must not be started before a fork).

pyspark and py4j are imported from their installed files, not from the zips Spark puts
on PYTHONPATH, when the installed pyspark is the zip's (same version.py): pyspark's
worker calls `importlib.invalidate_caches()` before every task, and Python 3.11's
zipimporter then re-reads the whole pyspark.zip directory once for every package of
it imported so far (about 15), in Python — 30% of the workers' CPU in a 200k-household
review (docs/spark.md). Spark 4 also puts its spark-core jar on that path: 5,362
entries and no Python file, re-read the same way before every task (1.8 CPU-seconds
of a 1M-household shuffled review's workers); a jar with no Python in it is dropped
from the path.
"""

import os
import sys
import zipfile
from importlib.machinery import PathFinder


def _installed_not_zipped() -> None:
    """Drop pyspark's and py4j's zips from sys.path when the same pyspark is installed."""
    ours = ("pyspark", "py4j")
    zips = [p for p in sys.path if p.endswith(".zip") and os.path.basename(p).startswith(ours)]
    rest = [p for p in sys.path if p not in zips]
    if not zips or "pyspark" in sys.modules:
        return
    found = {name: PathFinder.find_spec(name, rest) for name in ours}
    if not all(spec and spec.submodule_search_locations for spec in found.values()):
        return
    installed = os.path.join(next(iter(found["pyspark"].submodule_search_locations)), "version.py")
    try:
        with open(installed, "rb") as f:
            mine = f.read()
        zipped = [p for p in zips if os.path.basename(p).startswith("pyspark")]
        for path in zipped:
            with zipfile.ZipFile(path) as z:
                if z.read("pyspark/version.py") != mine:
                    return
    except (OSError, KeyError, zipfile.BadZipFile):
        return
    sys.path[:] = rest
    for path in zips:
        sys.path_importer_cache.pop(path, None)


def _no_python_jars() -> None:
    """Drop from sys.path the .jar files that hold no Python module: nothing can be
    imported from them, and their importers re-read them whenever caches are
    invalidated. A jar that does hold Python (a user's, shipped so) stays."""
    keep = []
    for path in sys.path:
        if path.endswith(".jar") and os.path.isfile(path):
            try:
                with zipfile.ZipFile(path) as z:
                    python = any(n.endswith((".py", ".pyc")) for n in z.namelist())
            except (OSError, zipfile.BadZipFile):
                python = True  # not ours to judge: left as it was
            if not python:
                sys.path_importer_cache.pop(path, None)
                continue
        keep.append(path)
    sys.path[:] = keep


_installed_not_zipped()
_no_python_jars()

import meanstest.spark.worker
import meanstest.spark.write  # noqa: F401

if __name__ == "__main__":
    from pyspark.daemon import manager

    manager()
