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

from meanstest.batch import CHANGE_LISTS
from meanstest.errors import MeansTestError
from meanstest.outputs import read_output, summary_mismatches
from meanstest.progress import Progress

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
        shown = self.values or [c for c in self.columns if c not in self.kind]
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


def _compare_parts(
    stored, recomputed, stored_members, recomputed_members, stored_findings,
    recomputed_findings, rejected_now, consistent: bool, same_types: bool,
) -> tuple[int, tuple[list, list, list], list[RankChange]]:  # fmt: skip
    """Compare one chunk's stored and recomputed result, members and findings rows;
    returns (households reproduced, discrepancies, households that reproduced except a
    rank moved by other households). The discrepancies come in three parts, each of
    every chunk listed before the next part: results rows stored more than once, the
    stored households in stored order, then the recomputed households the review lacks.
    `rejected_now`: household_id → the reasons of the households the recomputation
    rejects, to say why a stored one is not assessed now (without them the auditor saw
    only "not assessed now", e.g. for every household of a review made with packs not
    given to --policies). `consistent`: whether the whole review's stored ranks rank
    its stored rows (ranks_consistent). `same_types`: the members and findings rows of
    both sides come from tables whose columns have the same types (then rows equal by ==
    are equal as written)."""
    new = {r["household_id"]: r for r in recomputed}
    times = Counter(r["household_id"] for r in stored)
    twice = [Discrepancy(h, f"in the results {n} times") for h, n in times.items() if n > 1]
    old = {r["household_id"]: r for r in stored}
    rows = {
        "members": (_by_household(stored_members), _by_household(recomputed_members)),
        "findings": (_by_household(stored_findings), _by_household(recomputed_findings)),
    }
    given = {"members": stored_members is not None, "findings": stored_findings is not None}
    out: list[Discrepancy] = []
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
            if given[name] and not _same_rows(before.get(hid), now.get(hid), same_types):
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
    absent = [Discrepancy(hid, "not in the review") for hid in new if hid not in old]
    return ok, (twice, out, absent), moved


def _same_rows(a, b, same_types: bool = False) -> bool:
    """Whether two households' rows are the same multiset, value and type (`repr`): when
    both sides' columns have the same types, equal lists (in the same order, as both
    reviews write them) are, without sorting every row's items. Without that, 30.0 and
    True would pass as 30 and 1 (a members file rewritten with float ages did)."""
    return (same_types and (a or []) == (b or [])) or _rows_of(a) == _rows_of(b)


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


def ranks_consistent(results) -> bool:
    """Whether the stored ranks are 1..n in §9 order (difficulty_index descending,
    household_id ascending, a stable sort; strings in UTF-8 byte order, which is code
    point order) of the stored results table itself."""
    import numpy as np
    import pyarrow.compute as pc

    if results.num_rows == 0:
        return True
    if not {"rank", "difficulty_index", "household_id"} <= set(results.column_names):
        return False  # an edited table without them ranks nothing (the old check's r.get)
    if results["difficulty_index"].null_count or results["household_id"].null_count:
        return False  # no ranking of rows without the keys it is by
    order = pc.sort_indices(
        results, sort_keys=[("difficulty_index", "descending"), ("household_id", "ascending")]
    )
    ranks = results["rank"].take(order)
    if ranks.null_count:
        return False
    return bool(np.array_equal(ranks.to_numpy(), np.arange(1, results.num_rows + 1)))


def _by_household(rows: list[dict] | None) -> dict[str, list[dict]]:
    return _by_key(rows, "household_id")


COMPARE_CHUNK = 20_000  # households whose rows are compared at a time, as Python rows


