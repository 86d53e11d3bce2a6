"""The report's charts: horizontal bars as inline SVG, and the round bins of the benefit
and difficulty index histograms."""

from __future__ import annotations

import html

import numpy as np

from meanstest.document import width


def bar_chart(items: list[tuple[tuple[str, str], int]], size: int = 700) -> str:
    """A horizontal bar chart as inline SVG; each label in both languages."""
    row = 22
    longest = max([width(t) for (zh, en), _ in items for t in (zh, en)] + [8])
    label_w = 12 + 13 * longest // 2  # ~6.5 px a column at font-size 12
    top = max([v for _, v in items] + [1])
    h = row * len(items) + 10
    svg = (
        f"<svg class='chart' role='img' width='{size}' height='{h}' "
        f"viewBox='0 0 {size} {h}' xmlns='http://www.w3.org/2000/svg'>"
    )
    parts = [svg]
    for i, ((zh, en), value) in enumerate(items):
        y = 5 + i * row
        w = (size - label_w - 70) * value // top
        for lang, text in (("zh", zh), ("en", en)):
            parts.append(
                f"<text lang='{lang}' x='{label_w - 6}' y='{y + 15}' text-anchor='end' "
                f"font-size='12'>{html.escape(text)}</text>"
            )
        parts.append(
            f"<rect x='{label_w}' y='{y + 3}' width='{w}' height='{row - 6}' fill='#3572b0'/>"
            f"<text x='{label_w + w + 4}' y='{y + 15}' font-size='12'>{value:,}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def round_step(top: int, bins: int = 10) -> int:
    """The smallest of 1, 2, 5 × 10^k with at most `bins` bins from 0 to `top` inclusive."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if (top // (step * m)) + 1 <= bins:
                return step * m
        step *= 10


def histogram(values: np.ndarray, step: int) -> list[tuple[int, int]]:
    """(lower bound, count) of bins [k·step, (k+1)·step) from 0 to the largest value."""
    if len(values) == 0:
        return []
    counts = np.bincount(values.astype(np.int64) // step)
    return [(k * step, int(c)) for k, c in enumerate(counts)]


def benefit_bins(benefit_fen: np.ndarray) -> list[tuple[tuple[str, str], int]]:
    """Round yuan bins of the recipients' benefits: '0–499 元', '500–999 元' (whole
    yuan). Give every recipient household (batch.ENROLLED), 0 元 included: a DIBAO whose
    gap rounds to 0 元 is one (the chart left them out while the mean counted them)."""
    paid = benefit_fen // 100
    if len(paid) == 0:
        return []
    step = round_step(int(paid.max()))
    return [
        ((f"{lo:,}–{lo + step - 1:,} 元", f"{lo:,}–{lo + step - 1:,} yuan"), c)
        for lo, c in histogram(paid, step)
    ]


def index_bins(index: np.ndarray) -> list[tuple[tuple[str, str], int]]:
    """Bins of 100 points: '0–99' … '900–1000' (1000 falls in the last)."""
    counts = histogram(np.minimum(index, 999), 100)
    return [((f"{lo}–{lo + 99 if lo < 900 else 1000}",) * 2, c) for lo, c in counts]
