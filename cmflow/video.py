"""What a video file holds, read from its own boxes: duration, picture size, rotation, codecs.

MP4 and QuickTime files are ISO base media files (ISO/IEC 14496-12 §4.2): a sequence of
boxes, each `size` (32 bits, or 1 then a 64-bit size, or 0 for "to the end"), a four-letter
type, then its payload; container boxes hold boxes. cmflow reads only the few it needs:

- `ftyp`: the major brand (MP4 or QuickTime; `cmflow.media` already sniffs it);
- `moov/mvhd`: the movie's timescale and duration (§8.2.2);
- `moov/trak/tkhd`: a track's width and height (16.16 fixed point) and its transformation
  matrix, which says how players rotate the picture (a phone films upright 1080x1920 as
  1920x1080 turned by 90°) (§8.3.2, matrix in §6.2.2);
- `trak/mdia/mdhd`: the track's own duration, used when `mvhd` says none (§8.4.2);
- `trak/mdia/hdlr`: `vide` or `soun` (§8.4.3);
- `trak/mdia/minf/stbl/stsd`: the sample entries, whose four-letter format names the codec
  (`avc1` H.264, `hvc1`/`hev1` H.265, `av01` AV1, `mp4a` AAC...: mp4ra.org) (§8.5.2).

A media file comes from a pull request, so the reader expects hostile input: it reads the
file with `pread` at the offsets the boxes give (never the whole file; `mdat`, the media
data, is skipped), refuses a box that claims more than its parent holds, visits a bounded
number of boxes at a bounded depth, and always moves forward, so a crafted file can neither
loop it nor make it allocate more than a few kilobytes.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass

from cmflow.i18n import _, number

MAX_BOXES = 20_000  # boxes visited in one file: real files have a few hundred
MAX_DEPTH = 8  # moov/trak/mdia/minf/stbl/stsd is 6 deep
PAYLOAD_READ = 4096  # bytes read from any one box we parse (they are tens of bytes)

_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"})

# Sample entry formats (mp4ra.org "sample entry codes") and how people call them.
CODECS: dict[str, str] = {
    "avc1": "h264",
    "avc3": "h264",
    "hvc1": "hevc",
    "hev1": "hevc",
    "av01": "av1",
    "vp09": "vp9",
    "vp08": "vp8",
    "mp4v": "mpeg4",
    "apch": "prores",
    "apcn": "prores",
    "apcs": "prores",
    "apco": "prores",
    "ap4h": "prores",
    "mp4a": "aac",
    "Opus": "opus",
    "ac-3": "ac3",
    "ec-3": "eac3",
    ".mp3": "mp3",
    "fLaC": "flac",
    "lpcm": "pcm",
    "sowt": "pcm",
    "twos": "pcm",
    "alac": "alac",
}


class VideoProblem(Exception):
    """A video file cmflow cannot read; `str()` says what is wrong, for a finding."""


@dataclass(frozen=True)
class Track:
    handler: str  # "vide", "soun", ...
    codec: str | None  # the first sample entry's format, e.g. "avc1"
    width: float = 0.0  # tkhd (before rotation)
    height: float = 0.0
    rotation: int = 0  # degrees, clockwise, a multiple of 90
    duration: float | None = None  # seconds (mdhd)


@dataclass(frozen=True)
class VideoInfo:
    """What a video file says about itself."""

    brand: str  # the ftyp major brand, e.g. "isom", "qt  "
    duration: float | None  # seconds; None when the file does not say
    width: int | None  # as shown (rotation applied)
    height: int | None
    rotation: int  # degrees the player turns the stored picture
    video_codecs: tuple[str, ...]  # sample entry formats: ("avc1",)
    audio_codecs: tuple[str, ...]

    @property
    def codecs(self) -> tuple[str, ...]:
        """Codec names people use (h264, hevc, av1, aac...), video first."""
        return tuple(CODECS.get(c, c.strip()) for c in (*self.video_codecs, *self.audio_codecs))

    @property
    def video_codec(self) -> str | None:
        """The video track's codec name (h264, hevc, ...), None without a video track."""
        return CODECS.get(self.video_codecs[0], self.video_codecs[0]) if self.video_codecs else None

    @property
    def ratio(self) -> float | None:
        """Width over height as shown (0.5625 for 9:16)."""
        if not self.width or not self.height:
            return None
        return self.width / self.height

    @property
    def aspect(self) -> str | None:
        """The aspect ratio as people write it: "9:16", "16:9", "1:1", else e.g. "1.85:1"."""
        if not self.width or not self.height:
            return None
        return aspect_name(self.width, self.height)

    @property
    def orientation(self) -> str | None:
        if not self.width or not self.height:
            return None
        if self.width == self.height:
            return "square"
        return "vertical" if self.height > self.width else "horizontal"

    def summary(self) -> str:
        """One line for `cmflow preview`: "0:42, 1080x1920 (9:16, vertical), h264 + aac"."""
        bits = [
            duration_text(self.duration) if self.duration is not None else _("duration unknown")
        ]
        if self.width and self.height:
            shape = orientation_text(self.orientation)
            bits.append(f"{self.width}x{self.height} ({self.aspect}, {shape})")
        if self.codecs:
            bits.append(" + ".join(self.codecs))
        return ", ".join(bits)


