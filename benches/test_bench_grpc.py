"""gRPC throughput over loopback: Assess (protobuf, ≤10,000 households per call),
AssessStream (10,000 per message), AssessArrow (the whole bundle in one call) and the
latency of single-household Assess — each against in-process `meanstest.assess` on the
same households (`versus`). Plaintext loopback, journal on: what a call really costs.
"""

from __future__ import annotations

import time

import pytest

from meanstest import assess
from meanstest.bundle import read_bundle
from meanstest.policy import default_library
from meanstest.service import convert
from meanstest.service.client import MeansTestClient
from meanstest.service.journal import Journal
from meanstest.service.server import ServiceConfig, start

PER_CALL = 10_000
MAX_MESSAGE = 64 << 20


def rounds(households: int) -> dict:
    """Three timed rounds after a warm-up for small bundles, one for the large ones."""
    return {"rounds": 3, "warmup_rounds": 1} if households <= 10_000 else {"rounds": 1}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grpc-bench")
    config = ServiceConfig(
        default_library(), journal=Journal(folder / "journal.jsonl"), max_message_bytes=MAX_MESSAGE
    )
    running = start(config, "127.0.0.1:0")
    client = MeansTestClient(f"127.0.0.1:{running.port}", max_message_bytes=MAX_MESSAGE)
    yield client
    client.close()
    running.stop(None).wait()
    config.journal.close()


_messages: dict = {}


def messages(bundle):
    if bundle not in _messages:
        msgs = convert.tables_to_households(read_bundle(bundle))
        _messages[bundle] = [msgs[i : i + PER_CALL] for i in range(0, len(msgs), PER_CALL)]
    return _messages[bundle]


def test_grpc_baseline_inprocess(benchmark, households, bundle):
    tables = read_bundle(bundle)
    library = default_library()
    benchmark.pedantic(lambda: assess(tables, library), **rounds(households))
    benchmark.extra_info.update(households=households)


def test_grpc_assess(benchmark, households, bundle, service):
    batches = messages(bundle)

    def run():
        return sum(len(service.assess_households(b).results) for b in batches)

    assert benchmark.pedantic(run, **rounds(households)) > 0
    benchmark.extra_info.update(
        households=households, per_call=PER_CALL, versus=["test_grpc_baseline_inprocess"]
    )


def test_grpc_assess_stream(benchmark, households, bundle, service):
    batches = messages(bundle)

    def run():
        return sum(len(r.results) for r in service.assess_stream(iter(batches)))

    assert benchmark.pedantic(run, **rounds(households)) > 0
    benchmark.extra_info.update(
        households=households, per_message=PER_CALL, versus=["test_grpc_baseline_inprocess"]
    )


def test_grpc_assess_arrow(benchmark, households, bundle, service):
    tables = read_bundle(bundle)
    out = benchmark.pedantic(lambda: service.assess_arrow(tables), **rounds(households))
    assert out["results"].num_rows + out["rejects"].num_rows == households
    benchmark.extra_info.update(households=households, versus=["test_grpc_baseline_inprocess"])


def test_grpc_single_household_latency(benchmark, households, bundle, service):
    one = messages(bundle)[0][:200]
    times: list[float] = []

    def call():
        for h in one:
            start = time.perf_counter()
            service.assess_households([h])
            times.append(time.perf_counter() - start)

    benchmark.pedantic(call, rounds=1, warmup_rounds=0)
    times.sort()
    benchmark.extra_info.update(
        households=len(one),
        p50_ms=round(times[len(times) // 2] * 1000, 3),
        p99_ms=round(times[int(len(times) * 0.99) - 1] * 1000, 3),
    )
