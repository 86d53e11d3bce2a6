"""The kernels' numba cache is dropped when any kernels source changes, in every folder
numba caches them in (kernels/__init__.py): numba itself only notices an edit of the
cached function's own file, and a kernel inlines code of other files (render.py inlines
text.py's digits), so a stale cache would run old code with no sign of it."""

import os
import subprocess
import sys

import meanstest.kernels as kernels_package

COMPILE = "import numpy as np; from meanstest.kernels import join; join.counting_sort(np.zeros(2, np.int64), 1)"


def _run(code: str, cache_dir) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_numba_cache_dir_is_stamped_and_dropped_when_stale(tmp_path):
    _run(COMPILE, tmp_path)
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]  # the folder numba named
    stamp = folder / "numba-sources.sha256"
    assert list(folder.glob("join.counting_sort-*.nbi")), "numba cached elsewhere"
    fresh = stamp.read_text()
    assert len(fresh) == 64

    _run("import meanstest.kernels", tmp_path)  # same sources: the cache stays
    assert list(folder.glob("join.counting_sort-*.nbi"))

    stamp.write_text("0" * 64)  # as if the sources had changed since these were cached
    _run("import meanstest.kernels", tmp_path)
    assert not list(folder.glob("*.nbi")) and not list(folder.glob("*.nbc"))
    assert stamp.read_text() == fresh


def test_cache_folders_name_numbas_folders(tmp_path, monkeypatch):
    from pathlib import Path

    from numba.core import config

    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    here = Path(kernels_package.__file__).parent
    folders = dict(kernels_package._cache_folders(here))
    assert folders[here / "__pycache__"] is True
    assert [p for p in folders if p.parent == tmp_path]  # NUMBA_CACHE_DIR's folder, made now
