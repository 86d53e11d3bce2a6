"""Writes the bundle corpus (tests/corpus/bundle/<case>/ + bundle/cases.toml).

Parquet is binary, so the bad bundles are made here, each from one stated defect
applied to a small valid synthetic household; the table row beside it says what the
review must answer. Re-run after a schema change: `python tests/corpus/build_bundles.py`.
Inputs too large to store (huge strings) are made by tests/test_corpus.py at test time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from meanstest import schema, synth

HERE = Path(__file__).parent / "bundle"
NULL = "null in a required column"


def _base() -> dict[str, pa.Table]:
    return synth.generate(30, seed=3)


def _household_of(tables, table: str, row: int) -> dict[str, pa.Table]:
    """The households row owning row `row` of `table`, its people, and that row only
    (for source tables), so the bundle is a few hundred bytes a table."""
    t = tables[table]
    if table == "households" or table in ("persons", "supporters"):
        hid = t["household_id"][row].as_py()
    else:
        pid = t["person_id"][row].as_py()
        people = tables["persons"].to_pylist() + [
            {"household_id": s["household_id"], "person_id": s["supporter_id"]}
            for s in tables["supporters"].to_pylist()
        ]
        hid = next(p["household_id"] for p in people if p["person_id"] == pid)
    out = {}
    for name in ("households", "persons", "supporters"):
        rows = [r for r in tables[name].to_pylist() if r["household_id"] == hid]
        out[name] = pa.Table.from_pylist(rows, schema=schema.arrow_schema(name))
    if table in schema.SOURCE_TABLES:
        out[table] = t.slice(row, 1)
    return out


def _first_owned_row(tables, table: str) -> int:
    if table not in schema.SOURCE_TABLES:
        return 0
    members = set(tables["persons"]["person_id"].to_pylist())
    members |= set(tables["supporters"]["supporter_id"].to_pylist())
    return next(i for i, p in enumerate(tables[table]["person_id"].to_pylist()) if p in members)


def _wrong(column: schema.Column, n: int) -> pa.Array:
    """A column of a type the bundle reader must refuse for `column`."""
    if pa.types.is_string(column.type) or pa.types.is_list(column.type):
        return pa.array([1.5] * n, pa.float64())
    if pa.types.is_integer(column.type):
        return pa.array(["12"] * n, pa.string())  # text digits are not an integer
    if pa.types.is_date32(column.type):
        return pa.array(["2024-01-01"] * n, pa.string())
    return pa.array(["true"] * n, pa.string())  # bool


def _write(case: str, tables: dict[str, pa.Table], own: str | None = None) -> Path:
    """The case's tables, and empty persons and supporters tables where it gives none
    (DATA.md lets only source tables be absent, and each case has one defect); `own`: a
    table the case writes itself, in whatever form."""
    folder = HERE / case
    folder.mkdir(parents=True)
    for name in ("persons", "supporters"):
        if name not in tables and name != own:
            tables = {**tables, name: schema.empty_table(name)}
    for name, t in tables.items():
        pq.write_table(t, folder / f"{name}.parquet", compression="zstd")
    return folder


def build() -> list[dict]:
    shutil.rmtree(HERE, ignore_errors=True)
    HERE.mkdir(parents=True)
    base = _base()
    rows: list[dict] = []

    households = base["households"].slice(0, 2)

    def case(name, tables, expect, exit_code=1, reject=None):
        if "households" not in tables:  # a review needs one; it is a good one here
            tables = {"households": households, **tables}
        _write(name, tables)
        row = {"name": name, "expect": expect, "exit": exit_code}
        if reject:
            row["reject"] = reject
        rows.append(row)

    for table, columns in schema.TABLES.items():
        one = base[table].slice(0, 2)
        for col in columns:
            if not col.optional:
                case(
                    f"missing-{table}-{col.name}",
                    {table: one.drop_columns([col.name])},
                    f"missing required column {col.name} (table {table})",
                )
            i = one.schema.get_field_index(col.name)
            case(
                f"type-{table}-{col.name}",
                {table: one.set_column(i, col.name, _wrong(col, one.num_rows))},
                f"column {col.name}: expected {col.type}, found",
            )
            if not col.nullable and (table == "households" or col.name != "household_id"):
                r = _first_owned_row(base, table)
                small = _household_of(base, table, r)
                target = small[table]
                values = target[col.name].to_pylist()
                values[0] = None
                small[table] = target.set_column(
                    target.schema.get_field_index(col.name),
                    col.name,
                    pa.array(values, col.type),
                )
                if col.name == "household_id":
                    fragment = f"{table}.household_id record=(row 1): {NULL}"
                else:
                    fragment = f"{table}.{col.name} record="
                if table in schema.SOURCE_TABLES and col.name == "person_id":
                    # a source row naming nobody cannot reject anybody: it is counted
                    case(f"null-{table}-{col.name}", small, "", 0, reject="(unmatched)")
                    continue
                case(f"null-{table}-{col.name}", small, "", 0, reject=fragment)
        # whole-file defects of this table
        data = (HERE / f"missing-{table}-{columns[0].name}" / f"{table}.parquet").read_bytes()
        good = pa.BufferOutputStream()
        pq.write_table(one, good)
        good = good.getvalue().to_pybytes()
        for name, payload, expect in (
            (f"truncated-{table}", good[: len(good) // 2], "cannot read Parquet file"),
            (f"tail-cut-{table}", good[:-9], "cannot read Parquet file"),
            (f"empty-{table}", b"", "empty file (0 bytes)"),
            (f"garbage-{table}", b"PAR1" + bytes(range(256)) * 4, "cannot read Parquet file"),
            (f"text-{table}", "户主,证件号码\n张三,1\n".encode(), "cannot read Parquet file"),
        ):
            given = {} if table == "households" else {"households": households}
            folder = _write(name, given, own=table)
            (folder / f"{table}.parquet").write_bytes(payload)
            rows.append({"name": name, "expect": expect, "exit": 1})
        assert data  # the missing-column file exists (a sanity check of this builder)
        # an IPC *stream* under an .arrow name, and a table in both formats
        folder = _write(
            f"ipc-stream-{table}",
            {} if table == "households" else {"households": households},
            own=table,
        )
        with (
            pa.OSFile(str(folder / f"{table}.arrow"), "wb") as f,
            pa.ipc.new_stream(f, one.schema) as w,
        ):
            w.write_table(one)
        rows.append({"name": folder.name, "expect": "this is the IPC stream format", "exit": 1})
        folder = _write(f"both-formats-{table}", {"households": households, table: one})
        with (
            pa.OSFile(str(folder / f"{table}.arrow"), "wb") as f,
            pa.ipc.new_file(f, one.schema) as w,
        ):
            w.write_table(one)
        rows.append(
            {
                "name": folder.name,
                "expect": f"table {table} is in the bundle twice ({table}.parquet and {table}.arrow)",
                "exit": 1,
            }
        )
        # a column twice
        dup = one.append_column(columns[0].name, one.column(0))
        case(
            f"duplicate-column-{table}",
            {table: dup},
            f"column {columns[0].name} appears more than once",
        )

    # integers that do not fit their column
    for table, col, value in (
        ("persons", "health", 300),
        ("persons", "refused_job_offers", -200),
        ("supporters", "supported_count", 1 << 40),
        ("property", "share", 1 << 33),
        ("business_registration", "employees", -(1 << 40)),
        ("households", "declared_vehicles", 1 << 35),
    ):
        one = base[table].slice(0, 1)
        i = one.schema.get_field_index(col)
        bad = one.set_column(i, col, pa.array([value], pa.int64()))
        case(f"overflow-{table}-{col}", {table: bad}, f"column {col}: cannot convert int64")
    # values a bundle can hold but DATA.md forbids: per-household rejects
    for n, (table, col, value, reason) in enumerate(
        (
            ("persons", "health", 9, "health outside 1..6"),
            ("persons", "relation", "老板", "persons.relation record="),
            ("households", "area", "城镇", "households.area record="),
            ("households", "jurisdiction", "15042", "households.jurisdiction record="),
            ("households", "jurisdiction", "１５０４２２", "households.jurisdiction record="),
            ("households", "prev_benefit", -1, "negative money"),
            ("persons", "person_id", "15042219700101123", "persons.person_id record="),
            ("persons", "person_id", "150422197013011234", "persons.person_id record="),
            ("persons", "person_id", "15042219700101123Y", "persons.person_id record="),
            ("persons", "person_id", "", "persons.person_id record="),
            ("bank", "balance", -5, "negative money"),
            ("property", "share", 0, "share outside 1..1000"),
            ("property", "share", 1001, "share outside 1..1000"),
            ("property", "area", -1, "negative area"),
            ("supporters", "supported_count", 0, "supported_count below 1"),
            ("vehicle", "vehicle_type", "tank", "vehicle.vehicle_type record="),
            ("social_insurance", "scheme", "", "social_insurance.scheme record="),
            ("tax_income", "income_type", "WAGE", "tax_income.income_type record="),
        )
    ):
        r = _first_owned_row(base, table)
        small = _household_of(base, table, r)
        t = small[table]
        values = t[col].to_pylist()
        values[0] = value
        small[table] = t.set_column(
            t.schema.get_field_index(col), col, pa.array(values, t.schema.field(col).type)
        )
        case(f"value-{n:02d}-{table}-{col}", small, "", 0, reject=reason)
    # strings that are not UTF-8 (a binary column where a string is expected)
    for table, col in (("households", "household_id"), ("persons", "person_id")):
        one = base[table].slice(0, 1)
        i = one.schema.get_field_index(col)
        bad = one.set_column(i, col, pa.array([b"\xff\xfe\xb1\xa8"], pa.binary()))
        case(f"binary-{table}-{col}", {table: bad}, f"column {col}: expected string, found binary")
    return rows


def _toml(rows: list[dict]) -> str:
    out = ["# Generated by build_bundles.py: one bad bundle per [[case]]."]
    for r in rows:
        out.append("\n[[case]]")
        for k, v in r.items():
            out.append(f"{k} = {v!r}" if isinstance(v, int) else f'{k} = "{_esc(v)}"')
    return "\n".join(out) + "\n"


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


if __name__ == "__main__":
    cases = build()
    (HERE / "cases.toml").write_text(_toml(cases), encoding="utf-8")
    print(f"{len(cases)} bundle cases in {HERE}")
