"""One chunk's rows compared: results, members and findings by household, the change
lists against the results, the rejects against the households rejected now, and whose
input a changed input_digest is."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from meanstest.reproduce.discrepancy import Discrepancy, RankChange, _change, shown_apart

if TYPE_CHECKING:
    import pyarrow as pa

IGNORED = ("engine_version",)  # the engine that made the row: a later one reproduces it


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
    for name, (before, _) in rows.items():  # rows of no household the review assessed
        for hid, kept in before.items():  # (a blind audit's members row of "HHFAKE")
            if hid not in old and hid not in new:
                what = f"{len(kept)} {name} row{'s' if len(kept) > 1 else ''}"
                out.append(Discrepancy(hid, f"{what}, but the review has no results row of it"))
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
        elif len(a) == 1:  # by repr: 30.0 and 30 differ (shown with their types)
            diff = [c for c in b[0] if repr(a[0].get(c)) != repr(b[0][c])]
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


def ranks_consistent(results: pa.Table) -> bool:
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
            differ = []  # which value is which: the list's, then where it comes from
            for c, x, y in zip(CHANGES_SCHEMA.names[: len(a[0])], a[0], b[0], strict=True):
                if x != y:
                    listed, source = shown_apart(x, y)
                    whence = "the bundle's households row" if c.startswith("prev_") else "results"
                    differ.append(f"{c}: {listed} in {where}, {source} in {whence}")
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
