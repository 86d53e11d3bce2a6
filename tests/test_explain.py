"""`meanstest explain` (issues 6 and 14): the reference calculator's trace of one household
as a 核算/核对 document an official can sign — Chinese by default, English with --lang en,
text or HTML; amounts in yuan, codes by name, each step with its RULES.md section and its
thresholds written out, findings with their evidence records, policy and input digests.
JSON stays the machine trace (codes, integer fen). A household that is not assessed is
one clear error."""

import datetime as dt
import html
import json
import re

import pyarrow.parquet as pq
import pytest
from builders import engine_input, household, pack, person, record, supporter
from chromium import dom, needs_chromium, screenshot

from meanstest import cli, labels, schema, synth
from meanstest.amounts import money
from meanstest.bundle import write_bundle
from meanstest.explain import render, trace_household
from meanstest.policy import default_library
from meanstest.review import ReviewOptions, run_review

STATUS_CODES = re.compile(r"\b(" + "|".join(schema.STATUSES + schema.TRANSITIONS) + r")\b")
PY_REPRS = re.compile(r"\b(True|False|None)\b|\{'|\['|\bnan\b")


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """60 households (bad rows included), reviewed: the results an explanation must match."""
    path = tmp_path_factory.mktemp("bundle")
    write_bundle(synth.generate(60, seed=17, bad_fraction=0.05), path)
    out = tmp_path_factory.mktemp("review")
    run_review(path, out, default_library(), ReviewOptions(quiet=True))
    return path, pq.read_table(out / "results.parquet").to_pylist()


