"""Amounts as people read them: integer fen → '1,824.00 元', per-mille → '0.7', centi-m² →
'50.00 平方米'. Integer arithmetic only (a float never touches an amount); machine outputs
keep integer fen, these are for documents, reports and the console.
"""

from __future__ import annotations

from typing import Any


def yuan(fen: int) -> str:
    """182400 → '1,824.00' (thousands separated, two decimals, integer arithmetic)."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"an amount in fen is an int, got {type(fen).__name__}")
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole:,}.{cents:02d}"


def money(fen: int, lang: str = "zh", per: str = "") -> str:
    """'1,824.00 元' / '1,824.00 yuan'; per = 'month', 'year' or 'person_month'."""
    unit = {
        "": ("元", "yuan"),
        "month": ("元/月", "yuan/month"),
        "year": ("元/年", "yuan/year"),
        "person_month": ("元/人·月", "yuan per person-month"),
    }[per]
    return f"{yuan(fen)} {unit[0] if lang == 'zh' else unit[1]}"


def ratio(permille: int) -> str:
    """Per-mille as a decimal: 700 → '0.7', 1500 → '1.5', 1000 → '1', 25 → '0.025'."""
    whole, frac = divmod(abs(permille), 1000)
    text = f"{whole}" + (f".{frac:03d}".rstrip("0") if frac else "")
    return ("-" if permille < 0 else "") + text


def area(centi_m2: int, lang: str = "zh") -> str:
    """Centi-square-metres: 5000 → '50.00 平方米' / '50.00 m²'."""
    whole, rest = divmod(abs(centi_m2), 100)
    unit = "平方米" if lang == "zh" else "m²"
    return f"{'-' if centi_m2 < 0 else ''}{whole:,}.{rest:02d} {unit}"


def value(unit: str, v: Any, lang: str) -> str:
    """A value in `unit` (labels.PARAMETER's units) as people read it."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return yes_no(v, lang)
    if unit == "fen_month":
        return money(v, lang, "person_month")
    if unit == "fen_year":
        return money(v, lang, "year")
    if unit == "fen":
        return money(v, lang)
    if unit == "permille":
        return ratio(v)
    if unit == "centi_m2":
        return area(v, lang)
    if unit == "months":
        return f"{v} 个月" if lang == "zh" else f"{v} months"
    if isinstance(v, (list, tuple)):
        return ("、" if lang == "zh" else ", ").join(str(x) for x in v)
    return str(v)


def yes_no(flag: bool, lang: str) -> str:
    return ("是" if flag else "否") if lang == "zh" else ("yes" if flag else "no")
