"""The audit journal: an append-only, hash-chained JSON Lines file (docs/service.md).

Each line is the canonical JSON (sorted keys, no spaces, UTF-8) of one entry:

    seq, time, caller, method, status, households[], rejects[], output_digest,
    engine_version, prev, hash

`hash` is the SHA-256 of the canonical JSON of the entry without `hash`; `prev` is the
`hash` of the entry before (64 zeros for the first). An entry is written, flushed and
fsync'd before the call's response is sent. Editing, deleting, inserting or reordering
any entry breaks the chain at that entry; `verify` names the first broken one. (Cutting
entries off the end leaves a valid shorter chain: compare `verify`'s head hash with one
kept elsewhere — `meanstest journal verify --head`.)

Per household the journal keeps what reproduction needs, and no personal data:
household_id, policy_id, policy_digest, input_digest, result_digest, status, benefit.
`result_digest` is the SHA-256 of the household's results row (without rank, which
depends on the call's other households, and engine_version) and members rows, in the
canonical text of docs/digests.md (lines `<table>\\t<values...>`, sorted, LF-ended).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema
from meanstest.digest import _text  # the canonical value text of docs/digests.md
from meanstest.errors import MeansTestError

GENESIS = "0" * 64
RESULT_COLUMNS = tuple(
    n for n in schema.OUTPUTS["results"].names if n not in ("rank", "engine_version")
)


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def _lines(name: str, table: pa.Table, columns) -> pa.Array:
    cols = [_text(table.column(c)) for c in columns]
    prefix = pa.array([name] * table.num_rows, pa.string())
    out = pc.binary_join_element_wise(prefix, *cols, "\t")
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def result_digests(results: pa.Table, members: pa.Table) -> list[str]:
    """result_digest of every results row, in order (see module docstring)."""
    n = results.num_rows
    if n == 0:
        return []
    owner = pa.table(
        {"household_id": results["household_id"], "_h": pa.array(np.arange(n, dtype=np.int64))}
    )
    res = pa.table({"_h": owner["_h"], "_line": _lines("results", results, RESULT_COLUMNS)})
    mem = pa.table(
        {
            "household_id": members["household_id"],
            "_line": _lines("members", members, schema.OUTPUTS["members"].names),
        }
    ).join(owner, "household_id", join_type="inner")
    rows = pa.concat_tables([res, mem.select(["_h", "_line"])])
    rows = rows.take(pc.sort_indices(rows, [("_h", "ascending"), ("_line", "ascending")]))
    # one buffer of LF-ended lines; each household's lines are one contiguous slice
    text = pc.binary_join_element_wise(rows["_line"], pa.scalar(""), "\n")
    text = pc.cast(text, pa.large_string()).combine_chunks()
    offsets = np.frombuffer(
        text.buffers()[1], dtype=np.int64, count=len(text) + 1, offset=8 * text.offset
    )
    data = memoryview(text.buffers()[2] or b"")
    starts = offsets[np.searchsorted(rows["_h"].to_numpy(), np.arange(n + 1))]
    return [hashlib.sha256(data[starts[i] : starts[i + 1]]).hexdigest() for i in range(n)]


def reasons_digest(reasons: list[str]) -> str:
    return hashlib.sha256("".join(r + "\n" for r in reasons).encode("utf-8")).hexdigest()


def households_section(results: pa.Table, members: pa.Table, rejects: pa.Table) -> dict:
    """The `households` and `rejects` parts of an entry for one answered assessment."""
    digests = result_digests(results, members)
    cols = {c: results[c].to_pylist() for c in ("household_id", "policy_id", "policy_digest")}
    cols |= {c: results[c].to_pylist() for c in ("input_digest", "status", "benefit")}
    households = [
        {k: cols[k][i] for k in cols} | {"result_digest": digests[i]}
        for i in range(results.num_rows)
    ]
    rejected = [
        {"household_id": r["household_id"], "reasons_digest": reasons_digest(r["reasons"])}
        for r in rejects.to_pylist()
    ]
    return {"households": households, "rejects": rejected}


class Journal:
    """Appends entries durably; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.seq, self.head = 0, GENESIS
        if self.path.exists() and self.path.stat().st_size:
            last = _last_line(self.path)
            try:
                entry = json.loads(last)
            except json.JSONDecodeError as e:
                raise MeansTestError(f"{self.path}: last entry is not JSON ({e})") from e
            if entry_hash(entry) != entry.get("hash"):
                raise MeansTestError(
                    f"{self.path}: last entry (seq {entry.get('seq')}) fails its hash; "
                    "run `meanstest journal verify` and keep this file as evidence"
                )
            self.seq, self.head = int(entry["seq"]), entry["hash"]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if new:
            _fsync_dir(self.path.parent)

    def append(self, entry: dict) -> dict:
        """Chain, write and fsync one entry; returns it with seq, time, prev and hash."""
        with self._lock:
            full = dict(entry)
            full["seq"] = self.seq + 1
            full.setdefault("time", dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"))
            full["prev"] = self.head
            full["hash"] = entry_hash(full)
            data = (canonical(full) + "\n").encode("utf-8")
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"{self.path}: short write ({written} of {len(data)} bytes)")
            os.fsync(self._fd)
            self.seq, self.head = full["seq"], full["hash"]
            return full

    def close(self) -> None:
        os.close(self._fd)


def _last_line(path: Path) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        block = min(size, 1 << 16)
        while True:
            f.seek(size - block)
            tail = f.read(block).rstrip(b"\n")
            if b"\n" in tail or block == size:
                return tail.rsplit(b"\n", 1)[-1].decode("utf-8")
            block = min(size, block * 4)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_entries(path: str | Path) -> list[dict]:
    """Every entry, after `verify`; raises MeansTestError naming the first broken entry."""
    _, _, problem = verify(path)
    if problem:
        raise MeansTestError(f"{path}: {problem}")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def verify(path: str | Path) -> tuple[int, str, str | None]:
    """(entries checked, head hash, first problem or None)."""
    prev, seq = GENESIS, 0
    try:
        lines = Path(path).read_bytes().splitlines()
    except OSError as e:
        raise MeansTestError(f"{path}: cannot read the journal ({e.strerror})") from e
    for lineno, raw in enumerate(lines, start=1):
        where = f"line {lineno}"
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return seq, prev, f"{where}: not a JSON entry ({e})"
        if not isinstance(entry, dict):
            return seq, prev, f"{where}: not a JSON object"
        if entry_hash(entry) != entry.get("hash"):
            return seq, prev, f"{where} (seq {entry.get('seq')}): edited (hash does not match)"
        if entry.get("prev") != prev:
            why = "prev is not the hash of the entry before: deleted, inserted or moved"
            return seq, prev, f"{where} (seq {entry.get('seq')}): chain broken ({why})"
        if entry.get("seq") != seq + 1:
            return seq, prev, f"{where}: seq {entry.get('seq')} where {seq + 1} was due"
        prev, seq = entry["hash"], seq + 1
    return seq, prev, None