def orientation_text(orientation: str | None) -> str:
    """`VideoInfo.orientation` (an identifier) in words of the current language."""
    words = {"vertical": _("vertical"), "horizontal": _("horizontal"), "square": _("square")}
    return words.get(orientation or "", orientation or "")


_COMMON = ((9, 16), (16, 9), (1, 1), (4, 5), (5, 4), (4, 3), (3, 4), (2, 3), (3, 2), (21, 9))


def aspect_name(width: float, height: float) -> str:
    """A common ratio within 1% ("9:16"), else the reduced fraction when small, else W:1."""
    r = width / height
    for w, h in _COMMON:
        if abs(r - w / h) <= 0.01 * (w / h):
            return f"{w}:{h}"
    from fractions import Fraction  # lazy: `validate` loads this module, rarely this line

    f = Fraction(round(width), round(height) or 1)
    if f.numerator <= 32 and f.denominator <= 32:
        return f"{f.numerator}:{f.denominator}"
    return f"{r:.2f}:1" if r >= 1 else f"1:{1 / r:.2f}"


def parse_aspect(text: str) -> float | None:
    """ "9:16" -> 0.5625; None when it is not W:H with positive numbers."""
    w, sep, h = text.partition(":")
    try:
        fw, fh = float(w), float(h)
    except ValueError:
        return None
    if not sep or not (fw > 0 and fh > 0) or math.isinf(fw) or math.isinf(fh):
        return None
    return fw / fh


def duration_text(seconds: float) -> str:
    """42.5 -> "0:42.5"; 3725 -> "1:02:05"."""
    whole = int(seconds)
    frac = seconds - whole
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    tail = f"{s:02d}" + (f".{round(frac * 10) % 10}" if frac >= 0.05 else "")
    return f"{h}:{m:02d}:{tail}" if h else f"{m}:{tail}"


# -- reading --------------------------------------------------------------------------------


class _Reader:
    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.size = fd, size
        self.visited = 0

    def read(self, offset: int, length: int) -> bytes:
        try:
            return os.pread(self.fd, length, offset)
        except OSError as exc:
            raise VideoProblem(_("cannot be read ({reason})").format(reason=exc.strerror)) from None

    def boxes(self, start: int, end: int, depth: int) -> list[tuple[bytes, int, int]]:
        """(type, payload start, box end) of each box in [start, end), checked."""
        out: list[tuple[bytes, int, int]] = []
        if depth > MAX_DEPTH:
            raise VideoProblem(_("has boxes nested deeper than any video: not a video file"))
        pos = start
        while pos + 8 <= end:
            self.visited += 1
            if self.visited > MAX_BOXES:
                raise VideoProblem(
                    _("has more than {count} boxes: not a video cmflow reads").format(
                        count=MAX_BOXES
                    )
                )
            head = self.read(pos, 16)
            if len(head) < 8:
                raise VideoProblem(_truncated(self.size))
            size, kind = struct.unpack(">I4s", head[:8])
            header = 8
            if size == 1:
                if len(head) < 16:
                    raise VideoProblem(_truncated(self.size))
                size = struct.unpack(">Q", head[8:16])[0]
                header = 16
            elif size == 0:
                size = end - pos  # "extends to the end of the file" (§4.2)
            if size < header:
                raise VideoProblem(
                    _(
                        "has a malformed {box} box ({size} bytes at byte {position}): "
                        "export the video again"
                    ).format(box=_name(kind), size=size, position=pos)
                )
            if pos + size > end:
                if end == self.size:
                    raise VideoProblem(_truncated(self.size, kind, pos + size))
                raise VideoProblem(
                    _(
                        "has a {box} box larger than the box holding it: export the video again"
                    ).format(box=_name(kind))
                )
            out.append((kind, pos + header, pos + size))
            pos += size  # size >= 8: always forward, so no crafted size loops
        # Fewer than 8 bytes left: padding (QuickTime ends some lists with 4 zero bytes).
        return out


