"""numba's threading layer in the service process: pinned, and never spinning.

By default numba takes OpenMP (TBB is not installed) and GNU OpenMP spin-waits between
parallel regions: a server whose cores are shared with gRPC threads, other calls and
other processes paid 59-129 ms of CPU per call under load, most of it spinning. The
service pins the layer before the first parallel region:

- OpenMP with OMP_WAIT_POLICY=PASSIVE (idle threads sleep at once), when numba's OpenMP
  layer can be loaded; OpenMP allows parallel regions from several threads at once;
- otherwise the workqueue layer (sleeps when idle; not re-entrant, which the server
  respects anyway: every parallel region runs under its engine lock).

The environment variable must be set before OpenMP starts, hence `pin()` runs first
thing in `meanstest serve` and in `server.start`; `layer()` says what is in use.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("meanstest.service")
WANTED = ("omp", "workqueue")


def _omp_available() -> bool:
    try:
        from numba.np.ufunc import omppool  # noqa: F401
    except ImportError:
        return False
    return True


def pin() -> str:
    """Pin numba's threading layer (see module docstring); returns the layer asked for."""
    import numba

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    wanted = "omp" if _omp_available() else "workqueue"
    current = layer()
    if current is None:
        numba.config.THREADING_LAYER = wanted
        return wanted
    if current != wanted or os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        log.warning(
            "numba's threading layer was started before the service pinned it (%s); "
            "idle kernel threads may spin",
            current,
        )
    return current


def layer() -> str | None:
    """The threading layer in use, or None before the first parallel region."""
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        return None
