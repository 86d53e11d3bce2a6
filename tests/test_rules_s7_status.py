"""RULES.md §7: status order, benefit, add-ons, phase-out, 单人保, circles, transitions."""

import datetime as dt

import pytest
from builders import assess_case, pack, person, record, supporter

from meanstest.schema import SECTORS

ELDER = dt.date(1949, 1, 1)  # 75: c = 0, elderly_70 add-on


def _worker(engine, wage, members=(), **kw):
    """A healthy 34-year-old earning `wage` a year, plus `members`."""
    w = person(dt.date(1990, 1, 1), occupation="employed")
    result, _, _ = assess_case(
        engine, [w, *members], records=[record("tax_income", w, amount=wage)], **kw
    )
    return result


def test_tekun(engine):  # §7.2 benefit = yuan(rhu(S × tekun_ratio) × n)
    result, _, _ = assess_case(engine, [person(ELDER)])
    assert (result["status"], result["benefit"], result["circle"]) == ("TEKUN", 74100, 1)
    assert result["transition"] == "NEW"


def test_tekun_needs_no_liable_supporter(engine):  # §7.2 → DIBAO with the elderly add-on
    s = supporter(dt.date(1975, 1, 1))  # 49, no income: imputed 1,425,600 × 80‰ = 114,048
    result, _, _ = assess_case(engine, [person(ELDER)], supporters=[s])
    assert result["gross_income"] == 114048 and result["pci"] == 9504
    assert (result["status"], result["benefit"]) == ("DIBAO", 53200)  # yuan(47,496 + 5,700)
    exempt = supporter(dt.date(1975, 1, 1), exempt_reason="imprisoned")
    assert assess_case(engine, [person(ELDER)], supporters=[exempt])[0]["status"] == "TEKUN"


def test_tekun_children_and_severely_ill_count_as_no_labour(engine):  # §7.2
    members = [person(dt.date(2015, 1, 1)), person(dt.date(1980, 1, 1), health=6)]
    result, _, _ = assess_case(engine, members)
    assert result["status"] == "TEKUN" and result["benefit"] == 148200


def test_dibao_largest_addon_per_member(engine):  # §7.3 分类施保
    child = person(dt.date(2015, 1, 1), health=6)  # child 100‰ vs severe disability 300‰
    result = _worker(engine, 600000, [child])  # pci 25,000
    assert result["status"] == "DIBAO"
    assert result["benefit"] == (57000 - 25000) * 2 + 17100


def test_tekun_from_the_sixtieth_birthday(engine):  # §7.2 age ≥ 60, on D's date
    """A member with c = 0 (a full-time college student) and no other reason: TEKUN from
    the day they turn 60 (D = 2024-07-01), DIBAO the day before."""
    sixty = person(dt.date(1964, 7, 1), student_level="college")
    assert assess_case(engine, [sixty])[0]["status"] == "TEKUN"
    fifty_nine = person(dt.date(1964, 7, 2), student_level="college")
    result = assess_case(engine, [fifty_nine])[0]
    assert (result["status"], result["benefit"]) == ("DIBAO", 57000)


def test_tekun_under_16_means_before_the_sixteenth_birthday(engine):  # §7.2 age < 16
    """A senior-school student has c = 0 (§2) at any age: TEKUN the day before they turn
    16 (D = 2024-07-01), not on the birthday itself (a mutation sweep found `age <= 16`
    passed every test)."""
    fifteen = person(dt.date(2008, 7, 2), student_level="senior")
    result = assess_case(engine, [fifteen])[0]
    assert (result["status"], result["benefit"]) == ("TEKUN", 74100)
    sixteen = person(dt.date(2008, 7, 1), student_level="senior")
    result = assess_case(engine, [sixteen])[0]
    assert (result["status"], result["benefit"]) == ("DIBAO", 57000)


def test_elderly_addon_from_the_seventieth_birthday(engine):  # §7.3 elderly_70: age ≥ 70
    seventy = person(dt.date(1954, 7, 1))  # 70 on D: + rhu(57,000 × 100‰) = 5,700
    assert _worker(engine, 600000, [seventy])["benefit"] == (57000 - 25000) * 2 + 5700
    sixty_nine = person(dt.date(1954, 7, 2))
    assert _worker(engine, 600000, [sixty_nine])["benefit"] == (57000 - 25000) * 2


def test_dibao_at_the_standard_is_not_dibao(engine):  # §7.3 pci < S strictly
    assert _worker(engine, 683988)["status"] == "DIBAO"  # pci 56,999
    result = _worker(engine, 684000)  # pci = S
    assert (result["status"], result["circle"]) == ("LOW_INCOME", 2)


