"""A process of the reference calculator (`meanstest.reference.run` with processes > 1).

Reads one pickled EngineInput from stdin; writes ("ok", EngineOutput) or ("error",
exception) pickled to stdout. Started by `python -c` with the parent's sys.path (so it
imports the same meanstest), never by multiprocessing: a spawned or fork-server worker re-runs the caller's main script,
and a caller's script without a `__main__` guard (a notebook's, an auditor's) then ran
again in every worker. Ctrl-C is the parent's to handle: the parent stops its workers.
"""

from __future__ import annotations

import pickle
import signal
import sys


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answer_to = sys.stdout.buffer
    sys.stdout = sys.stderr  # a print anywhere in the work must not corrupt the answer
    inp = pickle.load(sys.stdin.buffer)
    from meanstest.reference import _run
    from meanstest.review.state import fault_point

    fault_point("reference:worker")  # the test of a worker killed mid-run
    try:
        answer = ("ok", _run(inp))
    except Exception as e:  # noqa: BLE001 - raised again in the parent, as it is
        answer = ("error", e)
    pickle.dump(answer, answer_to, protocol=pickle.HIGHEST_PROTOCOL)
    answer_to.flush()


if __name__ == "__main__":
    main()
