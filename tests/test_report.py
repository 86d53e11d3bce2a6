"""The review report (issues 3 and 14): self-contained HTML, rendered in a real headless
Chromium; its Chinese view reads without codes or fen — statuses, circles, transitions,
vetoes and reject rules by name, amounts in yuan with the unit, histogram bins on round
values, and a legend of every code."""

import html
import json
import re

import numpy as np
import pytest
from builders import lock_held_by_another
from chromium import dom, needs_chromium, screenshot

from meanstest import labels, schema, synth
from meanstest.amounts import yuan
from meanstest.bundle import write_bundle
from meanstest.errors import MeansTestError
from meanstest.policy import default_library
from meanstest.report import benefit_bins, index_bins, round_step, write_report
from meanstest.review import ReviewOptions, run_review

CODES = re.compile(r"\b(" + "|".join(schema.STATUSES + schema.TRANSITIONS) + r")\b")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    bundle = tmp_path_factory.mktemp("bundle")
    write_bundle(synth.generate(400, seed=3, bad_fraction=0.03), bundle)
    out = tmp_path_factory.mktemp("review")
    run_review(bundle, out, default_library(), ReviewOptions(quiet=True))
    return write_report(out)


def view(page: str, lang: str) -> str:
    """The text a reader of one language sees (the other language's elements removed)."""
    other = "en" if lang == "zh" else "zh"
    page = re.sub(
        r"<style>.*?</style>|<script.*?</script>|<title>.*?</title>", "", page, flags=re.DOTALL
    )
    page = re.sub(rf"<(span|text) lang='{other}'[^>]*>.*?</\1>", "", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_report_is_self_contained(report):
    text = report.read_text(encoding="utf-8")
    urls = set(re.findall(r"(?:src|href)=['\"]([^'\"]+)", text))
    assert not [u for u in urls if "://" in u], urls  # nothing fetched from a network
    assert "<script src" not in text and "<link" not in text


def test_chinese_view_names_every_code_and_says_yuan(report):
    zh = view(report.read_text(encoding="utf-8"), "zh")
    assert not CODES.search(zh.replace("中文 / English", "")), CODES.search(zh)
    assert not re.search(r"\b(True|False|None)\b|\{'", zh)
    for code, name in labels.VETO.items():  # every veto with the name of its rule
        assert f"{code} {name[0]}" in zh
    assert re.findall(r"V\d\d", zh) and all(
        f"{v} {labels.VETO[v][0]}" in zh for v in re.findall(r"V\d\d", zh)
    )
    for status in schema.STATUSES:
        assert labels.STATUS[status][0] in zh
    summary = json.loads((report.parent / "summary.json").read_text(encoding="utf-8"))
    assert f"{yuan(summary['total_monthly_benefit'])} 元/月" in zh
    assert "代码说明" in zh and "〔金融资产月数〕" in zh
    # every decimal amount carries its unit
    amounts = re.findall(r"\d[\d,]*\.\d\d(?! ?(?:元|yuan))", zh)
    assert amounts == [], amounts[:5]


def test_english_view_has_no_chinese_words(report):
    en = view(report.read_text(encoding="utf-8"), "en").replace("中文 / English", "")
    assert not re.search(r"[\u4e00-\u9fff]", en), re.search(r".{20}[\u4e00-\u9fff].{20}", en)


def test_summary_json_keeps_integer_fen(report):
    summary = json.loads((report.parent / "summary.json").read_text(encoding="utf-8"))
    assert isinstance(summary["total_monthly_benefit"], int)
    assert list(summary["by_status"]) == list(schema.STATUSES)  # codes, for machines


# Round histogram bins ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("top", "step"), [(0, 1), (9, 1), (10, 2), (99, 10), (3082, 500), (4999, 500), (5000, 1000)]
)
def test_round_step_is_1_2_or_5_times_a_power_of_ten(top, step):
    assert round_step(top) == step
    assert top // step + 1 <= 10


