"""The gate of every MeansTest call: the token checked when the call starts, and no
wait for a request message longer than `ServiceConfig.idle_seconds`.

A blind security review held the server's capacity without a token: 16 unary calls
whose request never came took every slot (`--max-concurrent-calls`), for as long as
their connections stayed open, because gRPC reads a unary request before the method
runs, and the method checked the token. And a caller with a token held it with streams
that sent nothing. So:

- the token is checked from the call's metadata as soon as the call starts (its
  handler's first step, where the peer is known), before any message is read; a call
  without a valid one is answered UNAUTHENTICATED at once (`refuse`: the log line of
  every refused call, no journal entry) and never reaches its method. Each such failure
  counts against the peer's address (`throttle.AuthLimiter`); an address locked out is
  answered RESOURCE_EXHAUSTED, its token not read. A token bound to client certificates
  (`auth.Caller.client_cert_sha256`) passes only with the certificate the call presented
  over mutual TLS, also read from the call here;
- every method reads its requests as a stream (a unary method's one message too: the
  bytes on the wire are the same; the unary method runs as soon as its message is in,
  without waiting for the client's end of stream), and `IdleWatch` cancels a call that
  waits longer than `idle_seconds` for a whole message: one thread, looking every
  quarter of a second while some call waits. gRPC hands Python whole messages only, so
  the bound is on each message's arrival, not on a pause between bytes: a 16 MB message
  needs 16 MB / idle_seconds of bandwidth (300 s by default: 55 KB/s). The method sees
  its request end as a cancelled call's does and journals it CANCELLED, naming the wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import grpc

from meanstest.service.auth import presented_cert_sha256
from meanstest.service.call import peer_of
from meanstest.service.errors import (
    Cancelled,
    InvalidArgument,
    RequestIdle,
    ServiceError,
    Unauthenticated,
    gone_after_requests,
)
from meanstest.service.throttle import AuthLimiter, LockedOut, admit

log = logging.getLogger("meanstest.service")
Unary = Callable[[bytes, grpc.ServicerContext], bytes]
Streaming = Callable[[Iterator[bytes], grpc.ServicerContext], Iterator[bytes]]


class IdleWatch:
    """Cancels a call that has waited `seconds` for a request message."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._waiting: dict[int, tuple[float, grpc.ServicerContext]] = {}
        self._expired: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def begin(self, context: grpc.ServicerContext) -> int:
        key = id(context)
        with self._lock:
            self._waiting[key] = (time.monotonic(), context)
            self._expired.discard(key)
            if self._thread is None:  # the thread ends when nothing waits
                self._thread = threading.Thread(target=self._run, name="idle-watch", daemon=True)
                self._thread.start()
        return key

    def end(self, key: int) -> bool:
        """The wait is over; whether this watch cancelled the call meanwhile."""
        with self._lock:
            self._waiting.pop(key, None)
            if key in self._expired:
                self._expired.discard(key)
                return True
            return False

    def _run(self) -> None:
        while True:
            time.sleep(min(0.25, self.seconds / 4))
            now = time.monotonic()
            with self._lock:
                if not self._waiting:
                    self._thread = None
                    return
                late = [k for k, (t, _) in self._waiting.items() if now - t > self.seconds]
                contexts = [self._waiting.pop(k)[1] for k in late]
                self._expired.update(late)
            for context in contexts:  # the why, which the client's CANCELLED cannot say
                log.info(
                    "cancelled: no request message for %g s (--idle-seconds) peer=%s",
                    self.seconds,
                    peer_of(context),
                )
                context.cancel()
            del contexts  # no context kept alive past its call

    def messages(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        """`requests`, each waited for at most `seconds`; a call this watch cancelled
        raises RequestIdle (gRPC ends a cancelled call's requests with an error, or as if
        the client had finished)."""
        while True:
            key = self.begin(context)
            try:
                message = next(requests)
            except (StopIteration, grpc.RpcError) as e:
                if self.end(key):
                    raise RequestIdle(self.idle()) from None
                if isinstance(e, StopIteration):
                    return
                raise
            self.end(key)  # cancelled just as it came: the next read says so
            yield message

    def idle(self) -> Cancelled:
        return Cancelled(
            f"no request message for {self.seconds:g} s: the call was cancelled "
            "(serve --idle-seconds)"
        )


class Gate(grpc.GenericRpcHandler):
    """The methods of `inner` (a generic handler of unary-unary and stream-stream
    methods), each authenticated when its call starts and fed its requests through
    `watch`. `authenticate(metadata, cert_sha256, peer)` (`auth.Tokens.authenticate`;
    `cert_sha256` that of the client certificate the call presented, None without one)
    raises Unauthenticated, each counted by `limiter` against the call's peer (None: no
    limit); `refuse(method, context, error)` answers a refused call; `unread(method,
    context, error, peer)` ends a call whose request never came (journaled, logged)."""

    def __init__(
        self,
        inner: grpc.GenericRpcHandler,
        authenticate: Callable[[tuple, str | None, str], object] | None,
        watch: IdleWatch,
        refuse: Callable[[str, grpc.ServicerContext, Exception], None],
        unread: Callable[[str, grpc.ServicerContext, Exception, str], bytes],
        limiter: AuthLimiter | None = None,
    ) -> None:
        self.inner, self.authenticate, self.watch = inner, authenticate, watch
        self.refuse, self.unread, self.limiter = refuse, unread, limiter

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self.inner.service(details)
        if handler is None:
            return None
        name = details.method.rsplit("/", 1)[-1]
        metadata = details.invocation_metadata  # read in the handler: the peer is there
        if handler.unary_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(name, handler.unary_unary, metadata)
            )
        return grpc.stream_stream_rpc_method_handler(
            self._streaming(name, handler.stream_stream, metadata)
        )

    def _refused(self, metadata: tuple, context: grpc.ServicerContext) -> ServiceError | None:
        """Why the call is refused (its token, or its address locked out), or None."""
        if self.authenticate is None:
            return None
        peer, cert = peer_of(context), presented_cert_sha256(context)
        try:
            admit(self.limiter, peer, lambda m: self.authenticate(m, cert, peer), metadata)
        except (Unauthenticated, LockedOut) as e:
            return e
        return None

    def _unary(self, name: str, method: Unary, metadata: tuple):
        def behavior(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
            # where the call came from, while gRPC still says: once it has ended the call
            # (a message over --max-message-mb) its peer is empty ("peer=-", a blind test)
            peer = peer_of(context)
            refused = self._refused(metadata, context)
            if refused is not None:  # never the method, whatever its own check would say
                self.refuse(name, context, refused)
            try:
                request = next(self.watch.messages(requests, context), None)
            except grpc.RpcError as e:  # RequestIdle, or the client gone
                return self.unread(name, context, e, peer)
            if request is None:  # no message: the call ended (a cancel, a message over
                ended = gone_after_requests(context, "while its request was read")  # the
                error = ended or InvalidArgument("no request message")  # limit), or none
                return self.unread(name, context, error, peer)
            return method(request, context)

        return behavior

    def _streaming(self, name: str, method: Streaming, metadata: tuple):
        def behavior(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
            refused = self._refused(metadata, context)
            if refused is not None:
                self.refuse(name, context, refused)
            return method(self.watch.messages(requests, context), context)

        return behavior
