"""Human names (中文 / English) of every code the engine writes, and how amounts read.

One place, keyed by code, for what people see: statuses, transitions, circles, vetoes
(named after the RULES.md §6 rule each one implements), findings, severities, sources,
enumeration values, columns, policy parameters and reject rules. The explain document,
the review report and the CLI take their words from here; machine outputs (Parquet,
JSON, summary.json) keep the codes and integer fen.

Amounts are formatted from integer fen with integer arithmetic only (no float):
`yuan(182400) == "1,824.00"`, `money(182400, "zh") == "1,824.00 元"`.
"""

from __future__ import annotations

import re

from meanstest.amounts import money, ratio, value

Name = tuple[str, str]  # (zh, en)
LANGS = ("zh", "en")

# RULES.md sections ----------------------------------------------------------------------

SECTION: dict[str, Name] = {
    "§0": ("算术与日期", "Arithmetic"),
    "§1": ("家庭成员", "Who is counted"),
    "§2": ("劳动力系数", "Labour coefficient"),
    "§3": ("成员收入", "Income of a member"),
    "§4": ("赡养(抚养、扶养)费", "Support from supporters"),
    "§5": ("家庭收入、刚性支出与月人均收入", "Household income, rigid expenses, per-capita income"),
    "§6": ("一票否决", "One-vote veto"),
    "§7": ("认定结果、救助金、信息圈与动态管理", "Status, benefit, circle, transition"),
    "§8": ("核对疑点", "Verification findings"),
    "§9": ("家庭困难指数", "Difficulty index"),
    "§11": ("救助项目", "Program routing"),
}

# Results --------------------------------------------------------------------------------

STATUS: dict[str, Name] = {
    "VETOED": ("一票否决(不予认定)", "vetoed (excluded by a veto rule)"),
    "TEKUN": ("特困供养", "extreme-poverty support (tekun)"),
    "DIBAO": ("低保(补差)", "minimum living allowance (dibao)"),
    "PHASE_OUT": ("渐退期", "phase-out"),
    "DIBAO_SINGLE": ("单人保", "single-person dibao"),
    "LOW_INCOME": ("低收入家庭", "low-income household"),
    "NOT_ELIGIBLE": ("不符合条件", "not eligible"),
}
TRANSITION: dict[str, Name] = {
    "NEW": ("新纳入", "newly enrolled"),
    "CONTINUE": ("继续享受(待遇不变)", "continues (same benefit)"),
    "ADJUST": ("调整待遇", "benefit adjusted"),
    "PHASE_OUT": ("进入渐退期", "enters phase-out"),
    "EXIT": ("退出", "exits"),
    "NONE": ("无变化", "no change"),
}
CIRCLE: dict[int, Name] = {
    0: ("圈外", "outside the circles"),
    1: ("第一圈(特困、低保)", "circle 1 (tekun, dibao)"),
    2: ("第二圈(低收入)", "circle 2 (low income)"),
    3: ("第三圈(低收入边缘)", "circle 3 (near low income)"),
    4: ("第四圈(相对困难)", "circle 4 (relative hardship)"),
}
PREV_STATUS: dict[str, Name] = {
    "none": ("无", "none"),
    "dibao": ("低保", "dibao"),
    "tekun": ("特困", "tekun"),
    "low_income": ("低收入", "low income"),
    "phase_out": ("渐退期", "phase-out"),
}
EMPLOYMENT_BASIS: dict[str, Name] = {
    "verified": ("核实工资", "verified wages"),
    "imputed_work": ("推算务工收入", "imputed work income"),
    "imputed_land": ("推算土地经营收入", "imputed land income"),
    "none": ("不计", "none"),
}

# Vetoes: the name says the rule; VETO_RULE is the rule with its parameters -------------

