"""Validation cases found in review: each crashed, misled or missed a problem before a fix."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from cmflow.ledger import file_name
from cmflow.markup import to_html
from tests.conftest import CHANNELS_YAML, PNG, only, post, run_cli, run_main, validate_json

MASTODON_POST = "date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: education\n"


def test_a_list_as_pillar_is_reported_not_a_crash(make_repo: Callable[..., Path]) -> None:
    root = make_repo(
        {
            "a.md": post(
                "date: 2026-11-24 09:30\nchannels: [mastodon]\npillar: [education, community]"
            ),
            "b.md": post(MASTODON_POST),
        }
    )
    found, _ = validate_json(root)
    assert [(f.path, f.rule) for f in only(found, "frontmatter.type")] == [
        ("content/a.md", "frontmatter.type")
    ]


def test_ids_that_would_name_odd_files_are_refused(make_repo: Callable[..., Path]) -> None:
    root = make_repo(
        {
            "a.md": post(MASTODON_POST + "id: ..\n"),
            "b.md": post(MASTODON_POST + "id: rappel noel\n"),
        }
    )
    found, _ = validate_json(root)
    assert {f.path for f in only(found, "frontmatter.type")} == {"content/a.md", "content/b.md"}


def test_record_file_names_are_distinct_and_stay_in_the_record() -> None:
    names = {file_name(i) for i in ("rappel noel", "rappel_noel", "..", ".", "a/b", "plain-id")}
    assert len(names) == 6
    assert file_name("plain-id") == "plain-id"
    assert all("/" not in n and n not in (".", "..") for n in names)


def test_an_empty_channel_list_is_reported(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"a.md": post("date: 2026-11-24 09:30\nchannels: []\npillar: education")})
    found, _ = validate_json(root)
    assert [f.line for f in only(found, "frontmatter.required")] == [3]


def test_channels_written_as_one_string_get_a_list_hint(make_repo: Callable[..., Path]) -> None:
    root = make_repo(
        {"a.md": post("date: 2026-11-24 09:30\nchannels: mastodon, x\npillar: education")}
    )
    found, _ = validate_json(root)
    assert (
        "write a list, channels: [mastodon, x]"
        in only(found, "frontmatter.unknown-channel")[0].message
    )


def test_a_url_slug_is_not_an_app_password(make_repo: Callable[..., Path]) -> None:
    body = "Lisez https://example.fr/blog/mode-pour-tous-nous et abcd-efgh-ijkl-mnop."
    root = make_repo({"a.md": post(MASTODON_POST, body)})
    found, _ = validate_json(root)
    assert not only(found, "security.secret")


def test_catch_up_zero_means_zero(make_repo: Callable[..., Path]) -> None:
    config = CHANNELS_YAML.replace("language: fr\n", "language: fr\ncatch_up: 0s\n")
    root = make_repo({"a.md": post(MASTODON_POST)}, config=config)
    found, _ = validate_json(root, at="2026-11-24 10:00")
    assert "beyond the 0s catch-up window" in only(found, "schedule.past")[0].message


def test_posting_windows_written_as_a_string_give_one_error(make_repo: Callable[..., Path]) -> None:
    config = CHANNELS_YAML.replace(
        'posting_windows: ["Tue-Thu 08:00-10:00", "Tue-Thu 17:00-18:30"]',
        'posting_windows: "Tue-Thu 08:00-10:00"',
    )
    root = make_repo({}, config=config)
    result = run_main(["validate"], root)
    assert result.returncode == 2
    assert result.stderr.count("posting_windows") == 1, result.stderr


def test_folders_outside_the_repository_are_refused(make_repo: Callable[..., Path]) -> None:
    config = CHANNELS_YAML.replace("    output_dir: public", "    output_dir: ../site-out")
    root = make_repo({}, config=config)
    result = run_main(["validate"], root)
    assert result.returncode == 2 and "leaves the repository" in result.stderr


def test_a_missing_content_folder_is_an_error(make_repo: Callable[..., Path]) -> None:
    config = CHANNELS_YAML.replace("language: fr\n", "language: fr\ncontent_dir: contnet\n")
    root = make_repo({}, config=config)
    result = run_main(["validate"], root)
    assert result.returncode == 2 and "'contnet' does not exist" in result.stderr


def test_previewing_an_image_says_it_is_not_a_post(make_repo: Callable[..., Path]) -> None:
    root = make_repo({}, media={"media/a.png": PNG})
    result = run_main(["preview", "media/a.png"], root)
    assert result.returncode == 2 and "is not a post" in result.stderr


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_changed_since_reports_every_post_when_channels_yaml_changed(
    make_repo: Callable[..., Path],
) -> None:
    root = make_repo({"a.md": post(MASTODON_POST, "On parle de formation.")})
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "start")
    config = CHANNELS_YAML.replace('"cliquez ici"]', '"cliquez ici", "formation"]')
    (root / "channels.yaml").write_text(config, encoding="utf-8")
    found, _ = validate_json(root, "--changed-since", "main")
    assert [f.path for f in only(found, "editorial.forbidden-term")] == ["content/a.md"]


def test_changed_since_reports_the_posts_using_a_changed_image(
    make_repo: Callable[..., Path],
) -> None:
    front = MASTODON_POST + "media:\n  - path: media/a.png\n    alt: Un schéma\n"
    root = make_repo({"a.md": post(front), "b.md": post(MASTODON_POST)}, media={"media/a.png": PNG})
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "start")
    (root / "media" / "a.png").unlink()
    found, summary = validate_json(root, "--changed-since", "main")
    assert [f.path for f in only(found, "channel.media-missing")] == ["content/a.md"]
    assert summary["files"] == 1


def test_feed_html_keeps_markup_and_drops_scripts() -> None:
    html = to_html(
        "**gras** [lien](https://x.fr) [piège](javascript:alert(1)) "
        "<script>alert(1)</script><img src=x onerror=alert(1)>"
    )
    assert "<strong>gras</strong>" in html
    assert '<a href="https://x.fr" rel="noopener noreferrer">lien</a>' in html
    # markdown-it refuses the javascript: link, which stays as the text the author wrote.
    assert "<script" not in html and "onerror" not in html and '="javascript' not in html


def test_validate_still_runs_the_cli_in_process(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"a.md": post(MASTODON_POST)})
    assert run_cli(["validate", "--at", "2026-01-01 00:00"], root).exit_code == 0


def test_cached_posts_are_rebuilt_with_every_field(make_repo: Callable[..., Path]) -> None:
    from dataclasses import fields

    from cmflow import config as config_mod
    from cmflow.cache import Cache
    from cmflow.model import Post
    from cmflow.rules import BY_ID
    from cmflow.validation import load_entries

    root = make_repo({"a.md": post(MASTODON_POST)})
    cfg = config_mod.load(root, set(BY_ID))
    load_entries(cfg)
    cached = Cache.open(root, cfg.digest, cfg.timezone).entries["content/a.md"].post
    # Every field there: stored, but for the marks, which a cached post builds when read.
    assert set(vars(cached)) - {"_marks", "_kept"} == {f.name for f in fields(Post)} - {"marks"}
    assert all(hasattr(cached, f.name) for f in fields(Post))
    assert cached.mark("date").line == 2
