"""Text helpers shared by rules: folding for term matching, hashtags."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from cmflow import counting

HASHTAG = re.compile(r"(?<![\w#&/])#(\w[\w-]*)")


def fold(text: str) -> tuple[str, list[int]]:
    """Casefold and strip accents; return the folded text and, per folded char, its index."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            low = ch.lower()
            out.append(low)
            index.append(i)
            continue
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
    for start, end, _ in reversed(counting.find_urls(text)):
        text = text[:start] + " " + text[end:]
    return ["#" + m.group(1) for m in HASHTAG.finditer(text) if not m.group(1).isdigit()]
