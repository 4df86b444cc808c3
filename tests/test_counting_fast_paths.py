"""Counting shortcuts give what the long way gives: emoji found by segmenting only the text
around them are the emoji among all the text's grapheme clusters, X weights summed from the
heavy code points are the weights summed over all of them, and so the counts agree on
tricky text (emoji, ZWJ sequences, flags, keycaps, skin tones, combining marks, CR LF,
characters that prepend, Hangul, French accents, URLs)."""

from __future__ import annotations

import random
import unicodedata

import pytest
import regex  # type: ignore[import-untyped, unused-ignore]

from cmflow import counting

PIECES = [
    "a",
    "Z",
    " ",
    "  ",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "1",
    "#",
    "*",
    ".",
    "(",
    ")",
    "é",
    "e\u0301",  # e + combining acute
    "\u0301",  # a mark on its own: it attaches to what comes before
    "À",
    "œ",
    "’",
    "«",
    "»",
    "…",
    "€",
    "©",
    "®",
    "©\ufe0f",
    "®\u200d",
    "©\u200d\u200d",
    "‼",
    "‼\ufe0f",
    "™",
    "❤",
    "❤\ufe0f",
    "❤\u200d🔥",
    "🎉",
    "😀",
    "👍🏽",
    "🏽",  # a skin tone on its own: it extends what comes before
    "👨\u200d👩\u200d👧",
    "\u200d",
    "\ufe0f",
    "🇫🇷",
    "🇫",  # half a flag: regional indicators pair up
    "1\ufe0f\u20e3",
    "#\u20e3",
    "\u20e3",
    "\u0600",  # Arabic number sign: Prepend, it joins the next character
    "\u0915\u094d\u0937",  # Devanagari conjunct
    "\u1100\u1161\u11a8",  # Hangul jamo
    "한",
    "中文",
    "\u00a0",
    "https://example.fr/a",
    "https://exemple.fr/été?utm_source=x 🎉",
    "@alice@example.social",
]


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 14))) for _ in range(n)]


def _emoji_the_long_way(text: str) -> list[str]:
    clusters: list[str] = regex.findall(r"\X", text)
    return [g for g in clusters if counting.is_emoji_grapheme(g)]


def _x_weight_the_long_way(text: str) -> int:
    light = regex.findall(r"[\u0000-\u10FF\u2000-\u200D\u2010-\u201F\u2032-\u2037]", text)
    total = 2 * len(text) - len(light)
    for g in _emoji_the_long_way(text):
        total += 2 - (
            2 * len(g)
            - len(regex.findall(r"[\u0000-\u10FF\u2000-\u200D\u2010-\u201F\u2032-\u2037]", g))
        )
    return total


def _count_x_the_long_way(text: str) -> int:
    text = unicodedata.normalize("NFC", text)
    total = 0
    pos = 0
    for start, end, _url in counting.find_urls(text):
        total += _x_weight_the_long_way(text[pos:start]) + counting.URL_LENGTH
        pos = end
    return total + _x_weight_the_long_way(text[pos:])


@pytest.mark.parametrize("seed", range(4))
def test_emoji_found_around_hints_are_the_emoji_among_all_clusters(seed: int) -> None:
    for text in _texts(seed, 3000):
        assert counting._emoji_graphemes(text) == _emoji_the_long_way(text), repr(text)


@pytest.mark.parametrize("seed", range(4))
def test_x_and_threads_counts_agree_with_the_long_way(seed: int) -> None:
    for text in _texts(100 + seed, 3000):
        assert counting.count_x(text) == _count_x_the_long_way(text), repr(text)
        emoji = _emoji_the_long_way(text)
        threads = len(text) + sum(len(g.encode("utf-8")) - len(g) for g in emoji)
        assert counting.count_threads(text) == threads, repr(text)


def test_every_emoji_hint_below_the_double_exclamation_mark_is_a_candidate() -> None:
    # `_EMOJI_CANDIDATE` stands in for the Unicode-property pattern: it must miss none.
    below = [chr(c) for c in range(0x203C) if not 0xD800 <= c < 0xE000]
    hints = [c for c in below if counting._EMOJI_HINT.match(c)]
    assert hints == ["©", "®"]
    assert all(counting._EMOJI_CANDIDATE.match(c) for c in hints)


@pytest.mark.parametrize(
    "text",
    [
        "©\u200d\u200d",  # light code points only, yet an emoji cluster of three
        "x ®\u200d y",
        "a🏽 b",  # a skin tone extends "a": no emoji
        "🇫🇷🇫",  # a flag, then half of one
        "\r\n🎉\r\n",
        "\u0600🎉",  # Prepend: one cluster starting with U+0600, not an emoji
        "1\ufe0f\u20e3",
        "Été … « à bientôt » 🎉 #communauté",
    ],
)
def test_tricky_texts(text: str) -> None:
    assert counting._emoji_graphemes(text) == _emoji_the_long_way(text)
    assert counting.count_x(text) == _count_x_the_long_way(text)


