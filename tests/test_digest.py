"""input_digest (docs/digests.md): the numba implementation equals the auditor's script
of docs/digests.md and the Arrow implementation it replaced, on the example district and
on random bundles with hostile strings, shuffled, sliced, chunked and re-encoded, read
back from Parquet and Arrow IPC; with 1 and 2 threads; with its own or given Owners."""

import datetime as dt
import hashlib
from pathlib import Path

import builders
import hypothesis.strategies as st
import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import strategies
from hypothesis import given, settings
from meanstest.kernels.canonical import group_text, group_texts

from meanstest import digest, schema, synth
from meanstest.bundle import read_bundle, write_bundle
from meanstest.digest import Owners, canonical_texts, input_digest_array, input_digests, owners_of
from meanstest.lines import column_text, table_lines

EXAMPLE = str(builders.EXAMPLE / "bundle")

# -- the references ------------------------------------------------------------------------


def _field(v):
    """The canonical text of one value, written the way an auditor's script would."""
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, dt.date)):
        return str(v) if isinstance(v, int) else v.isoformat()
    if isinstance(v, list):
        return ",".join(_field(x) for x in v)
    return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Auditor:
    """docs/digests.md's script (rows read once, then the same loops per household)."""

    def __init__(self, tables) -> None:
        self.rows = {name: tables[name].to_pylist() for name in schema.TABLES}

    def text(self, hid) -> bytes:
        lines, people = [], set()
        for name in schema.CASE_TABLES:
            for row in self.rows[name]:
                if row["household_id"] == hid:
                    lines.append("\t".join([name] + [_field(v) for v in row.values()]))
                    people.add(row.get("person_id") or row.get("supporter_id"))
        for name in schema.SOURCE_TABLES:
            for row in self.rows[name]:
                if row["person_id"] in people:
                    lines.append("\t".join([name] + [_field(v) for v in row.values()]))
        return "".join(line + "\n" for line in sorted(lines, key=str.encode)).encode()

    def digest(self, hid) -> str:
        return hashlib.sha256(self.text(hid)).hexdigest()


def naive_digest(hid, tables):
    return Auditor(tables).digest(hid)


