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
from PIL import Image, ImageCms, TiffImagePlugin

from jobs.outputs import JPEG, OutputFormat
from worker.frames import EXIF_IFD_TAG, ORIENTATION_TAG, PNG_SIGNATURE, PhotoMetadata

NO_METADATA = PhotoMetadata()
TIFF_ICC_TAG, INTEROP_IFD_TAG = 34675, 40965
TIFF_ASCII, TIFF_SHORT, TIFF_LONG, TIFF_UNDEFINED = 2, 3, 4, 7
EXIF_IFD_PLACEHOLDER = EXIF_IFD_TAG - 1  # an unassigned tag, sorted where ExifIFD goes, which tifffile refuses
# The EXIF tags that live in the image's own directory (IFD0): description, make, model, time, artist, copyright
TIFF_IFD0_EXIF_TAGS = (270, 271, 272, 306, 315, 33432)


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
        return encode_tiff16(to_uint16(rgb), icc, meta.exif)
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


def encode_tiff16(levels: np.ndarray, icc: bytes, exif: bytes | None) -> bytes:
    """A 16-bit RGB TIFF (zlib) with the ICC profile, orientation 1 and the EXIF: camera and time in its own
    directory, exposure and lens in an EXIF directory.

    tifffile writes no EXIF directory ("ExifIFD and GPSIFD tags are not supported"), so it writes a
    placeholder tag where ExifIFD goes, Pillow writes the directory (as it does for JPEG) after the image,
    and the placeholder becomes the ExifIFD tag pointing at it.
    """
    import tifffile  # here, not at the top: the portable GPU run imports this module and has no tifffile

    found = Image.Exif()
    if exif:
        found.load(exif)
    tags = [(TIFF_ICC_TAG, TIFF_UNDEFINED, len(icc), icc, True), (ORIENTATION_TAG, TIFF_SHORT, 1, 1, True)]
    for tag in TIFF_IFD0_EXIF_TAGS:
        if isinstance(found.get(tag), str):
            text = found[tag].encode("ascii", "replace")  # TIFF ASCII is 7-bit, as Pillow writes it
            tags.append((tag, TIFF_ASCII, len(text) + 1, text, True))
    exif_ifd = dict(found.get_ifd(EXIF_IFD_TAG))
    if INTEROP_IFD_TAG in exif_ifd:  # an offset into the input's EXIF: its directory itself, as Pillow writes it
        exif_ifd[INTEROP_IFD_TAG] = found.get_ifd(INTEROP_IFD_TAG)
    if exif_ifd:
        tags.append((EXIF_IFD_PLACEHOLDER, TIFF_LONG, 1, 0, True))
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer, levels, photometric="rgb", compression="zlib", byteorder="<", metadata=None, extratags=tags
    )
    written = buffer.getvalue()
    return _with_exif_ifd(written, exif_ifd) if exif_ifd else written


def _with_exif_ifd(tiff: bytes, exif_ifd: dict[int, object]) -> bytes:
    """A little-endian TIFF whose ExifIFD placeholder becomes ExifIFD, pointing at ``exif_ifd`` after the image."""
    (first,) = struct.unpack_from("<I", tiff, 4)
    (count,) = struct.unpack_from("<H", tiff, first)
    entries = (first + 2 + 12 * index for index in range(count))
    entry = next(at for at in entries if struct.unpack_from("<H", tiff, at)[0] == EXIF_IFD_PLACEHOLDER)
    start = len(tiff) + len(tiff) % 2  # directories start on a word boundary
    directory = TiffImagePlugin.ImageFileDirectory_v2(group=EXIF_IFD_TAG)  # little-endian
    for tag, value in exif_ifd.items():
        directory[tag] = value
    patched = bytearray(tiff)
    patched[entry : entry + 12] = struct.pack("<HHII", EXIF_IFD_TAG, TIFF_LONG, 1, start)
    return bytes(patched) + bytes(start - len(tiff)) + directory.tobytes(start)
