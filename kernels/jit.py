"""The decorators of the kernels' routines: numba's njit, cached, without NRT.

The routines only read and write arrays they are given (they never allocate), but
with numba's reference counting (NRT) on, every array taken out of a group
(`out.vehicle_vetoes`, `records.vehicle_codes`, ...) and every call passing a group
is an atomic increment and decrement of that array's count. Two threads assessing
households touch the same counts, so the cache lines holding them bounce between
cores: at 100,000 households this was a third of the kernel's CPU time on one thread,
and more on two (benches/ANALYSIS.md). Without NRT the routines are plain loops over
memory. A routine that allocates must not use this decorator (numba refuses to
compile an allocation without NRT, so the mistake cannot pass silently).
"""

from __future__ import annotations

from numba import njit

serial = njit(cache=True, _nrt=False)
parallel = njit(parallel=True, cache=True, _nrt=False)
# Inlined by numba where it is called: for a routine with one or two callers that takes
# many arrays (the household routine, a member's pass over one table, a supporter).
# numba passes every field of every array as an argument, which cost more than some
# of these bodies; LLVM inlines the small routines by itself. Not for everything:
# inlining every routine took eight minutes to compile (benches/ANALYSIS.md).
inline = njit(cache=True, _nrt=False, inline="always")
