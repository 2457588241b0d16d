"""Which enhancer a worker runs, for each kind of input: a setting, not a rebuild.

``sid`` runs a learned model (SID on RAW, its sRGB sibling on JPEG/PNG);
``baseline`` is the classical method. The defaults follow the evaluation
(``worker/models/README.md``): a learned model is the default for its kind
only once it beats ``baseline`` there. Torch is imported only when a learned
model is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from worker.baseline import Baseline
from worker.frames import ByKind, Enhancer
from worker.model_files import resolve_model
from worker.settings import METHODS, ModelChoice

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["METHODS", "ModelChoice", "load_enhancer"]


def load_enhancer(choice: ModelChoice, s3: S3Client | None = None) -> Enhancer:
    """Build the chosen enhancers once, at worker start: one for RAW, one for JPEG/PNG."""
    for method in (choice.method, choice.srgb_method):
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if choice.method == choice.srgb_method == "baseline":
        return Baseline()
    from worker.models import SidEnhancer, SrgbEnhancer
    from worker.models.device import pick_device

    device = str(pick_device(choice.device))
    raw: Enhancer = Baseline()
    srgb: Enhancer = Baseline()
    if choice.method == "sid":
        raw = SidEnhancer.from_checkpoint(resolve_model(choice.raw_model, choice.cache_dir, s3), device)
    if choice.srgb_method == "sid":
        srgb = SrgbEnhancer.from_checkpoint(resolve_model(choice.srgb_model, choice.cache_dir, s3), device)
    return ByKind(raw, srgb)
