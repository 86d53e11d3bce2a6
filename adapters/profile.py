"""Adapter profiles (DATA.md "Adapter profiles", 数据接口配置): one TOML file maps one
raw export layout to one canonical table.

The loader is strict, in the manner of the policy loader: an unknown section or key,
an unknown table or canonical column, a value of the wrong TOML type, a format that is
not csv | jsonl | parquet, an unknown encoding, a date format with an unsupported
directive, or a required canonical column that is neither mapped nor defaulted is a
`ProfileError` naming the file and the key — before any row of any export is read.

Extensions where DATA.md is silent (see docs/adapters.md):
- `[profile]` also takes `skip_rows` (CSV lines before the header, e.g. a title line),
  `list_separator` (for `current_programs`, default ";") and `description`.
- A value map entry to "" maps that raw value to an empty cell (null), e.g. "无" for
  `disposed_on`.
- Nullable columns (declared_*, disposed_on) and `current_programs` may be left out:
  they are then null. households' `checked_*` may be left out: the ingest manifest
  then decides them (DATA.md "Ingest manifest"). `record_id` may be left out: it is then
  `<file basename>:<line>`.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from meanstest.adapters import normalise

from meanstest import schema
from meanstest.errors import MeansTestError
from meanstest.row_checks import JURISDICTION, JURISDICTION_RULE, RULES, breaks

FORMATS = ("csv", "jsonl", "parquet")
SECTIONS = ("profile", "columns", "values", "units", "dates", "defaults")
PROFILE_KEYS = (
    "table",
    "format",
    "encoding",
    "delimiter",
    "skip_rows",
    "list_separator",
    "description",
)
MONEY_UNITS = ("yuan", "fen")
AREA_UNITS = ("m2", "centi_m2")
AREA_COLUMNS = {("property", "area")}
DEFAULT_DATE_FORMATS = ("%Y-%m-%d",)
CHECKED = tuple(c.name for c in schema.TABLES["households"] if c.name.startswith("checked_"))


class ProfileError(MeansTestError):
    """A profile (or ingest manifest) is invalid: names the file, the key and the problem."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        # key "-": the whole file (unreadable, not TOML), no key to name
        where = file if key == "-" else f"{file}: {key}"
        super().__init__(f"{where}: {problem}", file=file, key=key, problem=problem)
        self.file, self.key, self.problem = file, key, problem


def kind(table: str, column: schema.Column) -> str:
    """How a canonical column's cells are normalised: id, money, area, integer, date,
    boolean, enum, list or text."""
    if column.name in ("person_id", "supporter_id"):
        return "id"
    if (table, column.name) in AREA_COLUMNS:
        return "area"
    if column.type == pa.int64():
        return "money"
    if pa.types.is_integer(column.type):
        return "integer"
    if column.type == pa.date32():
        return "date"
    if column.type == pa.bool_():
        return "boolean"
    if pa.types.is_list(column.type):
        return "list"
    return "enum" if column.enum else "text"


