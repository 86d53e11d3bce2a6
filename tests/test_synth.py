"""The synthetic district generator (meanstest.synth): determinism, chunking, the data
contract of DATA.md, realistic shape, every kind of bad input, streaming to disk."""

import collections
import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from meanstest import schema, synth
from meanstest.arith import add_months

D = dt.date(2024, 7, 1)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_id(value, birth) -> bool:
    """GB 11643, written out independently of the generator (DATA.md persons.person_id)."""
    if not (isinstance(value, str) and len(value) == 18 and value[:17].isdigit()):
        return False
    check = "10X98765432"[sum(int(c) * w for c, w in zip(value[:17], WEIGHTS)) % 11]
    return value[17] == check and value[6:14] == birth.strftime("%Y%m%d")


@pytest.fixture(scope="module")
def clean():
    return synth.generate(5000, 11)


@pytest.fixture(scope="module")
def dirty():
    return synth.generate(5000, 11, bad_fraction=0.05)


def _concat(parts):
    return {name: pa.concat_tables([p[name] for p in parts]) for name in parts[0]}


def _equal(a, b):
    return a.keys() == b.keys() and all(a[k].equals(b[k]) for k in a)


# ------------------------------------------------------------- determinism --


def test_same_seed_gives_equal_tables():
    assert _equal(
        synth.generate(700, 3, bad_fraction=0.05), synth.generate(700, 3, bad_fraction=0.05)
    )


def test_different_seeds_give_different_tables():
    a, b = synth.generate(700, 3), synth.generate(700, 4)
    assert not a["persons"].equals(b["persons"])
    assert a["households"].num_rows == b["households"].num_rows == 700


@pytest.mark.parametrize("bad", [0.0, 0.1])
def test_chunks_concatenate_to_the_whole_range(bad):
    whole = synth.generate(1000, 5, bad_fraction=bad)
    parts = [synth.generate(300, 5, bad_fraction=bad, start=s) for s in (0, 300, 600)]
    parts.append(synth.generate(100, 5, bad_fraction=bad, start=900))
    assert _equal(whole, _concat(parts))


def test_chunks_across_a_block_boundary():
    start = synth.BLOCK - 250
    whole = synth.generate(500, 5, start=start)
    parts = [synth.generate(250, 5, start=start), synth.generate(250, 5, start=synth.BLOCK)]
    assert _equal(whole, _concat(parts))
    ids = whole["households"]["household_id"].to_pylist()
    assert ids == [f"HH{i:09d}" for i in range(start, start + 500)]


def test_bad_fraction_changes_only_the_chosen_households():
    clean, dirty = synth.generate(2000, 9), synth.generate(2000, 9, bad_fraction=0.05)
    for name in ("households", "persons"):
        a, b = collections.defaultdict(list), collections.defaultdict(list)
        for row in clean[name].to_pylist():
            a[row["household_id"]].append(row)
        for row in dirty[name].to_pylist():
            b[row["household_id"]].append(row)
        changed = sum(a[h] != b.get(h) for h in a)
        assert 0 < changed < 0.15 * 2000, name


@pytest.mark.parametrize("kwargs", [{"n_households": -1}, {"seed": -1}, {"bad_fraction": 1.5}])
def test_bad_arguments_are_refused(kwargs):
    args = {"n_households": 10, "seed": 1, **kwargs}
    with pytest.raises(ValueError):
        synth.generate(args.pop("n_households"), args.pop("seed"), **args)


def test_zero_households_gives_empty_canonical_tables():
    tables = synth.generate(0, 1)
    assert all(t.num_rows == 0 and t.schema == schema.arrow_schema(n) for n, t in tables.items())


# ------------------------------------------------------------ data contract --


def test_all_nine_tables_with_the_canonical_schemas(clean):
    assert list(clean) == list(schema.TABLES)
    for name, table in clean.items():
        assert table.schema == schema.arrow_schema(name), name


def test_every_id_is_valid_and_agrees_with_birth_date(clean):
    for table, col in (("persons", "person_id"), ("supporters", "supporter_id")):
        t = clean[table]
        pairs = zip(t[col].to_pylist(), t["birth_date"].to_pylist())
        assert all(valid_id(v, b) for v, b in pairs), table


