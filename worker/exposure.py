"""Choose how much to amplify a dark frame when the caller did not say.

Two ways, one answer for each kind of input:

- The meter (``meter_ratio``): a camera's averaging light meter applied after
  the fact. Scale the frame so its mean linear luminance lands on mid-grey
  (0.18). The brightest 1% (street lights, lamps) is capped before averaging,
  so a lamp in the frame does not leave the room dark; and no more than 3% of
  the picture may be pushed past white, so a lit subject on a black
  background is not blown out.
- The learned exposure (``ExposureModel``): a linear model on the log of
  luminance percentiles, fitted by ``python -m training.exposure`` on real
  dark/normal pairs and on darkened clean photos, and shipped as
  ``worker/models/exposure.json`` (a few numbers). Night photos are not meant
  to look like mid-grey noon: it learns how bright people made them. It,
  too, pushes no more than 1% of the picture past white.

``auto_ratio`` uses the learned model for a kind of input when one is
shipped for it (it is shipped only where it beat the meter on held-out
data), else the meter.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from jobs.message import RATIO_MAX, RATIO_MIN
from worker.frames import Frame, RawFrame, srgb_to_linear

TARGET_MEAN = 0.18  # linear mid-grey, what exposure meters aim for
LIGHTS_PERCENTILE = 99.0  # pixels above this are treated as light sources when averaging
CLIP_PERCENTILE = 97.0  # at most 3% of pixels may end up above white
MAX_SAMPLES = 1 << 18  # a regular grid of ~260k pixels is plenty for these statistics
LUMINANCE = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)  # Rec. 709 / sRGB Y weights


EXPOSURE_FILE = Path(__file__).resolve().parent / "models" / "exposure.json"
FEATURE_PERCENTILES = (1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 97.0, 99.0, 99.9)


@dataclass(frozen=True)
class ExposureModel:
    """log2(ratio) = weights . features + bias, for one kind of input ("raw" or "srgb")."""

    weights: np.ndarray
    bias: float

    def ratio(self, luminance: np.ndarray) -> float:
        return self.ratio_of(exposure_features(luminance))

    def ratio_of(self, features: np.ndarray) -> float:
        """The learned ratio, held down so that at most 1% of the picture is pushed past white."""
        brightest = 2.0 ** features[FEATURE_PERCENTILES.index(99.0)]
        return float(min(2.0 ** (float(self.weights @ features) + self.bias), 1.0 / brightest))


def exposure_features(luminance: np.ndarray) -> np.ndarray:
    """log2 of luminance percentiles, and of the mean with lamps capped: what the exposure model reads."""
    levels = np.percentile(luminance, [*FEATURE_PERCENTILES, LIGHTS_PERCENTILE])
    capped_mean = np.minimum(luminance, levels[-1]).mean()
    features: np.ndarray = np.log2(np.append(levels[:-1], capped_mean) + 1e-6)
    return features


@cache
def learned_exposure(path: Path = EXPOSURE_FILE) -> dict[str, ExposureModel]:
    """The shipped exposure models by kind of input; none if the file is missing."""
    if not path.exists():
        return {}
    shipped = json.loads(path.read_text())["models"]
    return {kind: ExposureModel(np.array(m["weights"]), float(m["bias"])) for kind, m in shipped.items()}


def frame_luminance(frame: Frame) -> np.ndarray:
    """Linear luminance of a regular subsample of the frame."""
    return _raw_luminance(frame) if isinstance(frame, RawFrame) else _srgb_luminance(frame.rgb)


def auto_ratio(frame: Frame) -> float:
    """An amplification ratio in [RATIO_MIN, RATIO_MAX]: the learned exposure for this kind, else the meter."""
    model = learned_exposure().get("raw" if isinstance(frame, RawFrame) else "srgb")
    if model is None:
        return meter_ratio(frame)
    return float(np.clip(model.ratio(frame_luminance(frame)), RATIO_MIN, RATIO_MAX))


def meter_ratio(frame: Frame) -> float:
    """The averaging light meter's ratio in [RATIO_MIN, RATIO_MAX], which brings the frame to mid-grey."""
    luminance = frame_luminance(frame)
    lights, clip_level = np.percentile(luminance, [LIGHTS_PERCENTILE, CLIP_PERCENTILE])
    mean = float(np.minimum(luminance, lights).mean())
    ratio = min(TARGET_MEAN / max(mean, 1e-9), 1.0 / max(float(clip_level), 1e-9))
    return float(np.clip(ratio, RATIO_MIN, RATIO_MAX))


def _stride(height: int, width: int) -> int:
    return max(1, math.ceil(math.sqrt(height * width / MAX_SAMPLES)))


def _raw_luminance(frame: RawFrame) -> np.ndarray:
    """Linear sRGB luminance of a subsample of the packed planes, after white balance and colour matrix."""
    packed = frame.packed
    step = _stride(packed.shape[1], packed.shape[2])
    red, green1, blue, green2 = packed[:, ::step, ::step].reshape(4, -1)
    camera = np.stack([red, (green1 + green2) * np.float32(0.5), blue]) * frame.white_balance[:, None]
    weights = LUMINANCE @ frame.cam_to_srgb.astype(np.float32)
    luminance: np.ndarray = np.maximum(weights @ camera, 0.0)
    return luminance


def _srgb_luminance(rgb: np.ndarray) -> np.ndarray:
    step = _stride(rgb.shape[0], rgb.shape[1])
    sample = srgb_to_linear(rgb[::step, ::step]).reshape(-1, 3)
    return sample @ LUMINANCE
