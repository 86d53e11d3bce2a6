"""The review report: one self-contained HTML file (inline SVG, no network), 中文 / English.

Reads a review output folder (summary.json, results.parquet, findings.parquet,
changes_*.parquet; or a Spark review's results/ and changes/transition=…/ Parquet
folders) and writes report.html. The NEW list (新增纳入, 主动发现 included) shows its 50
most difficult households by rank (§9), the visits to make first; the other change
lists their first 50 by household_id. Both orders are the run's own, so both engines'
reports of one bundle are the same page. Every chart is an inline <svg> with
the class "chart"; the language toggle is a few lines of inline script switching `lang` on <html>. What people
read is in words and yuan: statuses, circles, transitions, vetoes and reject rules by
name (meanstest.labels), amounts in yuan with two decimals and the unit, histogram bins
on round values, and a legend of every code. The files it reads stay codes and fen.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from meanstest import labels
from meanstest.amounts import yuan
from meanstest.batch import ENROLLED
from meanstest.errors import MeansTestError
from meanstest.outputs import (
    incomplete,
    mistyped,
    only_writer_of,
    read_output,
    read_summary,
    summary_mismatches,
    writing,
)
from meanstest.report.charts import (
    bar_chart,
    benefit_bins,
    histogram,
    index_bins,
    round_step,
)
from meanstest.report.tables import (
    _findings_table,
    _legend,
    _packs_table,
    _programs_table,
    _table,
)
from meanstest.report.words import COLUMNS, MONEY, T, _b, _name, _t

__all__ = [
    "COLUMNS",
    "MONEY",
    "T",
    "bar_chart",
    "benefit_bins",
    "build_report",
    "histogram",
    "index_bins",
    "round_step",
    "write_report",
]


def _output(out: Path, name: str, columns: list[str] | None = None) -> pa.Table | None:
    """`read_output`, refusing a column read back in another type than a review writes
    (the report prints the rows: a change list whose benefit was text ended it in a
    TypeError, a results.parquet so in Arrow's "Function 'sum' has no kernel …")."""
    table = read_output(out, name, columns)
    for column, got, want in [] if table is None else mistyped(table, name):
        raise MeansTestError(
            f"{out}: {name}, column {column}: {got} where a review writes {want} (the file "
            "was rewritten since the review); run meanstest reproduce"
        )
    return table


def build_report(out_dir: str | os.PathLike[str]) -> str:
    out = Path(out_dir)
    try:
        if not (out / "summary.json").is_file():
            raise FileNotFoundError("no summary.json")
        results = _output(
            out,
            "results",
            ["household_id", "status", "benefit", "difficulty_index", "rank", "pci", "circle",
             "provisional", "transition", "vetoes", "policy_id", "policy_digest",
             "engine_version"],
        )  # fmt: skip
        if results is None:
            raise FileNotFoundError("no results.parquet or results/ folder")
        findings = _output(out, "findings", ["household_id", "code", "detail"])
        rejects = _output(out, "rejects", ["household_id", "reasons"])
    except (OSError, ValueError) as e:
        raise MeansTestError(f"{out}: not a review output folder ({e})") from e
    if (error := incomplete(out)) is not None:
        raise error
    summary = read_summary(out)
    if mismatches := summary_mismatches(summary, results, rejects):
        key, got, want = mismatches[0]
        raise MeansTestError(
            f"{out}: summary.json says {key} {got}, the results give {want}; "
            "run meanstest reproduce"
        )
    enrolled = pc.is_in(results["status"], value_set=pa.array(ENROLLED)).to_numpy()
    benefit = results["benefit"].to_numpy()[enrolled]
    index = results["difficulty_index"].to_numpy()
    top = results.take(pc.sort_indices(results, [("rank", "ascending")])[:20]).to_pylist()
    total, mean = summary["total_monthly_benefit"], summary["mean_monthly_benefit_of_recipients"]
    headline = [
        ("read", f"{summary['households_read']:,}"),
        ("assessed", f"{summary['assessed']:,}"),
        ("rejected", f"{summary['rejected']:,}"),
        ("benefit", _b(f"{yuan(total)} 元/月", f"{yuan(total)} yuan/month")),
        ("mean", _b(f"{yuan(mean)} 元/月", f"{yuan(mean)} yuan/month")),
        ("provisional", f"{summary['provisional']:,}"),
        ("unmatched", f"{summary.get('unmatched_source_rows', 0):,}"),
    ]
    if summary.get("orphan_rows"):  # the console and summary.json said it, the report not
        headline.append(("orphans", f"{summary['orphan_rows']:,}"))  # (a blind test)
    paid = summary.get("rejected_previously_paid")
    if paid is not None:
        money = yuan(paid["prev_benefit"])
        headline.append(
            (
                "paid_rejected",
                f"{paid['households']:,}<br>"
                + _b(f"上期月救助金合计 {money} 元/月", f"last period's {money} yuan/month"),
            )
        )
    jurisdictions = sorted(summary.get("by_jurisdiction", {}).items())
    note = "<p class='note'>{}</p>"
    sections = [
        (
            "status",
            bar_chart([(_name(labels.STATUS, k), v) for k, v in summary["by_status"].items()]),
        ),
        (
            "circle",
            bar_chart([(_name(labels.CIRCLE, int(k)), v) for k, v in summary["by_circle"].items()]),
        ),
        ("benefit_dist", bar_chart(benefit_bins(benefit)) + note.format(_t("bins"))),
        (
            "veto",
            bar_chart(
                [
                    ((labels.veto(k, "zh"), labels.veto(k, "en")), v)
                    for k, v in summary["by_veto"].items()
                ]
            )
            + note.format(_t("many_rules")),
        ),
        (
            "transition",
            bar_chart(
                [(_name(labels.TRANSITION, k), v) for k, v in summary["by_transition"].items()]
            ),
        ),
        ("index", bar_chart(index_bins(index)) + note.format(_t("index_bins"))),
        (
            "jurisdiction",
            bar_chart([((j, j), v["households"]) for j, v in jurisdictions])
            + _table(
                [{"jurisdiction": j, **v} for j, v in jurisdictions],
                ["jurisdiction", "households", "assessed", "enrolled", "benefit"],
            ),
        ),
        (
            "top",
            _table(top, ["rank", "household_id", "difficulty_index", "status", "benefit", "pci"])
            + note.format(_t("top_note")),
        ),
        ("findings", _findings_table(findings) + note.format(_t("findings_note"))),
        ("programs", _programs_table(findings) + note.format(_t("programs_note"))),
        ("packs", _packs_table(results) + note.format(_t("packs_note"))),
        (
            "rejects",
            _table(
                [{"reason": k, "rows": v} for k, v in summary["rejects_by_reason"].items()],
                ["reason", "rows"],
            )
            + note.format(_t("many_rules")),
        ),
    ]
    ingest = ""  # above the headline figures: what they rest on
    if absent := summary.get("absent_source_tables"):  # read as no rows: say which
        said = "".join(f"<li>{_b(*_name(labels.TABLE, t))}</li>" for t in absent)
        ingest += f"<section><h2>{_t('absent')}</h2><ul>{said}</ul>"
        ingest += f"{note.format(_t('absent_note'))}</section>"
    if notes := summary.get("ingest_notes"):
        said = "".join(f"<li>{html.escape(str(line))}</li>" for line in notes)
        ingest += f"<section><h2>{_t('ingest')}</h2><ul>{said}</ul>{note.format(_t('ingest_note'))}"
        ingest += "</section>"
    if paid and paid["households"]:
        sections.append(
            (
                "paid_rejected",
                _table(
                    _paid_rows(paid.get("first_household_ids", []), rejects),
                    ["household_id", "reasons"],
                )
                + note.format(_t("paid_rejected_note")),
            )
        )
    changes = []
    for name in ("new", "exit", "adjust", "phase_out"):
        t = _output(out, f"changes_{name}")
        if t is not None:
            columns = [c for c in _CHANGE_COLUMNS if c in t.column_names]
            if name == "new":  # the visits to make first: by rank, with why and how sure
                first = _by_rank(t, results)
                columns = ["rank", "difficulty_index", *columns, "provisional"]
            else:
                first = t.take(pc.select_k_unstable(t, 50, [("household_id", "ascending")]))
                first = first.take(pc.sort_indices(first, [("household_id", "ascending")]))
            zh, en = _name(labels.TRANSITION, name.upper())
            changes.append(
                f"<h3>{_b(f'{zh}（{t.num_rows:,} 户）', f'{en} ({t.num_rows:,})')}</h3>"
                + _table(first.to_pylist(), columns)
            )
    cards = "".join(f"<div class='card'><div class='n'>{v}</div>{_t(k)}</div>" for k, v in headline)
    body = "".join(f"<section><h2>{_t(k)}</h2>{chart}</section>" for k, chart in sections)
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{T["title"][0]} / {T["title"][1]}</title>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;max-width:1000px}}
html[lang=zh] [lang=en], html[lang=en] [lang=zh]{{display:none}}
.card{{display:inline-block;border:1px solid #ccc;padding:.6em 1em;margin:.3em;min-width:10em;
vertical-align:top}}
.n{{font-size:1.5em;font-weight:bold}} table{{border-collapse:collapse;font-size:12px;margin:.4em 0}}
td,th{{border:1px solid #ddd;padding:2px 6px;text-align:left}} .r{{text-align:right}}
section{{margin:1.5em 0}} .note{{font-size:12px;color:#555;margin:.2em 0}}
table.legend{{margin-bottom:1em;min-width:60%}} table.legend td:first-child{{white-space:nowrap}}
</style></head><body>
<button id="toggle" onclick="var h=document.documentElement;h.lang=h.lang=='zh'?'en':'zh'">
中文 / English</button>
<h1>{_t("title")}</h1>{ingest}<div>{cards}</div>{body}
<section><h2>{_t("changes")}</h2><p class='note'>{_t("changes_note")}</p>{"".join(changes)}</section>
<section><h2>{_t("legend")}</h2>{_legend()}</section>
</body></html>
"""


def _paid_rows(household_ids: list, rejects: pa.Table | None) -> list[dict]:
    """The rejected households that were being paid, each with the reasons of its first
    rejects row: the officer deciding by hand sees why without opening rejects.parquet."""
    reasons: dict = {}
    if rejects is not None and household_ids:
        wanted = pc.is_in(rejects["household_id"], value_set=pa.array(household_ids, pa.string()))
        for row in rejects.filter(wanted).to_pylist():
            reasons.setdefault(row["household_id"], row["reasons"])
    return [{"household_id": h, "reasons": reasons.get(h)} for h in household_ids]


def _by_rank(changes: pa.Table, results: pa.Table, k: int = 50) -> pa.Table:
    """The k change-list rows of the best rank (§9: the most difficult first), with the
    results' rank, difficulty index and provisional flag beside them."""
    keep = pc.is_in(results["household_id"], value_set=changes["household_id"])
    ranked = results.filter(keep).select(
        ["household_id", "rank", "difficulty_index", "provisional"]
    )
    ranked = ranked.take(pc.select_k_unstable(ranked, k, [("rank", "ascending")]))
    ranked = ranked.take(pc.sort_indices(ranked, [("rank", "ascending")]))
    # only the k rows become Python objects (a million NEW households took 3.5 s and
    # 700 MB as a whole list: a review of the 2026-12-05 changes)
    shown = changes.filter(pc.is_in(changes["household_id"], value_set=ranked["household_id"]))
    rows = {r["household_id"]: r for r in shown.to_pylist()}
    return pa.Table.from_pylist([rows[r["household_id"]] | r for r in ranked.to_pylist()])


# the columns of a change list the report shows (those an output folder has)
_CHANGE_COLUMNS = (
    "household_id",
    "status",
    "benefit",
    "prev_status",
    "prev_benefit",
    "pci",
    "circle",
)


def write_report(out_dir: str | os.PathLike[str]) -> Path:
    """report.html in the review folder `out_dir`, written while no review writes there
    (a review starting midway would remove the old outputs, and the report drawn from
    them would then lie beside the new ones). A write that fails names report.html and
    leaves no report.html.tmp (a blind operator's check on a full disk, 2026-12-07)."""
    out = Path(out_dir)
    path = out / "report.html"
    tmp = path.with_name("report.html.tmp")
    with only_writer_of(out, "report"):
        page = build_report(out)
        with writing(path, tmp):
            tmp.write_text(page, encoding="utf-8")
            tmp.replace(path)
    return path
