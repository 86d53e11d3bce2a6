"""The service's audit journal reproduced: its hash chain, then every answered
household by input, policy and result digest (docs/service.md)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from meanstest.reproduce.discrepancy import Discrepancy, _change

if TYPE_CHECKING:
    import pyarrow as pa

    from meanstest.policy import PolicyLibrary


def reproduce_journal(
    journal: str | Path,
    bundle: str | Path | Mapping[str, pa.Table],
    policies: PolicyLibrary | str | Path | None = None,
) -> tuple[int, list[Discrepancy]]:
    """Recompute every household answered in a service journal with the reference
    calculator; a broken hash chain is itself a discrepancy (and stops the check)."""
    from meanstest.pipeline import assess
    from meanstest.service.journal import read_entries, result_digests, verify

    _, _, broken = verify(journal)
    if broken:
        return 0, [Discrepancy("journal", f"hash chain broken at {broken}")]
    again = assess(bundle, policies, engine="reference")
    kept = ["household_id", "policy_id", "policy_digest", "input_digest", "status", "benefit"]
    rows = again.results.select(kept)
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
            elif cols := [c for c in ("status", "benefit") if h.get(c) != r[c]]:
                # the entry's readable figures, which its result_digest does not cover
                changes = [_change(c, h.get(c), r[c]) for c in cols]
                out.append(Discrepancy(hid, f"{where}: result differs", cols, changes))
            else:
                ok += 1
        for rj in entry.get("rejects", []):
            if rj["household_id"] in now:
                out.append(Discrepancy(rj["household_id"], f"{where}: rejected then, assessed now"))
    return ok, out
