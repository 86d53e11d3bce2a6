"""The CLI keeps pyarrow from importing pandas behind its back (cli.pyarrow_without_pandas):
a review imports no pandas, and pandas still works for whoever imports it."""

import subprocess
import sys

import pytest

pytest.importorskip("pandas")  # installed with the Spark extra, as in CI


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300
    )


def test_a_review_imports_no_pandas(tmp_path):
    code = f"""
import sys
from meanstest.cli import main
assert main(["synth", "--households", "30", "--seed", "3", "--out", r"{tmp_path / "b"}"]) == 0
assert main(["review", r"{tmp_path / "b"}", "--out", r"{tmp_path / "r"}", "--quiet"]) == 0
print(sorted(m for m in sys.modules if m == "pandas" or m.startswith("pandas.")))
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_pandas_still_works_after_the_cli_set_pyarrow_up():
    code = """
import sys
import pyarrow as pa
from meanstest.cli import pyarrow_without_pandas
pyarrow_without_pandas()
pa.scalar(2); pa.array([1, None]).fill_null(0)
assert "pandas" not in sys.modules
import pandas as pd
assert pa.array(pd.Series([1, 2])).to_pylist() == [1, 2]
assert pa.table({"a": [1, 2]}).to_pandas()["a"].tolist() == [1, 2]
assert pa.Table.from_pandas(pd.DataFrame({"b": [3]})).column("b").to_pylist() == [3]
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
assert pa.array(pd.Series([4, 5])).to_pylist() == [4, 5]
print("ok")
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
