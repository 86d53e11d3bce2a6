"""Chinese texts take Chinese punctuation (GB/T 15834-2011): a native-Chinese verification
officer found ASCII `, : ; ( ) ? !` and a sentence-ending `.` inside Chinese sentences of
the explain documents, report.html and the labels, where Chinese typesetting writes
`，：；（）？！。` (and `、` for lists).

The check renders real outputs of a synthetic district — `meanstest explain … --lang zh`
in text, HTML and JSON for households of every status, with every finding code, add-ons
and supporters, the errors of rejected households, and report.html's Chinese view — and
flags an ASCII mark that touches a CJK character (adjacent, or separated by spaces only).
What keeps ASCII is taken out first, and only that: values the data holds (record_ids,
IDs, names, shown exactly as written), quoted input values of reject reasons, the
function-call syntax of `max(…)` / `min(…)` formulas, and the CLI's own English
`meanstest: error: ` prefix. Numbers, dates, codes and file names never touch a CJK
character with their own ASCII marks, so they need no exception.
"""

from __future__ import annotations

import html
import json
import re

import pyarrow.parquet as pq
import pytest

from meanstest import cli, labels, schema
from meanstest.bundle import read_bundle
from meanstest.policy import default_library
from meanstest.report import T, write_report
from meanstest.report.words import COLUMNS
from meanstest.review import ReviewOptions, run_review

CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"  # with full-width
IS_CJK = re.compile(f"[{CJK}]")
MARKS = ",:;()?!"
FULL_WIDTH = re.compile("[，：；（）？！。、]")


# The check ------------------------------------------------------------------------------


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + "_" * (end - start) + text[end:]


def _without_calls(text: str) -> str:
    """`max(a, b)` / `min(a, b)`: the call's own parentheses and argument commas are
    formula syntax (RULES.md writes them so); what the arguments say is still checked."""
    out = list(text)
    for m in re.finditer(r"\b(?:max|min)\(", text):
        i = m.end() - 1
        out[i], depth, i = "_", 1, i + 1
        while i < len(text) and depth:
            c = text[i]
            if c in "(（":
                depth += 1
            elif c in ")）":
                depth -= 1
                if depth == 0:
                    out[i] = "_"
            elif c == "," and depth == 1:
                out[i] = "_"
            i += 1
    return "".join(out)


def offences(text: str, data: frozenset[str] = frozenset()) -> list[str]:
    """The ASCII marks of `text` that touch a CJK character (adjacent or across spaces),
    and ASCII full stops right after one, each shown in its context. `data`: strings the
    input holds, shown as written, taken out first."""
    for value in sorted(data, key=len, reverse=True):  # its marks out, its script kept
        text = text.replace(value, "".join("〇" if IS_CJK.match(c) else "_" for c in value))
    text = re.sub(r"^meanstest: error: ", lambda m: "_" * len(m[0]), text, flags=re.MULTILINE)
    for m in re.finditer(r"'[^'\n]*'", text):  # a quoted input value (reject reasons)
        text = _blank(text, m.start(), m.end())
    text = _without_calls(text)
    found = []
    for i, c in enumerate(text):
        if c in MARKS:
            j, k = i - 1, i + 1
            while j >= 0 and text[j] == " ":
                j -= 1
            while k < len(text) and text[k] == " ":
                k += 1
            touches = (j >= 0 and IS_CJK.match(text[j])) or (
                k < len(text) and IS_CJK.match(text[k])
            )
        else:
            touches = (
                c == "."
                and i > 0
                and IS_CJK.match(text[i - 1])
                and (i + 1 == len(text) or not text[i + 1].isalnum())
            )
        if touches:
            found.append(text[max(0, i - 12) : i + 12].replace("\n", "⏎"))
    return found


