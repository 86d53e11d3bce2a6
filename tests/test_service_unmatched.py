"""Unmatched source rows in a service call's answer (DATA.md "Bad input": a source row
whose person_id matches nobody "is ignored and counted in the run's summary"; a call is
a run). Every path — the small-call path, bulk Assess, AssessStream, AssessArrow, Flight
— answers `unmatched_source_rows`, the number `meanstest.validate` (and so a review's
summary.json) gives for the call's households taken as a bundle, and journals it.
"""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meanstest import assess, schema, synth
from meanstest.bundle import write_bundle
from meanstest.cli import main
from meanstest.policy import default_library
from meanstest.review import ReviewOptions, run_review
from meanstest.service import convert, nested, small, wire_out
from meanstest.service.client import MeansTestClient
from meanstest.service.flight import flight_assess, start_flight
from meanstest.service.journal import Journal
from meanstest.service.journal_check import read_entries, verify
from meanstest.service.server import SERVICE, ServiceConfig, start
from meanstest.service.small_engine import PackCache
from meanstest.v1 import meanstest_pb2 as pb
from meanstest.validate import validate

LIBRARY = default_library()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unmatched")
    config = ServiceConfig(LIBRARY, journal=Journal(folder / "journal.jsonl"))
    running = start(config, "127.0.0.1:0", warm=False)
    flight = start_flight(running.service, "127.0.0.1", 0)
    yield running, f"grpc+tcp://127.0.0.1:{flight.port}", folder / "journal.jsonl"
    flight.shutdown()
    running.stop(None).wait()
    config.journal.close()


def with_strangers(tables: dict[str, pa.Table], count: int, seed: int) -> dict[str, pa.Table]:
    """The bundle plus `count` source rows of nobody in it: copies of its rows (or of a
    made-up bank row) whose person_id is a member's padded with a space, as an export
    that pads its ID column gives them."""
    rng = random.Random(seed)
    out = dict(tables)
    people = [p for p in tables["persons"]["person_id"].to_pylist() if p]
    for k in range(count):
        name = rng.choice(schema.SOURCE_TABLES)
        rows = tables[name].to_pylist() if name in tables else []
        if rows:
            row = dict(rng.choice(rows))
        else:
            name = "bank"
            row = {"institution": "中国农业银行", "product": "deposit", "balance": 1, "interest": 0}
        row["person_id"] = " " + rng.choice(people)
        row["record_id"] = f"padded:{k}"
        out[name] = pa.concat_tables(
            [out[name], pa.Table.from_pylist([row], schema=out[name].schema)]
        )
    return out


def _carried(tables: dict[str, pa.Table]) -> dict[str, list[int]]:
    """Each source table's rows that no member or supporter of a household names (the
    rows `convert.tables_to_households` and `nested.tables_to_nested` put under the
    first household)."""
    known = set(tables["households"]["household_id"].to_pylist())
    people = set()
    for name, column in (("persons", "person_id"), ("supporters", "supporter_id")):
        for row in tables[name].select(["household_id", column]).to_pylist():
            if row["household_id"] in known:
                people.add(row[column])
    return {
        name: [i for i, p in enumerate(tables[name]["person_id"].to_pylist()) if p not in people]
        for name in schema.SOURCE_TABLES
        if name in tables
    }


