"""A small, bounded reader of TIFF structure: enough to spot a DNG and a truncated file.

DNG and most camera RAWs (CR2, NEF, ARW, PEF, SRW, ORF, RW2) are TIFF
containers. LibRaw opens a truncated one happily (it reads only the header),
so before a job is queued we walk the image file directories and check that
every strip and tile the file points at lies inside it. The walk reads only
the directories, never pixel data, and is bounded in IFDs, entries and values
so a hostile file cannot make it loop or allocate much.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from api.ranged import RangedObject

Source = bytes | RangedObject  # the file in memory, or in S3 read in ranges (api/ranged.py)

MAX_IFDS = 64
MAX_ENTRIES = 1024  # per IFD; real files have a few hundred at most
MAX_VALUES = 1 << 18  # integer values read in all: strips and tiles of a 150 MP image fit easily

# Second header word of TIFF and of the TIFF-like RAW containers.
MAGICS = {42: "TIFF", 0x4F52: "ORF", 0x5352: "ORF", 0x55: "RW2"}

TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
INTEGER_FORMATS = {1: "B", 3: "H", 4: "I", 13: "I"}  # the types offsets, counts and sizes use

IMAGE_WIDTH, IMAGE_LENGTH = 256, 257
STRIP_OFFSETS, STRIP_BYTE_COUNTS = 273, 279
TILE_OFFSETS, TILE_BYTE_COUNTS = 324, 325
BITS_PER_SAMPLE, COMPRESSION, SAMPLES_PER_PIXEL = 258, 259, 277
UNCOMPRESSED = 1
SUB_IFDS = 330
DNG_VERSION = 50706


class TiffError(ValueError):
    """The file's TIFF structure is broken or points outside the file."""


@dataclass(frozen=True)
class TiffFacts:
    container: str  # "TIFF", "ORF" or "RW2", from the header's magic word
    is_dng: bool  # DNGVersion is present
    width: int  # of the largest image in the file (0 when no IFD declares one)
    height: int
    truncated: str | None  # what points outside the file, or None when all image data is inside


def tiff_magic(data: Source) -> str | None:
    """The container named by the 4-byte header, or None if it is not TIFF-like."""
    head = data[:8]
    if len(head) < 8 or head[:2] not in (b"II", b"MM"):
        return None
    order = "<" if head[:2] == b"II" else ">"
    return MAGICS.get(struct.unpack_from(order + "H", head, 2)[0])


class _Reader:
    def __init__(self, data: Source) -> None:
        self.data = data
        self.order = "<" if data[:2] == b"II" else ">"
        self.values_left = MAX_VALUES  # a budget, so many IFDs sharing one huge array cannot add up

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        size = struct.calcsize(self.order + fmt)
        if offset < 0 or offset + size > len(self.data):
            raise TiffError(f"directory data at {offset} lies outside the file")
        return struct.unpack(self.order + fmt, self.data[offset : offset + size])

    def tags(self, start: int, count: int) -> dict[int, int]:
        """Each tag of the 12-byte entries at ``start``, mapped to its entry's offset."""
        if start < 0 or start + 12 * count > len(self.data):  # bounds check
            raise TiffError(f"directory data at {start} lies outside the file")
        table = self.data[start : start + 12 * count]
        return {tag: start + 12 * i for i, (tag,) in enumerate(struct.iter_unpack(self.order + "H10x", table))}

    def values(self, entry: int) -> list[int]:
        """The integer values of an IFD entry; [] for types that cannot hold offsets."""
        value_type, count = self.unpack("HI", entry + 2)
        fmt = INTEGER_FORMATS.get(value_type)
        if fmt is None:
            return []
        if count > self.values_left:
            raise TiffError(f"more than {MAX_VALUES} offsets and sizes in the directories")
        self.values_left -= count
        size = TYPE_SIZES[value_type] * count
        where = entry + 8 if size <= 4 else self.unpack("I", entry + 8)[0]
        return list(self.unpack(f"{count}{fmt}", where))


