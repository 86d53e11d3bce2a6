"""Protobuf ↔ Arrow: the one place where `meanstest.v1` message types meet tables.

Input: a household message carries its members, supporters and the source records of
those people; flattening gives the bundle tables of DATA.md. Every input scalar has
explicit presence, so an absent field is a null exactly as in a bundle and the
pipeline's validation rejects it. What a bundle cannot hold — a date that is not
`YYYY-MM-DD`, a value outside its Arrow integer type — arrives as a null too, and is
listed in `Conversion.unreadable` (row_checks.Unreadable): validation reports such a
cell as what it is ("not a date YYYY-MM-DD ('1970-13-45')") instead of a null, beside
every other reason of the household, and a source row's cell rejects every household of
its person, as any invalid source row does. The same source record carried by two
households (a person who is a member of one and a supporter of another) is kept once:
a row equal in every column to one an earlier household carries is that record again
(`unique_rows`; the copies within one household each count, as in a bundle; a row with
a cell that did not fit is never taken for a copy: its nulls are not its values).

Output: result tables become `Result`/`Member`/`Finding`/`Reject` messages. (Arrow IPC
chunks of AssessArrow: `chunks`.)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from operator import attrgetter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from meanstest import schema
from meanstest.lines import table_lines
from meanstest.row_checks import Unreadable
from meanstest.service import text_columns, wire
from meanstest.service.dedup import shared_ids
from meanstest.v1 import meanstest_pb2 as pb

NESTED = ("persons", "supporters") + schema.SOURCE_TABLES
MESSAGES = {
    "persons": pb.Person,
    "supporters": pb.Supporter,
    "tax_income": pb.TaxIncome,
    "business_registration": pb.BusinessRegistration,
    "bank": pb.Bank,
    "vehicle": pb.Vehicle,
    "property": pb.Property,
    "social_insurance": pb.SocialInsurance,
}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NOT_A_DATE = "not a date YYYY-MM-DD"
_INT_RANGE = {pa.int8(): (-(1 << 7), (1 << 7) - 1), pa.int32(): (-(1 << 31), (1 << 31) - 1)}


class Conversion:
    """Flattened tables, and by table and column the cells that arrived as nulls because
    their value did not fit (validate's `unreadable`)."""

    def __init__(self, tables: dict[str, pa.Table], unreadable: dict[str, dict[str, Unreadable]]):
        self.tables = tables
        self.unreadable = unreadable


def _columns(table: str) -> list[schema.Column]:
    return [c for c in schema.TABLES[table] if c.name != "household_id" or table == "households"]


def _gather(msgs: Sequence, names: list[str]) -> dict[str, list]:
    """Column lists of the set fields of `msgs` (None where absent): one ListFields call
    per message instead of a presence test and a read per field."""
    n = len(msgs)
    cols: dict[str, list] = {name: [None] * n for name in names}
    slots = dict(cols)
    if msgs:  # nested messages of a household are gathered by their own table
        fields = msgs[0].DESCRIPTOR.fields_by_name
        slots |= {name: [None] * n for name in fields if name not in cols}
    for i, m in enumerate(msgs):
        for fd, value in m.ListFields():
            slots[fd.name][i] = value
    if "current_programs" in cols:  # a Programs message, absent = null
        cols["current_programs"] = [
            None if v is None else list(v.names) for v in cols["current_programs"]
        ]
    return cols


class _Cells:
    """The cells of a table that did not fit, by column (row_checks.Unreadable)."""

    def __init__(self) -> None:
        self.by_column: dict[str, Unreadable] = {}

    def add(self, column: str, rows: np.ndarray, rule: str, details) -> None:
        if len(rows):
            rows = np.asarray(rows, np.int64)
            texts = [details(int(r)) for r in rows.tolist()]
            self.by_column[column] = Unreadable(rows, rule, texts)


def _raw_type(col: schema.Column) -> pa.DataType:
    """The Arrow type a column arrives in: dates as text, integers as int64."""
    if col.type == pa.date32():
        return pa.string()
    if pa.types.is_integer(col.type):
        return pa.int64()
    return col.type


def _column(col: schema.Column, raw: pa.Array, cells: _Cells) -> pa.Array:
    """One column as Arrow (from `_raw_type`), a null where a date or an integer does not
    fit, recorded in `cells` (only those rows are read back into Python, for the texts)."""
    if col.type == pa.date32():
        return _dates(col, raw, cells)
    if col.type in _INT_RANGE:
        lo, hi = _INT_RANGE[col.type]
        outside = pc.or_kleene(pc.less(raw, lo), pc.greater(raw, hi))
        bad_rows = np.flatnonzero(pc.fill_null(outside, False).to_numpy(zero_copy_only=False))
        cells.add(col.name, bad_rows, f"does not fit {col.type}", lambda r: str(raw[r].as_py()))
        return pc.cast(pc.if_else(outside, pa.scalar(None, pa.int64()), raw), col.type)
    return raw if raw.type == col.type else raw.cast(col.type)


def _dates(col: schema.Column, text: pa.Array, cells: _Cells) -> pa.Array:
    """A date column: the usual "YYYY-MM-DD" parsed in numba (text_columns.parse_dates), any
    other text by Arrow's parser, the definition: a valid text round-trips exactly."""
    offsets, data, valid = text_columns.string_buffers(text)
    days, status = text_columns.parse_dates(offsets, data, valid)
    bad = status == text_columns.DATE_BAD
    unsure = np.flatnonzero(status == text_columns.DATE_UNSURE)
    if len(unsure):
        odd = text.take(pa.array(unsure, pa.int64()))
        shaped = pc.match_substring_regex(odd, _DATE.pattern)
        parsed = pc.strptime(odd, format="%Y-%m-%d", unit="s", error_is_null=True)
        # a day that does not exist (1970-02-30) must not roll over into the next month
        same = pc.fill_null(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), odd), False)
        fine = pc.and_(pc.fill_null(shaped, False), same).to_numpy(zero_copy_only=False)
        bad[unsure[~fine]] = True
        days[unsure[fine]] = pc.cast(pc.cast(parsed, pa.date32()), pa.int32()).to_numpy(
            zero_copy_only=False
        )[fine]
    cells.add(col.name, np.flatnonzero(bad), NOT_A_DATE, lambda r: repr(text[r].as_py()))
    absent = bad | (status == text_columns.DATE_ABSENT)
    return pa.array(days, pa.int32(), mask=absent if absent.any() else None).cast(pa.date32())


