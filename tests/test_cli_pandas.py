"""The `meanstest` command keeps pyarrow from importing pandas behind its back
(cli.pyarrow_without_pandas): a review imports no pandas, pandas still works for whoever
imports it, and a program that calls main(argv) keeps pyarrow's pandas conversions."""

import subprocess
import sys

import pytest

pytest.importorskip("pandas")  # installed with the Spark extra, as in CI


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300
    )


def test_the_command_reviews_without_importing_pandas(tmp_path):
    bundle, out = tmp_path / "b", tmp_path / "r"
    code = f"""
import sys
from meanstest.cli import main
sys.argv = ["meanstest", "synth", "--households", "30", "--seed", "3", "--out", r"{bundle}"]
assert main() == 0
sys.argv = ["meanstest", "review", r"{bundle}", "--out", r"{out}", "--quiet"]
assert main() == 0
print(sorted(m for m in sys.modules if m == "pandas" or m.startswith("pandas.")))
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_main_with_argv_leaves_pyarrows_pandas_conversions_alone(tmp_path):
    # a notebook or a job calling main(argv): a Series' NaN is still a null to pyarrow
    code = f"""
from meanstest.cli import main
assert main(["synth", "--households", "5", "--seed", "1", "--out", r"{tmp_path / "b"}"]) == 0
import pandas as pd
import pyarrow as pa
print(pa.array(pd.Series([1.5, float("nan")])).to_pylist())
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[1.5, None]"


def test_pandas_still_works_after_the_command_set_pyarrow_up():
    code = """
import sys
import pyarrow as pa
from meanstest.cli import pyarrow_without_pandas
pyarrow_without_pandas()
pa.scalar(2); pa.array([1, None]).fill_null(0)
assert "pandas" not in sys.modules
import pandas as pd
assert pa.Table.from_pandas(pd.DataFrame({"b": [3]})).column("b").to_pylist() == [3]
assert pa.table({"a": [1, 2]}).to_pandas()["a"].tolist() == [1, 2]
print("ok")
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_an_earlier_pandas_import_is_left_alone():
    code = """
import pandas as pd
import pyarrow as pa
from meanstest.cli import pyarrow_without_pandas
pyarrow_without_pandas()
assert pa.array(pd.Series([1.5, float("nan")])).to_pylist() == [1.5, None]
print("ok")
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
