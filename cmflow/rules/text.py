"""Text helpers shared by rules: folding for term matching, hashtags."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

HASHTAG = re.compile(r"(?<![\w#&/])#(\w[\w-]*)")


def _table() -> dict[int, str]:
    """Lower-case and strip accents from Latin letters, one character for one."""
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        base = "".join(
            c for c in unicodedata.normalize("NFKD", chr(code)) if not unicodedata.combining(c)
        )
        low = base.lower()
        if len(low) == 1:
            table[code] = low
    for code in range(0x41, 0x5B):
        table[code] = chr(code + 32)
    return table


_FOLD = _table()


@lru_cache(maxsize=4096)
def _plain(c: str) -> bool:
    """A character folding leaves as it is (no accent to strip, no case to fold)."""
    return (
        not unicodedata.combining(c)
        and c.casefold() == c
        and len(unicodedata.normalize("NFKD", c)) == 1
    )


@lru_cache(maxsize=512)
def fold(text: str) -> tuple[str, list[int] | None]:
    """Casefold and strip accents. Returns the folded text and, when lengths differ, the index
    in `text` of each folded character (None: same positions)."""
    fast = text.translate(_FOLD)
    if fast.isascii() or all(c.isascii() or _plain(c) for c in set(fast)):
        return fast, None
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for c in _fold_char(ch):
            out.append(c)
            index.append(i)
    return "".join(out), index


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=1024)
def term_pattern(term: str) -> re.Pattern[str]:
    folded = fold(term.strip())[0]
    words = [re.escape(w) for w in folded.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


def hashtags(text: str) -> list[str]:
    """Hashtags in plain text, links excluded (a URL's #fragment is not a hashtag)."""
    if "#" not in text:
        return []
    return list(_hashtags(text))


@lru_cache(maxsize=1024)
def _hashtags(text: str) -> tuple[str, ...]:
    from cmflow import counting  # lazy: the `regex` module costs start-up time

    for start, end, _ in reversed(counting.find_urls(text)):
        text = text[:start] + " " + text[end:]
    return tuple("#" + m.group(1) for m in HASHTAG.finditer(text) if not m.group(1).isdigit())


# Characters `fold` maps one for one to a character it keeps as is, and that are word
# characters (and whitespace) exactly when what they map to is: in a text made only of
# them, `term_pattern` finds a term in the folded text exactly where `raw_pattern` finds
# it in the text itself, at the same positions. Found as texts bring them (ASCII: all).
_ONE_FOR_ONE: set[str] = {chr(c) for c in range(128)}
_WORD = re.compile(r"\w")
_SPACE = re.compile(r"\s")


def _one_for_one(c: str) -> bool:
    f = _FOLD.get(ord(c), c)
    if not (f.isascii() or _plain(f)):
        return False  # `fold` takes its slow path on such a text
    return f == c or (
        bool(_WORD.match(c)) == bool(_WORD.match(f))
        and bool(_SPACE.match(c)) == bool(_SPACE.match(f))
    )


def _raw_matchable(text: str) -> bool:
    """Whether `raw_pattern` can stand for `term_pattern` over `fold(text)` (see above)."""
    if text.isascii():
        return True
    # The characters known to be one for one are skipped by a pattern (a search is several
    # times faster than a set of the text); from the first other one on, a set decides.
    m = _other().search(text)
    if m is None:
        return True
    chars = set(text[m.start() :])
    if chars <= _ONE_FOR_ONE:
        return True
    for c in chars - _ONE_FOR_ONE:
        if not _one_for_one(c):
            return False
        _ONE_FOR_ONE.add(c)
    return True


# A pattern for a character not (yet) in `_ONE_FOR_ONE`, how many characters that held when it
# was compiled, and how many times it was compiled (`_other`). Compiled again
# as soon as it has grown, for the first `_OTHER_EAGER` times (a language's few accented
# letters and emoji are learned from the first posts: a pattern that knows them skips most
# texts whole); then only once it has grown by a quarter (texts with thousands of distinct
# characters compile it a few times, not once each), and not beyond `_OTHER_MAX` characters
# (a pattern that knows fewer only hands the set more of the text: the answer is the same).
_OTHER: list[tuple[re.Pattern[str], int, int]] = []
_OTHER_MAX = 2048
_OTHER_EAGER = 32


def _other() -> re.Pattern[str]:
    size = len(_ONE_FOR_ONE)
    if _OTHER:
        pattern, known, compiled = _OTHER[0]
        if size == known or size > _OTHER_MAX:
            return pattern
        if compiled >= _OTHER_EAGER and size <= known * 5 // 4:
            return pattern
    else:
        compiled = 0
    chars = "".join(sorted(map(re.escape, _ONE_FOR_ONE)))
    _OTHER[:] = [(re.compile(f"[^{chars}]"), size, compiled + 1)]
    return _OTHER[0][0]


@lru_cache(maxsize=1024)
def raw_pattern(term: str) -> re.Pattern[str]:
    """`term_pattern(term)` with each letter a class of the characters `fold` maps to it
    one for one: searched in the text itself, it spares folding it."""
    folded = fold(term.strip())[0]
    words = ["".join(_raw_class(t) for t in w) for w in folded.split()]
    if not words:
        return re.compile(r"(?<!\w)(?!\w)")
    # `(?<!\w)X` written `X(?<!\w[\s\S])` (the same test, one character later): a pattern
    # that starts with a character class is searched for ten times faster.
    first = _raw_class(folded.split()[0][0])
    rest = r"\s+".join(words)[len(first) :]
    return re.compile(first + r"(?<!\w[\s\S])" + rest + r"(?!\w)")


def _raw_class(t: str) -> str:
    """A pattern for the characters `fold` maps to `t` one for one."""
    members = sorted(
        {chr(k) for k, v in _FOLD.items() if v == t} | ({t} if ord(t) not in _FOLD else set())
    )
    if not members:
        return r"[^\s\S]"  # nothing: no character folds to it alone
    if len(members) == 1:
        return re.escape(members[0])
    return "[" + "".join(re.escape(c) for c in members) + "]"


@lru_cache(maxsize=1024)
def term_hits(text: str, terms: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    """(term, start, end) of the first match of each term in `text`, case and accents folded."""
    if _raw_matchable(text):  # most texts: no folded copy made
        hits: list[tuple[str, int, int]] = []
        for term in terms:
            m = raw_pattern(term).search(text)
            if m:
                hits.append((term, m.start(), m.end()))
        return tuple(hits)
    folded, index = fold(text)
    hits = []
    for term in terms:
        m = term_pattern(term).search(folded)
        if m:
            start = index[m.start()] if index else m.start()
            end = index[m.end() - 1] + 1 if index else m.end()
            hits.append((term, start, end))
    return tuple(hits)
