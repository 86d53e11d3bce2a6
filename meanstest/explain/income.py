"""The working of RULES.md §2–§5 (labour coefficient, income, support, deductions and
per-capita income), written from the trace's recorded values."""

from __future__ import annotations

from meanstest import labels
from meanstest.amounts import ratio
from meanstest.document import Step
from meanstest.explain.context import Ctx


def _band(bands: list[int], band: int, ctx: Ctx) -> str:
    if band == 0:
        return ctx.t(f"≤{bands[0]} 岁", f"up to {bands[0]}")
    if band >= len(bands):
        return ctx.t(f">{bands[-1]} 岁", f"over {bands[-1]}")
    return ctx.t(f"{bands[band - 1] + 1}–{bands[band]} 岁", f"{bands[band - 1] + 1}–{bands[band]}")


def labour(trace: list[dict], ctx: Ctx) -> Step:
    lines = []
    for k, s in enumerate(trace):
        i, c = s["inputs"], s["value"]
        who = ctx.who(ctx.members[k]) if k < len(ctx.members) else "?"
        health = f"{i['health']} {labels.enum('health', i['health'], ctx.lang)}"
        if i.get("basis") == "under_16":
            why = ctx.t(f"年龄 {i['age']} 岁，未满 16 周岁", f"age {i['age']}, under 16")
        elif i.get("basis") == "student":
            level = labels.enum("student_level", i["level"], ctx.lang)
            why = ctx.t(
                f"年龄 {i['age']} 岁，全日制在校生（{level}），不计劳动力",
                f"age {i['age']}, full-time student ({level}), no labour counted",
            )
        else:
            band = _band(i["age_bands"], i["band"], ctx)
            why = ctx.t(
                f"年龄 {i['age']} 岁（年龄段 {band}），健康状况 {health} → 系数表第 {i['health']} 行"
                f"第 {i['band'] + 1} 列",
                f"age {i['age']} (band {band}), health {health} → table row {i['health']}, "
                f"column {i['band'] + 1}",
            )
        lines.append(f"{who}{ctx.t('：', ': ')}{why} = {ratio(c)}")
    return Step("§2", ctx.sec("§2"), lines)


