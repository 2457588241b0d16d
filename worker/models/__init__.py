"""The learned models: the SID U-Net for RAW and its sRGB sibling, their checkpoints and enhancers.

- ``sid``: the network, one file; ``config``: its config dataclass (no torch).
- ``inputs``: what each network sees (shared by training and inference).
- ``checkpoint``: safetensors weights with their config; pickle-free training state.
- ``tiling``: overlapping tiles whose output equals a single pass.
- ``enhancers``: ``SidEnhancer``, ``SrgbEnhancer`` (the ``Enhancer`` protocol), on either engine:
  ``enhance.ModelRunner`` (PyTorch) or ``ort.GraphRunner`` (ONNX Runtime, no torch).

Names are loaded on first use (PEP 562), so importing an enhancer or the
ONNX Runtime path does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from worker.models.checkpoint import load_model, load_weights, save_weights
    from worker.models.config import CheckpointError, SIDConfig
    from worker.models.enhance import ModelRunner
    from worker.models.enhancers import SidEnhancer, SrgbEnhancer
    from worker.models.sid import SID

WHERE = {
    "SID": "sid",
    "CheckpointError": "config",
    "ModelRunner": "enhance",
    "SIDConfig": "config",
    "SidEnhancer": "enhancers",
    "SrgbEnhancer": "enhancers",
    "load_model": "checkpoint",
    "load_weights": "checkpoint",
    "save_weights": "checkpoint",
}
__all__ = [
    "SID",
    "CheckpointError",
    "ModelRunner",
    "SIDConfig",
    "SidEnhancer",
    "SrgbEnhancer",
    "load_model",
    "load_weights",
    "save_weights",
]


def __getattr__(name: str) -> Any:
    if name not in WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{WHERE[name]}"), name)
