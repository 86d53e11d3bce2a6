"""Ctrl-C in the `meanstest` command's own process: a KeyboardInterrupt raised only where
it cannot leave a lock held, a second one within a second taken as the same, and none
once the command has finished (`interrupt_safely`, called by cli.main). Light imports
only, as cli's: the handler is installed before pyarrow, numpy or numba load."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time

# Where a KeyboardInterrupt must not be raised: code that holds a lock for a few bytecodes
# with nothing yet (or no longer) set to release it. Python runs a signal handler between
# any two bytecodes, so the default handler raised there, and the lock stayed held:
# numba's global compiler lock, taken by the main thread in _CompilerLock.acquire or
# ExitStack.enter_context (contextlib) when the interrupt came, was never released, and
# the review's digest thread, compiling its first kernel, waited for it for ever while
# the main thread, unwinding, waited for that thread (py-spy, D3: a review hung after
# Ctrl-C in 1 of about 80). threading's own Condition.__enter__/__exit__ and importlib's
# module locks have the same gap. llvmlite's Python code runs inside LLVM's callbacks
# (ctypes swallows an exception raised in one and LLVM goes on with what it did not
# fill in: a segmentation fault in the object cache's callback, 2 in 80) and while
# disposing of LLVM objects ("Exception ignored ... AttributeError", 1 in 60).
_LOCK_PLUMBING = (
    os.path.join("numba", "core", "compiler_lock.py"),
    os.sep + "contextlib.py",  # ExitStack.enter_context, a context manager's __exit__
    "<frozen importlib._bootstrap>",  # its module locks
)
# numba's compiled code calls _numba_unpickle (numba.core.serialize, through _helperlib's
# numba_unpickle) for the Python objects it needs, e.g. to box the arrays it returns, and
# goes on with the NULL an exception there leaves it: a segmentation fault (-11, 1 in 300
# reviews interrupted at random).
_CALLBACKS = (os.sep + "llvmlite" + os.sep, os.path.join("numba", "core", "serialize.py"))
# Starting a thread: Thread.start waits for the new thread to run, and an interrupt in
# that wait left ThreadPoolExecutor.submit before the executor had counted its thread
# or the caller had its Future. The thread ran on unjoined: shutdown(wait=True) did not
# wait for it, the review's abort closed the Parquet writer it was writing with, and the
# process died of a segmentation fault at exit (-11, CI of ff542b0 and 1 in 80 here).
_STARTING = {
    threading.__file__: "start",
    os.path.join("concurrent", "futures", "thread.py"): "submit",
}
# threading's functions that wait: a Ctrl-C there interrupts the wait, which is safe
# (the lock is taken again by a `finally`) and is what the user asked for
_WAITING = frozenset({"wait", "wait_for", "join", "_wait_for_tstate_lock", "_shutdown"})
_RETRY = 0.005  # seconds until a deferred interrupt is tried again
_deferred = False
# A second Ctrl-C while the first unwinds: within _SAME seconds it is the same one (a
# double tap, or a supervisor such as `timeout` forwarding the terminal's SIGINT to its
# child, which got both): raised again, it escaped the clean-up the first had started
# (tracebacks from shutil.rmtree, the "interrupted" line's print, threading._shutdown:
# 11 of 195 in a blind recheck). Later, it is the user insisting: the process exits at
# once (its .tmp files are removed by the next run; the kernel frees its folder lock).
_SAME = 1.0
_raised_at: float | None = None


def _unsafe_to_interrupt(frame) -> bool:
    """Whether the main thread, stopped at `frame`, is in one of the gaps above: the
    innermost frame in lock plumbing; llvmlite or numba's unpickling anywhere in the
    stack (Python that native code calls back, which must return normally); a thread
    being started."""
    if frame is None:
        return False
    code = frame.f_code
    name = code.co_filename
    if name.endswith(_LOCK_PLUMBING):
        return True
    if name == threading.__file__ and code.co_name not in _WAITING:
        return True
    while frame is not None:
        code = frame.f_code
        if any(c in code.co_filename for c in _CALLBACKS):
            return True
        if any(code.co_filename.endswith(f) and code.co_name == n for f, n in _STARTING.items()):
            return True
        frame = frame.f_back
    return False


def _on_interrupt(signum: int, frame) -> None:
    """SIGINT (and the alarm that retries a deferred one): KeyboardInterrupt, as Python's
    own handler raises, unless the main thread is in a gap where it would leave a lock
    held; then again in _RETRY seconds, by when the lock is held under a `with` (or
    released) and the interrupt unwinds cleanly."""
    global _deferred, _raised_at
    if signum != signal.SIGINT and not _deferred:
        return  # an alarm of nobody's asking: meanstest sets none other
    if _raised_at is not None:  # the command is already stopping
        if time.monotonic() - _raised_at < _SAME:
            return
        os.write(2, b"meanstest: interrupted again: stopping at once\n")
        os._exit(130)
    if _unsafe_to_interrupt(frame):
        _deferred = True
        signal.setitimer(signal.ITIMER_REAL, _RETRY)
        return
    _deferred = False
    _raised_at = time.monotonic()
    raise KeyboardInterrupt


def _no_interrupt_from_now() -> None:
    """At exit (after the worker threads were joined: a Ctrl-C can still break a join
    that hangs): the command's outputs and exit code are decided. Python then restores
    the default SIGINT action and spends up to a second or more in its last garbage
    collection (numba's objects), where a Ctrl-C killed the process with -2 (11 of 75
    finished reviews interrupted then, D3). Python leaves an ignored signal ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _swallowed(unraisable) -> None:
    """sys.unraisablehook of the command's process. An interrupt raised inside a __del__
    or a weakref callback (numba disposes of its types in one, during garbage
    collection) is not propagated: Python printed "Exception ignored ... KeyboardInterrupt"
    and the command went on to exit 0 (CI run 201, a deferred interrupt whose retry
    landed there). It is raised again _RETRY seconds later, where it propagates."""
    global _raised_at, _deferred
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _raised_at is not None:
        _raised_at = None
        _deferred = True
        signal.setitimer(signal.ITIMER_REAL, _RETRY)
        return
    sys.__unraisablehook__(unraisable)


def interrupt_safely() -> None:
    """Ctrl-C in the `meanstest` command's own process: raised where it cannot leave a
    lock held (_on_interrupt), and ignored once the command has finished. Not for a
    program that calls main(argv) or imports meanstest: their handlers are theirs. Not
    when SIGINT was not Python's default (ignored: a background job of a shell)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    signal.signal(signal.SIGALRM, _on_interrupt)
    signal.signal(signal.SIGINT, _on_interrupt)
    sys.unraisablehook = _swallowed
    atexit.register(_no_interrupt_from_now)