def member(s: dict, ctx: Ctx) -> Step:
    i, pid = s["inputs"], s["label"].split(" ", 1)[1]
    basis, emp, c = i["employment_basis"], i["employment"], i.get("coefficient", 0)
    if basis == "verified":
        first = ctx.t(
            f"务工收入：核实的工资薪金和劳务报酬 {ctx.m(emp)}",
            f"Employment: verified wages {ctx.m(emp)}",
        )
    elif basis == "none":
        first = ctx.t(
            "务工收入：劳动力系数为 0 且无工资记录，计 0.00 元",
            "Employment: coefficient 0 and no wages, 0.00 yuan",
        )
    elif basis == "imputed_land":
        first = ctx.t(
            f"土地经营收入（推算）：劳动力系数 {ratio(c)} × 上年度农牧民人均可支配收入 "
            f"{ctx.m(i['rural_income_annual'])} × {ratio(i['land_ratio'])} = {ctx.m(emp)}",
            f"Land income (imputed): coefficient {ratio(c)} × rural income per capita "
            f"{ctx.m(i['rural_income_annual'])} × {ratio(i['land_ratio'])} = {ctx.m(emp)}",
        )
    else:
        first = ctx.t(
            f"务工收入（推算）：劳动力系数 {ratio(c)} × 最低工资标准 {ctx.m(i['min_wage_monthly'])}"
            f"/月 × {i['work_months']} 个月 = {ctx.m(emp)}",
            f"Work income (imputed): coefficient {ratio(c)} × minimum wage "
            f"{ctx.m(i['min_wage_monthly'])}/month × {i['work_months']} months = {ctx.m(emp)}",
        )
    part = {  # the sum names the employment part as the line above it does
        "imputed_land": ctx.t("土地经营收入（推算）", "land income (imputed)"),
        "imputed_work": ctx.t("务工收入（推算）", "work income (imputed)"),
    }.get(basis, ctx.t("务工收入", "employment"))
    gap = "" if part.endswith("）") else " "  # no space after a full-width parenthesis
    lines = [
        first,
        ctx.t(
            f"财产性收入 = 存款利息 {ctx.m(i['interest'])} + 租金（按产权份额）"
            f"{ctx.m(i['rental'])} = {ctx.m(i['property'])}",
            f"Property income = interest {ctx.m(i['interest'])} + rent (by share) "
            f"{ctx.m(i['rental'])} = {ctx.m(i['property'])}",
        ),
        ctx.t(
            f"成员年收入 = {part}{gap}{ctx.m(emp)} + 经营所得 {ctx.m(i['business'])} + 其他所得 "
            f"{ctx.m(i['other'])} + 财产性收入 {ctx.m(i['property'])} + 社保待遇"
            f"{_counted(i, ctx) or ' '}{ctx.m(i['transfer'])} = {ctx.m(s['value'])}",
            f"Member income = {part} {ctx.m(emp)} + business {ctx.m(i['business'])} + "
            f"other {ctx.m(i['other'])} + property {ctx.m(i['property'])} + transfers"
            f"{_counted(i, ctx)} {ctx.m(i['transfer'])} = {ctx.m(s['value'])}",
        ),
        ctx.t(
            f"核实年收入（不含推算部分）{ctx.m(i['verified_income'])}",
            f"Verified income (nothing imputed) {ctx.m(i['verified_income'])}",
        ),
        ctx.t("所用记录：", "Records used: ") + ctx.join(i.get("records", [])),
    ]
    if i.get("informational"):  # a blind audit: they were left out without a word
        lines.append(
            ctx.t(
                "税务利息、租金类记录仅作参考、不计入（利息按银行记录、租金按房产记录计，不重复计算）：",
                "Tax rows of interest and rent are informational, not counted (interest comes "
                "from bank, rent from property records, so nothing counts twice): ",
            )
            + ctx.join(i["informational"])
        )
    title = ctx.t(f"{ctx.sec('§3')}：{ctx.who(pid)}", f"{ctx.sec('§3')}: {ctx.who(pid)}")
    return Step(
        "§3", title, lines, ctx.t("成员年收入 ", "member income ") + ctx.m(s["value"], "year")
    )


def _counted(i: dict, ctx: Ctx) -> str:
    """Which social-insurance record types the pack counts as transfers (§3: the
    policy's counted_transfers); a blind audit could not tell why a record was left out."""
    kinds = i.get("counted_transfers")
    if kinds is None:  # a trace written before the list was noted
        return ""
    names = ctx.join(labels.enum("record_type", k, ctx.lang) for k in kinds)
    return ctx.t(f"（本政策计入：{names}）", f" (the policy counts: {names})")


def _elevated_by(i: dict, ctx: Ctx) -> str:
    """Which of §4's conditions raised the ratio, with its figures."""
    by = i.get("elevated_by") or {}
    said = []
    if "luxury_vehicle" in by:
        said.append(
            ctx.t(
                f"车辆 {by['luxury_vehicle']} 价值高于 {ctx.m(i['vehicle_value_limit'])}",
                f"vehicle {by['luxury_vehicle']} worth more than {ctx.m(i['vehicle_value_limit'])}",
            )
        )
    if "residential_properties" in by:
        said.append(
            ctx.t(
                f"住宅 {by['residential_properties']} 套 > {i['max_residential_properties']} 套",
                f"{by['residential_properties']} homes > {i['max_residential_properties']}",
            )
        )
    if "bank_balance" in by:
        said.append(
            ctx.t(
                f"存款 {ctx.m(by['bank_balance'])} > {ctx.m(i['supporter_asset_limit'])}",
                f"bank balance {ctx.m(by['bank_balance'])} > {ctx.m(i['supporter_asset_limit'])}",
            )
        )
    return ctx.t("（", " (") + ctx.join(said) + ctx.t("）", ")") if said else ""