def test_ids_are_unique_except_deliberate_duplicate_members(clean):
    p, s = clean["persons"], clean["supporters"]
    homes = collections.defaultdict(set)
    for pid, h in zip(p["person_id"].to_pylist(), p["household_id"].to_pylist()):
        homes[pid].add(h)
    supporters = collections.Counter(s["supporter_id"].to_pylist())
    members = collections.Counter(p["person_id"].to_pylist())
    assert all(c == 1 for c in supporters.values())
    assert not set(supporters) & set(members)
    twice = [pid for pid, c in members.items() if c > 1]
    assert twice, "DUPLICATE_PERSON cases are generated"
    assert all(len(homes[pid]) == members[pid] for pid in twice)  # never twice in one household
    assert len(twice) < 0.01 * p.num_rows


def test_ids_unique_across_chunks_far_apart():
    a = synth.generate(3000, 2, start=0)
    b = synth.generate(3000, 2, start=250 * synth.BLOCK)  # the first block of the next cycle
    ids = [
        *a["persons"]["person_id"].to_pylist(), *a["supporters"]["supporter_id"].to_pylist(),
        *b["persons"]["person_id"].to_pylist(), *b["supporters"]["supporter_id"].to_pylist(),
    ]  # fmt: skip
    dup = (
        a["persons"].num_rows
        + b["persons"].num_rows
        - len(
            set(a["persons"]["person_id"].to_pylist()) | set(b["persons"]["person_id"].to_pylist())
        )
    )
    assert len(ids) - len(set(ids)) == dup
    assert all(valid_id(v, d) for v, d in zip(b["persons"]["person_id"].to_pylist(),
                                              b["persons"]["birth_date"].to_pylist()))  # fmt: skip


def test_record_ids_unique_and_in_department_or_file_line_form(clean):
    for name in schema.SOURCE_TABLES:
        rid = clean[name]["record_id"].to_pylist()
        assert len(set(rid)) == len(rid), name
        prefix = synth._SRC_PREFIX[name]
        for r in rid:
            assert (r.startswith(prefix) and r[len(prefix) :].isdigit()) or (
                ".csv:" in r and r.rsplit(":", 1)[1].isdigit()
            ), r


def test_jurisdictions_and_packs(clean):
    h = clean["households"]
    counts = collections.Counter(h["jurisdiction"].to_pylist())
    assert set(counts) == set(synth.JURISDICTIONS)
    assert counts["150422"] > 0.8 * h.num_rows
    dates = collections.Counter(h["assessment_date"].to_pylist())
    assert set(dates) == {D, add_months(D, 6)}
    assert dates[D] > 0.98 * h.num_rows
    from meanstest.policy import default_library

    lib = default_library()
    packs = {lib.select(j, d).id for j in counts for d in dates}
    assert packs == {"150422-2024", "150422-2025", "150400-2024", "150000-2024"}


# ------------------------------------------------------------------- shape --


def test_realistic_shape(clean):
    n = clean["households"].num_rows
    persons = clean["persons"].num_rows
    assert 2.4 < persons / n < 2.8
    with_supporters = len(set(clean["supporters"]["household_id"].to_pylist()))
    assert 0.33 < with_supporters / n < 0.47
    per_person = {t: clean[t].num_rows / persons for t in schema.SOURCE_TABLES}
    assert 0.5 < per_person["tax_income"] < 2
    assert 0.5 < per_person["bank"] < 1.5
    assert 0.1 < per_person["vehicle"] < 0.35
    assert 0.3 < per_person["property"] < 0.8
    assert 0.7 < per_person["social_insurance"] < 2
    assert 0.005 < per_person["business_registration"] < 0.08
    h = clean["households"]
    assert set(h["prev_status"].to_pylist()) == set(schema.PREV_STATUSES)
    area = collections.Counter(h["area"].to_pylist())
    assert 0.45 < area["rural"] / n < 0.75


