"""Deadlines and overload: work is abandoned when the deadline passes, and calls beyond
the concurrency bound get RESOURCE_EXHAUSTED instead of queueing without end."""

import json
import queue
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import grpc
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from test_service import bad_request_fields

from meanstest import schema, synth
from meanstest.policy import default_library
from meanstest.service import convert, nested
from meanstest.service.client import MeansTestClient
from meanstest.service.flight import flight_assess, start_flight
from meanstest.service.journal import Journal
from meanstest.service.server import ServiceConfig, start


def _households(n=2):
    msgs = convert.tables_to_households(synth.generate(40, seed=3))
    return [m for m in msgs if m.jurisdiction == "150422" and m.persons][:n]


class Stages:
    """Test hook: records each call's stages; stalls a call that asks for it (metadata
    x-test-stall) at the engine stage until its deadline has passed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, stage, context) -> None:
        self.seen.append(stage)
        stall = ("x-test-stall", "1") in tuple(context.invocation_metadata())
        if stall and stage == "engine":
            for _ in range(1000):  # bounded: at most 10 s
                remaining = context.time_remaining()
                if remaining is not None and remaining <= 0:
                    return
                time.sleep(0.01)


@pytest.fixture
def limited(tmp_path):
    stages = Stages()
    config = ServiceConfig(
        default_library(),
        journal=Journal(tmp_path / "journal.jsonl"),
        max_concurrent_calls=1,
        workers=4,
        on_stage=stages,
    )
    running = start(config, "127.0.0.1:0", warm=False)
    yield running, stages, tmp_path / "journal.jsonl"
    running.stop(None).wait()
    config.journal.close()


def test_deadline_mid_call_abandons_the_work(limited):
    running, stages, journal = limited
    with MeansTestClient(f"127.0.0.1:{running.port}") as c:
        with pytest.raises(grpc.RpcError) as e:
            c.stub.Assess(
                convert.pb.AssessRequest(households=_households()),
                timeout=1.0,
                metadata=(("x-test-stall", "1"),),
            )
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # the client gave up at its deadline; the server notices and records the abandon
        for _ in range(500):  # bounded wait: at most 10 s
            if journal.exists() and journal.read_text():
                break
            time.sleep(0.02)
        assert stages.seen == ["convert", "engine"]  # never reached the journal stage
        last = json.loads(journal.read_text().splitlines()[-1])
        assert last["status"] == "DEADLINE_EXCEEDED" and last["households"] == []
        assert c.assess_households(_households()).results  # the server is fine


def test_overload_is_resource_exhausted(limited):
    running, _, _ = limited
    target = f"127.0.0.1:{running.port}"
    held: queue.Queue = queue.Queue()
    households = _households()

    def requests():
        while (item := held.get(timeout=30)) is not None:
            yield item

    with MeansTestClient(target) as c:
        stream = c.stub.AssessStream(requests())
        held.put(convert.pb.AssessRequest(households=households))
        assert next(stream).results  # the one allowed call is now in progress

        def one(_):
            with MeansTestClient(target) as other:
                try:
                    other.assess_households(households)
                    return grpc.StatusCode.OK
                except grpc.RpcError as e:
                    return e.code()

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(one, range(8)))
        assert codes == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 8
        held.put(None)
        assert list(stream) == []
        # the slot is free again once the stream has ended (bounded wait for the server)
        for _ in range(100):
            if one(0) == grpc.StatusCode.OK:
                break
            threading.Event().wait(0.05)
        else:
            pytest.fail("the server did not accept calls after the stream ended")


def _entries(journal, n, timeout=10.0):
    """The journal's entries once there are at least n (bounded wait)."""
    for _ in range(int(timeout / 0.02)):
        lines = journal.read_text().splitlines() if journal.exists() else []
        if len(lines) >= n:
            break
        time.sleep(0.02)
    return [json.loads(line) for line in lines]


def test_a_stream_cancelled_after_an_answer_is_journaled_cancelled(limited, caplog):
    """docs/service.md: every call past authentication has its entries. A client that
    cancels an AssessStream after an answer left no entry and no log line for the
    cancel (a client developer's check); now the stream's last entry is CANCELLED (its
    deadline had not passed: not DEADLINE_EXCEEDED)."""
    running, _, journal = limited
    held: queue.Queue = queue.Queue()

    def requests():
        while (item := held.get(timeout=30)) is not None:
            yield item

    with MeansTestClient(f"127.0.0.1:{running.port}") as c:
        stream = c.stub.AssessStream(requests(), timeout=30)
        held.put(convert.pb.AssessRequest(households=_households()))
        assert next(stream).results
        stream.cancel()
        held.put(None)
        entries = _entries(journal, 2)
    assert [(e["method"], e["status"]) for e in entries] == [
        ("AssessStream", "OK"),
        ("AssessStream", "CANCELLED"),
    ]
    assert entries[1]["error"] == "Cancelled" and entries[1]["households"] == []


