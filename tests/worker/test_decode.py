"""Decoding real files: RAW through LibRaw (DNG fixtures), JPEG/PNG through Pillow, 16-bit PNG through libpng."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
import tifffile
from PIL import Image

from darkroom.dng import XTRANS, dng_bytes, mosaic_from_linear_rgb, synthetic_dark_dng, synthetic_dark_linear_dng
from jobs.message import InputKind
from tests.support.png16 import png16
from worker.decode import decode
from worker.frames import InputError, RawFrame, SrgbFrame, linear_to_srgb

PATTERNS = ["RGGB", "BGGR", "GRBG", "GBRG"]


def raw_frame(data: bytes) -> RawFrame:
    frame = decode(data, InputKind.RAW)
    assert isinstance(frame, RawFrame)
    return frame


def srgb(image: Image.Image, fmt: str, **save: object) -> np.ndarray:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    frame = decode(buffer.getvalue(), InputKind.SRGB)
    assert isinstance(frame, SrgbFrame)
    assert frame.rgb.dtype == np.float32 and frame.rgb.ndim == 3 and frame.rgb.shape[2] == 3
    assert frame.rgb.min() >= 0.0 and frame.rgb.max() <= 1.0
    return frame.rgb


# --- RAW ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_cfa_site_lands_in_its_channel_with_the_files_levels(pattern: str) -> None:
    black, white = 1024, 4095
    values = {"R": 1500, "G1": 2000, "G2": 2500, "B": 3000}  # G1 shares red's row, G2 blue's
    red_row = pattern.index("R") // 2
    mosaic = np.empty((32, 48), dtype=np.uint16)
    for i, colour in enumerate(pattern):
        dy, dx = divmod(i, 2)
        role = colour if colour != "G" else ("G1" if dy == red_row else "G2")
        mosaic[dy::2, dx::2] = values[role]
    frame = raw_frame(dng_bytes(mosaic, pattern, black_level=black, white_level=white))
    assert frame.packed.shape == (4, 16, 24) and frame.packed.dtype == np.float32
    for channel, role in enumerate(["R", "G1", "B", "G2"]):
        np.testing.assert_allclose(frame.packed[channel], (values[role] - black) / (white - black), rtol=1e-6)


def test_packed_arrays_agree_across_cfa_phases() -> None:
    rng = np.random.default_rng(1)
    cells = rng.uniform(0.0, 1.0, size=(16, 24, 3))
    scene = cells.repeat(2, axis=0).repeat(2, axis=1)  # constant over each 2x2 cell, so every phase samples alike
    linear = np.round(scene * 8000 + 512).astype(np.uint16)
    packed = [raw_frame(dng_bytes(mosaic_from_linear_rgb(linear, p), p)).packed for p in PATTERNS]
    for other in packed[1:]:
        np.testing.assert_array_equal(other, packed[0])
    np.testing.assert_allclose(packed[0][0], (linear[::2, ::2, 0] - 512.0) / (16383 - 512), rtol=1e-6)


def test_values_below_black_clip_to_zero_and_above_white_are_kept() -> None:
    mosaic = np.full((32, 32), 600, dtype=np.uint16)
    mosaic[0, 0] = 100  # below black
    frame = raw_frame(dng_bytes(mosaic, "RGGB", black_level=512, white_level=1000))
    assert frame.packed[0, 0, 0] == 0.0
    np.testing.assert_allclose(frame.packed[1], (600 - 512) / (1000 - 512), rtol=1e-6)


def test_white_balance_and_colour_matrix_come_from_the_file() -> None:
    frame = raw_frame(synthetic_dark_dng(32, 48))  # AsShotNeutral (0.5, 1, 0.6), camera == sRGB primaries
    np.testing.assert_allclose(frame.white_balance, [2.0, 1.0, 1 / 0.6], rtol=1e-3)
    np.testing.assert_allclose(frame.cam_to_srgb, np.eye(3), atol=1e-3)
    assert frame.flip == 0


def test_odd_sized_mosaic_is_cropped_to_whole_cells() -> None:
    frame = raw_frame(dng_bytes(np.full((63, 95), 3000, dtype=np.uint16), "GRBG"))
    assert frame.packed.shape == (4, 31, 47)
    assert frame.mosaic_size == (62, 94)


# --- sRGB --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: synthetic_dark_dng(600, 720, exposure=1 / 4, pattern=XTRANS),
        lambda: synthetic_dark_linear_dng(600, 720, exposure=1 / 4),
    ],
    ids=["x-trans", "linear-dng"],
)
def test_a_raw_sid_cannot_take_is_rendered_by_libraw_for_the_srgb_path(make: Callable[[], bytes]) -> None:
    """X-Trans and linear DNG (ProRAW, sRAW) have no Bayer mosaic: LibRaw demosaics them, and they go on as sRGB."""
    frame = decode(make(), InputKind.RAW)
    assert isinstance(frame, SrgbFrame) and frame.rgb.shape == (600, 720, 3)
    # the same scene as a Bayer DNG, packed and white-balanced, then given sRGB's curve: the colours agree
    bayer = raw_frame(synthetic_dark_dng(600, 720, exposure=1 / 4))
    balanced = bayer.packed[[0, 1, 2]] * bayer.white_balance[:, None, None]
    expected = linear_to_srgb(np.clip(balanced.mean(axis=(1, 2)), 0, 1))
    np.testing.assert_allclose(frame.rgb.mean(axis=(0, 1)), expected, atol=0.03)


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (64, 32), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 32, 32))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: turn 90 degrees clockwise to view
    rgb = srgb(image, "JPEG", exif=exif.tobytes(), quality=95)
    assert rgb.shape == (64, 32, 3)
    assert rgb[:28, :, 0].mean() > 0.9 and rgb[:28, :, 2].mean() < 0.1  # the left half is now on top
    assert rgb[36:, :, 2].mean() > 0.9


def test_sixteen_bit_grey_png_keeps_its_precision() -> None:
    grey = (np.arange(24 * 40, dtype=np.uint16).reshape(24, 40) * 61).astype(np.uint16)
    rgb = srgb(Image.fromarray(grey), "PNG")
    assert rgb.shape == (24, 40, 3)
    np.testing.assert_allclose(rgb[..., 1], grey / 65535.0, atol=1e-6)


def test_sixteen_bit_rgb_png_keeps_every_level() -> None:
    source = np.random.default_rng(2).integers(0, 65536, size=(20, 30, 3)).astype(np.uint16)
    frame = decode(png16(source), InputKind.SRGB)
    assert isinstance(frame, SrgbFrame) and frame.rgb.shape == (20, 30, 3) and frame.rgb.dtype == np.float32
    np.testing.assert_allclose(frame.rgb, source / 65535.0, atol=1e-6)  # not 8 bits of it: Pillow's 1/255


def test_sixteen_bit_png_alpha_is_composited_over_black_at_16_bits() -> None:
    rgba = np.zeros((6, 8, 4), dtype=np.uint16)
    rgba[..., :3], rgba[..., 3] = (40_001, 20_003, 7), 65535
    rgba[:, 4:, 3] = 32768
    rgb = srgb_of(png16(rgba))
    np.testing.assert_allclose(rgb[0, 0], np.array([40_001, 20_003, 7]) / 65535, atol=1e-6)
    np.testing.assert_allclose(rgb[0, 5], np.array([40_001, 20_003, 7]) / 65535 * 32768 / 65535, atol=1e-6)
    grey_alpha = srgb_of(png16(rgba[..., [0, 3]]))
    np.testing.assert_allclose(grey_alpha[0, 5], [40_001 / 65535 * 32768 / 65535] * 3, atol=1e-6)


def test_sixteen_bit_png_is_turned_upright_by_its_exif_chunk_and_keeps_the_rest() -> None:
    levels = np.zeros((32, 64, 3), dtype=np.uint16)
    levels[:, :32, 0] = 65535  # left half red
    exif = Image.Exif()
    exif[0x0112], exif[0x0110] = 6, "NightCam X1"  # stored rotated: turn 90 degrees clockwise to view
    frame = decode(png16(levels, (b"eXIf", exif.tobytes())), InputKind.SRGB)
    assert isinstance(frame, SrgbFrame) and frame.rgb.shape == (64, 32, 3)
    assert frame.rgb[:28, :, 0].min() == 1.0 and frame.rgb[36:, :, 0].max() == 0.0  # the left half is on top
    assert frame.meta.exif is not None
    kept = Image.Exif()
    kept.load(frame.meta.exif)
    assert (kept[0x0112], kept[0x0110]) == (1, "NightCam X1")


def srgb_of(data: bytes) -> np.ndarray:
    frame = decode(data, InputKind.SRGB)
    assert isinstance(frame, SrgbFrame) and frame.rgb.shape[2] == 3
    return frame.rgb


def test_palette_grey_and_cmyk_decode_to_rgb() -> None:
    image = Image.new("RGB", (30, 20), (200, 40, 10))
    image.paste((10, 40, 200), (0, 0, 15, 20))
    palette = srgb(image.convert("P", palette=Image.Palette.ADAPTIVE, colors=4), "PNG")
    np.testing.assert_allclose(palette[0, 0], np.array([10, 40, 200]) / 255, atol=1e-6)
    np.testing.assert_allclose(palette[0, 29], np.array([200, 40, 10]) / 255, atol=1e-6)
    grey = srgb(Image.new("L", (30, 20), 90), "JPEG")
    np.testing.assert_allclose(grey, 90 / 255, atol=2 / 255)
    cmyk = srgb(image.convert("CMYK"), "JPEG", quality=95)
    assert cmyk.shape == (20, 30, 3) and cmyk[10, 25, 0] > 0.6 and cmyk[10, 5, 2] > 0.6


def test_transparency_is_composited_over_black() -> None:
    rgba = np.zeros((10, 12, 4), dtype=np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[:, :4, 3] = 255
    rgba[:, 4:8, 3] = 128
    rgb = srgb(Image.fromarray(rgba, "RGBA"), "PNG")
    np.testing.assert_allclose(rgb[0, 0], np.array([200, 100, 50]) / 255, atol=1e-6)
    np.testing.assert_allclose(rgb[0, 5], np.array([200, 100, 50]) / 255 * 128 / 255, atol=1e-6)
    assert rgb[:, 8:].max() == 0.0
    grey_alpha = srgb(Image.fromarray(rgba[..., [0, 3]], "LA"), "PNG")
    np.testing.assert_allclose(grey_alpha[0, 5], 200 / 255 * 128 / 255, atol=1e-6)


# --- bad input ---------------------------------------------------------------------------------------------------


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "kind", "code"),
    [
        (jpeg_bytes()[:1500], InputKind.SRGB, "corrupt-input"),
        (
            png16(np.random.default_rng(5).integers(0, 65536, (40, 50, 3), dtype=np.uint16))[:3000],
            InputKind.SRGB,
            "corrupt-input",
        ),
        (synthetic_dark_dng(64, 96)[:6000], InputKind.RAW, "corrupt-input"),
        (np.random.default_rng(4).bytes(4000), InputKind.RAW, "unsupported-input"),
        (np.random.default_rng(4).bytes(4000), InputKind.SRGB, "unsupported-input"),
        (b"these are my holiday notes\n" * 40, InputKind.RAW, "unsupported-input"),
        (b"these are my holiday notes\n" * 40, InputKind.SRGB, "unsupported-input"),
        (b"", InputKind.SRGB, "corrupt-input"),
    ],
    ids=[
        "truncated-jpeg",
        "truncated-png16",
        "truncated-dng",
        "random-raw",
        "random-srgb",
        "text-raw",
        "text-srgb",
        "empty",
    ],
)
def test_bad_files_raise_a_readable_input_error(data: bytes, kind: InputKind, code: str) -> None:
    with pytest.raises(InputError) as caught:
        decode(data, kind)
    assert caught.value.code == code
    message = str(caught.value)
    assert message == caught.value.message and message.endswith(".") and "b'" not in message


def test_too_many_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(InputError) as raw_error:
        decode(synthetic_dark_dng(64, 96), InputKind.RAW, max_pixels=1000)
    with pytest.raises(InputError) as srgb_error:
        decode(jpeg_bytes(), InputKind.SRGB, max_pixels=1000)
    assert raw_error.value.code == srgb_error.value.code == "too-large"
    assert "megapixels" in str(srgb_error.value)


def test_a_raw_sent_as_srgb_fails_cleanly() -> None:
    with pytest.raises(InputError):
        decode(synthetic_dark_dng(32, 48), InputKind.SRGB)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.zeros((8, 8), dtype=np.float64))  # a TIFF Pillow cannot read either
    with pytest.raises(InputError):
        decode(buffer.getvalue(), InputKind.SRGB)
