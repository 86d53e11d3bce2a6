"""The service's errors and the one table that maps every exception to a gRPC status.

Clients get a status code and a one-line public message (with `google.rpc.BadRequest`
details naming the field when there is one); stack traces stay in the server's log,
redacted of anything shaped like a resident ID.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from meanstest.errors import (
    BundleError,
    MeansTestError,
    PolicyError,
    TooManyReasons,
    one_line,
    redact,
)
from meanstest.lines import is_text

if TYPE_CHECKING:
    from google.protobuf.message import Message

    _M = TypeVar("_M", bound=Message)

log = logging.getLogger("meanstest.service")


class ServiceError(MeansTestError):
    """A refused call; `field` (if any) names the offending request field; `cut`: the
    request may have been cut short by gRPC (see `ended_early`)."""

    def __init__(self, message: str, field: str | None = None, cut: bool = False) -> None:
        super().__init__(message, field=field, cut=cut)
        self.field = field


class InvalidArgument(ServiceError):
    pass


class Unauthenticated(ServiceError):
    pass


class PermissionDenied(ServiceError):
    pass


class NotFound(ServiceError):
    pass


class DeadlineExpired(ServiceError):
    pass


class Cancelled(ServiceError):
    """The call ended while the service worked on it, with its deadline not passed: the
    client cancelled, or gRPC ended it (a message over --max-message-mb, a broken
    connection). The server cannot tell which; the client's own status says."""


class NotDelivered(Cancelled):
    """An answer, already journaled OK, that could not be sent: the client is gone."""


class ResourceExhausted(ServiceError):
    """An answer larger than --max-message-mb (gRPC would refuse to send it); a request
    past the service's bounds (`replies.answerable`, `CallRows`); an address locked out
    for its failed authentications (`throttle.LockedOut`)."""


class RequestIdle(grpc.RpcError):
    """The request stream of a call that waited too long for a message and was cancelled
    (service.gate.IdleWatch): read as a cancelled call's, with the wait named."""

    def __init__(self, error: Cancelled) -> None:
        super().__init__(str(error))
        self.error = error


# Most specific first: the first row whose class matches decides the status.
STATUS_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (TooManyReasons, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (DeadlineExpired, grpc.StatusCode.DEADLINE_EXCEEDED),
    (Cancelled, grpc.StatusCode.CANCELLED),
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (BundleError, grpc.StatusCode.INVALID_ARGUMENT),
    (PolicyError, grpc.StatusCode.FAILED_PRECONDITION),
    (MeansTestError, grpc.StatusCode.INVALID_ARGUMENT),
)


MAX_MESSAGE = 2_000  # characters of a status message: gRPC refuses trailers over 16 KiB


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """(status code, public message) for any exception; unknown ones are INTERNAL. A
    message quoting the caller's text is cut to MAX_MESSAGE characters: at 16 KiB gRPC
    replaced the status with RESOURCE_EXHAUSTED (found by an adversarial gRPC run)."""
    for cls, code in STATUS_TABLE:
        if isinstance(exc, cls):
            # one line: an ID of the request may hold a line break (a C++ client's
            # household_id "HH\r\nInjected: x" came back in an Explain message as two)
            message = one_line(exc.message)  # type: ignore[attr-defined]
            if len(message) > MAX_MESSAGE:
                cut = len(message) - MAX_MESSAGE
                message = f"{message[:MAX_MESSAGE]}… ({cut:,} more characters)"
            return code, message
    ref = uuid.uuid4().hex[:12]
    log.error("internal error ref=%s: %s", ref, redact(repr(exc)), exc_info=False)
    return grpc.StatusCode.INTERNAL, f"internal error (reference {ref}; see the server log)"


def to_rpc_status(exc: BaseException, found: tuple | None = None) -> grpc.Status:
    """The status of `exc`; `found` is its status_of when the caller has it already (an
    internal error logs its reference once)."""
    code, message = found if found is not None else status_of(exc)
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    field = _field(exc)
    if field:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=field, description=message)
                ]
            )
        )
        status.details.append(detail)
    return rpc_status.to_status(status)


def _field(exc: BaseException) -> str | None:
    """The request field an error names: its `field`, or `table.column` of a table that
    does not fit the bundle schema (AssessArrow: a missing column, a wrong type)."""
    if not isinstance(exc, MeansTestError):
        return None
    attrs = exc.attrs
    if attrs.get("field"):
        return attrs["field"]
    if attrs.get("table") and attrs.get("column"):
        return f"{attrs['table']}.{attrs['column']}"
    return None


