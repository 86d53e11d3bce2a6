"""Quoting mistakes in a CSV export that pyarrow's reader accepts silently, found by one
pass over the file's bytes before it is read.

- **A quoted field still open at the end of the file.** pyarrow reads every line after
  the quote into that field; when the field is the row's last, the row still has the
  header's number of fields, so the rows after it vanished without a quarantine entry
  (a blind test: one stray quote in a remarks column, the last 22 rows of a file gone).
- **A quoted field holding another row.** A quote opened in one row and closed by a
  later row's quote reads the rows between into one field. When the quote closes in the
  same column of the next row (two stray quotes in a remarks column), the record keeps
  the header's number of fields: the first row's cells before the quote, the second's
  after it (a blind test: one household's bank row given another's balance, the other
  row gone). A quoted field across line breaks whose first line holds the delimiters of
  the fields after it and whose last line those of the fields before it (or any of
  whose whole lines holds a row's delimiters) makes its record a candidate; the reader
  (csv_export) maps the cells it would cut it into and decides. Every candidate is
  collected, a piece of the file at a time.
- **Text after the closing quote of a mapped field** (`"12"34`): pyarrow reads it on as
  part of the field ("1234"), an amount nobody wrote. Spaces, tabs and any non-ASCII
  character after the quote are let pass (a cell is trimmed of Unicode whitespace; the
  non-ASCII text of a remark, `"他说"好的`, is still text), and so is anything in a
  column the profile does not map: its value is never read.

The pass follows pyarrow's grammar (quote `"`, doubled `""` inside a quoted field, a
quote only opens a field at its start; line breaks `\\n`, `\\r\\n` or a lone `\\r`,
inside quotes as outside, as the reader counts lines) over the file's bytes
when the encoding keeps ASCII's bytes for ASCII (UTF-8, mapped; GB18030 and GBK,
whose two- and four-byte characters are stepped over), else over the file decoded and
re-encoded as UTF-8 a block at a time (the state carries across blocks). It names each
record by its first physical line, the reader's `lines`.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

_FIELD_START, _UNQUOTED, _QUOTED, _QUOTE_IN_QUOTED, _AFTER_QUOTE = 0, 1, 2, 3, 4
_PLAIN, _GB = 0, 1  # how multibyte characters are stepped over
# the carried state: [state, line, record's first line, line of the open quote's record,
# records flagged, a CR ended the last block, line breaks still to skip, field index,
# delimiters on the quoted field's current line, line breaks in it, records swallowing,
# delimiters on the quoted field's first line]
_STATE, _LINE, _RECORD, _OPENED, _FLAGGED, _CR, _SKIP, _FIELD = range(8)
_INNER, _BREAKS, _SWALLOWED, _FIRST = 8, 9, 10, 11
_N_STATE = 12
MAX_REPORTED = 1 << 16  # records with text after a closing quote, listed by line
_BLOCK = 8 << 20  # bytes of text decoded at a time (encodings without ASCII's bytes)
# bytes scanned at a time, cut after a line feed (never a trail byte of UTF-8 or GB18030):
# a record swallowing a row takes at least 2 bytes (a quote and a line feed), so the
# candidates of one piece always fit MAX_REPORTED, and every one is collected
_PIECE = 1 << 17


@dataclass(frozen=True)
class QuoteProblems:
    unclosed: int  # first line of the record whose quoted field never closes; 0: none
    after_quote: np.ndarray  # int64 first lines of records with text after a closing quote
    after_quote_count: int  # how many there are (after_quote lists MAX_REPORTED at most)
    swallowed: np.ndarray  # int64 first lines of records a quoted field of which holds the
    # delimiters of a whole row across a line break: maybe rows read into one field
    # (ascending; a record twice when two of its fields do)
    swallowed_field: np.ndarray  # int64 the index of that quoted field in its record


@njit(cache=True, nogil=True)
def _after_break(data, i, st):
    """The index after the line break at data[i] (a CRLF is one break, across blocks
    too: a CR ending the block is noted in st[_CR])."""
    if data[i] == 13:
        if i + 1 < len(data):
            return i + 2 if data[i + 1] == 10 else i + 1
        st[_CR] = 1
    return i + 1


@njit(cache=True, nogil=True)
def _line_break(data, i, st):
    """A line break at data[i] (outside quotes): the next record starts; returns the
    index after it."""
    st[_LINE] += 1
    st[_RECORD] = st[_LINE]
    st[_STATE] = _FIELD_START
    st[_FIELD] = 0
    return _after_break(data, i, st)


@njit(cache=True, nogil=True)
def _swallowing(st, swallowing):
    """The record being read may hold another row in a quoted field: its first line and
    the field's index, once each (`swallowing` [n, 2] has room: see _PIECE)."""
    k = st[_SWALLOWED]
    if k == 0 or swallowing[k - 1, 0] != st[_RECORD] or swallowing[k - 1, 1] != st[_FIELD]:
        swallowing[k, 0] = st[_RECORD]
        swallowing[k, 1] = st[_FIELD]
        st[_SWALLOWED] += 1