def _name(kind: bytes) -> str:
    text = kind.decode("latin-1")
    return repr(text) if not text.isprintable() else f"`{text}`"


def _truncated(size: int, kind: bytes | None = None, wanted: int | None = None) -> str:
    if kind and wanted:
        return _(
            "is cut short: the file ends at {size} bytes (its {box} box needs {wanted} "
            "bytes). The copy is incomplete: export or download the video again"
        ).format(size=number(size), box=_name(kind), wanted=number(wanted))
    return _(
        "is cut short: the file ends at {size} bytes. The copy is incomplete: export or "
        "download the video again"
    ).format(size=number(size))


def read_fd(fd: int) -> VideoInfo:
    """Read the video held by the open file `fd` (any position); raises VideoProblem."""
    try:
        size = os.fstat(fd).st_size
    except OSError as exc:
        raise VideoProblem(_("cannot be read ({reason})").format(reason=exc.strerror)) from None
    r = _Reader(fd, size)
    top = r.boxes(0, size, 0)
    if not top or top[0][0] != b"ftyp":
        raise VideoProblem(_("does not start with an `ftyp` box: not an MP4 or MOV video"))
    _ftyp, fstart, fend = top[0]
    brand = r.read(fstart, min(4, fend - fstart)).decode("latin-1")
    moov = next(((s, e) for k, s, e in top if k == b"moov"), None)
    if moov is None:
        raise VideoProblem(
            _(
                "has no `moov` box (the index of the video): the export did not finish, "
                "or the file is not a video: export it again"
            )
        )
    timescale, duration = 0, None
    fragments: int | None = None
    tracks: list[Track] = []
    for kind, start, end in r.boxes(*moov, 1):
        if kind == b"mvhd":
            timescale, duration = _mvhd(r.read(start, min(PAYLOAD_READ, end - start)))
        elif kind == b"trak":
            tracks.append(_trak(r, start, end))
        elif kind == b"mvex":
            # A fragmented file (screen recorders, some phones) says 0 in `mvhd` and its
            # whole length in `mvex/mehd` (§8.8.2), in the movie's timescale.
            for k2, s2, e2 in r.boxes(start, end, 2):
                if k2 == b"mehd":
                    fragments = _mehd(r.read(s2, min(PAYLOAD_READ, e2 - s2)))
    if not duration and fragments:
        duration = fragments
    seconds = duration / timescale if timescale and duration is not None else None
    if not seconds:
        track_times = [t.duration for t in tracks if t.duration]
        seconds = max(track_times) if track_times else None
    video = [t for t in tracks if t.handler == "vide"]
    audio = [t for t in tracks if t.handler == "soun"]
    width = height = None
    rotation = 0
    if video:
        v = video[0]
        rotation = v.rotation
        w, h = round(v.width), round(v.height)
        if rotation in (90, 270):
            w, h = h, w
        width, height = (w or None), (h or None)
    return VideoInfo(
        brand,
        seconds,
        width,
        height,
        rotation,
        tuple(t.codec for t in video if t.codec),
        tuple(t.codec for t in audio if t.codec),
    )


def _full_box(data: bytes, need: int) -> int:
    """The version of a full box payload, checking it holds `need` bytes for it."""
    if len(data) < 4:
        raise VideoProblem(_("has a box too short for its header: export the video again"))
    version = data[0]
    if len(data) < need:
        raise VideoProblem(_("has a box too short for what it must hold: export the video again"))
    return version


