"""A profile applied to a batch of raw rows: canonical rows, or quarantine entries.

For each canonical column, in this order: the raw cell (text; a Parquet value of the
column's own type is taken as it is), trimmed, empty = null; the department's
clean-up; the profile's value map; otherwise the column's normaliser (`normalise`);
then an empty cell takes the profile's default, is null in a nullable column, or is
an `empty_required` error. A row with any bad cell goes to the quarantine whole, one
entry per bad cell (DATA.md: file, line, column, raw value, reason), and is not in the
output; every other row is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from meanstest.adapters import normalise as N
from meanstest.adapters.base import Adapter
from meanstest.adapters.profile import Profile, kind
from meanstest.adapters.raw import EMPTY_LIST, RawBatch

from meanstest import schema
from meanstest.ids import valid_mask

QUARANTINE = pa.schema(
    [
        ("table", pa.string()),
        ("file", pa.string()),
        ("line", pa.int64()),
        ("record_id", pa.string()),
        ("column", pa.string()),
        ("raw_column", pa.string()),
        ("raw_value", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)


@dataclass
class Mapped:
    table: pa.Table  # canonical schema, the rows that mapped
    quarantine: pa.Table  # QUARANTINE, one entry per bad cell or unreadable row
    rows_quarantined: int
    # whose data the quarantined rows were: household_id (case tables) or person_id
    # (source tables) of each quarantined row where that cell itself was good
    owners: list[str] = field(default_factory=list)
    # persons / supporters: (household_id, person id) of each quarantined row where both
    # cells were good — whose records `ingest --hold` leaves out with the household
    people: list[tuple[str, str]] = field(default_factory=list)
    # quarantined rows whose owner cell (household_id / person_id) names nobody: empty,
    # or no resident ID in it, even with its check character put right
    untied: int = 0


@dataclass
class _Cells:
    values: pa.Array
    bad: np.ndarray  # bool per row
    text: pa.Array | None  # the raw text (for quarantine entries)
    explain: object  # raw text -> CellError


def map_batch(
    profile: Profile,
    adapter: Adapter,
    batch: RawBatch,
    file_name: str,
    overrides: dict[str, object] | None = None,
) -> Mapped:
    """Map one RawBatch. `overrides` gives constants for unmapped columns (the
    households' checked_* flags decided by the ingest manifest)."""
    overrides = overrides or {}
    n = batch.num_rows
    table = profile.table
    out: dict[str, pa.Array] = {}
    cells: dict[str, _Cells] = {}
    has_record_id = any(c.name == "record_id" for c in schema.TABLES[table])
    for c in schema.TABLES[table]:
        if c.name == "record_id":
            continue
        if c.name in profile.columns:
            cell = _mapped(profile, adapter, c, batch.columns[profile.columns[c.name]])
            cells[c.name] = cell
            out[c.name] = cell.values
        elif c.name in profile.defaults:
            out[c.name] = _constant(profile.defaults[c.name], c.type, n)
        elif c.name in overrides:
            out[c.name] = _constant(overrides[c.name], c.type, n)
        else:  # nullable, optional or a checked_* flag without a manifest decision
            out[c.name] = pa.nulls(n, c.type)
    key = None
    if "record_id" in profile.columns:  # the department's key, trimmed
        key = N.clean_text(batch.columns[profile.columns["record_id"]])
        if has_record_id and key.null_count:
            # a required column's empty cell (DATA.md), not file:line: that names the
            # record only when the profile maps no key at all
            empty = ~valid_mask(key)
            cells["record_id"] = _Cells(key, empty, key, _empty_or(None, "record_id"))
    if key is None or key.null_count:  # file:line (and the quarantine's name of a case row)
        where = pc.binary_join_element_wise(
            f"{file_name}:", pc.cast(pa.array(batch.lines, pa.int64()), pa.string()), ""
        )
        key = where if key is None else pc.coalesce(key, where)
    if has_record_id:
        out["record_id"] = key
    record = key if has_record_id else None  # profiles map record_id only where tables have it
    bad = np.zeros(n, dtype=np.bool_)
    for cell in cells.values():
        bad |= cell.bad
    entries = _entries(profile, file_name, batch, cells, record)
    good = pa.array(~bad)
    names = [c.name for c in schema.TABLES[table]]
    mapped = pa.table({k: out[k] for k in names}, schema=schema.arrow_schema(table))
    owners: list[str] = []
    people: list[tuple[str, str]] = []
    untied = 0
    if bad.any():
        mapped = mapped.filter(good)
        owner = cells.get("household_id" if table in schema.CASE_TABLES else "person_id")
        if owner is not None:
            rows = pa.array(bad & ~owner.bad)
            owners = [v for v in owner.values.filter(rows).to_pylist() if v is not None]
            if owner.bad.any():
                texts = owner.text.filter(pa.array(owner.bad)).to_pylist()
                if table in schema.CASE_TABLES:  # an empty household_id: nobody's
                    untied += len(texts)
                else:
                    # a bad ID cell that holds a valid ID (Excel's ="150422…") names that
                    # person, and one whose check character alone is wrong (a typed
                    # 0 for X) the person it was meant for, so their household is told
                    # it lacks the row; a cell naming nobody (Excel's 1.50422E+17) is
                    # counted as tied to no household
                    for t in texts:
                        named = sorted(N.ids_in_text(t) or N.meant_ids(t)) if t else []
                        owners += named
                        untied += not named
        person = cells.get({"persons": "person_id", "supporters": "supporter_id"}.get(table, ""))
        if owner is not None and person is not None:
            rows = pa.array(bad & ~owner.bad & ~person.bad)
            pairs = zip(
                owner.values.filter(rows).to_pylist(), person.values.filter(rows).to_pylist()
            )
            people = [(h, p) for h, p in pairs if h is not None and p is not None]
    return Mapped(mapped, entries, int(bad.sum()) + len(batch.problems), owners, people, untied)


def _constant(value, type_: pa.DataType, n: int) -> pa.Array:
    return pa.array([value] * n, type_) if n else pa.array([], type_)


def _mapped(profile: Profile, adapter: Adapter, c: schema.Column, raw: pa.Array) -> _Cells:
    k = kind(profile.table, c)
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks()
    if k == "list" and (pa.types.is_list(raw.type) or pa.types.is_large_list(raw.type)):
        lists = [None if v is None else _names(profile, c, v) for v in raw.to_pylist()]
        return _Cells(pa.array(lists, c.type), np.zeros(len(raw), np.bool_), None, None)
    typed = _typed(profile, c, k, raw)
    if typed is not None:
        return typed
    # Normalise each distinct raw value once: IDs, dates and value names repeat (a
    # person's rows, a month's dates), so this is most of ingest's speed.
    # a decimal(18, 3) 12.300 is the text "12.300": 12.30 exactly, as the amount grammar has it
    if pa.types.is_floating(raw.type):  # its shortest round-trip text: 0.1 is "0.1"
        raw = _float_text(raw)
    elif raw.type != pa.string():
        raw = raw.cast(pa.string())
    if k in ("money", "area", "integer"):  # mostly distinct values, and a fast kernel
        return _distinct(profile, adapter, c, k, raw)
    encoded = pc.dictionary_encode(pc.fill_null(raw, ""))
    index = encoded.indices
    u = _distinct(profile, adapter, c, k, encoded.dictionary)
    rows = index.to_numpy(zero_copy_only=False)
    text = pa.DictionaryArray.from_arrays(index, u.text)
    return _Cells(u.values.take(index), u.bad[rows], text, u.explain)


def _column(table: str, name: str) -> schema.Column:
    return next(c for c in schema.TABLES[table] if c.name == name)


def checkable(profile: Profile, name: str | None) -> bool:
    """A mapped canonical column whose cells can be wrong (not free text, not record_id)."""
    if name is None or name == "record_id" or name not in profile.columns:
        return False
    column = _column(profile.table, name)
    return kind(profile.table, column) != "text" or column.name in profile.values


def _excel_id(text: str) -> bool:
    """A cell that is a valid ID once Excel's protection is taken off (`="150422…"`,
    `'150422…`), not any text that mentions one (a review: a remark "赡养人身份证150424…"
    counted as a swallowed row's ID)."""
    bare = text.strip().removeprefix("=").strip('"').lstrip("'`").strip()
    try:
        N.id_one(bare)
    except N.CellError:
        return False
    return True


def rows_map(profile: Profile, adapter: Adapter, rows: list[dict]) -> tuple[np.ndarray, ...]:
    """For rows of raw cells (canonical column -> text), how many of each row's cells map
    without error, how many it has, and how many of its ID cells hold a valid ID (as the
    cell, or as Excel protects one: '150422…): (mapped, checked, ids) int arrays."""
    mapped = np.zeros(len(rows), dtype=np.int64)
    checked = np.zeros(len(rows), dtype=np.int64)
    ids = np.zeros(len(rows), dtype=np.int64)
    for name in sorted(set().union(*rows)) if rows else []:
        column = _column(profile.table, name)
        present = np.array([name in r for r in rows], dtype=np.bool_)
        values = pa.array([r.get(name) for r in rows], pa.string())
        cells = _mapped(profile, adapter, column, values)
        checked += present
        mapped += present & ~cells.bad
        if kind(profile.table, column) == "id":  # a valid ID, or one Excel wrapped
            good_id = present & ~cells.bad & valid_mask(cells.values)
            texts = [r.get(name) for r in rows]
            wrapped = [bool(t) and not g and _excel_id(t) for t, g in zip(texts, good_id)]
            ids += good_id | np.array(wrapped, dtype=np.bool_)
    return mapped, checked, ids


def _float_text(raw: pa.Array) -> pa.Array:
    """Floats as their shortest round-trip text, positional: Arrow writes 1e10 as
    "1e+10", which no amount grammar reads, so those cells are written out in digits
    ("10000000000"; 1.5e-7 is "0.00000015", still an error with two decimals at most)."""
    text = raw.cast(pa.string())
    sci = pc.fill_null(pc.match_substring(text, "e"), False)
    if not pc.any(sci).as_py():
        return text
    kind = np.float32 if raw.type == pa.float32() else np.float64
    values = raw.to_pylist()
    out = text.to_pylist()
    for i in np.flatnonzero(sci.to_numpy(zero_copy_only=False)):
        out[i] = np.format_float_positional(kind(values[i]), unique=True, trim="-")
    return pa.array(out, pa.string())


def _distinct(profile: Profile, adapter: Adapter, c: schema.Column, k: str, raw) -> _Cells:
    text = N.clean_text(raw)
    clean = adapter.cleaners.get(f"{profile.table}.{c.name}")
    if clean is not None:
        text = clean(text)
    n = len(text)
    is_mapped = np.zeros(n, dtype=np.bool_)
    if c.name in profile.values and k != "list":
        vmap = profile.values[c.name]
        idx = pc.index_in(text, pa.array(list(vmap), pa.string()))
        is_mapped = valid_mask(idx)
        targets = pa.array(list(vmap.values()), c.type)
        mapped_values = targets.take(idx)
        text_rest = pc.if_else(pa.array(is_mapped), pa.scalar(None, pa.string()), text)
    else:
        mapped_values, text_rest = None, text
    values, bad, explain = _parse(profile, c, k, text_rest)
    if mapped_values is not None:
        values = pc.if_else(pa.array(is_mapped), mapped_values, values)
        explain = _unmapped_or(explain)
    if not (c.nullable or c.optional):
        missing = ~valid_mask(values) & ~bad  # empty, or mapped to an empty cell
        if missing.any():
            bad = bad | missing
            explain = _empty_or(explain, c.name)
    return _Cells(values, bad, text, explain)


def _typed(profile: Profile, c: schema.Column, k: str, raw: pa.Array) -> _Cells | None:
    """A Parquet column already of the canonical kind, taken without text parsing."""
    t = raw.type
    if c.name in profile.values or pa.types.is_string(t) or pa.types.is_large_string(t):
        return None
    ok = None
    if k == "date" and (pa.types.is_date(t) or pa.types.is_timestamp(t)):
        ok = pc.cast(raw, pa.date32())
    elif k == "boolean" and pa.types.is_boolean(t):
        ok = raw
    elif pa.types.is_integer(t) and (
        k == "integer" or (k in ("money", "area") and profile.unit(c.name) in ("fen", "centi_m2"))
    ):
        wide = pc.cast(raw, pa.int64()) if not pa.types.is_uint64(t) else None
        if wide is None:
            return None
        lo, hi = N.INT_RANGES[c.type]
        inside = pc.fill_null(pc.and_(pc.greater_equal(wide, lo), pc.less_equal(wide, hi)), True)
        bad = ~inside.to_numpy(zero_copy_only=False)
        values = pc.cast(pc.if_else(inside, wide, pa.scalar(None, pa.int64())), c.type)
        cells = _Cells(values, bad, pc.cast(raw, pa.string()), _integer_explain(c.type))
        return _nulls(cells, c, profile)
    if ok is None:
        return None
    return _nulls(
        _Cells(ok, np.zeros(len(raw), np.bool_), pc.cast(raw, pa.string()), None), c, profile
    )


def _nulls(cells: _Cells, c: schema.Column, profile: Profile) -> _Cells:
    empty = ~valid_mask(cells.values) & ~cells.bad
    if not empty.any():
        return cells
    if not (c.nullable or c.optional):
        cells.bad = cells.bad | empty
        cells.explain = _empty_or(cells.explain, c.name)
    return cells


def _empty_or(explain, column: str):
    def f(raw: str | None) -> N.CellError:
        if raw is None or raw.strip() == "" or explain is None:
            return N.CellError("empty_required", f"{column} is required (the cell is empty)")
        return explain(raw)

    return f


def _unmapped_or(explain):
    """A column with a value map: a value neither in the map nor canonical (DATA.md) is
    unmapped_value, whatever the column's type, and the detail says both."""
    if explain is None:
        return None

    def f(raw: str) -> N.CellError:
        e = explain(raw)
        if e.reason == "unmapped_value":
            return e
        return N.CellError("unmapped_value", f"not in the value map, and {e.detail}")

    return f


def _integer_explain(type_):
    return lambda raw: N.integer_reason(raw, type_)


def _reference(fn):
    """An explain function from a one-value reference that raises CellError."""

    def f(raw: str) -> N.CellError:
        try:
            fn(raw)
        except N.CellError as e:
            return e
        raise AssertionError(f"the vectorised normaliser rejected {raw!r}, the reference not")

    return f


def _parse(profile: Profile, c: schema.Column, k: str, text: pa.StringArray):
    """(values, bad mask, explain) of the non-null cells of `text`."""
    if k == "id":
        values, bad = N.ids(text)
        return values, bad, _reference(N.id_one)
    if k in ("money", "area"):
        if profile.unit(c.name) in ("yuan", "m2"):
            values, bad = N.fen(text)
            unit = "yuan" if k == "money" else "m²"
            return values, bad, _reference(lambda raw: N.fen_one(raw, unit))
        values, bad = N.integers(text, c.type)
        return values, bad, _integer_explain(c.type)
    if k == "integer":
        values, bad = N.integers(text, c.type)
        return values, bad, _integer_explain(c.type)
    if k == "date":
        formats = profile.date_formats(c.name)
        values, bad = N.dates(text, formats)
        return values, bad, _reference(lambda raw: N.date_one(raw, formats))
    if k == "boolean":
        values, bad = N.booleans(text)
        return values, bad, _reference(N.boolean_one)
    if k == "enum":
        ok = pc.fill_null(pc.is_in(text, pa.array(c.enum, pa.string())), False)
        bad = valid_mask(text) & ~ok.to_numpy(zero_copy_only=False)
        values = pc.if_else(ok, text, pa.scalar(None, pa.string()))
        return values, bad, _reference(lambda raw: N.enum_one(raw, c.enum))
    if k == "list":
        return _programs(profile, c, text), np.zeros(len(text), np.bool_), None
    return text, np.zeros(len(text), np.bool_), None


def _programs(profile: Profile, c: schema.Column, text: pa.StringArray) -> pa.Array:
    """current_programs: names split on the list separator, trimmed, empty names
    dropped, each through the value map (program names are the pack's to check); a
    name mapped to "" stands for no program ("无" → [], while an empty cell is null)."""
    sep = profile.list_separator
    out = [
        None if cell is None else [] if cell == EMPTY_LIST else _names(profile, c, cell.split(sep))
        for cell in text.to_pylist()
    ]
    return pa.array(out, c.type)


def _names(profile: Profile, c: schema.Column, names: list) -> list[str]:
    """Program names of one cell (split text, or a Parquet list): trimmed, empty or
    null names dropped, each through the value map; a name mapped to "" is no program."""
    vmap = profile.values.get(c.name, {})
    trimmed = (str(x).strip() for x in names if x is not None)
    mapped = (vmap.get(x, x) for x in trimmed if x)
    return [x for x in mapped if x is not None]  # "无" = "" maps to no program


def _entries(profile, file_name, batch: RawBatch, cells: dict[str, _Cells], record) -> pa.Table:
    rows: dict[str, list] = {f.name: [] for f in QUARANTINE}

    def add(line, rec, column, raw_column, raw_value, err: N.CellError) -> None:
        for key, v in zip(
            QUARANTINE.names,
            (
                profile.table,
                file_name,
                line,
                rec,
                column,
                raw_column,
                raw_value,
                err.reason,
                err.detail,
            ),
            strict=True,
        ):
            rows[key].append(v)

    for p in batch.problems:
        add(p.line, f"{file_name}:{p.line}", None, None, p.raw, N.CellError(p.reason, p.detail))
    for name, cell in cells.items():
        idx = np.flatnonzero(cell.bad)
        if not len(idx):
            continue
        texts = cell.text.take(pa.array(idx)).to_pylist()
        recs = (
            record.take(pa.array(idx)).to_pylist()
            if record is not None
            else [f"{file_name}:{batch.lines[i]}" for i in idx]
        )
        for i, raw_text, rec in zip(idx, texts, recs, strict=True):
            err = cell.explain(raw_text)
            raw_value = _raw(batch.columns[profile.columns[name]], int(i))
            add(int(batch.lines[i]), rec, name, profile.columns[name], raw_value, err)
    return pa.table(rows, schema=QUARANTINE).sort_by([("line", "ascending")])  # stable


def _raw(column: pa.Array, i: int) -> str | None:
    v = column[i].as_py()
    return v if v is None or isinstance(v, str) else str(v)
