"""The district annual review (年审): every household of a bundle, bounded in memory.

A review takes one of two paths, chosen by the bundle's decoded size against the memory
limit (`ReviewOptions.memory_limit`):

- **in memory** (a district: 1M households decode to about 1.3 GB): the bundle is read
  once and assessed as one batch when memory allows, else chunk by chunk (`chunk_size`),
  each chunk's rows selected in memory (a zero-copy slice when the bundle is written
  household by household); members, findings and rejects are
  appended to the outputs as each chunk finishes, results once the §9 rank over the
  run is known. Nothing is spooled and every output is written once. A review killed
  on this path keeps no state and is simply run again.
- **spooled** (a province, or a machine short of memory): `plan` assigns every row
  a chunk, `spool` streams each table once into per-chunk bundles under OUT/.review/,
  and the chunks are assessed one at a time, each recorded in OUT/.review/state.json
  when its parts are written. A review killed at any point and started again with the
  same arguments resumes after its last finished chunk; if the inputs, the policies or
  the arguments changed, it refuses (`--restart` starts over). Memory is bounded by a
  chunk, the person key index (8 bytes + chunk per person) and the two rank columns.

Both paths give identical outputs (tests/test_review.py), whatever the chunk size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from meanstest import schema
from meanstest.affected import ingest_notes
from meanstest.bundle import bundle_folder, check_table
from meanstest.errors import MeansTestError
from meanstest.jsonfile import parse_json
from meanstest.outputs import LOCK, WriteFailed, not_a_bundle, only_writer_of, output_folder
from meanstest.progress import kernels_need_compiling, note
from meanstest.review.finish import output_names, remove_earlier_outputs
from meanstest.review.in_memory import STEP_NOTES_FROM, _review_in_memory, read_tables
from meanstest.review.memory import (
    GiB,
    _households_in,
    decoded_size,
    default_memory_limit,
    in_memory_chunk,
    one_chunk_peak,
)
from meanstest.review.plan import bundle_files, make_plan, unknown_files
from meanstest.review.spooled import _review_spooled
from meanstest.review.state import (
    DONE_DIR,
    STATE_DIR,
    ResumeRefused,
    discard,
    explain_change,
    fingerprint,
    identities,
    write_json_atomic,
)

if TYPE_CHECKING:
    from meanstest.policy import PolicyLibrary

__all__ = [
    "LOCK",
    "SPOOL_CHUNK",
    "STEP_NOTES_FROM",
    "GiB",
    "ResumeRefused",
    "ReviewOptions",
    "WriteFailed",
    "bundle_files",
    "decoded_size",
    "default_memory_limit",
    "in_memory_chunk",
    "make_plan",
    "read_tables",
    "run_review",
    "write_json_atomic",
]


SPOOL_CHUNK = 200_000  # households per chunk of a spooled review unless told otherwise


@dataclass
class ReviewOptions:
    chunk_size: int | None = None  # households per chunk; None: as large as memory allows
    engine: str = "fast"
    quiet: bool = False
    restart: bool = False
    batch_rows: int = 262_144
    memory_limit: int | None = None  # bytes; None: default_memory_limit()
    spool: bool = False  # force the chunk-by-chunk path (resumable after each chunk)
    stream: bool = True  # that path reads a household-grouped bundle in place (stream.py)


def run_review(
    bundle: str | os.PathLike[str],
    out: str | os.PathLike[str],
    library: PolicyLibrary,
    options: ReviewOptions | None = None,
) -> dict:
    """Review a bundle into `out`; resumes an interrupted (spooled) review of the same
    inputs. Returns the summary (also written to summary.json)."""
    opts = options or ReviewOptions()
    if opts.chunk_size is not None and opts.chunk_size < 1:
        raise MeansTestError("chunk size must be at least 1 household")
    bundle, out = bundle_folder(bundle), Path(out)
    not_a_bundle(out, bundle)  # before anything is written there
    files = bundle_files(bundle)
    seen = identities(files)  # the files read are these, or the review refuses
    for table, path in files.items():  # schemas first: a bad table creates no output
        check_table(path, table)
    for name, hint in unknown_files(bundle):
        what = (
            "/ is a folder, not a table file" if name.endswith("/") else " is no table of DATA.md"
        )
        note(f"ignored: {bundle / name}{what}{hint}", quiet=opts.quiet)
    for table in schema.absent_source_tables(files):
        note(schema.absent_note(bundle, table), quiet=opts.quiet)
    if out.exists() and not out.is_dir():
        raise MeansTestError(f"--out {out} is a file: the review writes a folder of outputs")
    output_folder(out)
    notes = ingest_notes(bundle)
    with only_writer_of(out, "review"):
        return _run_review(files, seen, out, library, opts, notes)


def _run_review(
    files: dict[str, Path], seen: dict, out: Path, library, opts: ReviewOptions, notes: list[str]
) -> dict:
    discard(out / DONE_DIR)  # a finished review's state, killed while being removed
    for name in output_names():  # a killed run's outputs, never renamed into place
        (out / f"{name}.tmp").unlink(missing_ok=True)
    # An earlier review's outputs go before anything is written, summary.json first (it is
    # written last): a killed run then leaves no folder that looks complete, where it left
    # new tables beside the old summary, change lists and report.html (an adversarial run).
    remove_earlier_outputs(out)  # the Spark engine's folders too
    state_dir = out / STATE_DIR
    if opts.restart and state_dir.exists():
        discard(state_dir)
    spool_chunk = opts.chunk_size or SPOOL_CHUNK
    fp = fingerprint(files, library, spool_chunk, opts.engine)
    state = _resumable_state(state_dir, fp)
    if opts.engine == "fast" and kernels_need_compiling():
        note("compiling kernels, first run only (1-3 minutes)", quiet=opts.quiet)
    chunk = None
    if state is None and not opts.spool:
        households = _households_in(files)
        chunk = in_memory_chunk(files, households, opts)
        if chunk is None and households <= spool_chunk:
            # Spooled, every household would be in its one chunk: the same peak and the
            # spool on top (a blind test: 1.41 GB against 1.10-1.24 GB in memory).
            chunk = max(1, households)
            note(_over_the_limit(files, households, opts, spool_chunk), quiet=opts.quiet)
    if chunk is not None:
        if state_dir.exists():
            discard(state_dir)  # killed before its state was first written
        return _review_in_memory(files, seen, out, library, opts, chunk, notes)
    return _review_spooled(files, seen, out, library, opts, state, fp, spool_chunk, notes)


def _over_the_limit(
    files: dict[str, Path], households: int, opts: ReviewOptions, spool: int
) -> str:
    limit = opts.memory_limit if opts.memory_limit is not None else default_memory_limit()
    need = one_chunk_peak(files, households, opts)
    return (
        f"memory: this bundle needs about {need / GiB:.2f} GiB, above the limit of "
        f"{limit / GiB:.2f} GiB; reviewed in memory in one chunk, as spooled in chunks of "
        f"{spool:,} its {households:,} households would be one chunk and need more "
        "(--chunk-size sets smaller chunks)"
    )


def _resumable_state(state_dir: Path, fp: dict) -> dict | None:
    """The state of an interrupted spooled review of the same inputs, None if there is
    none; refuses (ResumeRefused) one of different inputs, policies or arguments."""
    path = state_dir / "state.json"
    if not path.exists():
        return None
    try:
        state = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # damaged: a review writes it whole (atomically)
        state, why = None, str(e)
    else:
        why = "not a review's state"
    fingerprint = state.get("fingerprint") if isinstance(state, dict) else None
    if not isinstance(fingerprint, dict) or not isinstance(fingerprint.get("inputs", {}), dict):
        raise ResumeRefused(
            f"{state_dir.parent} holds an interrupted review whose state.json cannot be "
            f"read ({why}); rerun with --restart to start over"
        )
    if fingerprint != fp:
        raise ResumeRefused(
            f"{state_dir.parent} holds an interrupted review that cannot be resumed: "
            f"{explain_change(state['fingerprint'], fp)}; rerun with --restart to start over"
        )
    return state