def _first_value(reader: _Reader, tags: dict[int, int], tag: int) -> int:
    values = reader.values(tags[tag]) if tag in tags else []
    return values[0] if values else 0


def _outside(reader: _Reader, tags: dict[int, int], offsets_tag: int, counts_tag: int) -> str | None:
    """Describe the first strip or tile that does not lie inside the file, if any."""
    if offsets_tag not in tags:
        return None
    offsets = reader.values(tags[offsets_tag])
    counts = reader.values(tags[counts_tag]) if counts_tag in tags else [0] * len(offsets)
    if len(offsets) != len(counts):
        return f"{len(offsets)} image data offsets but {len(counts)} byte counts"
    size = len(reader.data)
    for offset, count in zip(offsets, counts, strict=True):
        if offset + count > size:
            return f"image data at {offset}+{count} runs past the end of the file ({size} bytes)"
    return None


def _short_of_pixels(reader: _Reader, tags: dict[int, int], width: int, height: int) -> str | None:
    """An uncompressed image whose strips or tiles hold fewer bytes than its declared pixels need.

    A header that lies about its size this way passes the extent check (the
    data it points at is inside the file) and LibRaw opens it; only
    arithmetic catches it.
    """
    if _first_value(reader, tags, COMPRESSION) not in (0, UNCOMPRESSED) or not width or not height:
        return None
    counts_tag = TILE_BYTE_COUNTS if TILE_BYTE_COUNTS in tags else STRIP_BYTE_COUNTS
    if counts_tag not in tags:
        return None
    bits = _first_value(reader, tags, BITS_PER_SAMPLE) or 1
    samples = _first_value(reader, tags, SAMPLES_PER_PIXEL) or 1
    needed = width * height * samples * bits // 8
    held = sum(reader.values(tags[counts_tag]))
    if held < needed:
        return f"the header declares {width}x{height} pixels ({needed:,} bytes) but its image data holds {held:,}"
    return None


def read_tiff(data: Source) -> TiffFacts:
    """Walk every IFD (each chain and its SubIFDs), bounded; read sizes and check data extents.

    Raises TiffError when the directories themselves cannot be read. Image
    data outside the file (a truncated upload) is reported in
    ``TiffFacts.truncated`` instead, so a caller can first refuse a header
    that declares too many pixels.
    """
    container = tiff_magic(data)
    if container is None:
        raise TiffError("not a TIFF header")
    reader = _Reader(data)
    pending = [reader.unpack("I", 4)[0]]
    seen: set[int] = set()
    is_dng = False
    width = height = 0
    truncated: str | None = None
    while pending:
        offset = pending.pop()
        if offset == 0 or offset in seen:
            continue  # 0 ends a chain; a repeat would be a loop
        if len(seen) >= MAX_IFDS:
            raise TiffError(f"more than {MAX_IFDS} image directories")
        seen.add(offset)
        (count,) = reader.unpack("H", offset)
        if count > MAX_ENTRIES:
            raise TiffError(f"a directory claims {count} entries")
        tags = reader.tags(offset + 2, count)
        pending.append(reader.unpack("I", offset + 2 + 12 * count)[0])
        if SUB_IFDS in tags:
            pending.extend(reader.values(tags[SUB_IFDS]))
        is_dng = is_dng or DNG_VERSION in tags
        ifd_width, ifd_height = _first_value(reader, tags, IMAGE_WIDTH), _first_value(reader, tags, IMAGE_LENGTH)
        if ifd_width * ifd_height > width * height:
            width, height = ifd_width, ifd_height
        truncated = (
            truncated
            or _outside(reader, tags, STRIP_OFFSETS, STRIP_BYTE_COUNTS)
            or _outside(reader, tags, TILE_OFFSETS, TILE_BYTE_COUNTS)
            or _short_of_pixels(reader, tags, ifd_width, ifd_height)
        )
    return TiffFacts(container, is_dng, width, height, truncated)
