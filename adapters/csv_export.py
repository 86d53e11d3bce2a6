"""The CSV reader of raw department exports (any encoding, BOM or not, any delimiter),
streamed in blocks of BLOCK_BYTES; line numbers as in readers.py's docstring."""

from __future__ import annotations

import codecs
import csv as pycsv
import re
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from meanstest.adapters.csv_quotes import MAX_REPORTED, quote_problems
from meanstest.adapters.profile import Profile
from meanstest.adapters.raw import (
    MAX_LINE_BYTES,
    ExportError,
    RawBatch,
    RawRowProblem,
    blank,
    needed_columns,
)

BLOCK_BYTES = 8 << 20  # CSV block per batch (and the longest CSV record)
MAX_HEADER_FIELDS = 16_384  # a spreadsheet's columns (Excel's limit)
MAX_FIELDS_WITHOUT_ROWS = 1_000  # a header-only file wider than this lost its line breaks


def _line_breaks_lost(path: Path, header: list[str], no_rows: bool) -> None:
    """Refuse a header no export has: wider than a spreadsheet, or a file whose only line
    holds more than MAX_FIELDS_WITHOUT_ROWS fields. An export that lost its line breaks
    is one line, read as a header of every cell: 32,000 vehicle rows so became "read 0",
    exit 0, and their households looked as if they owned no vehicle (a blind test)."""
    if len(header) > MAX_HEADER_FIELDS or (no_rows and len(header) > MAX_FIELDS_WITHOUT_ROWS):
        what = "its header line" if not no_rows else "its only line"
        raise ExportError(
            f"{path}: {what} holds {len(header):,} fields: has the export lost its line "
            "breaks, or is the delimiter wrong? (a header has at most "
            f"{MAX_HEADER_FIELDS:,} fields; a file without rows at most "
            f"{MAX_FIELDS_WITHOUT_ROWS:,})",
            file=str(path),
        )


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
            raise not_text(path, profile, e) from None
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
        swallowing = [h for h in self.header if "\n" in h and profile.delimiter in h]
        if swallowing:  # a cell broken in Excel holds a line break, not whole lines
            raise ExportError(
                f"{path}: a quoted header cell runs over lines that hold "
                f"{profile.delimiter!r}: an unclosed quote in the header? (cell "
                f"{swallowing[0].splitlines()[0][:40]!r}…)",
                file=str(path),
            )
        _line_breaks_lost(path, self.header, self.no_rows)
        self.header = [h.strip() for h in self.header]
        seen = Counter(self.header)  # linear: 48,000 fields took 24 s with list.count
        dup = {h for h, k in seen.items() if k > 1} & set(needed_columns(profile))
        if dup:
            raise ExportError(f"{path}: column {min(dup)!r} appears twice in the header")
        self.header_lines = profile.skip_rows + 1 + sum(line_breaks(h) for h in self.header)

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
            skip_rows=self.header_lines,  # physical lines: pyarrow's skip ignores quotes
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
        needed = needed_columns(p)
        quotes = quote_problems(
            self.path,
            p.encoding,
            p.delimiter,
            self.header_lines,
            [h in needed for h in self.header],
        )
        candidates = _Candidates(quotes)
        if quotes.after_quote_count > MAX_REPORTED:
            raise ExportError(
                f"{self.path}: {quotes.after_quote_count:,} records have text after the closing "
                "quote of a mapped field: is the delimiter right, or does the export quote "
                "its fields?",
                file=str(self.path),
            )
        # pyarrow numbers records from 1 at the file's start, each skipped line a record;
        # the first data record is number header_lines + 1, on that line
        first = self.header_lines + 1
        newlines_before = 0
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
                    bad_newlines.append(line_breaks(text))
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
                problems, waiting, blank_records = [], [], 0
                for number_bad, text in pending:
                    if batch is not None and (n == 0 or number_bad > number[-1]):
                        waiting.append((number_bad, text))
                        continue
                    if _all_empty(text, p.delimiter):
                        # every field empty or whitespace, fewer than the header's: a
                        # blank line, as such a line with the header's fields is
                        blank_records += 1
                        continue
                    before = newlines_before + within[np.searchsorted(number, number_bad)]
                    line = number_bad + before + nl[np.searchsorted(nb, number_bad)]
                    detail = _bad_row_detail(text, p.delimiter, len(self.header))
                    problems.append(RawRowProblem(int(line), "bad_row", detail, text))
                pending = waiting
                valid_seen += n
                newlines_before += int(within[-1])
                columns = [] if batch is None else batch.columns  # by place: names may repeat
                misquoted = _misquoted(
                    quotes, candidates, lines[:n], field_nl, columns, self.header, p
                )
                problems += misquoted.problems
                keep = ~blank & ~misquoted.rows
                out = {name: cols.get(name, pa.array([], pa.string())) for name in needed}
                if not keep.all():
                    mask = pa.array(keep)
                    out = {name: a.filter(mask) for name, a in out.items()}
                blanks = int(blank.sum()) + blank_records
                yield RawBatch(
                    out, lines[keep], problems, blanks, source.tell(), misquoted.remark_lines
                )
                if batch is None:
                    break
        except UnicodeDecodeError as e:  # past the header (found by fuzzing)
            raise not_text(self.path, p, e) from None
        except pa.ArrowInvalid as e:
            # A record with the wrong number of fields that is not text either never
            # reaches on_invalid (pyarrow decodes it first, fails, and stops on the field
            # count): the file's encoding is the error to name. Found by fuzzing.
            undecodable = _first_bad_line(self.path, p.encoding)
            if undecodable is not None:
                raise not_text(self.path, p, undecodable[1], undecodable[0]) from None
            why = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
            if "straddl" in why:  # pyarrow's words for a record longer than a block
                why = f"a record longer than {BLOCK_BYTES >> 20} MB (an unclosed quote?)"
            raise ExportError(
                f"{self.path}: cannot parse as CSV: {why}", file=str(self.path)
            ) from None
        finally:
            source.close()


