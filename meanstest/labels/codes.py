"""Names of the codes the engine writes (RULES.md §6–§11): sections, statuses, circles,
transitions, vetoes and their rules, findings, severities, sources, programs."""

from __future__ import annotations

from meanstest.kernels.registry import VETOES

Name = tuple[str, str]  # (zh, en)

# RULES.md sections ----------------------------------------------------------------------

SECTION: dict[str, Name] = {
    "§0": ("算术与日期", "Arithmetic"),
    "§1": ("家庭成员", "Who is counted"),
    "§2": ("劳动力系数", "Labour coefficient"),
    "§3": ("成员收入", "Income of a member"),
    "§4": ("赡养（抚养、扶养）费", "Support from supporters"),
    "§5": (
        "家庭收入、刚性支出与家庭人均月收入",
        "Household income, rigid expenses, per-capita income",
    ),
    "§6": ("一票否决", "One-vote veto"),
    "§7": ("认定结果、救助金、信息圈与动态管理", "Status, benefit, circle, transition"),
    "§8": ("核对疑点", "Verification findings"),
    "§9": ("家庭困难指数", "Difficulty index"),
    "§11": ("救助项目", "Program routing"),
}

# Results --------------------------------------------------------------------------------

STATUS: dict[str, Name] = {
    "VETOED": ("一票否决（不予认定）", "vetoed (excluded by a veto rule)"),
    "TEKUN": ("特困供养", "extreme-poverty support (tekun)"),
    "DIBAO": ("低保（补差）", "minimum living allowance (dibao)"),
    "PHASE_OUT": ("渐退期", "phase-out"),
    "DIBAO_SINGLE": ("单人保", "single-person dibao"),
    "LOW_INCOME": ("低收入家庭", "low-income household"),
    "NOT_ELIGIBLE": ("不符合条件", "not eligible"),
}
TRANSITION: dict[str, Name] = {
    "NEW": ("新增纳入", "newly enrolled"),
    "CONTINUE": ("继续享受（待遇不变）", "continues (same benefit)"),
    "ADJUST": ("调整待遇", "benefit adjusted"),
    "PHASE_OUT": ("进入渐退期", "enters phase-out"),
    "EXIT": ("退出", "exits"),
    "NONE": ("无进退变化", "no enrolment change"),
}
CIRCLE: dict[int, Name] = {
    0: ("圈外", "outside the circles"),
    1: ("一级信息圈（特困、低保）", "circle 1 (tekun, dibao)"),
    2: ("二级信息圈（低收入）", "circle 2 (low income)"),
    3: ("三级信息圈（高于低收入标准，第一档）", "circle 3 (above low income, first band)"),
    4: ("四级信息圈（高于低收入标准，第二档）", "circle 4 (above low income, second band)"),
}
# What each status, circle and transition means (RULES.md §7), for legends.
STATUS_RULE: dict[str, Name] = {
    "VETOED": ("触发任一一票否决规则，不予认定，不发放救助金", "a veto rule applies: no benefit"),
    "TEKUN": (
        (
            "全体成员无劳动能力且年老、年幼或重病重残，无义务人或义务人均不核定赡养费，"
            "家庭人均月收入低于低保标准"
        ),
        "no member can work (old, young, seriously ill or disabled), no supporter or every "
        + "supporter exempt, income below the standard",
    ),
    "DIBAO": (
        "家庭人均月收入低于低保标准，按差额补助并分类施保",
        "income below the standard: top-up",
    ),
    "PHASE_OUT": (
        "原低保家庭收入不低于低保标准、不高于低收入标准，按原待遇渐退",
        (
            "former dibao household now at or above the standard and at most the low-income "
            "standard: benefit phased out"
        ),
    ),
    "DIBAO_SINGLE": (
        "收入不高于低收入标准，重病、重度残疾成员单独纳入低保",
        "at most the low-income standard; seriously ill or disabled members covered alone",
    ),
    "LOW_INCOME": (
        "家庭人均月收入不高于低收入标准，不发放低保金",
        "at most the low-income standard",
    ),
    "NOT_ELIGIBLE": ("家庭人均月收入高于低收入标准", "income above the low-income standard"),
}
CIRCLE_RULE: dict[int, Name] = {
    0: ("收入高于四级信息圈上限，或一票否决", "above circle 4, or vetoed"),
    1: ("特困，或家庭人均月收入低于低保标准", "tekun, or income below the standard"),
    2: ("家庭人均月收入不高于低收入标准", "income at most the low-income standard"),
    3: ("不高于低收入标准 × 三级信息圈倍数", "at most the low-income standard × circle 3 ratio"),
    4: ("不高于低收入标准 × 四级信息圈倍数", "at most the low-income standard × circle 4 ratio"),
}
TRANSITION_RULE: dict[str, Name] = {
    "NEW": (
        "本期纳入特困、低保或单人保，上期未纳入；由复核重新核算发现的即主动发现",
        "enrolled now, not before; found by the review's recomputation: proactive discovery",
    ),
    "CONTINUE": ("上期、本期均纳入，待遇不变", "enrolled before and now, same benefit"),
    "ADJUST": ("上期、本期均纳入，待遇变化", "enrolled before and now, benefit changed"),
    "PHASE_OUT": ("本期进入渐退期", "enters phase-out"),
    "EXIT": ("上期纳入或渐退，本期不再纳入", "enrolled or phasing out before, not now"),
    "NONE": (
        "上期、本期均未纳入（低收入、不符合条件等之间的变化也在此）",
        "not enrolled before or now (moves between low income, not eligible and so on too)",
    ),
}
PREV_STATUS: dict[str, Name] = {
    "none": ("无", "none"),
    "dibao": ("低保", "dibao"),
    "tekun": ("特困", "tekun"),
    "low_income": ("低收入", "low income"),
    "phase_out": ("渐退期", "phase-out"),
}
EMPLOYMENT_BASIS: dict[str, Name] = {
    "verified": ("核实工资薪金、劳务报酬", "verified wages"),
    "imputed_work": ("推算务工收入", "imputed work income"),
    "imputed_land": ("推算土地经营收入", "imputed land income"),
    "none": ("不推算（劳动力系数为 0）", "none"),
}

