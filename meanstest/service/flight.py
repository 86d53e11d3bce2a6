"""Arrow Flight beside the gRPC service: Java, Spark or Go clients send Arrow, not our
proto (docs/service.md "Arrow Flight").

One method: DoExchange with the command descriptor `assess`. The client writes the
request table (`nested.request_schema()`: a row per household, its rows nested) in as
many batches as it likes and closes its side; the server answers with the answer table
(`nested.answer_schema()`). Same TLS (and mutual TLS), same bearer tokens and
jurisdictions, same engine lock and same journal as the gRPC service it is started
with (`start_flight(running.service, ...)`); the journal entry's method is
`Flight.DoExchange` and its output_digest is the SHA-256 of the answer as one Arrow IPC
stream (`answer_digest`).

The token is checked by each handler, not by the middleware: pyarrow gives a
middleware the call's headers but not its peer, and a failure must count against the
peer's address (`throttle`, the limiter the gRPC service uses). So the middleware only
carries the headers; every other Flight method answers UNAUTHENTICATED to a wrong token
(counted) and UNIMPLEMENTED to a right one. Handshake and PollFlightInfo, which pyarrow
answers without Python, are UNIMPLEMENTED whatever the token (they told a right token
from a wrong one, uncounted, when the middleware refused).

A caller bound to client certificates (`auth.Caller.client_cert_sha256`) is refused
here whatever certificate it presents, as a gRPC call without its certificate is
(UNAUTHENTICATED, counted): pyarrow gives a handler the certificate's subject only
(`ServerCallContext.peer_identity()`: its common name or first SAN), never the
certificate, so there is no fingerprint to check, and a subject is shared by every
certificate the CA issues in that name. Such a caller uses the gRPC service.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.flight as fl

from meanstest import schema
from meanstest.errors import MeansTestError, one_line
from meanstest.service import nested
from meanstest.service.auth import ANONYMOUS
from meanstest.service.call import log_call, peer_of
from meanstest.service.chunks import ipc_stream
from meanstest.service.convert import with_unmatched
from meanstest.service.errors import (
    CallRows,
    Cancelled,
    DeadlineExpired,
    InvalidArgument,
    NotDelivered,
    PermissionDenied,
    Unauthenticated,
    require_households,
)
from meanstest.service.journal import households_section
from meanstest.service.throttle import LockedOut, admit

if TYPE_CHECKING:
    from meanstest.service.server import MeansTestService

log = logging.getLogger("meanstest.service")
COMMAND = b"assess"
FLIGHT_SLOTS = 4  # Flight calls at once, per --max-concurrent-calls


class _Auth(fl.ServerMiddleware):
    """A call's headers, and its caller once the handler has admitted it."""

    def __init__(self, metadata: list[tuple[str, str]]) -> None:
        self.metadata, self.caller = metadata, None


class _AuthFactory(fl.ServerMiddlewareFactory):
    def start_call(self, info, headers):
        return _Auth([(k, v) for k, values in headers.items() for v in values])


def bounded_request(request: pa.Table, max_call_households: int) -> CallRows:
    """The checks of a Flight request table before anything reads its rows (each raises
    a MeansTestError): valid Arrow data, a household_id column, at least one household,
    the call's rows and decoded strings within the service's bounds. Returns the bound,
    which `request_tables` goes on counting with."""
    try:
        _names(request.schema)
        # IPC reading trusts the buffers' offsets: a string column whose offsets went
        # down and up again killed the server (a segfault in libarrow, found while
        # bounding the call's strings), as it had AssessArrow's (chunks.py)
        request.validate(full=True)
    except UnicodeDecodeError:  # pyarrow decodes a name when it is asked for
        raise InvalidArgument(
            "the request is not valid Arrow data (a column name is not UTF-8)", field="schema"
        ) from None
    except pa.ArrowException as e:
        raise InvalidArgument(f"the request is not valid Arrow data ({_said(e)})") from None
    if "household_id" not in request.column_names:
        raise InvalidArgument("the request has no household_id column", field="schema")
    _no_unknown_tables(request.schema)
    require_households(request.num_rows, "households", " (the request has no rows)")
    bound = CallRows(max_call_households)
    for name, rows in nested.nested_rows(request):
        bound.rows(name, rows)
    bound.strings("request", request)
    return bound


