"""RULES.md §11: program routing — eligible programs, PROGRAM_MISSED (漏救), PROGRAM_UNDUE (错救)."""

import datetime as dt

import pytest
from builders import assess_case, pack, person, record

ELDER = dt.date(1950, 1, 1)  # TEKUN alone


def _route(engine, members, records=(), policy=None, **kw):
    result, _, findings = assess_case(engine, members, records=records, policy=policy, **kw)
    routing = [(f["code"], f["detail"]) for f in findings if f["code"].startswith("PROGRAM")]
    return result["eligible_programs"], routing


def test_requirements(engine):
    # TEKUN elder (74), healthy, no home: housing only (elderly_subsidy excludes TEKUN).
    assert _route(engine, [person(ELDER)])[0] == ["housing_assistance"]
    # health 2 → medical; health 3 → disability; a home owned → no housing.
    m = person(ELDER, health=3)
    eligible, _ = _route(engine, [m, person(ELDER, health=2)], [record("property", m)])
    assert eligible == ["disability_subsidy", "medical_assistance"]


def test_elderly(engine):  # §11 elderly: a member aged ≥ 60, DIBAO (not TEKUN) here
    from builders import supporter

    result, _, _ = assess_case(engine, [person(ELDER)], supporters=[supporter(dt.date(1975, 1, 1))])
    assert result["status"] == "DIBAO" and "elderly_subsidy" in result["eligible_programs"]


def test_elderly_from_the_sixtieth_birthday(engine):  # §11 elderly: age ≥ 60 at D
    """A DIBAO household (a worker's 600,000 fen a year, pci 25,000) with a seriously ill
    member: elderly_subsidy from the day that member turns 60, not the day before."""
    w = person(dt.date(1990, 1, 1), occupation="employed")
    wage = [record("tax_income", w, amount=600000)]
    for birth, eligible in ((dt.date(1964, 7, 1), True), (dt.date(1964, 7, 2), False)):
        result, _, _ = assess_case(engine, [w, person(birth, health=5)], records=wage)
        assert result["status"] == "DIBAO"
        assert ("elderly_subsidy" in result["eligible_programs"]) is eligible, birth


def test_work_capable_and_student(engine):  # §11 work_capable, student
    out_of_work = person(dt.date(1990, 1, 1), occupation="unemployed")  # c 1000, imputed
    pupil = person(dt.date(2014, 1, 1), student_level="primary")
    eligible, _ = _route(engine, [out_of_work, pupil], area="urban")  # pci 66,000 < 78,000
    assert eligible == ["education_assistance", "employment_assistance", "housing_assistance"]
    preschool = person(dt.date(2020, 1, 1), student_level="preschool")
    assert "education_assistance" not in _route(engine, [person(ELDER), preschool])[0]


def test_missed_and_undue_findings(engine):  # §11 漏救 / 错救, one per program
    eligible, routing = _route(
        engine, [person(ELDER)], current_programs=["elderly_subsidy", "elderly_subsidy"]
    )
    assert eligible == ["housing_assistance"]
    assert routing == [
        ("PROGRAM_MISSED", "housing_assistance"),
        ("PROGRAM_UNDUE", "elderly_subsidy"),
    ]


def test_vetoed_households_qualify_for_nothing(engine):  # §11 not vetoed
    eligible, routing = _route(
        engine, [person(ELDER)], consent_signed=False, current_programs=["housing_assistance"]
    )
    assert eligible == [] and routing == [("PROGRAM_UNDUE", "housing_assistance")]


@pytest.mark.parametrize(
    "programs", [{}, {"housing_assistance": {"statuses": [], "requires": "any"}}]
)
def test_pack_without_programs_or_empty_statuses(engine, programs):  # §11
    eligible, routing = _route(engine, [person(ELDER)], policy=_with_programs(programs))
    assert eligible == [] and routing == []


def test_requires_any(engine):
    policy = _with_programs({"cash": {"statuses": ["NOT_ELIGIBLE"], "requires": "any"}})
    w = person(dt.date(1990, 1, 1), occupation="employed")
    eligible, _ = _route(engine, [w], [record("tax_income", w, amount=9000000)], policy=policy)
    assert eligible == ["cash"]


