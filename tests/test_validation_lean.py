"""Validation renders each post once for all its channels and without measures, counts a
part only where a bound does not show it fits, and runs a check once for the channels of
a post without variants that it reads alike: on tricky posts (accents, emoji, URLs tracked
or not, hashtags, mentions, code spans, thread breaks, texts near the limits, variants,
media), it finds what rendering each channel in full and running every check gives, and
fingerprints the same text."""

from __future__ import annotations

import random
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cmflow import config as config_mod
from cmflow import counting
from cmflow.content import parse_post
from cmflow.model import Finding, Post, Rendered
from cmflow.render import fingerprint, render, render_each
from cmflow.rules import BY_ID, FILE_RULES, POST_RULES, PostContext, security
from cmflow.validation import Checker

CHANNELS = """\
timezone: Europe/Paris
language: fr
editorial_line:
  pillars: [education, community, product]
  require_pillar: true
  forbidden_terms: ["gratuit à vie", "cliquez ici"]
  max_hashtags: 3
  require_alt_text: true
  link_tracking: {domains: [example.fr], utm_source: "{channel}", utm_medium: social, utm_campaign: "{campaign}"}
channels:
  site: {platform: feed, output_dir: public, site_url: https://example.fr/actus}
  mastodon: {platform: mastodon, base_url: https://piaille.fr, token_env: T1}
  bluesky: {platform: bluesky, handle: marque.bsky.social, password_env: T2}
  linkedin:
    platform: linkedin
    author: "urn:li:organization:1"
    token_env: T3
    rules: {forbidden_terms: [promo], pillars: [education], max_length: 120}
  x: {platform: x, token_env: T4}
  threads: {platform: threads, user_id: "1", token_env: T5}
  x2:
    platform: x
    token_env: T6
    rules: {max_length: 60, forbidden_terms: ["gratuit à vie", "cliquez ici"]}
"""

PIECES = [
    "Bonjour",
    " ",
    " ",
    "\n",
    "\n\n",
    "é",
    "e\u0301",
    "À",
    "œ",
    "’",
    "…",
    "«\u00a0",
    "🎉",
    "👍🏽",
    "👨\u200d👩\u200d👧",
    "©\u200d\u200d",
    "❤\ufe0f",
    "🇫🇷",
    "1\ufe0f\u20e3",
    "中文",
    "\u0958",
    "#communaute",
    "#été",
    "#1",
    "@alice@example.social",
    "@bob",
    "`code https://example.fr/c`",
    "**gras**",
    "_ital_",
    "[lien](https://example.fr/l)",
    "https://example.fr/a",
    "https://example.fr/a?x=1#frag",
    "https://sub.example.fr/(b).",
    "https://other.org/c",
    "http://example.fr",
    "https://example.fr/" + "long" * 30,
    "www.example.fr",
    "cliquez ici",
    "Gratuit À Vie",
    "PROMO",
    "\n<!-- thread -->\n",
    "- puce\n",
    "> citation\n",
    "mot " * 20,
    "token: ghp_" + "a1" * 20,
]

FRONT = [
    "",
    "title: Titre\n",
    "title: Cliquez ici\nsummary: gratuit à vie\n",
    "campaign: été 2026\n",
    "tags: [a, b, c, d, e, f]\n",
    "thread: auto\n",
    "media:\n  - path: media/a.png\n    alt: cliquez ici\n  - media/b.png\n",
    "variants: {x: {body: 'Pour X https://example.fr/x #a #b #c #d', pillar: autre}}\n",
    "variants: {linkedin: {title: promo, media: [media/c.png]}, mastodon: nope}\n",
    "variants: {bluesky: {thread: auto, campaign: hiver}}\n",
    "body: 'Un body dans le front-matter cliquez ici'\n",
]


def _post(rng: random.Random, i: int, channels: list[str]) -> str:
    body = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))
    front = "".join(rng.sample(FRONT, rng.randint(0, 3)))
    pillar = rng.choice(["", "pillar: education\n", "pillar: product\n", "pillar: [x]\n"])
    chosen = rng.sample(channels, rng.randint(1, len(channels)))
    return f"---\ndate: 2026-12-01 08:00\nchannels: [{', '.join(chosen)}]\n{pillar}{front}---\n{body}\n"


