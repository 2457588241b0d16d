"""A corpus of malformed uploads: each is a file a client could send that must never become a job.

Every case is made in memory from the well-formed samples in tests/api/samples.py,
so the corpus documents exactly how each file is broken. ``MALFORMED`` maps a
readable case name to its bytes and the upload's filename.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from tests.api import samples


@dataclass(frozen=True)
class Malformed:
    name: str
    data: bytes
    filename: str


def _patch(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


def _tiff_entry_offset(data: bytes, tag: int) -> int:
    """Offset of the first IFD's entry for ``tag`` in a little-endian TIFF."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    (count,) = struct.unpack_from("<H", data, ifd)
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if struct.unpack_from("<H", data, entry)[0] == tag:
            return entry
    raise LookupError(f"tag {tag} not in the first IFD")


def tiff_with_tag(data: bytes, tag: int, value: int) -> bytes:
    """Overwrite a LONG/SHORT tag's inline value in the first IFD (a header that lies)."""
    entry = _tiff_entry_offset(data, tag)
    kind = struct.unpack_from("<H", data, entry + 2)[0]
    packed = struct.pack("<I", value) if kind == 4 else struct.pack("<HH", value, 0)
    return _patch(data, entry + 8, packed)


def dng_that_lies_about_its_size() -> bytes:
    """A DNG whose IFD declares 8x the pixels its one strip holds: the header lies, the strip is inside."""
    dng = samples.dng(96, 64)
    return tiff_with_tag(tiff_with_tag(dng, 256, 96 * 4), 257, 64 * 2)


def tiff_nested_subifds(depth: int) -> bytes:
    """A TIFF whose every IFD holds a SubIFDs tag naming the next, ``depth`` deep."""
    size = 2 + 12 * 3 + 4
    body = b""
    for level in range(depth):
        here = 8 + size * level
        child = here + size if level + 1 < depth else 0
        entries = struct.pack("<HHII", 256, 4, 1, 10) + struct.pack("<HHII", 257, 4, 1, 10)
        entries += struct.pack("<HHII", 330, 4, 1, child)  # SubIFDs: one child
        body += struct.pack("<H", 3) + entries + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + body


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real small JPEG whose SOF0 frame header is rewritten to declare another size."""
    data = samples.jpeg()
    sof = data.find(b"\xff\xc0")
    return _patch(data, sof + 5, struct.pack(">HH", height, width))


def jpeg_with_overlong_segment() -> bytes:
    """An APP segment whose length points far past the end of the file."""
    data = samples.jpeg()
    return data[:2] + b"\xff\xe1\xff\xff" + b"Exif\0\0" + data[2:200]


def png_with_bad_ihdr_crc() -> bytes:
    data = samples.png()
    return _patch(data, 8 + 8 + 13, b"\0\0\0\0")


def png_of_zero_width() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 0, 64, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + samples.png_chunk(b"IHDR", ihdr) + samples.png_chunk(b"IEND", b"")


def png_zlib_bomb() -> bytes:
    """A PNG that declares 20000x20000 and carries a few KiB of zlib that would inflate to 1.2 GB."""
    return samples.png_declaring(20_000, 20_000)


def png_with_garbage_idat() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    idat = b"this is not zlib data at all" * 4
    return b"\x89PNG\r\n\x1a\n" + samples.png_chunk(b"IHDR", ihdr) + samples.png_chunk(b"IDAT", idat)


def zip_file() -> bytes:
    body = zlib.compress(b"hello")
    return b"PK\x03\x04" + b"\0" * 26 + body


def _build() -> list[Malformed]:
    jpeg, png, tiff, dng = samples.jpeg(), samples.png(), samples.tiff(), samples.dng()
    cases = [
        ("zero bytes", b"", "empty.jpg"),
        ("one byte", b"\xff", "one.jpg"),
        ("plain text named .jpg", b"just some text, renamed to look like a photo\n", "photo.jpg"),
        ("html named .png", b"<!doctype html><script>alert(1)</script>", "photo.png"),
        ("pdf named .dng", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "photo.dng"),
        ("gif", b"GIF89a" + b"\0" * 64, "photo.gif"),
        ("zip named .arw", zip_file(), "photo.arw"),
        ("elf executable named .nef", b"\x7fELF\x02\x01\x01" + b"\0" * 57, "photo.nef"),
        ("bmp", b"BM" + b"\0" * 60, "photo.bmp"),
        ("webp", b"RIFF\x24\0\0\0WEBPVP8 " + b"\0" * 24, "photo.webp"),
        ("jpeg SOI only", b"\xff\xd8", "photo.jpg"),
        ("jpeg header only", jpeg[:300], "photo.jpg"),
        ("jpeg truncated in the scan", jpeg[: len(jpeg) // 2], "photo.jpg"),
        ("jpeg without its end marker", jpeg[:-2], "photo.jpg"),
        ("jpeg declaring 65535x65535", jpeg_declaring(65535, 65535), "bomb.jpg"),
        ("jpeg with a segment length past the end", jpeg_with_overlong_segment(), "photo.jpg"),
        ("jpeg with 2 MiB after its end (an archive riding along)", jpeg + b"PK\x03\x04" + bytes(1 << 21), "x.jpg"),
        ("jpeg magic then html (polyglot)", b"\xff\xd8\xff\xe0<html><script>x()</script></html>", "x.jpg"),
        ("png signature only", png[:8], "photo.png"),
        ("png truncated", png[:-20], "photo.png"),
        ("png with a bad IHDR checksum", png_with_bad_ihdr_crc(), "photo.png"),
        ("png of zero width", png_of_zero_width(), "photo.png"),
        ("png declaring 20000x20000 (zlib bomb)", png_zlib_bomb(), "bomb.png"),
        ("png with garbage image data and no end", png_with_garbage_idat(), "photo.png"),
        ("png signature then php (polyglot)", png[:8] + b"<?php system($_GET['c']); ?>", "x.png"),
        ("tiff truncated", tiff[:-100], "photo.tif"),
        ("tiff first IFD outside the file", b"II*\x00\xff\xff\xff\x00", "photo.tif"),
        ("tiff IFD loop with no image", samples.tiff_with_ifd_loop(), "photo.tif"),
        ("tiff chain of 65 IFDs", samples.tiff_chain(65), "photo.tif"),
        ("tiff with deeply nested SubIFDs", tiff_nested_subifds(100), "photo.tif"),
        ("tiff declaring 20000x20000", samples.tiff_declaring(20_000, 20_000), "bomb.tif"),
        ("tiff listing too many strips", samples.tiff_with_strips((1 << 18) + 1), "photo.tif"),
        ("dng truncated", dng[: len(dng) // 2], "photo.dng"),
        ("dng header only", dng[:512], "photo.dng"),
        ("dng whose header lies about its size", dng_that_lies_about_its_size(), "photo.dng"),
        ("dng declaring 30000x30000", tiff_with_tag(tiff_with_tag(dng, 256, 30_000), 257, 30_000), "bomb.dng"),
        ("raf magic with nothing inside", b"FUJIFILMCCD-RAW 0201" + b"\0" * 200, "photo.raf"),
        ("orf magic with an empty IFD", b"IIRO\x08\x00\x00\x00" + b"\0" * 64, "photo.orf"),
        ("cr2 magic with nothing inside", b"II*\x00\x10\x00\x00\x00CR\x02\x00" + b"\0" * 64, "photo.cr2"),
    ]
    return [Malformed(name, data, filename) for name, data, filename in cases]


MALFORMED: list[Malformed] = _build()
