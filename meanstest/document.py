"""A printable document as a list of blocks, rendered as plain text or one HTML page.

`meanstest explain` builds its 核算/核对 document once as blocks (headings, field grids,
tables, step paragraphs, a signature row) and renders the same blocks as text or HTML,
so the two formats cannot say different things. Text aligns Chinese by display width
(a CJK character takes two columns); a table too wide for a printed page becomes one
card per row. The HTML is self-contained (inline CSS, no script, nothing fetched) and
prints on A4.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field

TEXT_WIDTH = 100  # columns of a printed text page


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    right: frozenset[int] = frozenset()  # columns aligned right (amounts, numbers)
    caption: str = ""
    marks: frozenset[int] = frozenset()  # rows to mark (a triggered rule)
    wrap: frozenset[int] = frozenset()  # columns of running text; the others do not wrap


@dataclass
class Step:
    """One calculation step: a title (with its RULES.md section) and lines of working."""

    section: str
    title: str
    lines: list[str]
    outcome: str = ""  # the step's result, shown apart
    flag: str = ""  # "hit" marks a triggered veto or finding
    table: Table | None = None  # shown after the lines


@dataclass
class Document:
    title: str
    subtitle: str = ""
    lang: str = "zh"
    blocks: list = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(("heading", text))

    def fields(self, pairs: list[tuple[str, str]], css: str = "") -> None:
        self.blocks.append(("fields", pairs, css))

    def table(self, table: Table) -> None:
        self.blocks.append(("table", table))

    def step(self, step: Step) -> None:
        self.blocks.append(("step", step))

    def para(self, text: str, css: str = "") -> None:
        self.blocks.append(("para", text, css))

    def signatures(self, labels: list[str]) -> None:
        self.blocks.append(("signatures", labels))


# Text -----------------------------------------------------------------------------------


def width(text: str) -> int:
    """Display width: East Asian wide and full-width characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, cols: int, right: bool = False) -> str:
    gap = " " * max(0, cols - width(text))
    return gap + text if right else text + gap


def _text_table(t: Table) -> list[str]:
    cols = [max([width(h)] + [width(r[i]) for r in t.rows]) for i, h in enumerate(t.header)]
    out = ["", t.caption] if t.caption else [""]
    multiline = any("\n" in v for r in t.rows for v in r)
    if not multiline and sum(cols) + 2 * (len(cols) - 1) <= TEXT_WIDTH:
        out.append(
            "  ".join(_pad(h, c, i in t.right) for i, (h, c) in enumerate(zip(t.header, cols)))
        )
        out.append("  ".join("-" * c for c in cols))
        for r in t.rows:
            out.append("  ".join(_pad(v, c, i in t.right) for i, (v, c) in enumerate(zip(r, cols))))
        return out
    label = max(width(h) for h in t.header)
    for n, r in enumerate(t.rows):
        if n:
            out.append("")
        for h, v in zip(t.header, r):
            first, *more = v.split("\n")
            out += [f"{_pad(h, label)}  {first}"] + [" " * (label + 2) + x for x in more]
        if n in t.marks:
            out[-1] += " ◆"
    return out


def to_text(doc: Document) -> str:
    rule = "=" * min(TEXT_WIDTH, max(width(doc.title), width(doc.subtitle)) + 4)
    out = [doc.title, doc.subtitle, rule] if doc.subtitle else [doc.title, rule]
    for block in doc.blocks:
        kind = block[0]
        if kind == "heading":
            out += ["", block[1], "-" * width(block[1])]
        elif kind == "fields":
            label = max([width(k) for k, _ in block[1]] + [0])
            out += [f"{_pad(k, label)}  {v}" for k, v in block[1]]
        elif kind == "table":
            out += _text_table(block[1]) if block[1].rows else []
        elif kind == "step":
            s = block[1]
            mark = " ◆" if s.flag == "hit" else ""
            out += ["", f"[{s.section}] {s.title}{mark}"]
            out += [f"    {line}" for line in s.lines]
            if s.table is not None:
                out += ["    " + line if line else "" for line in _text_table(s.table)]
            if s.outcome:
                out.append(f"    → {s.outcome}")
        elif kind == "para":
            out += ["", block[1]]
        elif kind == "signatures":
            colon = "：" if doc.lang == "zh" else ": "  # full-width in Chinese (GB/T 15834)
            out += [""] + ["   ".join(f"{label}{colon}____________" for label in block[1])]
    return "\n".join(map(_shown, out)) + "\n"


# Characters a terminal or a printer acts on rather than prints: C0 and C1 controls, line
# and paragraph separators, bidi overrides and isolates. A data value's CR (a bank's
# institution name) went to the text document raw, where a terminal returns the carriage
# and the rest of the line overwrites what was printed (a blind audit); TAB broke columns.
_ACTING = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\t]")
_ESCAPES = {"\t": "\\t", "\r": "\\r"}


def _shown(line: str) -> str:
    """A line of the text document with such characters written as escapes (\\t, \\r,
    \\u…): seen, not acted on. (A data value's LF is a line break of the document.)"""
    return _ACTING.sub(lambda m: _ESCAPES.get(m[0], f"\\u{ord(m[0]):04x}"), line)


