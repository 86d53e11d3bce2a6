"""`meanstest ingest MANIFEST.toml --out BUNDLE` (数据导入): raw department exports →
a bundle ready for `meanstest review`, plus `quarantine.parquet` and `ingest.json`.

DATA.md "Ingest manifest": `[[source]]` entries name a profile and its raw files
(relative paths are relative to the manifest's folder); several sources may fill one
table. Everything that can be checked before a row is read is: the manifest's keys,
every profile (strictly, `adapters.profile`), that every file exists and that its
header (CSV), keys (JSON Lines, first batch) or schema (Parquet) has every column its
profile maps. Then each file is streamed batch by batch and written as it is mapped,
so memory is bounded by a batch, whatever the export's size.

households' `checked_*` flags come from the case export where its profile maps them;
a flag the profile does not map is true exactly when the manifest lists at least one
file for that department (tax: tax_income or business_registration; bank; vehicle;
housing: property; social_insurance).

`ingest.json` holds, per file, its SHA-256, bytes, rows read = rows mapped + rows
quarantined (and blank lines, which are not rows), and per profile its SHA-256, so an
auditor can tie every bundle row to the bytes it came from. It is deterministic: the
same manifest, profiles and files give the same bundle and the same ingest.json.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pyarrow.parquet as pq

from meanstest import schema
from meanstest.adapters import ADAPTERS, adapter_for
from meanstest.adapters.csv_export import quiet_undecodable_records
from meanstest.adapters.mapping import QUARANTINE, map_batch
from meanstest.adapters.profile import Profile, ProfileError, load_profile, toml_doc
from meanstest.adapters.readers import open_export
from meanstest.affected import (
    UNREAD_KEPT,
    Unread,
    affected_households,
    duplicate_keys,
    held_entries,
    hold_households,
    ingest_warnings,
    not_in_bundle,
    orphan_rows,
    unread_row,
)
from meanstest.bundle import FORMATS, INCOMPLETE, writing_bundle
from meanstest.copies import file_digest, note_copies
from meanstest.errors import MeansTestError
from meanstest.outputs import not_a_review_folder, only_writer_of, output_folder
from meanstest.progress import Progress, count
from meanstest.review.state import close_quietly, fault_point

if TYPE_CHECKING:
    import argparse

HELP = "map raw department exports to a bundle with their profiles (quarantine + ingest.json)"
MANIFEST_KEYS = ("source", "description")
SOURCE_KEYS = ("profile", "files", "description")
PROGRESS_BYTES = 64 << 20  # files at least this large get a progress line


@dataclass(frozen=True)
class Source:
    profile: Profile
    files: tuple[Path, ...]
    # the profile and files as the manifest names them (relative to its folder): what
    # ingest.json records, whatever folder the ingest ran from
    named: tuple[str, tuple[str, ...]]


def _written(folder: Path) -> set[str]:
    """The names of the files an ingest writes, replaces or removes in its folder."""
    names = {f"{t}{suffix}" for t in schema.TABLES for suffix in FORMATS.values()}
    names |= {f"{t}.parquet.tmp" for t in schema.TABLES}
    names |= {"quarantine.parquet", "quarantine.parquet.tmp", "ingest.json", "ingest.json.tmp"}
    return names | {INCOMPLETE}


def _not_over_inputs(folder: Path, manifest: Path, sources: list[Source]) -> None:
    """Refuse an --out folder where the ingest would write over (or remove) a file it
    reads: `--out raw/bank` replaced the bank's own export bank.parquet with the bundle's
    table of that name, exit 0, a department's file lost (an adversarial run)."""
    inputs = [manifest, *(Path(s.profile.path) for s in sources)]
    inputs += [f for s in sources for f in s.files]
    out, written = folder.resolve(), _written(folder)
    for f in inputs:
        f = f.resolve()
        if f.parent == out and f.name in written:
            raise MeansTestError(
                f"--out {folder} holds {f.name}, which this ingest reads and would write "
                "over: give the bundle a folder of its own"
            )


