"""Source rows that match nobody but would match a member or supporter once their
person_id is normalised as `meanstest ingest` normalises department IDs (whitespace
removed, full-width digits made ASCII, a lower-case x made X).

DATA.md joins bundle rows by the exact ID ("adapters normalise, bundles do not"), so
such a row counts for nothing and only `unmatched_source_rows` says it exists. An
auditor's blind check put a member's two 10,000,000-yuan bank rows under `…x` and
` …X`: the household was paid TEKUN and nothing but that count showed it. The review
keeps the exact join and names these rows after its summary (`meanstest review`), so
whoever wrote the bundle without `meanstest ingest` can see what it cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema
from meanstest.adapters.normalise import clean_ids
from meanstest.bundle import read_text_columns
from meanstest.progress import count
from meanstest.review.plan import bundle_files

SHOWN = 10  # rows a note names before "…"


@dataclass(frozen=True)
class NearMatch:
    table: str
    record_id: str | None
    households: tuple[str, ...]  # of the member or supporter it would match


def near_matches(bundle) -> list[NearMatch]:
    """Every source row of the bundle whose person_id matches no member or supporter
    as it stands but does once normalised; in table order, then row order."""
    files = bundle_files(Path(bundle))
    homes: dict[str, set[str]] = {}
    for table, column in (("persons", "person_id"), ("supporters", "supporter_id")):
        if table in files:
            t = read_text_columns(files[table], ["household_id", column])
            for h, p in zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True):
                if p is not None:
                    homes.setdefault(p, set()).add(h)
    people = pa.array(sorted(homes), pa.string())
    found = []
    for table in schema.SOURCE_TABLES:
        if table not in files:
            continue
        t = read_text_columns(files[table], ["person_id", "record_id"])
        ids = t.column("person_id").combine_chunks()
        known = pc.is_in(ids, value_set=people).to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(~known & pc.is_valid(ids).to_numpy(zero_copy_only=False))
        if not rows.size:
            continue
        cleaned = clean_ids(ids.take(pa.array(rows)))
        hit = pc.is_in(cleaned, value_set=people).to_numpy(zero_copy_only=False)
        record_ids = t.column("record_id").take(pa.array(rows[hit])).to_pylist()
        for record_id, person in zip(record_ids, cleaned.filter(pa.array(hit)).to_pylist()):
            found.append(NearMatch(table, record_id, tuple(sorted(homes[person], key=str))))
    return found


def near_match_note(bundle, unmatched: int) -> str | None:
    """What a review says after its summary about the near matches among its
    `unmatched` source rows; None when there are none."""
    if not unmatched or not Path(bundle).is_dir():  # a Spark review's bundle may be a URL
        return None
    found = near_matches(bundle)
    if not found:
        return None
    shown = ", ".join(
        f"{m.table} record {m.record_id or '(no record_id)'} ({', '.join(m.households)})"
        for m in found[:SHOWN]
    ) + (", …" if len(found) > SHOWN else "")
    return (
        f"note: {len(found):,} of the {count(unmatched, 'source row')} matching nobody would "
        "match a member or supporter of the households named if their person_id were "
        "normalised as `meanstest ingest` does (whitespace removed, full-width digits and a "
        "lower-case x made ASCII X): DATA.md joins a bundle's IDs exactly, so this review "
        f"counted them for nothing: {shown}"
    )
