"""The MeansTest servicer and server: the same pipeline as `meanstest review`, over gRPC.

Every call: authenticate (bearer token) → check the caller's jurisdictions → convert →
assess → journal entry, fdatasync'd (group commit) → response. Errors go through
`errors.STATUS_TABLE`; nothing about a household (IDs, amounts) reaches the log.

Two ways through for protobuf calls, with the same answers: a call of a few households
takes the small-call path (`small`: scalar, serial kernel, no lock, no parallel region);
a larger one (or one the small path declines) is converted column by column and runs
`meanstest.pipeline.assess` under the engine lock, the only place parallel regions run.
`Assess` and `AssessStream` take and return raw bytes (generic handlers), so a response
is serialised once and its journal digest is of the very bytes sent; `AssessArrow` too
(its ArrowChunk messages read and written by `chunks`, the data never copied into
message objects); Explain, ListPolicies and GetPolicy answer their deterministic
serialisation as bytes, for the same reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass

import grpc
import pyarrow as pa
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from meanstest import schema
from meanstest.errors import MeansTestError, PolicyError
from meanstest.service import chunks, convert, small, threads, wire, wire_out
from meanstest.service.auth import ANONYMOUS, Caller, presented_cert_sha256
from meanstest.service.bulk import SERIAL_HOUSEHOLDS, pipeline_tables
from meanstest.service.call import ServiceConfig, _Call, log, peer_of
from meanstest.service.errors import (
    CallRows,
    InvalidArgument,
    NotFound,
    abort,
    ended_early,
    gone,
    gone_after_requests,
    max_reasons,
    parse,
    reasons_named,
    require_households,
    status_of,
)
from meanstest.service.explaining import explain_call
from meanstest.service.gate import Gate, IdleWatch
from meanstest.service.journal import households_section, result_digest_bytes
from meanstest.service.replies import (
    _ISO_DAY,
    _canonical,
    _division_code,
    _journaled,
    _parse,
    _summary,
    answerable,
    decoded_ids_answerable,
    ids_answerable,
    nested_rows,
    rows_answerable,
    sendable,
)
from meanstest.service.small_engine import PackCache
from meanstest.service.throttle import AuthLimiter
from meanstest.v1 import meanstest_pb2 as pb

__all__ = [
    "OUTPUT_TABLES",
    "SERIAL_HOUSEHOLDS",
    "SERVICE",
    "SMALL_BYTES",
    "MeansTestService",
    "Running",
    "ServiceConfig",
    "pipeline_tables",
    "start",
]

SERVICE = pb.DESCRIPTOR.services_by_name["MeansTest"].full_name
OUTPUT_TABLES = ("results", "members", "findings", "rejects")
SMALL_BYTES = 256 << 10  # requests up to this size are parsed to try the small-call path


class MeansTestService:
    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        # Every parallel region (validation's ID check, the kernels, the digests) runs
        # under this lock: one bulk engine run at a time (it uses every core), so parallel
        # regions never collide; conversion, small calls and I/O of other calls overlap.
        self._engine = threading.Lock()
        self.packs = PackCache()  # kernel arrays of the packs, for small calls
        # failed authentications per address, gRPC's and Flight's alike (service.throttle)
        self.limiter = (
            AuthLimiter(config.auth_failures, config.auth_window_seconds, config.auth_clock)
            if config.auth_failures
            else None
        )

    # --- the frame of every call -------------------------------------------------------

    def _run(self, method: str, context, body: Callable[[_Call], object], call=None):
        call = call or _Call(self, method, context)
        try:
            call.caller = self._caller(context)
            result = body(call)
            call.done("OK")
            return result
        except Exception as e:  # noqa: BLE001 - STATUS_TABLE maps every exception
            e = ended_early(e, context)
            found = self._ended(call, e)
            abort(context, e, found)

    def _caller(self, context: grpc.ServicerContext) -> Caller:
        """The call's caller, from its token and the client certificate it presented (the
        gate admitted it so; a SIGHUP since may have revoked either)."""
        tokens = self.config.tokens
        if tokens is None:
            return ANONYMOUS
        metadata, cert = context.invocation_metadata(), presented_cert_sha256(context)
        return tokens.authenticate(metadata, cert, peer_of(context))

    def assess_tables(
        self, tables: dict[str, pa.Table], unreadable: dict | None = None
    ) -> tuple[dict[str, pa.Table], object, int]:
        """The bulk pipeline, the results' journal digests (under the engine lock: both
        run parallel regions) and the count of unmatched source rows; also the Flight
        endpoint's engine. `unreadable`: a conversion's cells that did not fit
        (convert.Conversion)."""
        with self._engine:
            config = self.config
            most = max_reasons(config.max_call_households)
            with reasons_named(config.max_call_households):
                outputs, unmatched = pipeline_tables(
                    tables, config.library, config.engine, most, unreadable
                )
            digests = result_digest_bytes(outputs["results"], outputs["members"])
        return outputs, digests, unmatched

    def _assess_tables(self, call: _Call, tables: dict[str, pa.Table], unreadable=None):
        call.stage("engine")
        outputs, call.digests, call.unmatched = self.assess_tables(tables, unreadable)
        call.households += outputs["results"].num_rows + outputs["rejects"].num_rows
        call.stage("journal")
        return outputs

    def _check_households(self, call: _Call, households) -> None:
        require_households(len(households), "households")
        for h in households:
            # the RPC called (Assess or AssessStream): a stream was told "(Assess)"
            call.caller.check(
                h.jurisdiction if h.HasField("jurisdiction") else None,
                call.method,
                h.household_id if h.HasField("household_id") else None,
            )

    def _parsed(self, call: _Call, data: bytes, limit: int) -> pb.AssessRequest:
        """An AssessRequest read by the protobuf library, within the call's bounds
        (households, rows, ID lengths, the caller's jurisdictions)."""
        request = _parse(data)
        answerable(len(request.households), limit)
        rows_answerable(nested_rows(request.households), limit)
        ids_answerable(request.households)
        self._check_households(call, request.households)
        call.stage("convert")
        return request

    def _assess_bytes(self, call: _Call, data: bytes) -> bytes:
        """One AssessRequest (serialised) → its AssessResponse (serialised), journaled."""
        limit = self.config.max_message_bytes
        if len(data) <= SMALL_BYTES and self.config.engine == "fast":
            request = self._parsed(call, data, limit)
            try:
                answer = small.assess(request.households, self.config.library, self.packs)
            except Exception as e:  # noqa: BLE001 - a bug there must not cost the answer
                log.error("small-call path failed (%s); bulk path used", type(e).__name__)
                answer = None
            if answer is not None:
                call.households += len(answer.results) + len(answer.rejects)
                call.stage("engine")
                body = small.response(answer).SerializeToString(deterministic=True)
                sendable(body, limit)
                call.stage("journal")
                section = small.journal_section(answer)
                call.journal(
                    "OK",
                    output_digest=hashlib.sha256(body).hexdigest(),
                    unmatched_source_rows=answer.unmatched_source_rows,
                    **section,
                )
                return body
        conv = None
        counts = wire.count(data)  # None: bytes left to the protobuf library, counted there
        if counts is not None:
            answerable(int(counts[0]), limit)
            rows_answerable(int(counts[1:].sum()), limit)
        decoded = wire.decode(data, counts) if counts is not None else None
        if decoded is not None:
            require_households(decoded.households, "households")
            decoded_ids_answerable(decoded)
            try:
                call.caller.check_column(*convert.request_jurisdictions(decoded), call.method)
                call.stage("convert")
                conv = convert.request_to_tables(decoded)
            except wire.NotUTF8:
                conv = None
        if conv is None:  # bytes the column reader leaves to the protobuf library
            request = self._parsed(call, data, limit)
            conv = convert.households_to_tables(request.households)
        outputs = self._assess_tables(call, conv.tables, conv.unreadable)
        body = wire_out.encode_response(outputs, call.unmatched)
        sendable(body, self.config.max_message_bytes)
        section = households_section(
            outputs["results"], outputs["members"], outputs["rejects"], call.digests
        )
        call.journal(
            "OK",
            output_digest=hashlib.sha256(body).hexdigest(),
            unmatched_source_rows=call.unmatched,
            **section,
        )
        return body

    # --- RPCs ------------------------------------------------------------------------------

    def Assess(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        return self._run("Assess", context, lambda call: self._assess_bytes(call, request))

    def AssessStream(
        self, request_iterator: Iterator[bytes], context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        call = _Call(self, "AssessStream", context)
        terminated = threading.Event()  # a cancel ends the call while its requests end
        context.add_callback(terminated.set)
        try:
            call.caller = self._caller(context)
            for request in request_iterator:
                yield self._assess_bytes(call, request)
            ended = gone_after_requests(context, "while its requests were read", terminated)
            if ended is not None:
                raise ended
            call.done("OK")
        except GeneratorExit:
            # gRPC stopped taking answers: the client cancelled or its deadline passed
            # after an answer (journaled when it was made). Say so, then stop.
            self._ended(call, gone(context, "after an answer", ended=True))
            raise
        except Exception as e:  # noqa: BLE001 - STATUS_TABLE maps every exception
            e = ended_early(e, context)
            found = self._ended(call, e)
            abort(context, e, found)

    def refuse(self, method: str, context: grpc.ServicerContext, error: Exception) -> None:
        """A call the gate refused for its token, or its address locked out: its log line
        (caller "-"), no journal entry (no caller to journal), the status; the method
        never runs."""
        call = _Call(self, method, context)
        found = status_of(error)
        call.done(found[0].name)
        abort(context, error, found)

    def unread(
        self, method: str, context: grpc.ServicerContext, error: Exception, peer: str
    ) -> bytes:
        """A unary call whose request never came, or not as one message (gate.Gate):
        journaled and logged as any call that ended with `error`; `peer` read when the
        call started."""

        def body(call: _Call) -> bytes:
            raise ended_early(error, context) if isinstance(error, grpc.RpcError) else error

        return self._run(method, context, body, _Call(self, method, context, peer))

    def _ended(self, call: _Call, e: BaseException) -> tuple:
        """Journal and log a call that failed with `e`; its (status, message)."""
        found = status_of(e)
        try:
            call.journal(found[0].name, error=type(e).__name__)
        except OSError as journal_error:  # one line: a traceback a call, on a full disk
            log.error("the call's entry not journaled: %s", journal_error)
        call.done(found[0].name)
        return found

    def AssessArrow(
        self, request_iterator: Iterator[bytes], context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        def body(call: _Call):
            bound = CallRows(self.config.max_call_households)
            tables = chunks.chunks_to_tables(request_iterator, schema.TABLES, bound.add)
            if "households" not in tables:
                raise InvalidArgument(  # or a request gRPC cut at its first chunk
                    "no households table among the chunks", field="table", cut=True
                )
            n = tables["households"].num_rows
            require_households(n, "data", " (the households table has no rows)")
            call.caller.check_table(tables["households"], "AssessArrow")
            outputs = self._assess_tables(call, tables)
            outputs["results"] = convert.with_unmatched(outputs["results"], call.unmatched)
            streams = {name: chunks.ipc_stream(outputs[name]) for name in OUTPUT_TABLES}
            digest = hashlib.sha256()  # of the chunks' data, in order
            for stream in streams.values():
                digest.update(stream)
            call.journal(
                "OK",
                output_digest=digest.hexdigest(),
                unmatched_source_rows=call.unmatched,
                **households_section(
                    outputs["results"], outputs["members"], outputs["rejects"], call.digests
                ),
            )
            return list(chunks.stream_chunk_bytes(streams, self.config.chunk_bytes))

        call = _Call(self, "AssessArrow", context)
        answer = self._run("AssessArrow", context, body, call)
        try:
            yield from answer
        except GeneratorExit:  # the answer, journaled OK, was not all taken: say so
            self._ended(call, gone(context, "while its answer was sent", ended=True))
            raise

    # Explain, ListPolicies and GetPolicy take raw bytes too, read by `parse` inside the
    # call (after authentication): unreadable bytes are INVALID_ARGUMENT, journaled.
    def Explain(self, data: bytes, context: grpc.ServicerContext) -> bytes:
        return self._run("Explain", context, lambda call: explain_call(self, call, data))

    def ListPolicies(self, data: bytes, context: grpc.ServicerContext) -> bytes:
        def body(call: _Call) -> bytes:
            request = parse(pb.ListPoliciesRequest, data, "jurisdiction")
            packs = list(self.config.library.packs)
            if request.jurisdiction:
                _division_code(request.jurisdiction)
                codes = set(self.config.library.candidates(request.jurisdiction))
                packs = [p for p in packs if p.jurisdiction in codes]
            return _journaled(call, pb.ListPoliciesResponse(policies=[_summary(p) for p in packs]))

        return self._run("ListPolicies", context, body)

    def GetPolicy(self, data: bytes, context: grpc.ServicerContext) -> bytes:
        def body(call: _Call) -> bytes:
            request = parse(pb.GetPolicyRequest, data, "id")
            library = self.config.library
            if request.id and (request.jurisdiction or request.date):
                # which one was meant? (the id silently won: a client developer's check)
                raise InvalidArgument(
                    "give id, or jurisdiction and date, not both", field="jurisdiction"
                )
            if request.id:
                try:
                    pack = library.by_id(request.id)
                except PolicyError as e:
                    raise NotFound(e.problem, field="id") from None
            elif request.jurisdiction or request.date:
                _division_code(request.jurisdiction)
                try:  # fromisoformat also reads 20240701 and 2024-W27-1
                    if not _ISO_DAY.fullmatch(request.date):
                        raise ValueError
                    day = dt.date.fromisoformat(request.date)
                except ValueError:
                    raise InvalidArgument(
                        f"date {request.date[:100]!r} is not YYYY-MM-DD", field="date"
                    ) from None
                pack = library.select(request.jurisdiction, day)
                if pack is None:
                    tried = ", ".join(library.candidates(request.jurisdiction))
                    raise NotFound(
                        f"no policy pack for jurisdiction {request.jurisdiction} on {day} "
                        f"(tried {tried})",
                        field="jurisdiction",
                    )
            else:
                raise InvalidArgument("give id, or jurisdiction and date", field="id")
            pack = pb.PolicyPack(summary=_summary(pack), params_json=_canonical(pack.params))
            return _journaled(call, pack)

        return self._run("GetPolicy", context, body)


def _handlers(service: MeansTestService) -> grpc.GenericRpcHandler:
    """The MeansTest methods. Every request arrives as raw bytes, read by the method
    itself after authentication (`errors.parse`, or `wire` / `chunks`); every method
    answers raw bytes too (see module docstring). Behind `gate.Gate`: the token checked
    as the call starts (failures counted per address), no request awaited longer than
    `idle_seconds`."""

    def unary(method):
        return grpc.unary_unary_rpc_method_handler(method)  # bytes in, bytes out

    tokens = service.config.tokens
    return Gate(
        _methods(service, unary),
        tokens.authenticate if tokens else None,
        IdleWatch(service.config.idle_seconds),
        service.refuse,
        service.unread,
        service.limiter,
    )


def _methods(service: MeansTestService, unary) -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Assess": unary(service.Assess),
            "AssessStream": grpc.stream_stream_rpc_method_handler(service.AssessStream),
            # ArrowChunk bytes read and written by `chunks` (one copy of the data each way)
            "AssessArrow": grpc.stream_stream_rpc_method_handler(service.AssessArrow),
            # answered as bytes too: the deterministic serialisation the journal digests
            "Explain": unary(service.Explain),
            "ListPolicies": unary(service.ListPolicies),
            "GetPolicy": unary(service.GetPolicy),
        },
    )


@dataclass
class Running:
    server: grpc.Server
    port: int
    health: health.HealthServicer
    service: MeansTestService

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE):
            self.health.set(name, status)

    def stop(self, grace: float | None) -> threading.Event:
        self.set_serving(False)
        return self.server.stop(grace)


def start(
    config: ServiceConfig,
    address: str,
    credentials: grpc.ServerCredentials | None = None,
    warm: bool = True,
) -> Running:
    """Build, bind and start the server; health says SERVING only after the warm-up."""
    threads.pin()
    opts = [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="meanstest"),
        options=opts,
        maximum_concurrent_rpcs=config.max_concurrent_calls,
    )
    service = MeansTestService(config)
    server.add_generic_rpc_handlers((_handlers(service),))
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            SERVICE,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    try:  # grpcio raises where it returned 0: a traceback at an operator's port in use
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError:
        port = 0
    if port == 0:
        raise MeansTestError(
            f"cannot listen on {address}: is the port in use by another process, or the "
            "address not one of this machine's?"
        )
    running = Running(server, port, health_servicer, service)
    running.set_serving(False)
    if config.on_journal_failure is None:  # a blind security review: INTERNAL, SERVING
        config.on_journal_failure = lambda: running.set_serving(False)
    server.start()
    if warm:
        from meanstest.service.warm import warm_up

        warm_up(config)
    running.set_serving(True)
    return running
