"""A token bound to the client certificates that may present it (docs/service.md "Tokens
file", `client_cert_sha256`): a security review's leftover, "the mTLS certificate is not
tied to the token". Any client with a certificate of the server's client CA could use
any token: one copied from one agency's system worked from another agency's machine.
A bound token now works only with its certificate, over gRPC; Flight, which never sees
the certificate, refuses it. The refusal says nothing a wrong token's does not, and is
counted against the address as a wrong token is."""

from __future__ import annotations

import logging

import grpc
import pyarrow.flight as fl
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from fixtures.tls.pki import make_pki

from meanstest import synth
from meanstest.cli import main
from meanstest.errors import MeansTestError
from meanstest.policy import default_library
from meanstest.service.auth import Tokens, server_credentials, token_hash
from meanstest.service.cli import _reload_tokens
from meanstest.service.client import ClientTLS, MeansTestClient
from meanstest.service.errors import Unauthenticated
from meanstest.service.flight import flight_assess, start_flight
from meanstest.service.journal import Journal
from meanstest.service.server import ServiceConfig, start

TOKENS = {"bound": "token-bound", "renewing": "token-renewing", "free": "token-free"}
RETIRED = "0" * 64  # a certificate renewed away, still in the list
PEER = "ipv4:10.1.2.3:51234"
# what a wrong token is told by a tokens file with a binding in it, and a right one
# without its certificate
REFUSED = "unknown bearer token, or one bound to a client certificate this call did not present"