def require_households(count: int, field: str, where: str = "") -> None:
    """INVALID_ARGUMENT "no household to assess" naming `field` when a call (or stream
    message) has no household: a structural problem of the request itself
    (docs/decisions.md, gRPC service 3), as Explain's "no household to explain"; an
    empty Assess was answered OK with nothing (a new-user walkthrough)."""
    if count == 0:
        raise InvalidArgument(f"no household to assess{where}", field=field)


SOURCE_ROWS_PER_HOUSEHOLD = 32  # a call's rows besides households, per household allowed
REASONS_PER_HOUSEHOLD = 8  # a call's reject reasons, per household of --max-call-households


def max_reasons(max_call_households: int) -> int:
    """The reasons validation may find in one call (row_checks.ReasonBudget): each is
    ~0.7 KB of memory by the answer, and one row can break a rule in every column."""
    return max_call_households * REASONS_PER_HOUSEHOLD


@contextmanager
def reasons_named(max_call_households: int) -> Iterator[None]:
    """TooManyReasons of a call's validation, saying which flag sets the budget (the
    review of the budget: the message named none)."""
    try:
        yield
    except TooManyReasons as e:
        raise TooManyReasons(
            f"{e.message}; a call may have {REASONS_PER_HOUSEHOLD} for each of "
            f"--max-call-households ({max_call_households:,})"
        ) from None


DECODED_PER_HOUSEHOLD = 1024  # bytes of dictionary- or view-encoded strings a call
# may decode, per household of --max-call-households
ID_CHARACTERS = 128  # the longest household_id, person_id or supporter_id of a bulk call
RECORD_ID_CHARACTERS = 1024  # any other ID (record_id, property_id): ingest writes a
# record_id "<file basename>:<line>", and a Chinese file name or property certificate
# number takes 3 bytes a character
KEY_IDS = ("household_id", "person_id", "supporter_id")  # repeated in every answer row


def id_length(table: str, column: str, longest: int) -> None:
    """RESOURCE_EXHAUSTED when the longest ID of a call's `table.column` (bytes) is over
    ID_CHARACTERS (household_id, person_id, supporter_id) or RECORD_ID_CHARACTERS (any
    other column named *_id): every row of a household's answer repeats its ID, each
    reason its row's key. Every path of the service, protobuf included: a 125 KB Assess
    of one household with a 64 KB household_id and 20,000 empty persons rows took 1.3
    GB in its persons table alone, each row holding the household's ID (a C++
    integrator's check found Assess unbounded where AssessArrow was not)."""
    most = ID_CHARACTERS if column in KEY_IDS else RECORD_ID_CHARACTERS
    if longest > most:
        why = (
            "every row of its answer repeats"
            if column in KEY_IDS
            else "its findings and reasons repeat"
        )
        raise ResourceExhausted(
            f"{table}.{column} holds an ID of {longest:,} bytes, over the {most:,} a call "
            f"takes ({why} it): shorten the IDs, or review the bundle with "
            "`meanstest review`",
            field=f"{table}.{column}",  # a BadRequest field, as a malformed value has
        )


