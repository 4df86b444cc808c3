"""Media files: where they are, what they are (by their bytes, not their name), how big."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True)
class MediaFile:
    rel: str
    path: Path | None  # None when missing or outside the repository
    problem: str | None  # why it cannot be used
    mime: str | None = None
    size: int = 0


def sniff(head: bytes) -> str | None:
    """The media type from a file's first bytes."""
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    stripped = head.lstrip()
    if stripped.startswith(b"<svg") or (stripped.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml"
    return None


def inspect(root: Path, rel: str) -> MediaFile:
    """Resolve a media path written in a post, refusing anything outside the repository."""
    if not rel or rel.startswith(("/", "\\")) or "://" in rel:
        return MediaFile(
            rel, None, "must be a path relative to the repository root, like media/photo.jpg"
        )
    base = root.resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(base):
        return MediaFile(
            rel, None, "leaves the repository: media must live inside it (e.g. media/)"
        )
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(64)
    except FileNotFoundError:
        return MediaFile(rel, None, "does not exist")
    except OSError as exc:
        return MediaFile(rel, None, f"cannot be read ({exc.strerror})")
    if path.is_dir():
        return MediaFile(rel, None, "is a folder, not a file")
    mime = sniff(head) or mimetypes.guess_type(rel)[0]
    return MediaFile(rel, path, None, mime, size)
