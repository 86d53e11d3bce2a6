"""Seed inputs for the atheris harnesses, from a small synthetic district (valid
exports and requests, so the fuzzer starts from the formats it must break)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pyarrow as pa

from meanstest import synth
from meanstest.bundle import read_bundle, write_bundle
from meanstest.rawsynth import write_raw
from meanstest.service import convert, nested
from meanstest.service.chunks import table_chunks
from meanstest.v1 import meanstest_pb2 as pb

# first byte = profile index in fuzz_readers.NAMES
RAW = {0: "housing/property.csv", 1: "case/case_persons.csv", 2: "tax/tax_income.jsonl",
       3: "bank/bank.parquet"}  # fmt: skip


def main(out: Path) -> None:
    readers, proto = out / "readers", out / "proto"
    readers.mkdir(parents=True, exist_ok=True)
    proto.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        write_bundle(synth.generate(6, seed=1, bad_fraction=0.3), bundle)
        tables = read_bundle(bundle)
        raw = Path(write_raw(Path(tmp) / "raw", tables, 1)).parent
        for index, name in RAW.items():
            (readers / f"seed-{index}").write_bytes(bytes([index]) + (raw / name).read_bytes())
    households = convert.tables_to_households(tables)
    for i in range(0, len(households), 2):
        request = pb.AssessRequest(households=households[i : i + 2])
        (proto / f"seed-{i}").write_bytes(request.SerializeToString())
    chunk = next(table_chunks("households", tables["households"], 1 << 20))
    (proto / "seed-arrow").write_bytes(b"\xa7" + chunk.data)
    request = nested.tables_to_nested(tables)
    for i in range(0, request.num_rows, 2):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, request.schema) as writer:
            writer.write_table(request.slice(i, 2))
        (proto / f"seed-flight-{i}").write_bytes(b"\xf1" + sink.getvalue().to_pybytes())


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus"))