def test_a_stream_message_over_the_size_limit_is_not_journaled_ok(tmp_path):
    """gRPC refuses a message over --max-message-mb before the service sees it, and
    ends the stream's requests as if the client had finished: the stream was journaled
    OK (or DEADLINE_EXCEEDED). Its last entry is now CANCELLED, which is what the server
    can know; the client's status is RESOURCE_EXHAUSTED."""
    config = ServiceConfig(
        default_library(), journal=Journal(tmp_path / "j.jsonl"), max_message_bytes=64 << 10
    )
    running = start(config, "127.0.0.1:0", warm=False)
    try:
        small = convert.pb.AssessRequest(households=_households(1))
        big = convert.pb.AssessRequest(households=_households(1) * 400)
        assert big.ByteSize() > 64 << 10
        with MeansTestClient(f"127.0.0.1:{running.port}") as c:
            with pytest.raises(grpc.RpcError) as e:
                list(c.stub.AssessStream(iter([small, big]), timeout=30))
            assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        entries = _entries(tmp_path / "j.jsonl", 2)
        assert [x["status"] for x in entries] == ["OK", "CANCELLED"]
    finally:
        running.stop(None).wait()
        config.journal.close()


@pytest.mark.parametrize("method", ["AssessArrow", "Assess"])
def test_a_message_over_the_size_limit_is_journaled_and_logged_with_its_peer(
    tmp_path, caplog, method
):
    """gRPC refused AssessArrow's first chunk (over --max-message-mb) and ended its
    requests: the call was journaled INVALID_ARGUMENT, "no households table", where the
    client got RESOURCE_EXHAUSTED, and its log line said "peer=" (a C++ integrator's
    check). It is CANCELLED, as a stream's, and the log names the peer. Assess's one
    message over the limit: gRPC ends the call before the method reads it, and its log
    line said "peer=-" (a blind integrator's check): the peer is read when the call
    starts, before its message is waited for."""
    config = ServiceConfig(
        default_library(), journal=Journal(tmp_path / "j.jsonl"), max_message_bytes=64 << 10
    )
    running = start(config, "127.0.0.1:0", warm=False)
    caplog.set_level("INFO", logger="meanstest.service")
    try:
        with MeansTestClient(f"127.0.0.1:{running.port}") as c:
            c.chunk_bytes = 1 << 20  # one chunk of each table, households first
            call = c.assess_arrow if method == "AssessArrow" else c.assess
            with pytest.raises(grpc.RpcError) as e:
                call(synth.generate(3000, seed=1), timeout=30)
            assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        [entry] = _entries(tmp_path / "j.jsonl", 1)
        assert (entry["status"], entry["error"]) == ("CANCELLED", "Cancelled")
    finally:
        running.stop(None).wait()
        config.journal.close()
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith(method + " ")]
    assert "status=CANCELLED" in line and re.search(r"peer=ipv[46]:\S+", line), line


def test_the_answer_floor_is_less_than_any_assessed_households_answer():
    """ANSWER_FLOOR holds for the smallest answer an assessed household can have: the
    shortest status and transition, a one-character policy_id, every number zero, one
    member with no household_id (the shortest strings the engine could write)."""
    from meanstest.pipeline import ENGINE_VERSION
    from meanstest.schema import STATUSES, TRANSITIONS
    from meanstest.service.replies import ANSWER_FLOOR

    least = convert.pb.AssessResponse(
        results=[
            convert.pb.Result(
                status=min(STATUSES, key=len),
                transition=min(TRANSITIONS, key=len),
                policy_id="x",
                policy_digest="0" * 64,
                input_digest="0" * 64,
                engine_version=ENGINE_VERSION,
            )
        ],
        members=[convert.pb.Member(person_id="1" * 18, employment_basis="none")],
    )
    assert least.ByteSize() >= ANSWER_FLOOR
    households = convert.tables_to_households(synth.generate(300, seed=8))
    config = ServiceConfig(default_library(), journal=None)
    with _server(config) as port, MeansTestClient(f"127.0.0.1:{port}") as c:
        answer = c.stub.Assess(convert.pb.AssessRequest(households=households))
    del answer.rejects[:]  # and a real answer, its assessed households only
    assert answer.results and answer.ByteSize() >= ANSWER_FLOOR * len(answer.results)


