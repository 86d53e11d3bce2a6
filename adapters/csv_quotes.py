"""Quoting mistakes in a CSV export that pyarrow's reader accepts silently, found by one
pass over the file's bytes before it is read.

- **A quoted field still open at the end of the file.** pyarrow reads every line after
  the quote into that field; when the field is the row's last, the row still has the
  header's number of fields, so the rows after it vanished without a quarantine entry
  (a blind test: one stray quote in a remarks column, the last 22 rows of a file gone).
- **Text after a field's closing quote** (`"12"34`): pyarrow reads it on as part of the
  field ("1234"), an amount nobody wrote.

The pass follows pyarrow's grammar (quote `"`, doubled `""` inside a quoted field, a
quote only opens a field at its start; line breaks `\\n`, `\\r\\n` or a lone `\\r`
outside quotes, `\\n` inside them, as the reader counts lines) over the file's bytes
when the encoding keeps ASCII's bytes for ASCII (UTF-8; GB18030 and GBK, whose
two- and four-byte characters are stepped over), else over the file transcoded to
UTF-8. It names each such record by its first physical line, the reader's `lines`.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

_FIELD_START, _UNQUOTED, _QUOTED, _QUOTE_IN_QUOTED, _AFTER_QUOTE = 0, 1, 2, 3, 4
_PLAIN, _GB = 0, 1  # how multibyte characters are stepped over
MAX_REPORTED = 1 << 16  # records with text after a closing quote, listed by line


@dataclass(frozen=True)
class QuoteProblems:
    unclosed: int  # first line of the record whose quoted field never closes; 0: none
    after_quote: np.ndarray  # int64 first lines of records with text after a closing quote
    after_quote_count: int  # how many there are (after_quote lists MAX_REPORTED at most)


@njit(cache=True, nogil=True)
def _scan(data, start, delimiter, kind, first_line, out):
    """(the line of the record whose quoted field never closes, or 0; how many records
    have text after a closing quote, their lines written to `out` while it has room)
    of data[start:], its first record on line `first_line`."""
    state = _FIELD_START
    line = record = first_line
    flagged = opened = 0
    i, n = start, len(data)
    while i < n:
        b = data[i]
        step = 1
        if kind == _GB and 0x81 <= b <= 0xFE and i + 1 < n:
            # a GB18030 character, whose trail bytes may be ASCII's ("|", "\\")
            step = 4 if 0x30 <= data[i + 1] <= 0x39 else 2
            b = 0x80  # as any non-ASCII character
        if state == _QUOTED:
            if b == 34:
                state = _QUOTE_IN_QUOTED
            elif b == 10:
                line += 1
        elif state == _QUOTE_IN_QUOTED and b == 34:  # a doubled quote: one in the field
            state = _QUOTED
        elif b == delimiter:
            state = _FIELD_START
        elif b == 10 or b == 13:
            line += 1
            if b == 13 and i + 1 < n and data[i + 1] == 10:
                step = 2
            record = line
            state = _FIELD_START
        elif state == _FIELD_START and b == 34:
            state = _QUOTED
            opened = record
        elif state == _QUOTE_IN_QUOTED or state == _AFTER_QUOTE:
            if b == 32 or b == 9:  # spaces after a closing quote: trimmed with the cell
                state = _AFTER_QUOTE
            else:
                if flagged < len(out):
                    out[flagged] = record
                flagged += 1
                state = _UNQUOTED
        else:
            state = _UNQUOTED
        i += step
    return (opened if state == _QUOTED else 0), flagged


@njit(cache=True, nogil=True)
def _skip_lines(data, start, count):
    """The offset after `count` line breaks (`\\n`, `\\r\\n`, `\\r`; quotes ignored, as
    pyarrow's skip_rows does) from `start`."""
    i = start
    n = len(data)
    while count > 0 and i < n:
        b = data[i]
        if b == 10 or b == 13:
            count -= 1
            if b == 13 and i + 1 < n and data[i + 1] == 10:
                i += 1
        i += 1
    return i


def quote_problems(path: Path, encoding: str, delimiter: str, header_lines: int) -> QuoteProblems:
    """The quoting mistakes of a CSV export (module docstring), its data records starting
    after `header_lines` physical lines (title lines and the header)."""
    name = codecs.lookup(encoding).name
    if len(delimiter.encode("utf-8")) != 1:  # pyarrow's delimiter is one byte
        return QuoteProblems(0, np.zeros(0, dtype=np.int64), 0)
    if name in ("utf-8", "gb18030", "gbk"):  # mapped, not read: an export may be GBs
        size = Path(path).stat().st_size
        data = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
        kind = _PLAIN if name == "utf-8" else _GB
    else:  # UTF-16 and the like: the text pyarrow parses, as UTF-8
        text = Path(path).read_bytes().decode(encoding, errors="replace")  # the reader names those
        data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        kind = _PLAIN
    start = 3 if name == "utf-8" and data[:3].tobytes() == codecs.BOM_UTF8 else 0
    start = _skip_lines(data, start, header_lines)
    out = np.zeros(MAX_REPORTED, dtype=np.int64)
    unclosed, flagged = _scan(data, start, ord(delimiter), kind, header_lines + 1, out)
    return QuoteProblems(int(unclosed), out[: min(flagged, MAX_REPORTED)].copy(), int(flagged))
