"""The worker's fast inference path gives the plain fp32 path's output.

Fast path: channels-last, ``inference_mode``, in-place activations, precision
chosen for the CPU (fp32 unless it has native bf16), tiles planned under a
memory budget. Plain: the same weights, fp32 NCHW eager under ``no_grad``,
one pass. Tolerance in fp32: 1e-4 max absolute difference on the [0, 1]
output, far below one 8-bit level (3.9e-3); measured differences are below
1e-6. In bf16 (CPUs with AVX512_BF16 or AMX): two 8-bit levels at most,
measured 5.3e-3, and 1e-3 on average.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from worker.models.checkpoint import load_model
from worker.models.enhance import ModelRunner
from worker.models.tiling import plan_tiles

MODELS = Path(__file__).resolve().parents[2] / "worker" / "models"
TOLERANCE = 1e-4
BF16_TOLERANCE = 2 / 255


def plain_fp32(path: Path, planes: np.ndarray) -> np.ndarray:
    model, _ = load_model(path)
    with torch.no_grad():
        out = model.eval()(torch.from_numpy(planes)[None]).clamp(0.0, 1.0)
    image: np.ndarray = out[0].permute(1, 2, 0).numpy()
    return image


@pytest.mark.parametrize(("weights", "channels"), [("sid-raw.safetensors", 4), ("sid-srgb.safetensors", 12)])
def test_the_fast_path_matches_plain_fp32_eager(weights: str, channels: int) -> None:
    planes = (np.random.default_rng(channels).gamma(2.0, 0.1, size=(channels, 150, 403))).astype(np.float32)
    planes = np.clip(planes, 0.0, 1.0)
    model, _ = load_model(MODELS / weights)
    budget = 60_000  # forces two windows side by side
    assert plan_tiles(150, 403, budget) != (150, 403)
    runner = ModelRunner(model, precision="auto", max_window_pixels=budget)
    fast = runner(planes)
    plain = plain_fp32(MODELS / weights, planes)
    assert fast.shape == plain.shape == (300, 806, 3)
    difference = np.abs(fast - plain)
    if runner.bf16:
        assert float(difference.max()) <= BF16_TOLERANCE and float(difference.mean()) <= 1e-3
    else:
        assert float(difference.max()) <= TOLERANCE
