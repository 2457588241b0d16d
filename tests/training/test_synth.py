"""Batched synthesis: noise statistics, sensor quantisation, CFA packing, the sRGB path and the JPEG round trip."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from darkroom.dng import dng_bytes, mosaic_from_linear_rgb
from training.jpeg import jpeg_round_trip
from training.metrics import psnr
from training.synth import (
    PATTERNS,
    SENSOR_LEVELS,
    NoiseModel,
    RawBatch,
    RawSynthConfig,
    SrgbSynthConfig,
    inverse_smoothstep,
    linear_to_srgb,
    raw_input,
    srgb_input,
    srgb_to_linear,
    synth_raw,
    synth_srgb,
)
from worker.decode import decode_raw
from worker.frames import linear_to_srgb as np_linear_to_srgb
from worker.frames import srgb_to_linear as np_srgb_to_linear
from worker.models.inputs import raw_model_input, srgb_model_input

FLAT = RawSynthConfig(noise=NoiseModel(shot_range=(1e-4, 1e-4), read_sigma=0.0))


def photos(count: int = 2, height: int = 48, width: int = 64, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    base = torch.stack([0.3 + 0.5 * x, 0.2 + 0.6 * y, 0.5 - 0.3 * x * y])
    return (base + 0.02 * torch.randn(count, 3, height, width, generator=generator)).clamp(0, 1).double()


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_noise_variance_follows_the_model_at_each_signal_level() -> None:
    shot, read = NoiseModel(shot_range=(1e-4, 1e-4), read_sigma=0.0).sample(1, seeded(0))
    for level in (0.2, 0.5, 0.8):
        batch = synth_raw(torch.full((1, 3, 256, 256), level, dtype=torch.float64), seeded(1), config=FLAT, ratio=100)
        green = batch.packed[0, 1]
        span = float(batch.white_level[0] - batch.black_level[0])
        expected = float(shot) * float(green.mean()) + float(read) + 1 / (12 * span**2)  # shot + read + rounding
        assert float(green.var()) == pytest.approx(expected, rel=0.1)


def test_read_noise_is_log_linear_in_shot_noise() -> None:
    shot, read = NoiseModel().sample(4000, seeded(1))
    slope, intercept = np.polyfit(np.log(shot.numpy()), np.log(read.numpy()), 1)
    assert slope == pytest.approx(2.18, abs=0.02) and intercept == pytest.approx(1.20, abs=0.2)
    assert float(shot.min()) >= 1e-5 and float(shot.max()) <= 1e-3


def test_a_raw_batch_has_the_network_shapes_and_varies_per_example() -> None:
    batch = synth_raw(photos(64, 32, 48), seeded(2))
    assert batch.inputs.shape == (64, 4, 16, 24) and batch.targets.shape == (64, 3, 32, 48)
    assert float(batch.inputs.min()) >= 0 and float(batch.inputs.max()) <= 1
    assert set(batch.patterns) == set(PATTERNS)
    assert {(int(b), int(w)) for b, w in zip(batch.black_level, batch.white_level, strict=True)} == set(SENSOR_LEVELS)
    assert 50 <= float(batch.ratio.min()) < float(batch.ratio.max()) <= 300
    assert len(set(batch.white_balance[:, 0].tolist())) == 64  # red gain drawn per example
    assert float(batch.packed.max()) < 1 / 50 + 0.01  # dark: at most 1/ratio of white, plus noise


def test_sensor_values_are_whole_units_above_the_black_level() -> None:
    noisy = RawSynthConfig(noise=NoiseModel(shot_range=(1e-3, 1e-3)))  # read noise of a few units
    batch = synth_raw(torch.zeros(8, 3, 64, 64, dtype=torch.float64), seeded(3), config=noisy, ratio=300.0)
    assert torch.equal(batch.sensor, batch.sensor.round())
    for i in range(8):
        black, white = float(batch.black_level[i]), float(batch.white_level[i])
        assert float(batch.sensor[i].max()) <= white
        assert bool((batch.sensor[i] < black).any() and (batch.sensor[i] > black).any())  # read noise straddles it


@pytest.mark.parametrize("seed", range(6))
def test_packing_matches_the_dng_writer_and_the_decoder(seed: int) -> None:
    batch = synth_raw(photos(1), seeded(seed))
    pattern = batch.patterns[0]
    mosaic = batch.mosaic(0).numpy().astype(np.uint16)
    linear = np.random.default_rng(seed).random((8, 8, 3)).astype(np.float32)
    assert mosaic_from_linear_rgb(linear, pattern).shape == (8, 8)  # the writer takes the same pattern names
    red, _, blue = (float(1 / g) for g in batch.white_balance[0])
    black, white = int(batch.black_level[0]), int(batch.white_level[0])
    frame = decode_raw(dng_bytes(mosaic, pattern, black, white, (red, 1.0, blue), batch.xyz_to_cam[0].numpy()))
    np.testing.assert_allclose(frame.packed, batch.packed[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(frame.white_balance, batch.white_balance[0].numpy(), rtol=1e-3)


def test_every_cfa_phase_packs_a_flat_scene_alike() -> None:
    """G1 is the green on red's row and G2 the one on blue's, whatever the phase."""
    flat = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)[None, :, None, None].expand(64, 3, 8, 8)
    config = RawSynthConfig(noise=NoiseModel(shot_range=(1e-12, 1e-12), read_intercept=-60), red_gain_range=(1, 1),
                            blue_gain_range=(1, 1))  # fmt: skip
    batch = synth_raw(flat.clone(), seeded(4), config=config, ratio=1.0)
    planes = batch.inputs.mean(dim=(2, 3))
    assert set(batch.patterns) == set(PATTERNS)
    torch.testing.assert_close(planes, planes[:1].expand_as(planes), atol=2e-3, rtol=0)
    assert float((planes[:, 1] - planes[:, 3]).abs().max()) < 2e-3  # both greens alike


def test_a_seed_is_the_same_camera_at_every_ratio() -> None:
    first, again, brighter = (synth_raw(photos(3), seeded(5), ratio=r) for r in (100.0, 100.0, 250.0))
    assert torch.equal(first.sensor, again.sensor)
    assert brighter.patterns == first.patterns and torch.equal(brighter.white_balance, first.white_balance)

    def light(batch: RawBatch) -> float:  # before clipping at the black level, which biases dark values up
        return float((batch.sensor - batch.black_level[:, None, None, None]).mean())

    assert light(brighter) == pytest.approx(light(first) * 100 / 250, rel=0.03)


def test_inverse_tone_curve() -> None:
    y = torch.linspace(0, 1, 101, dtype=torch.float64)
    x = inverse_smoothstep(y)
    torch.testing.assert_close(x * x * (3 - 2 * x), y)


def test_network_inputs_and_curves_are_the_inference_definitions() -> None:
    """Training builds inputs in torch, the worker in numpy: the same numbers."""
    rng = np.random.default_rng(6)
    values = rng.random((3, 16, 16)).astype(np.float32)
    torch.testing.assert_close(srgb_to_linear(torch.from_numpy(values)).numpy(), np_srgb_to_linear(values))
    torch.testing.assert_close(linear_to_srgb(torch.from_numpy(values)).numpy(), np_linear_to_srgb(values))
    packed, gains = rng.random((4, 8, 8)).astype(np.float32) / 50, np.array([2.1, 1.0, 1.7], np.float32)
    ours = raw_input(torch.from_numpy(packed)[None], torch.tensor([80.0]), torch.from_numpy(gains)[None])
    np.testing.assert_allclose(ours[0].numpy(), raw_model_input(packed, 80.0, gains), atol=1e-6)
    dark = np.round(rng.random((16, 24, 3)) * 40) / 255
    ours = srgb_input(torch.from_numpy(dark).permute(2, 0, 1)[None].float(), torch.tensor([20.0]))
    np.testing.assert_allclose(ours[0].numpy(), srgb_model_input(dark.astype(np.float32), 20.0), atol=1e-5)


def test_srgb_batches_are_darker_by_their_ratio_in_8_bit_steps() -> None:
    clean = photos(16, 64, 64)
    dark, ratio = synth_srgb(clean, seeded(7), config=SrgbSynthConfig(jpeg_share=0.5))
    assert dark.shape == clean.shape and float(ratio.min()) >= 5 and float(ratio.max()) <= 200
    torch.testing.assert_close(dark * 255, (dark * 255).round())
    light = srgb_to_linear(clean).mean(dim=(1, 2, 3)) / srgb_to_linear(dark).mean(dim=(1, 2, 3)).clamp_min(1e-6)
    assert np.corrcoef(np.log(light.numpy()), np.log(ratio.numpy()))[0, 1] > 0.9


@pytest.mark.parametrize("quality", [30, 75, 95])
def test_the_jpeg_round_trip_is_libjpegs_to_within_its_integer_rounding(quality: int) -> None:
    image = photos(1, 64, 96, seed=8)[0].permute(1, 2, 0).numpy()
    encoded = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(encoded, "JPEG", quality=quality, subsampling=2)
    pillow = np.asarray(Image.open(encoded), dtype=np.float64) / 255
    ours = jpeg_round_trip(torch.from_numpy(image).permute(2, 0, 1)[None], torch.tensor([quality]))[0]
    ours_image = ours.permute(1, 2, 0).numpy()
    assert psnr(ours_image, pillow) > 38  # far closer to libjpeg's output than either is to the original
    assert psnr(ours_image, image) == pytest.approx(psnr(pillow, image), abs=1.0)