def arrow_text(col):
    """The Arrow-compute rendering of one column that this implementation replaced."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    t = col.type

    def escape(arr):
        for old, new in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            arr = pc.replace_substring(arr, old, new)
        return arr

    if pa.types.is_list(t):
        flat = pc.fill_null(escape(pc.list_flatten(col)), "\\N")
        lengths = pc.list_value_length(col).fill_null(0).to_numpy()
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), flat, mask=pc.is_null(col))
        return pc.fill_null(pc.binary_join(lists, ","), "\\N")
    if pa.types.is_boolean(t):
        out = pc.if_else(col, "true", "false")
    elif pa.types.is_string(t):
        out = escape(col)
    else:
        out = pc.cast(col, pa.string())
    return pc.fill_null(out, "\\N")


def arrow_lines(name, table):
    cols = [arrow_text(table.column(c.name)) for c in schema.TABLES[name]]
    prefix = pa.array([name] * table.num_rows, pa.string())
    return pc.binary_join_element_wise(prefix, *cols, "\t").to_pylist()


def digests_of(tables, **kw):
    return input_digests(
        tables["households"],
        tables["persons"],
        tables["supporters"],
        {t: tables[t] for t in schema.SOURCE_TABLES},
        **kw,
    )


def texts_of(tables, **kw):
    return canonical_texts(
        tables["households"],
        tables["persons"],
        tables["supporters"],
        {t: tables[t] for t in schema.SOURCE_TABLES},
        **kw,
    )


def tables_of(inp):
    return {
        "households": inp.households,
        "persons": inp.persons,
        "supporters": inp.supporters,
        **inp.sources,
    }


# -- hostile, shuffled, sliced, chunked, re-encoded inputs ---------------------------------

HOSTILE = ["", "\t", "\n", "\r", "\\", "\\N", "a\tb\nc\rd\\e", "中文", "é", "x,y", " ", "\\\\t"]
KEYS = {"household_id", "person_id", "supporter_id"}


def hostile(tables, rng, pool=HOSTILE):
    """Every non-key string value replaced by a hostile one (or null) with probability
    1/3; household_ids renamed consistently to hostile ones; list entries too."""
    pool = list(pool) or HOSTILE
    renamed = {}
    out = {}
    for name, table in tables.items():
        rows = table.to_pylist()
        for row in rows:
            for col, value in row.items():
                if col == "household_id":
                    hid = value
                    if hid not in renamed:
                        renamed[hid] = f"{hid}{pool[rng.integers(len(pool))]}\t\\é"
                    row[col] = renamed[hid]
                elif col in KEYS:
                    continue
                elif isinstance(value, str) and rng.random() < 1 / 3:
                    row[col] = None if rng.random() < 0.2 else pool[rng.integers(len(pool))]
                elif isinstance(value, list):
                    row[col] = [pool[rng.integers(len(pool))] if rng.random() < 0.5 else v for v in value] + (
                        [None] if rng.random() < 0.3 else []
                    )  # fmt: skip
                elif value is not None and col not in KEYS and rng.random() < 0.05:
                    row[col] = None  # a null anywhere: the digest is not the validator
        out[name] = pa.Table.from_pylist(rows, schema=table.schema)
    return out


def shuffled(table, rng):
    return table.take(pa.array(rng.permutation(table.num_rows)))


def chunked(table, rng):
    """The same rows as Arrow chunks of random sizes (empty ones too), each a slice of a
    larger array (non-zero offsets)."""
    junk = table.slice(0, min(3, table.num_rows))
    padded = pa.concat_tables([junk, table, junk]).combine_chunks()
    cuts = np.sort(rng.integers(0, table.num_rows + 1, 3))
    parts = [
        padded.slice(len(junk) + a, b - a) for a, b in zip([0, *cuts], [*cuts, table.num_rows])
    ]
    return pa.concat_tables(parts)


def encoded(table, rng):
    """String columns as large_string / dictionary / string_view, lists as large lists:
    other encodings of the same values."""
    cols = []
    for field in table.schema:
        col = table.column(field.name)
        k = rng.integers(4)
        if pa.types.is_string(field.type) and k == 1:
            col = col.cast(pa.large_string())
        elif pa.types.is_string(field.type) and k == 2:
            col = pc.dictionary_encode(col)
        elif pa.types.is_string(field.type) and k == 3:
            col = col.cast(pa.string_view())
        elif pa.types.is_list(field.type) and k >= 2:
            col = col.cast(pa.large_list(pa.large_string() if k == 3 else pa.string()))
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def scrambled(tables, seed):
    rng = np.random.default_rng(seed)
    out = {}
    for name, table in hostile(tables, rng).items():
        table = shuffled(table, rng)
        out[name] = encoded(chunked(table, rng), rng) if rng.random() < 0.7 else table
    return out


# -- the example district ------------------------------------------------------------------


@pytest.fixture(scope="module")
def example():
    return {t: pq.read_table(f"{EXAMPLE}/{t}.parquet") for t in schema.TABLES}


def test_every_example_household_equals_the_auditors_script(example):
    auditor = Auditor(example)
    hids = example["households"]["household_id"].to_pylist()
    assert digests_of(example) == [auditor.digest(h) for h in hids]
    assert texts_of(example)[:50] == [auditor.text(h) for h in hids[:50]]


def test_the_script_of_docs_digests_md_runs_as_written(example):
    """The auditor's script an auditor copies from docs/digests.md: run as printed, it
    gives every example household's input_digest (a docs check found it lacked its
    imports and raised NameError)."""
    text = (Path(__file__).parents[1] / "docs" / "digests.md").read_text("utf-8")
    script = text.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(script, scope)  # noqa: S102 - our own docs
    rows = {name: example[name].to_pylist() for name in schema.TABLES}
    hids = example["households"]["household_id"].to_pylist()
    assert [scope["input_digest"](h, rows) for h in hids] == digests_of(example)


def test_canonical_lines_equal_the_arrow_implementation(example):
    for name in schema.TABLES:
        assert table_lines(name, example[name]).to_pylist() == arrow_lines(name, example[name])


def test_input_digest_changes_with_any_source_value(example):
    hh = example["households"].slice(0, 5)
    tables = dict(example, households=hh)
    before = digests_of(tables)
    target = hh["household_id"][0].as_py()
    pid = next(
        p["person_id"] for p in example["persons"].to_pylist() if p["household_id"] == target
    )
    bank = example["bank"].to_pylist()
    row = {"person_id": pid, "institution": "x\tbank", "product": "deposit"}
    bank.append({**row, "balance": 1, "interest": 0, "record_id": "NEW"})
    after = digests_of(dict(tables, bank=pa.Table.from_pylist(bank, schema=example["bank"].schema)))
    assert after[0] != before[0]
    assert after[1:] == before[1:]


# -- synthetic and random bundles ----------------------------------------------------------


@pytest.fixture(scope="module")
def district():
    """A synthetic district: persons in several households, supporters who are members
    elsewhere, shared source rows."""
    return synth.generate(150, seed=5)


def test_a_synthetic_district_equals_the_auditors_script(district):
    auditor = Auditor(district)
    hids = district["households"]["household_id"].to_pylist()
    assert digests_of(district) == [auditor.digest(h) for h in hids]


@pytest.mark.parametrize("seed", range(6))
def test_random_hostile_scrambled_bundles_equal_the_auditors_script(seed):
    tables = scrambled(tables_of(strategies.random_input(seed, n_households=30)), seed)
    auditor = Auditor(tables)
    hids = tables["households"]["household_id"].to_pylist()
    assert texts_of(tables) == [auditor.text(h) for h in hids]
    assert digests_of(tables) == [auditor.digest(h) for h in hids]
    for name in schema.TABLES:
        canonical = {
            n: t.cast(schema.arrow_schema(name).field(n).type)
            for n, t in zip(tables[name].column_names, tables[name].columns)
        }
        plain = pa.table(canonical)
        assert table_lines(name, tables[name]).to_pylist() == arrow_lines(name, plain)


@settings(max_examples=60, deadline=None)
@given(
    strategies.engine_inputs(max_households=5),
    st.lists(st.text(alphabet="\t\n\r\\,Né中 a", max_size=6), max_size=8),
    st.integers(0, 2**32 - 1),
)
def test_any_bundle_equals_the_auditors_script(inp, pool, seed):
    rng = np.random.default_rng(seed)
    tables = {n: shuffled(t, rng) for n, t in hostile(tables_of(inp), rng, pool).items()}
    tables = {n: encoded(chunked(t, rng), rng) for n, t in tables.items()}
    auditor = Auditor(tables)
    hids = tables["households"]["household_id"].to_pylist()
    assert digests_of(tables) == [auditor.digest(h) for h in hids]


def _shuffled_all(tables, seed):
    rng = np.random.default_rng(seed)
    return {name: shuffled(table, rng) for name, table in tables.items()}


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_input_digests_do_not_depend_on_format_or_row_order(district, tmp_path, fmt):
    """A bundle written as Parquet or Arrow IPC, rows shuffled in every table, gives every
    household the same input_digest (the canonical text sorts its lines)."""
    write_bundle(_shuffled_all(district, 3), tmp_path, format=fmt)
    back = read_bundle(tmp_path)

    def by_id(tables):
        return dict(zip(tables["households"]["household_id"].to_pylist(), digests_of(tables)))

    assert by_id(back) == by_id(district)


def test_households_with_the_same_id_share_the_text_of_that_id(district):
    """The auditor's script gives every households row of an ID the lines of all rows
    with that ID (validation rejects such a bundle; the digest still follows the script)."""
    hh = district["households"]
    twice = pa.concat_tables([hh.slice(3, 1), hh])
    tables = dict(district, households=twice)
    auditor = Auditor(tables)
    got = digests_of(tables)
    assert got == [auditor.digest(h) for h in twice["household_id"].to_pylist()]
    assert got[0] == got[4]


def test_no_households_no_digests(district):
    assert digests_of(dict(district, households=district["households"].slice(0, 0))) == []


def test_households_without_people(district):
    tables = dict(district, persons=district["persons"].slice(0, 0))
    tables["supporters"] = district["supporters"].slice(0, 0)
    auditor = Auditor(tables)
    assert digests_of(tables) == [
        auditor.digest(h) for h in district["households"]["household_id"].to_pylist()
    ]


# -- threads, given owners -----------------------------------------------------------------


@pytest.fixture(scope="module")
def county():
    """Big enough for the parallel paths (several render windows, digest blocks and
    counting-sort segments)."""
    return synth.generate(6000, seed=8)


def test_same_digests_with_one_and_two_threads_and_none(county):
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = digests_of(county)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = digests_of(county)
    finally:
        numba.set_num_threads(before)
    assert one == two == digests_of(county, threads=False)
    array = input_digest_array(
        county["households"],
        county["persons"],
        county["supporters"],
        {t: county[t] for t in schema.SOURCE_TABLES},
    )
    assert array.to_pylist() == one


@pytest.mark.parametrize("rows", [[0, 1, 2], [5, 0], [4000]])
def test_a_few_households_against_a_whole_districts_records(county, rows):
    """A few households' digests, given the whole county's people and records (as a call
    of a few households against the tables it was sent): the rows none of them reads are
    left out before rendering, and each household's own are all read, the first
    person's (code 0) too (a sweep: leaving out code 0 passed every test)."""
    tables = dict(county, households=county["households"].take(rows))
    assert tables["bank"].num_rows >= 4096  # the leaving out applies
    auditor = Auditor(tables)
    assert digests_of(tables) == [
        auditor.digest(h) for h in tables["households"]["household_id"].to_pylist()
    ]
    assert digests_of(tables, threads=False) == digests_of(tables)


