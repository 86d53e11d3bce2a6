"""The review report: one self-contained HTML file (inline SVG, no network), 中文 / English.

Reads a review output folder (summary.json, results.parquet, changes_*.parquet) and
writes report.html. Every chart is an inline <svg> with the class "chart"; the
language toggle is a few lines of inline script switching `lang` on <html>.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from meanstest.errors import MeansTestError

T = {
    "title": ("社会救助年度复核报告", "Social assistance annual review"),
    "read": ("读取家庭", "households read"),
    "assessed": ("已核定", "assessed"),
    "rejected": ("退回(数据有误)", "rejected (bad input)"),
    "benefit": ("月发放总额(元)", "total monthly benefit (yuan)"),
    "mean": ("户均月发放(元)", "mean monthly benefit per recipient (yuan)"),
    "provisional": ("待补核(部门未查询)", "provisional (source not checked)"),
    "status": ("认定结果分布", "Status"),
    "circle": ("四级信息圈", "Information circles"),
    "benefit_dist": ("月发放金额分布(元)", "Monthly benefit distribution (yuan)"),
    "veto": ("一票否决规则触发次数", "Vetoes triggered"),
    "transition": ("动态管理变化", "Transitions"),
    "index": ("家庭困难指数分布", "Difficulty index distribution"),
    "top": ("最困难家庭(前20)", "Most difficult households (top 20)"),
    "jurisdiction": ("分地区", "By jurisdiction"),
    "changes": ("变化清单", "Change lists"),
    "rejects": ("退回原因", "Rejects by reason"),
}


def _t(key: str) -> str:
    zh, en = T[key]
    return f"<span lang='zh'>{html.escape(zh)}</span><span lang='en'>{html.escape(en)}</span>"


def bar_chart(items: list[tuple[str, float]], width: int = 560) -> str:
    """A horizontal bar chart as inline SVG."""
    row, label_w = 22, 170
    top = max([v for _, v in items] + [1])
    h = row * len(items) + 10
    svg_open = (
        f"<svg class='chart' role='img' width='{width}' height='{h}' "
        f"viewBox='0 0 {width} {h}' xmlns='http://www.w3.org/2000/svg'>"
    )
    parts = [svg_open]
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        w = (width - label_w - 80) * value / top
        parts.append(
            f"<text x='{label_w - 6}' y='{y + 15}' text-anchor='end' font-size='12'>"
            f"{html.escape(str(label))}</text>"
            f"<rect x='{label_w}' y='{y + 3}' width='{w:.1f}' height='{row - 6}' fill='#3572b0'/>"
            f"<text x='{label_w + w + 4:.1f}' y='{y + 15}' font-size='12'>{value:,.0f}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _histogram(values: np.ndarray, bins: int, label_fmt) -> list[tuple[str, float]]:
    if len(values) == 0:
        return []
    counts, edges = np.histogram(values, bins=bins)
    return [(label_fmt(edges[i], edges[i + 1]), float(c)) for i, c in enumerate(counts)]


def _table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def build_report(out_dir) -> str:
    out = Path(out_dir)
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        results = pq.read_table(
            out / "results.parquet",
            columns=[
                "household_id",
                "status",
                "benefit",
                "difficulty_index",
                "rank",
                "pci",
                "circle",
            ],
        )
    except (OSError, ValueError) as e:
        raise MeansTestError(f"{out}: not a review output folder ({e})") from e
    benefit = results["benefit"].to_numpy()
    paid = benefit[benefit > 0] / 100
    index = results["difficulty_index"].to_numpy()
    top = results.take(pc.sort_indices(results, [("rank", "ascending")])[:20]).to_pylist()
    headline = [
        ("read", f"{summary['households_read']:,}"),
        ("assessed", f"{summary['assessed']:,}"),
        ("rejected", f"{summary['rejected']:,}"),
        ("benefit", f"{summary['total_monthly_benefit'] // 100:,}"),
        ("mean", f"{summary['mean_monthly_benefit_of_recipients'] // 100:,}"),
        ("provisional", f"{summary['provisional']:,}"),
    ]
    sections = [
        ("status", bar_chart(list(summary["by_status"].items()))),
        ("circle", bar_chart([(f"circle {k}", v) for k, v in summary["by_circle"].items()])),
        ("benefit_dist", bar_chart(_histogram(paid, 10, lambda a, b: f"{a:,.0f}–{b:,.0f}"))),
        ("veto", bar_chart(list(summary["by_veto"].items()))),
        ("transition", bar_chart(list(summary["by_transition"].items()))),
        ("index", bar_chart(_histogram(index, 10, lambda a, b: f"{a:.0f}–{b:.0f}"))),
        (
            "jurisdiction",
            bar_chart(
                [
                    (j, v["households"])
                    for j, v in sorted(summary.get("by_jurisdiction", {}).items())
                ]
            )
            + _table(
                [
                    {"jurisdiction": j, **v}
                    for j, v in sorted(summary.get("by_jurisdiction", {}).items())
                ],
                ["jurisdiction", "households", "assessed", "enrolled", "benefit"],
            ),
        ),
        (
            "top",
            _table(top, ["rank", "household_id", "difficulty_index", "status", "benefit", "pci"]),
        ),
        (
            "rejects",
            _table(
                [{"reason": k, "households": v} for k, v in summary["rejects_by_reason"].items()],
                ["reason", "households"],
            ),
        ),
    ]
    changes = []
    for name in ("new", "exit", "adjust", "phase_out"):
        path = out / f"changes_{name}.parquet"
        if path.exists():
            t = pq.read_table(path)
            changes.append(
                f"<h3>{name.upper()} ({t.num_rows:,})</h3>"
                + _table(t.slice(0, 50).to_pylist(), t.column_names)
            )
    cards = "".join(f"<div class='card'><div class='n'>{v}</div>{_t(k)}</div>" for k, v in headline)
    body = "".join(f"<section><h2>{_t(k)}</h2>{chart}</section>" for k, chart in sections)
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{T["title"][0]} / {T["title"][1]}</title>
<style>
body{{font-family:sans-serif;margin:2em;max-width:1000px}}
html[lang=zh] [lang=en], html[lang=en] [lang=zh]{{display:none}}
.card{{display:inline-block;border:1px solid #ccc;padding:.6em 1em;margin:.3em;min-width:9em}}
.n{{font-size:1.6em;font-weight:bold}} table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ddd;padding:2px 6px}} section{{margin:1.5em 0}}
</style></head><body>
<button id="toggle" onclick="var h=document.documentElement;h.lang=h.lang=='zh'?'en':'zh'">
中文 / English</button>
<h1>{_t("title")}</h1><div>{cards}</div>{body}
<section><h2>{_t("changes")}</h2>{"".join(changes)}</section>
</body></html>
"""


def write_report(out_dir) -> Path:
    path = Path(out_dir) / "report.html"
    tmp = path.with_name("report.html.tmp")
    tmp.write_text(build_report(out_dir), encoding="utf-8")
    tmp.replace(path)
    return path
