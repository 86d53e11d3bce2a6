"""Auditor reproduction (issues 6 and 14): a review reproduces; tampering, changed input or
policy show; a rank moved by other households is reported apart, not as a discrepancy."""

import json
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meanstest import synth
from meanstest.batch import reason_rule
from meanstest.bundle import read_bundle, write_bundle
from meanstest.cli import main
from meanstest.errors import MeansTestError
from meanstest.policy import default_library, load_library
from meanstest.reproduce import reproduce_review
from meanstest.review import ReviewOptions, run_review


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    bundle = tmp_path_factory.mktemp("bundle")
    write_bundle(synth.generate(120, seed=11, bad_fraction=0.05), bundle)
    out = tmp_path_factory.mktemp("review")
    run_review(bundle, out, default_library(), ReviewOptions(quiet=True))
    return bundle, out


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_review_reproduces_exactly(reviewed, capsys):
    bundle, out = reviewed
    ok, problems, moved = reproduce_review(out, bundle)
    assert problems == [] and moved == [] and ok == pq.read_table(out / "results.parquet").num_rows
    assert main(["reproduce", str(out), "--bundle", str(bundle)]) == 0


def test_tampered_result_is_reported(reviewed, tmp_path, capsys):
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    results = pq.read_table(out2 / "results.parquet")
    benefit = results["benefit"].to_pylist()
    benefit[3] += 100
    results = results.set_column(
        results.schema.get_field_index("benefit"), "benefit", pa.array(benefit, pa.int64())
    )
    pq.write_table(results, out2 / "results.parquet")
    _, problems, _ = reproduce_review(out2, bundle)
    hid = results["household_id"][3].as_py()
    summary = [(p.kind, p.columns) for p in problems if p.household_id == "summary.json"]
    assert [
        (p.household_id, p.kind, p.columns) for p in problems if p.household_id != "summary.json"
    ] == [
        (hid, "result differs", ["benefit"]),
        # household 3 is NEW: its change-list row no longer matches its results row
        (hid, "changes_new row differs from its results row", []),
    ]
    # edited results no longer add up to the stored summary (its total, the mean and the
    # jurisdictions' sum), which is the recomputation's: said once
    keys = ["total_monthly_benefit", "mean_monthly_benefit_of_recipients",
            "by_jurisdiction (sum of benefit)"]  # fmt: skip
    said = f"agrees with the recomputation, not with the stored rows ({', '.join(keys)}): "
    why = "the stored rows are not the ones the review computed (changed after it, or lost in writing)"
    assert summary == [(said + why, keys)]
    assert main(["reproduce", str(out2), "--bundle", str(bundle)]) == 1
    b = results["benefit"][3].as_py()
    said = capsys.readouterr().out
    assert f"{hid}: result differs (benefit: {b} → {b - 100})" in said
    # which side is which is said where it is read (it was in docs/documents.md alone)
    assert said.startswith("(values: stored → recomputed)\n"), said


def test_changed_input_is_reported(reviewed, tmp_path):
    bundle, out = reviewed
    b2 = _copy(bundle, tmp_path / "bundle")
    persons = pq.read_table(b2 / "persons.parquet")
    hid = pq.read_table(out / "results.parquet")["household_id"][0].as_py()
    mask = pc.equal(persons["household_id"], hid)
    tuition = pc.if_else(mask, pc.add(persons["tuition"], 1), persons["tuition"])
    persons = persons.set_column(persons.schema.get_field_index("tuition"), "tuition", tuition)
    pq.write_table(persons, b2 / "persons.parquet")
    _, problems, _ = reproduce_review(out, b2)
    assert (hid, "input changed") in [(p.household_id, p.kind) for p in problems]


def test_changed_policy_is_reported(reviewed, tmp_path):
    bundle, out = reviewed
    lib = _copy(default_library().path, tmp_path / "policies")
    pack = lib / "150422-2024.toml"
    pack.write_text(
        pack.read_text(encoding="utf-8").replace("dibao_rural = 57000", "dibao_rural = 57100"),
        encoding="utf-8",
    )
    _, problems, _ = reproduce_review(out, bundle, load_library(lib))
    assert problems and {p.kind for p in problems} >= {"policy changed"}


def _results(out):
    return pq.read_table(out / "results.parquet")


