"""Media files: the type comes from the bytes (never the name), and only regular files inside
the repository and outside `.git` are used, checked again when they are read for publishing.

Sample files are in tests/media_samples.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cmflow import media
from cmflow.media import MediaProblem, inspect, load, sniff
from tests.media_samples import GIF, GIT_CONFIG, JPEG, PNG, SVG, WEBP, iso_bmff


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (GIF, "image/gif"),
        (WEBP, "image/webp"),
        (SVG, "image/svg+xml"),
        (iso_bmff(b"heic", b"mif1", b"heic"), "image/heic"),
        (iso_bmff(b"heix", b"mif1"), "image/heic"),
        (iso_bmff(b"mif1", b"mif1", b"heic"), "image/heic"),  # iPhone-style generic major
        (iso_bmff(b"msf1", b"msf1", b"hevc"), "image/heic"),
        (iso_bmff(b"mif1", b"mif1", b"miaf"), "image/heif"),
        (iso_bmff(b"avif", b"avif", b"mif1", b"miaf", b"MA1B"), "image/avif"),
        (iso_bmff(b"mif1", b"mif1", b"avif"), "image/avif"),
        (iso_bmff(b"avis", b"avis", b"msf1"), "image/avif"),
        (iso_bmff(b"qt  ", b"qt  "), "video/quicktime"),
        (iso_bmff(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
        (iso_bmff(b"mp42", b"mp42", b"isom"), "video/mp4"),
        (iso_bmff(b"M4V ", b"M4V ", b"mp42"), "video/mp4"),
        (iso_bmff(b"dash", b"iso6"), "video/mp4"),
        (iso_bmff(b"M4A ", b"M4A ", b"mp42", b"isom"), "audio/mp4"),
    ],
)
def test_the_type_comes_from_the_bytes(data: bytes, mime: str) -> None:
    assert sniff(data[: media.HEAD_BYTES]) == mime


@pytest.mark.parametrize(
    "data",
    [
        iso_bmff(b"crx ", b"crx "),  # Canon raw: an ISO-BMFF brand cmflow does not know
        iso_bmff(b"zzzz"),
        b"\x00\x00\x00\x05ftypheic",  # a box too short to be an ftyp
        GIT_CONFIG,
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        b"",
    ],
)
def test_unknown_bytes_are_unrecognised(data: bytes) -> None:
    assert sniff(data) is None


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "depot"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_bytes(GIT_CONFIG)
    (root / "media").mkdir()
    return root


def test_a_jpg_name_on_unknown_bytes_is_not_an_image(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "media/photo.jpg").write_bytes(b"pas une image\n")
    info = inspect(root, "media/photo.jpg")
    assert info.problem is None and info.mime is None
    with pytest.raises(MediaProblem, match="not a format cmflow recognises"):
        load(root, "media/photo.jpg")


def test_a_heic_named_mp4_is_an_image(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "media/clip.mp4").write_bytes(iso_bmff(b"heic", b"mif1", b"heic"))
    assert inspect(root, "media/clip.mp4").mime == "image/heic"
    assert load(root, "media/clip.mp4").mime == "image/heic"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda r: (r / "media/x.jpg").symlink_to("../.git/config"), id="link"),
        pytest.param(lambda r: (r / "media/x.jpg").symlink_to(r / ".git/config"), id="absolute"),
        pytest.param(lambda r: (r / "media/g").symlink_to("../.git"), id="folder-link"),
        pytest.param(lambda r: (r / "media/x.jpg").symlink_to("../.GIT/config"), id="case"),
    ],
)
def test_nothing_under_git_is_a_media(tmp_path: Path, make: object) -> None:
    root = _repo(tmp_path)
    (root / ".GIT").symlink_to(".git")  # what a case-insensitive file system would do
    make(root)  # type: ignore[operator]
    rel = "media/g/config" if (root / "media/g").exists() else "media/x.jpg"
    info = inspect(root, rel)
    assert info.path is None and info.problem is not None and ".git" in info.problem
    with pytest.raises(MediaProblem, match=r"\.git"):
        load(root, rel)
    for direct in (".git/config", "media/../.git/config"):
        assert inspect(root, direct).path is None


def test_a_submodule_git_file_is_not_a_media(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "vendor/lib").mkdir(parents=True)
    (root / "vendor/lib/.git").write_bytes(b"gitdir: ../../.git/modules/lib\n")
    (root / "media/sub.jpg").symlink_to("../vendor/lib/.git")
    for rel in ("vendor/lib/.git", "media/sub.jpg"):
        assert ".git" in (inspect(root, rel).problem or "")


def test_a_link_to_another_media_inside_is_followed(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "media/vraie.png").write_bytes(PNG)
    (root / "media/alias.png").symlink_to("vraie.png")
    info = inspect(root, "media/alias.png")
    assert info.problem is None and info.mime == "image/png" and info.size == len(PNG)
    assert load(root, "media/alias.png").data == PNG


def test_links_out_loops_and_odd_paths_are_refused(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (tmp_path / "dehors.jpg").write_bytes(JPEG)
    (root / "media/dehors.jpg").symlink_to(tmp_path / "dehors.jpg")
    (root / "media/boucle.jpg").symlink_to("boucle.jpg")
    (root / "media/a.jpg").symlink_to("b.jpg")
    (root / "media/b.jpg").symlink_to("a.jpg")
    expected = {
        "media/dehors.jpg": "leaves the repository",
        "../dehors.jpg": "leaves the repository",
        "media/boucle.jpg": "cannot be resolved",
        "media/a.jpg": "cannot be resolved",
        "/etc/hostname": "must be a path relative",
        "~/photo.jpg": "must be a path relative",
        "media/\x00.jpg": "NUL",
        "media/" + "x" * 300 + ".jpg": "cannot be read",
        "media": "is a folder",
    }
    for rel, problem in expected.items():
        info = inspect(root, rel)
        assert info.path is None and problem in (info.problem or ""), (rel, info)
        with pytest.raises(MediaProblem, match=problem):
            load(root, rel)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    os.mkfifo(root / "media/pipe.jpg")
    (root / "media/vers-pipe.jpg").symlink_to("pipe.jpg")
    for rel in ("media/pipe.jpg", "media/vers-pipe.jpg"):
        assert "named pipe" in (inspect(root, rel).problem or "")
        with pytest.raises(MediaProblem, match="named pipe"):
            load(root, rel)


def test_load_reads_the_file_as_it_is_now(tmp_path: Path) -> None:
    """Validated as a JPEG, then swapped for a link to .git/config before publishing."""
    root = _repo(tmp_path)
    photo = root / "media/photo.jpg"
    photo.write_bytes(JPEG)
    assert inspect(root, "media/photo.jpg").mime == "image/jpeg"
    photo.unlink()
    photo.symlink_to("../.git/config")
    with pytest.raises(MediaProblem, match=r"\.git"):
        load(root, "media/photo.jpg")
