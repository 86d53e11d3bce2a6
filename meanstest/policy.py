"""Policy packs (POLICY.md): strict TOML loader, inheritance, selection, digest.

A pack is one TOML file; a folder of packs is a policy library. `load_library` reads
every pack, resolves `extends`, validates every resolved pack (base packs too) and
returns a `PolicyLibrary`, whose `select` picks the pack of a household. Every
problem is a `PolicyError(file, key, problem)` naming the file, the dotted key
(`veto.enabled[3]`, `support.sector_ratio.public`) and what is valid.

Choices made where POLICY.md is silent:

- Library: the top-level `*.toml` files of the folder (not recursive), sorted by name;
  names starting with "." (editor lock and backup files) are skipped. The file name
  need not match the pack id. A folder with no pack is an error.
- Files are UTF-8; a leading byte-order mark (Windows editors) is tolerated. Invalid
  TOML is reported with key "(syntax)" and tomllib's message (line and column);
  an unreadable file with key "(file)"; folder-level problems with key "(library)".
- Order of checks, first error raised: each file's `[policy]` table; duplicate ids;
  two packs with the same jurisdiction and effective_from; missing parents and
  cycles (a pack extending itself is a cycle); then every resolved pack, parents
  before children, so an error a child inherits is reported in the parent's file.
  Any other error names the file of the pack being validated.
- Merge: a child table over a parent table merges key by key (inline tables are
  tables: `sector_ratio`, `tuition_cap`, program tables); anything else in the child
  replaces the parent's value, and validation then judges the result. Hence a child
  cannot remove an inherited entry: set a tuition cap or student points to 0 (same as
  absent), or a program's `statuses = []` (never qualifies).
- `[programs]` is optional: absent stays absent in `params` (and the digest), an empty
  table stays `{}`. A program table has exactly `statuses` (array) and `requires`
  (string); names are `[a-z_]+`.
- Integers: every parameter is a non-negative integer (booleans are not integers)
  that fits in int64 (TOML's own range, which tomllib does not enforce; the kernels
  hold parameters in int64). Only the shares listed in POLICY.md are capped at 1000;
  circle3_ratio may be below 1000; phaseout.months may be 0..11.
- Arrays of names must not repeat an entry and may be empty (`veto.enabled = []`
  disables every veto). Numeric arrays may repeat values; age_bands must be 4
  strictly increasing non-negative integers.
- tuition_cap and student_points take any subset of the student levels ("none" too).
- `[policy]`: id and name non-blank strings; jurisdiction exactly six ASCII digits;
  effective_from a TOML local date (a datetime or time is a wrong type); `extends`,
  if present, a non-blank string. `extends` written outside `[policy]` is an unknown
  key, with a hint.
- Selection tries J, J[:4]+"00", J[:2]+"0000" (deduplicated) and falls back whenever
  no pack of a code is in force on D, even if that code has later packs. A J that is
  not six ASCII digits matches nothing (only J itself is "tried"): rejecting it is
  the bundle validator's job.
- `Policy.params` is shared by the library and must be treated as read-only: the
  digest was computed over it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from meanstest.errors import MeansTestError, PolicyError
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


def digest_of(resolved: dict) -> str:
    """POLICY.md "Digest": SHA-256 of the canonical JSON of the resolved pack."""
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, eq=False)
class Policy:
    """One fully resolved, validated pack.

    params: the resolved pack as plain dicts/lists/ints/strings, dates as "YYYY-MM-DD",
    without `extends` (exactly what the digest is computed over). Sections as in
    POLICY.md: policy, standards, imputation, support, deductions, veto, addons,
    phaseout, circles, programs (optional: absent stays absent, so the digest
    matches other implementations; use the `programs` property), index.
    """

    id: str
    jurisdiction: str
    name: str
    effective_from: dt.date
    params: dict
    digest: str
    path: str = ""

    @property
    def programs(self) -> dict:
        return self.params.get("programs", {})


# ---------------------------------------------------------------- validation ----

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
        if value < 0:
            raise pack.fail(key, f"negative number {value}; valid: {self.valid()}")
        if value < self.low:
            raise pack.fail(key, f"{value} is below {self.low}; valid: {self.valid()}")
        if value > self.high:
            if self.high == 1000:
                problem = f"share {value} above 1000"
            elif self.high == INT64_MAX:
                problem = f"{value} does not fit a 64-bit integer"
            else:
                problem = f"{value} is not below {self.high + 1}"
            raise pack.fail(key, f"{problem}; valid: {self.valid()}")

    def valid(self) -> str:
        span = f"≥ {self.low}" if self.high == INT64_MAX else f"{self.low}..{self.high}"
        return f"an integer {span} ({self.unit})"


FEN = _Int("fen")
COUNT = _Int("count")
MONTHS = _Int("months")
POINTS = _Int("points")
SHARE = _Int("‰, 1000 = 100%", high=1000)
MULTIPLIER = _Int("‰ of the dibao standard, 1000 = 1.0", low=1000)
AGE = _Int("years")


def _names(enum: tuple[str, ...], what: str) -> Callable[[_Pack, str, object], None]:
    """An array of distinct names from `enum` (may be empty)."""

    def check(pack: _Pack, key: str, value: object) -> None:
        seen: dict[str, int] = {}
        for i, v in enumerate(pack.array(key, value, f"{what}s ({', '.join(enum)})")):
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
                f"does not name exactly the {len(enum)} {what}s (missing: {', '.join(missing) or '-'}"
                f"; unknown: {', '.join(unknown) or '-'}); valid: {', '.join(enum)}",
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


def _age_bands(pack: _Pack, key: str, value: object) -> None:
    valid = "4 strictly increasing ages, e.g. [40, 50, 55, 60]"
    arr = pack.array(key, value, valid)
    if len(arr) != 4:
        raise pack.fail(key, f"has {len(arr)} values; valid: {valid}")
    for i, v in enumerate(arr):
        AGE(pack, _join(key, i), v)
        if i and v <= arr[i - 1]:
            raise pack.fail(_join(key, i), f"{v} does not exceed {arr[i - 1]}; valid: {valid}")


def _labour_coefficient(pack: _Pack, key: str, value: object) -> None:
    valid = "6 rows (health 1..6) of 5 shares (age bands)"
    rows = pack.array(key, value, valid)
    if len(rows) != 6:
        raise pack.fail(key, f"has {len(rows)} rows; valid: {valid}")
    for i, row in enumerate(rows):
        _ints(5, SHARE)(pack, _join(key, i), row)


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


def _all(check: Callable[[_Pack, str, object], None], keys: str) -> dict:
    return dict.fromkeys(keys.split(), check)


# Every key of a pack and its check, in the order of POLICY.md's default pack.
_SCHEMA: dict[str, dict[str, Callable[[_Pack, str, object], None]]] = {
    "standards": {
        **_all(FEN, "dibao_urban dibao_rural"),
        **_all(MULTIPLIER, "low_income_ratio tekun_ratio"),
    },
    "imputation": {
        "min_wage_monthly": FEN,
        "work_months": MONTHS,
        "rural_income_annual": FEN,
        "land_ratio": SHARE,
        "age_bands": _age_bands,
        "labour_coefficient": _labour_coefficient,
        "student_levels_without_labour": _names(STUDENT_LEVELS, "student level"),
        "counted_transfers": _names(TRANSFER_TYPES, "transfer type"),
    },
    "support": {
        "sector_ratio": _map(SECTORS, "sector", SHARE, exact=True),
        **_all(SHARE, "elevated_bonus cap_ratio"),
        "supporter_asset_limit": FEN,
    },
    "deductions": {
        "medical_cap": FEN,
        "tuition_cap": _map(STUDENT_LEVELS, "student level", FEN, exact=False),
        "pension_contribution_cap": FEN,
    },
    "veto": {
        "enabled": _names(VETO_CODES, "veto code"),
        "vehicle_types": _names(VEHICLE_TYPES, "vehicle type"),
        "vehicle_value_limit": FEN,
        **_all(COUNT, "max_vehicles max_residential_properties"),
        "residential_area_per_capita_limit": _Int("centi-m²"),
        "financial_asset_months": MONTHS,
        **_all(FEN, "business_turnover_limit insurance_grade_limit"),
        **_all(MONTHS, "recent_purchase_months recent_transfer_months recent_vehicle_months"),
        "refused_work_min_coefficient": SHARE,
        "refused_work_min_count": COUNT,
        "declaration_tolerance_ratio": SHARE,
        **_all(FEN, "declaration_tolerance_abs asset_declaration_tolerance_abs"),
    },
    "addons": _all(SHARE, "elderly_70 severe_disability serious_illness child_under_16"),
    "phaseout": {"months": _Int("months, below 12", high=11)},
    "circles": _all(_Int("‰ of the low-income standard"), "circle3_ratio circle4_ratio"),
    "index": {
        **_all(POINTS, "member_cap income_max asset_max age_70 age_60 age_child"),
        "health_points": _ints(6, POINTS),
        "student_points": _map(STUDENT_LEVELS, "student level", POINTS, exact=False),
        **_all(POINTS, "extra_property_penalty vehicle_penalty asset_penalty"),
        "asset_penalty_months": MONTHS,
    },
}
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
    j = table["jurisdiction"]
    if not isinstance(j, str) or not _JURISDICTION.fullmatch(j):
        raise pack.fail(
            "policy.jurisdiction",
            f'wrong type: got {_got(j)}; valid: a string of 6 digits (GB/T 2260), e.g. "150422"',
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


# ---------------------------------------------------------------- resolution ----


def _merge(parent: dict, child: dict) -> dict:
    """Tables merge key by key, recursively; anything else in the child replaces."""
    out = dict(parent)
    for k, v in child.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _plain(value: object) -> object:
    """Fresh plain containers; dates as "YYYY-MM-DD" (POLICY.md "Digest")."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def library_from_dicts(raws: Mapping[str, dict], path: str = "<memory>") -> PolicyLibrary:
    """Build a library from already parsed packs: file name -> TOML document.

    This is `load_library` without the reading; the file names are used in errors.
    """
    files = sorted(raws)
    if not files:
        raise PolicyError(path, "(library)", "no *.toml policy packs in this folder")
    heads = {f: _check_policy_table(_Pack(f), raws[f]) for f in files}
    by_id: dict[str, str] = {}
    for f in files:
        pid = heads[f]["id"]
        if pid in by_id:
            raise PolicyError(
                f,
                "policy.id",
                f"duplicate id {pid!r}, also in {by_id[pid]}; valid: one pack per id",
            )
        by_id[pid] = f
    _check_unique_dates((f, heads[f]["jurisdiction"], heads[f]["effective_from"]) for f in files)

    resolved: dict[str, dict] = {}
    depth: dict[str, int] = {}

    def resolve(f: str, chain: tuple[str, ...]) -> dict:
        if f in resolved:
            return resolved[f]
        body = {k: v for k, v in raws[f].items() if k != "policy"}
        own = {k: v for k, v in heads[f].items() if k != "extends"}
        parent_id = heads[f].get("extends")
        if parent_id is None:
            merged, depth[f] = body, 0
        else:
            if parent_id not in by_id:
                raise PolicyError(
                    f,
                    "policy.extends",
                    f"missing parent: no pack with id {parent_id!r}; "
                    f"valid: one of {', '.join(sorted(by_id))}",
                )
            pf = by_id[parent_id]
            if pf == f or pf in chain:
                loop = [*chain[chain.index(pf) :], f] if pf in chain else [f]
                cycle = " -> ".join([*(heads[x]["id"] for x in loop), parent_id])
                raise PolicyError(
                    f, "policy.extends", f"cycle: {cycle}; valid: a chain ending in a base pack"
                )
            parent = resolve(pf, (*chain, f))
            merged = _merge({k: v for k, v in parent.items() if k != "policy"}, body)
            depth[f] = depth[pf] + 1
        resolved[f] = {"policy": own, **merged}
        return resolved[f]

    for f in files:
        resolve(f, ())
    for f in sorted(files, key=lambda x: (depth[x], x)):
        _validate(_Pack(f), resolved[f])
    packs = []
    for f in files:
        h, params = heads[f], _plain(resolved[f])
        packs.append(
            Policy(
                h["id"],
                h["jurisdiction"],
                h["name"],
                h["effective_from"],
                params,
                digest_of(params),
                f,
            )
        )
    return PolicyLibrary(packs, path)


