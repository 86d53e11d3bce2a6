"""The service's audit journal reproduced: its hash chain, then every answered
household by input, policy and result digest, and every rejected one by the digest of
its reasons (docs/service.md)."""

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
    calculator, a result by its digests and figures, a reject by its reasons' digest;
    a broken hash chain is itself a discrepancy (and stops the check). Returns the
    households reproduced (results and rejects) and the discrepancies."""
    from meanstest.pipeline import assess
    from meanstest.service.journal import reasons_digest, result_digests
    from meanstest.service.journal_check import read_entries, verify

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
    rejected: dict[str, set[str]] = {}  # household_id -> the digests of its reasons now
    for hid, reasons in zip(
        again.rejects["household_id"].to_pylist(), again.rejects["reasons"].to_pylist()
    ):
        rejected.setdefault(hid, set()).add(reasons_digest(reasons))
    ok, out = 0, []
    for entry in read_entries(journal):  # large calls' households are in blobs
        if entry.get("status") != "OK":
            continue
        where = f"entry {entry['seq']} ({entry.get('method')})"
        if problem := _entry_problem(entry):
            out.append(Discrepancy("journal", f"{where}: {problem}"))
            continue
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
            hid = rj.get("household_id")
            if hid is None:  # sent without a household_id: nothing names it in a bundle
                continue
            if hid in now:
                out.append(Discrepancy(hid, f"{where}: rejected then, assessed now"))
            elif hid not in rejected:
                out.append(Discrepancy(hid, f"{where}: rejected then, not in the bundle now"))
            elif rj.get("reasons_digest") not in rejected[hid]:
                out.append(Discrepancy(hid, f"{where}: rejected then and now, for other reasons"))
            else:
                ok += 1
    return ok, out


_ANSWERED = ("household_id", "input_digest", "policy_id", "policy_digest", "result_digest")


def _entry_problem(entry: dict) -> str | None:
    """Why an OK entry's households or rejects are not as the service writes them (its
    hash matched: a forgery that recomputed it, or damage before it was written), None
    when they are. Such an entry's lists ended the check in a TypeError or KeyError."""
    households, rejects = entry.get("households", []), entry.get("rejects", [])
    if not isinstance(households, list) or not isinstance(rejects, list):
        return "its households and rejects are not lists"
    for h in households:
        if not isinstance(h, dict) or not all(isinstance(h.get(k), str) for k in _ANSWERED):
            return f"a household without its {', '.join(_ANSWERED)} as texts"
    for r in rejects:  # null: a household sent without one (answered with "")
        if not isinstance(r, dict) or not isinstance(r.get("household_id", 0), (str, type(None))):
            return "a reject without its household_id as text or null"
    return None
