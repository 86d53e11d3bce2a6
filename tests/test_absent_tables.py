"""A source table absent from a bundle is named. DATA.md reads it as a table with no
rows, and a department's export that never arrived looks just the same: a blind recheck
found a bundle without bank.parquet reviewed without a word, no member's savings
reaching V04. The review now says so on its console, in summary.json
(`absent_source_tables`, on both engines and every path) and in the report, and
`explain` above the household; reproduce checks the list like any other value of the
summary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from builders import on_spark

from meanstest import schema, synth
from meanstest.bundle import read_bundle, write_bundle
from meanstest.cli import main
from meanstest.errors import MeansTestError
from meanstest.pipeline import assess
from meanstest.policy import default_library
from meanstest.report import write_report
from meanstest.reproduce import reproduce_review
from meanstest.review import ReviewOptions, run_review

ABSENT = ["bank", "vehicle"]  # in schema.SOURCE_TABLES' order


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("full")
    write_bundle(synth.generate(40, seed=3), folder)
    return folder


@pytest.fixture(scope="module")
def bundle(full, tmp_path_factory) -> Path:
    """`full` without its vehicle and bank tables."""
    folder = tmp_path_factory.mktemp("absent") / "bundle"
    shutil.copytree(full, folder)
    for table in ABSENT:
        (folder / f"{table}.parquet").unlink()
    return folder


def _review(bundle: Path, out: Path, **options) -> dict:
    return run_review(bundle, out, default_library(), ReviewOptions(quiet=True, **options))


def test_the_source_tables_absent_are_those_not_present():
    assert schema.absent_source_tables({"households", "bank", "tax_income"}) == [
        "business_registration",
        "vehicle",
        "property",
        "social_insurance",
    ]
    assert schema.absent_source_tables(set(schema.TABLES)) == []


def test_the_review_names_them_on_its_console_and_in_summary_json(bundle, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["review", str(bundle), "--out", str(out)]) == 0
    said = capsys.readouterr()
    for table in ABSENT:
        assert f"no {table} table in {bundle}: every household is assessed as having no" in said.err
    assert "absent source tables, read as no rows: bank, vehicle" in said.out  # at the end
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["absent_source_tables"] == ABSENT


@pytest.mark.parametrize(
    "options",
    [{}, {"spool": True, "chunk_size": 15}, {"spool": True, "chunk_size": 15, "stream": False}],
    ids=["in-memory", "spooled", "spooled-not-streamed"],
)
def test_every_single_machine_path_keeps_them(bundle, tmp_path, options):
    summary = _review(bundle, tmp_path / "out", **options)
    assert summary["absent_source_tables"] == ABSENT
    assert summary["households_read"] == 40


def test_a_bundle_with_every_table_has_none(full, tmp_path, capsys):
    assert main(["review", str(full), "--out", str(tmp_path / "out")]) == 0
    said = capsys.readouterr()
    assert " table in " not in said.err and "absent source tables" not in said.out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["absent_source_tables"] == []


def test_assess_names_them_for_a_folder_and_for_tables_given(bundle):
    assert assess(bundle).summary["absent_source_tables"] == ABSENT
    tables = read_bundle(bundle)  # every table, the absent ones empty
    assert assess(tables).summary["absent_source_tables"] == []
    del tables["property"]
    assert assess(tables).summary["absent_source_tables"] == ["property"]


def _first_household(bundle: Path) -> str:
    return read_bundle(bundle)["households"]["household_id"][0].as_py()


def test_explain_says_so_above_the_household(bundle, full, capsys):
    """The document showed 部门核对 全部已核对（…银行…） for a household whose bank rows
    were never in the bundle, and nothing else."""
    hid = _first_household(bundle)
    assert main(["explain", str(bundle), hid]) == 0
    text = capsys.readouterr().out
    assert "注意：数据包中没有以下部门数据表：银行存款及金融资产、车辆登记。" in text
    assert text.index("注意：数据包中没有") < text.index("二、家庭基本情况")
    assert main(["explain", str(bundle), hid, "--lang", "en"]) == 0
    text = capsys.readouterr().out
    assert "Note: the bundle has no table of bank and financial assets, vehicles." in text
    assert main(["explain", str(bundle), hid, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["absent_source_tables"] == ABSENT
    assert main(["explain", str(full), hid]) == 0
    assert "数据包中没有" not in capsys.readouterr().out


def test_the_report_names_them_above_the_figures(bundle, full, tmp_path):
    out = tmp_path / "out"
    _review(bundle, out)
    page = write_report(out).read_text(encoding="utf-8")
    section = page[page.index("数据包缺少的部门数据表") :]
    section = section[: section.index("</section>")]
    assert "银行存款及金融资产" in section and "车辆登记" in section
    assert "不动产登记" not in section  # property was there
    _review(full, out)
    assert "数据包缺少的部门数据表" not in write_report(out).read_text(encoding="utf-8")


def test_a_report_refuses_a_summary_naming_a_table_that_is_no_source_table(bundle, tmp_path):
    out = tmp_path / "out"
    _review(bundle, out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    summary["absent_source_tables"] = ["banks"]
    (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    with pytest.raises(MeansTestError, match="absent_source_tables is not a list of source tables"):
        write_report(out)


def test_reproduce_checks_them_and_passes_a_summary_from_before_them(bundle, tmp_path):
    out = tmp_path / "out"
    _review(bundle, out)
    assert reproduce_review(out, bundle)[1] == []
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    summary["absent_source_tables"] = []  # as if every table had been there
    (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (found,) = reproduce_review(out, bundle)[1]
    assert "absent_source_tables" in str(found)
    del summary["absent_source_tables"]  # a review made before the summary named them
    (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    assert reproduce_review(out, bundle)[1] == []


@pytest.mark.slow
@on_spark
@pytest.mark.parametrize("in_place", [True, False], ids=["in-place", "shuffled"])
def test_spark_names_them_as_the_single_machine_does(spark, bundle, tmp_path, in_place):
    from meanstest.spark import review_spark

    said: list[str] = []
    summary = review_spark(
        spark, bundle, default_library(), tmp_path / "spark", in_place=in_place, say=said.append
    )
    assert summary["absent_source_tables"] == ABSENT
    assert [line for line in said if " table in " in line] == [
        schema.absent_note(bundle, table) for table in ABSENT
    ]
    single = _review(bundle, tmp_path / "single")
    assert {k: v for k, v in summary.items() if k not in ("chunks", "chunk_size")} == {
        k: v for k, v in single.items() if k not in ("chunks", "chunk_size")
    }


@pytest.mark.slow
@on_spark
def test_spark_says_nothing_of_absent_tables_before_refusing_a_folder_that_is_no_bundle(
    spark, bundle, tmp_path
):
    from meanstest.errors import BundleError
    from meanstest.spark import review_spark

    no_persons = tmp_path / "no-persons"
    shutil.copytree(bundle, no_persons)
    (no_persons / "persons.parquet").unlink()
    for folder, why in [(tmp_path / "nowhere", "households"), (no_persons, "no persons table")]:
        said: list[str] = []
        with pytest.raises(BundleError, match=why):
            review_spark(spark, folder, default_library(), tmp_path / "out", say=said.append)
        assert not [line for line in said if " table in " in line]
