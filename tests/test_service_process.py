"""`meanstest serve` as a subprocess: refuses insecure set-ups, serves over TLS with
tokens, lists itself by reflection, answers correctly, and drains on SIGTERM."""

import os
import queue
import signal
import subprocess
import sys
import time

import grpc
import pyarrow.flight as fl
import pytest
from fixtures.tls.pki import make_pki
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from meanstest import assess, synth
from meanstest.cli import main
from meanstest.service import convert
from meanstest.service.auth import token_hash
from meanstest.service.client import ClientTLS, MeansTestClient
from meanstest.service.journal_check import verify
from meanstest.service.server import SERVICE

TOKEN = "process-test-token"


@pytest.mark.parametrize(
    "flags, message",
    [
        ([], "refusing to serve without TLS"),
        (["--plaintext-loopback", "--host", "0.0.0.0", "--no-auth"], "not a loopback address"),
        (["--insecure", "--host", "0.0.0.0", "--no-auth"], "--no-auth is for loopback only"),
        (["--plaintext-loopback"], "refusing to serve without --tokens"),
        (["--tls-cert", "x.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", "ca.pem", "--insecure"], "--tls-client-ca needs"),
        # numbers out of range: one line each (a blind operator's check: --port 70000
        # served on 4464, --max-message-mb 100000 and --grace nan were a traceback and a
        # shutdown that cut every call at once)
        (["--plaintext-loopback", "--no-auth", "--port", "70000"], "--port must be 0..65535, not 70000"),
        (["--plaintext-loopback", "--no-auth", "--flight-port", "-1"], "--flight-port must be 0..65535"),
        (["--plaintext-loopback", "--no-auth", "--max-message-mb", "100000"], "--max-message-mb must be 1..2047"),
        (["--plaintext-loopback", "--no-auth", "--grace", "nan"], "--grace must be a number of seconds"),
        (["--plaintext-loopback", "--no-auth", "--grace", "-1"], "--grace must be a number of seconds"),
    ],
)  # fmt: skip
def test_insecure_setups_are_refused(tmp_path, capsys, flags, message):
    assert main(["serve", "--journal", str(tmp_path / "j.jsonl"), *flags]) == 1
    assert message in capsys.readouterr().err


def test_an_unknown_log_level_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["serve", "--journal", str(tmp_path / "j.jsonl"), "--log-level", "LOUD"])
    assert e.value.code == 2 and "invalid choice: 'LOUD'" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--port", "--flight-port"])
def test_a_port_in_use_is_one_line_not_a_traceback(tmp_path, capsys, flag):
    """gRPC raised RuntimeError ("Failed to bind") and pyarrow ArrowInvalid through a
    traceback (a blind operator's check)."""
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = str(taken.getsockname()[1])
        args = ["--plaintext-loopback", "--no-auth", "--journal", str(tmp_path / "j.jsonl")]
        args += ["--port", "0", flag, port] if flag == "--flight-port" else ["--port", port]
        assert main(["serve", *args]) == 1
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert ("cannot listen on 127.0.0.1:" if flag == "--port" else "cannot serve Flight") in err


