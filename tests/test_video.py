"""Videos read from their own boxes (cmflow.video), hostile files included, and the
channel.media-format findings and preview lines built on them (real files, real CLI)."""

from __future__ import annotations

import contextlib
import shutil
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from cmflow import media
from cmflow.video import MAX_BOXES, VideoInfo, VideoProblem, read_fd
from tests.mp4 import box, ftyp, mp4, mvhd, trak, visual_entry
from tests.publishing import later, post, site


def read(tmp_path: Path, data: bytes, name: str = "v.mp4") -> VideoInfo:
    path = tmp_path / name
    path.write_bytes(data)
    with path.open("rb") as fh:
        return read_fd(fh.fileno())


def problem(tmp_path: Path, data: bytes) -> str:
    with pytest.raises(VideoProblem) as caught:
        read(tmp_path, data)
    return str(caught.value)


# -- the reader -------------------------------------------------------------------------------


def test_reads_duration_size_and_codecs(tmp_path: Path) -> None:
    info = read(tmp_path, mp4(42.5, 1920, 1080))
    assert info.duration == 42.5
    assert (info.width, info.height, info.rotation) == (1920, 1080, 0)
    assert info.codecs == ("h264", "aac")
    assert info.aspect == "16:9" and info.orientation == "horizontal"
    assert info.summary() == "0:42.5, 1920x1080 (16:9, horizontal), h264 + aac"


def test_a_phone_video_stored_sideways_is_vertical_once_rotated(tmp_path: Path) -> None:
    """Phones store 1920x1080 and a 90° matrix: players (and platforms) show 1080x1920."""
    for rotation in (90, 270):
        info = read(tmp_path, mp4(15, 1920, 1080, rotation=rotation))
        assert (info.width, info.height, info.rotation) == (1080, 1920, rotation)
        assert info.aspect == "9:16" and info.orientation == "vertical"


def test_quicktime_64_bit_header_index_at_the_end_hevc_without_sound(tmp_path: Path) -> None:
    data = mp4(
        3725, 3840, 2160, brand=b"qt  ", video=b"hvc1", audio=None, moov_last=True, mvhd_version=1
    )
    info = read(tmp_path, data, "v.mov")
    assert info.brand == "qt  " and info.duration == 3725
    assert info.codecs == ("hevc",) and info.summary().startswith("1:02:05, 3840x2160")


def test_a_big_file_is_read_by_its_index_not_its_bytes(tmp_path: Path) -> None:
    """A 3 GB media box (sparse on disk) before the index: the reader jumps over it."""
    path = tmp_path / "big.mp4"
    head = ftyp()
    size = 3 * 1024**3
    with path.open("wb") as fh:
        fh.write(head + struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", size))
        fh.seek(len(head) + size)
        fh.write(
            box(
                b"moov", mvhd(60), trak(1, b"vide", visual_entry(b"avc1", 720, 1280), 60, 720, 1280)
            )
        )
    start = time.monotonic()
    with path.open("rb") as fh:
        info = read_fd(fh.fileno())
    assert info.duration == 60 and (info.width, info.height) == (720, 1280)
    assert time.monotonic() - start < 5  # not a benchmark: a whole read would take minutes


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (mp4()[:-100], "cut short"),  # a download that stopped
        (mp4(moov_last=True)[:-40], "cut short"),
        (ftyp() + struct.pack(">I", 1) + b"moov" + struct.pack(">Q", 2**63), "cut short"),
        (ftyp() + struct.pack(">I", 4) + b"moov", "malformed"),
        (ftyp() + box(b"mdat", b"\x00" * 64), "no `moov` box"),
        (box(b"moov", mvhd(1)), "does not start with an `ftyp` box"),
        (
            ftyp() + box(b"moov", struct.pack(">I", 9999) + b"trak") + box(b"free"),
            "larger than the box",
        ),
        (ftyp() + box(b"moov", box(b"mvhd", b"\x00\x00")), "too short"),
        (ftyp() + box(b"moov", box(b"trak", box(b"tkhd", b"\x00" * 20))), "too short"),
    ],
)
def test_hostile_or_broken_files_are_refused_with_a_reason(
    tmp_path: Path, data: bytes, says: str
) -> None:
    assert says in problem(tmp_path, data)