def _no_unknown_tables(request: pa.Schema) -> None:
    """A list column is a table of the households (persons, bank, …) or their
    current_programs; one of another name is a misspelt table, whose rows would be
    missing from every household without a word (a blind test's `banks`: 50 of 300
    households changed status). AssessArrow refuses an unknown table likewise. A column
    of another kind is a households column; an unknown one is ignored, as a bundle's
    extra columns are."""
    households = set(schema.arrow_schema("households").names)
    lists = (
        pa.types.is_list,
        pa.types.is_large_list,
        pa.types.is_fixed_size_list,
        pa.types.is_list_view,
        pa.types.is_large_list_view,
    )
    for field in request:
        listed = any(is_kind(field.type) for is_kind in lists)
        if listed and field.name not in nested.NESTED and field.name not in households:
            raise InvalidArgument(
                f"the request's list column {field.name!r} is no table of the request "
                f"(tables: {', '.join(nested.NESTED)})",
                field=field.name,
            )


def _names(fields) -> None:
    """Every field name of a schema or nested type, read (decoded: UnicodeDecodeError
    if one is not UTF-8, found by fuzzing Flight's request path)."""
    for field in fields:
        _ = field.name
        t = field.type
        if pa.types.is_struct(t):
            _names(t.field(i) for i in range(t.num_fields))
        elif hasattr(t, "value_field"):  # lists of any kind
            _names([t.value_field])


def request_tables(request: pa.Table, bound: CallRows) -> dict[str, pa.Table]:
    """A request table that passed `bounded_request` → bundle tables, their IDs within
    the bound's lengths."""
    tables = nested.nested_to_tables(request)
    for name, table in tables.items():
        bound.ids(name, table)
    return tables


def _log_call(
    method: str, caller: str, households: int, status: str, started: float, context=None
) -> None:
    """One line per call, the words of the gRPC service's (call.log_call), the peer
    included."""
    log_call(method, caller, households, status, started, peer_of(context))


def answer_digest(answer: pa.Table) -> str:
    return hashlib.sha256(ipc_stream(answer)).hexdigest()


