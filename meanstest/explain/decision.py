"""The working of RULES.md §6–§11 (vetoes, status and benefit, circle, transition,
findings, difficulty index, programs), written from the trace's recorded values."""

from __future__ import annotations

from meanstest import labels
from meanstest.amounts import area, ratio
from meanstest.document import Step, Table
from meanstest.explain.context import Ctx

DECISIONS = ("VETOED", "TEKUN", "DIBAO", "PHASE_OUT", "DIBAO_SINGLE", "LOW_INCOME", "NOT_ELIGIBLE")


def rule_text(code: str, params: dict, lang: str) -> str:
    """The rule of a veto code with the pack's parameters written in (labels.VETO_RULE)."""
    values = {k: labels.parameter_value(k, v, lang) for k, v in params.items()}
    return labels.pick(labels.VETO_RULE[code], lang).format_map(values)


def _veto_measure(code: str, i: dict, hit: bool, ctx: Ctx) -> list[str]:
    op = ">" if hit else "≤"
    if code == "V01":
        over = ctx.join(i["over_value"])
        return [
            ctx.t(
                f"否决车型车辆 {i['vehicles']} 辆（上限 {i['max_vehicles']} 辆）；价值超限的车辆：{over}",
                f"Vehicles of a veto type: {i['vehicles']} (limit {i['max_vehicles']}); over "
                f"the value limit: {over}",
            )
        ]
    if code == "V02":
        return [
            ctx.t(
                f"住宅 {i['homes']} 套（上限 {i['max_residential_properties']} 套）；住宅面积（按产权份额）"
                f"{area(i['home_area'])}，上限 {area(i['residential_area_per_capita_limit'])} × "
                f"{i['n']} 人 = {area(i['area_limit'])}",
                f"Homes: {i['homes']} (limit {i['max_residential_properties']}); area by share "
                f"{area(i['home_area'], 'en')}, limit "
                f"{area(i['residential_area_per_capita_limit'], 'en')} × {i['n']} = "
                f"{area(i['area_limit'], 'en')}",
            )
        ]
    if code == "V04":
        return [
            ctx.t(
                f"家庭金融资产 {ctx.m(i['financial_assets'])} {op} {i['financial_asset_months']} 个月 × "
                f"低保标准 {ctx.m(i['standard'])} × {i['n']} 人 = {ctx.m(i['limit'])}",
                f"Financial assets {ctx.m(i['financial_assets'])} {op} "
                f"{i['financial_asset_months']} months × standard {ctx.m(i['standard'])} × {i['n']} = "
                f"{ctx.m(i['limit'])}",
            )
        ]
    if code == "V08":
        paid = [f"{ctx.who(p)} {ctx.m(v)}" for p, v in i["resident_contributions"].items() if v]
        return [
            ctx.t("城乡居民养老保险缴费：", "Resident pension contributions: ") + ctx.join(paid)
        ]
    if code in ("V09", "V10", "V14"):
        return [
            ctx.t(
                f"追溯期间：{i['after']} 之后至 {i['until']}（含）",
                f"Window: after {i['after']} up to {i['until']}",
            )
        ]
    if code == "V11":
        rows = [
            ctx.t(
                f"{ctx.who(p)} 系数 {ratio(c)} 拒绝 {n} 次",
                f"{ctx.who(p)} c {ratio(c)}, {n} refused",
            )
            for p, c, n in i["members"]
        ]
        return [ctx.t("；", "; ").join(rows)]
    if code == "V12":
        signed = ctx.t("已签署", "signed") if i["consent_signed"] else ctx.t("未签署", "not signed")
        return [ctx.t("核对授权书：", "Consent: ") + signed]
    if code == "V13":
        found = [labels.finding(f, ctx.lang) for f in i["findings"]]
        return [ctx.t("未如实申报疑点（§8）：", "Undeclared findings (§8): ") + ctx.join(found)]
    return []


