"""Float image to JPEG bytes: the one format every client can show."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float in [0, 1] to 8-bit levels, rounding to the nearest (truncating would darken by half a level)."""
    scaled = np.clip(np.nan_to_num(rgb), 0.0, 1.0) * np.float32(255)
    scaled += np.float32(0.5)
    levels: np.ndarray = scaled.astype(np.uint8)
    return levels


def encode_jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    """Encode float (H, W, 3) sRGB in [0, 1] as a JPEG."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {rgb.shape}")
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(rgb), mode="RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
