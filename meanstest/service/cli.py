"""`meanstest serve`: the gRPC service, secure by default (docs/service.md)."""

from __future__ import annotations

import ipaddress
import logging
import math
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from meanstest.errors import MeansTestError

if TYPE_CHECKING:
    import argparse

    from meanstest.service.auth import Tokens
    from meanstest.service.journal import Journal

log = logging.getLogger("meanstest.service")
HELP = "serve assessments over gRPC (TLS, bearer tokens, audit journal)"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policies", help="policy library folder (default: packaged packs)")
    p.add_argument("--port", type=int, default=50051, help="0 = any free port")
    p.add_argument("--host", help="address to bind (default 0.0.0.0 with TLS, else 127.0.0.1)")
    p.add_argument("--port-file", help="write the bound port to this file once serving")
    p.add_argument("--tls-cert", help="server certificate (PEM)")
    p.add_argument("--tls-key", help="server private key (PEM)")
    p.add_argument("--tls-client-ca", help="CA for client certificates: mutual TLS")
    p.add_argument("--plaintext-loopback", action="store_true", help="no TLS, loopback only")
    p.add_argument("--insecure", action="store_true", help="no TLS on any address")
    p.add_argument("--tokens", help="TOML file of token hashes -> caller and jurisdictions")
    p.add_argument("--no-auth", action="store_true", help="no tokens (loopback only)")
    p.add_argument("--journal", required=True, help="append-only audit journal (JSON Lines)")
    p.add_argument(
        "--journal-key",
        help="secret key file (64+ hex digits): every journal entry gets a MAC "
        "(`meanstest journal verify --key`)",
    )
    p.add_argument(
        "--engine",
        choices=("fast", "reference"),
        default="fast",
        help="fast (kernels, default) or reference (the readable calculator; slow)",
    )
    p.add_argument(
        "--max-message-mb",
        type=int,
        default=16,
        help="largest message received or sent, MB (default 16); larger calls are "
        "RESOURCE_EXHAUSTED: send them with AssessStream or AssessArrow",
    )
    p.add_argument(
        "--max-concurrent-calls",
        type=int,
        default=16,
        help="calls served at once (default 16); more are RESOURCE_EXHAUSTED, none queue",
    )
    p.add_argument(
        "--max-call-households",
        type=int,
        default=1_000_000,
        help="households of one AssessArrow or Flight call (default 1,000,000; the other "
        "tables 32 rows for each, a call's rejects 8 reasons for each, its dictionary- or "
        "view-encoded strings 1,024 bytes decoded for each, a household's or person's ID 128 bytes, another ID 1,024); a larger call "
        "is refused before it is converted: a call takes ~6.5 KB of memory a household",
    )
    p.add_argument(
        "--workers", type=int, default=8, help="threads that serve the calls (default 8)"
    )
    p.add_argument(
        "--idle-seconds",
        type=float,
        default=300.0,
        help="longest wait for each whole request message (default 300: a 16 MB message "
        "then needs 55 KB/s); a call that waits longer is cancelled and journaled "
        "CANCELLED, freeing its slot",
    )
    p.add_argument(
        "--auth-failures",
        type=int,
        default=20,
        help="failed authentications (wrong or missing token) allowed from one address "
        "within --auth-window-seconds (default 20); one more locks the address out for "
        "that long: every call from it RESOURCE_EXHAUSTED, its token not read. 0 = no limit",
    )
    p.add_argument(
        "--auth-window-seconds",
        type=float,
        default=60.0,
        help="the window of --auth-failures, and the length of a lockout (default 60)",
    )
    p.add_argument(
        "--flight-port",
        type=int,
        help="also serve Arrow Flight (DoExchange) on this port, same TLS/tokens/journal",
    )
    p.add_argument("--grace", type=float, default=30.0, help="seconds to finish calls on SIGTERM")
    p.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=LOG_LEVELS,
        help="DEBUG, INFO (default), WARNING or ERROR",
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# the numbers of `serve`: (option, least, most); None (an option not given) passes
_BOUNDS = (
    ("port", 0, 65535),
    ("flight_port", 0, 65535),
    ("max_message_mb", 1, 2047),
    ("max_concurrent_calls", 1, math.inf),
    ("max_call_households", 1, math.inf),
    ("workers", 1, math.inf),
    ("idle_seconds", 1, math.inf),
)