def _explain(capsys, *args):
    code = cli.main(["explain", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def human_part(text: str) -> str:
    """The document without its machine-check line (codes and fen, said to be so)."""
    return "\n".join(line for line in text.splitlines() if "status=" not in line)


def visible_text(page: str) -> str:
    body = re.sub(r"<style>.*?</style>", "", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


# The worked example of RULES.md §10, as the document shows it ---------------------------


def worked_example():
    head = person(dt.date(1979, 3, 10), health=2, occupation="farming")
    spouse = person(dt.date(1981, 11, 2), relation="spouse", health=4, occupation="flexible")
    son = person(dt.date(2007, 9, 1), relation="child", student_level="senior", tuition=450000)
    records = [
        record(
            "social_insurance",
            spouse,
            "SI-1",
            record_type="medical_settlement",
            amount=3000000,
            reimbursed=1800000,
            scheme="none",
        ),
        record("bank", head, "BNK-1", balance=800000, interest=12000),
    ]
    members = [{"household_id": "H1", **m} for m in (head, spouse, son)]
    return trace_household(engine_input([household()], members, records=records), "H1")


def test_worked_example_reads_in_yuan_with_every_threshold_written_out():
    """RULES.md §10 in the document: the same numbers as the spec, in yuan."""
    text = render(worked_example(), "zh", "text")
    for line in (
        "认定结果        低保（补差）",
        "月救助金        1,710.00 元/月",
        "成员1：年龄 45 岁（年龄段 41–50 岁），健康状况 2 一般慢性病 → 系数表第 2 行第 2 列 = 0.7",
        (
            "土地经营收入（推算）：劳动力系数 0.7 × 上年度农牧民人均可支配收入 21,200.00 元 × 0.6 "
            "= 8,904.00 元"
        ),
        "务工收入（推算）：劳动力系数 0.3 × 最低工资标准 1,980.00 元/月 × 8 个月 = 4,752.00 元",
        # the sum names each member's employment part as the line above it (a blind
        # check: imputed land income was summed as 务工)
        "成员年收入 = 土地经营收入（推算）8,904.00 元 + 经营所得 0.00 元",
        "成员年收入 = 务工收入（推算）4,752.00 元 + 经营所得 0.00 元",
        "成员3：年龄 16 岁，全日制在校生（高中），不计劳动力 = 0",
        (
            "医疗支出 = min(年度上限 60,000.00 元, 个人自付（逐条 max(0, 费用 − 报销) 之和）"
            "12,000.00 元) = 12,000.00 元"
        ),
        "教育支出：成员3（高中）学费 4,500.00 元，上限 3,000.00 元 → 3,000.00 元",
        (
            "扣除刚性支出 N = max(0, G 13,776.00 元 − 医疗 12,000.00 元 − 教育 3,000.00 元 − "
            "养老 0.00 元) = 0.00 元"
        ),
        "家庭金融资产 8,000.00 元 ≤ 24 个月 × 低保标准 570.00 元 × 3 人 = 41,040.00 元",
        "补差 =（低保标准 570.00 元 − 家庭人均月收入 0.00 元）× 3 人 = 1,710.00 元",
        "收入分 =（低保标准 570.00 元 − 家庭人均月收入 0.00 元）× 400 ÷ 低保标准，四舍五入 = 400",
        "→ 困难指数 = min(1000, 110 + 400 + 200) = 710",
        "→ 一级信息圈（特困、低保）",
        "→ 新增纳入",
    ):
        assert line in text, line
    # the sections in RULES.md order, each step naming its section
    sections = re.findall(r"^\[(§\d+)\]", text, flags=re.MULTILINE)
    assert sections[0] == "§2" and sections[-1] == "§11"
    assert sorted(set(sections), key=sections.index) == ["§2", "§3", "§5", "§6", "§7", "§9", "§11"]


def test_worked_example_in_english():
    text = render(worked_example(), "en", "text")
    assert "Monthly benefit            1,710.00 yuan/month" in text
    assert (
        "Financial assets 8,000.00 yuan ≤ 24 months × standard 570.00 yuan × 3 = 41,040.00" in text
    )
    data = ("巴林左旗", "农村信用合作联社")  # the pack's name and a bank's: data, not words
    words = human_part(text)
    for name in data:
        words = words.replace(name, "")
    assert not re.search(r"[\u4e00-\u9fff]", words), "Chinese words in the English document"


def test_the_document_is_written_from_the_trace_not_recomputed():
    """Change a recorded value and the document says the changed value: it words the
    reference calculator's trace and computes nothing of its own."""
    ex = worked_example()
    (pci,) = [s for s in ex["steps"] if s["label"] == "pci"]
    pci["inputs"]["financial_assets"] = 123456
    (v04,) = [s for s in ex["steps"] if s["label"] == "V04"]
    v04["inputs"]["financial_assets"] = 123456
    text = render(ex, "zh", "text")
    assert "家庭金融资产 1,234.56 元 ≤ 24 个月" in text
    assert "FA（成员银行、理财等余额合计）= 1,234.56 元" in text


def test_records_used_for_income_are_the_ones_counted():
    """§3's "records used" are the records whose amounts enter the member's income: it
    listed every tax, bank, property and social-insurance row of the person, so a
    medical settlement or a pension contribution read as income (an auditor's blind
    check). A tax row of interest is not counted (interest comes from the bank), nor is
    a property disposed before D."""
    head = person(dt.date(1970, 1, 1))
    si = {"amount": 100000, "reimbursed": 0, "scheme": "resident"}
    records = [
        record("tax_income", head, "T-WAGE", income_type="wage", amount=500000),
        record("tax_income", head, "T-INT", income_type="interest", amount=1000),
        record("bank", head, "B-1", balance=100000, interest=2000),
        record("property", head, "P-NOW", rental_income=12000, share=1000),
        record("property", head, "P-GONE", disposed_on=dt.date(2020, 1, 1)),
        record("social_insurance", head, "S-PENSION", record_type="pension_benefit", **si),
        record("social_insurance", head, "S-CONTRIB", record_type="pension_contribution", **si),
        record("social_insurance", head, "S-MEDICAL", record_type="medical_settlement", **si),
    ]
    ex = trace_household(
        engine_input([household()], [{"household_id": "H1", **head}], records=records), "H1"
    )
    (income,) = [s for s in ex["steps"] if s["section"] == "§3" and "records" in s["inputs"]]
    assert income["inputs"]["records"] == ["T-WAGE", "B-1", "P-NOW", "S-PENSION"]


def _document(households, members, supporters=(), records=()) -> str:
    rows = [{"household_id": "H1", **m} for m in members]
    sups = [{"household_id": "H1", **x} for x in supporters]
    ex = trace_household(engine_input(households, rows, sups, list(records)), "H1")
    return render(ex, "zh", "text")


def test_the_figures_behind_a_raised_ratio_a_phase_out_and_no_single_dibao_are_written():
    """An auditor's blind check found three conclusions without their figures: which of
    §4's conditions raised a supporter's ratio, the rounding of a phase-out's previous
    benefit to the yuan (§7.4, yuan()), and why a seriously ill member gets no single-
    person dibao (§7.4: max(0, S − own monthly income), summed and rounded)."""
    sup = supporter(dt.date(1975, 1, 1))
    homes = [record("property", sup, f"P{k}", property_id=f"PID{k}", use="residential")
             for k in range(3)]  # fmt: skip
    text = _document([household()], [person(dt.date(1950, 1, 1))], [sup], homes)
    assert "拥有大宗资产、豪华车辆或高档住宅加计 0.05 = 0.13（住宅 3 套 > 1 套）" in text

    worker = person(dt.date(1980, 1, 1), occupation="flexible")
    wage = record("tax_income", worker, "W", income_type="wage", amount=840_000)  # 700 元/月
    text = _document([household(prev_status="dibao", prev_benefit=212_149)], [worker], (), [wage])
    assert "按上期待遇 2,121.49 元，四舍五入到元 = 2,121.00 元/月，渐退 6 个月" in text

    ill = person(dt.date(1980, 1, 1), occupation="flexible", health=5)
    wage = record("tax_income", ill, "W2", income_type="wage", amount=840_000)
    text = _document([household()], [ill], (), [wage])
    assert "max(0, 低保标准 570.00 元 − 本人月收入 700.00 元) = 0.00 元" in text
    assert "合计 0.00 元，四舍五入到元 = 0.00 元：不适用单人保" in text


def test_step_4_says_whether_a_phase_out_follows_and_why_not_a_second():
    """§7.4: pci between S and L phases out only a household paid dibao last year, and
    prev phase_out is read as low_income. A blind two-year review found a former phase-
    out household's document going from "previous status phase-out" to "low-income"
    without the rule that decided it."""
    worker = person(dt.date(1980, 1, 1), occupation="flexible")
    wage = record("tax_income", worker, "W", income_type="wage", amount=840_000)  # 700 元/月
    step4 = "第 4 步 家庭人均月收入不高于低收入标准 — 是；上期状态 "
    cases = [
        ({"prev_status": "dibao", "prev_benefit": 50_000}, "低保", "是", "", "渐退期"),
        ({"prev_status": "dibao", "prev_benefit": 0}, "低保", "否", "", "低收入家庭"),
        ({"prev_status": "phase_out", "prev_benefit": 87_300}, "渐退期", "否",
         "（上期已在渐退期，不再渐退）", "低收入家庭"),
    ]  # fmt: skip
    for row, prev, yes, again, status in cases:
        text = _document([household(**row)], [worker], (), [wage])
        assert f"{step4}{prev}，上期待遇 " in text
        assert f"；渐退（上期为低保且上期待遇大于 0）— {yes}{again}" in text
        assert f"→ {status}，月救助金 " in text
    english = render(
        trace_household(
            engine_input([household(prev_status="phase_out", prev_benefit=87_300)],
                         [{"household_id": "H1", **worker}], [], [wage]), "H1"),
        "en", "text",
    )  # fmt: skip
    assert (
        "; phase-out (previously dibao with a benefit above 0) — no (a phase-out never" in english
    )


def test_every_figure_of_single_dibao_transfers_medical_and_support_follows_from_the_text():
    """A blind audit recomputed each figure from the document: a single-person dibao's
    member line wrote "570.00 − 833.33 = 0.00" (§7.4 is max(0, S − income)) and its
    total skipped the sum before rounding; the transfers left a pension-contribution
    record out without saying which record types the pack counts (§3); "cost −
    reimbursed" over the records shown gave another out-of-pocket figure than the sum
    of max(0, ·) per record (§5); a supporter with records but no counted income was
    "no income records" (§4: I = 0); and no line said how fractions of a fen round."""
    ill = person(dt.date(1970, 1, 1), health=5)  # 10,000 元/年 of pension: 833.33 元/月
    sick = person(dt.date(1971, 1, 1), health=6, relation="spouse")
    worker = person(dt.date(1994, 1, 1), occupation="flexible", relation="child")
    sup = supporter(dt.date(1960, 1, 1))
    si = {"amount": 1_000_000, "reimbursed": 0}
    records = [
        record("social_insurance", ill, "SI-P", record_type="pension_benefit", **si),
        record("social_insurance", ill, "SI-M1", record_type="medical_settlement",
               amount=2_000_000, reimbursed=1_000_000),
        record("social_insurance", ill, "SI-M2", record_type="medical_settlement",
               amount=100_000, reimbursed=150_000),
        record("social_insurance", sup, "SI-U", record_type="pension_contribution", **si),
        record("tax_income", worker, "W", income_type="wage", amount=3_000_000),
    ]  # fmt: skip
    rows = [{"household_id": "H1", **m} for m in (ill, sick, worker)]
    ex = trace_household(
        engine_input([household()], rows, [{"household_id": "H1", **sup}], records), "H1"
    )
    assert ex["result"]["status"] == "DIBAO_SINGLE"
    zh, en = render(ex, "zh", "text"), render(ex, "en", "text")
    assert "max(0, 低保标准 570.00 元 − 本人月收入 833.33 元) = 0.00 元" in zh
    assert "合计 570.00 元，四舍五入到元 = 570.00 元" in zh
    assert "max(0, standard 570.00 yuan − own monthly income 833.33 yuan) = 0.00 yuan" in en
    assert "Total 570.00 yuan, rounded half up to the yuan = 570.00 yuan" in en
    counted = "工伤保险待遇、养老金、失业保险金"  # the default pack's, sorted by code
    assert f"社保待遇（本政策计入：{counted}）10,000.00 元" in zh
    assert "transfers (the policy counts: " in en
    assert "个人自付（逐条 max(0, 费用 − 报销) 之和）10,000.00 元" in zh
    assert "out of pocket (the sum over records of max(0, cost − reimbursed)) 10,000.00" in en
    assert "计入收入 I 为 0，按劳动力推算" in zh and "无收入记录" not in zh
    assert "不足一分的部分四舍五入到分，救助金四舍五入到元" in zh
    assert "rounded half up to the fen, and a benefit half up to the whole yuan" in en


def test_tuition_at_a_level_without_a_cap_is_shown_as_not_deducted():
    """§5: "levels without a cap deduct 0". A blind audit found a junior pupil's tuition
    left out of the document without a word when another member's was deducted."""
    head = person(dt.date(1980, 1, 1))
    pupil = person(dt.date(2010, 1, 1), relation="child", student_level="junior", tuition=100_000)
    senior = person(dt.date(2007, 1, 1), relation="child", student_level="senior", tuition=450_000)
    text = _document([household()], [head, pupil, senior])
    assert "（初中）学费 1,000.00 元，本政策对该学段不设扣减 → 0.00 元" in text
    assert "（高中）学费 4,500.00 元，上限 3,000.00 元 → 3,000.00 元" in text
    assert "无处于可扣减学段的成员" not in text


def test_tax_rows_of_interest_and_rent_are_named_as_not_counted():
    """§3: tax rows of type interest and rental are informational and not counted. A
    blind audit found them left out of the member's income without a word."""
    head = person(dt.date(1980, 1, 1), occupation="flexible")
    rows = [record("tax_income", head, "T-INT", income_type="interest", amount=5_000),
            record("tax_income", head, "T-RENT", income_type="rental", amount=7_000),
            record("tax_income", head, "T-WAGE", income_type="wage", amount=100_000)]  # fmt: skip
    text = _document([household()], [head], (), rows)
    assert "税务利息、租金类记录仅作参考、不计入" in text and "T-INT、T-RENT" in text
    assert "所用记录：T-WAGE" in text


def test_the_checks_stop_where_a_status_is_decided_and_the_asset_bound_is_not_asserted():
    """An auditor's blind check: §7's step 4 ("— 是；上期状态 低保") was printed after step
    3 had decided 低保 and read like 渐退; §9 said assets of 5,497.18 元 "超过" a bound of
    13,680.00 元 and left out the bound's "× n 人"."""
    text = render(worked_example(), "zh", "text")  # 低保 at step 3, assets under the bound
    assert "第 3 步 低保：家庭人均月收入低于低保标准 — 是" in text and "第 4 步" not in text
    assert (
        "金融资产 8,000.00 元 是否超过 6 个月 × 低保标准 570.00 元 × 3 人 = 10,260.00 元（否）扣 0"
        in text
    )
    assert "Checks" not in text
    english = render(worked_example(), "en", "text")
    assert "4. pci at most" not in english
    assert "over 6 months × standard 570.00 yuan × 3 = 10,260.00 yuan (no) 0" in english

    elder = person(dt.date(1940, 1, 1), occupation="none", health=6)  # 特困: steps 1 and 2
    text = _document([household()], [elder])
    assert "特困供养" in text and "第 2 步" in text and "第 3 步" not in text

    rich = person(dt.date(1980, 1, 1), occupation="flexible")  # above S: step 4 decides
    wage = record("tax_income", rich, "W", income_type="wage", amount=840_000)
    money_in_bank = record("bank", rich, "B", balance=500_000, interest=0)  # V04: 13,680
    text = _document([household(prev_status="dibao", prev_benefit=10_000)], [rich], (),
                     [wage, money_in_bank])  # fmt: skip
    assert "第 4 步 家庭人均月收入不高于低收入标准 — 是；上期状态 低保" in text
    assert "个月 × 低保标准 570.00 元 × 1 人 = 3,420.00 元（是）扣" in text


# Every household of a district ----------------------------------------------------------


def test_chinese_documents_have_no_codes_fen_or_python_reprs(district, capsys):
    path, results = district
    for row in results:
        code, out, _ = _explain(capsys, path, row["household_id"])
        assert code == 0
        human = human_part(out)
        assert out.startswith("家庭经济状况核算核对表")
        assert not STATUS_CODES.search(human), STATUS_CODES.search(human)
        assert not PY_REPRS.search(human), PY_REPRS.search(human)
        for veto in re.findall(r"V\d\d\S*", human):  # a veto code always with its rule's name
            assert (
                re.fullmatch(r"V\d\d", veto[:3])
                and f"{veto[:3]} {labels.VETO[veto[:3]][0]}" in human
            )
        assert f"月救助金        {money(row['benefit'], 'zh', 'month')}" in out
        for fen in (row["benefit"], row["gross_income"], row["financial_assets"]):
            if fen >= 10000:  # an amount in fen is never shown to people
                assert not re.search(rf"(?<![\d,.]){fen}(?![\d,.])", human), (
                    row["household_id"],
                    fen,
                )
        # the machine line agrees with the stored results, in fen, said so
        assert (
            f"status={row['status']} benefit={row['benefit']} pci={row['pci']} "
            f"circle={row['circle']} transition={row['transition']}"
        ) in out
        assert "金额单位为分" in out


def test_document_carries_the_digests_of_the_results_row(district, capsys):
    path, results = district
    row = results[0]
    _, out, _ = _explain(capsys, path, row["household_id"], "--format", "html")
    assert row["policy_digest"] in out and row["input_digest"] in out
    assert row["engine_version"] in out


def test_findings_show_their_evidence_records(district, capsys):
    path, results = district
    vetoed = [r for r in results if r["vetoes"]]
    assert vetoed, "the district has vetoed households"
    for row in vetoed[:8]:
        _, out, _ = _explain(capsys, path, row["household_id"], "--format", "json")
        trace = json.loads(out)
        _, text, _ = _explain(capsys, path, row["household_id"])
        findings = text.split("四、核对疑点")[1].split("五、核对记录")[0]
        for f in trace["findings"]:
            if f["code"] in row["vetoes"]:
                assert labels.veto(f["code"], "zh") in findings
            if f["record_id"]:  # the evidence record, described in words and yuan
                assert f["record_id"] + "：" in findings
        assert "→ 一票否决：" + "、".join(labels.veto(c, "zh") for c in row["vetoes"]) in text


def test_html_document_is_a_self_contained_printable_page(district, capsys):
    path, results = district
    code, out, _ = _explain(capsys, path, results[0]["household_id"], "--format", "html")
    assert code == 0 and out.lstrip().lower().startswith("<!doctype html")
    assert "@page" in out and "<script" not in out and "://" not in out
    text = visible_text(out)
    assert "一、认定结论" in text and "核算人" in text and "复核人" in text
    assert not STATUS_CODES.search(human_part(text))


def test_json_trace_stays_machine_readable(district, capsys):
    path, results = district
    row = results[1]
    code, out, _ = _explain(capsys, path, row["household_id"], "--format", "json")
    assert code == 0
    trace = json.loads(out)
    assert trace["household_id"] == row["household_id"]
    assert trace["policy_digest"] == row["policy_digest"]
    assert trace["input_digest"] == row["input_digest"]
    assert trace["result"]["benefit"] == row["benefit"]  # integer fen
    assert trace["result"]["status"] == row["status"]  # the code
    sections = {step["section"] for step in trace["steps"]}
    assert {"§2", "§3", "§5", "§6", "§7", "§9", "§11"} <= sections


def test_unknown_household_is_one_clear_error_in_the_chosen_language(district, capsys):
    path, _ = district
    code, out, err = _explain(capsys, path, "NO-SUCH-HOUSEHOLD")
    assert code == 1 and out == ""
    assert err.strip() == f"meanstest: error: 家庭 NO-SUCH-HOUSEHOLD 不在数据包 {path} 中"
    code, out, err = _explain(capsys, path, "NO-SUCH-HOUSEHOLD", "--lang", "en")
    assert code == 1 and out == ""
    assert err.strip() == (
        f"meanstest: error: household NO-SUCH-HOUSEHOLD is not in the bundle {path}"
    )


def test_rejected_household_is_one_error_with_its_reasons_in_words(district, capsys):
    """A household validation rejected has no calculation to explain: the error says so
    and gives every reject reason, named in the chosen language (issue 14 item 2)."""
    from meanstest.bundle import read_bundle
    from meanstest.validate import validate

    path, _ = district
    rejects = validate(read_bundle(path), default_library()).rejects.to_pylist()
    assert rejects, "the fixture's bad rows reject some households"
    hid, reasons = rejects[0]["household_id"], rejects[0]["reasons"]
    code, out, err = _explain(capsys, path, hid)
    assert code == 1 and out == ""
    assert err.startswith(f"meanstest: error: 家庭 {hid} 的数据未通过校验，未予核算：")
    for r in reasons:
        assert labels.reject_rule(r, "zh") in err
    code, out, err = _explain(capsys, path, hid, "--lang", "en")
    assert code == 1 and err.startswith(f"meanstest: error: household {hid} is rejected")
    assert all(labels.reject_rule(r, "en") in err for r in reasons)


# Rendered by Chromium: what an official sees and prints ---------------------------------


@needs_chromium
def test_explain_documents_render_in_chromium(district, capsys, tmp_path):
    """A vetoed and an enrolled household's documents, in Chinese, as Chromium renders
    them (screenshots printed for a person to look at)."""
    path, results = district
    vetoed = next(r for r in results if r["vetoes"])
    enrolled = next(r for r in results if r["status"] in ("DIBAO", "TEKUN"))
    for row in (vetoed, enrolled):
        _, out, _ = _explain(capsys, path, row["household_id"], "--format", "html")
        page = tmp_path / f"explain-{row['household_id']}.html"
        page.write_text(out, encoding="utf-8")
        text = visible_text(dom(page, tmp_path))
        assert "家庭经济状况核算核对表" in text and "一、认定结论" in text
        assert labels.STATUS[row["status"]][0] in text
        assert money(row["benefit"], "zh", "month") in text
        assert not STATUS_CODES.search(human_part(text))
        shot = screenshot(page, tmp_path, f"explain-{row['household_id']}", "900,3000")
        assert shot.stat().st_size > 10_000


def test_a_duplicate_person_names_the_other_households_and_counts_carry_units():
    """A verification officer's blind check: DUPLICATE_PERSON listed the document's own
    household among "also in" (§8), and counts of vehicles and properties were written
    three ways (0 / 1辆 / 1)."""
    head = person(dt.date(1970, 1, 5))
    car = record("vehicle", head, "VEH-1", value=100000, vehicle_type="motorcycle")
    inp = engine_input(
        [household(declared_vehicles=0, declared_properties=2)],
        [{"household_id": "H1", **head}],
        records=[car],
        duplicates={head["person_id"]: ["H0", "H1", "H9"]},
    )
    zh = render(trace_household(inp, "H1"), "zh", "text")
    en = render(trace_household(inp, "H1"), "en", "text")
    assert "该成员同时登记在户：H0、H9" in zh and "H0、H1" not in zh
    assert "also a member of households: H0, H9" in en
    assert re.search(r"申报车辆\s+0 辆", zh) and re.search(r"申报房产\s+2 处", zh)
    assert "核实拥有 1 辆 > 申报 0 辆" in zh  # the step and the findings table alike
    assert "核实拥有 1辆" not in zh
    assert "适用政策 " in zh.splitlines()[1]  # the header names the policy as a policy


def test_each_add_on_names_its_category():
    """§7.3 分类施保: the largest add-on a member qualifies for, named by its category (a
    blind check read "成员1 低保标准 × 0.1" without knowing why); two categories paying
    the same are both named."""
    old = person(dt.date(1950, 1, 1), health=6)  # 74: elderly and severely disabled
    ill = person(dt.date(1980, 1, 1), relation="spouse", health=5)
    child = person(dt.date(2015, 1, 1), relation="child")
    worker = person(dt.date(1984, 1, 1), relation="child")  # able to work: not TEKUN
    members = [{"household_id": "H1", **m} for m in (old, ill, child, worker)]
    same = pack(addons__elderly_70=300, addons__severe_disability=300)
    zh = render(
        trace_household(engine_input([household()], members, policies=[same]), "H1"), "zh", "text"
    )
    assert "分类施保：成员1（70 周岁以上老年人、重度残疾）低保标准 × 0.3" in zh
    assert "分类施保：成员2（重病）低保标准 × 0.3" in zh
    assert "分类施保：成员3（未满 16 周岁）低保标准 × 0.1" in zh
    usual = engine_input([household()], members)  # elderly 0.1 < severe disability 0.3
    en = render(trace_household(usual, "H1"), "en", "text")
    assert "Add-on: member 1 (severe disability) standard × 0.3" in en


def test_a_vetos_triggering_records_are_shown_as_the_finding_lists_them():
    """The records' list is the finding's detail as written: a record_id that holds ", "
    (an export's file and line) was cut at it and joined with 、 (a review of the
    Chinese punctuation found 'veh, 2024.csv:7' shown as 'veh、2024.csv:7')."""
    owner = person(dt.date(1980, 1, 1))
    cars = [record("vehicle", owner, rid, value=90_000_000) for rid in ("veh, 2024.csv:7", "V2")]
    text = _document([household(declared_vehicles=2)], [owner], (), cars)
    assert "触发记录：V2, veh, 2024.csv:7" in text, text
    ex = trace_household(
        engine_input([household(declared_vehicles=2)], [{"household_id": "H1", **owner}],
                     records=cars), "H1",
    )  # fmt: skip
    assert "triggering records: V2, veh, 2024.csv:7" in render(ex, "en", "text")


@pytest.mark.parametrize(
    "household, others, rest",
    [("H0005", 19, 5), ("H0099", 20, 4)],  # the document's household named, or counted
)
def test_a_duplicate_person_of_many_households_says_how_many_more(household, others, rest):
    """engine.duplicate_detail names the first 20 households and counts the rest; the
    document names the others among those 20 and counts the remaining others."""
    from meanstest.engine import duplicate_detail
    from meanstest.explain.context import Ctx
    from meanstest.explain.tables import finding_detail

    ids = [f"H{i:04d}" for i in range(24)] + ["H0099"]
    f = {"code": "DUPLICATE_PERSON", "detail": duplicate_detail(ids)}
    en = finding_detail(f, Ctx("en", [], [], household))
    zh = finding_detail(f, Ctx("zh", [], [], household))
    shown = [h for h in ids[:20] if h != household]
    assert len(shown) == others
    assert en == "also a member of households: " + ", ".join(shown) + f" and {rest} more"
    assert zh.endswith(f"等，另有 {rest} 户") and household not in zh


def test_the_chinese_document_uses_the_seeds_words_for_supporters_and_checks(district, capsys):
    """A civil-affairs reviewer's reading against the seeds: a supporter who is a dibao
    recipient, ill, imprisoned or a student still owes support, the fee is only not
    assessed (004: 可不核定赡养费), so not "免除赡养义务"; a check that found nothing is
    not headed with the finding's name as if it were one."""
    path, results = district
    said = []
    for row in results:
        code, out, _ = _explain(capsys, path, row["household_id"])
        assert code == 0
        said.append(human_part(out))
    text = "\n".join(said)
    assert "免除赡养义务" not in text and "无义务人或义务人均不核定赡养费" in text
    assert "不核定赡养费：" in text  # an exempt supporter's §4 step
    for doc in said:
        for block in doc.split("[§8]")[1:]:
            head, _, rest = block.partition("\n")
            outcome = rest.split("[§")[0]
            assert ("核对疑点：" in head) == ("未发现疑点" not in outcome), (head, outcome)


def test_control_characters_of_a_data_value_are_shown_not_acted_on_in_the_text():
    """A bank's institution name with a CR, a TAB and a terminal escape: the text
    document printed them raw, where a terminal returns the carriage and the rest of the
    line overwrites what was printed (a blind audit). They are written as escapes."""
    who = person(dt.date(1980, 1, 1))
    name = "农村信用社\r伪造的结论\t\x1b[31m\u202e"
    bank = record("bank", who, "B-CTRL", institution=name)
    text = _document([household()], [who], (), [bank])
    assert "农村信用社\\r伪造的结论\\t\\u001b[31m\\u202e" in text
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", text)
