"""PSNR and SSIM: known values, the reference SSIM definition, and the properties a metric must have."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import K1, K2, gaussian_window, psnr, ssim


def photo(height: int = 40, width: int = 56, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([0.3 + 0.5 * x, 0.2 + 0.6 * y, 0.5 - 0.3 * x * y], axis=-1)
    return np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1).astype(np.float32)


def ssim_by_windows(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM the slow, obvious way: every 11x11 window inside the image, the 2-D Gaussian weights, per channel."""
    weights = np.outer(gaussian_window(), gaussian_window())
    c1, c2 = K1**2, K2**2
    size = weights.shape[0]
    per_channel = []
    for channel in range(a.shape[2]):
        x, y = a[..., channel].astype(np.float64), b[..., channel].astype(np.float64)
        values = []
        for top in range(x.shape[0] - size + 1):
            for left in range(x.shape[1] - size + 1):
                wx, wy = x[top : top + size, left : left + size], y[top : top + size, left : left + size]
                mx, my = (weights * wx).sum(), (weights * wy).sum()
                vx, vy = (weights * (wx - mx) ** 2).sum(), (weights * (wy - my) ** 2).sum()
                cov = (weights * (wx - mx) * (wy - my)).sum()
                values.append((2 * mx * my + c1) * (2 * cov + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
        per_channel.append(np.mean(values))
    return float(np.mean(per_channel))


def test_identical_images_score_perfectly() -> None:
    image = photo()
    assert psnr(image, image) == float("inf")
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)


def test_psnr_of_known_offsets() -> None:
    image = np.full((16, 16, 3), 0.5)
    assert psnr(image, image + 0.1) == pytest.approx(20.0)
    assert psnr(image, image + 0.01) == pytest.approx(40.0)
    assert psnr(image * 255, image * 255 + 25.5, peak=255.0) == pytest.approx(20.0)


def test_ssim_of_flat_images_is_the_luminance_term() -> None:
    """No structure at all: the contrast-structure term is c2 / c2 = 1, the luminance term is closed-form."""
    a, b = np.full((20, 20, 3), 0.2), np.full((20, 20, 3), 0.4)
    c1 = K1**2
    assert ssim(a, b) == pytest.approx((2 * 0.2 * 0.4 + c1) / (0.2**2 + 0.4**2 + c1))


def test_ssim_matches_the_window_by_window_definition() -> None:
    a, b = photo(24, 30, seed=1), photo(24, 30, seed=2)
    assert ssim(a, b) == pytest.approx(ssim_by_windows(a, b), rel=1e-9)


def test_scores_fall_as_noise_grows() -> None:
    image = photo()
    rng = np.random.default_rng(3)
    noisy = [np.clip(image + rng.normal(0, sigma, image.shape), 0, 1) for sigma in (0.01, 0.03, 0.1)]
    ssims = [ssim(image, n) for n in noisy]
    psnrs = [psnr(image, n) for n in noisy]
    assert 1.0 > ssims[0] > ssims[1] > ssims[2] > 0.0
    assert psnrs[0] > psnrs[1] > psnrs[2]


def test_metrics_are_symmetric() -> None:
    a, b = photo(seed=4), photo(seed=5)
    assert ssim(a, b) == pytest.approx(ssim(b, a), abs=1e-12)
    assert psnr(a, b) == psnr(b, a)


def test_mismatched_or_tiny_images_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))
    with pytest.raises(ValueError, match="at least"):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))