@contextmanager
def _server(config):
    running = start(config, "127.0.0.1:0", warm=False)
    try:
        yield running.port
    finally:
        running.stop(None).wait()
        if config.journal is not None:
            config.journal.close()


def _empty_households(n: int, id_bytes: int = 0, group: bool = False) -> bytes:
    """An AssessRequest of n households holding only an id of `id_bytes` characters; with
    `group`, an unknown group field after them (the column reader leaves such bytes to the
    protobuf library, which skips it)."""
    one = convert.pb.Household(household_id="h" * id_bytes) if id_bytes else convert.pb.Household()
    data = convert.pb.AssessRequest(households=[one] * n).SerializeToString()
    return data + (b"\x13\x18\x01\x14" if group else b"")  # field 2: start, varint, end


@pytest.mark.parametrize(
    "path, id_bytes, group",
    [("small call", 0, False), ("columns", 40, False), ("protobuf library", 40, True)],
)
def test_more_households_than_their_answer_could_hold_are_refused_before_any_work(
    tmp_path, path, id_bytes, group
):
    """A 16 MB Assess of 8,000,000 empty households ran the server out of 24 GB before
    its answer (~7 GB) could be refused: a message may carry one household per
    ANSWER_FLOOR bytes of --max-message-mb, counted before anything is converted, on
    each path a request can take (the small-call parse up to 256 KB, the column reader,
    the protobuf library for bytes the reader is unsure of). One fewer is not refused
    for its count."""
    from meanstest.service.replies import ANSWER_FLOOR
    from meanstest.service.server import SMALL_BYTES

    limit = ANSWER_FLOOR * (50 if path == "small call" else 6_000)
    most = limit // ANSWER_FLOOR
    stages = Stages()
    config = ServiceConfig(
        default_library(),
        journal=Journal(tmp_path / "j.jsonl"),
        max_message_bytes=limit,
        on_stage=stages,
    )
    over = _empty_households(most + 1, id_bytes, group)
    assert (len(over) <= SMALL_BYTES) == (path == "small call") and len(over) < limit
    with _server(config) as port, MeansTestClient(f"127.0.0.1:{port}") as c:
        assess = c.channel.unary_unary("/meanstest.v1.MeansTest/Assess")
        with pytest.raises(grpc.RpcError) as e:
            assess(over, timeout=60)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert e.value.details() == (
            f"{most + 1:,} households in one message, over the {most:,} that "
            f"--max-message-mb allows (one per {ANSWER_FLOOR} bytes of {limit:,}): "
            "send them in several messages (AssessStream) or with AssessArrow"
        )
        assert "convert" not in stages.seen
        stream = [convert.pb.AssessRequest.FromString(_empty_households(most + 1, id_bytes))]
        with pytest.raises(grpc.RpcError) as e:  # each message of a stream too
            list(c.stub.AssessStream(iter(stream), timeout=60))
        assert "households in one message" in e.value.details()
        assert "convert" not in stages.seen
        with pytest.raises(grpc.RpcError) as e:  # one fewer: converted, its answer too big
            assess(_empty_households(most, id_bytes, group), timeout=120)
        assert e.value.details().startswith("the answer is ")
        assert "convert" in stages.seen
    statuses = [x["status"] for x in _entries(tmp_path / "j.jsonl", 3)]
    assert statuses == ["RESOURCE_EXHAUSTED"] * 3


def test_the_row_floor_is_less_than_any_valid_rows_bytes():
    """ROW_FLOOR holds for the smallest valid row of every nested table (an 18-character
    ID and nothing else, inside its own tag and length), and for a real request."""
    from meanstest.service.replies import ROW_FLOOR, nested_rows
    from meanstest.service.wire import NESTED_FIELDS

    empty = convert.pb.Household().ByteSize()
    for name in NESTED_FIELDS:
        h = convert.pb.Household()
        row = getattr(h, name).add()
        setattr(row, "supporter_id" if name == "supporters" else "person_id", "1" * 18)
        assert h.ByteSize() - empty >= ROW_FLOOR, name
    households = convert.tables_to_households(synth.generate(300, seed=8))
    request = convert.pb.AssessRequest(households=households)
    assert request.ByteSize() >= ROW_FLOOR * nested_rows(households) > 0


