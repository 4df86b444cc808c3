"""Shortcuts taken while rendering give what the long way gives: the URLs of a text with
tracking parameters added are known without scanning it again, and equal a scan; tagging
with links cut once per post equals cutting each link for each channel; a body without a
thread break is split in one step; channels with and without threads share one plain text;
the channel's variant looked up once gives each field as `Post.field` does."""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import itertools
import random
import re
import urllib.parse
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cmflow import config as config_mod
from cmflow import counting, markup
from cmflow import render as render_mod
from cmflow.config import LinkTracking
from cmflow.content import parse_post
from cmflow.model import Media, Part, Post, Rendered
from cmflow.render import fingerprint, render, tag_links, utm

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


# --- The long way of tagging: every link's host checked and cut, nothing cached ------------

TRACKING = LinkTracking(
    domains=("example.fr", "exemple.org"),
    params={"utm_source": "{channel}", "utm_medium": "social", "utm_campaign": "{campaign}"},
)
LINKS = [
    "https://example.fr/a",
    "https://EXAMPLE.fr/b",
    "https://sub.example.fr/(b)",
    "https://notexample.fr/c",
    "https://exemple.org/d?utm_source=deja&x=1",
    "https://exemple.org/d?utm_campaign=deja#frag",
    "https://user@example.fr:8080/e",
    "https://example.fr/f?",
    "https://example.fr/g#",
    "https://example.fr/h&i",
    "https://example.fr/été",
    "https://other.org/c",
    "http://example.fr",
]


def _utm_the_long_way(url: str, params: dict[str, str]) -> str:
    m = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)", url)
    host = m.group(1).lower() if m else ""
    if not any(host == d or host.endswith("." + d) for d in TRACKING.domains):
        return url
    base, hash_mark, fragment = url.partition("#")
    path, _, query = base.partition("?")
    present = {pair.split("=", 1)[0] for pair in query.split("&") if pair}
    added = []
    for key, template in TRACKING.params.items():
        value = template.format_map(collections.defaultdict(str, params))
        if key not in present and value:
            added.append(f"{key}={urllib.parse.quote_plus(value)}")
    if not added:
        return url
    return f"{path}?{'&'.join([query, *added] if query else added)}{hash_mark}{fragment}"


def _tag_the_long_way(text: str, params: dict[str, str]) -> str:
    out: list[str] = []
    last = 0
    for start, end, url in counting._scan_urls(text):
        out.append(text[last:start])
        out.append(_utm_the_long_way(url, params))
        last = end
    out.append(text[last:])
    return "".join(out)


@pytest.mark.parametrize("seed", range(3))
def test_tagging_agrees_with_the_long_way(seed: int) -> None:
    rng = random.Random(seed)
    pieces = [*PIECES, *LINKS, "(", "https://example.fr/x).", "« https://example.fr/y »"]
    for n in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        params = {
            "channel": rng.choice(["x", "mastodon", "site"]),
            "platform": "x",
            "campaign": rng.choice(CAMPAIGNS),
            "id": f"post-{n}",
        }
        assert tag_links(text, TRACKING, params) == _tag_the_long_way(text, params), text
        url = rng.choice(LINKS)
        assert utm(url, TRACKING, params) == _utm_the_long_way(url, params)


# --- Thread splitting and plain text: the shortcut for a body without a break --------------

MARKDOWN = [
    "Bonjour",
    "Été",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    "    code",
    "```",
    "~~~",
    "# Titre",
    "> citation",
    "- puce",
    "* puce",
    "1. un",
    "---",
    "***",
    "===",
    "| a | b |",
    "|---|---|",
    "**gras**",
    "_it_",
    "~~barré~~",
    "`code`",
    "\\",
    "&amp;",
    "<br>",
    "<b>",
    "[lien](https://example.fr/a_b)",
    "[ref]",
    "[ref]: https://example.fr/r",
    "![img](a.png)",
    "https://example.fr/(x).",
    "🎉",
    "👨\u200d👩\u200d👧",
    "\u00a0",
    "\u2028",
]


def _markdown(rng: random.Random) -> str:
    return "".join(rng.choice(MARKDOWN) for _ in range(rng.randint(0, 16)))