def vetoes(rules: list[dict], summary: dict, ctx: Ctx) -> Step:
    """§6 as one table: each enabled rule with its threshold, this household's figures and
    the outcome, then the rules the pack leaves out."""
    rows, hits = [], set()
    for k, s in enumerate(rules):
        code, i, hit = s["label"], s["inputs"], bool(s["value"])
        check = _veto_measure(code, i, hit, ctx)
        detail = i.get("detail") or ""
        if hit and detail.startswith("records "):
            # as the finding's detail lists them: a record_id may itself hold ", ", so the
            # list is not split to be joined with 、 (a review found 'veh, 2024.csv:7' cut)
            check.append(ctx.t("触发记录：", "triggering records: ") + detail[len("records ") :])
        outcome = ctx.t("触发", "triggered") if hit else ctx.t("未触发", "not triggered")
        rows.append(
            [
                labels.veto(code, ctx.lang),
                rule_text(code, i, ctx.lang),
                ctx.t("；", "; ").join(check) or "—",
                outcome,
            ]
        )
        if hit:
            hits.add(k)
    enabled = summary["inputs"]["enabled_rules"]
    off = [c for c in labels.VETO if c not in enabled]
    if off:
        lines = [
            ctx.t("本政策未启用：", "Not enabled by the pack: ")
            + ctx.join(labels.veto(c, ctx.lang) for c in off)
        ]
    else:
        lines = [
            ctx.t(
                f"本政策启用全部 {len(labels.VETO)} 条否决规则，逐条核对如下：",
                f"The pack enables all {len(labels.VETO)} veto rules:",
            )
        ]
    header = [
        ctx.t(*x)
        for x in (
            ("规则", "rule"),
            ("条件", "condition"),
            ("本户核对情况", "this household"),
            ("结论", "outcome"),
        )
    ]
    found = [labels.veto(c, ctx.lang) for c in summary["value"]]
    return Step(
        "§6",
        ctx.sec("§6"),
        lines,
        ctx.t("一票否决：", "vetoes: ") + ctx.join(found),
        "hit" if found else "",
        Table(header, rows, marks=frozenset(hits), wrap=frozenset({1, 2})),
    )


# §7 status, benefit, circle, transition ------------------------------------------------


def checks(s: dict, ctx: Ctx) -> Step:
    i = s["inputs"]
    prev = labels.enum("prev_status", i["prev_status"], ctx.lang)
    lines = [
        ctx.t("第 1 步 一票否决：无", "1. Vetoes: none"),
        ctx.t(
            "第 2 步 特困供养：全体成员劳动力系数为 0 且年满 60 周岁、未满 16 周岁或重病/重度残疾 — "
            + ctx.yn(i["tekun_no_labour"])
            + "；无义务人或义务人均不核定赡养费 — "
            + ctx.yn(i["tekun_no_liable_supporter"])
            + "；家庭人均月收入低于低保标准 — "
            + ctx.yn(i["pci_below_standard"]),
            "2. Tekun: every member has coefficient 0 and is 60+, under 16 or seriously ill/"
            f"disabled — {ctx.yn(i['tekun_no_labour'])}; every supporter exempt — "
            f"{ctx.yn(i['tekun_no_liable_supporter'])}; pci below the standard — "
            f"{ctx.yn(i['pci_below_standard'])}",
        ),
        ctx.t(
            f"第 3 步 低保：家庭人均月收入低于低保标准 — {ctx.yn(i['pci_below_standard'])}",
            f"3. Dibao: pci below the standard — {ctx.yn(i['pci_below_standard'])}",
        ),
        ctx.t(
            f"第 4 步 家庭人均月收入不高于低收入标准 — {ctx.yn(i['pci_at_most_low_income'])}；上期状态"
            f" {prev}，上期待遇 {ctx.m(i['prev_benefit'], 'month')}",
            f"4. pci at most the low-income standard — {ctx.yn(i['pci_at_most_low_income'])}; "
            f"previous status {prev}, benefit {ctx.m(i['prev_benefit'], 'month')}",
        ),
    ]
    if i["pci_at_most_low_income"]:  # why a phase-out does or does not follow (§7.4)
        again = i["prev_status"] == "phase_out"
        lines[3] += ctx.t(
            f"；渐退（上期为低保且上期待遇大于 0）— {ctx.yn(i['prev_dibao_paid'])}"
            + ("（上期已在渐退期，不再渐退）" if again else ""),
            f"; phase-out (previously dibao with a benefit above 0) — "
            f"{ctx.yn(i['prev_dibao_paid'])}"
            + (" (a phase-out never starts a second)" if again else ""),
        )
    # the checks stop at the first that decides (§7.2 特困, §7.3 低保): a step 4 shown after
    # step 3 had decided 低保 ("— 是；上期状态 低保") read like 渐退 to an auditor
    if i["tekun_no_labour"] and i["tekun_no_liable_supporter"] and i["pci_below_standard"]:
        lines = lines[:2]
    elif i["pci_below_standard"]:
        lines = lines[:3]
    title = ctx.t("依次判断", "Checks in order")
    return Step("§7", title, lines)