def _mvhd(data: bytes) -> tuple[int, int | None]:
    if _full_box(data, 4) == 1:
        _full_box(data, 32)
        timescale, duration = struct.unpack(">IQ", data[20:32])
        unknown = duration == 0xFFFFFFFFFFFFFFFF
    else:
        _full_box(data, 20)
        timescale, duration = struct.unpack(">II", data[12:20])
        unknown = duration == 0xFFFFFFFF
    return timescale, None if unknown else duration


def _trak(r: _Reader, start: int, end: int) -> Track:
    handler, codec = "", None
    width = height = 0.0
    rotation = 0
    seconds: float | None = None
    entry_size: tuple[int, int] | None = None
    for kind, s, e in r.boxes(start, end, 2):
        if kind == b"tkhd":
            width, height, rotation = _tkhd(r.read(s, min(PAYLOAD_READ, e - s)))
        elif kind == b"mdia":
            for k2, s2, e2 in r.boxes(s, e, 3):
                if k2 == b"hdlr":
                    data = r.read(s2, min(PAYLOAD_READ, e2 - s2))
                    _full_box(data, 12)
                    handler = data[8:12].decode("latin-1")
                elif k2 == b"mdhd":
                    seconds = _mdhd(r.read(s2, min(PAYLOAD_READ, e2 - s2)))
                elif k2 == b"minf":
                    codec, entry_size = _minf(r, s2, e2)
    if handler == "vide" and (not width or not height) and entry_size:
        width, height = float(entry_size[0]), float(entry_size[1])
    return Track(handler, codec, width, height, rotation, seconds)


def _mehd(data: bytes) -> int | None:
    if _full_box(data, 8) == 1:
        _full_box(data, 12)
        return int(struct.unpack(">Q", data[4:12])[0])
    return int(struct.unpack(">I", data[4:8])[0])


def _mdhd(data: bytes) -> float | None:
    if _full_box(data, 4) == 1:
        _full_box(data, 32)
        timescale, duration = struct.unpack(">IQ", data[20:32])
        unknown = duration == 0xFFFFFFFFFFFFFFFF
    else:
        _full_box(data, 20)
        timescale, duration = struct.unpack(">II", data[12:20])
        unknown = duration == 0xFFFFFFFF
    return duration / timescale if timescale and not unknown else None


def _tkhd(data: bytes) -> tuple[float, float, int]:
    # version 0: 4 flags, 4+4 times, 4 track id, 4 reserved, 4 duration = 24;
    # version 1: the times and duration are 8 bytes: 36. Then 8 reserved, 2 layer,
    # 2 alternate group, 2 volume, 2 reserved, 36 matrix, 4 width, 4 height (§8.3.2).
    base = 36 if _full_box(data, 4) == 1 else 24
    _full_box(data, base + 60)
    matrix = struct.unpack(">9i", data[base + 16 : base + 52])
    width, height = struct.unpack(">II", data[base + 52 : base + 60])
    a, b = matrix[0], matrix[1]  # 16.16: cos and sin of the rotation
    rotation = 0
    if a or b:
        rotation = round(math.degrees(math.atan2(b, a)) / 90) * 90 % 360
    return width / 65536, height / 65536, rotation


def _minf(r: _Reader, start: int, end: int) -> tuple[str | None, tuple[int, int] | None]:
    for kind, s, e in r.boxes(start, end, 4):
        if kind != b"stbl":
            continue
        for k2, s2, e2 in r.boxes(s, e, 5):
            if k2 != b"stsd":
                continue
            data = r.read(s2, min(PAYLOAD_READ, e2 - s2))
            _full_box(data, 16)
            count = struct.unpack(">I", data[4:8])[0]
            if count == 0:
                return None, None
            fourcc = data[12:16].decode("latin-1")
            size = None
            # A visual sample entry: 8 header, 6 reserved, 2 data reference index,
            # 16 pre-defined/reserved, then width and height (16 bits each) (§12.1.3).
            if len(data) >= 8 + 36:
                size = struct.unpack(">HH", data[8 + 32 : 8 + 36])
            if fourcc in ("encv", "enca"):
                fourcc = "encrypted"
            return fourcc, size
    return None, None