# Vetoes: the name says the rule; VETO_RULE is the rule with its parameters -------------
# Both come from the veto registry (kernels/registry.py); {name} in a rule is the pack's
# parameter, in its unit.

VETO: dict[str, Name] = {v.code: (v.zh, v.en) for v in VETOES}
VETO_RULE: dict[str, Name] = {v.code: (v.rule_zh, v.rule_en) for v in VETOES}

FINDING: dict[str, Name] = {
    "UNDECLARED_INCOME": ("未如实申报收入", "undeclared income"),
    "UNDECLARED_VEHICLE": ("未如实申报车辆", "undeclared vehicle"),
    "UNDECLARED_PROPERTY": ("未如实申报房产", "undeclared property"),
    "UNDECLARED_ASSETS": ("未如实申报金融资产", "undeclared financial assets"),
    "SOURCE_NOT_CHECKED": ("部门未核对（结果为暂定结果）", "source not checked (provisional)"),
    "DUPLICATE_PERSON": ("同一人登记在多户", "person in several households"),
    "PROGRAM_MISSED": ("漏救：符合条件尚未享受", "missed: eligible, not received"),
    "PROGRAM_UNDUE": ("错救：已享受但不符合条件", "undue: received, not eligible"),
}
# What each finding means (RULES.md §8, §11), for legends.
FINDING_RULE: dict[str, Name] = {
    "UNDECLARED_INCOME": (
        "申报了月收入，核实的家庭月收入（不含推算部分）超过申报额加容差",
        "verified monthly income (nothing imputed) above the declared plus the tolerance",
    ),
    "UNDECLARED_VEHICLE": (
        "申报了车辆数，核实拥有的车辆（各类车辆）多于申报数",
        "vehicles declared, and more are owned (any type)",
    ),
    "UNDECLARED_PROPERTY": (
        "申报了房产数，核实拥有的房产（各类用途）多于申报数",
        "properties declared, and more are owned (any use)",
    ),
    "UNDECLARED_ASSETS": (
        "申报了金融资产，核实的金融资产超过申报额加容差",
        "financial assets declared, and the verified ones are above them plus the tolerance",
    ),
    "SOURCE_NOT_CHECKED": (
        "该部门未对全部成员和义务人完成查询，认定结果为暂定结果",
        "not queried for every member and supporter: the result is provisional",
    ),
    "DUPLICATE_PERSON": (
        "同一身份证号登记为两户以上的家庭成员",
        "the same ID is a member of more than one household",
    ),
    "PROGRAM_MISSED": (
        "符合该救助项目条件但尚未享受",
        "qualifies for the program and does not receive it",
    ),
    "PROGRAM_UNDUE": (
        "已享受该救助项目但不符合条件",
        "receives the program and does not qualify for it",
    ),
}
# The categories of 分类施保 (RULES.md §7.3), by their add-on's key in the pack.
ADDON: dict[str, Name] = {
    "elderly_70": ("70 周岁以上老年人", "aged 70 or more"),
    "severe_disability": ("重度残疾", "severe disability"),
    "serious_illness": ("重病", "serious illness"),
    "child_under_16": ("未满 16 周岁", "under 16"),
}
SEVERITY: dict[str, Name] = {"veto": ("否决", "veto"), "warning": ("提示", "warning")}

# Where evidence comes from: canonical tables and departments ----------------------------

TABLE: dict[str, Name] = {
    "households": ("家庭", "household"),
    "persons": ("家庭成员", "members"),
    "supporters": ("赡养（抚养、扶养）义务人", "supporters"),
    "tax_income": ("税务收入", "tax income"),
    "business_registration": ("市场主体登记", "business registration"),
    "bank": ("银行存款及金融资产", "bank and financial assets"),
    "vehicle": ("车辆登记", "vehicles"),
    "property": ("不动产登记", "property"),
    "social_insurance": ("社会保险", "social insurance"),
}
DEPARTMENT: dict[str, Name] = {
    "tax": ("税务", "tax"),
    "bank": ("银行", "banks"),
    "vehicle": ("公安交管（车辆登记）", "vehicle registry"),
    "housing": ("住建/不动产登记", "housing registry"),  # no 、: lists join with it
    "social_insurance": ("人社/医保（社会保险）", "social insurance"),
}

PROGRAM: dict[str, Name] = {  # the default packs' programs; other names show as written
    "medical_assistance": ("医疗救助", "medical assistance"),
    "education_assistance": ("教育救助", "education assistance"),
    "housing_assistance": ("住房救助", "housing assistance"),
    "employment_assistance": ("就业救助", "employment assistance"),
    "disability_subsidy": ("困难残疾人生活补贴", "disability living subsidy"),
    "elderly_subsidy": ("经济困难老年人补贴", "subsidy for elderly people in hardship"),
}
PROGRAM_REQUIRES: dict[str, Name] = {
    "any": ("无附加条件", "no further condition"),
    "student": ("有在校学生", "a member in school"),
    "medical": ("有医疗支出或患病成员", "medical expenses or an ill member"),
    "no_home": ("无自有住房", "no home of its own"),
    "work_capable": ("有劳动能力且未稳定就业", "a member able to work, not in steady work"),
    "disability": ("有残疾成员", "a member with a disability"),
    "elderly": ("有 60 岁以上成员", "a member aged 60 or more"),
}