@contextmanager
def quiet_undecodable_records() -> Iterator[None]:
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


def not_text(
    path: Path, profile: Profile, e: UnicodeDecodeError, line: int | None = None
) -> ExportError:
    """The error for a file that is not text in its profile's encoding, naming the first
    physical line that does not decode (`line`, else found by decoding the file again,
    line by line) and the profile's key to look at."""
    encoding = profile.encoding
    if line is None:
        found = _first_bad_line(path, encoding)
        line = found[0] if found else None
    where = f" at line {line}" if line else ""
    return ExportError(
        f"{path}: not {encoding} text{where} ({e.reason}, byte {e.object[e.start : e.end]!r}); "
        f"is {profile.path}'s profile.encoding right?",
        file=str(path),
        line=line,
    )


def line_breaks(text: str) -> int:
    """The physical line breaks in `text`: a line feed, a CRLF or a lone CR each one
    (docs/adapters.md: lines end in LF, CRLF or CR, in a quoted field too; a blind test
    of an old Mac Excel export, CR only, found every line after a quoted CR numbered one
    too low)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _first_bad_line(path: Path, encoding: str) -> tuple[int, UnicodeDecodeError] | None:
    """(line, its decoding error) of the first physical line of the file that does not
    decode in `encoding`, or None when the whole file does."""
    decoder = codecs.getincrementaldecoder(encoding)()
    newlines, cr = 0, False  # cr: the last text ended in a CR (a CRLF cut in two)
    with open(path, "rb") as f:
        for raw in iter(lambda: f.readline(1 << 20), b""):  # a CR-only file: 1 MB pieces
            try:
                text = decoder.decode(raw)
            except UnicodeDecodeError as e:
                # the line breaks before the bad byte of this piece (a CR-only file)
                text = e.object[: e.start].decode(encoding, errors="replace")
                return newlines + line_breaks(text) - (cr and text.startswith("\n")) + 1, e
            newlines += line_breaks(text) - (cr and text.startswith("\n"))
            cr = text.endswith("\r") if text else cr
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


def _all_empty(text: str, delimiter: str) -> bool:
    """Whether every field of a record's text is blank (`","` is one field holding a
    comma, not two empty ones)."""
    try:
        fields = next(pycsv.reader([text], delimiter=delimiter), [])
    except pycsv.Error:
        return False
    return all(blank(f) for f in fields)


def _empty(arr: pa.Array) -> np.ndarray:
    """Cells that are empty once trimmed of Unicode whitespace (as mapping trims them)."""
    return pc.equal(pc.utf8_trim_whitespace(arr), "").to_numpy(zero_copy_only=False)


def _newlines_and_blanks(columns: list[pa.Array], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: newlines held in its fields, and whether every field is empty or only
    whitespace (a blank line: a cell is trimmed, so ` , , ` is a row of empty cells as
    `,,` is; a blind test got five empty_required entries for it). Cheap when, as
    usual, no field holds a newline: one memchr per column."""
    field_nl = np.zeros(n, dtype=np.int64)
    for arr in columns:
        data = arr.buffers()[2]
        if data is None:
            continue
        raw = memoryview(data).tobytes()
        if raw.find(b"\n") >= 0:
            field_nl += pc.count_substring(arr, "\n").to_numpy()
        if raw.find(b"\r") >= 0:  # a lone CR is a line break too, a CRLF one break
            lone = pc.subtract(pc.count_substring(arr, "\r"), pc.count_substring(arr, "\r\n"))
            field_nl += lone.to_numpy()
    blank = np.zeros(n, dtype=np.bool_)
    if columns and n:
        blank = _empty(columns[0])
        if blank.any():
            rows = pa.array(np.flatnonzero(blank))
            for arr in columns[1:]:
                sub = _empty(arr.take(rows))
                blank[rows.to_numpy()] &= sub
    return field_nl, blank