def _flatten(raw: dict, owners_of: dict, hh_ids: pa.Array) -> Conversion:
    """Bundle tables from the raw columns of every table (and each row's household)."""
    tables: dict[str, pa.Table] = {}
    unreadable: dict[str, dict[str, Unreadable]] = {}
    for name in ("households",) + NESTED:
        owners = owners_of[name]
        cells = _Cells()
        arrays = {col.name: _column(col, raw[name][col.name], cells) for col in _columns(name)}
        if name in ("persons", "supporters"):
            arrays = {"household_id": hh_ids.take(pa.array(owners, pa.int64())), **arrays}
        table = pa.table(arrays, schema=_schema(name))
        if name in schema.SOURCE_TABLES:
            fixed = np.zeros(table.num_rows, bool)  # rows with a cell that did not fit
            for u in cells.by_column.values():
                fixed[u.rows] = True
            keep = _first_copies(name, table, owners, fixed)
            if keep is not None:
                table = table.filter(pa.array(keep))
                place = np.cumsum(keep) - 1  # a kept row's number after the filter
                cells.by_column = {
                    c: Unreadable(place[u.rows], u.rule, u.details)
                    for c, u in cells.by_column.items()
                }
        tables[name] = table
        if cells.by_column:
            unreadable[name] = cells.by_column
    return Conversion(tables, unreadable)


def households_to_tables(households: Sequence[pb.Household]) -> Conversion:
    """Flatten household messages into the bundle tables (DATA.md), with the cells that
    did not fit (the readable path: one Python step per field; `request_to_tables`
    reads bytes)."""
    raw: dict[str, dict[str, pa.Array]] = {}
    owners_of: dict[str, np.ndarray] = {}
    for name in ("households",) + NESTED:
        if name == "households":
            msgs, owners = households, np.arange(len(households))
        else:
            get = attrgetter(name)
            lists = [get(h) for h in households]
            msgs = [m for rows in lists for m in rows]
            owners = np.repeat(np.arange(len(households)), [len(rows) for rows in lists])
        columns = _columns(name)
        values = _gather(msgs, [c.name for c in columns])
        raw[name] = {c.name: pa.array(values[c.name], _raw_type(c)) for c in columns}
        owners_of[name] = owners
    return _flatten(raw, owners_of, raw["households"]["household_id"])


