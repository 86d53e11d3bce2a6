"""Cell normalisation of DATA.md "Adapter profiles" (清洗规则), exact and without floats.

Two layers, as everywhere in meanstest: a deliberately simple one-value reference
(`id_one`, `fen_one`, `integer_one`, `date_one`, ...) that raises `CellError` with the
quarantine reason, and vectorised twins over Arrow string arrays (`ids`, `fen`,
`integers`, `dates`) that return the values and a mask of the bad rows. The tests
compare the two on random input (hypothesis); the quarantine detail of a bad cell is
always the reference's message, so both layers agree on what is wrong and why.
Amounts and integers are parsed by one numba pass over the Arrow string buffers
(`_decimal_kernel`): a regex with captures cost ~1.3 µs a cell, the kernel ~20 ns.

Every raw cell arrives as text (Parquet and JSON values are turned into their literal
text first, see `readers`), trimmed of surrounding whitespace; an empty cell is null.

- ID: all whitespace and invisible format characters (`INVISIBLE`: a zero-width space,
  joiner or BOM pasted from a web form or a Word table) removed, full-width digits (and
  a full-width X) become ASCII, a lower-case x becomes X, then the GB 11643 check of
  `meanstest.ids`.
- Amount in yuan: ``[+-]`` digits, optionally grouped by commas in threes from the
  left ("12,345.60"), optionally a point and one or two decimals → int fen.
  "12.345", "1.2e3", "1,23.4", "12.", ".5", "¥5" are errors, never guesses.
- Area in m² with up to two decimals → int centi-m² (the same grammar).
- Integer (fen, counts, ‰, health): ``[+-]`` digits, optionally ``.0``/``.00``… (exactly
  integral: "2.0" is what pandas writes for an integer column with gaps), within the
  column's type; "2.5" is an error.
- Date: the profile's strptime formats tried in order; only %Y %m %d %H %M %S %f %% are
  allowed (a database's "2024-07-01 00:00:00.000"; never %y: "50" is 1950 or 2050),
  with the digit patterns of Python's `_strptime`, and the date must exist
  (2024-02-30 is an error, not 2024-03-01 as Arrow's strptime would have it).
"""

from __future__ import annotations

import datetime as dt
import re

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import ids as idlib
from meanstest.errors import quoted


class CellError(ValueError):
    """A raw cell that cannot be mapped: `reason` (a code of REASONS) and a detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


# Quarantine reason codes (DATA.md: unparseable amount or date, unmapped enum value,
# bad ID, empty required cell; plus what a reader can meet in a raw file).
REASONS = {
    "empty_required": "empty cell in a required column",
    "bad_id": "resident ID fails the GB 11643 check after normalisation",
    "bad_amount": "not a decimal amount with at most two decimals (beyond them only zeros)",
    "bad_integer": "not an integer",
    "out_of_range": "integer outside the column's type",
    "bad_date": "not a date in any of the profile's formats",
    "unmapped_value": "neither in the profile's value map nor a canonical value",
    "bad_boolean": "not true or false (map other spellings in [values])",
    "bad_row": "a CSV row with the wrong number of fields",
    "bad_json": "a JSON Lines line that is not one JSON object",
    "held_household": "ingest --hold: a household left out because rows of it were quarantined",
}

# Python's str.isspace() set, in RE2 syntax (RE2's \s is ASCII only).
WHITESPACE = r"[\t\n\x0b\f\r\x1c-\x1f\x85\p{Z}]"
# The invisible format characters (Unicode Cf) that pasted text carries: soft hyphen,
# Arabic letter mark, Mongolian vowel separator, zero-width space/joiners, direction
# marks and embeddings, word joiner and invisible operators, isolates, BOM. Listed, not
# \p{Cf}: RE2's Unicode is newer than Python's unicodedata, and the scalar and the
# vectorised cleaning must agree on every character.
INVISIBLE = "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
# what an ID cell (and a key adapters.base cleans) loses: whitespace and those characters
NOT_IN_KEY = WHITESPACE[:-1] + INVISIBLE + "]"


def invisible_removed(text: str) -> str:
    """`text` without the INVISIBLE characters."""
    return _INVISIBLE.sub("", text)


_FULLWIDTH = {0xFF10 + i: 48 + i for i in range(10)} | {0xFF38: 88, 0xFF58: 88, 0x78: 88}
_HAS_FULLWIDTH = "[０-９ｘＸ]"

# "12.300" is 12.30 exactly (a database's NUMBER(18,3)); "12.345" is no amount in fen
_AMOUNT = r"^(?P<s>[+-]?)(?P<w>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<f>[0-9]{1,2})0*)?$"
_INTEGER = r"^(?P<s>[+-]?)(?P<w>[0-9]+)(?:\.0+)?$"  # "2.0": exactly 2 (pandas writes it)
MAX_DIGITS = 16  # integer digits of an amount: 10^16 yuan in fen still fits int64
_INT_DIGITS = 18
_AMOUNT_RE, _INTEGER_RE = re.compile(_AMOUNT), re.compile(_INTEGER)

_I64 = pa.int64()
INT_RANGES = {
    pa.int8(): (-(2**7), 2**7 - 1),
    pa.int32(): (-(2**31), 2**31 - 1),
    pa.int64(): (-(2**63), 2**63 - 1),
}


# ------------------------------------------------------------------ text cells --


def clean_text(values: pa.Array) -> pa.StringArray:
    """Trimmed text of every cell, an empty (or all-whitespace) cell null."""
    if values.type != pa.string():
        values = values.cast(pa.string())
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


# ------------------------------------------------------------------------- IDs --


def clean_id_one(raw: str) -> str:
    """The ID text after normalisation (before the check)."""
    kept = "".join(ch for ch in raw if not ch.isspace())
    return invisible_removed(kept).translate(_FULLWIDTH)


def id_one(raw: str) -> str:
    """A raw ID cell → the canonical ID, or CellError bad_id."""
    value = clean_id_one(raw)
    problems = idlib.id_problems(value)
    if problems:
        raise CellError("bad_id", "; ".join(problems))
    return value


def _wide(chars: str) -> str:
    """A character class's ASCII digits (and ranges) with their full-width forms."""
    out = []
    for ch in chars:
        out.append(ch)
        if ch.isdigit():
            out.append(chr(0xFF10 + int(ch)))
    text = "".join(out)
    return re.sub(r"(\d)(.)-(\d)(.)", lambda m: f"{m[1]}-{m[3]}{m[2]}-{m[4]}", text)


