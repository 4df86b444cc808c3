"""Hostile posts through the site's renderer: what the feed channel publishes is safe.

Seeded, a few thousand generated posts: HTML fragments, XSS vectors, Markdown around them,
Unicode tricks (RTL override, zero-width characters, NUL, lone surrogates written as YAML
escapes in a channel's body variant, which the YAML loader refuses with a finding, so they
are also given to `to_html` directly), huge lines. Each goes the feed channel's way: the
post file parsed, `render(..., html=True)` (UTM tagging, Markdown -> HTML, nh3). Nothing may
crash, and the HTML must hold no script, no on* handler, no javascript: URL, balanced tags,
and rel="noopener noreferrer" on every external link.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from zoneinfo import ZoneInfo

from cmflow import config as config_mod
from cmflow.content import parse_post
from cmflow.markup import to_html
from cmflow.render import render
from tests.htmlcheck import balanced, unprotected_links, unsafe
from tests.test_sanitize import XSS_VECTORS

SEED = 20261202
POSTS = 2000
PARIS = ZoneInfo("Europe/Paris")

CHANNELS = """\
timezone: Europe/Paris
editorial_line:
  link_tracking: {domains: [exemple.fr], utm_source: "{channel}", utm_campaign: "{campaign}"}
channels:
  site: {platform: feed, output_dir: public, site_url: https://exemple.fr/actus}
"""

MARKDOWN = [
    "**gras**",
    "*italique*",
    "~~barré~~",
    "`code`",
    "# Titre",
    "> citation",
    "- puce",
    "1. un",
    "- [ ] tâche",
    "[lien](https://exemple.fr/a_b)",
    "![image](media/a.png)",
    "<https://exemple.fr>",
    "https://exemple.fr/page?x=1",
    "www.exemple.fr",
    "| a | b |\n|---|---|",
    "```\ncode\n```",
    "    indenté",
    "<!-- thread -->",
    "---",
    "\\*",
    "&amp;",
    "&#0;",
    "&#x110000;",
    "[ref]: https://exemple.fr",
    "[ref]",
    "Été à Paris : « bonjour » !",
]
HTML = [
    "<div>",
    "</div>",
    "<table>",
    "<td>",
    "</table>",
    "<p>",
    "</p>",
    "<b>",
    "</i>",
    "<style>",
    "<template>",
    "<iframe/>",
    "<script>",
    "</script>",
    "<textarea>",
    "<title>",
    "<plaintext>",
    "<svg>",
    "<math>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<br/>",
    "<img src=x>",
    "<a href=x>",
    '<a href="https://autre.example">',
    "</a>",
    "<sup>",
    "<kbd>",
    "<details>",
    "<select>",
]
URLS = [
    "javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    "java\tscript:alert(1)",
    "&#106;avascript:x",
    "java&#x09;script:x",
    "vbscript:x",
    "data:text/html,<script>alert(1)</script>",
    " javascript:x",
    "\x01javascript:x",
    "jav&#x0A;ascript:x",
    "//evil.example",
    "https://ok.example",
]
UNICODE = ["\u202e", "\u200b", "\u200d", "\ufeff", "\u2028", "\u0000", "\x1b", "é", "🥂", "\u0301"]
SURROGATES = ["\\ud800", "\\udfff", "\\ud83c", "\\U0010ffff", "\\x00", "\\u202e", "\\u200b"]


def _piece(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.25:
        return rng.choice(MARKDOWN)
    if kind < 0.5:
        return rng.choice(HTML)
    if kind < 0.65:
        return rng.choice(XSS_VECTORS)
    if kind < 0.8:
        url = rng.choice(URLS)
        return rng.choice(
            [
                f"[x]({url})",
                f"<{url}>",
                f'<a href="{url}">x</a>',
                f"![x]({url})",
                f"[x]: {url}\n[x]",
            ]
        )
    if kind < 0.95:
        return rng.choice(UNICODE) * rng.randint(1, 3)
    return rng.choice("*_[`<~!\\") * rng.randint(50, 3000)  # a huge line


def _body(rng: random.Random) -> str:
    separators = [" ", "", "\n", "\n\n", "\n  ", "\n> ", "\n- "]
    return "".join(_piece(rng) + rng.choice(separators) for _ in range(rng.randint(1, 25)))


def _post_file(rng: random.Random, index: int) -> bytes:
    body = _body(rng)
    front = f"date: 2026-12-01 08:00\nchannels: [site]\ncampaign: fuzz{index}\n"
    if index % 4 == 0:
        # A body variant in a double-quoted YAML string, where escapes can make characters
        # a file cannot hold: lone surrogates, NUL.
        escapes = "".join(rng.choice(SURROGATES) for _ in range(rng.randint(1, 4)))
        variant = json.dumps(body + " ", ensure_ascii=False)[:-2] + escapes + '"'
        front += f"variants:\n  site:\n    body: {variant}\n"
    text = f"---\n{front}---\n{body}\n"
    return text.encode("utf-8", "surrogatepass").replace(b"\x00", b"")


def test_hostile_posts_render_to_safe_balanced_html(tmp_path: Path) -> None:
    (tmp_path / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
    cfg = config_mod.load(tmp_path)
    channel = cfg.channels["site"]
    rng = random.Random(SEED)
    rendered_count = 0
    for index in range(POSTS):
        raw = _post_file(rng, index)
        post = parse_post(f"content/fuzz-{index}.md", raw, PARIS, cfg.channels)
        if [p for p in post.problems if p.level == "error"]:
            continue  # refused with a finding (the validator's job): nothing to render
        html = render(post, channel, html=True).html
        assert html is not None
        rendered_count += 1
        _check(html, f"post {index}: {raw[:300]!r}")
    assert rendered_count > POSTS * 0.75


def _check(html: str, context: str) -> None:
    assert "<script" not in html.lower(), context
    assert not unsafe(html), (unsafe(html), context)
    assert balanced(html), (html[:2000], context)
    assert not unprotected_links(html), (unprotected_links(html), context)
    html.encode("utf-8")  # written to the site as UTF-8: no lone surrogate left


def test_lone_surrogates_and_controls_render_to_safe_html() -> None:
    rng = random.Random(SEED + 1)
    for index in range(300):
        body = _body(rng)
        cut = rng.randint(0, len(body))
        body = body[:cut] + rng.choice(["\ud800", "\udfff", "\ud83c", "\x00", "\x0c"]) + body[cut:]
        html = to_html(body)
        _check(html, f"body {index}: {body[:300]!r}")
