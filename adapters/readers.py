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
import csv as pycsv
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from meanstest.adapters.profile import Profile, ProfileError

from meanstest.bundle import first_bad_utf8_row
from meanstest.errors import MeansTestError

BLOCK_BYTES = 8 << 20  # CSV block per batch (and the longest CSV record)
MAX_LINE_BYTES = 16 << 20  # a longer JSON Lines line (or CSV header) is never read whole
JSONL_LINES = 65_536  # JSON Lines per batch
PARQUET_ROWS = 262_144


class ExportError(MeansTestError):
    """A raw export cannot be read at all (names the file and the reason)."""


@dataclass
class RawRowProblem:
    line: int
    reason: str  # bad_row | bad_json
    detail: str
    raw: str


@dataclass
class RawBatch:
    columns: dict[str, pa.Array]  # raw column name -> values
    lines: np.ndarray  # int64 physical line of each row
    problems: list[RawRowProblem] = field(default_factory=list)
    blank_lines: int = 0
    position: int = 0  # bytes of the file consumed so far (for progress)

    @property
    def num_rows(self) -> int:
        return len(self.lines)


def open_export(path: str | Path, profile: Profile):
    """The reader of one export file under `profile`; `.header` is checked against
    the profile's mapped columns on opening, before any row is read."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: raw export not found", file=str(path))
    reader = {"csv": CsvExport, "jsonl": JsonlExport, "parquet": ParquetExport}[profile.format]
    export = reader(path, profile)
    missing = [raw for raw in profile.columns.values() if raw not in export.header]
    if missing:
        found = ", ".join(export.header[:30]) or "none"
        raise ProfileError(
            profile.path,
            "columns",
            f"{path}: no column {missing[0]!r} in the export (columns found: {found})"
            + _hint(path, profile, export.header),
        )
    return export


def _hint(path: Path, profile: Profile, header: list[str]) -> str:
    """Why a header may lack the profile's columns: another delimiter, a UTF-8 file read
    as GB18030 (which decodes almost any bytes, into nonsense), or no JSON object."""
    if profile.format == "jsonl" and not header:
        return f"; no JSON object in its first {JSONL_LINES:,} lines (an empty file?)"
    if profile.format != "csv":
        return ""
    if len(header) == 1 and (others := [d for d in ",;\t|" if d in header[0]]):
        return f"; the header splits on {others[0]!r}, not {profile.delimiter!r}: is the delimiter right?"
    if codecs.lookup(profile.encoding).name != "utf-8":
        with open(path, "rb") as f:
            head = f.read(1 << 16)
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as e:
            text = head[: e.start].decode("utf-8") if e.start > len(head) - 4 else ""
        if not text.isascii():
            return f"; the file reads as UTF-8, not {profile.encoding}: is the encoding right?"
    return ""


def _needed(profile: Profile) -> list[str]:
    return list(dict.fromkeys(profile.columns.values()))


class CsvExport:
    def __init__(self, path: Path, profile: Profile) -> None:
        self.path, self.profile = path, profile
        try:
            with open(path, encoding=profile.encoding, newline="") as f:
                head = f.read(1)
                if head != "\ufeff":  # a UTF-8 BOM (any "utf-8" accepts one)
                    f.seek(0)
                for _ in range(profile.skip_rows):
                    f.readline(MAX_LINE_BYTES)
                lines = _bounded_text_lines(f, path)
                self.header = next(pycsv.reader(lines, delimiter=profile.delimiter), [])
                # a header-only file whose header line has no newline: no rows (pyarrow
                # could not skip the header line)
                self.no_rows = not f.read(1)
        except UnicodeDecodeError as e:
            raise _not_text(path, profile.encoding, e) from None
        except LookupError as e:
            raise ExportError(f"{path}: not {profile.encoding} text: {e}", file=str(path)) from None
        except pycsv.Error as e:
            raise ExportError(f"{path}: cannot read the CSV header: {e}", file=str(path)) from None
        if not self.header:  # csv yields [] for an empty line
            line = profile.skip_rows + 1
            why = (
                f"line {line} is empty (skip_rows skips lines before the header)"
                if not self.no_rows
                else "the file is empty"
                + (f" after {profile.skip_rows} skipped line(s)" if profile.skip_rows else "")
                + "; an export without rows still has its header line"
            )
            raise ExportError(f"{path}: no header line ({why})", file=str(path))
        self.header = [h.strip() for h in self.header]
        dup = {h for h in self.header if self.header.count(h) > 1} & set(_needed(profile))
        if dup:
            raise ExportError(f"{path}: column {min(dup)!r} appears twice in the header")
        self.header_lines = profile.skip_rows + 1 + sum(h.count("\n") for h in self.header)

    def batches(self) -> Iterator[RawBatch]:
        if self.no_rows:
            return
        p = self.profile
        rejected: list[tuple[int, str]] = []  # (record number, text) in order

        def on_invalid(row) -> str:
            rejected.append((row.number, row.text))
            return "skip"

        read = pacsv.ReadOptions(
            use_threads=False,  # the serial reader knows record numbers
            block_size=BLOCK_BYTES,
            skip_rows=p.skip_rows + 1,
            column_names=self.header,
            encoding=p.encoding,
        )
        parse = pacsv.ParseOptions(
            delimiter=p.delimiter,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid,
        )
        convert = pacsv.ConvertOptions(
            column_types=dict.fromkeys(self.header, pa.string()), strings_can_be_null=False
        )
        needed = _needed(p)
        # pyarrow numbers records from 1 at the file's start; the first data record is
        # number skip_rows + 2, its line header_lines + 1 (a header may hold newlines)
        first = p.skip_rows + 2
        newlines_before = self.header_lines - (p.skip_rows + 1)
        valid_seen = 0  # valid records (blank ones included) before this batch
        bad_numbers: list[int] = []
        pending: list[tuple[int, str]] = []
        bad_newlines: list[int] = []
        taken = 0
        source = pa.OSFile(str(self.path))
        try:
            reader = pacsv.open_csv(
                source, read_options=read, parse_options=parse, convert_options=convert
            )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    batch = None
                # rows rejected while parsing this block (serial: none from a later block)
                fresh = rejected[taken:]
                taken = len(rejected)
                if batch is None and not pending and not fresh:
                    break
                n = 0 if batch is None else batch.num_rows
                cols = {} if batch is None else dict(zip(self.header, batch.columns))
                field_nl, blank = _newlines_and_blanks(list(cols.values()), n)
                for number, text in fresh:
                    bad_numbers.append(number)
                    bad_newlines.append(text.count("\n"))
                nb = np.asarray(bad_numbers, dtype=np.int64)
                nl = np.concatenate(([0], np.cumsum(bad_newlines, dtype=np.int64)))
                # record number of each valid row: the k-th record that was not rejected
                k = valid_seen + np.arange(n, dtype=np.int64)
                gaps = nb - first - np.arange(len(nb), dtype=np.int64)
                number = first + k + np.searchsorted(gaps, k, side="right")
                within = np.concatenate(([0], np.cumsum(field_nl)))  # before row i (+ total)
                lines = number + newlines_before + within[:-1] + nl[np.searchsorted(nb, number)]
                # a rejected record may be reported a block early: place it once the valid
                # records before it are known (all of them at the end of the file)
                pending.extend(fresh)
                problems, waiting = [], []
                for number_bad, text in pending:
                    if batch is not None and (n == 0 or number_bad > number[-1]):
                        waiting.append((number_bad, text))
                        continue
                    before = newlines_before + within[np.searchsorted(number, number_bad)]
                    line = number_bad + before + nl[np.searchsorted(nb, number_bad)]
                    fields = len(_split(text, p.delimiter))
                    detail = f"{fields} field(s), the header has {len(self.header)}"
                    problems.append(RawRowProblem(int(line), "bad_row", detail, text))
                pending = waiting
                valid_seen += n
                newlines_before += int(within[-1])
                keep = ~blank
                out = {name: cols.get(name, pa.array([], pa.string())) for name in needed}
                if not keep.all():
                    mask = pa.array(keep)
                    out = {name: a.filter(mask) for name, a in out.items()}
                yield RawBatch(out, lines[keep], problems, int(blank.sum()), source.tell())
                if batch is None:
                    break
        except UnicodeDecodeError as e:  # past the header (found by fuzzing)
            raise _not_text(self.path, p.encoding, e) from None
        except pa.ArrowInvalid as e:
            # A record with the wrong number of fields that is not text either never
            # reaches on_invalid (pyarrow decodes it first, fails, and stops on the field
            # count): the file's encoding is the error to name. Found by fuzzing.
            undecodable = _first_bad_line(self.path, p.encoding)
            if undecodable is not None:
                raise _not_text(self.path, p.encoding, undecodable[1], undecodable[0]) from None
            why = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
            if "straddl" in why:  # pyarrow's words for a record longer than a block
                why = f"a record longer than {BLOCK_BYTES >> 20} MB (an unclosed quote?)"
            raise ExportError(
                f"{self.path}: cannot parse as CSV: {why}", file=str(self.path)
            ) from None
        finally:
            source.close()


@contextmanager
def quiet_undecodable_records():
    """Within the block, drop Python's "Exception ignored in ... on_invalid" note.

    pyarrow decodes a CSV record of the wrong number of fields before it calls the
    reader's invalid-row handler; when the record is not text, that decoding error
    cannot be raised, and Python prints it with a traceback, just before the reader's
    own error naming the file's encoding and the line (CsvExport.batches). Nothing else
    is dropped: other unraisable exceptions go to the hook that was there before."""
    previous = sys.unraisablehook

    def hook(args) -> None:
        handler = getattr(args.object, "__qualname__", "")
        if isinstance(args.exc_value, UnicodeDecodeError) and handler.startswith("CsvExport."):
            return
        previous(args)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _not_text(
    path: Path, encoding: str, e: UnicodeDecodeError, line: int | None = None
) -> ExportError:
    """The error for a file that is not `encoding` text, naming the first physical line
    that does not decode (`line`, else found by decoding the file again, line by line)."""
    if line is None:
        found = _first_bad_line(path, encoding)
        line = found[0] if found else None
    where = f" at line {line}" if line else ""
    return ExportError(
        f"{path}: not {encoding} text{where} ({e.reason}, byte {e.object[e.start : e.end]!r}); "
        "is the profile's encoding right?",
        file=str(path),
        line=line,
    )


def _first_bad_line(path: Path, encoding: str) -> tuple[int, UnicodeDecodeError] | None:
    """(line, its decoding error) of the first physical line of the file that does not
    decode in `encoding`, or None when the whole file does."""
    decoder = codecs.getincrementaldecoder(encoding)()
    newlines = 0
    with open(path, "rb") as f:
        for raw in iter(lambda: f.readline(1 << 20), b""):
            try:
                newlines += decoder.decode(raw).count("\n")
            except UnicodeDecodeError as e:
                return newlines + 1, e
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:
            return newlines + 1, e
    return None


def _bounded_text_lines(f, path: Path):
    """Lines of a text file for the header reader, none longer than MAX_LINE_BYTES."""
    while line := f.readline(MAX_LINE_BYTES):
        if len(line) == MAX_LINE_BYTES and not line.endswith("\n"):
            raise ExportError(
                f"{path}: a header line longer than {MAX_LINE_BYTES >> 20} MB", file=str(path)
            )
        yield line


class _TooLong(bytes):
    """The first bytes of a JSON Lines line longer than MAX_LINE_BYTES (skipped unread)."""


def _bounded_lines(f):
    """Lines of a binary file; an over-long line is skipped in bounded reads and yielded
    as a _TooLong prefix, so memory stays bounded whatever the file holds."""
    while raw := f.readline(MAX_LINE_BYTES + 1):
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            raw = _TooLong(raw[:500])
        yield raw


def _newlines_and_blanks(columns: list[pa.Array], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: newlines held in its fields, and whether every field is empty (a blank
    line). Cheap when, as usual, no field holds a newline: one memchr per column."""
    field_nl = np.zeros(n, dtype=np.int64)
    for arr in columns:
        data = arr.buffers()[2]
        if data is not None and memoryview(data).tobytes().find(b"\n") >= 0:
            field_nl += pc.count_substring(arr, "\n").to_numpy()
    blank = np.zeros(n, dtype=np.bool_)
    if columns and n:
        blank = pc.equal(columns[0], "").to_numpy(zero_copy_only=False)
        if blank.any():
            rows = pa.array(np.flatnonzero(blank))
            for arr in columns[1:]:
                sub = pc.equal(arr.take(rows), "").to_numpy(zero_copy_only=False)
                blank[rows.to_numpy()] &= sub
    return field_nl, blank


