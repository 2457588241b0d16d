"""Which enhancer a worker runs: a setting, not a rebuild.

``baseline`` (the default) is the classical method; ``sid`` runs the learned models: SID on RAW, its sRGB sibling on
JPEG/PNG, measured against it.
Torch is imported only when a learned model is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from worker.baseline import Baseline
from worker.frames import Enhancer
from worker.model_files import resolve_model
from worker.settings import METHODS, ModelChoice

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["METHODS", "ModelChoice", "load_enhancer"]


def load_enhancer(choice: ModelChoice, s3: S3Client | None = None) -> Enhancer:
    """Build the chosen enhancer once, at worker start."""
    if choice.method == "baseline":
        return Baseline()
    if choice.method != "sid":
        raise ValueError(f"unknown method {choice.method!r}; choose from {', '.join(METHODS)}")
    from worker.models import LearnedEnhancer, SidEnhancer, SrgbEnhancer
    from worker.models.device import pick_device

    device = str(pick_device(choice.device))
    raw = SidEnhancer.from_checkpoint(resolve_model(choice.raw_model, choice.cache_dir, s3), device)
    srgb = SrgbEnhancer.from_checkpoint(resolve_model(choice.srgb_model, choice.cache_dir, s3), device)
    return LearnedEnhancer(raw, srgb)
