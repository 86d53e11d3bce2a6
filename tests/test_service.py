"""The gRPC service (issue 5) against a real in-process server on loopback, over TLS.

Every RPC; results equal `meanstest review`; per-household rejects; policies; health and
reflection; bearer tokens and jurisdictions; TLS and mutual TLS with certificates made
here; journal entries written before the answer; no IDs in the log.
"""

import functools
import hashlib
import json
import logging
import operator

import grpc
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from fixtures.tls.pki import make_pki
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from meanstest import synth
from meanstest.bundle import read_bundle, write_bundle
from meanstest.errors import mask_id, redact
from meanstest.policy import default_library
from meanstest.review import ReviewOptions, run_review
from meanstest.service import convert
from meanstest.service.auth import Tokens, server_credentials, token_hash
from meanstest.service.client import ClientTLS, MeansTestClient
from meanstest.service.journal import Journal, result_digests
from meanstest.service.journal_check import verify
from meanstest.service.server import SERVICE, ServiceConfig, start
from meanstest.v1 import meanstest_pb2 as pb

TOKENS = {"all": "token-all", "township": "token-150422", "league": "token-1504"}
GRANTS = {"all": ["*"], "township": ["150422"], "league": ["1504*"]}


def write_tokens(path):
    lines = []
    for name, token in TOKENS.items():
        grants = ", ".join(f'"{g}"' for g in GRANTS[name])
        lines += [
            "[[caller]]",
            f'name = "{name}"',
            f'token_sha256 = "{token_hash(token)}"',
            f"jurisdictions = [{grants}]",
            "",
        ]
    path.write_text("\n".join(lines))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, pki):
    folder = tmp_path_factory.mktemp("server")
    config = ServiceConfig(
        default_library(),
        journal=Journal(folder / "journal.jsonl"),
        tokens=Tokens.load(write_tokens(folder / "tokens.toml")),
    )
    creds = server_credentials(str(pki["server"]), str(pki["server-key"]))
    running = start(config, "127.0.0.1:0", creds)
    yield running, folder / "journal.jsonl"
    running.stop(None).wait()
    config.journal.close()


def client(server, pki, who="all", **kw):
    running, _ = server
    tls = ClientTLS.files(pki["ca"])
    return MeansTestClient(f"localhost:{running.port}", token=TOKENS.get(who, who), tls=tls, **kw)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle")
    write_bundle(synth.generate(240, seed=7, bad_fraction=0.1), path)
    return path


