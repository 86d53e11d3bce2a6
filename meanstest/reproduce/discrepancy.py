"""What reproduce reports: a discrepancy, a household whose rank alone moved, and how a
stored and a recomputed value are shown side by side."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RankChange:
    """A household that reproduced except its rank, which moved with other households."""

    household_id: str
    stored: int
    recomputed: int

    def __str__(self) -> str:
        return f"{self.household_id} ({self.stored} → {self.recomputed})"


@dataclass
class Discrepancy:
    household_id: str
    kind: str
    columns: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)  # "column: stored → recomputed"

    def __str__(self) -> str:
        shown = self.values or [c for c in self.columns if c not in self.kind]
        return f"{self.household_id}: {self.kind}" + (f" ({'; '.join(shown)})" if shown else "")


def _shown(value) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text[:12] + "…" if isinstance(value, str) and len(value) == 64 else text


def shown_apart(a: object, b: object) -> tuple[str, str]:
    """Two values that differ, shown so that they look different: with their types when
    their texts are the same (49100 as text against the integer 49100: a file rewritten
    in another type read "benefit: 49100 in changes_new, 49100 in results")."""
    x, y = _shown(a), _shown(b)
    if x == y:
        return f"{a!r} ({type(a).__name__})", f"{b!r} ({type(b).__name__})"
    return x, y


def _change(column: str, stored, recomputed) -> str:
    if (
        isinstance(stored, str)
        and isinstance(recomputed, str)
        and stored.strip() == recomputed.strip()
    ):
        return f"{column}: {stored!r} → {recomputed!r}"  # they differ in spaces: show them
    return "{}: {} → {}".format(column, *shown_apart(stored, recomputed))
