"""How fast does cmflow read a video's boxes? Prints figures; asserts nothing.

    python bench/video_bench.py [N]      # default N = 200 reads of each file

Writes, in a temporary folder: a 10-minute 60 fps 1080x1920 MP4 whose index has full sample
tables (36,000 samples: `stsz` alone is 144 kB) in front of a 2 GB media box (sparse on
disk), the same with the index after the media, and a hostile file of 20,000 empty boxes
(the most the reader visits). Times `cmflow.video.read_fd` on each: the reader must cost the
same whatever the media size, since it jumps over `mdat`.
"""

from __future__ import annotations

import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from cmflow.video import MAX_BOXES, VideoProblem, read_fd
from tests.mp4 import box, ftyp, full, mvhd, tkhd, visual_entry

SAMPLES = 36_000
MEDIA = 2 * 1024**3


def sample_tables() -> bytes:
    stsd = full(b"stsd", 0, 0, struct.pack(">I", 1), visual_entry(b"avc1", 1080, 1920))
    stts = full(b"stts", 0, 0, struct.pack(">III", 1, SAMPLES, 1000))
    stsz = full(b"stsz", 0, 0, struct.pack(">II", 0, SAMPLES), b"\x00\x00\x10\x00" * SAMPLES)
    stco = full(b"stco", 0, 0, struct.pack(">I", SAMPLES), b"\x00\x00\x00\x00" * SAMPLES)
    return box(b"stbl", stsd, stts, stsz, stco)


def moov() -> bytes:
    mdia = box(
        b"mdia",
        full(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, 60_000, 600 * 60_000, 0, 0)),
        full(b"hdlr", 0, 0, b"\x00" * 4, b"vide", b"\x00" * 13),
        box(b"minf", sample_tables()),
    )
    return box(b"moov", mvhd(600), box(b"trak", tkhd(1, 600, 1080, 1920), mdia))


def write(path: Path, index_first: bool) -> None:
    with path.open("wb") as fh:
        fh.write(ftyp())
        if index_first:
            fh.write(moov())
        fh.write(struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", MEDIA + 16))
        fh.seek(MEDIA, 1)
        if not index_first:
            fh.write(moov())


def timed(path: Path, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        with path.open("rb") as fh, contextlib.suppress(VideoProblem):
            read_fd(fh.fileno())
    return (time.perf_counter() - start) / n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        first, last, hostile = (Path(tmp) / name for name in ("first.mp4", "last.mp4", "boxes.mp4"))
        write(first, index_first=True)
        write(last, index_first=False)
        hostile.write_bytes(ftyp() + box(b"moov", (struct.pack(">I", 8) + b"free") * MAX_BOXES))
        for label, path in (
            ("index first, 2 GB media", first),
            ("index last, 2 GB media", last),
            (f"hostile, {MAX_BOXES:,} boxes", hostile),
        ):
            print(f"{label:<28} {timed(path, n) * 1000:8.3f} ms per read ({n} reads)")


if __name__ == "__main__":
    main()
