"""Validation checks a post without rendering each channel's text: the length and hashtag
rules answer from the channel's outline (`render.outline`), and render only when it cannot
show that the text fits.

Seeded posts are built to sit on the limits, on every counter (X, Mastodon, Bluesky's
graphemes with shortened links, code points, UTF-16, UTF-8, Threads): tracked and untracked
links with queries, fragments, trailing punctuation and brackets, campaigns that end with
punctuation the URL pattern trims, emoji, combining marks, CJK, thread breaks, hashtags.
Each must give the same findings checked from its outline as rendered, and every bound must
be at least what the rendered part counts.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cmflow import config as config_mod
from cmflow import counting, render
from cmflow.config import Config, LinkTracking
from cmflow.content import parse_post
from cmflow.model import Post
from cmflow.render import channel_fields, outline, render_fields
from cmflow.validation import Checker

SEED = 20261203
POSTS = 1500
PARIS = ZoneInfo("Europe/Paris")

CHANNELS = """\
timezone: Europe/Paris
editorial_line:
  max_hashtags: 2
  link_tracking:
    domains: [exemple.fr, media.exemple.fr]
    utm_source: "{channel}"
    utm_content: "{id}"
    utm_medium: social
    utm_campaign: "{campaign}"
channels:
  x: {platform: x, token_env: T_X, rules: {max_length: 90}}
  mastodon: {platform: mastodon, base_url: https://piaille.fr, token_env: T_M, rules: {max_length: 100}}
  bluesky: {platform: bluesky, handle: a.bsky.social, password_env: T_B, rules: {max_length: 80}}
  linkedin:
    platform: linkedin
    author: "urn:li:organization:1"
    token_env: T_L
    rules: {max_length: 110, max_title_length: 12}
  telegram:
    platform: telegram
    chat_id: "@m"
    token_env: T_T
    rules: {max_length: 100, required_hashtags: ["#Été"]}
  threads:
    platform: threads
    user_id: "1"
    token_env: T_TH
    media_base_url: https://exemple.fr/m
    rules: {max_length: 100}
  site: {platform: feed, output_dir: public, site_url: https://exemple.fr/actus, rules: {max_length: 130}}
  dev: {platform: devto, token_env: T_D, rules: {max_length: 120}}
  youtube: {platform: youtube, token_env: T_Y, rules: {max_length: 110}}
  discord: {platform: discord, webhook_env: T_DI, rules: {max_length: 90}}
  facebook: {platform: facebook, page_id: "1", token_env: T_F, rules: {max_length: 95}}
  instagram:
    platform: instagram
    user_id: "1"
    token_env: T_I
    media_base_url: https://exemple.fr/m
    rules: {max_length: 85, max_caption_length: 60}
"""

URLS = [
    "https://exemple.fr/a",
    "https://exemple.fr/article-12?x=1",
    "https://exemple.fr/p?",
    "https://exemple.fr/p#haut",
    "https://exemple.fr/p?utm_source=moi#x",
    "https://media.exemple.fr/v/1",
    "http://EXEMPLE.fr/Majuscules",
    "https://autre.example/chemin/tres/long/pour/depasser/la/largeur",
    "https://exemple.fr/wiki/Foo_(bar)",
    "https://exemple.fr/été/à",
    "https://exemple.fr/a)",
    "https://exemple.fr/x.",
]
WORDS = [
    "Bonjour",
    "atelier",
    "été",
    "café",
    "naïve",
    "日本語",
    "👩🏽‍💻",
    "🎉",
    "e\u0301",
    "#tag",
    "#Été",
]
AFTER = ["", ".", ",", ")", " !", "…", "»", "\u0301", "🎉", " #fin"]
CAMPAIGNS = ["", "printemps", "soldes.", "été 2026", "a-b_c~", "x" * 30, "fin."]


def _body(rng: random.Random) -> str:
    pieces: list[str] = []
    for _ in range(rng.randint(1, 14)):
        kind = rng.random()
        if kind < 0.25:
            pieces.append(rng.choice(URLS) + rng.choice(AFTER))
        elif kind < 0.3:
            pieces.append(f"[lien]({rng.choice(URLS)})")
        elif kind < 0.35:
            pieces.append("\n\n<!-- thread -->\n\n")
        else:
            pieces.append(rng.choice(WORDS))
    return " ".join(pieces)


def _post(rng: random.Random, index: int, channels: list[str]) -> bytes:
    front = [
        "date: 2027-06-01 08:00",
        f"channels: [{', '.join(channels)}]",
        f"id: post-{index}",
    ]
    campaign = rng.choice(CAMPAIGNS)
    if campaign:
        front.append(f'campaign: "{campaign}"')
    if rng.random() < 0.3:
        front.append(f"title: {'Titre long ' * rng.randint(1, 3)}".rstrip())
    if rng.random() < 0.3:
        front.append(f"tags: [{', '.join(['a', 'b', 'c'][: rng.randint(0, 3)])}]")
    if rng.random() < 0.2:
        front.append("thread: auto")
    if rng.random() < 0.25:
        front.append("media: [{path: media/a.png, alt: Une photo}]")  # a caption's limit
    if rng.random() < 0.2:
        other = rng.choice(channels)
        front.append(f'variants:\n  {other}: {{body: "Autre {rng.choice(URLS)} #v"}}')
    return ("---\n" + "\n".join(front) + f"\n---\n{_body(rng)}\n").encode()


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    root = tmp_path_factory.mktemp("outline")
    (root / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
    return config_mod.load(root)


def _posts(cfg: Config) -> list[Post]:
    rng = random.Random(SEED)
    names = list(cfg.channels)
    out = []
    for i in range(POSTS):
        chosen = rng.sample(names, rng.randint(1, 4))
        out.append(parse_post(f"content/p{i}.md", _post(rng, i, chosen), PARIS, cfg.channels))
    return out


def test_every_bound_is_at_least_what_the_rendered_part_counts(cfg: Config) -> None:
    outlined = 0
    shown = exact = 0  # Bluesky's parts, and those whose bound is their length as shown
    for post in _posts(cfg):
        assert not post.problems, post.problems
        for name in post.channels:
            channel = cfg.channels[name]
            fields = channel_fields(post, name)
            sketch = outline(post, channel, fields)
            rendered = render_fields(post, channel, fields)
            if sketch is None:
                continue
            outlined += 1
            spec = channel.spec
            assert sketch.limit == rendered.limit, (post.path, name)
            assert len(sketch.lengths) == len(rendered.parts), (post.path, name)
            for bound, part in zip(sketch.lengths, rendered.parts, strict=True):
                counted = counting.at_most(spec.counter, part.text, spec.url_length)
                assert bound >= counted, (post.path, name, part.text)
                if spec.counter == "graphemes":
                    shown += 1
                    exact += bound == len(part.text)
            hashes = sum(p.text.count("#") for p in rendered.parts)
            assert sketch.hashes >= hashes, (post.path, name)
            assert sketch.title == rendered.title and sketch.tags == rendered.tags
    assert outlined > POSTS  # most pairs are outlined (thread: auto is not)
    # Links shown shortened are counted as shown: exactly, but where a tagged link ends
    # with what the URL pattern trims (a campaign ending with "."), counted in full then.
    assert shown > 200 and exact > shown * 3 // 4, (shown, exact)


def test_findings_checked_from_the_outline_are_those_of_the_rendered_text(cfg: Config) -> None:
    # As validation checks posts (no fingerprints), and as the publisher does (all rendered).
    with Checker(cfg, prints=False) as sketched, Checker(cfg) as rendered:
        found: list[str] = []
        for post in _posts(cfg):
            got, fps = sketched.check(post)
            want, _fps = rendered.check(post)
            assert got == want, post.path
            assert fps == {}  # none worked out
            found += [f"{f.rule} {f.message.split(' ')[0]}" for f in want]
    # The posts sit on the limits: many findings of each kind to agree on (parts too long,
    # titles too long, too many hashtags, too many tags).
    kinds = {kind.split(" ")[0] for kind in found if found.count(kind) > 20}
    assert {"channel.max-length", "channel.max-hashtags"} <= kinds, sorted(set(found))[:20]
    assert any(kind.startswith("channel.max-length title") for kind in found)


# The same posts under limits three times as wide, and a site with none: most parts then fit
# with room to spare however much tagging may add to each link, which the outline shows
# without working out each link's growth; the parts near their limit still work it out.
ROOMY = re.sub(
    r"max_length: (\d+)",
    lambda m: f"max_length: {int(m[1]) * 3}",
    CHANNELS.replace(", rules: {max_length: 130}}", "}"),
)


def test_parts_with_room_to_spare_are_bounded_without_each_links_growth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "channels.yaml").write_text(ROOMY, encoding="utf-8")
    roomy = config_mod.load(tmp_path)
    worked: list[str] = []  # each link growth worked out, watched (the function is unchanged)
    grow = render._links_grow
    monkeypatch.setattr(render, "_links_grow", lambda *a: worked.append("") or grow(*a))
    posts = _posts(roomy)
    seen: Counter[str] = Counter()
    for post in posts:
        for name in post.channels:
            channel = roomy.channels[name]
            fields = channel_fields(post, name)
            before = len(worked)
            sketch = outline(post, channel, fields)
            rendered = render_fields(post, channel, fields)
            if sketch is None:
                continue
            assert sketch.limit == rendered.limit, (post.path, name)
            if sketch.limit is None:
                assert sketch.lengths == (), (post.path, name)  # nothing to keep under
                seen["no limit"] += 1
                continue
            spec = channel.spec
            assert len(sketch.lengths) == len(rendered.parts), (post.path, name)
            for bound, part in zip(sketch.lengths, rendered.parts, strict=True):
                counted = counting.at_most(spec.counter, part.text, spec.url_length)
                assert bound >= counted, (post.path, name, part.text)
            if any("utm_" in part.text for part in rendered.parts):  # a link tagged
                seen["worked out" if len(worked) > before else "room to spare"] += 1
    assert seen["no limit"] > 100 and seen["worked out"] > 100, seen
    assert seen["room to spare"] > 1000, seen
    # And the findings are those of the rendered text, as under the tight limits.
    with Checker(roomy, prints=False) as sketched, Checker(roomy) as full:
        for post in posts:
            assert sketched.check(post)[0] == full.check(post)[0], post.path


@pytest.mark.parametrize("before", ["Cafe\u0301", "e\u0301 ", "a\u0301\u0301", "🎉", "日本", ""])
@pytest.mark.parametrize("after", ["", "\u0301", " \u0301", ".", "🎉"])
def test_a_link_against_a_combining_mark_is_bounded_as_x_counts_it(
    cfg: Config, before: str, after: str
) -> None:
    # X counts the text normalised to NFC: "Cafe\u0301https://..." is "Caféhttps://...",
    # where the link is no link (a letter before it) and each character tagging adds to it
    # counts. The outline once added nothing on X for a link found again after tagging, and
    # validate missed the post too long that publishing then refused.
    for url in ("https://exemple.fr/a", "https://exemple.fr/a?x=1", "https://exemple.fr/été"):
        body = f"Texte {before}{url}{after} fin"
        raw = f"---\ndate: 2027-06-01 08:00\nchannels: [x]\ncampaign: noel\n---\n{body}\n"
        post = parse_post("content/nfc.md", raw.encode(), PARIS, cfg.channels)
        channel = cfg.channels["x"]
        fields = channel_fields(post, "x")
        sketch = outline(post, channel, fields)
        rendered = render_fields(post, channel, fields)
        assert sketch is not None
        for bound, part in zip(sketch.lengths, rendered.parts, strict=True):
            assert bound >= counting.count_x(part.text), (body, part.text)
        with Checker(cfg, prints=False) as sketched, Checker(cfg) as full:
            assert sketched.check(post)[0] == full.check(post)[0], body


def test_a_parameter_name_it_cannot_count_is_not_outlined(cfg: Config) -> None:
    """A link parameter named with other characters (channels.yaml allows none today) may
    count more than one each: such a channel is not outlined, its text is rendered."""
    channel = cfg.channels["linkedin"]
    tracking = LinkTracking(("exemple.fr",), {"utm_médium": "{channel}"})
    odd = dataclasses.replace(
        channel, rules=dataclasses.replace(channel.rules, link_tracking=tracking)
    )
    post = parse_post(
        "content/p.md",
        b"---\ndate: 2027-06-01 08:00\nchannels: [linkedin]\n---\nhttps://exemple.fr/a\n",
        PARIS,
        cfg.channels,
    )
    assert outline(post, channel, channel_fields(post, "linkedin")) is not None
    assert outline(post, odd, channel_fields(post, "linkedin")) is None
