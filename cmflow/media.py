"""Media files: where they are, what they are (by their bytes, never their name), how big.

A media path comes from a post, so from whoever can get a pull request merged: it must lead
to a regular file inside the repository and outside `.git` (links are followed and their
target checked; see `safefs`). Its type is read from its first bytes; bytes cmflow does not
recognise are refused rather than guessed from the file's extension (a `.jpg` name on
`.git/config` must not make it an image).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cmflow import safefs
from cmflow.i18n import _

if TYPE_CHECKING:
    from cmflow.video import VideoInfo

HEAD_BYTES = 512  # enough for an ISO-BMFF `ftyp` box and its compatible brands
SVG = "image/svg+xml"
KNOWN = "JPEG, PNG, GIF, WebP, AVIF, HEIC, MP4 or MOV"


def unrecognised() -> str:
    """What is said of a file whose bytes are no format cmflow knows (after its path)."""
    return _(
        "is not a format cmflow recognises from its content ({formats}): "
        "export it again as JPEG or PNG (or MP4 for a video)"
    ).format(formats=KNOWN)


def __getattr__(name: str) -> str:
    # `UNRECOGNISED`, read by platforms as a constant: in the current language.
    if name == "UNRECOGNISED":
        return unrecognised()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)

# ISO base media file format (ISO/IEC 14496-12 §4.3): the `ftyp` box names a major brand and
# compatible brands. HEIF/AVIF images and MP4/QuickTime videos share the container, so the
# brand, not the box, tells them apart (brands registered at mp4ra.org).
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_GENERIC_IMAGE_BRANDS = frozenset({b"mif1", b"msf1", b"miaf"})
_MP4_BRANDS = frozenset(
    {
        b"isom",
        b"iso2",
        b"iso3",
        b"iso4",
        b"iso5",
        b"iso6",
        b"iso7",
        b"iso8",
        b"iso9",
        b"mp41",
        b"mp42",
        b"avc1",
        b"dash",
        b"M4V ",
        b"M4VH",
        b"M4VP",
        b"mmp4",
        b"MSNV",
        b"f4v ",
    }
)
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B "})


@dataclass(frozen=True)
class MediaFile:
    """What `inspect` found. `problem` (path, kind of file) makes it unusable; a usable file
    whose `mime` is None has bytes cmflow does not recognise, which is refused too."""

    rel: str
    path: Path | None  # the resolved file; None when it cannot be used
    problem: str | None  # why it cannot be used
    mime: str | None = None
    size: int = 0
    # A video (MP4, MOV): what its boxes say, or why they cannot be read (see cmflow.video).
    video: VideoInfo | None = None
    video_problem: str | None = None


@dataclass(frozen=True)
class Loaded:
    """A media file's bytes as they were read for publishing, with the type of those bytes."""

    rel: str
    name: str  # the file name to upload it under
    data: bytes
    mime: str


class MediaProblem(Exception):
    """A media file that cannot be published; `str()` names it and says why."""


def sniff(head: bytes) -> str | None:
    """The media type from a file's first bytes, or None when unrecognised."""
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return _iso_bmff(head)
    stripped = head.lstrip()
    if stripped.startswith(b"<svg") or (
        stripped.startswith((b"<?xml", b"<!--", b"<!DOCTYPE")) and b"<svg" in head
    ):
        return SVG
    return None


def _iso_bmff(head: bytes) -> str | None:
    size = int.from_bytes(head[:4], "big")
    if size < 16 or size % 4:
        return None
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    if major in _GENERIC_IMAGE_BRANDS:
        if compatible & _AVIF_BRANDS:
            return "image/avif"
        if compatible & _HEIC_BRANDS:
            return "image/heic"
        return "image/heif"
    if major in _HEIC_BRANDS:
        return "image/heic"
    if major in _AVIF_BRANDS:
        return "image/avif"
    if major == b"qt  ":
        return "video/quicktime"
    if major in _MP4_BRANDS:
        return "video/mp4"
    if major in _AUDIO_BRANDS:
        return "audio/mp4"
    return None


def _where(rel: str) -> str | None:
    """Why a path as written cannot be a media path at all, before touching the disk."""
    if not rel or rel.startswith(("/", "\\", "~")) or "://" in rel or rel[1:3] == ":\\":
        return _("must be a path relative to the repository root, like media/photo.jpg")
    return None


def inspect(root: Path, rel: str, folders: safefs.Folders | None = None) -> MediaFile:
    """Resolve a media path written in a post and read its type from its first bytes
    (`folders`: the repository's, when many are inspected in a row)."""
    problem = _where(rel)
    if problem:
        return MediaFile(rel, None, problem)
    real: Path | None = None
    if folders is not None and (got := folders.open(rel)) is not None:
        fd, size = got[0], got[1].st_size
        real = folders.real(rel)  # opened through no link: not resolved again
    else:
        try:
            fd = safefs.open_regular(root, rel)
        except safefs.UnsafePath as exc:
            return MediaFile(rel, None, str(exc))
        size = -1
    video: VideoInfo | None = None
    video_problem: str | None = None
    try:
        if size < 0:
            size = os.fstat(fd).st_size
        head = os.pread(fd, HEAD_BYTES, 0)
        mime = sniff(head)
        if mime is not None and mime.startswith("video/"):
            from cmflow.video import VideoProblem, read_fd  # only for a video: most are not

            try:
                video = read_fd(fd)
            except VideoProblem as exc:
                video_problem = str(exc)
    except OSError as exc:
        return MediaFile(rel, None, _("cannot be read ({reason})").format(reason=exc.strerror))
    finally:
        os.close(fd)
    if real is None:
        _real, parts = safefs.inside_parts(root, rel)
        real = Path(os.path.realpath(root)).joinpath(*parts)
    return MediaFile(rel, real, None, mime, size, video, video_problem)


def load(root: Path, rel: str) -> Loaded:
    """The bytes to publish, read now with every check of `inspect` made again on the file
    actually opened (it may have changed since `validate`); raises MediaProblem."""
    problem = _where(rel)
    try:
        if problem:
            raise safefs.UnsafePath(problem)
        data = safefs.read_regular(root, rel)
    except safefs.UnsafePath as exc:
        raise MediaProblem(_("media {path} {problem}").format(path=rel, problem=exc)) from None
    mime = sniff(data[:HEAD_BYTES])
    if mime is None:
        raise MediaProblem(_("media {path} {problem}").format(path=rel, problem=unrecognised()))
    return Loaded(rel, rel.replace("\\", "/").rsplit("/", 1)[-1], data, mime)


def video_line(root: Path, rel: str) -> str | None:
    """How previews show a video: "0:42, 1080x1920 (9:16, vertical), h264 + aac"; None for
    anything that is not a video."""
    info = inspect(root, rel)
    if info.mime is None or not info.mime.startswith("video/"):
        return None
    if info.video is None:
        return _("video that cannot be read: it {problem}").format(problem=info.video_problem)
    return info.video.summary()