def _with_programs(programs):
    p = pack()
    p.params["programs"] = programs
    return p


# 70 programs: POLICY.md sets no limit; the kernels hold 62 (kernels.layout.MAX_PROGRAMS)
WIDE = [f"p{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(70)]


def test_a_pack_of_more_programs_than_the_kernels_hold(engine):  # §11, any number
    policy = _with_programs({n: {"statuses": ["TEKUN"], "requires": "any"} for n in WIDE})
    eligible, routing = _route(engine, [person(ELDER)], policy=policy, current_programs=[WIDE[5]])
    assert eligible == WIDE
    assert routing == [("PROGRAM_MISSED", n) for n in WIDE if n != WIDE[5]]


@pytest.mark.parametrize(
    ("reimbursed", "medical"),
    [
        (0, True),  # deduction max(0, 10,000 − 0) = 10,000 > 0
        (10000, False),  # fully reimbursed: deduction 0
    ],
)
def test_medical_by_the_medical_deduction_alone(engine, reimbursed, medical):  # §11 medical
    """A healthy TEKUN elder (health 1: no member with health 2, 4 or 5) qualifies for
    medical_assistance through a medical deduction > 0 alone (§5: Σ max(0, amount −
    reimbursed), capped)."""
    m = person(ELDER)
    bill = record(
        "social_insurance", m, record_type="medical_settlement", amount=10000, reimbursed=reimbursed
    )
    eligible, _ = _route(engine, [m], [bill])
    assert eligible == ["housing_assistance"] + (["medical_assistance"] if medical else [])


@pytest.mark.parametrize(
    ("kw", "enabled"),
    [
        ({"acquired_on": dt.date(2024, 7, 2)}, None),  # residential, acquired after D
        ({"disposed_on": dt.date(2020, 1, 1)}, None),  # residential, sold before D
        # owned, but commercial (V03 disabled, else the household is vetoed and
        # qualifies for nothing)
        ({"use": "commercial"}, [f"V{i:02d}" for i in range(1, 15) if i != 3]),
    ],
)
def test_no_home_looks_at_owned_residential_properties_only(engine, kw, enabled):  # §11
    """no_home: no owned residential property. A TEKUN elder whose only property is not
    owned at D, or is owned but not residential, still qualifies for housing_assistance."""
    m = person(ELDER)
    policy = pack(veto__enabled=enabled) if enabled else None
    result, _, _ = assess_case(engine, [m], records=[record("property", m, **kw)], policy=policy)
    assert result["status"] == "TEKUN"
    assert result["eligible_programs"] == ["housing_assistance"]


@pytest.mark.parametrize(
    ("health", "coefficient", "status", "eligible"),
    [
        # c = 500 = refused_work_min_coefficient: imputed rhu(500 × 198,000 × 8, 1000) =
        # 792,000, pci 66,000 ∈ [S 57,000, L 85,500] → LOW_INCOME, work_capable
        (1, 500, "LOW_INCOME", ["employment_assistance", "housing_assistance"]),
        # c = 300 < 500: imputed 475,200, pci 39,600 < S → DIBAO, not work_capable
        # (health 2 qualifies for medical)
        (2, 300, "DIBAO", ["housing_assistance", "medical_assistance"]),
    ],
)
def test_work_capable_from_the_minimum_coefficient(
    engine, health, coefficient, status, eligible
):  # §11 work_capable: c ≥ refused_work_min_coefficient
    """An unemployed 58-year-old alone (band 56–60): health 1 gives c = 500, exactly the
    pack's refused_work_min_coefficient, and qualifies; health 2 gives 300 and does not."""
    m = person(dt.date(1966, 1, 1), health=health, occupation="unemployed")
    result, members, _ = assess_case(engine, [m])
    assert members[0]["labour_coefficient"] == coefficient
    assert (result["status"], result["eligible_programs"]) == (status, eligible)
