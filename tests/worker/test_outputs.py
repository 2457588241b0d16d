"""Outputs a photographer keeps: JPEG with a quality, 16-bit PNG and TIFF, EXIF and ICC kept, upright, sRGB-tagged."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from darkroom.dng import synthetic_dark_dng
from jobs.message import InputKind
from jobs.outputs import OutputFormat
from jobs.status import JobState
from jobs.submit import submit_job
from tests.support.png16 import png16
from tests.worker.conftest import Parts
from worker.baseline import Baseline
from worker.decode import decode_srgb
from worker.encode import srgb_profile
from worker.frames import Enhancer, RawFrame, SrgbFrame
from worker.methods import ModelChoice, load_enhancer
from worker.models.inputs import srgb_model_input
from worker.pipeline import run_pipeline

MODEL, LENS, TAKEN, EXPOSURE = "NightCam X1", "50mm f/1.4", "2025:12:01 21:30:00", 0.5
EXIF_IFD, INTEROP_IFD = 0x8769, 0xA005  # the interoperability directory hangs off the EXIF one


def dark_photo(orientation: int = 1, icc: bytes | None = None) -> bytes:
    """A dark 120x80 JPEG from a camera: model, lens, time, exposure and an orientation in its EXIF."""
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 30, size=(80, 120, 3), dtype=np.uint8))
    exif = image.getexif()
    exif[0x0110], exif[0x0112] = MODEL, orientation
    exif.get_ifd(EXIF_IFD).update({0xA434: LENS, 0x9003: TAKEN, 0x829A: EXPOSURE, INTEROP_IFD: {1: "R98"}})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif.tobytes(), **({"icc_profile": icc} if icc else {}))
    return buffer.getvalue()


def png_levels(data: bytes) -> tuple[np.ndarray, set[bytes]]:
    """A 16-bit RGB PNG's levels (unfiltered rows, as written) and its chunk types, read by hand."""
    position, chunks, idat = 8, set(), b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        chunks.add(kind)
        width, height = struct.unpack(">II", body[:8]) if kind == b"IHDR" else (0, 0)
        if kind == b"IHDR":
            assert body[8:10] == bytes([16, 2])  # 16 bits, RGB
            size = (height, width)
        idat += body if kind == b"IDAT" else b""
        position += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(size[0], -1)
    return rows[:, 1:].copy().view(">u2").reshape(size[0], size[1], 3).astype(np.uint16), chunks


def test_jpeg_keeps_exif_and_icc_resets_orientation_and_honours_quality() -> None:
    display_p3 = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()  # any profile that is not sRGB
    data = dark_photo(orientation=6, icc=display_p3)
    sizes = {}
    for quality in (40, 95):
        result = run_pipeline(data, InputKind.SRGB, 8.0, Baseline(), output=OutputFormat("jpeg", quality))
        sizes[quality] = len(result.encoded)
    image = Image.open(io.BytesIO(result.encoded))
    assert image.size == (80, 120)  # turned upright: the 120x80 photo was taken rotated
    exif = image.getexif()
    assert (exif[0x0110], exif[0x0112]) == (MODEL, 1)
    assert exif.get_ifd(EXIF_IFD)[0xA434] == LENS and exif.get_ifd(EXIF_IFD)[0x9003] == TAKEN
    assert float(exif.get_ifd(EXIF_IFD)[0x829A]) == EXPOSURE
    assert image.info["icc_profile"] == display_p3
    assert sizes[40] < sizes[95]


def test_a_photo_without_a_profile_and_a_raw_come_back_tagged_srgb() -> None:
    for data, kind in ((dark_photo(), InputKind.SRGB), (synthetic_dark_dng(64, 96, exposure=1 / 50), InputKind.RAW)):
        result = run_pipeline(data, kind, 8.0, Baseline())
        assert Image.open(io.BytesIO(result.encoded)).info["icc_profile"] == srgb_profile()


def test_a_16_bit_tiff_is_decoded_at_16_bits_and_written_as_a_16_bit_png_with_its_metadata() -> None:
    levels = np.random.default_rng(5).integers(0, 4096, size=(40, 60, 3), dtype=np.uint16)  # dark, fine steps
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, levels, photometric="rgb")
    frame = decode_srgb(buffer.getvalue())
    assert np.allclose(frame.rgb * 65535, levels, atol=0.01)  # no 8-bit step lost
    result = run_pipeline(dark_photo(), InputKind.SRGB, 8.0, Baseline(), output=OutputFormat("png16"))
    written, chunks = png_levels(result.encoded)
    assert written.shape == (80, 120, 3) and len(np.unique(written)) > 256  # 16-bit levels, not 8 stretched
    assert {b"iCCP", b"eXIf"} <= chunks
    Image.open(io.BytesIO(result.encoded)).load()  # a PNG other readers accept


