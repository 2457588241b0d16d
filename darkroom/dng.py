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
XTRANS = "GGRGGBGGBGGRBRGRBGGGBGGRGGRGGBRBGBRG"  # Fujifilm's 6x6 filter, in reading order
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
    """Encode a 2-D uint16 mosaic as an uncompressed DNG.

    ``pattern`` names the CFA in reading order: 2x2 for Bayer ("RGGB",
    "BGGR", "GRBG", "GBRG"), 6x6 for X-Trans (``XTRANS``);
    ``as_shot_neutral`` is the camera's response to white, so the
    white-balance multipliers LibRaw reports are its reciprocals; ``orientation``
    is the TIFF Orientation tag (6: rotate 90 degrees clockwise to display).
    """
    if mosaic.ndim != 2 or mosaic.dtype != np.uint16:
        raise ValueError("mosaic must be a 2-D uint16 array")
    side = round(len(pattern) ** 0.5)
    if side * side != len(pattern):
        raise ValueError(f"a CFA pattern is square: {pattern!r}")
    cfa = tuple(CFA_CODES[c] for c in pattern.upper())
    cfa_tags: list[tuple[int, str, int, object, bool]] = [
        (33421, "H", 2, (side, side), True),
        (33422, "B", len(cfa), cfa, True),
    ]  # CFARepeatPatternDim, CFAPattern
    tags = _dng_tags(mosaic.shape, black_level, white_level, as_shot_neutral, color_matrix, model, orientation)
    buf = io.BytesIO()
    tifffile.imwrite(
        buf, mosaic, photometric=32803, compression=None, extratags=cfa_tags + tags, metadata=None, subfiletype=0
    )
    return buf.getvalue()


def linear_dng_bytes(rgb: np.ndarray, black_level: int = 512, white_level: int = 16383) -> bytes:
    """Encode (H, W, 3) uint16 camera RGB, already demosaicked, as a linear DNG (as Apple ProRAW stores it)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint16:
        raise ValueError("rgb must be an (H, W, 3) uint16 array")
    tags = _dng_tags(rgb.shape[:2], black_level, white_level, (0.5, 1.0, 0.6), XYZ_TO_SRGB, "darkroom linear", 1)
    buf = io.BytesIO()
    tifffile.imwrite(buf, rgb, photometric=34892, compression=None, extratags=tags, metadata=None, subfiletype=0)
    return buf.getvalue()


def _dng_tags(
    shape: tuple[int, ...],
    black_level: int,
    white_level: int,
    as_shot_neutral: tuple[float, float, float],
    color_matrix: np.ndarray,
    model: str,
    orientation: int,
) -> list[tuple[int, str, int, object, bool]]:
    """The DNG tags LibRaw needs besides the CFA: version, levels, colour, white balance, crop, orientation."""
    height, width = shape[:2]
    return [
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


def mosaic_from_linear_rgb(rgb: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """Sample an (H, W, 3) linear image through a square colour filter array (2x2 Bayer or 6x6 X-Trans)."""
    side = round(len(pattern) ** 0.5)
    height, width = rgb.shape[0] // side * side, rgb.shape[1] // side * side
    out = np.empty((height, width), dtype=rgb.dtype)
    for i, colour in enumerate(pattern.upper()):
        dy, dx = divmod(i, side)
        out[dy::side, dx::side] = rgb[dy:height:side, dx:width:side, CFA_CODES[colour]]
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
    raw = _sensor(rng, mosaic_from_linear_rgb(linear, pattern), black_level, white_level)
    return dng_bytes(raw, pattern, black_level, white_level, (0.5, 1.0, 0.6))


def synthetic_dark_linear_dng(height: int = 512, width: int = 768, exposure: float = 1 / 100, seed: int = 0) -> bytes:
    """The dark scene as a linear DNG: three colours at every pixel (a phone's ProRAW, a camera's sRAW)."""
    rng = np.random.default_rng(seed)
    linear = dark_scene(height, width, seed) * np.array([0.5, 1.0, 0.6]) * exposure
    return linear_dng_bytes(_sensor(rng, linear, 512, 16383))


def _sensor(rng: np.random.Generator, signal: np.ndarray, black_level: int, white_level: int) -> np.ndarray:
    """Linear signal in [0, 1] to 14-bit raw values: shot and read noise over the black level."""
    span = white_level - black_level
    electrons = rng.poisson(np.clip(signal, 0, 1) * span).astype(np.float64)
    noisy = electrons + rng.normal(0, 2.0, size=signal.shape) + black_level
    raw: np.ndarray = np.clip(np.round(noisy), 0, white_level).astype(np.uint16)
    return raw


def write_dng(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
