"""What every step writer needs: the language, who is who, and the words for amounts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from meanstest import labels
from meanstest.amounts import money, yes_no


@dataclass
class Ctx:
    lang: str
    members: list[str]  # person_ids in persons order
    supporters: list[str]
    household: str = ""  # the document's household_id

    def t(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    def m(self, fen: int, per: str = "") -> str:
        return money(fen, self.lang, per)

    def who(self, pid: str | None) -> str:
        if pid in self.members:
            return self.t("成员", "member ") + str(self.members.index(pid) + 1)
        if pid in self.supporters:
            return self.t("义务人", "supporter ") + str(self.supporters.index(pid) + 1)
        return pid or "—"

    def yn(self, flag: bool) -> str:
        return yes_no(flag, self.lang)

    def join(self, items: Iterable[str]) -> str:
        items = list(items)
        return self.t("、", ", ").join(items) if items else self.t("无", "none")

    def sec(self, section: str) -> str:
        """The section's name (the document shows its number beside it)."""
        return labels.of(labels.SECTION, section, self.lang)
