"""The `meanstest` command gives Arrow's buffers jemalloc (cli.arrow_memory_pool): the
review's system time halves on the test machine. An operator's ARROW_DEFAULT_MEMORY_POOL
is kept, and a program that calls main(argv) or imports meanstest keeps its pool."""

import os
import subprocess
import sys

import pyarrow as pa
import pytest

try:
    pa.jemalloc_memory_pool()
except NotImplementedError:
    pytest.skip("this pyarrow has no jemalloc", allow_module_level=True)


def _python(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False, capture_output=True, text=True, timeout=300, env={**environ, **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _pool_after(call: str, **env: str) -> str:
    return _python(
        f"""
import sys
import pyarrow as pa
from meanstest.cli import main
sys.argv = ["meanstest", "--help"]
try:
    {call}
except SystemExit:
    pass
print(pa.default_memory_pool().backend_name)
""",
        **env,
    )


def test_the_command_uses_jemalloc():
    assert _pool_after("main()") == "jemalloc"


def test_an_operators_pool_is_kept():
    assert _pool_after("main()", ARROW_DEFAULT_MEMORY_POOL="system") == "system"


def test_main_with_argv_keeps_the_callers_pool():
    before = _python("import pyarrow as pa; print(pa.default_memory_pool().backend_name)")
    assert before != "jemalloc"  # else this test shows nothing: pyarrow's default changed
    assert _pool_after('main(["--help"])') == before


def test_a_review_under_jemalloc_equals_one_under_the_default_pool(tmp_path):
    bundle = tmp_path / "b"
    code = """
import sys
from meanstest.cli import main
sys.argv = ["meanstest", *sys.argv[1:]]
sys.exit(main())
"""
    run = [sys.executable, "-c", code]
    subprocess.run([*run, "synth", "--households", "400", "--seed", "11", "--out", str(bundle)],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    outs = {}
    for pool in ("jemalloc", "system"):
        out = tmp_path / pool
        env = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": pool}
        subprocess.run([*run, "review", str(bundle), "--out", str(out), "--quiet"],
                       check=True, capture_output=True, timeout=300, env=env)  # fmt: skip
        outs[pool] = {p.name: p.read_bytes() for p in sorted(out.glob("*.parquet"))}
    assert outs["jemalloc"] == outs["system"]
    assert len(outs["jemalloc"]) >= 4
