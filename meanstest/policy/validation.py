"""The strict schema of a pack (POLICY.md): every key, its check and its error."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from meanstest.errors import PolicyError
from meanstest.registry import PARAMS, Param
from meanstest.schema import (
    PROGRAM_REQUIRES,
    SECTORS,
    STATUSES,
    STUDENT_LEVELS,
    TRANSFER_TYPES,
    VEHICLE_TYPES,
    VETO_CODES,
)

# A program is never offered to a vetoed household (RULES.md §11), so VETOED is not
# a status a program can list.
PROGRAM_STATUSES = tuple(s for s in STATUSES if s != "VETOED")
INT64_MAX = 2**63 - 1
_JURISDICTION = re.compile(r"[0-9]{6}")
_PROGRAM_NAME = re.compile(r"[a-z_]+")


_TOML_TYPES = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "float"),
    (str, "string"),
    (dt.datetime, "datetime"),
    (dt.date, "date"),
    (dt.time, "time"),
    (list, "array"),
    (dict, "table"),
)


def _toml_type(value: object) -> str:
    return next((name for t, name in _TOML_TYPES if isinstance(value, t)), type(value).__name__)


def _got(value: object) -> str:
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return f"{_toml_type(value)} {shown if len(shown) <= 40 else shown[:37] + '...'}"


def _join(key: str, sub: str | int) -> str:
    if isinstance(sub, int):
        return f"{key}[{sub}]"
    return f"{key}.{sub}" if key else sub


class _Pack:
    """Validation context: the file every error of this pack is reported against."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, problem: str) -> PolicyError:
        return PolicyError(self.file, key, problem)

    def table(self, key: str, value: object, what: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"wrong type: got {_got(value)}; valid: a table of {what}")
        return value

    def array(self, key: str, value: object, what: str) -> list:
        if not isinstance(value, list):
            raise self.fail(key, f"wrong type: got {_got(value)}; valid: an array of {what}")
        return value

    def keys(self, key: str, table: dict, valid: Iterable[str], what: str, exact: bool) -> None:
        """Unknown keys first (a typo then also reads as missing), then missing ones."""
        valid = list(valid)
        for k in sorted(table):
            if k not in valid:
                near = difflib.get_close_matches(k, valid, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                if key == "" and k == "extends":
                    hint = " (extends belongs in the [policy] table)"
                raise self.fail(_join(key, k), f"unknown {what}{hint}; valid: {', '.join(valid)}")
        if exact:
            for k in valid:
                if k not in table:
                    raise self.fail(_join(key, k), f"missing {what}; required: {', '.join(valid)}")


@dataclass(frozen=True)
class _Int:
    """A non-negative int64 with an optional bound; `unit` says how to read it."""

    unit: str
    low: int = 0
    high: int = INT64_MAX

    def __call__(self, pack: _Pack, key: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise pack.fail(key, f"wrong type: got {_got(value)}; valid: {self.valid()}")
        # 15 digits or more are grouped: an error message masks such a run as a resident
        # ID (meanstest.errors.redact), and the value would no longer read as a number
        shown = f"{value:,}" if abs(value) >= 10**14 else str(value)
        if value < 0:
            raise pack.fail(key, f"negative number {shown}; valid: {self.valid()}")
        if value < self.low:
            raise pack.fail(key, f"{shown} is below {self.low}; valid: {self.valid()}")
        if value > self.high:
            if self.high == 1000:
                problem = f"share {shown} above 1000"
            elif self.high == INT64_MAX:
                problem = f"{shown} does not fit a 64-bit integer"
            elif self.high == 11:  # phaseout.months, "< 12" in POLICY.md's own words
                problem = f"{shown} is not below 12"
            else:
                problem = f"{shown} is above the largest value allowed, {self.high:,}"
            raise pack.fail(key, f"{problem}; valid: {self.valid()}")

    def valid(self) -> str:
        span = f"≥ {self.low}" if self.high == INT64_MAX else f"{self.low}..{self.high}"
        return f"an integer {span} ({self.unit})"


# Upper bounds where POLICY.md says only "an integer ≥ 0": values that enter products
# (RULES.md §3, §7, §9) are bounded so that every product stays in int64 — the kernels
# would wrap, the reference fail (an adversarial run: dibao_rural = 2^63 − 1 paid
# negative benefits). Far above any real pack: a standard of 10 billion yuan, a ratio
# of 10×, a window of 100 years, a million index points (docs/decisions.md). Limits that
# are only compared (veto thresholds) stay free: "practically infinite" is a valid limit.
FEN = _Int("fen")
STANDARD = _Int("fen", high=10**12)
COUNT = _Int("count")
MONTHS = _Int("months", high=1200)
POINTS = _Int("points", high=10**6)
SHARE = _Int("‰, 1000 = 100%", high=1000)
MULTIPLIER = _Int("‰ of the dibao standard, 1000 = 1.0", low=1000, high=10_000)
AGE = _Int("years")


def _plural(what: str) -> str:
    return what + ("es" if what.endswith("s") else "s")  # statuses, sectors


def _quoted(names: list[str]) -> str:
    """Names as quoted strings: a sector called `none` must not read as "nothing"."""
    return ", ".join(repr(n) for n in names) or "-"


def _names(enum: tuple[str, ...], what: str) -> Callable[[_Pack, str, object], None]:
    """An array of distinct names from `enum` (may be empty)."""

    def check(pack: _Pack, key: str, value: object) -> None:
        seen: dict[str, int] = {}
        for i, v in enumerate(pack.array(key, value, f"{_plural(what)} ({', '.join(enum)})")):
            if not isinstance(v, str):
                raise pack.fail(
                    _join(key, i), f"wrong type: got {_got(v)}; valid: one of {', '.join(enum)}"
                )
            if v not in enum:
                raise pack.fail(_join(key, i), f"unknown {what} {v!r}; valid: {', '.join(enum)}")
            if v in seen:
                raise pack.fail(
                    _join(key, i),
                    f"repeated entry {v!r} (already at [{seen[v]}]); valid: each once",
                )
            seen[v] = i

    return check


def _map(enum: tuple[str, ...], what: str, item: _Int, exact: bool):
    """A table keyed by names from `enum`: all of them (exact) or any subset."""

    def check(pack: _Pack, key: str, value: object) -> None:
        table = pack.table(key, value, f"{what} = integer")
        unknown = sorted(set(table) - set(enum))
        if exact and (unknown or len(table) != len(enum)):
            missing = [k for k in enum if k not in table]
            raise pack.fail(
                key,
                f"does not name exactly the {len(enum)} {_plural(what)} (missing: "
                f"{_quoted(missing)}; unknown: {_quoted(unknown)}); valid: {', '.join(enum)}",
            )
        pack.keys(key, table, enum, what, exact=False)
        for k in enum:
            if k in table:
                item(pack, _join(key, k), table[k])

    return check


def _ints(length: int, item: _Int):
    def check(pack: _Pack, key: str, value: object) -> None:
        arr = pack.array(key, value, f"{length} integers")
        if len(arr) != length:
            raise pack.fail(key, f"has {len(arr)} values; valid: exactly {length} integers")
        for i, v in enumerate(arr):
            item(pack, _join(key, i), v)

    return check


def _ages(length: int, item: _Int):
    valid = f"{length} strictly increasing ages, e.g. [40, 50, 55, 60]"

    def check(pack: _Pack, key: str, value: object) -> None:
        arr = pack.array(key, value, valid)
        if len(arr) != length:
            raise pack.fail(key, f"has {len(arr)} values; valid: {valid}")
        for i, v in enumerate(arr):
            item(pack, _join(key, i), v)
            if i and v <= arr[i - 1]:
                raise pack.fail(_join(key, i), f"{v} does not exceed {arr[i - 1]}; valid: {valid}")

    return check


def _grid(length: int, width: int, item: _Int):
    """The labour coefficient table: a row per health level, a share per age band."""
    valid = f"{length} rows (health 1..{length}) of {width} shares (age bands)"

    def check(pack: _Pack, key: str, value: object) -> None:
        rows = pack.array(key, value, valid)
        if len(rows) != length:
            raise pack.fail(key, f"has {len(rows)} rows; valid: {valid}")
        for i, row in enumerate(rows):
            _ints(width, item)(pack, _join(key, i), row)

    return check


def _program(pack: _Pack, key: str, value: object) -> None:
    table = pack.table(key, value, 'statuses = [...] and requires = "..."')
    pack.keys(key, table, ("statuses", "requires"), "program key", exact=True)
    _names(PROGRAM_STATUSES, "status")(pack, _join(key, "statuses"), table["statuses"])
    req = table["requires"]
    if not isinstance(req, str):
        raise pack.fail(_join(key, "requires"), f"wrong type: got {_got(req)}; valid: a string")
    if req not in PROGRAM_REQUIRES:
        raise pack.fail(
            _join(key, "requires"),
            f"unknown requires {req!r}; valid: {', '.join(PROGRAM_REQUIRES)}",
        )


def _programs(pack: _Pack, key: str, value: object) -> None:
    for name, program in pack.table(key, value, "program tables").items():
        if not _PROGRAM_NAME.fullmatch(name):
            raise pack.fail(
                _join(key, name), "program name is not lower-case letters and _; valid: [a-z_]+"
            )
        _program(pack, _join(key, name), program)


# The constraint of an integer parameter (registry.CHECKS), as its error messages say it.
_CHECKS: dict[str, _Int] = {
    "fen": FEN,
    "count": COUNT,
    "months": MONTHS,
    "points": POINTS,
    "share": SHARE,
    "multiplier": MULTIPLIER,
    "age": AGE,
    "centi_m2": _Int("centi-m²"),
    "months_below_12": _Int("months, below 12", high=11),
    "low_income_permille": _Int("‰ of the low-income standard", high=10_000),
    "standard": STANDARD,
}
# The enumerations parameters name (registry Param.enum) and what one value is called.
_ENUMS: dict[str, tuple[tuple[str, ...], str]] = {
    "STUDENT_LEVELS": (STUDENT_LEVELS, "student level"),
    "TRANSFER_TYPES": (TRANSFER_TYPES, "transfer type"),
    "SECTORS": (SECTORS, "sector"),
    "VETO_CODES": (VETO_CODES, "veto code"),
    "VEHICLE_TYPES": (VEHICLE_TYPES, "vehicle type"),
}


def _check(p: Param) -> Callable[[_Pack, str, object], None]:
    """The check of one registry parameter (its shape and constraint)."""
    if p.shape == "int":
        return _CHECKS[p.check]
    if p.shape == "names":
        return _names(*_ENUMS[p.enum])
    if p.shape == "map":
        return _map(*_ENUMS[p.enum], _CHECKS[p.check], exact=p.exact)
    if p.shape == "ints":
        return _ints(p.length, _CHECKS[p.check])
    if p.shape == "ages":
        return _ages(p.length, _CHECKS[p.check])
    return _grid(p.length, p.width, _CHECKS[p.check])


# Every key of a pack and its check, in the order of POLICY.md's default pack: the
# parameter registry (kernels/registry.py).
_SCHEMA: dict[str, dict[str, Callable[[_Pack, str, object], None]]] = {}
for _p in PARAMS:
    _SCHEMA.setdefault(_p.section, {})[_p.key] = _check(_p)
del _p
_SECTIONS = ("policy", *_SCHEMA, "programs")
_POLICY_KEYS = ("id", "jurisdiction", "name", "effective_from", "extends")


def _check_policy_table(pack: _Pack, raw: dict) -> dict:
    """The `[policy]` table of one file, before any inheritance (it is never inherited)."""
    pack.table("(file)", raw, "sections")
    if "policy" not in raw:
        raise pack.fail(
            "policy", "missing table [policy]; required: id, jurisdiction, name, effective_from"
        )
    table = pack.table("policy", raw["policy"], "id, jurisdiction, name, effective_from")
    pack.keys("policy", table, _POLICY_KEYS, "key", exact=False)
    for k in _POLICY_KEYS[:4]:
        if k not in table:
            raise pack.fail(f"policy.{k}", f"missing key; required: {', '.join(_POLICY_KEYS[:4])}")
    for k in ("id", "name", "extends"):
        v = table.get(k, "-")
        if not isinstance(v, str) or not v.strip():
            problem = f"wrong type: got {_got(v)}" if not isinstance(v, str) else "empty string"
            raise pack.fail(f"policy.{k}", f"{problem}; valid: a non-empty string")
        if any(unicodedata.category(c) == "Cc" for c in v):  # a newline in policy_id
            # split every one-line display of it (a blind test of pack authoring)
            raise pack.fail(f"policy.{k}", f"{v!r} holds a control character; valid: text")
    j = table["jurisdiction"]
    if not isinstance(j, str) or not _JURISDICTION.fullmatch(j):
        problem = f"wrong type: got {_got(j)}" if not isinstance(j, str) else f"{j!r}"
        raise pack.fail(
            "policy.jurisdiction",
            f'{problem}; valid: a string of 6 digits (GB/T 2260), e.g. "150422"',
        )
    d = table["effective_from"]
    if type(d) is not dt.date:
        raise pack.fail(
            "policy.effective_from",
            f"wrong type: got {_got(d)}; valid: a TOML date without quotes, e.g. 2024-01-01",
        )
    return table


def _validate(pack: _Pack, resolved: dict) -> None:
    """POLICY.md "Inheritance": a resolved pack is complete and valid."""
    pack.keys("", resolved, _SECTIONS, "section", exact=False)
    for section, spec in _SCHEMA.items():
        if section not in resolved:
            raise pack.fail(
                section, f"missing section [{section}]; required keys: {', '.join(spec)}"
            )
        table = pack.table(section, resolved[section], ", ".join(spec))
        pack.keys(section, table, spec, "key", exact=True)
        for k, check in spec.items():
            check(pack, f"{section}.{k}", table[k])
    if "programs" in resolved:
        _programs(pack, "programs", resolved["programs"])
    c3, c4 = resolved["circles"]["circle3_ratio"], resolved["circles"]["circle4_ratio"]
    if c4 < c3:
        raise pack.fail(
            "circles.circle4_ratio",
            f"{c4} is below circle3_ratio {c3}; valid: circle4_ratio ≥ circle3_ratio",
        )
