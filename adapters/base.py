"""What a department adapter is: the tables it fills, the households flag it answers,
and the department-specific clean-up of some text columns. Everything else about an
export (its format, headers, value names, units, date formats) is in a profile."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from meanstest.adapters.normalise import WHITESPACE

Cleaner = Callable[[pa.StringArray], pa.StringArray]


@dataclass(frozen=True)
class Adapter:
    department: str  # tax | bank | vehicle | housing | social_insurance | case
    tables: tuple[str, ...]
    flag: str | None  # the households checked_* flag a file of this department answers
    cleaners: dict[str, Cleaner] = field(default_factory=dict)  # "table.column" -> clean-up
    description: str = ""


def no_whitespace(values: pa.StringArray) -> pa.StringArray:
    """Keys that never hold a space ("P150422- 123" → "P150422-123")."""
    return pc.replace_substring_regex(values, WHITESPACE, "")
