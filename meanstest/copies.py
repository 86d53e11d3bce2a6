"""The same export listed twice in an ingest's manifest (meanstest.ingest).

Two files of one table with the same rows are the same records twice when a department
key names them — the export sent again — and are refused; without a key they may be two
months alike, and the second is named, a warning (docs/decisions.md, "Adapters and
ingest", 8). The same rows are the same bytes, or the same text as the readers read it:
a copy whose line endings an FTP transfer in ASCII mode or an editor converted, or that
gained a BOM or blank lines.
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

from meanstest.adapters.profile import Profile
from meanstest.errors import MeansTestError


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def note_copies(files_doc: list[dict], keyed: set[str], profiles: dict[str, Profile]) -> None:
    """Two files of one table with the same rows: the same bytes, or the same text as
    the readers read it, line endings, blank lines and a BOM aside (a copy converted by
    an FTP transfer in ASCII mode, an editor or a mail gateway). When either is read by a
    profile that maps a department key (`keyed`: their paths), both hold those keys: the
    same records twice — the same export sent again — and refused. Without a key, two
    months of a pension export alike are two months (a review found a refusal dropping
    one): they are read, and the second is named (`same_bytes_as` or `same_text_as` in
    ingest.json, a warning). The text is compared only among files of a table that has
    several (a second read of those files)."""
    by_table: dict[str, list[dict]] = {}
    for f in files_doc:
        if f["rows_read"]:
            by_table.setdefault(f["table"], []).append(f)
    for group in by_table.values():
        if len(group) < 2:
            continue
        seen: dict[str, list[dict]] = {}
        for f in group:
            text = text_digest(Path(f["file"]), profiles[f["file"]]) or f["sha256"]
            alike = seen.setdefault(text, [])
            twin = next((o for o in alike if f["profile"] in keyed or o["profile"] in keyed), None)
            if twin is not None:
                how = "bytes" if twin["sha256"] == f["sha256"] else f"text ({TEXT_ASIDE} aside)"
                raise MeansTestError(
                    f"{f['file']} has the same {how} as {twin['file']} ({f['table']}), the "
                    "same department keys: the same export listed twice; list it once"
                )
            same = next((o for o in alike if o["sha256"] == f["sha256"]), None)
            if same is not None:
                f["same_bytes_as"] = same["file"]
            elif alike:
                f["same_text_as"] = alike[0]["file"]
            alike.append(f)


TEXT_ASIDE = "line endings, blank lines and a BOM"  # what `text_digest` leaves out
_READ = 1 << 20  # bytes of an export read at a time by `text_digest`


def text_digest(path: Path, profile: Profile) -> str | None:
    """SHA-256 of a text export as its rows are read: every line ending (CRLF, CR, LF)
    alike, blank lines and line endings at either end left out, a leading BOM of the
    profile's encoding dropped (the readers drop a leading U+FEFF). None for Parquet and
    UTF-16/32 exports, whose line endings are not single bytes: they are compared by
    their bytes. In an ASCII-compatible encoding (UTF-8, GB18030, ...) bytes 0x0D and
    0x0A are only ever CR and LF. Lines of spaces or of delimiters only, blank to the
    readers too, are text here."""
    if profile.format == "parquet":
        return None
    codec = codecs.lookup(profile.encoding).name
    if codec.startswith(("utf-16", "utf-32")):
        return None
    digest = hashlib.sha256()
    cr = b""  # a CR that ended a read: an LF may begin the next
    started, pending = False, False  # text written; a line end after it
    with open(path, "rb") as f:
        # utf-8-sig's decoder drops one BOM and the readers another
        for chunk in _reads(f, _bom(codec), 2 if codec == "utf-8-sig" else 1):
            data = cr + chunk
            cr = b"\r" if data.endswith(b"\r") else b""
            data = data[: len(data) - len(cr)]
            if b"\r" in data:  # most exports are all CRLF or all LF: one replace, or none
                data = data.replace(b"\r\n", b"\n")
                if b"\r" in data:
                    data = data.replace(b"\r", b"\n")
            while b"\n\n" in data:  # a run of n line ends takes log2(n) passes
                data = data.replace(b"\n\n", b"\n")
            core = data.strip(b"\n")
            if not core:  # line endings only: one is written if text follows
                pending = pending or (started and bool(data))
                continue
            if started and (pending or data[0] == 10):
                digest.update(b"\n")
            digest.update(core)
            started, pending = True, data[-1] == 10
    return digest.hexdigest()


def _reads(f, bom: bytes, boms: int):
    """The bytes of file `f`, `_READ` at a time, without up to `boms` leading `bom`s."""
    for _ in range(boms if bom else 0):
        head = f.read(len(bom))
        if head != bom:
            yield head
            break
    while chunk := f.read(_READ):
        yield chunk


def _bom(codec: str) -> bytes:
    """A leading U+FEFF in the encoding `codec` (UTF-8: EF BB BF; GB18030: 84 31 95 33);
    none where the encoding has no such character."""
    try:
        return "\ufeff".encode("utf-8" if codec == "utf-8-sig" else codec)
    except UnicodeEncodeError:
        return b""
