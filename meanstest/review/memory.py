"""The review's memory model: the bundle's decoded size, the peak it costs in one chunk or
chunk by chunk (measured), and so whether it is reviewed in memory, and in chunks of
what size, or spooled."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from meanstest.bundle import parquet_file, rows_in

if TYPE_CHECKING:
    from meanstest.review import ReviewOptions


GiB = 1 << 30


# Peak memory of the in-memory path, measured (peak RSS of `meanstest review`, docs/
# decisions.md "issue 12: the memory model"): a fixed base (interpreter, numba, Arrow's
# pools), then either, for one chunk holding every household, this many times the
# bundle's decoded size (the tables, the ID pass, the engine's arrays and the outputs;
# 4.1 GiB at 1M households), or, chunk by chunk, this many times the decoded size (the
# tables and the plan) and this many bytes per household of the chunk being assessed
# (its rows selected, validated and assessed). Measured at 100k, 200k and 1M: one chunk
# 0.78 / 1.29 / 4.14 GiB; 1M in chunks of 250k / 500k 3.52 / 4.25 GiB.
_PEAK_BASE = 640 << 20
_PEAK_PER_DECODED_BYTE_ONE_CHUNK = 5.5
_PEAK_PER_DECODED_BYTE = 3.2
_PEAK_PER_CHUNK_HOUSEHOLD = 3_300
# The reference engine holds each household of its chunk as Python objects: 15 KB per
# household measured (100k households in chunks of 10k / 25k / 50k: 0.73 / 0.96 / 1.32
# GiB peak); in one chunk a 1M review took 14.96 GiB against the 8 GiB limit. In two
# processes (meanstest.reference.run) each holds its part, and the parts' copies are
# passed between them: a 1M reproduce's processes peaked at 8.45 GiB together with
# 16 KB allowed here; 18 KB leaves room for that.
_PEAK_PER_REFERENCE_HOUSEHOLD = 18_000
_MIN_CHUNK = 20_000  # below this a chunked in-memory review is slower than spooling


def default_memory_limit() -> int:
    """Half of this machine's memory, at most 8 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * GiB
    return min(8 * GiB, total // 2)


def decoded_size(files: dict[str, Path]) -> int:
    """The bundle's size once read into Arrow, from the files' metadata (Parquet: the
    uncompressed size of every row group; Arrow IPC: the file's size)."""
    total = 0
    for path in files.values():
        if path.suffix == ".parquet":
            meta = parquet_file(path).metadata
            total += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        else:
            total += path.stat().st_size
    return total


def in_memory_chunk(files: dict[str, Path], households: int, opts: ReviewOptions) -> int | None:
    """The chunk size of an in-memory review of this bundle, None when it does not fit
    the memory limit (then it is spooled). Without a chunk size, one chunk holds every
    household if memory allows, else the largest chunk that fits."""
    limit = opts.memory_limit if opts.memory_limit is not None else default_memory_limit()
    decoded = decoded_size(files)
    want = max(1, households) if opts.chunk_size is None else min(opts.chunk_size, households)
    reference = opts.engine == "reference"
    one_chunk = _peak(decoded, households, reference)
    if want >= households and not reference and one_chunk <= limit:
        return max(1, want)
    room = limit - _PEAK_BASE - _PEAK_PER_DECODED_BYTE * decoded
    per = _PEAK_PER_REFERENCE_HOUSEHOLD if reference else _PEAK_PER_CHUNK_HOUSEHOLD
    fits = max(0, room) // per
    if want <= fits:
        return max(1, want)
    if opts.chunk_size is None and fits >= _MIN_CHUNK:
        return int(fits)
    return None


def one_chunk_peak(files: dict[str, Path], households: int, opts: ReviewOptions) -> int:
    """The estimated peak (bytes) of reviewing every household of the bundle in one chunk."""
    return int(_peak(decoded_size(files), households, opts.engine == "reference"))


def _peak(decoded: int, households: int, reference: bool) -> float:
    """The model's peak of one chunk of every household: the fast engine's measured one,
    or the reference engine's chunk of Python objects (its chunked estimate)."""
    if reference:
        per = _PEAK_PER_DECODED_BYTE * decoded + _PEAK_PER_REFERENCE_HOUSEHOLD * households
        return _PEAK_BASE + per
    return _PEAK_BASE + _PEAK_PER_DECODED_BYTE_ONE_CHUNK * decoded


def _households_in(files: dict[str, Path]) -> int:
    return rows_in(files["households"])
