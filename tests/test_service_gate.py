"""The gate of every call (service.gate, docs/service.md "Limits"): a blind security
review held every slot of the server with calls that never sent their request — 16
without a token, or a few idle streams with one — and had a 400,000-household answer
journaled OK that gRPC then refused to send."""

import json
import logging
import re
import threading
import time

import grpc
import pytest

from meanstest import schema, synth
from meanstest.policy import default_library
from meanstest.service import convert
from meanstest.service.auth import Caller, Tokens, token_hash
from meanstest.service.errors import Unauthenticated
from meanstest.service.journal import Journal
from meanstest.service.server import SERVICE, ServiceConfig, start
from meanstest.v1 import meanstest_pb2 as pb

TOKEN = (("authorization", "Bearer secret"),)


@pytest.fixture
def served(tmp_path):
    """A server of two slots, waiting at most 0.5 s for a request message."""
    config = ServiceConfig(
        default_library(),
        journal=Journal(tmp_path / "journal.jsonl"),
        tokens=Tokens({token_hash("secret"): Caller("township", ("150422",))}),
        max_concurrent_calls=2,
        workers=4,
        idle_seconds=0.5,
    )
    running = start(config, "127.0.0.1:0", warm=False)
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    yield channel, tmp_path / "journal.jsonl", config
    channel.close()
    running.stop(None).wait()
    config.journal.close()


def _never(release: threading.Event):
    """A request stream that sends nothing until released (then ends)."""
    release.wait(30)
    return
    yield