@pytest.mark.parametrize("seed", range(2))
def test_graphemes_with_no_complex_run_counts_code_points(seed: int) -> None:
    # French text without emoji: one cluster per code point, CR LF one.
    rng = random.Random(seed)
    simple = ["a", "é", "À", " ", "\n", "\r\n", "’", "«", "»", "€", "œ", "."]
    for _ in range(2000):
        text = "".join(rng.choice(simple) for _ in range(rng.randint(0, 20)))
        assert counting.graphemes(text) == len(regex.findall(r"\X", text)), repr(text)


# The URL pattern as first written: every character of a link tested against the properties.
_URL_THE_LONG_WAY = regex.compile(
    r"(?<![\p{L}\p{N}_])https?://[\p{L}\p{N}\[]"
    r"[^\s\p{Cc}\p{Cf}<>\"\p{Extended_Pictographic}\p{Emoji_Presentation}\p{RI}\uFE0F]*",
    regex.IGNORECASE,
)
URL_PIECES = [
    *PIECES,
    "https://",
    "HTTP://",
    "hTtPs://",
    "httpſ://",  # a long s folds to "s"
    "xhttp://",
    "ftp://",
    "example.fr",
    "/chemin",
    "?q=1&r=2",
    "#frag",
    "(",
    ")",
    "[",
    "]",
    "<",
    ">",
    '"',
    "'",
    "\x7f",
    "\x1c",
    "\u200b",  # a format character: it ends a link
    "\u2028",
    "K",  # Kelvin sign, which folds to "k"
    "ⓜ",
    "Ⓜ",
    "%C3%A9",
    "~user",
    "{x}",
    "\\",
    "^",
    "`",
    "|",
]


@pytest.mark.parametrize("seed", range(4))
def test_urls_are_what_the_pattern_as_first_written_finds(seed: int) -> None:
    rng = random.Random(1000 + seed)
    for _ in range(4000):
        text = "".join(rng.choice(URL_PIECES) for _ in range(rng.randint(1, 16)))
        found = [(m.start(), m.group()) for m in counting._URL.finditer(text)]
        expected = [(m.start(), m.group()) for m in _URL_THE_LONG_WAY.finditer(text)]
        assert found == expected, repr(text)


def test_every_ascii_character_ends_a_url_or_not_as_first_written() -> None:
    for c in map(chr, range(128)):
        text = f"https://a{c}b"
        assert counting._URL.match(text)[0] == _URL_THE_LONG_WAY.match(text)[0], repr(c)


@pytest.mark.parametrize("seed", range(3))
def test_bound_is_never_below_the_count_and_exceeding_agrees(seed: int) -> None:
    # `at_most` lets the length rule skip counting a text that fits: it must never be below
    # the count, whatever the text (URLs, mentions, emoji, combining marks, CR LF, CJK).
    for text in _texts(200 + seed, 1500):
        for name, count in counting.COUNTERS.items():
            for url_length in (None, 0, 5, 23, 40):
                exact = count(text, url_length)
                assert counting.at_most(name, text, url_length) >= exact, (name, repr(text))
                for limit in {0, max(exact - 1, 0), exact, exact + 1, len(text)}:
                    over = counting.exceeding(name, text, url_length, limit)
                    assert over == (exact if exact > limit else None), (name, repr(text), limit)


def test_bound_holds_for_characters_nfc_composes_or_expands() -> None:
    # NFC may shorten a text (e + U+0301 -> é) or lengthen it (U+0958 has no composed form
    # and decomposes): X counts the normalized text, and so does its bound.
    for text in ["e\u0301" * 150, "\u0958" * 150, "\u2adc" * 100, "a\u0958 https://x.fr " * 20]:
        exact = counting.count_x(text)
        assert counting.at_most("x", text) >= exact
        for limit in (exact - 1, exact, exact + 1):
            assert counting.exceeding("x", text, None, limit) == (exact if exact > limit else None)


def test_no_emoji_presentation_code_point_is_light_on_x() -> None:
    # The X bound counts an emoji cluster at its code points' weight: a one-code-point emoji
    # must weigh 2 already (outside the light ranges).
    light = [
        *range(0x0000, 0x1100),
        *range(0x2000, 0x200E),
        *range(0x2010, 0x2020),
        *range(0x2032, 0x2038),
    ]
    chars = [chr(c) for c in light if not 0xD800 <= c < 0xE000]
    assert [c for c in chars if counting.is_emoji_grapheme(c)] == []