class AssessFlight(fl.FlightServerBase):
    def __init__(
        self,
        service: MeansTestService,
        location: str,
        tls: list[fl.CertKeyPair] | None = None,
        client_ca: bytes | None = None,
        **kw: object,
    ) -> None:
        self.service = service  # the MeansTestService: config, engine lock, journal
        # pyarrow starts a thread per call without a bound (a blind security review held
        # 300 idle exchanges, 323 threads), and gives the server no way to time out an
        # exchange that sends nothing: a bound as tight as gRPC's would let 16 idle ones
        # shut Flight for good. So four times --max-concurrent-calls: a cap on threads.
        self._slots = threading.BoundedSemaphore(FLIGHT_SLOTS * service.config.max_concurrent_calls)
        self.stopping = threading.Event()  # set by `drain`: new calls refused at once
        super().__init__(
            location,
            tls_certificates=tls or [],
            verify_client=client_ca is not None,
            root_certificates=client_ca,
            middleware={"auth": _AuthFactory()},
            **kw,
        )

    def drain(self) -> threading.Thread:
        """SIGTERM: new calls refused from now on, the calls under way finished in a
        thread of their own (pyarrow's shutdown blocks until they are; the caller
        waits for it with gRPC's grace). A blind test found Flight answering new calls
        for the 5 s that gRPC took to drain, after "new calls are refused"."""
        self.stopping.set()
        done = threading.Thread(target=self.shutdown, name="meanstest-flight-drain", daemon=True)
        done.start()
        return done

    def admit(self, context: fl.ServerCallContext, method: str) -> Exception | None:
        """The call's caller (on its middleware), or the Flight error that refuses it: a
        wrong token (counted against the peer's address), or the address locked out (the
        token not read). A refused call has its log line (caller "-") and no entry."""
        auth = context.get_middleware("auth")
        tokens = self.service.config.tokens
        if tokens is None:
            auth.caller = ANONYMOUS
            return None
        started, peer = time.perf_counter(), peer_of(context)
        try:  # no certificate to present (the module's docstring): a bound caller refused
            auth.caller = admit(
                self.service.limiter,
                peer,
                lambda m: tokens.authenticate(m, None, peer),
                auth.metadata,
            )
        except (Unauthenticated, LockedOut) as e:
            _log_call(method, "-", 0, _code(e), started, context)
            return _flight_error(e)
        return None

    def unserved(self, context: fl.ServerCallContext, method: str) -> Exception:
        """What a Flight method other than DoExchange raises: the refusal of its caller,
        else NotImplementedError (UNIMPLEMENTED), as pyarrow's own."""
        refused = self.admit(context, method)
        if refused is not None:
            return refused
        return NotImplementedError(f'{method} is not served (DoExchange "assess" is)')

    # do_exchange (below the class) raises what this returns: an error raised here would
    # carry this file's frames to the client in pyarrow's error detail.
    def exchange(
        self,
        context: fl.ServerCallContext,
        descriptor: fl.FlightDescriptor,
        reader: fl.MetadataRecordBatchReader,
        writer: fl.MetadataRecordBatchWriter,
    ) -> Exception | None:
        if self.stopping.is_set():  # as gRPC's listening socket is closed: no entry
            _log_call("Flight.DoExchange", "-", 0, "UNAVAILABLE", time.perf_counter(), context)
            return fl.FlightUnavailableError("the server is stopping: try another, or later")
        refused = self.admit(context, "Flight.DoExchange")
        if refused is not None:
            return refused
        if not self._slots.acquire(blocking=False):  # refused as gRPC refuses: no entry
            caller = context.get_middleware("auth").caller
            started = time.perf_counter()
            _log_call("Flight.DoExchange", caller.name, 0, "UNAVAILABLE", started, context)
            n = FLIGHT_SLOTS * self.service.config.max_concurrent_calls
            return fl.FlightUnavailableError(
                f"more than {n} Flight calls at once (4 × --max-concurrent-calls): try again later"
            )
        try:
            return self._exchange(context, descriptor, reader, writer)
        finally:
            self._slots.release()

    def _exchange(self, context, descriptor, reader, writer) -> Exception | None:
        started = time.perf_counter()
        caller = context.get_middleware("auth").caller
        households, status = 0, "OK"
        try:
            if descriptor.command != COMMAND:
                raise InvalidArgument(
                    f"unknown command {descriptor.command[:100]!r} (send {COMMAND!r})",
                    field="command",
                )
            try:
                request = reader.read_all()
            except (OSError, pa.ArrowException) as e:  # no schema written, a cut stream
                raise InvalidArgument(f"the request is not an Arrow stream ({_said(e)})") from None
            bound = bounded_request(request, self.service.config.max_call_households)
            caller.check_table(request, "Flight.DoExchange")
            if context.is_cancelled():
                raise Cancelled("the call was cancelled before the engine ran")
            tables = request_tables(request, bound)
            outputs, digests, unmatched = self.service.assess_tables(tables)
            answer = with_unmatched(nested.answer_table(outputs), unmatched)
            households = answer.num_rows
            self._journal(
                caller,
                "OK",
                answer_digest(answer),
                outputs,
                digests,
                unmatched_source_rows=unmatched,
            )
            try:
                writer.begin(answer.schema)
                writer.write_table(answer, max_chunksize=65_536)
            except (OSError, pa.ArrowException) as e:  # "client disconnect?"
                # the answer is journaled OK; this entry says it did not reach the
                # client (a client deadline or cancel, not an internal error)
                raise NotDelivered(
                    "the answer could not be sent: the client is gone (cancelled, or its "
                    "deadline passed)"
                ) from e
        except Exception as e:  # noqa: BLE001 - every failure becomes a Flight status
            status = _code(e)  # the status code, as gRPC's lines and the journal say it
            try:
                self._journal(caller, status, None, None, None, error=type(e).__name__)
            except OSError as journal_error:  # one line: a traceback a call, on a full disk
                log.error("the call's entry not journaled: %s", journal_error)
            return _flight_error(e)
        finally:
            _log_call("Flight.DoExchange", caller.name, households, status, started, context)

        return None

    def _journal(self, caller, status, digest, outputs, digests=None, **fields) -> None:
        journal = self.service.config.journal
        if journal is None:
            return
        from meanstest.pipeline import ENGINE_VERSION

        entry = {"caller": caller.name, "method": "Flight.DoExchange", "status": status}
        entry |= {"engine_version": ENGINE_VERSION, "households": [], "rejects": []}
        if outputs is not None:
            entry["output_digest"] = digest
            entry |= households_section(
                outputs["results"], outputs["members"], outputs["rejects"], digests
            )
        try:
            journal.append(entry | fields)
        except OSError:
            hook = self.service.config.on_journal_failure
            if hook is not None:
                hook()  # health NOT_SERVING, as for a gRPC call's failed entry
            raise


