"""Security checks (issue 9): no full ID number in any error message or log line;
plaintext refused off loopback without --insecure; tokens stored hashed and compared
in constant time; no RPC — Explain included — reaches another jurisdiction's household.

The rejects table and Explain traces are data for authorised callers and may carry
full IDs; stderr, logs and gRPC status details may not (150422********123X).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import logging
import re

import grpc
import pyarrow as pa
import pytest
from fixtures.tls.pki import make_pki, make_server_cert
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from meanstest import synth
from meanstest.bundle import write_bundle
from meanstest.cli import main
from meanstest.errors import BundleError, MeansTestError, redact
from meanstest.policy import default_library
from meanstest.service import convert
from meanstest.service.auth import Tokens, token_hash
from meanstest.service.cli import add_arguments, check_security
from meanstest.service.client import MeansTestClient
from meanstest.service.errors import status_of
from meanstest.service.journal import Journal
from meanstest.service.server import ServiceConfig, start
from meanstest.v1 import meanstest_pb2 as pb

# an 18-character ID, a 15-digit first-generation one, one with a digit too many or too few
FULL_ID = re.compile(r"(?<![0-9])[0-9]{14,}[0-9Xx](?![0-9])")
TOKENS = {"mine": ("token-mine", '["150422"]'), "league": ("token-league", '["1504*"]')}


def households(jurisdiction: str, n: int = 1) -> list[pb.Household]:
    msgs = convert.tables_to_households(synth.generate(120, seed=11))
    found = [h for h in msgs if h.jurisdiction == jurisdiction and h.persons][:n]
    assert len(found) == n
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sec")
    tokens = folder / "tokens.toml"
    tokens.write_text(
        "".join(
            f'[[caller]]\nname = "{n}"\ntoken_sha256 = "{token_hash(t)}"\njurisdictions = {j}\n'
            for n, (t, j) in TOKENS.items()
        )
    )
    config = ServiceConfig(
        default_library(), journal=Journal(folder / "j.jsonl"), tokens=Tokens.load(tokens)
    )
    running = start(config, "127.0.0.1:0")
    yield f"127.0.0.1:{running.port}"
    running.stop(None).wait()
    config.journal.close()


def client(target, who="mine"):
    return MeansTestClient(target, token=TOKENS[who][0])


# no full ID in messages and logs --------------------------------------------------------


def test_every_error_message_is_masked():
    text = "persons.health record=15042219700101123X: health outside 1..6"
    for exc in (MeansTestError(text), BundleError(text)):
        assert exc.message == str(exc) == redact(text)
        assert "150422********123X" in exc.message and not FULL_ID.search(exc.message)


@pytest.mark.parametrize(
    "text, shown",
    [
        ("record=15042219700101123X:", "record=150422********123X:"),
        ("record=500112550407000:", "record=500112******000:"),  # first generation: 15 digits
        ("id '5001121955040700051'", "id '500112*********0051'"),  # 18 + a mistyped digit
        ("id 50011219550407000512345", "id 500112*************2345"),
        ("id 1504221960010201.", "id 150422******0201."),  # 16: two digits lost
        ("not IDs: 15042219700101, 2024-07-01, 10^14, BNK000000000001", None),
    ],
)
def test_every_id_form_is_masked(text, shown):
    """The first generation's 15 digits (region, birth date YYMMDD, sequence) and runs
    longer than 18 (an ID with a digit typed twice) are masked like an 18-character ID:
    the region and the end kept, the birth date never shown (security review)."""
    message = MeansTestError(text).message
    assert message == (shown or text) and not FULL_ID.search(message)


@pytest.mark.parametrize(
    "text, shown",
    [
        ("record=150422 19700101 123X: bad", "record=150422 ******** 123X: bad"),
        ("id '150422-1970-0101-123x'", "id '150422-****-****-123x'"),
        ("１５０４２２１９７００１０１１２３Ｘ", "１５０４２２********１２３Ｘ"),
        ("150422\u300019700101\u3000123X", "150422\u3000********\u3000123X"),
        ("150422 19700101 123 X;", "150422 ******** 123 X;"),  # the X on its own
        ("500112 550407 000", "500112 ****** 000"),  # first generation, spaced
        ("1504221970010 1123X", "150422******* *123X"),  # split anywhere
        ("card 6222 0212 3456 7890 123", "card 6222 02** **** ***0 123"),  # 19 digits
        ("dates 2024-07-01, 2024 07 01; phone 0471-1234567; 12 345 678 fen", None),
        ("rows 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", None),  # groups under 3
        # the review's cases: two spaced IDs in a row, a short last group, other
        # separators (a run of 20 digits or more was left whole)
        (
            "150422 19700101 1234 150423 19800101 4321",
            "150422 ******** **** ****** ******** 4321",
        ),
        ("1504 2219 7001 0112 3X", "1504 22** **** **12 3X"),
        ("１５０４２２－１９７００１０１－１２３Ｘ", "１５０４２２－********－１２３Ｘ"),
        ("150422\t19700101\t123X", "150422\t********\t123X"),
        ("150422/19700101/1234", "150422/********/1234"),
        # a path mixes separators, an ID as people write it does not: a policy error
        # named "mask/150000/******-2024.toml" (a policy author's blind test)
        ("policies/150000/150422-2024.toml: standards.tekun_ratio", None),
        ("big_low_income_10001/150422-2024.toml", None),
        ("duplicate id '150000/150422-2024h2'", None),
    ],
)
def test_ids_written_with_spaces_dashes_or_full_width_digits_are_masked(text, shown):
    """An ID as a department or a caller writes it — grouped by spaces or hyphens, or in
    full-width digits — reached messages whole: the security review's leftover. Its
    birth date is masked as in a plain ID, the separators kept."""
    message = MeansTestError(text).message
    assert message == (shown or text)
    if shown:
        digits = re.sub(r"[^0-9０-９]", "", message)
        assert "19700101" not in digits and "１９７００１０１" not in digits
        assert "550407" not in digits and "0101" not in digits[6:-4]


def test_status_messages_of_every_rpc_mask_every_id_form(served):
    """Explain's rejected household, GetPolicy's unknown id, ListPolicies' and
    AssessArrow's malformed names: each status message quotes what the caller sent."""
    old, long = "500112550407000", "5001121955040700051"
    (h,) = households("150422")
    h.persons[0].person_id = old  # malformed: Explain refuses the household, naming it
    chunk = pb.ArrowChunk(table=old, last=True)  # an unknown table, named
    with client(served) as c:
        calls = [
            lambda: c.stub.Explain(pb.ExplainRequest(household=h), metadata=c.metadata),
            lambda: c.get_policy(id=old),
            lambda: c.get_policy(id=long),
            lambda: c.list_policies(jurisdiction=old),
            lambda: c.list_policies(jurisdiction=long),
            lambda: list(c.stub.AssessArrow(iter([chunk]), metadata=c.metadata)),
        ]
        for call in calls:
            with pytest.raises(grpc.RpcError) as e:
                call()
            details = e.value.details()
            assert "500112" in details and old not in details and long not in details, details
            assert not FULL_ID.search(details), details


