"""inspect_upload on each format, with real Pillow and real LibRaw; no servers."""

from __future__ import annotations

import numpy as np
import pytest

from api.problems import Problem
from api.tiff import MAX_IFDS, MAX_VALUES, TiffError, read_tiff
from api.validate import MAGIC_BYTES, UploadInfo, has_image_magic, inspect_upload
from jobs.message import InputKind
from tests.api import samples
from tests.support.png16 import png16

LIMIT = 150_000_000


def rejected(data: bytes, filename: str | None = "photo.jpg", max_pixels: int = LIMIT) -> Problem:
    with pytest.raises(Problem) as caught:
        inspect_upload(data, filename, max_pixels)
    return caught.value


@pytest.mark.parametrize(
    ("data", "ext", "content_type", "fmt"),
    [
        (samples.jpeg(), "jpg", "image/jpeg", "JPEG"),
        (samples.png(), "png", "image/png", "PNG"),
        (samples.tiff(), "tif", "image/tiff", "TIFF"),
    ],
)
def test_srgb_formats_are_identified_by_content(data: bytes, ext: str, content_type: str, fmt: str) -> None:
    info = inspect_upload(data, "misleading-name.dng", LIMIT)
    assert info == UploadInfo(InputKind.SRGB, ext, content_type, 96, 64, fmt)


def test_a_16_bit_png_is_accepted_and_refused_like_any_png() -> None:
    data = png16(np.random.default_rng(1).integers(0, 65536, (64, 96, 3), dtype=np.uint16))
    assert inspect_upload(data, "scan.png", LIMIT) == UploadInfo(InputKind.SRGB, "png", "image/png", 96, 64, "PNG")
    assert rejected(data[:-20]).slug == "corrupt-image"
    assert rejected(data, max_pixels=96 * 64 - 1).slug == "too-many-pixels"


def test_jpeg_with_an_embedded_thumbnail_is_accepted() -> None:
    assert inspect_upload(samples.jpeg_with_thumbnail(), None, LIMIT).format == "JPEG"


def test_dng_is_raw_with_its_sensor_size() -> None:
    info = inspect_upload(samples.dng(96, 64), "IMG_0001.DNG", LIMIT)
    assert info == UploadInfo(InputKind.RAW, "dng", "image/x-adobe-dng", 96, 64, "DNG")


@pytest.mark.parametrize(
    ("filename", "ext"), [("shot.NEF", "nef"), ("shot.arw", "arw"), ("shot.jpg", "dng"), (None, "dng"), ("x", "dng")]
)
def test_raw_extension_comes_from_the_name_only_when_it_is_a_raw_extension(filename: str | None, ext: str) -> None:
    assert inspect_upload(samples.dng(), filename, LIMIT).ext == ext


def test_empty_upload_is_400() -> None:
    problem = rejected(b"")
    assert (problem.status, problem.slug) == (400, "empty-upload")


@pytest.mark.parametrize(
    "data", [b"hello, I am text\n", b"%PDF-1.7\n", b"GIF89a" + b"\0" * 64, b"\xff\xd8", b"MM\x00+" + b"\0" * 16]
)
def test_unknown_content_is_415_whatever_the_name(data: bytes) -> None:
    problem = rejected(data, "photo.jpg")
    assert (problem.status, problem.slug) == (415, "unsupported-media-type")


def test_a_canon_cr3_is_refused_with_its_reason_and_what_to_do() -> None:
    cr3 = b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom" + bytes(200)
    assert has_image_magic(cr3[:MAGIC_BYTES])  # a direct upload's first check lets it through to this reason
    problem = rejected(cr3, "IMG_0001.CR3")
    assert (problem.status, problem.slug) == (415, "unsupported-media-type")
    assert "CR3" in problem.detail and "DNG" in problem.detail


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (samples.jpeg()[: len(samples.jpeg()) // 2], "truncated in the scan"),
        (samples.jpeg()[:300], "truncated in the header"),
        (samples.jpeg_with_thumbnail()[:-200], "truncated; the thumbnail's EOI must not count"),
        (samples.png()[:-20], "truncated"),
        (samples.png()[:40], "truncated in the header"),
        (samples.tiff()[:-100], "strip runs past the end"),
        (samples.dng()[: len(samples.dng()) // 2], "RAW data runs past the end; LibRaw alone would accept it"),
        (samples.tiff_with_ifd_loop(), "IFD loop and no image"),
        (samples.tiff_chain(MAX_IFDS + 1), "too many IFDs"),
        (b"II*\x00\xff\xff\xff\x00", "first IFD outside the file"),
        (b"FUJIFILMCCD-RAW 0201" + b"\0" * 200, "RAF magic, no RAF inside"),
        (b"IIRO\x08\x00\x00\x00" + b"\0" * 64, "ORF magic, empty IFD"),
    ],
)
def test_corrupt_or_truncated_files_are_422(data: bytes, why: str) -> None:
    problem = rejected(data)
    assert (problem.status, problem.slug) == (422, "corrupt-image"), why


@pytest.mark.parametrize(
    "data",
    [
        samples.png_declaring(100_000, 100_000),  # beyond Pillow's own bomb limit too
        samples.png_declaring(13_000, 13_000),  # 169 MP: only our limit catches it
        samples.tiff_declaring(20_000, 20_000),
    ],
)
def test_decompression_bombs_are_refused_from_the_header(data: bytes) -> None:
    problem = rejected(data, "bomb.png")
    assert (problem.status, problem.slug) == (422, "too-many-pixels")


def test_pixel_limit_applies_to_every_kind() -> None:
    for data in (samples.jpeg(), samples.png(), samples.tiff(), samples.dng()):
        assert rejected(data, max_pixels=96 * 64 - 1).slug == "too-many-pixels"
        assert inspect_upload(data, None, max_pixels=96 * 64).width == 96


def test_a_large_declared_size_just_under_the_limit_is_accepted_without_decoding() -> None:
    info = inspect_upload(samples.png_declaring(12_000, 12_000), None, LIMIT)  # 144 MP declared, 4 KiB of data
    assert (info.width, info.height) == (12_000, 12_000)


def test_rejections_are_value_errors_with_a_readable_message() -> None:
    problem = rejected(samples.png_declaring(13_000, 13_000))
    assert isinstance(problem, ValueError)
    assert "169,000,000" in str(problem)


def test_tiff_walker_reads_dng_facts() -> None:
    facts = read_tiff(samples.dng(96, 64))
    assert (facts.container, facts.is_dng, facts.width, facts.height, facts.truncated) == ("TIFF", True, 96, 64, None)


def test_tiff_walker_survives_a_loop_and_refuses_a_long_chain() -> None:
    assert read_tiff(samples.tiff_with_ifd_loop()).width == 10
    assert read_tiff(samples.tiff_chain(MAX_IFDS)).width == 10
    with pytest.raises(TiffError):
        read_tiff(samples.tiff_chain(MAX_IFDS + 1))


def test_tiff_walker_reports_truncation_without_raising() -> None:
    facts = read_tiff(samples.tiff()[:-1])
    assert facts.truncated is not None and "past the end" in facts.truncated


def test_tiff_walker_bounds_the_values_it_reads() -> None:
    assert read_tiff(samples.tiff_with_strips(1000)).truncated is None
    with pytest.raises(TiffError, match="offsets and sizes"):
        read_tiff(samples.tiff_with_strips(MAX_VALUES + 1))
