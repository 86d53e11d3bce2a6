"""Reproduce a review: recompute every stored result with the reference calculator.

For each household of a review output folder the auditor learns one of:
- `ok` — the stored result equals the recomputation, digests included, and so do its
  members rows and findings;
- `input changed` — the bundle's rows for the household differ (input_digest);
- `policy changed` — the pack that applies now is not the one used (policy_digest);
- `result differs` — same input and policy, different stored values (tampered or a bug);
- `missing` / `not in review` — the household is on one side only;
- `in the results N times` — a households row stored more than once.
Every discrepancy shows the stored and the recomputed value of what differs (digests
shortened), and the columns that differ besides a changed input or policy. The review's
rejects are compared with the households rejected now (reasons included), and
summary.json's counts and total with the stored results and rejects.

A household whose recomputation differs from the stored row in `rank` alone is not a
discrepancy when the stored ranks are a consistent ranking of the stored rows (§9:
difficulty_index descending, household_id ascending): rank is over the whole run, so it
moves when other households changed, were added or left. Such households are listed
apart (`rank_only`, with both ranks). Stored ranks that do not rank the stored rows are
tampered or a bug, and every household whose rank then differs is a discrepancy.

`reproduce_journal` does the same for the service's audit journal: it checks the hash
chain, then every household of every answered call against the bundle, by input,
policy and result digest (docs/service.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from meanstest import schema
from meanstest.batch import CHANGE_LISTS
from meanstest.errors import MeansTestError
from meanstest.outputs import mistyped, summary_mismatches
from meanstest.progress import Progress
from meanstest.reproduce.discrepancy import Discrepancy, RankChange
from meanstest.reproduce.journal import reproduce_journal
from meanstest.reproduce.rows import (
    IGNORED,
    _compare_changes,
    _compare_parts,
    _compare_rejects,
    _say_whose_input,
    ranks_consistent,
)
from meanstest.reproduce.summary import (
    ADDED_LATER,
    RUN_ONLY,
    WORDED,
    _compare_paid,
    _compare_summary,
    _summary_is_the_recomputations,
)
from meanstest.reproduce.tables import (
    REVIEW_OUTPUTS,
    _change_rows,
    _Groups,
    _household_ids,
    _recomputed_review,
    _stored_review,
    _types,
    stored_layout,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from meanstest.policy import PolicyLibrary

__all__ = [
    "ADDED_LATER",
    "COMPARE_CHUNK",
    "IGNORED",
    "REVIEW_OUTPUTS",
    "RUN_ONLY",
    "WORDED",
    "Discrepancy",
    "RankChange",
    "ranks_consistent",
    "reproduce_journal",
    "reproduce_review",
]


COMPARE_CHUNK = 20_000  # households whose rows are compared at a time, as Python rows


def reproduce_review(
    out_dir: str | os.PathLike[str],
    bundle: str | Path | Mapping[str, pa.Table],
    policies: PolicyLibrary | str | Path | None = None,
    *,
    quiet: bool = True,
    chunk: int = COMPARE_CHUNK,
    memory_limit: int | None = None,
) -> tuple[int, list[Discrepancy], list[RankChange]]:
    """Recompute the review of `bundle` (a folder, or a dict of tables) stored in
    `out_dir` with the reference calculator and compare it household by household.

    A folder is recomputed by a reference-engine review into a temporary folder (TMPDIR):
    the review's memory model, chunks and progress apply. Both reviews' rows are then
    compared `chunk` households at a time: a 1M review held every row as a Python dict
    at once (17.7 GiB, 3 min 42 s, silently). The discrepancies are listed in the order
    an unchunked comparison lists them. `memory_limit` (bytes; None: the review's
    default) is the recomputing review's."""
    from meanstest.pipeline import assess, load_policies

    if chunk < 1:
        raise MeansTestError("reproduce: the comparison chunk must be at least 1 household")
    out = Path(out_dir)
    _stored_review(out, columns=[])  # an incomplete folder is refused before the work
    library = load_policies(policies)
    if isinstance(bundle, (str, Path)):
        again, households, again_summary = _recomputed_review(bundle, library, quiet, memory_limit)
    else:
        tables = dict(bundle)
        a = assess(tables, library, engine="reference")
        again = {"results": a.results, "members": a.members, "findings": a.findings}
        again["rejects"], households, again_summary = a.rejects, tables["households"], a.summary
    stored, summary = _stored_review(out)  # read after: not held during the recomputation
    layout, stored, again = stored_layout(stored, again)
    households = households.select(["household_id", "prev_status", "prev_benefit"])
    changes = {t: _change_rows(out, t) for t in CHANGE_LISTS}
    ids = _household_ids(
        stored["results"], again["results"], stored["rejects"], again["rejects"],
        *changes.values(), stored["members"], stored["findings"],
    )  # fmt: skip
    groups = {
        **{("stored", n): _Groups(t, ids, chunk) for n, t in stored.items()},
        **{("again", n): _Groups(t, ids, chunk) for n, t in again.items()},
        **{("changes", n): _Groups(t, ids, chunk) for n, t in changes.items()},
        ("bundle", "households"): _Groups(households, ids, chunk),
    }
    consistent = ranks_consistent(stored["results"])
    same_types = all(_types(stored[n]) == _types(again[n]) for n in ("members", "findings"))
    ok, moved = 0, []
    twice, differ, absent, rejects, lists = [], [], [], [], []
    progress = Progress(len(ids), "households compared", quiet=quiet)
    for c in range((len(ids) + chunk - 1) // chunk):

        def rows(side: str, name: str, c=c) -> list[dict]:
            return groups[side, name].rows(c)

        stored_results = rows("stored", "results")
        again_rejects = rows("again", "rejects")
        n, parts, m = _compare_parts(
            stored_results, rows("again", "results"), rows("stored", "members"),
            rows("again", "members"), rows("stored", "findings"), rows("again", "findings"),
            {r["household_id"]: r["reasons"] for r in again_rejects}, consistent, same_types,
        )  # fmt: skip
        ok, moved = ok + n, moved + m
        for kept, part in zip((twice, differ, absent), parts, strict=True):
            kept += part
        rejects += _compare_rejects(
            rows("stored", "rejects"), again_rejects, {r["household_id"] for r in stored_results}
        )
        lists += _compare_changes(
            stored_results,
            {t: rows("changes", t) for t in CHANGE_LISTS},
            rows("bundle", "households"),
        )
        progress.update(min(len(ids), (c + 1) * chunk))
    progress.close()
    _say_whose_input(differ, stored["results"], again["results"])
    found = layout + twice + differ + absent + sorted(rejects, key=lambda d: str(d.household_id))
    # rows read back in other types are reported row by row above, as not the review's;
    # summary.json is checked against rows of the types a review writes
    typed = not mistyped(stored["results"], "results") + mistyped(stored["rejects"], "rejects")
    typed = typed and set(schema.OUTPUTS["results"].names) <= set(stored["results"].column_names)
    rows = [
        Discrepancy(
            "summary.json",
            f"{key} is {'missing' if got is None else got}; the stored rows give {want}",
            [key],
        )
        for key, got, want in (
            summary_mismatches(summary, stored["results"], stored["rejects"]) if typed else []
        )
    ]
    paid = _compare_paid(summary, households, stored["rejects"]["household_id"])
    again = _compare_summary(summary, again_summary)
    if (rows or paid) and not again:  # the rows were changed, not the summary: say it once
        rows, paid = [_summary_is_the_recomputations([*rows, *paid])], []
    found += [*rows, *sorted(lists, key=lambda d: str(d.household_id)), *paid]
    told = {c for d in [*rows, *paid] for c in d.columns}
    found += [d for d in again if d.columns[0] not in told]
    return ok, found, moved
