"""Write camera RAW files as DNG, so tests and demos need nobody's camera files.

LibRaw reads these bit-exactly: photometric CFA, no compression, and the DNG
tags it needs for the pattern, levels, colour and white balance. The default
colour matrix makes the "camera" see linear sRGB primaries, so a rendering
with the file's own matrix is the identity on colour.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import tifffile

# XYZ (D65) -> linear sRGB; as DNG's ColorMatrix1 (XYZ -> camera) it makes camera == sRGB.
XYZ_TO_SRGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]]
)
CFA_CODES = {"R": 0, "G": 1, "B": 2}
SRATIONAL_DENOMINATOR = 10000


def _rationals(values: np.ndarray) -> tuple[int, ...]:
    out: list[int] = []
    for v in np.asarray(values, dtype=np.float64).ravel():
        out += [round(float(v) * SRATIONAL_DENOMINATOR), SRATIONAL_DENOMINATOR]
    return tuple(out)


def dng_bytes(
    mosaic: np.ndarray,
    pattern: str = "RGGB",
    black_level: int = 512,
    white_level: int = 16383,
    as_shot_neutral: tuple[float, float, float] = (0.5, 1.0, 0.6),
    color_matrix: np.ndarray = XYZ_TO_SRGB,
    model: str = "darkroom synthetic",
    orientation: int = 1,
) -> bytes:
    """Encode a 2-D uint16 Bayer mosaic as an uncompressed DNG.

    ``pattern`` names the 2x2 CFA in reading order ("RGGB", "BGGR", "GRBG",
    "GBRG"); ``as_shot_neutral`` is the camera's response to white, so the
    white-balance multipliers LibRaw reports are its reciprocals; ``orientation``
    is the TIFF Orientation tag (6: rotate 90 degrees clockwise to display).
    """
    if mosaic.ndim != 2 or mosaic.dtype != np.uint16:
        raise ValueError("mosaic must be a 2-D uint16 array")
    height, width = mosaic.shape
    cfa = tuple(CFA_CODES[c] for c in pattern.upper())
    extratags = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, cfa, True),  # CFAPattern
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, model, True),  # UniqueCameraModel
        (50714, "H", 1, black_level, True),  # BlackLevel
        (50717, "H", 1, white_level, True),  # WhiteLevel
        (50721, "2i", 9, _rationals(color_matrix), True),  # ColorMatrix1
        (50728, "2I", 3, _rationals(np.array(as_shot_neutral)), True),  # AsShotNeutral
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50719, "I", 2, (0, 0), True),  # DefaultCropOrigin
        (50720, "I", 2, (width, height), True),  # DefaultCropSize
        (274, "H", 1, orientation, True),  # Orientation
    ]
    buf = io.BytesIO()
    tifffile.imwrite(
        buf, mosaic, photometric=32803, compression=None, extratags=extratags, metadata=None, subfiletype=0
    )
    return buf.getvalue()


def mosaic_from_linear_rgb(rgb: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """Sample an (H, W, 3) linear image through a 2x2 colour filter array."""
    height, width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
    out = np.empty((height, width), dtype=rgb.dtype)
    for i, colour in enumerate(pattern.upper()):
        dy, dx = divmod(i, 2)
        out[dy::2, dx::2] = rgb[dy:height:2, dx:width:2, CFA_CODES[colour]]
    return out


def dark_scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, colourful linear-RGB test scene in [0, 1] (no data files needed)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y /= max(height - 1, 1)
    x /= max(width - 1, 1)
    scene = np.stack([0.2 + 0.6 * x, 0.3 + 0.5 * (1 - y), 0.25 + 0.5 * np.abs(x - y)], axis=-1)
    for _ in range(6):  # a few soft coloured blobs
        cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.2)
        blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))[..., None]
        scene = scene * (1 - 0.7 * blob) + 0.7 * blob * rng.uniform(0.1, 1.0, size=3)
    out: np.ndarray = np.clip(scene, 0, 1).astype(np.float32)
    return out


def synthetic_dark_srgb(height: int, width: int, exposure: float = 1 / 100, seed: int = 0) -> np.ndarray:
    """The dark scene as an 8-bit sRGB photo (HxWx3), under-exposed by ``exposure``, with a little sensor noise."""
    rng = np.random.default_rng(seed)
    linear = dark_scene(height, width, seed=seed) * exposure
    noisy = np.clip(linear + rng.normal(0, 0.002, linear.shape), 0, 1)
    srgb = np.where(noisy <= 0.0031308, 12.92 * noisy, 1.055 * np.power(noisy, 1 / 2.4) - 0.055)
    out: np.ndarray = np.round(srgb * 255).astype(np.uint8)
    return out


def synthetic_dark_dng(
    height: int = 512,
    width: int = 768,
    exposure: float = 1 / 100,
    pattern: str = "RGGB",
    seed: int = 0,
    black_level: int = 512,
    white_level: int = 16383,
) -> bytes:
    """A dark RAW of ``dark_scene``: exposure cut by ``exposure``, shot and read noise, 14 bits."""
    rng = np.random.default_rng(seed)
    neutral = np.array([0.5, 1.0, 0.6])  # as_shot_neutral below
    linear = dark_scene(height, width, seed) * neutral * exposure  # the camera sees white as `neutral`
    mosaic = mosaic_from_linear_rgb(linear, pattern)
    span = white_level - black_level
    electrons = rng.poisson(np.clip(mosaic, 0, 1) * span).astype(np.float64)
    noisy = electrons + rng.normal(0, 2.0, size=mosaic.shape) + black_level
    raw = np.clip(np.round(noisy), 0, white_level).astype(np.uint16)
    return dng_bytes(raw, pattern, black_level, white_level, (0.5, 1.0, 0.6))


def write_dng(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