@pytest.mark.parametrize("seed", range(3))
def test_split_thread_without_a_break_is_the_line_by_line_split(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3000):
        body = _markdown(rng)
        assert "<!--" not in body
        assert markup.split_thread(body) == markup._split_at_breaks(body), repr(body)


@pytest.mark.parametrize("seed", range(3))
def test_plain_text_of_a_body_is_that_of_the_body_without_its_last_newlines(seed: int) -> None:
    # `_plain_parts` converts a body for channels without threads as it would the one
    # thread part of channels with threads (the body stripped) when only newlines go.
    rng = random.Random(seed)
    for _ in range(2000):
        body = _markdown(rng) + rng.choice(["", "\n", "\n\n", "\n\n\n", " \n", "<!-- x -->\n"])
        render_mod._plain_parts.cache_clear()
        assert render_mod._plain_parts(body, False) == (markup.to_plain(body),), repr(body)
        assert render_mod._plain_parts(body, True) == tuple(
            markup.to_plain(part) for part in markup.split_thread(body)
        ), repr(body)


# --- Fields: the channel's variant looked up once gives what `Post.field` gives ------------

CHANNELS = """\
timezone: Europe/Paris
editorial_line:
  link_tracking: {domains: [example.fr], utm_source: "{channel}", utm_campaign: "{campaign}"}
channels:
  x: {platform: x, token_env: CMFLOW_X_TOKEN}
  mastodon: {platform: mastodon, base_url: https://piaille.fr, token_env: CMFLOW_MASTODON_TOKEN}
  linkedin: {platform: linkedin, author: "urn:li:organization:1", token_env: CMFLOW_LINKEDIN_TOKEN}
"""

VARIANTS = [
    "",
    "variants: nope\n",
    "variants: {x: nope}\n",
    "variants: {x: {title: null, tags: null, campaign: null}}\n",
    "variants: {x: {body: 42, language: en}}\n",
    "variants:\n  x: {title: Pour X, tags: [a, 2], campaign: hiver, thread: auto}\n"
    "  linkedin: {body: 'Autre https://example.fr/l', series: S}\n",
    "variants: {mastodon: {body: 'Pouet https://example.fr/m', media: [a.png]}}\n",
    "variants: {x: {pillar: autre}, linkedin: {pillar: 3}}\n",
]
TOP = [
    "",
    "title: Titre\ntags: [communaute]\ncampaign: printemps\nlanguage: fr\nseries: 2\n",
    "body: 'Un body dans le front-matter'\n",
    "campaign: 0\ntags: nope\ntitle: 3\n",
]


