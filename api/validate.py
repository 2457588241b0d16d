"""Upload validation: bytes in, facts out, before anything is stored or queued.

The type is decided by magic bytes, never by the filename. Headers are parsed
with the decoders the worker will use (Pillow for JPEG/PNG/TIFF, LibRaw via
rawpy for RAW), which read only the header here, so a decompression bomb is
refused from its declared size before a single pixel is decoded. Cheap
structural checks then catch truncated uploads, which those header-only
parsers would accept. What cannot become a job raises the ``Problem`` to
answer. No Flask: the ``darkroom enhance`` command uses this module too.

The data is ``bytes`` (a multipart upload, already in memory) or a
``RangedObject`` (a direct upload still in S3, read in ranges): the checks
look at headers, directories and the end of the file, never decode pixels,
and hand LibRaw only the first ``RAW_HEADER_BYTES`` of a large RAW file.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

import rawpy
from PIL import Image, UnidentifiedImageError

from api.problems import Problem
from api.ranged import RangedFile, RangedObject
from api.tiff import TiffError, read_tiff, tiff_magic
from jobs.ids import RAW_EXTENSIONS
from jobs.message import InputKind

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
PNG_TAIL = 4096  # bytes after IEND that we still accept (some tools append a little)
JPEG_EOI = b"\xff\xd9"
JPEG_TAIL = 4096  # bytes after a JPEG's end marker that we still accept; megabytes of them are another file
RAW_HEADER_BYTES = 4 * 1024 * 1024  # what LibRaw reads sizes from: headers and directories sit at a RAW's start
RAF_MAGIC = b"FUJIFILMCCD-RAW"
CR3_BRAND = b"ftypcrx "  # an ISO media file (bytes 4-12) of brand crx: Canon's CR3
DNG_CONTENT_TYPE = "image/x-adobe-dng"
RAW_CONTENT_TYPE = "image/x-dcraw"  # shared-mime-info's parent type of camera RAW files

Source = bytes | RangedObject  # an upload in memory, or one in S3 read in ranges


@dataclass(frozen=True)
class UploadInfo:
    kind: InputKind
    ext: str  # one of jobs.ids.UPLOAD_EXTENSIONS; becomes part of the S3 key
    content_type: str
    width: int
    height: int
    format: str  # "JPEG", "PNG", "TIFF", "DNG", "CR2", "ORF", "RW2", "RAF" or "RAW"


def unsupported(detail: str) -> Problem:
    return Problem("unsupported-media-type", detail)


def corrupt(detail: str) -> Problem:
    return Problem("corrupt-image", detail)


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        detail = f"the image declares {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,}"
        raise Problem("too-many-pixels", detail)


MAGIC_BYTES = 16  # enough of a file's start to tell whether it can be an image at all


def has_image_magic(head: bytes) -> bool:
    """Whether a file's first bytes are those of a type ``inspect_upload`` reads (a cheap first check)."""
    known = head.startswith((b"\xff\xd8\xff", PNG_SIGNATURE, RAF_MAGIC)) or head[4:12] == CR3_BRAND
    return known or tiff_magic(head) is not None


def inspect_upload(data: Source, filename: str | None, max_pixels: int) -> UploadInfo:
    """Identify and check an upload; raises the Problem to answer when it cannot become a job."""
    if not len(data):
        raise Problem("empty-upload", "the uploaded file is empty")
    head = data[:MAGIC_BYTES]
    if head.startswith(b"\xff\xd8\xff"):
        return _inspect_pillow(data, "JPEG", "jpg", "image/jpeg", max_pixels, _check_jpeg_end)
    if head.startswith(PNG_SIGNATURE):
        return _inspect_pillow(data, "PNG", "png", "image/png", max_pixels, _check_png_end)
    if head.startswith(RAF_MAGIC):
        return _inspect_raw(data, "RAF", filename, is_dng=False, max_pixels=max_pixels)
    if tiff_magic(head) is not None:
        return _inspect_tiff(data, filename, max_pixels)
    if data[4:12] == CR3_BRAND:  # LibRaw may read it, but no CR3 has been through darkroom's tests: refused
        raise unsupported(
            "Canon CR3 files are not supported yet: convert it to DNG (Adobe DNG Converter does) or send a JPEG"
        )
    raise unsupported("not a JPEG, PNG, TIFF or camera RAW file (judged by its content, not its name)")


def _inspect_pillow(
    data: Source, name: str, ext: str, content_type: str, max_pixels: int, check_end: Callable[[Source], None]
) -> UploadInfo:
    width, height = _pillow_size(data, name)
    check_pixels(width, height, max_pixels)
    check_end(data)
    return UploadInfo(InputKind.SRGB, ext, content_type, width, height, name)


def as_file(data: Source) -> IO[bytes]:
    return io.BytesIO(data) if isinstance(data, bytes) else io.BufferedReader(RangedFile(data))


