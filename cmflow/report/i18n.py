"""The report's language and number formats.

Its words come from cmflow's gettext catalogues (`cmflow/locale`), in the brand's `language`
(channels.yaml) even when `CMFLOW_LANG` sets another one for the messages: the report is a
document for the brand. Numbers are locale formatting, kept here: French writes 1 234 and
4,5 %, English (and any language without a rule here) 1,234 and 4.5%."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cmflow import i18n

# Thousands separator, decimal mark, and what goes between a number and "%".
_NUMBERS = {"fr": ("\u202f", ",", "\u202f")}
_DEFAULT_NUMBERS = (",", ".", "")


@dataclass(frozen=True)
class Lang:
    code: str

    @classmethod
    def of(cls, language: str | None) -> Lang:
        """The brand's language; without one, the language of cmflow's messages."""
        code = i18n.normalise(language) or i18n.current()
        return cls(code if code in i18n.available() else i18n.DEFAULT)

    @property
    def gettext(self) -> Callable[[str], str]:
        """`_` for the report's words: `_ = lang.gettext; _("Summary")`."""
        return i18n.translation(self.code).gettext

    def weekday(self, i: int) -> str:
        _ = self.gettext
        return (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))[i]

    def _marks(self) -> tuple[str, str, str]:
        return _NUMBERS.get(self.code, _DEFAULT_NUMBERS)

    def _local(self, text: str) -> str:
        """`text` formatted the English way (1,234.5) with this language's marks."""
        thousands, decimal, _space = self._marks()
        return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)

    def count(self, n: int | None) -> str:
        if n is None:
            return "–"
        return self._local(f"{n:,}")

    def num(self, x: float, digits: int = 1) -> str:
        return self._local(f"{x:,.{digits}f}")

    def pct(self, x: float | None, digits: int = 2) -> str:
        if x is None:
            return "–"
        return self._local(f"{x * 100:.{digits}f}") + self._marks()[2] + "%"

    def signed(self, n: int | None) -> str:
        if n is None:
            return "–"
        return ("+" if n > 0 else "") + self.count(n)

    def basis(self, basis: str) -> str:
        """How the engagement rate was computed, in words."""
        _ = self.gettext
        names = {
            "impressions": _("per impression"),
            "followers": _("per follower"),
            "mixed": _("per impression where known, else per follower"),
        }
        return names.get(basis, _("no impressions or followers known"))

    def format_name(self, key: str) -> str:
        """A post format (text, image, thread, video) in words."""
        _ = self.gettext
        names = {"text": _("text"), "image": _("image"), "thread": _("thread"), "video": _("video")}
        return names.get(key, key)

    def label(self, key: str) -> str:
        _ = self.gettext
        return key if key else _("(none)")