def test_phase_out(engine):  # §7.4 渐退期
    result = _worker(engine, 800000, prev_status="dibao", prev_benefit=50050)
    assert (result["status"], result["benefit"], result["phaseout_months"]) == (
        "PHASE_OUT",
        50100,
        6,
    )
    assert (result["transition"], result["circle"]) == ("PHASE_OUT", 2)


@pytest.mark.parametrize(("prev_benefit", "benefit"), [(1, 0), (49, 0), (50, 100), (149, 100)])
def test_phase_out_pays_last_years_benefit_in_whole_yuan(engine, prev_benefit, benefit):
    # §7.4: benefit = yuan(prev_benefit), even where that is 0 (decisions.md, item 16)
    result = _worker(engine, 800000, prev_status="dibao", prev_benefit=prev_benefit)
    assert (result["status"], result["benefit"], result["phaseout_months"]) == (
        "PHASE_OUT",
        benefit,
        6,
    )


def test_phase_out_never_twice(engine):  # §7: prev phase_out is treated like low_income
    result = _worker(engine, 800000, prev_status="phase_out", prev_benefit=50000)
    assert (result["status"], result["benefit"], result["transition"]) == ("LOW_INCOME", 0, "EXIT")
    assert result["phaseout_months"] == 0


def test_dibao_single_for_seriously_ill_member(engine):  # §7.4 单人保
    ill = person(dt.date(1974, 1, 1), health=5)
    result = _worker(engine, 1600000, [ill])  # pci 66,667: between S and L
    assert (result["status"], result["benefit"], result["transition"]) == (
        "DIBAO_SINGLE",
        57000,
        "NEW",
    )


def test_low_income_up_to_l(engine):  # §7.4 pci ≤ L = 85,500
    assert _worker(engine, 1026000)["status"] == "LOW_INCOME"  # pci = L
    result = _worker(engine, 1026012)  # pci 85,501
    assert (result["status"], result["circle"], result["transition"]) == ("NOT_ELIGIBLE", 3, "NONE")


@pytest.mark.parametrize("wage,circle", [(1539000, 3), (1539012, 4), (2052000, 4), (2052012, 0)])
def test_circles_3_and_4(engine, wage, circle):  # §7 circle bounds 128,250 / 171,000
    assert _worker(engine, wage)["circle"] == circle


# S = 57,033 fen makes every ‰ product of the standard end in an exact half: 1.5 × S =
# 85,549.5 and 0.5 × S = 28,516.5. rhu takes them up; rounding down instead moves a
# benefit by a whole yuan (yuan(85,550) = 85,600, yuan(85,549) = 85,500) or a household
# across a bound.
ODD_S = 57033


def test_tekun_standard_rounds_half_up(engine):  # §7.2 yuan(rhu(S × tekun_ratio, 1000) × n)
    policy = pack(standards__dibao_rural=ODD_S, standards__tekun_ratio=1500)
    result, _, _ = assess_case(engine, [person(ELDER)], policy=policy)
    assert (result["status"], result["benefit"]) == ("TEKUN", 85600)  # yuan(85,550)


def test_addon_rounds_half_up(engine):  # §7.3 Σ rhu(S × addon(p), 1000)
    """A child with a liable supporter (so not TEKUN) who owes nothing (sector ratios 0):
    pci 0, DIBAO = yuan((S − 0) × 1 + rhu(57,033 × 500, 1000)) = yuan(57,033 + 28,517)."""
    policy = pack(
        standards__dibao_rural=ODD_S,
        addons__child_under_16=500,
        support__sector_ratio=dict.fromkeys(SECTORS, 0),
    )
    child = person(dt.date(2015, 1, 1), relation="child")
    result, _, _ = assess_case(
        engine, [child], supporters=[supporter(dt.date(1980, 1, 1))], policy=policy
    )
    assert (result["status"], result["pci"], result["benefit"]) == ("DIBAO", 0, 85600)