def _id_pattern() -> str:
    """18 ID characters, whitespace allowed between them (an ID cell loses it), shaped
    like an ID (a birth year 18xx-21xx, a month, a day), so that most runs of digits
    fail at once; not touching another digit, and overlapping ("7 150422…")."""
    # whitespace an ID cell loses, but not a line feed, nor the control characters that
    # Python calls whitespace and some exports use as separators (\x0b, \x0c, \x1c-\x1f)
    gap = r"[^\S\n\x0b\x0c\x1c-\x1f]*"
    d = f"[{_wide('0-9')}]"

    def one(chars: str) -> str:
        return f"[{_wide(chars)}]"

    parts = [d] * 6 + [
        f"(?:{one('1')}{gap}{one('89')}|{one('2')}{gap}{one('01')})", d, d,
        f"(?:{one('0')}{gap}{one('1-9')}|{one('1')}{gap}{one('0-2')})",
        f"(?:{one('0')}{gap}{one('1-9')}|{one('12')}{gap}{d}|{one('3')}{gap}{one('01')})",
        d, d, d, f"[{_wide('0-9')}xX\uff58\uff38]",
    ]  # fmt: skip
    return rf"(?<!{d})(?=({gap.join(parts)})(?!{d}))"


_ID_RUN = re.compile(_id_pattern())


def ids_in_text(text: str) -> set[str]:
    """The valid resident IDs in free text (a row no reader could split, a bad ID cell
    such as Excel's `="150422…"` or "150422….0"): every run of 18 ID characters that no
    other digit touches (whitespace between them allowed, as an ID cell loses it), each
    read as `id_one` reads an ID cell. Only valid IDs name people."""
    found = set()
    for m in _ID_RUN.finditer(text):
        try:
            found.add(id_one(m.group(1)))
        except CellError:
            pass
    return found


def meant_ids(text: str) -> set[str]:
    """The valid ID a bad ID cell was meant to be when only its check character is
    wrong (a typed 0 for X, a dropped X): 17 digits, normalised as an ID cell is, then
    any one character or none, read with the right check character — when that names
    a real birth date. Used only to tell a household it may lack a quarantined row
    (never to join a row), so a wrong guess notes one household too many."""
    cleaned = clean_id_one(text)
    body = cleaned[:17]
    if len(cleaned) > 18 or len(body) != 17 or not body.isascii() or not body.isdigit():
        return set()
    try:
        return {id_one(body + idlib.check_character(body))}
    except CellError:
        return set()


