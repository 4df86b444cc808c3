"""The example content repository at the root of this project (channels.yaml, content/,
media/) validates cleanly, and any single problem planted in a copy of it is caught, with
the right rule at the right file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_main

EXAMPLE = Path(__file__).resolve().parent.parent
AT = "2026-11-01 08:00"  # before every post of the example: nothing is in the past
GITHUB_TOKEN = "ghp" + "_" + "Zz9Yy8Xx7W" * 4  # built here so this file holds no token


def test_example_validates_without_errors_or_warnings() -> None:
    result = run_cli(
        ["validate", "--root", str(EXAMPLE), "--at", AT, "--no-cache", "--format", "json"],
        EXAMPLE,
    )
    data = json.loads(result.stdout)
    assert data["findings"] == []
    assert data["summary"] == {"files": 20, "errors": 0, "warnings": 0}
    assert result.exit_code == 0


def test_example_through_the_entry_point(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    proc = run_main(["validate", "--at", AT], root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "ok: 0 errors, 0 warnings in 20 files\n"


def copy_example(tmp_path: Path) -> Path:
    root = tmp_path / "example"
    root.mkdir()
    shutil.copy2(EXAMPLE / "channels.yaml", root / "channels.yaml")
    shutil.copytree(EXAMPLE / "content", root / "content")
    shutil.copytree(EXAMPLE / "media", root / "media")
    return root


def edit(old: str, new: str, count: int = 1) -> Callable[[str], str]:
    def apply(text: str) -> str:
        assert text.count(old) == count, f"{old!r} appears {text.count(old)} times"
        return text.replace(old, new)

    return apply


def append(extra: str) -> Callable[[str], str]:
    return lambda text: text.rstrip("\n") + "\n\n" + extra + "\n"


N = "content/2026/11/"
D = "content/2026/12/"
MODERATION = N + "2026-11-20-vos-questions-moderation.md"  # no media, no LinkedIn
ANNONCE = N + "2026-11-17-atelier-cm-2026-annonce.md"


@pytest.mark.parametrize(
    ("path", "change", "errors", "channel"),
    [
        pytest.param(
            MODERATION,
            # In place of a sentence: the body stays under Mastodon's 500.
            edit("Personne ne vous reprochera de dormir.", "Cliquez ici, on dort."),
            {(MODERATION, "editorial.forbidden-term")},
            # Bluesky has its own variant body, without the term.
            "discord, mastodon, site, telegram",
            id="forbidden-term",
        ),
        pytest.param(
            MODERATION,
            append("Et encore une chose. " * 25),  # +525 characters: over Mastodon's 500
            {(MODERATION, "channel.max-length")},
            "mastodon",
            id="mastodon-too-long",
        ),
        pytest.param(
            N + "2026-11-09-trois-questions-avant-de-publier.md",
            edit(
                '    alt: "Illustration sur fond crème', '    title: "Illustration sur fond crème'
            ),
            {
                (N + "2026-11-09-trois-questions-avant-de-publier.md", "channel.media-alt"),
                # `title` is not a key of a media item.
                (N + "2026-11-09-trois-questions-avant-de-publier.md", "frontmatter.unknown-field"),
            },
            None,
            id="alt-renamed",
        ),
        pytest.param(
            N + "2026-11-09-trois-questions-avant-de-publier.md",
            lambda text: (
                "\n".join(line for line in text.splitlines() if not line.startswith("    alt: "))
                + "\n"
            ),
            {(N + "2026-11-09-trois-questions-avant-de-publier.md", "channel.media-alt")},
            "bluesky, discord, instagram, mastodon, site, telegram",
            id="alt-removed",
        ),
        pytest.param(
            D + "2026-12-18-lettre-de-decembre.md",
            edit("channels: [site, mastodon,", "channels: [site, mastodn,"),
            {(D + "2026-12-18-lettre-de-decembre.md", "frontmatter.unknown-channel")},
            None,
            id="unknown-channel",
        ),
        pytest.param(
            N + "2026-11-24-portrait-karim-haddad.md",
            edit("date: 2026-11-24 08:30", "date: 2026-11-28 08:30"),  # a Saturday
            {(N + "2026-11-24-portrait-karim-haddad.md", "schedule.window")},
            "linkedin",
            id="linkedin-saturday",
        ),
        pytest.param(
            # Thursday 17:30 moved to Tuesday 17:30, the day of Karim's portrait at 08:30.
            N + "2026-11-26-ecrire-un-texte-alternatif.md",
            edit("date: 2026-11-26 17:30", "date: 2026-11-24 17:30"),
            {
                (N + "2026-11-26-ecrire-un-texte-alternatif.md", "schedule.daily-cap"),
                (N + "2026-11-26-ecrire-un-texte-alternatif.md", "schedule.min-gap"),
            },
            "linkedin",
            id="linkedin-twice-a-day",
        ),
        pytest.param(
            D + "2026-12-16-bilan-communaute-2026.md",
            edit("pillar: community", "pillar: communauté"),
            {(D + "2026-12-16-bilan-communaute-2026.md", "editorial.pillar")},
            "bluesky, discord, linkedin, mastodon, site, telegram",
            id="bad-pillar",
        ),
        pytest.param(
            D + "2026-12-03-atelier-cm-2026-programme.md",
            edit("pillar: education", "id: atelier-cm-2026-annonce\npillar: education"),
            {
                (D + "2026-12-03-atelier-cm-2026-programme.md", "frontmatter.duplicate-id"),
                (ANNONCE, "frontmatter.duplicate-id"),
            },
            None,
            id="duplicate-id",
        ),
        pytest.param(
            D + "2026-12-11-atelier-cm-2026-compte-rendu.md",  # site only: no length limit
            append(f"Jeton du bot : {GITHUB_TOKEN}"),
            {(D + "2026-12-11-atelier-cm-2026-compte-rendu.md", "security.secret")},
            None,
            id="secret",
        ),
        pytest.param(
            D + "2026-12-15-kit-editorial-module-janvier.md",
            edit("media/kit-editorial.jpg", "media/kit-editorial-2027.jpg"),
            {(D + "2026-12-15-kit-editorial-module-janvier.md", "channel.media-missing")},
            "discord, mastodon, site, telegram",
            id="missing-image",
        ),
        pytest.param(
            N + "2026-11-13-kit-editorial-2027-disponible.md",
            edit("date: 2026-11-13 12:15", "date: 2026-10-25 02:30"),  # happens twice in Paris
            {(N + "2026-11-13-kit-editorial-2027-disponible.md", "frontmatter.date")},
            None,
            id="ambiguous-date",
        ),
    ],
)
def test_a_planted_problem_is_caught(
    tmp_path: Path,
    path: str,
    change: Callable[[str], str],
    errors: set[tuple[str, str]],
    channel: str | None,
) -> None:
    root = copy_example(tmp_path)
    target = root / path
    target.write_text(change(target.read_text("utf-8")), encoding="utf-8")

    result = run_cli(["validate", "--at", AT, "--format", "json"], root)
    assert result.exit_code == 1, result.stdout
    findings = json.loads(result.stdout)["findings"]
    assert {(f["path"], f["rule"]) for f in findings if f["level"] == "error"} == errors
    if channel is not None:
        planted = [f for f in findings if f["path"] == path and f["level"] == "error"]
        assert {f["channel"] for f in planted} == {channel}


def test_a_planted_problem_points_at_the_right_line(tmp_path: Path) -> None:
    # The media item `- path: ...` is on line 9 of the post, its `path` key at column 5.
    root = copy_example(tmp_path)
    post = root / D / "2026-12-15-kit-editorial-module-janvier.md"
    post.write_text(
        post.read_text("utf-8").replace("media/kit-editorial.jpg", "media/absente.jpg"), "utf-8"
    )
    result = run_cli(["validate", "--at", AT], root)
    assert result.stdout == (
        f"{D}2026-12-15-kit-editorial-module-janvier.md:9:5: error channel.media-missing  "
        "discord, mastodon, site, telegram: media/absente.jpg does not exist\n"
        "failed: 1 error, 0 warnings in 20 files\n"
    )
