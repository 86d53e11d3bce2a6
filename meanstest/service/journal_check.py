"""Reading the audit journal back: `verify` / `check_chain` (the hash chain, each
entry's blobs and, with a key, its MAC: `meanstest journal verify`) and `read_entries`
(the entries with their blobs read back: `meanstest reproduce --journal`). The file is
evidence and may be damaged or forged: whatever it holds is reported, never a traceback
(docs/RELIABILITY.md). The writer is meanstest.service.journal."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa

from meanstest.errors import MeansTestError
from meanstest.service.journal import (
    _DIGESTS,
    GENESIS,
    _expand,
    canonical,
    complete_lines,
    hash_matches,
    parse_entry,
)
from meanstest.service.journal_key import mac_problem


def read_entries(path: str | Path, key: bytes | None = None) -> list[dict]:
    """Every entry, after `verify` (of the MACs too, with `key`), with blobs read back
    into `households` / `rejects` lists; raises MeansTestError naming the first broken
    entry."""
    _, _, problem = verify(path, key)
    if problem:
        raise MeansTestError(f"{path}: {problem}")
    blobs = Path(path).with_name(Path(path).name + ".blobs")
    out = []
    data = Path(path).read_bytes()
    for line in complete_lines(data):
        if line.strip():
            entry = json.loads(line)
            for name in ("households", "rejects"):
                ref = entry.pop(f"{name}_blob", None)
                if ref is not None:
                    entry[name] = _expand(
                        _blob_table(blobs, ref, f"{name}_blob of seq {entry['seq']}")
                    )
            out.append(entry)
    return out


def _blob(path: Path, ref: dict) -> bytes:
    """The bytes a blob reference names; ValueError when they are not within the file
    (an entry names its blob by offset and length, and the hash chain alone lets anyone
    who can write the journal recompute an entry's hash: `bytes` of 2**62 made verify
    end in a MemoryError traceback)."""
    offset, size = ref["offset"], ref["bytes"]
    if not (type(offset) is int and type(size) is int and offset >= 0 and size >= 0):
        raise ValueError(f"offset {offset!r} and bytes {size!r} are not byte counts")
    with open(path, "rb") as f:
        end = os.fstat(f.fileno()).st_size
        if offset + size > end:
            raise ValueError(f"bytes {offset:,} to {offset + size:,} of a file of {end:,} bytes")
        f.seek(offset)
        return f.read(size)


def _blob_table(path: Path, ref: dict, what: str) -> list[dict]:
    """A verified blob's rows. Its sha256 matched, but without a key the chain does not
    tell our blobs from a forger's: the Arrow stream is validated in full before a row
    is read (IPC reading trusts its offsets; forged ones crash a reader)."""
    try:
        table = pa.ipc.open_stream(pa.py_buffer(_blob(path, ref))).read_all()
        table.validate(full=True)
    except (pa.ArrowException, OSError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MeansTestError(f"{path}: {what} is not a valid Arrow stream ({first})") from None
    for name in set(_DIGESTS) & set(table.column_names):
        column = table[name]
        if column.type != pa.binary(32) or column.null_count:
            raise MeansTestError(
                f"{path}: {what}: column {name} is {column.type} with {column.null_count} "
                "nulls, not the 32 bytes of a digest in every row"
            )
    return table.to_pylist()


def verify(path: str | Path, key: bytes | None = None) -> tuple[int, str, str | None]:
    """(entries checked, head hash, first problem or None); blobs are checked too, and
    with `key` every entry's `mac` (journal_key). Without one the MACs are ignored."""
    return check_chain(path, key)[:3]


def check_chain(path: str | Path, key: bytes | None = None) -> tuple[int, str, str | None, int]:
    """`verify`'s answer and how many of the entries checked have a `mac`."""
    prev, seq, macs = GENESIS, 0, 0
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise MeansTestError(f"{path}: cannot read the journal ({e.strerror})") from e
    # bytes after the last line ending are a write cut short (journal.unfinished_bytes):
    # never an entry, and never answered; the server sets them aside when it starts
    lines = complete_lines(data)
    blobs = Path(path).with_name(Path(path).name + ".blobs")
    for lineno, raw in enumerate(lines, start=1):
        where = f"line {lineno}"
        try:
            entry = parse_entry(raw)
        except ValueError as e:
            return seq, prev, f"{where}: {e}", macs
        if not hash_matches(entry):
            why = "edited (hash does not match)"
            return seq, prev, f"{where} (seq {entry.get('seq')}): {why}", macs
        if canonical(entry).encode("utf-8") != raw:  # the same content, other bytes: a
            # line rewritten by something else than the server (a blind auditor's check)
            why = "rewritten: not the canonical JSON the server writes (keys sorted, no spaces)"
            return seq, prev, f"{where} (seq {entry.get('seq')}): {why}", macs
        if entry.get("prev") != prev:
            why = "prev is not the hash of the entry before: deleted, inserted or moved"
            return seq, prev, f"{where} (seq {entry.get('seq')}): chain broken ({why})", macs
        if entry.get("seq") != seq + 1:
            return seq, prev, f"{where}: seq {entry.get('seq')} where {seq + 1} was due", macs
        for name in ("households_blob", "rejects_blob"):
            ref = entry.get(name)
            if ref is None:
                continue
            try:
                data = _blob(blobs, ref)
            except (OSError, TypeError, ValueError, KeyError) as e:
                return seq, prev, f"{where} (seq {seq + 1}): {name} unreadable ({e})", macs
            if hashlib.sha256(data).hexdigest() != ref.get("sha256"):
                return seq, prev, f"{where} (seq {seq + 1}): {name} does not match its sha256", macs
        if why := mac_problem(entry, key):
            return seq, prev, f"{where} (seq {seq + 1}): {why}", macs
        prev, seq, macs = entry["hash"], seq + 1, macs + ("mac" in entry)
    return seq, prev, None, macs
