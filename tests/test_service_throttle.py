"""Failed authentications limited per address (service.throttle, docs/service.md "Tokens
file"): a security review's leftover, "no throttling of token guesses". More than N
failures from one address within W seconds lock it out for W seconds: every call from
it is refused (gRPC RESOURCE_EXHAUSTED, Flight UNAVAILABLE) without its token being
read, on gRPC and Flight alike; a success resets nothing."""

from __future__ import annotations

import logging
import threading

import grpc
import pyarrow as pa
import pyarrow.flight as fl
import pytest

from meanstest import synth
from meanstest.cli import main
from meanstest.policy import default_library
from meanstest.service.auth import Caller, Tokens, token_hash
from meanstest.service.errors import Unauthenticated
from meanstest.service.flight import COMMAND, flight_assess, start_flight
from meanstest.service.journal import Journal
from meanstest.service.journal_check import read_entries
from meanstest.service.server import SERVICE, ServiceConfig, start
from meanstest.service.throttle import AuthLimiter, LockedOut, admit, peer_host
from meanstest.v1 import meanstest_pb2 as pb

PEER = "ipv4:10.1.2.3:51234"
LOCKED = "too many failed authentications from this address"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def locked(limiter: AuthLimiter, peer: str = PEER) -> bool:
    try:
        limiter.check(peer)
    except LockedOut:
        return True
    return False


# the limiter alone -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "peer, host",
    [
        ("ipv4:127.0.0.1:54321", "127.0.0.1"),
        ("ipv4:10.1.2.3:1", "10.1.2.3"),
        ("ipv6:[::1]:54321", "::/64"),
        ("ipv6:%5B::1%5D:54321", "::/64"),  # how grpcio and pyarrow write it
        ("ipv6:[2001:db8:1:2:aaaa::7]:443", "2001:db8:1:2::/64"),
        ("ipv6:%5B2001:db8:1:2:bbbb::9%5D:80", "2001:db8:1:2::/64"),  # the same /64
        ("ipv6:[2001:db8:1:3::7]:443", "2001:db8:1:3::/64"),
        ("ipv6:[::ffff:10.1.2.3]:51234", "10.1.2.3"),  # IPv4 through a socket bound on ::
        ("ipv6:[fe80::1%25eth0]:51234", "fe80::/64"),
        ("unix:/run/meanstest.sock", "unix:/run/meanstest.sock"),
        ("unix-abstract:meanstest", "unix-abstract:meanstest"),
        ("-", "-"),
        ("ipv4:not-an-address:1", "ipv4:not-an-address:1"),
    ],
)
def test_an_address_is_counted_without_its_port(peer, host):
    assert peer_host(peer) == host


def test_more_than_n_failures_within_the_window_lock_the_address_out():
    clock = Clock()
    limiter = AuthLimiter(3, 10.0, clock)
    for at in (0.0, 1.0, 2.0):
        clock.now = 1000.0 + at
        limiter.failed(PEER)
    assert not locked(limiter)  # three: not more than three
    clock.now = 1010.5  # the failure at 0 has left the window: 1, 2, 10.5
    limiter.failed(PEER)
    assert not locked(limiter)
    clock.now = 1011.5  # and the one at 1: 2, 10.5, 11.5
    limiter.failed(PEER)
    assert not locked(limiter)
    assert not locked(limiter, "ipv4:10.1.2.4:51234")
    clock.now = 1011.9  # 2, 10.5, 11.5, 11.9: four within ten seconds
    limiter.failed("ipv4:10.1.2.3:60000")  # another port of the same address
    assert locked(limiter) and locked(limiter, "ipv4:10.1.2.3:1")
    assert not locked(limiter, "ipv4:10.1.2.4:51234")  # another address is not


