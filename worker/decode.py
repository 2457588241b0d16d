"""Bytes in, a frame out: RAW through LibRaw (rawpy), rendered images through Pillow (16-bit ones through
tifffile and libpng, which keep all 16 bits).

Every way an upload can be bad ends here as an ``InputError`` with a message
a person understands, so the worker can fail the job at once instead of
retrying something that can never work.
"""

from __future__ import annotations

import io
import struct
import zlib

import imagecodecs
import numpy as np
import rawpy
import tifffile
from PIL import Image, ImageOps, UnidentifiedImageError

from jobs.message import InputKind
from worker.frames import (
    EXIF_IFD_TAG,
    ORIENTATION_TAG,
    PNG_SIGNATURE,
    Frame,
    InputError,
    PhotoMetadata,
    RawFrame,
    SrgbFrame,
)

MAX_PIXELS = 150_000_000
PILLOW_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP")  # JPEG includes MPO, the phone JPEGs with a second picture inside
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
R, G, B = 0, 1, 2  # packed channel of each colour; the second green goes to channel 3
SRGB_GAMMA = (2.4, 12.92)  # LibRaw's (power, toe slope) for the sRGB curve
PNG_BIT_DEPTH = 24  # IHDR's bit depth: after the signature (8), IHDR's length and type (8), width and height (8)


def decode(data: bytes, kind: InputKind, max_pixels: int = MAX_PIXELS) -> Frame:
    """Decode an upload of the given kind, or raise ``InputError``."""
    if not data:
        raise InputError("corrupt-input", "The file is empty.")
    if kind is InputKind.RAW:
        return decode_raw(data, max_pixels)
    return decode_srgb(data, max_pixels)


def _too_large(pixels: int, max_pixels: int) -> InputError:
    return InputError(
        "too-large", f"The image has {pixels / 1e6:,.2f} megapixels; the limit is {max_pixels / 1e6:,.2f} megapixels."
    )


# --- RAW ---------------------------------------------------------------------------------------------------------


def decode_raw(data: bytes, max_pixels: int = MAX_PIXELS) -> RawFrame | SrgbFrame:
    """Read a camera RAW file: a Bayer mosaic into a packed, normalised ``RawFrame`` (for SID), any other
    sensor (X-Trans, Foveon, linear DNG such as ProRAW, sRAW) through LibRaw's own demosaic into an
    ``SrgbFrame`` (for the sRGB path), so every RAW the API accepts is rendered."""
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            pixels = raw.sizes.raw_height * raw.sizes.raw_width
            if pixels > max_pixels:
                raise _too_large(pixels, max_pixels)
            meta = raw_metadata(data)
            if raw.raw_type != rawpy.RawType.Flat or not _is_bayer(raw):
                return _rendered_by_libraw(raw, meta)
            return _raw_frame(raw, meta)
    except rawpy.LibRawFileUnsupportedError:
        raise InputError("unsupported-input", "This is not a camera RAW file that LibRaw can read.") from None
    except (rawpy.LibRawTooBigError, rawpy.LibRawUnsufficientMemoryError, rawpy.LibRawMemPoolOverflowError):
        raise InputError("too-large", "The RAW file is too large to decode.") from None
    except rawpy.LibRawError as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise InputError("corrupt-input", f"The RAW file is damaged or truncated ({detail}).") from None


def _is_bayer(raw: rawpy.RawPy) -> bool:
    """A 2x2 filter of red, two greens and blue: what SID's packing takes."""
    try:
        pattern = raw.raw_pattern
    except NotImplementedError:
        return False
    desc = bytes(raw.color_desc)
    return pattern is not None and np.shape(pattern) == (2, 2) and desc[:3] == b"RGB" and desc[3:4] in (b"G", b"")


def _rendered_by_libraw(raw: rawpy.RawPy, meta: PhotoMetadata) -> SrgbFrame:
    """LibRaw's demosaic, the file's white balance and colour matrix, sRGB's curve, no brightening: 16 bits."""
    rgb = raw.postprocess(use_camera_wb=True, no_auto_bright=True, output_bps=16, gamma=SRGB_GAMMA)
    return SrgbFrame(np.asarray(rgb, dtype=np.float32) / np.float32(65535), meta)


def raw_metadata(data: bytes) -> PhotoMetadata:
    """The EXIF of a TIFF-based RAW (DNG, NEF, ARW, CR2, ...), read through Pillow's TIFF reader; else none."""
    try:
        with Image.open(io.BytesIO(data), formats=("TIFF",)) as container:
            return PhotoMetadata(exif=upright_exif(container))
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError):
        return PhotoMetadata()


def upright_exif(image: Image.Image) -> bytes | None:
    """The image's EXIF with its orientation reset (the result's pixels are upright), or None without one."""
    return _upright(image.getexif())  # the image's own (exif_transpose reads it): changed only in a copy


