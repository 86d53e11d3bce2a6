"""The veto registry and the parameter registry: each fact about a veto rule (RULES.md §6)
and about a policy-pack parameter (POLICY.md) written once.

Pure data (this package imports only numpy and numba), read by:

- the kernels' layout (`layout`): veto bit = index in `VETOES`, `N_VETOES`; the packed
  parameter row is `PARAMS` in order, each taking `slots` int64 cells (`P_*` names
  are looked up by path, so a key that moves moves its slot with it);
- `meanstest.schema.VETO_CODES`, `meanstest.fast` (evidence tables of the findings),
  `meanstest.service.small_engine`, `meanstest.reference.veto` (the parameters a rule
  shows in the trace);
- `meanstest.policy.validation` (a pack's keys, their types and constraints, in this
  order) and `meanstest.assemble.pack_params` (the packed row);
- `meanstest.labels` (zh/en names, rule texts, units), hence explain and the report;
- docs/registry.md (generated: `python -m meanstest.registry > docs/registry.md`).

What cannot be derived — the readable reference's rules, the numba kernels, the §6
evidence of each rule — is checked against this registry by tests/test_registry.py.
How to add a veto or a parameter: docs/registry.md.
"""

from __future__ import annotations

from typing import NamedTuple

# Vetoes ----------------------------------------------------------------------------------

# How a veto's finding names its evidence (RULES.md §6, docs/engine.md):
#   record          person and record of the household's first triggering row of `source`
#   record_by_value the same, among rows that trigger by value; null if only a count does
#   aggregate       null person and record (an aggregate); detail lists `source` rows
#   member          the first triggering member (persons row), no record
#   household       null person and record: a households-row condition
EVIDENCE_KINDS = ("record", "record_by_value", "aggregate", "member", "household")


class Veto(NamedTuple):
    code: str  # the findings code; bit (index in VETOES) = number - 1
    rule: str  # the rule's name in RULES.md §6's table
    source: str  # canonical table of its evidence and detail records
    evidence: str  # one of EVIDENCE_KINDS
    params: tuple[str, ...]  # the [veto] keys the rule reads (shown with its trace)
    zh: str  # name (labels.VETO), after the rule it implements
    en: str
    rule_zh: str  # the rule with its parameters as {key} (labels.VETO_RULE)
    rule_en: str
    section: str = "§6"


