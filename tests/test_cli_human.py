"""What the command line tells people (issue 14 items 1 and 4): its version, a review's
summary in yuan with statuses named, and how to fix a date column written as timestamps."""

import argparse
import datetime as dt
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from meanstest import cli, synth
from meanstest.bundle import write_bundle
from meanstest.cli import main
from meanstest.pipeline import ENGINE_VERSION


def test_version_is_the_engine_version_of_the_results(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == ENGINE_VERSION


def test_review_summary_says_yuan_and_names_statuses(tmp_path, capsys):
    bundle = tmp_path / "bundle"
    write_bundle(synth.generate(40, seed=5), bundle)
    assert main(["review", str(bundle), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    total = re.search(r"total monthly benefit (\S+) 元/月", out)
    assert total and re.fullmatch(r"\d{1,3}(,\d{3})*\.\d\d", total[1]), out
    assert re.search(r"^  DIBAO +\d+  低保（补差）$", out, flags=re.MULTILINE), out
    assert re.search(r"^households read 40: assessed \d+, rejected \d+ \([\d.]+ s, 1 chunk\)$",
                     out, flags=re.MULTILINE), out  # fmt: skip


def test_summary_counts_are_grouped_by_thousands_as_the_statuses_are():
    s = {
        "by_status": {"DIBAO": 276_448},
        "total_monthly_benefit": 40_478_279_700,
        "provisional": 23_220,
        "unmatched_source_rows": 1_957,
        "orphan_rows": 12_345,
    }
    lines = cli.summary_lines(s)
    assert lines[0] == "  DIBAO           276,448  低保（补差）"
    assert lines[1] == (
        "total monthly benefit 404,782,797.00 元/月; provisional 23,220; "
        "unmatched source rows 1,957; persons/supporters rows of no household 12,345"
    )


@pytest.mark.parametrize("unit", ["ns", "ms"])
def test_a_date_column_of_timestamps_says_how_to_fix_it(tmp_path, capsys, unit):
    """pandas writes datetime64 columns as timestamps; the bundle wants date32."""
    bundle = tmp_path / "bundle"
    write_bundle(synth.generate(5, seed=5), bundle)
    households = pq.read_table(bundle / "households.parquet")
    i = households.schema.get_field_index("assessment_date")
    stamps = pa.array([dt.datetime(2024, 7, 1)] * households.num_rows, pa.timestamp(unit))
    pq.write_table(
        households.set_column(i, "assessment_date", stamps), bundle / "households.parquet"
    )

    assert main(["review", str(bundle), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0  # one line
    assert "column assessment_date holds timestamps, not dates: write it as date32" in err
    assert "df['assessment_date'] = df['assessment_date'].dt.date" in err
    assert f"column assessment_date: expected date32[day], found timestamp[{unit}]" in err


def test_a_folder_mistaken_is_said_in_the_folders_terms(tmp_path, capsys, monkeypatch):
    """A table file given for its bundle, summary.json for its review folder, an --out
    that cannot be made: each error says what the folder should be (a new user's
    walkthrough got "bundle folder not found" for a file that exists, and the error of
    a file inside an --out that could not be created)."""
    bundle = tmp_path / "bundle"
    write_bundle(synth.generate(5, seed=5), bundle)
    table = str(bundle / "households.parquet")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder would be made", encoding="utf-8")
    cases = [
        (["review", table, "--out", str(tmp_path / "o")], "a bundle is a folder, this is a file"),
        (["regroup", table, "--out", str(tmp_path / "g")], "a bundle is a folder, this is a file"),
        (["review", str(bundle), "--out", str(blocker / "o"), "--quiet"],
         f"--out {blocker / 'o'}: cannot write the output folder there"),
        (["synth", "--households", "3", "--out", str(blocker / "s")],
         f"--out {blocker / 's'}: cannot write the output folder there"),
    ]  # fmt: skip
    assert main(["review", str(bundle), "--out", str(tmp_path / "r"), "--quiet"]) == 0
    summary = str(tmp_path / "r" / "summary.json")
    cases += [
        (["report", summary], "a review's outputs are a folder, this is a file"),
        (["reproduce", summary, "--bundle", str(bundle)], "a review's outputs are a folder"),
        (["report", str(tmp_path / "none")], "review output folder not found"),
    ]
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)  # an empty --out that is taken writes here, not in the repo
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    cases += [
        (["review", str(bundle), "--out", "", "--quiet"], "--out is empty"),
        (["ingest", str(tmp_path / "m.toml"), "--out", ""], "--out is empty"),
        (["review", str(bundle), "--out", str(dangling)], "is a symbolic link to nothing"),
        # the outputs were written among the tables, and summary.json beside them
        (["review", str(bundle), "--out", str(bundle / "."), "--quiet"],
         f"--out {bundle} is the bundle folder"),
        # a folder there named like a table became the bundle's table (a blind test)
        (["review", str(bundle), "--out", str(bundle / "bank"), "--quiet"],
         f"{bundle / 'bank'} is where the bundle's readers look for a table"),
        (["synth", "--households", "3", "--out", str(tmp_path / "s"), "--raw", str(blocker)],
         f"--raw {blocker} is a file"),
    ]  # fmt: skip
    for argv, said in cases:
        assert main(argv) == (2 if argv[0] == "reproduce" else 1), argv  # 2: not checked
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "s").exists()  # --raw refused before --out was made


def test_explain_and_reproduce_of_a_folder_without_households_say_so(tmp_path, capsys):
    """A folder with no households table is no bundle: explain said the household was
    not in it, and reproduce listed every household as "not assessed now" (an auditor's
    blind check); both now say what review says."""
    from meanstest.cli import main

    (tmp_path / "empty").mkdir()
    assert main(["explain", str(tmp_path / "empty"), "H1"]) == 1
    assert "no households table" in capsys.readouterr().err
    assert main(["synth", "--households", "30", "--seed", "1", "--out", str(tmp_path / "b")]) == 0
    assert main(["review", str(tmp_path / "b"), "--out", str(tmp_path / "r"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["reproduce", str(tmp_path / "r"), "--bundle", str(tmp_path / "r")]) == 2
    assert "no households table" in capsys.readouterr().err


@pytest.mark.parametrize("gone", ["persons", "supporters"])
def test_a_bundle_without_its_persons_or_supporters_table_is_refused(tmp_path, capsys, gone):
    """DATA.md lets only a source table be absent. Without supporters.parquet a review
    assessed every household as if it had no supporter (rc 0, every benefit figure
    changed: an operator's blind check); without persons.parquet it rejected them all."""
    from meanstest.cli import main

    bundle, out = tmp_path / "b", tmp_path / "r"
    assert main(["synth", "--households", "30", "--seed", "1", "--out", str(bundle)]) == 0
    assert main(["review", str(bundle), "--out", str(out), "--quiet"]) == 0
    (bundle / f"{gone}.parquet").unlink()
    capsys.readouterr()
    said = f"no {gone} table ({gone}.parquet or .arrow)"
    for argv in (
        ["review", str(bundle), "--out", str(tmp_path / "r2"), "--quiet"],
        ["review", str(bundle), "--out", str(tmp_path / "r3"), "--quiet", "--spool"],
        ["explain", str(bundle), "H1"],
        ["reproduce", str(out), "--bundle", str(bundle)],
    ):
        # reproduce could not check: 2, not its 1 of "discrepancies found"
        assert main(argv) == (2 if argv[0] == "reproduce" else 1), argv
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "r2" / "summary.json").exists()


def _subcommands(parser: argparse.ArgumentParser, path: str = "meanstest"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{path} {name}", sub
                yield from _subcommands(sub, f"{path} {name}")


def test_every_argument_of_every_command_says_what_it_is():
    """`--help` is the first doc a user reads: a blind check found `explain --lang` and
    `--format` without a word (nor that zh is the default)."""
    silent = [
        f"{path} {' '.join(a.option_strings) or a.dest}"
        for path, sub in _subcommands(cli._parser())
        for a in sub._actions
        if not isinstance(a, argparse._HelpAction) and not a.help
    ]
    assert silent == []


@pytest.mark.parametrize(
    "error", [MemoryError(), pa.ArrowMemoryError("realloc of size 4096524288 failed")]
)
def test_running_out_of_memory_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch, error):
    """A 68 KB bundle (one 1 MB value quoted in the reasons of 4,000 households) ended a
    review in a 13-frame traceback of ArrowMemoryError (an adversarial run): one line
    now says the input decodes to more than the machine holds, and why that can be."""
    import meanstest.review as review_module

    bundle = tmp_path / "b"
    write_bundle(synth.generate(5, seed=1), bundle)

    def run_review(*args, **kwargs):
        raise error

    monkeypatch.setattr(review_module, "run_review", run_review)
    assert main(["review", str(bundle), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("meanstest: error: out of memory (") and err.count("\n") == 1
    assert "Traceback" not in err


def _interrupt_taken_over(error_type, message):
    """An error a library raises in the place of a KeyboardInterrupt it was handling."""
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as k:
        raise error_type(message) from k


@pytest.mark.parametrize("cause", [True, False])
def test_ctrl_c_inside_a_kernel_call_says_interrupted(tmp_path, capsys, monkeypatch, cause):
    """Ctrl-C while numba's dispatcher ran a kernel ended a review in a 20-frame
    traceback of "SystemError: CPUDispatcher(...) returned a result with an exception
    set" (a blind operator's check, 2026-12-07): the interrupt is its cause, so the
    review now says "interrupted" and exits 130, as for a plain Ctrl-C. A SystemError
    with no interrupt behind it is a bug, and is not hidden."""
    import meanstest.review as review_module

    bundle = tmp_path / "b"
    write_bundle(synth.generate(5, seed=1), bundle)

    def run_review(*args, **kwargs):
        if cause:
            _interrupt_taken_over(
                SystemError, "CPUDispatcher returned a result with an exception set"
            )
        raise SystemError("a bug")

    monkeypatch.setattr(review_module, "run_review", run_review)
    if not cause:
        with pytest.raises(SystemError, match="a bug"):
            main(["review", str(bundle), "--out", str(tmp_path / "out")])
        return
    assert main(["review", str(bundle), "--out", str(tmp_path / "out")]) == 130
    assert capsys.readouterr().err == "meanstest: interrupted\n"


def test_ctrl_c_as_a_validation_job_finishes_is_an_interrupt(monkeypatch):
    """Validation's inline executor ran a job and stored its result inside the `try`
    that keeps a job's error for `.result()`; Ctrl-C landing in that store (the future
    already finished) was caught there, and storing it as the error raised
    InvalidStateError, a traceback (a blind operator's check, 2026-12-07). The interrupt
    now goes straight up."""
    from concurrent.futures import Future

    from meanstest.validate import _Inline

    store = Future.set_result

    def set_result(self, value):
        store(self, value)
        raise KeyboardInterrupt  # as if in a done-callback

    monkeypatch.setattr(Future, "set_result", set_result)
    with pytest.raises(KeyboardInterrupt):
        _Inline().submit(lambda: 7)
    monkeypatch.setattr(Future, "set_result", store)
    failed = _Inline().submit(lambda: 1 // 0)
    with pytest.raises(ZeroDivisionError):
        failed.result()
    assert _Inline().submit(lambda x: x + 1, 6).result() == 7


@pytest.mark.parametrize("step", ["read", "iter_batches"])
def test_memory_running_out_while_reading_is_not_called_a_corrupt_file(
    tmp_path, capsys, monkeypatch, step
):
    """Under `ulimit -v` a review said "persons.parquet: cannot read parquet data
    (truncated or corrupt?): realloc of size 2097152 failed" (a blind operator's check,
    2026-12-07): a sound file blamed. Arrow's out of memory is the machine's: the
    review says so, in the out-of-memory words: in memory, and spooled."""
    bundle = tmp_path / "b"
    tables = synth.generate(30, seed=1)
    if step == "iter_batches":  # rows out of household order: the review spools
        tables = {n: t.take(list(reversed(range(t.num_rows)))) for n, t in tables.items()}
    write_bundle(tables, bundle)

    def short_of_memory(self, *args, **kwargs):
        raise pa.ArrowMemoryError("realloc of size 2097152 failed")

    monkeypatch.setattr(pq.ParquetFile, step, short_of_memory)
    argv = ["review", str(bundle), "--out", str(tmp_path / "out")]
    if step != "read":
        argv += ["--chunk-size", "10", "--spool"]
    assert main(argv) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("meanstest: error: out of memory (realloc of size 2097152 failed)"), err
    assert "corrupt" not in err


def test_an_address_space_limit_too_small_to_run_in_is_refused_at_once(tmp_path):
    """Under `ulimit -v` 0.7-2.5 GB a 20,000-household review segfaulted with nothing
    said (exit 139), aborted in C++'s bad_alloc or glibc's thread-local data, or called
    Arrow's failure to start a thread a corrupt file (D6 of 2026-12-07 and this fix's
    own runs): the libraries reserve far more address space than they use. The command
    now refuses such a limit in one line before loading them."""
    import subprocess
    import sys

    from meanstest.limits import ADDRESS_SPACE_FLOOR

    # the limit set by a shell's ulimit, as a user sets it (a preexec_fn runs Python in
    # the forked copy of this test process, where a gRPC poller left by the service
    # tests can abort it before the exec: CI run 220, in another test)
    limited = ["sh", "-c", 'ulimit -v 2097152 && exec "$0" -m meanstest.cli "$@"', sys.executable]

    out = tmp_path / "s"
    run = subprocess.run(
        [*limited, "synth", "--households", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith(
        "meanstest: error: the address-space limit (ulimit -v) is 2,097,152 KiB, below the "
        f"{ADDRESS_SPACE_FLOOR // 1024:,} KiB (3 GiB) meanstest needs"
    ), run.stderr
    assert run.stderr.count("\n") == 1 and not out.exists()
    # what the command is and does can still be asked (a blind recheck found --help refused)
    for asked in (["--help"], ["--version"], ["review", "--help"]):
        shown = subprocess.run(
            [*limited, *asked],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert shown.returncode == 0 and shown.stdout and not shown.stderr, (asked, shown.stderr)


def test_out_of_memory_under_an_address_space_limit_says_so(monkeypatch, capsys):
    """Out of memory with an address-space limit set names the limit (it counts space
    reserved and never used), not the input's size."""
    from meanstest import cli, limits

    def synth(args):
        raise MemoryError("realloc of size 2097152 failed")

    monkeypatch.setattr(limits, "address_space_limit", lambda: 4 * 1024**3)
    monkeypatch.setattr(cli, "_synth", synth)
    assert cli.main(["synth", "--households", "3", "--out", "x"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "meanstest: error: out of memory (realloc of size 2097152 failed): this process's "
        "address-space limit (ulimit -v) is 4,194,304 KiB, which counts space reserved and never "
        "used; raise it, and bound memory with a cgroup (systemd-run --scope -p "
        "MemoryMax=…) or review's --memory-limit\n"
    )
    monkeypatch.setattr(limits, "address_space_limit", lambda: None)
    assert cli.main(["synth", "--households", "3", "--out", "x"]) == 1
    assert "the input decodes to more than this machine holds" in capsys.readouterr().err