def _check_unique_dates(rows: Iterable[tuple[str, str, dt.date]]) -> None:
    seen: dict[tuple[str, dt.date], str] = {}
    for f, j, d in rows:
        if (j, d) in seen:
            raise PolicyError(
                f,
                "policy.effective_from",
                f"jurisdiction {j} already has a pack effective from {d.isoformat()} in "
                f"{seen[(j, d)]}; valid: one pack per jurisdiction and effective_from",
            )
        seen[(j, d)] = f


def load_library(path: str | Path) -> PolicyLibrary:
    """Read, resolve and validate every `*.toml` pack of a folder (POLICY.md)."""
    folder = Path(path)
    if not folder.is_dir():
        raise PolicyError(str(folder), "(library)", "not a folder; valid: a folder of *.toml packs")
    raws: dict[str, dict] = {}
    for file in sorted(folder.glob("*.toml")):
        if file.name.startswith(".") or not file.is_file():
            continue
        try:
            text = file.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise PolicyError(str(file), "(file)", f"cannot be read as UTF-8 text: {e}") from e
        try:
            raws[str(file)] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise PolicyError(str(file), "(syntax)", f"invalid TOML: {e}") from e
    return library_from_dicts(raws, str(folder))


@functools.cache
def default_library() -> PolicyLibrary:
    """The packaged library (meanstest/policies), loaded once."""
    return load_library(Path(__file__).with_name("policies"))