def decision(s: dict, ctx: Ctx) -> Step:
    status, i, b = s["label"], s["inputs"], s["value"]
    name = labels.of(labels.STATUS, status, ctx.lang)
    pay = ctx.m(b, "month")
    outcome = name + ctx.t("，月救助金 ", ", monthly benefit ") + pay
    if status == "VETOED":
        lines = [
            ctx.t("一票否决：", "Vetoes: ")
            + ctx.join(labels.veto(c, ctx.lang) for c in i["vetoes"])
        ]
    elif status == "TEKUN":
        lines = [
            ctx.t(
                f"特困人员基本生活标准 = 低保标准 {ctx.m(i['standard'])} × {ratio(i['tekun_ratio'])} = "
                f"{ctx.m(i['per_person'], 'person_month')}",
                f"Tekun standard = standard {ctx.m(i['standard'])} × {ratio(i['tekun_ratio'])} = "
                f"{ctx.m(i['per_person'], 'person_month')}",
            ),
            ctx.t(
                f"月救助金 = {ctx.m(i['per_person'])} × {i['n']} 人，四舍五入到元 = {pay}",
                f"Benefit = {ctx.m(i['per_person'])} × {i['n']}, rounded half up to the yuan = {pay}",
            ),
        ]
    elif status == "DIBAO":
        lines = [
            ctx.t(
                f"补差 =（低保标准 {ctx.m(i['standard'])} − 家庭人均月收入 {ctx.m(i['pci'])}）× "
                f"{i['n']} 人 = {ctx.m(i['gap'])}",
                f"Top-up = (standard {ctx.m(i['standard'])} − pci {ctx.m(i['pci'])}) × {i['n']}"
                f" = {ctx.m(i['gap'])}",
            )
        ]
        kinds = i.get("addon_kinds_per_member") or [[] for _ in ctx.members]
        for pid, r, extra, kind in zip(
            ctx.members, i["addon_ratio_per_member"], i["addon_per_member"], kinds
        ):
            if r:
                why = ctx.join(labels.pick(labels.ADDON[k], ctx.lang) for k in kind)
                lines.append(
                    ctx.t(
                        f"分类施保：{ctx.who(pid)}（{why}）低保标准 × {ratio(r)} = {ctx.m(extra)}",
                        f"Add-on: {ctx.who(pid)} ({why}) standard × {ratio(r)} = {ctx.m(extra)}",
                    )
                )
        lines.append(
            ctx.t(
                f"月救助金 = {ctx.m(i['gap'])} + 分类施保 {ctx.m(i['addons'])}，四舍五入到元 = {pay}",
                f"Benefit = {ctx.m(i['gap'])} + add-ons {ctx.m(i['addons'])}, rounded half up to the "
                f"yuan = {pay}",
            )
        )
    elif status == "PHASE_OUT":
        lines = [
            ctx.t(
                f"上期为低保，本期家庭人均月收入 {ctx.m(i['pci'])} 不高于低收入标准 {ctx.m(i['low_income'])}"
                f"：按上期待遇 {ctx.m(i['prev_benefit'])}，四舍五入到元 = {pay}，渐退 "
                f"{i['months']} 个月",
                f"Previously dibao; pci {ctx.m(i['pci'])} at most the low-income standard "
                f"{ctx.m(i['low_income'])}: previous benefit {ctx.m(i['prev_benefit'])}, rounded half up "
                f"to the yuan = {pay}, for {i['months']} months",
            )
        ]
    elif status == "DIBAO_SINGLE":
        lines = _ill_member_gaps(i, i["members"], ctx)
        lines.append(
            ctx.t(
                f"合计 {ctx.m(sum(g for _, _, g in i['members']))}，四舍五入到元 = {pay}",
                f"Total {ctx.m(sum(g for _, _, g in i['members']))}, rounded half up to the "
                f"yuan = {pay}",
            )
        )
    elif status == "LOW_INCOME":
        lines = [
            ctx.t(
                f"家庭人均月收入 {ctx.m(i['pci'])} 不高于低收入标准 {ctx.m(i['low_income'])}",
                f"pci {ctx.m(i['pci'])} at most the low-income standard {ctx.m(i['low_income'])}",
            )
        ]
        ill = i.get("ill_members") or []  # why no single-person dibao
        lines += _ill_member_gaps(i, ill, ctx)
        if ill:
            lines.append(
                ctx.t(
                    f"合计 {ctx.m(sum(g for _, _, g in ill))}，四舍五入到元 = {ctx.m(b)}：不适用单人保",
                    f"Total {ctx.m(sum(g for _, _, g in ill))}, rounded half up to the yuan = "
                    f"{ctx.m(b)}: no single-person dibao",
                )
            )
    else:  # NOT_ELIGIBLE
        lines = [
            ctx.t(
                f"家庭人均月收入 {ctx.m(i['pci'])} 高于低收入标准 {ctx.m(i['low_income'])}",
                f"pci {ctx.m(i['pci'])} above the low-income standard {ctx.m(i['low_income'])}",
            )
        ]
    title = ctx.t("认定结果与救助金", "Status and benefit")
    return Step("§7", title, lines, outcome)