def test_a_lockout_lasts_the_window_and_then_counting_starts_afresh():
    clock = Clock()
    limiter = AuthLimiter(2, 60.0, clock)
    for _ in range(3):
        limiter.failed(PEER)
    with pytest.raises(LockedOut) as e:
        limiter.check(PEER)
    assert e.value.message == (
        f"{LOCKED} (more than 2 in 60 s): calls refused for 60 s more "
        "(serve --auth-failures, --auth-window-seconds)"
    )
    clock.now += 17.5
    with pytest.raises(LockedOut, match="refused for 43 s more"):
        limiter.check(PEER)
    clock.now += 42.4
    assert locked(limiter)
    clock.now += 0.1  # 60 s after the failure that locked it
    assert not locked(limiter)
    limiter.failed(PEER)
    limiter.failed(PEER)
    assert not locked(limiter)  # the failures before the lockout count no more
    limiter.failed(PEER)
    assert locked(limiter)


def _authenticate(metadata):
    if dict(metadata or ()).get("authorization") != "Bearer right":
        raise Unauthenticated("unknown bearer token")
    return Caller("holder", ("*",))


def test_a_success_resets_nothing_and_a_locked_out_token_is_not_read():
    """A holder of one valid token interleaving its calls with guesses is locked out
    all the same; locked out, its right token is refused unread."""
    limiter = AuthLimiter(3, 60.0, Clock())
    right, wrong = (("authorization", "Bearer right"),), (("authorization", "Bearer guess"),)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            admit(limiter, PEER, _authenticate, wrong)
        assert admit(limiter, PEER, _authenticate, right).name == "holder"
    with pytest.raises(Unauthenticated):
        admit(limiter, PEER, _authenticate, wrong)  # the fourth failure
    read = []

    def spy(metadata):
        read.append(metadata)
        return _authenticate(metadata)

    for metadata in (right, wrong):
        with pytest.raises(LockedOut):
            admit(limiter, PEER, spy, metadata)
    assert read == []
    assert admit(limiter, "ipv4:10.9.9.9:1", spy, right).name == "holder"  # others: as ever
    assert admit(None, PEER, _authenticate, right).name == "holder"  # no limiter: no limit


def test_the_table_of_addresses_is_bounded_and_forgets_the_stale():
    clock = Clock()
    limiter = AuthLimiter(1, 10.0, clock, max_peers=3)
    limiter.failed("ipv4:10.0.0.1:1")  # one failure each: none locked out
    for i in range(2, 6):
        clock.now += 1
        limiter.failed(f"ipv4:10.0.0.{i}:1")
        assert len(limiter) <= 3
    assert len(limiter) == 3
    limiter.failed("ipv4:10.0.0.5:1")  # 5's second failure: locked, and it stays
    assert locked(limiter, "ipv4:10.0.0.5:2")
    limiter.failed("ipv4:10.0.0.1:1")  # 1, the stalest, was dropped: a first failure
    assert not locked(limiter, "ipv4:10.0.0.1:1")
    assert len(limiter) == 3 and locked(limiter, "ipv4:10.0.0.5:2")  # 3 went, not 5
    clock.now += 10  # 5's lockout is over, and every failure is out of the window
    limiter.failed("ipv4:10.0.0.9:1")
    assert len(limiter) == 1  # only 9's


def test_a_lockout_logs_one_line_naming_the_peer(caplog):
    limiter = AuthLimiter(2, 30.0, Clock())
    with caplog.at_level(logging.INFO, logger="meanstest.service"):
        for _ in range(3):
            limiter.failed("ipv6:[2001:db8::7]:4433")
        for _ in range(5):
            assert locked(limiter, "ipv6:[2001:db8::8]:1")
    lines = [r.getMessage() for r in caplog.records if r.name == "meanstest.service"]
    assert lines == [
        (
            "authentication: 3 failed from 2001:db8::/64 within 30 s (--auth-failures 2): "
            "every call from it refused for 30 s peer=ipv6:[2001:db8::7]:4433"
        )
    ]


