"""meanstest — verification and means-test computation for social assistance.

`meanstest.assess(bundle_or_tables, policies)` returns an `Assessment` of Arrow tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meanstest.pipeline import Assessment, assess

__all__ = ["Assessment", "assess"]
__version__ = "0.1.0"

# `assess` and `Assessment` come from meanstest.pipeline, which imports pyarrow, numpy
# and numba (about half a second). Importing it here made every `import meanstest.x`
# pay that, the `meanstest` command included: a Ctrl-C in that half second, before
# cli.main() could catch it, was a KeyboardInterrupt traceback and exit -2 instead of
# "meanstest: interrupted" and 130 (a failure-injection run, D3). They are imported on
# first use instead; `from meanstest import assess` and `meanstest.assess` still work.
_LAZY = {"assess": "meanstest.pipeline", "Assessment": "meanstest.pipeline"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'meanstest' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