# pyarrow sends a handler's Python traceback with an INVALID_ARGUMENT (ArrowInvalid is
# its only way to that status), formatted from the frames the error passed through. The
# handler is therefore a frame of no file: the client reads "<meanstest flight>", line 4,
# not this file's path and source (found by an adversarial gRPC run).
_HANDLER = """
def do_exchange(self, context, descriptor, reader, writer):
    error = self.exchange(context, descriptor, reader, writer)
    if error is not None:
        raise error

def unserved(method):
    def handler(self, context, *args):
        raise self.unserved(context, method)
    return handler
"""
_namespace: dict = {}
exec(compile(_HANDLER, "<meanstest flight>", "exec"), _namespace)  # noqa: S102 - our text
AssessFlight.do_exchange = _namespace["do_exchange"]
_UNSERVED = {  # each authenticated, then UNIMPLEMENTED (see the module's docstring)
    "list_flights": "ListFlights",
    "get_flight_info": "GetFlightInfo",
    "get_schema": "GetSchema",
    "do_put": "DoPut",
    "do_get": "DoGet",
    "list_actions": "ListActions",
    "do_action": "DoAction",
}
for _handler, _method in _UNSERVED.items():
    setattr(AssessFlight, _handler, _namespace["unserved"](f"Flight.{_method}"))


# Bad input that is not a MeansTestError: Arrow's errors (a type it cannot read), a missing
# column, a column name that is not UTF-8 (read by pyarrow.flight, decoded when the
# handler asks for names).
_FOREIGN_BAD_INPUT = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    KeyError,
    UnicodeDecodeError,
)


def _code(e: Exception) -> str:
    """The journal's status of a failed call: the status the caller gets."""
    from meanstest.service.errors import status_of

    if isinstance(e, _FOREIGN_BAD_INPUT):
        return "INVALID_ARGUMENT"
    return status_of(e)[0].name


