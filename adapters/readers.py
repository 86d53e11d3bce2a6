"""Readers of raw department exports: CSV (any encoding, BOM or not, any delimiter),
JSON Lines and Parquet, streamed in batches so a 5 GB export is never loaded whole.

Each reader yields `RawBatch`es: the raw columns (strings for CSV and JSON Lines, the
file's own types for Parquet), the physical line of each row, and the rows that could
not be read as a row at all (a CSV row with the wrong number of fields, a JSON Lines
line that is not an object), which go to the quarantine.

Line numbers are exact physical lines (DATA.md: 1-based, the CSV header is line 1;
Parquet: the 1-based row number). pyarrow's serial CSV reader numbers records (a
quoted field may hold newlines, so a record can span lines) and reports the numbers of
the rows it rejects; a row's physical line is its record number plus the newlines held
in the fields of every record before it. A blank line is not a row: it is counted in
`blank_lines`, never in the rows read. Lines end in "\\n" or "\\r\\n" (a lone "\\r"
inside a quoted field is not counted as a line break).
"""

from __future__ import annotations

import codecs
import decimal
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from meanstest.adapters.csv_export import CsvExport, not_text
from meanstest.adapters.profile import Profile, ProfileError, kind
from meanstest.adapters.raw import (
    EMPTY_LIST,
    MAX_LINE_BYTES,
    ExportError,
    RawBatch,
    RawRowProblem,
    blank,
    needed_columns,
)

from meanstest.schema import TABLES
from meanstest.utf8 import first_bad_utf8_row

JSONL_LINES = 65_536  # JSON Lines per batch
PARQUET_ROWS = 262_144
# Keys that case systems and departments often number with 17-20 digits: a Parquet
# float column for one has lost digits before we read it (person IDs: kind "id")
NUMBERED_KEYS = ("household_id", "record_id", "property_id", "plate")


def open_export(path: str | Path, profile: Profile) -> CsvExport | JsonlExport | ParquetExport:
    """The reader of one export file under `profile`; `.header` is checked against
    the profile's mapped columns on opening, before any row is read."""
    path = Path(path)
    if not path.is_file():  # a FIFO or a device is no export either (it was "not found")
        what = "not a regular file" if path.exists() else "raw export not found"
        raise ExportError(f"{path}: {what}", file=str(path))
    if profile.format != "parquet":
        _utf8_in_disguise(path, profile)
    reader = {"csv": CsvExport, "jsonl": JsonlExport, "parquet": ParquetExport}[profile.format]
    export = reader(path, profile)
    missing = [raw for raw in profile.columns.values() if raw not in export.header]
    if profile.format == "jsonl":
        # no header but the keys of the lines: a file with no line at all has no rows
        # (a department that found nothing, as a JSON Lines writer writes it), and a
        # key that no line has is an empty cell in every line, which a nullable column
        # takes (writers that leave out null values); a required one is still missing
        nullable = {c.name for c in TABLES[profile.table] if c.nullable}
        absent = [c for c, raw in profile.columns.items() if raw not in export.header]
        export.absent_keys = [profile.columns[c] for c in absent if c in nullable]
        missing = [] if not export.lines else [m for m in missing if m not in export.absent_keys]
    if missing:
        found = ", ".join(repr(h) for h in export.header[:30]) or "none"
        what = f"no column {missing[0]!r} in the export (columns found"
        if profile.format == "jsonl":  # keys are gathered from the first lines only
            what = f"no key {missing[0]!r} in its first {JSONL_LINES:,} lines (keys found"
        raise ProfileError(
            profile.path,
            "columns",
            f"{path}: {what}: {found})" + _hint(path, profile, export.header),
        )
    return export