@dataclass
class _Misquoted:
    rows: np.ndarray  # bool per row of the batch
    problems: list[RawRowProblem]
    remark_lines: list[int]  # candidates read as remarks: kept, and said


class _Candidates:
    """csv_quotes' records that may hold a row, looked up by line once per file (a
    review: rebuilding this per batch cost 22 s for 2M multi-line remarks)."""

    def __init__(self, quotes) -> None:
        self.lines = np.unique(quotes.swallowed)
        self.fields: dict[int, list[int]] = {}
        for line, field in zip(
            quotes.swallowed.tolist(), quotes.swallowed_field.tolist(), strict=True
        ):
            self.fields.setdefault(line, []).append(field)


def _misquoted(quotes, candidates, lines, field_nl, columns, header, profile) -> _Misquoted:
    """The batch's rows that pyarrow read from a misquoted record (csv_quotes), as
    bad_row problems: their text is the row's cells rejoined."""
    delimiter = profile.delimiter
    rows = np.zeros(len(lines), dtype=np.bool_)
    if quotes.after_quote.size:
        rows |= np.isin(lines, quotes.after_quote)
    swallowing = np.zeros(len(lines), dtype=np.bool_)
    remarks = np.zeros(len(lines), dtype=np.bool_)
    if len(candidates.lines):
        swallowing, remarks = _swallowing_rows(candidates, lines, columns, header, profile)
        rows |= swallowing
    if quotes.unclosed:
        rows |= lines == quotes.unclosed
    problems = []
    for i in np.flatnonzero(rows).tolist():
        text = delimiter.join(str(c[i].as_py()) for c in columns)
        if int(lines[i]) == quotes.unclosed:
            detail = (
                "a quoted field opened here is never closed: everything after it, to the "
                "end of the file, was read into it (an unclosed quote)"
            )
        elif swallowing[i]:
            detail = (
                f"a quoted field holds the cells of a whole row of the header's {len(columns)} "
                f"fields, across {int(field_nl[i]):,} line break(s): rows read into one "
                "field, a quote not closed where it should be?"
            )
        else:
            detail = 'text after the closing quote of a mapped field ("12"34 would read 1234)'
        detail += " (raw value: the record's cells as read, rejoined by the delimiter)"
        problems.append(RawRowProblem(int(lines[i]), "bad_row", detail, text))
    return _Misquoted(rows, problems, lines[remarks & ~rows].tolist())


