"""The progress line of long work (meanstest.progress)."""

import io

from meanstest.progress import Progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_each_count_once_and_the_final_count_at_close():
    """On a log (not a terminal) every line is a new line: the count already shown is
    not printed again by close(), and a count not yet shown is."""
    log = io.StringIO()
    progress = Progress(10, stream=log, interval=3600)
    progress.update(10, force=True)
    progress.close()
    assert [line.split("  ")[0] for line in log.getvalue().splitlines()] == ["10/10 households"]

    log = io.StringIO()
    progress = Progress(10, stream=log, interval=3600)
    progress.update(4, force=True)
    progress.update(10)  # within the interval: not shown yet
    progress.close()
    assert [line.split("  ")[0] for line in log.getvalue().splitlines()] == [
        "4/10 households",
        "10/10 households",
    ]


def test_a_terminal_gets_one_bar_redrawn_and_a_newline_at_close():
    tty = _Tty()
    progress = Progress(10, stream=tty, interval=0)
    progress.update(5)
    progress.close()
    out = tty.getvalue()
    assert out.count("\r") == 2 and out.endswith("\n")
    assert "10/10" not in out and out.count("5/10 households") == 2


def test_quiet_progress_writes_nothing():
    log = io.StringIO()
    progress = Progress(10, stream=log, quiet=True)
    progress.update(10, force=True)
    progress.close()
    assert log.getvalue() == ""


def test_a_slow_count_shows_its_rate_per_minute(monkeypatch):
    """Chunks of a Spark review finish a few per minute: "0/s" would say nothing."""
    clock = iter([0.0, 30.0])
    monkeypatch.setattr("meanstest.progress.time.monotonic", lambda: next(clock))
    log = io.StringIO()
    progress = Progress(10, "chunks assessed", stream=log, interval=0)
    progress.update(3)
    assert log.getvalue() == "3/10 chunks assessed  6.0/min  ETA 70 s\n"


def test_count_says_one_chunk_and_many_chunks():
    from meanstest.progress import count

    assert count(1, "chunk") == "1 chunk"
    assert count(0, "chunk") == "0 chunks"
    assert count(51, "chunk") == "51 chunks"
    assert count(1000, "chunk") == "1,000 chunks"


def test_a_resumed_run_shows_the_rate_of_its_own_work(monkeypatch):
    """A resumed review starts with the chunks done before it: counting them in the rate
    said "99,636,608,810/s" (an operator's blind check)."""
    clock = iter([0.0, 1e-6, 10.0])
    monkeypatch.setattr("meanstest.progress.time.monotonic", lambda: next(clock))
    log = io.StringIO()
    progress = Progress(1000, stream=log, interval=0, start=600)
    progress.update(600, force=True)
    progress.update(700)
    assert log.getvalue().splitlines() == [
        "600/1,000 households  0/s  ETA ?",
        "700/1,000 households  10/s  ETA 30 s",
    ]
