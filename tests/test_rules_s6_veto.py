"""RULES.md §6: every one-vote veto, its threshold, its evidence, and veto.enabled."""

import datetime as dt

import pytest
from builders import D, assess_case, codes, pack, person, record

ELDER = dt.date(1950, 1, 1)


def _veto(engine, members, records=(), policy=None, **kw):
    result, _, findings = assess_case(engine, members, records=records, policy=policy, **kw)
    return result, [f for f in findings if f["severity"] == "veto"]


def test_v01_vehicle_value_over_limit(engine):
    m = person(ELDER)
    result, found = _veto(engine, [m], [record("vehicle", m, "VEH2", value=5000001)])
    assert result["status"] == "VETOED" and result["vetoes"] == ["V01"]
    assert (found[0]["person_id"], found[0]["source"], found[0]["record_id"]) == (
        m["person_id"],
        "vehicle",
        "VEH2",
    )
    result, _ = _veto(engine, [m], [record("vehicle", m, value=5000000)])
    assert result["vetoes"] == []  # at the limit: not more than


def test_v01_by_count_has_no_record_evidence(engine):
    m = person(ELDER)
    rec = [
        record("vehicle", m, "A", plate="蒙D1", value=10),
        record("vehicle", m, "B", plate="蒙D2", vehicle_type="truck", value=10),
        record("vehicle", m, "C", plate="蒙D3", vehicle_type="motorcycle", value=10),
    ]
    result, found = _veto(engine, [m], rec)
    assert result["vetoes"] == ["V01"]
    assert found[0]["record_id"] is None and found[0]["detail"] == "records A, B"
    result, _ = _veto(engine, [m], rec[:1] + rec[2:])  # one car + a motorcycle: fine
    assert result["vetoes"] == []


def test_v01_same_plate_twice_counts_once(engine):
    a, b = person(ELDER), person(ELDER)
    rec = [
        record("vehicle", a, plate="蒙D1", value=10),
        record("vehicle", b, plate="蒙D1", value=10),
    ]
    assert _veto(engine, [a, b], rec)[0]["vetoes"] == []


def test_v02_housing_count_and_area(engine):
    m = person(ELDER)
    two = [record("property", m, property_id="A"), record("property", m, property_id="B")]
    result, found = _veto(engine, [m], two)
    assert result["vetoes"] == ["V02"] and found[0]["record_id"] is None
    big = [record("property", m, area=10001, share=500)]  # rhu(5000.5) = 5001 > 5000 × 1
    assert _veto(engine, [m], big)[0]["vetoes"] == ["V02"]
    ok = [record("property", m, area=10000, share=500)]
    assert _veto(engine, [m], ok)[0]["vetoes"] == []


def test_v02_area_is_rounded_row_by_row(engine):  # §6 V02: Σ rhu(area × share, 1000)
    """A couple owning one 55 m² home 333‰ / 667‰, limit 27.5 m² a person: the rows round
    to 18.32 + 36.69 = 55.01 m² > 55.00 (V02); rounding the sum instead would give 55.00."""
    husband, wife = person(ELDER), person(dt.date(1952, 3, 4), relation="spouse")
    limit = pack(veto__residential_area_per_capita_limit=2750)

    def home(area):
        return [
            record("property", husband, property_id="P1", area=area, share=333),
            record("property", wife, property_id="P1", area=area, share=667),
        ]

    assert _veto(engine, [husband, wife], home(5500), policy=limit)[0]["vetoes"] == ["V02"]
    assert _veto(engine, [husband, wife], home(5499), policy=limit)[0]["vetoes"] == []


def test_v03_nonresidential(engine):
    m = person(ELDER)
    for use in ("commercial", "office", "industrial"):
        assert _veto(engine, [m], [record("property", m, use=use)])[0]["vetoes"] == ["V03"]
    assert _veto(engine, [m], [record("property", m, use="other")])[0]["vetoes"] == []


@pytest.mark.parametrize(
    "dates",
    [
        {"disposed_on": dt.date(2020, 1, 1)},  # sold before D (and before V10's window)
        {"acquired_on": dt.date(2024, 7, 2)},  # acquired the day after D
    ],
)
def test_v03_counts_owned_properties_only(engine, dates):  # §6 owned rows only, §0
    """A commercial property not owned at D (disposed_on ≤ D, or acquired_on > D) is no
    V03: the veto looks at owned rows only."""
    m = person(ELDER)
    rec = [record("property", m, use="commercial", **dates)]
    assert _veto(engine, [m], rec)[0]["vetoes"] == []


