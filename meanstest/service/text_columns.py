"""Text columns of a request, read by numba: "YYYY-MM-DD" dates parsed (the usual case,
exactly; anything unusual left to Arrow's parser, the definition) and a string array's
buffers as the kernels take them (convert's date columns, dedup's row comparison)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit

I64 = np.int64

DATE_ABSENT, DATE_OK, DATE_BAD, DATE_UNSURE = 0, 1, 2, 3


@njit(cache=True, _nrt=False)
def _is_digit(b):
    return 48 <= b <= 57


@njit(cache=True)
def parse_dates(offsets, data, valid):
    """(days since 1970 int32, status uint8) of "YYYY-MM-DD" texts. OK: ten characters
    of that shape, year 1000-9999, a real day; BAD: a real date of that shape would be
    needed and is not there (no such substring, or a day that does not exist); UNSURE:
    anything else (e.g. year 0999, text around a date), which the caller hands to
    Arrow's parser, the definition (convert._column)."""
    n = len(offsets) - 1
    days = np.zeros(n, np.int32)
    status = np.zeros(n, np.uint8)
    for i in range(n):
        if not valid[i]:
            continue
        s, e = offsets[i], offsets[i + 1]
        shaped = e - s == 10
        if shaped:
            for k in range(10):
                b = data[s + k]
                if k == 4 or k == 7:
                    shaped = shaped and b == 45
                else:
                    shaped = shaped and _is_digit(b)
        if shaped and data[s] != 48:
            y = (data[s] - 48) * 1000 + (data[s + 1] - 48) * 100 + (data[s + 2] - 48) * 10
            y += data[s + 3] - 48
            m = (data[s + 5] - 48) * 10 + data[s + 6] - 48
            d = (data[s + 8] - 48) * 10 + data[s + 9] - 48
            leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
            month_days = 31
            if m == 2:
                month_days = 29 if leap else 28
            elif m == 4 or m == 6 or m == 9 or m == 11:
                month_days = 30
            if m < 1 or m > 12 or d < 1 or d > month_days:
                status[i] = DATE_BAD
                continue
            yy = y - 1 if m <= 2 else y  # days_from_civil (H. Hinnant)
            era = yy // 400
            yoe = yy - era * 400
            doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
            days[i] = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
            status[i] = DATE_OK
            continue
        found = False
        for p in range(s, e - 9):
            ok = True
            for k in range(10):
                b = data[p + k]
                if (k == 4 or k == 7) and b != 45:
                    ok = False
                    break
                if k != 4 and k != 7 and not _is_digit(b):
                    ok = False
                    break
            if ok:
                found = True
                break
        status[i] = DATE_UNSURE if found else DATE_BAD
    return days, status


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(int64 offsets, bytes, valid) of a string array, as numba kernels take it
    (parse_dates above, dedup's)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    bufs = arr.buffers()
    if n == 0 or bufs[1] is None:
        return np.zeros(n + 1, I64), np.zeros(1, np.uint8), np.zeros(n, np.bool_)
    offsets = np.frombuffer(bufs[1], np.int32, n + 1, arr.offset * 4).astype(I64)
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(1, np.uint8)
    valid = (
        np.ones(n, np.bool_)
        if arr.null_count == 0
        else arr.is_valid().to_numpy(zero_copy_only=False)
    )
    return offsets, data, valid
