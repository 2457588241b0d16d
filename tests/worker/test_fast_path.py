"""The worker's fast inference path gives the plain fp32 path's output, in fp32 exactly and in bf16 nearly.

Fast path: channels-last, ``inference_mode``, in-place activations, tiles
planned under a memory budget. Plain: the same weights, fp32 NCHW eager
under ``no_grad``, one pass. The runner's ``auto`` precision picks bf16
exactly on CPUs with native bf16 (AVX512_BF16 or AMX; tests/worker/test_sid.py), so
the equality test pins fp32 and bf16 has a test and a tolerance of its own;
both run on every CPU (without native bf16, torch emulates it: slower, same
rounding).

Tolerances on the [0, 1] output, against one 8-bit level (3.9e-3):
- fp32: 1e-4 max absolute difference; measured below 1e-6.
- bf16 (8-bit mantissa): 2e-2 max (five levels) and 2e-3 mean (half a
  level); measured on an AVX512_BF16 Xeon: 5.3e-3 max, 7.8e-4 mean (RAW
  model), 1.2e-3 max, 2.2e-4 mean (sRGB model).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from worker.models.checkpoint import load_model
from worker.models.enhance import ModelRunner, Precision
from worker.models.tiling import plan_tiles

MODELS = Path(__file__).resolve().parents[2] / "worker" / "models"
FP32_TOLERANCE = 1e-4
BF16_MAX_TOLERANCE = 2e-2
BF16_MEAN_TOLERANCE = 2e-3
BUDGET = 60_000  # forces two windows side by side
MODELS_AND_CHANNELS = [("sid-raw.safetensors", 4), ("sid-srgb.safetensors", 12)]


def plain_fp32(path: Path, planes: np.ndarray) -> np.ndarray:
    model, _ = load_model(path)
    with torch.no_grad():
        out = model.eval()(torch.from_numpy(planes)[None]).clamp(0.0, 1.0)
    image: np.ndarray = out[0].permute(1, 2, 0).numpy()
    return image


def fast_and_plain(weights: str, channels: int, precision: Precision) -> tuple[np.ndarray, np.ndarray]:
    """The runner's output at ``precision`` and the plain fp32 output, on the same random planes."""
    planes = (np.random.default_rng(channels).gamma(2.0, 0.1, size=(channels, 150, 403))).astype(np.float32)
    planes = np.clip(planes, 0.0, 1.0)
    model, _ = load_model(MODELS / weights)
    assert plan_tiles(150, 403, BUDGET) != (150, 403)
    runner = ModelRunner(model, precision=precision, max_window_pixels=BUDGET)
    assert runner.bf16 is (precision == "bf16")
    fast = runner(planes)
    plain = plain_fp32(MODELS / weights, planes)
    assert fast.shape == plain.shape == (300, 806, 3)
    return fast, plain


@pytest.mark.parametrize(("weights", "channels"), MODELS_AND_CHANNELS)
def test_the_fast_path_in_fp32_matches_plain_fp32_eager(weights: str, channels: int) -> None:
    fast, plain = fast_and_plain(weights, channels, "fp32")
    assert float(np.abs(fast - plain).max()) <= FP32_TOLERANCE


@pytest.mark.parametrize(("weights", "channels"), MODELS_AND_CHANNELS)
def test_the_fast_path_in_bf16_stays_within_a_few_levels_of_plain_fp32(weights: str, channels: int) -> None:
    fast, plain = fast_and_plain(weights, channels, "bf16")
    difference = np.abs(fast - plain)
    assert float(difference.max()) <= BF16_MAX_TOLERANCE
    assert float(difference.mean()) <= BF16_MEAN_TOLERANCE
    assert float(difference.max()) > 0.0  # bf16 really ran: it rounds