@pytest.mark.parametrize("offsets", [None, b""], ids=["no_buffer", "empty_buffer"])
def test_a_string_array_of_no_rows_without_offsets_is_read(offsets):
    """Arrow lets a writer (another language's IPC or Flight client) send a string array
    of no rows without an offsets buffer, or with an empty one, as the values of a list
    column whose lists are all empty or null: `[]` and `\\N`, no error (a sweep: only
    Python-built arrays, which have one offset, were tried)."""
    empty = pa.Array.from_buffers(
        pa.string(),
        0,
        [None, None if offsets is None else pa.py_buffer(offsets), pa.py_buffer(b"")],
    )
    lists = pa.ListArray.from_arrays(
        pa.array([0, 0, 0], pa.int32()), empty, mask=pa.array([False, True])
    )
    assert column_text(lists).to_pylist() == ["", "\\N"]
    assert column_text(empty).to_pylist() == []


def _relabelled(owners: Owners, rng) -> Owners:
    """The same grouping under other codes (as another ID pass might number them)."""
    n_h = int(max(owners.household_code.max(initial=0), 0)) + 1
    n_p = int(max(owners.person_code.max(initial=0), owners.supporter_code.max(initial=0))) + 1
    h_map, p_map = rng.permutation(n_h), rng.permutation(n_p)

    def h(c):
        return np.where(c >= 0, h_map[np.maximum(c, 0)], -1).astype(np.int32)

    def p(c):
        return np.where(c >= 0, p_map[np.maximum(c, 0)], -1).astype(np.int32)

    return Owners(
        h(owners.household_code),
        h(owners.person_home),
        h(owners.supporter_home),
        p(owners.person_code),
        p(owners.supporter_code),
        {name: p(c) for name, c in owners.source_code.items()},
    )