VETOES: tuple[Veto, ...] = (
    Veto(
        "V01", "VEHICLE", "vehicle", "record_by_value",
        ("vehicle_types", "vehicle_value_limit", "max_vehicles"),
        "车辆超标", "vehicle over the limit",
        "{vehicle_types}价值超过 {vehicle_value_limit}，或此类车辆超过 {max_vehicles} 辆",
        "a {vehicle_types} worth more than {vehicle_value_limit}, or more than {max_vehicles} "
        "such vehicles",
    ),
    Veto(
        "V02", "HOUSING", "property", "aggregate",
        ("max_residential_properties", "residential_area_per_capita_limit"),
        "住房超标", "housing over the limit",
        "住宅超过 {max_residential_properties} 套，或住宅面积超过人均 "
        "{residential_area_per_capita_limit} × 家庭人数",
        "more than {max_residential_properties} residential properties, or more area than "
        "{residential_area_per_capita_limit} × members",
    ),
    Veto(
        "V03", "NONRESIDENTIAL", "property", "record", (),
        "拥有非住宅房产", "non-residential property",
        "拥有商业、办公或工业用房", "owns commercial, office or industrial property",
    ),
    Veto(
        "V04", "FINANCIAL", "bank", "aggregate", ("financial_asset_months",),
        "金融资产超标", "financial assets over the limit",
        "家庭金融资产 > {financial_asset_months} × 低保标准 × 家庭人数",
        "financial assets > {financial_asset_months} × standard × members",
    ),
    Veto(
        "V05", "BUSINESS", "business_registration", "record", ("business_turnover_limit",),
        "经营企业或大额个体经营", "business owner or large self-employment",
        "企业法定代表人或股东，或个体经营年营业额超过 {business_turnover_limit}",
        "legal representative or shareholder, or self-employed with turnover above "
        "{business_turnover_limit}",
    ),
    Veto(
        "V06", "PUBLIC_EMPLOYEE", "social_insurance", "record", (),
        "机关事业单位在职", "public-sector employee",
        "在机关或事业单位就业", "employed by a government body or public institution",
    ),
    Veto(
        "V07", "EMPLOYER", "business_registration", "record", (),
        "雇佣他人", "employs staff",
        "经营中雇佣 1 人以上", "a registered business with employees",
    ),
    Veto(
        "V08", "INSURANCE_GRADE", "social_insurance", "record", ("insurance_grade_limit",),
        "养老保险缴费档次超标", "pension contribution grade over the limit",
        "某成员城乡居民养老保险年缴费超过 {insurance_grade_limit}",
        "a member's resident pension contributions above {insurance_grade_limit}",
    ),
    Veto(
        "V09", "RECENT_PURCHASE", "property", "record", ("recent_purchase_months",),
        "近期购房", "recent property purchase",
        "核定日前 {recent_purchase_months}内购买房产（含已转让的）",
        "a property bought within {recent_purchase_months} before the date (even if sold)",
    ),
    Veto(
        "V10", "RECENT_TRANSFER", "property", "record", ("recent_transfer_months",),
        "近期转让房产", "recent property transfer",
        "核定日前 {recent_transfer_months}内转让房产",
        "a property disposed of within {recent_transfer_months} before the date",
    ),
    Veto(
        "V11", "REFUSED_WORK", "persons", "member",
        ("refused_work_min_coefficient", "refused_work_min_count"),
        "有劳动能力拒不就业", "refused work while able",
        "劳动力系数不低于 {refused_work_min_coefficient} 且拒绝推荐就业 {refused_work_min_count} 次以上",
        "labour coefficient at least {refused_work_min_coefficient} and at least "
        "{refused_work_min_count} job offers refused",
    ),
    Veto(
        "V12", "NO_CONSENT", "households", "household", (),
        "未签署核对授权", "no consent to verification",
        "未签署家庭经济状况核对授权书", "no signed authorisation for verification",
    ),
    Veto(
        "V13", "FALSE_DECLARATION", "households", "household", (),
        "隐瞒或虚报家庭经济状况", "false declaration",
        "有未如实申报的收入、车辆、房产或金融资产（见核对疑点）",
        "an undeclared income, vehicle, property or asset finding (§8)",
    ),
    Veto(
        "V14", "RECENT_VEHICLE", "vehicle", "record", ("vehicle_types", "recent_vehicle_months"),
        "近期购车", "recent vehicle purchase",
        "核定日前 {recent_vehicle_months}内登记{vehicle_types}",
        "a {vehicle_types} registered within {recent_vehicle_months} before the date",
    ),
)  # fmt: skip
VETO_CODES = tuple(v.code for v in VETOES)
VETO_BIT = {v.code: i for i, v in enumerate(VETOES)}


# Parameters ------------------------------------------------------------------------------

# shape      the TOML value                          slots in the packed row
#   int      one integer (check: a constraint)       1
#   names    array of distinct names from `enum`     1 (bit per index in enum)
#   map      table keyed by names of `enum`, ints    len(enum), 0 where absent
#   ints     `length` integers (check)               length
#   ages     4 strictly increasing ages              4
#   grid     `length` rows of `width` shares         length × width
SHAPES = ("int", "names", "map", "ints", "ages", "grid")
# check (constraint of an integer): its unit and range, spelled by the validator
CHECKS = (
    "fen", "count", "months", "points", "share", "multiplier", "age", "centi_m2",
    "months_below_12", "low_income_permille", "standard",
)  # fmt: skip
# unit (how explain and the report show a value; labels.parameter_value)
UNITS = ("fen", "fen_month", "permille", "centi_m2", "months", "count", "list", "table")