def test_benefit_bins_are_round_yuan_and_count_every_recipient():
    rng = np.random.default_rng(7)
    benefit = rng.integers(0, 3_100, 1000) * 100  # whole yuan, in fen, of recipients
    benefit[:5] = 0
    bins = benefit_bins(benefit)
    assert [zh for (zh, _), _ in bins][:3] == ["0–499 元", "500–999 元", "1,000–1,499 元"]
    # a recipient paid 0 元 (a DIBAO gap that rounds to 0) is one too: the chart left them
    # out while the mean counted them (a section chief's blind check)
    assert sum(c for _, c in bins) == 1000 and (benefit == 0).any()
    assert bins[-1][0][1] == "3,000–3,499 yuan"


def test_index_bins_are_hundreds_and_1000_falls_in_the_last():
    bins = index_bins(np.array([0, 99, 100, 950, 1000]))
    assert [label for (label, _), _ in bins][:2] == ["0–99", "100–199"]
    assert bins[-1] == (("900–1000", "900–1000"), 2)
    assert sum(c for _, c in bins) == 5


# Rendered by Chromium ------------------------------------------------------------------


@needs_chromium
def test_report_renders_with_charts_in_chromium(report, tmp_path):
    page = dom(report, tmp_path)
    assert page.count('class="chart"') >= 7  # status, circle, benefit, veto, transition, …
    assert "社会救助年度复核报告" in page and "toggle" in page
    shot = screenshot(report, tmp_path, "report-zh", "1100,2400")
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