# When a file is UTF-8 whatever its profile says: its start decodes as UTF-8 without a
# fault into at least UTF8_EVIDENCE distinct Chinese characters, and nine in ten of its
# non-ASCII characters are Chinese (ideographs, CJK punctuation, full-width forms).
# GB18030 text is valid UTF-8 by chance about once in five characters, but it then
# decodes to two-byte sequences (U+0080..U+07FF: 住宅 is "סլ"), not to Chinese: of random
# GB2312 text (200,000 strings each of 1, 2, 3, 4, 6 and 8 characters) none passed:
# 7 strings of 3 characters decoded to one ideograph, below the two needed (a test tries
# 40,000 more: tests/test_adapters_encoding.py). A count of
# non-ASCII bytes alone refused a GB18030 export whose only Chinese, 住宅 on every row,
# is valid UTF-8 (a blind recheck).
UTF8_EVIDENCE = 2
UTF8_SAMPLE = 1 << 20  # the bytes of a file's start that are looked at


def _chinese(c: str) -> bool:
    o = ord(c)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x3000 <= o <= 0x303F
        or (0xFF00 <= o <= 0xFFEF)
    )


def _utf8_start(head: bytes) -> str | None:
    """A file's first bytes decoded as UTF-8; None when they are not UTF-8 (a sequence
    cut by the sample's end is no evidence against it)."""
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.end != len(head) or e.reason != "unexpected end of data":
            return None
        return head[: e.start].decode("utf-8")


def utf8_chinese(head: bytes) -> str | None:
    """`head` (a file's start) decoded, when it is UTF-8 Chinese by the rule above."""
    text = _utf8_start(head)
    if text is None:
        return None
    wide = {c: n for c, n in Counter(text).items() if ord(c) >= 0x80 and c != "\ufeff"}
    if sum(1 for c in wide if 0x3400 <= ord(c) <= 0x9FFF) < UTF8_EVIDENCE:
        return None
    chinese = sum(n for c, n in wide.items() if _chinese(c))
    return text if chinese * 10 >= sum(wide.values()) * 9 else None


def _utf8_in_disguise(path: Path, profile: Profile) -> None:
    """Refuse a UTF-8 export whose profile names another encoding. GB18030 (and Latin-1,
    …) decode almost any bytes without an error, into other characters: a blind test's
    UTF-8 vehicle file under `encoding = "gb18030"` was ingested, exit 0, with 蒙D1234A
    as 钂橠1234A and nothing quarantined. Its ASCII header gave no missing column to
    hint at (`_hint`)."""
    if codecs.lookup(profile.encoding).name in ("utf-8", "utf-8-sig"):
        return
    with open(path, "rb") as f:
        head = f.read(UTF8_SAMPLE)
    text = utf8_chinese(head)
    if text is None:
        return
    at = next((i for i, c in enumerate(text) if ord(c) >= 0x80 and c != "\ufeff"), 0)
    start = max(text.rfind("\n", 0, at) + 1, at - 12)
    shown = text[start : start + 32].split("\n", 1)[0].strip("\r\ufeff")
    misread = shown.encode("utf-8").decode(profile.encoding, errors="replace")
    amount = f"{'its first ' if len(head) == UTF8_SAMPLE else ''}{len(head):,}"
    raise ProfileError(
        profile.path,
        "profile.encoding",
        f"{path} is UTF-8 text, not {profile.encoding} ({amount} bytes are UTF-8 Chinese "
        f"without a fault; read as {profile.encoding}, {shown!r} would be {misread!r}): "
        'set encoding = "utf-8"',
    )


def _hint(path: Path, profile: Profile, header: list[str]) -> str:
    """Why a header may lack the profile's columns: another delimiter, a UTF-8 file read
    as GB18030 (which decodes almost any bytes, into nonsense), no JSON object, or a
    name that differs only by surrounding whitespace (a CSV header is trimmed; a Parquet
    or JSON name is taken as it is)."""
    spaced = [h for h in header if h != h.strip() and h.strip() in profile.columns.values()]
    if spaced:
        return f"; the export has {spaced[0]!r}: its name has spaces around it, name it so"
    if profile.format == "jsonl" and not header:
        return f"; no line of its first {JSONL_LINES:,} is a JSON object"
    if profile.format != "csv":
        return ""
    if len(header) == 1 and (others := [d for d in ",;\t|" if d in header[0]]):
        return f"; the header splits on {others[0]!r}, not {profile.delimiter!r}: is the delimiter right?"
    if codecs.lookup(profile.encoding).name != "utf-8":
        with open(path, "rb") as f:
            text = _utf8_start(f.read(1 << 16))
        if text is not None and not text.isascii():
            return f"; the file reads as UTF-8, not {profile.encoding}: is the encoding right?"
    return ""


