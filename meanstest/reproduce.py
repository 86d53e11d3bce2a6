"""Reproduce a review: recompute every stored result with the reference calculator.

For each household of a review output folder the auditor learns one of:
- `ok` — the stored result equals the recomputation, digests included;
- `input changed` — the bundle's rows for the household differ (input_digest);
- `policy changed` — the pack that applies now is not the one used (policy_digest);
- `result differs` — same input and policy, different stored values (tampered or a bug);
- `missing` / `not in review` — the household is on one side only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from meanstest.errors import MeansTestError

IGNORED = ("engine_version",)


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
) -> tuple[int, list[Discrepancy]]:
    """Compare stored and recomputed result rows; returns (households ok, discrepancies)."""
    new = {r["household_id"]: r for r in recomputed}
    old = {r["household_id"]: r for r in stored}
    members_old = _by_household(stored_members or [])
    members_new = _by_household(recomputed_members or [])
    out, ok = [], 0
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
            if cols:
                out.append(Discrepancy(hid, "result differs", cols))
            else:
                ok += 1
    out += [Discrepancy(hid, "not in the review") for hid in new if hid not in old]
    return ok, out


def _by_household(rows: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for m in rows:
        grouped.setdefault(m["household_id"], []).append(m)
    return grouped


def reproduce_review(out_dir, bundle, policies=None) -> tuple[int, list[Discrepancy]]:
    from meanstest.pipeline import assess

    out = Path(out_dir)
    try:
        stored = pq.read_table(out / "results.parquet").to_pylist()
        members = pq.read_table(out / "members.parquet").to_pylist()
    except OSError as e:
        raise MeansTestError(f"{out}: not a review output folder ({e})") from e
    again = assess(bundle, policies, engine="reference")
    return compare(stored, again.results.to_pylist(), members, again.members.to_pylist())