class CallRows:
    """The rows of one bulk call (AssessArrow, Flight) against --max-call-households:
    at most that many households, and SOURCE_ROWS_PER_HOUSEHOLD times as many rows of
    the other tables together (a synthetic district has ~14). A call's memory grows
    with its rows (~6.5 KB a household, assessed or rejected), not with its bytes: an
    AssessArrow request of 1,352 bytes — a households table of 200,000 rows whose
    columns are all of the null type, which takes no bytes — took the server to 1.4 GB
    (every household rejected), so a few such calls would have ended it. Counted as
    each table is read, before any is converted.

    And the characters its dictionary- or view-encoded strings decode to, at most
    DECODED_PER_HOUSEHOLD for each of --max-call-households (a call of 1,000,000
    households with every column so encoded decodes ~600 MB): such a column may hold a
    value once and use it in every row, and a reject reason quotes the value. 242 KB of
    AssessArrow — one 100,000-character relation in a dictionary, used by 20,000 persons
    rows — took the server to 15.6 GB; plain strings cost what they weigh. And the
    length of its IDs (`ids`)."""

    def __init__(self, households: int) -> None:
        self.households = households
        self.others = households * SOURCE_ROWS_PER_HOUSEHOLD
        self.characters = households * DECODED_PER_HOUSEHOLD
        self._others_seen = 0
        self._decoded = 0

    def add(self, table: str, data: pa.Table) -> None:
        """`rows`, `strings` and `ids` of one table as it is read (AssessArrow)."""
        self.rows(table, data.num_rows)
        self.strings(table, data)
        self.ids(table, data)

    def ids(self, table: str, data: pa.Table) -> None:
        """At most ID_CHARACTERS bytes in a household's or a person's ID, which is repeated
        in every row of its answer and journal entry and a row's key in each of its
        reasons, and RECORD_ID_CHARACTERS in any other column named *_id (the
        review of the bounds: 6.3 MB of AssessArrow with 2,000-character household_ids
        in a dictionary answered 2.9 GB and peaked at 9.0 GB; plain, 200 MB did the
        same). DATA.md gives IDs no length; real ones have tens of characters."""
        for name, column in zip(data.column_names, data.columns, strict=True):
            if name.endswith("_id"):
                id_length(table, name, max((_longest(c) for c in column.chunks), default=0))

    def rows(self, table: str, rows: int) -> None:
        if table == "households":
            if rows > self.households:
                raise ResourceExhausted(
                    f"{rows:,} households in one call, over --max-call-households "
                    f"({self.households:,}): split the call, or review the bundle with "
                    "`meanstest review`"
                )
            return
        self._others_seen += rows
        if self._others_seen > self.others:
            raise ResourceExhausted(
                f"the call's tables other than households hold {self._others_seen:,} rows "
                f"(counted up to {table}), over {SOURCE_ROWS_PER_HOUSEHOLD} for each of "
                f"--max-call-households ({self.others:,}): split the call, or review the "
                "bundle with `meanstest review`"
            )

    def strings(self, table: str, data: pa.Table) -> None:
        for name, column in zip(data.column_names, data.columns, strict=True):
            self._decoded += sum(decoded_characters(chunk) for chunk in column.chunks)
            if self._decoded > self.characters:
                raise ResourceExhausted(
                    f"the call's dictionary- or view-encoded strings decode to "
                    f"{self._decoded:,} bytes (counted up to {table}.{name}), over "
                    f"{DECODED_PER_HOUSEHOLD:,} for each of --max-call-households "
                    f"({self.characters:,}): send those columns as plain strings, or split "
                    "the call"
                )


def decoded_characters(array: pa.Array) -> int:
    """The bytes of UTF-8 an array's dictionary- or view-encoded strings decode to (in a
    list's or struct's values too), without decoding them; 0 for any other array (plain
    strings weigh what they hold)."""
    t = array.type
    if pa.types.is_dictionary(t):
        if not len(array) or not is_text(t.value_type) or not len(array.dictionary):
            return 0
        indices = array.indices.fill_null(0).to_numpy(zero_copy_only=False)
        # clipped: an index out of range is Arrow's to refuse (a Flight request is not
        # validated before this count), not a reason for an IndexError here
        return int(np.take(_lengths(array.dictionary), indices, mode="clip").sum())
    if pa.types.is_string_view(t):
        return int(_lengths(array).sum())
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return decoded_characters(array.flatten())
    if pa.types.is_struct(t):
        return sum(decoded_characters(field) for field in array.flatten())
    return 0


def _longest(array: pa.Array) -> int:
    """The longest value in bytes of a string array, plain or encoded (a dictionary's
    longest value, used or not); 0 for any other array."""
    if pa.types.is_dictionary(array.type):
        return _longest(array.dictionary) if len(array) else 0
    if not len(array) or not is_text(array.type):
        return 0
    return int(_lengths(array).max())


def _lengths(array: pa.Array) -> np.ndarray:
    """Each value's length in bytes (0 where null) of a string array; a view
    array's from its views (Arrow has no binary_length kernel for them): a view is 16
    bytes, its length the first 4."""
    if pa.types.is_string_view(array.type):
        buffer = array.buffers()[1]
        views = np.frombuffer(buffer, np.int32, count=buffer.size // 16 * 4).reshape(-1, 4)
        lengths = views[array.offset : array.offset + len(array), 0].astype(np.int64)
        if len(lengths) != len(array):
            raise MeansTestError("not valid Arrow data: a string view buffer is too short")
        return np.where(array.is_valid().to_numpy(zero_copy_only=False), lengths, 0)
    return pc.binary_length(array).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)


