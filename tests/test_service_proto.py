"""The committed generated code (meanstest/v1) is what the pinned grpcio-tools makes
from proto/meanstest/v1: regenerate into a temporary folder and compare byte for byte."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO = ROOT / "proto"
GENERATED = ROOT / "meanstest" / "v1"


def _pinned(name: str) -> str:
    text = (ROOT / "pyproject.toml").read_text()
    return text.split(f'"{name}==', 1)[1].split('"', 1)[0]


def test_grpcio_tools_is_the_pinned_version():
    assert importlib.metadata.version("grpcio-tools") == _pinned("grpcio-tools")


def test_generated_code_is_up_to_date(tmp_path):
    protos = sorted(str(p.relative_to(PROTO)) for p in (PROTO / "meanstest" / "v1").glob("*.proto"))
    assert protos
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTO}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            *protos,
        ],
        check=True,
        cwd=PROTO,
    )
    fresh = {p.name: p.read_bytes() for p in (tmp_path / "meanstest" / "v1").iterdir()}
    committed = {p.name: p.read_bytes() for p in GENERATED.glob("*_pb2*.py*")}
    assert sorted(fresh) == sorted(committed), "generated files differ in name"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"regenerate meanstest/v1 (see docs/service.md): {stale} differ"
