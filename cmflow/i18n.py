"""The language cmflow speaks: English by default, French from a gettext catalogue.

Messages are written in English in the code, wrapped in `_()`, and translated from the
standard gettext catalogue `cmflow/locale/<lang>/LC_MESSAGES/cmflow.po` (compiled beside it
to `cmflow.mo`): a third language is one more catalogue, not a code change
(docs/translating.md says how to add one).

Which language: `CMFLOW_LANG` when set (a team that reads English while the brand writes
French), else the brand's `language` in channels.yaml, else the environment's locale
(`LANGUAGE`, `LC_ALL`, `LC_MESSAGES`, `LANG`, in gettext's order), else English. Help text,
read before any channels.yaml, follows `CMFLOW_LANG` and the locale.

A message with values is written `_("{count} characters").format(count=n)`: the values are
named, so a translation may put them in another order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gettext

DOMAIN = "cmflow"
LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT = "en"
_ENV_ORDER = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_translations: gettext.NullTranslations | None = None
_current = DEFAULT
_documents: dict[Path, gettext.NullTranslations] = {}


def available() -> tuple[str, ...]:
    """English and every language that has a compiled catalogue, sorted."""
    found = {DEFAULT}
    try:
        for entry in LOCALE_DIR.iterdir():
            if (entry / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file():
                found.add(entry.name)
    except OSError:  # no catalogue folder (a stripped install): English only
        return (DEFAULT,)
    return tuple(sorted(found))


def normalise(tag: str | None) -> str | None:
    """`fr_FR.UTF-8`, `fr-CA`, `FR` → `fr`; `C`, `POSIX` and empty → None."""
    if not tag:
        return None
    code = tag.split(":", 1)[0].split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    code = code.split("_", 1)[0].strip().lower()
    if not code or code in ("c", "posix"):
        return None
    return code


def choose(brand_language: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The language to speak: `CMFLOW_LANG`, then the brand's, then the locale, then English.
    A language without a catalogue falls through to the next choice."""
    env = os.environ if env is None else env
    known = available()
    candidates = [normalise(env.get("CMFLOW_LANG")), normalise(brand_language)]
    for name in _ENV_ORDER:
        value = env.get(name)
        if value:
            # LANGUAGE may list several (`fr:en`); the others hold one.
            candidates.extend(normalise(part) for part in value.split(":"))
            break
    for code in candidates:
        if code in known:
            return code
    return DEFAULT


def activate(language: str) -> str:
    """Speak `language` from now on (English when it has no catalogue); returns the code."""
    global _translations, _current
    code = normalise(language) or DEFAULT
    if code == _current and (code == DEFAULT or _translations is not None):
        return code  # already spoken: reading a catalogue costs milliseconds
    if code == DEFAULT:
        _translations, _current = None, DEFAULT
        return DEFAULT
    import gettext

    try:
        with (LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as fp:
            _translations = gettext.GNUTranslations(fp)
    except OSError:
        _translations, _current = None, DEFAULT
        return DEFAULT
    _current = code
    return code


def translation(language: str | None) -> gettext.NullTranslations:
    """The messages of `language` whatever the current language is (English when it has no
    catalogue): for a document written in a language of its own. The calendar and the report
    speak the brand's `language` even when `CMFLOW_LANG` sets another one for the messages."""
    path = LOCALE_DIR / (normalise(language) or DEFAULT) / "LC_MESSAGES" / f"{DOMAIN}.mo"
    found = _documents.get(path)
    if found is None:
        import gettext

        try:
            with path.open("rb") as fp:
                found = gettext.GNUTranslations(fp)
        except OSError:  # English, or a language without a catalogue
            found = gettext.NullTranslations()
        _documents[path] = found
    return found


def current() -> str:
    """The language messages are in now (part of the validation cache's key)."""
    return _current


# In messages, per language: the thousands separator, the decimal mark, and what goes between
# a number and "%". French writes 1 000 000 and 30 %, English (and a language without a rule
# here) 1,000,000 and 30%. Plain spaces: a message is one line of terminal output, where other
# spaces are shown escaped (output.printable); the report's documents have their own marks.
_NUMBERS = {"fr": (" ", ",", " ")}
_DEFAULT_NUMBERS = (",", ".", "")


def _local(text: str) -> str:
    """`text` formatted the English way (1,234.5) with the current language's marks."""
    thousands, decimal, _space = _NUMBERS.get(_current, _DEFAULT_NUMBERS)
    return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)


def number(n: int) -> str:
    """A whole number in a message: `1,000,000` in English, `1 000 000` in French."""
    return _local(f"{n:,}")


def percent(share: float, digits: int = 0) -> str:
    """A share (0.3) in a message: `30%` in English, `30 %` in French."""
    space = _NUMBERS.get(_current, _DEFAULT_NUMBERS)[2]
    return _local(f"{share:.{digits}%}".removesuffix("%")) + space + "%"


def _(message: str) -> str:
    """`message` in the current language."""
    if _translations is None:
        return message
    return _translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for `n`, in the current language."""
    if _translations is None:
        return singular if n == 1 else plural
    return _translations.ngettext(singular, plural, n)


def day_names(_: Callable[[str], str] = _) -> tuple[str, ...]:
    """Monday to Sunday, short (`Mon`, `lun.`), in the current language or through `_`."""
    return (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))


def month_names(_: Callable[[str], str] = _) -> tuple[str, ...]:
    """January to December, short (`Jan`, `janv.`), in the current language or through `_`."""
    return (
        _("Jan"),
        _("Feb"),
        _("Mar"),
        _("Apr"),
        _("May"),
        _("Jun"),
        _("Jul"),
        _("Aug"),
        _("Sep"),
        _("Oct"),
        _("Nov"),
        _("Dec"),
    )


activate(choose(None))