def _the_long_way(post: Post, cfg: config_mod.Config) -> list[Finding]:
    """Every check on every channel, each channel rendered in full, nothing shared."""
    out = list(post.problems)
    for rule in FILE_RULES:
        assert rule.file is not None
        out.extend(rule.file(post))
    if not post.meta:
        return out
    for name in post.channels:
        channel = cfg.channels[name]
        ctx = PostContext(post, channel, render(post, channel), cfg, cfg.root)
        for rule in POST_RULES:
            assert rule.post is not None
            out.extend(rule.post(ctx))
    return out


def _sent(r: Rendered) -> tuple[object, ...]:
    return (
        [(p.text, p.media) for p in r.parts],
        r.post_id,
        r.channel,
        r.platform,
        r.title,
        r.tags,
        r.language,
        r.limit,
        r.counter,
        r.series,
        r.path,
    )


@pytest.mark.parametrize("seed", range(4))
def test_lean_validation_finds_what_the_long_way_finds(tmp_path: Path, seed: int) -> None:
    (tmp_path / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
    cfg = config_mod.load(tmp_path, set(BY_ID))
    rng = random.Random(seed)
    names = list(cfg.channels)
    checker = Checker(cfg)
    fired: set[str] = set()
    for i in range(150):
        raw = _post(rng, i, names).encode()
        post = parse_post(f"content/p{i}.md", raw, ZoneInfo("Europe/Paris"), cfg.channels)
        channels = [cfg.channels[n] for n in post.channels]
        lean = render_each(post, channels, measure=False)
        full = [render(post, c) for c in channels]
        assert [_sent(r) for r in lean] == [_sent(r) for r in full], raw
        assert [fingerprint(r) for r in lean] == [fingerprint(r) for r in full], raw
        found, fps = checker.check(post)
        assert found == _the_long_way(post, cfg), raw
        assert fps == {r.channel: fingerprint(r) for r in full}
        fired |= {f.rule for f in found}
    # The cases do reach the rules with shortcuts.
    assert {"channel.max-length", "editorial.forbidden-term", "editorial.pillar"} <= fired


@pytest.mark.parametrize("seed", range(2))
def test_exceeding_near_the_limit_is_the_count(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(400):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))
        for name, count in counting.COUNTERS.items():
            exact = count(text, None)
            for limit in (exact - 2, exact - 1, exact, exact + 1, 280, 300, 500):
                got = counting.exceeding(name, text, None, limit)
                assert got == (exact if exact > limit else None), (name, text, limit)


def test_secret_scan_reads_every_string_in_the_order_it_locates_them(tmp_path: Path) -> None:
    (tmp_path / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
    cfg = config_mod.load(tmp_path, set(BY_ID))
    raw = (
        b"---\ndate: 2026-12-01 08:00\nchannels: [x]\ntitle: T\n"
        b"variants: {x: {body: 'b', media: [{path: m.png, alt: 'sk-abcdefghijklmnopqrstuvwxyz'}]}}\n"
        b"extra: [[a, {k: [v, 3, {z: w}]}], 1.5, null]\n---\nCorps\n"
    )
    post = parse_post("content/p.md", raw, ZoneInfo("Europe/Paris"), cfg.channels)
    assert security._pieces(post) == security._texts(post)[0]
    assert [f.rule for f in security.secret(post)] == ["security.secret"]


def test_raw_matchable_by_pattern_is_the_set_of_the_text() -> None:
    # `_raw_matchable` skips known characters with a pattern compiled now and then: it must
    # answer what testing every character of the text does, as the known set grows (CJK,
    # accents, letters that fold to two, marks).
    from cmflow.rules import text as text_mod

    rng = random.Random(7)
    alphabet = [chr(c) for c in range(0x20, 0x3000) if not 0xD800 <= c < 0xE000]
    alphabet += [chr(c) for c in range(0x4E00, 0x5200)]
    for _ in range(3000):
        sample = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        expected = all(c in text_mod._ONE_FOR_ONE or text_mod._one_for_one(c) for c in sample)
        assert text_mod._raw_matchable(sample) == expected, repr(sample)