def _entries(journal) -> list[dict]:
    return (
        [json.loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []
    )


def _list_policies(channel, metadata=TOKEN):
    """A call with a token, answered once a slot is free: a cancelled call's slot is
    freed when the server has journaled it, a moment after the client saw the cancel."""
    call = channel.unary_unary(f"/{SERVICE}/ListPolicies")
    for _ in range(100):  # at most 5 s
        try:
            return call(pb.ListPoliciesRequest().SerializeToString(), metadata=metadata, timeout=10)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
            time.sleep(0.05)
    raise AssertionError("no slot was freed")


def test_calls_without_a_token_are_refused_before_their_request_comes(served):
    channel, journal, _ = served
    release = threading.Event()
    waiting = channel.stream_unary(f"/{SERVICE}/ListPolicies")
    started = time.monotonic()
    try:
        for _ in range(6):  # three times the slots, each left waiting for its request
            f = waiting.future(_never(release), timeout=20)
            with pytest.raises(grpc.RpcError) as e:
                f.result(timeout=10)
            assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert time.monotonic() - started < 5  # not held until the request came
        assert pb.ListPoliciesResponse.FromString(_list_policies(channel)).policies
    finally:
        release.set()
    assert all(e["caller"] == "township" for e in _entries(journal))  # the refused: none


@pytest.mark.parametrize("method", ["Assess", "Explain", "GetPolicy"])
def test_a_unary_call_whose_request_never_comes_is_cancelled_and_journaled(served, method, caplog):
    channel, journal, _ = served
    caplog.set_level(logging.INFO, logger="meanstest.service")
    release = threading.Event()
    try:
        call = channel.stream_unary(f"/{SERVICE}/{method}")
        f = call.future(_never(release), metadata=TOKEN, timeout=20)
        with pytest.raises(grpc.RpcError) as e:
            f.result(timeout=10)
        assert e.value.code() == grpc.StatusCode.CANCELLED
        assert pb.ListPoliciesResponse.FromString(_list_policies(channel)).policies
    finally:
        release.set()
    for _ in range(200):  # the entry is written as the call ends: at most 4 s
        entries = [x for x in _entries(journal) if x["method"] == method]
        if entries:
            break
        time.sleep(0.02)
    assert entries[-1]["status"] == "CANCELLED" and entries[-1]["caller"] == "township"
    # the log says why, and from where (a blind test found "peer=" empty there)
    said = [r.getMessage() for r in caplog.records if "no request message" in r.getMessage()]
    assert said and all(re.search(r"peer=ipv[46]:\S+$", m) for m in said), said


@pytest.mark.parametrize("method", ["AssessStream", "AssessArrow"])
def test_an_idle_stream_is_cancelled_and_the_slot_freed(served, method):
    channel, journal, _ = served
    release = threading.Event()
    try:
        calls = [
            channel.stream_stream(f"/{SERVICE}/{method}")(
                _never(release), metadata=TOKEN, timeout=20
            )
            for _ in range(2)  # every slot
        ]
        for call in calls:
            with pytest.raises(grpc.RpcError) as e:
                list(call)
            assert e.value.code() == grpc.StatusCode.CANCELLED
        assert pb.ListPoliciesResponse.FromString(_list_policies(channel)).policies
    finally:
        release.set()
    for _ in range(200):  # each entry is written as its call ends: at most 4 s
        ended = [x for x in _entries(journal) if x["method"] == method]
        if len(ended) >= 2:
            break
        time.sleep(0.02)
    assert [x["status"] for x in ended] == ["CANCELLED", "CANCELLED"]


def test_a_stream_that_keeps_sending_is_not_cut(served):
    """The wait is per message: a stream whose messages come 0.2 s apart (under the
    0.5 s bound, with room for a loaded machine) for 0.8 s is answered whole."""
    channel, _, _ = served
    households = [h for h in convert.tables_to_households(synth.generate(8, seed=3))]
    households = [h for h in households if h.jurisdiction == "150422"][:4]

    def slow():
        for h in households:
            time.sleep(0.2)
            yield pb.AssessRequest(households=[h]).SerializeToString()

    answers = list(channel.stream_stream(f"/{SERVICE}/AssessStream")(slow(), metadata=TOKEN))
    assert len(answers) == len(households)


def test_a_unary_call_is_answered_when_its_message_is_in(served):
    """The method runs as soon as its one message has come, not when the client ends its
    stream (the review of the gate: a client that half-closed 5 s after its message, past
    the bound, was cancelled)."""
    channel, _, _ = served
    release = threading.Event()

    def late_end():
        yield pb.ListPoliciesRequest().SerializeToString()
        release.wait(5)  # the end of the stream, ten bounds later

    try:
        started = time.monotonic()
        call = channel.stream_unary(f"/{SERVICE}/ListPolicies")
        answer = call(late_end(), metadata=TOKEN, timeout=10)
        assert pb.ListPoliciesResponse.FromString(answer).policies
        assert time.monotonic() - started < 2
    finally:
        release.set()


def test_a_refused_call_never_reaches_its_method(tmp_path, monkeypatch):
    """A call the gate refused is answered there, never by its method: had a SIGHUP
    reload made the token valid between the gate's check and the method's, the method
    ran on an empty request and answered OK (the review of the gate). Here the gate
    refuses a token the method would take."""
    from meanstest.service import server as served_module
    from meanstest.service.gate import Gate

    class Strict(Gate):
        def __init__(self, inner, authenticate, *rest):
            def refuse_all(metadata, cert_sha256, peer):
                raise Unauthenticated("token revoked meanwhile")

            super().__init__(inner, refuse_all, *rest)

    monkeypatch.setattr(served_module, "Gate", Strict)
    config = ServiceConfig(
        default_library(),
        journal=Journal(tmp_path / "journal.jsonl"),
        tokens=Tokens({token_hash("secret"): Caller("township", ("150422",))}),
    )
    running = start(config, "127.0.0.1:0", warm=False)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
        with channel, pytest.raises(grpc.RpcError) as e:
            _list_policies(channel)  # the token the method's own check would accept
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        running.stop(None).wait()
        config.journal.close()
    assert _entries(tmp_path / "journal.jsonl") == []


def test_the_idle_watch_forgets_every_call_and_stops_when_none_waits():
    """No expired mark outlives its wait (an id(context) reused by a later call must not
    find one), and the watch's thread ends when no call waits (one per server was left
    running: the review of the gate)."""
    from meanstest.service.gate import IdleWatch

    class Context:
        cancelled = False

        def cancel(self):
            self.cancelled = True

    watch = IdleWatch(0.05)
    late, quick = Context(), Context()
    key = watch.begin(late)
    time.sleep(0.2)
    assert late.cancelled and watch.end(key)  # cancelled, and said so once
    assert not watch.end(key) and watch._expired == set()
    assert not watch.end(watch.begin(quick)) and not quick.cancelled
    for _ in range(40):  # the thread looks every 12.5 ms here: gone within 0.5 s
        if watch._thread is None:
            break
        time.sleep(0.0125)
    assert watch._thread is None


def _over_the_limit(tmp_path, method: str, request: bytes, limit: int) -> dict:
    """Call `method` of a server whose message limit is `limit`: RESOURCE_EXHAUSTED, said
    by the service; the call's journal entry."""
    assert len(request) < limit  # the request fits: the answer does not
    config = ServiceConfig(
        default_library(), journal=Journal(tmp_path / "journal.jsonl"), max_message_bytes=limit
    )
    running = start(config, "127.0.0.1:0", warm=False)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
        with channel, pytest.raises(grpc.RpcError) as e:
            channel.unary_unary(f"/{SERVICE}/{method}")(request, timeout=30)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "over --max-message-mb" in e.value.details()
    finally:
        running.stop(None).wait()
        config.journal.close()
    return _entries(tmp_path / "journal.jsonl")[-1]


def test_an_answer_over_the_message_limit_is_refused_before_it_is_journaled(tmp_path):
    households = convert.tables_to_households(synth.generate(200, seed=5))
    for h in households:  # members only: a small request, a larger answer
        for name in ("supporters", *schema.SOURCE_TABLES):
            del getattr(h, name)[:]
    request = pb.AssessRequest(households=households).SerializeToString()
    last = _over_the_limit(tmp_path, "Assess", request, len(request) * 3 // 2)
    assert last["status"] == "RESOURCE_EXHAUSTED" and last["households"] == []


def test_an_explain_answer_over_the_limit_is_refused_before_it_is_journaled(tmp_path):
    """Explain's answer too (it holds the document and every step): the review of the
    answer-size fix found it journaled OK while gRPC refused to send it."""
    households = [h for h in convert.tables_to_households(synth.generate(40, seed=3)) if h.persons]
    request = pb.ExplainRequest(household=households[0]).SerializeToString()
    assert _over_the_limit(tmp_path, "Explain", request, 8192)["status"] == "RESOURCE_EXHAUSTED"


def test_a_streams_log_line_counts_the_households_of_every_message(served, caplog):
    """docs/service.md: one log line per call with its number of households. An
    AssessStream of 1 + 2 + 3 households was logged households=3, its last message's
    (a blind test of the service); its journal has one entry per message."""
    channel, journal, _ = served
    caplog.set_level(logging.INFO, logger="meanstest.service")
    tables = synth.generate(40, seed=3)
    households = [h for h in convert.tables_to_households(tables) if h.jurisdiction == "150422"][:6]
    assert len(households) == 6
    messages = [households[:1], households[1:3], households[3:6]]
    answers = list(
        channel.stream_stream(f"/{SERVICE}/AssessStream")(
            (pb.AssessRequest(households=m).SerializeToString() for m in messages),
            metadata=TOKEN,
        )
    )
    assert len(answers) == 3
    said = [r.getMessage() for r in caplog.records if "AssessStream caller=" in r.getMessage()]
    assert len(said) == 1 and " households=6 " in said[0], said
    entries = [x for x in _entries(journal) if x["method"] == "AssessStream"]
    assert [len(x["households"]) for x in entries] == [1, 2, 3]
