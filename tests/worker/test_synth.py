"""Synthetic training data: statistics, shapes, sensor quantisation, CFA packing and the split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from darkroom.dng import dng_bytes, mosaic_from_linear_rgb
from worker.decode import decode_raw
from worker.frames import srgb_to_linear
from worker.synth import (
    PATTERNS,
    Noise,
    NoiseModel,
    RawSynthConfig,
    inverse_smoothstep,
    lol_pairs,
    mosaic,
    pack,
    pair_ratio,
    read_srgb,
    smoothstep,
    split,
    synth_raw_pair,
    synth_srgb_pair,
)

SPAN = 16383 - 512


def photo(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([0.3 + 0.5 * x, 0.2 + 0.6 * y, 0.5 - 0.3 * x * y], axis=-1)
    return np.clip(base + rng.normal(0, 0.02, base.shape), 0, 1).astype(np.float32)


def test_noise_variance_grows_with_signal_as_the_model_says() -> None:
    noise = Noise(shot=1e-4, read=1e-7)
    rng = np.random.default_rng(0)
    means, variances = [], []
    for level in (0.2, 0.5, 0.8):
        flat = np.full((256, 256, 3), level, np.float32)
        pair = synth_raw_pair(flat, rng, pattern="RGGB", ratio=100.0, noise=noise)
        green = pair.packed[1]
        means.append(float(green.mean()))
        variances.append(float(green.var()))
        expected = noise.shot * green.mean() + noise.read + 1 / (12 * SPAN**2)  # shot + read + quantisation
        assert green.var() == pytest.approx(expected, rel=0.1)
    assert means[0] < means[1] < means[2]
    assert variances[0] < variances[1] < variances[2]


def test_read_noise_is_log_linear_in_shot_noise() -> None:
    model = NoiseModel()
    rng = np.random.default_rng(1)
    levels = [model.sample(rng) for _ in range(4000)]
    log_shot = np.log([n.shot for n in levels])
    log_read = np.log([n.read for n in levels])
    slope, intercept = np.polyfit(log_shot, log_read, 1)
    assert slope == pytest.approx(2.18, abs=0.02)
    assert intercept == pytest.approx(1.20, abs=0.2)
    assert np.std(log_read - (slope * log_shot + intercept)) == pytest.approx(0.26, abs=0.02)
    assert min(n.shot for n in levels) >= 1e-5 and max(n.shot for n in levels) <= 1e-3


def test_raw_pair_shapes_and_ranges() -> None:
    pair = synth_raw_pair(photo(51, 66), np.random.default_rng(2))
    assert pair.packed.shape == (4, 25, 33) and pair.packed.dtype == np.float32
    assert pair.target.shape == (50, 66, 3) and pair.target.dtype == np.float32
    assert pair.mosaic.shape == (50, 66) and pair.mosaic.dtype == np.uint16
    assert 50.0 <= pair.ratio <= 300.0
    assert pair.pattern in PATTERNS
    assert pair.packed.min() >= 0.0 and pair.packed.max() <= 1.0 / 50  # dark: at most 1/ratio of white, plus noise


def test_quantised_to_14_bits_above_a_black_level() -> None:
    pair = synth_raw_pair(np.zeros((64, 64, 3), np.float32), np.random.default_rng(3), ratio=300.0)
    assert pair.mosaic.max() <= 16383
    assert np.any(pair.mosaic < 512) and np.any(pair.mosaic > 512)  # read noise straddles the black level
    steps = pair.packed * SPAN
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)  # whole sensor units
    expected = pack(np.maximum(pair.mosaic.astype(np.float32) - 512, 0) / SPAN, pair.pattern)
    np.testing.assert_array_equal(pair.packed, expected)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_cfa_packing_matches_the_dng_writer_and_the_decoder(pattern: str) -> None:
    linear = np.random.default_rng(4).random((32, 48, 3)).astype(np.float32)
    assert np.array_equal(mosaic(linear, pattern), mosaic_from_linear_rgb(linear, pattern))

    pair = synth_raw_pair(photo(), np.random.default_rng(5), pattern=pattern)
    gains = pair.white_balance
    data = dng_bytes(pair.mosaic, pattern, 512, 16383, (1 / gains[0], 1.0, 1 / gains[2]), pair.xyz_to_cam)
    frame = decode_raw(data)
    np.testing.assert_allclose(frame.packed, pair.packed, atol=1e-6)
    np.testing.assert_allclose(frame.white_balance, gains, rtol=1e-3)


def test_phases_pack_the_same_scene_alike() -> None:
    """A flat-colour scene packs to the same planes whatever the CFA phase: G1 on red's row, G2 on blue's."""
    flat = np.broadcast_to(np.array([0.1, 0.5, 0.9], np.float32), (8, 8, 3))
    packed = [pack(mosaic(flat, pattern), pattern) for pattern in PATTERNS]
    for planes in packed:
        np.testing.assert_array_equal(planes[:, 0, 0], np.array([0.1, 0.5, 0.9, 0.5], np.float32))
    rows = np.arange(8, dtype=np.float32)[:, None, None] * np.ones((8, 8, 3), np.float32)  # row index everywhere
    for pattern in PATTERNS:
        red, green1, blue, green2 = pack(mosaic(rows, pattern), pattern)[:, 0, 0]
        assert red == green1 and blue == green2 and red != blue


def test_inverse_tone_curve() -> None:
    y = np.linspace(0, 1, 101)
    np.testing.assert_allclose(smoothstep(inverse_smoothstep(y)), y, atol=1e-9)


def test_srgb_pair_is_darker_by_the_ratio_in_8_bit_steps() -> None:
    clean = photo(64, 64)
    pair = synth_srgb_pair(clean, np.random.default_rng(6))
    assert pair.dark.shape == clean.shape and pair.dark.dtype == np.float32
    np.testing.assert_allclose(pair.dark * 255, np.round(pair.dark * 255), atol=1e-3)
    assert 5.0 <= pair.ratio <= 200.0
    assert pair_ratio(pair.dark, pair.target) == pytest.approx(pair.ratio, rel=0.25)
    assert srgb_to_linear(pair.dark).mean() < srgb_to_linear(clean).mean() / 4


def test_split_is_deterministic_and_disjoint() -> None:
    paths = [Path(f"/data/{i:04d}.png") for i in range(2000)]
    train, validation = split(paths, 0.1)
    assert set(split(paths[::-1], 0.1)[1]) == set(validation)  # order does not matter
    assert not set(train) & set(validation)
    assert set(train) | set(validation) == set(paths)
    assert 150 < len(validation) < 250
    elsewhere = [Path("lol/low") / p.name for p in validation]
    assert split(elsewhere, 0.1) == ([], elsewhere)  # by name: a low/normal pair falls on the same side


def test_lol_pairs_and_reading(tmp_path: Path) -> None:
    for folder in ("low", "normal"):
        (tmp_path / folder).mkdir()
    for name in ("1.png", "2.png"):
        Image.fromarray(np.full((4, 6, 3), 10, np.uint8)).save(tmp_path / "low" / name)
    Image.fromarray(np.full((4, 6, 3), 200, np.uint8)).save(tmp_path / "normal" / "1.png")
    pairs = lol_pairs(tmp_path)
    assert pairs == [(tmp_path / "low" / "1.png", tmp_path / "normal" / "1.png")]  # 2.png has no partner
    low = read_srgb(pairs[0][0])
    assert low.shape == (4, 6, 3) and low.dtype == np.float32
    assert pair_ratio(low, read_srgb(pairs[0][1])) > 50


def test_random_camera_changes_colour_matrix_only_when_asked() -> None:
    fixed = [synth_raw_pair(photo(8, 8), np.random.default_rng(s)).xyz_to_cam for s in range(3)]
    mixed = [synth_raw_pair(photo(8, 8), np.random.default_rng(s), RawSynthConfig(random_camera=True)) for s in (0, 1)]
    assert all(np.allclose(m, fixed[0]) for m in fixed)
    assert not np.allclose(mixed[0].xyz_to_cam, mixed[1].xyz_to_cam)
