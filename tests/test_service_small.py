"""The small-call path (issue 13) gives the bulk path's answers, value for value.

For one household (and a few at once): results, members and findings, the reject
reasons in their order, conversion rejects, the input digests, the journal section and
the response bytes — on random households from tests/strategies.py under every extreme
pack, on synthetic districts with bad households, and on households built field by
field from the message descriptors (anything at all). Calls the small path declines
(a person in two households, no household_id) go to the bulk path.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import strategies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_digest import naive_digest
from test_fuzz_proto import messages

from meanstest import assess, synth
from meanstest.conform import conform_tables
from meanstest.policy import PolicyLibrary, default_library
from meanstest.service import convert, small
from meanstest.service.bulk import pipeline_tables
from meanstest.service.journal import households_section
from meanstest.service.small_engine import PackCache
from meanstest.v1 import meanstest_pb2 as pb

LIBRARY = default_library()


def bulk(households, library):
    """What the server answers through the bulk path: response bytes, journal section."""
    conv = convert.households_to_tables(households)
    out, unmatched = pipeline_tables(conv.tables, library, "fast", None, conv.unreadable)
    body = convert.outputs_to_response(out, unmatched).SerializeToString(deterministic=True)
    return body, households_section(out["results"], out["members"], out["rejects"])


def check_same(households, library, cache=None) -> bool:
    """Small path == bulk path; False when the small path declined the call."""
    answer = small.assess(households, library, cache or PackCache())
    if answer is None:
        return False
    body, section = bulk(households, library)
    mine = small.response(answer).SerializeToString(deterministic=True)
    if mine != body:  # show the difference table by table
        got = convert.response_to_tables(pb.AssessResponse.FromString(mine))
        want = convert.response_to_tables(pb.AssessResponse.FromString(body))
        for name in want:
            assert got[name].to_pylist() == want[name].to_pylist(), name
    assert mine == body
    assert small.journal_section(answer) == section
    return True


def library_for(pack) -> tuple[PolicyLibrary, str]:
    """A library holding `pack` for one jurisdiction, in force for every test date."""
    code = "150422"
    moved = dataclasses.replace(pack, jurisdiction=code, effective_from=dt.date(2000, 1, 1))
    return PolicyLibrary([moved]), code


def bundle_messages(inp, code: str) -> list[pb.Household]:
    hh = inp.households
    hh = hh.set_column(
        hh.schema.get_field_index("jurisdiction"),
        "jurisdiction",
        pa.array([code] * hh.num_rows, pa.string()),
    )
    tables = {"households": hh, "persons": inp.persons, "supporters": inp.supporters}
    return convert.tables_to_households(tables | inp.sources)


@pytest.mark.parametrize("pack_index", range(len(strategies.packs())))
def test_random_households_under_every_pack(pack_index):
    pack = strategies.packs()[pack_index]
    library, code = library_for(pack)
    cache = PackCache()
    for seed in range(3):
        inp = strategies.random_input(seed, [pack], n_households=12)
        msgs = bundle_messages(inp, code)
        answered = sum(check_same([m], library, cache) for m in msgs)
        assert answered == len(msgs)  # a single household is never declined
        for i in range(0, len(msgs), 4):
            check_same(msgs[i : i + 4], library, cache)


@pytest.mark.parametrize("seed", [1, 2])
def test_bad_households_get_the_bulk_reasons_in_order(seed):
    tables = synth.generate(150, seed=seed, bad_fraction=0.6)
    msgs = convert.tables_to_households(tables)
    cache = PackCache()
    assert sum(check_same([m], LIBRARY, cache) for m in msgs) == len(msgs)
    for i in range(0, len(msgs), 5):
        check_same(msgs[i : i + 5], LIBRARY, cache)


def test_edited_values_are_rejected_as_in_bulk():
    """Each kind of bad value in turn, on a valid household (conversion and validation)."""
    base = convert.tables_to_households(synth.generate(4, seed=3))[0]
    # a value that does not fit its bundle type: the small path hands the call to the
    # bulk path (check_same is False), which lists it beside the other reasons
    unfit = {"2024-02-30", "2024/07/01", 300, "1970-13-01"}
    edits = [
        ("assessment_date", "2024-02-30"),
        ("assessment_date", "2024/07/01"),
        ("jurisdiction", "15042"),
        ("jurisdiction", "999999"),
        ("area", "suburb"),
        ("prev_benefit", -1),
        ("declared_vehicles", -2),
        ("household_id", "HH\t1"),
    ]
    for field, value in edits:
        h = pb.Household()
        h.CopyFrom(base)
        setattr(h, field, value)
        assert check_same([h], LIBRARY) is (value not in unfit)
    for table, field, value in [
        ("persons", "health", 300),
        ("persons", "health", 9),
        ("persons", "birth_date", "1970-13-01"),
        ("persons", "person_id", "15042219700101123x"),
        ("persons", "relation", None),
        ("supporters", "supported_count", 0),
    ]:
        h = pb.Household()
        h.CopyFrom(base)
        rows = getattr(h, table)
        if not len(rows):
            rows.add(supporter_id="150422197001011232", birth_date="1970-01-01")
        if value is None:
            rows[0].ClearField(field)
        else:
            setattr(rows[0], field, value)
        assert check_same([h], LIBRARY) is (value not in unfit)
    h = pb.Household()
    h.CopyFrom(base)
    h.persons.add().CopyFrom(h.persons[0])  # the same person twice
    h.current_programs.names.extend(["", "nonexistent", "nonexistent"])
    h.ClearField("area")
    assert check_same([h], LIBRARY)
    h = pb.Household()
    h.CopyFrom(base)
    del h.persons[:]
    assert check_same([h], LIBRARY)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(st.lists(messages(pb.Household.DESCRIPTOR), min_size=1, max_size=3))
def test_any_households_get_the_bulk_answer(households):
    check_same(households, LIBRARY)


def test_a_record_twice_in_a_household_counts_twice_as_in_the_bundle():
    """A wage row twice in a bundle counts twice; the small path (and the bulk path it
    is compared with) used to keep rows equal in every column once, so a call answered
    otherwise than `meanstest.assess` of the same rows."""
    tables = synth.generate(40, seed=3)
    tax = tables["tax_income"]
    row = tax.slice(0, 1)
    tables["tax_income"] = pa.concat_tables([tax, row])
    pid = row["person_id"][0].as_py()
    persons = tables["persons"]
    home = persons.filter(pc.equal(persons["person_id"], pid))["household_id"][0]
    want = assess(tables).tables()["results"]
    hid = home.as_py()
    [expected] = [r for r in want.to_pylist() if r["household_id"] == hid]
    [h] = [m for m in convert.tables_to_households(tables) if m.household_id == hid]
    assert [t.record_id for t in h.tax_income].count(row["record_id"][0].as_py()) == 2
    assert check_same([h], LIBRARY)
    [got] = small.assess([h], LIBRARY, PackCache()).results
    for key in ("gross_income", "net_income", "pci", "status", "benefit", "input_digest"):
        assert got[key] == expected[key], key


def test_declined_calls():
    msgs = convert.tables_to_households(synth.generate(4, seed=5))
    twice = pb.Household()
    twice.CopyFrom(msgs[1])
    twice.persons[0].person_id = msgs[0].persons[0].person_id
    assert small.assess([msgs[0], twice], LIBRARY, PackCache()) is None
    anonymous = pb.Household()
    anonymous.CopyFrom(msgs[0])
    anonymous.ClearField("household_id")
    assert small.assess([anonymous], LIBRARY, PackCache()) is None
    same_id = [msgs[0], msgs[0]]
    assert small.assess(same_id, LIBRARY, PackCache()) is None
    many = convert.tables_to_households(synth.generate(small.MAX_HOUSEHOLDS + 1, seed=6))
    assert small.assess(many, LIBRARY, PackCache()) is None
    assert small.assess(many[:-1], LIBRARY, PackCache()) is not None
    # a pack of more programs than the kernels hold (fast.run gives them to the reference)
    params = copy.deepcopy(LIBRARY.packs[0].params)
    params["programs"] = {"p" + "a" * i: {"statuses": [], "requires": "any"} for i in range(63)}
    wide = PolicyLibrary([dataclasses.replace(LIBRARY.packs[0], params=params)])
    plain = pb.Household()
    plain.CopyFrom(msgs[0])
    plain.ClearField("current_programs")  # names of the default pack's programs
    assert small.assess([plain], LIBRARY, PackCache()).results  # assessed, not rejected
    assert small.assess([plain], wide, PackCache()) is None


@pytest.mark.parametrize("seed", [9, 10, 11])
def test_input_digest_text_is_the_documented_one(seed):
    """The small path's input_digest is docs/digests.md's: the auditor's script
    (test_digest.py) over the same household's rows gives the same hex digest. (It was
    only checked to be 64 hex digits long.)"""
    tables = conform_tables(synth.generate(1, seed=seed))
    h = convert.tables_to_households(tables)[0]
    (result,) = small.assess([h], LIBRARY, PackCache()).results
    assert result["input_digest"] == naive_digest(result["household_id"], tables)
    assert small.text(None) == "\\N" and small.text(True) == "true"
    assert small.text("a\tb\\c\nd\re") == "a\\tb\\\\c\\nd\\re"
    assert small.text(["x,y", None]) == "x,y,\\N"
    assert small.text(dt.date(2024, 7, 1)) == "2024-07-01"
