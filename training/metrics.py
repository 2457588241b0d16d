"""Image quality against a reference: PSNR and SSIM, the two numbers low-light papers report.

Both take float images in [0, 1], (H, W, 3), and compute in float64 so the
score does not depend on the input precision. SSIM is the reference
definition (Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004, and their
``ssim_index.m``): an 11x11 Gaussian window with sigma 1.5, K1 = 0.01,
K2 = 0.03, statistics over the "valid" windows only (no padding), computed
per channel and averaged. The image is not downsampled first (the authors'
usage note suggests that for large images; papers on LOL and SID do not).
"""

from __future__ import annotations

import numpy as np

WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def _check(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB; ``inf`` for identical images."""
    x, y = _check(a, b)
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(peak * peak / mse))


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> np.ndarray:
    """The normalised 1-D Gaussian; the 2-D window is its outer product, so filtering is separable."""
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    weights = np.exp(-(offsets**2) / (2 * sigma * sigma))
    normalised: np.ndarray = weights / weights.sum()
    return normalised


def _filter_valid(stack: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted sums over windows along axes 1 and 2 of (N, H, W, C), keeping only windows fully inside."""
    size = len(weights)
    height, width = stack.shape[1] - size + 1, stack.shape[2] - size + 1
    rows = sum(w * stack[:, k : k + height] for k, w in enumerate(weights))
    out: np.ndarray = sum(w * rows[:, :, k : k + width] for k, w in enumerate(weights))
    return out


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two (H, W, C) images in [0, 1]: 1.0 for identical images."""
    x, y = _check(a, b)
    if x.ndim != 3 or min(x.shape[:2]) < WINDOW:
        raise ValueError(f"SSIM needs (H, W, C) images of at least {WINDOW}x{WINDOW}, got {x.shape}")
    c1, c2 = K1 * K1, K2 * K2  # the dynamic range is 1
    mu_x, mu_y, xx, yy, xy = _filter_valid(np.stack([x, y, x * x, y * y, x * y]), gaussian_window())
    var_x, var_y, cov = xx - mu_x * mu_x, yy - mu_y * mu_y, xy - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    per_channel = (numerator / denominator).mean(axis=(0, 1))
    return float(per_channel.mean())