def test_given_owners_give_the_same_digests(district):
    sources = {t: district[t] for t in schema.SOURCE_TABLES}
    args = (district["households"], district["persons"], district["supporters"], sources)
    expected = input_digests(*args)
    owners = owners_of(*args)
    assert input_digests(*args, owners) == expected
    assert input_digests(*args, _relabelled(owners, np.random.default_rng(2))) == expected
    partial = Owners(**{**owners.__dict__, "source_code": {"bank": owners.source_code["bank"]}})
    assert input_digests(*args, partial) == expected  # the other tables looked up here


def test_given_owners_of_the_wrong_length_are_refused(district):
    sources = {t: district[t] for t in schema.SOURCE_TABLES}
    args = (district["households"], district["persons"], district["supporters"], sources)
    owners = owners_of(*args)
    short = Owners(**{**owners.__dict__, "person_home": owners.person_home[:-1]})
    with pytest.raises(ValueError, match="person_home"):
        input_digests(*args, short)
    codes = owners.source_code["bank"]
    for bad in (codes[:-1], codes.astype(np.float64)):  # a sweep: one wrong was untested
        given = Owners(**{**owners.__dict__, "source_code": {**owners.source_code, "bank": bad}})
        with pytest.raises(ValueError, match=r"owners.source_code\['bank'\]"):
            input_digests(*args, given)


