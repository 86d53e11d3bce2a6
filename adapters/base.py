"""What a department adapter is: the tables it fills, the households flag it answers,
and the department-specific clean-up of some text columns. Everything else about an
export (its format, headers, value names, units, date formats) is in a profile."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from meanstest.adapters.normalise import NOT_IN_KEY, invisible_removed

Cleaner = Callable[[pa.StringArray], pa.StringArray]


@dataclass(frozen=True)
class Adapter:
    department: str  # tax | bank | vehicle | housing | social_insurance | case
    tables: tuple[str, ...]
    flag: str | None  # the households checked_* flag a file of this department answers
    cleaners: dict[str, Cleaner] = field(default_factory=dict)  # "table.column" -> clean-up
    description: str = ""


def no_whitespace(values: pa.StringArray) -> pa.StringArray:
    """Keys that never hold a space ("P150422- 123" → "P150422-123"), nor an invisible
    format character (normalise.INVISIBLE: a zero-width space pasted with a number)."""
    return pc.replace_substring_regex(values, NOT_IN_KEY, "")


_FULLWIDTH_ASCII = {0xFF01 + i: 0x21 + i for i in range(94)}  # ！..～ → !..~


def ascii_key_one(text: str) -> str:
    """`ascii_key` of one value."""
    return invisible_removed("".join(text.split())).translate(_FULLWIDTH_ASCII)


def ascii_key(values: pa.StringArray) -> pa.StringArray:
    """A household number as the case system means it: no spaces, and ASCII for the
    full-width forms of ASCII ("ＨＨ０００１０" → "HH00010"), so a number typed in an IME's
    full-width mode still finds its household (a blind test: a member's row with such a
    number belonged to no household, and the family was assessed one person short)."""
    values = no_whitespace(values)
    wide = pc.fill_null(pc.match_substring_regex(values, "[\uff01-\uff5e]"), False)
    if not pc.any(wide).as_py():
        return values
    fixed = values.to_pylist()
    for r in np.flatnonzero(wide.to_numpy(zero_copy_only=False)).tolist():
        fixed[r] = fixed[r].translate(_FULLWIDTH_ASCII)
    return pa.array(fixed, pa.string())