def _household_of_empty_rows(n: int, group: bool = False) -> bytes:
    """An AssessRequest of one household with n empty persons rows (3 bytes each)."""
    h = convert.pb.Household(household_id="h1", persons=[convert.pb.Person()] * n)
    data = convert.pb.AssessRequest(households=[h]).SerializeToString()
    return data + (b"\x13\x18\x01\x14" if group else b"")


@pytest.mark.parametrize("path", ["small call", "columns", "protobuf library", "Explain"])
def test_more_rows_than_could_be_valid_are_refused_before_any_work(tmp_path, path):
    """One household of 300,000 empty persons (3 bytes each) took the server to 1.8 GB
    before its 160 MB answer was refused: a message may carry one row of people,
    supporters, records and programs per ROW_FLOOR bytes of --max-message-mb (a valid
    row holds an 18-character ID), counted before anything is converted, on each path
    and in Explain. One fewer is not refused for its count."""
    from meanstest.service.replies import EXPLAIN, ROW_FLOOR, SEVERAL
    from meanstest.service.server import SMALL_BYTES

    limit = ROW_FLOOR * (100 if path in ("small call", "Explain") else 104_858)
    most = limit // ROW_FLOOR
    stages = Stages()
    config = ServiceConfig(
        default_library(), journal=Journal(tmp_path / "j.jsonl"), max_message_bytes=limit
    )
    config.on_stage = stages
    over = _household_of_empty_rows(most + 1, path == "protobuf library")
    assert (len(over) <= SMALL_BYTES) == (path in ("small call", "Explain")) and len(over) < limit
    # an ExplainRequest's household is its field 1, as an AssessRequest's households:
    # the same bytes are an Explain of that one household
    method = "Explain" if path == "Explain" else "Assess"
    with _server(config) as port, MeansTestClient(f"127.0.0.1:{port}") as c:
        call = c.channel.unary_unary(f"/meanstest.v1.MeansTest/{method}")
        with pytest.raises(grpc.RpcError) as e:
            call(over, timeout=60)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert e.value.details() == (
            f"{most + 1:,} rows of people, supporters, records and programs in one message, "
            f"over the {most:,} that --max-message-mb allows (one per {ROW_FLOOR} bytes "
            f"of {limit:,}: a valid row holds an 18-character ID): "
            + (EXPLAIN if path == "Explain" else SEVERAL)
        )
        assert "convert" not in stages.seen and "engine" not in stages.seen
        with pytest.raises(grpc.RpcError) as e:  # one fewer: converted, then refused
            call(_household_of_empty_rows(most, path == "protobuf library"), timeout=120)
        assert "rows of people" not in e.value.details()
    statuses = [x["status"] for x in _entries(tmp_path / "j.jsonl", 2)]
    assert statuses[0] == "RESOURCE_EXHAUSTED"


def _nulls(table: str, n: int, household_id: str | None = None) -> pa.Table:
    """A `table` of n rows whose every column (but household_id, if given) is of the null
    type: the bundle reader's form of a column with no values, no bytes on the wire."""
    columns = {c: pa.nulls(n) for c in schema.arrow_schema(table).names}
    if household_id is not None:
        columns["household_id"] = pa.array([household_id] * n)
    return pa.table(columns)


def _null_households(n: int) -> pa.Table:
    return _nulls("households", n)


@pytest.fixture
def bounded(tmp_path):
    """A server (gRPC and Flight) taking at most 40 households a bulk call."""
    stages = Stages()
    config = ServiceConfig(
        default_library(),
        journal=Journal(tmp_path / "j.jsonl"),
        max_call_households=40,
        on_stage=stages,
    )
    running = start(config, "127.0.0.1:0", warm=False)
    flight = start_flight(running.service, "127.0.0.1", 0)
    yield running.port, f"grpc+tcp://127.0.0.1:{flight.port}", stages, tmp_path / "j.jsonl"
    flight.shutdown()
    running.stop(None).wait()
    config.journal.close()