def test_previous_benefit_follows_previous_status(clean):
    for row in clean["households"].select(["prev_status", "prev_benefit"]).to_pylist():
        if row["prev_status"] in ("dibao", "tekun"):
            assert row["prev_benefit"] > 0
        elif row["prev_status"] in ("none", "low_income"):
            assert row["prev_benefit"] == 0
    phase = clean["households"].filter(pc.equal(clean["households"]["prev_status"], "phase_out"))
    benefits = phase["prev_benefit"].to_pylist()
    assert 0 in benefits and any(b > 0 for b in benefits)


@pytest.fixture(scope="module")
def block():
    return synth.generate(synth.BLOCK, 11)


def test_boundary_values_are_present(block):
    """RULES.md boundaries with the default pack's numbers (POLICY.md); every variant of
    every edge kind occurs in one block of households."""
    clean = block
    v = clean["vehicle"]
    values = set(v["value"].to_pylist())
    assert {5_000_000, 5_000_001} <= values
    regs = set(v["registered_on"].to_pylist())
    year = add_months(D, -12)
    assert {year, year + dt.timedelta(1), D, D + dt.timedelta(1)} <= regs
    p = clean["property"]
    two = add_months(D, -24)
    assert {two, two + dt.timedelta(1), D + dt.timedelta(1)} <= set(p["acquired_on"].to_pylist())
    assert {D, D + dt.timedelta(1), two, two + dt.timedelta(1)} <= set(
        p["disposed_on"].drop_null().to_pylist()
    )
    assert {1, 1000} <= set(p["share"].to_pylist())
    births = set(clean["persons"]["birth_date"].to_pylist())
    for years in synth.BOUNDARY_AGES:
        day = D.replace(year=D.year - years)
        assert {day - dt.timedelta(1), day, day + dt.timedelta(1)} <= births, years
    assert any(b.month == 2 and b.day == 29 for b in births)
    b = clean["business_registration"]["annual_turnover"].to_pylist()
    assert {10_000_000, 10_000_001} <= set(b)
    tuition = set(clean["persons"]["tuition"].to_pylist())
    assert {300_000, 300_001, 200_000, 200_001, 800_000, 800_001} <= tuition
    refused = clean["persons"]["refused_job_offers"].to_pylist()
    assert {0, 1, 2} <= set(refused)


def test_a_few_source_rows_belong_to_nobody(clean):
    people = set(clean["persons"]["person_id"].to_pylist())
    people |= set(clean["supporters"]["supporter_id"].to_pylist())
    orphans = sum(
        len(set(clean[t]["person_id"].to_pylist()) - people) for t in schema.SOURCE_TABLES
    )
    assert 0 < orphans < 0.005 * clean["persons"].num_rows


# --------------------------------------------------------------- bad input --


REQUIRED = {
    name: [c.name for c in cols if not c.nullable and not c.optional]
    for name, cols in schema.TABLES.items()
}
NON_NEGATIVE = {
    "households": ["prev_benefit", "declared_income_monthly", "declared_vehicles",
                   "declared_properties", "declared_financial_assets"],
    "persons": ["refused_job_offers", "tuition"],
    "tax_income": ["amount"], "business_registration": ["annual_turnover", "employees"],
    "bank": ["balance", "interest"], "vehicle": ["value"], "property": ["area", "rental_income"],
    "social_insurance": ["amount", "reimbursed"],
}  # fmt: skip