@njit(cache=True, nogil=True)
def closed(st, width, swallowing):
    """The quoted field of field index st[_FIELD] has just closed. Across a line break it
    holds a row when its first line has the delimiters of the fields after it and its
    last line those of the fields before it: a quote opened in one row and closed by the
    next row's quote in the same column (`"note` … `, next row's cells, note"`) leaves
    the record the header's number of fields, with the next row inside one field (a
    blind test: a bank row given to another household's person, another row gone)."""
    k = st[_FIELD]
    if st[_BREAKS] > 0 and width > 1 and st[_FIRST] >= width - 1 - k and st[_INNER] >= k:
        _swallowing(st, swallowing)


@njit(cache=True, nogil=True)
def _scan(data, delimiter, kind, mapped, st, out, swallowing):
    """Carry the state `st` over one block of bytes; the lines of flagged records go to
    `out`, those of records whose quoted field holds a whole line of `len(mapped)`
    fields to `swallowing`, while they have room. `mapped[k]`: whether field k is one
    the profile maps."""
    width = len(mapped)
    n = len(data)
    i = 0
    if st[_CR] and n and data[0] == 10:  # the LF of a CRLF split between blocks
        i = 1
    st[_CR] = 0
    while i < n and st[_SKIP] > 0:  # title and header lines: pyarrow ignores quotes there
        if data[i] == 10 or data[i] == 13:
            st[_SKIP] -= 1
            i = _after_break(data, i, st)
        else:
            i += 1
    while i < n:
        b = data[i]
        state = st[_STATE]
        if state == _QUOTE_IN_QUOTED and b != 34:  # the quoted field ends here
            closed(st, width, swallowing)
        if state == _QUOTED:  # a quote, a line feed or a delimiter matters
            while i < n and data[i] != 34 and data[i] != 10 and data[i] != 13:
                c = data[i]
                if kind == _GB and 0x81 <= c <= 0xFE:
                    i += 4 if i + 1 < n and 0x30 <= data[i + 1] <= 0x39 else 2
                    continue
                if c == delimiter:
                    st[_INNER] += 1
                i += 1
            if i < n:
                if data[i] == 34:
                    st[_STATE] = _QUOTE_IN_QUOTED
                else:  # a whole line inside the quote with every field: a swallowed row
                    if st[_BREAKS] > 0 and width > 1 and st[_INNER] >= width - 1:
                        _swallowing(st, swallowing)
                    if st[_BREAKS] == 0:
                        st[_FIRST] = st[_INNER]
                    st[_BREAKS] += 1
                    st[_INNER] = 0
                    st[_LINE] += 1
                    i = _after_break(data, i, st)  # a CRLF is one break
                    continue
                i += 1
            continue
        if kind == _GB and 0x81 <= b <= 0xFE:
            # a GB18030 character, whose trail bytes may be ASCII's ("|", "\\")
            step = 4 if i + 1 < n and 0x30 <= data[i + 1] <= 0x39 else 2
            if state == _FIELD_START:
                st[_STATE] = _UNQUOTED
            elif state == _QUOTE_IN_QUOTED:
                st[_STATE] = _AFTER_QUOTE
            i += step
            continue
        if state == _QUOTE_IN_QUOTED and b == 34:  # a doubled quote: one in the field
            st[_STATE] = _QUOTED
        elif b == delimiter:
            st[_STATE] = _FIELD_START
            st[_FIELD] += 1
        elif b == 10 or b == 13:
            i = _line_break(data, i, st)
            continue
        elif state == _FIELD_START and b == 34:
            st[_STATE] = _QUOTED
            st[_OPENED] = st[_RECORD]
            st[_INNER] = 0
            st[_BREAKS] = 0
            st[_FIRST] = 0
        elif state == _QUOTE_IN_QUOTED or state == _AFTER_QUOTE:
            if b == 32 or b == 9 or b >= 0x80:  # whitespace, or non-ASCII text
                st[_STATE] = _AFTER_QUOTE
            else:
                k = st[_FIELD]
                if k < len(mapped) and mapped[k]:
                    if st[_FLAGGED] < len(out):
                        out[st[_FLAGGED]] = st[_RECORD]
                    st[_FLAGGED] += 1
                st[_STATE] = _UNQUOTED
        elif state == _FIELD_START:
            st[_STATE] = _UNQUOTED
        i += 1