def test_the_new_list_shows_the_50_most_difficult_and_the_others_their_first_50(report, tmp_path):
    """Both engines' reports of a bundle are one page: the Spark output keeps no bundle
    order. The NEW list (主动发现 included) shows its 50 best-ranked households (§9), the
    visits to make first, with rank, difficulty index and provisional flag (it showed
    the first 50 by household_id: a section chief could not tell whom to visit first);
    the other lists their first 50 by household_id. An output folder whose change list
    lacks a column (an older one) still gives a report."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from meanstest.report import build_report

    out = tmp_path / "review"
    shutil.copytree(report.parent, out)
    path = out / "changes_new.parquet"
    table = pq.read_table(path)
    assert table.num_rows > 50
    order = np.random.default_rng(1).permutation(table.num_rows)
    pq.write_table(table.take(pa.array(order)).drop_columns(["circle"]), path)
    results = pq.read_table(out / "results.parquet").to_pylist()
    rank = {r["household_id"]: r["rank"] for r in results}
    page = build_report(out)
    section = page[page.index(f"（{table.num_rows:,} 户）") :]
    section = section[: section.index("</table>")]
    shown = re.findall(r"<td>([^<]+)</td>", section)
    expected = sorted(table["household_id"].to_pylist(), key=rank.get)[:50]
    assert [s for s in shown if s in set(expected)] == expected
    assert section.count("<th") == 9  # rank, index, six columns (no circle), provisional
    exits = pq.read_table(out / "changes_exit.parquet")["household_id"].to_pylist()
    assert exits
    section = page[page.index(f"（{len(exits):,} 户）") :]
    section = section[: section.index("</table>")]
    shown = re.findall(r"<td>([^<]+)</td>", section)
    assert [s for s in shown if s in set(exits)] == sorted(exits)[:50]


def test_the_report_shows_findings_unmatched_rows_and_paid_households_rejected(report):
    """What a section chief's blind check found missing: the findings (漏救, 错救 and
    the rest, by kind), the source rows that matched nobody, and the rejected households
    that were being paid (they are in no transition and no change list)."""
    import pyarrow.parquet as pq

    out = report.parent
    page = report.read_text(encoding="utf-8")
    zh = view(page, "zh")
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    findings = pq.read_table(out / "findings.parquet").to_pylist()
    missed = [f for f in findings if f["code"] == "PROGRAM_MISSED"]
    assert missed
    name = labels.FINDING["PROGRAM_MISSED"][0]
    assert re.search(
        rf"{name}\s+{len(missed):,}\s+{len({f['household_id'] for f in missed}):,}", zh
    )
    assert re.search(rf"{summary['unmatched_source_rows']:,}\s+未匹配到家庭的部门记录", zh)
    paid = summary["rejected_previously_paid"]
    assert paid["households"] > 0
    money = re.escape(yuan(paid["prev_benefit"]))
    assert re.search(
        rf"{paid['households']:,}\s+上期月救助金合计 {money} 元/月\s+被退回但上期在保的家庭", zh
    )
    for hid in paid["first_household_ids"]:
        assert f">{hid}<" in page


def test_each_rejected_household_that_was_paid_shows_why(report):
    """The officer deciding by hand on a rejected household that was being paid saw only
    its ID (a county officer's blind check): each row now gives its first reasons in
    words, as rejects.parquet holds them."""
    import pyarrow.parquet as pq

    out = report.parent
    page = report.read_text(encoding="utf-8")
    section = page[page.rindex("被退回但上期在保的家庭记录（条）") :]  # the section, not the card
    section = section[: section.index("</table>")]
    rejects = pq.read_table(out / "rejects.parquet").to_pylist()
    paid = json.loads((out / "summary.json").read_text("utf-8"))["rejected_previously_paid"]
    assert paid["first_household_ids"]
    for hid in paid["first_household_ids"]:
        reasons = next(r["reasons"] for r in rejects if r["household_id"] == hid)
        row = section[section.index(f"<td>{hid}</td>") :]
        row = row[: row.index("</tr>")]
        for reason in reasons[:3]:
            assert html.escape(labels.reject_rule(reason, "zh")) in row, (hid, reason)
        if len(reasons) > 3:
            assert f"另有 {len(reasons) - 3} 条" in row


def test_missed_and_undue_help_are_counted_by_program(report):
    """主动发现 by program: the households that qualify for each program and do not
    receive it, and that receive it and do not qualify. The report gave the totals only,
    and a county officer could not see which help a household misses (a blind test)."""
    from collections import defaultdict

    import pyarrow.parquet as pq

    out = report.parent
    zh = view(report.read_text(encoding="utf-8"), "zh")
    section = zh[zh.index("分项目漏救与错救") :]
    counts: dict = defaultdict(lambda: {"PROGRAM_MISSED": set(), "PROGRAM_UNDUE": set()})
    for f in pq.read_table(out / "findings.parquet").to_pylist():
        if f["code"] in ("PROGRAM_MISSED", "PROGRAM_UNDUE"):
            counts[f["detail"]][f["code"]].add(f["household_id"])
    assert len(counts) >= 2
    for program, by in counts.items():
        missed, undue = len(by["PROGRAM_MISSED"]), len(by["PROGRAM_UNDUE"])
        label = re.escape(labels.program(program, "zh"))
        assert re.search(rf"{label}\s+{program}\s+{missed:,}\s+{undue:,}", section), program


def test_the_legend_maps_finding_names_to_codes_and_rows_are_not_called_households(report):
    """An auditor's blind check: the findings' names could not be mapped to the codes of
    findings.parquet; the read, rejected and paid-rejected counts are households rows (a
    household_id twice is two rows), labelled 户; the 特困 legend said "no capable
    supporter" where §7.2 says no supporter has exempt_reason none."""
    page = report.read_text(encoding="utf-8")
    zh, en = view(page, "zh"), view(page, "en")
    for code, (zh_name, en_name) in labels.FINDING.items():  # and says what each means
        zh_rule, en_rule = (re.escape(w) for w in labels.FINDING_RULE[code])
        assert re.search(rf"{re.escape(zh_name)}\s+{zh_rule}\s+{code}", zh)
        assert re.search(rf"{re.escape(en_name)}\s+{en_rule}\s+{code}", en)
    summary = json.loads((report.parent / "summary.json").read_text("utf-8"))
    assert re.search(rf"{summary['households_read']:,}\s+读取家庭记录（条）", zh)
    assert re.search(rf"{summary['rejected']:,}\s+退回：数据有误的家庭记录（条）", zh)
    # the seed's words: a supporter who is a dibao recipient, ill, imprisoned or a student
    # still owes support; the fee is just not assessed (004: 可不核定赡养费)
    assert "无义务人或义务人均不核定赡养费" in zh and "免除赡养义务" not in zh
    # the rejects by reason count rows too (a verification officer's blind check: 户)
    assert re.search(r"退回原因\s+退回原因\s+家庭记录（条）", zh), zh
    # the top 20 say that vetoed households are ranked too (§9)
    assert "一票否决的家庭也在内" in zh and "vetoed ones included" in en


def test_the_report_names_the_packs_and_engine_with_their_digests(report):
    """An auditor's blind check found no pack or engine named in report.html or
    summary.json: a pack edited under its own id could only be caught by its digest."""
    import pyarrow.parquet as pq

    results = pq.read_table(report.parent / "results.parquet").to_pylist()
    zh = view(report.read_text(encoding="utf-8"), "zh")
    assert "所用政策包与核算引擎" in zh
    used = {(r["policy_id"], r["policy_digest"], r["engine_version"]) for r in results}
    for pack, digest, engine in used:
        n = sum(1 for r in results if (r["policy_id"], r["policy_digest"]) == (pack, digest))
        assert re.search(rf"{pack}\s+{digest}\s+{re.escape(engine)}\s+{n:,}", zh)


def test_a_spark_output_of_no_households_reports_like_the_single_machine(tmp_path):
    """Spark writes an empty review as folders holding only _SUCCESS: no rows, not 'not
    a review output folder'."""
    from meanstest.report import build_report

    bundle = tmp_path / "bundle"
    write_bundle({t: schema.empty_table(t) for t in schema.TABLES}, bundle)
    single = tmp_path / "single"
    run_review(bundle, single, default_library(), ReviewOptions(quiet=True))
    spark = tmp_path / "spark"
    for name in ("results", "members", "findings", "rejects", "changes"):
        (spark / name).mkdir(parents=True)
        (spark / name / "_SUCCESS").write_bytes(b"")
    (spark / "summary.json").write_bytes((single / "summary.json").read_bytes())
    assert build_report(spark) == build_report(single)


def test_a_folder_that_is_not_a_review_says_what_is_missing(tmp_path):
    from meanstest.errors import MeansTestError

    with pytest.raises(MeansTestError, match=r"not a review output folder \(no summary.json\)"):
        write_report(tmp_path)
    (tmp_path / "summary.json").write_text("{}", encoding="utf-8")
    with pytest.raises(MeansTestError, match=r"no results.parquet or results/ folder"):
        write_report(tmp_path)


def test_a_summary_that_disagrees_with_the_results_is_not_reported_as_fact(tmp_path):
    """An edited summary.json was printed as the district's total (an adversarial auditor
    run): the report checks its totals against results.parquet first."""
    import shutil

    from meanstest.errors import MeansTestError

    bundle = tmp_path / "bundle"
    write_bundle(synth.generate(60, seed=4), bundle)
    out = tmp_path / "review"
    run_review(bundle, out, default_library(), ReviewOptions(quiet=True))
    write_report(out)  # the review's own summary agrees
    for key, edit in (("total", ("total_monthly_benefit", 99_999_900)), ("status", None)):
        bad = tmp_path / key
        shutil.copytree(out, bad)
        summary = json.loads((bad / "summary.json").read_text())
        if edit:
            summary[edit[0]] = edit[1]
        else:
            summary["by_status"]["TEKUN"] += 500
        (bad / "summary.json").write_text(json.dumps(summary))
        with pytest.raises(MeansTestError, match="summary.json says .*; run meanstest reproduce"):
            write_report(bad)


REPORT_EDITS = {  # an auditor's blind check: each was printed into report.html as fact
    "by_veto": lambda s: s["by_veto"].update({next(k for k, v in s["by_veto"].items() if v): 1}),
    "by_circle": lambda s: s["by_circle"].update({"1": s["by_circle"]["1"] + 1}),
    "by_transition": lambda s: s["by_transition"].update(NEW=s["by_transition"]["NEW"] + 1),
    "mean": lambda s: s.update(
        mean_monthly_benefit_of_recipients=s["mean_monthly_benefit_of_recipients"] + 1
    ),
    "jurisdiction benefit": lambda s: next(iter(s["by_jurisdiction"].values())).update(
        benefit=next(iter(s["by_jurisdiction"].values()))["benefit"] + 100
    ),
    "jurisdiction enrolled": lambda s: next(iter(s["by_jurisdiction"].values())).update(enrolled=1),
    "households_read": lambda s: s.update(households_read=s["households_read"] - 1),
    "a reason dropped": lambda s: s["rejects_by_reason"].pop(next(iter(s["rejects_by_reason"]))),
    "a reason added": lambda s: s["rejects_by_reason"].update({"bank.balance: invented": 3}),
    "a pack's digest": lambda s: next(iter(s["by_policy"].values())).update(policy_digest="0" * 64),
    "a pack's households": lambda s: next(iter(s["by_policy"].values())).update(assessed=1),
    "provisional": lambda s: s.update(provisional=s["provisional"] + 1),  # a sweep: unchecked
}


@pytest.mark.parametrize("edit", REPORT_EDITS)
def test_every_count_the_outputs_give_is_checked_before_it_is_reported(report, tmp_path, edit):
    import shutil

    from meanstest.errors import MeansTestError

    bad = tmp_path / "bad"
    shutil.copytree(report.parent, bad)  # the module's review, rejects included
    write_report(bad)  # the review's own summary agrees
    summary = json.loads((bad / "summary.json").read_text())
    assert summary["rejects_by_reason"] and summary["by_veto"]  # the edits bite
    REPORT_EDITS[edit](summary)
    (bad / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(MeansTestError, match="summary.json says .*; run meanstest reproduce"):
        write_report(bad)


SUMMARY_DAMAGE = {  # what `report` and `reproduce` read from summary.json, damaged
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, r"is not JSON \(nested too deeply\)"),
    "a list": ("[1, 2]", r"not a review's summary \(a JSON list, not an object\)"),
    "a 5,000-digit count": ('{"households_read": 1' + "0" * 5000 + "}", r"is not JSON \(.*digits"),
    "not UTF-8": (b'{"a": "\xff"}', r"is not JSON \("),
    "no households_read": ({"households_read": None}, r"households_read is None, not a count"),
    "a count as text": ({"assessed": "400"}, r"assessed is '400', not a count"),
    "a count as true": ({"provisional": True}, r"provisional is True, not a count"),
    "by_status a list": ({"by_status": [1]}, r"by_status is not a JSON object"),
    "a status count as text": ({"by_status": {"TEKUN": "x" * 500}}, r"by_status.'TEKUN' is 'xxx.*\.\.\., not a count"),
    "a jurisdiction without benefit": (
        {"by_jurisdiction": {"150422": {"households": 1, "assessed": 1, "enrolled": 0}}},
        r"by_jurisdiction.'150422' is not an object with counts households, assessed, enrolled, benefit",
    ),
    "a pack as a number": ({"by_policy": {"p": 3}}, r"by_policy.'p' is not a JSON object"),
    "a note with a lone surrogate": ({"ingest_notes": ["\ud800"]}, r"is not JSON of UTF-8 texts"),
    "notes as a number": ({"ingest_notes": 3}, r"ingest_notes is not a list of texts"),
    # a sweep found these four unchecked by any test
    "accounting_closes as text": ({"accounting_closes": "yes"}, r"accounting_closes is not true or false"),
    "absent tables naming a case table": (
        {"absent_source_tables": ["households"]}, r"absent_source_tables is not a list of source tables"),
    "an optional count as text": ({"orphan_rows": "3"}, r"orphan_rows is '3', not a count"),
    "a key of 60 characters shown whole": ({"by_status": {"x" * 58: "y"}}, r"by_status\.'x{58}' is 'y', not a count"),
    "paid IDs as a number": (
        {"rejected_previously_paid": {"households": 1, "prev_benefit": 0, "first_household_ids": 7}},
        r"rejected_previously_paid.first_household_ids is not a list of IDs",
    ),
    "paid households as text": (
        {"rejected_previously_paid": {"households": "3", "prev_benefit": 0}},
        r"rejected_previously_paid is not an object with counts households and prev_benefit",
    ),
}  # fmt: skip


def _without(report, folder, key: str):
    """A copy of the module's review whose summary.json lacks `key`."""
    import shutil

    shutil.copytree(report.parent, folder)
    summary = json.loads((folder / "summary.json").read_text())
    del summary[key]
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_a_summary_without_a_count_it_must_have_is_named(report, tmp_path):
    """A required count deleted (not nulled) is named as missing; the optional ones may
    be absent (a sweep: deleting one was untested)."""
    from meanstest.errors import MeansTestError

    bad = _without(report, tmp_path / "bad", "assessed")
    with pytest.raises(MeansTestError, match=r"\(assessed is None, not a count\)"):
        write_report(bad)


def test_a_summary_without_by_policy_is_reported(report, tmp_path):
    """by_policy is checked against the results when the summary has it; a summary
    without it (an older review's) is still reported (a sweep: untested)."""
    old = _without(report, tmp_path / "old", "by_policy")
    write_report(old)
    assert (old / "report.html").stat().st_size > 0


@pytest.mark.parametrize("damage", SUMMARY_DAMAGE)
def test_a_damaged_summary_is_named_not_a_traceback(report, tmp_path, damage):
    """An edited or damaged summary.json ended `report` and `reproduce` in a traceback
    (RecursionError, AttributeError on a list, TypeError on a count as text): both now
    say what is wrong with it, before any of it is read."""
    import shutil

    from meanstest.errors import MeansTestError
    from meanstest.reproduce.tables import _stored_review

    bad = tmp_path / "bad"
    shutil.copytree(report.parent, bad)
    text, said = SUMMARY_DAMAGE[damage]
    if isinstance(text, dict):  # keys of the review's own summary replaced
        summary = json.loads((bad / "summary.json").read_text()) | text
        text = json.dumps(summary)
    (bad / "summary.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(MeansTestError, match=said):
        write_report(bad)
    with pytest.raises(MeansTestError, match=said):
        _stored_review(bad, [])


@pytest.mark.parametrize("output", ["results", "changes_new"])
def test_an_output_column_of_another_type_is_refused_by_the_report(report, tmp_path, output):
    """benefit rewritten as text ended the report in Arrow's "Function 'sum' has no
    kernel matching input types (string)" (results) or a TypeError (a change list). The
    report, which prints the rows, refuses them and names the column; `reproduce`
    reports every row as not the review's (test_reproduce.py)."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from meanstest.errors import MeansTestError

    bad = tmp_path / "bad"
    shutil.copytree(report.parent, bad)
    table = pq.read_table(bad / f"{output}.parquet")
    assert table.num_rows
    at = table.schema.get_field_index("benefit")
    text = table["benefit"].cast(pa.string())  # the same numbers, as text
    pq.write_table(table.set_column(at, "benefit", text), bad / f"{output}.parquet")
    said = rf"{output}, column benefit: string where a review writes int64 \(the file was rew"
    with pytest.raises(MeansTestError, match=said):
        write_report(bad)


def test_the_first_column_of_another_type_is_refused_too(report, tmp_path):
    """household_id, results' first column, rewritten as large_string: named as any
    other column is (a sweep: a column at index 0 went unchecked when '>= 0' read '> 0')."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from meanstest.errors import MeansTestError

    bad = tmp_path / "bad"
    shutil.copytree(report.parent, bad)
    table = pq.read_table(bad / "results.parquet")
    assert table.schema.get_field_index("household_id") == 0
    wide = table["household_id"].cast(pa.large_string())
    pq.write_table(table.set_column(0, "household_id", wide), bad / "results.parquet")
    with pytest.raises(MeansTestError, match=r"results, column household_id: large_string where"):
        write_report(bad)


def test_a_summary_naming_a_rejected_household_without_an_id_is_read(report, tmp_path):
    """A households row with a null household_id is rejected, and when it was paid
    before, summary.json lists it as null among the first IDs (Spark's review of such a
    bundle was refused as "not a review's summary" by the check above)."""
    import shutil

    from meanstest.outputs import read_summary

    bad = tmp_path / "r"
    shutil.copytree(report.parent, bad)
    summary = json.loads((bad / "summary.json").read_text())
    summary["rejected_previously_paid"]["first_household_ids"] = [None, "HH000000001"]
    (bad / "summary.json").write_text(json.dumps(summary))
    assert read_summary(bad)["rejected_previously_paid"]["first_household_ids"][0] is None


def test_an_output_whose_text_is_not_utf8_is_named(report, tmp_path):
    """Parquet does not check its strings on reading: a results.parquet whose first
    household_id was not UTF-8 ended `reproduce` in a UnicodeDecodeError."""
    import shutil

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from meanstest.errors import MeansTestError
    from meanstest.reproduce.tables import _stored_review

    bad = tmp_path / "bad"
    shutil.copytree(report.parent, bad)
    results = pq.read_table(bad / "results.parquet")
    ids = results["household_id"].combine_chunks()
    offsets = np.frombuffer(ids.buffers()[1], np.int32)[: len(ids) + 1]
    data = bytearray(ids.buffers()[2].to_pybytes())
    data[offsets[0]] = 0xFF
    buffers = [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(bytes(data))]
    damaged = pa.Array.from_buffers(pa.string(), len(ids), buffers)
    at = results.schema.get_field_index("household_id")
    pq.write_table(results.set_column(at, "household_id", damaged), bad / "results.parquet")
    said = r"results.parquet: table results, column household_id: row 1 is not valid UTF-8"
    with pytest.raises(MeansTestError, match=said):
        write_report(bad)
    with pytest.raises(MeansTestError, match=said):
        _stored_review(bad)


@pytest.mark.parametrize(
    "gone",
    ["findings.parquet", "rejects.parquet", "members.parquet", "changes_new.parquet", "fifo"],
)
def test_a_review_folder_missing_an_output_is_refused_by_report(report, tmp_path, gone):
    """README: `report` and `reproduce` refuse a folder a stopped review left. Without
    findings.parquet the report drew an empty findings table and an empty table of
    missed and undue help (the review had 391 findings), exit 0 (an adversarial run);
    likewise without rejects, members or a change list, or with a FIFO for findings."""
    import os
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(report.parent, bad)
    if gone == "fifo":
        (bad / "findings.parquet").unlink()
        os.mkfifo(bad / "findings.parquet")
        gone = "findings.parquet"
    else:
        (bad / gone).unlink()
    with pytest.raises(MeansTestError, match=f"not a complete review output folder .no {gone}"):
        write_report(bad)
    assert not (bad / "report.html.tmp").exists()


def test_money_in_the_report_tables_is_said_per_month(report):
    """Benefit, pci and the previous benefit are monthly (RULES.md §7): the district and
    top-20 tables said "2,333.00 元" where every other figure says 元/月 (a civil-affairs
    reviewer's reading)."""
    page = report.read_text(encoding="utf-8")
    cells = re.findall(r"<td class='r'><span lang='zh'>([^<]*)</span>", page)
    money = [c for c in cells if "元" in c]
    assert money and all(c.endswith(" 元/月") for c in money), money[:5]


@pytest.fixture
def small_review(tmp_path):
    bundle, out = tmp_path / "b", tmp_path / "r"
    write_bundle(synth.generate(40, seed=6), bundle)
    run_review(bundle, out, default_library(), ReviewOptions(quiet=True))
    return bundle, out


@pytest.mark.parametrize("holder", ["review", "report"])
def test_a_report_and_a_review_of_one_folder_refuse_each_other(small_review, holder):
    """`meanstest report` took no lock: a review starting into the folder while a report
    was drawn left the old report.html beside the new outputs (2 of 10 in a blind
    operator's check, 2026-12-07). Each now holds the folder's lock and refuses while
    another process holds it, saying which command that is."""
    bundle, out = small_review
    with lock_held_by_another(out, holder):
        with pytest.raises(MeansTestError, match=f"another {holder} is writing this folder"):
            write_report(out)
        assert not (out / "report.html").exists()
        with pytest.raises(MeansTestError, match=f"another {holder} is writing this folder"):
            run_review(bundle, out, default_library(), ReviewOptions(quiet=True))
        assert (out / "summary.json").exists()  # the refused review removed nothing
    assert write_report(out) == out / "report.html"  # free again: the report is written


def test_a_review_holding_its_folder_writes_its_report_there(small_review):
    """The Spark review writes report.html under its own lock of the folder."""
    from meanstest.outputs import only_writer_of

    _, out = small_review
    with only_writer_of(out, "review"):
        assert write_report(out).exists()


def test_a_report_that_cannot_be_written_names_it_and_leaves_no_tmp(small_review):
    """On a full disk the report said "No space left on device", naming no file, and left
    report.html.tmp (a blind operator's check, 2026-12-07). report.html.tmp is made a
    link to /dev/full, where every write fails with ENOSPC."""
    _, out = small_review
    (out / "report.html.tmp").symlink_to("/dev/full")
    with pytest.raises(MeansTestError) as e:
        write_report(out)
    assert str(e.value) == f"{out / 'report.html'}: cannot write: No space left on device"
    assert not (out / "report.html.tmp").is_symlink() and not (out / "report.html").exists()


def test_an_output_file_without_a_column_the_report_reads_is_named_in_one_line(report, tmp_path):
    """A results.parquet without rank: the error names the file and the column, not
    Arrow's "No match for FieldRef.Name(rank)" with the whole schema and its internal
    fields (a blind audit)."""
    import shutil

    import pyarrow.parquet as pq

    from meanstest.errors import MeansTestError

    bad = tmp_path / "bad"
    shutil.copytree(report.parent, bad)
    results = pq.read_table(bad / "results.parquet")
    pq.write_table(results.drop_columns(["rank"]), bad / "results.parquet")
    with pytest.raises(MeansTestError) as e:
        write_report(bad)
    assert str(e.value) == (
        f"{bad / 'results.parquet'}: no column rank, which a review writes (the file was "
        "rewritten since the review); run meanstest reproduce"
    )


def test_persons_rows_of_no_household_are_in_the_report(tmp_path):
    """A persons row whose household_id is in no households row is assessed nowhere: the
    console and summary.json counted it, report.html, which staff read, did not (a blind
    test of the annual review)."""
    import pyarrow as pa

    tables = synth.generate(40, seed=2)
    persons = tables["persons"]
    stray = persons.slice(0, 1).set_column(
        persons.schema.get_field_index("household_id"),
        persons.schema.field("household_id"),
        pa.array(["HH-NOWHERE"], pa.string()),
    )
    tables["persons"] = pa.concat_tables([persons, stray.cast(persons.schema)])
    bundle, out = tmp_path / "bundle", tmp_path / "out"
    write_bundle(tables, bundle)
    summary = run_review(bundle, out, default_library(), ReviewOptions(quiet=True))
    assert summary["orphan_rows"] == 1
    page = write_report(out).read_text(encoding="utf-8")
    for lang in ("zh", "en"):
        text = " ".join(view(page, lang).split())
        label = (
            "不属于任何家庭的成员、义务人记录（条，未核算）"
            if lang == "zh"
            else ("persons/supporters rows of no household (not assessed)")
        )
        assert f"1 {label}" in text, lang