class _TooLong(bytes):
    """The first bytes of a JSON Lines line longer than MAX_LINE_BYTES (skipped unread)."""


def _bounded_lines(f):
    """Lines of a binary file, each ending in LF, CRLF or a lone CR (as a CSV export's
    lines do, docs/adapters.md: JSON text holds no raw CR inside a string, and a file
    with CR line ends read by LF was one line, "no line is a JSON object"; GB18030 and
    UTF-8 have no 0x0A or 0x0D byte inside a character). A line longer than
    MAX_LINE_BYTES is yielded as a _TooLong prefix and the rest of it skipped, so memory
    stays bounded whatever the file holds."""
    carry, skip = b"", None  # the unfinished last line; skip: None, "line" or "lf"
    while block := f.read(_BLOCK):
        if skip == "lf":  # the last line ended in CR at a block's end: its LF is here
            block, skip = (block[1:] if block[:1] == b"\n" else block), None
        elif skip == "line":  # the rest of an over-long line
            end = _LINE_END.search(block)
            if end is None:
                continue
            block = block[end.end() :]
            skip = "lf" if end.group() == b"\r" and not block else None
        lines = (carry + block).splitlines(True) if carry else block.splitlines(True)
        carry = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
        for line in lines:
            yield _TooLong(line[:500]) if len(line) > MAX_LINE_BYTES else line
        if len(carry) > MAX_LINE_BYTES:
            yield _TooLong(carry[:500])
            carry, skip = b"", "lf" if carry.endswith(b"\r") else "line"
    if carry:
        yield carry


_BLOCK = 1 << 20
_LINE_END = re.compile(rb"\r\n|\r|\n")


