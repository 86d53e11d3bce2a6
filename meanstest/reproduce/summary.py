"""summary.json checked twice: against the stored rows it sums up, and value by value
against the recomputed review's."""

from __future__ import annotations

from collections import Counter

from meanstest.reproduce.discrepancy import Discrepancy, _shown


def _summary_is_the_recomputations(found: list[Discrepancy]) -> Discrepancy:
    """One line for a summary.json that the recomputation gives but the stored rows do
    not: the rows were changed after the review or lost in writing (a Spark review lost
    a reject row so), each reported above. One deleted
    results row gave some fifteen lines, each true, that hid the one fact."""
    keys = [d.columns[0] for d in found]
    return Discrepancy(
        "summary.json",
        f"agrees with the recomputation, not with the stored rows ({', '.join(keys)}): the "
        "stored rows are not the ones the review computed (changed after it, or lost in "
        "writing)",
        keys,
    )


# how the run was cut (memory, engine), not its counts; and the engine that made it: a
# later one reproduces it (as the results rows' engine_version, IGNORED)
RUN_ONLY = ("chunks", "chunk_size", "engine_version")
# values summary.json gained after its first version: a review made before has none,
# and still reproduces (the rows carry what they sum up)
ADDED_LATER = ("rejected_previously_paid", "by_policy", "ingest_notes", "absent_source_tables")
# the engine's own words (the ingest's notes): compared only with the same engine's, so
# a later engine that words them otherwise still reproduces an earlier one's review
WORDED = ("ingest_notes",)


def _flat(summary: dict, prefix: str = "") -> dict:
    """summary.json's values by dotted key (`by_veto.V01`); lists are values."""
    out = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _compare_summary(stored: dict, again: dict) -> list[Discrepancy]:
    """Every value of the stored summary.json against the recomputed review's (a value
    not given by the stored rows, such as by_veto, unmatched_source_rows or a
    jurisdiction's figures, was passed over when edited, and the report printed it)."""
    skip = (*RUN_ONLY, *(k for k in ADDED_LATER if k not in stored))
    if stored.get("engine_version") != again.get("engine_version"):
        skip += WORDED
    old = {k: v for k, v in _flat(stored).items() if k.split(".")[0] not in skip}
    new = {k: v for k, v in _flat(again).items() if k.split(".")[0] not in skip}
    out = []
    for key in [*new, *(k for k in old if k not in new)]:
        if key in old and key in new and old[key] == new[key]:
            continue
        if key not in old:
            what = f"{key} is missing; the recomputation gives {_shown(new[key])}"
        elif key not in new:
            what = f"{key} is {_shown(old[key])}; the recomputation gives none"
        else:
            what = _difference(key, old[key], new[key])
        out.append(Discrepancy("summary.json", what, [key]))
    return out


def _difference(
    key: str, stored, recomputed, source: str = "the recomputation", plural=False
) -> str:
    """'KEY is X; SOURCE gives Y' — of two lists (a 50-id list printed twice hid the id
    that differs), the entries one has and the other lacks."""
    gives, does = ("give", "do") if plural else ("gives", "does")
    if not (isinstance(stored, list) and isinstance(recomputed, list)):
        return f"{key} is {_shown(stored)}; {source} {gives} {_shown(recomputed)}"
    value = {repr(x): x for x in [*stored, *recomputed]}
    a, b = Counter(map(repr, stored)), Counter(map(repr, recomputed))  # as multisets
    extra = ", ".join(_shown(value[k]) for k in (a - b).elements())
    lacking = ", ".join(_shown(value[k]) for k in (b - a).elements())
    parts = [f"lists {extra}, which {source} {does} not"] if extra else []
    parts += [f"lacks {lacking}, which {source} {gives}"] if lacking else []
    return f"{key} " + ("; ".join(parts) or f"is in another order than {source}'s")


def _compare_paid(summary: dict, households, rejected_ids) -> list[Discrepancy]:
    """summary.json's rejected_previously_paid (the report prints it) against the stored
    rejects' household_ids and the bundle's prev_status and prev_benefit; an older
    summary has none."""
    from meanstest.batch import rejected_paid_section

    stored = summary.get("rejected_previously_paid")
    if stored is None:
        return []
    want = rejected_paid_section(households, rejected_ids)
    return [
        Discrepancy(
            "summary.json",
            _difference(
                f"rejected_previously_paid.{key}",
                stored.get(key),
                want[key],
                "the stored rejects and the bundle",
                plural=True,
            ),
            [f"rejected_previously_paid.{key}"],
        )
        for key in want
        if stored.get(key) != want[key]
    ]
