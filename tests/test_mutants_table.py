"""tests/mutants.py stays runnable: each mutant's text is still in its file, once.

The mutant run itself (`make mutants`, about 30 minutes) is not part of the suite; this
check is, so that an edit of the reference or the kernels that moves a mutant's text
fails here, where the mutant list is updated with it, not in a later mutant run."""

from pathlib import Path

import mutants
import pytest


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=lambda m: m[0])
def test_each_mutant_changes_exactly_one_place(mutant):
    rule, file, old, new = mutant
    text = (mutants.ROOT / file).read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{rule}: its text occurs {text.count(old)} times in {file}"
    assert old != new


def test_the_mutant_run_reads_every_rules_section_and_the_case_files():
    names = {Path(t).name for t in mutants.TESTS}
    for k in (0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11):
        assert any(n.startswith(f"test_rules_s{k}_") for n in names), k
    assert "test_cases.py" in names


def test_each_excused_sweep_mutant_is_still_made():
    """mutant_sweep.ALIVE stays current: each excused mutant is one the sweep still
    makes (an edit that moves its line fails here, not in a later sweep)."""
    import mutant_sweep

    files = mutant_sweep.SWEPT | mutant_sweep.KERNELS | mutant_sweep.INPUTS | mutant_sweep.OUTPUTS
    made = {(f, source, what) for f in files for what, _, source, _ in mutant_sweep.mutants(f)}
    assert set(mutant_sweep.ALIVE) <= made, set(mutant_sweep.ALIVE) - made


@pytest.mark.parametrize(
    "argv, files",
    [
        ([], "SWEPT"),
        (["--kernels"], "SWEPT KERNELS"),
        (["--inputs"], "SWEPT INPUTS"),
        (["--inputs", "--kernels"], "SWEPT KERNELS INPUTS"),
        (["--outputs"], "SWEPT OUTPUTS"),
        (["adapters/mapping.py"], "adapters/mapping.py"),
        (["kernels/veto.py"], "kernels/veto.py"),
    ],
)
def test_the_sweep_reads_its_arguments(monkeypatch, argv, files):
    """`make mutants` names no file: the sweep's default. It ended in argparse's
    "invalid choice" (a '*' argument's default list checked as one of its choices)."""
    import mutant_sweep

    def chosen(names):
        raise StopIteration(names)

    monkeypatch.setattr(mutant_sweep, "refuse_uncommitted", chosen)
    want = []
    for word in files.split():
        want += list(getattr(mutant_sweep, word, {word: 0}))
    with pytest.raises(StopIteration) as got:
        mutant_sweep.main(argv)
    assert got.value.value == want


def test_the_sweep_refuses_a_file_it_does_not_sweep(capsys):
    import mutant_sweep

    with pytest.raises(SystemExit) as stopped:
        mutant_sweep.main(["meanstest/cli.py"])
    assert stopped.value.code == 2
    assert "not a swept file: meanstest/cli.py" in capsys.readouterr().err
