"""The learned models: the SID U-Net for RAW and its sRGB sibling, their checkpoints and enhancers.

- ``sid``: the network, one file and a config dataclass.
- ``inputs``: what each network sees (shared by training and inference).
- ``checkpoint``: safetensors weights with their config; pickle-free training state.
- ``tiling``: overlapping tiles whose output equals a single pass.
- ``enhance``: ``SidEnhancer``, ``SrgbEnhancer`` (the ``Enhancer`` protocol).
"""

from __future__ import annotations

from worker.models.checkpoint import CheckpointError, load_model, load_weights, save_weights
from worker.models.enhance import ModelRunner, SidEnhancer, SrgbEnhancer
from worker.models.sid import SID, SIDConfig

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
