"""One value as canonical text (docs/digests.md), written into a line: the routines
kernels.render runs over columns.

Each routine takes `write`: False only measures (returns the position after the
value), True also stores the bytes, so the widths and the bytes come from the same
code. Null `\\N`; booleans `true`/`false`; integers in decimal; dates as Arrow's
cast to string writes them (at least four year digits, a `-` before a negative year,
`<value out of range: N>` outside the years -32767..32767); strings with `\\` TAB
LF CR written `\\\\` `\\t` `\\n` `\\r`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .memory import copy_bytes

TAB = 9

# _ESCAPED[c]: the letter written after a backslash for byte c, 0 if c is written as is
_ESCAPED = np.zeros(256, dtype=np.uint8)
_ESCAPED[ord("\\")] = ord("\\")
_ESCAPED[ord("\t")] = ord("t")
_ESCAPED[ord("\n")] = ord("n")
_ESCAPED[ord("\r")] = ord("r")

NULL_TEXT = np.frombuffer(b"\\N", dtype=np.uint8)
TRUE_TEXT = np.frombuffer(b"true", dtype=np.uint8)
FALSE_TEXT = np.frombuffer(b"false", dtype=np.uint8)
_INT64_MIN = np.int64(-(2**63))
_INT64_MIN_TEXT = np.frombuffer(b"-9223372036854775808", dtype=np.uint8)
_OUT_OF_RANGE = np.frombuffer(b"<value out of range: ", dtype=np.uint8)
_POW10 = np.array([10**k for k in range(20)], dtype=np.uint64)
_PAIRS = np.frombuffer(b"".join(b"%02d" % k for k in range(100)), dtype=np.uint8)
_U10, _U100 = np.uint64(10), np.uint64(100)
_E3, _E4, _E5, _E6, _E7, _E8 = (np.uint64(10**k) for k in range(3, 9))
_ERAS = 82  # 400-year eras before 0000-03-01 that FIRST_DAY needs
FIRST_DAY, LAST_DAY = -12687428, 11248737  # -32767-01-01, 32767-12-31
_PLAIN_FIRST, _PLAIN_LAST = -719528, 2932896  # 0000-01-01, 9999-12-31: ten characters

# Without numba's reference counting (as kernels.jit explains): these routines never
# allocate, and with it every call passing an array costs two atomic operations — 8x
# the time of rendering a short string.
jit = njit(cache=True, nogil=True, _nrt=False)
inline = njit(cache=True, nogil=True, _nrt=False, inline="always")


# -- values -------------------------------------------------------------------------------


@inline
def is_valid(bits, bit_offset, i):
    """Arrow validity: bit (bit_offset + i) of `bits`; an empty bitmap means no nulls."""
    if bits.shape[0] == 0:
        return True
    return bit(bits, bit_offset, i)


@inline
def bit(bits, bit_offset, i):
    """Bit (bit_offset + i) of an Arrow bitmap (least significant bit first)."""
    j = bit_offset + i
    return ((bits[j >> 3] >> (j & 7)) & 1) == 1


@inline
def copy_short(out, p, src, s, n):
    """out[p:p + n] = src[s:s + n]; most fields are under 16 bytes, where two
    overlapping fixed-size moves beat a call to memcpy."""
    if n >= 8 and n <= 16:
        copy_bytes(out, p, src, s, 8)
        copy_bytes(out, p + n - 8, src, s + n - 8, 8)
    elif n >= 4 and n < 8:
        copy_bytes(out, p, src, s, 4)
        copy_bytes(out, p + n - 4, src, s + n - 4, 4)
    elif n < 4:
        for k in range(n):
            out[p + k] = src[s + k]
    else:
        copy_bytes(out, p, src, s, n)


@inline
def put(src, out, p, write):
    """The bytes of `src` at p (as they are)."""
    if write:
        copy_short(out, p, src, 0, src.shape[0])
    return p + src.shape[0]


@inline
def put_string(data, start, stop, escape, out, p, write):
    """data[start:stop] at p, escaped when `escape` (the column holds a byte to escape)."""
    if not escape:
        if write:
            copy_short(out, p, data, start, stop - start)
        return p + stop - start
    for q in range(start, stop):
        c = data[q]
        e = _ESCAPED[c]
        if e == 0:
            if write:
                out[p] = c
            p += 1
        else:
            if write:
                out[p] = 92
                out[p + 1] = e
            p += 2
    return p


@inline
def _digits_of(u):
    """How many decimal digits the uint64 u has. Below 10^8 (most amounts, every count
    and date part) two branches and three comparisons summed, not a loop over a table:
    the digest's text took 15% less CPU at 1M households."""
    if u < _E8:
        if u < _E4:
            return 1 + (u >= _U10) + (u >= _U100) + (u >= _E3)
        return 5 + (u >= _E5) + (u >= _E6) + (u >= _E7)
    n = 9
    while n < 20 and u >= _POW10[n]:
        n += 1
    return n