class JsonlExport:
    """One JSON object per line. Numbers keep their literal text (12345.60 stays
    "12345.60", never a float); true/false become "true"/"false"; an array (for
    `current_programs`) is joined with the profile's list separator. The header is the
    keys of the first batch of lines; a key absent from a line is an empty cell, and a
    file with no line that is not blank has no rows (`open_export`)."""

    def __init__(self, path: Path, profile: Profile) -> None:
        self.path, self.profile = path, profile
        self.numeric = _numeric_keys(profile)  # keys whose exponents are written out
        keys: dict[str, None] = {}
        self.lines = 0  # lines that are not blank among the first JSONL_LINES
        # mapped keys of nullable columns no line has: of the first batch on opening, of
        # the whole file once every batch is read
        self.absent_keys: list[str] = []
        with open(path, "rb") as f:
            for i, raw in enumerate(_bounded_lines(f)):
                if i == JSONL_LINES:
                    break
                obj = self._parse(raw, i + 1)
                self.lines += obj is not None
                if isinstance(obj, dict):
                    keys.update(dict.fromkeys(obj))
        self.header = list(keys)

    def _parse(self, raw: bytes, line: int) -> dict | RawRowProblem | None:
        """The object of one line, None for a blank line, or the problem."""

        def bad(detail: str) -> RawRowProblem:
            return RawRowProblem(line, "bad_json", detail, _lossy(raw, self.profile.encoding))

        if isinstance(raw, _TooLong):
            return bad(f"line longer than {MAX_LINE_BYTES >> 20} MB")
        if not raw.strip():
            return None
        try:
            text = raw.decode(self.profile.encoding)
            if line == 1 and text.startswith("\ufeff"):
                text = text[1:]
            if blank(text):
                return None  # full-width or no-break spaces only: a blank line too
            obj = json.loads(  # without its line ending: an error at the end is on this line
                text.rstrip("\r\n"),
                parse_float=_Number,
                parse_int=_Number,
                object_pairs_hook=_object_once_each,
            )
        except json.JSONDecodeError as e:  # json counts its own lines: "line 1" of line 3
            return bad(f"{e.msg} at character {e.pos + 1} of the line")
        except UnicodeDecodeError as e:  # the file's encoding is wrong: stop, as CSV does
            # (it was a bad_json row whose quarantine showed U+FFFD for the bytes, and a
            # whole GBK file "no line is a JSON object"; a blind test of messy exports)
            raise not_text(self.path, self.profile, e, line) from None
        except (ValueError, RecursionError) as e:  # deep nesting too
            return bad(str(e) or type(e).__name__)
        if not isinstance(obj, dict):
            return bad("not a JSON object")
        if b"\\u" in raw and not _encodable(obj):  # "\ud800": a lone surrogate
            return bad("a lone surrogate escape")
        return obj

    def batches(self) -> Iterator[RawBatch]:
        needed = needed_columns(self.profile)
        sep = self.profile.list_separator
        with open(self.path, "rb") as f:
            line, chunk = 0, []
            for raw in _bounded_lines(f):
                line += 1
                chunk.append(raw)
                if len(chunk) == JSONL_LINES:
                    yield self._batch(chunk, line - len(chunk), needed, sep, f.tell())
                    chunk = []
            if chunk:
                yield self._batch(chunk, line - len(chunk), needed, sep, f.tell())

    def _batch(self, chunk, before, needed, sep, position) -> RawBatch:
        lines, problems, blank = [], [], 0
        listed = self.profile.columns.get("current_programs")  # the one list column
        cols: dict[str, list] = {name: [] for name in needed}
        for i, raw in enumerate(chunk):
            obj = self._parse(raw, before + i + 1)
            if obj is None:
                blank += 1
            elif isinstance(obj, RawRowProblem):
                problems.append(obj)
            else:
                lines.append(before + i + 1)
                for name in needed:
                    value = obj.get(name)
                    if name in self.numeric and isinstance(value, _Number):
                        value = _number_text(value)
                    cols[name].append(_cell(value, sep if name == listed else None))
                if self.absent_keys:  # a key of no line of the first batch, in a later one
                    self.absent_keys = [k for k in self.absent_keys if k not in obj]
        arrays = {name: pa.array(v, pa.string()) for name, v in cols.items()}
        return RawBatch(arrays, np.asarray(lines, np.int64), problems, blank, position)


def _encodable(obj) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


NUMERIC_KINDS = ("money", "area", "integer")


def _numeric_keys(profile: Profile) -> set[str]:
    """The export's keys that feed amounts, areas and counts only: their JSON numbers
    with an exponent are written out (`_number_text`). Any other column keeps a number's
    text as written: an ID 1.5042219500101002E17 (a double's 17 digits of 150422195001
    010004) was written out as 150422195001010020, a valid ID of another person, and its
    income joined to them (a blind test of messy exports)."""
    kinds: dict[str, set[str]] = {}
    for column, raw in profile.columns.items():
        kinds.setdefault(raw, set()).add(kind(profile.table, profile.canonical[column]))
    return {raw for raw, k in kinds.items() if k <= set(NUMERIC_KINDS)}


def _cell(v, sep: str | None) -> str | None:
    """A JSON value as a cell's text. An array is a list only in the list column
    (`sep`: joined by it); elsewhere it stays JSON text, which no column reads (a blind
    test: `["wage"]` was read as wage)."""
    if v is None or isinstance(v, str):
        return str(v) if isinstance(v, _Number) else v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list) and sep is not None:
        # a list whose names are all empty ([], [null], [" "]) is no program, not null
        # (the input digest of [] differs from null's)
        try:
            names = ["" if x is None else _cell(x, sep) for x in v]
        except RecursionError:  # hundreds of nested arrays: no names, its JSON text
            return json.dumps(v, ensure_ascii=False)
        text = sep.join("" if x == EMPTY_LIST else x for x in names)  # [[], "a"]: "a"
        return text if text.replace(sep, "").strip() else EMPTY_LIST
    try:
        return _json_text(v)
    except RecursionError:  # hundreds of nested arrays: json's own text, numbers quoted
        return json.dumps(v, ensure_ascii=False)


