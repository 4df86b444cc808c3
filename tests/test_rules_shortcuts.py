"""Per-post rules take shortcuts (validation.Checker skips a rule a channel's settings leave
nothing to check; forbidden terms found without folding the text; hashtags counted by their
"#" first): each case here is one a shortcut could get wrong, with the findings a full
check gives."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from cmflow.rules.text import fold, term_hits, term_pattern
from tests.conftest import CHANNELS_YAML, JPEG, Found, post, validate_json

MakeRepo = Callable[..., Path]


def run(make_repo: MakeRepo, text: str, **kw: object) -> list[Found]:
    found, _ = validate_json(make_repo({"a.md": text}, **kw))
    return found


def _error(line: int, column: int, rule: str, channel: str | None, message: str) -> Found:
    return Found("content/a.md", line, column, "error", rule, channel, message)


def test_forbidden_term_only_in_a_variant_body_fires_on_that_channel(make_repo: MakeRepo) -> None:
    text = post(
        """
        date: 2026-11-24 09:30
        channels: [mastodon, bluesky]
        pillar: education
        variants:
          bluesky:
            body: "Pour s'inscrire, Cliquez  ICI."
        """,
        "Un texte sans rien.\n",
    )
    assert run(make_repo, text) == [
        _error(
            7,
            5,
            "editorial.forbidden-term",
            "bluesky",
            "forbidden term 'cliquez ici' in the body ('Cliquez  ICI'): rephrase it",
        )
    ]


def test_forbidden_term_only_in_a_variant_title_fires_on_that_channel(
    make_repo: MakeRepo,
) -> None:
    text = post(
        """
        date: 2026-11-24 09:30
        channels: [site, mastodon]
        pillar: education
        title: Un titre sage
        variants:
          site:
            title: "Gratuit à vie, ou presque"
        """,
        "Un texte sans rien.\n",
    )
    assert run(make_repo, text) == [
        _error(
            8,
            5,
            "editorial.forbidden-term",
            "site",
            "forbidden term 'gratuit à vie' in the title ('Gratuit à vie'): rephrase it",
        )
    ]


def test_forbidden_terms_with_accents_emoji_and_letters_that_fold_to_two(
    make_repo: MakeRepo,
) -> None:
    # Line 6: an emoji first (one str index, two UTF-16 units), capitals with accents, a
    # no-break space between words. Line 8: "ß" folds to "ss" and the "é" is written as
    # "e" + a combining accent, so this text is folded (positions mapped back).
    body = (
        "🎉 Offre GRÂTUIT À\u00a0VÎE !\n\nStraße 3 : cliqu\u0065\u0301z ici.\n\n"
        "\ufb01n : Cliquez ici.\n"
    )
    text = post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education", body)
    assert run(make_repo, text) == [
        _error(
            6,
            9,
            "editorial.forbidden-term",
            "mastodon",
            "forbidden term 'gratuit à vie' in the body ('GRÂTUIT À\\xa0VÎE'): rephrase it",
        ),
        _error(
            8,
            12,
            "editorial.forbidden-term",
            "mastodon",
            "forbidden term 'cliquez ici' in the body ('cliqu\u0065\u0301z ici'): rephrase it",
        ),
    ]


def test_hashtags_of_a_variant_body_and_in_url_fragments(make_repo: MakeRepo) -> None:
    # More "#" than the limit on both channels: the hashtags are counted. Mastodon has 5 (a
    # fragment and #1 are not hashtags), Bluesky's variant 6.
    text = post(
        """
        date: 2026-11-24 09:30
        channels: [mastodon, bluesky]
        pillar: education
        variants:
          bluesky:
            body: "#un #deux #trois https://exemple.fr/a#b #quatre #cinq #six"
        """,
        "#un #deux #trois #quatre #cinq https://exemple.fr/page#section #1\n",
    )
    assert run(make_repo, text) == [
        _error(
            7,
            5,
            "channel.max-hashtags",
            "bluesky",
            "6 hashtags, at most 5 (#un #deux #trois #quatre #cinq #six)",
        )
    ]


def test_many_hashes_in_a_url_fragment_are_not_hashtags(make_repo: MakeRepo) -> None:
    body = "https://exemple.fr/a#un#deux#trois#quatre#cinq#six #sept\n"
    text = post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education", body)
    assert run(make_repo, text) == []


def test_secrets_in_nested_front_matter_point_at_their_value(make_repo: MakeRepo) -> None:
    text = post(
        """
        date: 2026-11-24 09:30
        channels: [mastodon]
        pillar: education
        media:
          - path: media/photo.jpg
            alt: "Notre affiche"
          - path: media/photo.jpg
            alt: "clé ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        variants:
          mastodon:
            tags: [ok, [deeper, "AKIAAAAAAAAAAAAAAAAA"]]
        """,
        "Rien ici.\n",
    )
    found = run(make_repo, text, media={"media/photo.jpg": JPEG})
    secrets = [
        (f.line, f.column, f.message.split(":")[0]) for f in found if f.rule != "frontmatter.type"
    ]
    assert secrets == [
        (9, 5, "this looks like a GitHub token"),
        (12, 25, "this looks like an AWS access key"),
    ]


def test_a_variant_with_its_own_pillar_and_media(make_repo: MakeRepo) -> None:
    # Instagram's variant: a pillar not in the list and an image without alt text; X's
    # variant: no media at all. Mastodon takes the post's own, which are right.
    text = post(
        """
        date: 2026-11-24 09:30
        channels: [mastodon, instagram, x]
        pillar: education
        media:
          - path: media/photo.jpg
            alt: "Une photo"
        variants:
          instagram:
            pillar: recettes
            media:
              - path: media/photo.jpg
          x:
            media: []
        """,
        "Un texte.\n",
    )
    assert run(make_repo, text, media={"media/photo.jpg": JPEG}) == [
        _error(
            10,
            5,
            "editorial.pillar",
            "instagram",
            "pillar 'recettes' is not one of education, community, product",
        ),
        _error(
            12,
            9,
            "channel.media-alt",
            "instagram",
            "media/photo.jpg has no alt text: add `alt:` describing the image for people who "
            "use a screen reader",
        ),
    ]


def test_rules_set_on_one_channel_only_run_there(make_repo: MakeRepo) -> None:
    config = (
        CHANNELS_YAML.replace('  forbidden_terms: ["gratuit à vie", "cliquez ici"]\n', "")
        .replace("  max_hashtags: 5\n", "")
        .replace(
            "    token_env: CMFLOW_X_TOKEN\n",
            "    token_env: CMFLOW_X_TOKEN\n    rules: {forbidden_terms: [promo], max_hashtags: 1}\n",
        )
    )
    text = post(
        "date: 2026-11-24 09:30\nchannels: [mastodon, x]\npillar: education",
        "Une PROMO #un #deux\n",
    )
    assert run(make_repo, text, config=config) == [
        _error(6, 1, "channel.max-hashtags", "x", "2 hashtags, at most 1 (#un #deux)"),
        _error(
            6,
            5,
            "editorial.forbidden-term",
            "x",
            "forbidden term 'promo' in the body ('PROMO'): rephrase it",
        ),
    ]


# --- term_hits against folding the text -----------------------------------------------------


def _folded_hits(text: str, terms: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    """What `term_hits` must return: each term searched in the folded text, positions
    mapped back (the way every text was searched before the unfolded shortcut)."""
    folded, index = fold(text)
    hits = []
    for term in terms:
        m = term_pattern(term).search(folded)
        if m:
            start = index[m.start()] if index else m.start()
            end = index[m.end() - 1] + 1 if index else m.end()
            hits.append((term, start, end))
    return tuple(hits)


TERMS = ("gratuit à vie", "e", "a b", "ss", "i", "_", "straße", "Œuvre", "x-y")


@pytest.mark.parametrize("block", range(0, 0x3000, 0x400))
def test_term_hits_is_folding_the_text_for_every_character(block: int) -> None:
    # Each character before, inside and after a term: as a word character or not, one that
    # folds to a letter, to two, to none (a combining accent), or is left as is.
    for code in [*range(block, block + 0x400), 0x1F389, 0x1D41A, 0xFF41]:
        c = chr(code)
        for text in (
            f"{c}gratuit A VIE{c}",
            f"gratuit{c}à vie",
            f"a{c}b {c}",
            f"e{c}",
            f"{c}e",
            c,
            f"x {c} i {c}_",
            f"STRA{c}E strasse{c}",
            f"{c}oeuvre {c}X-Y",
        ):
            term_hits.cache_clear()
            assert term_hits(text, TERMS) == _folded_hits(text, TERMS), (hex(code), text)


def test_term_hits_is_folding_the_text_for_mixed_texts() -> None:
    pieces = ["GRÀTUIT", "à", "Vie", "ĳ", "ß", "ſ", "İ", "K", "\u0301", "\u00a0", " ", "\n"]
    pieces += ["œuvre", "Œ", "x-y", "_", "é", "🎉", "’", "日", "Σ", "ǅ", "ﬁ", "-"]
    rnd = random.Random(12)
    for _ in range(3000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 10)))
        term_hits.cache_clear()
        assert term_hits(text, TERMS) == _folded_hits(text, TERMS), text


def test_a_term_is_found_at_the_very_start_of_a_text() -> None:
    # The word boundary before a term is tested one character into it: at index 0 too.
    assert term_hits("Cliquez ici", ("cliquez ici",)) == (("cliquez ici", 0, 11),)
    assert term_hits("xcliquez ici", ("cliquez ici",)) == ()
    assert re.search(r"\w", "é")  # the premise: accented letters are word characters


# --- What the Checker skips could have found nothing -----------------------------------------

BARE = """\
timezone: Europe/Paris
channels:
  mastodon: {platform: mastodon, base_url: https://mastodon.example, token_env: T1}
  site: {platform: feed, output_dir: public, site_url: https://example.fr/actus}
  instagram: {platform: instagram, user_id: "1", token_env: T2}
  threads: {platform: threads, user_id: "1", token_env: T3}
"""

TRICKY = post(
    """
    date: 2026-11-28 23:30
    channels: [mastodon]
    title: "Cliquez ici : gratuit à vie"
    pillar: recettes
    tags: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w, x, y, z]
    evergreen: {every: 2d}
    media:
      - path: media/photo.png
      - path: media/absent.jpg
        alt: "gratuit à vie"
    variants:
      mastodon:
        body: "#un #deux #trois #quatre #cinq #six #sept"
        pillar: autre
    """,
    "#a #b #c #d #e #f #g Cliquez ici, gratuit à vie. " + "long " * 2000 + "\n",
)


@pytest.mark.parametrize("config", [CHANNELS_YAML, BARE], ids=["full", "bare"])
def test_a_rule_a_channel_does_not_apply_finds_nothing_there(
    make_repo: MakeRepo, config: str
) -> None:
    from cmflow import config as config_mod
    from cmflow import content
    from cmflow.render import render
    from cmflow.rules import BY_ID, POST_RULES, PostContext

    no_media = TRICKY.replace("media:\n  - path", "old:\n  - path").replace(
        "    pillar: autre\n", "    pillar: autre\n    media: []\n"
    )
    root = make_repo({"a.md": TRICKY}, config=config, media={"media/photo.png": JPEG})
    cfg = config_mod.load(root, set(BY_ID))
    skipped = 0
    for text in (TRICKY, no_media):
        p = content.parse_post("content/a.md", text.encode(), cfg.timezone, cfg.channels)
        for channel in cfg.channels.values():
            ctx = PostContext(p, channel, render(p, channel), cfg, cfg.root)
            for rule in POST_RULES:
                assert rule.post is not None
                found = list(rule.post(ctx))
                if rule.applies is not None and not rule.applies(channel):
                    assert found == [], (rule.id, channel.name)
                    skipped += 1
                if rule.media_only and not ctx.media:
                    assert found == [], (rule.id, channel.name)
                    skipped += 1
    assert skipped > 10  # the cases above do test skipped rules