def test_cli_explain_of_a_rejected_household_masks_ids(tmp_path, capsys):
    tables = synth.generate(20, seed=4)
    persons = tables["persons"]
    health = persons["health"].to_pylist()
    health[0] = 9
    i = persons.schema.get_field_index("health")
    tables["persons"] = persons.set_column(i, "health", pa.array(health, pa.int8()))
    write_bundle(tables, tmp_path / "b")
    hid = persons["household_id"][0].as_py()
    pid = persons["person_id"][0].as_py()
    for lang, rule in (("zh", "健康状况不在 1–6 之间"), ("en", "health outside 1..6")):
        assert main(["explain", str(tmp_path / "b"), hid, "--lang", lang]) == 1
        err = capsys.readouterr().err
        assert rule in err and pid[:6] in err
        assert pid not in err and not FULL_ID.search(err)


def test_cli_ingest_of_a_headerless_export_masks_ids(tmp_path, capsys):
    row = "150422197001011233,蒙D12345,小型轿车,50000.00,2015-06-01,VEH1\n"
    (tmp_path / "v.csv").write_bytes(row.encode("gb18030"))
    (tmp_path / "m.toml").write_text(
        '[[source]]\nprofile = "'
        + str(__import__("pathlib").Path(__file__).parents[1] / "adapters/profiles/vehicle.toml")
        + '"\nfiles = ["v.csv"]\n'
    )
    assert main(["ingest", str(tmp_path / "m.toml"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "150422********1233" in err and not FULL_ID.search(err)


def test_grpc_status_details_and_logs_mask_ids(served, caplog):
    (h,) = households("150422")
    h.persons[0].health = 9
    pid = h.persons[0].person_id
    with caplog.at_level(logging.DEBUG, logger="meanstest.service"), client(served) as c:
        with pytest.raises(grpc.RpcError) as e:
            c.stub.Explain(pb.ExplainRequest(household=h), metadata=c.metadata)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        details = e.value.details()
        status = rpc_status.from_call(e.value)
        c.assess_households([h])  # a reject in the answer (data), a log line (not data)
    descriptions = []
    for d in status.details:
        br = error_details_pb2.BadRequest()
        d.Unpack(br)
        descriptions += [v.description for v in br.field_violations]
    assert "health outside 1..6" in details and descriptions
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for text in (details, *descriptions, status.message, logs):
        assert pid not in text and not FULL_ID.search(text), text


def test_internal_error_detail_is_masked_in_the_log(caplog):
    with caplog.at_level(logging.ERROR, logger="meanstest.service"):
        code, message = status_of(KeyError("15042219700101123X"))
    assert code == grpc.StatusCode.INTERNAL and "15042219700101123X" not in message
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "150422********123X" in logs and not FULL_ID.search(logs)


# plaintext only on loopback -------------------------------------------------------------


def _args(*flags: str):
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(["--journal", "j", "--tokens", "t.toml", *flags])


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "example.org"])
def test_plaintext_off_loopback_is_refused_without_insecure(host):
    with pytest.raises(MeansTestError, match="refusing to serve without TLS"):
        check_security(_args("--host", host))
    with pytest.raises(MeansTestError, match="is not a loopback address"):
        check_security(_args("--host", host, "--plaintext-loopback"))
    assert check_security(_args("--host", host, "--insecure")) == (host, False)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.8.9.10"])
def test_plaintext_loopback_is_allowed(host):
    assert check_security(_args("--host", host, "--plaintext-loopback")) == (host, False)


# tokens ------------------------------------------------------------------------------------


def test_tokens_are_stored_hashed_and_compared_in_constant_time(tmp_path, monkeypatch):
    path = tmp_path / "tokens.toml"
    path.write_text(
        '[[caller]]\nname = "a"\ntoken_sha256 = "' + token_hash("alpha") + '"\n'
        'jurisdictions = ["150422"]\n[[caller]]\nname = "b"\ntoken_sha256 = "'
        + token_hash("bravo")
        + '"\njurisdictions = ["*"]\n'
    )
    tokens = Tokens.load(path)
    assert token_hash("alpha") == hashlib.sha256(b"alpha").hexdigest()
    held = repr(vars(tokens))
    assert "alpha" not in held and "bravo" not in held  # only hashes are held
    calls, real = [], hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("meanstest.service.auth.hmac.compare_digest", spy)
    assert tokens.authenticate((("authorization", "Bearer bravo"),)).name == "b"
    assert len(calls) == 2  # every stored hash is compared, the match does not stop early
    calls.clear()
    with pytest.raises(MeansTestError):
        tokens.authenticate((("authorization", "Bearer wrong"),))
    assert len(calls) == 2
    assert all(b == token_hash("wrong") for _, b in calls)


# files the server trusts -------------------------------------------------------------------


class _Started(Exception):
    """Raised instead of starting a server: `meanstest serve` got past its checks."""


@pytest.fixture
def serve(tmp_path, monkeypatch):
    """`meanstest serve FLAGS` in-process, up to the server's start."""

    def start(*args, **kwargs):
        raise _Started

    monkeypatch.setattr("meanstest.service.server.start", start)
    return lambda *flags: main(["serve", "--journal", str(tmp_path / "j.jsonl"), *flags])


TLS = ("server", "server-key", "ca")  # make_pki's names of --tls-cert, --tls-key, --tls-client-ca


def _tokens_file(folder, mode):
    path = folder / "tokens.toml"
    digest = token_hash("t")
    path.write_text(f'[[caller]]\nname = "a"\ntoken_sha256 = "{digest}"\njurisdictions = ["*"]\n')
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o666, 0o646, 0o620, 0o602], ids="{:04o}".format)
def test_a_tokens_file_other_users_may_write_is_refused(tmp_path, serve, capsys, mode):
    """Any local user could add a caller granted every jurisdiction: a blind security
    review was served with a tokens file of mode 0666."""
    tokens = _tokens_file(tmp_path, mode)
    assert serve("--plaintext-loopback", "--tokens", str(tokens)) == 1
    err = capsys.readouterr().err
    assert f"--tokens {tokens}: other users may write it (mode {mode:04o})" in err
    assert "add a caller" in err and "Traceback" not in err
    assert not (tmp_path / "j.jsonl").exists()  # refused before anything is written