class _Number(str):
    """A JSON number's literal text (12345.60 stays "12345.60", never a float)."""


EXPONENT_DIGITS = 40  # a JSON number 1.5E7 is read as 15000000 up to this many places


def _number_text(v: _Number) -> str:
    """A JSON number as a cell: its literal text, but a number with an exponent that is
    whole to two decimals written out in digits, exactly: Java's Double.toString writes
    12,345,678 yuan as 1.2345678E7, a number by JSON's grammar, read as 12345678. Any
    other (1.0E-4, beyond two decimals; an exponent beyond EXPONENT_DIGITS places) keeps
    its text, which no amount or integer reads: its quarantine shows what the file has."""
    text = str(v)
    if "e" not in text and "E" not in text:
        return text
    try:
        number = decimal.Decimal(text)
    except decimal.InvalidOperation:  # 1E999999999999999999999: beyond what it holds
        return text
    if abs(number.adjusted()) > EXPONENT_DIGITS:
        return text
    plain = format(number, "f")
    return text if len(plain.partition(".")[2].rstrip("0")) > 2 else plain


def _json_text(v) -> str:
    """An array or object as JSON text again, its numbers as they were written (json.dumps
    would quote the number texts: a quarantine said {"v": "1"} for {"v": 1})."""
    if isinstance(v, _Number):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_json_text(x) for x in v) + "]"
    if isinstance(v, dict):
        items = (f"{json.dumps(k, ensure_ascii=False)}: {_json_text(x)}" for k, x in v.items())
        return "{" + ", ".join(items) + "}"
    return json.dumps(v, ensure_ascii=False)


