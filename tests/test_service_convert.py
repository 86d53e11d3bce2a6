"""Protobuf ↔ Arrow conversion (meanstest/service/convert.py), without a server."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meanstest import assess, schema, synth
from meanstest.policy import default_library
from meanstest.service import convert
from meanstest.service.bulk import pipeline_tables
from meanstest.service.chunks import chunks_to_tables, table_chunks
from meanstest.service.convert import households_to_tables, tables_to_households


@pytest.fixture(scope="module")
def tables():
    return synth.generate(150, seed=13, bad_fraction=0.1)


def _with_property(msgs):
    return next(h for h in msgs if h.property and h.persons)


def _bulk(conv):
    """The server's bulk answer of a conversion (validation told the cells that did not
    fit)."""
    return pipeline_tables(conv.tables, default_library(), "fast", None, conv.unreadable)[0]


def _reasons(out, household_id) -> list[str]:
    rows = out["rejects"].filter(pc.equal(out["rejects"]["household_id"], household_id))
    return [r for rs in rows["reasons"].to_pylist() for r in rs]


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda h: setattr(h.persons[0], "health", 300), "persons.health record={pid}: does not fit int8 (300)"),
        (lambda h: setattr(h.persons[0], "birth_date", "1970-02-30"), "persons.birth_date record={pid}: not a date YYYY-MM-DD ('1970-02-30')"),
        (lambda h: setattr(h.property[0], "disposed_on", "yesterday"), "property.disposed_on record={rid}: not a date YYYY-MM-DD (person {owner}; 'yesterday')"),
        (lambda h: setattr(h, "assessment_date", "2024-7-1"), "households.assessment_date record={hid}: not a date YYYY-MM-DD ('2024-7-1')"),
    ],
)  # fmt: skip
def test_values_a_bundle_cannot_hold_reject_their_household(tables, edit, reason):
    """The cell arrives as a null and is named for what it held (not as a null); the
    household is rejected with it, the others are answered as before."""
    msgs = tables_to_households(tables)
    h = _with_property(msgs)
    edit(h)
    conv = households_to_tables(msgs)
    want = reason.format(
        pid=h.persons[0].person_id,
        rid=h.property[0].record_id,
        owner=h.property[0].person_id,
        hid=h.household_id,
    )
    assert conv.tables["households"].num_rows == len(msgs)
    [(name, columns)] = conv.unreadable.items()
    [(column, cells)] = columns.items()
    assert want.startswith(f"{name}.{column} ") and len(cells.rows) == 1
    assert conv.tables[name][column][int(cells.rows[0])].as_py() is None
    out = _bulk(conv)
    assert _reasons(out, h.household_id) == [want]
    assert h.household_id not in out["results"]["household_id"].to_pylist()
    before = _bulk(households_to_tables(tables_to_households(tables)))
    others = pc.invert(pc.equal(before["results"]["household_id"], h.household_id))
    rest = before["results"].filter(others).drop_columns(["rank"])  # rank: within the call
    assert out["results"].drop_columns(["rank"]).equals(rest)


def test_a_date_python_cannot_hold_rejects_its_household_not_the_conversion(tables):
    """A day number past 9999-12-31 (or before year 1) in a bundle's date column: the
    review rejects its household; tables_to_households ended in pyarrow's OverflowError
    (Python's date), so MeansTestClient.assess failed the whole call (a blind test). It
    is sent as Arrow writes it, and the service rejects the same households."""
    vehicle = tables["vehicle"]
    assert vehicle.num_rows >= 2
    days = vehicle["registered_on"].cast(pa.int32()).to_numpy(zero_copy_only=False).copy()
    days[0], days[-1] = 3_000_000, -800_000
    at = vehicle.schema.get_field_index("registered_on")
    edited = dict(
        tables, vehicle=vehicle.set_column(at, "registered_on", pa.array(days).cast(pa.date32()))
    )
    msgs = tables_to_households(edited)
    sent = {v.registered_on for h in msgs for v in h.vehicle}
    assert {"10183-09-21", "-0221-09-04"} <= sent
    out = _bulk(households_to_tables(msgs))
    review = assess(edited, default_library())
    assert set(out["rejects"]["household_id"].to_pylist()) == set(
        review.rejects["household_id"].to_pylist()
    )
    owner = vehicle["person_id"][0].as_py()
    hid = next(h.household_id for h in msgs if any(p.person_id == owner for p in h.persons))
    assert any("vehicle.registered_on" in r and "10183-09-21" in r for r in _reasons(out, hid))
    assert out["results"].num_rows == review.results.num_rows > 0


def test_a_value_that_does_not_fit_is_one_reason_among_all_of_its_household(tables):
    """DATA.md: a rejected household lists every reason. A date that is not a date
    beside a negative prev_benefit and a person's unknown enum value: all three, in the
    order of validation (households row, then members, column by column)."""
    msgs = tables_to_households(tables)
    h = _with_property(msgs)
    h.assessment_date = "2024-13-01"
    h.prev_benefit = -5
    h.persons[0].health = 1000
    h.persons[0].relation = "astronaut"
    out = _bulk(households_to_tables(msgs))
    hid, pid = h.household_id, h.persons[0].person_id
    assert _reasons(out, hid) == [
        f"households.assessment_date record={hid}: not a date YYYY-MM-DD ('2024-13-01')",
        f"households.prev_benefit record={hid}: negative money (-5)",
        (
            f"persons.relation record={pid}: unknown enum value ('astronaut'; allowed "
            "head|spouse|child|parent|grandchild|sibling|other)"
        ),
        f"persons.health record={pid}: does not fit int8 (1000)",
    ]


def test_a_record_that_does_not_fit_rejects_every_household_of_its_person(tables):
    """An invalid source row rejects every household in which its person is a member or
    a supporter (DATA.md), whichever household's message carried it; before, only the
    carrier was rejected and the person's own household was assessed without the row."""
    msgs = tables_to_households(tables)
    a = _with_property(msgs)
    b = next(m for m in msgs if m.persons and m.household_id != a.household_id)
    rec = b.vehicle.add(record_id="V-odd", person_id=a.persons[0].person_id, plate="P1")
    rec.vehicle_type, rec.value, rec.registered_on = "car", 1, "2020-02-30"
    conv = households_to_tables(msgs)
    out = _bulk(conv)
    want = (
        f"vehicle.registered_on record=V-odd: not a date YYYY-MM-DD "
        f"(person {a.persons[0].person_id}; '2020-02-30')"
    )
    assert want in _reasons(out, a.household_id)
    assert want not in _reasons(out, b.household_id)


def test_nested_tables_equal_the_bundle(tables):
    conv = households_to_tables(tables_to_households(tables))
    assert conv.unreadable == {}
    for name in ("households", "persons", "supporters"):
        assert conv.tables[name].equals(tables[name].select(conv.tables[name].column_names)), name
    # both null and [] survive (they digest differently)
    programs = conv.tables["households"]["current_programs"].to_pylist()
    assert None in programs and [] in programs


def test_a_record_twice_in_one_household_counts_twice_and_a_second_carrier_once(tables):
    """A record a household carries twice counts twice, as the same rows do in a bundle
    (docs/decisions.md, Rules 11); the copy a second household nests (a person in two
    households) is the message format's repetition and is dropped; a different record is
    kept. The service counted an in-household copy once, so a call and `meanstest.assess`
    of the same bundle differed."""
    msgs = tables_to_households(tables)
    h, other = [m for m in msgs if m.bank][:2]
    once = households_to_tables(msgs).tables["bank"].num_rows
    h.bank.append(h.bank[0])  # the same department record again, in its household
    assert households_to_tables(msgs).tables["bank"].num_rows == once + 1
    other.bank.append(h.bank[0])  # and nested under a second household
    other.bank.append(h.bank[0])
    bank = households_to_tables(msgs).tables["bank"]
    assert bank.num_rows == once + 1
    assert bank["record_id"].to_pylist().count(h.bank[0].record_id) == 2
    changed = h.bank.add()
    changed.CopyFrom(h.bank[0])
    changed.balance += 1  # a different record is kept
    assert households_to_tables(msgs).tables["bank"].num_rows == once + 2


def test_unique_rows_keeps_the_first_carriers_copies_in_order():
    """convert.unique_rows against its definition: a row is dropped iff an equal row is
    carried earlier by another household."""
    rows = [("r1", 1), ("r1", 1), ("r2", 5), ("r1", 1), ("r1", 2), ("r2", 5), ("r1", 1)]
    owners = np.array([0, 0, 0, 1, 1, 2, 0])
    table = pa.table(
        {
            "record_id": [r for r, _ in rows],
            "person_id": ["110101199001011237"] * len(rows),
            "institution": ["ICBC"] * len(rows),
            "product": ["deposit"] * len(rows),
            "balance": [b for _, b in rows],
            "interest": [0] * len(rows),
        },
        schema=schema.arrow_schema("bank"),
    )
    kept = convert.unique_rows("bank", table, owners)
    first = {}
    want = [k for k, row in enumerate(rows) if first.setdefault(row, owners[k]) == owners[k]]
    assert want == [0, 1, 2, 4, 6]
    assert kept.equals(table.take(pa.array(want)))
    # two rows only, one record carried by two households: one is kept (a sweep: the
    # shortcut for fewer than two rows was untested at two)
    two = table.take(pa.array([0, 3]))
    assert convert.unique_rows("bank", two, np.array([0, 1])).equals(table.slice(0, 1))


def test_absent_field_is_null():
    h = convert.pb.Household(household_id="H1")
    h.persons.add(person_id="150422196407020004")
    conv = households_to_tables([h])
    row = conv.tables["households"].to_pylist()[0]
    assert row["household_id"] == "H1" and row["area"] is None and row["prev_benefit"] is None
    assert conv.tables["persons"].to_pylist()[0]["health"] is None


def test_response_round_trip(tables):
    out = assess(tables).tables()
    back = convert.response_to_tables(convert.outputs_to_response(out))
    for name, table in out.items():
        assert back[name].equals(table), name
    nullable = [f for f in back["findings"].to_pylist() if f["record_id"] is None]
    assert nullable  # nullable finding columns stay null, not ""


def test_arrow_chunks_respect_the_size(tables):
    chunks = list(table_chunks("persons", tables["persons"], 4096))
    assert len(chunks) > 1 and all(len(c.data) <= 4096 for c in chunks)
    assert [c.last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    back = chunks_to_tables(chunks, ["persons"])["persons"]
    assert back.equals(tables["persons"])
    empty = list(table_chunks("bank", tables["bank"].slice(0, 0), 4096))
    assert chunks_to_tables(empty, ["bank"])["bank"].num_rows == 0
    assert isinstance(back, pa.Table)


def _shared_by_arrow(ids: pa.Array) -> list[bool]:
    """The readable definition: ids occurring more than once (null counts as one value)."""
    values = ids.to_pylist()
    return [values.count(v) > 1 for v in values]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.sampled_from(["", "R1", "R2", "记录", "R1 "]), st.text(max_size=4))
    ),
    st.integers(0, 3),
)
def test_shared_record_ids_are_found_as_arrow_finds_them(values, cut):
    """dedup.shared_ids (a hash table in numba) marks exactly the rows whose record_id
    another row has, on sliced and chunked arrays too."""
    from meanstest.service.dedup import shared_ids

    whole = pa.array(values, pa.string())
    part = whole.slice(min(cut, len(values)))
    assert shared_ids(part).tolist() == _shared_by_arrow(part)
    chunked = pa.chunked_array([whole.slice(0, cut), whole.slice(cut)], pa.string())
    assert shared_ids(chunked).tolist() == _shared_by_arrow(whole)