def clean_ids(values: pa.StringArray) -> pa.StringArray:
    out = pc.replace_substring_regex(values, NOT_IN_KEY, "")
    out = pc.replace_substring(out, "x", "X")
    wide = pc.fill_null(pc.match_substring_regex(out, _HAS_FULLWIDTH), False)
    if pc.any(wide).as_py():  # rare: translate just those cells in Python
        rows = np.flatnonzero(wide.to_numpy(zero_copy_only=False))
        fixed = out.to_pylist()
        for r in rows:
            fixed[r] = fixed[r].translate(_FULLWIDTH)
        out = pa.array(fixed, pa.string())
    return out


def ids(values: pa.StringArray) -> tuple[pa.StringArray, np.ndarray]:
    """Vectorised `id_one` over non-null cells: (canonical IDs, bad mask)."""
    out = clean_ids(values)
    if len(out) <= 1 << 16:  # one block of the parallel kernel: other threads only spin
        saved = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            check = idlib.check_ids(out)
        finally:
            numba.set_num_threads(saved)
    else:
        check = idlib.check_ids(out)
    present = idlib.valid_mask(values)
    return out, present & (check.flags != 0)


# --------------------------------------------------------------------- amounts --


def fen_one(raw: str, unit: str = "yuan") -> int:
    """A yuan amount ("12,345.60") → int fen (1234560), or CellError bad_amount; an area
    in m² (`unit="m²"`) → centi-m² by the same grammar."""
    m = _AMOUNT_RE.match(raw)
    whole = m.group(2).replace(",", "") if m else ""
    if not m or len(whole) > MAX_DIGITS:
        raise CellError(
            "bad_amount",
            f"{quoted(raw)} is not {unit} with at most two decimals "
            f"(digits, optional thousands commas, up to {MAX_DIGITS} integer digits; "
            "further decimals only zeros)",
        )
    fen = int(whole) * 100 + int((m.group(3) or "").ljust(2, "0"))
    return -fen if m.group(1) == "-" else fen


def format_yuan(fen: int, thousands: bool = False, decimals: int = 2) -> str:
    """int fen → yuan text: 1234560 → "12345.60" ("12,345.60" with thousands;
    decimals=1 or 0 where the fen allow it). The inverse of `fen_one`."""
    sign, fen = ("-" if fen < 0 else ""), abs(fen)
    whole, cents = divmod(fen, 100)
    text = f"{whole:,}" if thousands else str(whole)
    if decimals == 2 or cents % (10 ** (2 - decimals)):
        return f"{sign}{text}.{cents:02d}"
    return f"{sign}{text}" + (f".{cents // 10}" if decimals == 1 else "")


def fen(values: pa.StringArray) -> tuple[pa.Int64Array, np.ndarray]:
    """Vectorised `fen_one` over non-null cells: (int64 fen, bad mask)."""
    out, ok = _decimal(values, commas=True, decimals=2, max_digits=MAX_DIGITS)
    return pa.array(out, pa.int64(), mask=~ok), idlib.valid_mask(values) & ~ok


def _decimal(values, commas: bool, decimals: int, max_digits: int):
    """(int64 values, parsed mask) of a string column, by `_decimal_kernel`."""
    arr = idlib.string_array(values)
    n = len(arr)
    out = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    offsets, data = idlib._offsets(arr), idlib._data(arr)  # the Arrow buffers, as ids.py
    _decimal_kernel(offsets, data, idlib.valid_mask(arr), commas, decimals, max_digits, out, ok)
    return out, ok


