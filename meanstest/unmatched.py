"""Source rows that match nobody but would match a member or supporter once the IDs are
normalised as `meanstest ingest` normalises department IDs (whitespace removed,
full-width digits made ASCII, a lower-case x made X) — the source row's, the member's,
or both.

DATA.md joins bundle rows by the exact ID ("adapters normalise, bundles do not"), so
such a row counts for nothing and only `unmatched_source_rows` says it exists. An
auditor's blind check put a member's two 10,000,000-yuan bank rows under `…x` and
` …X`: the household was paid TEKUN and nothing but that count showed it. The review
keeps the exact join and names these rows after its summary (`meanstest review`), so
whoever wrote the bundle without `meanstest ingest` can see what it cost.

Only IDs that are not canonical are normalised (`near_matches`): the 1M-household
synthetic bundle, whose 1,957 unmatched rows match nobody even so, is looked at in
0.7–0.9 s, most of it the reading of its ID columns.

The bundle's tables are read in every form a review reads them: a `<t>.parquet` or
`<t>.arrow` file, or, for a Spark review, a folder of Parquet files (`<t>.parquet/`,
`<t>/`, possibly partitioned: `household_id=…/`). The note comes after a finished
review: `say_near_matches` says on stderr when it cannot be made, and the review
stands.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.adapters.normalise import clean_ids
from meanstest.bundle import read_text_columns, table_file, table_folder
from meanstest.errors import MeansTestError
from meanstest.ids import id_keys, valid_mask
from meanstest.progress import count
from meanstest.review.plan import bundle_files

SHOWN = 10  # rows a note names before "…"
_PEOPLE = (("persons", "person_id"), ("supporters", "supporter_id"))


@dataclass(frozen=True)
class NearMatch:
    table: str
    record_id: str | None
    households: tuple[str, ...]  # of the member or supporter it would match


def near_matches(bundle: str | os.PathLike[str]) -> list[NearMatch]:
    """Every source row of the bundle whose person_id matches no member or supporter
    as it stands but does once both are normalised; in table order, then row order.

    Only IDs that are not canonical (IdCheck's key −1: a space, a lower-case x, a
    full-width digit, or any other fault) can differ from their normalised form, so only
    they are looked at: a source row whose ID is not canonical, and, when some member's
    or supporter's ID is not canonical, the rows under that ID normalised. A bundle of
    canonical IDs costs the reading of its ID columns (0.7–0.9 s at 1M households)."""
    files = _tables(Path(bundle))
    people = {t: _text_columns(files[t], ["household_id", c]) for t, c in _PEOPLE if t in files}
    chunks = [c for t in people.values() for c in t.column(1).chunks]
    ids = pa.chunked_array(chunks, pa.string()).combine_chunks()
    odd_people = ids.filter(pa.array(_not_canonical(ids)))
    cleaned_odd = clean_ids(odd_people)
    odd_person_of = dict(zip(cleaned_odd.to_pylist(), odd_people.to_pylist(), strict=True))
    candidates = []  # (table, person_id as written, record_id)
    for table in schema.SOURCE_TABLES:
        if table not in files:
            continue
        t = _text_columns(files[table], ["person_id", "record_id"])
        source = t.column("person_id").combine_chunks()
        look = _not_canonical(source)
        if odd_person_of:  # a canonical row under a member's ID written '…x' or ' …X'
            near = pc.fill_null(pc.is_in(source, value_set=cleaned_odd), False)
            look |= near.to_numpy(zero_copy_only=False)
        rows = pa.array(np.flatnonzero(look))
        if len(rows):
            written = source.take(rows).to_pylist()
            record_ids = t.column("record_id").take(rows).to_pylist()
            candidates += [(table, w, r) for w, r in zip(written, record_ids, strict=True)]
    if not candidates:
        return []
    written = [w for _, w, _ in candidates]
    cleaned = clean_ids(pa.array(written, pa.string())).to_pylist()
    exact = _present(ids, set(written))  # rows that match as written are matched
    plain = _present(ids, set(cleaned))
    found, persons = [], set()
    for (table, w, record_id), c in zip(candidates, cleaned, strict=True):
        if w in exact:
            continue
        person = c if c in plain else odd_person_of.get(c)
        if person is not None:
            persons.add(person)
            found.append((table, record_id, person))
    homes = _households_of(persons, people)
    return [NearMatch(t, r, homes.get(p, ())) for t, r, p in found]


def _tables(bundle: Path) -> dict[str, Path]:
    """table → its file, or its folder of Parquet files (Spark's review reads those:
    the single machine's discovery refuses them, bundle.TableIsFolder, and the note
    after a Spark review of such a bundle failed a finished review, or said nothing)."""
    folders = {t: f for t in schema.TABLES if (f := table_folder(bundle, t)) is not None}
    if not folders:
        return bundle_files(bundle)
    files = {}
    for table in schema.TABLES:
        if table in folders:
            files[table] = folders[table]
        elif (found := table_file(bundle, table)) is not None:
            files[table] = found
    return files


def _text_columns(path: Path, columns: list[str]) -> pa.Table:
    """`columns` of a table file or folder as plain strings (read_text_columns). A
    folder's Parquet files are read as Spark reads them: every file under it whose name
    does not start with `_` or `.`, in path order, a column a file lacks taken from its
    partition folders (`household_id=…/`, percent-encoded; __HIVE_DEFAULT_PARTITION__ is
    a null)."""
    if not path.is_dir():
        return read_text_columns(path, columns)
    parts = []
    for file in sorted(_files_under(path)):
        have = pq.read_schema(file).names
        data = pq.read_table(file, columns=[c for c in columns if c in have])
        folders = dict(
            segment.split("=", 1) for segment in file.relative_to(path).parts[:-1] if "=" in segment
        )
        arrays = []
        for c in columns:
            if c in have:
                arrays.append(data.column(c).cast(pa.string()))
            elif c in folders:
                value = None if folders[c] == "__HIVE_DEFAULT_PARTITION__" else unquote(folders[c])
                arrays.append(pa.array([value] * data.num_rows, pa.string()))
            else:
                raise MeansTestError(f"{file}: no column {c} (table {path.name})")
        parts.append(pa.table(arrays, names=columns))
    if not parts:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return pa.concat_tables(parts)


def _files_under(folder: Path):
    for entry in folder.iterdir():
        if entry.name.startswith(("_", ".")):
            continue
        if entry.is_dir():
            yield from _files_under(entry)
        else:
            yield entry


def _not_canonical(ids: pa.Array) -> np.ndarray:
    """Present IDs that are not canonical resident IDs."""
    return (id_keys(ids) < 0) & valid_mask(ids)


def _present(ids: pa.Array, values: set) -> set:
    """Which of `values` (few) are among `ids` (many): the few are hashed, not the many."""
    values.discard(None)
    if not values:
        return set()
    hit = pc.is_in(ids, value_set=pa.array(sorted(values), pa.string()))
    return set(ids.filter(pc.fill_null(hit, False)).to_pylist())


def _households_of(persons: set[str], people: dict[str, pa.Table]) -> dict[str, tuple]:
    """person or supporter ID → their household_ids (sorted; null ones left out)."""
    out: dict[str, set[str]] = {}
    if persons:
        value_set = pa.array(sorted(persons), pa.string())
        for t in people.values():
            hit = t.filter(pc.is_in(t.column(1), value_set=value_set))
            for h, p in zip(hit.column(0).to_pylist(), hit.column(1).to_pylist(), strict=True):
                if h is not None:
                    out.setdefault(p, set()).add(h)
    return {p: tuple(sorted(hs)) for p, hs in out.items()}


def near_match_note(bundle: str | os.PathLike[str] | None, unmatched: int) -> str | None:
    """What a review says after its summary about the near matches among its
    `unmatched` source rows; None when there are none. `bundle`: a local folder (a
    Spark review's `file:` URI made a path by the caller; another URI says nothing)."""
    if not unmatched or bundle is None or not Path(bundle).is_dir():
        return None
    found = near_matches(bundle)
    if not found:
        return None
    shown = ", ".join(
        f"{m.table} record {m.record_id or '(no record_id)'} "
        f"({', '.join(m.households) or 'in no household'})"
        for m in found[:SHOWN]
    ) + (", …" if len(found) > SHOWN else "")
    return (
        f"note: {len(found):,} of the {count(unmatched, 'source row')} matching nobody would "
        "match a member or supporter of the households named if the IDs were normalised "
        "as `meanstest ingest` does (whitespace removed, full-width digits and a "
        "lower-case x made ASCII X): DATA.md joins a bundle's IDs exactly, so this review "
        f"counted them for nothing: {shown}"
    )


def orphan_note(bundle: str | os.PathLike[str] | None, orphans: int) -> str | None:
    """What a review says after its summary about its `orphans` persons/supporters rows
    whose household_id names no households row: the first rows by table and row number
    (1-based, as a reject's "(row N)"), each with a household it would name once trimmed
    and upper-cased. A blind test's member row under 'HH0000003 ' halved that household's
    TEKUN benefit, and only a count said a row existed; None when there are none."""
    if not orphans or bundle is None or not Path(bundle).is_dir():
        return None
    files = _tables(Path(bundle))
    if "households" not in files:
        return None
    homes = _text_columns(files["households"], ["household_id"]).column(0).combine_chunks()
    folded = None  # the households' IDs trimmed and upper-cased, made once if needed
    shown: list[str] = []
    for table, _ in _PEOPLE:
        if table not in files or len(shown) >= SHOWN:
            continue
        named = _text_columns(files[table], ["household_id"]).column(0).combine_chunks()
        known = pc.fill_null(pc.is_in(named, value_set=homes), False)
        for row in np.flatnonzero(~known.to_numpy(zero_copy_only=False))[: SHOWN - len(shown)]:
            written = named[int(row)].as_py()
            near = ""
            if written is not None:
                if folded is None:
                    folded = pc.utf8_upper(pc.utf8_trim_whitespace(homes))
                at = pc.index(folded, written.strip().upper()).as_py()
                near = f", did you mean {homes[at].as_py()!r}?" if at >= 0 else ""
            what = "null" if written is None else repr(written)
            shown.append(f"{table} row {int(row) + 1} (household_id {what}{near})")
    more = ", …" if orphans > len(shown) else ""
    return (
        f"note: {count(orphans, 'persons/supporters row')} named no household of the "
        "households table: DATA.md joins a bundle's IDs exactly, so they were not assessed, "
        f"and no household counted them: {', '.join(shown)}{more}"
    )


def say_near_matches(
    bundle: str | os.PathLike[str] | None, unmatched: int, orphans: int = 0
) -> None:
    """After a finished review's summary: near_match_note and orphan_note (the rows of no
    household) on stdout, or, for each, when the bundle cannot be looked at (a file gone
    or changed since, a table the look cannot read), a line on stderr saying that the
    look could not be made and why. The review's outputs are written by then: a note is
    never what fails it (a Spark review of a bundle with a folder table wrote every
    output, then exited 1 on the note's error)."""
    near = f"near matches among the {count(unmatched, 'source row')} matching nobody"
    homes = f"the households of the {count(orphans, 'persons/supporters row')} of no household"
    looks = ((near_match_note, unmatched, near), (orphan_note, orphans, homes))
    for look, rows, what in looks:
        try:
            said = look(bundle, rows)
        except Exception as e:  # noqa: BLE001 - any: the review stands whatever the look met
            why = str(e) if isinstance(e, MeansTestError) else f"{type(e).__name__}: {e}"
            print(f"meanstest: the look for {what} could not be made: {why}", file=sys.stderr)
            continue
        if said:
            print(said)