def check_security(args: argparse.Namespace) -> tuple[str, bool]:
    """(host, tls) after the secure-by-default rules; MeansTestError when refused."""
    tls = bool(args.tls_cert or args.tls_key)
    if tls and not (args.tls_cert and args.tls_key):
        raise MeansTestError("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not tls:
        raise MeansTestError("--tls-client-ca needs --tls-cert and --tls-key")
    host = args.host or ("0.0.0.0" if tls else "127.0.0.1")
    if not tls:
        if not (args.plaintext_loopback or args.insecure):
            raise MeansTestError(
                "refusing to serve without TLS: give --tls-cert/--tls-key, or "
                "--plaintext-loopback (127.0.0.1 only), or --insecure"
            )
        if args.plaintext_loopback and not _loopback(host):
            raise MeansTestError(f"--plaintext-loopback: {host} is not a loopback address")
    if args.no_auth and args.tokens:
        raise MeansTestError("--no-auth and --tokens exclude each other")
    if not args.no_auth and not args.tokens:
        raise MeansTestError("refusing to serve without --tokens (or --no-auth on loopback)")
    if args.no_auth and not _loopback(host):
        raise MeansTestError(f"--no-auth is for loopback only, not {host}")
    # a port number past 65,535 was taken modulo 65,536 (70000 served on 4464: a blind
    # operator's check); a message limit past gRPC's int32 of bytes overflowed
    for name, least, most in _BOUNDS:
        value = getattr(args, name)
        if value is not None and not least <= value <= most:  # NaN too
            said = f"at least {least}" if most == math.inf else f"{least}..{most}, not {value}"
            raise MeansTestError(f"--{name.replace('_', '-')} must be {said}")
    if not 0 <= args.grace < math.inf:  # NaN too: calls in flight were cut at once
        raise MeansTestError(f"--grace must be a number of seconds >= 0, not {args.grace:g}")
    if args.auth_failures < 0:
        raise MeansTestError(
            f"--auth-failures must be at least 0 (0 = no limit), not {args.auth_failures}"
        )
    if not 0 < args.auth_window_seconds < math.inf:  # NaN too
        raise MeansTestError(
            "--auth-window-seconds must be a positive number of seconds, not "
            f"{args.auth_window_seconds:g}"
        )
    return host, tls


def run(args: argparse.Namespace) -> int:
    from meanstest.service import threads

    threads.pin()  # before anything can start numba's thread pool
    from meanstest.pipeline import load_policies
    from meanstest.service.auth import Tokens, check_file_mode, server_credentials
    from meanstest.service.journal import Journal
    from meanstest.service.journal_key import read_key
    from meanstest.service.server import ServiceConfig, start

    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    host, tls = check_security(args)
    if not tls and not _loopback(host):
        log.warning(
            "plaintext on %s (--insecure): tokens and households cross the network unencrypted",
            host,
        )
    if args.tokens:
        risk = "any local user could add a caller granted every jurisdiction"
        check_file_mode(args.tokens, "--tokens", risk)
    if tls:
        check_file_mode(args.tls_key, "--tls-key", "any local user could replace the key")
    if args.tls_client_ca:
        risk = "any local user could add a CA whose certificates it lets in"
        check_file_mode(args.tls_client_ca, "--tls-client-ca", risk, secret=False)
    journal_key = None
    if args.journal_key:
        risk = "any local user could replace the key with one they know, and forge entries"
        check_file_mode(args.journal_key, "--journal-key", risk)
        journal_key = read_key(args.journal_key, "--journal-key")
    creds = server_credentials(args.tls_cert, args.tls_key, args.tls_client_ca) if tls else None
    # before the journal is opened: a caller bound to a client certificate refused here,
    # without --tls-client-ca, leaves nothing behind
    mutual_tls = bool(args.tls_client_ca)
    tokens = Tokens.load(args.tokens, mutual_tls) if args.tokens else None
    config = ServiceConfig(
        library=load_policies(args.policies),
        journal=Journal(args.journal, journal_key),
        tokens=tokens,
        engine=args.engine,
        max_message_bytes=args.max_message_mb << 20,
        max_concurrent_calls=args.max_concurrent_calls,
        max_call_households=args.max_call_households,
        workers=args.workers,
        idle_seconds=args.idle_seconds,
        auth_failures=args.auth_failures,
        auth_window_seconds=args.auth_window_seconds,
    )
    address = f"[{host}]:{args.port}" if ":" in host else f"{host}:{args.port}"
    hangup = threading.Event()  # before the warm-up: a SIGHUP then must not kill it
    signal.signal(signal.SIGHUP, lambda signum, frame: hangup.set())  # was: killed
    running = start(config, address, creds)
    flight = None
    if args.flight_port is not None:
        import pyarrow as pa

        from meanstest.errors import one_line
        from meanstest.service.flight import start_flight

        pem = (Path(args.tls_cert).read_bytes(), Path(args.tls_key).read_bytes()) if tls else None
        client_ca = Path(args.tls_client_ca).read_bytes() if args.tls_client_ca else None
        try:
            flight = start_flight(running.service, host, args.flight_port, pem, client_ca)
        except (OSError, pa.ArrowException) as e:  # a port in use: a traceback before
            running.stop(None).wait()
            config.journal.close()
            raise MeansTestError(
                f"--flight-port {args.flight_port}: cannot serve Flight on {host}: "
                f"{one_line(str(e))}"
            ) from None
        print(f"meanstest Flight on {host}:{flight.port}", flush=True)
    stopping = threading.Event()

    def on_signal(signum, frame) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    _log_head(config.journal, "at start")
    threading.Thread(  # the whole chain, beside the serving: only its last entry is
        target=check_journal_at_start,  # checked before it (a blind operator's check)
        args=(config.journal.path, journal_key),
        name="journal-check",
        daemon=True,
    ).start()
    bound = f"{host}:{running.port}"
    if args.port_file:
        tmp = Path(args.port_file + ".tmp")
        tmp.write_text(str(running.port))
        tmp.replace(args.port_file)
    print(f"meanstest serving on {bound} ({'TLS' if tls else 'plaintext'})", flush=True)
    while not stopping.wait(0.5):
        if hangup.is_set():
            hangup.clear()
            _reload_tokens(config.tokens, args.tokens, mutual_tls)
    print(f"meanstest: stopping, finishing calls for up to {args.grace:g} s", file=sys.stderr)
    deadline = time.monotonic() + args.grace
    flight_done = flight.drain() if flight is not None else None  # refuses new calls now
    running.stop(args.grace).wait()
    if flight_done is not None:  # an exchange beyond the grace is cut when the process ends
        flight_done.join(max(0.0, deadline - time.monotonic()))
    config.journal.close()
    _log_head(config.journal, "at stop")
    print("meanstest: stopped", file=sys.stderr)
    return 0


def check_journal_at_start(path: Path, key: bytes | None) -> bool:
    """The whole chain of the journal the server extends, checked once at start (in a
    thread of its own: a large journal takes a while). Only the last entry stops a start;
    an entry edited or removed before it was extended without a word (a blind
    operator's check). A broken chain is logged as an error; the server serves on, as
    the file is the evidence. Whether it is intact."""
    from meanstest.service.journal_check import verify

    try:
        count, _, broken = verify(path, key)
    except (MeansTestError, OSError) as e:
        log.error("journal %s: not checked at start: %s", path, e)
        return False
    if broken is not None:
        log.error(
            "journal %s: BROKEN at %s; this server extends it: keep the file as evidence "
            "and run `meanstest journal verify`",
            path,
            broken,
        )
        return False
    log.info("journal %s: %d entries, chain intact (checked at start)", path, count)
    return True


def _log_head(journal: Journal, when: str) -> None:
    """The journal's head in the log: kept elsewhere (a log collector), it is what
    `meanstest journal verify --head` needs to see a cut or rewritten tail."""
    log.info("journal %s %s: %d entries, head %s", journal.path, when, journal.seq, journal.head)


def _reload_tokens(tokens: Tokens | None, path: str | None, mutual_tls: bool) -> None:
    """SIGHUP: the tokens file read again (a token revoked without a restart, a
    certificate binding changed); a file that does not load leaves the callers as they
    were, as does one binding a caller to a certificate without mutual TLS."""
    from meanstest.service.auth import check_file_mode

    if tokens is None or path is None:
        log.warning("SIGHUP: no tokens file to reload (--no-auth)")
        return
    try:
        risk = "any local user could add a caller"
        check_file_mode(path, "--tokens", risk, refusing="not read")
        n = tokens.reload(path, mutual_tls)
    except MeansTestError as e:
        log.error("SIGHUP: tokens not reloaded, the callers stay as they were: %s", e)
        return
    log.info("SIGHUP: tokens reloaded from %s: %d callers", path, n)