def test_failures_from_many_threads_are_all_counted():
    limiter = AuthLimiter(8 * 500 - 1, 60.0)  # the last of 4,000 failures locks it out

    def fail():
        for _ in range(500):
            limiter.failed(PEER)

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert locked(limiter)


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 60.0), "failures: a whole number of at least 1"),
        ((-1, 60.0), "failures: a whole number of at least 1"),
        ((2.5, 60.0), "failures: a whole number of at least 1"),
        ((20, 0.0), "window: a positive number of seconds"),
        ((20, -1.0), "window: a positive number of seconds"),
        ((20, float("nan")), "window: a positive number of seconds"),
        ((20, float("inf")), "window: a positive number of seconds"),
    ],
)
def test_a_limiter_refuses_limits_that_mean_nothing(args, message):
    with pytest.raises(ValueError, match=message):
        AuthLimiter(*args)


# meanstest serve --auth-failures N --auth-window-seconds W ----------------------------------


class _Started(Exception):
    """Raised instead of starting a server: `meanstest serve` got past its checks."""


def _serve_config(tmp_path, monkeypatch, *flags) -> ServiceConfig:
    seen = {}

    def start(config, *args, **kwargs):
        seen["config"] = config
        raise _Started

    monkeypatch.setattr("meanstest.service.server.start", start)
    with pytest.raises(_Started):
        main(["serve", "--journal", str(tmp_path / "j.jsonl"), "--plaintext-loopback", *flags])
    return seen["config"]


def test_the_limits_reach_the_server(tmp_path, monkeypatch):
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[caller]]\nname = "a"\ntoken_sha256 = "{token_hash("t")}"\njurisdictions = ["*"]\n'
    )
    tokens.chmod(0o600)
    config = _serve_config(tmp_path, monkeypatch, "--tokens", str(tokens))
    assert (config.auth_failures, config.auth_window_seconds) == (20, 60.0)  # the defaults
    flags = ["--no-auth", "--auth-failures", "0", "--auth-window-seconds", "7.5"]
    config = _serve_config(tmp_path, monkeypatch, *flags)
    assert (config.auth_failures, config.auth_window_seconds) == (0, 7.5)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--auth-failures", "-1"], "--auth-failures must be at least 0 (0 = no limit), not -1"),
        (["--auth-window-seconds", "0"], "--auth-window-seconds must be a positive number"),
        (["--auth-window-seconds", "-5"], "--auth-window-seconds must be a positive number"),
        (["--auth-window-seconds", "nan"], "--auth-window-seconds must be a positive number"),
        (["--auth-window-seconds", "inf"], "--auth-window-seconds must be a positive number"),
    ],
)
def test_limits_that_mean_nothing_are_refused(tmp_path, capsys, flags, message):
    argv = ["serve", "--journal", str(tmp_path / "j.jsonl"), "--plaintext-loopback", "--no-auth"]
    assert main([*argv, *flags]) == 1
    assert message in capsys.readouterr().err


# a real server: gRPC and Flight on loopback -------------------------------------------------

RIGHT, WRONG = "the-right-token", "a-guess"


@pytest.fixture
def serving(tmp_path):
    """serving(**config) → (gRPC channel, Flight location, clock, journal path) of a server
    with one caller, the token RIGHT, and Flight beside it."""
    made = []

    def make(**kw):
        clock = Clock()
        journal = tmp_path / f"journal-{len(made)}.jsonl"
        config = ServiceConfig(
            default_library(),
            journal=Journal(journal),
            tokens=Tokens({token_hash(RIGHT): Caller("holder", ("*",))}),
            auth_clock=clock,
            **kw,
        )
        running = start(config, "127.0.0.1:0", warm=False)
        flight = start_flight(running.service, "127.0.0.1", 0)
        channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
        made.append((channel, flight, running, config))
        return channel, f"grpc+tcp://127.0.0.1:{flight.port}", clock, journal

    yield make
    for channel, flight, running, config in made:
        channel.close()
        flight.shutdown()
        running.stop(None).wait()
        config.journal.close()


