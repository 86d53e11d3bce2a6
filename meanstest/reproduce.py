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

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from meanstest.errors import MeansTestError
from meanstest.outputs import read_output, summary_mismatches

IGNORED = ("engine_version",)  # the engine that made the row: a later one reproduces it
REVIEW_OUTPUTS = ("results", "members", "findings", "rejects")


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
    values: list[str] = field(default_factory=list)  # "column: stored → recomputed"

    def __str__(self) -> str:
        shown = self.values or self.columns
        return f"{self.household_id}: {self.kind}" + (f" ({'; '.join(shown)})" if shown else "")


def _shown(value) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text[:12] + "…" if isinstance(value, str) and len(value) == 64 else text


def _change(column: str, stored, recomputed) -> str:
    if (
        isinstance(stored, str)
        and isinstance(recomputed, str)
        and stored.strip() == recomputed.strip()
    ):
        return f"{column}: {stored!r} → {recomputed!r}"  # they differ in spaces: show them
    return f"{column}: {_shown(stored)} → {_shown(recomputed)}"


def compare(
    stored: list[dict],
    recomputed: list[dict],
    stored_members=None,
    recomputed_members=None,
    stored_findings=None,
    recomputed_findings=None,
    rejected_now: dict[str, list[str]] | None = None,
) -> tuple[int, list[Discrepancy], list[RankChange]]:
    """Compare stored and recomputed result rows (and, when given, members and findings
    rows); returns (households reproduced, discrepancies, households that reproduced
    except a rank moved by other households). `rejected_now`: household_id → the reasons
    of the households the recomputation rejects, to say why a stored one is not assessed
    now (without them the auditor saw only "not assessed now", e.g. for every household
    of a review made with packs not given to --policies)."""
    new = {r["household_id"]: r for r in recomputed}
    times = Counter(r["household_id"] for r in stored)
    out = [Discrepancy(h, f"in the results {n} times") for h, n in times.items() if n > 1]
    old = {r["household_id"]: r for r in stored}
    rows = {
        "members": (_by_household(stored_members), _by_household(recomputed_members)),
        "findings": (_by_household(stored_findings), _by_household(recomputed_findings)),
    }
    given = {"members": stored_members is not None, "findings": stored_findings is not None}
    consistent = ranks_consistent(stored)
    moved, ok = [], 0
    for hid, s in old.items():
        r = new.get(hid)
        if r is None:
            reasons = (rejected_now or {}).get(hid)
            if reasons:
                hint = (
                    f"; the review used {s.get('policy_id')}: give its packs with --policies"
                    if any("no policy pack" in x for x in reasons)
                    else ""
                )
                why = f"not assessed now: rejected ({'; '.join(reasons)}){hint}"
            else:
                why = "not assessed now: missing from the bundle"
            out.append(Discrepancy(hid, why))
            continue
        cols = [c for c in r if c not in IGNORED and s.get(c) != r[c]]
        values = [_change(c, s.get(c), r[c]) for c in cols]
        for name, (before, now) in rows.items():
            if given[name] and _rows_of(before.get(hid)) != _rows_of(now.get(hid)):
                cols.append(name)
                values.append(_rows_differ(name, before.get(hid), now.get(hid)))
        if s["input_digest"] != r["input_digest"]:
            out.append(Discrepancy(hid, "input changed", cols, values))
        elif s["policy_digest"] != r["policy_digest"] or s["policy_id"] != r["policy_id"]:
            hint = "reviewed with other packs? give them with --policies"
            out.append(Discrepancy(hid, "policy changed", cols, [*values, hint]))
        elif cols == ["rank"] and consistent:
            moved.append(RankChange(hid, s["rank"], r["rank"]))
            ok += 1
        elif cols:
            out.append(Discrepancy(hid, "result differs", cols, values))
        else:
            ok += 1
    out += [Discrepancy(hid, "not in the review") for hid in new if hid not in old]
    return ok, out, moved