@pytest.fixture(scope="module")
def reviewed(bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("review")
    run_review(bundle, out, default_library(), ReviewOptions(quiet=True))
    return {n: pq.read_table(out / f"{n}.parquet") for n in convert.OUTPUT_MESSAGES} | {
        "rejects": pq.read_table(out / "rejects.parquet")
    }


def null_program_households(tables):
    """Households with a null current_programs entry: protobuf sends it as "" (still a
    reject, with the "not defined by the pack" reason instead of "null program name")."""
    hh = tables["households"].to_pylist()
    return {h["household_id"] for h in hh if None in (h.get("current_programs") or [])}


def code_of(excinfo) -> grpc.StatusCode:
    return excinfo.value.code()


def bad_request_fields(error) -> list[str]:
    status = rpc_status.from_call(error)
    fields = []
    for detail in status.details:
        br = error_details_pb2.BadRequest()
        assert detail.Unpack(br)
        fields += [v.field for v in br.field_violations]
    return fields


def households_of(tables, jurisdiction=None):
    msgs = convert.tables_to_households(tables)
    return [h for h in msgs if jurisdiction is None or h.jurisdiction == jurisdiction]


# Same results as `meanstest review` ---------------------------------------------------------


def test_assess_equals_review(server, pki, bundle, reviewed):
    tables = read_bundle(bundle)
    with client(server, pki) as c:
        out = c.assess(tables)
    for name in ("results", "members", "findings"):
        assert out[name].equals(reviewed[name]), name
    assert (
        out["rejects"]["household_id"].to_pylist()
        == reviewed["rejects"]["household_id"].to_pylist()
    )
    skip = null_program_households(tables)
    got = {r["household_id"]: r["reasons"] for r in out["rejects"].to_pylist()}
    want = {r["household_id"]: r["reasons"] for r in reviewed["rejects"].to_pylist()}
    assert {k: v for k, v in got.items() if k not in skip} == {
        k: v for k, v in want.items() if k not in skip
    }


def test_assess_arrow_equals_review(server, pki, bundle, reviewed):
    with client(server, pki) as c:
        out = c.assess_arrow(bundle)
    for name in ("results", "members", "findings", "rejects"):
        assert out[name].equals(reviewed[name]), name


def test_assess_stream_one_answer_per_message(server, pki, bundle, reviewed):
    groups: dict[str, list] = {}  # a duplicated household_id stays in one message
    for h in households_of(read_bundle(bundle)):
        groups.setdefault(h.household_id, []).append(h)
    ids = list(groups)
    batches = [
        functools.reduce(operator.iadd, (groups[i] for i in ids[k : k + 100]), [])
        for k in range(0, len(ids), 100)
    ]
    with client(server, pki) as c:
        answers = list(c.assess_stream(iter(batches)))
    assert len(answers) == len(batches)
    tables = [convert.response_to_tables(a) for a in answers]
    for t in tables:  # rank is over the households of one message
        assert sorted(t["results"]["rank"].to_pylist()) == list(range(1, t["results"].num_rows + 1))
    for name in ("results", "members"):
        got = pa.concat_tables([t[name] for t in tables])
        want = reviewed[name]
        if name == "results":
            got, want = got.drop_columns(["rank"]), want.drop_columns(["rank"])
        keys = [("household_id", "ascending")] + (
            [("person_id", "ascending")] if name == "members" else []
        )
        assert got.sort_by(keys).equals(want.sort_by(keys)), name


def test_arrow_path_never_needs_a_large_message(tmp_path, bundle, reviewed):
    config = ServiceConfig(default_library(), max_message_bytes=48 << 10)
    running = start(config, "127.0.0.1:0", warm=False)
    try:
        with MeansTestClient(f"127.0.0.1:{running.port}", max_message_bytes=48 << 10) as c:
            out = c.assess_arrow(bundle)
            assert out["results"].equals(reviewed["results"])
            with pytest.raises(grpc.RpcError) as e:  # the protobuf path needs one big message
                c.assess(read_bundle(bundle))
            assert code_of(e) == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        running.stop(None).wait()


# One bad household never fails the call --------------------------------------------------


def _good_households(n=3):
    tables = synth.generate(60, seed=3)
    msgs = households_of(tables, "150422")
    return [m for m in msgs if m.persons][:n]


def test_bad_households_are_rejects_not_failures(server, pki):
    good, bad_date, no_pack = _good_households(3)
    bad_date.persons[0].birth_date = "1970-13-45"
    no_pack.jurisdiction = "110105"
    request = [good, bad_date, no_pack]
    with client(server, pki) as c:
        response = c.assess_households(request)
    assert [r.household_id for r in response.results] == [good.household_id]
    reasons = {r.household_id: list(r.reasons) for r in response.rejects}
    assert set(reasons) == {bad_date.household_id, no_pack.household_id}
    (why,) = reasons[bad_date.household_id]
    assert "persons.birth_date" in why and "not a date YYYY-MM-DD" in why and "1970-13-45" in why
    assert any("110105" in r and "2024-07-01" in r for r in reasons[no_pack.household_id])


def test_absent_required_field_is_a_reject(server, pki):
    (h,) = _good_households(1)
    h.ClearField("area")
    with client(server, pki) as c:
        response = c.assess_households([h])
    assert not response.results
    assert response.rejects[0].reasons == [
        f"households.area record={h.household_id}: null in a required column"
    ]


# Explain and policies -----------------------------------------------------------------------


def test_explain_trace_matches_assess(server, pki):
    (h,) = _good_households(1)
    with client(server, pki) as c:
        assessed = c.assess_households([h]).results[0]
        zh = c.stub.Explain(pb.ExplainRequest(household=h), metadata=c.metadata)
        en = c.stub.Explain(pb.ExplainRequest(household=h, lang="en"), metadata=c.metadata)
    assert zh.result == assessed and zh.policy_id == assessed.policy_id
    sections = {s.section for s in zh.steps}
    assert {"§2", "§3", "§5"} <= sections
    pci = [s for s in zh.steps if s.label == "pci"]
    assert pci and json.loads(pci[0].value_json) == assessed.pci
    assert "劳动力系数" in zh.text and "labour_coefficient" in en.text
    assert f"status={assessed.status}" in en.text
    # the document carries the digests an auditor checks the results row against
    assert assessed.input_digest in zh.text and assessed.policy_digest in zh.text
    # the pack's name, as the CLI's JSON trace has it (a blind integration check missed it)
    pack = next(p for p in default_library().packs if p.id == assessed.policy_id)
    assert zh.policy_name == pack.name and pack.name in zh.text


def test_the_client_explains_one_household_and_refuses_an_absent_or_doubled_one(server, pki):
    """client.explain(tables, id) sent the first copy of a household_id on two rows, with
    the members of both, and was answered as if it were one household, where `meanstest
    explain` and a review reject it; an absent one was a bare KeyError (a blind test)."""
    tables = synth.generate(6, seed=3)
    households = tables["households"]
    first = households["household_id"][0].as_py()
    with client(server, pki) as c:
        assert c.explain(tables, first, lang="en").result.household_id == first
        with pytest.raises(ValueError, match="household 'NOT-THERE' is not in the households"):
            c.explain(tables, "NOT-THERE")
        doubled = dict(tables, households=pa.concat_tables([households, households.slice(0, 1)]))
        with pytest.raises(ValueError, match=f"household '{first}' is on 2 rows .*duplicate"):
            c.explain(doubled, first)


def test_explain_rejected_household_is_invalid_argument(server, pki):
    (h,) = _good_households(1)
    h.persons[0].health = 9
    with client(server, pki) as c, pytest.raises(grpc.RpcError) as e:
        c.stub.Explain(pb.ExplainRequest(household=h), metadata=c.metadata)
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    assert "health outside 1..6" in e.value.details()
    assert bad_request_fields(e.value) == ["household"]


def test_an_error_quoting_a_line_break_of_the_request_is_one_line(server, pki):
    """Clients get a one-line message: an Explain of a rejected household whose IDs hold
    CR and LF came back in several lines, message and BadRequest description alike (a
    C++ integrator's check). Control characters are written as escapes."""
    (h,) = _good_households(1)
    h.persons[0].person_id = "150422\r\n197712210001"  # the key of its rows' reasons
    h.persons[0].health = 9
    with client(server, pki) as c, pytest.raises(grpc.RpcError) as e:
        c.stub.Explain(pb.ExplainRequest(household=h), metadata=c.metadata)
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    details = e.value.details()
    assert "health outside 1..6" in details and "\\n" in details
    status = rpc_status.from_call(e.value)
    br = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(br)
    for text in (details, status.message, br.field_violations[0].description):
        assert "\n" not in text and "\r" not in text, text


def test_list_and_get_policies(server, pki):
    library = default_library()
    with client(server, pki) as c:
        listed = c.list_policies()
        local = c.list_policies("150422")
        by_id = c.get_policy(id="150422-2024")
        in_force = c.get_policy(jurisdiction="150404", date="2024-07-01")
    assert [p.id for p in listed] == [p.id for p in library.packs]
    assert {p.jurisdiction for p in local} == {"150422", "150400", "150000"}
    assert by_id.summary.digest == library.by_id("150422-2024").digest
    assert hashlib.sha256(by_id.params_json.encode()).hexdigest() == by_id.summary.digest
    assert json.loads(by_id.params_json) == library.by_id("150422-2024").params
    assert (
        in_force.summary.id
        == library.select(
            "150404", pc.strptime(pa.scalar("2024-07-01"), "%Y-%m-%d", "s").as_py().date()
        ).id
    )


@pytest.mark.parametrize(
    "request_, code, field",
    [
        (
            {"jurisdiction": "110105", "date": "2024-07-01"},
            grpc.StatusCode.NOT_FOUND,
            "jurisdiction",
        ),
        ({"id": "999999-2099"}, grpc.StatusCode.NOT_FOUND, "id"),
        (
            {"jurisdiction": "150422", "date": "2024-13-01"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "date",
        ),
        ({}, grpc.StatusCode.INVALID_ARGUMENT, "id"),
        # both ways at once: the id silently won (a client developer's check)
        (
            {"id": "150422-2024", "jurisdiction": "150422", "date": "2025-07-01"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "jurisdiction",
        ),
        ({"jurisdiction": "150422", "date": "20240701"}, grpc.StatusCode.INVALID_ARGUMENT, "date"),
        (
            {"jurisdiction": "150422", "date": "2024-W27-1"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "date",
        ),
        ({"id": "x" * 20_000}, grpc.StatusCode.NOT_FOUND, "id"),
        (
            {"jurisdiction": "1" * 9_000, "date": "2024-07-01"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "jurisdiction",
        ),
        # not 6 ASCII digits (DATA.md): malformed, not a code without a pack (it was
        # NOT_FOUND "no policy pack for jurisdiction 15A422": a blind integration check)
        *(
            (
                {"jurisdiction": j, "date": "2024-07-01"},
                grpc.StatusCode.INVALID_ARGUMENT,
                "jurisdiction",
            )
            for j in ("15A422", "15042", "１５０４２２", "150422\n")
        ),
        ({"date": "2024-07-01"}, grpc.StatusCode.INVALID_ARGUMENT, "jurisdiction"),
    ],
)
def test_get_policy_errors(server, pki, request_, code, field):
    with client(server, pki) as c, pytest.raises(grpc.RpcError) as e:
        c.get_policy(**request_)
    assert code_of(e) == code and bad_request_fields(e.value) == [field]
    if request_.get("jurisdiction") == "110105":
        assert "110105" in e.value.details() and "2024-07-01" in e.value.details()
    if (
        field == "jurisdiction"
        and code == grpc.StatusCode.INVALID_ARGUMENT
        and "id" not in request_
    ):
        assert "6 ASCII digits" in e.value.details(), e.value.details()
    assert "Traceback" not in e.value.details() and len(e.value.details()) < 2_100


@pytest.mark.parametrize("jurisdiction", ["15A422", "1504", "1504220", "１５０４２２"])
def test_list_policies_refuses_a_malformed_jurisdiction(server, pki, jurisdiction):
    """ListPolicies' filter is a division code too: a malformed one is INVALID_ARGUMENT
    naming the field and the rule (it listed its province's packs, or none, silently)."""
    with client(server, pki) as c, pytest.raises(grpc.RpcError) as e:
        c.list_policies(jurisdiction)
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(e.value) == ["jurisdiction"]
    assert "6 ASCII digits" in e.value.details()


# Malformed requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chunks, field",
    [
        ([pb.ArrowChunk(table="nonsense", data=b"", last=True)], "table"),
        ([pb.ArrowChunk(table="households", data=b"not arrow", last=True)], "data"),
        ([pb.ArrowChunk(table="households", data=b"", last=False)], "last"),
        ([], "table"),
    ],
)
def test_malformed_arrow_is_invalid_argument(server, pki, chunks, field):
    with client(server, pki) as c, pytest.raises(grpc.RpcError) as e:
        list(c.stub.AssessArrow(iter(chunks), metadata=c.metadata))
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(e.value) == [field]


@pytest.mark.parametrize(
    "jurisdiction, says",
    [
        (pa.array([150422]), "column jurisdiction: expected string, found int64"),
        (pa.array([["150422"]]), "column jurisdiction: expected string, found list<item: string>"),
        ("twice", "column jurisdiction appears 2 times"),
        ("two streams", "bytes after the end of its Arrow IPC stream"),
    ],
)
def test_arrow_households_of_the_wrong_shape_are_invalid_argument(server, pki, jurisdiction, says):
    """The jurisdictions are checked before the engine conforms the tables: a column that
    is not text, or is there twice, ended the call INTERNAL; a second IPC stream in the
    households' chunks was dropped with status OK (found by an adversarial gRPC run)."""
    from meanstest.service.chunks import ipc_stream

    households = synth.generate(1, seed=2)["households"]
    data = bytes(ipc_stream(households))
    if jurisdiction == "twice":
        data = bytes(
            ipc_stream(households.append_column("jurisdiction", households["jurisdiction"]))
        )
    elif jurisdiction == "two streams":
        data += data
    else:
        at = households.schema.get_field_index("jurisdiction")
        data = bytes(ipc_stream(households.set_column(at, "jurisdiction", jurisdiction)))
    chunk = pb.ArrowChunk(table="households", data=data, last=True)
    with client(server, pki) as c, pytest.raises(grpc.RpcError) as e:
        list(c.stub.AssessArrow(iter([chunk]), metadata=c.metadata))
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    assert says in e.value.details()


@pytest.mark.parametrize("change", ["wrong type", "missing", "beyond its type"])
def test_an_arrow_table_that_does_not_fit_the_bundle_names_its_column(server, pki, change):
    """A column of the wrong type, or a required one missing, is INVALID_ARGUMENT with the
    BadRequest field `table.column`, as every malformed request has one (it had none,
    and the message named the table twice: a client developer's check); so is a value
    beyond its column's type (prev_benefit 2^63 as uint64: no field, a blind check)."""
    from meanstest.service.chunks import ipc_stream

    households = synth.generate(1, seed=2)["households"]
    if change == "beyond its type":
        at = households.schema.get_field_index("prev_benefit")
        households = households.set_column(at, "prev_benefit", pa.array([2**63], pa.uint64()))
        column = "prev_benefit"
    elif change == "wrong type":
        at = households.schema.get_field_index("assessment_date")
        households = households.set_column(
            at, "assessment_date", households["assessment_date"].cast(pa.string())
        )
        column = "assessment_date"
    else:
        households = households.drop_columns(["consent_signed"])
        column = "consent_signed"
    chunk = pb.ArrowChunk(table="households", data=bytes(ipc_stream(households)), last=True)
    with client(server, pki) as c, pytest.raises(grpc.RpcError) as e:
        list(c.stub.AssessArrow(iter([chunk]), metadata=c.metadata))
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(e.value) == [f"households.{column}"]
    assert e.value.details().count("households") == 1, e.value.details()


def test_bytes_that_are_not_an_arrow_chunk_are_invalid_argument(server, pki):
    # the server reads ArrowChunk bytes itself; what protobuf refuses, it refuses
    with client(server, pki) as c, pytest.raises(grpc.RpcError) as e:
        raw = c.channel.stream_stream("/meanstest.v1.MeansTest/AssessArrow")
        list(raw(iter([b"\x0a\x09house"]), metadata=c.metadata))  # truncated table name
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    assert "not an ArrowChunk" in e.value.details()
    assert bad_request_fields(e.value) == ["data"]


UNREADABLE = {  # bytes the protobuf library refuses, per RPC: garbage, truncated, bad UTF-8
    # (Assess's string that is not UTF-8: named by its field, the test below)
    "Assess": ("AssessRequest", "households", b"\x0a\x05\x0a\x01"),
    "Explain": ("ExplainRequest", "household", b"\x0a\x05\x0a\x01", b"\x12\x01\xff"),
    "GetPolicy": ("GetPolicyRequest", "id", b"\x0a\x05ab", b"\x1a\x01\xff"),
    "ListPolicies": ("ListPoliciesRequest", "jurisdiction", b"\x0a\x05ab", b"\x0a\x01\xff"),
}


@pytest.mark.parametrize("method", sorted(UNREADABLE))
def test_bytes_that_are_not_a_request_are_invalid_argument(server, pki, method, caplog):
    """Every unary RPC answers unreadable bytes as Assess does: INVALID_ARGUMENT naming the
    message type and a field, journaled, one log line. Explain, GetPolicy and ListPolicies
    left them to grpcio: INTERNAL "Exception deserializing request!", no journal entry,
    a traceback in the log (a new-user walkthrough)."""
    _running, journal = server
    message, field, *payloads = UNREADABLE[method]
    for payload in (b"\xff\xff\xff", *payloads):
        caplog.clear()
        with (
            client(server, pki, "township") as c,
            caplog.at_level(logging.DEBUG),
            pytest.raises(grpc.RpcError) as e,
        ):
            c.channel.unary_unary(f"/{SERVICE}/{method}")(payload, metadata=c.metadata)
        assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT, (payload, e.value.details())
        assert e.value.details().startswith(f"not a{'n' * (message[0] in 'AE')} {message} (")
        assert bad_request_fields(e.value) == [field]
        last = json.loads(journal.read_text().splitlines()[-1])
        assert (last["method"], last["caller"], last["status"]) == (
            method,
            "township",
            "INVALID_ARGUMENT",
        )
        lines = [r.getMessage() for r in caplog.records if r.name.startswith(("grpc", "meanst"))]
        assert len(lines) == 1 and lines[0].startswith(f"{method} caller=township"), lines
        assert not [r for r in caplog.records if r.exc_info], "a traceback in the log"
    # authentication still comes first: no token, garbage bytes → UNAUTHENTICATED
    with client(server, pki, "wrong-token") as c, pytest.raises(grpc.RpcError) as e:
        c.channel.unary_unary(f"/{SERVICE}/{method}")(b"\xff\xff\xff", metadata=c.metadata)
    assert code_of(e) == grpc.StatusCode.UNAUTHENTICATED


def _journaled(journal) -> tuple:
    last = json.loads(journal.read_text().splitlines()[-1])
    return last["method"], last["caller"], last["status"], last["households"]


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # AssessRequest()
        b"\x08\x01",  # households sent as a varint: an unknown field, nothing else
        b"\x7a\x80\x80\x14" + bytes(320 << 10),  # 320 KiB of unknown field: the bulk path
    ],
    ids=["empty", "unknown-field", "large"],
)
def test_assess_without_household_is_invalid_argument(server, pki, payload):
    """docs/decisions.md (gRPC service 3): no household is a structural problem of the
    request, INVALID_ARGUMENT with a BadRequest field, as Explain's; it was answered OK
    with nothing, and journaled OK (a new-user walkthrough)."""
    _running, journal = server
    with client(server, pki, "township") as c, pytest.raises(grpc.RpcError) as e:
        c.channel.unary_unary(f"/{SERVICE}/Assess")(payload, metadata=c.metadata)
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details() == "no household to assess"
    assert bad_request_fields(e.value) == ["households"]
    assert _journaled(journal) == ("Assess", "township", "INVALID_ARGUMENT", [])


@pytest.mark.parametrize("path", ["small", "bulk"])
def test_a_string_that_is_not_utf8_is_named_by_its_field_and_household(server, pki, path):
    """Protobuf refuses a request holding a string that is not UTF-8, whole; its reason,
    "String field had bad UTF-8", named no field, and the BadRequest field was
    `households` (a blind client's GB18030 `relation` among five households). Both the
    small-call path and the bulk path (a request of over 256 KiB) name them."""
    households = convert.tables_to_households(synth.generate(5, seed=2))
    households[1].persons[0].relation = "MARKERXY"
    data = pb.AssessRequest(households=households).SerializeToString()
    data = data.replace(b"MARKERXY", "你好".encode("gb18030") + b"\xff\xfe\xfd\xfc")
    if path == "bulk":
        data += b"\x7a\x80\x80\x14" + bytes(320 << 10)  # an unknown field of 320 KiB
    with client(server, pki) as c, pytest.raises(grpc.RpcError) as e:
        c.channel.unary_unary(f"/{SERVICE}/Assess")(data, metadata=c.metadata)
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    field = "households[1].persons[0].relation"
    assert bad_request_fields(e.value) == [field]
    assert e.value.details().startswith(
        f"{field} of household {households[1].household_id!r} (2 of the request) is not UTF-8"
    )
    # the household's own ID: named by its place
    with client(server, pki) as c, pytest.raises(grpc.RpcError) as e:
        c.channel.unary_unary(f"/{SERVICE}/Assess")(b"\x0a\x03\x0a\x01\xff", metadata=c.metadata)
    assert bad_request_fields(e.value) == ["households[0].household_id"]
    assert e.value.details().startswith(
        "households[0].household_id of the household at 1 of the request is not UTF-8 text"
    )


def test_a_stream_message_without_household_ends_the_stream_invalid_argument(server, pki):
    """Each AssessStream message is an Assess: the answers before an empty message are
    sent, then the stream ends INVALID_ARGUMENT (it answered an empty message OK)."""
    _running, journal = server
    hs = _good_households(2)
    with client(server, pki, "township") as c:
        answers = c.assess_stream(iter([hs[:1], [], hs[1:]]))
        assert len(next(answers).results) == 1
        with pytest.raises(grpc.RpcError) as e:
            next(answers)
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details() == "no household to assess"
    assert bad_request_fields(e.value) == ["households"]
    assert _journaled(journal) == ("AssessStream", "township", "INVALID_ARGUMENT", [])


def test_arrow_households_table_without_rows_is_invalid_argument(server, pki):
    """AssessArrow as Assess: a households table with no rows is INVALID_ARGUMENT (as no
    households table is), naming the chunk's `data` (it was answered OK with nothing)."""
    _running, journal = server
    tables = convert.households_to_tables(_good_households(1)).tables
    empty = {name: t.slice(0, 0) for name, t in tables.items()}
    with client(server, pki, "township") as c, pytest.raises(grpc.RpcError) as e:
        c.assess_arrow(empty)
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details() == "no household to assess (the households table has no rows)"
    assert bad_request_fields(e.value) == ["data"]
    assert _journaled(journal) == ("AssessArrow", "township", "INVALID_ARGUMENT", [])


def test_explain_without_household(server, pki):
    with client(server, pki) as c, pytest.raises(grpc.RpcError) as e:
        c.stub.Explain(pb.ExplainRequest(lang="fr"), metadata=c.metadata)
    assert code_of(e) == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(e.value) == ["household"]


# Authentication and jurisdictions -----------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_unauthenticated(server, pki, token):
    running, _ = server
    tls = ClientTLS.files(pki["ca"])
    with (
        MeansTestClient(f"localhost:{running.port}", token=token, tls=tls) as c,
        pytest.raises(grpc.RpcError) as e,
    ):
        c.list_policies()
    assert code_of(e) == grpc.StatusCode.UNAUTHENTICATED


def test_cross_jurisdiction_is_permission_denied(server, pki):
    tables = synth.generate(200, seed=5)
    other = households_of(tables, "150404")[:1]
    mine = _good_households(1)
    assert other
    with client(server, pki, "township") as c:
        assert c.assess_households(mine).results  # its own jurisdiction works
        for call in (
            lambda: c.assess_households(mine + other),
            lambda: c.stub.Explain(pb.ExplainRequest(household=other[0]), metadata=c.metadata),
            lambda: c.assess_arrow(convert.households_to_tables(mine + other).tables),
        ):
            with pytest.raises(grpc.RpcError) as e:
                call()
            assert code_of(e) == grpc.StatusCode.PERMISSION_DENIED
            assert "150404" in e.value.details()
    with client(server, pki, "league") as c:  # "1504*" covers 150404
        assert c.assess_households(other).results


def test_permission_denied_names_the_method_called(server, pki):
    """The message names the RPC the caller made: an AssessStream said "(Assess)" (a
    blind integration check), on the small-call and the bulk path alike."""
    tables = synth.generate(200, seed=5)
    other = households_of(tables, "150404")[:1]
    mine = households_of(tables, "150422")
    bulk = mine[:40] + other  # past the small path's 32 households
    assert len(bulk) > 32
    with client(server, pki, "township") as c:
        for method, call in (
            ("Assess", lambda: c.assess_households(mine[:1] + other)),
            ("Assess", lambda: c.assess_households(bulk)),
            ("AssessStream", lambda: list(c.assess_stream([mine[:1] + other]))),
            ("AssessStream", lambda: list(c.assess_stream([mine[:1], bulk]))),
            (
                "Explain",
                lambda: c.stub.Explain(pb.ExplainRequest(household=other[0]), metadata=c.metadata),
            ),
            ("AssessArrow", lambda: c.assess_arrow(convert.households_to_tables(bulk).tables)),
        ):
            with pytest.raises(grpc.RpcError) as e:
                call()
            assert code_of(e) == grpc.StatusCode.PERMISSION_DENIED
            # and the household: a case system searched its batch for it (a blind test)
            named = f"jurisdiction 150404 (household {other[0].household_id}, {method})"
            assert e.value.details().endswith(named), e.value.details()


# TLS ------------------------------------------------------------------------------------------


def test_plaintext_client_cannot_talk_to_tls_server(server):
    running, _ = server
    with (
        MeansTestClient(f"127.0.0.1:{running.port}", token=TOKENS["all"], timeout=5) as c,
        pytest.raises(grpc.RpcError) as e,
    ):
        c.list_policies()
    assert code_of(e) == grpc.StatusCode.UNAVAILABLE


def test_client_that_trusts_another_ca_fails(server, pki):
    running, _ = server
    tls = ClientTLS.files(pki["stranger"])
    with (
        MeansTestClient(f"localhost:{running.port}", token="x", tls=tls, timeout=5) as c,
        pytest.raises(grpc.RpcError) as e,
    ):
        c.list_policies()
    assert code_of(e) == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls(pki):
    creds = server_credentials(str(pki["server"]), str(pki["server-key"]), str(pki["ca"]))
    running = start(ServiceConfig(default_library()), "127.0.0.1:0", creds, warm=False)
    target = f"localhost:{running.port}"
    try:
        good = ClientTLS.files(pki["ca"], pki["client"], pki["client-key"])
        with MeansTestClient(target, tls=good) as c:
            assert c.list_policies()
        for tls in (
            ClientTLS.files(pki["ca"]),
            ClientTLS.files(pki["ca"], pki["stranger"], pki["stranger-key"]),
        ):
            with (
                MeansTestClient(target, tls=tls, timeout=5) as c,
                pytest.raises(grpc.RpcError) as e,
            ):
                c.list_policies()
            assert code_of(e) == grpc.StatusCode.UNAVAILABLE
    finally:
        running.stop(None).wait()


# Health and reflection ---------------------------------------------------------------------


def test_health_and_reflection(server, pki):
    from google.protobuf import descriptor_pool, message_factory
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    running, _ = server
    creds = grpc.ssl_channel_credentials(pki["ca"].read_bytes())
    with grpc.secure_channel(f"localhost:{running.port}", creds) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", SERVICE):
            reply = health.Check(health_pb2.HealthCheckRequest(service=name))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        db = ProtoReflectionDescriptorDatabase(channel)
        assert SERVICE in db.get_services()
        pool = descriptor_pool.DescriptorPool(db)
        method = pool.FindServiceByName(SERVICE).FindMethodByName("ListPolicies")
        request_cls = message_factory.GetMessageClass(method.input_type)
        reply_cls = message_factory.GetMessageClass(method.output_type)
        call = channel.unary_unary(
            f"/{SERVICE}/ListPolicies",
            request_serializer=request_cls.SerializeToString,
            response_deserializer=reply_cls.FromString,
        )
        reply = call(request_cls(), metadata=(("authorization", f"Bearer {TOKENS['all']}"),))
    assert [p.id for p in reply.policies] == [p.id for p in default_library().packs]


# Journal and logs ---------------------------------------------------------------------------


def test_journal_entry_is_written_before_the_answer(server, pki):
    _running, journal = server
    hs = _good_households(2)
    with client(server, pki, "township") as c:
        response = c.assess_households(hs)
        last = json.loads(journal.read_text().splitlines()[-1])  # read as soon as answered
    assert last["method"] == "Assess" and last["caller"] == "township" and last["status"] == "OK"
    got = {h["household_id"]: h for h in last["households"]}
    tables = convert.response_to_tables(response)
    digests = result_digests(tables["results"], tables["members"])
    for r, d in zip(response.results, digests):
        assert got[r.household_id]["input_digest"] == r.input_digest
        assert got[r.household_id]["policy_digest"] == r.policy_digest
        assert got[r.household_id]["result_digest"] == d
    digest = hashlib.sha256(response.SerializeToString(deterministic=True)).hexdigest()
    assert last["output_digest"] == digest
    assert verify(journal)[2] is None


def test_refused_call_is_journalled(server, pki):
    _running, journal = server
    other = households_of(synth.generate(200, seed=5), "150404")[:1]
    with client(server, pki, "township") as c, pytest.raises(grpc.RpcError):
        c.assess_households(other)
    last = json.loads(journal.read_text().splitlines()[-1])
    assert (last["status"], last["caller"], last["households"]) == (
        "PERMISSION_DENIED",
        "township",
        [],
    )


def test_log_holds_no_ids_or_amounts(server, pki, caplog):
    hs = _good_households(2)
    secrets = {p.person_id for h in hs for p in h.persons} | {
        str(r.balance) for h in hs for r in h.bank if r.balance > 999
    }
    with caplog.at_level(logging.DEBUG, logger="meanstest.service"), client(server, pki) as c:
        c.assess_households(hs)
        with pytest.raises(grpc.RpcError):
            c.get_policy(jurisdiction="110105", date="2024-07-01")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Assess" in text
    assert not [s for s in secrets if s in text]


def test_masking():
    assert mask_id("15042219660405000X") == "150422********000X"
    assert redact("bad ID 15042219660405000X in row 3") == "bad ID 150422********000X in row 3"


def test_policy_reads_are_journaled(server, pki):
    """Every call past authentication has an entry (docs/service.md); successful policy
    reads had none (found by an adversarial gRPC run)."""
    _running, journal = server
    with client(server, pki) as c:
        before = len(journal.read_text().splitlines())
        c.list_policies()
        c.get_policy(id="150422-2024")
    entries = [json.loads(line) for line in journal.read_text().splitlines()[before:]]
    assert [(e["method"], e["status"]) for e in entries] == [
        ("ListPolicies", "OK"),
        ("GetPolicy", "OK"),
    ]
    assert all(len(e["output_digest"]) == 64 for e in entries)
    assert verify(journal)[2] is None


def test_a_message_quoting_a_long_text_is_cut_not_resource_exhausted():
    """gRPC refuses status trailers over 16 KiB: a 20,000-character id quoted in a
    NOT_FOUND became RESOURCE_EXHAUSTED (found by an adversarial gRPC run)."""
    from meanstest.service.errors import MAX_MESSAGE, NotFound, status_of

    code, message = status_of(NotFound("no pack " + "x" * 20_000))
    assert code == grpc.StatusCode.NOT_FOUND
    assert len(message) < MAX_MESSAGE + 40 and message.endswith("… (18,008 more characters)")


def test_an_arrow_call_whose_deadline_passes_while_sending_is_journaled(server, pki):
    """Reading the chunks raises a bare RpcError when the client's deadline passes: the
    call is DEADLINE_EXCEEDED in the journal, not missing from it and logged INTERNAL
    (found by an adversarial gRPC run)."""
    import time

    from meanstest.service.chunks import ipc_stream

    _running, journal = server
    before = len(journal.read_text().splitlines())
    households = synth.generate(2, seed=2)["households"]
    data = bytes(ipc_stream(households))

    def slow():
        yield pb.ArrowChunk(table="households", data=data[:100], last=False)
        time.sleep(1.5)
        yield pb.ArrowChunk(table="households", data=data[100:], last=True)

    with client(server, pki) as c, pytest.raises(grpc.RpcError) as e:
        list(c.stub.AssessArrow(slow(), metadata=c.metadata, timeout=0.5))
    assert code_of(e) == grpc.StatusCode.DEADLINE_EXCEEDED
    for _ in range(50):  # the server notices when it next reads
        entries = [json.loads(line) for line in journal.read_text().splitlines()[before:]]
        if entries:
            break
        time.sleep(0.1)
    assert [(x["method"], x["status"]) for x in entries] == [("AssessArrow", "DEADLINE_EXCEEDED")]


def test_an_error_of_a_call_whose_client_is_gone_is_deadline_exceeded_or_cancelled():
    """When the client cancels or its deadline passes, reading the request raises a bare
    RpcError or simply ends, and the request looks cut short (CI's loaded run journaled
    INVALID_ARGUMENT "ended without a chunk marked last"): DEADLINE_EXCEEDED when the
    deadline has passed, else CANCELLED (was DEADLINE_EXCEEDED for both: a client that
    cancelled was journaled as having run out of time)."""
    from meanstest.service.errors import Cancelled, DeadlineExpired, InvalidArgument, ended_early

    class Context:
        def __init__(self, active, remaining=None):
            self.active, self.remaining = active, remaining

        def is_active(self):
            return self.active

        def time_remaining(self):
            return self.remaining

    class Cancelling(Context):  # the cancel shows a moment after the request ended
        def __init__(self):
            super().__init__(True)
            self.asked = 0

        def is_active(self):
            self.asked += 1
            return self.asked < 3

    cut = InvalidArgument("table(s) households ended without a chunk marked last", field="last")
    assert isinstance(ended_early(cut, Cancelling()), Cancelled)
    other = InvalidArgument("no households table among the chunks", field="table")
    assert ended_early(other, Cancelling()) is other  # asked once: not a cut request
    # unless said to be one: gRPC refusing the first chunk (over --max-message-mb)
    none = InvalidArgument("no households table among the chunks", field="table", cut=True)
    assert isinstance(ended_early(none, Cancelling()), Cancelled)
    assert isinstance(ended_early(cut, Context(False)), Cancelled)
    assert isinstance(ended_early(cut, Context(False, remaining=3.0)), Cancelled)
    assert isinstance(ended_early(cut, Context(True, remaining=-0.2)), DeadlineExpired)
    assert isinstance(ended_early(cut, Context(False, remaining=0.0)), DeadlineExpired)
    assert isinstance(ended_early(grpc.RpcError(), Context(True)), Cancelled)
    assert isinstance(ended_early(grpc.RpcError(), Context(True, remaining=-1)), DeadlineExpired)
    # the client's deadline ends the call a moment before the server's (CI run 142)
    assert isinstance(ended_early(grpc.RpcError(), Context(True, remaining=0.01)), DeadlineExpired)
    assert isinstance(ended_early(grpc.RpcError(), Context(True, remaining=0.5)), Cancelled)
    assert ended_early(cut, Context(True, remaining=0.01)) is cut  # live: not over
    assert isinstance(ended_early(grpc.RpcError()), Cancelled)
    assert ended_early(cut, Context(True)) is cut
    assert ended_early(cut, Context(True, remaining=5.0)) is cut
    assert ended_early(cut) is cut


def test_explain_and_policy_answers_are_the_bytes_the_journal_digests(server, pki):
    """docs/service.md: output_digest is the SHA-256 of the answer's deterministic
    serialisation. Explain sent another serialisation (its steps' `inputs` map), so a
    client could not check the digest against the bytes it received (a client
    developer's check); now Explain, GetPolicy and ListPolicies send those very bytes."""
    (h,) = _good_households(1)
    _running, journal = server
    with client(server, pki) as c:
        for method, request in (
            ("Explain", pb.ExplainRequest(household=h)),
            ("GetPolicy", pb.GetPolicyRequest(id=default_library().packs[0].id)),
            ("ListPolicies", pb.ListPoliciesRequest()),
        ):
            raw = c.channel.unary_unary(
                f"/meanstest.v1.MeansTest/{method}",
                request_serializer=type(request).SerializeToString,
            )(request, metadata=c.metadata)
            last = json.loads(journal.read_text().splitlines()[-1])
            assert last["method"] == method and last["status"] == "OK"
            assert last["output_digest"] == hashlib.sha256(raw).hexdigest(), method