@dataclass(frozen=True)
class Profile:
    path: str
    digest: str  # SHA-256 of the profile file's bytes
    table: str
    format: str
    encoding: str
    delimiter: str
    skip_rows: int
    list_separator: str
    columns: dict[str, str]  # canonical -> raw column name
    values: dict[str, dict[str, object]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    dates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: dict[str, object] = field(default_factory=dict)
    description: str = ""

    @property
    def canonical(self) -> dict[str, schema.Column]:
        return {c.name: c for c in schema.TABLES[self.table]}

    def date_formats(self, column: str) -> tuple[str, ...]:
        return self.dates.get(column, DEFAULT_DATE_FORMATS)

    def unit(self, column: str) -> str:
        k = kind(self.table, self.canonical[column])
        return self.units.get(column, "fen" if k == "money" else "centi_m2")


def load_profile(path: str | Path) -> Profile:
    """Read and check one profile file (ProfileError on any problem)."""
    path = Path(path)
    name = str(path)
    if path.exists() and not path.is_file():  # a FIFO held the ingest for ever
        raise ProfileError(name, "-", "cannot read: not a regular file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ProfileError(name, "-", f"cannot read: {e.strerror or e}") from None
    return parse_profile(toml_doc(raw, name), name, hashlib.sha256(raw).hexdigest())


def toml_doc(raw: bytes, name: str) -> dict:
    """A profile's or manifest's TOML (an editor's BOM is no error); ProfileError saying
    whether the bytes are not UTF-8 or the text is not TOML (both were "not valid UTF-8
    TOML", which sent a blind tester looking at the encoding of a file whose TOML was
    wrong)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ProfileError(
            name,
            "-",
            f"not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}): save it as UTF-8",
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(name, "-", f"not valid TOML: {e}") from None
    except RecursionError:  # tomllib recurses per nesting level
        raise ProfileError(name, "-", "not valid TOML: nested too deeply") from None


def _codec(encoding: str) -> str | None:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return None


def parse_profile(doc: dict, name: str, digest: str = "") -> Profile:
    def err(key: str, problem: str) -> ProfileError:
        return ProfileError(name, key, problem)

    _known(doc, SECTIONS, "", err)
    head = doc.get("profile")
    if not isinstance(head, dict):
        raise err("profile", "missing [profile] section (table and format)")
    _known(head, PROFILE_KEYS, "profile.", err)
    table = head.get("table")
    if table not in schema.TABLES:
        raise err("profile.table", f"{table!r} is not a bundle table ({', '.join(schema.TABLES)})")
    fmt = head.get("format")
    if fmt not in FORMATS:
        raise err("profile.format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    encoding = _text(head, "encoding", "utf-8", err)
    # keys a format does not use are errors only where they would mean something: the
    # spec's own template (DATA.md) has `delimiter = ","`, copied into JSON Lines and
    # Parquet profiles, and Parquet text is UTF-8 (as skip_rows = 0 is no error)
    if fmt == "parquet" and "encoding" in head and _codec(encoding) != "utf-8":
        raise err("profile.encoding", "Parquet files carry their own encoding; remove the key")
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise err("profile.encoding", f"unknown encoding {encoding!r}") from None
    if fmt == "jsonl" and codec.startswith(("utf-16", "utf-32")):
        raise err("profile.encoding", f"{encoding}: JSON Lines are read line by line in bytes; "
                  "use an ASCII-compatible encoding (utf-8, gb18030, ...)")  # fmt: skip
    delimiter = _text(head, "delimiter", ",", err)
    if fmt != "csv" and delimiter != ",":
        raise err("profile.delimiter", "only CSV profiles have a delimiter")
    if len(delimiter) != 1 or delimiter in '\r\n"':
        raise err("profile.delimiter", f"{delimiter!r}: need one character (not a quote/newline)")
    if not delimiter.isascii():  # the CSV reader (pyarrow's) splits on one byte
        raise err(
            "profile.delimiter",
            f"{delimiter!r}: need an ASCII character; a full-width or other non-ASCII "
            "delimiter cannot be read: export with ',', ';', '|' or a tab",
        )
    skip_rows = head.get("skip_rows", 0)
    if not isinstance(skip_rows, int) or isinstance(skip_rows, bool) or skip_rows < 0:
        raise err("profile.skip_rows", f"{skip_rows!r}: need an integer >= 0")
    if fmt != "csv" and skip_rows:
        raise err("profile.skip_rows", "only CSV profiles skip lines before the header")
    separator = _text(head, "list_separator", ";", err)
    if not separator:
        raise err("profile.list_separator", "must not be empty")
    description = _text(head, "description", "", err)

    canonical = {c.name: c for c in schema.TABLES[table]}

    def column_key(section: str, col: str) -> schema.Column:
        if col not in canonical:
            raise err(f"{section}.{col}", f"table {table} has no column {col!r}")
        return canonical[col]

    columns = _section(doc, "columns", err)
    for col, raw_name in columns.items():
        column_key("columns", col)
        if not isinstance(raw_name, str) or not raw_name:
            raise err(f"columns.{col}", "need the raw column name (a non-empty string)")

    values: dict[str, dict[str, object]] = {}
    for col, mapping in _section(doc, "values", err).items():
        c = column_key("values", col)
        if not isinstance(mapping, dict):
            raise err(f"values.{col}", 'need a table of "raw value" = canonical value')
        if col not in columns:
            raise err(f"values.{col}", f"column {col!r} is not mapped in [columns]")
        values[col] = {}
        for k, v in mapping.items():
            key = k.strip()  # cells are trimmed before the map: so are its raw values
            if not key:
                raise err(
                    f"values.{col}.{k!r}",
                    "an empty cell is null, not a raw value (DATA.md): in a required "
                    "column it is quarantined",
                )
            if key in values[col]:
                raise err(f"values.{col}.{k!r}", f"{key!r} is mapped twice (once with spaces)")
            values[col][key] = _typed(table, c, v, f"values.{col}.{k}", err, element=True)

    units = _section(doc, "units", err)
    for col, unit in units.items():
        c = column_key("units", col)
        k = kind(table, c)
        allowed = MONEY_UNITS if k == "money" else AREA_UNITS if k == "area" else ()
        if not allowed:
            raise err(f"units.{col}", f"{col!r} is neither an amount nor an area")
        if unit not in allowed:
            raise err(f"units.{col}", f"{unit!r} is not one of {', '.join(allowed)}")

    dates: dict[str, tuple[str, ...]] = {}
    for col, formats in _section(doc, "dates", err).items():
        c = column_key("dates", col)
        if kind(table, c) != "date":
            raise err(f"dates.{col}", f"{col!r} is not a date column")
        if isinstance(formats, str):
            formats = [formats]
        if not isinstance(formats, list) or not formats:
            raise err(f"dates.{col}", "need a list of strptime formats, tried in order")
        for f in formats:
            if not isinstance(f, str):
                raise err(f"dates.{col}", f"{f!r} is not a format string")
            try:
                normalise.date_pattern(f)
            except ValueError as e:
                raise err(f"dates.{col}", str(e)) from None
        dates[col] = tuple(formats)

    defaults = {
        col: _typed(table, column_key("defaults", col), v, f"defaults.{col}", err)
        for col, v in _section(doc, "defaults", err).items()
    }
    if "record_id" in defaults:  # one constant would name every row alike: no evidence
        raise err(
            "defaults.record_id",
            "record_id takes no constant: it is each row's department key (map it in "
            "[columns]) or, unmapped, <file name>:<line>",
        )
    for col in defaults:
        if col in columns:  # DATA.md: "constants for columns the export lacks"
            raise err(
                f"defaults.{col}",
                f"{col} is mapped ([columns] {col} = {columns[col]!r}): [defaults] gives "
                "constants for columns the export lacks; an empty cell is null, and "
                "quarantined in a required column (DATA.md)",
            )
        if col in CHECKED:
            raise err(
                f"defaults.{col}",
                f"{col} comes from the case export (map it in [columns]) or, when the "
                "export has none, from the files the ingest manifest lists for the "
                "department (DATA.md): a constant would say a department was queried",
            )

    for col, c in canonical.items():
        optional = c.nullable or c.optional or col == "record_id" or col in CHECKED
        if not optional and col not in columns and col not in defaults:
            raise err(
                f"columns.{col}",
                f"required column {col!r} of {table} is not mapped (map it in [columns] "
                "or give a constant in [defaults])",
            )
    return Profile(
        path=name,
        digest=digest,
        table=table,
        format=fmt,
        encoding=encoding,
        delimiter=delimiter,
        skip_rows=skip_rows,
        list_separator=separator,
        columns=dict(columns),
        values=values,
        units=dict(units),
        dates=dates,
        defaults=defaults,
        description=description,
    )


def _known(d: dict, keys: tuple[str, ...], prefix: str, err) -> None:
    for k in d:
        if k not in keys:
            raise err(f"{prefix}{k}", f"unknown key (valid: {', '.join(keys)})")


def _text(d: dict, key: str, default: str, err) -> str:
    v = d.get(key, default)
    if not isinstance(v, str):
        raise err(f"profile.{key}", f"{v!r}: need a string")
    return v


def _section(doc: dict, key: str, err) -> dict:
    v = doc.get(key, {})
    if not isinstance(v, dict):
        raise err(key, f"[{key}] must be a table")
    return v


def _typed(table: str, c: schema.Column, v, key: str, err, element: bool = False):
    """A TOML value for column `c` (a value map target or a default), checked."""
    k = kind(table, c)
    if element and v == "" and (c.nullable or c.optional):
        return None  # maps a raw value to an empty cell
    if k == "list":
        if element:
            if not isinstance(v, str):
                raise err(key, f"{v!r}: a program name is a string")
            return v
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise err(key, f"{v!r}: need a list of strings")
        return list(v)
    if k in ("money", "area", "integer"):
        if not isinstance(v, int) or isinstance(v, bool):
            unit = {"money": " (fen)", "area": " (centi-m²)"}.get(k, "")
            raise err(key, f"{v!r}: {c.name} takes an integer{unit}")
        lo, hi = normalise.INT_RANGES[c.type]
        if not lo <= v <= hi:
            raise err(key, f"{v} does not fit {c.type}")
        # a constant outside the column's rule would have the review reject every row it
        # is given to (a blind test's "重度残疾" = 7 for health): the profile's mistake
        rule = RULES.get((table, c.name))
        if rule is not None and breaks(rule, v):
            raise err(key, f"{v}: {rule[0]}, which the review rejects (every row given it)")
        return v
    if k == "boolean":
        if not isinstance(v, bool):
            raise err(key, f"{v!r}: {c.name} takes true or false")
        return v
    if k == "date":
        if not isinstance(v, dt.date) or isinstance(v, dt.datetime):
            raise err(key, f"{v!r}: {c.name} takes a TOML date (2024-01-31)")
        return v
    if not isinstance(v, str):
        raise err(key, f"{v!r}: {c.name} takes a string")
    if k == "enum" and v not in c.enum:
        raise err(key, f"{v!r} is not a value of {c.name} ({', '.join(c.enum)})")
    if (table, c.name) == ("households", "jurisdiction") and not JURISDICTION.fullmatch(v):
        raise err(key, f"{v!r}: {JURISDICTION_RULE}, which the review rejects")
    if k == "id":
        try:
            return normalise.id_one(v)
        except normalise.CellError as e:
            raise err(key, e.detail) from None
    return v