def test_rank_moved_by_another_household_is_not_a_discrepancy(reviewed, tmp_path, capsys):
    """One household's index rises: it is `input changed`; the households it overtakes
    reproduce in everything but rank, and are listed apart with both ranks."""
    bundle, out = reviewed
    results = _results(out).to_pylist()
    last = max(results, key=lambda r: r["rank"])  # the least difficult household
    b2 = _copy(bundle, tmp_path / "bundle")
    persons = pq.read_table(b2 / "persons.parquet")
    mask = pc.equal(persons["household_id"], last["household_id"])
    health = pc.if_else(mask, pa.scalar(6, pa.int8()), persons["health"])  # 重度残疾
    persons = persons.set_column(persons.schema.get_field_index("health"), "health", health)
    pq.write_table(persons, b2 / "persons.parquet")

    ok, problems, moved = reproduce_review(out, b2)
    assert [(p.household_id, p.kind) for p in problems] == [(last["household_id"], "input changed")]
    assert moved, "some households moved down one place"
    assert all(m.recomputed == m.stored + 1 for m in moved)
    assert ok == len(results) - 1

    assert main(["reproduce", str(out), "--bundle", str(b2)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines.pop(0) == "(values: stored → recomputed)"
    assert lines[0].startswith(f"{last['household_id']}: input changed (")
    assert "input_digest: " in lines[0] and "difficulty_index: " in lines[0]
    noun = "household" if len(moved) == 1 else "households"
    assert lines[1].startswith(f"rank only: {len(moved):,} {noun} reproduced but moved")
    assert f"{moved[0].household_id} ({moved[0].stored} → {moved[0].recomputed})" in lines[1]
    assert lines[2] == f"reproduced {ok:,} households; 1 discrepancy"


def test_tampered_ranks_are_discrepancies(reviewed, tmp_path):
    """Ranks that do not rank the stored rows themselves were edited: each is reported."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    results = _results(out2)
    rank = results["rank"].to_pylist()
    i, j = rank.index(1), rank.index(2)
    rank[i], rank[j] = 2, 1
    results = results.set_column(
        results.schema.get_field_index("rank"), "rank", pa.array(rank, pa.int64())
    )
    pq.write_table(results, out2 / "results.parquet")
    _, problems, moved = reproduce_review(out2, bundle)
    assert moved == []
    assert sorted((p.household_id, p.kind, tuple(p.columns)) for p in problems) == sorted(
        (results["household_id"][k].as_py(), "result differs", ("rank",)) for k in (i, j)
    )


# Tamperings an adversarial auditor run found unreported ------------------------------------


def _rewrite(out, name, change):
    table = pq.read_table(out / f"{name}.parquet")
    pq.write_table(change(table), out / f"{name}.parquet")
    return table


def _kinds(problems):
    return [(p.household_id, p.kind) for p in problems]


def test_a_results_row_stored_twice_is_reported(reviewed, tmp_path):
    """A forged copy of a row, before the real one, reproduced: rows were keyed by
    household_id and the last one won."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    results = _rewrite(out2, "results", lambda t: pa.concat_tables([t.slice(2, 1), t]))
    hid = results["household_id"][2].as_py()
    _, problems, _ = reproduce_review(out2, bundle)
    assert (hid, "in the results 2 times") in _kinds(problems)


def test_findings_and_rejects_are_compared(reviewed, tmp_path):
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    findings = _rewrite(out2, "findings", lambda t: t.slice(1))  # the first finding dropped
    dropped = findings.slice(0, 1).to_pylist()[0]
    rejects = _rewrite(out2, "rejects", lambda t: t.slice(1))  # the first reject dropped
    lost = rejects["household_id"][0].as_py()
    summary = json.loads((out2 / "summary.json").read_text())
    summary["rejected"] -= 1  # the summary edited to match
    (out2 / "summary.json").write_text(json.dumps(summary))
    _, problems, _ = reproduce_review(out2, bundle)
    found = {p.household_id: p for p in problems}
    assert found[dropped["household_id"]].kind == "result differs"
    assert found[dropped["household_id"]].columns == ["findings"]
    assert f"findings: {dropped['code']} ×" in str(found[dropped["household_id"]])
    assert (lost, "rejected now, missing from the review's rejects") in _kinds(problems)
    assert len([p for p in problems if p.household_id != "summary.json"]) == 2
    # the edited count agrees with the stored rejects, not with the recomputation; the
    # dropped reject was a household being paid: summary.json's count of those no longer
    # matches the stored rejects either
    summary_keys = {c for p in problems if p.household_id == "summary.json" for c in p.columns}
    assert "rejected" in summary_keys
    # and the rows the stored rejects lack from the households read and the rejects by rule
    reason = "rejects_by_reason." + reason_rule(rejects["reasons"][0][0].as_py())
    assert {"households_read", "by_jurisdiction (sum of households)", reason} <= summary_keys
    assert summary_keys <= {
        "rejected",
        "households_read",
        "by_jurisdiction (sum of households)",
        reason,
        "rejected_previously_paid.households",
        "rejected_previously_paid.prev_benefit",
        "rejected_previously_paid.first_household_ids",
    }


def test_summary_json_is_checked_against_the_stored_rows(reviewed, tmp_path):
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    summary = json.loads((out2 / "summary.json").read_text())
    true_total = summary["total_monthly_benefit"]
    summary["total_monthly_benefit"] = 99_999_900
    summary["by_status"]["TEKUN"] += 500
    (out2 / "summary.json").write_text(json.dumps(summary))
    _, problems, _ = reproduce_review(out2, bundle)
    assert sorted(p.columns[0] for p in problems) == ["by_status.TEKUN", "total_monthly_benefit"]
    assert f"the stored rows give {true_total}" in str(problems[0]) + str(problems[1])


def _one_of(section: dict) -> str:
    return next(k for k, v in section.items() if v)


SUMMARY_EDITS = {  # what an operator might touch; none of it is in the stored rows alone
    "by_veto": lambda s: s["by_veto"].update({_one_of(s["by_veto"]): 1}),
    "by_circle": lambda s: s["by_circle"].update({"1": 1}),
    "by_transition": lambda s: s["by_transition"].update({"NEW": 1}),
    "by_jurisdiction": lambda s: next(iter(s["by_jurisdiction"].values())).update(benefit=100),
    "mean": lambda s: s.update(mean_monthly_benefit_of_recipients=1),
    "households_read": lambda s: s.update(households_read=s["households_read"] - 1),
    "unmatched_source_rows": lambda s: s.update(
        unmatched_source_rows=s["unmatched_source_rows"] + 5
    ),
    "orphan_rows": lambda s: s.update(orphan_rows=7),
    "accounting_closes": lambda s: s.update(accounting_closes=False),
    "rejects_by_reason": lambda s: s["rejects_by_reason"].pop(_one_of(s["rejects_by_reason"])),
    "a key added": lambda s: s.update(approved_by="director"),
    "a pack's digest": lambda s: next(iter(s["by_policy"].values())).update(policy_digest="0" * 64),
}


@pytest.mark.parametrize("edit", SUMMARY_EDITS)
def test_every_value_of_summary_json_is_checked_against_the_recomputation(reviewed, tmp_path, edit):
    """An auditor's blind check edited these and reproduce said 0 discrepancies: only
    the counts the stored rows give were checked, and the report printed the rest."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    summary = json.loads((out2 / "summary.json").read_text())
    assert summary["rejects_by_reason"]  # the edits bite
    SUMMARY_EDITS[edit](summary)
    (out2 / "summary.json").write_text(json.dumps(summary))
    _, problems, _ = reproduce_review(out2, bundle)
    assert problems and {p.household_id for p in problems} == {"summary.json"}
    assert all(str(p).count(p.columns[0]) == 1 for p in problems)  # said once
    assert all(" None" not in str(p) for p in problems)  # a missing value is "missing"
    assert all(p.columns[0].split(".")[0] not in ("chunks", "chunk_size") for p in problems)
    assert main(["reproduce", str(out2), "--bundle", str(bundle)]) == 1


def test_the_summarys_run_shape_is_not_a_discrepancy(reviewed, tmp_path):
    """chunks and chunk_size say how the run was cut (memory limit, engine): a review in
    chunks reproduces against the recomputation's one chunk."""
    bundle, _ = reviewed
    out2 = tmp_path / "chunked"
    run_review(bundle, out2, default_library(), ReviewOptions(quiet=True, chunk_size=25))
    summary = json.loads((out2 / "summary.json").read_text())
    assert summary["chunks"] > 1
    assert reproduce_review(out2, bundle)[1] == []
    # the packs the chunks' results were assessed by, merged: as the rows carry them
    rows = pq.read_table(out2 / "results.parquet").to_pylist()
    packs = {(r["policy_id"], r["policy_digest"]) for r in rows}
    assert summary["by_policy"] == {
        pack: {"policy_digest": digest, "assessed": sum(r["policy_id"] == pack for r in rows)}
        for pack, digest in sorted(packs)
    }
    assert len(packs) > 1 and summary["engine_version"] == rows[0]["engine_version"]


def test_a_review_from_before_the_summary_named_its_packs_reproduces(reviewed, tmp_path):
    """summary.json gained by_policy (and rejected_previously_paid before it): a review
    made before has none and still reproduces; one that has them is checked."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    summary = json.loads((out2 / "summary.json").read_text())
    for key in ("by_policy", "engine_version", "rejected_previously_paid"):
        del summary[key]
    (out2 / "summary.json").write_text(json.dumps(summary))
    assert reproduce_review(out2, bundle)[1] == []


def test_notes_in_an_earlier_engine_s_words_still_reproduce(reviewed, tmp_path):
    """summary.json's ingest_notes are the engine's own sentences: a later engine may
    word them otherwise, and a review made by an earlier one still reproduces. The same
    engine's notes are compared (an edit is caught: tests/test_ingest.py)."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    summary = json.loads((out2 / "summary.json").read_text())
    summary |= {"engine_version": "meanstest 0.0.9", "ingest_notes": ["note: in other words"]}
    (out2 / "summary.json").write_text(json.dumps(summary))
    assert reproduce_review(out2, bundle)[1] == []
    summary["engine_version"] = json.loads((out / "summary.json").read_text())["engine_version"]
    (out2 / "summary.json").write_text(json.dumps(summary))
    (found,) = reproduce_review(out2, bundle)[1]
    assert "ingest_notes" in str(found)


def test_a_bundle_edit_that_moves_only_run_counts_is_caught(reviewed, tmp_path):
    """A bank row of someone nobody is, and a member of a household that does not exist,
    change no household's result, only summary.json's counts of them."""
    bundle, out = reviewed
    tables = read_bundle(bundle)
    bank = tables["bank"].to_pylist()
    bank.append(bank[0] | {"record_id": "BANKX", "person_id": "150422199001010000"})
    tables["bank"] = pa.Table.from_pylist(bank, schema=tables["bank"].schema)
    persons = tables["persons"].to_pylist()
    persons.append(persons[0] | {"household_id": "NO-SUCH-HOUSEHOLD"})
    tables["persons"] = pa.Table.from_pylist(persons, schema=tables["persons"].schema)
    edited = tmp_path / "bundle"
    write_bundle(tables, edited)
    _, problems, _ = reproduce_review(out, edited)
    keys = {p.columns[0] for p in problems if p.household_id == "summary.json"}
    assert {"unmatched_source_rows", "orphan_rows"} <= keys
    assert "unmatched_source_rows is " in "".join(str(p) for p in problems)


def test_an_edited_input_digest_shows_both_digests_and_every_other_change(reviewed, tmp_path):
    """A changed input_digest hid a benefit changed with it: every differing column is
    listed, with the stored and recomputed values."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")

    def edit(t):
        rows = t.to_pylist()
        rows[4]["input_digest"] = "0" * 64
        rows[4]["benefit"] += 50_000
        return pa.Table.from_pylist(rows, schema=t.schema)

    results = _rewrite(out2, "results", edit)
    hid, benefit = results["household_id"][4].as_py(), results["benefit"][4].as_py()
    _, problems, _ = reproduce_review(out2, bundle)
    p = next(p for p in problems if p.household_id == hid)
    assert p.kind == "input changed" and set(p.columns) == {"benefit", "input_digest"}
    assert f"benefit: {benefit + 50_000} → {benefit}" in str(p)
    assert "input_digest: 000000000000… → " in str(p)


def test_a_changed_pack_says_so_with_a_hint(reviewed, tmp_path):
    bundle, out = reviewed
    lib = _copy(default_library().path, tmp_path / "policies")
    pack = lib / "150422-2024.toml"
    text = pack.read_text(encoding="utf-8").replace("dibao_rural = 57000", "dibao_rural = 57100")
    pack.write_text(text, encoding="utf-8")
    _, problems, _ = reproduce_review(out, bundle, load_library(lib))
    changed = [p for p in problems if p.kind == "policy changed"]
    assert changed and all("policy_digest: " in str(p) for p in changed)
    assert "give them with --policies" in str(changed[0])


def test_a_pack_the_recomputation_did_not_use_is_named_as_the_recomputations_lack(
    reviewed, tmp_path
):
    """A blind two-year review reproduced with the library lacking its new pack and read
    "by_policy.<id>.assessed is N; a review's summary has no such value" as if the
    stored summary.json lacked it: the recomputation is what gives no such value."""
    bundle, out = reviewed
    lib = _copy(default_library().path, tmp_path / "policies")
    for pack in ("150422-2024.toml", "150422-2025.toml"):  # (-2025 extends -2024)
        (lib / pack).unlink()  # their households fall back to 150400-2024
    _, problems, _ = reproduce_review(out, bundle, load_library(lib))
    lines = [str(p) for p in problems if p.household_id == "summary.json"]
    assert any(
        re.search(r"by_policy\.150422-2024\.assessed is \d+; the recomputation gives none", x)
        for x in lines
    ), lines


@pytest.mark.parametrize("gone", ["findings.parquet", "rejects.parquet", "summary.json"])
def test_a_review_folder_missing_an_output_is_refused(reviewed, tmp_path, gone, capsys):
    """README: a review stopped midway leaves an incomplete folder that reproduce refuses.
    Without findings.parquet it reproduced clean, without summary.json too, and without
    rejects.parquet it listed every reject as missing (an auditor's blind check)."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    (out2 / gone).unlink()
    with pytest.raises(MeansTestError, match=f"not a complete review output folder .no {gone}"):
        reproduce_review(out2, bundle)
    assert main(["reproduce", str(out2), "--bundle", str(bundle)]) == 2  # not reproduced
    # a finished review whose file was removed since reads as such too (a blind audit)
    assert "and so does a file removed since the review: run the review again" in (
        capsys.readouterr().err
    )


def test_change_lists_are_checked_against_the_results(reviewed, tmp_path):
    """A row removed from a change list, or one whose values differ from its results
    row, is a discrepancy of its household (they went unnoticed: an auditor's check)."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    new = pq.read_table(out2 / "changes_new.parquet")
    assert new.num_rows >= 2
    first, second = new["household_id"][0].as_py(), new["household_id"][1].as_py()
    prev = new["prev_benefit"].to_pylist()
    prev[1] += 1
    new = new.set_column(new.schema.get_field_index("prev_benefit"), "prev_benefit",
                         pa.array(prev, pa.int64())).slice(1)  # fmt: skip
    pq.write_table(new, out2 / "changes_new.parquet")
    _, problems, _ = reproduce_review(out2, bundle)
    assert [(p.household_id, p.kind, p.values) for p in problems] == [
        (first, "missing from changes_new (its transition is NEW)", []),
        (second, "changes_new row differs from its results row",
         [(f"prev_benefit: {prev[1]} in changes_new, {prev[1] - 1} in the bundle's "
           "households row")]),
    ]  # fmt: skip


def test_reject_reasons_and_spaces_are_shown(reviewed, tmp_path):
    """A changed reject reason shows both reasons, and a text that differs only in spaces
    is shown quoted (it printed two strings that looked the same)."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    rejects = pq.read_table(out2 / "rejects.parquet")
    reasons = rejects["reasons"].to_pylist()
    reasons[0] = [reasons[0][0] + " "]
    rejects = rejects.set_column(rejects.schema.get_field_index("reasons"), "reasons",
                                 pa.array(reasons, rejects.schema.field("reasons").type))  # fmt: skip
    pq.write_table(rejects, out2 / "rejects.parquet")
    findings = pq.read_table(out2 / "findings.parquet")
    detail = findings["detail"].to_pylist()
    detail[0] += " "
    findings = findings.set_column(findings.schema.get_field_index("detail"), "detail",
                                   pa.array(detail, pa.string()))  # fmt: skip
    pq.write_table(findings, out2 / "findings.parquet")
    _, problems, _ = reproduce_review(out2, bundle)
    text = "\n".join(map(str, problems))
    assert f"reject reasons differ (reasons: {reasons[0][0]!r} → " in text
    assert repr(detail[0]) in text


def test_reject_reasons_that_differ_read_as_text(reviewed, tmp_path):
    """They were printed as Python tuples: `reasons: [('x',)] → [('…',)]`."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    rejects = _rewrite(out2, "rejects", lambda t: t.set_column(
        t.schema.get_field_index("reasons"), "reasons",
        pa.array([["x"]] + t["reasons"].to_pylist()[1:], t.schema.field("reasons").type),
    ))  # fmt: skip
    hid = rejects["household_id"][0].as_py()
    _, problems, _ = reproduce_review(out2, bundle)
    p = next(p for p in problems if p.household_id == hid)
    now = pq.read_table(out / "rejects.parquet")["reasons"][0].as_py()
    assert str(p) == f"{hid}: reject reasons differ (reasons: x → {'; '.join(now)})"


def test_swapped_input_digests_are_not_blamed_on_the_bundle(reviewed, tmp_path):
    """Two results rows' input_digest swapped: the message said the input changed, and
    the bundle had not; it now says whose rows the stored digest is of."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")

    def swap(t):
        rows = t.to_pylist()
        rows[1]["input_digest"], rows[2]["input_digest"] = (
            rows[2]["input_digest"], rows[1]["input_digest"],
        )  # fmt: skip
        return pa.Table.from_pylist(rows, schema=t.schema)

    results = _rewrite(out2, "results", swap)
    a, b = results["household_id"][1].as_py(), results["household_id"][2].as_py()
    found = {p.household_id: str(p) for p in reproduce_review(out2, bundle)[1]}
    assert f"the stored input_digest is that of {b}'s rows in the bundle" in found[a]
    assert f"the stored input_digest is that of {a}'s rows in the bundle" in found[b]
    edited = _copy(out, tmp_path / "edited")  # a digest nobody's: either side may have changed
    results = _rewrite(edited, "results", lambda t: t.set_column(
        t.schema.get_field_index("input_digest"), "input_digest",
        pa.array(["0" * 64] * 2 + t["input_digest"].to_pylist()[2:], pa.string()),
    ))  # fmt: skip
    found = {p.household_id: str(p) for p in reproduce_review(edited, bundle)[1]}
    for row in (0, 1):  # not the first row's either (a sweep: only row 0 was edited)
        said = found[results["household_id"][row].as_py()]
        assert "or the stored input_digest, changed since the review" in said
        assert "the stored input_digest is that of" not in said


@pytest.mark.parametrize("side", ["made up", "left out"])
def test_findings_made_up_or_left_out_of_an_assessed_household_are_discrepancies(
    reviewed, tmp_path, side
):
    """A finding added to an assessed household that has none, or a household's
    findings deleted: either side empty, the other not (a sweep: comparing an empty side
    with [] passed both as the same)."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    findings = pq.read_table(out2 / "findings.parquet")
    results = pq.read_table(out2 / "results.parquet")
    if side == "made up":
        listed = set(findings["household_id"].to_pylist())
        hid = next(h for h in results["household_id"].to_pylist() if h not in listed)
        one = findings.slice(0, 1).set_column(0, "household_id", pa.array([hid], pa.string()))
        findings = pa.concat_tables([findings, one])
    else:
        hid = findings["household_id"][0].as_py()
        findings = findings.filter(pc.not_equal(findings["household_id"], hid))
    pq.write_table(findings, out2 / "findings.parquet")
    problems = [p for p in reproduce_review(out2, bundle)[1] if p.household_id == hid]
    assert [p.kind for p in problems] == ["result differs"] and "findings" in problems[0].columns


def test_a_change_list_row_without_its_results_row_says_so(reviewed, tmp_path):
    """A results row deleted: its change-list row was 'in changes_x, but its transition is
    not X', of a household with no results row at all."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    listed = pq.read_table(next(out2.glob("changes_*.parquet")))
    hid = listed["household_id"][0].as_py()
    _rewrite(out2, "results", lambda t: t.filter(pc.not_equal(t["household_id"], hid)))
    found = [str(p) for p in reproduce_review(out2, bundle)[1] if p.household_id == hid]
    assert any(": in changes_" in f and "the review has no results row of it" in f for f in found)
    assert f"{hid}: not in the review" in found


def test_a_household_gone_from_the_bundle_is_not_a_change_list_difference(reviewed, tmp_path):
    """Its change-list row was said to differ in prev_status ('None in the bundle's
    households row'); the household is reported once as missing from the bundle."""
    bundle, out = reviewed
    listed = pq.read_table(next(out.glob("changes_*.parquet")))
    hid = listed["household_id"][0].as_py()
    tables = read_bundle(bundle)
    tables["households"] = tables["households"].filter(
        pc.not_equal(tables["households"]["household_id"], hid)
    )
    edited = tmp_path / "bundle"
    write_bundle(tables, edited)
    found = [str(p) for p in reproduce_review(out, edited)[1] if p.household_id == hid]
    assert found == [f"{hid}: not assessed now: missing from the bundle"]


def test_a_household_not_assessed_now_says_why(reviewed, tmp_path):
    """A review reproduced without its packs listed every household "not assessed now
    (rejected or missing from the bundle)"; the cause, no policy pack, was only inside a
    reject's diff (a county IT officer's blind check). Now the reasons are said, with
    the pack the review used and --policies."""
    bundle, out = reviewed
    lib = tmp_path / "policies"
    lib.mkdir()
    base = (Path(default_library().path) / "150000-2024.toml").read_text(encoding="utf-8")
    (lib / "310000-2024.toml").write_text(base.replace("150000", "310000"), encoding="utf-8")
    _, problems, _ = reproduce_review(out, bundle, load_library(lib))
    stored = {r["household_id"]: r["policy_id"] for r in _results(out).to_pylist()}
    gone = [p for p in problems if p.kind.startswith("not assessed now")]
    assert {p.household_id for p in gone} == set(stored)
    one = gone[0]
    assert "rejected (" in one.kind and "no policy pack" in one.kind
    assert f"the review used {stored[one.household_id]}: give its packs with --policies" in one.kind


def test_the_paid_households_rejected_in_the_summary_are_checked(reviewed, tmp_path):
    """summary.json's rejected_previously_paid is printed by the report; an edited one
    reproduced clean (a review of the 2026-12-05 changes). It is checked against the
    stored rejects and the bundle."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    summary = json.loads((out2 / "summary.json").read_text("utf-8"))
    paid = summary["rejected_previously_paid"]
    assert paid["households"] > 0
    summary["rejected_previously_paid"] = paid | {"households": 999, "prev_benefit": 123456789}
    (out2 / "summary.json").write_text(json.dumps(summary), "utf-8")
    _, problems, _ = reproduce_review(out2, bundle)
    assert [p.columns for p in problems] == [
        ["rejected_previously_paid.households"],
        ["rejected_previously_paid.prev_benefit"],
    ]
    assert f"households is 999; the stored rejects and the bundle give {paid['households']}" in (
        problems[0].kind
    )
    # a list says which ids differ (the 50-id list was printed twice, whole, on one line)
    ids = paid["first_household_ids"]
    summary["rejected_previously_paid"] = paid | {"first_household_ids": [*ids[1:], "HH-FAKE"]}
    (out2 / "summary.json").write_text(json.dumps(summary), "utf-8")
    (p,) = reproduce_review(out2, bundle)[1]
    assert p.kind == (
        "rejected_previously_paid.first_household_ids lists HH-FAKE, which the stored rejects "
        f"and the bundle do not; lacks {ids[0]}, which the stored rejects and the bundle give"
    )


# Chunked comparison -------------------------------------------------------------------------


def _tamper(out, dst, draw) -> None:
    """A copy of the review folder with random edits a tampering hand or a bug makes:
    rows changed, dropped, stored twice or reordered, in every output table."""
    import random

    shutil.copytree(out, dst)
    rng = random.Random(draw(st.integers(0, 2**32)))

    def edit(name, how):
        path = dst / f"{name}.parquet"
        rows = pq.read_table(path).to_pylist()
        if rows:
            how(rows)
            pq.write_table(pa.Table.from_pylist(rows, pq.read_schema(path)), path)

    def results(rows):
        for _ in range(draw(st.integers(0, 4))):
            i = rng.randrange(len(rows))
            what = rng.choice(("benefit", "rank", "status", "drop", "twice", "digest"))
            if what == "benefit":
                rows[i]["benefit"] += 1
            elif what == "rank":
                rows[i]["rank"] += 1
            elif what == "status":
                rows[i]["status"] = "NOT_ELIGIBLE"
            elif what == "digest":
                rows[i]["input_digest"] = "0" * 64
            elif what == "drop" and len(rows) > 1:
                rows.pop(i)
            else:
                rows.append(dict(rows[i]))
        if draw(st.booleans()):
            rng.shuffle(rows)

    def some_rows(rows):
        for _ in range(draw(st.integers(0, 3))):
            i = rng.randrange(len(rows))
            if rng.random() < 0.5 and len(rows) > 1:
                rows.pop(i)
            else:
                rows.append(dict(rows[i]))

    edit("results", results)
    for name in ("members", "findings", "rejects", "changes_new", "changes_exit"):
        if draw(st.booleans()):
            edit(name, some_rows)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), chunk=st.integers(1, 60))
def test_a_review_compared_in_chunks_lists_what_one_comparison_lists(
    reviewed, tmp_path_factory, data, chunk
):
    """reproduce compares a review `chunk` households at a time (a 1M review held every
    row as a Python dict: 17.7 GiB): on randomly tampered folders it finds the same
    discrepancies, in the same order, rank changes and count as one comparison of all."""
    bundle, out = reviewed
    tampered = tmp_path_factory.mktemp("tampered") / "out"
    _tamper(out, tampered, data.draw)
    tables = read_bundle(bundle, households=True)
    whole = reproduce_review(tampered, tables, chunk=10**9)
    assert reproduce_review(tampered, tables, chunk=chunk) == whole


def test_a_bundle_folder_and_its_tables_reproduce_alike(reviewed, tmp_path):
    """A folder is recomputed by a reference review (chunks, memory limit, progress),
    tables by `assess`: on a tampered review both find the same."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    results = pq.read_table(out2 / "results.parquet").to_pylist()
    results[5]["benefit"] += 7
    results.append(dict(results[9]))
    pq.write_table(
        pa.Table.from_pylist(results, pq.read_schema(out / "results.parquet")),
        out2 / "results.parquet",
    )
    from_folder = reproduce_review(out2, bundle, chunk=13)
    assert from_folder == reproduce_review(out2, read_bundle(bundle, households=True))
    kinds = {(p.household_id, p.kind) for p in from_folder[1]}
    assert (results[5]["household_id"], "result differs") in kinds
    assert (results[9]["household_id"], "in the results 2 times") in kinds


def test_reproduce_says_what_it_is_doing(reviewed, capsys):
    """Minutes long at 1M households, reproduce said nothing until it ended: it now says
    it recomputes, shows the review's progress, then the comparison's."""
    bundle, out = reviewed
    assert main(["reproduce", str(out), "--bundle", str(bundle)]) == 0
    err = capsys.readouterr().err
    assert "recomputing every household with the reference calculator" in err
    ids = {*_results(out)["household_id"].to_pylist()}
    ids |= {*pq.read_table(out / "rejects.parquet")["household_id"].to_pylist()}
    assert f"{len(ids):,}/{len(ids):,} households compared" in err


def test_a_comparison_chunk_below_one_is_refused(reviewed):
    bundle, out = reviewed
    with pytest.raises(MeansTestError, match="at least 1 household"):
        reproduce_review(out, bundle, chunk=0)


def test_results_without_a_rank_column_are_one_discrepancy_not_a_crash(reviewed, tmp_path):
    """An edited results file without `rank`: one discrepancy naming the file and the
    column, the other columns still compared (the chunked comparison's ranking check
    raised KeyError, a reviewer; then every household was "rank: None → its rank", 290
    lines for one dropped column, a blind audit)."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    results = pq.read_table(out2 / "results.parquet")
    pq.write_table(results.drop_columns(["rank"]), out2 / "results.parquet")
    ok, problems, moved = reproduce_review(out2, bundle)
    assert (ok, moved) == (results.num_rows, [])
    assert [str(p) for p in problems] == ["results.parquet: no column rank, which a review writes"]


def test_a_members_file_rewritten_with_other_types_is_a_discrepancy(reviewed, tmp_path):
    """members.age written as float64 (30.0 for 30): the file is not the one the review
    wrote. Python's == took 30.0 for 30 and reproduced every household (a reviewer);
    then every household was "result differs (members: <person> )", naming no column (a
    blind audit). Now: one discrepancy naming file, column and both types, and the
    values compared in the review's type (an age that also differs still shows)."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    members = pq.read_table(out2 / "members.parquet")
    at = members.schema.get_field_index("age")
    ages = pc.add(
        members["age"].cast(pa.float64()), pa.array([1.0] + [0.0] * (members.num_rows - 1))
    )
    pq.write_table(members.set_column(at, "age", ages), out2 / "members.parquet")
    ok, problems, _ = reproduce_review(out2, bundle)
    first = members.slice(0, 1).to_pylist()[0]
    assert str(problems[0]) == (
        f"members.parquet: column age: double where a review writes {members['age'].type} "
        "(the file was rewritten since the review)"
    )
    assert [(p.household_id, p.values) for p in problems[1:]] == [
        (
            first["household_id"],
            [f"members: {first['person_id']} age: {first['age'] + 1} → {first['age']}"],
        )
    ]
    assert ok == len(set(members["household_id"].to_pylist())) - 1


def test_a_results_file_rewritten_with_text_amounts_is_a_discrepancy(reviewed, tmp_path):
    """results.benefit rewritten as text: summary.json's check summed it and ended the
    recomputation in Arrow's "Function 'sum' has no kernel matching input types
    (string)"; it is one discrepancy naming the file and column, and the amounts are
    compared as the review wrote them (a blind audit found a float64 benefit reproduced
    as clean, which `report` refused)."""
    bundle, out = reviewed
    for kind in (pa.string(), pa.float64(), pa.decimal128(21, 2)):
        out2 = _copy(out, tmp_path / f"out-{kind}")
        results = pq.read_table(out2 / "results.parquet")
        at = results.schema.get_field_index("benefit")
        pq.write_table(
            results.set_column(at, "benefit", results["benefit"].cast(kind)),
            out2 / "results.parquet",
        )
        ok, problems, _ = reproduce_review(out2, bundle)
        assert [str(p) for p in problems] == [
            (
                f"results.parquet: column benefit: {kind} where a review writes int64 (the "
                "file was rewritten since the review)"
            )
        ]
        assert ok == results.num_rows


def test_rows_of_a_household_the_review_did_not_assess_are_discrepancies(reviewed, tmp_path):
    """A members or findings row copied under a household with no results row (made up,
    rejected, or null) reproduced with 0 discrepancies, and the report counted the made-up
    finding (a blind audit)."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    rejected = pq.read_table(out2 / "rejects.parquet")["household_id"][0].as_py()
    members = pq.read_table(out2 / "members.parquet")
    row = members.slice(0, 1)
    fake = row.set_column(0, "household_id", pa.array(["HHFAKE"], pa.string()))
    pq.write_table(pa.concat_tables([members, fake]), out2 / "members.parquet")
    findings = pq.read_table(out2 / "findings.parquet")
    one = findings.slice(0, 1)
    extra = [
        one.set_column(0, "household_id", pa.array([h], pa.string())) for h in (rejected, None)
    ]
    pq.write_table(pa.concat_tables([findings, *extra]), out2 / "findings.parquet")
    ok, problems, _ = reproduce_review(out2, bundle)
    assert sorted((str(p.household_id), p.kind) for p in problems) == sorted(
        [
            ("HHFAKE", "1 members row, but the review has no results row of it"),
            (rejected, "1 findings row, but the review has no results row of it"),
            ("None", "1 findings row, but the review has no results row of it"),
        ]
    )
    assert ok == pq.read_table(out / "results.parquet").num_rows


def test_values_that_differ_in_type_alone_are_shown_with_their_types(reviewed, tmp_path):
    """A change list whose benefit was rewritten as text: each row was reported as
    "benefit: 49100 in changes_new, 49100 in results", two values that read the same."""
    bundle, out = reviewed
    out2 = _copy(out, tmp_path / "out")
    changes = pq.read_table(out2 / "changes_new.parquet")
    assert changes.num_rows
    at = changes.schema.get_field_index("benefit")
    text = changes["benefit"].cast(pa.string())
    pq.write_table(changes.set_column(at, "benefit", text), out2 / "changes_new.parquet")
    _, problems, _ = reproduce_review(out2, bundle)
    listed = [p for p in problems if "changes_new row differs" in str(p)]
    assert len(listed) == changes.num_rows
    first = changes.slice(0, 1).to_pylist()[0]
    said = (
        f"benefit: '{first['benefit']}' (str) in changes_new, {first['benefit']} (int) in results"
    )
    assert any(said in str(p) for p in listed)


def test_reproduce_takes_the_review_s_memory_limit(reviewed, capsys, monkeypatch):
    """The recomputation is a review: --memory-limit sets its chunks, as the review's
    does (a dying reference worker's error tells the auditor to lower it; reproduce had
    no such option). 0 GiB: chunk by chunk, and still every household reproduces."""
    import meanstest.review as review_module

    bundle, out = reviewed
    seen = []
    real = review_module.run_review

    def spy(bundle, out, library, options=None):
        seen.append(options)
        return real(bundle, out, library, options)

    monkeypatch.setattr(review_module, "run_review", spy)
    args = ["reproduce", str(out), "--bundle", str(bundle), "--memory-limit", "0"]
    assert main(args) == 0
    assert [(o.engine, o.memory_limit) for o in seen] == [("reference", 0)]
    assert "0 discrepancies" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["reproduce", str(out), "--bundle", str(bundle), "--memory-limit", "-1"])
    assert e.value.code == 2
    assert "'-1' is not a number of GiB (0 or more)" in capsys.readouterr().err


def test_ranks_of_rows_without_their_keys_are_not_consistent():
    """A stored results table ranks its rows only when each has a difficulty index and
    a household ID (a sweep: a null in one key alone was untested)."""
    from meanstest.reproduce.rows import ranks_consistent

    base = {"household_id": ["A", "B"], "difficulty_index": [20, 10], "rank": [1, 2]}
    assert ranks_consistent(pa.table(base))
    for key in ("household_id", "difficulty_index"):
        values = list(base[key])
        values[1] = None
        assert not ranks_consistent(pa.table({**base, key: values}))


def test_a_difference_of_a_list_and_a_value_reads_as_both():
    """summary.json's value and the recomputed one, one a list and one not, are both
    shown as they are (a sweep: it was read as two lists)."""
    from meanstest.reproduce.summary import _difference

    assert _difference("k", [1], 5) == "k is [1]; the recomputation gives 5"
    assert _difference("k", 5, [1]) == "k is 5; the recomputation gives [1]"
