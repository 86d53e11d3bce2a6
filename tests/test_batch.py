"""meanstest.batch: the one assessment step of the CLI, the review and Spark, and the
counts (Tally) that every front end merges into summary.json."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pytest

from meanstest import synth
from meanstest.batch import Tally, assess_batch, reason_rule
from meanstest.policy import default_library
from meanstest.review.in_memory import _chunks_in_memory as chunks_in_memory


@pytest.fixture(scope="module")
def tables():
    return synth.generate(240, seed=41, bad_fraction=0.08)


@pytest.fixture(scope="module")
def whole(tables):
    return assess_batch(tables, default_library())


def test_tally_counts_the_batch(whole):
    t = whole.tally
    results = whole.results
    assert t.households_read == t.assessed + t.rejected == 240
    assert t.rejected == whole.rejects.num_rows > 0
    assert t.by_status == Counter(results["status"].to_pylist())
    assert t.total_monthly_benefit == sum(results["benefit"].to_pylist())
    assert sum(v["households"] for v in t.by_jurisdiction.values()) == 240
    assert sum(v["assessed"] for v in t.by_jurisdiction.values()) == t.assessed
    vetoes = Counter(v for vs in results["vetoes"].to_pylist() for v in vs)
    assert t.by_veto == vetoes


def test_tally_survives_json(whole):
    again = Tally.from_json(whole.tally.to_json())
    assert again == whole.tally
    assert isinstance(again.by_status, Counter)


@pytest.mark.parametrize("chunk_size", [pytest.param(1, marks=pytest.mark.slow), 13, 100])
def test_tallies_of_chunks_merge_to_the_tally_of_the_whole(tables, whole, chunk_size):
    n_chunks, chunks, total = chunks_in_memory(tables, chunk_size)
    assert n_chunks == -(-240 // chunk_size)
    for part, duplicates, places in chunks:
        batch = assess_batch(part, default_library(), duplicates=duplicates, places=places)
        total = total.merge(batch.tally)
    assert total == whole.tally


def test_merge_is_order_free(tables):
    _, chunks, _ = chunks_in_memory(tables, 60)
    tallies = [assess_batch(p, default_library(), duplicates=d).tally for p, d, _ in chunks]
    forward, backward = Tally(), Tally()
    for t in tallies:
        forward = forward.merge(t)
    for t in reversed(tallies):
        backward = backward.merge(t)
    assert forward == backward


def test_unthreaded_batch_is_identical(tables, whole):
    alone = assess_batch(tables, default_library(), threads=False)
    for name in ("results", "members", "findings", "rejects", "changes"):
        assert getattr(alone, name).equals(getattr(whole, name)), name


@pytest.mark.parametrize("overlap", [False, True])
def test_emit_hands_out_each_table_once_validated_or_assessed(tables, whole, overlap):
    """The review writes rejects, members and findings as `emit` hands them out (before
    the digests are done), and results once the digests are in: the same tables as the
    batch's, rejects first."""
    emitted: list[tuple[str, object]] = []
    batch = assess_batch(
        dict(tables), default_library(), overlap=overlap, emit=lambda n, t: emitted.append((n, t))
    )
    assert [n for n, _ in emitted] == ["rejects", "members", "findings", "results"]
    for name, table in emitted:
        assert table.equals(getattr(whole, name)), name
        assert table.equals(getattr(batch, name)), name


@pytest.mark.parametrize("overlap", [False, True])
def test_a_released_batch_frees_its_id_pass_and_gives_the_same_tables(tables, whole, overlap):
    """`release`: the engine frees the input's ID pass once assembled (350 MB at 1M
    households, held while the output tables are built, where a review peaks); the
    digests, running beside the engine, keep the codes they took first. Same tables."""
    batch = assess_batch(dict(tables), default_library(), overlap=overlap, release=True)
    for name in ("results", "members", "findings", "rejects", "changes"):
        assert getattr(batch, name).equals(getattr(whole, name)), name
    released = batch.engine_input.ids
    assert released.people is None and released.tables == ()
    again = batch.engine_input.id_pass()  # describes no tables now: computed anew, equal codes
    assert again is not released and again.describes(
        batch.engine_input.households,
        batch.engine_input.persons,
        batch.engine_input.supporters,
        batch.engine_input.sources,
    )