@pytest.mark.parametrize(
    "dates",
    [
        {"acquired_on": D},  # acquired on D itself
        {"acquired_on": dt.date(2020, 1, 1), "disposed_on": dt.date(2024, 7, 2)},  # sold after D
    ],
)
def test_v03_a_property_acquired_by_d_and_not_disposed_by_it_is_owned(engine, dates):
    """§0: owned = acquired_on ≤ D and (disposed_on null or > D); a mutation sweep found
    `acquired_on < D` passed every test."""
    m = person(ELDER)
    rec = [record("property", m, use="commercial", **dates)]
    assert _veto(engine, [m], rec)[0]["vetoes"] == ["V03"]


def test_v04_financial_assets(engine):
    m = person(ELDER)
    limit = 24 * 57000 * 1
    assert _veto(engine, [m], [record("bank", m, balance=limit)])[0]["vetoes"] == []
    result, found = _veto(engine, [m], [record("bank", m, balance=limit + 1)])
    assert result["vetoes"] == ["V04"] and found[0]["record_id"] is None


def test_v05_business(engine):
    m = person(ELDER)
    for role in ("legal_rep", "shareholder"):
        assert _veto(engine, [m], [record("business_registration", m, role=role)])[0]["vetoes"] == [
            "V05"
        ]
    at = record("business_registration", m, annual_turnover=10000000)
    over = record("business_registration", m, annual_turnover=10000001)
    assert _veto(engine, [m], [at])[0]["vetoes"] == []
    assert _veto(engine, [m], [over])[0]["vetoes"] == ["V05"]


def test_v06_public_employee(engine):
    m = person(ELDER)
    for employer, vetoed in (
        ("government", True),
        ("public_institution", True),
        ("enterprise", False),
    ):
        rec = [
            record(
                "social_insurance",
                m,
                record_type="employment",
                employer_type=employer,
                scheme="employee",
            )
        ]
        assert (_veto(engine, [m], rec)[0]["vetoes"] == ["V06"]) is vetoed


@pytest.mark.parametrize(
    "record_type", ["pension_contribution", "pension_benefit", "medical_settlement"]
)
def test_v06_counts_employment_rows_only(engine, record_type):  # §6 V06 record_type
    """A social_insurance row with employer_type government is V06 only when its
    record_type is employment; a contribution, benefit or medical row is not."""
    m = person(ELDER)
    rec = [
        record(
            "social_insurance",
            m,
            record_type=record_type,
            employer_type="government",
            scheme="employee",
            amount=1000,
        )
    ]
    assert _veto(engine, [m], rec)[0]["vetoes"] == []


def test_v07_employer(engine):
    m = person(ELDER)
    assert _veto(engine, [m], [record("business_registration", m, employees=1)])[0]["vetoes"] == [
        "V07"
    ]


def test_v08_insurance_grade_sum_per_member(engine):
    a, b = person(ELDER), person(ELDER)
    rec = [
        record("social_insurance", a, "S1", amount=200000),
        record("social_insurance", b, "S2", amount=200000),
    ]
    assert _veto(engine, [a, b], rec)[0]["vetoes"] == []  # each 2,000 yuan ≤ 3,000
    rec.append(record("social_insurance", b, "S3", amount=100001))
    result, found = _veto(engine, [a, b], rec)
    assert result["vetoes"] == ["V08"] and found[0]["person_id"] == b["person_id"]
    assert found[0]["record_id"] == "S2" and found[0]["detail"] == "records S2, S3"
    employee = [record("social_insurance", a, amount=900000, scheme="employee")]
    assert _veto(engine, [a], employee)[0]["vetoes"] == []


def test_v09_recent_purchase_even_if_disposed(engine):
    m = person(ELDER)
    edge = dt.date(2022, 7, 1)  # exactly 24 months before D: outside
    rec = [record("property", m, acquisition="purchase", acquired_on=edge)]
    assert _veto(engine, [m], rec)[0]["vetoes"] == []
    rec = [
        record(
            "property",
            m,
            acquisition="purchase",
            acquired_on=dt.date(2022, 7, 2),
            disposed_on=dt.date(2023, 1, 1),
        )
    ]
    assert _veto(engine, [m], rec)[0]["vetoes"] == ["V09", "V10"]  # the resale is V10 too
    rec = [record("property", m, acquisition="inheritance", acquired_on=dt.date(2023, 1, 1))]
    assert _veto(engine, [m], rec)[0]["vetoes"] == []
    rec = [record("property", m, acquisition="purchase", acquired_on=D)]  # the window ends on D
    assert _veto(engine, [m], rec)[0]["vetoes"] == ["V09"]
    rec = [record("property", m, acquisition="purchase", acquired_on=dt.date(2024, 7, 2))]
    assert _veto(engine, [m], rec)[0]["vetoes"] == []  # after D: neither bought yet nor owned


def test_v10_recent_transfer(engine):
    m = person(ELDER)
    rec = [record("property", m, disposed_on=D)]
    assert _veto(engine, [m], rec)[0]["vetoes"] == ["V10"]
    rec = [record("property", m, disposed_on=dt.date(2024, 7, 2))]  # after D: still owned
    assert _veto(engine, [m], rec)[0]["vetoes"] == []


