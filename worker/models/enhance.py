"""The torch path: ``ModelRunner`` runs a network for the enhancers of ``worker.models.enhancers``.

Inference is set up once, at worker start: the model in eval mode and
channels-last (1.5-1.9x faster than NCHW on CPU), ``torch.inference_mode``,
in-place activations, and bf16
autocast where it pays: always on a GPU that supports it; on a CPU where it
is native (AVX512_BF16 or AMX: 2.3x faster than fp32 channels-last on a full
frame on an AMD EPYC with AVX512_BF16). CPUs without native bf16 emulate it
and are slower (1.8x slower on AVX-512 CPUs without AVX512_BF16); see
BENCHMARKS.md. A quick timing on a 128x128 input used to decide, and on the
native-bf16 EPYC it picked fp32 about as often as bf16, so it is gone. Frames beyond a pixel budget run in
overlapping tiles whose stitched output equals the one-pass output (see
``tiling``), which keeps a full Sony frame (or bigger) under 2 GB.

Measured and not used (bench/inference.py, on 2 AVX-512 cores):
TorchScript's ``optimize_for_inference`` (oneDNN blocked layout, fused
conv + leaky ReLU) is 1.3-1.7x faster than eager channels-last on 512x512
inputs but no faster than plain fp32 NCHW on full-frame windows, and
``torch.compile`` took ~3 minutes to compile and was barely faster than eager.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from worker.models.checkpoint import CheckpointError, load_model
from worker.models.device import native_cpu_bf16
from worker.models.sid import SID
from worker.models.tiling import MARGIN, MAX_WINDOW_PIXELS, forward_tiled, plan_tiles

Precision = Literal["auto", "fp32", "bf16"]
GPU_BYTES_PER_PIXEL = 1_000  # SID's activations per input pixel, with room to spare (under 700 in fp32)


def _window_budget(device: torch.device) -> int:
    """Input pixels per pass: the CPU budget, or on a GPU what half its free memory holds (no tiles, mostly)."""
    if device.type != "cuda":
        return MAX_WINDOW_PIXELS
    free, _ = torch.cuda.mem_get_info(device)
    return max(MAX_WINDOW_PIXELS, int(free * 0.5 / GPU_BYTES_PER_PIXEL))


class ModelRunner:
    """One network, ready for inference: (C, h, w) array in, clipped float32 (h*bs, w*bs, 3) out."""

    def __init__(
        self,
        model: SID,
        device: str = "cpu",
        precision: Precision = "auto",
        max_window_pixels: int | None = None,
        margin: int = MARGIN,
    ) -> None:
        self.device = torch.device(device)
        self.model: SID = model.eval().to(self.device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.max_window_pixels = max_window_pixels or _window_budget(self.device)
        self.margin = margin
        self.config = model.config
        if precision == "auto":
            if self.device.type == "cuda":
                self.bf16 = torch.cuda.is_bf16_supported()
            else:  # native bf16 (AVX512_BF16, AMX) is 2.3x faster on a full frame; emulated, 2x slower
                self.bf16 = native_cpu_bf16()
        else:
            self.bf16 = precision == "bf16"

    def _forward(self, x: Tensor) -> np.ndarray:
        out: Tensor = self.model(x.contiguous(memory_format=torch.channels_last))
        hwc: np.ndarray = out[0].permute(1, 2, 0).float().cpu().numpy()
        return hwc

    def __call__(self, planes: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32))[None].to(self.device)
        height, width = x.shape[-2:]
        tile = plan_tiles(height, width, self.max_window_pixels, self.margin)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = forward_tiled(self._forward, x, self.model.config.block_size, tile, self.margin)
        np.clip(out, 0.0, 1.0, out=out)
        return out


def load_kind(path: Path, kind: str) -> SID:
    """The network in ``path``, which must be of ``kind`` ("raw" or "srgb")."""
    model, found = load_model(path)
    if found != kind:
        raise CheckpointError(f"{path} holds a {found!r} model, not {kind!r}")
    return model
