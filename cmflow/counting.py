"""Length counting rules for each social network.

Every platform measures "characters" differently. This module turns a post's plain text
into the number the platform compares with its limit. All functions are pure and work on
``str`` (Unicode code points); none of them talks to the network.

Sources of the rules (also collected in docs/platforms.md):

* X: docs.x.com/fundamentals/counting-characters and twitter-text ``config/v3.json``
  (NFC, weighted code points, URLs 23, emoji 2).
* Mastodon: mastodon/mastodon ``app/validators/status_length_validator.rb``
  (``each_grapheme_cluster``, ``URL_PLACEHOLDER_CHARS = 23``, remote mentions shortened).
* Bluesky: ``lexicons/app/bsky/feed/post.json`` (``maxGraphemes: 300``).
* Threads: developers.facebook.com/documentation/threads/posts
  ("Emojis are counted as the number of UTF-8 bytes").
* Telegram: Bot API limits are in UTF-16 code units.
* LinkedIn, Facebook, Instagram, Discord, Slack, dev.to: plain characters (code points).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Final

import regex  # type: ignore[import-untyped, unused-ignore]

from cmflow.i18n import _

__all__ = [
    "COUNTERS",
    "COUNTER_LABELS",
    "URL_LENGTH",
    "count_chars",
    "count_graphemes",
    "count_mastodon",
    "count_threads",
    "count_utf8",
    "count_utf16",
    "count_x",
    "counter_label",
    "exceeding",
    "find_urls",
    "graphemes",
    "is_emoji_grapheme",
]

URL_LENGTH: Final = 23
"""Length charged for any link on X (t.co) and, by default, on Mastodon."""

# --- Patterns ---------------------------------------------------------------------------

_GRAPHEME = regex.compile(r"\X")
# Runs of characters other than these: characters outside such runs (Latin with precomposed
# accents, common punctuation, currency) are one grapheme each: no combining marks, joiners,
# emoji or Hangul jamo.
_COMPLEX_RUN = regex.compile(r"[^\x00-\u02ff\u2010-\u2027\u2030-\u205e\u20a0-\u20cf]+")

# A URL starts with http:// or https:// (any case) not glued to a preceding letter/digit,
# then a host that begins with a letter, digit or "[" (IPv6), then any run of characters
# that are not whitespace, control/format characters, "<", ">", '"', or emoji parts (an
# emoji right after a link is not part of it). Trailing punctuation is trimmed afterwards.
_URL_STOP = r"\s\p{Cc}\p{Cf}<>\"\p{Extended_Pictographic}\p{Emoji_Presentation}\p{RI}\uFE0F"
# The run is read as runs of the ASCII characters it may hold (all but controls, space, "<",
# ">", '"'), tested at once, or single other characters, each tested against the Unicode
# properties: the same run, without a slow property test for every character of a link.
_URL = regex.compile(
    rf"(?<![\p{{L}}\p{{N}}_])https?://[\p{{L}}\p{{N}}\[]"
    rf"(?:(?-i:[\x21\x23-\x3b\x3d\x3f-\x7e]+)|[^{_URL_STOP}])*+",
    regex.IGNORECASE,
)
# Always trimmed from the end of a URL (sentence punctuation, closing quotes).
_TRAILING: Final = frozenset(".,;:!?»\"'’”›…。、，！？：；")
# Trimmed only when they close a bracket that was not opened inside the URL.
_CLOSERS: Final = {")": "(", "]": "[", "}": "{"}

# Mastodon's Account::MENTION_RE, remote form only ("@user@domain"): local mentions are
# counted as written anyway. Not preceded by "=", "/" or a word character, and (like the
# extractor's end_mention_match check, made after a greedy match: hence the atomic group)
# not followed by "@" or "://".
_REMOTE_MENTION = regex.compile(
    r"(?<![=/\w])(?>@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)@\w+(?:[.-]+\w+)*)(?![@＠]|://)",
    regex.IGNORECASE,
)

# Emoji grapheme: flags (regional indicators), keycaps, anything whose first code point has
# default emoji presentation, or a text-default pictograph turned into an emoji by VS16, a
# skin-tone modifier or a ZWJ sequence. "©", "❤" or "1" alone stay text.
_EMOJI_START = regex.compile(
    r"\p{RI}"
    r"|[0-9#*]\uFE0F?\u20E3"
    r"|\p{Emoji_Presentation}"
    r"|\p{Extended_Pictographic}[\uFE0F\u200D\p{Emoji_Modifier}]"
)
# Quick pre-filter: a grapheme without any of these characters cannot be an emoji.
_EMOJI_HINT = regex.compile(r"[\p{RI}\u20E3\p{Emoji_Presentation}\p{Extended_Pictographic}]")
# Every hint character is one of these (the first Extended_Pictographic code points are ©
# and ®, the next one is ‼): the standard `re` finds them many times faster than `regex`
# tells Unicode properties apart, and French text has few of them. Written as the
# characters it is not: `re` compiles a class reaching U+10FFFF five times slower (4 ms at
# every start-up) than its complement.
_EMOJI_CANDIDATE = re.compile("[^\u0000-\u00a8\u00aa-\u00ad\u00af-\u203b]")
# Where a stretch around an emoji may end: after an ASCII character other than CR that an
# ASCII character follows, or at the end of the text (see `_emoji_graphemes`).
_STRETCH_END = re.compile(r"[\x00-\x0c\x0e-\x7f](?=[\x00-\x7f])")

# X (twitter-text v3 config): code points in U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F and
# U+2032-U+2037 weigh 1, all others (these) weigh 2.
# Counted, not the light ones: fewer to find in most text, and `re` finds them faster.
_X_HEAVY = re.compile("[^\u0000-\u10ff\u2000-\u200d\u2010-\u201f\u2032-\u2037]")


# --- Generic helpers --------------------------------------------------------------------


def _ends_with_junk(url: str) -> bool:
    """Whether the last character of a URL candidate is punctuation that follows it."""
    last = url[-1]
    if last in _TRAILING:
        return True
    opener = _CLOSERS.get(last)
    return opener is not None and url.count(last) > url.count(opener)


def find_urls(text: str) -> list[tuple[int, int, str]]:
    return list(_find_urls(text))


Spans = tuple[tuple[int, int, str], ...]
_KNOWN: dict[str, Spans] = {}  # URLs of texts made from others (see `known_urls`)
_KNOWN_MAX = 4096


def known_urls(text: str, spans: Spans) -> None:
    """Record the URLs of `text`, which its maker knows (the same as `find_urls` finds: see
    `cmflow.render.tag_links`), sparing a scan of the text with the URL pattern."""
    if len(_KNOWN) >= _KNOWN_MAX:
        _KNOWN.clear()
    _KNOWN[text] = spans


def _find_urls(text: str) -> Spans:
    known = _KNOWN.get(text)
    return known if known is not None else _scan_urls(text)


def ends_with_junk(url: str) -> bool:
    return _ends_with_junk(url)


@lru_cache(maxsize=2048)
def _scan_urls(text: str) -> Spans:
    """Return ``(start, end, url)`` for each http(s) URL in plain ``text``.

    Indices are ``str`` indices, so ``text[start:end] == url``. Bare domains
    ("example.com") are not URLs here. Trailing sentence punctuation (``. , ; : ! ?``,
    closing quotes and guillemets, ellipsis, CJK full stops) is not part of the URL, and a
    closing ``)``/``]``/``}`` is kept only when balanced by an opener inside the URL, so
    ``(voir https://example.fr/a)`` yields ``https://example.fr/a`` while
    ``https://en.wikipedia.org/wiki/Foo_(bar)`` stays whole.
    """
    if "://" not in text:  # most texts: skip the Unicode-class regex entirely
        return ()
    found: list[tuple[int, int, str]] = []
    for match in _URL.finditer(text):
        start: int = match.start()
        url: str = match.group()
        while _ends_with_junk(url):
            url = url[:-1]
        found.append((start, start + len(url), url))
    return tuple(found)


def graphemes(text: str) -> int:
    """Number of extended grapheme clusters (Unicode UAX #29, ``regex`` ``\\X``)."""
    if text.isascii():
        # Here only CR LF forms a multi-character cluster.
        return len(text) - text.count("\r\n")
    # Segment only the complex runs (emoji, combining marks...), each with the character
    # before it, which a mark or joiner may attach to; simple characters count one each
    # (with no complex run at all, the loop does nothing: one scan, not two).
    total = 0
    last = 0
    for m in _COMPLEX_RUN.finditer(text):
        start = max(m.start() - 1, last)
        total += start - last - text.count("\r\n", last, start)
        total += len(_GRAPHEME.findall(text, start, m.end()))
        last = m.end()
    return total + len(text) - last - text.count("\r\n", last)


def is_emoji_grapheme(g: str) -> bool:
    """Whether the grapheme cluster ``g`` is displayed as an emoji.

    True for default-emoji pictographs (😀), text-default pictographs with VS16 (❤️, ©️),
    skin-tone and ZWJ sequences (👍🏽, 👨‍👩‍👧), flags (🇫🇷) and keycaps (#️⃣). False for
    plain digits, "#", and text-presentation symbols such as "©" or "❤" without VS16.
    ``g`` is expected to be a single cluster as produced by ``\\X``.
    """
    if g.isascii():
        return False
    return _EMOJI_START.match(g) is not None


def _emoji_graphemes(text: str) -> list[str]:
    """The emoji grapheme clusters of ``text``, in order.

    The same as keeping the emoji among all the clusters of ``text``, but only the stretch
    of text around each emoji hint is segmented: ``\\X`` over a whole post costs more than
    the rest of counting it. A stretch starts and ends where a cluster boundary is certain
    whatever the Unicode version: between an ASCII character other than CR and an ASCII
    character (no ASCII character extends, joins, prepends or pairs), so its clusters are
    the text's; and every emoji cluster holds a hint character.
    """
    if text.isascii():
        return []
    found: list[str] = []
    end = 0  # where the last stretch segmented ends: a boundary
    for candidate in _EMOJI_CANDIDATE.finditer(text):
        at = candidate.start()
        if at < end or not _is_hint(text[at]):
            continue
        start = at
        while start > end and not (text[start] < "\x80" and _safe_before(text[start - 1])):
            start -= 1
        after = _STRETCH_END.search(text, at)
        end = after.end() if after is not None else len(text)
        found += _emoji_of(text[start:end])
    return found


@lru_cache(maxsize=4096)
def _is_hint(char: str) -> bool:
    return _EMOJI_HINT.match(char) is not None


@lru_cache(maxsize=1024)
def _emoji_of(stretch: str) -> tuple[str, ...]:
    """The emoji clusters of a stretch: cached, the same few (" 🎉 ") recur post after post."""
    return tuple(g for g in _GRAPHEME.findall(stretch) if is_emoji_grapheme(g))


def _safe_before(char: str) -> bool:
    """Whether a cluster boundary follows `char` when an ASCII character does."""
    return char < "\x80" and char != "\r"


# --- X ------------------------------------------------------------------------------------


def _x_code_point_weight(text: str) -> int:
    """Sum of per-code-point X weights: 1 inside the light ranges, 2 elsewhere."""
    if text.isascii():
        return len(text)
    return len(text) + len(_X_HEAVY.findall(text))


def _x_weight(text: str) -> int:
    """Weighted length of URL-free text: emoji clusters 2, other code points 1 or 2."""
    total = _x_code_point_weight(text)
    if total == len(text) and "\u200d" not in text:
        # Every emoji cluster holds a code point of weight 2 (a flag, a keycap's U+20E3, an
        # emoji-presentation character, U+FE0F or a skin tone after a pictograph) or a
        # U+200D (after "©" or "®"): none here.
        return total
    for g in _emoji_graphemes(text):
        total += 2 - _x_code_point_weight(g)
    return total


def count_x(text: str) -> int:
    """X (Twitter) weighted length, as compared with the 280 limit.

    Rules from docs.x.com/fundamentals/counting-characters and twitter-text ``v3.json``:
    the text is NFC-normalised; every http(s) URL counts ``URL_LENGTH`` (23, t.co); every
    emoji grapheme (ZWJ sequences, flags, keycaps, skin tones included) counts 2; other
    code points weigh 1 in the ranges 0-4351, 8192-8205, 8208-8223 and 8242-8247 and 2
    elsewhere (CJK, etc.).

    Unlike twitter-text, bare domains ("example.com") are not treated as links.
    """
    text = unicodedata.normalize("NFC", text)
    total = 0
    pos = 0
    for start, end, _url in find_urls(text):
        total += _x_weight(text[pos:start]) + URL_LENGTH
        pos = end
    return total + _x_weight(text[pos:])


# --- Mastodon -----------------------------------------------------------------------------


def count_mastodon(text: str, url_length: int = URL_LENGTH) -> int:
    """Mastodon status length (mastodon ``app/validators/status_length_validator.rb``).

    Grapheme clusters of the text after rewriting: each http(s) URL becomes a placeholder
    of ``url_length`` characters (the instance's ``characters_reserved_per_url``, 23 by
    default) and a remote mention ``@user@domain.tld`` becomes ``@user``. When a URL and a
    mention overlap, the one that starts first wins.
    """
    entities: list[tuple[int, int, str]] = [
        (start, end, "x" * url_length) for start, end, _url in find_urls(text)
    ]
    if "@" in text:
        for match in _REMOTE_MENTION.finditer(text):
            entities.append((match.start(), match.end(), "@" + match.group(1)))
    if not entities:
        return graphemes(text)
    entities.sort(key=lambda entity: entity[0])
    parts: list[str] = []
    pos = 0
    for start, end, replacement in entities:
        if start < pos:  # overlaps an earlier entity
            continue
        parts.append(text[pos:start])
        parts.append(replacement)
        pos = end
    parts.append(text[pos:])
    return graphemes("".join(parts))


# --- Other platforms ------------------------------------------------------------------------


def count_graphemes(text: str, url_length: int | None = None) -> int:
    """Bluesky length: grapheme clusters of the text as sent (``post.json`` ``maxGraphemes``).

    URLs count in full, so ``url_length`` is ignored; shorten long links in the text and
    carry the full URL in a link facet instead.
    """
    return graphemes(text)


def count_threads(text: str, url_length: int | None = None) -> int:
    """Threads (Meta) length: code points, except each emoji counts its UTF-8 byte length.

    developers.facebook.com/documentation/threads/posts: "Emojis are counted as the number
    of UTF-8 bytes". ``url_length`` is ignored (no link shortening is documented).
    """
    total = len(text)
    for g in _emoji_graphemes(text):
        total += len(g.encode("utf-8")) - len(g)
    return total


def count_utf16(text: str, url_length: int | None = None) -> int:
    """Telegram length: UTF-16 code units (astral code points count 2)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def count_utf8(text: str, url_length: int | None = None) -> int:
    """Bytes in UTF-8 (YouTube limits a description to 5,000 bytes)."""
    return len(text.encode("utf-8"))


def count_chars(text: str, url_length: int | None = None) -> int:
    """Plain length in Unicode code points (LinkedIn, Facebook, Instagram, Discord, Slack,
    dev.to)."""
    return len(text)


def _count_x_any(text: str, url_length: int | None = None) -> int:
    """``count_x`` with the common counter signature (X always charges 23 per URL)."""
    return count_x(text)


def _count_mastodon_any(text: str, url_length: int | None = None) -> int:
    """``count_mastodon`` with the common counter signature (``None`` means 23)."""
    return count_mastodon(text, URL_LENGTH if url_length is None else url_length)


COUNTERS: Final[dict[str, Callable[[str, int | None], int]]] = {
    "x": _count_x_any,
    "mastodon": _count_mastodon_any,
    "graphemes": count_graphemes,
    "threads": count_threads,
    "utf16": count_utf16,
    "chars": count_chars,
    "utf8": count_utf8,
}
"""Counter name (as used in channel configuration) -> ``f(text, url_length)``."""

COUNTER_LABELS: Final[dict[str, Callable[[], str]]] = {
    "x": lambda: _("characters as X counts them (a link 23, an emoji or a CJK character 2)"),
    "mastodon": lambda: _("characters (a link counts 23 by default, @user@domain counts as @user)"),
    "graphemes": lambda: _("characters (an emoji counts 1, links in full)"),
    "threads": lambda: _("characters (an emoji counts as many as its UTF-8 bytes)"),
    "utf16": lambda: _("characters (most emoji count 2)"),
    "chars": lambda: _("characters (an emoji may count 2 or more)"),
    "utf8": lambda: _("bytes (an accented letter counts 2, an emoji 4)"),
}
"""Each counter's unit in plain words, for messages such as "312/280 ...": called when the
message is written, so that it is in the current language (see `counter_label`)."""


# --- Over a limit -------------------------------------------------------------------------

# The fewest characters a URL takes: "http://" and the first character of its host (which
# trimming never removes: a letter, a digit or "["). Every URL holds its own "://".
_SHORTEST_URL: Final = len("http://a")


def at_most(name: str, text: str, url_length: int | None = None) -> int:
    """A number `COUNTERS[name](text, url_length)` never exceeds, found without segmenting
    the text into graphemes, finding its URLs or looking for emoji.

    Each bound holds for every text: grapheme clusters are at least one code point each;
    a URL ("://" marks each one) becomes at most `url_length` characters where it took at
    least `_SHORTEST_URL`; a remote mention only shrinks; X counts the same URLs as
    `find_urls` finds, 23 each, and an emoji 2, which it weighs at least as code points
    (two of them, or one outside the light ranges); an emoji counted as its UTF-8 bytes on
    Threads is as many as its code points take in UTF-8.
    """
    if name == "graphemes":
        return len(text)
    if name == "mastodon":
        grow = (URL_LENGTH if url_length is None else url_length) - _SHORTEST_URL
        return len(text) + max(grow, 0) * text.count("://")
    if name == "x":
        text = unicodedata.normalize("NFC", text)
        total = _x_code_point_weight(text)
        if "://" in text:  # each URL counts 23 instead of its code points' weights
            for _start, _end, url in _find_urls(text):
                total += URL_LENGTH - _x_code_point_weight(url)
        return total
    if name == "threads":
        return count_utf8(text)
    return COUNTERS[name](text, url_length)  # exact (`_EXACT`), and as cheap as a bound


# The counters `at_most` gives the exact count of.
_EXACT: Final = frozenset({"chars", "utf16", "utf8"})


def exceeding(name: str, text: str, url_length: int | None, limit: int) -> int | None:
    """`COUNTERS[name](text, url_length)` when it is over `limit`, else None: counted only
    when a cheap bound (`at_most`) does not already show that the text fits."""
    bound = at_most(name, text, url_length)
    if bound <= limit:
        return None
    length = bound if name in _EXACT else COUNTERS[name](text, url_length)
    return length if length > limit else None


def counter_label(name: str, width: int | None = None) -> str:
    """What counter `name` counts, in the current language (`width`: where the channel
    shows links cut to that many characters, as Bluesky does, and counts them so)."""
    if width and name == "graphemes":
        return _("characters (an emoji counts 1, a link as shown: cut to {width})").format(
            width=width
        )
    return COUNTER_LABELS[name]()