def _shaped(tmp_path: Path, front: str = "") -> tuple[config_mod.Config, list[Post]]:
    """The configuration, and a post of every shape (`VARIANTS` x `TOP`, with `front`)."""
    (tmp_path / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
    cfg = config_mod.load(tmp_path)
    posts = []
    for i, (variant, top) in enumerate(itertools.product(VARIANTS, TOP)):
        raw = (
            f"---\ndate: 2026-12-01 08:00\nchannels: [x, mastodon, linkedin]\nid: post-{i}\n"
            f"{front}{top}{variant}---\nVoir https://example.fr/p 🎉\n"
        ).encode()
        posts.append(parse_post(f"content/p{i}.md", raw, ZoneInfo("Europe/Paris"), cfg.channels))
    return cfg, posts


def test_render_reads_each_field_as_post_field_does(tmp_path: Path) -> None:
    cfg, posts = _shaped(tmp_path)
    for post in posts:
        for name, channel in cfg.channels.items():
            r = render(post, channel)
            title = post.field("title", name)
            tags = post.field("tags", name)
            language = post.field("language", name) or channel.language
            series = post.field("series", name)
            assert r.title == (str(title) if title is not None else None)
            assert r.tags == ([str(t) for t in tags] if isinstance(tags, list) else [])
            assert r.language == (str(language) if language else None)
            assert r.series == (str(series) if series else None)
            campaign = post.field("campaign", name)
            params = {"channel": name, "campaign": str(campaign) if campaign else ""}
            plain = markup.to_plain(post.body_for(name))
            if name == "linkedin":  # no threads: the body as one part
                assert [p.text for p in r.parts] == [_tag_params(plain, params)]
            assert r.parts[0].media == post.media(name)
            # Built without `Rendered.__init__`: every field there, as the constructor sets
            # them (a field added to `Rendered` and not to `_render` fails here).
            for measure in (True, False):
                got = render(post, channel, measure=measure)
                kwargs = {f.name: getattr(got, f.name) for f in dataclasses.fields(Rendered)}
                assert vars(got) == vars(Rendered(**kwargs))


def _tag_params(text: str, params: dict[str, str]) -> str:
    tracking = LinkTracking(
        domains=("example.fr",), params={"utm_source": "{channel}", "utm_campaign": "{campaign}"}
    )
    return tag_links(text, tracking, params)


def _fingerprint_the_long_way(rendered: Rendered) -> str:
    h = hashlib.sha256()
    for value in (rendered.title or "", *rendered.tags):
        h.update(value.encode("utf-8") + b"\x00")
    for part in rendered.parts:
        h.update(part.text.encode("utf-8") + b"\x01")
        for m in part.media:
            h.update(f"{m.path}\x02{m.alt or ''}\x03".encode())
    return h.hexdigest()[:32]


@pytest.mark.parametrize("seed", range(2))
def test_fingerprint_hashes_what_it_hashed_piece_by_piece(seed: int) -> None:
    rng = random.Random(seed)
    words = [
        "",
        "é",
        "🎉",
        "👨\u200d👩\u200d👧",
        "\x00",
        "\x01",
        "a\x02b",
        "Titre",
        "https://example.fr",
    ]
    for _ in range(2000):
        parts = [
            Part(
                "".join(rng.choices(words, k=rng.randint(0, 4))),
                [
                    Media(rng.choice(words), rng.choice([None, *words]))
                    for _ in range(rng.randint(0, 2))
                ],
            )
            for _ in range(rng.randint(1, 3))
        ]
        rendered = Rendered(
            post_id="p",
            channel="x",
            platform="x",
            parts=parts,
            title=rng.choice([None, *words]),
            tags=rng.choices(words, k=rng.randint(0, 3)),
        )
        assert fingerprint(rendered) == _fingerprint_the_long_way(rendered)


def test_the_context_validation_builds_is_the_one_postcontext_builds(tmp_path: Path) -> None:
    """Validation makes each (post, channel) context without `PostContext.__init__`: every
    field there, as the constructor sets them (a field added to `PostContext` and not to
    `validation._context` fails here)."""
    from cmflow.rules.base import PostContext
    from cmflow.validation import Checker, _context

    (tmp_path / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
    cfg = config_mod.load(tmp_path)
    raw = b"---\ndate: 2026-12-01 08:00\nchannels: [x, linkedin]\nmedia: [a.png]\n---\nBonjour\n"
    post = parse_post("content/p.md", raw, ZoneInfo("Europe/Paris"), cfg.channels)
    with Checker(cfg) as checker:
        for name in post.channels:
            channel = cfg.channels[name]
            rendered = render(post, channel, measure=False)
            media = rendered.parts[0].media
            got = _context(post, channel, rendered, cfg, checker.inspect, media)
            want = PostContext(
                post, channel, rendered, cfg, cfg.root, checker.inspect, known_media=media
            )
            assert vars(got) == vars(want) and got == want
            assert got.media == post.media(name) == [Media("a.png")]


def test_a_slim_post_is_the_one_post_builds(tmp_path: Path) -> None:
    """`validation.slim` makes its post without `Post.__init__`: every field there, as the
    constructor sets them, and only the marks the queue rules read (a field added to `Post`
    and not to `slim` fails here)."""
    from cmflow.validation import slim

    _cfg, posts = _shaped(tmp_path, "pillar: p\n")
    for post in posts:
        got = slim(post)
        marks = {
            k: m
            for k, m in post.marks.items()
            if (len(k) == 1 and k[0] in ("date", "id", "pillar", "channels", "channel"))
            or (k[0] == "variants" and k[-1] == "pillar")
        }
        want = Post(
            path=post.path,
            id=post.id,
            meta=got.meta,
            body="",
            body_line=post.body_line,
            marks=marks,
            date=post.date,
            slot=post.slot,
            channels=post.channels,
            status=post.status,
            content_hash=post.content_hash,
        )
        assert vars(got) == vars(want) and got == want
        assert set(vars(got)) == {f.name for f in dataclasses.fields(Post)}