def _split(text: str, delimiter: str) -> list[str]:
    try:
        return next(pycsv.reader(io.StringIO(text), delimiter=delimiter))
    except (StopIteration, pycsv.Error):
        return [text]


class JsonlExport:
    """One JSON object per line. Numbers keep their literal text (12345.60 stays
    "12345.60", never a float); true/false become "true"/"false"; an array (for
    `current_programs`) is joined with the profile's list separator. The header is the
    keys of the first batch of lines; a key absent from a line is an empty cell."""

    def __init__(self, path: Path, profile: Profile) -> None:
        self.path, self.profile = path, profile
        keys: dict[str, None] = {}
        with open(path, "rb") as f:
            for i, raw in enumerate(_bounded_lines(f)):
                if i == JSONL_LINES:
                    break
                obj = self._parse(raw, i + 1)
                if isinstance(obj, dict):
                    keys.update(dict.fromkeys(obj))
        self.header = list(keys)

    def _parse(self, raw: bytes, line: int) -> dict | RawRowProblem | None:
        """The object of one line, None for a blank line, or the problem."""
        if isinstance(raw, _TooLong):
            detail = f"line longer than {MAX_LINE_BYTES >> 20} MB"
            return RawRowProblem(line, "bad_json", detail, _lossy(raw))
        if not raw.strip():
            return None
        try:
            text = raw.decode(self.profile.encoding)
            if line == 1 and text.startswith("\ufeff"):
                text = text[1:]
            obj = json.loads(text, parse_float=str, parse_int=str)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:  # deep nesting too
            return RawRowProblem(line, "bad_json", str(e) or type(e).__name__, _lossy(raw))
        if not isinstance(obj, dict):
            return RawRowProblem(line, "bad_json", "not a JSON object", _lossy(raw))
        if b"\\u" in raw and not _encodable(obj):  # "\ud800": a lone surrogate
            return RawRowProblem(line, "bad_json", "a lone surrogate escape", _lossy(raw))
        return obj

    def batches(self) -> Iterator[RawBatch]:
        needed = _needed(self.profile)
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
                    cols[name].append(_cell(obj.get(name), sep))
        arrays = {name: pa.array(v, pa.string()) for name, v in cols.items()}
        return RawBatch(arrays, np.asarray(lines, np.int64), problems, blank, position)


def _encodable(obj) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _cell(v, sep: str) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return sep.join("" if x is None else _cell(x, sep) for x in v)
    return json.dumps(v, ensure_ascii=False)


def _lossy(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")[:500]


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
        schema = self._file.schema_arrow
        for col, raw in profile.columns.items():
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
        needed = _needed(self.profile)
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
        t = values.type
        if pa.types.is_binary(t):
            values = values.view(pa.string())
        elif pa.types.is_large_binary(t):
            values = values.view(pa.large_string())
        bad = first_bad_utf8_row(values)
        if bad is not None:  # the value is not shown: it may be a resident ID number
            where = f"row {before + bad + 1}, column {name!r}" if bad >= 0 else f"column {name!r}"
            raise ExportError(
                f"{self.path}: {where}: not UTF-8 text (Parquet text is UTF-8: the file is"
                " corrupt)",
                file=str(self.path),
                line=before + bad + 1 if bad >= 0 else None,
            )
        return values.cast(pa.string()) if pa.types.is_large_binary(t) else values


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