def _rows_of(rows) -> list[tuple]:
    """A household's members or findings rows as a sorted multiset (order is not data)."""
    return sorted(tuple(sorted((k, repr(v)) for k, v in r.items())) for r in rows or [])


def _rows_differ(name: str, before, now) -> str:
    """Which rows of a household's members (by person) or findings (by code) differ."""
    key = "person_id" if name == "members" else "code"
    old, new = _by_key(before, key), _by_key(now, key)
    parts = []
    for k in sorted(set(old) | set(new), key=str):
        a, b = old.get(k, []), new.get(k, [])
        if _rows_of(a) == _rows_of(b):
            continue
        if len(a) != len(b):
            parts.append(f"{k} ×{len(a)} → ×{len(b)}")
        elif len(a) == 1:
            diff = [c for c in b[0] if a[0].get(c) != b[0][c]]
            parts.append(f"{k} " + ", ".join(_change(c, a[0].get(c), b[0][c]) for c in diff))
        else:
            parts.append(f"{k} rows differ")
    return f"{name}: " + "; ".join(parts)


def _by_key(rows, key) -> dict:
    """rows (None: none) grouped by their value of `key`, in order."""
    grouped: dict = {}
    for r in rows or []:
        grouped.setdefault(r.get(key), []).append(r)
    return grouped


def ranks_consistent(rows: list[dict]) -> bool:
    """Whether the stored ranks are 1..n in §9 order of the stored rows themselves."""
    order = sorted(rows, key=lambda r: (-r["difficulty_index"], r["household_id"]))
    return [r.get("rank") for r in order] == list(range(1, len(order) + 1))


def _by_household(rows: list[dict] | None) -> dict[str, list[dict]]:
    return _by_key(rows, "household_id")


def reproduce_review(
    out_dir, bundle, policies=None
) -> tuple[int, list[Discrepancy], list[RankChange]]:
    from meanstest.bundle import read_bundle
    from meanstest.pipeline import assess

    out = Path(out_dir)
    try:
        stored = {name: read_output(out, name) for name in REVIEW_OUTPUTS}
        summary_file = out / "summary.json"
        summary = json.loads(summary_file.read_text("utf-8")) if summary_file.is_file() else None
    except (OSError, ValueError) as e:
        raise MeansTestError(f"{out}: not a review output folder ({e})") from e
    missing = [f"{n}.parquet" for n, t in stored.items() if t is None]
    missing += ["summary.json"] if summary is None else []
    if missing:  # a review writes summary.json last: this one was stopped, or edited
        raise MeansTestError(
            f"{out}: not a complete review output folder (no {', '.join(missing)}; a "
            "review stopped midway leaves it so: run it again)"
        )
    stored_table = stored["results"]
    members, findings = stored["members"].to_pylist(), stored["findings"].to_pylist()
    rejects = stored["rejects"].to_pylist()
    tables = (
        read_bundle(bundle, households=True) if isinstance(bundle, (str, Path)) else dict(bundle)
    )
    again = assess(tables, policies, engine="reference")
    stored = stored_table.to_pylist()
    ok, out_, moved = compare(
        stored,
        again.results.to_pylist(),
        members,
        again.members.to_pylist(),
        findings,
        again.findings.to_pylist(),
        {r["household_id"]: r["reasons"] for r in again.rejects.to_pylist()},
    )
    out_ += _compare_rejects(
        rejects, again.rejects.to_pylist(), {r["household_id"] for r in stored}
    )
    out_ += [
        Discrepancy("summary.json", f"{key} is {got}; the stored rows give {want}", [key])
        for key, got, want in summary_mismatches(summary, stored_table, len(rejects))
    ]
    out_ += _compare_changes(out, stored, tables["households"])
    out_ += _compare_paid(summary, tables["households"], rejects)
    return ok, out_, moved