def fingerprint(pem_path) -> str:
    """What `openssl x509 -in client.pem -outform DER | sha256sum` prints."""
    cert = x509.load_pem_x509_certificate(pem_path.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex()


def caller(name: str, token: str, binding: str = "") -> str:
    line = f"client_cert_sha256 = {binding}\n" if binding else ""
    return (
        f'[[caller]]\nname = "{name}"\ntoken_sha256 = "{token_hash(token)}"\n'
        f'jurisdictions = ["*"]\n{line}\n'
    )


def tokens_file(path, pki, free_binding: str = ""):
    """bound: the certificate `client`; renewing: a retired one and `client2`; free: none
    (or `free_binding`)."""
    client, client2 = fingerprint(pki["client"]), fingerprint(pki["client2"])
    path.write_text(
        caller("bound", TOKENS["bound"], f'"{client}"')
        + caller("renewing", TOKENS["renewing"], f'["{RETIRED}", "{client2}"]')
        + caller("free", TOKENS["free"], free_binding)
    )
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


# the tokens file -------------------------------------------------------------------------


def test_a_binding_is_one_fingerprint_or_a_list_of_them(tmp_path, pki):
    tokens = Tokens.load(tokens_file(tmp_path / "tokens.toml", pki))
    by_name = {c.name: c for c in tokens.callers.values()}
    assert by_name["bound"].client_cert_sha256 == (fingerprint(pki["client"]),)
    assert by_name["renewing"].client_cert_sha256 == (RETIRED, fingerprint(pki["client2"]))
    assert by_name["free"].client_cert_sha256 == ()
    assert tokens.bound


HEX = "ab" * 32
VALID = "valid: the SHA-256 of a client certificate's DER encoding, 64 lower-case hex digits"


@pytest.mark.parametrize(
    "binding, problem",
    [
        (f'"{HEX.upper()}"', "not 64 lower-case hex digits"),
        ('"' + ":".join([HEX[i : i + 2] for i in range(0, 64, 2)]) + '"', "not 64 lower-case"),
        (f'"{HEX[:-1]}"', "not 64 lower-case hex digits"),
        (f'"sha256:{HEX}"', "not 64 lower-case hex digits"),
        ("3", "not 64 lower-case hex digits"),
        ("true", "not 64 lower-case hex digits"),
        ("[]", "not 64 lower-case hex digits"),
        (f'["{HEX}", 3]', "not 64 lower-case hex digits"),
        (f'{{ sha256 = "{HEX}" }}', "not 64 lower-case hex digits"),
        (f'["{HEX}", "{HEX}"]', "the same certificate twice"),
    ],
    ids=["upper", "colons", "short", "prefixed", "int", "bool", "empty", "mixed", "table", "twice"],
)
def test_a_bad_binding_names_the_caller_and_what_is_valid(tmp_path, binding, problem):
    path = tmp_path / "tokens.toml"
    path.write_text(caller("a", "t") + caller("b", "u", binding))
    with pytest.raises(MeansTestError) as e:
        Tokens.load(path)
    message = e.value.message
    assert f"{path}: caller[1].client_cert_sha256: {problem}" in message, message
    assert VALID in message and "openssl x509 -in client.pem -outform DER | sha256sum" in message


def test_a_binding_without_mutual_tls_is_refused_naming_the_caller(tmp_path):
    path = tmp_path / "tokens.toml"
    path.write_text(caller("a", "t") + caller("b", "u", f'"{HEX}"'))
    with pytest.raises(MeansTestError) as e:
        Tokens.load(path, mutual_tls=False)
    assert e.value.message.startswith(
        f"{path}: caller[1].client_cert_sha256: the server has no mutual TLS "
        "(serve --tls-client-ca), so no call could present the certificate"
    )
    path.write_text(caller("a", "t"))
    assert not Tokens.load(path, mutual_tls=False).bound  # without a binding: as before


# authenticate ----------------------------------------------------------------------------


def bearer(token: str) -> tuple:
    return (("authorization", f"Bearer {token}"),)


def refusal(tokens: Tokens, token: str, cert: str | None) -> str:
    with pytest.raises(Unauthenticated) as e:
        tokens.authenticate(bearer(token), cert, PEER)
    return e.value.message


def test_a_bound_token_passes_with_its_certificate_only_and_is_told_as_a_wrong_one(
    tmp_path, pki, caplog
):
    tokens = Tokens.load(tokens_file(tmp_path / "tokens.toml", pki))
    client, client2 = fingerprint(pki["client"]), fingerprint(pki["client2"])
    assert tokens.authenticate(bearer(TOKENS["bound"]), client).name == "bound"
    assert tokens.authenticate(bearer(TOKENS["renewing"]), client2).name == "renewing"
    assert tokens.authenticate(bearer(TOKENS["renewing"]), RETIRED).name == "renewing"
    for cert in (client, client2, None):
        assert tokens.authenticate(bearer(TOKENS["free"]), cert).name == "free"
    wrong = refusal(tokens, "a-guess", client2)
    with caplog.at_level(logging.WARNING, logger="meanstest.service"):
        assert refusal(tokens, TOKENS["bound"], client2) == wrong
        assert refusal(tokens, TOKENS["bound"], None) == wrong
        assert refusal(tokens, TOKENS["renewing"], client) == wrong
    assert wrong == REFUSED
    said = "authentication: the token of caller {} came without a client certificate it is "
    said += "bound to (the call's: {}) peer=" + PEER
    assert [r.getMessage() for r in caplog.records] == [  # the log says more: the caller
        said.format("bound", client2),
        said.format("bound", "none; Flight never has one"),
        said.format("renewing", client),
    ]


# end to end: gRPC and Flight over mutual TLS ------------------------------------------------


@pytest.fixture
def serving(tmp_path, pki):
    """serving(client_ca=True, **config) → (gRPC target, Flight location, config, tokens
    file) of a server over TLS (mutual with `client_ca`) with the callers of
    `tokens_file`, Flight beside it."""
    made = []

    def make(client_ca: bool = True, **kw):
        folder = tmp_path / f"server-{len(made)}"
        folder.mkdir()
        config = ServiceConfig(
            default_library(),
            journal=Journal(folder / "journal.jsonl"),
            tokens=Tokens.load(tokens_file(folder / "tokens.toml", pki)),
            **kw,
        )
        ca = str(pki["ca"]) if client_ca else None
        creds = server_credentials(str(pki["server"]), str(pki["server-key"]), ca)
        running = start(config, "127.0.0.1:0", creds, warm=False)
        pem = (pki["server"].read_bytes(), pki["server-key"].read_bytes())
        ca_pem = pki["ca"].read_bytes() if client_ca else None
        flight = start_flight(running.service, "127.0.0.1", 0, pem, ca_pem)
        made.append((running, flight, config))
        target, location = f"localhost:{running.port}", f"grpc+tls://localhost:{flight.port}"
        return target, location, config, folder / "tokens.toml"

    yield make
    for running, flight, config in made:
        flight.shutdown()
        running.stop(None).wait()
        config.journal.close()


def grpc_call(target, pki, who: str, token: str) -> tuple[grpc.StatusCode, str]:
    """ListPolicies with `token`, presenting the certificate `who` ("" for none)."""
    tls = (
        ClientTLS.files(pki["ca"], pki[who], pki[f"{who}-key"])
        if who
        else ClientTLS.files(pki["ca"])
    )
    with MeansTestClient(target, token=token, tls=tls, timeout=30) as c:
        try:
            c.list_policies()
        except grpc.RpcError as e:
            return e.code(), e.details()
    return grpc.StatusCode.OK, ""


def flight_call(location, pki, who: str, token: str) -> type | None:
    ca, cert, key = (pki[n].read_bytes() for n in ("ca", who, f"{who}-key"))
    try:
        flight_assess(location, synth.generate(2, seed=1), token, ca=ca, cert=cert, key=key)
    except fl.FlightError as e:
        return type(e)
    return None


OK, UNAUTHENTICATED = grpc.StatusCode.OK, grpc.StatusCode.UNAUTHENTICATED


def test_grpc_a_bound_token_works_from_its_certificate_only(serving, pki):
    target, *_ = serving()
    assert grpc_call(target, pki, "client", TOKENS["bound"]) == (OK, "")
    refused = grpc_call(target, pki, "client2", TOKENS["bound"])  # another agency's machine
    assert refused[0] == UNAUTHENTICATED
    assert refused == grpc_call(target, pki, "client2", "a-guess")  # told as a wrong token
    assert grpc_call(target, pki, "client2", TOKENS["renewing"]) == (OK, "")
    assert grpc_call(target, pki, "client", TOKENS["renewing"])[0] == UNAUTHENTICATED
    for who in ("client", "client2"):  # a caller without a binding: as before
        assert grpc_call(target, pki, who, TOKENS["free"]) == (OK, "")


def test_grpc_without_mutual_tls_a_bound_token_is_refused(serving, pki):
    """A server that asks for no client certificate sees none, even from a client that
    has the right one: the bound token is refused, a free one is served."""
    target, *_ = serving(client_ca=False)
    for who in ("client", ""):
        assert grpc_call(target, pki, who, TOKENS["bound"])[0] == UNAUTHENTICATED
        assert grpc_call(target, pki, who, TOKENS["free"]) == (OK, "")


def test_flight_refuses_a_bound_caller_whatever_its_certificate(serving, pki, caplog):
    """pyarrow gives a Flight handler the certificate's subject, never the certificate:
    a bound caller is refused there, with its own certificate too, as a wrong token is;
    the start's log says so, naming the bound callers."""
    with caplog.at_level(logging.WARNING, logger="meanstest.service"):
        _, location, *_ = serving()
    warned = "Flight: callers bound to client certificates are refused there (pyarrow does "
    assert caplog.messages == [warned + "not give the server the certificate): bound, renewing"]
    for who in ("client", "client2"):
        assert flight_call(location, pki, who, TOKENS["bound"]) is fl.FlightUnauthenticatedError
        assert flight_call(location, pki, who, TOKENS["free"]) is None
    ca, cert, key = (pki[n].read_bytes() for n in ("ca", "client", "client-key"))
    told = []
    for token in (TOKENS["bound"], "a-guess"):
        with pytest.raises(fl.FlightUnauthenticatedError) as e:
            flight_assess(location, synth.generate(2, seed=1), token, ca=ca, cert=cert, key=key)
        told.append(str(e.value).split(". Detail:")[0])
    assert told[0] == told[1] and REFUSED in told[0]


def test_a_refusal_for_the_certificate_counts_against_the_address(serving, pki):
    target, location, *_ = serving(auth_failures=2)
    assert grpc_call(target, pki, "client2", TOKENS["bound"])[0] == UNAUTHENTICATED
    assert flight_call(location, pki, "client", TOKENS["bound"]) is fl.FlightUnauthenticatedError
    assert grpc_call(target, pki, "client2", TOKENS["bound"])[0] == UNAUTHENTICATED
    # three failures, over 2: the address is locked out, the right pair refused unread
    code, details = grpc_call(target, pki, "client", TOKENS["bound"])
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert details.startswith("too many failed authentications from this address")


def test_sighup_reloads_the_bindings(serving, pki, caplog):
    """What SIGHUP runs (`_reload_tokens`): a binding added or removed holds from the next
    call on; a binding in a server without mutual TLS is refused as at start."""
    target, _, config, path = serving()
    tokens_file(path, pki, free_binding=f'"{fingerprint(pki["client"])}"')
    _reload_tokens(config.tokens, str(path), mutual_tls=True)
    assert grpc_call(target, pki, "client2", TOKENS["free"])[0] == UNAUTHENTICATED
    assert grpc_call(target, pki, "client", TOKENS["free"]) == (OK, "")
    tokens_file(path, pki)  # the binding taken off again
    _reload_tokens(config.tokens, str(path), mutual_tls=True)
    assert grpc_call(target, pki, "client2", TOKENS["free"]) == (OK, "")
    with caplog.at_level(logging.ERROR, logger="meanstest.service"):
        _reload_tokens(config.tokens, str(path), mutual_tls=False)
    assert (
        "SIGHUP: tokens not reloaded, the callers stay as they were: "
        f"{path}: caller[0].client_cert_sha256: the server has no mutual TLS"
    ) in caplog.text
    assert grpc_call(target, pki, "client", TOKENS["bound"]) == (OK, "")
    assert grpc_call(target, pki, "client2", TOKENS["bound"])[0] == UNAUTHENTICATED


class _Started(Exception):
    """Raised instead of starting a server: `meanstest serve` got past its checks."""


def test_serve_refuses_a_bound_tokens_file_without_mutual_tls(tmp_path, pki, monkeypatch, capsys):
    def started(*args, **kwargs):
        raise _Started

    monkeypatch.setattr("meanstest.service.server.start", started)
    tokens, journal = tokens_file(tmp_path / "tokens.toml", pki), tmp_path / "j.jsonl"
    tls = ["--tls-cert", str(pki["server"]), "--tls-key", str(pki["server-key"])]
    for flags in (tls, ["--plaintext-loopback"]):
        assert main(["serve", "--journal", str(journal), *flags, "--tokens", str(tokens)]) == 1
        err = capsys.readouterr().err
        assert err == (
            f"meanstest: error: {tokens}: caller[0].client_cert_sha256: the server has no "
            "mutual TLS (serve --tls-client-ca), so no call could present the certificate "
            "and the caller could never be used; give --tls-client-ca, or remove "
            "client_cert_sha256\n"
        )
        assert not journal.exists()  # refused before anything is written
    flags = [*tls, "--tls-client-ca", str(pki["ca"]), "--tokens", str(tokens)]
    with pytest.raises(_Started):
        main(["serve", "--journal", str(journal), *flags])
