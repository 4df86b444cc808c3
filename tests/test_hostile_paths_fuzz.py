"""Seeded fuzzing of hostile paths through the real CLI: `validate`, then `publish --commit`
to the feed channel, in real git clones of a real bare remote.

Each repository gets posts whose media paths are drawn from a catalogue of bad ideas (`..`,
absolute paths, `~`, NUL, backslashes, URL-encoding, NFC/NFD variants of accented names,
links to `.git`, to `/etc`, to the parent folder, loops, named pipes) and a file system with
those links and pipes in `content/`, `media/` and the output folder. Whatever the draw:

- cmflow never crashes (exit 3) and never hangs (every command has a timeout);
- nothing outside the repository changes (a sentinel folder is compared before and after);
- no byte of `.git` reaches `public/` or the remote (a canary token sits in `.git/config`).

The seed is fixed, so a failure replays; `CMFLOW_FUZZ_SEED` picks another one.
"""

from __future__ import annotations

import os
import random
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.media_samples import JPEG, PNG
from tests.publishing import (
    Site,
    ago,
    commit_all,
    feed_channel,
    git,
    init_remote,
    iso,
    pushed_site,
    remote_history,
)
from tests.test_hostile_files import CANARY, snapshot

SEED = int(os.environ.get("CMFLOW_FUZZ_SEED", "20261202"))
REPOSITORIES = 6
POSTS = 50  # per repository: 300 hostile posts in all

ETE_NFC = unicodedata.normalize("NFC", "média/été.jpg")
ETE_NFD = unicodedata.normalize("NFD", "média/été.jpg")

MEDIA_PATHS = [
    "media/photo.png",  # fine: some posts must get through
    ETE_NFC,  # the file exists under this form
    ETE_NFD,
    "../dehors.jpg",
    "../../sentinelle/a.txt",
    "/etc/passwd",
    "~/photo.jpg",
    "~root/.ssh/id_rsa",
    "media/\x00.jpg",
    "media\\photo.png",
    "..\\..\\sentinelle\\a.txt",
    "media%2Fphoto.png",
    "media/%2e%2e/.git/config",
    "media/..%2f.git/config",
    ".git/config",
    ".GIT/config",
    "media/./../.git/HEAD",
    "media/git.jpg",
    "media/gitdir/config",
    "media/etc.jpg",
    "media/sentinelle.jpg",
    "media/parent/.git/config",
    "media/parent/media/photo.png",
    "media/boucle.jpg",
    "media/pipe.jpg",
    "media/notes.jpg",
    "media/absente.jpg",
    "media/",
    "media",
    "",
    " ",
    "http://exemple.fr/x.jpg",
    "file:///etc/passwd",
    "C:\\photo.jpg",
    "media/" + "é" * 200 + ".jpg",
    "content/../.git/config",
]

OUTPUT_LINKS = ["", "public/media", "public/feed.xml", "public/index.html", "public/post", "public"]


def _links(rng: random.Random, root: Path, sentinel: Path) -> None:
    """Links, pipes and odd folders in media/, content/ and the output folder."""
    media = root / "media"
    # (A submodule's `.git` file is in test_media: git refuses to commit one here.)
    (media / "git.jpg").symlink_to("../.git/config")
    (media / "gitdir").symlink_to("../.git", target_is_directory=True)
    (media / "etc.jpg").symlink_to("/etc/passwd")
    (media / "sentinelle.jpg").symlink_to(sentinel / "a.txt")
    (media / "parent").symlink_to("..", target_is_directory=True)
    (media / "boucle.jpg").symlink_to("boucle.jpg")
    os.mkfifo(media / "pipe.jpg")
    content = root / "content"
    os.mkfifo(content / "tuyau.md")
    (content / "boucle").symlink_to(".", target_is_directory=True)
    (content / "boucle.md").symlink_to("boucle.md")
    (content / "git.md").symlink_to("../.git/config")
    (content / "sentinelle.md").symlink_to(sentinel / "a.txt")
    (content / "dossier.md").mkdir()
    link = rng.choice(OUTPUT_LINKS)
    if link == "public":  # inside the repository, so channels.yaml's check lets it through
        (root / "public").symlink_to(".git", target_is_directory=True)
    elif link:
        (root / "public").mkdir(exist_ok=True)
        target = sentinel / "victime.html" if link.endswith((".xml", ".html")) else sentinel
        (root / link).symlink_to(target)


def _post(rng: random.Random, n: int) -> tuple[str, str]:
    name = unicodedata.normalize(rng.choice(["NFC", "NFD"]), f"été-{n:03d}.md")
    items: list[dict[str, Any]] = [
        {"path": rng.choice(MEDIA_PATHS), "alt": "Une image"} for _ in range(rng.randint(1, 3))
    ]
    meta = {
        "id": f"post-{n:03d}",
        "date": iso(ago(minutes=rng.randint(5, 600))),
        "channels": ["site"],
        "title": f"Article {n}",
        "media": items,
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    return name, f"---\n{front}---\nCorps de l'article {n}.\n"


def _sentinel(tmp_path: Path) -> Path:
    sentinel = tmp_path / "sentinelle"
    sentinel.mkdir()
    (sentinel / "a.txt").write_text("ne pas publier\n", encoding="utf-8")
    (sentinel / "victime.html").write_text("à garder\n", encoding="utf-8")
    return sentinel


def _git_bytes_in(folder: Path) -> list[str]:
    """Files below `folder` (links not followed) that hold the canary or git internals."""
    bad: list[str] = []
    if not folder.is_dir() or folder.is_symlink():
        return bad
    for path in folder.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if CANARY.encode() in data or b"[core]" in data or b"gitdir:" in data:
            bad.append(path.as_posix())
    return bad


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("index", range(REPOSITORIES))
def test_hostile_repositories_never_crash_hang_or_leak(tmp_path: Path, index: int) -> None:
    rng = random.Random(SEED * 1000 + index)
    sentinel = _sentinel(tmp_path)
    remote = init_remote(tmp_path / "remote.git")
    posts = dict(_post(rng, n) for n in range(POSTS))
    s: Site = pushed_site(
        remote,
        tmp_path / "ci",
        {"site": feed_channel()},
        posts,
        media={
            "media/photo.png": PNG,
            ETE_NFC: JPEG,
            "media/notes.jpg": b"[core]\n\tbare = false\n",
        },
    )
    (tmp_path / "dehors.jpg").write_bytes(JPEG)
    git(s.root, "config", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {CANARY}")
    _links(rng, s.root, sentinel)
    commit_all(s.root, "Liens et tuyaux")  # git keeps the links; pipes stay in the work tree
    before = snapshot(sentinel)
    top = sorted(p.name for p in tmp_path.iterdir())

    checked = s.run("validate", "--format", "json", timeout=120)
    assert checked.code in (0, 1), checked
    result = s.run("publish", "--commit", "--at", iso(ago(minutes=0)), timeout=300)
    assert result.code in (0, 1), result

    assert snapshot(sentinel) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == top
    assert _git_bytes_in(s.root / "public") == []
    for name in ("feed.xml", "index.html", "media", ".cmflow-feed.json"):
        assert not (s.root / ".git" / name).exists()
    assert CANARY not in remote_history(remote)
    assert all(CANARY not in r.output for r in s.runs)
    # Some posts were fine: the feed still published them.
    published = git(remote, "ls-tree", "-r", "-z", "--name-only", "main").split("\0")
    if not (s.root / "public").is_symlink() and not any(
        (s.root / link).is_symlink() for link in OUTPUT_LINKS if link
    ):
        assert "public/feed.xml" in published