VETO: dict[str, Name] = {
    "V01": ("车辆超标", "vehicle over the limit"),
    "V02": ("住房超标", "housing over the limit"),
    "V03": ("拥有非住宅房产", "non-residential property"),
    "V04": ("金融资产超标", "financial assets over the limit"),
    "V05": ("经营企业或大额个体经营", "business owner or large self-employment"),
    "V06": ("机关事业单位在职", "public-sector employee"),
    "V07": ("雇佣他人", "employs staff"),
    "V08": ("养老保险缴费档次超标", "pension contribution grade over the limit"),
    "V09": ("近期购房", "recent property purchase"),
    "V10": ("近期转让房产", "recent property transfer"),
    "V11": ("有劳动能力拒不就业", "refused work while able"),
    "V12": ("未签署核对授权", "no consent to verification"),
    "V13": ("隐瞒或虚报家庭经济状况", "false declaration"),
    "V14": ("近期购车", "recent vehicle purchase"),
}
VETO_RULE: dict[str, Name] = {  # {name}: the pack's parameter, in its unit
    "V01": (
        "{vehicle_types}价值超过 {vehicle_value_limit},或此类车辆超过 {max_vehicles} 辆",
        "a {vehicle_types} worth more than {vehicle_value_limit}, or more than {max_vehicles}",
    ),
    "V02": (
        "住宅超过 {max_residential_properties} 套,或住宅面积超过 人均 "
        + "{residential_area_per_capita_limit} × 家庭人数",
        "more than {max_residential_properties} residential properties, or more area than "
        + "{residential_area_per_capita_limit} × members",
    ),
    "V03": ("拥有商业、办公或工业用房", "owns commercial, office or industrial property"),
    "V04": (
        "家庭金融资产 > {financial_asset_months} × 低保标准 × 家庭人数",
        "financial assets > {financial_asset_months} × standard × members",
    ),
    "V05": (
        "企业法定代表人或股东,或个体经营年营业额超过 {business_turnover_limit}",
        "legal representative or shareholder, or self-employed with turnover above "
        + "{business_turnover_limit}",
    ),
    "V06": ("在机关或事业单位就业", "employed by a government body or public institution"),
    "V07": ("经营中雇佣 1 人以上", "a registered business with employees"),
    "V08": (
        "某成员城乡居民养老保险年缴费超过 {insurance_grade_limit}",
        "a member's resident pension contributions above {insurance_grade_limit}",
    ),
    "V09": (
        "核定日前 {recent_purchase_months}内购买房产(已出售的也算)",
        "a property bought within {recent_purchase_months} before the date (even if sold)",
    ),
    "V10": (
        "核定日前 {recent_transfer_months}内转让房产",
        "a property disposed of within {recent_transfer_months} before the date",
    ),
    "V11": (
        "劳动力系数不低于 {refused_work_min_coefficient} 且拒绝工作 {refused_work_min_count} 次以上",
        "labour coefficient at least {refused_work_min_coefficient} and at least "
        + "{refused_work_min_count} job offers refused",
    ),
    "V12": ("未签署家庭经济状况核对授权书", "no signed authorisation for verification"),
    "V13": (
        "有未如实申报的收入、车辆、房产或金融资产(见 §8)",
        "an undeclared income, vehicle, property or asset finding (§8)",
    ),
    "V14": (
        "核定日前 {recent_vehicle_months}内登记{vehicle_types}",
        "a {vehicle_types} registered within {recent_vehicle_months} before the date",
    ),
}

FINDING: dict[str, Name] = {
    "UNDECLARED_INCOME": ("未如实申报收入", "undeclared income"),
    "UNDECLARED_VEHICLE": ("未如实申报车辆", "undeclared vehicle"),
    "UNDECLARED_PROPERTY": ("未如实申报房产", "undeclared property"),
    "UNDECLARED_ASSETS": ("未如实申报金融资产", "undeclared financial assets"),
    "SOURCE_NOT_CHECKED": ("部门未核对(结果为临时结果)", "source not checked (provisional)"),
    "DUPLICATE_PERSON": ("同一人登记在多户", "person in several households"),
    "PROGRAM_MISSED": ("漏救:符合条件尚未享受", "missed: eligible, not received"),
    "PROGRAM_UNDUE": ("错救:已享受但不符合条件", "undue: received, not eligible"),
}
SEVERITY: dict[str, Name] = {"veto": ("否决", "veto"), "warning": ("提示", "warning")}

# Where evidence comes from: canonical tables and departments ----------------------------

