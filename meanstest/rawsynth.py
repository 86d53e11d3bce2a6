"""`meanstest synth --raw DIR`: the synthetic district written as raw department exports
(合成原始数据), in the layouts of the sample profiles (adapters/profiles), with an
ingest manifest — so that synth → raw → ingest → review can be run and checked end to
end.

Each canonical table is written through a profile in reverse: value names from the
profile's value maps, amounts in yuan, areas in m², dates in the profile's formats,
GB18030 / UTF-8-with-BOM CSV, JSON Lines and Parquet. Source rows whose record_id is
a department key go to the department's keyed export; rows whose record_id is
"<file>.csv:<line>" go to a county export of that name, each at that physical line
(gaps are blank lines), so ingest gives every row back its record_id.

Dirt, all of which normalisation must undo (seeded): thousands separators, amounts with
fewer decimals, every date format of the profile, lower-case x and inner spaces in
IDs, full-width digits, stray spaces around cells, spaced plates. And a few extra,
deliberately unmappable rows per export (`UNMAPPABLE` kinds: bad amount, unmapped
value, bad date, bad ID, empty required cell, a CSV row with a field too many, a line
that is not JSON), which ingest must quarantine — they are not rows of the canonical
bundle, so ingest of the raw district gives back exactly the canonical bundle.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from meanstest import schema
from meanstest.adapters import PROFILES
from meanstest.adapters.normalise import format_yuan
from meanstest.adapters.profile import Profile, kind, load_profile

LAYOUT = {  # table -> (folder, keyed profile, county profile)
    "households": ("case", "case_households", None),
    "persons": ("case", "case_persons", None),
    "supporters": ("case", "case_supporters", None),
    "tax_income": ("tax", "tax_income", "tax_income_county"),
    "business_registration": ("tax", "business_registration", "business_registration_county"),
    "bank": ("bank", "bank", "bank_county"),
    "vehicle": ("vehicle", "vehicle", "vehicle_county"),
    "property": ("housing", "property", "property_county"),
    "social_insurance": ("social_insurance", "social_insurance", "social_insurance_county"),
}
UNMAPPABLE = ("bad_amount", "unmapped_value", "bad_date", "bad_id", "empty_required")
_AT_LINE = re.compile(r"^(.+\.csv):([0-9]+)$")
_WIDE = str.maketrans("0123456789", "０１２３４５６７８９")
_EXT = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}


class _Writer:
    """Canonical values → raw cells under one profile, with seeded dirt."""

    def __init__(self, profile: Profile, rng: random.Random, dirt: bool) -> None:
        self.p, self.rng, self.dirt = profile, rng, dirt
        self.inverse = {
            col: {v: raw for raw, v in reversed(m.items())} for col, m in profile.values.items()
        }
        self.cols = [c for c in schema.TABLES[profile.table] if c.name in profile.columns]

    def cell(self, c: schema.Column, v):
        """The raw text of canonical value v (None → empty)."""
        k, rng, p = kind(self.p.table, c), self.rng, self.p
        inverse = self.inverse.get(c.name, {})
        if k == "list":
            if v is None:
                return ""
            if not v:
                return inverse.get(None, "")
            return p.list_separator.join(inverse.get(x, x) for x in v)
        if v is None:
            return ""
        if v in inverse:
            return self._spaces(inverse[v])
        if k == "id":
            return self._id(v)
        if k in ("money", "area") and p.unit(c.name) in ("yuan", "m2"):
            text = format_yuan(v, thousands=self.dirt and rng.random() < 0.3,
                               decimals=rng.choice((0, 1, 2)) if self.dirt else 2)  # fmt: skip
            return self._spaces(text)
        if k == "date":
            fmt = rng.choice(p.date_formats(c.name)) if self.dirt else p.date_formats(c.name)[0]
            return self._spaces(v.strftime(fmt))
        if k == "boolean":
            return "true" if v else "false"
        if c.name == "plate" and self.dirt and rng.random() < 0.1:
            return v[:2].lower() + " " + v[2:]
        return self._spaces(str(v))

    def _spaces(self, text: str) -> str:
        if self.dirt and self.rng.random() < 0.05:
            return self.rng.choice((" ", "  ", "\u3000")) + text + self.rng.choice(("", " "))
        return text

    def _id(self, v: str) -> str:
        if not self.dirt:
            return v
        r = self.rng.random()
        if v.endswith("X") and r < 0.5:
            v = v[:-1] + "x"
        elif r < 0.06:
            v = v[:6] + " " + v[6:14] + " " + v[14:]
        elif r < 0.08:
            v = v[:6].translate(_WIDE) + v[6:]
        return self._spaces(v)

    def row(self, values: dict) -> dict:
        return {self.p.columns[c.name]: self.cell(c, values[c.name]) for c in self.cols}

    def broken(self, values: dict, how: str, typed: frozenset = frozenset()) -> dict:
        """A copy of a row made unmappable in the way `how` names (or, where the
        layout has no such column, in another way); `typed` kinds are not text."""
        row = self.row(values)
        by_kind: dict[str, schema.Column] = {}
        for c in self.cols:
            k = kind(self.p.table, c)
            if k not in typed and c.name not in self.p.defaults:
                by_kind.setdefault(k, c)
        if how == "empty_required":
            c = next(c for c in self.cols if not (c.nullable or c.optional))
            row[self.p.columns[c.name]] = ""
            return row
        wanted = {"bad_amount": "money", "unmapped_value": "enum", "bad_date": "date",
                  "bad_id": "id"}[how]  # fmt: skip
        for k in (wanted, "enum", "id", "date", "money", "integer", "boolean"):
            if k in by_kind:
                row[self.p.columns[by_kind[k].name]] = _BAD_TEXT[k]
                return row
        raise ValueError(f"profile {self.p.path} has no column to break")


_BAD_TEXT = {"money": "12.345", "enum": "未知类别", "date": "2024-13-45",
             "id": "15042219800101001", "integer": "1.5", "boolean": "也许"}  # fmt: skip


def _write_csv(path: Path, p: Profile, header: list[str], lines: list[list[str] | str]) -> None:
    out = io.StringIO()
    w = csv.writer(out, delimiter=p.delimiter, lineterminator="\n")
    w.writerow(header)
    for row in lines:
        if isinstance(row, str):
            out.write(row + "\n")
        else:
            w.writerow(row)
    enc = "utf-8-sig" if p.encoding.replace("_", "-").lower() in ("utf-8", "utf8") else p.encoding
    path.write_bytes(out.getvalue().encode(enc))


def _write_jsonl(path: Path, p: Profile, rows: list[dict | str]) -> None:
    with open(path, "w", encoding=p.encoding, newline="\n") as f:
        f.writelines(
            (row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n"
            for row in rows
        )


def _write_parquet(path: Path, p: Profile, table: pa.Table, writer: _Writer, extra, src) -> None:
    """Dates as date32 and yuan as decimal(18, 2) (typed, as a big-data bureau writes
    them); the rest as text. `extra` rows (raw) break only text columns; their typed
    cells are those of the canonical rows `src` they were made from."""
    cols = {}
    for c in writer.cols:
        raw = p.columns[c.name]
        k = kind(p.table, c)
        if k == "date" and c.name not in p.values:
            values = table.column(c.name).to_pylist() + [r[c.name] for r in src]
            cols[raw] = pa.array(values, pa.date32())
        elif k == "money" and p.unit(c.name) == "yuan":
            values = table.column(c.name).to_pylist() + [r[c.name] for r in src]
            text = [None if v is None else format_yuan(v) for v in values]
            cols[raw] = pa.array(text, pa.string()).cast(pa.decimal128(18, 2))
        else:
            values = [writer.cell(c, v) for v in table.column(c.name).to_pylist()]
            cols[raw] = pa.array(values + [r.get(raw) for r in extra], pa.string())
    pq.write_table(pa.table(cols), path)


def write_raw(
    out_dir: str | os.PathLike[str],
    tables: dict[str, pa.Table],
    seed: int = 0,
    *,
    dirt: bool = True,
) -> Path:
    """Write `tables` (a canonical bundle) as raw exports under `out_dir`, with the
    profiles copied to `out_dir/profiles` and `out_dir/manifest.toml`. Returns the
    manifest path."""
    out = Path(out_dir)
    (out / "profiles").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    sources: list[tuple[str, list[str]]] = []
    for table, (folder, keyed, county) in LAYOUT.items():
        (out / folder).mkdir(exist_ok=True)
        for name in (keyed, county):
            if name:
                shutil.copyfile(PROFILES / f"{name}.toml", out / "profiles" / f"{name}.toml")
        t = tables[table]
        rows = t.to_pylist()
        at_line: dict[str, dict[int, dict]] = {}
        plain = []
        for r in rows:
            m = _AT_LINE.match(r.get("record_id") or "")
            if m and county:
                at_line.setdefault(m.group(1), {})[int(m.group(2))] = r
            else:
                plain.append(r)
        p = load_profile(out / "profiles" / f"{keyed}.toml")
        w = _Writer(p, rng, dirt)
        typed = frozenset(("money", "date")) if p.format == "parquet" else frozenset()
        extra = (  # an empty table has no row to break
            [w.broken(plain[i % len(plain)], how, typed) for i, how in enumerate(UNMAPPABLE)]
            if dirt and plain
            else []
        )
        file = out / folder / f"{keyed}.{_EXT[p.format]}"
        header = [p.columns[c.name] for c in w.cols]
        raw_rows = [w.row(r) for r in plain]
        if p.format == "csv":
            lines = [[r[h] for h in header] for r in raw_rows + extra]
            if dirt and plain:
                lines.append([*lines[0], "多余字段"])  # a field too many: bad_row
            _write_csv(file, p, header, lines)
        elif p.format == "jsonl":
            _write_jsonl(file, p, [*raw_rows, *extra, *(["{不是JSON"] if dirt and plain else [])])
        else:
            sub = pa.Table.from_pylist(plain, schema=schema.arrow_schema(table))
            src = [plain[i % len(plain)] for i in range(len(extra))]
            _write_parquet(file, p, sub, w, extra, src)
        sources.append((f"profiles/{keyed}.toml", [f"{folder}/{file.name}"]))
        if county and at_line:
            cp = load_profile(out / "profiles" / f"{county}.toml")
            cw = _Writer(cp, rng, dirt)
            names = []
            for fname, by_line in sorted(at_line.items()):
                cheader = [cp.columns[c.name] for c in cw.cols]
                lines = [
                    [cw.row(by_line[n])[h] for h in cheader] if n in by_line else ""
                    for n in range(2, max(by_line) + 1)
                ]
                _write_csv(out / folder / fname, cp, cheader, lines)
                names.append(f"{folder}/{fname}")
            sources.append((f"profiles/{county}.toml", names))
    manifest = out / "manifest.toml"
    text = "# Raw exports of a synthetic district (meanstest synth-raw)\n"
    for prof, files in sources:
        text += (
            f'\n[[source]]\nprofile = "{prof}"\nfiles = {json.dumps(files, ensure_ascii=False)}\n'
        )
    manifest.write_text(text, encoding="utf-8")
    return manifest
