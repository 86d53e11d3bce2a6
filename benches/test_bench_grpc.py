"""The service at wire speed (issue 13), over loopback, each figure beside a baseline
measured in the same run on the same households:

- throughput: Assess (protobuf, ≤10,000 households per call, requests built before
  the clock starts, as a client holding its data as messages would), AssessStream,
  AssessArrow (the whole bundle in one call) and Arrow Flight — `versus` in-process
  `meanstest.assess` on the same bundle;
- latency of single-household Assess (p50, p99 over 200 households) beside a bare
  gRPC round trip on the same channel settings (a generic handler that returns
  nothing for the same request bytes), with the journal on disk (one fdatasync per
  call, the durable cost) and on tmpfs (what the service itself costs);
- the machine: name, CPU, cores, load average, and numba's threading layer.

Plaintext loopback; the journal is on in every gRPC/Flight figure.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from meanstest.service import threads

threads.pin()  # as `meanstest serve` does, before any parallel region of this process

from meanstest import assess
from meanstest.bundle import read_bundle
from meanstest.policy import default_library
from meanstest.service import convert
from meanstest.service.client import MeansTestClient
from meanstest.service.flight import flight_assess, start_flight
from meanstest.service.journal import Journal
from meanstest.service.server import ServiceConfig, start
from meanstest.v1 import meanstest_pb2 as pb

PER_CALL = 10_000
MAX_MESSAGE = 64 << 20
SINGLE = 200  # households timed one call each
LATENCY: dict[str, float] = {}


def machine() -> dict:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "machine": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "threading_layer": threads.layer() or "-",
    }


def rounds(households: int) -> dict:
    return {"rounds": 3, "warmup_rounds": 1} if households <= 10_000 else {"rounds": 1}


def _serve(journal_dir: Path):
    config = ServiceConfig(
        default_library(),
        journal=Journal(journal_dir / "journal.jsonl"),
        max_message_bytes=MAX_MESSAGE,
    )
    running = start(config, "127.0.0.1:0")
    return config, running


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    config, running = _serve(tmp_path_factory.mktemp("grpc-bench"))
    flight = start_flight(running.service)
    client = MeansTestClient(f"127.0.0.1:{running.port}", max_message_bytes=MAX_MESSAGE)
    client.flight = f"grpc+tcp://127.0.0.1:{flight.port}"
    yield client
    client.close()
    flight.shutdown()
    running.stop(None).wait()
    config.journal.close()


@pytest.fixture(scope="module")
def shm_service():
    """The same server with its journal on tmpfs (fdatasync costs nothing there)."""
    folder = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    config, running = _serve(folder)
    client = MeansTestClient(f"127.0.0.1:{running.port}", max_message_bytes=MAX_MESSAGE)
    yield client
    client.close()
    running.stop(None).wait()
    config.journal.close()
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()


@pytest.fixture(scope="module")
def bare():
    """A bare gRPC round trip: same server options, a handler that answers b""."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[("grpc.max_receive_message_length", MAX_MESSAGE)],
    )
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: b"")
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Bare", {"Call": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield channel.unary_unary("/bench.Bare/Call")
    channel.close()
    server.stop(None).wait()


_messages: dict = {}


def messages(bundle) -> list[pb.AssessRequest]:
    if bundle not in _messages:
        msgs = convert.tables_to_households(read_bundle(bundle))
        _messages[bundle] = [
            pb.AssessRequest(households=msgs[i : i + PER_CALL])
            for i in range(0, len(msgs), PER_CALL)
        ]
    return _messages[bundle]


def _percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return times[len(times) // 2] * 1000, times[int(len(times) * 0.99) - 1] * 1000


def test_grpc_baseline_inprocess(benchmark, households, bundle):
    tables = read_bundle(bundle)
    library = default_library()
    benchmark.pedantic(lambda: assess(tables, library), **rounds(households))
    benchmark.extra_info.update(households=households, **machine())


def test_grpc_assess(benchmark, households, bundle, service):
    requests = messages(bundle)

    def run():
        return sum(len(service.stub.Assess(r).results) for r in requests)

    assert benchmark.pedantic(run, **rounds(households)) > 0
    benchmark.extra_info.update(
        households=households, per_call=PER_CALL, versus=["test_grpc_baseline_inprocess"]
    )


def test_grpc_assess_stream(benchmark, households, bundle, service):
    requests = messages(bundle)

    def run():
        return sum(len(r.results) for r in service.stub.AssessStream(iter(requests)))

    assert benchmark.pedantic(run, **rounds(households)) > 0
    benchmark.extra_info.update(
        households=households, per_message=PER_CALL, versus=["test_grpc_baseline_inprocess"]
    )


def test_grpc_assess_arrow(benchmark, households, bundle, service):
    tables = read_bundle(bundle)
    out = benchmark.pedantic(lambda: service.assess_arrow(tables), **rounds(households))
    assert out["results"].num_rows + out["rejects"].num_rows == households
    benchmark.extra_info.update(households=households, versus=["test_grpc_baseline_inprocess"])


def test_grpc_flight(benchmark, households, bundle, service):
    from meanstest.service import nested

    request = nested.tables_to_nested(read_bundle(bundle))  # the client's data, as Arrow
    out = benchmark.pedantic(lambda: flight_assess(service.flight, request), **rounds(households))
    assert out["results"].num_rows + out["rejects"].num_rows == households
    benchmark.extra_info.update(households=households, versus=["test_grpc_baseline_inprocess"])


def _singles(bundle) -> list[bytes]:
    first = messages(bundle)[0].households[:SINGLE]
    return [pb.AssessRequest(households=[h]).SerializeToString() for h in first]


def test_grpc_bare_call_latency(benchmark, households, bundle, bare):
    data = _singles(bundle)
    times: list[float] = []

    def call():
        for d in data:
            started = time.perf_counter()
            bare(d)
            times.append(time.perf_counter() - started)

    benchmark.pedantic(call, rounds=1, warmup_rounds=0)
    p50, p99 = _percentiles(times)
    LATENCY.update(bare_p50=p50, bare_p99=p99)
    benchmark.extra_info.update(calls=len(times), p50_ms=round(p50, 3), p99_ms=round(p99, 3))


@pytest.mark.parametrize("journal", ["disk", "tmpfs"])
def test_grpc_single_household_latency(
    benchmark, households, bundle, journal, service, shm_service
):
    client = service if journal == "disk" else shm_service
    data = _singles(bundle)
    assess_raw = client.channel.unary_unary("/meanstest.v1.MeansTest/Assess")
    for d in data[:10]:
        assess_raw(d)  # warm: the same calls again, not counted
    times: list[float] = []
    cpu: list[float] = []

    def call():
        for d in data:
            started, c0 = time.perf_counter(), time.process_time()
            assess_raw(d)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - c0)

    benchmark.pedantic(call, rounds=1, warmup_rounds=0)
    p50, p99 = _percentiles(times)
    info = {
        "calls": len(times),
        "p50_ms": round(p50, 3),
        "p99_ms": round(p99, 3),
        "process_cpu_ms_per_call": round(statistics.mean(cpu) * 1000, 3),
    }
    if LATENCY:
        info |= {
            "p50_vs_bare": round(p50 / LATENCY["bare_p50"], 2),
            "p99_vs_bare": round(p99 / LATENCY["bare_p99"], 2),
        }
    benchmark.extra_info.update(info | machine())
