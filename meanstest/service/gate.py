"""The gate of every MeansTest call: the token checked when the call starts, and no
wait for a request message longer than `ServiceConfig.idle_seconds`.

A blind security review held the server's capacity without a token: 16 unary calls
whose request never came took every slot (`--max-concurrent-calls`), for as long as
their connections stayed open, because gRPC reads a unary request before the method
runs, and the method checked the token. And a caller with a token held it with streams
that sent nothing. So:

- the token is checked from the call's metadata as soon as gRPC offers the call, before
  any message is read; a call without a valid one is answered UNAUTHENTICATED at once,
  by the method itself (given no request: it authenticates first), so its log line is
  the one every refused call has;
- every method reads its requests as a stream (a unary method's one message too: the
  bytes on the wire are the same), and `IdleWatch` cancels a call that waits longer than
  `idle_seconds` for its next message: one thread for the server, looking every
  quarter of a second. The method sees its request end as a cancelled call's does and
  journals it CANCELLED, naming the wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import grpc

from meanstest.service.errors import Cancelled, InvalidArgument, RequestIdle, Unauthenticated

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
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="idle-watch", daemon=True)
                self._thread.start()
        return key

    def end(self, key: int) -> None:
        with self._lock:
            self._waiting.pop(key, None)

    def expired(self, context: grpc.ServicerContext) -> bool:
        """Whether this watch cancelled the call (once asked, forgotten)."""
        with self._lock:
            return _take(self._expired, id(context))

    def _run(self) -> None:
        while True:
            time.sleep(min(0.25, self.seconds / 4))
            now = time.monotonic()
            with self._lock:
                late = [k for k, (t, _) in self._waiting.items() if now - t > self.seconds]
                contexts = [self._waiting.pop(k)[1] for k in late]
                self._expired.update(late)
            for context in contexts:
                context.cancel()

    def messages(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        """`requests`, each waited for at most `seconds`; a call this watch cancelled
        raises RequestIdle (gRPC ends a cancelled call's requests with an error, or as if
        the client had finished)."""
        while True:
            key = self.begin(context)
            try:
                message = next(requests)
            except (StopIteration, grpc.RpcError) as e:
                if self.expired(context):
                    raise RequestIdle(self.idle()) from None
                if isinstance(e, StopIteration):
                    return
                raise
            finally:
                self.end(key)
            yield message

    def idle(self) -> Cancelled:
        return Cancelled(
            f"no request message for {self.seconds:g} s: the call was cancelled "
            "(serve --idle-seconds)"
        )


def _take(found: set[int], key: int) -> bool:
    if key in found:
        found.discard(key)
        return True
    return False


class Gate(grpc.GenericRpcHandler):
    """The methods of `inner` (a generic handler of unary-unary and stream-stream
    methods), each authenticated when its call starts and fed its requests through
    `watch`. `authenticate(metadata)` raises Unauthenticated; `unread(method, context,
    error)` ends a call whose request never came (journaled, logged)."""

    def __init__(
        self,
        inner: grpc.GenericRpcHandler,
        authenticate: Callable[[tuple], object] | None,
        watch: IdleWatch,
        unread: Callable[[str, grpc.ServicerContext, Exception], object],
    ) -> None:
        self.inner, self.authenticate, self.watch, self.unread = inner, authenticate, watch, unread

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self.inner.service(details)
        if handler is None:
            return None
        refused = False
        if self.authenticate is not None:
            try:
                self.authenticate(details.invocation_metadata)
            except Unauthenticated:
                refused = True
        name = details.method.rsplit("/", 1)[-1]
        if handler.unary_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(name, handler.unary_unary, refused)
            )
        return grpc.stream_stream_rpc_method_handler(
            self._streaming(handler.stream_stream, refused)
        )

    def _unary(self, name: str, method: Unary, refused: bool):
        def behavior(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
            if refused:  # the method authenticates before it reads: b"" is never read
                return method(b"", context)
            messages = self.watch.messages(requests, context)
            try:
                request = next(messages, None)
                extra = request is not None and next(messages, None) is not None
            except grpc.RpcError as e:  # RequestIdle, or the client gone
                return self.unread(name, context, e)
            if request is None:
                return self.unread(name, context, InvalidArgument("no request message"))
            if extra:
                return self.unread(
                    name, context, InvalidArgument("more than one request message (unary call)")
                )
            return method(request, context)

        return behavior

    def _streaming(self, method: Streaming, refused: bool):
        def behavior(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
            if refused:
                return method(iter(()), context)
            return method(self.watch.messages(requests, context), context)

        return behavior
