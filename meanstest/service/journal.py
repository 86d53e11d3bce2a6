"""The audit journal: an append-only, hash-chained JSON Lines file (docs/service.md).

Each line is the canonical JSON (sorted keys, no spaces, UTF-8) of one entry:

    seq, time, caller, method, status, households[], rejects[], output_digest,
    engine_version, prev, hash, and (a keyed journal) mac

`hash` is the SHA-256 of the canonical JSON of the entry without `hash` (and `mac`,
below: a verifier older than the key, 2026-12-06, hashes `mac` too and calls a keyed
journal edited at its first entry); `prev` is the
`hash` of the entry before (64 zeros for the first). An entry is written, flushed and
fsync'd before the call's response is sent. Editing, deleting, inserting or reordering
any entry breaks the chain at that entry; `verify` names the first broken one. (Cutting
entries off the end leaves a valid shorter chain: compare `verify`'s head hash with one
kept elsewhere — `meanstest journal verify --head`.)

Keyed (`serve --journal-key`, meanstest.service.journal_key): each entry also has `mac`
= HMAC-SHA256(key, its `hash`), written after the hash, which leaves it out: the chain
verifies without the key, and an entry rewritten with every later hash recomputed fails
its MAC (`verify(path, key)`). What the key does not protect against: whoever holds it
can redo the MACs too, and a cut tail still shows only against a kept head.

Per household the journal keeps what reproduction needs, and no personal data:
household_id, policy_id, policy_digest, input_digest, result_digest, status, benefit.
`result_digest` is the SHA-256 of the household's results row (without rank, which
depends on the call's other households, and engine_version) and members rows, in the
canonical text of docs/digests.md (lines `<table>\\t<values...>`, sorted, LF-ended).

Large calls: past INLINE_ROWS households (or rejects) the per-household part of an
entry is one Arrow IPC stream in the side file `<journal>.blobs`, and the entry holds
`households_blob` / `rejects_blob` = {offset, bytes, rows, sha256} instead of the list
(a 200,000-household call was a 68 MB JSON line). The entry's hash covers the blob's
sha256, so the chain still proves every household; `verify` checks the blobs and
`read_entries` gives the lists back.

Group commit: concurrent calls queue their entries; whichever call finds no write under
way writes every queued entry (blobs first, fdatasync, then the lines, one fdatasync)
and wakes the others. The file's blocks are reserved ahead (fallocate, KEEP_SIZE: the
file stays plain JSON Lines), so an append does not allocate. A write that fails leaves
the journal refusing every later append: no answer is sent that the journal lacks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema

# the canonical lines and their per-household SHA-256 of docs/digests.md
from meanstest.digest import group_digests
from meanstest.errors import MeansTestError
from meanstest.jsonfile import parse_json
from meanstest.lines import render
from meanstest.service.chunks import ipc_stream
from meanstest.service.journal_key import KEY_BYTES, check_last, entry_mac

GENESIS = "0" * 64
INLINE_ROWS = 1000  # households (or rejects) of one entry written inline; more: a blob
RESERVE = 64 << 20  # bytes of file blocks reserved ahead of the journal's end
_HOUSEHOLD_KEYS = (
    "household_id",
    "policy_id",
    "policy_digest",
    "input_digest",
    "status",
    "benefit",
    "result_digest",
)
RESULT_COLUMNS = tuple(
    n for n in schema.OUTPUTS["results"].names if n not in ("rank", "engine_version")
)
MEMBER_COLUMNS = tuple(schema.OUTPUTS["members"].names)


def canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k not in ("hash", "mac")}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def hash_matches(entry: dict) -> bool:
    """Whether an entry read back carries its own hash. A text with a lone surrogate
    ("\\ud800", valid JSON) has no UTF-8, so no hash: the server never wrote it (it
    ended `journal verify` in a UnicodeEncodeError)."""
    try:
        return entry_hash(entry) == entry.get("hash")
    except UnicodeEncodeError:
        return False


def result_digest_bytes(
    results: pa.Table, members: pa.Table, *, threads: bool = True
) -> np.ndarray:
    """result_digest of every results row, in order, as raw SHA-256 bytes (uint8 [n, 32]).

    The canonical lines are rendered and each household's lines sorted and hashed by the
    input digest's kernels (meanstest.digest: one pass over the Arrow buffers, OpenSSL's
    SHA-256): a `results` line of RESULT_COLUMNS and the `members` lines of the household.
    Runs parallel regions when `threads`: in the server, under the engine lock."""
    n = results.num_rows
    if n == 0:
        return np.zeros((0, 32), np.uint8)
    ids = results["household_id"].combine_chunks()
    owner_m = pc.fill_null(pc.index_in(members["household_id"], value_set=ids), -1)
    line_off, text = render(
        [
            (b"results", "results", [results.column(c) for c in RESULT_COLUMNS], n),
            (b"members", "members", [members.column(c) for c in MEMBER_COLUMNS], members.num_rows),
        ],
        threads,
    )
    owner = np.concatenate(
        [np.arange(n, dtype=np.int64), owner_m.to_numpy(zero_copy_only=False).astype(np.int64)]
    )
    refs = np.flatnonzero(owner >= 0)
    refs = refs[np.argsort(owner[refs], kind="stable")]
    bounds = np.searchsorted(owner[refs], np.arange(n + 1))
    return group_digests(line_off, text, refs, bounds, threads)


def result_digests(results: pa.Table, members: pa.Table) -> list[str]:
    """result_digest of every results row, in order, as hex (see module docstring)."""
    return _hex_texts(result_digest_bytes(results, members)).to_pylist()


def reasons_digest(reasons: list[str]) -> str:
    return hashlib.sha256("".join(r + "\n" for r in reasons).encode("utf-8")).hexdigest()


def households_section(
    results: pa.Table,
    members: pa.Table,
    rejects: pa.Table,
    digests: np.ndarray | Sequence[str] | None = None,
) -> dict:
    """The `households` and `rejects` parts of an entry for one answered assessment:
    lists, or Arrow tables (`Journal.append` writes those as blobs) past INLINE_ROWS.
    `digests`: the result digests, if already computed (under the engine lock), as
    `result_digest_bytes` (uint8 [n, 32]) or hex texts."""
    if digests is None:
        digests = result_digest_bytes(results, members)
    raw = np.asarray(digests, np.uint8) if isinstance(digests, np.ndarray) else None
    reasons = rejects["reasons"].to_pylist() if rejects.num_rows else []
    rejected = pa.table(
        {
            "household_id": rejects["household_id"],
            "reasons_digest": pa.array([reasons_digest(r) for r in reasons], pa.string()),
        }
    )
    columns = {c: results[c] for c in _HOUSEHOLD_KEYS[:-1]}
    if results.num_rows > INLINE_ROWS:
        columns["result_digest"] = _fixed(raw) if raw is not None else _raw_digests(digests)
        households = _compact(pa.table(columns))
    else:
        hexes = _hex_texts(raw) if raw is not None else pa.array(digests, pa.string())
        households = pa.table(columns | {"result_digest": hexes}).to_pylist()
    return {
        "households": households,
        "rejects": _compact(rejected) if rejected.num_rows > INLINE_ROWS else rejected.to_pylist(),
    }


_DIGESTS = ("input_digest", "result_digest", "reasons_digest")
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def _fixed(raw: np.ndarray) -> pa.Array:
    """uint8 [n, 32] → fixed_size_binary(32)."""
    data = pa.py_buffer(np.ascontiguousarray(raw).tobytes())
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(32), len(raw), [None, data])


def _hex_texts(raw: np.ndarray) -> pa.Array:
    """uint8 [n, 32] → their lowercase hex texts (an Arrow string array)."""
    n = len(raw)
    out = np.empty((n, 64), np.uint8)
    out[:, 0::2] = _HEX[raw >> 4]
    out[:, 1::2] = _HEX[raw & 15]
    offsets = np.arange(0, 64 * n + 1, 64, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))


def _raw_digests(col) -> pa.Array:
    """Hex digest texts (no nulls) → fixed_size_binary(32)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if not isinstance(col, pa.Array):
        col = pa.array(col, pa.string())
    n = len(col)
    if n and col.null_count == 0 and pa.types.is_string(col.type):
        offsets = np.frombuffer(col.buffers()[1], np.int32, n + 1, col.offset * 4)
        if offsets[-1] - offsets[0] == 64 * n and (np.diff(offsets) == 64).all():
            # the texts back to back: one bytes.fromhex (C) for all of them; 32 bytes
            # each, or (a space, a non-hex text) the row by row path below
            text = memoryview(col.buffers()[2])[offsets[0] : offsets[-1]]
            try:
                raw = bytes.fromhex(str(text, "ascii"))
            except (UnicodeDecodeError, ValueError):
                raw = b""
            if len(raw) == 32 * n:
                return pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(32), n, [None, pa.py_buffer(raw)]
                )
    raw = bytes.fromhex("".join(col.to_pylist()))
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(32), len(col), [None, pa.py_buffer(raw)])


