"""The classical enhancer and the automatic ratio, on real DNG fixtures decoded by LibRaw."""

from __future__ import annotations

import io

import numpy as np
import pytest
import rawpy

from darkroom.dng import dark_scene, dng_bytes, mosaic_from_linear_rgb, synthetic_dark_dng
from jobs.message import InputKind
from worker.baseline import Baseline, interleave, roll_off
from worker.decode import decode
from worker.exposure import meter_ratio
from worker.frames import RawFrame, SrgbFrame, linear_to_srgb, srgb_to_linear

LUMA = np.array([0.2126, 0.7152, 0.0722])
NEUTRAL = np.array([0.5, 1.0, 0.6])  # the fixtures' camera response to white


def raw_frame(data: bytes) -> RawFrame:
    frame = decode(data, InputKind.RAW)
    assert isinstance(frame, RawFrame)
    return frame


def dng_of(linear_rgb: np.ndarray, pattern: str = "RGGB", orientation: int = 1) -> bytes:
    """A noise-free 14-bit DNG of a linear scene, as the fixtures' camera would record it."""
    signal = mosaic_from_linear_rgb(np.clip(linear_rgb * NEUTRAL, 0, 1), pattern)
    return dng_bytes(np.round(signal * (16383 - 512) + 512).astype(np.uint16), pattern, orientation=orientation)


def luminance(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb @ LUMA)


def centroid(mask: np.ndarray) -> np.ndarray:
    return np.asarray(np.argwhere(mask).mean(axis=0))


def test_output_is_much_brighter_than_a_plain_render_and_not_blown_out() -> None:
    data = synthetic_dark_dng(128, 192, exposure=1 / 100)
    with rawpy.imread(io.BytesIO(data)) as raw:
        plain = raw.postprocess(use_camera_wb=True, no_auto_bright=True, output_bps=8) / 255.0
    out = Baseline().enhance_raw(raw_frame(data), 100.0)
    assert out.shape == (128, 192, 3) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert luminance(out).mean() > 4 * luminance(plain).mean()
    assert luminance(out).mean() < 0.9 and (out >= 0.99).all(axis=-1).mean() < 0.05


def test_colours_survive_every_cfa_phase() -> None:
    scene = np.full((64, 96, 3), 0.3)
    scene[16:48, 24:72] = (0.6, 0.05, 0.05)  # a strong red patch on grey
    outputs = [Baseline().enhance_raw(raw_frame(dng_of(scene / 50, p)), 50.0) for p in ("RGGB", "BGGR", "GRBG", "GBRG")]
    for out in outputs:
        patch, grey = out[24:40, 36:60], out[:8, :16]
        assert patch[..., 0].mean() > 3 * patch[..., 1].mean() and patch[..., 0].mean() > 3 * patch[..., 2].mean()
        np.testing.assert_allclose(grey.mean(axis=(0, 1)), linear_to_srgb(np.full(3, 0.3)), atol=0.02)
    for out in outputs[1:]:  # the phases differ by at most a pixel's shift
        assert np.abs(out[8:-8, 8:-8] - outputs[0][8:-8, 8:-8]).mean() < 0.02


def test_flat_grey_stays_flat_and_neutral() -> None:
    out = Baseline().enhance_raw(raw_frame(dng_of(np.full((32, 48, 3), 0.002))), 100.0)
    np.testing.assert_allclose(out, linear_to_srgb(np.full(3, 0.2)).max(), atol=2e-3)


def test_odd_sized_raw_gives_the_cropped_full_resolution() -> None:
    frame = raw_frame(dng_bytes(np.full((63, 95), 800, dtype=np.uint16), "GBRG"))
    assert Baseline().enhance_raw(frame, 10.0).shape == (62, 94, 3)