def _after_line_feed(data: np.ndarray, at: int) -> int:
    """The index after the first line feed at or after `at` (or the end of `data`)."""
    window = 1 << 12
    while at < len(data):
        lf = np.flatnonzero(data[at : at + window] == 10)
        if len(lf):
            return at + int(lf[0]) + 1
        at += window
        window = min(window * 2, 1 << 22)
    return len(data)


def quote_problems(
    path: Path, encoding: str, delimiter: str, header_lines: int, mapped: list[bool]
) -> QuoteProblems:
    """The quoting mistakes of a CSV export (module docstring), its data records starting
    after `header_lines` physical lines (title lines and the header); `mapped[k]`: whether
    the header's k-th column is one the profile maps."""
    name = codecs.lookup(encoding).name
    if len(delimiter.encode("utf-8")) != 1:  # pyarrow's delimiter is one byte
        none = np.zeros(0, dtype=np.int64)
        return QuoteProblems(0, none, 0, none, none)
    st = np.zeros(_N_STATE, dtype=np.int64)
    st[_LINE] = st[_RECORD] = header_lines + 1
    st[_SKIP] = header_lines
    out = np.zeros(MAX_REPORTED, dtype=np.int64)
    swallowing = np.zeros((MAX_REPORTED + 16, 2), dtype=np.int64)
    found: set[tuple[int, int]] = set()  # candidates: (first line, quoted field's index)
    flags = np.asarray(mapped, dtype=np.bool_)
    d = ord(delimiter)

    def collect() -> None:
        found.update(map(tuple, swallowing[: st[_SWALLOWED]].tolist()))
        st[_SWALLOWED] = 0

    def scan(data: np.ndarray, kind: int) -> None:
        """`data` a piece at a time, collecting the candidates of each."""
        at = 0
        while at < len(data):
            end = _after_line_feed(data, at + _PIECE)
            _scan(data[at:end], d, kind, flags, st, out, swallowing)
            collect()
            at = end

    if name in ("utf-8", "gb18030", "gbk"):  # the bytes, mapped: an export may be GBs
        kind = _PLAIN if name == "utf-8" else _GB
        size = Path(path).stat().st_size
        data = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
        start = 3 if name == "utf-8" and data[:3].tobytes() == codecs.BOM_UTF8 else 0
        scan(data[start:], kind)
    else:  # UTF-16, GB2312, Big5, …: the text pyarrow parses, as UTF-8, a block at a time
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")  # reader names those
        first = True
        with open(path, "rb") as f:
            while True:
                raw = f.read(_BLOCK)
                text = decoder.decode(raw, final=not raw)
                if first and text.startswith("\ufeff"):
                    text = text[1:]
                first = False
                if text:
                    scan(np.frombuffer(text.encode("utf-8"), np.uint8), _PLAIN)
                if not raw:
                    break
    if st[_STATE] == _QUOTE_IN_QUOTED:  # the file ends with a closing quote
        closed(st, len(flags), swallowing)
        collect()
    unclosed = int(st[_OPENED]) if st[_STATE] == _QUOTED else 0
    flagged = int(st[_FLAGGED])
    pairs = np.array(sorted(found), dtype=np.int64).reshape(-1, 2)
    lines, fields = pairs[:, 0].copy(), pairs[:, 1].copy()
    return QuoteProblems(unclosed, out[: min(flagged, MAX_REPORTED)].copy(), flagged, lines, fields)
