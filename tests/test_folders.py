"""`safefs.Folders`: the post files of a queue read with each folder opened once.

A run reads thousands of posts; opening every folder from the repository's down again for
each file was a fifth of reading them. Folders kept open must change nothing of what is
read or refused: never through a link, never into `.git`, never out of the repository,
and no descriptor left open after a run, however many folders the queue has.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from cmflow import config as config_mod
from cmflow import content, media, safefs, validation
from cmflow.rules import BY_ID
from tests.media_samples import PNG

NOW = datetime.fromisoformat("2026-03-01T09:00:00+01:00")


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="Linux /proc only")


def _read(folders: safefs.Folders, rel: str) -> bytes | None:
    got = folders.open(rel)
    if got is None:
        return None
    fd, st = got
    try:
        data = os.read(fd, st.st_size + 1)
    finally:
        os.close(fd)
    return data


def test_plain_paths_are_read_and_every_odd_one_is_left_to_the_long_way(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "content" / "2026" / "03").mkdir(parents=True)
    (root / "content" / "2026" / "03" / "été.md").write_text("accentué", encoding="utf-8")
    (root / "content" / "top.md").write_text("haut", encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("token", encoding="utf-8")
    outside = tmp_path / "dehors"
    outside.mkdir()
    (outside / "secret.md").write_text("dehors", encoding="utf-8")
    (root / "content" / "lien").symlink_to(outside, target_is_directory=True)
    (root / "content" / "fichier-lien.md").symlink_to(root / "content" / "top.md")
    os.mkfifo(root / "content" / "tube.md")

    with safefs.Folders(root) as folders:
        assert _read(folders, "content/2026/03/été.md") == "accentué".encode()
        assert _read(folders, "content/top.md") == b"haut"
        # Each of these is None: `open_regular` then resolves it and says what is wrong.
        for rel in [
            "content/lien/secret.md",  # a folder that is a link
            "content/fichier-lien.md",  # a file that is a link
            "content/tube.md",  # not a regular file: never opened
            "content/2026",  # a folder
            ".git/config",
            ".GIT/config",
            "content/../.git/config",
            "content/./top.md",
            "content//top.md",
            "/etc/passwd",
            "content/absent.md",
            "content/absent/x.md",
            "content/top.md\x00",
        ]:
            assert _read(folders, rel) is None, rel


@needs_proc
def test_a_folder_swapped_for_a_link_after_it_was_opened_is_never_followed(
    tmp_path: Path,
) -> None:
    root = tmp_path / "repo"
    (root / "content" / "a").mkdir(parents=True)
    (root / "content" / "a" / "un.md").write_text("un", encoding="utf-8")
    (root / "content" / "a" / "deux.md").write_text("deux", encoding="utf-8")
    outside = tmp_path / "dehors"
    outside.mkdir()
    (outside / "deux.md").write_text("DEHORS", encoding="utf-8")
    with safefs.Folders(root) as folders:
        assert _read(folders, "content/a/un.md") == b"un"
        (root / "content" / "a").rename(root / "content" / "b")
        (root / "content" / "a").symlink_to(outside, target_is_directory=True)
        # The folder kept open is the real one it opened: never the link's target.
        assert _read(folders, "content/a/deux.md") == b"deux"
    with safefs.Folders(root) as fresh:  # opened now, the link is refused
        assert _read(fresh, "content/a/deux.md") is None


@needs_proc
def test_a_queue_of_many_folders_is_read_whole_and_leaves_no_descriptor_open(
    tmp_path: Path,
) -> None:
    root = tmp_path / "repo"
    (root / "media").mkdir(parents=True)
    (root / "media" / "photo.png").write_bytes(PNG)
    (root / "channels.yaml").write_text(
        "brand: Marque\ntimezone: Europe/Paris\nlanguage: fr\n"
        "channels:\n  site: {platform: feed, output_dir: public, site_url: https://ex.fr}\n",
        encoding="utf-8",
    )
    rels = []
    # 30 years of 12 months: more folders than are ever kept open at once.
    for year in range(1990, 2020):
        for month in range(1, 13):
            folder = root / "content" / str(year) / f"{month:02d}"
            folder.mkdir(parents=True)
            rel = f"content/{year}/{month:02d}/billet-{year}-{month:02d}.md"
            (root / rel).write_text(
                f"---\ndate: {year}-{month:02d}-01 10:00\nchannels: [site]\n"
                f"media: [{{path: media/photo.png, alt: Une photo}}]\n---\n"
                f"Billet de {month:02d}/{year}.\n",
                encoding="utf-8",
            )
            rels.append(rel)
    cfg = config_mod.load(root, set(BY_ID))
    before = _open_fds()
    for jobs in (1, 2):
        entries = validation._compute_all(cfg, sorted(rels), jobs=jobs)
        assert [e.post.path for e in entries] == sorted(rels)
        # Each post read whole, its stamp that of the file read.
        for e in entries:
            st = os.stat(root / e.post.path)
            assert e.stat == (st.st_size, st.st_mtime_ns)
            assert not [f for f in e.findings if f.rule == "content.file"]
        assert _open_fds() == before
    report = validation.validate(cfg, now=NOW, use_cache=False)
    assert report.files == len(rels)
    assert _open_fds() == before


def test_media_read_through_folders_resolve_to_the_same_file(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "media" / "2026").mkdir(parents=True)
    (root / "media" / "2026" / "photo.png").write_bytes(PNG)
    (root / "média").symlink_to(root / "media", target_is_directory=True)  # inside: allowed
    with safefs.Folders(root) as folders:
        for rel in [
            "media/2026/photo.png",
            "média/2026/photo.png",
            "media/../media/2026/photo.png",
        ]:
            alone = media.inspect(root, rel)
            through = media.inspect(root, rel, folders)
            assert through == alone, rel
            assert through.path == (root / "media" / "2026" / "photo.png").resolve()
            assert through.mime == "image/png" and through.size == len(PNG)
        for rel in ["media/absent.png", "../dehors.png", ".git/config"]:
            assert media.inspect(root, rel, folders) == media.inspect(root, rel), rel


def test_a_post_read_with_its_stamp_is_read_as_read_bytes_reads_it(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "content").mkdir(parents=True)
    big = root / "content" / "gros.md"
    big.write_bytes(b"x" * (content.MAX_BYTES + 1))
    small = root / "content" / "petit.md"
    small.write_text("---\ndate: 2026-03-01\n---\nCorps.\n", encoding="utf-8")
    empty = root / "content" / "vide.md"
    empty.write_bytes(b"")
    outside = tmp_path / "dehors.md"
    outside.write_text("dehors", encoding="utf-8")
    (root / "content" / "lien.md").symlink_to(outside)
    link = root / "content" / "lien.md"
    later = outside.stat().st_mtime_ns + 5 * 10**9  # the link made after its target
    os.utime(link, ns=(later, later), follow_symlinks=False)
    with safefs.Folders(root) as folders:
        for path in [big, small, empty, link]:
            rel = path.relative_to(root).as_posix()
            raw, stamp = content.read_stamped(root, rel, folders)
            assert raw == content.read_bytes(root, rel), rel
            # The stamp an unchanged run compares it with: the same, so the entry is kept.
            assert stamp == validation.post_stamps(root, [rel])[0], rel
            st = os.stat(path)  # the target's, for the link
            own = os.lstat(path)
            if path is link:
                # The later of the two mtimes, and a size no file has (swapped in, shows)
                # that moves with the target's mtime even where the link's is the later.
                assert stamp[0] < -1 and stamp[1] == max(st.st_mtime_ns, own.st_mtime_ns)
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 1))
                assert content.stamp_of(str(path))[0] != stamp[0]  # type: ignore[index]
            else:
                assert stamp == (st.st_size, st.st_mtime_ns), rel
        raw, stamp = content.read_stamped(root, "content/absent.md", folders)
        assert not isinstance(raw, bytes) and stamp == (-1, 0)


def test_a_path_thousands_of_folders_deep_is_an_answer_not_a_crash(tmp_path: Path) -> None:
    """Folders are opened in a loop, not a call per level: a media path of a thousand
    components (a post can hold one) says the file is missing, as the long way says."""
    root = tmp_path / "repo"
    (root / "media").mkdir(parents=True)
    deep = "media/" + "a/" * 3000 + "x.png"
    with safefs.Folders(root) as folders:
        assert folders.open(deep) is None
        assert media.inspect(root, deep, folders) == media.inspect(root, deep)
    # A real chain of folders, 200 deep: the post at its bottom is read, and only the
    # repository's folder and the one holding the file stay open meanwhile.
    chain = root / "content" / "/".join(["d"] * 200)
    chain.mkdir(parents=True)
    (chain / "fond.md").write_text("au fond", encoding="utf-8")
    rel = (chain / "fond.md").relative_to(root).as_posix()
    before = _open_fds() if Path("/proc/self/fd").is_dir() else set()
    with safefs.Folders(root) as folders:
        assert _read(folders, rel) == b"au fond"
        if before:
            assert len(_open_fds() - before) <= 2
    if before:
        assert _open_fds() == before


def test_a_low_open_file_limit_keeps_fewer_folders_open(tmp_path: Path) -> None:
    """A runner with few descriptors (`ulimit -n 40`) validates a queue of 200 folders as
    one with many: the folders kept open are an eighth of the limit at most."""
    resource = pytest.importorskip("resource")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "channels.yaml").write_text(
        "brand: Marque\ntimezone: Europe/Paris\nlanguage: fr\n"
        "channels:\n  site: {platform: feed, output_dir: public, site_url: https://ex.fr}\n",
        encoding="utf-8",
    )
    for i in range(200):
        folder = root / "content" / f"dossier-{i:03d}"
        folder.mkdir(parents=True)
        (folder / "billet.md").write_text(
            f"---\ndate: 2026-03-{1 + i % 28:02d} 10:00\nchannels: [site]\n---\nBillet {i}.\n",
            encoding="utf-8",
        )
    command = [sys.executable, "-m", "cmflow", "validate", "--no-cache", "--format", "json"]
    command += ["--at", "2026-01-01 09:00"]

    def low() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

    wide = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
    narrow = subprocess.run(
        command, cwd=root, capture_output=True, text=True, timeout=120, preexec_fn=low
    )
    assert wide.returncode in (0, 1), wide.stderr
    assert (narrow.returncode, narrow.stdout) == (wide.returncode, wide.stdout), narrow.stderr
    assert len(json.loads(wide.stdout)["findings"]) == len(json.loads(narrow.stdout)["findings"])


def test_a_post_grown_past_the_limit_since_its_stat_is_refused(tmp_path: Path) -> None:
    """The size said by the fstat is read, and what follows if the file grew meanwhile: a
    post grown past the limit between the two is over the limit, as one that was already."""
    root = tmp_path / "repo"
    (root / "content").mkdir(parents=True)
    path = root / "content" / "gonfle.md"
    path.write_bytes(b"---\ndate: 2026-03-01\n---\n" + b"x" * content.MAX_BYTES)
    fd = os.open(path, os.O_RDONLY)
    got = content._read_opened(root, "content/gonfle.md", fd, 100)  # as if 100 bytes then
    assert not isinstance(got, bytes)
    assert got.rule == "content.file" and "limit" in got.message
