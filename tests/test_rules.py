"""Every rule of the catalogue (docs/rules.md), fired and silent, through `cmflow validate`.

Posts are written with `post(front, body)`: line 1 is `---`, the front-matter starts on
line 2, and the body starts on the line after the closing `---`. So a post with three
front-matter lines has its body on line 6. Expected counts are worked out in comments.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cmflow.rules import RULES
from tests.conftest import (
    BEFORE_ALL,
    CHANNELS_YAML,
    JPEG,
    PNG,
    Found,
    only,
    post,
    run_cli,
    validate_json,
)

MakeRepo = Callable[..., Path]

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 👨‍👩‍👧: 1 grapheme, 5 code points, 18 UTF-8 bytes
PARTY = "\U0001f389"  # 🎉: 1 code point, 4 UTF-8 bytes, 2 UTF-16 units
# 19 characters of "https://exemple.fr/" + 101 = a 120-character URL (not a tracked domain,
# so no UTM parameter is added to it).
URL_120 = "https://exemple.fr/" + "a" * 101
PHOTO = {"media/photo.jpg": JPEG}


def one(found: list[Found], rule: str) -> Found:
    """The single finding of `rule`, failing with every finding shown otherwise."""
    hits = only(found, rule)
    assert len(hits) == 1, found
    return hits[0]


def run(
    make_repo: MakeRepo,
    posts: dict[str, str | bytes],
    *,
    at: str = BEFORE_ALL,
    media: dict[str, bytes] | None = None,
    config: str | None = None,
) -> list[Found]:
    """Write a repository with `posts` and return what `cmflow validate` finds in it."""
    kw = {} if config is None else {"config": config}
    root = make_repo(posts, media=media, **kw)
    found, _ = validate_json(root, at=at)
    return found


# --- A clean post is silent for every rule ----------------------------------------------

CLEAN = post(
    """
    date: 2026-11-24 08:30
    channels: [mastodon, bluesky, linkedin, x, instagram, telegram, threads, site]
    title: Atelier community management
    pillar: education
    campaign: atelier-2026
    tags: [formation]
    media:
      - path: media/photo.jpg
        alt: "L'équipe anime l'atelier devant douze participants"
    """,
    "L'atelier **community management** a lieu à Lyon. #Marque https://example.fr/atelier\n",
)


@pytest.fixture
def clean_findings(make_repo: MakeRepo) -> list[Found]:
    root = make_repo({"clean.md": CLEAN}, media=PHOTO)
    found, summary = validate_json(root)
    assert summary == {"files": 1, "errors": 0, "warnings": 0}
    return found


@pytest.mark.parametrize("rule", [r.id for r in RULES])
def test_silent_on_a_clean_post(clean_findings: list[Found], rule: str) -> None:
    # A Tuesday 08:30 post in the LinkedIn window, with alt text, a JPEG, a pillar and the
    # required hashtag, on every platform: no rule has anything to say.
    assert only(clean_findings, rule) == []


# --- content.file and frontmatter.* -------------------------------------------------------


def test_content_file_fires_on_a_binary_post(make_repo: MakeRepo) -> None:
    found = run(make_repo, {"image.md": b"\x89PNG\r\n\x1a\n\x00\x00binary"})
    assert found == [
        Found(
            "content/image.md",
            1,
            1,
            "error",
            "content.file",
            None,
            "this file is binary, not a Markdown post: move it to media/",
        )
    ]


def test_frontmatter_syntax_points_at_the_yaml_error(make_repo: MakeRepo) -> None:
    # Line 3 is `title: Bonjour: le monde`; the second ":" (column 15) is the error.
    text = "---\ndate: 2026-11-24 09:30\ntitle: Bonjour: le monde\nchannels: [mastodon]\n---\nx\n"
    f = one(run(make_repo, {"a.md": text}), "frontmatter.syntax")
    assert (f.path, f.line, f.column, f.level, f.channel) == ("content/a.md", 3, 15, "error", None)
    assert "YAML reads this `:` as the start of another key" in f.message


def test_frontmatter_required_fires_when_channels_is_missing(make_repo: MakeRepo) -> None:
    found = run(make_repo, {"a.md": post("date: 2026-11-24 09:30\npillar: education")})
    f = one(found, "frontmatter.required")
    assert (f.line, f.column, f.level) == (1, 1, "error")
    assert f.message.startswith("missing channels")


def test_frontmatter_required_fires_when_both_are_missing(make_repo: MakeRepo) -> None:
    f = one(run(make_repo, {"a.md": post("pillar: education")}), "frontmatter.required")
    assert f.message.startswith("missing date and channels")


def test_frontmatter_unknown_field_suggests_the_right_one(make_repo: MakeRepo) -> None:
    found = run(
        make_repo,
        {
            "a.md": post(
                """
                date: 2026-11-24 09:30
                channels: [mastodon]
                pillar: education
                titel: Bonjour
                """
            )
        },
    )
    assert only(found, "frontmatter.unknown-field") == [
        Found(
            "content/a.md",
            5,
            1,
            "error",
            "frontmatter.unknown-field",
            None,
            "unknown key 'titel' (did you mean 'title'?)",
        )
    ]


def test_frontmatter_unknown_field_inside_a_variant(make_repo: MakeRepo) -> None:
    text = post(
        """
        date: 2026-11-24 09:30
        channels: [mastodon]
        pillar: education
        variants:
          mastodon:
            body: Bonjour
            pilar: community
        """
    )
    f = one(run(make_repo, {"a.md": text}), "frontmatter.unknown-field")
    assert (f.line, f.column) == (8, 5)
    assert "'pilar'" in f.message and "did you mean 'pillar'" in f.message


def test_frontmatter_type_fires_on_a_string_where_a_list_is_expected(make_repo: MakeRepo) -> None:
    text = post(
        """
        date: 2026-11-24 09:30
        channels: [mastodon]
        pillar: education
        tags: formation
        """
    )
    f = one(run(make_repo, {"a.md": text}), "frontmatter.type")
    assert (f.line, f.column, f.level) == (5, 1, "error")
    assert f.message == "tags must be a list, got str 'formation'"


@pytest.mark.parametrize(
    ("date", "words"),
    [
        # Europe/Paris jumps from 02:00 to 03:00 on Sunday 29 March 2026.
        ("2026-03-29 02:30", "does not exist in Europe/Paris"),
        # ... and goes back from 03:00 to 02:00 on Sunday 25 October 2026: 02:30 happens twice.
        ("2026-10-25 02:30", "happens twice in Europe/Paris"),
        ("demain matin", "is not a date"),
        ("2026-02-30 09:00", "is not a valid date"),
    ],
)
def test_frontmatter_date_fires(make_repo: MakeRepo, date: str, words: str) -> None:
    text = post(f"date: {date}\nchannels: [mastodon]\npillar: education")
    f = one(run(make_repo, {"a.md": text}), "frontmatter.date")
    assert (f.path, f.line, f.column, f.level) == ("content/a.md", 2, 1, "error")
    assert words in f.message


def test_frontmatter_date_ambiguous_time_names_both_offsets(make_repo: MakeRepo) -> None:
    text = post("date: 2026-10-25 02:30\nchannels: [mastodon]\npillar: education")
    f = one(run(make_repo, {"a.md": text}), "frontmatter.date")
    assert "2026-10-25 02:30+02:00" in f.message and "2026-10-25 02:30+01:00" in f.message


@pytest.mark.parametrize(
    "date",
    [
        "2026-10-25T02:30:00+01:00",  # YAML hands this over as an aware datetime
        '"2026-10-25 02:30+02:00"',  # ... and this as a string
        "2026-03-29T02:30:00Z",  # 03:30 or 04:30 in Paris, but UTC wins
        "2026-03-29 03:30",  # just after the gap
    ],
)
def test_frontmatter_date_silent_with_an_explicit_offset(make_repo: MakeRepo, date: str) -> None:
    text = post(f"date: {date}\nchannels: [mastodon]\npillar: education")
    assert run(make_repo, {"a.md": text}) == []


def test_frontmatter_status_fires_on_an_unknown_status(make_repo: MakeRepo) -> None:
    text = post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\nstatus: redy")
    f = one(run(make_repo, {"a.md": text}), "frontmatter.status")
    assert (f.line, f.column, f.level) == (5, 1, "error")
    assert f.message == "status is 'redy': use one of draft, ready (did you mean 'ready'?)"


@pytest.mark.parametrize("status", ["draft", "ready"])
def test_frontmatter_status_silent_on_draft_and_ready(make_repo: MakeRepo, status: str) -> None:
    text = post(
        f"date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\nstatus: {status}"
    )
    assert run(make_repo, {"a.md": text}) == []


def test_frontmatter_unknown_channel_points_at_the_list_item(make_repo: MakeRepo) -> None:
    # `channels: [mastodon, mastodn]`: "mastodn" starts at column 22 of line 3.
    text = post("date: 2026-11-24 09:30\nchannels: [mastodon, mastodn]\npillar: education")
    found = run(make_repo, {"a.md": text})
    assert found == [
        Found(
            "content/a.md",
            3,
            22,
            "error",
            "frontmatter.unknown-channel",
            None,
            "channel 'mastodn' is not defined in channels.yaml (did you mean 'mastodon'?)"
            "; the channels defined are bluesky, instagram, linkedin, mastodon, site, telegram, threads, x",
        )
    ]


def test_frontmatter_unknown_channel_in_variants(make_repo: MakeRepo) -> None:
    text = post(
        """
        date: 2026-11-24 09:30
        channels: [mastodon]
        pillar: education
        variants:
          mastodn:
            body: Bonjour
        """
    )
    f = one(run(make_repo, {"a.md": text}), "frontmatter.unknown-channel")
    assert (f.line, f.column, f.level) == (6, 3, "error")
    assert "'mastodn'" in f.message and "did you mean 'mastodon'" in f.message


def test_frontmatter_unknown_channel_warns_about_a_variant_never_used(make_repo: MakeRepo) -> None:
    # A variant for a defined channel the post does not go to: probably a forgotten channel.
    text = post(
        """
        date: 2026-11-24 09:30
        channels: [mastodon]
        pillar: education
        variants:
          bluesky:
            body: Bonjour
        """
    )
    assert run(make_repo, {"a.md": text}) == [
        Found(
            "content/a.md",
            6,
            3,
            "warning",
            "frontmatter.unknown-channel",
            None,
            "variant for 'bluesky', but the post does not go there: add it to channels",
        )
    ]


def test_frontmatter_duplicate_id_across_two_files(make_repo: MakeRepo) -> None:
    a = post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\nid: atelier")
    b = post("date: 2026-11-25 09:30\nchannels: [mastodon]\npillar: education\nid: atelier")
    found = run(make_repo, {"2026/a.md": a, "2026/b.md": b})
    assert only(found, "frontmatter.duplicate-id") == [
        Found(
            "content/2026/a.md",
            5,
            1,
            "error",
            "frontmatter.duplicate-id",
            None,
            "id 'atelier' (from its `id:`) is also used by content/2026/b.md: "
            "give each post its own `id:`",
        ),
        Found(
            "content/2026/b.md",
            5,
            1,
            "error",
            "frontmatter.duplicate-id",
            None,
            "id 'atelier' (from its `id:`) is also used by content/2026/a.md: "
            "give each post its own `id:`",
        ),
    ]


def test_frontmatter_duplicate_id_from_two_file_names(make_repo: MakeRepo) -> None:
    # No `id:`: the identity is the file stem, the same in two folders.
    a = post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education")
    b = post("date: 2026-11-25 09:30\nchannels: [mastodon]\npillar: education")
    found = only(
        run(make_repo, {"2026/11/atelier.md": a, "2026/12/atelier.md": b}),
        "frontmatter.duplicate-id",
    )
    assert [(f.path, f.line, f.column) for f in found] == [
        ("content/2026/11/atelier.md", 1, 1),
        ("content/2026/12/atelier.md", 1, 1),
    ]
    assert "from its file name" in found[0].message


def test_frontmatter_duplicate_id_silent_when_an_id_disambiguates(make_repo: MakeRepo) -> None:
    a = post("date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\nid: atelier-nov")
    b = post("date: 2026-11-25 09:30\nchannels: [mastodon]\npillar: education")
    assert run(make_repo, {"2026/11/atelier.md": a, "2026/12/atelier.md": b}) == []


# --- channel.max-length: counted each platform's way ----------------------------------


def _one_channel(channel: str, body: str, extra: str = "") -> str:
    # Three front-matter lines (+ extra): the body starts on line 6 (+ extra lines).
    return post(f"date: 2026-11-24 09:30\nchannels: [{channel}]\npillar: education{extra}", body)


def test_empty_fires_where_there_is_nothing_to_send(make_repo: MakeRepo) -> None:
    # Mastodon refuses a status with neither text nor media: said in the pull request,
    # not by a failed run. A comment is never sent; media alone, or the site's title, is.
    media = "\nmedia:\n  - path: media/photo.jpg\n    alt: Une photo"
    found = run(
        make_repo,
        {
            "vide.md": _one_channel("mastodon", "<!-- à écrire -->\n"),
            "blanc.md": _one_channel("mastodon", "\n"),
            "photo.md": _one_channel("mastodon", "", media),
            "site.md": _one_channel("site", ""),
            "texte.md": _one_channel("mastodon", "Bonjour #Marque"),
        },
        media=PHOTO,
    )
    hits = sorted((f.path, f.line, f.channel) for f in only(found, "channel.empty"))
    assert hits == [("content/blanc.md", 6, "mastodon"), ("content/vide.md", 6, "mastodon")]
    assert all(f.message.startswith("nothing to send") for f in only(found, "channel.empty"))


@pytest.mark.parametrize(
    ("channel", "body", "measured"),
    [
        # X: the ZWJ family is one emoji, weight 2; each CJK character weighs 2; ASCII 1.
        # 2 + 100 x 2 + 79 = 281.
        (
            "x",
            FAMILY + "日" * 100 + "a" * 79,
            "281/280 characters as X counts them (a link 23, an emoji or a CJK character 2)",
        ),
        # Mastodon: a URL counts 23 whatever its length: 477 + 1 (space) + 23 = 501.
        (
            "mastodon",
            "a" * 477 + " " + URL_120,
            "501/500 characters (a link counts 23 by default, @user@domain counts as @user)",
        ),
        # Bluesky: the link right after the emoji is shown shortened to 27 characters
        # ("exemple.fr/aaaa…"), and graphemes are counted: 272 + 1 + 1 (🎉) + 27 = 301.
        (
            "bluesky",
            "a" * 272 + " " + PARTY + URL_120,
            "301/300 characters (an emoji counts 1, a link as shown: cut to 27)",
        ),
        # Threads: an emoji counts its UTF-8 bytes, 18 for the family: 483 + 18 = 501.
        (
            "threads",
            "a" * 483 + FAMILY,
            "501/500 characters (an emoji counts as many as its UTF-8 bytes)",
        ),
        # LinkedIn: plain code points; the emoji is 5 code points: 2996 + 5 = 3001.
        ("linkedin", "#Marque " + "a" * 2988 + FAMILY, "3001/3000 characters"),
    ],
)
def test_max_length_fires_one_over_the_limit(
    make_repo: MakeRepo, channel: str, body: str, measured: str
) -> None:
    found = run(make_repo, {"a.md": _one_channel(channel, body)})
    f = one(found, "channel.max-length")
    assert (f.path, f.line, f.column, f.level, f.channel) == (
        "content/a.md",
        6,
        1,
        "error",
        channel,
    )
    assert f.message.startswith(measured), f.message


@pytest.mark.parametrize(
    ("channel", "body"),
    [
        ("x", FAMILY + "日" * 100 + "a" * 78),  # 280
        ("mastodon", "a" * 476 + " " + URL_120),  # 500
        ("bluesky", "a" * 271 + " " + PARTY + URL_120),  # 300
        ("threads", "a" * 482 + FAMILY),  # 500
        ("linkedin", "#Marque " + "a" * 2987 + FAMILY),  # 3000
    ],
)
def test_max_length_silent_at_the_limit(make_repo: MakeRepo, channel: str, body: str) -> None:
    assert run(make_repo, {"a.md": _one_channel(channel, body)}) == []


def test_bluesky_counts_the_shortened_link_it_sends(make_repo: MakeRepo) -> None:
    # The same text as above at 300: Bluesky receives "exemple.fr/" + 15 "a" + "…" with the
    # full URL in a link facet, so the limit is judged on what is actually sent.
    root = make_repo({"a.md": _one_channel("bluesky", "a" * 271 + " " + PARTY + URL_120)})
    result = run_cli(["preview", "content/a.md", "--format", "json"], root)
    part = json.loads(result.stdout)["channels"][0]["parts"][0]
    assert part["text"] == "a" * 271 + " " + PARTY + "exemple.fr/" + "a" * 15 + "…"
    assert part["length"] == 300
    assert part["links"] == [{"start": 273, "end": 300, "url": URL_120}]


MEDIA_FRONT = "\nmedia:\n  - path: media/photo.jpg\n    alt: Une photo"


def test_telegram_caption_limit_applies_with_media(make_repo: MakeRepo) -> None:
    # UTF-16 units: 🎉 is a surrogate pair, 2 units: 1023 + 2 = 1025 > 1024 (caption).
    # Six front-matter lines: the body is on line 9.
    body = "a" * 1023 + PARTY
    found = run(make_repo, {"a.md": _one_channel("telegram", body, MEDIA_FRONT)}, media=PHOTO)
    f = one(found, "channel.max-length")
    assert (f.line, f.column, f.channel) == (9, 1, "telegram")
    assert f.message.startswith("1025/1024 characters (most emoji count 2) (caption with media)")


def test_telegram_caption_limit_silent_at_1024_and_without_media(make_repo: MakeRepo) -> None:
    with_media = _one_channel("telegram", "a" * 1022 + PARTY, MEDIA_FRONT)  # 1024
    text_only = _one_channel("telegram", "a" * 1023 + PARTY)  # 1025 <= 4096, no caption
    assert run(make_repo, {"a.md": with_media, "b.md": text_only}, media=PHOTO) == []


def test_telegram_text_limit_is_4096_utf16_units(make_repo: MakeRepo) -> None:
    # 2047 emoji x 2 units + 3 = 4097.
    f = one(
        run(make_repo, {"a.md": _one_channel("telegram", PARTY * 2047 + "abc")}),
        "channel.max-length",
    )
    assert f.message.startswith("4097/4096 characters (most emoji count 2)")


def test_max_length_names_the_thread_part(make_repo: MakeRepo) -> None:
    # Part 2 is 501 graphemes on Mastodon; part 1 is short. Lines: body on 6, the break on 8,
    # part 2's text on line 10.
    body = "Premier message.\n\n<!-- thread -->\n\n" + "a" * 501 + "\n"
    f = one(run(make_repo, {"a.md": _one_channel("mastodon", body)}), "channel.max-length")
    assert f.message.startswith(
        "part 2/2 501/500 characters (a link counts 23 by default, @user@domain counts as @user)"
    )


def test_max_length_of_a_thread_part_points_at_its_first_line(make_repo: MakeRepo) -> None:
    body = "Premier message.\n\n<!-- thread -->\n\n" + "a" * 501 + "\n"
    f = one(run(make_repo, {"a.md": _one_channel("mastodon", body)}), "channel.max-length")
    assert (f.line, f.column) == (10, 1)


def test_max_length_in_a_variant_points_at_the_variant_body(make_repo: MakeRepo) -> None:
    text = post(
        f"""
        date: 2026-11-24 09:30
        channels: [mastodon, bluesky]
        pillar: education
        variants:
          bluesky:
            body: "{"b" * 301}"
        """,
        "Court.",
    )
    f = one(run(make_repo, {"a.md": text}), "channel.max-length")
    assert (f.line, f.column, f.channel) == (7, 5, "bluesky")
    assert f.message.startswith(
        "301/300 characters (an emoji counts 1, a link as shown: cut to 27)"
    )


# --- channel.max-hashtags -------------------------------------------------------------------


def test_max_hashtags_fires_over_the_editorial_maximum(make_repo: MakeRepo) -> None:
    body = "Bonjour\n#un #deux #trois #quatre #cinq #six"
    f = one(run(make_repo, {"a.md": _one_channel("mastodon", body)}), "channel.max-hashtags")
    assert (f.line, f.column, f.level, f.channel) == (6, 1, "error", "mastodon")
    assert f.message == "6 hashtags, at most 5 (#un #deux #trois #quatre #cinq #six)"


def test_max_hashtags_silent_at_five_and_ignores_url_fragments(make_repo: MakeRepo) -> None:
    # A URL's #fragment and a number like #1 are not hashtags.
    body = "#un #deux #trois #quatre #cinq https://exemple.fr/page#section #1"
    assert run(make_repo, {"a.md": _one_channel("mastodon", body)}) == []


def test_max_hashtags_channel_rule_overrides_the_editorial_line(make_repo: MakeRepo) -> None:
    config = _config_with("    handle: marque.bsky.social\n", "    rules: {max_hashtags: 2}\n")
    body = "#un #deux #trois"
    text = post("date: 2026-11-24 09:30\nchannels: [mastodon, bluesky]\npillar: education", body)
    f = one(run(make_repo, {"a.md": text}, config=config), "channel.max-hashtags")
    assert f.channel == "bluesky"
    assert f.message == "3 hashtags, at most 2 (#un #deux #trois)"


def _config_with(after: str, insert: str) -> str:
    assert after in CHANNELS_YAML
    return CHANNELS_YAML.replace(after, after + insert, 1)


# --- media rules ------------------------------------------------------------------------------


def _media_post(channels: str, media: str) -> str:
    # Three front-matter lines, then `media:` on line 5, the first item on line 6.
    return post(
        f"date: 2026-11-24 09:30\nchannels: [{channels}]\npillar: education\nmedia:\n{media}"
    )


def test_media_missing_fires_on_a_file_that_does_not_exist(make_repo: MakeRepo) -> None:
    text = _media_post("mastodon, x", "  - path: media/absente.jpg\n    alt: Absente")
    found = run(make_repo, {"a.md": text})
    assert found == [
        Found(
            "content/a.md",
            6,
            5,
            "error",
            "channel.media-missing",
            "mastodon, x",
            "media/absente.jpg does not exist",
        )
    ]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../outside.jpg", "leaves the repository"),  # the file exists, next to the repo
        ("media/lien.jpg", "leaves the repository"),  # a symlink to that file
        ("/etc/hostname", "must be a path relative to the repository root"),
    ],
)
def test_media_missing_fires_on_a_path_leaving_the_repository(
    make_repo: MakeRepo, tmp_path: Path, path: str, problem: str
) -> None:
    (tmp_path / "outside.jpg").write_bytes(JPEG)
    root = make_repo({"a.md": _media_post("mastodon", f"  - path: {path}\n    alt: Dehors")})
    (root / "media").mkdir()
    (root / "media/lien.jpg").symlink_to(tmp_path / "outside.jpg")
    found, _ = validate_json(root)
    f = one(found, "channel.media-missing")
    assert (f.line, f.column, f.channel) == (6, 5, "mastodon")
    assert f.message.startswith(f"{path} {problem}")


def test_media_alt_fires_on_an_image_without_alt(make_repo: MakeRepo) -> None:
    media = (
        "  - path: media/photo.jpg\n    alt: Une photo\n  - path: media/photo.jpg\n    alt: '  '"
    )
    found = run(make_repo, {"a.md": _media_post("mastodon", media)}, media=PHOTO)
    # The second item (line 8) has only blanks as alt text.
    assert found == [
        Found(
            "content/a.md",
            8,
            5,
            "error",
            "channel.media-alt",
            "mastodon",
            "media/photo.jpg has no alt text: add `alt:` describing the image for people "
            "who use a screen reader",
        )
    ]


def test_media_alt_silent_when_the_channel_does_not_require_it(make_repo: MakeRepo) -> None:
    config = _config_with(
        "    token_env: CMFLOW_X_TOKEN\n", "    rules: {require_alt_text: false}\n"
    )
    text = _media_post("x", "  - path: media/photo.jpg")  # no alt at all
    assert run(make_repo, {"a.md": text}, media=PHOTO, config=config) == []


def test_media_count_fires_on_five_images_for_x(make_repo: MakeRepo) -> None:
    media = "".join(f"  - path: media/photo.jpg\n    alt: Photo {i}\n" for i in range(1, 6))
    found = run(make_repo, {"a.md": _media_post("x, site", media)}, media=PHOTO)
    # The fifth item, the first one too many, is on line 6 + 4 x 2 = 14. The site takes any.
    assert found == [
        Found(
            "content/a.md", 14, 5, "error", "channel.media-count", "x", "5 media, X takes at most 4"
        )
    ]


def test_media_count_silent_at_four_images_for_x(make_repo: MakeRepo) -> None:
    media = "".join(f"  - path: media/photo.jpg\n    alt: Photo {i}\n" for i in range(1, 5))
    assert run(make_repo, {"a.md": _media_post("x", media)}, media=PHOTO) == []


def test_media_required_fires_on_instagram_without_media(make_repo: MakeRepo) -> None:
    text = post("date: 2026-11-24 09:30\nchannels: [mastodon, instagram]\npillar: education")
    found = run(make_repo, {"a.md": text})
    assert found == [
        Found(
            "content/a.md",
            3,
            1,
            "error",
            "channel.media-required",
            "instagram",
            "Instagram needs an image or a video: add `media:` (or a variant)",
        )
    ]


def test_media_required_satisfied_by_an_instagram_variant(make_repo: MakeRepo) -> None:
    text = post(
        """
        date: 2026-11-24 09:30
        channels: [mastodon, instagram]
        pillar: education
        variants:
          instagram:
            media:
              - path: media/photo.jpg
                alt: Une photo
        """
    )
    assert run(make_repo, {"a.md": text}, media=PHOTO) == []


def test_media_format_fires_on_png_bytes_named_jpg_for_instagram(make_repo: MakeRepo) -> None:
    # The type comes from the bytes, not the name; Mastodon takes PNG, Instagram does not.
    text = _media_post("mastodon, instagram", "  - path: media/photo.jpg\n    alt: Une photo")
    found = run(make_repo, {"a.md": text}, media={"media/photo.jpg": PNG})
    assert found == [
        Found(
            "content/a.md",
            6,
            5,
            "error",
            "channel.media-format",
            "instagram",
            "media/photo.jpg is image/png; Instagram accepts image/jpeg",
        )
    ]


def test_media_url_fires_when_threads_has_no_public_url_for_an_image(
    make_repo: MakeRepo,
) -> None:
    # Threads fetches images by URL: without media_base_url, only the site's copy serves.
    config = CHANNELS_YAML.replace(
        '    user_id: "1234567"\n    token_env: CMFLOW_THREADS_TOKEN\n    media_base_url: '
        "https://example.fr/media\n",
        '    user_id: "1234567"\n    token_env: CMFLOW_THREADS_TOKEN\n',
    )
    assert config != CHANNELS_YAML
    alone = _media_post("threads", "  - path: media/photo.jpg\n    alt: Une photo")
    f = one(run(make_repo, {"a.md": alone}, media=PHOTO, config=config), "channel.media-url")
    assert (f.line, f.column, f.channel) == (6, 5, "threads")
    assert "media_base_url" in f.message and "site_url" in f.message
    with_site = _media_post("threads, site", "  - path: media/photo.jpg\n    alt: Une photo")
    assert (
        only(run(make_repo, {"a.md": with_site}, media=PHOTO, config=config), "channel.media-url")
        == []
    )


def test_media_format_fires_on_a_file_too_large(make_repo: MakeRepo) -> None:
    # Bluesky takes images up to 2,000,000 bytes.
    big = JPEG + b"\x00" * (2_000_001 - len(JPEG))
    text = _media_post("bluesky", "  - path: media/photo.jpg\n    alt: Une photo")
    f = one(run(make_repo, {"a.md": text}, media={"media/photo.jpg": big}), "channel.media-format")
    assert (f.line, f.column, f.channel) == (6, 5, "bluesky")
    assert f.message == "media/photo.jpg is 2,000,001 bytes; Bluesky takes at most 2,000,000"


# --- editorial.* ------------------------------------------------------------------------------


def test_forbidden_term_matches_with_case_and_accents_folded(make_repo: MakeRepo) -> None:
    # Body on line 6; the term is on line 8, starting at column 13.
    body = "Bonjour.\n\nNotre offre GRATUIT A VIE arrive.\n"
    found = run(make_repo, {"a.md": _one_channel("mastodon", body)})
    assert found == [
        Found(
            "content/a.md",
            8,
            13,
            "error",
            "editorial.forbidden-term",
            "mastodon",
            "forbidden term 'gratuit à vie' in the body ('GRATUIT A VIE'): rephrase it",
        )
    ]


def test_forbidden_term_in_the_title_points_at_the_title(make_repo: MakeRepo) -> None:
    # Words of a term may be separated by any whitespace, in any case.
    text = post(
        "date: 2026-11-24 09:30\nchannels: [site]\npillar: education\ntitle: Cliquez  Ici vite"
    )
    f = one(run(make_repo, {"a.md": text}), "editorial.forbidden-term")
    assert (f.line, f.column, f.channel) == (5, 1, "site")
    assert f.message == "forbidden term 'cliquez ici' in the title ('Cliquez  Ici'): rephrase it"


def test_forbidden_term_silent_inside_longer_words(make_repo: MakeRepo) -> None:
    body = "Un accès gratuitement à vie ? Non : une gratuité à vienne."
    assert run(make_repo, {"a.md": _one_channel("mastodon", body)}) == []


def test_required_hashtag_fires_on_its_channel_only(make_repo: MakeRepo) -> None:
    # LinkedIn requires #Marque; Mastodon does not. Tuesday 08:30 is in LinkedIn's window.
    text = post(
        "date: 2026-11-24 08:30\nchannels: [linkedin, mastodon]\npillar: education",
        "Bonjour #atelier",
    )
    assert run(make_repo, {"a.md": text}) == [
        Found(
            "content/a.md",
            6,
            1,
            "error",
            "editorial.required-hashtag",
            "linkedin",
            "missing required hashtag #Marque",
        )
    ]


def test_required_hashtag_silent_when_present_in_any_case(make_repo: MakeRepo) -> None:
    text = post(
        "date: 2026-11-24 08:30\nchannels: [linkedin, mastodon]\npillar: education",
        "Bonjour #marque",
    )
    assert run(make_repo, {"a.md": text}) == []


def test_pillar_fires_when_missing(make_repo: MakeRepo) -> None:
    text = post("date: 2026-11-24 09:30\nchannels: [mastodon]")
    assert run(make_repo, {"a.md": text}) == [
        Found(
            "content/a.md",
            1,
            1,
            "error",
            "editorial.pillar",
            "mastodon",
            "no pillar: add `pillar:` (education, community, product)",
        )
    ]


def test_pillar_fires_when_not_in_the_list(make_repo: MakeRepo) -> None:
    text = post("date: 2026-11-24 09:30\nchannels: [mastodon, x]\npillar: educaton")
    assert run(make_repo, {"a.md": text}) == [
        Found(
            "content/a.md",
            4,
            1,
            "error",
            "editorial.pillar",
            "mastodon, x",
            "pillar 'educaton' is not one of education, community, product "
            "(did you mean 'education'?)",
        )
    ]


def _on(channel: str, date: str, pillar: str, body: str = "Bonjour #Marque") -> str:
    # date on line 2, channels on 3, pillar on 4.
    return post(f"date: {date}\nchannels: [{channel}]\npillar: {pillar}", body)


def test_mix_warns_when_a_pillar_exceeds_its_share(make_repo: MakeRepo) -> None:
    # product may be 30% of the posts of a 14-day window; judged once the window holds at
    # least ceil(1 / 0.3) = 4 posts. On 5 Nov the window holds 4 posts, 2 of them product.
    posts = {
        "m1.md": _on("mastodon", "2026-11-02 10:00", "education"),
        "m2.md": _on("mastodon", "2026-11-03 10:00", "product"),
        "m3.md": _on("mastodon", "2026-11-04 10:00", "community"),
        "m4.md": _on("mastodon", "2026-11-05 10:00", "product"),
    }
    assert run(make_repo, posts) == [
        Found(
            "content/m4.md",
            4,
            1,
            "warning",
            "editorial.mix",
            "mastodon",
            "product is 2/4 posts (50%) over the 14 days up to this one, above its 30% share: "
            "move it or balance with other pillars",
        )
    ]


MIX_POSTS = {
    # The first product post is 15 days before the last one: outside a 14-day window.
    "m1.md": _on("mastodon", "2026-11-01 10:00", "product"),
    "m2.md": _on("mastodon", "2026-11-10 10:00", "education"),
    "m3.md": _on("mastodon", "2026-11-12 10:00", "education"),
    "m4.md": _on("mastodon", "2026-11-14 10:00", "community"),
    "m5.md": _on("mastodon", "2026-11-16 10:00", "product"),
}


def test_mix_silent_when_the_rolling_window_leaves_the_old_post_out(make_repo: MakeRepo) -> None:
    # The window ending on 16 Nov starts on 2 Nov: m2..m5, 1 product out of 4 = 25%.
    assert run(make_repo, MIX_POSTS) == []


def test_mix_counts_the_old_post_in_a_longer_window(make_repo: MakeRepo) -> None:
    # With a 21-day window m1 is in: 2 product posts out of 5 = 40% > 30%.
    config = _config_with_window("21d")
    f = one(run(make_repo, MIX_POSTS, config=config), "editorial.mix")
    assert (f.path, f.line, f.level) == ("content/m5.md", 4, "warning")
    assert f.message.startswith("product is 2/5 posts (40%) over the 21 days")


def _config_with_window(window: str) -> str:
    return CHANNELS_YAML.replace("window: 14d", f"window: {window}")


def test_mix_ignores_drafts(make_repo: MakeRepo) -> None:
    posts = {
        "m1.md": _on("mastodon", "2026-11-02 10:00", "education"),
        "m2.md": _on("mastodon", "2026-11-03 10:00", "product"),
        "m3.md": _on("mastodon", "2026-11-04 10:00", "community"),
        "m4.md": post(
            "date: 2026-11-05 10:00\nchannels: [mastodon]\npillar: product\nstatus: draft"
        ),
    }
    assert run(make_repo, posts) == []


# --- schedule.* ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "shown", "then"),
    [
        ("2026-11-28 09:00", "Sat 28 Nov 09:00 CET", "Tue 1 Dec 08:00"),  # a Saturday
        # The window's end is excluded; the next one opens at 17:00 the same day.
        ("2026-11-24 10:00", "Tue 24 Nov 10:00 CET", "Tue 24 Nov 17:00"),
        ("2026-11-24 07:59", "Tue 24 Nov 07:59 CET", "Tue 24 Nov 08:00"),
        # An explicit UTC time is judged in Paris time: 09:00Z is 10:00 there (UTC+1).
        ("2026-11-24T09:00:00Z", "Tue 24 Nov 10:00 CET", "Tue 24 Nov 17:00"),
    ],
)
def test_window_fires_outside_the_posting_windows(
    make_repo: MakeRepo, date: str, shown: str, then: str
) -> None:
    found = run(make_repo, {"a.md": _on("linkedin", date, "education")})
    assert found == [
        Found(
            "content/a.md",
            2,
            1,
            "error",
            "schedule.window",
            "linkedin",
            f"{shown} is outside the posting windows (Tue-Thu 08:00-10:00; Tue-Thu 17:00-18:30)"
            f": the next time that passes is {then} (Europe/Paris)",
        )
    ]


@pytest.mark.parametrize(
    "date", ["2026-11-24 08:00", "2026-11-25 09:59", "2026-11-26 18:29", "2026-11-24T07:00:00Z"]
)
def test_window_silent_inside_the_posting_windows(make_repo: MakeRepo, date: str) -> None:
    assert run(make_repo, {"a.md": _on("linkedin", date, "education")}) == []


def test_daily_cap_and_min_gap_across_two_files(make_repo: MakeRepo) -> None:
    # Two LinkedIn posts on Tuesday 24 Nov, 9 hours apart: max_per_day 1, min_gap 20h.
    posts = {
        "a.md": _on("linkedin", "2026-11-24 08:30", "education"),
        "b.md": _on("linkedin", "2026-11-24 17:30", "community"),
    }
    assert run(make_repo, posts) == [
        Found(
            "content/b.md",
            2,
            1,
            "error",
            "schedule.daily-cap",
            "linkedin",
            "2 posts on 2026-11-24, at most 1 a day (also: content/a.md): "
            "the next time that passes is Wed 25 Nov 17:30 (Europe/Paris)",
        ),
        Found(
            "content/b.md",
            2,
            1,
            "error",
            "schedule.min-gap",
            "linkedin",
            "9h after content/a.md, the minimum gap is 20h: "
            "the next time that passes is Wed 25 Nov 04:30 (Europe/Paris)",
        ),
    ]


def test_min_gap_fires_across_midnight_without_the_daily_cap(make_repo: MakeRepo) -> None:
    # Tuesday 17:30 then Wednesday 08:30: two days, but only 15 hours apart.
    posts = {
        "a.md": _on("linkedin", "2026-11-24 17:30", "education"),
        "b.md": _on("linkedin", "2026-11-25 08:30", "community"),
    }
    found = run(make_repo, posts)
    assert only(found, "schedule.daily-cap") == []
    f = one(found, "schedule.min-gap")
    assert (f.path, f.message) == (
        "content/b.md",
        "15h after content/a.md, the minimum gap is 20h: "
        "the next time that passes is Wed 25 Nov 13:30 (Europe/Paris)",
    )


def test_daily_cap_and_min_gap_silent_a_day_apart(make_repo: MakeRepo) -> None:
    posts = {
        "a.md": _on("linkedin", "2026-11-24 08:30", "education"),
        "b.md": _on("linkedin", "2026-11-25 08:30", "community"),
        # A draft the same day does not count.
        "c.md": post(
            "date: 2026-11-24 17:30\nchannels: [linkedin]\npillar: product\nstatus: draft",
            "Bonjour #Marque",
        ),
        # Nor does a post on another channel.
        "d.md": _on("mastodon", "2026-11-24 09:00", "community"),
    }
    assert run(make_repo, posts) == []


def test_no_slot_fires_for_a_day_alone_on_a_channel_without_slots(make_repo: MakeRepo) -> None:
    found = run(make_repo, {"a.md": _on("mastodon", "2026-11-24", "education")})
    f = one(found, "schedule.no-slot")
    assert (f.path, f.line, f.column, f.level, f.channel) == ("content/a.md", 2, 1, "error", None)
    assert "mastodon has no `slots:`" in f.message
    # In French (a new message: translated).
    root = make_repo({"a.md": _on("mastodon", "2026-11-24", "education")}, name="fr")
    args = ["validate", "--format", "json", "--no-cache", "--at", BEFORE_ALL]
    result = run_cli(args, root, env={"CMFLOW_LANG": "fr"})
    (fr,) = [f for f in json.loads(result.stdout)["findings"] if f["rule"] == "schedule.no-slot"]
    assert "mastodon n'a pas de `slots:`" in fr["message"]
    # The same day with a time takes no slot: silent.
    assert run(make_repo, {"a.md": _on("mastodon", "2026-11-24 09:00", "education")}) == []


def test_past_warns_about_a_ready_post_whose_date_has_passed(make_repo: MakeRepo) -> None:
    posts = {
        "a.md": _on("mastodon", "2026-11-24 09:30", "education"),
        "draft.md": post(
            "date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\nstatus: draft"
        ),
    }
    found = run(make_repo, posts, at="2026-11-24 10:00")
    assert found == [
        Found(
            "content/a.md",
            2,
            1,
            "warning",
            "schedule.past",
            "mastodon",
            "scheduled 30 min ago and not published: the next publish run will still send it",
        )
    ]


def test_past_says_when_the_catch_up_window_is_over(make_repo: MakeRepo) -> None:
    # 72 hours late, past the default 48h catch-up.
    found = run(
        make_repo, {"a.md": _on("mastodon", "2026-11-24 09:30", "education")}, at="2026-11-27 09:30"
    )
    f = one(found, "schedule.past")
    assert f.message == (
        "scheduled 3 days ago and not published: missed: beyond the 2d catch-up window, "
        "it is not sent (change its date to send it)"
    )


def test_past_still_says_missed_once_a_run_recorded_it(make_repo: MakeRepo) -> None:
    # A year typo: the post is far beyond the catch-up window. The run records it as missed
    # (not sent); validation goes on saying so, in the words of the run, until its date is
    # changed (it used to fall silent once the record held the pair).
    root = make_repo({"a.md": _on("site", "2025-11-24 09:30", "education")})
    at = "2026-11-24 10:00"
    words = (
        "scheduled 365 days ago and not published: missed: beyond the 2d catch-up window, "
        "it is not sent (change its date to send it)"
    )
    assert [f.message for f in validate_json(root, at=at)[0]] == [words]
    result = run_cli(["publish", "--at", at], root)
    assert result.exit_code == 0, result.output
    assert json.loads((root / "data/record/a/site.json").read_text("utf-8"))["state"] == "missed"
    assert [f.message for f in validate_json(root, at=at)[0]] == [words]
    for _ in range(2):  # with the cache: written, then read
        cached = run_cli(["validate", "--format", "json", "--at", at], root)
        assert [f["message"] for f in json.loads(cached.stdout)["findings"]] == [words]
    # Its date corrected: due, and the next run sends it.
    post_file = root / "content/a.md"
    post_file.write_text(post_file.read_text("utf-8").replace("2025-11-24", "2026-11-24"), "utf-8")
    found, _ = validate_json(root, at=at)
    assert [f.message for f in found] == [
        "scheduled 30 min ago and not published: the next publish run will still send it"
    ]


def test_past_silent_before_the_date(make_repo: MakeRepo) -> None:
    found = run(
        make_repo, {"a.md": _on("mastodon", "2026-11-24 09:30", "education")}, at="2026-11-24 09:29"
    )
    assert found == []


def _record(root: Path, post_id: str, channel: str, state: str, content_hash: str = "") -> None:
    """A publish record as cmflow writes it in data/record/ (docs/publishing.md)."""
    path = root / "data" / "record" / post_id / f"{channel}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "post": post_id,
        "channel": channel,
        "platform": channel,
        "path": f"content/{post_id}.md",
        "state": state,
        "content_hash": content_hash,
        "published_at": "2026-11-24T08:31:00Z",
        "parts": [{"id": "109", "url": "https://mastodon.example/@marque/109"}],
    }
    path.write_text(json.dumps(entry), encoding="utf-8")


def test_past_silent_for_a_published_post_but_not_for_a_failed_one(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "a.md": _on("mastodon", "2026-11-24 09:30", "education"),
            "b.md": _on("mastodon", "2026-11-25 09:30", "community"),
        }
    )
    _record(root, "a", "mastodon", "published")
    _record(root, "b", "mastodon", "failed")  # refused by the platform: it goes again
    found, _ = validate_json(root, at="2026-11-26 09:00")
    assert [(f.path, f.rule) for f in found] == [("content/b.md", "schedule.past")]


def test_edited_after_publish_fires_when_the_record_differs(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": _on("mastodon", "2026-11-24 09:30", "education")})
    _record(root, "a", "mastodon", "published", content_hash="0" * 32)
    found, _ = validate_json(root, at="2026-11-26 09:00")
    assert found == [
        Found(
            "content/a.md",
            2,
            1,
            "warning",
            "schedule.edited-after-publish",
            "mastodon",
            "changed since it was published on 2026-11-24 09:31 CET: the change will not be "
            "sent (set `on_edit: update` on mastodon to send edits); change it by hand at "
            "https://mastodon.example/@marque/109",
        )
    ]


def test_record_unreadable_names_the_file_line_and_column(make_repo: MakeRepo) -> None:
    root = make_repo({"a.md": _on("mastodon", "2026-11-24 09:30", "education")})
    bad = root / "data/record/a/mastodon.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{\n  "post": "a",\n  "state": published\n}\n', encoding="utf-8")
    (root / "data/record/a/site.json").write_text("[]", encoding="utf-8")
    found, summary = validate_json(root, at="2026-11-24 09:00")
    got = [(f.path, f.line, f.column, f.rule) for f in only(found, "record.unreadable")]
    assert got == [
        ("data/record/a/mastodon.json", 3, 12, "record.unreadable"),
        ("data/record/a/site.json", 1, 1, "record.unreadable"),
    ]
    assert "invalid JSON" in found[0].message and "cmflow resolve" in found[0].message
    assert summary["errors"] == 2


def _publish_on_site(make_repo: MakeRepo) -> Path:
    """Publish one post on the feed channel (no credentials, no network) with the real CLI."""
    root = make_repo({"a.md": _on("site", "2026-11-24 09:30", "education", "Bonjour à tous.")})
    result = run_cli(["publish", "--at", "2026-11-24 10:00"], root)
    assert result.exit_code == 0, result.output
    assert (root / "data/record/a/site.json").is_file()
    return root


def test_edited_after_publish_fires_after_editing_a_published_post(make_repo: MakeRepo) -> None:
    root = _publish_on_site(make_repo)
    path = root / "content/a.md"
    path.write_text(path.read_text("utf-8").replace("Bonjour à tous.", "Bonsoir à tous."), "utf-8")
    found, _ = validate_json(root, at="2026-11-24 10:05")
    f = one(found, "schedule.edited-after-publish")
    assert (f.path, f.line, f.column, f.level, f.channel) == (
        "content/a.md",
        2,
        1,
        "warning",
        "site",
    )
    assert only(found, "schedule.past") == []


def test_edited_after_publish_silent_right_after_publishing(make_repo: MakeRepo) -> None:
    root = _publish_on_site(make_repo)
    found, _ = validate_json(root, at="2026-11-24 10:05")
    assert found == []


def test_edited_after_publish_silent_when_only_the_rendering_changed(make_repo: MakeRepo) -> None:
    # The post links to a tracked domain; channels.yaml then tags its links otherwise. What
    # the site would receive differs, but the post is as it went out: the publisher sends no
    # edit for that (it would rewrite a brand's history unasked), so validation warns of none.
    body = "Bonjour à tous, [le blog](https://example.fr/blog)."
    root = make_repo({"a.md": _on("site", "2026-11-24 09:30", "education", body)})
    result = run_cli(["publish", "--at", "2026-11-24 10:00"], root)
    assert result.exit_code == 0, result.output
    config = root / "channels.yaml"
    text = config.read_text("utf-8")
    assert "utm_medium: social" in text
    config.write_text(text.replace("utm_medium: social", "utm_medium: reseaux"), "utf-8")
    found, _ = validate_json(root, at="2026-11-24 10:05")
    assert found == []
    for _ in range(2):  # with the cache: written, then read (the sent index kept in it)
        cached = run_cli(["validate", "--format", "json", "--at", "2026-11-24 10:05"], root)
        assert cached.exit_code == 0, cached.output
        assert json.loads(cached.stdout)["findings"] == []
    plan = run_cli(["publish", "--dry-run", "--at", "2026-11-24 10:05"], root)
    assert plan.exit_code == 0, plan.output
    assert "edited since" not in plan.output and "edit of" not in plan.output
    # Edited as well: the warning is back, as the publisher would then send the edit.
    post = root / "content/a.md"
    post.write_text(post.read_text("utf-8").replace("Bonjour", "Bonsoir"), "utf-8")
    found, _ = validate_json(root, at="2026-11-24 10:10")
    assert [(f.rule, f.channel) for f in found] == [("schedule.edited-after-publish", "site")]


@pytest.mark.parametrize("on_edit", ["update", "warn"])
def test_edited_after_publish_says_nothing_of_a_copy_that_kept_the_id(
    make_repo: MakeRepo, on_edit: str
) -> None:
    # A published post with its own `id:`, copied to start next week's: the copy keeps the
    # id. The record cannot tell which of the two went out under it, so neither is called
    # an edit of the other (the copy used to be "changed since it was published ... sent as
    # an edit"); frontmatter.duplicate-id asks for the fix, and the run holds the copy (on a
    # channel that takes no edits, it used to pass it as done: never sent, the run green).
    original = post(
        "date: 2026-11-24 09:30\nchannels: [site]\npillar: education\nid: lancement",
        "Le lancement de la saison.",
    )
    root = make_repo({"a.md": original})
    config = root / "channels.yaml"
    text = config.read_text("utf-8")
    config.write_text(text.replace("    title: Actus", f"    on_edit: {on_edit}\n    title: Actus"))
    result = run_cli(["publish", "--at", "2026-11-24 10:00"], root)
    assert result.exit_code == 0, result.output
    copy = original.replace("2026-11-24 09:30", "2026-11-30 09:30").replace(
        "Le lancement de la saison.", "La semaine suivante, tout autre chose."
    )
    (root / "content/b.md").write_text(copy, "utf-8")
    at = "2026-12-01 10:05"
    found, _ = validate_json(root, at=at)
    assert sorted((f.path, f.rule) for f in found) == [
        ("content/a.md", "frontmatter.duplicate-id"),
        ("content/b.md", "frontmatter.duplicate-id"),
    ]
    for _ in range(2):  # with the cache: written, then read
        cached = run_cli(["validate", "--format", "json", "--at", at], root)
        assert {f["rule"] for f in json.loads(cached.stdout)["findings"]} == {
            "frontmatter.duplicate-id"
        }
    dry = run_cli(["publish", "--dry-run", "--format", "json", "--at", at], root)
    assert dry.exit_code == 1
    actions = {a["path"]: a for a in json.loads(dry.stdout)["actions"]}
    assert {p: a["action"] for p, a in actions.items()} == {
        "content/a.md": "done",
        "content/b.md": "invalid",
    }
    assert actions["content/b.md"]["reason"].startswith(
        "invalid: 1 error (frontmatter.duplicate-id) about the post"
    )
    real = run_cli(["publish", "--at", at], root)
    assert real.exit_code == 1 and "content/b.md" in real.output
    # The copy given its own id: a new post, due, and nothing to say of an edit.
    (root / "content/b.md").write_text(copy.replace("id: lancement", "id: semaine-2"), "utf-8")
    found, _ = validate_json(root, at=at)
    assert [(f.path, f.rule) for f in found] == [("content/b.md", "schedule.past")]
    again = run_cli(["publish", "--at", at], root)
    assert again.exit_code == 0, again.output
    assert (root / "data/record/semaine-2/site.json").is_file()


# --- security.secret ---------------------------------------------------------------------------

# Built by concatenation so that this file does not itself look like it holds credentials.
GITHUB_TOKEN = "ghp" + "_" + "A1b2C3d4E5" * 4  # ghp_ + 40 characters
TELEGRAM_TOKEN = "123456789" + ":" + "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX"  # 9 digits : 35
SLACK_WEBHOOK = "https://hooks.slack.com/services/" + "T0ABCDEFG/B0ABCDEFG/" + "abcdefghij" * 2


@pytest.mark.parametrize(
    ("secret", "what"),
    [
        (GITHUB_TOKEN, "a GitHub token"),
        (TELEGRAM_TOKEN, "a Telegram bot token"),
        (SLACK_WEBHOOK, "a Slack webhook URL"),
    ],
)
def test_secret_fires_in_the_body(make_repo: MakeRepo, secret: str, what: str) -> None:
    # Body on line 6; the secret starts on line 7, column 8 ("Jeton: " is 7 characters).
    body = f"Bonjour.\nJeton: {secret}\n"
    found = run(make_repo, {"a.md": _one_channel("mastodon", body)})
    f = one(found, "security.secret")
    assert (f.path, f.line, f.level) == ("content/a.md", 7, "error")
    # The Slack pattern matches from the host, after "https://" (8 characters).
    assert f.column == (16 if what == "a Slack webhook URL" else 8)
    assert f.message == (
        f"this looks like {what}: remove it from the post and change it (revoke it and create "
        "a new one) if it was ever pushed"
    )


def test_secret_fires_in_a_front_matter_value(make_repo: MakeRepo) -> None:
    text = post(
        f"date: 2026-11-24 09:30\nchannels: [site]\npillar: education\ntitle: {GITHUB_TOKEN}"
    )
    f = one(run(make_repo, {"a.md": text}), "security.secret")
    assert (f.line, f.column) == (5, 1)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (f"---\ndate: [\n---\nJeton {GITHUB_TOKEN}\n", 4),  # broken YAML, body on line 4
        (f"Jeton {GITHUB_TOKEN}\n", 1),  # no front-matter at all
    ],
    ids=["broken-front-matter", "no-front-matter"],
)
def test_secret_fires_even_when_the_front_matter_is_broken(
    make_repo: MakeRepo, text: str, line: int
) -> None:
    f = one(run(make_repo, {"a.md": text}), "security.secret")
    assert (f.line, f.column) == (line, 7)


def test_secret_silent_on_ordinary_text(make_repo: MakeRepo) -> None:
    body = (
        "Rendez-vous le 24/11 à 09:30, salle 123456789. Inscription : "
        "https://exemple.fr/atelier-2026?ref=ABCDEF123456 #Atelier2026"
    )
    assert run(make_repo, {"a.md": _one_channel("mastodon", body)}) == []


# --- config.* ----------------------------------------------------------------------------------

UNTITLED = CHANNELS_YAML.replace("    title: Actus de la marque\n", "")


def test_config_site_title_fires_on_a_site_with_neither_title_nor_brand(
    make_repo: MakeRepo,
) -> None:
    assert UNTITLED != CHANNELS_YAML
    found = run(
        make_repo, {"a.md": _on("mastodon", "2026-11-24 09:30", "education")}, config=UNTITLED
    )
    hit = one(found, "config.site-title")
    line = UNTITLED.splitlines().index("  site:") + 1
    assert (hit.path, hit.line, hit.column, hit.level, hit.channel) == (
        "channels.yaml",
        line,
        3,
        "warning",
        "site",
    )
    assert "channel's name 'site'" in hit.message and "`brand:`" in hit.message
    assert "`title:` on the site channel" in hit.message


@pytest.mark.parametrize(
    "config",
    [
        f"brand: Boulangerie Martin\n{UNTITLED}",
        CHANNELS_YAML,
        UNTITLED.replace("  site:\n", "  site:\n    enabled: false\n"),
    ],
    ids=["brand", "title", "disabled"],
)
def test_config_site_title_silent_with_a_brand_or_a_title(make_repo: MakeRepo, config: str) -> None:
    found = run(
        make_repo, {"a.md": _on("mastodon", "2026-11-24 09:30", "education")}, config=config
    )
    assert only(found, "config.site-title") == []


# --- evergreen.* --------------------------------------------------------------------------------


def test_evergreen_policy_fires_on_the_key_to_fix_per_channel(make_repo: MakeRepo) -> None:
    # Line 5: `evergreen:`; line 6 its `every`. The site is never re-posted: not checked there.
    text = post(
        """
        date: 2026-11-24 08:30
        channels: [mastodon, site]
        pillar: education
        evergreen:
          every: 2d
          times: 3
        """
    )
    f = one(run(make_repo, {"a.md": text}), "evergreen.policy")
    assert (f.line, f.column, f.level, f.channel) == (6, 3, "error", "mastodon")
    assert "7d" in f.message


def test_evergreen_policy_silent_on_a_good_policy_and_no_policy_warns(
    make_repo: MakeRepo,
) -> None:
    good = post(
        """
        date: 2026-11-24 08:30
        channels: [mastodon]
        pillar: education
        evergreen: {every: 12w, times: 2}
        """
    )
    found = run(make_repo, {"a.md": good})
    assert only(found, "evergreen.policy") == [] and only(found, "evergreen.no-policy") == []
    opted = good.replace("evergreen: {every: 12w, times: 2}", "evergreen: true")
    f = one(run(make_repo, {"b.md": opted}), "evergreen.no-policy")
    assert (f.line, f.column, f.level) == (5, 1, "warning")


# --- The catalogue is covered -------------------------------------------------------------------


def test_every_rule_id_appears_in_a_test_of_this_file() -> None:
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    named: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            named |= {
                n.value
                for n in ast.walk(node)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            }
    # Each rule id must appear as a string literal inside a test (its body or decorators).
    missing = [r.id for r in RULES if not any(r.id == s or f"'{r.id}'" in s for s in named)]
    assert missing == []


def test_secret_needles_cover_every_pattern() -> None:
    """Each credential pattern has substrings that any match must contain (a prefilter)."""
    from cmflow.rules.security import _NEEDLES, _PREFILTERS, PATTERNS

    samples = {
        "a private key": "-----BEGIN RSA PRIVATE KEY-----",
        "a GitHub token": "ghp_" + "a" * 36,
        "a Slack token": "xoxb-1234567890-abc",
        "a Slack webhook URL": "hooks.slack.com/services/T00/B00/abc",
        "a Discord webhook URL": "discord.com/api/webhooks/123/" + "a" * 24,
        "a Telegram bot token": "123456789:" + "A" * 35,
        "an AWS access key": "AKIA" + "A" * 16,
        "a JSON web token": "eyJ" + "a" * 10 + ".eyJ" + "a" * 10 + "." + "a" * 10,
        "a Bluesky app password": "abcd-ef2h-ijkl-mnop",
        "an OpenAI-style API key": "sk-" + "a" * 20,
        "a Google API key": "AIza" + "a" * 35,
        "a credential assignment": "password: abcdefgh12345",
    }
    assert set(_NEEDLES) == {what for what, _ in PATTERNS} == set(samples)
    for what, pattern in PATTERNS:
        sample = samples[what]
        assert pattern.search(sample), what
        assert any(n in sample.lower() for n in _NEEDLES[what]), what
        prefilter = _PREFILTERS.get(what)
        assert prefilter is None or prefilter.search(sample), what
