"""Resolved packs (`Policy`) and the library that selects them (POLICY.md "Selecting")."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from meanstest.errors import MeansTestError, PolicyError
from meanstest.policy.validation import _JURISDICTION


@dataclass(frozen=True, eq=False)
class Policy:
    """One fully resolved, validated pack.

    params: the resolved pack as plain dicts/lists/ints/strings, dates as "YYYY-MM-DD",
    without `extends` (exactly what the digest is computed over). Sections as in
    POLICY.md: policy, standards, imputation, support, deductions, veto, addons,
    phaseout, circles, programs (optional: absent stays absent, so the digest
    matches other implementations; use the `programs` property), index.
    """

    id: str
    jurisdiction: str
    name: str
    effective_from: dt.date
    params: dict
    digest: str
    path: str = ""

    @property
    def programs(self) -> dict:
        return self.params.get("programs", {})


def _check_unique_dates(rows: Iterable[tuple[str, str, dt.date]]) -> None:
    seen: dict[tuple[str, dt.date], str] = {}
    for f, j, d in rows:
        if (j, d) in seen:
            raise PolicyError(
                f,
                "policy.effective_from",
                f"jurisdiction {j} already has a pack effective from {d.isoformat()} in "
                f"{seen[(j, d)]}; valid: one pack per jurisdiction and effective_from",
            )
        seen[(j, d)] = f


class PolicyLibrary:
    """Resolved, validated packs, and the selection of POLICY.md "Selecting"."""

    def __init__(self, packs: Iterable[Policy], path: str = "") -> None:
        self.path = path
        self.packs: list[Policy] = sorted(packs, key=lambda p: p.id)
        self._by_id: dict[str, Policy] = {}
        for p in self.packs:
            if p.id in self._by_id:
                raise PolicyError(p.path, "policy.id", f"duplicate id {p.id!r}")
            self._by_id[p.id] = p
        _check_unique_dates((p.path, p.jurisdiction, p.effective_from) for p in self.packs)
        self._in_force: dict[str, list[Policy]] = {}  # jurisdiction -> by effective_from
        for p in sorted(self.packs, key=lambda p: p.effective_from):
            self._in_force.setdefault(p.jurisdiction, []).append(p)
        self._dates = {j: [p.effective_from for p in ps] for j, ps in self._in_force.items()}
        self._memo: dict[tuple[str, dt.date], Policy | None] = {}

    def __len__(self) -> int:
        return len(self.packs)

    def __iter__(self) -> Iterator[Policy]:
        return iter(self.packs)

    def __contains__(self, pack_id: object) -> bool:
        return pack_id in self._by_id

    def by_id(self, pack_id: str) -> Policy:
        try:
            return self._by_id[pack_id]
        except KeyError:
            raise PolicyError(
                self.path,
                "policy.id",
                f"no pack with id {pack_id!r}; valid: {', '.join(self._by_id)}",
            ) from None

    @staticmethod
    def candidates(jurisdiction: str) -> list[str]:
        """The codes `select` tries, in order: J, its prefecture, its province."""
        j = jurisdiction
        if not isinstance(j, str) or not _JURISDICTION.fullmatch(j):
            return [j] if isinstance(j, str) else []
        return list(dict.fromkeys((j, j[:4] + "00", j[:2] + "0000")))

    def select(self, jurisdiction: str, d: dt.date) -> Policy | None:
        """The pack in force for J on D (latest effective_from ≤ D), with fallback; None
        when nothing matches (the caller rejects the household naming J, D and
        `candidates(J)`). Memoised by (J, D)."""
        if isinstance(d, dt.datetime):
            d = d.date()
        key = (jurisdiction, d)
        try:
            return self._memo[key]
        except KeyError:
            pass
        found = None
        for code in self.candidates(jurisdiction):
            i = bisect.bisect_right(self._dates.get(code, []), d)
            if i:
                found = self._in_force[code][i - 1]
                break
        if len(self._memo) >= 1 << 20:  # bound memory on adversarial inputs
            self._memo.clear()
        self._memo[key] = found
        return found

    def select_many(self, jurisdictions: list[str], dates: list[dt.date]) -> list[Policy | None]:
        """`select` for aligned lists (one entry per household), on distinct pairs."""
        if len(jurisdictions) != len(dates):
            raise MeansTestError(
                f"select_many: {len(jurisdictions)} jurisdictions but {len(dates)} dates"
            )
        pairs = list(zip(jurisdictions, dates))
        chosen = {p: self.select(*p) for p in dict.fromkeys(pairs)}
        return [chosen[p] for p in pairs]
