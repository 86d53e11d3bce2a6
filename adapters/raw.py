"""What every reader of a raw export yields (readers.py, csv_export.py): batches of
raw columns, each row's physical line, and the rows that could not be read as a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from meanstest.adapters.profile import Profile

from meanstest.errors import MeansTestError


def blank(text: str) -> bool:
    """Text that is only whitespace, as a cell is trimmed: a blank line or an empty cell.
    The control characters \\x1c-\\x1f, which Python counts as whitespace, are text here:
    exports use them as separators (a review: a line of \\x1e was taken for blank)."""
    return not text.strip() and not any(c in text for c in "\x1c\x1d\x1e\x1f")


# a JSON Lines list with no name in it ([], [null], [" "]): the empty list, not an empty
# cell, whatever the list separator (a lone " " separator was trimmed to an empty cell)
EMPTY_LIST = "\x00[]"
MAX_LINE_BYTES = 16 << 20  # a longer JSON Lines line (or CSV header) is never read whole


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
    # lines of rows kept as they are that someone should look at: a remark over lines
    # with a row's worth of delimiters, read as a remark (ingest.json, a warning)
    remark_lines: list[int] = field(default_factory=list)

    @property
    def num_rows(self) -> int:
        return len(self.lines)


def needed_columns(profile: Profile) -> list[str]:
    """The export's columns the profile maps, each once."""
    return list(dict.fromkeys(profile.columns.values()))