def test_a_16_bit_tiff_result_is_upright_and_carries_the_exif_and_profile(parts: Parts) -> None:
    output, photo = OutputFormat("tiff16"), dark_photo(orientation=6)
    status = submit_job(parts.store, parts.queue, photo, "jpg", "image/jpeg", InputKind.SRGB, 8.0, output=output)
    parts.worker().run(max_jobs=1)
    done = parts.status(status.job_id)
    assert done.state is JobState.DONE and done.result is not None and done.result.key.endswith(".tif")
    stored = parts.store.get(done.result.key)
    assert stored is not None
    with tifffile.TiffFile(io.BytesIO(stored)) as tiff:
        page = tiff.pages[0]
        assert page.dtype == np.uint16 and page.shape == (120, 80, 3)  # turned upright
        assert page.tags[34675].value == srgb_profile()
        assert (page.tags["Model"].value, page.tags["Orientation"].value) == (MODEL, 1)
        exif = page.tags["ExifTag"].value
        assert (exif["LensModel"], exif["DateTimeOriginal"], exif["ExposureTime"]) == (LENS, TAKEN, EXPOSURE)
    read_by_pillow = Image.open(io.BytesIO(stored)).getexif()  # another reader finds the same
    assert (read_by_pillow[0x0110], read_by_pillow[0x0112]) == (MODEL, 1)
    assert read_by_pillow.get_ifd(EXIF_IFD)[0xA434] == LENS and read_by_pillow.get_ifd(EXIF_IFD)[0x9003] == TAKEN
    assert float(read_by_pillow.get_ifd(EXIF_IFD)[0x829A]) == EXPOSURE
    assert read_by_pillow.get_ifd(INTEROP_IFD) == {1: "R98"}  # a directory of its own, not a stale offset


def test_a_16_bit_tiff_without_exif_has_no_exif_directory() -> None:
    result = run_pipeline(png16(RAMP), InputKind.SRGB, 8.0, Baseline(), output=OutputFormat("tiff16"))
    with tifffile.TiffFile(io.BytesIO(result.encoded)) as tiff:
        tags = tiff.pages[0].tags
        assert "ExifTag" not in tags and 34664 not in tags and tags["Orientation"].value == 1
        assert tiff.pages[0].asarray().shape == RAMP.shape


@dataclass
class Seeing:
    """A real enhancer, keeping each picture it is given: what decode handed the enhancer."""

    inner: Enhancer
    seen: list[np.ndarray] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    def enhance_raw(self, frame: RawFrame, ratio: float) -> np.ndarray:
        return self.inner.enhance_raw(frame, ratio)

    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
        self.seen.append(frame.rgb)
        return self.inner.enhance_srgb(frame, ratio)


RAMP = np.tile(np.arange(0, 2048, 2, dtype=np.uint16)[None, :, None], (16, 1, 3))  # 1,024 levels in 8 of 8 bits


@pytest.mark.parametrize("method", ["baseline", "sid"])
def test_a_16_bit_png_reaches_the_srgb_enhancer_and_the_result_with_its_fine_steps(parts: Parts, method: str) -> None:
    enhancer = Seeing(load_enhancer(ModelChoice(method="baseline", srgb_method=method, device="cpu")))
    parts.enhancer = enhancer  # type: ignore[assignment]
    output = OutputFormat("png16")
    status = submit_job(parts.store, parts.queue, png16(RAMP), "png", "image/png", InputKind.SRGB, 8.0, output=output)
    parts.worker().run(max_jobs=1)  # the real decode process, then the enhancer
    done = parts.status(status.job_id)
    assert done.state is JobState.DONE and done.result is not None, done

    (seen,) = enhancer.seen
    np.testing.assert_allclose(seen, RAMP / 65535, atol=1e-6)  # at 8 bits: 9 levels, steps of 1/255
    if method == "sid":  # what the network itself is given, brightened: the fine steps are still there
        assert len(np.unique(srgb_model_input(seen, 8.0))) > 900
    else:
        stored = parts.store.get(done.result.key)
        assert stored is not None
        written, _ = png_levels(stored)
        assert len(np.unique(written[8, :, 1])) > 900  # the brightened ramp keeps them too (8 bits: about 20)