def parse(message_type: type[_M], data: bytes, field: str) -> _M:
    """`data` read as a `message_type` by the protobuf library, or INVALID_ARGUMENT "not
    a(n) <type> (<the library's reason>)" naming `field` (the library does not say which
    field was bad). Every request message is read here, after authentication: grpcio's
    own deserializer answered INTERNAL "Exception deserializing request!", with no
    journal entry and a traceback in the log (a new-user walkthrough)."""
    from google.protobuf.message import DecodeError

    try:
        return message_type.FromString(data)
    except DecodeError as e:
        name = message_type.DESCRIPTOR.name
        article = "an" if name[0] in "AEIOU" else "a"
        raise InvalidArgument(f"not {article} {name} ({e})", field=field) from None


def abort(context: grpc.ServicerContext, exc: BaseException, found: tuple | None = None) -> None:
    """End the call with the status of `exc` (raises, as grpc's abort does)."""
    context.abort_with_status(to_rpc_status(exc, found))


def ended_early(exc: BaseException, context: grpc.ServicerContext | None = None) -> BaseException:
    """The error to report for `exc`. When the client cancels or its deadline passes,
    reading the request raises a bare grpc.RpcError, or simply ends, and the request
    looks cut short (`field="last"`): either is DEADLINE_EXCEEDED (the deadline passed)
    or CANCELLED (`gone`), journaled as such, not an INTERNAL or INVALID_ARGUMENT error
    (an adversarial gRPC run; CI's loaded runs saw the second, the context still active
    for a moment after the request ended)."""
    if isinstance(exc, RequestIdle):
        return exc.error
    if isinstance(exc, grpc.RpcError) and not isinstance(exc, ServiceError):
        return gone(context, "while its request was read", ended=True)
    if context is None:
        return exc
    # a request cut short: a table without its last chunk, or (gRPC refusing the first
    # chunk over --max-message-mb) no households table at all: journaled INVALID_ARGUMENT
    # where the client got RESOURCE_EXHAUSTED (a C++ integrator's check)
    cut = isinstance(exc, MeansTestError) and (
        exc.attrs.get("field") == "last" or bool(exc.attrs.get("cut"))
    )
    for _ in range(20 if cut else 1):  # a cut request: give the cancel 0.2 s to show
        ended = gone(context, "while its request was read")
        if ended is not None:
            return ended
        if cut:
            time.sleep(0.01)
    return exc


def gone_after_requests(
    context: grpc.ServicerContext | None,
    when: str,
    ended: threading.Event | None = None,
    wait: float = 0.005,
) -> ServiceError | None:
    """`gone` for a stream whose requests have just ended. gRPC ends them the same way
    when the client finishes, when it cancels and when gRPC refuses a message (over
    --max-message-mb); only the last two make the call inactive, a moment later (0.3 ms
    measured here). So look for `wait` seconds (5 ms: every stream pays it once; 20 ms
    doubled a 20-household stream's 15 ms) before taking the end as the client's: a
    cancelled AssessStream was logged OK (found again by a client developer's check).
    `ended`: set when the call terminates (context.add_callback), so a cancel is seen at
    once and only a stream that really finished waits."""
    if gone(context, when) is None:
        (ended or threading.Event()).wait(wait)
    return gone(context, when)


DEADLINE_SLACK = 0.05  # seconds: the client's deadline ahead of the server's (transit)


def gone(
    context: grpc.ServicerContext | None, when: str, ended: bool = False
) -> ServiceError | None:
    """DeadlineExpired when the call's deadline has passed, else Cancelled when the call
    is no longer active (or `ended`: known to be over); None while it is live. A call
    with no context (a library caller) that is known to be over counts as cancelled."""
    remaining = context.time_remaining() if context is not None else None
    over = ended or (context is not None and not context.is_active())
    # a call ended by its client's deadline can end a moment before the server's own:
    # the server's deadline counts from when the call's headers came in (CI run 142
    # journaled such a call CANCELLED). Within DEADLINE_SLACK of it, the deadline ended it.
    if remaining is not None and remaining <= (DEADLINE_SLACK if over else 0):
        return DeadlineExpired(f"the call's deadline passed {when}")
    if over:
        return Cancelled(
            f"the call was cancelled {when} (by the client, or by gRPC: a message over "
            "--max-message-mb, a broken connection)"
        )
    return None