def bad_kinds(tables) -> collections.Counter:
    """Which kinds of DATA.md "Bad input" the tables hold (cheap checks)."""
    found = collections.Counter()
    for name, cols in REQUIRED.items():
        t = tables[name]
        found["null_required"] += sum(t[c].null_count for c in cols)
        for c in schema.TABLES[name]:
            if c.enum:
                found["unknown_enum"] += int(
                    pc.sum(pc.invert(pc.is_in(t[c.name], pa.array(c.enum)))).as_py() or 0
                )
        for c in NON_NEGATIVE.get(name, ()):
            found["negative"] += int(pc.sum(pc.less(t[c], 0)).as_py() or 0)
    for table, col in (("persons", "person_id"), ("supporters", "supporter_id")):
        t = tables[table]
        for value, birth in zip(t[col].to_pylist(), t["birth_date"].to_pylist()):
            if value is None:
                continue
            if not (len(value) == 18 and value[:17].isdigit() and value[17] in "0123456789X"):
                found["malformed_id"] += 1
            elif not valid_id(value, dt.date(int(value[6:10]), int(value[10:12]),
                                             int(value[12:14]))):  # fmt: skip
                found["bad_check"] += 1
            elif birth is not None and not valid_id(value, birth):
                found["id_birth_mismatch"] += 1
    health = tables["persons"]["health"].to_pylist() + tables["supporters"]["health"].to_pylist()
    found["health"] = sum(h is not None and not 1 <= h <= 6 for h in health)
    found["supported_count"] = sum(
        c < 1 for c in tables["supporters"]["supported_count"].to_pylist()
    )
    p = tables["property"]
    found["share"] = sum(not 1 <= s <= 1000 for s in p["share"].to_pylist())
    dates = zip(p["acquired_on"].to_pylist(), p["disposed_on"].to_pylist())
    found["disposed_before_acquired"] = sum(d is not None and d < a for a, d in dates)
    h = tables["households"]
    found["current_programs"] = sum(
        any(x is None or x not in synth.PROGRAMS for x in progs)
        for progs in h["current_programs"].to_pylist()
        if progs is not None
    )
    juris = h["jurisdiction"].to_pylist()
    found["jurisdiction_format"] = sum(not (len(j) == 6 and j.isdigit()) for j in juris)
    found["no_pack"] = sum(j in ("110105", "310115") for j in juris)
    ids = collections.Counter(h["household_id"].to_pylist())
    found["duplicate_household_id"] = sum(c > 1 for c in ids.values())
    members = collections.Counter(tables["persons"]["household_id"].to_pylist())
    found["no_members"] = sum(1 for i in ids if i not in members)
    seen = collections.Counter(zip(tables["persons"]["household_id"].to_pylist(),
                                   tables["persons"]["person_id"].to_pylist()))  # fmt: skip
    seen.update(zip(tables["supporters"]["household_id"].to_pylist(),
                    tables["supporters"]["supporter_id"].to_pylist()))  # fmt: skip
    found["same_person_twice"] = sum(c > 1 for c in seen.values())
    bad_source = 0
    for name in schema.SOURCE_TABLES:
        t = tables[name]
        bad_source += sum(t[c].null_count for c in REQUIRED[name])
        bad_source += sum(int(pc.sum(pc.less(t[c], 0)).as_py() or 0) for c in NON_NEGATIVE[name])
        for c in schema.TABLES[name]:
            if c.enum:
                bad_source += int(
                    pc.sum(pc.invert(pc.is_in(t[c.name], pa.array(c.enum)))).as_py() or 0
                )
    found["bad_source"] = bad_source + found["share"] + found["disposed_before_acquired"]
    return found


def test_no_invalid_rows_without_bad_fraction(clean):
    found = bad_kinds(clean)
    assert not +found, dict(+found)


def test_every_kind_of_bad_input_is_present(dirty):
    found = bad_kinds(dirty)
    missing = [k for k in synth.BAD_KINDS if not found[k]]
    assert not missing, missing


