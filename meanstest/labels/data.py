"""Names of the data contract (DATA.md, POLICY.md): enumeration values, columns, policy
parameters with their units, and the rules of validate's reject reasons."""

from __future__ import annotations

import re
from collections.abc import Callable

from meanstest.kernels.registry import PARAMS
from meanstest.labels.codes import CIRCLE, EMPLOYMENT_BASIS, PREV_STATUS, STATUS, TRANSITION, Name

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
        3: ("轻度残疾（三、四级）", "mild disability (grades 3–4)"),
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
        "none": ("无（应承担）", "none (liable)"),
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
        "employment": ("就业参保记录（在职）", "employment"),
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
    "refused_job_offers": ("拒绝推荐就业次数", "job offers refused"),
    "tuition": ("学费（年）", "tuition (year)"),
    "employment_sector": ("就业领域", "employment sector"),
    "exempt_reason": ("不核定赡养费原因", "exemption"),
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
    "pci": ("家庭人均月收入", "per-capita monthly income"),
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
    "provisional": ("暂定结果", "provisional"),
    "eligible_programs": ("可享受救助项目", "eligible programs"),
    "policy_id": ("政策编号", "policy id"),
    "policy_digest": ("政策摘要", "policy digest"),
    "input_digest": ("数据摘要", "input digest"),
    "engine_version": ("引擎版本", "engine version"),
    "age": ("年龄", "age"),
    "labour_coefficient": ("劳动力系数", "labour coefficient"),
    "employment": ("务工/经营收入（年）", "employment income (year)"),
    "employment_basis": ("收入依据", "basis"),
    "member_income": ("成员年收入", "member income (year)"),
    "verified_income": ("核实年收入", "verified income (year)"),
    "code": ("代码", "code"),
    "severity": ("性质", "severity"),
    "source": ("来源", "source"),
    "detail": ("说明", "detail"),
    "reasons": ("原因", "reasons"),
}

# Policy parameters (POLICY.md), with the unit their value is in (the parameter registry,
# kernels/registry.py) ---------------------------------------------------------------------
# Units: fen_month (fen per person per month), fen_year, fen, permille, centi_m2, months,
# count, list (of codes), table (nested), date, text.

PARAMETER: dict[str, tuple[str, str, str]] = {p.key: (p.zh, p.en, p.unit) for p in PARAMS}

# Reject rules (the reason texts of validate.py and row_checks.py, by opening words) ---

REJECT_RULE: tuple[tuple[str, str, str], ...] = (
    ("null in a required column", "必填项为空", "null in a required column"),
    ("unknown enum value", "取值不在规定范围内", "unknown enum value"),
    ("negative money", "金额为负数", "negative money"),
    ("negative count", "数量为负数", "negative count"),
    ("negative area", "面积为负数", "negative area"),
    (
        "money above 10^14 fen",
        "金额超过 10^14 分（一万亿元），超出 int64 计算范围",
        "money above 10^14 fen",
    ),
    (
        "area above 10^14 centi-m2",
        "面积超过 10^12 平方米，超出 int64 计算范围",
        "area above 10^14 centi-m2",
    ),
    (
        "amounts of the household's rows total",
        "本户各项金额合计",
        "amounts of the household's rows total",
    ),
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
    ("no policy pack", "无适用的政策包", "no policy pack"),
    ("null program name", "救助项目名称为空", "null program name"),
    ("program not defined", "救助项目未在政策中定义", "program not defined by the pack"),
    ("household has no members", "家庭无成员", "household has no members"),
    (
        "same person twice in one household",
        "同一人在一户中出现两次",
        "same person twice in one household",
    ),
)

# The details after a reject rule, in Chinese (values, IDs and codes stay as written);
# each pattern is anchored where validate.py and row_checks.py put its words. Chinese
# punctuation (GB/T 15834): the details in full-width parentheses, their parts split by
# ，and ；, lists of codes by 、.
_CITED = r"^((?:（RULES\.md §0: int64）)?)"  # the §0 ceiling's citation, once translated
REJECT_DETAIL_ZH: tuple[tuple[str, str | Callable[[re.Match], str]], ...] = (
    # the §0 ceiling's citation, part of the rule's own text, before any details
    (r"^ \(RULES\.md §0: int64\)", "（RULES.md §0: int64）"),
    # anchored at the details' start or end, where their words are: a quoted value that
    # holds the same words ("'rural (person …'", "'3 member rows'") stays as written
    # (the §0 ceiling's details follow its citation). A department record's person: the
    # ID as written, the separator after it full-width only after an ID of 15 or more
    # [0-9Xx] — an ID that holds '; ' or ')' itself (bad data, the reason's subject)
    # keeps every character and the ASCII separator
    (_CITED + r" \(person ([0-9Xx]{15,}); ", r"\1（人员 \2；"),
    (_CITED + r" \(person ", r"\1（人员 "),
    (
        r": need 17 digits and a check character 0-9 or upper-case X\)$",
        r"：应为 17 位数字加 1 位校验码，校验码为 0–9 或大写 X）",
    ),
    (r", expected ('[^']*')\)$", r"，应为 \1）"),
    (r"acquired_on (\S+), disposed_on (\S+)\)$", r"取得日期 \1，转让日期 \2）"),
    (r"; allowed ([a-z_|]+)\)$", r"；允许值 \1）"),
    (r"; pack (\S+) defines none\)$", r"；政策包 \1 未定义救助项目）"),
    (
        r"; pack (\S+) defines ((?:[a-z_]+, )*[a-z_]+)\)$",
        lambda m: f"；政策包 {m[1]} 定义的项目：{_listed(m[2])}）",
    ),
    (r"^ \((\d+) rows\)$", r"（\1 条记录）"),
    (
        r"^ \(jurisdiction (\S+), assessment_date (\S+); tried ([0-9, ]+)\)$",
        lambda m: f"（行政区划 {m[1]}，核定日期 {m[2]}；已依次查找 {_listed(m[3])}）",
    ),
    (
        r"^ \((\d+) member rows?, (\d+) supporter rows?\)$",
        r"（成员 \1 条，义务人 \2 条）",
    ),
    (r"^ \((\d+) member rows?\)$", r"（成员 \1 条）"),
    (r"^ \((\d+) supporter rows?\)$", r"（义务人 \1 条）"),
    (r"^ \(ID says (\d+), birth_date (\S+)\)$", r"（身份证号中为 \1，出生日期为 \2）"),
    (r"^ \(day (-?\d+) from 1970-01-01\)$", r"（自 1970-01-01 起第 \1 天）"),
    (r"(?:；|; )day (-?\d+) from 1970-01-01\)$", r"；自 1970-01-01 起第 \1 天）"),  # a record's
    # the parentheses of details with no words of their own ("(0)", "('15042')")
    (_CITED + r" \(", r"\1（"),
    (r"\)$", "）"),
)


def _listed(codes: str) -> str:
    """'110105, 110100' → '110105、110100': a list in a Chinese sentence."""
    return "、".join(codes.split(", "))
