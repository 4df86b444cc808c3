"""The front-matter fast path of `cmflow.yamlload.parse` gives exactly what the full parser
gives (values, types, positions), or steps aside: checked on thousands of generated
documents built from the values that trip YAML parsers up."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cmflow.yamlload import YamlSyntaxError, _parse_simple, parse, parse_full

KEYS = ["date", "channels", "title", "a", "b_c", "x-y", "true", "null", "yes", "1a", "ü", "_k"]
VALUES = [
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "0x1F",
    "0o17",
    "017",
    "0b101",
    "1_000",
    "1e3",
    "1.5e3",
    "1.0",
    ".5",
    "-.inf",
    ".NaN",
    "+1",
    "-1",
    "~",
    "null",
    "Null",
    "NULL",
    "true",
    "False",
    "2026-11-24",
    "2026-11-24 09:30:00",
    "2026-11-24T09:30:00Z",
    "2026-11-24 09:30:00 +02:00",
    "2026-11-24 9:30",
    "2026-02-30",
    "2026-11-24 09:30",
    "12:30:00",
    "190:20:30",
    "1:2",
    "a:b",
    "a: b",
    "a #b",
    "a#b",
    "a #",
    "L'atelier",
    '"quoted"',
    "'single'",
    "'it''s'",
    '"esc\\n"',
    '"a\'b"',
    "'a\"b'",
    "[a, b]",
    "[a,b]",
    "[ a , b ]",
    "[]",
    "[ ]",
    "[a, [b]]",
    "[a: b]",
    "[a:b]",
    "{a: b}",
    "&x a",
    "*x",
    "!!str 1",
    "!t x",
    "|",
    ">",
    "@x",
    "`x",
    "%x",
    "-x",
    "- x",
    "?x",
    ":x",
    "x:",
    "é",
    "🎉 fête",
    "a\tb",
    "",
    " lead",
    "trail ",
    "a, b",
    "#c",
    "[a, 'b c', \"d\"]",
    "[1, -1, 0x1F, 2.5]",
    "[yes, ~, null]",
    "=",
    "<<",
    "x\u00a0y",
    "a\u2028b",
    "a\x07b",
    "Post numéro 12",
    "campagne-3",
    "[site, x]",
    "https://example.fr/a?b=c#d",
    "[a, b,]",
    "[a,, b]",
    "[,]",
    "['', \"\"]",
    "a ]",
    "[a",
    "a]",
    "50%",
    "3 €",
    "C'est l'été !",
    "a  b",
    "a'",
    '"',
    "'",
    "!",
    "&",
    "*",
    "v: w",
]


def _full(text: str) -> tuple[Any, Any] | str:
    """What the full parser gives."""
    try:
        value, marks, _ = parse_full(text, 1)
    except (YamlSyntaxError, ValueError) as exc:  # ValueError: a date like 2026-02-30
        return f"error {exc}"
    return value, marks


def _documents(rng: random.Random, count: int) -> list[str]:
    docs = []
    for _ in range(count):
        lines = []
        for _ in range(rng.randint(1, 6)):
            roll = rng.random()
            if roll < 0.03:
                lines.append(rng.choice(["", "# c", "  indented: 1", "- item", "---"]))
                continue
            key = rng.choice(KEYS)
            value = rng.choice(VALUES)
            sep = rng.choice([": ", ": ", ": ", ":  ", ":", ":\t"])
            lines.append(f"{key}{sep}{value}" if value or sep != ": " else f"{key}:")
        docs.append("\n".join(lines) + rng.choice(["\n", "\n", ""]))
    return docs


@pytest.mark.parametrize("seed", range(4))
def test_the_fast_path_agrees_with_the_full_parser(seed: int) -> None:
    rng = random.Random(seed)
    fast_taken = 0
    for doc in _documents(rng, 4000):
        fast = _parse_simple(doc, 1)
        full = _full(doc)
        if fast is None:
            continue
        fast_taken += 1
        assert not isinstance(full, str), (doc, full)
        assert fast == full, doc
        # Same types too (1 == 1.0 == True in Python).
        assert [type(v) for v in fast[0].values()] == [type(v) for v in full[0].values()], doc
        for key, v in fast[0].items():
            if isinstance(v, list):
                assert [type(x) for x in v] == [type(x) for x in full[0][key]], doc
    assert fast_taken > 80  # the generator does reach the fast path


def test_typical_front_matter_takes_the_fast_path() -> None:
    doc = (
        "date: 2027-01-04 09:00\nchannels: [site, mastodon, x]\ntitle: Post numéro 1\n"
        "pillar: education\ncampaign: campagne-1\ntags: [communaute, atelier]\n"
    )
    fast = _parse_simple(doc, 1)
    assert fast is not None and fast == _full(doc)
    assert fast[1][("channels", 2)] == (3, 28)


BLOCK_LINES = [
    "{i}- {v}",
    "{i}-  {v}",
    "{i}- k: {v}",
    "{i}- path: {v}\n{i}  alt: {v}",
    "{i}-   path: {v}\n{i}    alt: {v}",
    "{i}- path: {v}\n{i}   alt: {v}",
    "{i}- path: {v}\n{i}  path: {v}",
    "{i}- path:\n{i}    - {v}",
    "{i}- path:\n{i}  - {v}",
    "{i}- a:\n{i}    b: {v}",
    "{i}k: {v}",
    "{i}k: [{v}, {v}]",
    "{i}k:\n{i}  - {v}",
    "{i}k:\n{i}- {v}",
    "{i}k:\n{i}    x: {v}",
    "{i}k:",
    "{i}-",
    "{i}-\n{i}  - {v}",
    "{i}- - {v}",
    "{i}- [{v}]",
    "{i}- {{a: {v}}}",
    "{i}#c",
    "",
    "{i}  {v}",
    "{i}\t- {v}",
    "{i}- \t{v}",
]


def _block_documents(rng: random.Random, count: int) -> list[str]:
    """Keys holding block lists and mappings (media, variants), bent now and then."""
    docs = []
    for _ in range(count):
        lines = []
        for _ in range(rng.randint(1, 4)):
            key = rng.choice(KEYS)
            if rng.random() < 0.3:
                lines.append(f"{key}: {rng.choice(VALUES)}")
                continue
            indent = " " * rng.choice([1, 2, 2, 2, 3, 4])
            block = []
            for _ in range(rng.randint(1, 3)):
                shape = (
                    rng.choice(BLOCK_LINES) if rng.random() < 0.4 else rng.choice(BLOCK_LINES[:4])
                )
                block.append(
                    shape.format(i=indent, v=rng.choice(VALUES) if rng.random() < 0.3 else "x")
                )
            lines.append(f"{key}:\n" + "\n".join(block))
        docs.append("\n".join(lines) + rng.choice(["\n", "\n", ""]))
    return docs


@pytest.mark.parametrize("seed", range(4))
def test_the_fast_path_agrees_with_the_full_parser_on_block_collections(seed: int) -> None:
    rng = random.Random(seed)
    fast_taken = nested = 0
    for doc in _block_documents(rng, 3000):
        fast = _parse_simple(doc, 1)
        if fast is None:
            continue
        full = _full(doc)
        fast_taken += 1
        nested += any(len(k) > 2 for k in fast[1])
        assert not isinstance(full, str), (doc, full)
        assert fast[0] == full[0], doc
        assert repr(fast[0]) == repr(full[0]), doc  # same types, same key order
        assert fast[1] == full[1], doc
    assert fast_taken > 150
    assert nested > 50


def test_media_and_variants_take_the_fast_path() -> None:
    doc = (
        "date: 2023-03-15 07:25\nchannels: [linkedin, site]\nmedia:\n"
        "  - path: media/2023/03/photo-04337.jpg\n    alt: Photo de l'abonnés\n"
        "  - media/b.jpg\ntags:\n- a\n"
    )
    assert _parse_simple(doc, 1) is None  # `- a` level with its key: the full parser's
    doc = doc.replace("\n- a\n", "\n  - a\nvariants:\n  x:\n    body: Court.\n")
    fast = _parse_simple(doc, 1)
    assert fast is not None and fast == _full(doc)
    assert fast[1][("media", 0, "alt")] == (6, 5)
    assert fast[1][("variants", "x", "body")] == (12, 5)


def test_deep_block_nesting_is_left_to_the_full_parser() -> None:
    doc = "a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 300)) + " " * 300 + "v: x\n"
    assert _parse_simple(doc, 1) is None
    with pytest.raises(YamlSyntaxError, match="nested more than 100 levels"):
        parse(doc, 1)


_IGNORABLE_LINES = ["", "   ", "# note", "  # note: à revoir", "#", "    #x", "# a\ttab", "\t"]


@pytest.mark.parametrize("seed", range(3))
def test_blank_and_comment_lines_keep_the_fast_path_and_its_answers(seed: int) -> None:
    rng = random.Random(seed)
    fast_taken = 0
    for doc in _block_documents(rng, 2000) + _documents(rng, 2000):
        lines = doc.split("\n")
        for _ in range(rng.randint(1, 3)):
            lines.insert(rng.randint(0, len(lines)), rng.choice(_IGNORABLE_LINES))
        doc = "\n".join(lines)
        fast = _parse_simple(doc, 1)
        if fast is None:
            continue
        full = _full(doc)
        fast_taken += 1
        assert not isinstance(full, str), (doc, full)
        assert repr(fast[0]) == repr(full[0]), doc
        assert fast[1] == full[1], doc  # every line number counts the skipped lines
    assert fast_taken > 100  # the generators bend most documents out of the fast path


def test_a_commented_front_matter_takes_the_fast_path() -> None:
    doc = (
        "# brouillon relu par Léa\ndate: 2027-01-04 09:00\n\nchannels: [site, x]\n"
        "media:\n  # la photo du four\n  - path: media/four.jpg\n\n    alt: Le four\n"
    )
    fast = _parse_simple(doc, 1)
    assert fast is not None and fast == _full(doc)
    assert fast[1][("channels",)] == (5, 1)
    assert fast[1][("media", 0, "alt")] == (10, 5)