def _ill_member_gaps(i: dict, members: list, ctx: Ctx) -> list[str]:
    """§7 step 4: max(0, S − the member's own monthly income), one line a member (the
    single-person dibao's lines wrote "570.00 − 833.33 = 0.00", a blind audit found)."""
    return [
        ctx.t(
            f"{ctx.who(pid)}（重病或重度残疾）：max(0, 低保标准 {ctx.m(i['standard'])} − "
            f"本人月收入 {ctx.m(monthly)}) = {ctx.m(gap)}",
            f"{ctx.who(pid)} (serious illness or severe disability): max(0, standard "
            f"{ctx.m(i['standard'])} − own monthly income {ctx.m(monthly)}) = {ctx.m(gap)}",
        )
        for pid, monthly, gap in members
    ]


def circle(s: dict, ctx: Ctx) -> Step:
    i = s["inputs"]
    lines = [
        ctx.t(
            f"家庭人均月收入 {ctx.m(i['pci'])}；低保标准 {ctx.m(i['standard'])}；低收入标准 "
            f"{ctx.m(i['low_income'])}",
            f"pci {ctx.m(i['pci'])}; standard {ctx.m(i['standard'])}; low-income standard "
            f"{ctx.m(i['low_income'])}",
        ),
        ctx.t(
            f"一级信息圈：特困或低于低保标准；二级信息圈：不高于低收入标准；三级信息圈：不高于低收入标准 × "
            f"{ratio(i['circle3_ratio'])} = {ctx.m(i['circle3_bound'])}；四级信息圈：不高于低收入标准 × "
            f"{ratio(i['circle4_ratio'])} = {ctx.m(i['circle4_bound'])}；一票否决的家庭在圈外",
            f"Circle 1: tekun or below the standard; 2: at most L; 3: at most L × "
            f"{ratio(i['circle3_ratio'])} = {ctx.m(i['circle3_bound'])}; 4: at most L × "
            f"{ratio(i['circle4_ratio'])} = {ctx.m(i['circle4_bound'])}; vetoed households are "
            "outside",
        ),
    ]
    title = ctx.t("四级信息圈", "Information circle")
    return Step("§7", title, lines, labels.of(labels.CIRCLE, s["value"], ctx.lang))