# ------------------------------------------------------------------- files --


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_write_synth_streams_a_readable_bundle(tmp_path, fmt):
    calls = []
    counts = synth.write_synth(tmp_path, 1200, 4, bad_fraction=0.05, format=fmt, chunk=1,
                               progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert calls[-1] == (1200, 1200)
    assert not list(tmp_path.glob("*.tmp"))
    expected = synth.generate(1200, 4, bad_fraction=0.05)
    from meanstest.bundle import read_bundle

    bundle = read_bundle(tmp_path)
    for name, table in expected.items():
        assert counts[name] == table.num_rows == bundle[name].num_rows, name
        assert bundle[name].equals(table), name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.{fmt}" for n in schema.TABLES)


def test_write_synth_is_byte_identical_and_replaces_the_other_format(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    synth.write_synth(a, 500, 8, format="arrow")
    synth.write_synth(a, 500, 8)
    synth.write_synth(b, 500, 8)
    assert not list(a.glob("*.arrow"))
    for name in schema.TABLES:
        assert (a / f"{name}.parquet").read_bytes() == (b / f"{name}.parquet").read_bytes()
    assert pq.read_table(a / "persons.parquet").schema == schema.arrow_schema("persons")


def test_write_synth_refuses_unknown_format(tmp_path):
    with pytest.raises(ValueError):
        synth.write_synth(tmp_path, 10, 1, format="csv")


# ------------------------------------------------------ statuses (engine) --


@pytest.fixture(scope="module")
def assessed():
    pipeline = pytest.importorskip("meanstest.pipeline")
    tables = synth.generate(2000, 13)
    return tables, pipeline.assess(tables)


def test_every_status_veto_and_transition_in_2000_households(assessed):
    _, a = assessed
    r = a.results
    assert a.rejects.num_rows == 0
    assert set(r["status"].to_pylist()) == set(schema.STATUSES)
    assert {v for vs in r["vetoes"].to_pylist() for v in vs} == set(schema.VETO_CODES)
    assert set(r["transition"].to_pylist()) == set(schema.TRANSITIONS)
    codes = set(a.findings["code"].to_pylist())
    assert {*schema.UNDECLARED_CODES, "DUPLICATE_PERSON", "SOURCE_NOT_CHECKED",
            "PROGRAM_MISSED", "PROGRAM_UNDUE"} <= codes  # fmt: skip
    shares = collections.Counter(r["status"].to_pylist())
    assert all(shares[s] >= 20 for s in schema.STATUSES), shares


def test_calibrated_households_sit_exactly_on_the_standards(assessed):
    """pci = S and S − 1, L and L + 1 (RULES.md §7) occur, with the statuses they imply."""
    _, a = assessed
    seen = set()
    for row in a.results.to_pylist():
        s = row["standard"]
        low = (2 * s * 1500 + 1000) // 2000
        for delta, name in ((0, "S"), (-1, "S-1")):
            if row["pci"] == s + delta and row["status"] != "VETOED":
                seen.add(name)
                assert row["status"] != "DIBAO" if delta == 0 else row["status"] == "DIBAO"
        for delta, name in ((0, "L"), (1, "L+1")):
            if row["pci"] == low + delta and row["status"] != "VETOED":
                seen.add(name)
                assert (row["status"] == "NOT_ELIGIBLE") == (delta == 1)
    assert seen == {"S", "S-1", "L", "L+1"}


def test_generation_is_fast_enough():
    import time

    t = time.perf_counter()
    tables = synth.generate(synth.BLOCK, 1)
    elapsed = time.perf_counter() - t
    assert tables["households"].num_rows == synth.BLOCK
    assert elapsed < 5, elapsed  # ~0.25 s on a laptop; 200,000 households in a few seconds


def test_an_interrupted_synth_leaves_no_tmp_file(tmp_path, monkeypatch):
    """Ctrl-C after a table's file was closed and before its rename left
    business_registration.parquet.tmp (1 of 10 in a blind recheck, 2026-12-07): the
    clean-up removed only the files still open."""
    import os
    import types

    from meanstest.synth import stream

    renamed = []

    def replace(src, dst):
        if len(renamed) == 3:  # the fourth table, after three were renamed
            raise KeyboardInterrupt
        renamed.append(dst)
        os.replace(src, dst)

    monkeypatch.setattr(stream, "os", types.SimpleNamespace(replace=replace, fsync=os.fsync))
    with pytest.raises(KeyboardInterrupt):
        stream.write_synth(tmp_path, 20, seed=1)
    assert not list(tmp_path.glob("*.tmp")), sorted(p.name for p in tmp_path.iterdir())


def test_an_interrupted_table_write_leaves_no_tmp_file(tmp_path, monkeypatch):
    from meanstest import bundle

    def interrupted(table, where, **kwargs):
        where.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle.pq, "write_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        bundle.write_table_atomic(synth.generate(3, seed=1)["bank"], tmp_path / "bank.parquet")
    assert list(tmp_path.iterdir()) == []