# HTML -----------------------------------------------------------------------------------

CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
  sans-serif; font-size: 13px; color: #111; max-width: 190mm; margin: 1.5em auto; line-height: 1.45; }
h1 { font-size: 21px; text-align: center; margin: 0 0 .2em; letter-spacing: .05em; }
.sub { text-align: center; color: #444; margin-bottom: 1em; }
h2 { font-size: 15px; border-bottom: 2px solid #333; padding-bottom: 2px; margin: 1.4em 0 .6em; }
dl.fields { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 3px 12px;
  margin: 0; }
dl.fields.wide { grid-template-columns: max-content 1fr; }
dl.fields.wide dd { font-family: "DejaVu Sans Mono", monospace; font-size: 11.5px;
  word-break: break-all; }
dl.fields dt { color: #444; } dl.fields dd { margin: 0; font-weight: 500; }
dl.conclusion { border: 2px solid #333; padding: 8px 10px; background: #f6f6f1; }
dl.conclusion dd { font-weight: 700; }
table { border-collapse: collapse; width: 100%; margin: .3em 0 .8em; font-size: 12px; }
caption { text-align: left; font-weight: 600; padding: 2px 0; }
th, td { border: 1px solid #999; padding: 3px 5px; vertical-align: top; white-space: nowrap; }
th, td.w { white-space: normal; } td.w { white-space: pre-line; overflow-wrap: anywhere; } tr.hit td { background: #fbe9e7; } tr.hit td:last-child {
  color: #b00; font-weight: 700; }
th { background: #eee; font-weight: 600; text-align: left; }
td.r, th.r { text-align: right; white-space: nowrap; }
.step { border-left: 3px solid #bbb; padding: 2px 0 2px 10px; margin: .5em 0; }
.step:not(:has(table)) { break-inside: avoid; } .step table { font-size: 11.5px; }
.step.hit { border-left-color: #b00; }
.step .t { font-weight: 600; } .step .sec { color: #666; font-weight: normal; }
.step ul { margin: .15em 0; padding-left: 1.2em; } .step li { margin: .05em 0; }
.step .o { margin-top: .1em; } .step.hit .o { color: #b00; font-weight: 600; }
p.note { color: #333; font-size: 12px; }
code, .mono { font-family: "DejaVu Sans Mono", monospace; font-size: 11px; word-break: break-all; }
.sign { display: flex; gap: 2em; margin-top: 2.5em; }
.sign div { flex: 1; border-top: 1px solid #333; padding-top: 4px; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } }
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_table(t: Table) -> str:
    def cls(i: int) -> str:
        names = ("r" if i in t.right else "") + (" w" if i in t.wrap else "")
        return f" class='{names.strip()}'" if names else ""

    head = "".join(f"<th{cls(i)}>{_e(h)}</th>" for i, h in enumerate(t.header))
    body = "".join(
        ("<tr class='hit'>" if n in t.marks else "<tr>")
        + "".join(f"<td{cls(i)}>{_e(v)}</td>" for i, v in enumerate(r))
        + "</tr>"
        for n, r in enumerate(t.rows)
    )
    caption = f"<caption>{_e(t.caption)}</caption>" if t.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(doc: Document) -> str:
    head = (
        f"<!doctype html>\n<html lang='{'zh-CN' if doc.lang == 'zh' else 'en'}'><head>"
        f"<meta charset='utf-8'><title>{_e(doc.title)} {_e(doc.subtitle)}</title>"
        f"<style>{CSS}</style></head><body>"
    )
    parts = [
        head,
        f"<h1>{_e(doc.title)}</h1>",
        f"<div class='sub'>{_e(doc.subtitle)}</div>" if doc.subtitle else "",
    ]
    for block in doc.blocks:
        kind = block[0]
        if kind == "heading":
            parts.append(f"<h2>{_e(block[1])}</h2>")
        elif kind == "fields":
            items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in block[1])
            parts.append(f"<dl class='fields {block[2]}'>{items}</dl>")
        elif kind == "table":
            parts.append(_html_table(block[1]) if block[1].rows else "")
        elif kind == "step":
            s = block[1]
            lines = "".join(f"<li>{_e(line)}</li>" for line in s.lines)
            outcome = f"<div class='o'>→ {_e(s.outcome)}</div>" if s.outcome else ""
            table = _html_table(s.table) if s.table is not None else ""
            parts.append(
                f"<div class='step {s.flag}'><div class='t'><span class='sec'>{_e(s.section)}"
                f"</span> {_e(s.title)}</div><ul>{lines}</ul>{table}{outcome}</div>"
            )
        elif kind == "para":
            parts.append(f"<p class='{block[2] or 'note'}'>{_e(block[1])}</p>")
        elif kind == "signatures":
            parts.append(
                "<div class='sign'>" + "".join(f"<div>{_e(x)}</div>" for x in block[1]) + "</div>"
            )
    parts.append("</body></html>\n")
    return "".join(parts)