def transition(s: dict, ctx: Ctx) -> Step:
    i = s["inputs"]
    prev = labels.enum("prev_status", i["prev_status"], ctx.lang)
    now = labels.of(labels.STATUS, i["status"], ctx.lang)
    lines = [
        ctx.t(
            f"上期：{prev}，待遇 {ctx.m(i['prev_benefit'], 'month')}；本期：{now}，待遇 "
            f"{ctx.m(i['benefit'], 'month')}",
            f"Before: {prev}, {ctx.m(i['prev_benefit'], 'month')}; now: {now}, "
            f"{ctx.m(i['benefit'], 'month')}",
        )
    ]
    title = ctx.t("动态管理", "Transition")
    return Step("§7", title, lines, labels.of(labels.TRANSITION, s["value"], ctx.lang))


# §8 findings, §9 index, §11 programs ---------------------------------------------------


def undeclared(s: dict, ctx: Ctx) -> Step:
    code, i, hit = s["label"], s["inputs"], bool(s["value"])
    op = ">" if hit else "≤"
    if code == "UNDECLARED_INCOME":
        lines = [
            ctx.t(
                f"核实月收入 = 核实年收入 {ctx.m(i['verified_income'])} ÷ 12 = "
                f"{ctx.m(i['verified_monthly'])}",
                f"Verified monthly income = {ctx.m(i['verified_income'])} ÷ 12 = "
                f"{ctx.m(i['verified_monthly'])}",
            ),
            ctx.t(
                f"容差 = max(申报 × {ratio(i['declaration_tolerance_ratio'])}, "
                f"{ctx.m(i['declaration_tolerance_abs'])}) = {ctx.m(i['tolerance'])}",
                f"Tolerance = max(declared × {ratio(i['declaration_tolerance_ratio'])}, "
                f"{ctx.m(i['declaration_tolerance_abs'])}) = {ctx.m(i['tolerance'])}",
            ),
            ctx.t(
                f"核实 {ctx.m(i['verified_monthly'])} {op} 申报 {ctx.m(i['declared'])} + 容差 "
                f"{ctx.m(i['tolerance'])}",
                f"verified {ctx.m(i['verified_monthly'])} {op} declared {ctx.m(i['declared'])} +"
                f" tolerance {ctx.m(i['tolerance'])}",
            ),
        ]
    elif code == "UNDECLARED_ASSETS":
        lines = [
            ctx.t(
                f"核实金融资产 {ctx.m(i['financial_assets'])} {op} 申报 {ctx.m(i['declared'])} + 容差"
                f" {ctx.m(i['tolerance'])}",
                f"verified {ctx.m(i['financial_assets'])} {op} declared {ctx.m(i['declared'])} + "
                f"tolerance {ctx.m(i['tolerance'])}",
            )
        ]
    else:
        what = (
            ctx.t(" 辆", " vehicles")
            if code == "UNDECLARED_VEHICLE"
            else ctx.t(" 处", " properties")
        )
        lines = [
            ctx.t(
                f"核实拥有 {i['owned']}{what} {op} 申报 {i['declared']}{what}",
                f"owned {i['owned']}{what} {op} declared {i['declared']}{what}",
            )
        ]
    outcome = ctx.t("发现疑点", "finding") if hit else ctx.t("未发现疑点", "no finding")
    # a check that found nothing is headed as a check, not as the finding it did not make
    title = (
        ctx.t("核对疑点：", "Finding: ") if hit else ctx.t("核对项目：", "Check: ")
    ) + labels.finding(code, ctx.lang)
    return Step("§8", title, lines, outcome, "hit" if hit else "")