def test_the_check_flags_ascii_in_chinese_and_nothing_else():
    """The check itself: what it must flag and what it must leave."""
    flagged = [
        "低保(补差)",
        "成员1: 年龄 45 岁",
        "金额单位:元,保留两位小数",
        "健康状况不在 1–6 之间 (0)",
        "未如实申报疑点(§8):无",
        "第 4 步 … — 是;上期状态 低保",
        "《核定规则》(RULES.md)的条款.",
        "是否超过?",
        "核对授权书未签署!",
        "补差 = (低保标准 570.00 元 − 家庭人均月收入 0.00 元) × 3 人",
        "max(0, 本人月收入(推算) 1.00 元)",
        "一级信息圈（特困、低保）(",
    ]
    for text in flagged:
        assert offences(text), text
    kept = [
        "1,234.56 元",
        "比例以小数表示（0.7 即 70%）",
        "2026-01-01 之后至 2026-12-31（含）",
        "max(0, 低保标准 570.00 元 − 本人月收入 700.00 元) = 0.00 元",
        "成员分 = min(上限 400, 合计 30) = 30",
        "取值不在规定范围内（'rural (person 1'；允许值 urban|rural）",
        "机读核对（与结果文件比对，金额单位为分）：status=DIBAO pci=0 transition=NEW; x=1",
        "meanstest: error: 家庭 H1 不在数据包 b 中",
        "Amounts in yuan (0.7 = 70%); § are the sections of the rules (RULES.md).",
    ]
    for text in kept:
        assert not offences(text), (text, offences(text))
    record = "tax_income_export_00000.csv:9"  # record_ids as the data has them
    assert not offences(f"所用记录：{record}、{record}")
    institution = "农村信用社(城关)联社"  # a name the data holds: shown as written
    assert offences(f"机构 {institution}")
    assert not offences(f"机构 {institution}", frozenset({institution}))
    assert offences(f"机构 {institution}:", frozenset({institution}))  # our colon after it


# A district, its documents and its report ----------------------------------------------


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """`meanstest synth --households 300 --seed 7 --bad-fraction 0.05`, reviewed, with
    report.html."""
    root = tmp_path_factory.mktemp("zh-punctuation")
    bundle, out = root / "bundle", root / "review"
    argv = ["synth", "--households", "300", "--seed", "7", "--bad-fraction", "0.05"]
    assert cli.main([*argv, "--out", str(bundle)]) == 0
    run_review(bundle, out, default_library(), ReviewOptions(quiet=True))
    return bundle, out, write_report(out)


def _chosen(bundle, out) -> tuple[list[str], list[str]]:
    """Assessed households of every status and every finding code, DIBAO households
    with a member of an add-on's age, households with supporters; and the rejected."""
    results = pq.read_table(out / "results.parquet").to_pylist()
    findings = pq.read_table(out / "findings.parquet").to_pylist()
    members = pq.read_table(out / "members.parquet").to_pylist()
    rejected = sorted({r["household_id"] for r in pq.read_table(out / "rejects.parquet")
                       .to_pylist()})  # fmt: skip
    status = {r["household_id"]: r["status"] for r in results}
    chosen = set()
    for s in schema.STATUSES:
        chosen.update(sorted(h for h, x in status.items() if x == s)[:1])
    for code in sorted({f["code"] for f in findings}):
        chosen.add(min(f["household_id"] for f in findings if f["code"] == code))
    aged = {m["household_id"] for m in members if m["age"] >= 70 or m["age"] < 16}
    chosen.update(sorted(h for h in aged if status[h] == "DIBAO")[:2])
    supported = read_bundle(bundle)["supporters"]["household_id"].to_pylist()
    chosen.update(sorted({h for h in supported if h in status})[:2])
    return sorted(chosen), rejected


def _data(bundle) -> frozenset[str]:
    """Every text the bundle or the packs hold that has a mark this check looks for."""
    values = set()
    for table in read_bundle(bundle).values():
        for column in table.columns:
            for v in column.to_pylist():
                if isinstance(v, str) and re.search(r"[,:;()?!.]", v):
                    values.add(v)
    for pack in default_library().packs:
        values.update(x for x in (pack.id, pack.name) if re.search(r"[,:;()?!.]", x))
    return frozenset(values)


def _explain(capsys, *args) -> str:
    code = cli.main(["explain", *map(str, args)])
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    return out.out + out.err