def _compact(table: pa.Table) -> pa.Table:
    """A blob's table: digests as 32 raw bytes, repeated texts dictionary-encoded
    (~90 bytes a household instead of ~340 of JSON); `_expand` undoes it."""
    columns = {}
    for name in table.column_names:
        col = table[name].combine_chunks()
        if name in _DIGESTS and col.type != pa.binary(32):
            col = _raw_digests(col)
        elif name in ("policy_id", "policy_digest", "status"):
            col = pc.dictionary_encode(col)
        columns[name] = col
    return pa.table(columns)


def _expand(rows: list[dict]) -> list[dict]:
    for row in rows:
        for name in _DIGESTS:
            if name in row:
                row[name] = row[name].hex()
    return rows


class _Pending:
    __slots__ = ("blobs", "done", "entry", "error")

    def __init__(self, entry: dict, blobs: dict[str, bytes]) -> None:
        self.entry, self.blobs, self.done, self.error = entry, blobs, False, None


_FALLOC_FL_KEEP_SIZE = 1
_libc = None


def _reserve(fd: int, offset: int, length: int) -> bool:
    """Reserve file blocks [offset, offset + length) without changing the file size."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            _libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        return _libc.fallocate(fd, _FALLOC_FL_KEEP_SIZE, offset, length) == 0
    except (OSError, AttributeError):  # not Linux, or no fallocate: appends still work
        return False


class Journal:
    """Appends entries durably, with group commit; safe to share between threads. With
    `key` (journal_key.read_key) each entry gets its `mac`."""

    def __init__(self, path: str | Path, key: bytes | None = None) -> None:
        if key is not None and len(key) < KEY_BYTES:
            raise MeansTestError(f"a journal key of {len(key)} bytes; {KEY_BYTES} or more")
        self.path = Path(path)
        self._key = key
        self.blob_path = self.path.with_name(self.path.name + ".blobs")
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._writing = False
        self._failed: BaseException | None = None
        self._closed = False
        self.seq, self.head = 0, GENESIS
        self.commits = 0  # fdatasync rounds of the journal file (group commits)
        said = logging.getLogger("meanstest.service")
        try:
            cut = set_aside_unfinished(self.path) if self.path.exists() else 0
        except OSError as e:  # a full disk: "No space left on device" and no file named
            raise MeansTestError(
                f"{self.path}: cannot set aside its unfinished last write to "
                f"{self.path.name}.unfinished ({e.strerror or e}); the journal is unchanged"
            ) from None
        if cut:
            said.warning(
                "journal %s: %d bytes of an unfinished write (stopped mid-write; no answer "
                "was sent for them) moved to %s.unfinished",
                self.path,
                cut,
                self.path.name,
            )
        if self.path.exists() and self.path.stat().st_size:
            last = _last_line(self.path)
            try:
                entry = parse_entry(last)
            except ValueError as e:
                raise MeansTestError(f"{self.path}: last entry is {e}") from None
            if not hash_matches(entry):
                raise MeansTestError(
                    f"{self.path}: last entry (seq {entry.get('seq')}) fails its hash; "
                    "run `meanstest journal verify` and keep this file as evidence"
                )
            check_last(entry, key, self.path)
            if type(entry.get("seq")) is not int or entry["seq"] < 1:
                raise MeansTestError(
                    f"{self.path}: last entry's seq is {str(entry.get('seq'))[:40]!r}, not a "
                    "number from 1; run `meanstest journal verify` and keep this file as evidence"
                )
            self.seq, self.head = entry["seq"], entry["hash"]
        if not self.path.parent.is_dir():  # a mistyped path starts a chain of its own
            said.warning("journal %s: its folder did not exist and is created", self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size
        self._reserved = self._size
        if _reserve(self._fd, self._size, RESERVE):  # the room ahead, checked at start
            self._reserved = self._size + RESERVE
        elif ctypes.get_errno() == errno.ENOSPC:  # a server that started SERVING on a full
            said.warning(  # disk said nothing until its first call failed (blind check)
                "journal %s: no room to reserve %d MiB ahead (No space left on device): "
                "its next entries will fail, and every call with them",
                self.path,
                RESERVE >> 20,
            )
        self._blob_fd: int | None = None
        if new:
            _fsync_path(self.path.parent)

    def append(self, entry: dict) -> dict:
        """Chain, write and fdatasync one entry (with the entries of concurrent calls);
        returns it with seq, time, prev and hash. `households` / `rejects` given as
        Arrow tables (households_section past INLINE_ROWS) are written as blobs."""
        entry = dict(entry)
        blobs = {}
        for key in ("households", "rejects"):
            if isinstance(entry.get(key), pa.Table):
                table = entry.pop(key)
                data = ipc_stream(table)
                blobs[key] = data
                entry[f"{key}_blob"] = {
                    "bytes": len(data),
                    "rows": table.num_rows,
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
        mine = _Pending(entry, blobs)
        with self._cond:
            if self._closed:  # a call outliving the server's grace: not written
                raise OSError(f"{self.path}: journal closed (the server is stopping)")
            if self._failed is not None:
                raise OSError(f"{self.path}: journal failed earlier ({self._failed})")
            entry.setdefault("time", dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"))
            self._queue.append(mine)
            while self._writing and not mine.done:
                self._cond.wait()
            if not mine.done:  # nobody is writing: write everything queued, ours included
                self._writing = True
                batch, self._queue = self._queue, []
        if not mine.done:
            try:
                self._commit(batch)
            except BaseException as e:  # noqa: BLE001 - every waiting call must learn of it
                for p in batch:
                    p.error = e
                self._failed = e
            finally:
                with self._cond:
                    for p in batch:
                        p.done = True
                    self._writing = False
                    self._cond.notify_all()
        if mine.error is not None:
            raise OSError(f"{self.path}: journal write failed ({mine.error})") from mine.error
        return mine.entry

    def _commit(self, batch: list[_Pending]) -> None:
        blobs = [(p, key, data) for p in batch for key, data in p.blobs.items()]
        if blobs:
            if self._blob_fd is None:
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
                self._blob_fd = os.open(self.blob_path, flags, 0o600)
            offset = os.fstat(self._blob_fd).st_size
            for p, key, data in blobs:
                p.entry[f"{key}_blob"]["offset"] = offset
                _write_all(self._blob_fd, data, self.blob_path)
                offset += len(data)
            os.fdatasync(self._blob_fd)
        seq, head, out = self.seq, self.head, []
        for p in batch:
            p.entry["seq"] = seq = seq + 1
            p.entry["prev"] = head
            p.entry["hash"] = head = entry_hash(p.entry)
            if self._key is not None:  # after the hash, which does not cover it
                p.entry["mac"] = entry_mac(self._key, head)
            out.append(canonical(p.entry) + "\n")
        data = "".join(out).encode("utf-8")
        if self._size + len(data) > self._reserved:
            self._reserved = self._size + len(data) + RESERVE
            _reserve(self._fd, self._size, self._reserved - self._size)
        _write_all(self._fd, data, self.path)
        os.fdatasync(self._fd)
        self._size += len(data)
        self.seq, self.head = seq, head
        self.commits += 1

    def close(self) -> None:
        """After the entries being written are; an append after it raises OSError (a
        Flight exchange still running when the server's grace ran out must not write to
        a closed, perhaps reused, descriptor)."""
        with self._cond:
            while self._writing:
                self._cond.wait()
            if self._closed:
                return
            self._closed = True
            os.close(self._fd)
            if self._blob_fd is not None:
                os.close(self._blob_fd)


def _write_all(fd: int, data: bytes, path: Path) -> None:
    written = os.write(fd, data)
    if written != len(data):
        raise OSError(f"{path}: short write ({written} of {len(data)} bytes)")


def unfinished_bytes(path: Path) -> int:
    """How many bytes follow the journal's last line ending: a write cut short (the
    server killed, or the machine down, mid-write; a SIGKILL can end a write() between
    pages). Its fdatasync never returned, so no answer was sent for what it held."""
    tail = _tail(path, lambda t: b"\n" in t)
    return len(tail) - (tail.rfind(b"\n") + 1)


def complete_lines(data: bytes) -> list[bytes]:
    """The journal's lines that end in a line ending: its entries, without the bytes of
    an unfinished write after them (`unfinished_bytes`)."""
    return data[: data.rfind(b"\n") + 1].splitlines()


def _tail(path: Path, enough) -> bytes:
    """The end of a file, read in blocks growing from 64 KiB until `enough(tail)` or the
    whole file is read."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        block = 1 << 16
        while True:
            f.seek(max(0, size - block))
            tail = f.read(min(size, block))
            if enough(tail) or block >= size:
                return tail
            block *= 4


