"""A small ISO-BMFF writer for tests: real MP4/MOV files, box by box (ISO/IEC 14496-12).

`mp4(duration=42, width=1080, height=1920)` is a file every MP4 reader accepts the index of:
`ftyp`, `moov` (`mvhd`, one `trak` per track with `tkhd`, `mdia/mdhd`, `hdlr`,
`minf/stbl/stsd` holding one sample entry), and an `mdat` of `data_bytes` bytes. The media
data is not playable (no sample tables): cmflow reads the index only, as players do first.
"""

from __future__ import annotations

import math
import struct

TIMESCALE = 1000


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def full(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def ftyp(major: bytes = b"isom", *compatible: bytes) -> bytes:
    return box(b"ftyp", major, struct.pack(">I", 512), *(compatible or (b"isom", b"mp41")))


def mvhd(duration: float, version: int = 0) -> bytes:
    ticks = round(duration * TIMESCALE)
    if version == 1:
        times = struct.pack(">QQIQ", 0, 0, TIMESCALE, ticks)
    else:
        times = struct.pack(">IIII", 0, 0, TIMESCALE, ticks)
    rest = struct.pack(">IH", 0x00010000, 0x0100) + b"\x00" * 10 + _matrix(0) + b"\x00" * 24
    return full(b"mvhd", version, 0, times, rest, struct.pack(">I", 3))


def _matrix(rotation: int) -> bytes:
    r = math.radians(rotation)
    cos, sin = round(math.cos(r)), round(math.sin(r))
    fixed = [cos << 16, sin << 16, 0, -sin << 16, cos << 16, 0, 0, 0, 1 << 30]
    return struct.pack(">9i", *fixed)


def tkhd(track_id: int, duration: float, width: int, height: int, rotation: int = 0) -> bytes:
    head = struct.pack(">IIIII", 0, 0, track_id, 0, round(duration * TIMESCALE))
    rest = b"\x00" * 8 + struct.pack(">hhhH", 0, 0, 0, 0) + _matrix(rotation)
    return full(b"tkhd", 0, 3, head, rest, struct.pack(">II", width << 16, height << 16))


def mdhd(duration: float) -> bytes:
    return full(
        b"mdhd",
        0,
        0,
        struct.pack(">IIIIHH", 0, 0, TIMESCALE, round(duration * TIMESCALE), 0x55C4, 0),
    )


def hdlr(handler: bytes) -> bytes:
    return full(b"hdlr", 0, 0, struct.pack(">I", 0), handler, b"\x00" * 12, b"cmflow\x00")


def visual_entry(codec: bytes, width: int, height: int) -> bytes:
    body = b"\x00" * 6 + struct.pack(">H", 1) + b"\x00" * 16 + struct.pack(">HH", width, height)
    body += struct.pack(">II", 0x00480000, 0x00480000) + b"\x00" * 4 + struct.pack(">H", 1)
    body += b"\x00" * 32 + struct.pack(">hh", 0x18, -1)
    return box(codec, body)


def audio_entry(codec: bytes) -> bytes:
    body = b"\x00" * 6 + struct.pack(">H", 1) + b"\x00" * 8
    body += struct.pack(">HHHHI", 2, 16, 0, 0, 48000 << 16)
    return box(codec, body)


def trak(
    track_id: int,
    handler: bytes,
    entry: bytes,
    duration: float,
    width: int = 0,
    height: int = 0,
    rotation: int = 0,
) -> bytes:
    stsd = full(b"stsd", 0, 0, struct.pack(">I", 1), entry)
    minf = box(b"minf", box(b"stbl", stsd))
    mdia = box(b"mdia", mdhd(duration), hdlr(handler), minf)
    return box(b"trak", tkhd(track_id, duration, width, height, rotation), mdia)


def mp4(
    duration: float = 10.0,
    width: int = 1920,
    height: int = 1080,
    *,
    rotation: int = 0,
    video: bytes = b"avc1",
    audio: bytes | None = b"mp4a",
    brand: bytes = b"isom",
    data_bytes: int = 1024,
    moov_last: bool = False,
    mvhd_version: int = 0,
) -> bytes:
    """A real MP4 (or MOV with brand b"qt  ") file whose index says what the arguments say.
    `width`/`height` are the stored picture; `rotation` turns it when shown."""
    tracks = [
        trak(1, b"vide", visual_entry(video, width, height), duration, width, height, rotation)
    ]
    if audio is not None:
        tracks.append(trak(2, b"soun", audio_entry(audio), duration))
    moov = box(b"moov", mvhd(duration, mvhd_version), *tracks)
    mdat = box(b"mdat", b"\x00" * data_bytes)
    head = ftyp(brand) if brand != b"qt  " else box(b"ftyp", b"qt  ", struct.pack(">I", 0), b"qt  ")
    return head + (mdat + moov if moov_last else moov + mdat)
