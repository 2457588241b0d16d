"""16-bit PNG test files, written by hand: Pillow cannot write 16-bit colour PNGs."""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type: grey, grey+alpha, RGB, RGBA


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png16_file(width: int, height: int, channels: int, idat: bytes, *chunks: tuple[bytes, bytes]) -> bytes:
    """A 16-bit PNG of compressed, filtered rows ``idat``, with extra chunks before its data."""
    header = struct.pack(">IIBBBBB", width, height, 16, COLOUR_TYPES[channels], 0, 0, 0)
    body = b"".join(chunk(kind, data) for kind, data in (*chunks, (b"IDAT", idat)))
    return SIGNATURE + chunk(b"IHDR", header) + body + chunk(b"IEND", b"")


def png16(levels: np.ndarray, *chunks: tuple[bytes, bytes]) -> bytes:
    """A 16-bit PNG of (H, W) or (H, W, C) levels, unfiltered rows."""
    levels = np.atleast_3d(levels)
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in levels)
    height, width, channels = levels.shape
    return png16_file(width, height, channels, zlib.compress(rows), *chunks)


def png16_bomb(width: int, height: int) -> bytes:
    """A 16-bit RGB PNG of one colour: a few hundred KB that decode to 6 bytes a pixel (rows made one at a time)."""
    packer, row = zlib.compressobj(9), bytes(1 + width * 6)
    rows = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return png16_file(width, height, 3, rows)