def _compare_paid(summary: dict, households, rejects: list[dict]) -> list[Discrepancy]:
    """summary.json's rejected_previously_paid (the report prints it) against the stored
    rejects and the bundle's prev_status and prev_benefit; an older summary has none."""
    import pyarrow as pa

    from meanstest.batch import rejected_paid_section

    stored = summary.get("rejected_previously_paid")
    if stored is None:
        return []
    ids = pa.array([r["household_id"] for r in rejects], pa.string())
    want = rejected_paid_section(households, ids)
    return [
        Discrepancy(
            "summary.json",
            f"rejected_previously_paid.{key} is {stored.get(key)}; the stored rejects and the "
            f"bundle give {want[key]}",
            [f"rejected_previously_paid.{key}"],
        )
        for key in want
        if stored.get(key) != want[key]
    ]


def _compare_changes(out: Path, stored: list[dict], households) -> list[Discrepancy]:
    """The change lists (changes_new/exit/adjust/phase_out) against the stored results
    whose transition they list, with prev_status and prev_benefit from the bundle: a row
    missing, added, or differing in any column is a discrepancy of its household."""
    from meanstest.batch import CHANGE_COLUMNS, CHANGE_LISTS, CHANGES_SCHEMA

    prev = {
        h["household_id"]: (h["prev_status"], h["prev_benefit"])
        for h in households.select(["household_id", "prev_status", "prev_benefit"]).to_pylist()
    }
    want: dict[tuple[str, str], list[tuple]] = {}
    for r in stored:
        if r["transition"] in CHANGE_LISTS:
            row = tuple(r[c] for c in CHANGE_COLUMNS) + prev.get(r["household_id"], (None, None))
            want.setdefault((r["transition"], r["household_id"]), []).append(row)
    got: dict[tuple[str, str], list[tuple]] = {}
    for t in CHANGE_LISTS:
        table = read_output(out, f"changes_{t.lower()}")
        partitioned = table is not None and "transition" not in table.column_names  # Spark
        for r in [] if table is None else table.to_pylist():
            r = r | {"transition": t} if partitioned else r
            row = tuple(r.get(c) for c in CHANGES_SCHEMA.names)
            got.setdefault((t, r["household_id"]), []).append(row)
    problems = []
    for t, hid in sorted(set(want) | set(got), key=lambda k: (str(k[1]), k[0])):
        a, b = sorted(got.get((t, hid), []), key=repr), sorted(want.get((t, hid), []), key=repr)
        if a == b:
            continue
        where = f"changes_{t.lower()}"
        if not a:
            problems.append(Discrepancy(hid, f"missing from {where} (its transition is {t})"))
        elif not b:
            problems.append(Discrepancy(hid, f"in {where}, but its transition is not {t}"))
        else:
            differ = [
                _change(c, x, y)
                for c, x, y in zip(CHANGES_SCHEMA.names, a[0], b[0], strict=True)
                if x != y
            ]
            problems.append(
                Discrepancy(hid, f"{where} row differs from its results row", values=differ)
            )
    return problems


def _compare_rejects(stored: list[dict], now: list[dict], assessed: set) -> list[Discrepancy]:
    """The review's rejects against the households rejected now (a duplicate
    household_id is one reject row per households row: compared as lists)."""
    before, after = _by_household(stored), _by_household(now)
    out = []
    for hid in sorted(set(before) | set(after), key=str):
        a = sorted(tuple(r["reasons"]) for r in before.get(hid, []))
        b = sorted(tuple(r["reasons"]) for r in after.get(hid, []))
        if a == b:
            continue
        if not a and hid in assessed:
            continue  # reported with the results: "not assessed now"
        if not a:
            out.append(Discrepancy(hid, "rejected now, missing from the review's rejects"))
        elif not b:
            out.append(Discrepancy(hid, "in the review's rejects, not rejected now"))
        else:
            out.append(Discrepancy(hid, "reject reasons differ", values=[_change("reasons", a, b)]))
    return out


def reproduce_journal(journal, bundle, policies=None) -> tuple[int, list[Discrepancy]]:
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