@pytest.mark.parametrize("flag", ["--tls-key", "--tls-client-ca"])
def test_a_tls_key_or_client_ca_other_users_may_write_is_refused(tmp_path, serve, capsys, flag):
    pki = make_pki(tmp_path / "pki")
    tokens = _tokens_file(tmp_path, 0o600)
    tls = dict(zip(("--tls-cert", "--tls-key", "--tls-client-ca"), (pki[k] for k in TLS)))
    tls[flag].chmod(0o666)
    flags = [str(x) for pair in tls.items() for x in pair]
    assert serve(*flags, "--tokens", str(tokens)) == 1
    assert f"{flag} {tls[flag]}: other users may write it (mode 0666)" in capsys.readouterr().err


def test_secrets_other_users_may_read_are_served_with_a_warning(tmp_path, serve, caplog):
    pki = make_pki(tmp_path / "pki")
    tokens = _tokens_file(tmp_path, 0o644)
    pki["server-key"].chmod(0o640)  # readable by its group: other users too
    pki["ca"].chmod(0o644)  # a CA is public: no warning
    flags = ["--tls-cert", str(pki["server"]), "--tls-key", str(pki["server-key"])]
    flags += ["--tls-client-ca", str(pki["ca"]), "--tokens", str(tokens)]
    with caplog.at_level(logging.WARNING, logger="meanstest.service"), pytest.raises(_Started):
        serve(*flags)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"--tokens {tokens}: other users may read it (mode 0644); chmod 600 it",
        f"--tls-key {pki['server-key']}: other users may read it (mode 0640); chmod 600 it",
    ]