def _said(e: Exception) -> str:
    """An error's message on one line (ours: an ID of the request may hold a line
    break), or its first line (Arrow's go on for lines), or its type's name."""
    if isinstance(e, MeansTestError):
        return one_line(e.message)
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def _flight_error(e: Exception) -> Exception:
    message = _said(e)
    if isinstance(e, Unauthenticated):
        return fl.FlightUnauthenticatedError(message)
    if isinstance(e, LockedOut):  # Flight has no RESOURCE_EXHAUSTED: its nearest code
        return fl.FlightUnavailableError(message)
    if isinstance(e, PermissionDenied):
        return fl.FlightUnauthorizedError(message)
    if isinstance(e, (DeadlineExpired, Cancelled)):
        return fl.FlightCancelledError(message)
    if isinstance(e, (MeansTestError, *_FOREIGN_BAD_INPUT)):
        return pa.ArrowInvalid(message)  # INVALID_ARGUMENT
    log.error("Flight internal error: %s", type(e).__name__)
    return fl.FlightInternalError("internal error")


def start_flight(
    service: MeansTestService,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: tuple[bytes, bytes] | None = None,
    client_ca: bytes | None = None,
) -> AssessFlight:
    """Start the Flight endpoint beside a running gRPC service (same config, lock, journal);
    `tls` = (cert PEM, key PEM). Returns the server; `.port` is the bound port."""
    scheme = "grpc+tls" if tls else "grpc+tcp"
    certs = [fl.CertKeyPair(cert=tls[0], key=tls[1])] if tls else None
    server = AssessFlight(service, f"{scheme}://{host}:{port}", certs, client_ca)
    tokens = service.config.tokens
    bound = [c.name for c in tokens.callers.values() if c.client_cert_sha256] if tokens else []
    if bound:
        log.warning(
            "Flight: callers bound to client certificates are refused there (pyarrow does "
            "not give the server the certificate): %s",
            ", ".join(bound),
        )
    threading.Thread(target=server.serve, name="meanstest-flight", daemon=True).start()
    return server


def flight_client(
    location: str, ca: bytes | None = None, cert: bytes | None = None, key: bytes | None = None
) -> fl.FlightClient:
    """A Flight client of the service (TLS root, and for mutual TLS a certificate and key,
    PEM bytes); keep it for many calls: each new client opens a new connection. A path
    or str given for one is a TypeError naming it: Arrow would read the path's text as
    the certificate and fail the call with "empty address list" (a blind user's check)."""
    for name, value in (("ca", ca), ("cert", cert), ("key", key)):
        if value is not None and not isinstance(value, bytes):
            raise TypeError(
                f"{name}: the PEM bytes of the file, e.g. Path('{name}.pem').read_bytes(), "
                f"not {type(value).__name__}"
            )
    kw = {}
    if ca is not None:
        kw["tls_root_certs"] = ca
    if cert is not None:
        kw |= {"cert_chain": cert, "private_key": key}
    return fl.FlightClient(location, **kw)


def flight_assess(
    location: str | fl.FlightClient,
    tables: pa.Table | dict[str, pa.Table],
    token: str | None = None,
    ca: bytes | None = None,
    cert: bytes | None = None,
    key: bytes | None = None,
) -> dict[str, pa.Table]:
    """Client: assess bundle tables (or a request table) over Flight; the four output
    tables. `location` is a URI (a client is opened and closed for the call) or a
    FlightClient from `flight_client` (kept open: no new connection per call)."""
    own = not isinstance(location, fl.FlightClient)
    client = flight_client(location, ca, cert, key) if own else location
    try:
        options = fl.FlightCallOptions(
            headers=[(b"authorization", f"Bearer {token}".encode())] if token else []
        )
        request = tables if isinstance(tables, pa.Table) else nested.tables_to_nested(tables)
        writer, reader = client.do_exchange(fl.FlightDescriptor.for_command(COMMAND), options)
        try:
            writer.begin(request.schema)
            writer.write_table(request, max_chunksize=65_536)
            writer.done_writing()
            answer = reader.read_all()
        except BaseException:
            # a failed call: the writer's close reports the same status again, and an
            # unclosed writer prints it to stderr when collected ("Close() failed")
            try:
                writer.close()
            except (fl.FlightError, pa.ArrowException, OSError):
                pass
            raise
        writer.close()
        return nested.answer_to_tables(answer)
    finally:
        if own:
            client.close()
