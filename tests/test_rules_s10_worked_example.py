"""RULES.md §10: the worked example, H1 of 巴林左旗, D = 2024-07-01, rural."""

import datetime as dt

from builders import assess_case, person, record


def test_worked_example(engine):
    head = person(dt.date(1979, 3, 10), health=2, occupation="farming")
    spouse = person(dt.date(1981, 11, 2), relation="spouse", health=4, occupation="flexible")
    son = person(dt.date(2007, 9, 1), relation="child", student_level="senior", tuition=450000)
    records = [
        record(
            "social_insurance",
            spouse,
            record_type="medical_settlement",
            amount=3000000,
            reimbursed=1800000,
            scheme="none",
        ),
        record("bank", head, balance=800000, interest=12000),
    ]
    result, members, findings = assess_case(engine, [head, spouse, son], records=records)

    assert [m["labour_coefficient"] for m in members] == [700, 300, 0]
    assert [m["employment"] for m in members] == [890400, 475200, 0]
    assert [m["employment_basis"] for m in members] == ["imputed_land", "imputed_work", "none"]
    assert result["gross_income"] == 1377600
    assert (result["medical"], result["education"], result["pension"]) == (1200000, 300000, 0)
    assert result["net_income"] == 0 and result["pci"] == 0 and result["standard"] == 57000
    assert result["vetoes"] == [] and result["financial_assets"] == 800000
    assert result["status"] == "DIBAO" and result["benefit"] == 171000
    assert result["circle"] == 1 and result["transition"] == "NEW"
    assert result["difficulty_index"] == 710
    assert result["provisional"] is False
    # §11: medical > 0, a student, no home owned; nobody work-capable (c ≥ 500 and out of
    # work): the spouse (flexible) has c = 300 and the head farms.
    assert result["eligible_programs"] == [
        "education_assistance",
        "housing_assistance",
        "medical_assistance",
    ]
    assert sorted(f["detail"] for f in findings) == sorted(result["eligible_programs"])
