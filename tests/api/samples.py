"""Small image files for the API's tests, made in memory with Pillow and the DNG writer."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from darkroom.dng import synthetic_dark_dng


def noise_rgb(width: int = 96, height: int = 64, seed: int = 0) -> Image.Image:
    """Noise compresses badly, so the image data is most of the file (truncation hits pixels)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def jpeg(width: int = 96, height: int = 64) -> bytes:
    return encode(noise_rgb(width, height), "JPEG")


def png(width: int = 96, height: int = 64) -> bytes:
    return encode(noise_rgb(width, height), "PNG")


def tiff(width: int = 96, height: int = 64) -> bytes:
    return encode(noise_rgb(width, height), "TIFF")


def dng(width: int = 96, height: int = 64) -> bytes:
    return synthetic_dark_dng(height, width)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A well-formed little PNG whose IHDR declares any size: a decompression bomb when large."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def jpeg_with_thumbnail() -> bytes:
    """A JPEG carrying another complete JPEG (with its own EOI) in an APP1 segment, as EXIF thumbnails do."""
    main, thumb = jpeg(), jpeg(16, 16)
    segment = b"\xff\xe1" + struct.pack(">H", len(thumb) + 2) + thumb
    return main[:2] + segment + main[2:]


def tiff_declaring(width: int, height: int) -> bytes:
    """A minimal little-endian TIFF with one IFD that declares a size and one small strip."""
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 8 + 2 + 12 * 6 + 4),  # StripOffsets: just after the IFD
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd = struct.pack("<H", len(entries))
    ifd += b"".join(struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\0" * 16


def _size_ifd(next_offset: int) -> bytes:
    """An IFD of 30 bytes declaring a 10x10 image and nothing else."""
    entries = struct.pack("<HHII", 256, 4, 1, 10) + struct.pack("<HHII", 257, 4, 1, 10)
    return struct.pack("<H", 2) + entries + struct.pack("<I", next_offset)


def tiff_with_ifd_loop() -> bytes:
    """A TIFF whose IFD names itself as the next one."""
    return b"II*\x00" + struct.pack("<I", 8) + _size_ifd(8)


def tiff_chain(length: int) -> bytes:
    """A TIFF with ``length`` IFDs, each pointing at the next."""
    ifds = [_size_ifd(8 + 30 * (i + 1) if i + 1 < length else 0) for i in range(length)]
    return b"II*\x00" + struct.pack("<I", 8) + b"".join(ifds)


def tiff_with_strips(count: int) -> bytes:
    """A TIFF whose one IFD lists ``count`` strip offsets, all present in the file."""
    entry = struct.pack("<HHII", 273, 4, count, 8 + 18)  # StripOffsets, LONG, right after the IFD
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + entry + struct.pack("<I", 0) + b"\0" * 4 * count