TABLE: dict[str, Name] = {
    "households": ("家庭", "household"),
    "persons": ("家庭成员", "members"),
    "supporters": ("赡养(抚养、扶养)义务人", "supporters"),
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
    "vehicle": ("车辆管理", "vehicle registry"),
    "housing": ("住房和不动产", "housing registry"),
    "social_insurance": ("人力资源和社会保障", "social insurance"),
}

# Enumeration values, by column ----------------------------------------------------------

ENUM: dict[str, dict] = {
    "area": {"urban": ("城市", "urban"), "rural": ("农村", "rural")},
    "relation": {
        "head": ("户主", "head"),
        "spouse": ("配偶", "spouse"),
        "child": ("子女", "child"),
        "parent": ("父母", "parent"),
        "grandchild": ("孙子女", "grandchild"),
        "sibling": ("兄弟姐妹", "sibling"),
        "other": ("其他", "other"),
    },
    "health": {
        1: ("健康", "healthy"),
        2: ("一般慢性病", "chronic illness"),
        3: ("轻度残疾", "mild disability"),
        4: ("重大慢性病", "major chronic illness"),
        5: ("重病", "serious illness"),
        6: ("重度残疾", "severe disability"),
    },
    "student_level": {
        "none": ("非在校生", "not a student"),
        "preschool": ("学前", "preschool"),
        "primary": ("小学", "primary"),
        "junior": ("初中", "junior secondary"),
        "senior": ("高中", "senior secondary"),
        "vocational": ("中职", "vocational"),
        "college": ("大学", "college"),
    },
    "occupation": {
        "employed": ("就业", "employed"),
        "flexible": ("灵活就业", "flexible work"),
        "farming": ("务农", "farming"),
        "unemployed": ("失业", "unemployed"),
        "retired": ("退休", "retired"),
        "none": ("无", "none"),
    },
    "employment_sector": {
        "public": ("机关事业单位", "public sector"),
        "enterprise": ("企业", "enterprise"),
        "self_employed": ("个体经营", "self-employed"),
        "flexible": ("灵活就业", "flexible work"),
        "farming": ("务农", "farming"),
        "none": ("无业", "none"),
    },
    "exempt_reason": {
        "none": ("无(应承担)", "none (liable)"),
        "dibao": ("本人为低保对象", "receives dibao"),
        "serious_illness": ("本人患重病", "serious illness"),
        "severe_disability": ("本人重度残疾", "severe disability"),
        "imprisoned": ("服刑", "imprisoned"),
        "student": ("在校学生", "student"),
    },
    "income_type": {
        "wage": ("工资薪金", "wage"),
        "labour": ("劳务报酬", "labour"),
        "business": ("经营所得", "business"),
        "interest": ("利息", "interest"),
        "rental": ("租金", "rental"),
        "other": ("其他所得", "other"),
    },
    "role": {
        "self_employed": ("个体工商户", "self-employed"),
        "legal_rep": ("法定代表人", "legal representative"),
        "shareholder": ("股东", "shareholder"),
    },
    "product": {
        "deposit": ("存款", "deposit"),
        "wealth": ("理财", "wealth product"),
        "securities": ("证券", "securities"),
        "fund": ("基金", "fund"),
        "insurance": ("保险", "insurance"),
    },
    "vehicle_type": {
        "car": ("小汽车", "car"),
        "truck": ("货车", "truck"),
        "motorcycle": ("摩托车", "motorcycle"),
        "agricultural": ("农用车", "agricultural vehicle"),
        "mobility": ("残疾人代步车", "mobility vehicle"),
    },
    "use": {
        "residential": ("住宅", "residential"),
        "commercial": ("商业", "commercial"),
        "office": ("办公", "office"),
        "industrial": ("工业", "industrial"),
        "other": ("其他", "other"),
    },
    "acquisition": {
        "purchase": ("购买", "purchase"),
        "self_built": ("自建", "self-built"),
        "inheritance": ("继承", "inheritance"),
        "resettlement": ("安置", "resettlement"),
        "gift": ("赠与", "gift"),
    },
    "record_type": {
        "pension_benefit": ("养老金", "pension benefit"),
        "unemployment_benefit": ("失业保险金", "unemployment benefit"),
        "injury_benefit": ("工伤保险待遇", "injury benefit"),
        "pension_contribution": ("养老保险缴费", "pension contribution"),
        "medical_settlement": ("医疗费用结算", "medical settlement"),
        "employment": ("参保就业", "employment"),
    },
    "scheme": {
        "employee": ("职工", "employee"),
        "resident": ("城乡居民", "resident"),
        "none": ("无", "none"),
    },
    "employer_type": {
        "government": ("机关", "government"),
        "public_institution": ("事业单位", "public institution"),
        "enterprise": ("企业", "enterprise"),
        "none": ("无", "none"),
    },
    "prev_status": PREV_STATUS,
    "employment_basis": EMPLOYMENT_BASIS,
    "status": STATUS,
    "transition": TRANSITION,
    "circle": CIRCLE,
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

# Columns (tables, reject reasons) -------------------------------------------------------

COLUMN: dict[str, Name] = {
    "household_id": ("户号", "household"),
    "jurisdiction": ("行政区划", "jurisdiction"),
    "area": ("城乡", "area"),
    "property.area": ("面积", "area"),
    "assessment_date": ("核定日期", "assessment date"),
    "consent_signed": ("核对授权", "consent"),
    "checked_tax": ("税务已核对", "tax checked"),
    "checked_bank": ("银行已核对", "bank checked"),
    "checked_vehicle": ("车辆已核对", "vehicles checked"),
    "checked_housing": ("房产已核对", "housing checked"),
    "checked_social_insurance": ("社保已核对", "social insurance checked"),
    "declared_income_monthly": ("申报月收入", "declared monthly income"),
    "declared_vehicles": ("申报车辆数", "declared vehicles"),
    "declared_properties": ("申报房产数", "declared properties"),
    "declared_financial_assets": ("申报金融资产", "declared financial assets"),
    "prev_status": ("上期状态", "previous status"),
    "prev_benefit": ("上期月救助金", "previous monthly benefit"),
    "current_programs": ("已享受救助项目", "current programs"),
    "person_id": ("身份证号", "ID number"),
    "supporter_id": ("义务人身份证号", "supporter ID"),
    "relation": ("与户主关系", "relation"),
    "birth_date": ("出生日期", "birth date"),
    "health": ("健康状况", "health"),
    "student_level": ("在学情况", "schooling"),
    "occupation": ("职业", "occupation"),
    "refused_job_offers": ("拒绝工作次数", "job offers refused"),
    "tuition": ("学费(年)", "tuition (year)"),
    "employment_sector": ("就业领域", "employment sector"),
    "exempt_reason": ("免除义务原因", "exemption"),
    "supported_count": ("被赡养人数", "persons supported"),
    "income_type": ("收入类型", "income type"),
    "amount": ("金额", "amount"),
    "record_id": ("记录号", "record"),
    "role": ("身份", "role"),
    "annual_turnover": ("年营业额", "annual turnover"),
    "employees": ("雇员人数", "employees"),
    "institution": ("机构", "institution"),
    "product": ("产品", "product"),
    "balance": ("余额", "balance"),
    "interest": ("利息", "interest"),
    "plate": ("号牌", "plate"),
    "vehicle_type": ("车辆类型", "vehicle type"),
    "value": ("价值", "value"),
    "registered_on": ("登记日期", "registered on"),
    "property_id": ("不动产编号", "property"),
    "use": ("用途", "use"),
    "share": ("份额", "share"),
    "acquired_on": ("取得日期", "acquired on"),
    "acquisition": ("取得方式", "acquisition"),
    "disposed_on": ("转让日期", "disposed on"),
    "rental_income": ("租金收入", "rental income"),
    "record_type": ("记录类型", "record type"),
    "reimbursed": ("已报销", "reimbursed"),
    "scheme": ("险种", "scheme"),
    "employer_type": ("单位类型", "employer type"),
    # outputs
    "status": ("认定结果", "status"),
    "benefit": ("月救助金", "monthly benefit"),
    "phaseout_months": ("渐退月数", "phase-out months"),
    "pci": ("月人均收入", "per-capita monthly income"),
    "standard": ("低保标准", "dibao standard"),
    "gross_income": ("家庭年收入", "household income (year)"),
    "medical": ("医疗支出扣减", "medical deduction"),
    "education": ("教育支出扣减", "education deduction"),
    "pension": ("养老保险缴费扣减", "pension deduction"),
    "net_income": ("扣减后家庭年收入", "net income (year)"),
    "financial_assets": ("家庭金融资产", "financial assets"),
    "circle": ("信息圈", "circle"),
    "transition": ("动态管理", "transition"),
    "vetoes": ("一票否决", "vetoes"),
    "difficulty_index": ("困难指数", "difficulty index"),
    "rank": ("困难排序", "rank"),
    "provisional": ("临时结果", "provisional"),
    "eligible_programs": ("可享受救助项目", "eligible programs"),
    "policy_id": ("政策编号", "policy id"),
    "policy_digest": ("政策摘要", "policy digest"),
    "input_digest": ("数据摘要", "input digest"),
    "engine_version": ("引擎版本", "engine version"),
    "age": ("年龄", "age"),
    "labour_coefficient": ("劳动力系数", "labour coefficient"),
    "employment": ("务工/经营收入(年)", "employment income (year)"),
    "employment_basis": ("收入依据", "basis"),
    "member_income": ("成员年收入", "member income (year)"),
    "verified_income": ("核实年收入", "verified income (year)"),
    "code": ("代码", "code"),
    "severity": ("性质", "severity"),
    "source": ("来源", "source"),
    "detail": ("说明", "detail"),
    "reasons": ("原因", "reasons"),
}

# Policy parameters (POLICY.md), with the unit their value is in -------------------------
# Units: fen_month (fen per person per month), fen_year, fen, permille, centi_m2, months,
# count, list (of codes), table (nested), date, text.

PARAMETER: dict[str, tuple[str, str, str]] = {
    "dibao_urban": ("城市低保标准", "urban dibao standard", "fen_month"),
    "dibao_rural": ("农村低保标准", "rural dibao standard", "fen_month"),
    "low_income_ratio": ("低收入标准倍数", "low-income ratio", "permille"),
    "tekun_ratio": ("特困供养标准倍数", "tekun ratio", "permille"),
    "min_wage_monthly": ("最低工资标准(月)", "minimum wage (month)", "fen"),
    "work_months": ("务工月数", "work months", "months"),
    "rural_income_annual": ("农牧民人均可支配收入(年)", "rural income per capita (year)", "fen"),
    "land_ratio": ("土地经营收入比例", "land income ratio", "permille"),
    "age_bands": ("年龄段上限", "age band bounds", "list"),
    "labour_coefficient": ("劳动力系数表", "labour coefficient table", "table"),
    "student_levels_without_labour": (
        "不计劳动力的在学阶段",
        "student levels without labour",
        "list",
    ),
    "counted_transfers": ("计入收入的社保待遇", "counted transfers", "list"),
    "sector_ratio": ("赡养费比例(按就业领域)", "support ratio by sector", "table"),
    "elevated_bonus": ("大额资产赡养人加计比例", "elevated bonus", "permille"),
    "cap_ratio": ("赡养费上限比例", "support cap ratio", "permille"),
    "supporter_asset_limit": ("赡养人存款上限", "supporter asset limit", "fen"),
    "medical_cap": ("医疗支出扣减上限(年)", "medical deduction cap (year)", "fen"),
    "tuition_cap": ("学费扣减上限(年)", "tuition cap (year)", "table"),
    "pension_contribution_cap": (
        "养老保险缴费扣减上限(年)",
        "pension contribution cap (year)",
        "fen",
    ),
    "enabled": ("启用的否决规则", "enabled veto rules", "list"),
    "vehicle_types": ("否决车辆类型", "veto vehicle types", "list"),
    "vehicle_value_limit": ("车辆价值上限", "vehicle value limit", "fen"),
    "max_vehicles": ("车辆数上限", "maximum vehicles", "count"),
    "max_residential_properties": ("住宅套数上限", "maximum homes", "count"),
    "residential_area_per_capita_limit": (
        "人均住宅面积上限",
        "residential area per member",
        "centi_m2",
    ),
    "financial_asset_months": ("金融资产月数", "financial asset months", "months"),
    "business_turnover_limit": ("个体经营年营业额上限", "business turnover limit", "fen"),
    "insurance_grade_limit": (
        "居民养老保险年缴费上限",
        "resident pension contribution limit",
        "fen",
    ),
    "recent_purchase_months": ("购房追溯月数", "recent purchase months", "months"),
    "recent_transfer_months": ("转让房产追溯月数", "recent transfer months", "months"),
    "recent_vehicle_months": ("购车追溯月数", "recent vehicle months", "months"),
    "refused_work_min_coefficient": (
        "拒绝就业最低劳动力系数",
        "refused-work coefficient",
        "permille",
    ),
    "refused_work_min_count": ("拒绝就业次数", "refused-work count", "count"),
    "declaration_tolerance_ratio": ("申报收入容差比例", "declaration tolerance ratio", "permille"),
    "declaration_tolerance_abs": ("申报收入容差金额(月)", "declaration tolerance (month)", "fen"),
    "asset_declaration_tolerance_abs": ("申报金融资产容差", "asset declaration tolerance", "fen"),
    "elderly_70": ("70 岁以上老人加发比例", "add-on aged 70+", "permille"),
    "severe_disability": ("重度残疾加发比例", "add-on severe disability", "permille"),
    "serious_illness": ("重病加发比例", "add-on serious illness", "permille"),
    "child_under_16": ("16 岁以下儿童加发比例", "add-on child under 16", "permille"),
    "months": ("渐退期月数", "phase-out months", "months"),
    "circle3_ratio": ("第三圈上限倍数", "circle 3 ratio", "permille"),
    "circle4_ratio": ("第四圈上限倍数", "circle 4 ratio", "permille"),
    "member_cap": ("成员分上限", "member points cap", "count"),
    "income_max": ("收入分满分", "income points maximum", "count"),
    "asset_max": ("资产分满分", "asset points maximum", "count"),
    "age_70": ("70 岁以上分", "points aged 70+", "count"),
    "age_60": ("60–69 岁分", "points aged 60-69", "count"),
    "age_child": ("16 岁以下分", "points under 16", "count"),
    "health_points": ("健康状况分", "health points", "list"),
    "student_points": ("在学分", "student points", "table"),
    "extra_property_penalty": ("多套住房扣分", "extra property penalty", "count"),
    "vehicle_penalty": ("有车扣分", "vehicle penalty", "count"),
    "asset_penalty": ("金融资产扣分", "asset penalty", "count"),
    "asset_penalty_months": ("金融资产扣分月数", "asset penalty months", "months"),
}

# Reject rules (validate.py's reason texts, by the rule's opening words) -----------------

REJECT_RULE: tuple[tuple[str, str, str], ...] = (
    ("null in a required column", "必填项为空", "null in a required column"),
    ("unknown enum value", "取值不在规定范围内", "unknown enum value"),
    ("negative money", "金额为负数", "negative money"),
    ("negative count", "数量为负数", "negative count"),
    ("negative area", "面积为负数", "negative area"),
    ("health outside 1..6", "健康状况不在 1–6 之间", "health outside 1..6"),
    ("share outside 1..1000", "份额不在 1–1000‰ 之间", "share outside 1..1000"),
    ("supported_count below 1", "被赡养人数小于 1", "supported_count below 1"),
    ("malformed ID", "身份证号格式错误", "malformed ID"),
    ("bad birth date in ID", "身份证号中的出生日期无效", "bad birth date in ID"),
    ("bad GB 11643 check character", "身份证号校验码错误", "bad GB 11643 check character"),
    ("ID and birth_date disagree", "身份证号与出生日期不一致", "ID and birth_date disagree"),
    ("disposed before acquired", "转让日期早于取得日期", "disposed before acquired"),
    ("duplicate household_id", "户号重复", "duplicate household_id"),
    ("jurisdiction not 6 digits", "行政区划代码不是 6 位数字", "jurisdiction not 6 digits"),
    ("date outside", "日期超出有效范围", "date outside 0001-01-01..9999-12-31"),
    ("no policy pack", "无适用的政策", "no policy pack"),
    ("null program name", "救助项目名称为空", "null program name"),
    ("program not defined", "救助项目未在政策中定义", "program not defined by the pack"),
    ("household has no members", "家庭无成员", "household has no members"),
    (
        "same person twice in one household",
        "同一人在一户中出现两次",
        "same person twice in one household",
    ),
)

_REASON = re.compile(
    r"^(?P<table>[a-z_]+)\.(?P<column>[a-z_]+)(?P<record> record=\S+)?: (?P<rest>.*)$", re.DOTALL
)


# Lookups --------------------------------------------------------------------------------


def pick(name: Name, lang: str) -> str:
    """The zh or en half of a (zh, en) pair."""
    return name[0] if lang == "zh" else name[1]


def of(table: dict, code, lang: str) -> str:
    """The name of `code` in `table`; a code the table lacks is shown as written."""
    name = table.get(code)
    return pick(name, lang) if name else str(code)


def veto(code: str, lang: str) -> str:
    """'V04 金融资产超标': the code with the name of its rule."""
    return f"{code} {of(VETO, code, lang)}"


def finding(code: str, lang: str) -> str:
    """A findings code as people read it (vetoes with their code, others by name)."""
    if code in VETO:
        return veto(code, lang)
    return of(FINDING, code, lang)


def enum(column: str, value, lang: str) -> str:
    """An enumeration value of `column` (health, relation, …) by name."""
    if value is None:
        return "—"
    return of(ENUM.get(column, {}), value, lang)


def program(name: str, lang: str) -> str:
    return of(PROGRAM, name, lang)


def column(name: str, lang: str, table: str = "") -> str:
    """A column's name; `table` tells apart columns of the same name (property.area)."""
    return of(COLUMN, f"{table}.{name}" if f"{table}.{name}" in COLUMN else name, lang)


def parameter(name: str, lang: str) -> str:
    entry = PARAMETER.get(name)
    return (entry[0] if lang == "zh" else entry[1]) if entry else name


def reject_rule(rule: str, lang: str) -> str:
    """A rule of a reject reason ('persons.health: health outside 1..6' or a whole reason)
    in words: '家庭成员·健康状况: 健康状况不在 1–6 之间 (…)'. Details in parentheses
    (values, IDs) are kept as written; a rule not listed here is shown as written."""
    m = _REASON.match(rule)
    if not m:
        return _rule_words(rule, lang)
    where = f"{of(TABLE, m['table'], lang)}·{column(m['column'], lang, m['table'])}"
    record = m["record"]
    if record:
        value = record.split("=", 1)[1]
        where += f" ({'记录' if lang == 'zh' else 'record'} {value})"
    return f"{where}: {_rule_words(m['rest'], lang)}"


def _rule_words(text: str, lang: str) -> str:
    for prefix, zh, en in REJECT_RULE:
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            if prefix == "date outside":
                rest = rest.removeprefix(" 0001-01-01..9999-12-31")
            elif prefix == "program not defined":
                rest = rest.removeprefix(" by the household's pack")
            return (zh if lang == "zh" else en) + rest
    return text


def parameter_value(name: str, v, lang: str) -> str:
    """A policy parameter's value in its unit, enumerations by name."""
    unit = PARAMETER.get(name, ("", "", ""))[2]
    if name == "vehicle_types":
        return ("、" if lang == "zh" else " or ").join(enum("vehicle_type", t, lang) for t in v)
    if name in ("student_levels_without_labour",):
        return _join([enum("student_level", x, lang) for x in v], lang)
    if name == "counted_transfers":
        return _join([enum("record_type", x, lang) for x in v], lang)
    if name == "enabled":
        return _join([veto(x, lang) for x in v], lang)
    if name == "tuition_cap":
        return _join(
            [f"{enum('student_level', k, lang)} {money(x, lang)}" for k, x in v.items()], lang
        )
    if name == "sector_ratio":
        return _join(
            [f"{enum('employment_sector', k, lang)} {ratio(x)}" for k, x in v.items()], lang
        )
    if name == "student_points":
        return _join([f"{enum('student_level', k, lang)} {x}" for k, x in v.items()], lang)
    return value(unit, v, lang)


def _join(items: list[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(items) if items else "—"
