"""A content repository written to hurt the publish job: links to `.git/config` (where the
CI checkout keeps its token), SVG with scripts for the brand's site, an output folder that
is a link to somewhere else, named pipes where posts are expected.

Everything runs as the job does: a real clone of a real bare remote, committed and pushed,
then the real `cmflow` in a subprocess (with a timeout: a hang fails the test).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.media_samples import JPEG, PNG, SVG
from tests.publishing import (
    Site,
    commit_all,
    feed_channel,
    git,
    init_remote,
    post,
    pushed_site,
    remote_history,
    remote_record,
)

# What actions/checkout leaves in .git/config: a token in an http extraheader.
CANARY = "eC1hY2Nlc3MtdG9rZW46Z2hzX2NhbmFyeQ"


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry below `folder` (links not followed) with its type and content hash."""
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


def job(tmp_path: Path, posts: dict[str, str], media: dict[str, bytes] | None = None) -> Site:
    remote = init_remote(tmp_path / "remote.git")
    s = pushed_site(remote, tmp_path / "ci", {"site": feed_channel()}, posts, media=media)
    git(s.root, "config", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {CANARY}")
    return s


def remote_of(s: Site) -> Path:
    return s.root.parent / "remote.git"


# -- 1. the CI's credential -------------------------------------------------------------------


def test_a_media_linked_to_git_config_is_refused_and_never_pushed(tmp_path: Path) -> None:
    s = job(
        tmp_path,
        {
            "a.md": post(
                ["site"],
                "Notre atelier",
                title="Atelier",
                media=[{"path": "media/photo.jpg", "alt": "Photo"}],
            )
        },
    )
    (s.root / "media").mkdir()
    (s.root / "media/photo.jpg").symlink_to("../.git/config")
    commit_all(s.root, "Une photo")
    found = s.run("validate", "--format", "json", timeout=30)
    assert found.code == 1, found
    assert any(
        f["rule"] == "channel.media-missing" and ".git" in f["message"]
        for f in found.json()["findings"]
    ), found
    result = s.publish("--commit")
    assert result.code == 1, result
    assert CANARY not in remote_history(remote_of(s))
    assert not (s.root / "public/media/photo.jpg").exists()
    assert CANARY not in "".join(r.output for r in s.runs)


def test_a_media_with_unknown_bytes_is_an_error_whatever_its_name(tmp_path: Path) -> None:
    s = job(
        tmp_path,
        {"a.md": post(["site"], "Notre atelier", media=[{"path": "media/photo.jpg", "alt": "P"}])},
        media={"media/photo.jpg": b"[core]\n\tbare = false\n"},
    )
    found = s.run("validate", "--format", "json", timeout=30)
    assert found.code == 1, found
    messages = [
        f["message"] for f in found.json()["findings"] if f["rule"] == "channel.media-format"
    ]
    assert messages and "not a format cmflow recognises" in messages[0], found


# -- 2. SVG on the site -------------------------------------------------------------------------


def test_svg_is_refused_for_the_site_even_when_media_types_allow_it(tmp_path: Path) -> None:
    remote = init_remote(tmp_path / "remote.git")
    channels = {"site": feed_channel(rules={"media_types": ["image/svg+xml", "image/png"]})}
    s = pushed_site(
        remote,
        tmp_path / "ci",
        channels,
        {"a.md": post(["site"], "Logo", media=[{"path": "media/logo.svg", "alt": "Logo"}])},
        media={"media/logo.svg": SVG},
    )
    found = s.run("validate", "--format", "json", timeout=30)
    assert found.code == 1, found
    svg = [f for f in found.json()["findings"] if f["rule"] == "channel.media-format"]
    assert svg and "SVG" in svg[0]["message"] and "PNG, JPEG or WebP" in svg[0]["message"]
    assert s.publish("--commit").code == 1
    published = git(remote, "ls-tree", "-r", "-z", "--name-only", "main").split("\0")
    assert "media/logo.svg" in published
    assert not [p for p in published if p.startswith("public/")]


# -- 3. writing through links in the output folder ---------------------------------------------

POST_WITH_PHOTO = post(
    ["site"], "Bonjour", title="Bonjour", media=[{"path": "media/p.png", "alt": "P"}]
)


def _link_public(root: Path, outside: Path) -> str:
    (root / "public").symlink_to(outside, target_is_directory=True)
    return "public"


def _link_public_into_git(root: Path, outside: Path) -> str:
    """A link that stays in the repository (so channels.yaml's check lets it through)."""
    (root / "public").symlink_to(".git", target_is_directory=True)
    return "public"


def _link_public_loop(root: Path, outside: Path) -> str:
    (root / "public").symlink_to("public")
    return "public"


def _link_media(root: Path, outside: Path) -> str:
    (root / "public").mkdir()
    (root / "public/media").symlink_to(outside, target_is_directory=True)
    return "public/media"


def _link_page_folder(root: Path, outside: Path) -> str:
    (root / "public").mkdir()
    (root / "public/a").symlink_to(outside, target_is_directory=True)
    return "public/a"


def _link_page(root: Path, outside: Path) -> str:
    (root / "public/a").mkdir(parents=True)
    (root / "public/a/index.html").symlink_to(outside / "victime.html")
    return "public/a/index.html"


def _link_feed(root: Path, outside: Path) -> str:
    (root / "public").mkdir()
    (root / "public/feed.xml").symlink_to(outside / "victime.html")
    return "public/feed.xml"


def _link_manifest(root: Path, outside: Path) -> str:
    (root / "public").mkdir()
    (root / "public/.cmflow-feed.json").symlink_to(outside / "victime.html")
    return "public/.cmflow-feed.json"


@pytest.mark.parametrize(
    "make",
    [
        _link_public,
        _link_public_into_git,
        _link_public_loop,
        _link_media,
        _link_page_folder,
        _link_page,
        _link_feed,
        _link_manifest,
    ],
)
def test_publish_never_writes_through_a_link(
    tmp_path: Path, make: Callable[[Path, Path], str]
) -> None:
    outside = tmp_path / "ailleurs"
    outside.mkdir()
    (outside / "victime.html").write_text("à garder\n", encoding="utf-8")
    before = snapshot(outside)
    s = job(tmp_path, {"a.md": POST_WITH_PHOTO}, media={"media/p.png": PNG})
    shown = make(s.root, outside)
    commit_all(s.root, "Un lien")
    result = s.publish("--commit")
    assert snapshot(outside) == before
    assert not (s.root / ".git" / "feed.xml").exists()
    if make is _link_public:  # refused by the configuration check, before anything runs
        assert result.code == 2 and "leaves the repository" in result.stderr, result
        return
    assert result.code == 1, result
    entry = remote_record(remote_of(s), "a", "site")
    assert entry is not None and entry["state"] == "failed", entry
    text = str(entry)
    assert shown in text and "symbolic link" in text, text


# -- 4. things that are not files ---------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_fifos_folders_and_loops_in_content_are_findings_not_hangs(tmp_path: Path) -> None:
    s = job(
        tmp_path,
        {
            "ok.md": post(["site"], "Témoin", media=[{"path": "media/pipe.jpg", "alt": "P"}]),
        },
        media={"media/p.jpg": JPEG},
    )
    content = s.root / "content"
    os.mkfifo(content / "tuyau.md")
    os.mkfifo(s.root / "media/pipe.jpg")
    (content / "dossier.md").mkdir()
    (content / "dossier.md/vrai.md").write_text(post(["site"], "Dedans"), encoding="utf-8")
    (content / "boucle.md").symlink_to("boucle.md")
    (content / "remonte").symlink_to("..", target_is_directory=True)
    (content / "sous").mkdir()
    (content / "sous/cercle").symlink_to("../sous", target_is_directory=True)
    (content / "secret.md").symlink_to("../.git/config")
    (tmp_path / "dehors.md").write_text(post(["site"], "Dehors"), encoding="utf-8")
    (content / "dehors.md").symlink_to(tmp_path / "dehors.md")
    found = s.run("validate", "--format", "json", timeout=30)
    assert found.code == 1, found
    by_path: dict[str, list[str]] = {}
    for f in found.json()["findings"]:
        by_path.setdefault(f["path"], []).append(f"{f['rule']}: {f['message']}")
    assert any("content.file" in m and "named pipe" in m for m in by_path["content/tuyau.md"])
    assert any("content.file" in m and "folder" in m for m in by_path["content/dossier.md"])
    assert any("cannot be resolved" in m for m in by_path["content/boucle.md"])
    assert any(".git" in m for m in by_path["content/secret.md"])
    assert any("outside the repository" in m for m in by_path["content/dehors.md"])
    assert any("channel.media-missing" in m and "named pipe" in m for m in by_path["content/ok.md"])
    result = s.run("publish", "--commit", timeout=60)
    assert result.code == 1, result
    assert CANARY not in remote_history(remote_of(s))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_cached_post_replaced_by_a_fifo_is_not_read(tmp_path: Path) -> None:
    s = job(tmp_path, {"a.md": post(["site"], "Bonjour"), "b.md": post(["site"], "Témoin")})
    first = s.run("validate", timeout=30)
    assert first.code in (0, 1), first
    (s.root / "content/a.md").unlink()
    os.mkfifo(s.root / "content/a.md")
    again = s.run("validate", "--format", "json", timeout=30)
    assert again.code == 1, again
    assert [f["rule"] for f in again.json()["findings"] if f["path"] == "content/a.md"] == [
        "content.file"
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("kind", ["fifo", "git-link"])
def test_channels_yaml_must_be_a_regular_file_of_the_repository(tmp_path: Path, kind: str) -> None:
    s = job(tmp_path, {"a.md": post(["site"], "Bonjour")})
    config = s.root / "channels.yaml"
    config.unlink()
    if kind == "fifo":
        os.mkfifo(config)
    else:
        config.symlink_to(".git/config")
    result = s.run("validate", "--root", str(s.root), timeout=30)
    assert result.code == 2, result
    assert CANARY not in result.output
    if kind == "git-link":
        assert "channels.yaml: cannot read it: it leads into git's own folder" in result.stderr
