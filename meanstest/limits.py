"""The process's address-space limit (`ulimit -v`, RLIMIT_AS), checked before any work.

meanstest's libraries reserve far more address space than they use: numba's compiler
and thread pool, Arrow's allocator (jemalloc arenas) and each thread's stack. A review
of 20,000 households peaked at 2.7 GB of address space (VmPeak) on a 2-core machine
with a few hundred MB in use. Under a smaller `ulimit -v` they do not report the
failure as out of memory: a blind operator's check (D6, 2026-12-07) and the session that
fixed it saw, for that review, segmentation faults (exit 139, nothing said), C++
`std::bad_alloc` aborts, glibc's "cannot allocate memory for thread-local data: ABORT",
52,210 lines from jemalloc, and Arrow's "Failed to launch worker thread" reported as a
corrupt bundle file; it ran at 2.7 GB and above. So a limit below ADDRESS_SPACE_FLOOR
is refused at once, and the out-of-memory error names a limit that is set. A memory
limit that counts memory used (a cgroup's MemoryMax, the review's --memory-limit) is the
tool for bounding memory.
"""

from __future__ import annotations

import resource

KiB, GiB = 1 << 10, 1 << 30  # ulimit -v counts KiB: the limit is said in its unit
ADDRESS_SPACE_FLOOR = 3 * GiB  # below it the 20,000-household review crashed (see above)


def address_space_limit() -> int | None:
    """The soft RLIMIT_AS in bytes, None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def address_space_problem() -> str | None:
    """Why this process's address-space limit is too small to run in, None when it is not."""
    limit = address_space_limit()
    if limit is None or limit >= ADDRESS_SPACE_FLOOR:
        return None
    return (
        f"the address-space limit (ulimit -v) is {limit // KiB:,} KiB, below the "
        f"{ADDRESS_SPACE_FLOOR // KiB:,} KiB ({ADDRESS_SPACE_FLOOR / GiB:.0f} GiB) meanstest needs: its libraries (numba's threads, "
        "Arrow's allocator) reserve far more address space than they use, and under a "
        "smaller limit they crash instead of reporting. Raise it (ulimit -v unlimited), and "
        "bound memory with a limit that counts memory used: review's --memory-limit, or a "
        "cgroup (systemd-run --scope -p MemoryMax=4G meanstest …)"
    )


def address_space_note() -> str:
    """What an out-of-memory error adds when an address-space limit is set ("" if none)."""
    limit = address_space_limit()
    if limit is None:
        return ""
    return (
        f": this process's address-space limit (ulimit -v) is {limit // KiB:,} KiB, which "
        "counts space reserved and never used; raise it, and bound memory with a cgroup "
        "(systemd-run --scope -p MemoryMax=…) or review's --memory-limit"
    )
