"""The service's configuration, and one call's bookkeeping: its caller, its stages (where
an ended call stops), its journal entry and its log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc

from meanstest.pipeline import ENGINE_VERSION
from meanstest.service.auth import Caller, Tokens
from meanstest.service.errors import gone
from meanstest.service.journal import Journal

if TYPE_CHECKING:
    from meanstest.service.server import MeansTestService


log = logging.getLogger("meanstest.service")


@dataclass
class ServiceConfig:
    library: object  # PolicyLibrary
    journal: Journal | None = None
    tokens: Tokens | None = None  # None = no authentication (loopback only; see cli)
    engine: str = "fast"
    max_message_bytes: int = 16 << 20
    max_concurrent_calls: int = 16
    max_call_households: int = 1_000_000  # rows of one bulk call (errors.CallRows)
    workers: int = 8
    idle_seconds: float = 300.0  # longest wait for a request message (service.gate)
    # more failed authentications than this from one address within the window lock it
    # out for the window (service.throttle); 0 = no limit
    auth_failures: int = 20
    auth_window_seconds: float = 60.0
    # Test hook: the clock of the failed-authentication limit.
    auth_clock: Callable[[], float] = time.monotonic
    # Test hook: called with (stage, context) at each checkpoint of a call.
    on_stage: Callable[[str, grpc.ServicerContext], None] | None = None
    chunk_bytes: int = field(default=0)
    # Called when a journal write fails (server.start: health NOT_SERVING): a server
    # that can journal nothing answers every call INTERNAL, and must not look healthy.
    on_journal_failure: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        if not self.chunk_bytes:  # room for the ArrowChunk framing
            self.chunk_bytes = max(1024, min(1 << 20, self.max_message_bytes - 4096))


class _Call:
    """One call's bookkeeping: caller, stages, deadline, journal entry."""

    def __init__(
        self, service: MeansTestService, method: str, context, peer: str | None = None
    ) -> None:
        self.service, self.method, self.context = service, method, context
        self.caller: Caller | None = None
        self.started = time.perf_counter()
        # read now (or given, read when the call started): once gRPC has ended a call (a
        # message over --max-message-mb) its peer() is empty, and the log line said
        # "peer=" (a C++ integrator's check)
        self.peer = peer if peer is not None else peer_of(context)
        self.households = 0
        self.digests = None  # result_digest_bytes, computed under the engine lock
        self.unmatched = 0  # the call's source rows naming nobody (validate's count)

    def stage(self, name: str) -> None:
        hook = self.service.config.on_stage
        if hook is not None:
            hook(name, self.context)
        ended = gone(self.context, f"before {name}; work abandoned")
        if ended is not None:
            raise ended

    def journal(self, status: str, **fields) -> None:
        journal = self.service.config.journal
        if journal is None or self.caller is None:
            return
        entry = {"caller": self.caller.name, "method": self.method, "status": status}
        entry |= {"engine_version": ENGINE_VERSION, "households": [], "rejects": []}
        try:
            journal.append(entry | fields)
        except OSError:
            hook = self.service.config.on_journal_failure
            if hook is not None:
                hook()
            raise

    def done(self, status: str) -> None:
        who = self.caller.name if self.caller else "-"
        log_call(self.method, who, self.households, status, self.started, self.peer)


def log_call(
    method: str, caller: str, households: int, status: str, started: float, peer: str
) -> None:
    """The one log line of a call, gRPC's or Flight's: method, caller, households
    assessed, status, milliseconds since `started` (time.perf_counter) and peer."""
    ms = (time.perf_counter() - started) * 1000
    log.info(
        "%s caller=%s households=%d status=%s %.1fms peer=%s",
        method,
        caller,
        households,
        status,
        ms,
        peer,
    )


def peer_of(context: grpc.ServicerContext | None) -> str:
    """Where the call came from ("ipv4:10.1.2.3:51234"), "-" when unknown: the audit
    log's "where" (a blind security review found refused and served calls alike without
    it). gRPC's and Flight's contexts both have peer()."""
    try:
        return (context.peer() or "-") if context is not None else "-"
    except Exception:  # noqa: BLE001 - a log line must not fail a call
        return "-"