def load_manifest(path: str | Path) -> list[Source]:
    """The manifest's sources with their profiles loaded and checked."""
    path = Path(path)
    name = str(path)
    if path.exists() and not path.is_file():  # a FIFO would hold the ingest for ever
        raise ProfileError(name, "-", "cannot read manifest: not a regular file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ProfileError(name, "-", f"cannot read manifest: {e.strerror or e}") from None
    doc = toml_doc(raw, name)
    for k in doc:
        if k not in MANIFEST_KEYS:
            raise ProfileError(name, k, f"unknown key (valid: {', '.join(MANIFEST_KEYS)})")
    entries = doc.get("source")
    if not isinstance(entries, list) or not entries:
        raise ProfileError(name, "source", "need at least one [[source]] with profile and files")
    base = path.parent
    profiles: dict[Path, Profile] = {}
    sources = []
    for i, entry in enumerate(entries):
        key = f"source[{i}]"
        if not isinstance(entry, dict):
            raise ProfileError(name, key, "each [[source]] is a table")
        for k in entry:
            if k not in SOURCE_KEYS:
                raise ProfileError(
                    name, f"{key}.{k}", f"unknown key (valid: {', '.join(SOURCE_KEYS)})"
                )
        prof, files = entry.get("profile"), entry.get("files")
        if not isinstance(prof, str) or not prof:
            raise ProfileError(name, f"{key}.profile", "need the profile's path")
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise ProfileError(name, f"{key}.files", "need a non-empty list of file paths")
        ppath = (base / prof).resolve()
        if not ppath.is_file():  # named as a missing raw file is (it named the profile alone)
            what = "a folder, not a profile" if ppath.is_dir() else "profile not found"
            raise ProfileError(name, f"{key}.profile", f"{prof}: {what} (looked for {ppath})")
        if ppath not in profiles:
            profiles[ppath] = load_profile(base / prof)
        sources.append(
            Source(profiles[ppath], tuple(base / f for f in files), (prof, tuple(files)))
        )
    # one file may fill two tables (a tax export's wages and its business registrations,
    # each by its own profile); listed twice for one table, its rows would be doubled
    seen = Counter((s.profile.table, f.resolve()) for s in sources for f in s.files)
    twice = [(t, f) for (t, f), n in seen.items() if n > 1]
    if twice:
        table, file = twice[0]
        raise ProfileError(
            name, "files", f"{file} is listed twice for {table} (its rows would be doubled)"
        )
    names: dict[tuple[str, str], Path] = {}
    for s in sources:
        if "record_id" in s.profile.columns or "record_id" not in _columns(s.profile.table):
            continue
        for f in s.files:
            other = names.setdefault((s.profile.table, f.name), f)
            if other != f:
                raise ProfileError(
                    name,
                    "files",
                    f"{other} and {f} both fill {s.profile.table} without a department key: "
                    f"their record_ids '{f.name}:<line>' would collide; rename one",
                )
    for i, s in enumerate(sources):  # named with the manifest's entry (it was the path)
        for f, written in zip(s.files, s.named[1], strict=True):
            if not f.exists():
                raise ProfileError(
                    name, f"source[{i}].files", f"{written}: raw export not found (looked for {f})"
                )
    return sources


def _columns(table: str) -> set[str]:
    return {c.name for c in schema.TABLES[table]}


def checked_overrides(sources: list[Source]) -> dict[str, bool]:
    """households.checked_* for flags no case profile maps: true iff the manifest has a
    file of that department."""
    tables = {s.profile.table for s in sources}
    return {a.flag: bool(tables & set(a.tables)) for a in ADAPTERS if a.flag}


def ingest(
    manifest: str | Path,
    out: str | Path,
    *,
    quiet: bool = True,
    stream: TextIO | None = None,
    hold: bool = False,
) -> dict:
    """Run a manifest; write the bundle, quarantine.parquet and ingest.json to `out`.
    Returns the ingest.json document. With `hold`, affected households (see
    `affected_households`) are left out of the bundle, with their members and
    supporters, and listed in the quarantine as held_household.

    A CSV record pyarrow cannot decode raises this reader's error naming the file and
    line, without pyarrow's "Exception ignored" traceback before it
    (csv_export.quiet_undecodable_records)."""
    with quiet_undecodable_records():
        return _ingest(Path(manifest), Path(out), quiet, stream or sys.stderr, hold)


def _ingest(manifest: Path, folder: Path, quiet: bool, stream, hold: bool) -> dict:
    sources = load_manifest(manifest)
    _not_over_inputs(folder, manifest, sources)
    not_a_review_folder(folder)
    exports = [(s, f, open_export(f, s.profile)) for s in sources for f in s.files]
    overrides = checked_overrides(sources)
    output_folder(folder)
    # two ingests into one folder each failed, one with a traceback (D4 of a blind
    # operator's check, 2026-12-07): the second is refused, saying why
    with only_writer_of(folder, "ingest"):
        writers, counts = {}, dict.fromkeys(schema.TABLES, 0)
        tmp = {t: folder / f"{t}.parquet.tmp" for t in schema.TABLES}
        qtmp = folder / "quarantine.parquet.tmp"
        files_doc, reasons = [], Counter()
        owners: dict[str, Counter] = {"household": Counter(), "person": Counter()}
        unread: list[Unread] = []  # rows no reader could split into cells
        # such rows beyond UNREAD_KEPT, and rows quarantined with an ID cell naming nobody
        tied_to_none: Counter = Counter()
        quarantined_people: list[tuple[str, str]] = []  # (household_id, person id) of bad rows
        try:
            for t in schema.TABLES:
                writers[t] = pq.ParquetWriter(tmp[t], schema.arrow_schema(t))
            qwriter = pq.ParquetWriter(qtmp, QUARANTINE)
            writers["quarantine"] = qwriter
            for source, path, export in exports:
                p = source.profile
                adapter = adapter_for(p.table)
                size = path.stat().st_size
                progress = Progress(
                    size, "bytes", quiet=quiet or size < PROGRESS_BYTES, stream=stream
                )
                flags = {k: v for k, v in overrides.items() if k not in p.columns}
                doc = {
                    "file": str(path),
                    "profile": p.path,
                    "table": p.table,
                    "department": adapter.department,
                    "sha256": file_digest(path),
                    "bytes": size,
                    "rows_read": 0,
                    "rows_mapped": 0,
                    "rows_quarantined": 0,
                    "blank_lines": 0,
                }
                remarks: list[int] = []  # rows kept whose remark over lines could hold a row
                for batch in export.batches():
                    mapped = map_batch(
                        p, adapter, batch, path.name, flags if p.table == "households" else None
                    )
                    writers[p.table].write_table(mapped.table)
                    if mapped.quarantine.num_rows:
                        qwriter.write_table(mapped.quarantine)
                        reasons.update(mapped.quarantine.column("reason").to_pylist())
                    kind = "household" if p.table in schema.CASE_TABLES else "person"
                    owners[kind].update((o, p.table) for o in mapped.owners)
                    tied_to_none[p.table] += mapped.untied
                    for problem in batch.problems:
                        if len(unread) < UNREAD_KEPT:
                            unread.append(unread_row(problem.raw, p, export.header))
                        else:
                            tied_to_none[p.table] += 1
                    quarantined_people += mapped.people
                    doc["rows_mapped"] += mapped.table.num_rows
                    doc["rows_quarantined"] += mapped.rows_quarantined
                    doc["rows_read"] += batch.num_rows + len(batch.problems)
                    doc["blank_lines"] += batch.blank_lines
                    if batch.remark_lines:  # those the mapping kept (no bad cell)
                        gone = set(mapped.quarantine.column("line").to_pylist())
                        remarks += [x for x in batch.remark_lines if x not in gone]
                    progress.update(batch.position)
                progress.close()
                if remarks:
                    doc["remarks_over_lines"] = {"rows": len(remarks), "lines": remarks[:20]}
                if getattr(export, "absent_keys", None):  # JSON Lines: keys of no line at all
                    doc["keys_in_no_line"] = list(export.absent_keys)
                counts[p.table] += doc["rows_mapped"]
                files_doc.append(doc)
            note_copies(
                files_doc,
                {s.profile.path for s in sources if "record_id" in s.profile.columns},
                {str(f): s.profile for s in sources for f in s.files},
            )
            for w in writers.values():
                if w is not qwriter:
                    w.close()
            affected, unattributed = affected_households(tmp, owners, unread)
            unattributed += tied_to_none
            outside = not_in_bundle(tmp, affected)  # without a households row in the bundle
            held: dict[str, int] = {}
            if hold and affected:
                held = hold_households(tmp, set(affected), quarantined_people)
                for t, n in held.items():
                    counts[t] -= n
                qwriter.write_table(held_entries(affected))
                reasons["held_household"] += len(affected)
            qwriter.close()
            writers.clear()
            document = _document(manifest, sources, files_doc, counts, reasons, overrides)
            document["affected_households"] = {
                "count": len(affected),
                "held": bool(hold and affected),
                "household_ids": sorted(affected),
                "not_in_bundle": outside,
                "unattributed_rows": dict(sorted(unattributed.items())),
                # rows mapped but left out with the held households (so that a file's mapped
                # rows = its table's rows in the bundle + these, by table)
                "held_rows": {t: n for t, n in held.items() if n},
            }
            document["duplicate_keys"] = duplicate_keys(tmp)
            document["orphan_rows"] = orphan_rows(tmp)
            # the tables replace an earlier ingest's one by one, then ingest.json: a folder
            # killed in between (new tables beside old ones, or an old ingest.json) is
            # marked, and reviews refuse it (bundle.check_complete)
            with writing_bundle(folder, f"meanstest ingest of {manifest}"):
                for t in schema.TABLES:
                    os.replace(tmp[t], folder / f"{t}.parquet")
                    for suffix in FORMATS.values():
                        if suffix != ".parquet":
                            (folder / f"{t}{suffix}").unlink(missing_ok=True)
                    fault_point("ingest:table")  # the test of a killed ingest
                os.replace(qtmp, folder / "quarantine.parquet")
                _write_json(document, folder / "ingest.json")
        except OSError as e:
            if e.filename is not None or e.errno not in _FULL:
                raise
            # Arrow's writers say "Error writing bytes to file", not which file: the folder
            raise OSError(e.errno, e.strerror or str(e), str(folder)) from None
        finally:
            close_quietly(writers.values())
            for f in [*tmp.values(), qtmp]:
                f.unlink(missing_ok=True)
        return document


_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # a write the file system refused


def _document(manifest, sources, files_doc, counts, reasons, overrides) -> dict:
    profiles = {s.profile.path: s.profile for s in sources}
    case = [s.profile for s in sources if s.profile.table == "households"]
    names = _manifest_names(sources)

    def named(path: str) -> str:
        return names.get(path, path)

    for f in files_doc:
        for key in ("file", "profile", "same_bytes_as", "same_text_as"):
            if key in f:
                f[key] = named(f[key])

    def came_from(flag: str, value: bool):
        """ "case export", the manifest's true/false, or both: several case exports of
        which only some map the flag (each row's flag is its own export's)."""
        mapping = [named(p.path) for p in case if flag in p.columns]
        if not mapping:
            return value
        if len(mapping) == len(case):
            return "case export"
        others = [named(p.path) for p in case if flag not in p.columns]
        return (
            f"case export for the rows of {', '.join(dict.fromkeys(mapping))}; "
            f"{'true' if value else 'false'} (the manifest) for those of "
            + ", ".join(dict.fromkeys(others))
        )

    return {
        "manifest": Path(manifest).name,  # the other paths are relative to its folder
        "manifest_sha256": file_digest(Path(manifest)),
        "profiles": [
            {"profile": named(p.path), "table": p.table, "format": p.format, "sha256": p.digest}
            for p in profiles.values()
        ],
        "files": files_doc,
        "tables": counts,
        # source tables no [[source]] fills: written empty, as DATA.md's absent table
        "tables_without_export": [
            t for t in schema.SOURCE_TABLES if t not in {s.profile.table for s in sources}
        ],
        "quarantine": {
            "rows": sum(f["rows_quarantined"] for f in files_doc),
            "entries": sum(reasons.values()),
            "by_reason": dict(sorted(reasons.items())),
        },
        "checked": {flag: came_from(flag, value) for flag, value in overrides.items()},
        "accounting_closes": all(
            f["rows_read"] == f["rows_mapped"] + f["rows_quarantined"] for f in files_doc
        ),
    }


def _manifest_names(sources: list[Source]) -> dict[str, str]:
    """Each profile's and file's path as this process reads it (relative to the folder
    it ran in) → as the manifest names it (relative to the manifest's folder). ingest.json
    records the latter: with the former, the same inputs gave another ingest.json from
    another folder, and its paths meant nothing once that folder was unknown (a blind
    test of department exports)."""
    names = {s.profile.path: s.named[0] for s in reversed(sources)}  # the first naming
    for s in reversed(sources):
        names.update(zip(map(str, s.files), s.named[1]))
    return names


def _write_json(doc: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------ CLI --


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", help="ingest manifest (TOML: [[source]] profile + files)")
    parser.add_argument("--out", required=True, help="bundle folder to write")
    parser.add_argument("--quiet", action="store_true", help="no per-file lines, no progress")
    parser.add_argument(
        "--hold",
        action="store_true",
        help="leave households with quarantined rows (theirs or their members') out of the bundle",
    )


def _outside(n: int, k: int) -> str:
    """What the ingest says of `n` affected households of which `k` are not in the bundle."""
    if not k:
        return "their review lacks those rows"
    verb = "is" if k == 1 else "are"
    gone = (
        f"{k:,} {verb} not in the bundle at all (no households row: quarantined, or none "
        "in the case export)"
    )
    if k == n:
        return gone
    return f"{n - k:,} {'is' if n - k == 1 else 'are'} reviewed without those rows, and {gone}"


def run(args: argparse.Namespace) -> int:
    doc = ingest(args.manifest, args.out, quiet=args.quiet, hold=args.hold)
    for line in ingest_warnings(doc):  # said even with --quiet: warnings, not progress
        print(f"warning: {line}", file=sys.stderr)
    if not args.quiet:
        for f in doc["files"]:
            print(
                f"{f['table']:<22} {f['file']}: read {f['rows_read']} = mapped "
                f"{f['rows_mapped']} + quarantined {f['rows_quarantined']}"
                + (f" ({f['blank_lines']} blank lines)" if f["blank_lines"] else "")
                + (
                    f" (in no line, so empty: {', '.join(f['keys_in_no_line'])})"
                    if f.get("keys_in_no_line")
                    else ""
                )
                + f"  sha256 {f['sha256'][:12]}"
            )
        q = doc["quarantine"]
        print(", ".join(f"{t} {n}" for t, n in doc["tables"].items()) + f" → {args.out}")
        print(
            f"quarantine: {count(q['rows'], 'row')}, {count(q['entries'], 'entry', 'entries')}"
            + "".join(f" {r} {n}," for r, n in q["by_reason"].items()).rstrip(",")
            + f"; quarantine.parquet and ingest.json in {args.out}"
        )
        a = doc["affected_households"]
        if a["count"]:
            print(
                f"{count(a['count'], 'household')} "
                + (
                    "held back (not in the bundle): quarantined rows of their own or of a "
                    "member or supporter; mapped rows left out with them: "
                    + (", ".join(f"{t} {n:,}" for t, n in a["held_rows"].items()) or "none")
                    if a["held"]
                    else ("has" if a["count"] == 1 else "have")
                    + " quarantined rows of their own or of a member or supporter; "
                    + _outside(a["count"], a["not_in_bundle"])
                    + " (--hold leaves them out)"
                )
            )
        if a["unattributed_rows"]:
            rows = ", ".join(f"{t} {k:,}" for t, k in a["unattributed_rows"].items())
            print(f"quarantined rows tied to no household ({rows}): any household may lack them")
    if not doc["accounting_closes"]:
        raise MeansTestError("ingest accounting does not close (read != mapped + quarantined)")
    return 0
