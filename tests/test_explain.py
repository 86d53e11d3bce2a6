"""`meanstest explain` (issue 6): the reference calculator's trace of one household,
Chinese by default, English with --lang en, as text, JSON or HTML; a household that is
not assessed is one clear error."""

import json

import pytest

from meanstest import cli, synth
from meanstest.bundle import write_bundle
from meanstest.pipeline import assess


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle")
    tables = synth.generate(60, seed=17)
    write_bundle(tables, path)
    results = assess(path).results
    return path, results


def _explain(capsys, *args):
    code = cli.main(["explain", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_chinese_trace_cites_sections_and_ends_in_the_result(district, capsys):
    path, results = district
    row = results.to_pylist()[0]
    code, out, _ = _explain(capsys, path, row["household_id"])
    assert code == 0
    assert "的核算过程" in out and "[§2]" in out and "[§5]" in out and "[§7]" in out
    assert f"status={row['status']} benefit={row['benefit']} pci={row['pci']}" in out


def test_english_trace_shows_the_employment_formula(district, capsys):
    path, results = district
    for row in results.to_pylist():
        code, out, _ = _explain(capsys, path, row["household_id"], "--lang", "en")
        assert code == 0 and out.startswith("Calculation of household")
        assert "pci = rhu(N " in out and "medical_formula=min(medical_cap 6000000" in out
        if row["status"] == "DIBAO":
            assert "formula=yuan((S " in out
        if "imputed_work" in out:
            assert "formula=rhu(c " in out and "min_wage_monthly 198000" in out
            return
    pytest.fail("no member with imputed work income in the district")


def test_json_trace_holds_every_step(district, capsys):
    path, results = district
    row = results.to_pylist()[1]
    code, out, _ = _explain(capsys, path, row["household_id"], "--format", "json")
    assert code == 0
    trace = json.loads(out)
    assert trace["household_id"] == row["household_id"]
    assert trace["policy_digest"] == row["policy_digest"]
    sections = {step["section"] for step in trace["steps"]}
    assert {"§2", "§3", "§5", "§6", "§7", "§9"} <= sections


def test_html_trace_is_a_page(district, capsys):
    path, results = district
    code, out, _ = _explain(capsys, path, results["household_id"][0].as_py(), "--format", "html")
    assert code == 0 and out.lstrip().lower().startswith("<!doctype html")


def test_unknown_household_is_one_clear_error(district, capsys):
    path, _ = district
    code, out, err = _explain(capsys, path, "NO-SUCH-HOUSEHOLD")
    assert code == 1 and out == ""
    assert err.strip() == (
        "meanstest: error: household NO-SUCH-HOUSEHOLD is not among the assessed households"
    )