def test_a_bulk_call_of_more_rows_than_allowed_is_refused_before_any_work(bounded):
    """An AssessArrow request of 1,352 bytes — 200,000 households of null-typed columns —
    took the server to 1.4 GB: a call's memory grows with its rows, not its bytes. A
    bulk call (AssessArrow, Flight) carries at most --max-call-households households
    and 32 rows of the other tables for each; a larger one is refused as its tables are
    read, before anything is converted, and journaled so. At the bound, it is served."""
    port, location, stages, journal = bounded
    bundle = synth.generate(20, seed=2)
    first = bundle["households"].slice(0, 2)
    persons = bundle["persons"].filter(
        pc.is_in(bundle["persons"]["household_id"], first["household_id"])
    )
    row = bundle["bank"].slice(0, 1).set_column(0, "person_id", persons["person_id"][:1])
    many = {"households": first, "persons": persons, "bank": pa.concat_tables([row] * 1281)}
    others = persons.num_rows + 1281
    refused = [
        (
            {"households": _null_households(41)},
            "41 households in one call, over --max-call-households (40): split the call",
        ),
        (
            many,
            f"hold {others:,} rows (counted up to bank), over 32 for each of --max-call-"
            + "households (1,280)",
        ),
    ]
    with MeansTestClient(f"127.0.0.1:{port}") as c:
        for tables, message in refused:
            with pytest.raises(grpc.RpcError) as e:
                c.assess_arrow(tables, timeout=60)
            assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert message in e.value.details()
            with pytest.raises(pa.ArrowInvalid, match=re.escape(message)):
                flight_assess(location, tables)
        assert "engine" not in stages.seen
        at_bound = synth.generate(40, seed=6, bad_fraction=0.1)  # 40 households
        served = c.assess_arrow(at_bound, timeout=60)
    assert served["results"].num_rows + served["rejects"].num_rows == 40  # none lost
    assert flight_assess(location, at_bound)["results"].equals(served["results"])
    statuses = [x["status"] for x in _entries(journal, 6)]
    assert statuses == ["RESOURCE_EXHAUSTED"] * 4 + ["OK"] * 2


def _household_of_null_persons(n: int) -> dict[str, pa.Table]:
    """One household "h1" and n persons rows of it whose other columns are all of the
    null type: each row breaks a rule in every required column."""
    return {"households": _nulls("households", 1, "h1"), "persons": _nulls("persons", n, "h1")}


def test_a_call_whose_rejects_would_hold_too_many_reasons_is_refused(bounded):
    """200,000 null persons rows of one household (202 KB of Arrow IPC) made 1.6M reasons
    and took the server to 1.2 GB; 5,000,000 of them would have taken ~28 GB. A call's
    validation may find 8 reasons for each of --max-call-households (here 320): past
    that the call is refused before the texts are built, journaled so; within it, the
    household is rejected with every reason, as before."""
    port, location, stages, journal = bounded
    message = "the call's rejects would hold more than 320 reasons (at least "
    with MeansTestClient(f"127.0.0.1:{port}") as c:
        with pytest.raises(grpc.RpcError) as e:
            c.assess_arrow(_household_of_null_persons(40), timeout=60)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert e.value.details().startswith(message)
        assert e.value.details().endswith("8 for each of --max-call-households (40)")
        with pytest.raises(pa.ArrowInvalid, match=re.escape(message)):
            flight_assess(location, _household_of_null_persons(40))
        assert "journal" not in stages.seen
        served = c.assess_arrow(_household_of_null_persons(5), timeout=60)
    (reasons,) = served["rejects"]["reasons"].to_pylist()
    assert sum(r.startswith("persons.") for r in reasons) >= 5  # each row's, at least
    statuses = [x["status"] for x in _entries(journal, 3)]
    assert statuses == ["RESOURCE_EXHAUSTED", "RESOURCE_EXHAUSTED", "OK"]


@pytest.mark.parametrize("kind", ["fixed_size_list", "list_view"])
def test_a_flight_column_of_records_that_is_not_a_list_is_refused(bounded, kind):
    """The call's row bound counts a nested column's list offsets; a fixed_size_list or
    list_view of records was un-nested uncounted (the review of the bound: 20,000 valid
    rows assessed past a bound of 3,200). Such a column is refused, whatever its rows."""
    _, location, stages, _ = bounded
    request = nested.tables_to_nested(synth.generate(3, seed=3))
    records = pc.list_flatten(request["tax_income"]).combine_chunks()
    n = request.num_rows
    if kind == "fixed_size_list":
        column = pa.FixedSizeListArray.from_arrays(records.slice(0, n), 1)
    else:
        starts = pa.array(range(n), pa.int32())
        column = pa.ListViewArray.from_arrays(starts, pa.array([1] * n, pa.int32()), records)
    at = request.schema.get_field_index("tax_income")
    odd = request.set_column(at, "tax_income", column)
    with pytest.raises(pa.ArrowInvalid, match=f"column tax_income: {kind}<.* is not a list of"):
        flight_assess(location, odd)
    assert "engine" not in stages.seen


