"""Numba kernels of the means test (RULES.md §2–§11); imports only numpy and numba.

Layers as in stumpy: `assess` (validating wrapper) → `_assess_all` (parallel over
chunks of households) → `assess_household` (`household`: one pass over each member's
rows, `records`) and the per-section serial routines in `income` (§2–§5), `veto` (§6,
§8), `outcome` (§7, §9, §11). Array layout: `layout`.

numba's on-disk cache (cache=True) notices an edit only in the file of the cached
function itself, not in the files of the functions it calls and inlines; the driver
in `assess` would keep running yesterday's `income`. So the cache is dropped whenever
the digest of this package's sources changes — in every folder numba may cache this
package in: its __pycache__, NUMBA_CACHE_DIR's folder for it, and numba's user-wide
one (where it goes when __pycache__ cannot be written).
"""

import hashlib as _hashlib
from pathlib import Path as _Path


def _cache_folders(here: _Path) -> list[tuple[_Path, bool]]:
    """The folders numba 0.68 caches this package's kernels in (numba.core.caching's
    locators: in the tree, under NUMBA_CACHE_DIR, user-wide), each named as numba names
    it, and whether to make it now (the user-wide one only matters once numba made it)."""
    from numba.core import config
    from numba.core.caching import UserWideCacheLocator
    from numba.misc.appdirs import AppDirs

    sub = UserWideCacheLocator.get_suitable_cache_subpath(str(here / "__init__.py"))
    folders = [(here / "__pycache__", True)]
    if config.CACHE_DIR:
        folders.append((_Path(config.CACHE_DIR) / sub, True))
    folders.append((_Path(AppDirs("numba", appauthor=False).user_cache_dir) / sub, False))
    return folders


def _drop_stale_cache() -> None:
    here = _Path(__file__).parent
    digest = _hashlib.sha256()
    for path in sorted(here.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for cache, make in _cache_folders(here):
        stamp = cache / "numba-sources.sha256"
        try:
            if stamp.read_text() == digest.hexdigest():
                continue
        except OSError:
            pass
        if not (make or cache.is_dir()):
            continue
        try:  # caches of other sources, or of unknown ones (no stamp): dropped
            for f in list(cache.glob("*.nbi")) + list(cache.glob("*.nbc")):
                f.unlink(missing_ok=True)
            cache.mkdir(parents=True, exist_ok=True)
            stamp.write_text(digest.hexdigest())
        except OSError:  # a read-only folder: numba cannot cache there either
            pass


_drop_stale_cache()

from .driver import assess
from .layout import Households, Outputs, Pack, People, Records

__all__ = ["Households", "Outputs", "Pack", "People", "Records", "assess"]
