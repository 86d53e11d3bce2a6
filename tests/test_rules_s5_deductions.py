"""RULES.md §5: rigid expenses (medical, education, pension) with their caps, N, pci."""

import datetime as dt

from builders import assess_case, person, record

ELDER = dt.date(1950, 1, 1)


def _result(engine, members, records):
    result, _, _ = assess_case(engine, members, records=records)
    return result


def test_medical_out_of_pocket_per_row_and_capped(engine):  # §5 medical
    m = person(ELDER)
    rec = [
        record(
            "social_insurance",
            m,
            record_type="medical_settlement",
            amount=100,
            reimbursed=300,
            scheme="none",
        ),  # max(0, −200) = 0, not −200
        record(
            "social_insurance",
            m,
            record_type="medical_settlement",
            amount=5000,
            reimbursed=1000,
            scheme="none",
        ),
    ]
    assert _result(engine, [m], rec)["medical"] == 4000
    rec.append(
        record(
            "social_insurance",
            m,
            record_type="medical_settlement",
            amount=9000000,
            reimbursed=0,
            scheme="none",
        )
    )
    assert _result(engine, [m], rec)["medical"] == 6000000  # medical_cap


def test_tuition_capped_per_level_and_uncapped_levels_deduct_nothing(engine):  # §5 education
    a = person(dt.date(2006, 1, 1), student_level="college", tuition=900000)
    b = person(dt.date(2008, 1, 1), student_level="senior", tuition=100000)
    c = person(dt.date(2012, 1, 1), student_level="junior", tuition=50000)  # no cap: 0
    assert _result(engine, [a, b, c], [])["education"] == 800000 + 100000


def test_pension_contribution_capped_per_member(engine):  # §5 pension
    a, b = person(ELDER), person(ELDER)
    rec = [
        record("social_insurance", a, amount=300000),
        record("social_insurance", a, amount=300000),
        record("social_insurance", b, amount=1000, scheme="employee"),
    ]
    assert _result(engine, [a, b], rec)["pension"] == 400000 + 1000


def test_net_income_never_negative_and_pci_rounded(engine):  # §5 N = max(0, …), pci = rhu
    m = person(ELDER, occupation="retired")
    rec = [
        record(
            "social_insurance", m, record_type="pension_benefit", amount=100006, scheme="employee"
        )
    ]
    r = _result(engine, [m], rec)
    assert r["net_income"] == 100006 and r["pci"] == 8334  # 100006 / 12 = 8333.8
    rec.append(
        record(
            "social_insurance", m, record_type="medical_settlement", amount=500000, scheme="none"
        )
    )
    r = _result(engine, [m], rec)
    assert r["net_income"] == 0 and r["pci"] == 0


def test_financial_assets_sum_all_member_balances(engine):  # §5 FA
    a, b = person(ELDER), person(ELDER)
    rec = [record("bank", a, balance=100), record("bank", b, balance=250, product="wealth")]
    assert _result(engine, [a, b], rec)["financial_assets"] == 350
