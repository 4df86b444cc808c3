"""Small real media files as bytes (valid headers and bodies), for tests.

ISO-BMFF files are built box by box (ISO/IEC 14496-12 §4.3: `ftyp` = size, "ftyp", major
brand, minor version, compatible brands), then a `free` box, as real encoders write them.
"""

from __future__ import annotations

import struct

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 40
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\xe6"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
GIT_CONFIG = (
    b"[core]\n\trepositoryformatversion = 0\n"
    b'[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic eC1hY2Nlc3M6c2VjcmV0\n'
)


def iso_bmff(major: bytes, *compatible: bytes) -> bytes:
    body = major + struct.pack(">I", 0) + b"".join(compatible)
    ftyp = struct.pack(">I", 8 + len(body)) + b"ftyp" + body
    free = struct.pack(">I", 16) + b"free" + b"\x00" * 8
    return ftyp + free