def test_decoded_characters_counts_what_an_encoding_would_decode_to():
    from meanstest.service.errors import decoded_characters

    dictionary = pa.DictionaryArray.from_arrays(pa.array([0, 0, 1, None], pa.int8()), ["abc", "de"])
    view = pa.array(["abcd", "ef", None, "x" * 20], pa.string_view())
    in_lists = pa.array([["x", "yy"], []], pa.list_(pa.dictionary(pa.int8(), pa.string())))
    records = pa.ListArray.from_arrays(
        pa.array([0, 2, 4], pa.int32()), pa.StructArray.from_arrays([dictionary], names=["r"])
    )
    assert decoded_characters(dictionary) == 3 + 3 + 2 + 3  # a null index counted as 0's
    assert (decoded_characters(view), decoded_characters(view.slice(1))) == (26, 22)
    assert decoded_characters(in_lists) == 3
    assert (decoded_characters(records), decoded_characters(records.slice(1))) == (11, 5)
    assert decoded_characters(pa.array(["plain strings weigh what they hold"])) == 0


def _one_value_everywhere(rows: int, size: int) -> dict[str, pa.Table]:
    """_household_of_null_persons(rows) whose persons.relation is one value of `size`
    characters in a dictionary, used by every row (and quoted by every row's reason)."""
    tables = _household_of_null_persons(rows)
    persons = tables["persons"]
    value = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int8()), ["y" * size])
    at = persons.schema.get_field_index("relation")
    return tables | {"persons": persons.set_column(at, "relation", value)}


def _nested_keeping_encodings(tables: dict[str, pa.Table]) -> pa.Table:
    """The Flight request of `tables`, its persons' relation kept dictionary-encoded
    (flight_assess's own nesting casts every column to its canonical type)."""
    request = nested.tables_to_nested(
        {k: v.cast(schema.arrow_schema(k)) for k, v in tables.items()}
    )
    people = request["persons"].combine_chunks()
    records = people.values
    fields = [records.field(i) for i in range(records.type.num_fields)]
    names = [f.name for f in records.type]
    fields[names.index("relation")] = tables["persons"]["relation"].combine_chunks()
    kept = pa.ListArray.from_arrays(people.offsets, pa.StructArray.from_arrays(fields, names))
    return request.set_column(request.schema.get_field_index("persons"), "persons", kept)


def test_strings_encoded_once_and_used_everywhere_are_bounded_by_what_they_decode_to(bounded):
    """242 KB of AssessArrow — one 100,000-character relation in a dictionary, used by
    20,000 persons rows, each row's reason quoting it — took the server to 15.6 GB. A
    bulk call's dictionary- and view-encoded strings may decode to 1,024 bytes for each
    of --max-call-households (here 40,960), counted before anything is decoded, on
    AssessArrow and Flight; under it the call is served."""
    port, location, stages, _ = bounded
    over, under = _one_value_everywhere(5, 10_000), _one_value_everywhere(3, 10_000)
    message = (
        "the call's dictionary- or view-encoded strings decode to 50,000 bytes (counted up "
        "to persons.relation), over 1,024 for each of --max-call-households (40,960)"
    )
    with MeansTestClient(f"127.0.0.1:{port}") as c:
        with pytest.raises(grpc.RpcError) as e:
            c.assess_arrow(over, timeout=60)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert e.value.details().startswith(message)
        flight = message.replace("persons.relation", "request.persons")
        with pytest.raises(pa.ArrowInvalid, match=re.escape(flight)):
            flight_assess(location, _nested_keeping_encodings(over))
        assert "engine" not in stages.seen
        served = c.assess_arrow(under, timeout=60)
    assert served["rejects"].num_rows == 1
    assert flight_assess(location, _nested_keeping_encodings(under))["rejects"].num_rows == 1