def request_to_tables(decoded: wire.Decoded) -> Conversion:
    """`households_to_tables` of a serialised AssessRequest read column by column from
    its bytes (`wire.decode`, which returns None for bytes that need the protobuf
    library)."""
    raw: dict[str, dict[str, pa.Array]] = {}
    owners_of: dict[str, np.ndarray] = {}
    for m, name in enumerate(("households",) + NESTED):
        names = wire.COLUMNS[m]
        raw[name] = {}
        texts = [  # every text column of the table, gathered in one pass
            col.name
            for col in _columns(name)
            if col.name != "current_programs"
            and (pa.types.is_string(col.type) or col.type == pa.date32())
        ]
        gathered = decoded.string_columns(m, [names.index(t) for t in texts])
        for col in _columns(name):
            c = names.index(col.name)
            if col.name == "current_programs":
                raw[name][col.name] = decoded.program_lists(c)
            elif col.name in texts:
                raw[name][col.name] = gathered[texts.index(col.name)]
            elif pa.types.is_boolean(col.type):
                raw[name][col.name] = decoded.bools(m, c)
            else:
                raw[name][col.name] = decoded.ints(m, c)
        owners_of[name] = decoded.owners[m] if m else np.arange(len(decoded.lens[0]))
    return _flatten(raw, owners_of, raw["households"]["household_id"])


def request_jurisdictions(decoded: wire.Decoded) -> tuple[pa.Array, pa.Array]:
    """The jurisdictions (null for absent) and household_ids of a decoded AssessRequest's
    households, in order (auth.Caller.check_column)."""
    at = wire.COLUMNS[0].index
    return decoded.strings(0, at("jurisdiction")), decoded.strings(0, at("household_id"))


def _schema(name: str) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.type) for c in schema.TABLES[name]])


def unique_rows(name: str, table: pa.Table, owners: np.ndarray) -> pa.Table:
    """A source table of a call without the copies the message format made: a row equal
    in every column to a row an earlier household of the call carries (a person in two
    households has their records nested under each) is dropped; the copies within the
    household that carries it first each count, as they would in a bundle (docs/
    decisions.md, Rules 11). `owners`: the carrying household of each row (any integer
    per household). The rows kept stay in their order."""
    keep = _first_copies(name, table, owners, np.zeros(table.num_rows, bool))
    return table if keep is None else table.filter(pa.array(keep))


def _first_copies(name: str, table: pa.Table, owners, fixed: np.ndarray) -> np.ndarray | None:
    """unique_rows' rows to keep (None: all), never dropping a `fixed` row. Only rows
    whose record_id occurs more than once can be equal, so only those are compared
    whole."""
    if table.num_rows < 2:
        return None
    candidates = np.flatnonzero(shared_ids(table["record_id"]) & ~fixed)
    if not len(candidates):
        return None
    lines = table_lines(name, table.take(pa.array(candidates, pa.int64())))
    line_codes = pc.dictionary_encode(lines).indices.to_numpy()
    carrier = np.asarray(owners, np.int64)[candidates]
    _, first = np.unique(line_codes, return_index=True)  # each line's first occurrence
    first_carrier = np.empty(len(first), np.int64)
    first_carrier[line_codes[first]] = carrier[first]
    copies = carrier != first_carrier[line_codes]
    if not copies.any():
        return None
    keep = np.ones(table.num_rows, bool)
    keep[candidates[copies]] = False
    return keep


# Tables -> messages (the client side, and tests) -----------------------------------------


def _text(value) -> object:
    if isinstance(value, list):  # a null program entry has no protobuf form: "" stays invalid
        return pb.Programs(names=["" if v is None else v for v in value])
    return value.isoformat() if isinstance(value, dt.date) else value