def index(s: dict, ctx: Ctx) -> Step:
    i = s["inputs"]
    lines = [
        ctx.t(
            f"{ctx.who(p)}：年龄分 {a} + 健康分 {h} + 在学分 {st}",
            f"{ctx.who(p)}: age {a} + health {h} + school {st}",
        )
        for p, a, h, st in i["member_points"]
    ]
    lines.append(
        ctx.t(
            f"成员分 = min(上限 {i['member_cap']}, 合计 {i['member_sum']}) = {i['member']}",
            f"Member points = min(cap {i['member_cap']}, sum {i['member_sum']}) = {i['member']}",
        )
    )
    if i["pci"] < i["standard"]:
        lines.append(
            ctx.t(
                f"收入分 =（低保标准 {ctx.m(i['standard'])} − 家庭人均月收入 {ctx.m(i['pci'])}）× "
                f"{i['income_max']} ÷ 低保标准，四舍五入 = {i['income']}",
                f"Income points = (standard {ctx.m(i['standard'])} − pci {ctx.m(i['pci'])}) × "
                f"{i['income_max']} ÷ standard, rounded half up = {i['income']}",
            )
        )
    else:
        lines.append(
            ctx.t("收入分：家庭人均月收入不低于低保标准，0 分", "Income points: pci ≥ standard, 0")
        )
    homes, vehicle, assets = i["penalties"]
    # whether the assets exceed the bound is said, not asserted (an auditor read "超过" of
    # 5,497.18 元 against 13,680.00 元), with the bound's factors as the V04 line has them
    over = ctx.yn(i["financial_assets"] > i["asset_bound"])
    n = len(i["member_points"])
    bound = (
        (
            f"{i['asset_penalty_months']} 个月 × 低保标准 {ctx.m(i['standard'])} × {n} 人 = "
            f"{ctx.m(i['asset_bound'])}"
        ),
        (
            f"{i['asset_penalty_months']} months × standard {ctx.m(i['standard'])} × {n} = "
            f"{ctx.m(i['asset_bound'])}"
        ),
    )
    lines.append(
        ctx.t(
            f"资产分 = max(0, {i['asset_max']} − 住宅（{i['homes']} 套）扣 {homes} − 有车"
            f"（{ctx.yn(i['any_vehicle'])}）扣 {vehicle} − 金融资产 {ctx.m(i['financial_assets'])} 是否超过"
            f" {bound[0]}（{over}）扣 {assets}) = {i['asset']}",
            f"Asset points = max(0, {i['asset_max']} − homes ({i['homes']}) {homes} − "
            f"vehicle ({ctx.yn(i['any_vehicle'])}) {vehicle} − assets "
            f"{ctx.m(i['financial_assets'])} over {bound[1]} ({over}) {assets}) = {i['asset']}",
        )
    )
    outcome = ctx.t(
        f"困难指数 = min(1000, {i['member']} + {i['income']} + {i['asset']}) = {s['value']}",
        f"index = min(1000, {i['member']} + {i['income']} + {i['asset']}) = {s['value']}",
    )
    return Step("§9", ctx.sec("§9"), lines, outcome)


def programs(trace: list[dict], ctx: Ctx) -> Step:
    lines = []
    for s in trace:
        i, name = s["inputs"], labels.program(s["label"], ctx.lang)
        fits = i["status"] in i["statuses"] and i["status"] != "VETOED"
        need = labels.of(labels.PROGRAM_REQUIRES, i["requires"], ctx.lang)
        verdict = ctx.t("可享受", "eligible") if s["value"] else ctx.t("不可享受", "not eligible")
        gap = ""
        if s["value"] and not i["current"]:
            gap = ctx.t("，尚未享受 → 漏救", ", not received → missed")
        elif i["current"] and not s["value"]:
            gap = ctx.t("，已享受 → 错救", ", received → undue")
        lines.append(
            ctx.t(
                f"{name}：本户认定结果在该项目适用范围内 — {ctx.yn(fits)}；条件“{need}” — "
                f"{ctx.yn(i['requirement_holds'])} → {verdict}{gap}",
                f"{name}: status qualifies — {ctx.yn(fits)}; condition '{need}' — "
                f"{ctx.yn(i['requirement_holds'])} → {verdict}{gap}",
            )
        )
    eligible = [labels.program(s["label"], ctx.lang) for s in trace if s["value"]]
    return Step("§11", ctx.sec("§11"), lines, ctx.t("可享受：", "eligible: ") + ctx.join(eligible))