def list_policies(channel, token):
    call = channel.unary_unary(f"/{SERVICE}/ListPolicies")
    request = pb.ListPoliciesRequest().SerializeToString()
    return call(request, metadata=(("authorization", f"Bearer {token}"),), timeout=30)


def grpc_code(channel, token) -> grpc.StatusCode:
    try:
        list_policies(channel, token)
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def flight_raises(location, token) -> type | None:
    try:
        flight_assess(location, synth.generate(2, seed=1), token)
    except fl.FlightError as e:
        return type(e)
    return None


def test_grpc_guesses_beyond_the_limit_lock_the_address_out_for_the_window(serving, caplog):
    channel, _, clock, journal = serving(auth_failures=3, auth_window_seconds=60.0)
    assert grpc_code(channel, RIGHT) == grpc.StatusCode.OK
    with caplog.at_level(logging.INFO, logger="meanstest.service"):
        for _ in range(4):
            assert grpc_code(channel, WRONG) == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as e:
            list_policies(channel, RIGHT)  # the right token, from the locked-out address
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert e.value.details() == (
        f"{LOCKED} (more than 3 in 60 s): calls refused for 60 s more "
        "(serve --auth-failures, --auth-window-seconds)"
    )
    streamed = channel.stream_stream(f"/{SERVICE}/AssessStream")
    with pytest.raises(grpc.RpcError) as e:
        list(streamed(iter([]), metadata=(("authorization", f"Bearer {RIGHT}"),), timeout=30))
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    lines = [r.getMessage() for r in caplog.records if r.name == "meanstest.service"]
    lockouts = [x for x in lines if x.startswith("authentication:")]
    assert len(lockouts) == 1 and "4 failed from 127.0.0.1 within 60 s" in lockouts[0]
    assert lines[-1].startswith("ListPolicies caller=- households=0 status=RESOURCE_EXHAUSTED")
    assert [e["caller"] for e in read_entries(journal)] == ["holder"]  # refused: no entry
    clock.now += 59.9
    assert grpc_code(channel, RIGHT) == grpc.StatusCode.RESOURCE_EXHAUSTED
    clock.now += 0.1
    assert grpc_code(channel, RIGHT) == grpc.StatusCode.OK


def test_the_default_limit_is_twenty_failures(serving):
    channel, _, _, _ = serving()
    for _ in range(20):
        assert grpc_code(channel, WRONG) == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_code(channel, RIGHT) == grpc.StatusCode.OK  # twenty: not more than twenty
    assert grpc_code(channel, "") == grpc.StatusCode.UNAUTHENTICATED  # no token counts too
    assert grpc_code(channel, RIGHT) == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_flight_guesses_beyond_the_limit_lock_the_address_out(serving):
    _, location, clock, _ = serving(auth_failures=2, auth_window_seconds=5.0)
    for _ in range(3):
        assert flight_raises(location, WRONG) is fl.FlightUnauthenticatedError
    with pytest.raises(fl.FlightUnavailableError, match=LOCKED):
        flight_assess(location, synth.generate(2, seed=1), RIGHT)
    clock.now += 5
    assert flight_raises(location, RIGHT) is None


@pytest.mark.parametrize("guessed_on", ["gRPC", "Flight"])
def test_guesses_on_one_protocol_lock_the_other(serving, guessed_on):
    channel, location, _, _ = serving(auth_failures=2, auth_window_seconds=60.0)
    for _ in range(3):
        if guessed_on == "gRPC":
            assert grpc_code(channel, WRONG) == grpc.StatusCode.UNAUTHENTICATED
        else:
            assert flight_raises(location, WRONG) is fl.FlightUnauthenticatedError
    assert grpc_code(channel, RIGHT) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert flight_raises(location, RIGHT) is fl.FlightUnavailableError