class Param(NamedTuple):
    section: str  # the pack's [section]
    key: str  # the key in it (unique over all sections: labels are keyed by it)
    shape: str  # one of SHAPES
    check: str  # one of CHECKS (of the value or of each item); "" for names
    unit: str  # one of UNITS
    zh: str  # label (labels.PARAMETER)
    en: str
    enum: str = ""  # names / map: the meanstest.schema enumeration (layout's, for map)
    exact: bool = False  # map: every name of enum present
    length: int = 0  # ints, grid: number of values (rows)
    width: int = 0  # grid: values per row

    @property
    def path(self) -> str:
        return f"{self.section}.{self.key}"


def _int(path: str, check: str, unit: str, zh: str, en: str) -> Param:
    section, key = path.split(".")
    return Param(section, key, "int", check, unit, zh, en)


def _names(path: str, enum: str, zh: str, en: str) -> Param:
    section, key = path.split(".")
    return Param(section, key, "names", "", "list", zh, en, enum=enum)


def _map(path: str, enum: str, check: str, exact: bool, zh: str, en: str) -> Param:
    section, key = path.split(".")
    return Param(section, key, "map", check, "table", zh, en, enum=enum, exact=exact)


# In the order of POLICY.md's default pack (validation reports the first error in it).
PARAMS: tuple[Param, ...] = (
    _int("standards.dibao_urban", "standard", "fen_month", "城市低保标准", "urban dibao standard"),
    _int("standards.dibao_rural", "standard", "fen_month", "农村低保标准", "rural dibao standard"),
    _int("standards.low_income_ratio", "multiplier", "permille", "低收入标准倍数", "low-income ratio"),
    _int("standards.tekun_ratio", "multiplier", "permille", "特困人员基本生活标准倍数", "tekun ratio"),
    _int("imputation.min_wage_monthly", "standard", "fen", "最低工资标准（月）", "minimum wage (month)"),
    _int("imputation.work_months", "months", "months", "务工月数", "work months"),
    _int("imputation.rural_income_annual", "standard", "fen", "农牧民人均可支配收入（年）", "rural income per capita (year)"),
    _int("imputation.land_ratio", "share", "permille", "土地经营收入比例", "land income ratio"),
    Param("imputation", "age_bands", "ages", "age", "list", "年龄段上限", "age band bounds", length=4),
    Param("imputation", "labour_coefficient", "grid", "share", "table", "劳动力系数表", "labour coefficient table", length=6, width=5),
    _names("imputation.student_levels_without_labour", "STUDENT_LEVELS", "不计劳动力的在学阶段", "student levels without labour"),
    _names("imputation.counted_transfers", "TRANSFER_TYPES", "计入收入的社保待遇", "counted transfers"),
    _map("support.sector_ratio", "SECTORS", "share", True, "赡养费比例（按就业领域）", "support ratio by sector"),
    _int("support.elevated_bonus", "share", "permille", "拥有大宗资产、豪华车辆或高档住宅的义务人加计比例", "elevated bonus"),
    _int("support.cap_ratio", "share", "permille", "赡养费上限比例", "support cap ratio"),
    _int("support.supporter_asset_limit", "fen", "fen", "赡养人存款上限", "supporter asset limit"),
    _int("deductions.medical_cap", "fen", "fen", "医疗支出扣减上限（年）", "medical deduction cap (year)"),
    _map("deductions.tuition_cap", "STUDENT_LEVELS", "fen", False, "学费扣减上限（年）", "tuition cap (year)"),
    _int("deductions.pension_contribution_cap", "fen", "fen", "养老保险缴费扣减上限（年）", "pension contribution cap (year)"),
    _names("veto.enabled", "VETO_CODES", "启用的否决规则", "enabled veto rules"),
    _names("veto.vehicle_types", "VEHICLE_TYPES", "否决车辆类型", "veto vehicle types"),
    _int("veto.vehicle_value_limit", "fen", "fen", "车辆价值上限", "vehicle value limit"),
    _int("veto.max_vehicles", "count", "count", "车辆数上限", "maximum vehicles"),
    _int("veto.max_residential_properties", "count", "count", "住宅套数上限", "maximum homes"),
    _int("veto.residential_area_per_capita_limit", "centi_m2", "centi_m2", "人均住宅面积上限", "residential area per member"),
    _int("veto.financial_asset_months", "months", "months", "金融资产月数", "financial asset months"),
    _int("veto.business_turnover_limit", "fen", "fen", "个体经营年营业额上限", "business turnover limit"),
    _int("veto.insurance_grade_limit", "fen", "fen", "居民养老保险年缴费上限", "resident pension contribution limit"),
    _int("veto.recent_purchase_months", "months", "months", "购房追溯月数", "recent purchase months"),
    _int("veto.recent_transfer_months", "months", "months", "转让房产追溯月数", "recent transfer months"),
    _int("veto.recent_vehicle_months", "months", "months", "购车追溯月数", "recent vehicle months"),
    _int("veto.refused_work_min_coefficient", "share", "permille", "拒绝推荐就业最低劳动力系数", "refused-work coefficient"),
    _int("veto.refused_work_min_count", "count", "count", "拒绝推荐就业次数", "refused-work count"),
    _int("veto.declaration_tolerance_ratio", "share", "permille", "申报收入容差比例", "declaration tolerance ratio"),
    _int("veto.declaration_tolerance_abs", "fen", "fen", "申报收入容差金额（月）", "declaration tolerance (month)"),
    _int("veto.asset_declaration_tolerance_abs", "fen", "fen", "申报金融资产容差", "asset declaration tolerance"),
    _int("addons.elderly_70", "share", "permille", "70 岁以上老人加发比例", "add-on aged 70+"),
    _int("addons.severe_disability", "share", "permille", "重度残疾加发比例", "add-on severe disability"),
    _int("addons.serious_illness", "share", "permille", "重病加发比例", "add-on serious illness"),
    _int("addons.child_under_16", "share", "permille", "16 岁以下儿童加发比例", "add-on child under 16"),
    _int("phaseout.months", "months_below_12", "months", "渐退期月数", "phase-out months"),
    _int("circles.circle3_ratio", "low_income_permille", "permille", "三级信息圈上限倍数", "circle 3 ratio"),
    _int("circles.circle4_ratio", "low_income_permille", "permille", "四级信息圈上限倍数", "circle 4 ratio"),
    _int("index.member_cap", "points", "count", "成员分上限", "member points cap"),
    _int("index.income_max", "points", "count", "收入分满分", "income points maximum"),
    _int("index.asset_max", "points", "count", "资产分满分", "asset points maximum"),
    _int("index.age_70", "points", "count", "70 岁以上分", "points aged 70+"),
    _int("index.age_60", "points", "count", "60–69 岁分", "points aged 60-69"),
    _int("index.age_child", "points", "count", "16 岁以下分", "points under 16"),
    Param("index", "health_points", "ints", "points", "list", "健康状况分", "health points", length=6),
    _map("index.student_points", "STUDENT_LEVELS", "points", False, "在学分", "student points"),
    _int("index.extra_property_penalty", "points", "count", "多套住房扣分", "extra property penalty"),
    _int("index.vehicle_penalty", "points", "count", "有车扣分", "vehicle penalty"),
    _int("index.asset_penalty", "points", "count", "金融资产扣分", "asset penalty"),
    _int("index.asset_penalty_months", "months", "months", "金融资产扣分月数", "asset penalty months"),
)  # fmt: skip
SECTIONS = tuple(dict.fromkeys(p.section for p in PARAMS))