def support(s: dict, ctx: Ctx) -> Step:
    i, pid = s["inputs"], s["label"].split(" ", 1)[1]
    title = ctx.t(f"{ctx.sec('§4')}：{ctx.who(pid)}", f"{ctx.sec('§4')}: {ctx.who(pid)}")
    owed = ctx.t("计入赡养费 ", "support counted ") + ctx.m(s["value"], "year")
    if "exempt" in i:
        reason = labels.enum("exempt_reason", i["exempt"], ctx.lang)
        return Step("§4", title, [ctx.t("不核定赡养费：", "exempt: ") + reason], owed)
    income = ctx.m(i["income"])
    if i["income_imputed"]:
        health = labels.enum("health", i["health"], ctx.lang)
        first = ctx.t(
            f"计入收入 I 为 0，按劳动力推算：年龄 {i['age']} 岁、{health} → 系数 {ratio(i['coefficient'])}；"
            f"{ratio(i['coefficient'])} × 最低工资标准 {ctx.m(i['min_wage_monthly'])}/月 × "
            f"{i['work_months']} 个月 = 年收入 I {income}",
            f"Income I counted is 0, imputed: age {i['age']}, {health} → coefficient "
            f"{ratio(i['coefficient'])}; × minimum wage {ctx.m(i['min_wage_monthly'])}/month × "
            f"{i['work_months']} months = income I {income}",
        )
    else:
        first = ctx.t(
            f"年收入 I（工资、经营、其他所得和社保待遇，不含财产性收入）= {income}",
            f"Income I (wages, business, other, transfers; no property income) = {income}",
        )
    sector = labels.enum("employment_sector", i["sector"], ctx.lang)
    bonus = (
        ctx.t(" + 拥有大宗资产、豪华车辆或高档住宅加计 ", " + bonus for large assets ")
        + ratio(i["elevated_bonus"])
        + f" = {ratio(i['ratio'])}"
        + _elevated_by(i, ctx)
        if i["elevated"]
        else ""
    )
    lines = [
        first,
        ctx.t(
            f"赡养比例 r = 就业领域（{sector}）{ratio(i['sector_ratio'])}{bonus}",
            f"Ratio r = sector ({sector}) {ratio(i['sector_ratio'])}{bonus}",
        ),
        ctx.t(
            f"应付 = min(I × r × 被赡养人数 {i['supported_count']}, I × 上限比例 "
            f"{ratio(i['cap_ratio'])}) = min({ctx.m(i['share'])}, {ctx.m(i['cap'])}) = "
            f"{ctx.m(s['value'])}",
            f"Owed = min(I × r × persons supported {i['supported_count']}, I × cap ratio "
            f"{ratio(i['cap_ratio'])}) = min({ctx.m(i['share'])}, {ctx.m(i['cap'])}) = "
            f"{ctx.m(s['value'])}",
        ),
    ]
    return Step("§4", title, lines, owed)


