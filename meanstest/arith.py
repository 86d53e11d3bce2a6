"""RULES.md §0 arithmetic: integer rounding, yuan rounding, ages and month windows.

Plain integer Python, used by the reference calculator. The kernels carry their own
numba twins of these few lines (kernels import only numpy and numba); tests check the
two agree.
"""

from __future__ import annotations

import calendar
import datetime as dt


def rhu(a: int, b: int) -> int:
    """a/b rounded half up, for a >= 0 and b > 0 (RULES.md §0)."""
    if a < 0 or b <= 0:
        raise ValueError(f"rhu({a}, {b}) is defined for a >= 0, b > 0 only")
    return (2 * a + b) // (2 * b)


def yuan(x: int) -> int:
    """x fen rounded half up to a whole yuan, in fen (RULES.md §0)."""
    return rhu(x, 100) * 100


def age(birth: dt.date, on: dt.date) -> int:
    """Full years at date `on` (RULES.md §0)."""
    return on.year - birth.year - (1 if (on.month, on.day) < (birth.month, birth.day) else 0)


def add_months(d: dt.date, months: int) -> dt.date:
    """d shifted by `months`, the day clamped to the month's end (2024-03-31 − 1 = 2024-02-29)."""
    total = d.year * 12 + (d.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def within_months(d: dt.date | None, on: dt.date, months: int) -> bool:
    """ "Within N months before D": add_months(D, −N) < d ≤ D (RULES.md §0)."""
    return d is not None and add_months(on, -months) < d <= on