def _without_carried(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    out = dict(tables)
    for name, rows in _carried(tables).items():
        keep = sorted(set(range(tables[name].num_rows)) - set(rows))
        out[name] = tables[name].take(pa.array(keep, pa.int64()))
    return out


def messages(tables: dict[str, pa.Table], carrier: int) -> list[pb.Household]:
    """The bundle's households as messages, the rows of nobody nested under household
    number `carrier`: the call that is this bundle."""
    out = convert.tables_to_households(_without_carried(tables))
    for name, rows in _carried(tables).items():
        for row in tables[name].take(pa.array(rows, pa.int64())).to_pylist():
            getattr(out[carrier], name).add(**convert._present(row, name))
    return out


def request_table(tables: dict[str, pa.Table], carrier: int) -> pa.Table:
    """The Flight request of the same call (`messages`, in Arrow)."""
    rows = nested.tables_to_nested(_without_carried(tables)).to_pylist()
    for name, found in _carried(tables).items():
        for row in tables[name].take(pa.array(found, pa.int64())).to_pylist():
            rows[carrier][name].append({k: v for k, v in row.items() if k != "household_id"})
    return pa.Table.from_pylist(rows, schema=nested.request_schema())


def bundle_of(n: int, seed: int, bad: float, strangers: int):
    tables = with_strangers(synth.generate(n, seed=seed, bad_fraction=bad), strangers, seed)
    return tables, validate(tables, LIBRARY).unmatched_source_rows


def journaled(journal, method: str, count: int = 1) -> list[dict]:
    entries = [e for e in read_entries(journal) if e["method"] == method]
    return entries[-count:]


CALLS = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@CALLS
@given(
    n=st.integers(33, 90),
    seed=st.integers(0, 10_000),
    bad=st.sampled_from([0.0, 0.1, 0.3]),
    strangers=st.integers(0, 6),
    data=st.data(),
)
def test_every_bulk_path_counts_what_validate_counts(served, n, seed, bad, strangers, data):
    """Random bundles (synth's ghosts — people outside the bundle — and space-padded
    person_ids): bulk Assess, AssessStream (per answer), AssessArrow and Flight each
    answer and journal validate's count for the same households."""
    running, location, journal = served
    tables, want = bundle_of(n, seed, bad, strangers)
    carrier = data.draw(st.integers(0, n - 1))
    msgs = messages(tables, carrier)
    with MeansTestClient(f"127.0.0.1:{running.port}") as c:
        assert c.assess_households(msgs).unmatched_source_rows == want
        assert journaled(journal, "Assess")[0]["unmatched_source_rows"] == want
        other, other_want = bundle_of(40, seed + 1, bad, 2)
        answers = list(c.assess_stream([msgs, messages(other, 0)]))
        assert [a.unmatched_source_rows for a in answers] == [want, other_want]
        stream = journaled(journal, "AssessStream", 2)
        assert [e["unmatched_source_rows"] for e in stream] == [want, other_want]
        results = c.assess_arrow(tables)["results"]
        assert convert.unmatched_of(results) == want
        assert journaled(journal, "AssessArrow")[0]["unmatched_source_rows"] == want
    out = flight_assess(location, request_table(tables, carrier))
    assert convert.unmatched_of(out["results"]) == want
    assert journaled(journal, "Flight.DoExchange")[0]["unmatched_source_rows"] == want
    assert verify(journal)[2] is None


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 40),
    seed=st.integers(0, 10_000),
    bad=st.sampled_from([0.0, 0.2]),
    strangers=st.integers(0, 6),
)
def test_the_clients_conversions_keep_the_rows_of_nobody(n, seed, bad, strangers):
    """`client.assess` (tables_to_households) and Flight's request (tables_to_nested)
    left rows of nobody out, so a call on a bundle's tables answered 0 where its review
    counted them; they go under the first household now, and the tables they give back
    have validate's count."""
    tables, want = bundle_of(n, seed, bad, strangers)
    back = convert.households_to_tables(convert.tables_to_households(tables))
    assert validate(back.tables, LIBRARY).unmatched_source_rows == want
    back = nested.nested_to_tables(nested.tables_to_nested(tables))
    assert validate(back, LIBRARY).unmatched_source_rows == want


def test_the_python_client_answers_the_reviews_count(served):
    running, location, _ = served
    tables, want = bundle_of(30, 3, 0.0, 4)
    assert want >= 4
    with MeansTestClient(f"127.0.0.1:{running.port}") as c:
        assert convert.unmatched_of(c.assess(tables)["results"]) == want
    request = nested.tables_to_nested(tables)
    assert convert.unmatched_of(flight_assess(location, request)["results"]) == want


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    seed=st.integers(0, 10_000),
    bad=st.sampled_from([0.0, 0.2, 0.5]),
    strangers=st.integers(0, 5),
    data=st.data(),
)
def test_the_small_path_counts_what_validate_counts(n, seed, bad, strangers, data):
    """The small-call path's own reading of the messages gives validate's count (and
    its response carries it)."""
    tables, want = bundle_of(n, seed, bad, strangers)
    msgs = messages(tables, data.draw(st.integers(0, n - 1)))
    answer = small.assess(msgs, LIBRARY, PackCache())
    if answer is None:  # declined (a person in two households, …): the bulk path's case
        return
    assert answer.unmatched_source_rows == want
    assert small.response(answer).unmatched_source_rows == want


def test_the_written_response_is_upb_s_with_the_count():
    """wire_out writes field 5 as upb's deterministic serialisation does (after the
    rows; left out at zero)."""
    tables, want = bundle_of(60, 5, 0.1, 4)
    outputs = assess(tables).tables()
    for count in (0, 1, 127, 128, want, 9_000_000_000):
        expected = convert.outputs_to_response(outputs, count)
        assert wire_out.encode_response(outputs, count) == expected.SerializeToString(
            deterministic=True
        )