@pytest.mark.parametrize(
    "table, column, most",
    [
        ("households", "household_id", 128),
        ("bank", "record_id", 1024),
        ("property", "property_id", 1024),
    ],
)
def test_an_id_longer_than_a_bulk_call_takes_is_refused(bounded, table, column, most):
    """6.3 MB of AssessArrow with 2,000-character household_ids in a dictionary answered
    2.9 GB and peaked at 9.0 GB: every row of a household's answer repeats its ID. A
    bulk call's household_id, person_id or supporter_id may have at most 128 bytes, any
    other ID (record_id, property_id) 1,024 (ingest writes "<file basename>:<line>", and
    Chinese takes 3 bytes a character), plain or encoded, on AssessArrow and Flight; the
    most is served."""
    port, location, stages, _ = bounded
    tables = synth.generate(10, seed=5)

    def with_id(length: int) -> dict[str, pa.Table]:
        t = tables[table]
        ids = [f"{i:04d}".ljust(length, "x") for i in range(t.num_rows)]
        longer = t.set_column(t.schema.get_field_index(column), column, pa.array(ids))
        return tables | {table: longer}

    message = f"{table}.{column} holds an ID of {most + 1:,} bytes, over the {most:,} a call"
    with MeansTestClient(f"127.0.0.1:{port}") as c:
        with pytest.raises(grpc.RpcError) as e:
            c.assess_arrow(with_id(most + 1), timeout=60)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert e.value.details().startswith(message)
        # the field named, as for a malformed value (it had none: a blind client's check)
        assert bad_request_fields(e.value) == [f"{table}.{column}"]
        with pytest.raises(pa.ArrowInvalid, match=re.escape(message)):
            flight_assess(location, with_id(most + 1))
        assert "engine" not in stages.seen
        served = c.assess_arrow(with_id(most), timeout=60)
    assert served["results"].num_rows + served["rejects"].num_rows == 10


@pytest.mark.parametrize("path", ["small", "bulk", "library"])
@pytest.mark.parametrize(
    "table, column, most",
    [
        ("households", "household_id", 128),
        ("persons", "person_id", 128),
        ("bank", "record_id", 1024),
        ("property", "property_id", 1024),
    ],
)
def test_an_id_longer_than_a_call_takes_is_refused_on_the_protobuf_paths(
    bounded, monkeypatch, table, column, most, path
):
    """Assess, AssessStream and Explain took IDs of any length where AssessArrow took 128
    bytes (1,024 for other IDs): a 125 KB Assess of one household with a 64 KB
    household_id and 20,000 empty persons rows took 1.3 GB converting it, each row
    holding the ID, and a 12.6 MB Assess answered 77.6 MB, refused once computed (a C++
    integrator's check). Each path refuses before any work: the small-call path, the
    column reader, and the protobuf library's parse (a request the reader leaves to it).
    The most is served."""
    from meanstest.service import server, wire

    port, _, stages, _ = bounded
    if path != "small":
        monkeypatch.setattr(server, "SMALL_BYTES", 0)
    if path == "library":
        monkeypatch.setattr(wire, "count", lambda data: None)
    households = convert.tables_to_households(synth.generate(12, seed=5))
    households = [h for h in households if h.jurisdiction == "150422" and h.persons]
    households = [h for h in households if table == "households" or getattr(h, table)][:2]
    assert households, table

    def with_id(length: int) -> list[convert.pb.Household]:
        out = [type(h).FromString(h.SerializeToString()) for h in households]
        rows = [out[0]] if table == "households" else getattr(out[0], table)
        rows[0].ClearField(column)  # the protobuf library keeps the last value given
        setattr(rows[0], column, "1".ljust(length, "x"))
        return out

    message = f"{table}.{column} holds an ID of {most + 1:,} bytes, over the {most:,} a call"
    with MeansTestClient(f"127.0.0.1:{port}") as c:
        calls = {
            "Assess": lambda hs: c.assess_households(hs, timeout=60),
            "AssessStream": lambda hs: list(c.assess_stream([hs], timeout=60)),
            "Explain": lambda hs: c.stub.Explain(
                convert.pb.ExplainRequest(household=hs[0]), timeout=60
            ),
        }
        for method, call in calls.items():
            with pytest.raises(grpc.RpcError) as e:
                call(with_id(most + 1))
            assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, method
            assert e.value.details().startswith(message), (method, e.value.details())
        assert "engine" not in stages.seen
        served = c.assess_households(with_id(most), timeout=60)
    assert len(served.results) + len(served.rejects) == len(households)
