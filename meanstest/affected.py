"""Households that quarantined rows touch (`meanstest ingest`): which they are, what a
review of the bundle says about them, and `--hold`, which leaves them out.

A quarantined row is a household's when it is its case row (by household_id) or a
source row of one of its members or supporters (by person_id); a row no reader could
split into cells (bad_row, bad_json) is tied by the resident IDs in its text, or from a
case export by its household_id column (`unread_row`). Without `--hold` such households
are assessed without those rows, and the review says so first (`quarantine_note`).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.adapters.mapping import QUARANTINE
from meanstest.jsonfile import parse_json
from meanstest.progress import count

if TYPE_CHECKING:
    from meanstest.adapters.profile import Profile


def affected_households(
    tmp: dict[str, Path],
    owners: dict[str, Counter],
    unread: list[Unread] = (),
) -> tuple[dict[str, Counter], Counter]:
    """Households some of whose rows were quarantined: their own case rows (by
    household_id), or source rows of a member or supporter (by person_id). Their
    assessment would lack those rows; a household whose households row was quarantined
    is not in the bundle at all, and its members' and supporters' rows would be left
    without it (so --hold removes them too).

    `unread`: the rows no reader could split into cells (bad_row, bad_json; `Unread`):
    such a row is the household's of a member or supporter whose resident ID its text
    holds, or, from a case export, of the household_id in its household_id column — a
    blind test's bank export of rows one field too long was quarantined whole and no
    household was named. Only the IDs asked about are looked up (Arrow's is_in), not
    every person of the bundle. -> (household_id: Counter(table: rows), table: unread
    rows tied to no household)."""
    found: dict[str, Counter] = {}
    unattributed: Counter = Counter()
    for (h, table), n in owners["household"].items():
        found.setdefault(h, Counter())[table] += n
    by_person: dict[str, Counter] = {}
    for (person, table), n in owners["person"].items():
        by_person.setdefault(person, Counter())[table] += n
    wanted = set(by_person).union(*(u.ids for u in unread))
    homes_of: dict[str, set[str]] = {}  # person id -> their households
    if wanted:
        value_set = pa.array(sorted(wanted), pa.string())
        for t, col in (("persons", "person_id"), ("supporters", "supporter_id")):
            rows = pq.read_table(tmp[t], columns=["household_id", col])
            rows = rows.filter(pc.is_in(rows[col], value_set=value_set))
            for h, p in zip(rows.column(0).to_pylist(), rows.column(1).to_pylist(), strict=True):
                if h is not None:
                    homes_of.setdefault(p, set()).add(h)
    for person, tables in by_person.items():
        for h in homes_of.get(person, ()):
            found.setdefault(h, Counter()).update(tables)
    named = set().union(*(u.households for u in unread))
    present: set[str] = set()
    if named:
        value_set = pa.array(sorted(named), pa.string())
        for t in schema.CASE_TABLES:
            column = pq.read_table(tmp[t], columns=["household_id"]).column(0)
            present.update(column.filter(pc.is_in(column, value_set=value_set)).to_pylist())
    for u in unread:
        hit = {h for i in u.ids for h in homes_of.get(i, ())}
        hit |= u.households & present
        for h in hit:
            found.setdefault(h, Counter())[u.table] += 1
        if not hit:
            unattributed[u.table] += 1
    return found, unattributed


@dataclass(frozen=True)
class Unread:
    """What may tie a row no reader could split into cells to a household."""

    table: str
    ids: frozenset[str]  # the valid resident IDs in its text
    households: frozenset[str]  # a case export's row: its household_id column's values


UNREAD_KEPT = 1_000_000  # unread rows examined; any beyond are counted as tied to none


def unread_row(raw: str, profile: Profile, header: list[str]) -> Unread:
    """The Unread of one bad_row / bad_json row of an export of `profile` (`header`: the
    export's columns, or its JSON keys): the valid resident IDs in its text
    (normalise.ids_in_text), and for a case export the values in its household_id
    column, cleaned as the mapped rows' are (CSV: that field of each record of its text,
    or of each line when its quotes do not pair — a misquoted record holds the rows a
    quote swallowed, and a blind test found the second household's members silently
    gone; JSON Lines: that key's string or number) — not any word that equals some
    household_id, which held a clean household "0" back for another's cell "0"."""
    from meanstest.adapters.base import ascii_key_one
    from meanstest.adapters.normalise import ids_in_text

    ids = ids_in_text(raw)
    households = set()
    column = profile.columns.get("household_id") if profile.table in schema.CASE_TABLES else None
    if column is not None and profile.format == "csv" and column in header:
        at = header.index(column)
        # record by record (a quoted remark over lines keeps its household) and line by
        # line (a stray quote that pairs with a later row's reads the rows between into
        # the record, however short they are). A remark's line "HH…,原户已注销" names
        # that household too: the safe side, since it is only noted (and held with
        # --hold), where a row read into a remark would leave its household a member
        # short in silence (reviews found both; a rule on each line's delimiters lost a
        # short swallowed row)
        d = profile.delimiter
        pieces = raw.split("\n")  # line feeds only: \r, \x0b or \u2028 end no line here
        lines = [p + "\n" for p in pieces[:-1]] + [pieces[-1]]
        try:
            records = list(csv.reader(lines, delimiter=d))
        except csv.Error:  # a CR outside quotes, say
            records = []
        for line in pieces if len(pieces) > 1 or not records else ():
            try:
                records += list(csv.reader([line.rstrip("\r")], delimiter=d))
            except csv.Error:
                records.append(line.split(d))
        for fields in records:
            if at < len(fields) and fields[at].strip():
                households.add(fields[at].strip())
    elif column is not None and profile.format == "jsonl":
        m = re.search(rf'"{re.escape(column)}"\s*:\s*("(?:[^"\\]|\\.)*"|-?[0-9]+)', raw)
        if m:
            try:
                households.add(str(json.loads(m.group(1))).strip())
            except ValueError:
                pass
    households = {ascii_key_one(h) for h in households}  # as the case adapter cleans ids
    return Unread(profile.table, frozenset(ids), frozenset(h for h in households if h))


def not_in_bundle(tmp: dict[str, Path], affected: Iterable[str]) -> int:
    """How many of the `affected` households have no households row in the bundle: their
    own was quarantined, or the case export never had one (a persons row's mistyped
    household_id). Named as such, not as households assessed without rows."""
    lost = set(affected)
    if not lost:
        return 0
    column = pq.read_table(tmp["households"], columns=["household_id"]).column(0)
    wanted = pa.array(sorted(lost), pa.string())
    present = set(column.filter(pc.is_in(column, value_set=wanted)).to_pylist())
    return len(lost - present)


SHOWN = 10  # ids a note names before "… (N in all)"


def duplicate_keys(tmp: dict[str, Path]) -> dict:
    """Department keys (record_id) that more than one row of a source table carries — for
    the same person in business_registration and property (SHARED_KEYS: a firm's code is
    its representative's and its shareholders', a property's number each co-owner's; a
    review found those warned of): the same department record twice — a month's export sent again under another name, with
    a value corrected, say (a blind test: every June wage counted twice, 48 statuses
    changed, no word). DATA.md does not make them invalid, and the review counts each
    row (docs/decisions.md, Rules 11); the ingest says so. And household_ids on more than
    one households row (two case exports listing one household: the review rejects
    every such row; a blind test found the ingest silent). {table: {"keys", "rows",
    "examples"}}, tables without any left out. (file:line record_ids never repeat.)"""
    found = {}
    for t in ("households", *schema.SOURCE_TABLES):
        key = "household_id" if t == "households" else "record_id"
        by = [key, "person_id"] if t in SHARED_KEYS else [key]
        if (repeated := _repeated(pq.read_table(tmp[t], columns=by), by)) is not None:
            found[t] = repeated
    return found


def _repeated(rows: pa.Table, by: list[str]) -> dict | None:
    """{"keys", "rows", "examples"} of the values of by[0] on more than one row of `rows`
    (counted by all of `by`), None when there are none."""
    if rows.num_rows < 2:
        return None
    counts = rows.group_by(by).aggregate([([], "count_all")])
    twice = counts.filter(pc.greater(counts["count_all"], 1))
    if not twice.num_rows:
        return None
    keys = sorted({str(v) for v in twice[by[0]].to_pylist()})
    return {
        "keys": len(keys),
        "rows": int(pc.sum(twice["count_all"]).as_py()),
        "examples": keys[:SHOWN],
    }


# tables whose department key several people's rows share: a firm's unified credit code
# (its representative, its shareholders), a property's registration number (co-owners)
SHARED_KEYS = ("business_registration", "property")


def orphan_rows(tmp: dict[str, Path]) -> dict:
    """persons and supporters rows whose household_id is in no households row: a review
    assesses no one for them, and their household (under its right id) lacks a member
    or supporter (a blind test: a household number typed in full-width digits made a
    family of two a family of one). {"rows", "households", "household_ids" (the first
    100)}."""
    households = pq.read_table(tmp["households"], columns=["household_id"]).column(0)
    rows, ids = 0, set()
    for t in ("persons", "supporters"):
        column = pq.read_table(tmp[t], columns=["household_id"]).column(0)
        alone = pc.invert(pc.is_in(column, value_set=households))
        alone = pc.fill_null(alone, True)
        rows += int(pc.sum(alone).as_py() or 0)
        ids.update(str(h) for h in column.filter(alone).to_pylist())
    return {"rows": rows, "households": len(ids), "household_ids": sorted(ids)[:100]}


def ingest_warnings(doc: dict) -> list[str]:
    """What an ingest.json says that someone must look at before trusting the bundle:
    files with the same bytes, department keys twice, source tables no export filled
    (a bank export left out of the manifest read as no one having savings), persons
    rows of no household, a bundle of no households."""
    out = []
    for f in doc.get("files", []):
        remarks = f.get("remarks_over_lines")
        if remarks:
            lines = ", ".join(str(x) for x in remarks["lines"][:SHOWN])
            out.append(
                f"{f['file']}: {count(remarks['rows'], 'row')} kept whose quoted field over "
                f"lines holds a row's worth of delimiters, read as a remark (lines {lines}"
                + (", …" if remarks["rows"] > SHOWN else "")
                + "): if a quote there was stray, the row it closed was read into it"
            )
        for key, how in (
            ("same_bytes_as", "bytes"),
            ("same_text_as", "text but for line endings, blank lines or a BOM"),
        ):
            if f.get(key):
                out.append(
                    f"{f['file']} has the same {how} as {f[key]}: the same export listed "
                    "twice counts every row twice (two months alike are fine)"
                )
    for t, d in sorted(doc.get("duplicate_keys", {}).items()):
        shown = ", ".join(d["examples"][:3]) + (", …" if d["keys"] > 3 else "")
        if t == "households":
            out.append(
                f"households: {count(d['keys'], 'household_id')} each on more than one row "
                f"({d['rows']:,} rows: {shown}): a review rejects every row of such an id "
                "(DATA.md); two case exports listing one household?"
            )
            continue
        keys = count(d["keys"], "department key")
        out.append(
            f"{t}: {keys} each on more than one row ({d['rows']:,} rows: {shown}): "
            "the same record twice (an export sent again?) counts twice"
        )
    listed = doc.get("tables_without_export")
    missing = [t for t in schema.SOURCE_TABLES if isinstance(listed, list) and t in listed]
    if missing:  # only table names: the record is a file anyone may have edited
        out.append(
            f"no export in the manifest for {', '.join(missing)}: written "
            "empty, so a review reads every household as having no records there; was a "
            "department's export left out?"
        )
    tables = doc.get("tables", {})
    if tables.get("households") == 0 and any(n for t, n in tables.items() if t != "households"):
        rows = sum(n for t, n in tables.items() if t != "households")
        out.append(
            f"the bundle has no households row ({count(rows, 'row')} of other tables): no "
            "one is assessed for them; does the manifest list the case system's "
            "households export? (a manifest without it wrote such a bundle silently)"
        )
    orphans = doc.get("orphan_rows", {})
    if orphans.get("rows"):
        ids, n = orphans["household_ids"], orphans.get("households", len(orphans["household_ids"]))
        shown = ", ".join(ids[:SHOWN]) + (f", … ({n:,} in all)" if n > SHOWN else "")
        out.append(
            f"{count(orphans['rows'], 'persons or supporters row')} "
            f"{'names' if orphans['rows'] == 1 else 'name'} a household with "
            f"no households row ({shown}): no one is assessed for them, and if the number "
            "is mistyped, their household lacks them"
        )
    return out


def quarantine_note(bundle: str | Path) -> str | None:
    """What a review of an ingested bundle should say first: the households the ingest
    found rows of in quarantine and did not hold back (ingest.json), which the review
    assesses without those rows, the unreadable rows it could tie to no household (any
    household may lack them), and the ingest's warnings (`ingest_warnings`). None when
    there are none (or no readable ingest.json). A bundle joined from districts
    (`meanstest regroup D1 D2 …`) has each district's ingest.json in
    districts/<k>-<name>/: each says its own, named by its folder."""
    bundle = Path(bundle)
    said = []
    for folder in _record_folders(bundle):
        if (text := _quarantine_note(folder)) is not None:
            if folder == bundle:
                said.append(text)
                continue
            where = folder.relative_to(bundle).as_posix()
            said += [line.replace("note: ", f"note: {where}: ", 1) for line in text.splitlines()]
    return "\n".join(said) or None


def ingest_notes(bundle: str | Path | Mapping[str, pa.Table] | None) -> list[str]:
    """`quarantine_note`, one entry per line, for summary.json's `ingest_notes` and the
    report: the review's record says what its console said. An auditor's blind check
    found households paid on a bundle that lacked some of their rows, and only the
    console had said so. [] for a bundle without an ingest.json (or one that is not a
    local folder: a dict of tables, a Spark URL)."""
    if not isinstance(bundle, (str, Path)):
        return []
    note = quarantine_note(bundle)
    return note.splitlines() if note else []


def assessed_without_rows(
    bundle: str | Path | Mapping[str, pa.Table] | None,
) -> tuple[set[str], int]:
    """What `meanstest explain` says of a household of `bundle` from its ingest record
    (ingest.json's `affected_households`; a regrouped bundle's districts' too): the
    households whose quarantined rows were not held back, and the quarantined rows
    tied to no household (any household may lack them). Nothing without a readable
    ingest.json."""
    if not isinstance(bundle, (str, Path)):
        return set(), 0
    found: set[str] = set()
    unattributed = 0
    for folder in _record_folders(Path(bundle)):
        if (doc := _record(folder)) is not None:
            _, held, ids, untied, _ = _affected(doc)
            found.update(() if held else ids)
            unattributed += sum(untied.values())
    return found, unattributed


def tables_without_export(bundle: str | Path | Mapping[str, pa.Table] | None) -> list[str]:
    """The source tables the bundle's ingest had no export for (ingest.json's
    `tables_without_export`, a regrouped bundle's districts' too), in SOURCE_TABLES'
    order: written empty, read as no one's records. What `meanstest explain` says of
    them; [] without a readable ingest.json."""
    if not isinstance(bundle, (str, Path)):
        return []
    found: set[str] = set()
    for folder in _record_folders(Path(bundle)):
        doc = _record(folder)
        if doc is not None and isinstance(doc.get("tables_without_export"), list):
            found.update(str(t) for t in doc["tables_without_export"])
    return [t for t in schema.SOURCE_TABLES if t in found]


def _record_folders(bundle: Path) -> list[Path]:
    """The bundle folder, then each district's of a regrouped bundle (districts/<k>-<name>/,
    in regroup's order), whose ingest.json a review reads."""
    from meanstest.review.regroup import DISTRICTS

    districts = [f.parent for f in (bundle / DISTRICTS).rglob("ingest.json")]
    return [bundle, *sorted(districts, key=lambda f: _district_order(f.relative_to(bundle)))]


def _record(folder: Path) -> dict | None:
    """The folder's ingest.json, None when there is none or it is not a JSON object."""
    try:  # a text with no UTF-8 could be neither printed nor written to summary.json
        doc = parse_json((folder / "ingest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _affected(doc: dict) -> tuple[int, bool, list[str], dict[str, int], int | None]:
    """ingest.json's affected_households: (count, held, household_ids, unattributed rows
    by table, not_in_bundle or None before 2026-12-05); nothing affected when the part
    is absent or not readable."""
    try:
        affected = doc["affected_households"]
        n, held = int(affected["count"]), bool(affected["held"])
        ids = [str(h) for h in affected.get("household_ids", [])]
        unattributed = {str(t): int(k) for t, k in affected.get("unattributed_rows", {}).items()}
        outside = affected.get("not_in_bundle")
        return n, held, ids, unattributed, None if outside is None else int(outside)
    except (ValueError, KeyError, TypeError, AttributeError):
        return 0, True, [], {}, None


def _district_order(path: Path) -> tuple:
    """districts/2-b before districts/10-a (k, its place on regroup's command line)."""
    key = []
    for part in path.parts:
        place, _, name = part.partition("-")
        key.append((int(place), name) if place.isdigit() else (1 << 62, part))
    return tuple(key)


def _quarantine_note(bundle: Path) -> str | None:
    if (doc := _record(Path(bundle))) is None:
        return None
    n, held, ids, unattributed, outside = _affected(doc)
    said = []
    shown = ", ".join(ids[:SHOWN]) + (f", … ({n:,} in all)" if n > SHOWN else "")
    if n and held:
        said.append(
            f"note: the ingest of this bundle held back {count(n, 'household')} with "
            "quarantined rows of their own or of a member or supporter (`meanstest ingest "
            "--hold`; ingest.json, quarantine.parquet): they are not in this bundle and not "
            "assessed: " + shown
        )
    if n and not held:
        said.append(
            f"note: the ingest of this bundle quarantined rows of {count(n, 'household')} "
            "(their own or a member's or supporter's; ingest.json, quarantine.parquet): "
            + (
                "those in the bundle are assessed without those rows, and one whose own "
                "households row was quarantined is not in it at all"
                if outside is None
                else "they are assessed without those rows"
                if not outside
                else f"{n - outside:,} {'is' if n - outside == 1 else 'are'} assessed without "
                f"those rows, and {outside:,} {'is' if outside == 1 else 'are'} not in the "
                "bundle at all (no households row: quarantined, or none in the case export)"
            )
            + " (`meanstest ingest --hold` holds them all back): "
            + shown
        )
    if unattributed:
        rows = ", ".join(f"{t} {k:,}" for t, k in unattributed.items())
        said.append(
            f"note: the ingest quarantined rows it could not tell whose they are ({rows}; "
            "quarantine.parquet: rows it could not read, bad_row and bad_json, and rows "
            "whose ID cell names no person): any household may be assessed without them, "
            "and --hold cannot hold them back"
        )
    try:
        warned = ingest_warnings(doc)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        # an edited or partial ingest.json: say so, rather than stop the review (which
        # keeps these lines in summary.json) with a traceback
        warned = ["its warnings could not be read (ingest.json is partial or was edited)"]
    said += [f"note: the ingest of this bundle warned: {w}" for w in warned]
    return "\n".join(said) or None


def hold_households(
    tmp: dict[str, Path], households: set[str], quarantined_people: Iterable[tuple[str, str]] = ()
) -> dict[str, int]:
    """Rewrite the tables without `households`: their case rows, and the source rows of
    their members and supporters who belong to no household kept (left in, the review
    counted them as rows matching nobody, mixed with rows that truly match nobody: a
    county IT officer's blind check) — those whose own row was quarantined included
    (`quarantined_people`: (household_id, person id) pairs). Rows removed per table."""
    removed = {}
    keep_out = pa.array(sorted(households), pa.string())
    out_people = {p for h, p in quarantined_people if h in households}
    kept_people = set()
    for t, key in (("households", None), ("persons", "person_id"), ("supporters", "supporter_id")):
        removed[t], ids = _rewrite(
            tmp[t], t, lambda b: pc.is_in(b.column("household_id"), value_set=keep_out), key
        )
        out_people.update(ids)
        if key is not None:
            kept_people.update(pq.read_table(tmp[t], columns=[key]).column(0).to_pylist())
    gone = pa.array(sorted(p for p in out_people - kept_people if p is not None), pa.string())
    for t in schema.SOURCE_TABLES:
        removed[t], _ = _rewrite(
            tmp[t], t, lambda b: pc.is_in(b.column("person_id"), value_set=gone)
        )
    return removed


def _rewrite(file: Path, table: str, drop, key: str | None = None) -> tuple[int, list]:
    """`file` without the rows where `drop(batch)`: (rows removed, their `key` values)."""
    source = pq.ParquetFile(file)
    path = file.with_name(file.name + ".held")
    n, ids = 0, []
    with pq.ParquetWriter(path, schema.arrow_schema(table)) as w:
        for batch in source.iter_batches():
            out = pc.fill_null(drop(batch), False)
            if key is not None:
                ids += batch.column(key).filter(out).to_pylist()
            kept = pa.Table.from_batches([batch]).filter(pc.invert(out))
            n += batch.num_rows - kept.num_rows
            w.write_table(kept)
    os.replace(path, file)
    return n, ids


def held_entries(affected: dict[str, Counter]) -> pa.Table:
    ids = sorted(affected)
    detail = [
        "held back: quarantined rows of it or its members ("
        + ", ".join(f"{t} {n}" for t, n in sorted(affected[h].items()))
        + ")"
        for h in ids
    ]
    n = len(ids)
    return pa.table(
        {"table": ["households"] * n, "file": [None] * n, "line": pa.nulls(n, pa.int64()),
         "record_id": ids, "column": [None] * n, "raw_column": [None] * n,
         "raw_value": [None] * n, "reason": ["held_household"] * n, "detail": detail},
        schema=QUARANTINE,
    )  # fmt: skip