def padded_bank_row_household():
    """One household whose bank records include a 9,000,000-yuan deposit of " " + the
    head's ID (a space-padded export): a row of nobody in the call."""
    tables = synth.generate(1, seed=3)
    [h] = convert.tables_to_households(tables)
    head = next(p.person_id for p in h.persons if p.relation == "head")
    h.bank.add(
        person_id=" " + head,
        institution="中国农业银行",
        product="deposit",
        balance=900_000_000,
        interest=0,
        record_id="BNK-padded-1",
    )
    return tables, h


def test_a_space_padded_bank_row_is_counted_end_to_end(served, tmp_path, capsys):
    """The integration check's case, over a real server: the 9,000,000-yuan row is
    still ignored (it names nobody), but every answer says one row was, the journal
    entry says so, the chain verifies with older entries that lack the field, and
    `meanstest reproduce --journal` still reproduces the households."""
    running, location, journal = served
    tables, h = padded_bank_row_household()
    bundle = dict(tables)
    bundle["bank"] = pa.concat_tables(
        [
            tables["bank"],
            pa.Table.from_pylist(
                [
                    {
                        "person_id": h.bank[-1].person_id,
                        "institution": "中国农业银行",
                        "product": "deposit",
                        "balance": 900_000_000,
                        "interest": 0,
                        "record_id": "BNK-padded-1",
                    }
                ],
                schema=tables["bank"].schema,
            ),
        ]
    )
    assert validate(bundle, LIBRARY).unmatched_source_rows == 1
    review = tmp_path / "review"
    write_bundle(bundle, tmp_path / "bundle")
    run_review(tmp_path / "bundle", review, LIBRARY, ReviewOptions(quiet=True))
    assert json.loads((review / "summary.json").read_text())["unmatched_source_rows"] == 1

    many = synth.generate(40, seed=9)  # the same household in a bulk call
    bulk = [h, *convert.tables_to_households(many)]
    for other in bulk[1:]:
        other.household_id = "B" + other.household_id
    plain = pb.Household()
    plain.CopyFrom(h)
    del plain.bank[-1]
    with MeansTestClient(f"127.0.0.1:{running.port}") as c:
        alone = c.assess_households([h])  # the small-call path
        assert alone.unmatched_source_rows == 1
        assert [r.household_id for r in alone.results] == [h.household_id]
        assert alone.results == c.assess_households([plain]).results  # still ignored
        assert c.assess_households([plain]).unmatched_source_rows == 0
        assert journaled(journal, "Assess", 3)[0]["unmatched_source_rows"] == 1
        assert c.assess_households(bulk).unmatched_source_rows == 1
        assert journaled(journal, "Assess")[0]["unmatched_source_rows"] == 1
        [streamed] = c.assess_stream([[h]])
        assert streamed.unmatched_source_rows == 1
        assert journaled(journal, "AssessStream")[0]["unmatched_source_rows"] == 1
        assert convert.unmatched_of(c.assess_arrow(bundle)["results"]) == 1
        assert journaled(journal, "AssessArrow")[0]["unmatched_source_rows"] == 1
        raw = c.channel.unary_unary(f"/{SERVICE}/Assess")  # the bytes a client gets
        body = raw(pb.AssessRequest(households=[h]).SerializeToString())
        assert pb.AssessResponse.FromString(body).unmatched_source_rows == 1
    flown = flight_assess(location, request_table(bundle, 0))
    assert convert.unmatched_of(flown["results"]) == 1
    assert journaled(journal, "Flight.DoExchange")[0]["unmatched_source_rows"] == 1
    entries = read_entries(journal)

    # an entry written before the field existed, then the server's entries: one chain
    old = tmp_path / "journal.jsonl"
    j = Journal(old)
    j.append({"caller": "t", "method": "Assess", "status": "OK", "households": [], "rejects": []})
    for line in journal.read_text().splitlines():
        entry = json.loads(line)
        j.append({k: v for k, v in entry.items() if k not in ("seq", "prev", "hash", "time")})
    j.close()
    assert verify(old)[2] is None
    assert main(["journal", "verify", str(old)]) == 0
    single = tmp_path / "single.jsonl"
    j = Journal(single)
    for e in entries:
        if e["method"] == "Assess" and len(e["households"]) == 1:
            j.append({k: v for k, v in e.items() if k not in ("seq", "prev", "hash", "time")})
    j.close()
    capsys.readouterr()
    assert main(["reproduce", "--journal", str(single), "--bundle", str(tmp_path / "bundle")]) == 0
    assert "0 discrepancies" in capsys.readouterr().out