def _tls_flags(cert, key, tokens):
    return ["--tls-cert", str(cert), "--tls-key", str(key), "--tokens", str(tokens)]


def test_tls_files_grpc_could_not_use_are_refused_in_one_line(tmp_path, serve, capsys):
    """grpcio takes any bytes and fails when it binds: "Failed to bind to address
    0.0.0.0:0" and a traceback, for a key of another certificate as for a file that is
    no certificate at all (security review)."""
    pki = make_pki(tmp_path / "pki")
    cert, key, tokens = pki["server"], pki["server-key"], _tokens_file(tmp_path, 0o600)
    other = pki["client-key"]  # a key of another certificate
    pair = f"--tls-cert {cert} and --tls-key {other}"
    (tmp_path / "encrypted-key.pem").write_text(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"
    )
    (tmp_path / "cut.pem").write_bytes(cert.read_bytes()[:300] + b"\n-----END CERTIFICATE-----\n")
    now = dt.datetime.now(dt.UTC)
    weak = make_server_cert(tmp_path, "weak", now, now + dt.timedelta(days=1), rsa_bits=1024)
    cases = [
        (cert, other, f"{pair}: the key does not match the certificate"),
        (tokens, key, f"--tls-cert {tokens}: not a PEM certificate"),
        (key, key, f"--tls-cert {key}: not a PEM certificate"),
        (cert, tokens, f"--tls-key {tokens}: not a PEM private key"),
        (cert, cert, f"--tls-key {cert}: not a PEM private key"),
        (cert, tmp_path / "encrypted-key.pem", "an encrypted key"),
        (tmp_path / "cut.pem", key, "the certificate is not an X.509 certificate"),
        (cert, tmp_path / "absent.pem", f"--tls-key {tmp_path / 'absent.pem'}: cannot read"),
        # gRPC's BoringSSL would serve it; OpenSSL's default security level refuses it
        (weak, tmp_path / "weak-key.pem", "the key is too small (EE_KEY_TOO_SMALL: RSA needs"),
    ]  # fmt: skip
    for c, k, message in cases:
        assert serve(*_tls_flags(c, k, tokens)) == 1, message
        err = capsys.readouterr().err
        assert err.startswith("meanstest: error: ") and err.count("\n") == 1, err
        assert message in err, err
    flags = _tls_flags(cert, key, tokens)
    assert serve(*flags, "--tls-client-ca", str(tokens)) == 1
    assert f"--tls-client-ca {tokens}: not a PEM certificate" in capsys.readouterr().err