def reproduce_review(
    out_dir,
    bundle,
    policies=None,
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
    households = households.select(["household_id", "prev_status", "prev_benefit"])
    changes = {t: _change_rows(out, t) for t in CHANGE_LISTS}
    ids = _household_ids(
        stored["results"], again["results"], stored["rejects"], again["rejects"],
        *changes.values(),
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
    found = twice + differ + absent + sorted(rejects, key=lambda d: str(d.household_id))
    rows = [
        Discrepancy(
            "summary.json",
            f"{key} is {'missing' if got is None else got}; the stored rows give {want}",
            [key],
        )
        for key, got, want in summary_mismatches(summary, stored["results"], stored["rejects"])
    ]
    paid = _compare_paid(summary, households, stored["rejects"]["household_id"])
    again = _compare_summary(summary, again_summary)
    if (rows or paid) and not again:  # the rows were changed, not the summary: say it once
        rows, paid = [_summary_is_the_recomputations([*rows, *paid])], []
    found += [*rows, *sorted(lists, key=lambda d: str(d.household_id)), *paid]
    told = {c for d in [*rows, *paid] for c in d.columns}
    found += [d for d in again if d.columns[0] not in told]
    return ok, found, moved


def _summary_is_the_recomputations(found: list[Discrepancy]) -> Discrepancy:
    """One line for a summary.json that the recomputation gives but the stored rows do
    not: the rows were changed after the review (each reported above). One deleted
    results row gave some fifteen lines, each true, that hid the one fact."""
    keys = [d.columns[0] for d in found]
    return Discrepancy(
        "summary.json",
        f"agrees with the recomputation, not with the stored rows ({', '.join(keys)}): the "
        "stored rows were changed after the review",
        keys,
    )


# how the run was cut (memory, engine), not its counts; and the engine that made it: a
# later one reproduces it (as the results rows' engine_version, IGNORED)
RUN_ONLY = ("chunks", "chunk_size", "engine_version")
# values summary.json gained after its first version: a review made before has none,
# and still reproduces (the rows carry what they sum up)
ADDED_LATER = ("rejected_previously_paid", "by_policy", "ingest_notes")
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
            what = f"{key} is {_shown(old[key])}; a review's summary has no such value"
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


def _say_whose_input(found: list[Discrepancy], stored, again) -> None:
    """To each "input changed": either side may have changed — and when the stored
    input_digest is another household's recomputed one, say whose (an auditor's blind
    check swapped two households' digests, and the message blamed the bundle)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    changed = [d for d in found if d.kind == "input changed"]
    if not changed:
        return
    ids = pa.array([d.household_id for d in changed], stored.schema.field("household_id").type)
    rows = stored.filter(pc.is_in(stored["household_id"], value_set=ids))
    at = pc.index_in(rows["input_digest"], value_set=again["input_digest"])
    owner = pc.take(again["household_id"], pc.fill_null(at, 0)).to_pylist()
    whose = {
        hid: other
        for hid, other, hit in zip(
            rows["household_id"].to_pylist(), owner, at.is_valid().to_pylist(), strict=True
        )
        if hit and other != hid
    }
    for d in changed:
        if d.household_id in whose:
            d.values.append(
                f"the stored input_digest is that of {whose[d.household_id]}'s rows in the "
                "bundle: the results row was edited or swapped"
            )
        else:
            d.values.append(
                "the household's rows in the bundle, or the stored input_digest, changed "
                "since the review"
            )


def _types(table) -> dict:
    return {f.name: f.type for f in table.schema}


def _stored_review(out: Path, columns: list[str] | None = None) -> tuple[dict, dict]:
    """A review folder's four output tables (`columns`: [] for none, to check that the
    folder is complete before the long recomputation) and its summary.json; refuses an
    incomplete folder."""
    try:
        stored = {name: read_output(out, name, columns) for name in REVIEW_OUTPUTS}
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
    return stored, summary


def _recomputed_review(bundle, library, quiet: bool, memory_limit=None) -> tuple:
    """The four output tables of a reference-engine review of the bundle folder, its
    households table (prev_status and prev_benefit, for the change lists) and the
    review's summary.json."""
    import tempfile

    from meanstest.bundle import bundle_folder, read_table, table_file
    from meanstest.progress import note
    from meanstest.review import ReviewOptions, run_review

    folder = bundle_folder(bundle)
    note("recomputing every household with the reference calculator", quiet=quiet)
    with tempfile.TemporaryDirectory(prefix="meanstest-reproduce-") as tmp:
        options = ReviewOptions(engine="reference", quiet=quiet, memory_limit=memory_limit)
        run_review(folder, tmp, library, options)
        again = {name: read_output(Path(tmp), name) for name in REVIEW_OUTPUTS}
        summary = json.loads((Path(tmp) / "summary.json").read_text("utf-8"))
    # the review refused a folder without a households table: it is there
    households = read_table(table_file(folder, "households"), "households")
    return again, households, summary


def _change_rows(out: Path, transition: str):
    """A stored change list with its `transition` column (a Spark review's partitions
    hold it in their folder's name); None when the review wrote no such list."""
    import pyarrow as pa

    table = read_output(out, f"changes_{transition.lower()}")
    if table is not None and "transition" not in table.column_names:
        column = pa.array([transition] * table.num_rows, pa.string())
        table = table.append_column("transition", column)
    return table


def _household_ids(*tables):
    """Every household_id of the tables (None: no table), each once, in the order they
    first appear: the stored results first, so chunks follow the stored order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = [t["household_id"].cast(pa.string()) for t in tables if t is not None]
    return pc.unique(pa.chunked_array([c for col in columns for c in col.chunks], pa.string()))


class _Groups:
    """The rows of a table by chunk of households: chunk c holds the rows whose
    household_id is among ids[c * size:(c + 1) * size], in the table's order."""

    def __init__(self, table, ids, size: int) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        self.table = table
        if table is None or table.num_rows == 0:
            self.order, self.bounds = None, None
            return
        at = pc.index_in(table["household_id"].cast(pa.string()), value_set=ids, skip_nulls=False)
        number = pc.fill_null(at, -1).to_numpy(zero_copy_only=False) // size
        self.order = np.argsort(number, kind="stable")
        chunks = (len(ids) + size - 1) // size
        self.bounds = np.searchsorted(number[self.order], np.arange(chunks + 1))

    def rows(self, c: int) -> list[dict]:
        if self.order is None:
            return []
        picked = self.order[self.bounds[c] : self.bounds[c + 1]]
        return self.table.take(picked).to_pylist()


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


def _compare_changes(
    stored: list[dict], lists: dict[str, list[dict]], households: list[dict]
) -> list[Discrepancy]:
    """The change lists' rows (`lists`: transition → rows, each with its transition)
    against the stored results whose transition they list, with prev_status and
    prev_benefit from the bundle's households rows: a row missing, added, or differing
    in any column is a discrepancy of its household."""
    from meanstest.batch import CHANGE_COLUMNS, CHANGE_LISTS, CHANGES_SCHEMA

    prev = {h["household_id"]: (h["prev_status"], h["prev_benefit"]) for h in households}
    # a household gone from the bundle is reported as such ("not assessed now"): its
    # rows are compared without prev_status and prev_benefit, which only the bundle has
    width = len(CHANGE_COLUMNS)
    want: dict[tuple[str, str], list[tuple]] = {}
    for r in stored:
        if r["transition"] in CHANGE_LISTS:
            row = tuple(r[c] for c in CHANGE_COLUMNS) + prev.get(r["household_id"], ())
            want.setdefault((r["transition"], r["household_id"]), []).append(row)
    got: dict[tuple[str, str], list[tuple]] = {}
    for t in CHANGE_LISTS:
        for r in lists.get(t, []):
            row = tuple(r.get(c) for c in CHANGES_SCHEMA.names)
            row = row if r["household_id"] in prev else row[:width]
            got.setdefault((t, r["household_id"]), []).append(row)
    assessed = {r["household_id"] for r in stored}
    problems = []
    for t, hid in sorted(set(want) | set(got), key=lambda k: (str(k[1]), k[0])):
        a, b = sorted(got.get((t, hid), []), key=repr), sorted(want.get((t, hid), []), key=repr)
        if a == b:
            continue
        where = f"changes_{t.lower()}"
        if not a:
            problems.append(Discrepancy(hid, f"missing from {where} (its transition is {t})"))
        elif hid not in assessed:
            problems.append(
                Discrepancy(hid, f"in {where}, but the review has no results row of it")
            )
        elif not b:
            problems.append(Discrepancy(hid, f"in {where}, but its transition is not {t}"))
        else:
            differ = [  # which value is which: the list's, then where it comes from
                f"{c}: {_shown(x)} in {where}, {_shown(y)} in "
                + ("the bundle's households row" if c.startswith("prev_") else "results")
                for c, x, y in zip(CHANGES_SCHEMA.names[: len(a[0])], a[0], b[0], strict=True)
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
            out.append(Discrepancy(hid, "reject reasons differ", values=[_reasons(a, b)]))
    return out


def _reasons(stored: list[tuple], now: list[tuple]) -> str:
    """Two households' reject reasons as read ('a; b', one reject row per households row,
    rows apart by ' | '), not as Python tuples."""

    def text(rows, show=str):
        return " | ".join("; ".join(map(show, reasons)) for reasons in rows) or "none"

    if text(stored).split() == text(now).split():  # they differ in spaces: show them
        return f"reasons: {text(stored, repr)} → {text(now, repr)}"
    return f"reasons: {text(stored)} → {text(now)}"


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