def test_a_file_of_countless_tiny_boxes_is_refused_not_walked_forever(tmp_path: Path) -> None:
    free = struct.pack(">I", 8) + b"free"
    data = ftyp() + box(b"moov", free * (MAX_BOXES + 10))
    assert f"more than {MAX_BOXES} boxes" in problem(tmp_path, data)


def test_a_box_that_says_it_ends_at_the_end_of_the_file_is_read(tmp_path: Path) -> None:
    """Size 0 means "to the end of the file" (ISO/IEC 14496-12 §4.2): no loop, no crash."""
    data = ftyp() + mp4()[len(ftyp()) :]
    zero = ftyp() + struct.pack(">I", 0) + b"moov" + box(b"mvhd", b"\x00" * 100)[8:]
    assert read(tmp_path, data).duration == 10
    info = read(tmp_path, zero)
    assert info.duration is None and info.width is None


def test_random_bytes_never_crash_the_reader(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    base = mp4(30, 1080, 1920)
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        with contextlib.suppress(VideoProblem):
            read(tmp_path, bytes(data))


def test_media_inspect_reads_videos_and_not_images(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media/clip.mp4").write_bytes(mp4(12, 1080, 1920))
    (tmp_path / "media/broken.mp4").write_bytes(mp4()[:200])
    clip = media.inspect(tmp_path, "media/clip.mp4")
    assert clip.mime == "video/mp4" and clip.video is not None and clip.video.duration == 12
    broken = media.inspect(tmp_path, "media/broken.mp4")
    assert broken.mime == "video/mp4" and broken.video is None
    assert broken.video_problem is not None and "cut short" in broken.video_problem


@pytest.mark.skipif(
    shutil.which("ffmpeg") is None,
    reason="ffmpeg is not installed: the reader is tested on files cmflow's tests write",
)
def test_a_file_made_by_ffmpeg(tmp_path: Path) -> None:
    out = tmp_path / "ff.mp4"
    subprocess.run(
        [
            "ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=360x640:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440", "-t", "4", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    with out.open("rb") as fh:
        info = read_fd(fh.fileno())
    assert info.duration is not None and 3.9 <= info.duration <= 4.1
    assert (info.width, info.height) == (360, 640)
    assert info.codecs == ("h264", "aac")


# -- findings ---------------------------------------------------------------------------------


def video_site(
    tmp_path: Path, channel: dict[str, Any], files: dict[str, bytes], **front: Any
) -> Any:
    media_list = [{"path": f"media/{n}", "alt": "Une vidéo"} for n in files]
    posts = {
        "video.md": post(
            ["chaine"], "Notre atelier en vidéo", date=later(days=2), media=media_list, **front
        )
    }
    return site(
        tmp_path / "repo",
        {"chaine": channel},
        posts,
        media={f"media/{n}": d for n, d in files.items()},
    )


def findings(s: Any) -> list[dict[str, Any]]:
    result = s.run("validate", "--format", "json")
    assert result.code in (0, 1), result
    return [f for f in result.json()["findings"] if f["rule"] == "channel.media-format"]


# Instagram publishes JPEG images only so far: its Reels limits apply to a channel that
# accepts video.
REELS = {"platform": "instagram", "rules": {"media_types": ["image/jpeg", "video/mp4"]}}


def test_instagram_reel_too_long_and_off_ratio(tmp_path: Path) -> None:
    s = video_site(
        tmp_path,
        REELS,
        {"long.mp4": mp4(16 * 60, 1920, 1080)},
    )
    found = findings(s)
    messages = [(f["level"], f["message"]) for f in found]
    assert (
        "error",
        "media/long.mp4 lasts 16:00; Instagram takes videos from 0:03 to 15:00",
    ) in messages
    assert (
        "warning",
        "media/long.mp4 is recommended at 9:16 on Instagram: it is 1920x1080 (16:9, horizontal)",
    ) in messages
    assert all(f["channel"] == "chaine" and f["line"] > 1 for f in found)


def test_codec_and_unreadable_video_are_findings_not_crashes(tmp_path: Path) -> None:
    s = video_site(
        tmp_path,
        REELS,
        {"av1.mp4": mp4(30, 1080, 1920, video=b"av01"), "cut.mp4": mp4(30)[:300]},
    )
    messages = [f["message"] for f in findings(s)]
    assert any(
        "av1.mp4 is encoded in av1 (av01); Instagram takes h264, hevc" in m for m in messages
    )
    assert any(m.startswith("media/cut.mp4 is cut short") for m in messages), messages


def test_channel_rules_override_video_limits(tmp_path: Path) -> None:
    channel = {
        "platform": "instagram",
        "rules": {
            "media_types": ["video/mp4"],
            "max_video_seconds": 20,
            "video_orientation": "vertical",
            "max_video_bytes": 500,
        },
    }
    s = video_site(tmp_path, channel, {"clip.mp4": mp4(30, 1920, 1080, data_bytes=2000)})
    messages = [f["message"] for f in findings(s)]
    assert "media/clip.mp4 lasts 0:30; Instagram takes videos from 0:03 to 0:20" in messages
    assert any(
        "is 1920x1080 (16:9, horizontal); Instagram takes vertical videos" in m for m in messages
    )
    assert any("bytes; Instagram takes at most 500 for a video" in m for m in messages)


def test_a_bad_video_aspect_setting_is_a_config_error(tmp_path: Path) -> None:
    s = video_site(tmp_path, {"platform": "instagram", "rules": {"video_aspect": "vertical"}}, {})
    result = s.run("validate")
    assert result.code == 2 and "video_aspect is written W:H" in result.output


def test_preview_shows_duration_and_aspect_ratio(tmp_path: Path) -> None:
    s = video_site(
        tmp_path, {"platform": "instagram"}, {"clip.mp4": mp4(42, 1920, 1080, rotation=90)}
    )
    result = s.run("preview", "content/video.md")
    assert "🎬  media/clip.mp4 — 0:42, 1080x1920 (9:16, vertical), h264 + aac" in result.stdout, (
        result
    )
    as_json = s.run("preview", "content/video.md", "--format", "json")
    shown = as_json.json()["channels"][0]["parts"][0]["media"][0]["video"]
    assert shown["duration"] == 42 and shown["aspect"] == "9:16" and shown["rotation"] == 90


def test_pull_request_preview_shows_the_video_too(tmp_path: Path) -> None:
    s = video_site(
        tmp_path, {"platform": "instagram"}, {"clip.mp4": mp4(15, 1080, 1920), "cut.mp4": b""}
    )
    (s.root / "media/cut.mp4").write_bytes(mp4(15)[:100])
    result = s.run("preview", "content/video.md", "--format", "markdown")
    # Markdown-escaped, as every text of the comment.
    clip = r"- 🎬 `media/clip.mp4` — 0:15, 1080x1920 \(9:16, vertical\), h264 \+ aac"
    assert clip in result.stdout, result
    assert "- 🎬 `media/cut.mp4` — video that cannot be read: it is cut short" in result.stdout


def test_a_fragmented_file_says_its_length_in_mvex(tmp_path: Path) -> None:
    from tests.mp4 import full

    mehd = full(b"mehd", 0, 0, struct.pack(">I", 95_500))  # ms, the movie's timescale
    moov = box(
        b"moov",
        mvhd(0),
        trak(1, b"vide", visual_entry(b"avc1", 1080, 1920), 0, 1080, 1920),
        box(b"mvex", mehd),
    )
    info = read(tmp_path, ftyp(b"iso5") + moov + box(b"moof") + box(b"mdat", b"\x00" * 32))
    assert info.duration == 95.5 and info.orientation == "vertical"
