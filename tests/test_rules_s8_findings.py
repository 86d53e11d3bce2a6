"""RULES.md §8: verification findings — undeclared income/vehicles/property/assets,
sources not checked (provisional), persons in two households."""

import datetime as dt

from builders import assess_case, codes, engine_input, household, person, record

ELDER = dt.date(1950, 1, 1)


def _findings(engine, members, records=(), **kw):
    result, _, findings = assess_case(engine, members, records=records, **kw)
    return result, findings


def test_undeclared_income_tolerance(engine):  # §8: max(rhu(d × 100‰), 10,000)
    w = person(dt.date(1990, 1, 1), occupation="employed")
    # verified 1,320,000 / 12 = 110,000 per month; declared 100,000 + 10,000 tolerance
    rec = [record("tax_income", w, amount=1320000)]
    _, f = _findings(engine, [w], rec, declared_income_monthly=100000)
    assert "UNDECLARED_INCOME" not in codes(f)
    rec = [record("tax_income", w, amount=1320012)]  # 110,001
    result, f = _findings(engine, [w], rec, declared_income_monthly=100000)
    hit = next(x for x in f if x["code"] == "UNDECLARED_INCOME")
    assert hit["severity"] == "veto" and hit["source"] == "tax_income"
    assert hit["detail"] == "verified 110001 > declared 100000 + tolerance 10000"
    assert "V13" in result["vetoes"]


def test_undeclared_income_absolute_floor(engine):  # §8 declaration_tolerance_abs
    w = person(dt.date(1990, 1, 1), occupation="employed")
    rec = [record("tax_income", w, amount=120000)]  # 10,000 / month, declared 0
    assert "UNDECLARED_INCOME" not in codes(
        _findings(engine, [w], rec, declared_income_monthly=0)[1]
    )


def test_undeclared_vehicle_and_property_count_distinct_owned(engine):  # §8
    m = person(ELDER)
    rec = [
        record("vehicle", m, plate="A", vehicle_type="motorcycle"),
        record("vehicle", m, plate="A", vehicle_type="motorcycle"),
        record("vehicle", m, plate="B", registered_on=dt.date(2025, 1, 1)),  # not owned
        record("property", m, property_id="X"),
        record("property", m, property_id="Y", disposed_on=dt.date(2020, 1, 1)),
    ]
    _, f = _findings(engine, [m], rec, declared_vehicles=1, declared_properties=1)
    assert "UNDECLARED_VEHICLE" not in codes(f) and "UNDECLARED_PROPERTY" not in codes(f)
    _, f = _findings(engine, [m], rec, declared_vehicles=0, declared_properties=0)
    assert {"UNDECLARED_VEHICLE", "UNDECLARED_PROPERTY"} <= set(codes(f))


def test_undeclared_assets(engine):  # §8 FA > declared + 100,000
    m = person(ELDER)
    rec = [record("bank", m, balance=300000)]
    assert "UNDECLARED_ASSETS" not in codes(
        _findings(engine, [m], rec, declared_financial_assets=200000)[1]
    )
    assert "UNDECLARED_ASSETS" in codes(
        _findings(engine, [m], rec, declared_financial_assets=199999)[1]
    )


def test_source_not_checked_marks_provisional_and_still_uses_rows(engine):  # §8
    m = person(ELDER)
    result, f = _findings(
        engine,
        [m],
        [record("bank", m, balance=10**9)],
        checked_bank=False,
        checked_social_insurance=False,
    )
    assert result["provisional"] is True and result["vetoes"] == ["V04"]
    unchecked = [(x["source"], x["severity"]) for x in f if x["code"] == "SOURCE_NOT_CHECKED"]
    assert unchecked == [("bank", "warning"), ("social_insurance", "warning")]


def test_duplicate_person_one_finding_per_household(engine):  # §8 DUPLICATE_PERSON
    shared = person(ELDER)
    hh = [household(household_id="H1"), household(household_id="H2")]
    ms = [
        {"household_id": "H1", **shared},
        {"household_id": "H2", **shared},
        {"household_id": "H2", **person(ELDER)},
    ]
    dups = {shared["person_id"]: ["H1", "H2"]}
    out = engine(engine_input(hh, ms, duplicates=dups))
    found = [
        (f["household_id"], f["person_id"], f["detail"])
        for f in out.findings.to_pylist()
        if f["code"] == "DUPLICATE_PERSON"
    ]
    detail = "member of households H1, H2"
    assert found == [("H1", shared["person_id"], detail), ("H2", shared["person_id"], detail)]
