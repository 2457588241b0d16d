"""Where a network runs and in what precision: one answer for inference, training and evaluation."""

from __future__ import annotations

import torch


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: the GPU when there is one, else the CPU; any other name ("cpu", "cuda:1") as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def native_cpu_bf16() -> bool:
    """AVX512_BF16 or AMX: the only CPUs where bf16 can beat fp32 (elsewhere it is emulated, and slower)."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def fast_dtype(device: torch.device) -> torch.dtype:
    """The autocast dtype that pays on ``device``: bf16 on GPUs that have it and native-bf16 CPUs, else fp32."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if native_cpu_bf16() else torch.float32