@pytest.mark.parametrize("when", ["expired", "not yet valid"])
def test_a_certificate_out_of_its_validity_is_refused_naming_its_dates(
    tmp_path, serve, capsys, when
):
    """Clients refuse a certificate outside its validity: an expired one was served."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    year = dt.timedelta(days=365)
    start, end = (now - 2 * year, now - year) if when == "expired" else (now + year, now + 2 * year)
    cert = make_server_cert(tmp_path / "pki", "server", start, end)
    key = cert.with_name("server-key.pem")
    assert serve(*_tls_flags(cert, key, _tokens_file(tmp_path, 0o600))) == 1
    problem = "has expired" if when == "expired" else "is not valid yet"
    span = f"valid from {start:%Y-%m-%d %H:%M:%S} UTC to {end:%Y-%m-%d %H:%M:%S} UTC"
    assert f"--tls-cert {cert}: the certificate {problem} ({span})" in capsys.readouterr().err


def test_an_expired_extra_certificate_in_the_chain_file_is_served(tmp_path, serve):
    """Only the server's own certificate must be valid now: an expired extra one after it
    (the old Let's Encrypt full chain) is one gRPC serves and clients that trust the root
    accept; the review of the TLS check found it refused."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    year = dt.timedelta(days=365)
    pki = make_pki(tmp_path / "pki")
    old = make_server_cert(tmp_path / "old", "old", now - 2 * year, now - year)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pki["server"].read_bytes() + old.read_bytes())
    flags = _tls_flags(chain, pki["server-key"], _tokens_file(tmp_path, 0o600))
    with pytest.raises(_Started):
        serve(*flags)


def test_good_tls_files_pass_their_checks(tmp_path, serve):
    pki = make_pki(tmp_path / "pki")
    flags = _tls_flags(pki["server"], pki["server-key"], _tokens_file(tmp_path, 0o600))
    with pytest.raises(_Started):
        serve(*flags, "--tls-client-ca", str(pki["ca"]))


# jurisdictions -----------------------------------------------------------------------------


def test_no_rpc_reaches_another_jurisdiction(served):
    mine, other = households("150422"), households("150404")
    with client(served) as c:
        assert c.assess_households(mine).results
        refused = [
            lambda: c.assess_households(other),
            lambda: c.assess_households(mine + other),
            lambda: list(c.assess_stream([mine, other])),
            lambda: c.stub.Explain(pb.ExplainRequest(household=other[0]), metadata=c.metadata),
            lambda: c.assess_arrow(convert.households_to_tables(other).tables),
            lambda: c.assess_arrow(_dictionary(convert.households_to_tables(mine + other).tables)),
        ]
        for call in refused:
            with pytest.raises(grpc.RpcError) as e:
                call()
            assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with client(served, "league") as c:  # "1504*" covers 150404
        assert c.assess_households(other).results


def _dictionary(tables):
    hh = tables["households"]
    i = hh.schema.get_field_index("jurisdiction")
    tables["households"] = hh.set_column(i, "jurisdiction", hh["jurisdiction"].dictionary_encode())
    return tables


@pytest.mark.parametrize("code", ["150404 ", " 150404", "15040４", "１５０４０４", "150404\n", ""])
def test_a_disguised_jurisdiction_never_yields_a_result(served, code):
    (h,) = households("150404")
    h.jurisdiction = code
    with client(served) as c:
        response = c.assess_households([h])
        explained = None
        try:
            explained = c.stub.Explain(pb.ExplainRequest(household=h), metadata=c.metadata)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT  # rejected, never explained
    assert not response.results and [r.household_id for r in response.rejects] == [h.household_id]
    assert explained is None


@pytest.mark.parametrize("value", ["0", "0.5", "-3", "nan"])
def test_idle_seconds_below_one_is_refused(tmp_path, serve, capsys, value):
    """--idle-seconds bounds the wait for a request (service.gate): below a second, or
    not a number, it would cancel ordinary calls."""
    assert serve("--plaintext-loopback", "--no-auth", "--idle-seconds", value) == 1
    assert "--idle-seconds must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flag, value, field, expected",
    [
        ("--idle-seconds", "7.5", "idle_seconds", 7.5),
        ("--max-call-households", "2500", "max_call_households", 2500),
    ],
)
def test_a_limit_reaches_the_server(tmp_path, monkeypatch, flag, value, field, expected):
    seen = {}

    def start(config, *args, **kwargs):
        seen[field] = getattr(config, field)
        raise _Started

    monkeypatch.setattr("meanstest.service.server.start", start)
    flags = ["--plaintext-loopback", "--no-auth", flag, value]
    with pytest.raises(_Started):
        main(["serve", "--journal", str(tmp_path / "j.jsonl"), *flags])
    assert seen[field] == expected


def test_max_call_households_zero_is_refused(serve, capsys):
    """--max-call-households bounds a bulk call's rows (service.errors.CallRows)."""
    assert serve("--plaintext-loopback", "--no-auth", "--max-call-households", "0") == 1
    assert "--max-call-households must be at least 1" in capsys.readouterr().err