def tables_to_households(tables: dict[str, pa.Table]) -> list[pb.Household]:
    """Nest bundle tables into household messages; a source row goes to every household
    whose member or supporter it names, and a row naming nobody to the first household:
    the service ignores it there too, and counts it (`unmatched_source_rows`, DATA.md:
    "ignored and counted"), as a review of the tables does. Left out, such rows were lost
    on the way, and the answer said 0 where the review's summary said how many.

    A household_id on two households rows has its members and supporters nested under
    the first copy: sent in one call, as these messages are meant to be, the service
    rejects both copies as a review of the tables does (a split call would assess the
    first copy with all of them). A date outside 0001..9999 is sent as Arrow writes it
    (`10183-09-21`), so the service rejects its household naming it, as a review does;
    Python's date could not hold it and the whole conversion failed."""
    hh = _rows(tables["households"])
    out = [pb.Household(**_present(row, "households")) for row in hh]
    first: dict[str, int] = {}  # a duplicated household_id: its rows go to the first copy
    for i, row in enumerate(hh):
        first.setdefault(row["household_id"], i)
    people: dict[str, list[int]] = {}
    for name, id_col in (("persons", "person_id"), ("supporters", "supporter_id")):
        table = tables.get(name)
        for row in _rows(table) if table is not None else []:
            i = first.get(row["household_id"])
            if i is None:
                continue
            getattr(out[i], name).add(**_present(row, name))
            homes = people.setdefault(row[id_col], [])
            if i not in homes:
                homes.append(i)
    for name in schema.SOURCE_TABLES:
        table = tables.get(name)
        for row in _rows(table) if table is not None else []:
            for i in people.get(row["person_id"], [0] if out else []):
                getattr(out[i], name).add(**_present(row, name))
    return out


def _rows(table: pa.Table) -> list[dict]:
    """The table's rows as dicts, its dates as ISO text (Arrow's, for any day number)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_date(field.type):
            table = table.set_column(i, field.name, pc.cast(table.column(i), pa.string()))
    return table.to_pylist()


def _present(row: dict, name: str) -> dict:
    if name not in ("households",):
        row = {k: v for k, v in row.items() if k != "household_id"}
    fields = {
        k: _text(v)
        for k, v in row.items()
        if v is not None and k in {c.name for c in schema.TABLES[name]}
    }
    if name == "households":
        fields.update({k: v for k, v in row.items() if k == "household_id" and v is not None})
    return fields


# Output tables <-> messages ---------------------------------------------------------------

OUTPUT_MESSAGES = {"results": pb.Result, "members": pb.Member, "findings": pb.Finding}


def outputs_to_response(
    tables: dict[str, pa.Table], unmatched_source_rows: int = 0
) -> pb.AssessResponse:
    response = pb.AssessResponse(unmatched_source_rows=unmatched_source_rows)
    for name, cls in OUTPUT_MESSAGES.items():
        field = getattr(response, name)
        field.extend(
            cls(**{k: v for k, v in row.items() if v is not None})
            for row in tables[name].to_pylist()
        )
    response.rejects.extend(
        pb.Reject(household_id=r["household_id"], reasons=r["reasons"])
        for r in tables["rejects"].to_pylist()
    )
    return response


UNMATCHED = b"unmatched_source_rows"  # the key of the count in an Arrow answer's metadata


def with_unmatched(results: pa.Table, count: int) -> pa.Table:
    """`results` with the call's count of unmatched source rows in its schema metadata
    (key `unmatched_source_rows`, decimal text): how the Arrow answers carry it."""
    return results.replace_schema_metadata(
        {**(results.schema.metadata or {}), UNMATCHED: b"%d" % count}
    )


def unmatched_of(results: pa.Table) -> int | None:
    """The count `with_unmatched` put in `results`, or None when there is none."""
    text = (results.schema.metadata or {}).get(UNMATCHED)
    return None if text is None else int(text)


def response_to_tables(response: pb.AssessResponse) -> dict[str, pa.Table]:
    """The four output tables of DATA.md from a response (the client side); the count of
    unmatched source rows in the results' schema metadata, as the Arrow answers have it
    (`unmatched_of`)."""
    out = {}
    for name in ("results", "members", "findings", "rejects"):
        sch = schema.OUTPUTS[name]
        msgs = getattr(response, name)
        cols = {}
        for f in sch:
            if pa.types.is_list(f.type):
                cols[f.name] = [list(getattr(m, f.name)) for m in msgs]
            elif name == "findings" and f.name in ("person_id", "record_id"):
                cols[f.name] = [getattr(m, f.name) if m.HasField(f.name) else None for m in msgs]
            else:
                cols[f.name] = [getattr(m, f.name) for m in msgs]
        out[name] = pa.table(cols, schema=sch)
    out["results"] = with_unmatched(out["results"], response.unmatched_source_rows)
    return out