def _object_once_each(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object whose keys are distinct: Python keeps the last of two equal keys,
    and the line would be read as one of two values silently (a blind test). Keys are
    trimmed, as a CSV header's cells are: a key "所得项目 " made every row
    `empty_required` (a blind test of messy exports)."""
    pairs = [(k.strip(), v) for k, v in pairs]
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"key {twice!r} twice in one object")
    return obj


def _lossy(raw: bytes, encoding: str = "utf-8") -> str:
    """A raw line as the quarantine's text, in the export's own encoding (a GB18030 line
    decoded as UTF-8 was mojibake, and its household was not found in it: a blind test
    of department exports); bytes it cannot decode (a cut line's last character) are
    U+FFFD."""
    return raw.decode(encoding, errors="replace").lstrip("\ufeff").rstrip("\r\n")[:500]


class ParquetExport:
    """Parquet rows keep their types (mapping decides: a date column stays a date, an
    amount in yuan is read exactly from a decimal or its text); line = 1-based row."""

    def __init__(self, path: Path, profile: Profile) -> None:
        self.path, self.profile = path, profile
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError, ValueError) as e:  # ValueError: a non-UTF-8 name
            raise ExportError(f"{path}: cannot read Parquet: {e}", file=str(path)) from None
        self.header = self._file.schema_arrow.names
        dup = {h for h in self.header if self.header.count(h) > 1} & set(needed_columns(profile))
        if dup:
            raise ExportError(f"{path}: column {min(dup)!r} appears twice in the file's schema")
        schema = self._file.schema_arrow
        kinds = {c.name: kind(profile.table, c) for c in TABLES[profile.table]}
        for col, raw in profile.columns.items():
            if (
                raw in self.header
                and (kinds.get(col) == "id" or col in NUMBERED_KEYS)
                and pa.types.is_floating(schema.field(raw).type)
            ):
                what = "ID number" if kinds.get(col) == "id" else "household or record number"
                raise ExportError(
                    f"{path}: column {raw!r} ({col}) is of Parquet type "
                    f"{schema.field(raw).type}: a float holds about 16 digits, so an "
                    f"18-digit {what} in it has lost its last digits (two may have become "
                    "one); export it as text",
                    file=str(path),
                )
            if (
                raw in self.header
                and kinds.get(col) in ("money", "area")
                and schema.field(raw).type in (pa.float16(), pa.float32())
            ):
                raise ExportError(
                    f"{path}: column {raw!r} ({col}) is of Parquet type "
                    f"{schema.field(raw).type}: it holds about "
                    f"{7 if schema.field(raw).type == pa.float32() else 3} digits, so "
                    "12,345,678.91 is not 12,345,678.91 in it; export it as a decimal, float64 "
                    "or text",
                    file=str(path),
                )
            if raw in self.header and not _readable(
                schema.field(raw).type, col == "current_programs"
            ):
                raise ExportError(
                    f"{path}: column {raw!r} ({col}) is of Parquet type "
                    f"{schema.field(raw).type}, which has no text form to map; give it as "
                    "text, a number, a decimal, a boolean, a date or a timestamp"
                    + (" (or a list of strings)" if col == "current_programs" else ""),
                    file=str(path),
                )

    def batches(self) -> Iterator[RawBatch]:
        needed = needed_columns(self.profile)
        row = 0
        total = max(1, self._file.metadata.num_rows)
        size = self.path.stat().st_size
        batches = self._file.iter_batches(batch_size=PARQUET_ROWS, columns=needed)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as e:  # a corrupt page (found by fuzzing)
                why = (str(e).strip() or type(e).__name__).splitlines()[0]
                raise ExportError(
                    f"{self.path}: cannot read Parquet data (truncated or corrupt?): {why}",
                    file=str(self.path),
                ) from None
            n = batch.num_rows
            cols = {name: self._text(name, batch.column(name), row) for name in needed}
            lines = np.arange(row + 1, row + n + 1, dtype=np.int64)
            row += n
            yield RawBatch(cols, lines, [], 0, position=size * row // total)

    def _text(self, name: str, values: pa.Array, before: int) -> pa.Array:
        """The column, a binary one as UTF-8 text, or the ExportError naming the first row
        whose text is not UTF-8. Parquet's reader does not check that a string column is
        UTF-8 (found by fuzzing: a corrupt one reached the mapping), so strings, binary
        text, dictionaries and lists of them are all checked, by the bundle reader's check."""
        values = _as_text(values)
        bad = first_bad_utf8_row(values)
        if bad is not None:  # the value is not shown: it may be a resident ID number
            where = f"row {before + bad + 1}, column {name!r}" if bad >= 0 else f"column {name!r}"
            raise ExportError(
                f"{self.path}: {where}: not UTF-8 text (Parquet text is UTF-8: the file is"
                " corrupt)",
                file=str(self.path),
                line=before + bad + 1 if bad >= 0 else None,
            )
        return values


def _as_text(values: pa.Array) -> pa.Array:
    """Binary data as the strings its bytes spell, before their UTF-8 check: plain,
    large, fixed-size and view binary, dictionaries of them, and lists of them (fuzzing
    and a blind test: fixed-size, dictionary and view binary and list<binary> reached
    the mapping unchecked, ending the ingest in a traceback or reading b'…' as text)."""
    t = values.type
    if pa.types.is_dictionary(t):
        return _as_text(values.dictionary_decode())
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        items = _as_text(values.values)
        if items.type == values.type.value_type:
            return values
        kind = pa.ListArray if pa.types.is_list(t) else pa.LargeListArray
        return kind.from_arrays(values.offsets, items, mask=values.is_null())
    if pa.types.is_fixed_size_binary(t) or pa.types.is_binary_view(t):
        values = values.cast(pa.binary())
    elif pa.types.is_string_view(t):
        values = values.cast(pa.string())
    if pa.types.is_binary(values.type):
        return values.view(pa.string())
    if pa.types.is_large_binary(values.type):
        return values.view(pa.large_string())
    return values


def _readable(t: pa.DataType, list_column: bool) -> bool:
    """A Parquet type the mapping can read: anything with a text form (Arrow's cast to
    string), and for current_programs also a list of such values."""
    if list_column and (pa.types.is_list(t) or pa.types.is_large_list(t)):
        return _readable(t.value_type, False)
    try:
        pa.array([], t).cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return False
    return True