@pytest.mark.parametrize(
    "changes,pci,status,circle",
    [
        # L = rhu(57,033 × 1500, 1000) = 85,549.5 → 85,550: pci 85,550 ≤ L
        ({}, 85550, "LOW_INCOME", 2),
        ({}, 85551, "NOT_ELIGIBLE", 3),
        # circle 3 bound rhu(L 85,550 × 1010, 1000) = 86,405.5 → 86,406
        ({"circles__circle3_ratio": 1010}, 86406, "NOT_ELIGIBLE", 3),
        ({"circles__circle3_ratio": 1010}, 86407, "NOT_ELIGIBLE", 4),
        # circle 4 bound rhu(L 85,550 × 1030, 1000) = 88,116.5 → 88,117 (circle 3 up to L)
        (
            {"circles__circle3_ratio": 1000, "circles__circle4_ratio": 1030},
            88117,
            "NOT_ELIGIBLE",
            4,
        ),
        (
            {"circles__circle3_ratio": 1000, "circles__circle4_ratio": 1030},
            88118,
            "NOT_ELIGIBLE",
            0,
        ),
    ],
)
def test_low_income_and_circle_bounds_round_half_up(engine, changes, pci, status, circle):
    """§5 L = rhu(S × low_income_ratio, 1000), §7 circles rhu(L × circle_ratio, 1000): a
    worker earning 12 × pci a year has exactly that pci (n = 1, nothing deducted)."""
    policy = pack(standards__dibao_rural=ODD_S, **changes)
    result = _worker(engine, 12 * pci, policy=policy)
    assert (result["pci"], result["status"], result["circle"]) == (pci, status, circle)


def test_urban_standard(engine):  # §5 S by area
    result = _worker(engine, 0, area="urban")
    assert result["standard"] == 78000


def test_vetoed_household(engine):  # §7.1 VETOED: benefit 0, circle 0, EXIT from dibao
    result, _, _ = assess_case(
        engine, [person(ELDER)], consent_signed=False, prev_status="dibao", prev_benefit=74100
    )
    assert (result["status"], result["benefit"], result["circle"], result["transition"]) == (
        "VETOED",
        0,
        0,
        "EXIT",
    )


@pytest.mark.parametrize(
    "prev,prev_benefit,transition",
    [
        ("none", 0, "NEW"),
        ("low_income", 0, "NEW"),
        ("phase_out", 3000, "NEW"),
        ("dibao", 74100, "CONTINUE"),
        ("tekun", 74100, "CONTINUE"),
        ("tekun", 70000, "ADJUST"),
    ],
)
def test_transitions_of_enrolled(engine, prev, prev_benefit, transition):  # §7 transition
    result, _, _ = assess_case(engine, [person(ELDER)], prev_status=prev, prev_benefit=prev_benefit)
    assert result["transition"] == transition


def test_tekun_ratio_parameter(engine):  # POLICY.md standards.tekun_ratio
    result, _, _ = assess_case(engine, [person(ELDER)], policy=pack(standards__tekun_ratio=1000))
    assert result["benefit"] == 57000


def test_tekun_needs_pci_below_the_standard(engine):  # §7.2 … and pci < S
    """An elder alone (c = 0, age ≥ 60, no supporter) meets every other TEKUN condition;
    a pension makes pci = rhu(pension, 12). At pci = S it is not TEKUN (nor DIBAO):
    pci 57,000 ≤ L 85,500 with no prior dibao and no member of health 5 or 6 →
    LOW_INCOME. One month's fen less makes pci 56,999 < S → TEKUN."""

    def with_pension(amount):
        elder = person(ELDER)
        pension = record(
            "social_insurance", elder, record_type="pension_benefit", amount=amount, scheme="none"
        )
        return assess_case(engine, [elder], records=[pension])[0]

    at_s = with_pension(57000 * 12)  # 684,000 a year: pci = rhu(684,000, 12) = 57,000
    assert at_s["pci"] == 57000
    assert (at_s["status"], at_s["benefit"], at_s["circle"]) == ("LOW_INCOME", 0, 2)
    below = with_pension(57000 * 12 - 12)  # 683,988: pci 56,999
    assert below["pci"] == 56999
    assert (below["status"], below["benefit"]) == ("TEKUN", 74100)  # yuan(74,100 × 1)


@pytest.mark.parametrize("health", [5, 6])
def test_tekun_counts_a_seriously_ill_or_severely_disabled_adult(engine, health):  # §7.2
    """A 40-year-old (16–59) alone with health 5 (重病) or 6 (重度残疾): c = 0 (§2 table),
    and health ∈ {5, 6} makes the member count as without labour → TEKUN, benefit
    yuan(rhu(57,000 × 1300, 1000) × 1) = 74,100 (not DIBAO, whose benefit would be the
    same 57,000 + 17,100 add-on)."""
    adult = person(dt.date(1984, 1, 1), health=health)
    result, members, _ = assess_case(engine, [adult])
    assert members[0]["labour_coefficient"] == 0 and result["pci"] == 0
    assert (result["status"], result["benefit"], result["circle"]) == ("TEKUN", 74100, 1)
