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
- the machine: name, CPU, cores, load average, numba's threading layer and Arrow's
  memory pool (conftest.py sets the `meanstest` command's: cli.arrow_memory_pool).

Plaintext loopback; the journal is on in every gRPC/Flight figure: on disk (fdatasync
waits for the disk, and on a shared VM for its other tenants' writes too) and on tmpfs
(the service's own cost).

The throughput clients run in a process of their own (`ClientProcess`, started before
the clock; it builds its requests there), as a case system or a data bureau's client
would: the benchmark process holds only the server, so its CPU time during a round is
the service's (`server_cpu_ms`: gRPC's and Flight's threads, conversion, pipeline,
digests, journal) and the client process's is the client's (`client_cpu_ms`:
serialising requests, parsing answers). Each is the least of the rounds;
`process_cpu_ms` is their sum (what one process running both used to measure) and
`cpu_throughput_vs_inprocess` the in-process baseline's CPU over it;
`server_cpu_vs_inprocess` is the baseline's over the server's alone. The wall figure
(the issue's "throughput vs in-process") is the whole call, client included, as
before. On a shared machine CPU time moves less than wall time with the other tenants.
Each round is also paired with an in-process run made just before it (untimed, between
rounds), so that a ratio need not compare minutes of different load:
`paired_wall_vs_inprocess`, `paired_cpu_vs_inprocess` and
`paired_server_cpu_vs_inprocess` are the medians of those pairs' ratios.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import pyarrow as pa
import pytest

from meanstest.service import threads

threads.pin()  # as `meanstest serve` does, before any parallel region of this process

from meanstest import assess, schema
from meanstest.bundle import read_bundle
from meanstest.policy import default_library
from meanstest.service import convert
from meanstest.service.client import MeansTestClient
from meanstest.service.flight import flight_assess, flight_client, start_flight
from meanstest.service.journal import Journal
from meanstest.service.server import ServiceConfig, start
from meanstest.v1 import meanstest_pb2 as pb

PER_CALL = 10_000
MAX_MESSAGE = 64 << 20
SINGLE = 200  # households timed one call each
LATENCY: dict[int, dict[str, float]] = {}  # households -> bare p50, p99


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
        "arrow_pool": pa.default_memory_pool().backend_name,
    }


def rounds(households: int) -> dict:
    """A warm-up round at every size: the first call of a path in a process pays one-time
    costs (numba dispatch for new array layouts, first touch of fresh memory) that a
    running service has paid long before; at 100,000 households a single untimed-warm
    round put them into the figure (AssessArrow 4.8 s against 1.6 s warm, one run)."""
    return {"rounds": 3 if households <= 100_000 else 1, "warmup_rounds": 1}


def _serve(journal_dir: Path):
    config = ServiceConfig(
        default_library(),
        journal=Journal(journal_dir / "journal.jsonl"),
        max_message_bytes=MAX_MESSAGE,
    )
    running = start(config, "127.0.0.1:0")
    return config, running


# --- the throughput client, in a process of its own ------------------------------------


def _client_main(conn, port: int, flight_port: int) -> None:
    """The client process: prepares a bundle's requests when asked (not timed), then runs
    one round per command and answers (households answered, its own CPU seconds)."""
    from meanstest.service import nested

    client = MeansTestClient(f"127.0.0.1:{port}", max_message_bytes=MAX_MESSAGE)
    flight = flight_client(f"grpc+tcp://127.0.0.1:{flight_port}")  # one connection, kept
    data: dict = {}
    while (command := conn.recv()) is not None:
        kind, bundle = command
        if kind == "prepare":
            if bundle not in data:
                data.clear()  # one size in memory at a time
                _messages.clear()
                tables = read_bundle(bundle)
                data[bundle] = (tables, messages(bundle), nested.tables_to_nested(tables))
            conn.send(None)
            continue
        tables, requests, request = data[bundle]
        started = time.process_time()
        if kind == "assess":
            out = sum(len(client.stub.Assess(r).results) for r in requests)
        elif kind == "stream":
            out = sum(len(r.results) for r in client.stub.AssessStream(iter(requests)))
        elif kind == "arrow":
            got = client.assess_arrow(tables)
            out = got["results"].num_rows + got["rejects"].num_rows
        else:  # flight
            got = flight_assess(flight, request)
            out = got["results"].num_rows + got["rejects"].num_rows
        conn.send((out, time.process_time() - started))
    client.close()
    flight.close()


class ClientProcess:
    """A client in another process (spawned: no fork of a process running gRPC)."""

    def __init__(self, port: int, flight_port: int) -> None:
        self.conn, child = multiprocessing.get_context("spawn").Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_client_main, args=(child, port, flight_port), daemon=True
        )
        self.process.start()

    def prepare(self, bundle) -> None:
        self.conn.send(("prepare", bundle))
        self.conn.recv()

    def run(self, kind: str, bundle) -> tuple[int, float]:
        self.conn.send((kind, bundle))
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send(None)
        self.process.join(60)


@dataclass
class Served:
    client: MeansTestClient  # in this process: single-household latency
    remote: ClientProcess  # in its own process: throughput


def _served(config, running):
    flight = start_flight(running.service)
    client = MeansTestClient(f"127.0.0.1:{running.port}", max_message_bytes=MAX_MESSAGE)
    remote = ClientProcess(running.port, flight.port)
    return flight, Served(client, remote)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    config, running = _serve(tmp_path_factory.mktemp("grpc-bench"))
    flight, served = _served(config, running)
    yield served
    served.remote.close()
    served.client.close()
    flight.shutdown()
    running.stop(None).wait()
    config.journal.close()


@pytest.fixture(scope="module")
def shm_service():
    """The same server with its journal on tmpfs (fdatasync costs nothing there)."""
    folder = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    config, running = _serve(folder)
    flight, served = _served(config, running)
    yield served
    served.remote.close()
    served.client.close()
    flight.shutdown()
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


CPU: dict[int, float] = {}  # households -> in-process assess, process CPU seconds


def _cpu_info(households: int, server: float, client: float | None = None) -> dict:
    """CPU figures of a round: see the module docstring."""
    if client is None:
        info = {"process_cpu_ms": round(server * 1000, 1)}
    else:
        info = {
            "process_cpu_ms": round((server + client) * 1000, 1),
            "server_cpu_ms": round(server * 1000, 1),
            "client_cpu_ms": round(client * 1000, 1),
        }
    if households in CPU:
        info["cpu_throughput_vs_inprocess"] = round(CPU[households] / (server + (client or 0)), 2)
        if client is not None:
            info["server_cpu_vs_inprocess"] = round(CPU[households] / server, 2)
    return info


def test_grpc_baseline_inprocess(benchmark, households, bundle):
    tables = read_bundle(bundle)
    library = default_library()
    cpu: list[float] = []

    def timed():
        started = time.process_time()
        assess(tables, library)
        cpu.append(time.process_time() - started)

    benchmark.pedantic(timed, **rounds(households))
    CPU[households] = min(cpu)
    benchmark.extra_info.update(households=households, **_cpu_info(households, min(cpu)))
    benchmark.extra_info.update(machine())


# journal: on disk (the durable cost, whatever the disk's other tenants are doing) and on
# tmpfs (what the service itself costs); the same server code either way
JOURNALS = ["disk", "tmpfs"]


def _served_by(journal, service, shm_service) -> Served:
    return service if journal == "disk" else shm_service


_tables: dict = {}


def _bundle_tables(bundle) -> dict:
    if bundle not in _tables:
        _tables.clear()  # one size in memory at a time
        _tables[bundle] = read_bundle(bundle)
    return _tables[bundle]


def _throughput(benchmark, households, bundle, served: Served, kind: str, **extra):
    """One round = the client process running `kind` over the bundle; the least server
    (this process) and client (that process) CPU seconds of the rounds. Before each
    round (untimed) the in-process baseline runs once more, so every round is also a
    pair measured back to back (a shared machine's load changes from minute to
    minute): `paired_*` are the medians of the pairs' ratios."""
    served.remote.prepare(bundle)
    tables, library = _bundle_tables(bundle), default_library()
    server_cpu: list[float] = []
    client_cpu: list[float] = []
    baseline: dict[str, float] = {}
    pairs: list[tuple[float, float, float]] = []

    def setup():
        wall, cpu = time.perf_counter(), time.process_time()
        assess(tables, library)
        baseline.update(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu)

    def timed():
        wall, started = time.perf_counter(), time.process_time()
        out, client = served.remote.run(kind, bundle)
        server = time.process_time() - started
        wall = time.perf_counter() - wall
        server_cpu.append(server)
        client_cpu.append(client)
        b = baseline
        pairs.append((b["wall"] / wall, b["cpu"] / (server + client), b["cpu"] / server))
        return out

    out = benchmark.pedantic(timed, setup=setup, **rounds(households))
    pairs = pairs[rounds(households).get("warmup_rounds", 0) :]  # the timed rounds only
    # every household answered (Arrow, Flight: results and rejects; protobuf: results)
    assert out == households if kind in ("arrow", "flight") else out > 0
    paired = [round(statistics.median(p[i] for p in pairs), 2) for i in range(3)]
    benchmark.extra_info.update(
        households=households,
        versus=["test_grpc_baseline_inprocess"],
        **extra,
        **_cpu_info(households, min(server_cpu), min(client_cpu)),
        paired_wall_vs_inprocess=paired[0],
        paired_cpu_vs_inprocess=paired[1],
        paired_server_cpu_vs_inprocess=paired[2],
        pairs=len(pairs),
    )


@pytest.mark.parametrize("journal", JOURNALS)
def test_grpc_assess(benchmark, households, bundle, journal, service, shm_service):
    served = _served_by(journal, service, shm_service)
    _throughput(benchmark, households, bundle, served, "assess", per_call=PER_CALL)


@pytest.mark.parametrize("journal", JOURNALS)
def test_grpc_assess_stream(benchmark, households, bundle, journal, service, shm_service):
    served = _served_by(journal, service, shm_service)
    _throughput(benchmark, households, bundle, served, "stream", per_message=PER_CALL)


@pytest.mark.parametrize("journal", JOURNALS)
def test_grpc_assess_arrow(benchmark, households, bundle, journal, service, shm_service):
    served = _served_by(journal, service, shm_service)
    _throughput(benchmark, households, bundle, served, "arrow")


@pytest.mark.parametrize("journal", JOURNALS)
def test_grpc_flight(benchmark, households, bundle, journal, service, shm_service):
    served = _served_by(journal, service, shm_service)
    _throughput(benchmark, households, bundle, served, "flight")


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
    LATENCY[households] = {"bare_p50": p50, "bare_p99": p99}
    benchmark.extra_info.update(calls=len(times), p50_ms=round(p50, 3), p99_ms=round(p99, 3))


@pytest.mark.parametrize("journal", ["disk", "tmpfs"])
def test_grpc_single_household_latency(
    benchmark, households, bundle, journal, service, shm_service
):
    client = _served_by(journal, service, shm_service).client
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
    if households in LATENCY:  # the bare call of the same run and size
        bare = LATENCY[households]
        info |= {
            "p50_vs_bare": round(p50 / bare["bare_p50"], 2),
            "p99_vs_bare": round(p99 / bare["bare_p99"], 2),
        }
    benchmark.extra_info.update(info | machine())


def test_grpc_stages(benchmark, households, bundle, tmp_path):
    """Where a call's CPU goes: each step the server (and the benchmark's clients) runs on
    one call of at most PER_CALL households, timed alone in this process (least CPU of
    three), beside the in-process pipeline it wraps; no gRPC. `extra_info` only."""
    import hashlib

    from meanstest.service import chunks, nested, wire, wire_out
    from meanstest.service.flight import answer_digest
    from meanstest.service.journal import households_section, result_digest_bytes
    from meanstest.service.server import pipeline_tables
    from meanstest.validate import validate

    if households > PER_CALL:
        pytest.skip("the stages of one call: see the run at PER_CALL households")
    tables = read_bundle(bundle)
    library = default_library()
    journal = Journal(tmp_path / "journal.jsonl")
    stages: dict[str, float] = {}

    def cpu(name, fn):
        best, out = float("inf"), None
        for _ in range(3):
            started = time.process_time()
            out = fn()
            best = min(best, time.process_time() - started)
        stages[name] = round(best * 1000, 1)
        return out

    def all_stages():
        cpu("inprocess_assess", lambda: assess(tables, library))
        outs, _ = cpu("server_pipeline", lambda: pipeline_tables(tables, library, "fast"))
        cpu("  validate", lambda: validate(tables, library))
        digests = cpu("journal_result_digests", lambda: result_digest_bytes(*_rm(outs)))
        section = cpu(
            "journal_section", lambda: households_section(*_rm(outs), outs["rejects"], digests)
        )
        cpu("journal_append", lambda: journal.append({"caller": "b", **section}))
        # AssessArrow
        sent = [c.SerializeToString() for c in chunks.tables_to_chunks(tables, 1 << 20)]
        cpu("arrow_client_write", lambda: list(chunks.tables_to_chunks(tables, 1 << 20)))
        cpu("arrow_server_read", lambda: chunks.chunks_to_tables(iter(sent), schema.TABLES))
        streams = cpu(
            "arrow_server_write", lambda: {n: chunks.ipc_stream(t) for n, t in outs.items()}
        )
        cpu("arrow_server_sha256", lambda: [hashlib.sha256(s).digest() for s in streams.values()])
        # Flight
        request = nested.tables_to_nested(tables)
        cpu("flight_server_unnest", lambda: nested.nested_to_tables(request))
        answer = cpu("flight_server_answer", lambda: nested.answer_table(outs))
        cpu("flight_server_digest", lambda: answer_digest(answer))
        cpu("flight_client_answer", lambda: nested.answer_to_tables(answer))
        # protobuf
        message = messages(bundle)[0]
        data = cpu("proto_client_serialise", message.SerializeToString)
        decoded = cpu("proto_server_read", lambda: wire.decode(data))
        cpu("proto_server_convert", lambda: convert.request_to_tables(decoded))
        body = cpu("proto_server_write", lambda: wire_out.encode_response(outs))
        cpu("proto_server_sha256", lambda: hashlib.sha256(body).digest())
        cpu("proto_client_parse", lambda: pb.AssessResponse.FromString(body))

    benchmark.pedantic(all_stages, rounds=1, warmup_rounds=0)
    journal.close()
    benchmark.extra_info.update({f"{k.strip()}_cpu_ms": v for k, v in stages.items()})
    benchmark.extra_info.update(households=households, **machine())


def _rm(outs):
    return outs["results"], outs["members"]