@inline
def put_digits(u, width, out, p, write):
    """The integer u >= 0 in decimal, zero-padded to at least `width` digits.
    Unsigned arithmetic and two digits per division: 2.7x faster than digit by digit in
    int64 (numba's floor division of signed integers corrects for the sign)."""
    u = np.uint64(u)
    n = max(_digits_of(u), width)
    if write:
        k = p + n
        while u >= _U100:
            r = u % _U100
            u //= _U100
            k -= 2
            out[k] = _PAIRS[2 * r]
            out[k + 1] = _PAIRS[2 * r + 1]
        if u >= _U10:
            k -= 2
            out[k] = _PAIRS[2 * u]
            out[k + 1] = _PAIRS[2 * u + 1]
        else:
            k -= 1
            out[k] = _PAIRS[2 * u + 1]
        while k > p:
            k -= 1
            out[k] = 48
    return p + n


@inline
def put_int(v, out, p, write):
    """The integer v in decimal."""
    v = np.int64(v)
    if v < 0:
        if v == _INT64_MIN:  # the one int64 whose negation is not an int64
            return put(_INT64_MIN_TEXT, out, p, write)
        if write:
            out[p] = 45
        return put_digits(-v, 1, out, p + 1, write)
    return put_digits(v, 1, out, p, write)


@inline
def _civil(days):
    """(year, month, day) of a date32 day number >= FIRST_DAY, in unsigned arithmetic
    (H. Hinnant's civil_from_days shifted by 82 400-year eras, so nothing is negative;
    kernels.arith's twin is for real dates only: it is off before 0000-03-01)."""
    z = np.uint64(np.int64(days) + 719468 + _ERAS * 146097)
    era = z // np.uint64(146097)
    doe = z - era * np.uint64(146097)
    yoe = doe - doe // np.uint64(1460) + doe // np.uint64(36524) - doe // np.uint64(146096)
    yoe //= np.uint64(365)
    doy = doe - (np.uint64(365) * yoe + yoe // np.uint64(4) - yoe // np.uint64(100))
    mp = (np.uint64(5) * doy + np.uint64(2)) // np.uint64(153)
    d = doy - (np.uint64(153) * mp + np.uint64(2)) // np.uint64(5) + np.uint64(1)
    m = mp + np.uint64(3) if mp < _U10 else mp - np.uint64(9)
    y = np.int64(yoe + era * np.uint64(400)) - 400 * _ERAS + (1 if m <= np.uint64(2) else 0)
    return y, m, d


@inline
def put_date(days, out, p, write):
    """date32 `days` as Arrow writes it (see the module docstring)."""
    d = np.int64(days)
    if _PLAIN_FIRST <= d <= _PLAIN_LAST:  # years 0000-9999: the only ones of real data
        if write:
            y, m, dd = _civil(d)
            hi, lo = np.uint64(y) // _U100, np.uint64(y) % _U100
            out[p] = _PAIRS[2 * hi]
            out[p + 1] = _PAIRS[2 * hi + 1]
            out[p + 2] = _PAIRS[2 * lo]
            out[p + 3] = _PAIRS[2 * lo + 1]
            out[p + 4] = 45
            out[p + 5] = _PAIRS[2 * m]
            out[p + 6] = _PAIRS[2 * m + 1]
            out[p + 7] = 45
            out[p + 8] = _PAIRS[2 * dd]
            out[p + 9] = _PAIRS[2 * dd + 1]
        return p + 10
    if d < FIRST_DAY or d > LAST_DAY:
        p = put(_OUT_OF_RANGE, out, p, write)
        p = put_int(d, out, p, write)
        if write:
            out[p] = 62
        return p + 1
    y, m, dd = _civil(d)
    if y < 0:
        if write:
            out[p] = 45
        p += 1
        y = -y
    p = put_digits(y, 4, out, p, write)
    if write:
        out[p] = 45
        out[p + 1] = 48 + m // 10
        out[p + 2] = 48 + m % 10
        out[p + 3] = 45
        out[p + 4] = 48 + dd // 10
        out[p + 5] = 48 + dd % 10
    return p + 6


@inline
def put_tab(out, p, write):
    if write:
        out[p] = TAB
    return p + 1


@inline
def any_escape(data, start, stop):
    """Whether data[start:stop] holds a byte that is written escaped. In blocks of 64
    bytes with unsigned indices and a uint8 flag, so that LLVM vectorises the compares
    (0.35 ns a byte; a bool flag or signed indices: 3-4x slower)."""
    q, end = np.uint64(start), np.uint64(stop)
    while q + np.uint64(64) <= end:
        found = np.uint8(0)
        for k in range(64):
            c = data[q + np.uint64(k)]
            found |= (c == 92) | (c == 9) | (c == 10) | (c == 13)
        if found:
            return True
        q += np.uint64(64)
    while q < end:
        c = data[q]
        if c == 92 or c == 9 or c == 10 or c == 13:
            return True
        q += np.uint64(1)
    return False