def test_v11_refused_work(engine):
    worker = person(dt.date(1970, 1, 1), refused_job_offers=2)  # 54, healthy → 700
    result, found = _veto(engine, [worker])
    assert result["vetoes"] == ["V11"] and found[0]["source"] == "persons"
    assert found[0]["record_id"] is None
    once = person(dt.date(1970, 1, 1), refused_job_offers=1)
    assert _veto(engine, [once])[0]["vetoes"] == []
    weak = person(dt.date(1966, 1, 1), health=3, refused_job_offers=5)  # 58, health 3 → 200
    assert _veto(engine, [weak])[0]["vetoes"] == []


def test_v12_no_consent(engine):
    result, found = _veto(engine, [person(ELDER)], consent_signed=False)
    assert result["vetoes"] == ["V12"] and found[0]["source"] == "households"


def test_v13_false_declaration(engine):
    m = person(ELDER)
    result, found = _veto(
        engine, [m], [record("vehicle", m, vehicle_type="motorcycle")], declared_vehicles=0
    )
    assert result["vetoes"] == ["V13"]
    assert found[0]["detail"] == "findings UNDECLARED_VEHICLE"


def test_v14_recent_vehicle(engine):
    m = person(ELDER)
    rec = [record("vehicle", m, value=10, registered_on=dt.date(2023, 7, 2))]
    assert _veto(engine, [m], rec)[0]["vetoes"] == ["V14"]
    rec = [record("vehicle", m, value=10, registered_on=dt.date(2023, 7, 1))]
    assert _veto(engine, [m], rec)[0]["vetoes"] == []
    # only the veto types (car, truck): a motorcycle registered last month is no veto
    rec = [record("vehicle", m, vehicle_type="motorcycle", registered_on=dt.date(2024, 6, 1))]
    assert _veto(engine, [m], rec)[0]["vetoes"] == []


def test_a_vehicle_registered_on_d_is_owned_and_one_registered_after_d_is_not(engine):
    """§0 owned at D: registered_on ≤ D. A car over the value limit registered on D itself
    triggers V01 and V14; the day after D, neither (nor is it in V14's window)."""
    m = person(ELDER)
    on_d = [record("vehicle", m, value=5000001, registered_on=D)]
    assert _veto(engine, [m], on_d)[0]["vetoes"] == ["V01", "V14"]
    after = [record("vehicle", m, value=5000001, registered_on=D + dt.timedelta(days=1))]
    assert _veto(engine, [m], after)[0]["vetoes"] == []


def test_every_triggered_veto_is_reported_in_code_order(engine):  # §6 all, not the first
    m = person(ELDER)
    rec = [record("property", m, use="office"), record("bank", m, balance=10**9)]
    result, found = _veto(engine, [m], rec, consent_signed=False)
    assert result["vetoes"] == ["V03", "V04", "V12"] and codes(found) == result["vetoes"]


def test_only_enabled_vetoes_apply(engine):  # §6 veto.enabled
    m = person(ELDER)
    policy = pack(veto__enabled=["V01"])
    result, found = _veto(
        engine, [m], [record("property", m, use="office")], policy=policy, consent_signed=False
    )
    assert result["vetoes"] == [] and found == [] and result["status"] != "VETOED"


@pytest.mark.parametrize("disabled", ["V13"])
def test_undeclared_is_warning_when_v13_disabled(engine, disabled):  # §8 severity
    m = person(ELDER)
    codes_on = [c for c in pack().params["veto"]["enabled"] if c != disabled]
    result, _, findings = assess_case(
        engine,
        [m],
        records=[record("bank", m, balance=200001)],
        declared_financial_assets=0,
        policy=pack(veto__enabled=codes_on),
    )
    assert result["vetoes"] == []
    assert [(f["code"], f["severity"]) for f in findings if f["code"].startswith("UNDECL")] == [
        ("UNDECLARED_ASSETS", "warning")
    ]


def test_evidence_is_the_first_record_by_record_id_in_code_point_order(engine):  # §6
    """§6 evidence: within a member, records by record_id ascending — by code point, so
    "Z10" < "Z9" < "a1" (digits before upper case before lower case, character by
    character) — whatever order the rows come in. The rows are given a1, Z9, Z10: the
    evidence is Z10, and the detail lists every triggering record in that order."""
    m = person(ELDER)
    rec = [
        record("property", m, "a1", property_id="P1", use="office"),
        record("property", m, "Z9", property_id="P2", use="commercial"),
        record("property", m, "Z10", property_id="P3", use="industrial"),
    ]
    result, found = _veto(engine, [m], rec)
    assert result["vetoes"] == ["V03"]
    assert (found[0]["person_id"], found[0]["source"], found[0]["record_id"]) == (
        m["person_id"],
        "property",
        "Z10",
    )
    assert found[0]["detail"] == "records Z10, Z9, a1"
