"""Shortcuts taken while rendering give what the long way gives: the URLs of a text with
tracking parameters added are known without scanning it again, and equal a scan."""

from __future__ import annotations

import random

import pytest

from cmflow import counting
from cmflow.config import LinkTracking
from cmflow.render import tag_links

PIECES = [
    "Bonjour",
    " ",
    "\n",
    "(",
    ")",
    ".",
    "…",
    "»",
    "#tag",
    "é",
    "🎉",
    "https://example.fr/a",
    "https://example.fr/a?x=1",
    "https://example.fr/a#frag",
    "https://sub.example.fr/(b)",
    "https://other.org/c",
    "http://example.fr",
    "https://example.fr/a.",
    "https://example.fr/a?utm_source=deja",
    "[lien](https://example.fr/d)",
    "xhttps://example.fr/e",
]
CAMPAIGNS = ["", "printemps", "été 2026", "fin.", "a-b", "x)", "(y", "50%", "q?", "z!"]


@pytest.mark.parametrize("seed", range(3))
def test_tagged_links_are_where_a_scan_finds_them(seed: int) -> None:
    rng = random.Random(seed)
    tracking = LinkTracking(
        domains=("example.fr",),
        params={"utm_source": "{channel}", "utm_campaign": "{campaign}", "utm_id": "{id}"},
    )
    checked = 0
    for n in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12)))
        params = {
            "channel": rng.choice(["x", "mastodon", "site"]),
            "platform": "x",
            "campaign": rng.choice(CAMPAIGNS),
            "id": f"post-{n}",
        }
        tagged = tag_links(text, tracking, params)
        known = counting._KNOWN.pop(tagged, None)
        if known is not None:
            checked += 1
            assert known == counting._scan_urls(tagged), (text, tagged)
    assert checked > 1000
