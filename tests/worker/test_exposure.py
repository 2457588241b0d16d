"""worker/exposure.py's own tests: exact luminance and meter values, so a changed operator or bound fails here.

Frames are built directly (no files): constant planes give luminance and
ratios that can be computed by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

from worker.exposure import (
    CLIP_PERCENTILE,
    FEATURE_PERCENTILES,
    LUMINANCE,
    MAX_SAMPLES,
    TARGET_MEAN,
    ExposureModel,
    exposure_features,
    frame_luminance,
    meter_ratio,
)
from worker.frames import RawFrame, SrgbFrame, linear_to_srgb

WHITE_BALANCE = np.array([2.0, 1.0, 1.5], dtype=np.float32)


def raw_of(red: float, green1: float, blue: float, green2: float, size: tuple[int, int] = (8, 8)) -> RawFrame:
    planes = np.stack([np.full(size, value, dtype=np.float32) for value in (red, green1, blue, green2)])
    return RawFrame(packed=planes, white_balance=WHITE_BALANCE, cam_to_srgb=np.eye(3, dtype=np.float32), flip=0)


def test_raw_luminance_is_white_balanced_camera_rgb_through_the_colour_matrix() -> None:
    frame = raw_of(0.01, 0.02, 0.03, 0.04)
    camera = np.array([0.01 * 2.0, (0.02 + 0.04) / 2 * 1.0, 0.03 * 1.5])  # multiplied, greens averaged
    expected = float(LUMINANCE @ camera)
    np.testing.assert_allclose(frame_luminance(frame), expected, rtol=1e-6)
    swapped = RawFrame(frame.packed, WHITE_BALANCE, np.eye(3, dtype=np.float32)[[2, 1, 0]], 0)  # red <-> blue
    np.testing.assert_allclose(frame_luminance(swapped), float(LUMINANCE @ camera[[2, 1, 0]]), rtol=1e-6)


def test_the_meter_brings_a_flat_frame_exactly_to_mid_grey() -> None:
    frame = raw_of(0.001, 0.002, 0.003, 0.002)
    luminance = float(LUMINANCE @ np.array([0.002, 0.002, 0.0045]))
    assert meter_ratio(frame) == pytest.approx(TARGET_MEAN / luminance, rel=1e-5)


def test_the_meter_stays_within_the_apis_range() -> None:
    assert meter_ratio(raw_of(0.0, 0.0, 0.0, 0.0)) == 300.0  # black: as far as allowed
    assert meter_ratio(raw_of(0.5, 0.5, 0.5, 0.5)) == 1.0  # already bright: never darkened


def test_lamps_are_capped_and_no_more_than_three_percent_is_pushed_past_white() -> None:
    rgb = linear_to_srgb(np.full((100, 100, 3), 0.002, dtype=np.float32))
    rgb[:1, :50] = 1.0  # half a percent of lamps: capped at the 99th percentile, the room still gets mid-grey
    assert meter_ratio(SrgbFrame(rgb)) == pytest.approx(TARGET_MEAN / 0.002, rel=1e-3)
    rgb[:5] = linear_to_srgb(np.full((5, 100, 3), 0.05, dtype=np.float32))  # 5% at 25x: it may not pass white
    assert meter_ratio(SrgbFrame(rgb)) == pytest.approx(1 / 0.05, rel=1e-3)  # the meter alone would say 41
    assert CLIP_PERCENTILE == 97.0


@pytest.mark.parametrize(
    ("height", "width", "sampled"), [(1000, 1000, 500 * 500), (1024, 1024, 512 * 512), (2000, 500, 1000 * 250)]
)
def test_large_frames_are_sampled_on_a_regular_grid(height: int, width: int, sampled: int) -> None:
    rgb = np.zeros((height, width, 3), dtype=np.float32)
    rgb[::2, ::2] = 0.5  # only the grid a stride of 2 samples is lit
    luminance = frame_luminance(SrgbFrame(rgb))
    assert height * width > MAX_SAMPLES and luminance.size == sampled <= MAX_SAMPLES
    np.testing.assert_allclose(luminance, luminance[0])  # every sample on the lit grid
    assert luminance[0] > 0.2


@pytest.mark.parametrize(("size", "sampled"), [((600, 600), 300 * 300), ((1200, 300), 600 * 150)])
def test_a_large_raw_frame_is_sampled_too(size: tuple[int, int], sampled: int) -> None:
    frame = raw_of(0.01, 0.02, 0.03, 0.02, size=size)  # 360,000 sites: stride 2
    assert frame_luminance(frame).size == sampled


def test_exposure_features_are_log_percentiles_and_the_mean_with_lamps_capped() -> None:
    luminance = np.linspace(0.0, 1.0, 10_001) ** 3
    features = exposure_features(luminance)
    assert features.size == len(FEATURE_PERCENTILES) + 1
    np.testing.assert_allclose(features[:-1], np.log2(np.percentile(luminance, FEATURE_PERCENTILES) + 1e-6))
    capped = np.minimum(luminance, np.percentile(luminance, 99.0)).mean()
    np.testing.assert_allclose(features[-1], np.log2(capped + 1e-6))


def test_a_small_frame_is_read_whole() -> None:
    assert frame_luminance(SrgbFrame(np.zeros((10, 30, 3), dtype=np.float32))).size == 300


def test_the_learned_ratio_is_held_down_so_one_percent_at_most_passes_white() -> None:
    luminance = np.linspace(0.001, 0.02, 10_000)
    features = exposure_features(luminance)
    free = ExposureModel(np.zeros(features.size), 3.0)  # log2 ratio 3: 8x
    assert free.ratio(luminance) == pytest.approx(8.0)
    greedy = ExposureModel(np.zeros(features.size), 10.0)  # 1024x would blow out the top
    assert greedy.ratio(luminance) == pytest.approx(1 / np.percentile(luminance, 99.0), rel=1e-4)