def _visible(page: str) -> str:
    """What a reader of the Chinese page sees (English elements of the toggle removed)."""
    page = re.sub(r"<style>.*?</style>|<script.*?</script>", "", page, flags=re.DOTALL)
    page = re.sub(r"<(span|text) lang='en'[^>]*>.*?</\1>", "", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "\n", page))


def _strings(value) -> list[str]:
    """The string values of a JSON document (its keys and syntax are not text)."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_chinese_documents_and_report_use_chinese_punctuation(district, capsys):
    bundle, out, report = district
    chosen, rejected = _chosen(bundle, out)
    data = _data(bundle)
    outputs: dict[str, str] = {}
    for hid in chosen:
        outputs[f"{hid} text"] = _explain(capsys, bundle, hid, "--lang", "zh")
        outputs[f"{hid} html"] = _visible(
            _explain(capsys, bundle, hid, "--lang", "zh", "--format", "html")
        )
        trace = _explain(capsys, bundle, hid, "--lang", "zh", "--format", "json")
        # the JSON is the machine trace: the same whatever the language, codes and fen
        assert trace == _explain(capsys, bundle, hid, "--lang", "en", "--format", "json")
        outputs[f"{hid} json"] = "\n".join(_strings(json.loads(trace)))
    for hid in rejected:  # no document: one error, the reasons in words
        outputs[f"{hid} rejected"] = _explain(capsys, bundle, hid, "--lang", "zh")
    outputs["unknown"] = _explain(capsys, bundle, "NO-SUCH-HOUSEHOLD", "--lang", "zh")
    outputs["report.html"] = _visible(report.read_text(encoding="utf-8"))

    # what was rendered: every status, vetoes and other findings, add-ons, supporters,
    # reject reasons, the report's legend (the check is not satisfied by rendering little)
    every = "\n".join(outputs.values())
    assert len(chosen) >= 20 and len(rejected) >= 10, (chosen, rejected)
    for status in schema.STATUSES:
        assert labels.STATUS[status][0].split("（")[0].split("(")[0] in every, status
    for needle in ("分类施保", "义务人1", "核对疑点", "触发记录", "漏救", "错救", "未如实申报",
                   "max(", "未通过校验", "不在数据包", "代码说明", "退回原因", "变化清单"):  # fmt: skip
        assert needle in every, needle
    assert all("家庭经济状况核算核对表" in outputs[f"{h} html"] for h in chosen)

    found = [(name, x) for name, text in outputs.items() for x in offences(text, data)]
    shown = "\n".join(f"{name}: {x!r}" for name, x in found[:40])
    distinct = len({x for _, x in found})
    assert not found, (
        f"{len(found)} ASCII marks touching Chinese in {len(outputs)} outputs "
        f"({distinct} distinct):\n{shown}"
    )


# The label tables ----------------------------------------------------------------------


def _pairs():
    """(where, zh, en) of every name and rule text meanstest.labels and the report hold."""
    tables = {
        name: getattr(labels, name)
        for name in ("SECTION", "STATUS", "TRANSITION", "CIRCLE", "STATUS_RULE", "CIRCLE_RULE",
                     "TRANSITION_RULE", "PREV_STATUS", "EMPLOYMENT_BASIS", "VETO", "VETO_RULE",
                     "FINDING", "FINDING_RULE", "ADDON", "SEVERITY", "TABLE", "DEPARTMENT",
                     "PROGRAM", "PROGRAM_REQUIRES", "COLUMN")
    }  # fmt: skip
    tables |= {f"ENUM[{column}]": values for column, values in labels.ENUM.items()}
    tables |= {"report T": T, "report COLUMNS": COLUMNS}
    for name, table in tables.items():
        for code, pair in table.items():
            yield f"{name}[{code}]", pair[0], pair[1]
    for key, (zh, en, _) in labels.PARAMETER.items():
        yield f"PARAMETER[{key}]", zh, en
    for prefix, zh, en in labels.REJECT_RULE:
        yield f"REJECT_RULE[{prefix}]", zh, en


def test_label_tables_take_chinese_punctuation():
    """A Chinese name or rule holds no ASCII `, : ; ( ) ? !` at all (nor a full stop
    after Chinese); its English half no full-width mark."""
    pairs = list(_pairs())
    assert len(pairs) > 300
    bad = [(where, zh) for where, zh, _ in pairs if re.search(r"[,:;()?!]", zh) or offences(zh)]
    assert not bad, f"{len(bad)} Chinese labels with ASCII punctuation: {bad}"
    english = [(where, en) for where, _, en in pairs if FULL_WIDTH.search(en)]
    assert not english, english


def test_reject_details_take_chinese_punctuation():
    """REJECT_DETAIL_ZH's templates, and each of its patterns on the reason it is for: the
    details in full-width parentheses, split by ，and ；, lists by 、; the values they
    quote stay as written."""
    for pattern, words in labels.REJECT_DETAIL_ZH:
        if isinstance(words, str):
            assert not offences(words), (pattern, words)
    reasons = """\
