"""RULES.md §0 in numba: rounding, saturating limits, calendar arithmetic on day numbers,
ownership at D and counting by distinct code.

Twins of `meanstest.arith` (which the reference uses); kernels import only numpy and
numba, so the few lines are repeated here and the tests check that the two agree.
Dates are days since 1970-01-01 (proleptic Gregorian; H. Hinnant's and C. Neri and
L. Schneider's civil algorithms).
"""

from __future__ import annotations

from .jit import inline, serial

INT64_MAX = 2**63 - 1


@serial
def rhu(a, b):
    """a/b rounded half up, a >= 0, b > 0."""
    return (2 * a + b) // (2 * b)


@serial
def per_mille(a, q):
    """rhu(a × q, 1000) for a >= 0 and 0 <= q <= 1000, without forming a × q: with
    a = 1000·h + l, it is h·q + rhu(l·q, 1000) exactly (h·q is whole), and no term
    exceeds a, where a × q could leave int64 (an income of ~10^16 fen times 1000 ‰)."""
    h, l = divmod(a, 1000)
    return h * q + rhu(l * q, 1000)


@serial
def yuan(x):
    """x fen rounded half up to a whole yuan, in fen."""
    return rhu(x, 100) * 100


@serial
def limit_times(a, b):
    """a × b for non-negative a, b, saturated at int64's maximum.

    Only used for thresholds (limit × n, months × S × n): a threshold too large for
    int64 is never exceeded by an int64 amount, so saturating keeps the comparison exact
    where a pack sets a limit to "practically infinite".
    """
    if a == 0 or b == 0:
        return 0
    if a > INT64_MAX // b:
        return INT64_MAX
    return a * b


@serial
def limit_plus(a, b):
    """a + b for non-negative a, b, saturated at int64's maximum (thresholds only)."""
    if a > INT64_MAX - b:
        return INT64_MAX
    return a + b


# C. Neri and L. Schneider, "Euclidean affine functions and their application to
# calendar algorithms" (2022): day number -> civil date in a few multiplications and
# shifts on non-negative values (no floor-division fix-ups). Day numbers are shifted by
# 82 eras of 400 years so that every date from year -32,800 on is non-negative.
_ERAS = 82
_SHIFT_DAYS = 719468 + 146097 * _ERAS  # 1970-01-01 from 0000-03-01, plus the eras
_SHIFT_YEARS = 400 * _ERAS


@serial
def civil_from_days(z):
    """Day number -> (year, month, day)."""
    n = z + _SHIFT_DAYS
    if n < 0:
        return _civil_from_days_any(z)
    n1 = 4 * n + 3
    century = n1 // 146097
    n2 = (n1 % 146097) // 4 * 4 + 3
    p2 = 2939745 * n2
    year = 100 * century + (p2 >> 32)
    day_of_year = (p2 & 0xFFFFFFFF) // 2939745 // 4  # from March 1
    n3 = 2141 * day_of_year + 197913
    month = n3 >> 16
    day = (n3 & 0xFFFF) // 2141 + 1
    if day_of_year >= 306:  # January, February: the next civil year
        return year - _SHIFT_YEARS + 1, month - 12, day
    return year - _SHIFT_YEARS, month, day


@serial
def _civil_from_days_any(z):
    """Day number -> (year, month, day) for any day number (H. Hinnant's algorithm; his
    C++ corrects truncating division for negative eras, numba's // already floors)."""
    z = z + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return y, m, d


@serial
def days_from_civil(y, m, d):
    """(year, month, day) -> day number."""
    y = y - (1 if m <= 2 else 0)
    era = y // 400  # floor division: no correction for negative years
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@serial
def days_in_month(y, m):
    if m == 2:
        leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
        return 29 if leap else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


@serial
def age_years(birth, on):
    """Full years at `on` of a person born on `birth` (both day numbers)."""
    y, m, d = civil_from_days(on)
    return age_on(birth, y, m, d)


@inline
def age_on(birth, y, m, d):
    """Full years on the civil date (y, m, d) of a person born on day number `birth`
    (the household's date is converted once, not once per member)."""
    by, bm, bd = civil_from_days(birth)
    before = m < bm or (m == bm and d < bd)
    return y - by - (1 if before else 0)


@serial
def add_months(day, months):
    """`day` shifted by `months`, the day of month clamped to the month's end."""
    y, m, d = civil_from_days(day)
    return add_months_civil(y, m, d, months)


@serial
def add_months_civil(y, m, d, months):
    """add_months of the civil date (y, m, d), as a day number (the household's date is
    converted once, then shifted by each window)."""
    total = y * 12 + (m - 1) + months
    y2 = total // 12
    m2 = total - y2 * 12 + 1
    dim = days_in_month(y2, m2)
    return days_from_civil(y2, m2, min(dim, d))


@serial
def owned_property(acquired, disposed, d):
    """§0 owned at D: acquired_on <= D and (disposed_on null or disposed_on > D); a null
    disposed_on arrives as NOT_DISPOSED, later than every D."""
    return acquired <= d and disposed > d


@serial
def owned_vehicle(registered, d):
    """§0 owned at D: registered_on <= D."""
    return registered <= d


@inline
def count_distinct(buf, k):
    """§0 "count by distinct plate / property_id": distinct values among buf[:k]; sorts
    buf[:k] in place. Most households have 0 or 1 such rows: no call for those."""
    if k <= 1:
        return k
    return _count_sorted(buf, k)


@serial
def _count_sorted(buf, k):
    """Distinct values among buf[:k], k > 1: insertion sort for the few values a
    household has, heapsort beyond (plain loops, cheaper here than numba's sort)."""
    if k <= 16:
        for i in range(1, k):
            v = buf[i]
            j = i - 1
            while j >= 0 and buf[j] > v:
                buf[j + 1] = buf[j]
                j -= 1
            buf[j + 1] = v
    else:
        for start in range(k // 2 - 1, -1, -1):
            _sift_down(buf, start, k)
        for end in range(k - 1, 0, -1):
            buf[0], buf[end] = buf[end], buf[0]
            _sift_down(buf, 0, end)
    count = 1
    for i in range(1, k):
        if buf[i] != buf[i - 1]:
            count += 1
    return count


@serial
def _sift_down(buf, root, end):
    while 2 * root + 1 < end:
        child = 2 * root + 1
        if child + 1 < end and buf[child] < buf[child + 1]:
            child += 1
        if buf[root] >= buf[child]:
            return
        buf[root], buf[child] = buf[child], buf[root]
        root = child
