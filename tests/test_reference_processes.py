"""The reference calculator in several processes (reproduce and `--engine reference`
at district scale): the same outputs, in the same order, as in one."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meanstest import reference, synth
from meanstest.conform import conform_tables
from meanstest.errors import MeansTestError
from meanstest.policy import default_library
from meanstest.validate import validate


def _input(households: int, seed: int, bad: float):
    tables = conform_tables(synth.generate(households, seed=seed, bad_fraction=bad))
    return validate(tables, default_library()).engine_input


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    households=st.integers(2, 80),
    seed=st.integers(0, 10_000),
    bad=st.sampled_from([0.0, 0.1]),
    processes=st.integers(2, 3),
)
def test_several_processes_give_one_process_s_outputs(households, seed, bad, processes):
    inp = _input(households, seed, bad)
    one = reference._run(inp)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(reference, "PARALLEL_FROM", 2)
        several = reference.run(inp, processes=processes)
    for name in ("results", "members", "findings"):
        assert getattr(several, name).equals(getattr(one, name)), name


def test_split_gives_each_part_only_its_people_s_rows():
    inp = _input(60, 5, 0.0)
    parts = reference.split(inp, 3)
    assert sum(p.households.num_rows for p in parts) == inp.households.num_rows
    for part in parts:
        ids = set(part.households["household_id"].to_pylist())
        people = set(part.persons["person_id"].to_pylist())
        people |= set(part.supporters["supporter_id"].to_pylist())
        assert set(part.persons["household_id"].to_pylist()) <= ids
        assert set(part.supporters["household_id"].to_pylist()) <= ids
        for table in part.sources.values():
            assert set(table["person_id"].to_pylist()) <= people
    assert sum(p.persons.num_rows for p in parts) == inp.persons.num_rows


def test_below_the_threshold_it_stays_in_one_process(monkeypatch):
    def no_process(*args, **kwargs):
        raise AssertionError("a worker process for a small input")

    monkeypatch.setattr("subprocess.Popen", no_process)
    inp = _input(30, 1, 0.0)
    assert reference.run(inp, processes=2).results.equals(reference._run(inp).results)


def test_a_worker_that_dies_is_a_clear_error(monkeypatch):
    """A worker killed (the OOM killer; here SIGKILL at its fault point) is an error
    that says what to do, not a hang or an unpickling traceback."""
    monkeypatch.setattr(reference, "PARALLEL_FROM", 2)
    monkeypatch.setenv("MEANSTEST_FAULT_AT", "reference:worker")
    with pytest.raises(MeansTestError, match=r"died \(exit status -9\); if the machine"):
        reference.run(_input(40, 2, 0.0), processes=2)


def test_a_worker_s_error_is_raised_as_it_is(monkeypatch):
    """An exception in a worker reaches the caller as the same exception."""
    monkeypatch.setattr(reference, "PARALLEL_FROM", 2)
    inp = _input(40, 3, 0.0)
    import dataclasses

    # a worker's part without its packs
    first, second = reference.split(inp, 2)
    broken = dataclasses.replace(second, policies=[None] * len(inp.policies))
    monkeypatch.setattr(reference, "split", lambda inp, parts: [first, broken])
    with pytest.raises((TypeError, AttributeError)):
        reference.run(inp, processes=2)


def test_a_script_without_a_main_guard_is_not_run_again(tmp_path):
    """Workers are `python -c` started with this sys.path, not multiprocessing's: a
    fork-server worker re-ran the caller's script, which without a `__main__` guard
    reviewed again inside the worker (and failed on the review's lock)."""
    import subprocess
    import sys

    script = tmp_path / "audit.py"
    script.write_text(
        "import sys\n"
        "from meanstest import reference\n"
        "from tests.test_reference_processes import _input\n"
        "reference.PARALLEL_FROM = 2\n"
        "print('ran', flush=True)\n"
        "out = reference.run(_input(40, 4, 0.0), processes=2)\n"
        "print(out.results.num_rows)\n",
        encoding="utf-8",
    )
    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=root, env={**os.environ, "PYTHONPATH": root}, timeout=300,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ran", "40"]


def test_a_worker_imports_from_this_process_s_sys_path(tmp_path, monkeypatch):
    """A worker is started with this process's sys.path, so it imports the same code:
    here a pack wrapper whose module is only on a folder added to sys.path at run time
    (as a test runner or a notebook adds one); started as `python -m` with PYTHONPATH,
    the worker could not unpickle it."""
    import dataclasses
    import sys

    (tmp_path / "packs_elsewhere.py").write_text(
        "class Pack:\n    def __init__(self, params):\n        self.params = params\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import packs_elsewhere

    monkeypatch.setattr(reference, "PARALLEL_FROM", 2)
    inp = _input(40, 6, 0.0)
    wrapped = dataclasses.replace(
        inp, policies=[packs_elsewhere.Pack(p.params) for p in inp.policies]
    )
    assert str(tmp_path) in sys.path
    got = reference.run(wrapped, processes=2)
    assert got.results.equals(reference._run(inp).results)


def test_a_print_in_a_worker_does_not_corrupt_its_answer(tmp_path, monkeypatch, capfd):
    """The answer is pickled to the worker's stdout: a print during the work (a
    library's warning, a debugging line) went into it. The worker's prints go to
    stderr."""
    (tmp_path / "chatty_packs.py").write_text(
        "class Pack:\n"
        "    def __init__(self, params):\n"
        "        self.p = params\n"
        "    @property\n"
        "    def params(self):\n"
        "        print('reading a pack')\n"
        "        return self.p\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import dataclasses

    import chatty_packs

    monkeypatch.setattr(reference, "PARALLEL_FROM", 2)
    inp = _input(40, 7, 0.0)
    chatty = dataclasses.replace(inp, policies=[chatty_packs.Pack(p.params) for p in inp.policies])
    got = reference.run(chatty, processes=2)
    assert got.results.equals(reference._run(inp).results)
    assert "reading a pack" in capfd.readouterr().err