households.household_id record=H1: duplicate household_id (2 rows)
households.jurisdiction record=H1: no policy pack (jurisdiction 110105, assessment_date 2024-07-01; tried 110105, 110100, 110000)
households.jurisdiction record=H1: jurisdiction not 6 digits ('15042')
households.current_programs record=H1: program not defined by the household's pack ('x'; pack p-1 defines none)
households.current_programs record=H1: program not defined by the household's pack ('edu; pack x defines nothing'; pack p-1 defines a_b, c)
households.area record=H1: unknown enum value ('rural (person 1'; allowed urban|rural)
tax_income.income_type record=T1: unknown enum value (person 150422196012220001; 'salary'; allowed wage|labour|business|interest|rental|other)
persons.birth_date record=P1: date outside 0001-01-01..9999-12-31 (day -800000 from 1970-01-01)
persons.person_id record=P1: malformed ID ('1504221994033000020': need 17 digits and a check character 0-9 or upper-case X)
persons.person_id record=P1: bad GB 11643 check character ('4', expected '6')
persons.person_id record=P1: ID and birth_date disagree (ID says 19651224, birth_date 1965-12-25)
persons.person_id record=P1: same person twice in one household (1 member row, 1 supporter row)
supporters.supporter_id record=S1: same person twice in one household (2 supporter rows)
property.disposed_on record=R1: disposed before acquired (person 150422196707080009; acquired_on 2016-04-14, disposed_on 2015-03-11)
property.share record=R1: share outside 1..1000 (person 150422198002070002; 0)
persons.health record=P1: health outside 1..6 (7)
vehicle.registered_on record=V1: null in a required column (person 150422199309120005)
bank.balance: money above 10^14 fen (RULES.md §0: int64)
households.household_id record=H1: amounts of the household's rows total 1000000000000000001 fen, above 10^18 (RULES.md §0: int64)
persons.household_id record=H1: household has no members
""".splitlines()
    for reason in reasons:
        zh = labels.reject_rule(reason, "zh")
        assert not offences(zh), (reason, zh)
        for value in re.findall(r"(?<=[( ])'[^']*'(?=[;:,)])", reason):
            assert value in zh, (reason, zh)  # input values as written
        assert not FULL_WIDTH.search(labels.reject_rule(reason, "en")), reason
    assert labels.reject_rule(reasons[1], "zh").endswith("已依次查找 110105、110100、110000）")


def test_english_documents_put_a_space_after_a_colon_or_semicolon(district, capsys):
    """The English text keeps the same marks with a space after them: a blind audit read
    "VEH000000000003:plate 蒙D9HXVP" and "over the value limit: none;triggering records"
    (the Chinese text's full-width marks need none). Data values holding such marks are
    left out of the check."""
    bundle, out, _ = district
    chosen, _ = _chosen(bundle, out)
    data = _data(bundle)
    for hid in chosen:
        text = _explain(capsys, bundle, hid, "--lang", "en")
        for value in sorted(data, key=len, reverse=True):
            text = text.replace(value, "")
        bad = re.findall(r"\S*[:;][^\s\d/]\S*", text)
        assert not bad, (hid, bad[:5])
