"""The exit status of the commands whose answer is a verdict — `check` (the engines agree
with the case files), `reproduce` (a review's outputs are reproduced) and `journal
verify` (the hash chain holds): 0 it holds, 1 checked and it does not hold, 2 could not
check (as diff and cmp). Both failures were 1, so an auditor's script read a missing
bundle or a broken policy library as "discrepancies found". Every other command's error
stays 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from meanstest import synth
from meanstest.bundle import write_bundle
from meanstest.cli import main
from meanstest.service.journal import Journal

WORKED = Path(__file__).parent / "cases" / "s10_worked_example.toml"


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    bundle = tmp_path_factory.mktemp("bundle")
    write_bundle(synth.generate(40, seed=5), bundle)
    out = tmp_path_factory.mktemp("review")
    assert main(["review", str(bundle), "--out", str(out), "--quiet"]) == 0
    return bundle, out


def test_check_passes_differs_and_cannot_check(tmp_path, capsys):
    assert main(["check", str(WORKED), "--engine", "fast"]) == 0
    library = tmp_path / "policies"
    library.mkdir()
    (library / "pack.toml").write_text("[policy\n", encoding="utf-8")
    assert main(["check", str(WORKED), "--policies", str(library)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"meanstest: error: {library / 'pack.toml'}") and "TOML" in err
    case = tmp_path / "case.toml"
    case.write_text(
        WORKED.read_text("utf-8").replace("benefit = 171000", "benefit = 171100"), "utf-8"
    )
    assert main(["check", str(case), "--engine", "fast"]) == 1
    assert "benefit: expected 171100, got 171000" in capsys.readouterr().out


def test_reproduce_reproduces_differs_and_cannot_check(reviewed, tmp_path, capsys):
    bundle, out = reviewed
    assert main(["reproduce", str(out), "--bundle", str(bundle)]) == 0
    assert main(["reproduce", str(out), "--bundle", str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().err
    changed = tmp_path / "changed"
    write_bundle(synth.generate(40, seed=6), changed)  # another district, the same IDs
    assert main(["reproduce", str(out), "--bundle", str(changed)]) == 1
    assert "discrepanc" in capsys.readouterr().out


def test_journal_verify_intact_broken_and_cannot_check(tmp_path, capsys):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    for n in range(3):
        journal.append({"caller": "t", "method": "Assess", "status": "OK", "n": n})
    journal.close()
    assert main(["journal", "verify", str(path)]) == 0
    lines = path.read_text("utf-8").splitlines()
    entry = json.loads(lines[1])
    entry["n"] = 9
    path.write_text("\n".join([lines[0], json.dumps(entry), lines[2]]) + "\n", "utf-8")
    assert main(["journal", "verify", str(path)]) == 1
    assert "BROKEN at line 2 (seq 2): " in (said := capsys.readouterr().out)
    assert said.rstrip().endswith("(1 entry before it is intact)")  # it said "1 entries"
    assert main(["journal", "verify", str(tmp_path / "absent.jsonl")]) == 2
    assert "absent.jsonl" in capsys.readouterr().err
    # a --head that is no head at all checks nothing (it was "the head … is not zz", 1)
    assert main(["journal", "verify", str(path), "--head", "zz"]) == 2
    assert "--head 'zz': a head is 64 lower-case hex digits" in capsys.readouterr().err
    assert main(["journal", "verify", str(path), "--head", "0" * 64]) == 1


def test_other_commands_still_exit_1_on_an_error(tmp_path, capsys):
    assert main(["review", str(tmp_path / "absent"), "--out", str(tmp_path / "o")]) == 1
    assert main(["explain", str(tmp_path / "absent"), "H1"]) == 1
    assert main(["report", str(tmp_path / "absent")]) == 1


def test_the_process_exits_2_when_reproduce_cannot_check(reviewed, tmp_path):
    """The status the shell sees, not only main()'s return value."""
    _, out = reviewed
    run = subprocess.run(
        [sys.executable, "-m", "meanstest.cli", "reproduce", str(out), "--bundle",
         str(tmp_path / "absent")],
        check=False, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("meanstest: error:") and "Traceback" not in run.stderr
    assert pq.read_table(out / "results.parquet").num_rows > 0  # the folder is untouched


def test_check_counts_a_folder_it_cannot_read_and_runs_the_rest(tmp_path, monkeypatch, capsys):
    """A case folder whose subfolder could not be read was passed over (Path.rglob says
    nothing), and check exited 0 with the cases there never run (a blind recheck, with
    the permission dropped). Simulated here: the tests may run as root."""
    import os

    cases = tmp_path / "cases"
    sub = cases / "sub"
    sub.mkdir(parents=True)
    (cases / "ok.toml").write_text(WORKED.read_text("utf-8"), "utf-8")
    (sub / "hidden.toml").write_text(WORKED.read_text("utf-8"), "utf-8")
    scandir = os.scandir

    def refusing(path="."):
        if os.fspath(path) == str(sub):
            raise PermissionError(13, "Permission denied", str(sub))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    assert main(["check", str(cases), "--engine", "fast"]) == 2
    captured = capsys.readouterr()
    assert f"meanstest: error: {sub}: (folder): cannot read: Permission denied" in captured.err
    assert f"{cases / 'ok.toml'}: ok (fast)" in captured.out
    assert "2 cases: 1 passed, 0 differ, 1 malformed" in captured.out