def deductions(s: dict, ctx: Ctx) -> Step:
    i = s["inputs"]
    lines = [
        ctx.t(
            f"医疗支出 = min(年度上限 {ctx.m(i['medical_cap'])}, 个人自付（逐条 max(0, 费用 − 报销) "
            f"之和）{ctx.m(i['out_of_pocket'])}) = {ctx.m(i['medical'])}",
            f"Medical = min(cap {ctx.m(i['medical_cap'])}, out of pocket (the sum over records "
            f"of max(0, cost − reimbursed)) {ctx.m(i['out_of_pocket'])}) = {ctx.m(i['medical'])}",
        )
    ]
    for pid, level, tuition, deducted in i["tuition"]:
        name = labels.enum("student_level", level, ctx.lang)
        lines.append(
            ctx.t(
                f"教育支出：{ctx.who(pid)}（{name}）学费 {ctx.m(tuition)}，上限 "
                f"{ctx.m(i['tuition_cap'][level])} → {ctx.m(deducted)}",
                f"Education: {ctx.who(pid)} ({name}) tuition {ctx.m(tuition)}, cap "
                f"{ctx.m(i['tuition_cap'][level])} → {ctx.m(deducted)}",
            )
        )
    for pid, level, tuition in i.get("tuition_uncapped", ()):
        name = labels.enum("student_level", level, ctx.lang)
        lines.append(  # a blind audit: such tuition was left out without a word
            ctx.t(
                f"教育支出：{ctx.who(pid)}（{name}）学费 {ctx.m(tuition)}，本政策对该学段不设扣减"
                " → 0.00 元",
                f"Education: {ctx.who(pid)} ({name}) tuition {ctx.m(tuition)}, no deduction at "
                "this level in the policy → 0.00 yuan",
            )
        )
    if not i["tuition"] and not i.get("tuition_uncapped"):
        lines.append(  # tuition at a level without a cap is not deducted (RULES.md §5)
            ctx.t(
                "教育支出：无处于可扣减学段的成员 → 0.00 元",
                "Education: no member at a level with a deduction → 0.00 yuan",
            )
        )
    paid_any = [c for c in i["contributions"] if c[1] > 0]
    for pid, paid, deducted in paid_any:
        lines.append(
            ctx.t(
                f"养老保险缴费：{ctx.who(pid)} 缴费 {ctx.m(paid)}，上限 "
                f"{ctx.m(i['pension_contribution_cap'])} → {ctx.m(deducted)}",
                f"Pension: {ctx.who(pid)} paid {ctx.m(paid)}, cap "
                f"{ctx.m(i['pension_contribution_cap'])} → {ctx.m(deducted)}",
            )
        )
    if not paid_any:
        lines.append(ctx.t("养老保险缴费：无 → 0.00 元", "Pension contributions: none → 0.00 yuan"))
    title = ctx.t("刚性支出", "Rigid expenses")
    return Step("§5", title, lines, ctx.t("刚性支出合计 ", "total ") + ctx.m(s["value"], "year"))


def pci(s: dict, ctx: Ctx) -> Step:
    i = s["inputs"]
    area_name = labels.enum("area", i["area"], ctx.lang)
    lines = [
        ctx.t(
            f"家庭年收入 G = 成员年收入合计 + 赡养费合计 = {ctx.m(i['gross_income'])}",
            f"Household income G = member incomes + support = {ctx.m(i['gross_income'])}",
        ),
        ctx.t(
            f"扣除刚性支出 N = max(0, G {ctx.m(i['gross_income'])} − 医疗 {ctx.m(i['medical'])}"
            f" − 教育 {ctx.m(i['education'])} − 养老 {ctx.m(i['pension'])}) = "
            f"{ctx.m(i['net_income'])}",
            f"Net N = max(0, G {ctx.m(i['gross_income'])} − medical {ctx.m(i['medical'])} − "
            f"education {ctx.m(i['education'])} − pension {ctx.m(i['pension'])}) = "
            f"{ctx.m(i['net_income'])}",
        ),
        ctx.t(
            f"家庭人均月收入 = N ÷（12 个月 × {i['n']} 人）= {ctx.m(s['value'])}（四舍五入到分）",
            f"Per-capita monthly income = N ÷ (12 months × {i['n']}) = {ctx.m(s['value'])} "
            "(rounded half up to the fen)",
        ),
        ctx.t(
            f"低保标准 S（{area_name}）= {ctx.m(i['standard'], 'person_month')}；低收入标准 L = S × "
            f"{ratio(i['low_income_ratio'])} = {ctx.m(i['low_income'], 'person_month')}",
            f"Standard S ({area_name}) = {ctx.m(i['standard'], 'person_month')}; low-income "
            f"standard L = S × {ratio(i['low_income_ratio'])} = "
            f"{ctx.m(i['low_income'], 'person_month')}",
        ),
        ctx.t(
            f"家庭金融资产 FA（成员银行、理财等余额合计）= {ctx.m(i['financial_assets'])}",
            f"Financial assets FA (members' balances) = {ctx.m(i['financial_assets'])}",
        ),
    ]
    title = ctx.t("家庭人均月收入", "Per-capita income")
    return Step("§5", title, lines, ctx.t("家庭人均月收入 ", "pci ") + ctx.m(s["value"], "month"))
