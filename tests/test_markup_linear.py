"""Pathological bodies render in linear time: 1 MB of each pattern, with the right output.

These tests assert what comes out, never how long it took (speed is measured by
`bench/markup_bench.py`); they finish in a few seconds only because every pass is linear:
before, 80 KB of repeated ``\\*`` took 8 s and 1 MB never finished.
"""

from __future__ import annotations

import pytest

from cmflow.markup import split_thread, to_html, to_plain

MB = 1_000_000


def _repeat(pattern: str, size: int = MB) -> str:
    return pattern * (size // len(pattern))


def _no_spaces(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("\\*", "*"),  # escapes: one placeholder each
        ("\\_", "_"),
        ("*a ", "*a "),  # openers that never close
        ("_a ", "_a "),
        ("~~a ", "~~a "),
        ("a* ", "a* "),  # closers with no opener
        ("[", "["),
        ("[a", "[a"),
        ("![", "!["),
        ("[a](", "[a]("),
        ("<", "<"),
        ("<a ", "<a "),
        ("a`", "a"),  # single backticks pair into code spans
        ("&", "&"),
        ("**a** ", "a "),  # emphasis that does close
        ("`a` ", "a "),
    ],
)
def test_to_plain_renders_a_megabyte_of_a_pathological_pattern(pattern: str, expected: str) -> None:
    body = _repeat(pattern)
    assert to_plain(body) == _repeat(expected, len(body) // len(pattern) * len(expected)).strip()


def test_to_plain_renders_a_megabyte_of_unclosed_comments_as_one_comment() -> None:
    assert to_plain("Avant\n\n" + _repeat("<!--")) == "Avant"  # open to the end, as in HTML


def test_to_plain_renders_a_megabyte_of_nested_brackets() -> None:
    half = MB // 2
    body = "[" * half + "]" * half
    assert to_plain(body) == body


def test_to_plain_renders_a_megabyte_of_nested_emphasis() -> None:
    depth = MB // 8
    body = "*a " * depth + "b" + " a*" * depth
    assert to_plain(body) == "a " * depth + "b" + " a" * depth


def test_to_plain_renders_a_megabyte_of_lone_backticks_between_words() -> None:
    body = _repeat("`mot ")  # pairs of single backticks: each pair is a code span
    assert _no_spaces(to_plain(body)) == _no_spaces(body.replace("`", ""))


def test_a_megabyte_of_thread_breaks_splits_and_renders() -> None:
    body = _repeat("Partie\n<!-- thread -->\n")
    parts = split_thread(body)
    assert parts == ["Partie"] * (MB // len("Partie\n<!-- thread -->\n"))
    assert to_plain(body).split("\n") == parts


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("\\*", "*"),
        ("*a ", "*a "),
        ("_a ", "_a "),
        ("[", "["),
        ("<", "&lt;"),
        ("~~a ", "~~a "),
    ],
)
def test_to_html_renders_a_large_pathological_body(pattern: str, expected: str) -> None:
    # markdown-it-py is linear too, but pure Python (some 30 µs a character on "[["):
    # 20 KB keeps the suite quick; bench/markup_bench.py measures it up to 800 KB.
    body = _repeat(pattern, 20_000)
    count = len(body) // len(pattern)
    assert to_html(body) == f"<p>{(expected * count).strip()}</p>"


def test_to_html_renders_many_nested_brackets_and_comments() -> None:
    brackets = "[" * 10_000 + "]" * 10_000
    assert to_html(brackets) == f"<p>{brackets}</p>"
    threads = _repeat("Partie\n\n<!-- thread -->\n\n", 20_000)
    assert to_html(threads) == "\n".join(["<p>Partie</p>"] * threads.count("Partie"))
