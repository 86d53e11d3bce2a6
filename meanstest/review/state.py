"""A review's state on disk: its fingerprint, atomic writes, fault points and clean-up.

Everything a review writes goes to `<name>.tmp` first and is renamed into place, so a
kill at any moment leaves each file whole or absent; state folders are renamed before
they are deleted for the same reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.errors import MeansTestError
from meanstest.outputs import writing

if TYPE_CHECKING:
    from meanstest.policy import PolicyLibrary

STATE_DIR = ".review"
DONE_DIR = ".review.discarded"


class ResumeRefused(MeansTestError):
    """An interrupted review exists for different inputs, policies or arguments."""


class InputChanged(MeansTestError):
    """A bundle file was replaced, rewritten or removed while the review was reading it."""


def identities(files: dict[str, Path]) -> dict[str, tuple | None]:
    """Each input file's identity now: its device and inode (another file moved into its
    place has others), size, and modification and change times in ns (a file rewritten
    where it lies moves both; `touch` can set the first back, never the second). A table
    that is a folder of files (Spark's) has its files' names and identities. None for a
    table that is gone."""
    seen: dict[str, tuple | None] = {}
    for table, path in files.items():
        try:
            if path.is_dir():
                inside = sorted(f for f in path.rglob("*") if f.is_file())
                seen[table] = ("folder", tuple((str(f), *_identity(f)) for f in inside))
            else:
                seen[table] = _identity(path)
        except OSError:
            seen[table] = None
    return seen


def _identity(path: Path) -> tuple[int, ...]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def check_unchanged(files: dict[str, Path], seen: dict[str, tuple | None]) -> None:
    """Refuse (InputChanged) when a file is not the one `seen` when the review started: a
    review reading the bundle chunk by chunk where it lies, whose bank.parquet was
    replaced midway, exited 0 with outputs mixing the two tables (5 of 5 in a blind
    operator's check, 2026-12-07). Called after each read of the files."""
    now = identities(files)
    for table in sorted(files):
        before, after = seen.get(table), now[table]
        if after == before:
            continue
        path = files[table]
        mixed = f"its outputs would mix two versions of the {table} table, so none are written"
        if after is None:
            how, why = "removed", "the review stopped and wrote no output"
        elif before is None or (after[0] != "folder" and after[:2] != before[:2]):
            how, why = "replaced by another file", mixed
        elif after[0] != "folder" and after[2:4] == before[2:4]:
            # size and mtime kept, ctime moved: rewritten with its mtime set back, or only
            # its permissions or links changed (chmod, a hard link, tar's atime reset);
            # they cannot be told apart, and "rewritten" sent a blind recheck looking for a
            # writer that did not exist
            how = (
                "changed (its change time moved: its permissions or links changed, or it "
                "was rewritten with its modification time set back)"
            )
            why = f"the review cannot vouch for the {table} table it read, so no output is written"
        else:
            how, why = "rewritten", mixed
        raise InputChanged(
            f"{path}: {how} while the review was reading it: {why}; rerun the review once "
            "nothing is changing the bundle",
            file=str(path),
        )


@contextmanager
def read_unchanged(files: dict[str, Path], seen: dict[str, tuple | None]) -> Iterator[None]:
    """A read of the files, then check_unchanged; a read that failed is checked too, so
    that a file changed midway is reported as that, not as the row or row group it no
    longer has."""
    try:
        yield
    except Exception:
        check_unchanged(files, seen)
        raise
    check_unchanged(files, seen)


def fault_point(name: str) -> None:
    """Crash here (SIGKILL) when MEANSTEST_FAULT_AT names this point: the resume tests' hook."""
    if os.environ.get("MEANSTEST_FAULT_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def fingerprint(
    files: dict[str, Path], library: PolicyLibrary, chunk_size: int, engine: str
) -> dict:
    """What a resumed review must share with the interrupted one."""
    from meanstest.pipeline import ENGINE_VERSION

    inputs = {}
    for table, path in sorted(files.items()):
        _, inode, size, mtime_ns, ctime_ns = _identity(path)
        inputs[table] = {
            "file": str(path.resolve()),
            "size": size,
            "mtime_ns": mtime_ns,
            # a file put in its place by `mv`, or rewritten and its mtime set back (`cp
            # -p`), has another inode or ctime (identities, for the run itself); not the
            # device, which a remount may renumber between the kill and the rerun
            "inode": inode,
            "ctime_ns": ctime_ns,
        }
    return {
        "identity": "path, size, mtime, inode and ctime",
        "inputs": inputs,
        "policies": sorted([p.id, p.digest] for p in library.packs),
        "chunk_size": chunk_size,
        "chunks": "whole row groups of households.parquet",  # plan.chunk_starts
        "spool": "rows with their places in the bundle",  # spool.PLACE
        # batch.Tally: a chunk's counts kept by an older meanstest lack some (a resumed
        # review under-counted rejected households that were being paid: a review of the
        # 2026-12-05 changes)
        "tally": "counts with rejected households that were being paid (ids, benefits)",
        "engine": engine,
        "engine_version": ENGINE_VERSION,
    }


def explain_change(old: dict, new: dict) -> str:
    """Why an interrupted review's fingerprint `old` refuses the new run's `new`."""
    keys = (
        "identity", "inputs", "policies", "chunk_size", "chunks", "spool", "tally", "engine",
        "engine_version",
    )  # fmt: skip
    for key in keys:
        if old.get(key) != new.get(key):
            if key == "inputs":
                changed = [
                    t for t in set(old[key]) | set(new[key]) if old[key].get(t) != new[key].get(t)
                ]
                return "input tables changed since the interrupted review: " + ", ".join(
                    sorted(changed)
                )
            if key == "identity":  # an older meanstest's state: files by size and mtime
                return (
                    "it was started by an older meanstest (its input files identified by "
                    "size and mtime only)"
                )
            if key == "chunks":  # an older meanstest's state: chunks cut another way
                return "it was planned by an older meanstest (chunks cut another way)"
            if key == "spool":  # an older meanstest's spool: rows without their places
                return "it was spooled by an older meanstest (rows without their places)"
            if key == "tally":  # an older meanstest's counts of its chunks
                return (
                    "its chunks were counted by an older meanstest (summary.json would lack some)"
                )
            if key == "chunk_size":  # say both: a rerun without --chunk-size takes the default
                return (
                    f"chunk size changed since the interrupted review ({old.get(key)!r} "
                    f"households then, {new.get(key)!r} now: give --chunk-size {old.get(key)} "
                    "to resume it)"
                )
            return f"{key.replace('_', ' ')} changed since the interrupted review"
    return "state differs"


def write_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with writing(path, tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2, default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with writing(path, tmp):
        pq.write_table(table, tmp, **schema.output_parquet_options(table.schema))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)


def close_quietly(writers: Iterable[pq.ParquetWriter]) -> None:
    """Close Parquet writers after a failure: their own errors add nothing to the first.
    A writer whose close failed (the disk full) is marked closed, or pyarrow's __del__
    closes it again when it is collected and prints the same error as "Exception
    ignored", a traceback per table (a blind operator's check, 2026-12-07)."""
    for w in writers:
        try:
            w.close()
        except OSError:
            w.is_open = False


def discard(folder: Path) -> None:
    """Remove a state folder so that a kill at any moment leaves it whole or gone: it is
    renamed first (atomic), then deleted; a leftover is deleted by the next run."""
    if folder.exists() and folder.name != DONE_DIR:
        trash = folder.with_name(DONE_DIR)
        if trash.exists():
            shutil.rmtree(trash)
        os.replace(folder, trash)
        fault_point("discard")  # renamed, not yet deleted
        folder = trash
    if folder.exists():
        shutil.rmtree(folder)
