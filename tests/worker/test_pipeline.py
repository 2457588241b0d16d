"""One upload through decode -> enhance -> encode, as the worker runs it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from darkroom.dng import dark_scene, dng_bytes, synthetic_dark_dng
from jobs.message import InputKind
from worker.baseline import Baseline
from worker.encode import encode_jpeg, to_uint8
from worker.frames import InputError, linear_to_srgb
from worker.pipeline import Enhanced, run_pipeline


def open_jpeg(result: Enhanced) -> Image.Image:
    image = Image.open(io.BytesIO(result.encoded))
    image.load()
    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.size == (result.width, result.height)
    assert set(result.timings) == {"decode", "enhance", "encode"} and min(result.timings.values()) >= 0
    assert result.method == "baseline"
    return image


def dark_jpeg(height: int, width: int) -> bytes:
    buffer = io.BytesIO()
    pixels = np.round(linear_to_srgb(dark_scene(height, width) / 40) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def test_raw_comes_back_as_a_full_size_brighter_jpeg() -> None:
    result = run_pipeline(synthetic_dark_dng(128, 192, exposure=1 / 100), InputKind.RAW, None, Baseline())
    image = open_jpeg(result)
    assert (result.width, result.height) == (192, 128)
    assert 20 < result.ratio_used < 100
    assert 0.3 < np.asarray(image).mean() / 255 < 0.9


def test_odd_sized_raw_reports_the_cropped_size() -> None:
    result = run_pipeline(dng_bytes(np.full((63, 95), 700, dtype=np.uint16)), InputKind.RAW, 20.0, Baseline())
    assert open_jpeg(result).size == (94, 62)
    assert result.ratio_used == 20.0


def test_srgb_keeps_its_size_and_uses_the_given_ratio() -> None:
    data = dark_jpeg(96, 128)
    result = run_pipeline(data, InputKind.SRGB, 40.0, Baseline())
    image = open_jpeg(result)
    assert image.size == (128, 96) and result.ratio_used == 40.0
    before = np.asarray(Image.open(io.BytesIO(data))).mean()
    assert np.asarray(image).mean() > 2.5 * before


def test_a_bad_upload_raises_input_error() -> None:
    with pytest.raises(InputError) as caught:
        run_pipeline(b"not a photo at all", InputKind.SRGB, None, Baseline())
    assert caught.value.code == "unsupported-input"


def test_encode_rounds_to_the_nearest_level() -> None:
    levels = to_uint8(np.array([-0.5, 0.0, 100.4 / 255, 100.6 / 255, 1.0, 2.0, np.nan], dtype=np.float32))
    np.testing.assert_array_equal(levels, [0, 0, 100, 101, 255, 255, 0])
    grey = np.full((16, 16, 3), 0.5, dtype=np.float32)
    pixels = np.asarray(Image.open(io.BytesIO(encode_jpeg(grey))))
    assert pixels.shape == (16, 16, 3) and np.abs(pixels.astype(int) - 128).max() <= 1