def set_aside_unfinished(path: Path) -> int:
    """An unfinished last write moved to `<journal>.unfinished` (appended there, kept as
    evidence) and cut from the journal, so that the next entry starts a line of its own
    and the server starts again after a crash: it had refused ("last entry is not a JSON
    entry"), and the chain it verified ended in that fragment (CI run 173's SIGKILL test).
    The bytes set aside."""
    n = unfinished_bytes(path)
    if n:
        size = path.stat().st_size
        with open(path, "rb") as f:
            f.seek(size - n)
            fragment = f.read(n)
        aside = path.with_name(path.name + ".unfinished")
        fd = os.open(aside, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _write_all(fd, fragment + b"\n", aside)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.truncate(path, size - n)
        _fsync_path(path)
    return n


def _last_line(path: Path) -> bytes:
    tail = _tail(path, lambda t: b"\n" in t.rstrip(b"\n")).rstrip(b"\n")
    return tail.rsplit(b"\n", 1)[-1]


def _fsync_path(path: Path) -> None:
    """fsync a file, or a folder (its entries)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def parse_entry(line: bytes | str) -> dict:
    """One journal line as an entry; ValueError saying why it is not one ("not a JSON
    entry (…)", "not a JSON object"). A line nested 100,000 deep, or a number of 5,000
    digits, ended `journal verify` in a traceback (RecursionError, ValueError)."""
    try:  # a text with no UTF-8 is left to the hash check (`hash_matches`): an edit
        entry = parse_json(line, texts=False)
    except ValueError as e:
        raise ValueError(f"not a JSON entry ({e})") from None
    if not isinstance(entry, dict):  # a line of the file, not an argument: ValueError
        raise ValueError("not a JSON object")  # noqa: TRY004
    return entry