# -- one column's text ---------------------------------------------------------------------


def _naive_column(col):
    return [_field(v) for v in col.to_pylist()]


COLUMNS = [
    pa.array([0, 1, -1, 2**63 - 1, -(2**63), 10**18, 99, 100, None], pa.int64()),
    pa.array([-128, 127, 0, None, 5], pa.int8()),
    pa.array([-(2**15), 2**15 - 1, None], pa.int16()),
    pa.array([-(2**31), 2**31 - 1, 7, None], pa.int32()),
    pa.array([0, 255, None], pa.uint8()),
    pa.array([dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2024, 2, 29), None], pa.date32()),
    pa.array([True, False, None, True, True, False, True, False, True], pa.bool_()).slice(1),
    pa.array(["", "a\tb", "\\N", None, "中\r\n", "x,y", "\\"], pa.string()),
    pa.array(["", "a\tb", None, "é"], pa.large_string()),
    pa.array(["plain", None, "t\tab"], pa.string_view()),
    pc.dictionary_encode(pa.array(["a", "b\tc", None, "a", "", "b\tc"])).slice(1, 4),
    pa.DictionaryArray.from_arrays(
        pa.array([0, None, 1, 2, 1], pa.int8()), pa.array(["x", None, "y\n"])
    ),
    pa.array([["a", "b"], [], None, ["c\t", None, ""], ["x,y"]], pa.list_(pa.string())).slice(1),
    pa.array([["a"], None, []], pa.large_list(pa.large_string())),
    pa.array([[None], [None, None], None], pa.list_(pa.null())),
    pa.nulls(3),
    pa.chunked_array([pa.array([1, 2, 3]).slice(1), pa.array([], pa.int64()), pa.array([None, 4])]),
]


@pytest.mark.parametrize("col", COLUMNS, ids=lambda c: str(c.type))
def test_column_text_equals_the_auditors_field_text(col):
    assert column_text(col).to_pylist() == _naive_column(col)


def test_integers_at_every_count_of_digits_are_written_in_decimal():
    # kernels.text counts digits by comparisons below 10^8 and by a table above: every
    # boundary 10^k - 1 / 10^k on both sides of zero, as int64 and as the narrower types
    edges = [s * (10**k + d) for k in range(19) for d in (-1, 0, 1) for s in (1, -1)]
    edges += [2**63 - 1, -(2**63), -(2**63) + 1]
    assert column_text(pa.array(edges, pa.int64())).to_pylist() == [str(v) for v in edges]
    for t in (pa.int8(), pa.int16(), pa.int32()):
        fits = [v for v in edges if -(2 ** (t.bit_width - 1)) <= v < 2 ** (t.bit_width - 1)]
        assert column_text(pa.array(fits, t)).to_pylist() == [str(v) for v in fits]


@given(st.lists(st.integers(-(2**63), 2**63 - 1) | st.integers(-(10**9), 10**9), max_size=40))
def test_any_int64_is_written_as_python_writes_it(values):
    assert column_text(pa.array(values, pa.int64())).to_pylist() == [str(v) for v in values]


def test_dates_are_written_as_arrow_casts_them_even_outside_real_years():
    rng = np.random.default_rng(4)
    edges = [-12687428, -12687429, 11248737, 11248738, -719528, -719529, 2932896, 2932897, 0]
    days = np.concatenate(
        [rng.integers(-(2**31), 2**31, 5000), rng.integers(-13_000_000, 12_000_000, 50_000), edges]
    )
    arr = pa.array(days.astype(np.int32), pa.date32())
    assert column_text(arr).to_pylist() == pc.cast(arr, pa.string()).to_pylist()


def test_a_column_without_canonical_text_is_refused_by_name():
    table = pa.table({"household_id": pa.array([1.5])})
    with pytest.raises(TypeError, match="households.0 has type double"):
        table_lines("households", table)


