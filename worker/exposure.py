"""Choose how much to amplify a dark frame when the caller did not say.

This is a camera's averaging light meter applied after the fact: scale the
frame so its mean linear luminance lands on mid-grey (0.18). Two guards keep
it sensible on night scenes. The brightest 1% (street lights, lamps) is
capped before averaging, so a lamp in the frame does not leave the room
dark; and no more than 3% of the picture may be pushed past white, so a lit
subject on a black background is not blown out.
"""

from __future__ import annotations

import math

import numpy as np

from jobs.message import RATIO_MAX, RATIO_MIN
from worker.frames import Frame, RawFrame, srgb_to_linear

TARGET_MEAN = 0.18  # linear mid-grey, what exposure meters aim for
LIGHTS_PERCENTILE = 99.0  # pixels above this are treated as light sources when averaging
CLIP_PERCENTILE = 97.0  # at most 3% of pixels may end up above white
MAX_SAMPLES = 1 << 18  # a regular grid of ~260k pixels is plenty for these statistics
LUMINANCE = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)  # Rec. 709 / sRGB Y weights


def auto_ratio(frame: Frame) -> float:
    """An amplification ratio in [RATIO_MIN, RATIO_MAX] that brings the frame to a normal exposure."""
    luminance = _raw_luminance(frame) if isinstance(frame, RawFrame) else _srgb_luminance(frame.rgb)
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
