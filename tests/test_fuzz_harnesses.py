"""The atheris harnesses in fuzz/ must start: atheris instruments the bytecode of every
module of the included top-level package (`meanstest`, whatever submodule is named)
imported inside `instrument_imports`, and numba cannot compile an instrumented kernel
("Unknown attribute '_trace_branch'"). A harness therefore imports every numba module it
reaches before that block. `make fuzz` is not part of CI (atheris is not a test
dependency), so this runs each harness's imports in a fresh interpreter with a stand-in
atheris and names any module holding numba kernels that was first imported inside the
block (`meanstest.kernels.columns` was, once the readers checked UTF-8 with it, and
`make fuzz` stopped at its first input)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"

PROBE = r"""
import contextlib, runpy, sys, types

instrumented = []

@contextlib.contextmanager
def instrument_imports(include=None, exclude=None, **_):
    before = set(sys.modules)
    yield
    instrumented.extend(sorted(set(sys.modules) - before))

atheris = types.ModuleType("atheris")
atheris.instrument_imports = instrument_imports
atheris.Setup = atheris.Fuzz = lambda *a, **k: None
sys.modules["atheris"] = atheris
runpy.run_path(sys.argv[1], run_name="harness")

from numba.core.dispatcher import Dispatcher

for name in instrumented:
    if name.split(".")[0] != "meanstest":
        continue  # atheris instruments only the included top-level package
    module = sys.modules[name]
    kernels = [k for k, v in vars(module).items()
               if isinstance(v, Dispatcher) and v.py_func.__module__ == name]
    if kernels:
        print(f"{name}: {', '.join(sorted(kernels))}")
"""


@pytest.mark.parametrize("harness", sorted(p.name for p in FUZZ.glob("fuzz_*.py")))
def test_no_numba_module_is_first_imported_under_instrumentation(harness):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(FUZZ / harness)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == "", f"numba kernels imported under instrumentation:\n{done.stdout}"