def _upright(found: Image.Exif) -> bytes | None:
    if not found:
        return None
    found.get_ifd(EXIF_IFD_TAG)  # loaded, so exposure, lens and time are written out too
    exif = Image.Exif()
    exif.load(found.tobytes())
    exif[ORIENTATION_TAG] = 1
    exif.get_ifd(EXIF_IFD_TAG)
    return exif.tobytes()


def _raw_frame(raw: rawpy.RawPy, meta: PhotoMetadata) -> RawFrame:
    layout = _bayer_layout(raw)
    mosaic = raw.raw_image_visible
    height, width = mosaic.shape[0] // 2 * 2, mosaic.shape[1] // 2 * 2
    if height < 2 or width < 2:
        raise InputError("corrupt-input", "The RAW file has no image data.")
    white = float(raw.white_level)
    blacks = raw.black_level_per_channel
    packed = np.empty((4, height // 2, width // 2), dtype=np.float32)
    for (dy, dx), (channel, colour_index) in layout.items():
        black = float(blacks[colour_index])
        if white <= black:
            raise InputError("corrupt-input", "The RAW file's white level is not above its black level.")
        plane = packed[channel]
        np.subtract(mosaic[dy:height:2, dx:width:2], black, out=plane, dtype=np.float32)
        plane *= np.float32(1.0 / (white - black))
        np.maximum(plane, 0.0, out=plane)
    return RawFrame(
        packed=packed,
        white_balance=_white_balance(raw),
        cam_to_srgb=_cam_to_srgb(raw),
        flip=int(raw.sizes.flip),
        meta=meta,
    )


def _bayer_layout(raw: rawpy.RawPy) -> dict[tuple[int, int], tuple[int, int]]:
    """Map each position of the visible 2x2 CFA cell to (packed channel, LibRaw colour index).

    G1 is the green on red's row, G2 the green on blue's row, so every CFA
    phase packs a scene the same way.
    """
    try:
        pattern = raw.raw_pattern
    except NotImplementedError:
        pattern = None
    desc = bytes(raw.color_desc)
    if pattern is None or np.shape(pattern) != (2, 2) or desc[:3] != b"RGB" or desc[3:4] not in (b"G", b""):
        raise InputError("unsupported-input", "Only RGB Bayer sensors are supported (not X-Trans, Foveon or CMYG).")
    # raw_pattern is anchored at the full sensor's corner; shift it to the visible area's corner.
    visible = np.roll(np.asarray(pattern), (-raw.sizes.top_margin, -raw.sizes.left_margin), axis=(0, 1))
    letters = {(dy, dx): "RGBG"[int(visible[dy, dx])] for dy in range(2) for dx in range(2)}
    if sorted(letters.values()) != ["B", "G", "G", "R"]:
        raise InputError("unsupported-input", "The RAW file's colour filter is not a Bayer pattern.")
    red_row = next(dy for (dy, _), letter in letters.items() if letter == "R")
    layout = {}
    for (dy, dx), letter in letters.items():
        channel = {"R": R, "B": B}.get(letter, G if dy == red_row else 3)
        layout[(dy, dx)] = (channel, int(visible[dy, dx]))
    return layout


def _white_balance(raw: rawpy.RawPy) -> np.ndarray:
    """As-shot multipliers with green = 1; daylight, then none, when the file lacks them."""
    for candidate in (raw.camera_whitebalance, raw.daylight_whitebalance):
        rgb = np.asarray(candidate, dtype=np.float64)[:3]
        if rgb.shape == (3,) and np.all(np.isfinite(rgb)) and np.all(rgb > 0):
            multipliers: np.ndarray = (rgb / rgb[1]).astype(np.float32)
            return multipliers
    return np.ones(3, dtype=np.float32)


def _cam_to_srgb(raw: rawpy.RawPy) -> np.ndarray:
    matrix = np.asarray(raw.color_matrix, dtype=np.float32)[:, :3]
    if matrix.shape != (3, 3) or not np.any(matrix) or not np.all(np.isfinite(matrix)):
        return np.eye(3, dtype=np.float32)
    return matrix


# --- sRGB --------------------------------------------------------------------------------------------------------


def decode_srgb(data: bytes, max_pixels: int = MAX_PIXELS) -> SrgbFrame:
    """Read a JPEG/PNG/TIFF/WebP into float32 RGB in [0, 1], upright per its EXIF orientation.

    A 16-bit RGB TIFF is read at 16 bits through tifffile, a 16-bit PNG through libpng (Pillow would cut
    their colour to 8 bits).
    """
    try:
        image = Image.open(io.BytesIO(data), formats=PILLOW_FORMATS)
    except UnidentifiedImageError:
        raise InputError("unsupported-input", "This is not a JPEG, PNG, TIFF or WebP image.") from None
    except Image.DecompressionBombError:
        raise InputError("too-large", "The image has too many pixels.") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
        raise InputError("corrupt-input", f"The image file is damaged ({exc}).") from None
    with image:
        pixels = image.width * image.height
        if pixels > max_pixels:
            raise _too_large(pixels, max_pixels)
        try:
            if image.format == "PNG" and data[PNG_BIT_DEPTH] == 16:
                return _png16_frame(data, image.info.get("icc_profile"))
            meta = PhotoMetadata(exif=upright_exif(image), icc=image.info.get("icc_profile"))
            if image.format == "TIFF" and _sixteen_bit_rgb(image):
                return SrgbFrame(_tiff16_float(data, image), meta)
            image.load()  # decode everything now, so a truncated file fails here
            upright = ImageOps.exif_transpose(image)
            return SrgbFrame(_rgb_float(upright), meta)
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, imagecodecs.PngError) as exc:
            raise InputError("corrupt-input", f"The image file is damaged or truncated ({exc}).") from None


def _sixteen_bit_rgb(image: Image.Image) -> bool:
    bits = image.tag_v2.get(258, ()) if hasattr(image, "tag_v2") else ()  # BitsPerSample
    return isinstance(bits, tuple) and len(bits) >= 3 and all(bit == 16 for bit in bits[:3])


def _tiff16_float(data: bytes, image: Image.Image) -> np.ndarray:
    """A 16-bit RGB TIFF's first page as float32 (H, W, 3), turned upright by its orientation tag."""
    levels = tifffile.imread(io.BytesIO(data), key=0)  # raises tifffile.TiffFileError (a ValueError) when damaged
    return _sixteen_bit_float(levels[..., :3], int(image.getexif().get(ORIENTATION_TAG, 1)))


def _png16_frame(data: bytes, icc: bytes | None) -> SrgbFrame:
    """A 16-bit PNG (grey, RGB, with or without alpha) at 16 bits, through libpng, upright per its eXIf chunk.

    Why imagecodecs' libpng: for a 12 MP 16-bit RGB PNG on two cores it decoded in 0.33 s with the least
    memory (149 MB peak RSS for a 72 MB image), against pyspng 0.39 s / 225 MB (16-bit output only as RGBA),
    OpenCV 0.40 s / 257 MB (173 MB installed) and pure-Python pypng 8 s (1.7 s unfiltered). Its 79 MB
    installed is small beside the worker's torch, and it is by tifffile's author, whose TIFFs we already read.
    The EXIF is found by walking the chunks: Pillow would decode the whole picture (at 8 bits) to find it.
    """
    exif = Image.Exif()
    found = _png_chunk(data, b"eXIf")
    if found:
        exif.load(found)
    levels = imagecodecs.png_decode(data)  # raises imagecodecs.PngError for a damaged file
    rgb = _sixteen_bit_float(levels, int(exif.get(ORIENTATION_TAG, 1)))
    return SrgbFrame(rgb, PhotoMetadata(exif=_upright(exif), icc=icc))


def _png_chunk(data: bytes, kind: bytes) -> bytes | None:
    """The body of a PNG's first chunk of this type, or None; only chunk headers are read on the way."""
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, found = struct.unpack_from(">I4s", data, position)
        if found == kind:
            return data[position + 8 : position + 8 + length]
        if found == b"IEND":
            return None
        position += 12 + length
    return None


def _sixteen_bit_float(levels: np.ndarray, orientation: int) -> np.ndarray:
    """uint16 grey, grey+alpha, RGB or RGBA levels to upright float32 (H, W, 3); alpha over black, as for 8 bits.

    Turned while still views of the 16-bit levels, then converted in one copy: less memory under the decode's limit.
    """
    scaled = np.array(_orient(np.atleast_3d(levels), orientation), dtype=np.float32, order="C")
    scaled *= np.float32(1 / 65535)
    if scaled.shape[2] in (2, 4):
        scaled[..., :-1] *= scaled[..., -1:]
        scaled = scaled[..., :-1]
    return np.ascontiguousarray(scaled) if scaled.shape[2] == 3 else np.repeat(scaled, 3, axis=-1)


def _orient(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an (H, W, C) array, as ImageOps.exif_transpose does to an image."""
    steps = {2: (0, True), 3: (2, False), 4: (2, True), 5: (3, True), 6: (3, False), 7: (1, True), 8: (1, False)}
    turns, mirror = steps.get(orientation, (0, False))
    rotated = np.rot90(rgb, k=turns)  # counter-clockwise quarter turns
    return rotated[:, ::-1] if mirror else rotated


def _rgb_float(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to float32 (H, W, 3); transparency is composited over black, as the photo is dark.

    Pillow 13 reads 16-bit RGB PNG and TIFF as 8-bit RGB (those take the 16-bit paths above); 16-bit grey
    keeps its precision.
    """
    if image.mode in SIXTEEN_BIT_MODES or image.mode == "F":
        grey = np.asarray(image).astype(np.float32)
        if image.mode != "F":
            grey /= 65535.0
        grey = np.clip(np.nan_to_num(grey), 0.0, 1.0)
        return np.repeat(grey[..., None], 3, axis=-1)
    if image.mode in ALPHA_MODES or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / np.float32(255)
        return np.ascontiguousarray(rgba[..., :3] * rgba[..., 3:])
    return np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255)
