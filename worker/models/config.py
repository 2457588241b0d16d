"""What a shipping checkpoint says about its network, readable without PyTorch.

The config dataclass, the kinds and the header check live here so that the
ONNX Runtime path (``worker.models.onnx_graph``) can rebuild a network from a
safetensors file on a worker that never imports torch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

FORMAT = "darkroom-sid-1"
KINDS = ("raw", "srgb")


class CheckpointError(ValueError):
    """The file is not a checkpoint this code can load (wrong format, shapes, or pickled objects)."""


@dataclass(frozen=True)
class SIDConfig:
    in_channels: int = 4  # packed Bayer R, G1, B, G2; 12 for the sRGB model (space-to-depth of RGB)
    out_channels: int = 12  # 3 * block_size**2
    width: int = 32  # channels of the first level; the others are 2x, 4x, 8x, 16x
    block_size: int = 2  # depth_to_space factor at the head
    residual: bool = False  # add depth_to_space(input) to the output: the sRGB model predicts a correction


def config_from_dict(values: Mapping[str, Any]) -> SIDConfig:
    names = {f.name for f in fields(SIDConfig)}
    if not isinstance(values, Mapping) or set(values) - names:
        raise CheckpointError(f"not an SIDConfig: {values!r}")
    flags = {"residual"}
    if not all(isinstance(v, bool) == (k in flags) and isinstance(v, int) for k, v in values.items()):
        raise CheckpointError(f"SIDConfig fields must be integers (residual: true or false): {values!r}")
    return SIDConfig(**values)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise CheckpointError(f"model kind must be one of {KINDS}, got {kind!r}")
    return kind


def read_header(source: object, header: Mapping[str, str]) -> tuple[SIDConfig, str]:
    """The config and kind a shipping checkpoint's metadata states; ``source`` names it in errors."""
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{source} is not a darkroom SID checkpoint (format {header.get('format')!r})")
    try:
        config = config_from_dict(json.loads(header["config"]))
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{source} has no readable model config: {exc}") from None
    return config, check_kind(header.get("kind", ""))