@numba.njit(cache=True, nogil=True)
def _decimal_kernel(offsets, data, valid, commas, decimals, max_digits, out, ok):
    """The grammar of _AMOUNT (commas) or _INTEGER (no commas, decimals 0), one pass
    over the UTF-8 bytes: [+-] digits (grouped 1-3,3,3… when commas) [. 1..decimals
    digits, then any zeros] (decimals 0: [. zeros])."""
    for i in range(len(offsets) - 1):
        s, e = offsets[i], offsets[i + 1]
        if not valid[i] or s == e:
            continue
        p, neg = s, False
        if data[p] == 43 or data[p] == 45:  # + -
            neg = data[p] == 45
            p += 1
        value, digits, group, groups, good = 0, 0, 0, 0, True
        while p < e and good:
            c = data[p]
            if 48 <= c <= 57:
                value = value * 10 + (c - 48)
                digits += 1
                group += 1
                good = digits <= max_digits
            elif c == 44 and commas:
                good = (1 <= group <= 3) if groups == 0 else group == 3
                groups += 1
                group = 0
            else:
                break
            p += 1
        if not good or digits == 0 or (groups > 0 and group != 3):
            continue
        frac, places = 0, 0
        if p < e:
            if data[p] != 46:  # .
                continue
            p += 1
            if decimals == 0:  # an integer may end in .0, .00, ...: exactly integral
                zeros = 0
                while p < e and data[p] == 48:
                    zeros += 1
                    p += 1
                if p != e or zeros == 0:
                    continue
            else:  # then only zeros: 12.300 is 12.30 exactly, 12.345 no amount
                while p < e and 48 <= data[p] <= 57 and places < decimals:
                    frac = frac * 10 + (data[p] - 48)
                    places += 1
                    p += 1
                while p < e and data[p] == 48:
                    p += 1
                if p != e or places == 0:
                    continue
        for _ in range(places, decimals):
            frac *= 10
        v = value * 10**decimals + frac
        out[i] = -v if neg else v
        ok[i] = True


# -------------------------------------------------------------------- integers --


def integer_one(raw: str, type_: pa.DataType = _I64) -> int:
    """An integer cell → int within `type_`, or CellError bad_integer / out_of_range."""
    m = _INTEGER_RE.match(raw)
    if not m:
        raise CellError("bad_integer", f"{quoted(raw)} is not an integer (digits, or digits.0)")
    lo, hi = INT_RANGES[type_]
    digits = m.group(2).lstrip("0")
    if len(digits) > 19:  # beyond any int64 (and Python's 4,300-digit int() limit)
        raise CellError("out_of_range", f"{raw[:40]}… does not fit {type_} ({lo}..{hi})")
    value = int(m.group(1) + (digits or "0"))
    if not lo <= value <= hi:
        raise CellError("out_of_range", f"{raw} does not fit {type_} ({lo}..{hi})")
    return value