# -- the per-household sort ----------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.binary(max_size=20).filter(lambda b: b"\n" not in b), max_size=60), max_size=5
    )
)
def test_a_groups_lines_are_sorted_by_bytes_and_each_ends_with_lf(groups):
    lines = [line for g in groups for line in g]
    line_off = np.cumsum([0] + [len(x) for x in lines]).astype(np.int64)
    text = np.frombuffer(b"".join(lines) or b"\0", dtype=np.uint8)
    refs = np.arange(len(lines), dtype=np.int64)
    spare = np.empty(max(1, len(lines)), dtype=np.int64)
    buf = np.empty(int(line_off[-1]) + len(lines) + 1, dtype=np.uint8)
    start = 0
    for g in groups:
        size = group_text(text, line_off, refs, start, start + len(g), spare, buf)
        assert buf[:size].tobytes() == b"".join(x + b"\n" for x in sorted(g))
        start += len(g)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.binary(max_size=12).filter(lambda b: b"\n" not in b), max_size=6)))
def test_group_texts_sort_lines_by_bytes_and_end_each_with_lf(groups):
    """kernels.canonical.group_texts, the same sort for texts hashed by the service's
    journal."""
    lines = [line for g in groups for line in g]
    offsets = np.cumsum([0] + [len(x) for x in lines]).astype(np.int64)
    data = np.frombuffer(b"".join(lines) or b"\0", dtype=np.uint8)
    bounds = np.cumsum([0] + [len(g) for g in groups]).astype(np.int64)
    refs = np.arange(len(lines), dtype=np.int64)[::-1].copy()  # refs in any order
    before = refs.copy()
    text, starts = group_texts(offsets, data, refs, bounds)
    assert (refs == before).all()
    for k, g in enumerate(groups):
        mine = [lines[r] for r in refs[bounds[k] : bounds[k + 1]]]
        want = b"".join(x + b"\n" for x in sorted(mine))
        assert text[starts[k] : starts[k + 1]].tobytes() == want


def test_sha256_backend_does_not_change_a_digest(district, monkeypatch):
    expected = digests_of(district)
    monkeypatch.setattr(digest, "_OPENSSL", None)
    assert digests_of(district) == expected


# -- slab by slab (digest.SLAB_LINES) ------------------------------------------------------


@pytest.mark.parametrize("slab", [1, 7, 60, 1000])
def test_slabs_of_any_size_give_the_auditors_digests(district, monkeypatch, slab):
    """Groups rendered and hashed a slab at a time (a household-ordered bundle) give the
    digests of the auditor's script, whatever the slab size (one group per slab too)."""
    monkeypatch.setattr(digest, "SLAB_LINES", slab)
    auditor = Auditor(district)
    hids = district["households"]["household_id"].to_pylist()
    assert digests_of(district) == [auditor.digest(h) for h in hids]
    assert digests_of(district, threads=False) == [auditor.digest(h) for h in hids]


@pytest.mark.parametrize("seed", range(4))
def test_slabs_of_random_scrambled_bundles_equal_the_whole_render(monkeypatch, seed):
    """On random hostile bundles, sliced, chunked and re-encoded (shuffled rows: slabs
    are refused as too scattered, and taken when SLAB_SPREAD allows anything), slab by
    slab and all at once give the same digests as the auditor's script."""
    tables = scrambled(tables_of(strategies.random_input(seed, n_households=40)), seed)
    auditor = Auditor(tables)
    expected = [auditor.digest(h) for h in tables["households"]["household_id"].to_pylist()]
    monkeypatch.setattr(digest, "SLAB_LINES", 1 + seed * 5)
    assert digests_of(tables) == expected
    monkeypatch.setattr(digest, "SLAB_SPREAD", 10**9)  # slabs even when scattered
    assert digests_of(tables) == expected


def test_slabs_are_taken_for_a_household_ordered_bundle_and_not_for_a_shuffled_one(
    district, monkeypatch
):
    monkeypatch.setattr(digest, "SLAB_LINES", 50)
    taken = []
    real = digest.render

    def render(tables, threads, scratch=None):
        taken.append(scratch is not None)
        return real(tables, threads, scratch)

    monkeypatch.setattr(digest, "render", render)
    digests_of(district)
    assert taken and all(taken)
    taken.clear()
    digests_of(_shuffled_all(district, 4))
    assert taken == [False]
