"""Float image to the bytes a photographer keeps: JPEG (with a quality), 16-bit PNG or 16-bit TIFF.

Each carries the input's EXIF (camera, lens, time, exposure), with the
orientation reset because the pixels are already upright, and the input's
ICC profile; a result from an input without one (every RAW) is tagged sRGB,
the space the pipeline renders into.
"""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache

import numpy as np
from PIL import Image, ImageCms

from jobs.outputs import JPEG, OutputFormat
from worker.frames import PhotoMetadata

NO_METADATA = PhotoMetadata()
TIFF_ICC_TAG, TIFF_UNDEFINED = 34675, 7
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float in [0, 1] to 8-bit levels, rounding to the nearest (truncating would darken by half a level)."""
    scaled = np.clip(np.nan_to_num(rgb), 0.0, 1.0) * np.float32(255)
    scaled += np.float32(0.5)
    levels: np.ndarray = scaled.astype(np.uint8)
    return levels


def to_uint16(rgb: np.ndarray) -> np.ndarray:
    scaled = np.clip(np.nan_to_num(rgb), 0.0, 1.0) * np.float32(65535)
    scaled += np.float32(0.5)
    levels: np.ndarray = scaled.astype(np.uint16)
    return levels


ICC_DATE = slice(24, 36)  # the header's creation date and time, which lcms stamps with the clock


@cache
def srgb_profile() -> bytes:
    """The sRGB profile results are tagged with: the same bytes in every process (its date zeroed), so
    one input gives one result file whichever worker or tier made it."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[ICC_DATE] = bytes(ICC_DATE.stop - ICC_DATE.start)
    return bytes(profile)


def encode_image(rgb: np.ndarray, output: OutputFormat = JPEG, meta: PhotoMetadata = NO_METADATA) -> bytes:
    """Encode float (H, W, 3) sRGB in [0, 1] in the chosen format, with the input's metadata."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {rgb.shape}")
    icc = meta.icc or srgb_profile()
    if output.name == "png16":
        return encode_png16(to_uint16(rgb), icc, meta.exif)
    if output.name == "tiff16":
        buffer = io.BytesIO()
        import tifffile  # here, not at the top: the portable GPU run imports this module and has no tifffile

        tifffile.imwrite(
            buffer, to_uint16(rgb), photometric="rgb", compression="zlib",
            extratags=[(TIFF_ICC_TAG, TIFF_UNDEFINED, len(icc), icc, True)],
        )  # fmt: skip
        return buffer.getvalue()
    return encode_jpeg(rgb, output.quality, meta.exif, icc)


def encode_jpeg(rgb: np.ndarray, quality: int = 92, exif: bytes | None = None, icc: bytes | None = None) -> bytes:
    """Encode float (H, W, 3) sRGB in [0, 1] as a JPEG."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {rgb.shape}")
    buffer = io.BytesIO()
    extra = {"exif": exif} if exif else {}
    Image.fromarray(to_uint8(rgb), mode="RGB").save(
        buffer, format="JPEG", quality=quality, icc_profile=icc or srgb_profile(), **extra
    )
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encode_png16(levels: np.ndarray, icc: bytes, exif: bytes | None) -> bytes:
    """A 16-bit RGB PNG (Pillow writes only 8-bit RGB) with iCCP and eXIf chunks; no filtering, zlib level 6."""
    height, width, _ = levels.shape
    rows = np.empty((height, 1 + width * 6), dtype=np.uint8)
    rows[:, 0] = 0  # filter type None on every row
    rows[:, 1:] = levels.astype(">u2").view(np.uint8).reshape(height, width * 6)
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    chunks = [_chunk(b"IHDR", header), _chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))]
    if exif:
        chunks.append(_chunk(b"eXIf", exif.removeprefix(b"Exif\x00\x00")))
    chunks += [_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)), _chunk(b"IEND", b"")]
    return PNG_SIGNATURE + b"".join(chunks)