def _swallowing_rows(candidates: _Candidates, lines, columns, header, profile):
    """Rows whose quoted cell holds another row (csv_quotes' candidates, bool per row).
    The cell's text is cut where the rows would be — its first line ends with the
    swallowed row's cells after this column, its last line starts with the next row's
    cells before it, a whole line in between is a whole row — and the cells there that
    the profile maps and that can be wrong (an ID, an amount, a date, an enumeration…,
    not free text) are mapped. The record is a bad row when the cell is in a column the
    profile maps (a plate, an amount: no remark), when there is no such cell, when a cut
    cell of an ID column is a valid resident ID (a swallowed row brings its ID; a remark
    almost never holds one where the ID column would be), or when at least half of the
    cut cells map. A remark or an address broken over lines, commas, years and all, rarely
    does either, and its row stays — its line counted in ingest.json
    (`remarks_over_lines`) and warned of, since a swallowed row with no ID and few good
    cells looks the same (a quarantine entry per such row, tried first, made 300,000
    addresses over lines 300,000 entries for rows that were kept). Reviews pulled both ways: on delimiter counts alone such remarks were
    quarantined; asking half of the cells to map let a dirty swallowed row vanish or give
    one person's car to another; asking any one to map quarantined a remark listing
    years ("2019" read as an amount). -> (bad rows, candidates kept as remarks)."""
    from meanstest.adapters import adapter_for
    from meanstest.adapters.mapping import checkable, rows_map

    flagged = np.zeros(len(lines), dtype=np.bool_)
    candidate = np.isin(lines, candidates.lines)
    if not candidate.any():
        return flagged, candidate
    n, d = len(columns), profile.delimiter
    canonical = {raw: c for c, raw in profile.columns.items()}
    check = {j: canonical[h] for j, h in enumerate(header) if checkable(profile, canonical.get(h))}
    by_field: dict[int, list[int]] = {}  # quoted field -> candidate rows
    for i in np.flatnonzero(candidate).tolist():
        for k in candidates.fields[int(lines[i])]:
            by_field.setdefault(k, []).append(i)
    owners, hidden = [], []  # candidate row of each cut; its checkable cells
    for k, rows in by_field.items():
        if k >= n or header[k] in canonical:
            # the scanner saw a row's delimiters beyond the cells, or the cell is one the
            # profile maps (a plate, an amount…): no remark, a swallowed row
            flagged[rows] = True
            continue
        texts = columns[k].take(pa.array(rows, pa.int64())).to_pylist()
        for i, text in zip(rows, texts, strict=True):
            cuts = _cuts(text or "", k, n, d)
            if not cuts:  # the scanner saw a row's delimiters the cell does not show
                flagged[i] = True
            for cut in cuts:
                owners.append(i)
                hidden.append({check[j]: v.strip() for j, v in cut.items() if j in check})
    if hidden:
        mapped, checked, ids = rows_map(profile, adapter_for(profile.table), hidden)
        for i, good, total, valid_id in zip(
            owners, mapped.tolist(), checked.tolist(), ids.tolist(), strict=True
        ):
            if total == 0 or valid_id > 0 or 2 * good >= total:
                flagged[i] = True
    return flagged, candidate & ~flagged


def _cuts(text: str, k: int, n: int, d: str) -> list[dict[int, str]]:
    """The cells (column place -> text) a quoted cell of column k of n would hold if it
    had swallowed rows: the tail of its row and the head of the next, and each whole line
    between."""
    segments = [s.rstrip("\r") for s in text.split("\n")]
    after, cuts = n - 1 - k, []
    if len(segments) >= 2:
        first, last = segments[0].split(d), segments[-1].split(d)
        if len(first) - 1 >= after and len(last) - 1 >= k:
            cut = dict(zip(range(k + 1, n), first[len(first) - after :] if after else []))
            cut.update(zip(range(k), last[:k]))
            cuts.append(cut)
    for s in segments[1:-1]:
        pieces = s.split(d)
        if len(pieces) >= n:
            cut = dict(zip(range(k), pieces[:k]))
            cut.update(zip(range(k + 1, n), pieces[len(pieces) - after :] if after else []))
            cuts.append(cut)
    return cuts


_QUOTED = re.compile(r'"[^"]*(?:"|$)')


def _bad_row_detail(text: str, delimiter: str, width: int) -> str:
    """Why a record was not a row: its field count (delimiters outside quotes: no field
    size limit, which miscounted a long record), and when a quote holds line breaks, how
    many lines the record took (an unclosed quote swallows the lines after it)."""
    fields = _QUOTED.sub("", text).count(delimiter) + 1
    if fields == width:  # the count outside quotes agrees: its quotes are what failed
        detail = f"its quotes cannot be read as fields (the header has {width})"
    else:
        detail = f"{fields} field(s), the header has {width}"
    lines = line_breaks(text) + 1
    if lines > 1 and '"' in text:
        detail += f"; a quoted field runs over {lines:,} lines: an unclosed quote?"
    return detail
