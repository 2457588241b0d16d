"""Upload validation: time to accept or reject, against decoding the whole file (the obvious way).

``api.validate.inspect_upload`` reads headers only (Pillow's lazy open, LibRaw's
open without unpacking) plus cheap structural checks, so its cost should not
grow with the pixels. The baseline decodes every pixel with the same
libraries, as the worker later does.
"""

from __future__ import annotations

import argparse
import functools
import io
import struct
import sys
import zlib

import numpy as np
from PIL import Image

from api.problems import Problem
from api.validate import inspect_upload
from bench.common import Table, machine, median_seconds, ratio
from darkroom.dng import dng_bytes

MAX_PIXELS = 150_000_000  # the API's default limit


def sony_size_dng() -> bytes:
    """A 4240x2832 14-bit mosaic as an uncompressed DNG: 24 MB, the size of a Sony ARW."""
    rng = np.random.default_rng(0)
    mosaic = rng.integers(512, 2048, size=(2832, 4240), dtype=np.uint16)
    return dng_bytes(mosaic)


def jpeg_12mp() -> bytes:
    rng = np.random.default_rng(1)
    small = rng.integers(0, 60, size=(375, 500, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((4000, 3000), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb() -> bytes:
    """A 100 kB PNG whose header declares 50000x50000 pixels: 7.5 GB once decoded."""
    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 2_000_000, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def full_decode(data: bytes) -> None:
    """The obvious way: decode every pixel, then look at it."""
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        import rawpy

        with rawpy.imread(io.BytesIO(data)) as raw:
            raw.raw_image.copy()
        return
    Image.MAX_IMAGE_PIXELS = None  # the naive path has no bomb guard: that is the point
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def verdict(data: bytes) -> str:
    try:
        info = inspect_upload(data, "upload", MAX_PIXELS)
    except Problem as exc:
        return f"rejected ({exc.status} {exc.slug})"
    return f"accepted ({info.format} {info.width}x{info.height})"


def run(quick: bool = False) -> list[Table]:
    repeats = 5 if quick else 21
    inputs = [
        ("RAW (DNG) 4240x2832", sony_size_dng(), True),
        ("JPEG 4000x3000", jpeg_12mp(), True),
        ("PNG bomb header 50000x50000", png_bomb(), False),
    ]
    table = Table(
        "Upload validation",
        machine(),
        f"generated files; median of {repeats}; baseline: a full decode with the same library",
        ["input", "size MB", "darkroom ms", "full decode ms", "ratio", "verdict"],
    )
    for name, data, decode_too in inputs:
        ours = median_seconds(functools.partial(verdict, data), repeats) * 1000
        decode_repeats = max(3, repeats // 4)
        theirs = median_seconds(functools.partial(full_decode, data), decode_repeats) * 1000 if decode_too else 0.0
        table.add(
            name,
            len(data) / 1e6,
            ours,
            theirs or "not run (7.5 GB)",
            ratio(ours, theirs) if theirs else "-",
            verdict(data),
        )
        print(f"  validation {name}: {ours:.2f} ms", file=sys.stderr)
    table.notes.append("targets: 25 MB RAW accepted in < 50 ms; bomb header rejected in < 10 ms")
    return [table]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.validation", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    for table in run(parser.parse_args(argv).quick):
        print(table.markdown())


if __name__ == "__main__":
    main()