def test_orientation_matches_libraws_own_rendering() -> None:
    scene = np.full((32, 48, 3), 0.005)
    scene[:8, :8] = 0.8  # bright top-left corner
    data = dng_of(scene, orientation=6)  # rotate 90 clockwise to display
    frame = raw_frame(data)
    assert frame.flip == 6
    out = Baseline().enhance_raw(frame, 1.0)
    with rawpy.imread(io.BytesIO(data)) as raw:
        reference = raw.postprocess(use_camera_wb=True, no_auto_bright=True, output_bps=8)
    assert out.shape == reference.shape == (48, 32, 3)
    bright = luminance(out) > 0.5
    assert bright[:8, -8:].all() and not bright[12:].any() and not bright[:, :-12].any()  # top-left went top-right
    np.testing.assert_allclose(centroid(bright), centroid(luminance(reference / 255.0) > 0.5), atol=0.5)


@pytest.mark.parametrize("flip", [3, 5, 6])
def test_interleave_orients_like_a_rotation(flip: int) -> None:
    phases = np.random.default_rng(0).random((2, 2, 3, 3, 5)).astype(np.float32)
    upright = interleave(phases, 0)
    turns = {3: 2, 5: 1, 6: -1}[flip]  # 180 degrees, anticlockwise, clockwise
    np.testing.assert_array_equal(interleave(phases, flip), np.rot90(upright, turns))


def test_srgb_enhancement_brightens_and_rolls_off_highlights() -> None:
    scene = dark_scene(48, 64)
    dark = SrgbFrame(linear_to_srgb(scene / 30))
    out = Baseline().enhance_srgb(dark, 30.0)
    assert out.shape == (48, 64, 3) and out.dtype == np.float32
    assert luminance(out).mean() > 2.5 * luminance(dark.rgb).mean()
    np.testing.assert_allclose(srgb_to_linear(out), roll_off(scene), atol=0.03)  # light denoise only
    assert out.max() < 1.0


def test_roll_off_is_identity_below_the_knee_and_stays_below_one() -> None:
    x = np.linspace(0, 5, 501, dtype=np.float32)
    y = roll_off(x)
    np.testing.assert_allclose(y[x <= 0.85], x[x <= 0.85], atol=1e-6)
    assert np.all(np.diff(y) >= 0) and y.max() <= 1.0 and y[-1] > 0.99


# --- automatic ratio ---------------------------------------------------------------------------------------------


def scene_with_mean(mean: float) -> np.ndarray:
    scene = dark_scene(128, 192).astype(np.float64)
    return np.asarray(scene * (mean / luminance(scene).mean()))


def test_the_meter_undoes_a_100x_darkening() -> None:
    ratio = meter_ratio(raw_frame(dng_of(scene_with_mean(0.18) / 100)))
    assert 60 < ratio < 160
    noisy = meter_ratio(raw_frame(synthetic_dark_dng(128, 192, exposure=1 / 100)))  # dark_scene itself is bright
    assert 20 < noisy < 100


def test_the_meter_leaves_a_well_exposed_frame_alone() -> None:
    assert meter_ratio(raw_frame(dng_of(scene_with_mean(0.25)))) == pytest.approx(1.0)
    assert meter_ratio(SrgbFrame(linear_to_srgb(scene_with_mean(0.25)))) == pytest.approx(1.0)


def test_the_meter_on_srgb_linearises_first() -> None:
    ratio = meter_ratio(SrgbFrame(linear_to_srgb(scene_with_mean(0.18) / 50)))
    assert 35 < ratio < 70  # the encoded mean is far above 0.18 / 50: without linearising this would be ~10


def test_the_meter_is_not_held_back_by_a_lamp() -> None:
    linear = np.full((64, 96, 3), 0.0018, dtype=np.float32)
    linear[:4, :4] = 1.0  # a lamp, 0.3% of the frame
    assert meter_ratio(SrgbFrame(linear_to_srgb(linear))) > 80


def test_the_meter_does_not_blow_out_a_lit_subject() -> None:
    linear = np.zeros((100, 100, 3), dtype=np.float32)
    linear[:10] = 0.01  # a lit subject on 10% of a black frame: the mean alone would ask for 180
    assert meter_ratio(SrgbFrame(linear_to_srgb(linear))) <= 101


def test_the_meter_is_clamped() -> None:
    assert meter_ratio(SrgbFrame(np.zeros((8, 8, 3), dtype=np.float32))) == 300.0
    assert meter_ratio(SrgbFrame(np.ones((8, 8, 3), dtype=np.float32))) == 1.0
