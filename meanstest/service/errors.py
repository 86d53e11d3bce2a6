"""The service's errors and the one table that maps every exception to a gRPC status.

Clients get a status code and a one-line public message (with `google.rpc.BadRequest`
details naming the field when there is one); stack traces stay in the server's log,
redacted of anything shaped like a resident ID.
"""

from __future__ import annotations

import logging
import uuid

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from meanstest.errors import BundleError, MeansTestError, PolicyError, redact

log = logging.getLogger("meanstest.service")


class ServiceError(MeansTestError):
    """A refused call; `field` (if any) names the offending request field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
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


# Most specific first: the first row whose class matches decides the status.
STATUS_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (DeadlineExpired, grpc.StatusCode.DEADLINE_EXCEEDED),
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (BundleError, grpc.StatusCode.INVALID_ARGUMENT),
    (PolicyError, grpc.StatusCode.FAILED_PRECONDITION),
    (MeansTestError, grpc.StatusCode.INVALID_ARGUMENT),
)


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """(status code, public message) for any exception; unknown ones are INTERNAL."""
    for cls, code in STATUS_TABLE:
        if isinstance(exc, cls):
            return code, exc.message  # type: ignore[attr-defined]
    ref = uuid.uuid4().hex[:12]
    log.error("internal error ref=%s: %s", ref, redact(repr(exc)), exc_info=False)
    return grpc.StatusCode.INTERNAL, f"internal error (reference {ref}; see the server log)"


def to_rpc_status(exc: BaseException) -> grpc.Status:
    code, message = status_of(exc)
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    field = getattr(exc, "attrs", {}).get("field") if isinstance(exc, MeansTestError) else None
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


def abort(context: grpc.ServicerContext, exc: BaseException) -> None:
    """End the call with the status of `exc` (raises, as grpc's abort does)."""
    context.abort_with_status(to_rpc_status(exc))