# ----------------------------------------------------------------- selection ----


class PolicyLibrary:
    """Resolved, validated packs, and the selection of POLICY.md "Selecting"."""

    def __init__(self, packs: Iterable[Policy], path: str = "") -> None:
        self.path = path
        self.packs: list[Policy] = sorted(packs, key=lambda p: p.id)
        self._by_id: dict[str, Policy] = {}
        for p in self.packs:
            if p.id in self._by_id:
                raise PolicyError(p.path, "policy.id", f"duplicate id {p.id!r}")
            self._by_id[p.id] = p
        _check_unique_dates((p.path, p.jurisdiction, p.effective_from) for p in self.packs)
        self._in_force: dict[str, list[Policy]] = {}  # jurisdiction -> by effective_from
        for p in sorted(self.packs, key=lambda p: p.effective_from):
            self._in_force.setdefault(p.jurisdiction, []).append(p)
        self._dates = {j: [p.effective_from for p in ps] for j, ps in self._in_force.items()}
        self._memo: dict[tuple[str, dt.date], Policy | None] = {}

    def __len__(self) -> int:
        return len(self.packs)

    def __iter__(self) -> Iterator[Policy]:
        return iter(self.packs)

    def __contains__(self, pack_id: object) -> bool:
        return pack_id in self._by_id

    def by_id(self, pack_id: str) -> Policy:
        try:
            return self._by_id[pack_id]
        except KeyError:
            raise PolicyError(
                self.path,
                "policy.id",
                f"no pack with id {pack_id!r}; valid: {', '.join(self._by_id)}",
            ) from None

    @staticmethod
    def candidates(jurisdiction: str) -> list[str]:
        """The codes `select` tries, in order: J, its prefecture, its province."""
        j = jurisdiction
        if not isinstance(j, str) or not _JURISDICTION.fullmatch(j):
            return [j] if isinstance(j, str) else []
        return list(dict.fromkeys((j, j[:4] + "00", j[:2] + "0000")))

    def select(self, jurisdiction: str, d: dt.date) -> Policy | None:
        """The pack in force for J on D (latest effective_from ≤ D), with fallback; None
        when nothing matches (the caller rejects the household naming J, D and
        `candidates(J)`). Memoised by (J, D)."""
        if isinstance(d, dt.datetime):
            d = d.date()
        key = (jurisdiction, d)
        try:
            return self._memo[key]
        except KeyError:
            pass
        found = None
        for code in self.candidates(jurisdiction):
            i = bisect.bisect_right(self._dates.get(code, []), d)
            if i:
                found = self._in_force[code][i - 1]
                break
        if len(self._memo) >= 1 << 20:  # bound memory on adversarial inputs
            self._memo.clear()
        self._memo[key] = found
        return found

    def select_many(self, jurisdictions: list[str], dates: list[dt.date]) -> list[Policy | None]:
        """`select` for aligned lists (one entry per household), on distinct pairs."""
        if len(jurisdictions) != len(dates):
            raise MeansTestError(
                f"select_many: {len(jurisdictions)} jurisdictions but {len(dates)} dates"
            )
        pairs = list(zip(jurisdictions, dates))
        chosen = {p: self.select(*p) for p in dict.fromkeys(pairs)}
        return [chosen[p] for p in pairs]
