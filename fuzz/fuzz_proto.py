"""atheris harness: the protobuf entry point of the gRPC service. Bytes become an
`AssessRequest` (as grpc would parse them), are converted to bundle tables
(`meanstest.service.convert`) and assessed by the servicer's bulk path
(`meanstest.service.bulk.pipeline_tables`, with the cells that did not fit);
the first byte picks the ArrowChunk path instead (IPC stream bytes → tables), or
Flight's (an IPC stream of the nested request table, through the DoExchange handler's
own checks: `flight.bounded_request`, `flight.request_tables`, then the answer table).

Any exception other than a protobuf DecodeError or a MeansTestError is a finding, and
so is a call whose households are not all answered: results + rejects = households.
Run: `make fuzz`, or `python fuzz/fuzz_proto.py -max_total_time=300 fuzz/corpus/proto`.
"""

from __future__ import annotations

import sys

import atheris
import meanstest.kernels.columns
import pyarrow as pa
from google.protobuf.message import DecodeError

import meanstest.ids  # numba kernels cannot be instrumented: imported first, as they are
import meanstest.pipeline
import meanstest.policy
import meanstest.service.dedup
import meanstest.service.wire  # numba parsers of the protobuf path
import meanstest.service.wire_out  # noqa: F401 - numba writers of the answer

# Only the conversion modules are instrumented: numba kernels cannot be, and protobuf's
# parser is C (upb) anyway.
CONVERSIONS = ["meanstest.service.convert", "meanstest.service.nested", "meanstest.service.errors"]
with atheris.instrument_imports(include=CONVERSIONS):
    from meanstest import schema
    from meanstest.errors import MeansTestError
    from meanstest.pipeline import assess
    from meanstest.policy import default_library
    from meanstest.service import convert, nested
    from meanstest.service.bulk import pipeline_tables
    from meanstest.service.call import ServiceConfig
    from meanstest.service.chunks import chunks_to_tables
    from meanstest.service.flight import _FOREIGN_BAD_INPUT, bounded_request, request_tables
    from meanstest.service.server import MeansTestService
    from meanstest.v1 import meanstest_pb2 as pb

LIBRARY = default_library()


def _assess_request(data: bytes) -> None:
    try:
        request = pb.AssessRequest.FromString(data)
    except DecodeError:
        return
    households = request.households
    if len(households) > 64:  # the service bounds a call by message size; so do we
        return
    conv = convert.households_to_tables(households)
    try:
        out, _ = pipeline_tables(conv.tables, LIBRARY, "fast", None, conv.unreadable)
    except MeansTestError:
        return
    answered = out["results"].num_rows + out["rejects"].num_rows
    assert answered == len(households), (answered, len(households))


def _arrow_chunks(data: bytes) -> None:
    chunks = [pb.ArrowChunk(table="households", data=data, last=True)]
    try:
        tables = chunks_to_tables(chunks, schema.TABLES)
        assess(tables, LIBRARY)
    except MeansTestError:
        return


FLIGHT_HOUSEHOLDS = 64  # --max-call-households of the harness: small calls, many of them
FLIGHT = MeansTestService(ServiceConfig(LIBRARY, max_call_households=FLIGHT_HOUSEHOLDS))


def _flight(data: bytes) -> None:
    try:
        request = pa.ipc.open_stream(data).read_all()  # what Flight's reader does
    except (pa.ArrowException, OSError):
        return
    try:
        bound = bounded_request(request, FLIGHT_HOUSEHOLDS)
        tables = request_tables(request, bound)
        outputs, _, _ = FLIGHT.assess_tables(tables)  # the handler's engine step itself
    except (MeansTestError, *_FOREIGN_BAD_INPUT):  # what the handler answers INVALID_ARGUMENT
        return
    answer = nested.answer_table(outputs)
    assert answer.num_rows == request.num_rows, (answer.num_rows, request.num_rows)


def one_input(data: bytes) -> None:
    if not data:
        return
    if data[0] == 0xA7:
        _arrow_chunks(data[1:])
    elif data[0] == 0xF1:
        _flight(data[1:])
    else:
        _assess_request(data)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
