"""The report's words in both languages: section titles and notes, table column heads,
and the helpers that put a zh/en pair on the page for the toggle to pick from."""

from __future__ import annotations

import html

from meanstest import labels

T = {
    "title": ("社会救助年度复核报告", "Social assistance annual review"),
    "read": ("读取家庭记录（条）", "households rows read"),
    "assessed": ("已核定（户）", "assessed"),
    "rejected": ("退回：数据有误的家庭记录（条）", "households rows rejected: bad input"),
    "benefit": ("月救助金总额", "total monthly benefit"),
    # recipients: TEKUN, DIBAO, DIBAO_SINGLE and PHASE_OUT (batch.ENROLLED), a DIBAO of
    # 0 元 included, which RULES.md §7's "enrolled" (transitions) does not count; said on
    # the page, where an officer read it as RULES.md's (a blind test)
    "mean": (
        "受助家庭户均月救助金（含渐退期及月救助金 0 元的家庭）",
        "mean monthly benefit per recipient household (phase-out and 0-yuan households included)",
    ),
    "provisional": ("暂定结果：有部门未核对（户）", "provisional: a source not checked"),
    "unmatched": ("未匹配到家庭的部门记录（条）", "source rows matching no household"),
    "orphans": (
        "不属于任何家庭的成员、义务人记录（条，未核算）",
        "persons/supporters rows of no household (not assessed)",
    ),
    "paid_rejected": (
        "被退回但上期在保的家庭记录（条）",
        "rejected households rows that were being paid",
    ),
    "findings": (
        "核对疑点（含漏救、错救）",
        "Verification findings (missed and undue help included)",
    ),
    "findings_note": (
        (
            "一户可有多条疑点；每类疑点下列出条数和涉及户数。逐户疑点见 findings.parquet，"
            "逐户核算过程用 meanstest explain 查看。"
        ),
        (
            "A household may have several findings; each kind shows findings and households. "
            "Per household: findings.parquet, and meanstest explain for the calculation."
        ),
    ),
    "many_rules": (
        "一户触发多条规则时每条都计入，合计可多于户数。",
        "A household counts under every rule it meets: totals may exceed the households.",
    ),
    "paid_rejected_note": (
        (
            "这些家庭因数据有误被退回，本期未核定；上期仍在领取救助金（低保、特困、渐退，或上期状态本身有误），"
            "需人工处理。列出按户号前 50 户及各户前 3 条退回原因，全部见 rejects.parquet 与数据包。"
        ),
        (
            "Rejected for bad input, so not assessed now, though they were being paid (dibao, "
            "tekun, phase-out, or a previous status that is itself bad data): they need a "
            "decision by hand. The first 50 by household id, each with its first 3 reasons; "
            "all in rejects.parquet and the bundle."
        ),
    ),
    "changes_note": (
        (
            "新增纳入（含主动发现）按困难排序列出前 50 户，即应优先入户核查的家庭；其余各列按户号列出"
            "前 50 户。完整清单见 changes_*.parquet，逐户核算过程用 meanstest explain 查看。"
        ),
        (
            "Newly enrolled (found by recomputation included): the 50 most difficult by rank, "
            "the households to visit first; the other lists: the first 50 by household id. "
            "Full lists: changes_*.parquet; each household's calculation: meanstest explain."
        ),
    ),
    "absent": ("数据包缺少的部门数据表", "Department tables absent from the bundle"),
    "absent_note": (
        (
            "以上部门数据表不在数据包中，核算时视为所有家庭在该部门均无记录。若系部门数据未送达，"
            "相关否决与补差金额可能有误，应补齐数据后重新核算。"
        ),
        (
            "These tables are not in the bundle: every household was assessed as having no "
            "records there (DATA.md: an absent source table has no rows). If a department's "
            "export did not arrive, vetoes and benefits may be wrong: add it and review again."
        ),
    ),
    "ingest": ("数据导入提示", "What the ingest of the bundle said"),
    "ingest_note": (
        (
            "以上为数据包由 meanstest ingest 导入时给出的提示（原文）。其中被隔离的原始记录"
            "（quarantine.parquet）未计入所涉家庭的核算，这些家庭的结果须人工核实后方可据以发放；"
            "重复文件、重复编号等其他提示的详情见数据包中的 ingest.json。"
        ),
        (
            "These are the ingest's own words about the bundle. Rows it quarantined "
            "(quarantine.parquet) are missing from the assessment of the households they "
            "belong to: check those results by hand before paying on them. Its other "
            "warnings (copies, repeated keys, orphan rows) are detailed in ingest.json in "
            "the bundle."
        ),
    ),
    "status": ("认定结果分布（户）", "Status (households)"),
    "circle": ("四级信息圈（户）", "Information circles (households)"),
    "benefit_dist": ("受助家庭月救助金分布（户）", "Monthly benefit of recipients (households)"),
    "veto": ("一票否决规则触发次数（户）", "Vetoes triggered (households)"),
    "transition": ("动态管理变化（户）", "Transitions (households)"),
    "index": ("家庭困难指数分布（户）", "Difficulty index (households)"),
    "top": ("最困难家庭（前 20 户）", "Most difficult households (top 20)"),
    "jurisdiction": ("分地区", "By jurisdiction"),
    "changes": ("变化清单", "Change lists"),
    "rejects": ("退回原因", "Rejects by reason"),
    "legend": ("代码说明", "What the codes mean"),
    "packs": ("所用政策包与核算引擎", "Policy packs and engine used"),
    "programs": ("分项目漏救与错救（主动发现）", "Missed and undue help by program"),
    "programs_note": (
        "漏救：符合该项目条件而未享受；错救：享受该项目而不符合条件（按户计）。",
        (
            "Missed: qualifies for the program and does not receive it; undue: receives it "
            "and does not qualify (households)."
        ),
    ),
    "packs_note": (
        (
            "政策包摘要（policy_digest）是展开后政策参数的 SHA-256，可与发布的政策包摘要逐一核对；"
            "核算引擎版本见 meanstest --version。"
        ),
        (
            "policy_digest is the SHA-256 of the resolved pack's parameters: compare it with "
            "the published pack's; the engine version is meanstest --version's."
        ),
    ),
    "bins": (
        "区间含下限、不含上限；救助金均为整元。",
        "Each bin includes its lower bound, not its upper; benefits are whole yuan.",
    ),
    "top_note": (
        (
            "排序按困难指数从高到低（同分按户号），本次核定的全部家庭都参与排序，"
            "一票否决的家庭也在内，其认定结果见“认定结果”列。"
        ),
        (
            "Ranked by difficulty index, highest first (ties by household id), over every "
            "household assessed, vetoed ones included: see their status."
        ),
    ),
    "index_bins": ("困难指数 0–1000，越高越困难。", "Index 0–1000; higher is more difficult."),
}
COLUMNS = {  # report table columns: (zh, en)
    "rank": ("排序", "rank"),
    "household_id": ("户号", "household"),
    "difficulty_index": ("困难指数", "difficulty index"),
    "status": ("认定结果", "status"),
    "benefit": ("月救助金", "monthly benefit"),
    "pci": ("家庭人均月收入", "per-capita monthly income"),
    "circle": ("信息圈", "circle"),
    "prev_status": ("上期状态", "previous status"),
    "prev_benefit": ("上期月救助金", "previous monthly benefit"),
    "jurisdiction": ("行政区划", "jurisdiction"),
    "households": ("家庭（户）", "households"),
    "rows": ("家庭记录（条）", "households rows"),  # a household_id twice is two rows
    "assessed": ("已核定（户）", "assessed"),
    "enrolled": ("纳入保障（户，含渐退期）", "enrolled (phase-out included)"),
    "reason": ("退回原因", "reason"),
    "reasons": ("退回原因（前 3 条）", "reasons (the first 3)"),
    "program": ("救助项目", "program"),
    "missed": ("漏救（户）", "missed (households)"),
    "undue": ("错救（户）", "undue (households)"),
    "code": ("疑点", "finding"),
    "findings": ("疑点（条）", "findings"),
    "provisional": ("暂定结果", "provisional"),
    "policy_id": ("政策包", "policy pack"),
    "policy_digest": ("政策包摘要", "policy digest"),
    "engine_version": ("核算引擎版本", "engine version"),
}
MONEY = ("benefit", "pci", "prev_benefit")


def _b(zh: str, en: str) -> str:
    """Both languages; the page shows the one chosen by the toggle."""
    return f"<span lang='zh'>{html.escape(zh)}</span><span lang='en'>{html.escape(en)}</span>"


def _t(key: str) -> str:
    return _b(*T[key])


def _name(table: dict, code) -> tuple[str, str]:
    return labels.of(table, code, "zh"), labels.of(table, code, "en")
