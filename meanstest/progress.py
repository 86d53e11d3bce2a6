"""Progress of long work: a bar on a terminal, plain periodic lines otherwise, or nothing."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Households done, rate and ETA, written to `stream` (stderr by default)."""

    def __init__(
        self,
        total: int,
        label: str = "households",
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        interval: float = 5.0,
        start: int = 0,
    ) -> None:
        """`start`: the count done before this run (a resumed review's chunks): the
        rate and ETA are of this run's own work (a resumed run said "99,636,608,810/s")."""
        self.total, self.label, self.quiet, self.start = total, label, quiet, start
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = 0.2 if self.tty else interval
        self.started = time.monotonic()
        self.last = 0.0
        self.done = 0
        self.shown: int | None = None  # the count of the last line written

    def update(self, done: int, *, force: bool = False) -> None:
        self.done = done
        now = time.monotonic()
        if self.quiet or (not force and now - self.last < self.interval):
            return
        self.last, self.shown = now, done
        elapsed = max(now - self.started, 1e-9)
        rate = max(done - self.start, 0) / elapsed
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        eta_text = f"{eta:,.0f} s" if eta != float("inf") else "?"
        speed = f"{rate:,.0f}/s" if rate >= 10 or rate == 0 else f"{rate * 60:,.1f}/min"
        text = f"{done:,}/{self.total:,} {self.label}  {speed}  ETA {eta_text}"
        if self.tty:
            width = 30
            filled = int(width * done / self.total) if self.total else width
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        # a terminal's bar is redrawn with the final rate; a log is not given the same
        # count twice
        if self.tty or self.shown != self.done:
            self.update(self.done, force=True)
        if self.tty and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()


def kernels_need_compiling() -> bool:
    """True when the household kernel is not in numba's on-disk cache (first run after
    installing or changing meanstest): compiling every kernel a review uses then takes
    1-3 minutes (144 s on a slow 2-core VM, 2026-12-05), which the user should be told
    about instead of watching a progress line sit at 0/s."""
    try:
        from meanstest.kernels import driver

        return not driver._assess_all._cache._cache_file._load_index()
    except Exception:  # noqa: BLE001 - numba internals moved: no notice, never a crash
        return False


def count(n: int, word: str, plural: str | None = None) -> str:
    """'1 chunk', '51 chunks', '1,000 chunks' (or `plural`: '2 discrepancies'): a count and
    its noun for a progress or summary line."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def note(text: str, *, quiet: bool = False, stream: TextIO | None = None) -> None:
    """One line of information about long work (not progress), unless quiet."""
    if not quiet:
        stream = stream or sys.stderr
        stream.write(text + "\n")
        stream.flush()
