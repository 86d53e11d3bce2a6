"""Numba kernels of the means test (RULES.md §2–§11); imports only numpy and numba.

Layers as in stumpy: `assess` (validating wrapper) → `_assess_all` (parallel over
chunks of households) → `assess_household` (`household`: one pass over each member's
rows, `records`) and the per-section serial routines in `income` (§2–§5), `veto` (§6,
§8), `outcome` (§7, §9, §11). Array layout: `layout`.

numba's on-disk cache (cache=True) notices an edit only in the file of the cached
function itself, not in the files of the functions it calls and inlines; the driver
in `assess` would keep running yesterday's `income`. So the cache is dropped whenever
the digest of this package's sources changes.
"""

import hashlib as _hashlib
from pathlib import Path as _Path


def _drop_stale_cache() -> None:
    here = _Path(__file__).parent
    digest = _hashlib.sha256()
    for path in sorted(here.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    cache = here / "__pycache__"
    stamp = cache / "numba-sources.sha256"
    try:
        if stamp.read_text() == digest.hexdigest():
            return
    except OSError:
        pass
    try:
        for f in list(cache.glob("*.nbi")) + list(cache.glob("*.nbc")):
            f.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # a read-only install: numba then caches elsewhere or not at all
        pass


_drop_stale_cache()

from .driver import assess
from .layout import Households, Outputs, Pack, People, Records

__all__ = ["Households", "Outputs", "Pack", "People", "Records", "assess"]
