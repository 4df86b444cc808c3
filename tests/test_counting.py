"""Tests for cmflow.counting.

Every expected value is computed by hand in the comment next to it. Emoji are written with
escapes so that the exact code points are visible:

* FAMILY 👨‍👩‍👧 = U+1F468 ZWJ U+1F469 ZWJ U+1F467: 5 code points; UTF-8 4+3+4+3+4 = 18
  bytes; UTF-16 2+1+2+1+2 = 8 units; 1 grapheme.
* FLAG_FR 🇫🇷 = U+1F1EB U+1F1F7: 2 code points, 8 UTF-8 bytes, 4 UTF-16 units, 1 grapheme.
* THUMBS_MEDIUM 👍🏽 = U+1F44D U+1F3FD: 2 code points, 8 bytes, 4 units, 1 grapheme.
"""

from __future__ import annotations

import unicodedata

import pytest

from cmflow.counting import (
    COUNTER_LABELS,
    COUNTERS,
    URL_LENGTH,
    count_chars,
    count_graphemes,
    count_mastodon,
    count_threads,
    count_utf16,
    count_x,
    find_urls,
    graphemes,
    is_emoji_grapheme,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
FLAG_FR = "\U0001f1eb\U0001f1f7"
THUMBS_MEDIUM = "\U0001f44d\U0001f3fd"
PARTY = "\U0001f389"  # 🎉, a single default-emoji code point (4 UTF-8 bytes)
# "https://example.fr/" is 19 characters; 101 more make a 120-character URL.
LONG_URL = "https://example.fr/" + "a" * 101


# --- plain ASCII ----------------------------------------------------------------------------


def test_plain_ascii_counts_the_same_everywhere() -> None:
    text = "Hello, world!"  # 13 ASCII characters, no URL, no emoji
    assert count_x(text) == 13
    assert count_mastodon(text) == 13
    assert count_graphemes(text) == 13
    assert count_threads(text) == 13
    assert count_utf16(text) == 13
    assert count_chars(text) == 13


def test_empty_text() -> None:
    for counter in COUNTERS.values():
        assert counter("", None) == 0


def test_crlf_is_one_grapheme() -> None:
    # "a", "\r\n" (one cluster by UAX #29 rule GB3), "b" -> 3 graphemes, 4 code points.
    assert graphemes("a\r\nb") == 3
    assert count_chars("a\r\nb") == 4


# --- accents: NFC vs NFD -------------------------------------------------------------------

NFC = "Café déjà"  # 9 code points: é and à are precomposed
NFD = unicodedata.normalize("NFD", NFC)  # e + U+0301 (twice), a + U+0300: 12 code points


def test_french_accents_nfc_and_nfd() -> None:
    assert len(NFC) == 9
    assert len(NFD) == 12
    # X normalises to NFC first: 9 Latin code points, each weight 1, in both forms.
    assert count_x(NFC) == 9
    assert count_x(NFD) == 9
    # A base letter plus combining accent is one grapheme: 9 either way.
    assert graphemes(NFC) == graphemes(NFD) == 9
    assert count_graphemes(NFD) == 9
    assert count_mastodon(NFD) == 9
    # Code-point counters see the difference: 9 vs 12.
    assert count_chars(NFC) == 9
    assert count_chars(NFD) == 12
    # All code points are in the BMP: UTF-16 units = code points.
    assert count_utf16(NFD) == 12
    # No emoji: Threads counts code points.
    assert count_threads(NFC) == 9


# --- emoji ---------------------------------------------------------------------------------


def test_zwj_family_emoji() -> None:
    assert len(FAMILY) == 5
    assert count_x(FAMILY) == 2  # one emoji grapheme weighs 2
    assert graphemes(FAMILY) == 1
    assert count_graphemes(FAMILY) == 1
    assert count_mastodon(FAMILY) == 1
    assert count_threads(FAMILY) == 18  # its UTF-8 length: 4+3+4+3+4
    assert count_utf16(FAMILY) == 8  # 2+1+2+1+2
    assert count_chars(FAMILY) == 5


def test_flag() -> None:
    assert count_x(FLAG_FR) == 2  # one emoji grapheme
    assert graphemes(FLAG_FR) == 1  # a regional-indicator pair is one cluster
    assert count_threads(FLAG_FR) == 8  # 4 + 4 UTF-8 bytes
    assert count_utf16(FLAG_FR) == 4  # two surrogate pairs
    assert count_chars(FLAG_FR) == 2


def test_skin_tone() -> None:
    assert count_x(THUMBS_MEDIUM) == 2  # base + modifier is one emoji
    assert graphemes(THUMBS_MEDIUM) == 1
    assert count_threads(THUMBS_MEDIUM) == 8  # 4 + 4 UTF-8 bytes
    assert count_utf16(THUMBS_MEDIUM) == 4
    assert count_chars(THUMBS_MEDIUM) == 2


def test_emoji_among_text() -> None:
    text = "Salut " + PARTY  # 6 ASCII + 1 emoji
    assert count_x(text) == 8  # 6 + 2
    assert count_mastodon(text) == 7  # 6 + 1 grapheme
    assert count_threads(text) == 10  # 6 + 4 UTF-8 bytes
    assert count_utf16(text) == 8  # 6 + 2 (surrogate pair)
    assert count_chars(text) == 7


def test_keycap_and_text_presentation_symbols() -> None:
    keycap = "#\ufe0f\u20e3"  # #️⃣: "#", VS16, COMBINING ENCLOSING KEYCAP
    assert count_x(keycap) == 2  # one emoji
    assert count_threads(keycap) == 7  # UTF-8 1 + 3 + 3
    # "©" without VS16 is text: code point 169 is in 0-4351, weight 1, 1 code point.
    assert count_x("©") == 1
    assert count_threads("©") == 1
    # "©️" (with VS16) is an emoji: weight 2 on X, 2 + 3 = 5 UTF-8 bytes on Threads.
    assert count_x("©\ufe0f") == 2
    assert count_threads("©\ufe0f") == 5


@pytest.mark.parametrize(
    ("grapheme", "expected"),
    [
        (FAMILY, True),
        (FLAG_FR, True),
        (THUMBS_MEDIUM, True),
        (PARTY, True),
        ("#\ufe0f\u20e3", True),  # keycap #️⃣
        ("1\ufe0f\u20e3", True),  # keycap 1️⃣
        ("\u2764\ufe0f", True),  # ❤️ red heart with VS16
        ("\u2764", False),  # ❤ without VS16: text presentation
        ("\u00a9\ufe0f", True),  # ©️
        ("\u00a9", False),  # © plain
        ("1", False),
        ("#", False),
        ("a", False),
        ("\u65e5", False),  # 日
        ("e\u0301", False),  # é (NFD)
        ("", False),
    ],
)
def test_is_emoji_grapheme(grapheme: str, expected: bool) -> None:
    assert is_emoji_grapheme(grapheme) is expected


# --- X weights -----------------------------------------------------------------------------


def test_cjk_weighs_two_on_x() -> None:
    assert count_x("\u65e5" * 280) == 560  # 日 = U+65E5 = 26085, outside the light ranges
    assert count_x("\u65e5" * 140) == 280
    assert count_x("こんにちは") == 10  # 5 hiragana, weight 2 each
    # Other counters see 280 single characters.
    assert count_mastodon("\u65e5" * 280) == 280
    assert count_chars("\u65e5" * 280) == 280


@pytest.mark.parametrize(
    ("char", "weight"),
    [
        ("\u10ff", 1),  # 4351: last code point of the 0-4351 range
        ("\u1100", 2),  # 4352: Hangul Jamo, first code point after it
        ("\u2000", 1),  # 8192: start of 8192-8205
        ("\u200d", 1),  # 8205: end of 8192-8205 (ZWJ on its own)
        ("\u200e", 2),  # 8206: gap
        ("\u2014", 1),  # 8212: em dash, inside 8208-8223
        ("\u2019", 1),  # 8217: right single quote, inside 8208-8223
        ("\u2026", 2),  # 8230: ellipsis, outside every range
        ("\u2032", 1),  # 8242: prime, start of 8242-8247
        ("\u2037", 1),  # 8247: end of 8242-8247
        ("\u2038", 2),  # 8248: just after
    ],
)
def test_x_range_boundaries(char: str, weight: int) -> None:
    assert count_x(char) == weight


def test_x_281_from_emoji_cjk_url_mix() -> None:
    # URL 23 + " " 1 + family 2 + " " 1 + 100 × 日 200 + " " 1 + 53 × "a" 53 = 281
    text = f"https://example.fr/p {FAMILY} {'日' * 100} {'a' * 53}"
    assert count_x(text) == 281
    # One "a" fewer: 280, exactly at the limit.
    assert count_x(text[:-1]) == 280


def test_x_exactly_280() -> None:
    assert count_x("a" * 280) == 280
    assert count_x("a" * 281) == 281
    assert count_x("a" * 257 + " " + LONG_URL) == 281  # 257 + 1 + 23
    assert count_x("a" * 256 + " " + LONG_URL) == 280  # 256 + 1 + 23
    assert count_x(PARTY * 140) == 280  # 140 emoji × 2
    assert count_x(PARTY * 140 + "a") == 281
    # NFD input: 280 × (e + U+0301) is 560 code points, but 280 after NFC.
    assert count_x("e\u0301" * 280) == 280


def test_bare_domain_is_not_a_url() -> None:
    assert find_urls("voir example.com") == []
    assert count_x("example.com") == 11  # counted as 11 plain characters


# --- URLs ----------------------------------------------------------------------------------


def test_long_url() -> None:
    assert len(LONG_URL) == 120
    assert count_x(LONG_URL) == 23
    assert count_mastodon(LONG_URL) == 23
    assert count_graphemes(LONG_URL) == 120  # Bluesky counts the URL in full
    assert count_chars(LONG_URL) == 120
    # With text around: "Lire : " is 7 characters -> 7 + 23 = 30 on X and Mastodon.
    assert count_x("Lire : " + LONG_URL) == 30
    assert count_mastodon("Lire : " + LONG_URL) == 30
    assert count_graphemes("Lire : " + LONG_URL) == 127


def test_url_followed_by_period() -> None:
    text = "Voir https://example.fr/a."
    assert find_urls(text) == [(5, 25, "https://example.fr/a")]
    # "Voir " 5 + URL 23 + "." 1 = 29
    assert count_x(text) == 29
    assert count_mastodon(text) == 29


def test_url_in_parentheses() -> None:
    text = "(voir https://example.fr/a)"
    assert find_urls(text) == [(6, 26, "https://example.fr/a")]
    # "(voir " 6 + URL 23 + ")" 1 = 30
    assert count_x(text) == 30
    assert count_mastodon(text) == 30


def test_balanced_parentheses_stay_in_url() -> None:
    url = "https://fr.wikipedia.org/wiki/Paris_(ville)"
    assert [u for _, _, u in find_urls(f"Lire {url}.")] == [url]
    # Wrapped in parentheses: only the outer ")" is dropped.
    assert [u for _, _, u in find_urls(f"({url})")] == [url]


def test_trailing_punctuation_is_not_part_of_url() -> None:
    for tail in [".", ",", ";", ":", "!", "?", ")", "»", '"', "'", "!)."]:
        urls = find_urls(f"Go https://example.fr/x{tail}")
        assert [u for _, _, u in urls] == ["https://example.fr/x"], tail


def test_link_right_after_emoji() -> None:
    text = PARTY + "https://example.fr/fete"
    assert find_urls(text) == [(1, 24, "https://example.fr/fete")]
    assert count_x(text) == 25  # emoji 2 + URL 23
    assert count_mastodon(text) == 24  # 1 grapheme + URL 23
    assert count_threads(text) == 4 + 23  # 4 UTF-8 bytes + 23 characters of URL


def test_emoji_right_after_link_is_not_part_of_it() -> None:
    text = "https://example.fr/fete" + PARTY
    assert find_urls(text) == [(0, 23, "https://example.fr/fete")]
    assert count_x(text) == 25  # URL 23 + emoji 2


def test_find_urls_returns_str_indices() -> None:
    # Astral characters before the URLs: Python str indices count code points, not bytes
    # nor UTF-16 units. FAMILY (5) + " " + FLAG_FR (2) + " " = 9 -> first URL at 9.
    text = f"{FAMILY} {FLAG_FR} https://a.example/x, et (http://b.example/y) fin"
    urls = find_urls(text)
    assert [(s, e) for s, e, _ in urls] == [(9, 28), (34, 52)]
    for start, end, url in urls:
        assert text[start:end] == url
    assert [u for _, _, u in urls] == ["https://a.example/x", "http://b.example/y"]


def test_scheme_is_case_insensitive_and_required() -> None:
    assert [u for _, _, u in find_urls("HTTPS://Example.fr/A")] == ["HTTPS://Example.fr/A"]
    assert find_urls("ftp://example.fr/a") == []
    assert find_urls("https://") == []


# --- Mastodon ------------------------------------------------------------------------------


def test_remote_mention_counts_as_local_part() -> None:
    text = "Merci @alice@mastodon.social !"
    # "Merci " 6 + "@alice" 6 + " !" 2 = 14 (the "@mastodon.social" part is free)
    assert count_mastodon(text) == 14
    # Other platforms see all 30 characters.
    assert count_chars(text) == 30
    # A local mention is counted as written: "Merci " 6 + "@alice" 6 + " !" 2 = 14.
    assert count_mastodon("Merci @alice !") == 14
    # An e-mail address is not a mention: 22 characters counted as written.
    assert count_mastodon("alice@mastodon.social.") == 22


def test_mastodon_url_length_parameter() -> None:
    assert count_mastodon(LONG_URL, url_length=30) == 30
    assert count_mastodon("a " + LONG_URL) == 2 + 23
    assert COUNTERS["mastodon"](LONG_URL, None) == URL_LENGTH
    assert COUNTERS["mastodon"](LONG_URL, 40) == 40


def test_mastodon_exactly_500() -> None:
    assert count_mastodon("a" * 500) == 500
    assert count_mastodon("a" * 501) == 501
    # 476 letters + " " + URL placeholder 23 = 500
    assert count_mastodon("a" * 476 + " " + LONG_URL) == 500
    assert count_mastodon("a" * 477 + " " + LONG_URL) == 501
    # 250 family emoji (1 grapheme each) + 250 letters = 500
    assert count_mastodon(FAMILY * 250 + "a" * 250) == 500
    # 500 NFD "é": 1000 code points but 500 graphemes
    assert count_mastodon("e\u0301" * 500) == 500
    # 488 letters + " " + remote mention "@bob@example.social" counted as "@bob" (4) = 493,
    # + " " + "abcdef" = 500
    assert count_mastodon("a" * 488 + " @bob@example.social abcdef") == 500


# --- registry ------------------------------------------------------------------------------


def test_counters_registry() -> None:
    names = {"x", "mastodon", "graphemes", "threads", "utf16", "chars", "utf8"}
    assert set(COUNTERS) == names
    assert set(COUNTER_LABELS) == names
    assert all(COUNTER_LABELS[name]() for name in names)
    text = f"Voir {LONG_URL} {FAMILY}"  # "Voir " 5, URL 120, " " 1, family
    # x: 5 + 23 + 1 + 2 = 31 (url_length is ignored)
    assert COUNTERS["x"](text, None) == 31
    assert COUNTERS["x"](text, 99) == 31
    # mastodon: 5 + 23 + 1 + 1 = 30
    assert COUNTERS["mastodon"](text, None) == 30
    # graphemes: 5 + 120 + 1 + 1 = 127
    assert COUNTERS["graphemes"](text, 23) == 127
    # threads: 126 code points + 18 UTF-8 bytes = 144
    assert COUNTERS["threads"](text, None) == 144
    # utf16: 126 + 8 = 134
    assert COUNTERS["utf16"](text, None) == 134
    # chars: 126 + 5 = 131
    assert COUNTERS["chars"](text, None) == 131
    # utf8 (YouTube descriptions): 126 ASCII + 3 emoji x 4 bytes + 2 ZWJ x 3 bytes = 144
    assert COUNTERS["utf8"](text, None) == 144