def _pillow_size(data: Source, name: str) -> tuple[int, int]:
    """Parse the header only (Image.open is lazy); Pillow's own bomb limit also means too many pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our max_pixels decides
            with Image.open(as_file(data), formats=[name]) as image:
                return image.size
    except Image.DecompressionBombError:  # Pillow's own limit, far above any sane max_pixels
        raise Problem("too-many-pixels", "the image declares far too many pixels") from None
    except UnidentifiedImageError:
        raise corrupt(f"the {name} header cannot be read") from None
    except (OSError, EOFError, ValueError) as exc:
        raise corrupt(f"the {name} header cannot be read: {exc}") from None


def _check_jpeg_end(data: Source) -> None:
    """A complete JPEG has an EOI marker (FF D9) after its first scan starts, and little after it.

    Searching only after the first SOS skips an EXIF thumbnail's own EOI.
    Entropy-coded data stuffs every FF with 00, so FF D9 there is the end.
    More than ``JPEG_TAIL`` bytes after it are not part of the image: another
    file riding along (a hidden archive, a second payload), refused.
    """
    scan = _jpeg_first_scan(data)
    end = data.find(JPEG_EOI, scan) if scan >= 0 else -1
    if end < 0:
        raise corrupt("the JPEG file is truncated: its image data has no end marker")
    trailing = len(data) - end - len(JPEG_EOI)
    if trailing > JPEG_TAIL:
        raise corrupt(f"the JPEG file carries {trailing:,} bytes after its image ends (at most {JPEG_TAIL:,})")


def _jpeg_first_scan(data: Source) -> int:
    """The offset of the first start-of-scan (SOS) segment, or -1; walks marker segments only."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return -1
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:
            return pos
        if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return -1


def _check_png_end(data: Source) -> None:
    if data.find(PNG_IEND, max(0, len(data) - PNG_TAIL - len(PNG_IEND))) < 0:
        raise corrupt("the PNG file is truncated: it has no IEND chunk at its end")


def _inspect_tiff(data: Source, filename: str | None, max_pixels: int) -> UploadInfo:
    """TIFF-magic files: a DNG or anything LibRaw opens is RAW, else Pillow's TIFF is sRGB."""
    try:
        facts = read_tiff(data)
    except TiffError as exc:
        raise corrupt(f"the TIFF structure cannot be read: {exc}") from None
    check_pixels(facts.width, facts.height, max_pixels)
    if facts.truncated:
        raise corrupt(f"the file is truncated: {facts.truncated}")
    if facts.is_dng or facts.container != "TIFF":
        return _inspect_raw(data, "DNG" if facts.is_dng else facts.container, filename, facts.is_dng, max_pixels)
    try:
        sizes = _raw_sizes(data)
    except rawpy.LibRawError:  # not a camera RAW that LibRaw knows: an ordinary TIFF
        width, height = _pillow_size(data, "TIFF")
        check_pixels(width, height, max_pixels)
        return UploadInfo(InputKind.SRGB, "tif", "image/tiff", width, height, "TIFF")
    name = "CR2" if data[8:10] == b"CR" else "RAW"
    return _raw_info(sizes, name, filename, is_dng=False, max_pixels=max_pixels)


def _raw_sizes(data: Source) -> rawpy.ImageSizes:
    """LibRaw's sizes from opening the file, which parses the header only (no unpack, no postprocess).

    LibRaw wants the file in memory: a file in S3 gives it its first ``RAW_HEADER_BYTES``.
    """
    header = data if isinstance(data, bytes) else data[:RAW_HEADER_BYTES]
    with rawpy.imread(io.BytesIO(header)) as raw:
        return raw.sizes


def _inspect_raw(data: Source, name: str, filename: str | None, is_dng: bool, max_pixels: int) -> UploadInfo:
    try:
        sizes = _raw_sizes(data)
    except rawpy.LibRawError as exc:
        message = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise corrupt(f"LibRaw cannot read this {name} file: {message}") from None
    return _raw_info(sizes, name, filename, is_dng, max_pixels)


def _raw_info(sizes: rawpy.ImageSizes, name: str, filename: str | None, is_dng: bool, max_pixels: int) -> UploadInfo:
    check_pixels(sizes.raw_width, sizes.raw_height, max_pixels)
    content_type = DNG_CONTENT_TYPE if is_dng else RAW_CONTENT_TYPE
    return UploadInfo(InputKind.RAW, _raw_extension(filename, is_dng), content_type, sizes.width, sizes.height, name)


def _raw_extension(filename: str | None, is_dng: bool) -> str:
    """The client's extension when it names a RAW format we know; only then does it reach the S3 key."""
    ext = os.path.splitext(filename or "")[1].lstrip(".").lower()
    if ext in RAW_EXTENSIONS:
        return ext
    return "dng" if is_dng else "raw"
