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


def test_a_run_with_a_wide_pack_assesses_every_household_as_the_oracle_does():
    """`assess` (the review's and the service's bulk path) on a synthetic district whose
    pack defines 70 programs, more than the kernels hold: both engines give what the
    oracle (tests/oracle.py, an independent reading of RULES.md) gives. Compared with the
    reference calculator only, this compared the reference with itself."""
    from test_oracle import check_bundle

    from meanstest import assess, synth
    from meanstest.policy import PolicyLibrary

    wide = _with_programs(
        {n: {"statuses": ["DIBAO", "NOT_ELIGIBLE", "VETOED"], "requires": "any"} for n in WIDE}
    )
    library = PolicyLibrary([wide])
    tables = synth.generate(60, seed=3, bad_fraction=0.05)
    check_bundle(tables, library)
    eligible = assess(tables, library).results["eligible_programs"].to_pylist()
    assert max(len(e) for e in eligible) == 70