def test_no_flight_method_tells_a_right_token_from_a_wrong_one_uncounted(serving):
    """pyarrow's middleware cannot see the peer: it refused wrong tokens on every Flight
    method, uncounted, and Handshake and PollFlightInfo (answered without Python) were
    UNIMPLEMENTED for a right token and UNAUTHENTICATED for a wrong one. Now each method
    other than DoExchange counts a wrong token and is UNIMPLEMENTED to a right one."""
    _, location, _, _ = serving(auth_failures=3, auth_window_seconds=60.0)
    address = location.removeprefix("grpc+tcp://")
    methods = "/arrow.flight.protocol.FlightService/"
    with grpc.insecure_channel(address) as raw:

        def code(method, kind, token):
            metadata = (("authorization", f"Bearer {token}"),)
            call = getattr(raw, kind)(methods + method)
            request = iter([]) if kind.startswith("stream") else b""
            try:
                answer = call(request, metadata=metadata, timeout=30)
                list(answer) if kind.endswith("stream") else answer
            except grpc.RpcError as e:
                return e.code()
            return grpc.StatusCode.OK

        for method, kind in [("Handshake", "stream_stream"), ("PollFlightInfo", "unary_unary")]:
            assert code(method, kind, WRONG) == code(method, kind, RIGHT)
        assert code("ListFlights", "unary_stream", RIGHT) == grpc.StatusCode.UNIMPLEMENTED
        assert code("ListFlights", "unary_stream", WRONG) == grpc.StatusCode.UNAUTHENTICATED
        for _ in range(3):  # and the fourth failure
            assert code("ListActions", "unary_stream", WRONG) == grpc.StatusCode.UNAUTHENTICATED
        assert code("ListActions", "unary_stream", RIGHT) == grpc.StatusCode.UNAVAILABLE
    assert flight_raises(location, RIGHT) is fl.FlightUnavailableError


def test_no_limit_with_auth_failures_zero(serving):
    channel, location, _, _ = serving(auth_failures=0)
    for _ in range(25):
        assert grpc_code(channel, WRONG) == grpc.StatusCode.UNAUTHENTICATED
    for _ in range(5):
        assert flight_raises(location, WRONG) is fl.FlightUnauthenticatedError
    assert grpc_code(channel, RIGHT) == grpc.StatusCode.OK
    assert flight_raises(location, RIGHT) is None


def test_a_flight_refusal_for_the_lockout_carries_no_path_of_the_server(serving):
    """Nor an unserved method's UNIMPLEMENTED: pyarrow sends its traceback, and the
    handler is a frame of no file (as DoExchange's, test_service_flight)."""
    _, location, _, _ = serving(auth_failures=1, auth_window_seconds=60.0)
    client = fl.FlightClient(location)
    options = fl.FlightCallOptions(headers=[(b"authorization", f"Bearer {RIGHT}".encode())])
    with pytest.raises(pa.ArrowNotImplementedError) as unserved:
        list(client.list_flights(options=options))
    assert "Flight.ListFlights is not served" in str(unserved.value)
    for _ in range(2):
        assert flight_raises(location, WRONG) is fl.FlightUnauthenticatedError
    try:
        writer, reader = client.do_exchange(fl.FlightDescriptor.for_command(COMMAND), options)
        with pytest.raises(fl.FlightUnavailableError) as e:
            writer.done_writing()
            reader.read_all()
        with pytest.raises(fl.FlightUnavailableError):
            writer.close()  # the same status again (an unclosed writer prints it)
        with pytest.raises(fl.FlightUnavailableError) as listed:
            list(client.list_flights(options=options))
    finally:
        client.close()
    for text in (str(e.value), str(listed.value), str(unserved.value)):
        assert LOCKED in text or "<meanstest flight>" in text
        assert "service/flight.py" not in text and "/meanstest/" not in text
    assert LOCKED in str(e.value) and LOCKED in str(listed.value)
