"""pyspark's Python worker daemon with meanstest already imported.

Spark starts one daemon per executor and forks a worker from it for each Python task
slot; a worker forked from this daemon starts with numpy, pyarrow, numba and
meanstest's modules loaded (about 0.7 CPU-seconds and several wall seconds on a busy
machine, per worker) instead of importing them. `meanstest.spark.session()` sets
`spark.python.daemon.module` to it; nothing here runs the kernels (numba's threads
must not be started before a fork).
"""

import meanstest.spark.worker
import meanstest.spark.write  # noqa: F401

if __name__ == "__main__":
    from pyspark.daemon import manager

    manager()
