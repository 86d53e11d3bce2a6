"""Reproduce a review: recompute every stored result with the reference calculator.

For each household of a review output folder the auditor learns one of:
- `ok` — the stored result equals the recomputation, digests included;
- `input changed` — the bundle's rows for the household differ (input_digest);
- `policy changed` — the pack that applies now is not the one used (policy_digest);
- `result differs` — same input and policy, different stored values (tampered or a bug);
- `missing` / `not in review` — the household is on one side only.

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

from dataclasses import dataclass, field
from pathlib import Path

from meanstest.errors import MeansTestError
from meanstest.outputs import read_output

IGNORED = ("engine_version",)


@dataclass
class RankChange:
    """A household that reproduced except its rank, which moved with other households."""

    household_id: str
    stored: int
    recomputed: int

    def __str__(self) -> str:
        return f"{self.household_id} ({self.stored} → {self.recomputed})"


@dataclass
class Discrepancy:
    household_id: str
    kind: str
    columns: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        cols = f" ({', '.join(self.columns)})" if self.columns else ""
        return f"{self.household_id}: {self.kind}{cols}"


def compare(
    stored: list[dict], recomputed: list[dict], stored_members=None, recomputed_members=None
) -> tuple[int, list[Discrepancy], list[RankChange]]:
    """Compare stored and recomputed result rows; returns (households reproduced,
    discrepancies, households that reproduced except a rank moved by other households)."""
    new = {r["household_id"]: r for r in recomputed}
    old = {r["household_id"]: r for r in stored}
    members_old = _by_household(stored_members or [])
    members_new = _by_household(recomputed_members or [])
    consistent = ranks_consistent(stored)
    out, moved, ok = [], [], 0
    for hid, s in old.items():
        r = new.get(hid)
        if r is None:
            out.append(Discrepancy(hid, "not assessed now (rejected or missing from the bundle)"))
            continue
        if s["input_digest"] != r["input_digest"]:
            out.append(Discrepancy(hid, "input changed"))
        elif s["policy_digest"] != r["policy_digest"] or s["policy_id"] != r["policy_id"]:
            out.append(Discrepancy(hid, "policy changed"))
        else:
            cols = [c for c in r if c not in IGNORED and s.get(c) != r[c]]
            if stored_members is not None and members_old.get(hid) != members_new.get(hid):
                cols.append("members")
            if cols == ["rank"] and consistent:
                moved.append(RankChange(hid, s["rank"], r["rank"]))
                ok += 1
            elif cols:
                out.append(Discrepancy(hid, "result differs", cols))
            else:
                ok += 1
    out += [Discrepancy(hid, "not in the review") for hid in new if hid not in old]
    return ok, out, moved


def ranks_consistent(rows: list[dict]) -> bool:
    """Whether the stored ranks are 1..n in §9 order of the stored rows themselves."""
    order = sorted(rows, key=lambda r: (-r["difficulty_index"], r["household_id"]))
    return [r.get("rank") for r in order] == list(range(1, len(order) + 1))


def _by_household(rows: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for m in rows:
        grouped.setdefault(m["household_id"], []).append(m)
    return grouped


def reproduce_review(
    out_dir, bundle, policies=None
) -> tuple[int, list[Discrepancy], list[RankChange]]:
    from meanstest.pipeline import assess

    out = Path(out_dir)
    try:
        stored = read_output(out, "results")
        members = read_output(out, "members")
        if stored is None or members is None:
            raise FileNotFoundError("no results and members, as files or Spark folders")
    except (OSError, ValueError) as e:
        raise MeansTestError(f"{out}: not a review output folder ({e})") from e
    stored, members = stored.to_pylist(), members.to_pylist()
    again = assess(bundle, policies, engine="reference")
    return compare(stored, again.results.to_pylist(), members, again.members.to_pylist())


def reproduce_journal(journal, bundle, policies=None) -> tuple[int, list[Discrepancy]]:
    """Recompute every household answered in a service journal with the reference
    calculator; a broken hash chain is itself a discrepancy (and stops the check)."""
    from meanstest.pipeline import assess
    from meanstest.service.journal import read_entries, result_digests, verify

    _, _, broken = verify(journal)
    if broken:
        return 0, [Discrepancy("journal", f"hash chain broken at {broken}")]
    again = assess(bundle, policies, engine="reference")
    rows = again.results.select(["household_id", "policy_id", "policy_digest", "input_digest"])
    now = {
        r["household_id"]: r | {"result_digest": d}
        for r, d in zip(rows.to_pylist(), result_digests(again.results, again.members))
    }
    rejected = set(again.rejects["household_id"].to_pylist())
    ok, out = 0, []
    for entry in read_entries(journal):  # large calls' households are in blobs
        if entry.get("status") != "OK":
            continue
        where = f"entry {entry['seq']} ({entry['method']})"
        for h in entry.get("households", []):
            hid = h["household_id"]
            r = now.get(hid)
            if r is None:
                why = "rejected now" if hid in rejected else "not in the bundle"
                out.append(Discrepancy(hid, f"{where}: not assessed now ({why})"))
            elif h["input_digest"] != r["input_digest"]:
                out.append(Discrepancy(hid, f"{where}: input changed"))
            elif (h["policy_id"], h["policy_digest"]) != (r["policy_id"], r["policy_digest"]):
                out.append(Discrepancy(hid, f"{where}: policy changed"))
            elif h["result_digest"] != r["result_digest"]:
                out.append(Discrepancy(hid, f"{where}: result differs", ["result_digest"]))
            else:
                ok += 1
        for rj in entry.get("rejects", []):
            if rj["household_id"] in now:
                out.append(Discrepancy(rj["household_id"], f"{where}: rejected then, assessed now"))
    return ok, out