def _wait_for(path, proc, limit=120.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if path.exists():
            return int(path.read_text())
        if proc.poll() is not None:
            pytest.fail(f"serve exited early: {proc.stderr.read()}")
        time.sleep(0.1)
    pytest.fail("serve did not start in time")


@pytest.fixture
def served(tmp_path):
    pki = make_pki(tmp_path / "pki")
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[caller]]\nname = "proc"\ntoken_sha256 = "{token_hash(TOKEN)}"\njurisdictions = ["*"]\n'
    )
    tokens.chmod(0o600)  # others may not write it (refused), nor read it (a warning)
    port_file = tmp_path / "port"
    journal = tmp_path / "journal.jsonl"
    cmd = [
        sys.executable, "-m", "meanstest.cli", "serve", "--port", "0",
        "--port-file", str(port_file), "--host", "127.0.0.1",
        "--tls-cert", str(pki["server"]), "--tls-key", str(pki["server-key"]),
        "--tokens", str(tokens), "--journal", str(journal), "--grace", "20",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = _wait_for(port_file, proc)
        yield proc, f"localhost:{port}", pki, journal
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_subprocess_serves_and_drains_on_sigterm(served):
    proc, target, pki, journal = served
    tables = synth.generate(60, seed=9, bad_fraction=0.1)
    expected = assess(tables)
    creds = grpc.ssl_channel_credentials(pki["ca"].read_bytes())
    with grpc.secure_channel(target, creds) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert SERVICE in ProtoReflectionDescriptorDatabase(channel).get_services()

    with MeansTestClient(target, token=TOKEN, tls=ClientTLS.files(pki["ca"])) as c:
        out = c.assess(tables)
        for name in ("results", "members", "findings"):
            assert out[name].equals(expected.tables()[name]), name

        # an in-flight stream survives SIGTERM and is answered to the end
        held: queue.Queue = queue.Queue()

        def requests():
            while (item := held.get(timeout=30)) is not None:
                yield item

        batch = convert.pb.AssessRequest(households=convert.tables_to_households(tables)[:5])
        stream = c.stub.AssessStream(requests(), metadata=c.metadata)
        held.put(batch)
        first = next(stream)
        os.kill(proc.pid, signal.SIGTERM)
        accepted = 0  # calls answered before the signal was handled (journaled, as all are)
        for _ in range(200):  # bounded: the server stops taking new calls within ~0.5 s
            try:
                c.list_policies(timeout=5)
                accepted += 1
            except grpc.RpcError as e:
                # grpcio refuses calls arriving during the grace period as CANCELLED
                assert e.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
                break
            time.sleep(0.05)
        else:
            pytest.fail("new calls were still accepted after SIGTERM")
        held.put(batch)  # ... while the call in flight goes on
        second = next(stream)
        held.put(None)
        assert list(stream) == []
        assert first == second and first.results
    assert proc.wait(timeout=60) == 0
    assert "stopped" in proc.stderr.read()
    count, _, problem = verify(journal)
    # Assess, two stream messages, and any ListPolicies answered before the signal took
    # effect (on a loaded machine one was: CI run 43)
    assert problem is None and count == 3 + accepted


def test_sighup_reloads_the_tokens_and_the_log_says_the_journal_head(served, tmp_path):
    """A blind security review revoked a token by editing the tokens file: the running
    server kept accepting it, and SIGHUP (what logrotate sends) killed the server. Now
    SIGHUP reads the file again; a file that does not load leaves the callers as they
    were. The log gives the journal's head at start and stop, for `journal verify
    --head` (the review could cut the journal's tail unseen)."""
    proc, target, pki, journal = served
    tokens = tmp_path / "tokens.toml"
    other = "another-token"
    tls = ClientTLS.files(pki["ca"])
    with MeansTestClient(target, token=TOKEN, tls=tls) as c:
        assert c.list_policies(timeout=10)
    tokens.write_text("[[caller]]\nname = 'broken'\n")  # not a valid file: kept as it was
    os.kill(proc.pid, signal.SIGHUP)
    time.sleep(1.5)
    with MeansTestClient(target, token=TOKEN, tls=tls) as c:
        assert c.list_policies(timeout=10)
    tokens.write_text(
        f'[[caller]]\nname = "new"\ntoken_sha256 = "{token_hash(other)}"\njurisdictions = ["*"]\n'
    )
    os.kill(proc.pid, signal.SIGHUP)
    for _ in range(100):  # the main loop looks every 0.5 s: at most 10 s
        time.sleep(0.1)
        try:
            with MeansTestClient(target, token=TOKEN, tls=tls) as c:
                c.list_policies(timeout=10)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED
            break
    else:
        pytest.fail("the removed token still works after SIGHUP")
    with MeansTestClient(target, token=other, tls=tls) as c:
        assert c.list_policies(timeout=10)
    assert proc.poll() is None  # SIGHUP did not stop it
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    log = proc.stderr.read()
    assert "SIGHUP: tokens not reloaded, the callers stay as they were" in log
    assert f"SIGHUP: tokens reloaded from {tokens}: 1 callers" in log
    count, head, problem = verify(journal)
    assert problem is None and count >= 3  # and any call answered before the reload
    assert f"journal {journal} at start: 0 entries" in log
    assert f"journal {journal} at stop: {count} entries, head {head}" in log
    assert "ListPolicies caller=proc households=0 status=OK" in log
    assert "peer=ipv" in log  # where each call came from


def test_flight_refuses_new_calls_at_sigterm_while_grpc_drains(tmp_path):
    """A blind test sent Flight calls after SIGTERM: they were answered (and journaled)
    for the 5 s that gRPC took to finish a stream, where docs/service.md says new calls
    are refused at once. Now Flight refuses them from the signal on; the stream is still
    answered to its end and the server exits."""
    from meanstest.service.flight import flight_assess

    pki = make_pki(tmp_path / "pki")
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[caller]]\nname = "proc"\ntoken_sha256 = "{token_hash(TOKEN)}"\njurisdictions = ["*"]\n'
    )
    tokens.chmod(0o600)
    port_file = tmp_path / "port"
    cmd = [
        sys.executable, "-m", "meanstest.cli", "serve", "--port", "0", "--flight-port", "0",
        "--port-file", str(port_file), "--host", "127.0.0.1",
        "--tls-cert", str(pki["server"]), "--tls-key", str(pki["server-key"]),
        "--tokens", str(tokens), "--journal", str(tmp_path / "j.jsonl"), "--grace", "20",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = _wait_for(port_file, proc)
        said = proc.stdout.readline()
        assert "Flight on 127.0.0.1:" in said, said
        location = "grpc+tls://localhost:" + said.strip().rsplit(":", 1)[1]
        ca = pki["ca"].read_bytes()
        tables = synth.generate(5, seed=9)
        assert flight_assess(location, tables, TOKEN, ca)["results"].num_rows == 5
        with MeansTestClient(f"localhost:{port}", token=TOKEN, tls=ClientTLS.files(pki["ca"])) as c:
            held: queue.Queue = queue.Queue()

            def requests():
                while (item := held.get(timeout=30)) is not None:
                    yield item

            batch = convert.pb.AssessRequest(households=convert.tables_to_households(tables))
            stream = c.stub.AssessStream(requests(), metadata=c.metadata)
            held.put(batch)
            first = next(stream)
            os.kill(proc.pid, signal.SIGTERM)
            for _ in range(100):  # the main loop sees the signal within 0.5 s
                time.sleep(0.1)
                try:
                    flight_assess(location, tables, TOKEN, ca)
                except (fl.FlightUnavailableError, fl.FlightError, OSError) as e:
                    assert "stopping" in str(e) or "unavailable" in str(e).lower(), e
                    break
            else:
                pytest.fail("Flight still answered new calls while gRPC drained")
            held.put(batch)  # the stream in flight is still answered
            assert next(stream) == first
            held.put(None)
            assert list(stream) == []
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