def test_the_digests_codes_outlive_a_released_id_pass(tables):
    """The digests on their own thread read codes taken before the engine may release
    the pass: released between, the same digests (else they would read emptied arrays)."""
    from meanstest.pipeline import digest_owners, input_digest_column
    from meanstest.validate import validate

    inp = validate(dict(tables), default_library()).engine_input
    want = input_digest_column(inp)
    owners = digest_owners(inp)
    assert owners is not None
    inp.ids.release()
    assert digest_owners(inp) is None  # the released pass describes nothing
    assert input_digest_column(inp, owners=owners).equals(want)


def test_changes_are_the_households_whose_status_changes(whole):
    transitions = set(whole.changes["transition"].to_pylist())
    assert transitions <= {"NEW", "EXIT", "ADJUST", "PHASE_OUT"}
    expected = sum(
        t in ("NEW", "EXIT", "ADJUST", "PHASE_OUT") for t in whole.results["transition"].to_pylist()
    )
    assert whole.changes.num_rows == expected


def test_reason_rule_drops_the_record_and_the_value():
    assert (
        reason_rule("persons.health record=150422199001011234: health outside 1..6 (9)")
        == "persons.health: health outside 1..6"
    )


def test_rejected_households_that_were_paid_are_counted(tables, whole):
    """summary.json names the rejected households rows that were being paid (prev
    dibao, tekun or phase_out with a previous benefit): a review's report lost them, as
    they are in no transition and no change list (a section chief's blind check)."""
    rejected = set(whole.rejects["household_id"].to_pylist())
    paid = [
        h
        for h in tables["households"].to_pylist()
        if h["household_id"] in rejected
        and h["prev_status"] not in ("none", "low_income")  # null and bad values included
        and (h["prev_benefit"] or 0) > 0
    ]
    assert paid, "the fixture's district should hold such a household"
    got = whole.tally.summary(1, 240)["rejected_previously_paid"]
    assert got == {
        "households": len(paid),
        "prev_benefit": sum(h["prev_benefit"] for h in paid),
        "first_household_ids": sorted(h["household_id"] for h in paid)[:50],
    }


def test_a_rejected_household_whose_previous_status_is_bad_data_may_have_been_paid():
    """A blind test's household paid 784 元 a month with prev_status 'unknown' was rejected
    (for that status) and missing from the list of rejected households that were being
    paid, which an officer works through by hand. A previous benefit above 0 with a
    status that is not none or low_income — null or outside DATA.md's too — is listed."""
    from meanstest.batch import rejected_paid_section

    hh = pa.table({
        "household_id": ["A", "B", "C", "D", "E", "F", "G"],
        "prev_status": ["dibao", "unknown", None, "none", "low_income", "tekun", "phase_out"],
        "prev_benefit": [100, 784, 50, 30, 20, 0, 7],
    })  # fmt: skip
    got = rejected_paid_section(hh, pa.array(["A", "B", "C", "D", "E", "F"]))
    assert got == {"households": 3, "prev_benefit": 934, "first_household_ids": ["A", "B", "C"]}


def test_the_mean_benefit_is_rounded_half_up():
    """RULES.md §0 rounds half up; summary.json's mean benefit was cut (floor): 43,312,000
    fen over 312 households is 138,820.51, shown 1,388.20 元 (a section chief's check)."""
    tally = Tally(total_monthly_benefit=43_312_000, by_status=Counter({"DIBAO": 312}))
    assert tally.summary(1, 312)["mean_monthly_benefit_of_recipients"] == 138_821
    half = Tally(total_monthly_benefit=3, by_status=Counter({"TEKUN": 2}))
    assert half.summary(1, 2)["mean_monthly_benefit_of_recipients"] == 2  # 1.5 → 2
    assert Tally().summary(1, 0)["mean_monthly_benefit_of_recipients"] == 0