def integers(values: pa.StringArray, type_: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """Vectorised `integer_one`: (values of `type_`, bad mask). The kernel reads at most
    _INT_DIGITS digits (its int64 cannot overflow); a cell it refuses is read again by
    `integer_one`, so 19 digits within int64, or leading zeros, are what the reference
    says (a blind test: 00000000000000000000001 and int64's own bounds were refused)."""
    wide, ok = _decimal(values, commas=False, decimals=0, max_digits=_INT_DIGITS)
    again = np.flatnonzero(idlib.valid_mask(values) & ~ok)
    if len(again):
        texts = idlib.string_array(values).take(pa.array(again)).to_pylist()
        for i, raw in zip(again.tolist(), texts, strict=True):
            try:
                wide[i] = integer_one(raw, _I64)
                ok[i] = True
            except CellError:
                pass
    lo, hi = INT_RANGES[type_]
    ok &= (wide >= lo) & (wide <= hi)
    out = pa.array(np.where(ok, wide, 0).astype(type_.to_pandas_dtype()), type_, mask=~ok)
    return out, idlib.valid_mask(values) & ~ok


def integer_reason(raw: str, type_: pa.DataType) -> CellError:
    """The CellError of a bad integer cell (for the quarantine detail)."""
    try:
        integer_one(raw, type_)
    except CellError as e:
        return e
    raise ValueError(f"integer_reason: {raw!r} is a good {type_} integer")


# ----------------------------------------------------------------------- dates --

_DIRECTIVES = {  # the digit patterns of CPython's _strptime, ASCII digits only
    "Y": "[0-9]{4}",
    "m": "1[0-2]|0[1-9]|[1-9]",
    "d": "3[01]|[12][0-9]|0[1-9]|[1-9]",
    "H": "2[0-3]|[01][0-9]|[0-9]",
    "M": "[0-5][0-9]|[0-9]",
    "S": "6[01]|[0-5][0-9]|[0-9]",
    "f": "[0-9]{1,6}",
}
# the two-digit forms, for a directive written next to another with nothing between
# them: "2024111" with %Y%m%d is 2024-11-01 or 2024-01-11, and strptime picks one
# (the date's only: a time of day is read and dropped, "930" for %H%M is 9:30 as before)
_FIXED = {"m": "1[0-2]|0[1-9]", "d": "3[01]|[12][0-9]|0[1-9]"}
_MONTH_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def date_pattern(fmt: str) -> tuple[str, tuple[str, ...]]:
    """A strptime format → (anchored regex, directive of each group). ValueError names
    a directive that is not allowed, or a format without %Y, %m and %d. A directive next
    to another (`%Y%m%d`) takes its two-digit form: "2024111" would be 2024-11-01 or
    2024-01-11, and is a bad date rather than strptime's pick (a blind test)."""
    tokens, i = [], 0  # (directive or None, regex text)
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            if i + 1 >= len(fmt):
                raise ValueError(f"format {fmt!r} ends with a lone %")
            d = fmt[i + 1]
            if d == "%":
                tokens.append((None, "%"))
            elif d in _DIRECTIVES:
                if any(t == d for t, _ in tokens):
                    raise ValueError(f"format {fmt!r} has %{d} twice")
                tokens.append((d, ""))
            else:
                allowed = " ".join(f"%{k}" for k in _DIRECTIVES)
                raise ValueError(f"format {fmt!r}: %{d} is not supported (use {allowed} %%)")
            i += 2
        elif ch in " \t":
            tokens.append((None, "[ \t]+"))
            while i < len(fmt) and fmt[i] in " \t":
                i += 1
        else:
            tokens.append((None, re.escape(ch)))
            i += 1
    out, order = ["^"], []
    for k, (d, text) in enumerate(tokens):
        if d is None:
            out.append(text)
            continue
        beside = any(0 <= j < len(tokens) and tokens[j][0] for j in (k - 1, k + 1))
        out.append(f"(?P<{d}>{_FIXED.get(d, _DIRECTIVES[d]) if beside else _DIRECTIVES[d]})")
        order.append(d)
    if not {"Y", "m", "d"} <= set(order):
        raise ValueError(f"format {fmt!r} needs %Y, %m and %d")
    return "".join(out) + "$", tuple(order)


def date_one(raw: str, formats: tuple[str, ...]) -> dt.date:
    """A date cell → the first format's date that exists, or CellError bad_date."""
    for fmt in formats:
        pattern, _ = date_pattern(fmt)
        m = re.match(pattern, raw)
        if m:
            f = {k: int(v) for k, v in m.groupdict().items()}
            try:
                return dt.date(f["Y"], f["m"], f["d"])
            except ValueError:
                continue
    raise CellError("bad_date", f"{quoted(raw)} is not a date in any of {list(formats)}")


def dates(values: pa.StringArray, formats: tuple[str, ...]) -> tuple[pa.Array, np.ndarray]:
    """Vectorised `date_one`: (date32, bad mask)."""
    n = len(values)
    days = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=np.bool_)
    todo = np.flatnonzero(idlib.valid_mask(values))
    for fmt in formats:  # each format only on the cells no earlier format parsed
        if not len(todo):
            break
        pattern, _ = date_pattern(fmt)
        parts = pc.extract_regex(values.take(pa.array(todo)), pattern)
        matched = _matched(parts)
        if not matched.any():
            continue
        y, m, d = (
            pc.cast(pc.if_else(matched, parts.field(k), "1"), pa.int64()).to_numpy() for k in "Ymd"
        )
        leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
        last = _MONTH_DAYS[m] - ((m == 2) & ~leap)
        good = matched & (y >= 1) & (d <= last)
        days[todo[good]] = _days_from_civil(y[good], m[good], d[good])
        done[todo[good]] = True
        todo = todo[~good]
    present = idlib.valid_mask(values)
    out = pa.array(days.astype(np.int32), pa.date32(), mask=~done)
    return out, present & ~done


def _matched(parts: pa.StructArray) -> np.ndarray:
    """Rows where extract_regex matched (its struct is null elsewhere)."""
    return idlib.valid_mask(parts)


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of valid (y, m, d) (H. Hinnant's algorithm)."""
    yy = np.where(m <= 2, y - 1, y)
    era = np.floor_divide(yy, 400)
    yoe = yy - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


# ------------------------------------------------------------- enums, booleans --


def enum_one(raw: str, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise CellError(
            "unmapped_value", f"{quoted(raw)} is not in the value map nor one of {allowed}"
        )
    return raw


def boolean_one(raw: str) -> bool:
    if raw not in ("true", "false"):
        raise CellError("bad_boolean", f"{quoted(raw)} is not true or false (map it in [values])")
    return raw == "true"


def booleans(values: pa.StringArray) -> tuple[pa.Array, np.ndarray]:
    t, f = pc.equal(values, "true"), pc.equal(values, "false")
    ok = pc.fill_null(pc.or_(t, f), False)
    out = pc.if_else(ok, t, pa.scalar(None, pa.bool_()))
    return out, idlib.valid_mask(values) & ~ok.to_numpy(zero_copy_only=False)
