"""The training loss: L1, plus a structural term where SSIM is what a model is judged on.

``ssim`` here is ``training.metrics.ssim`` (same window, sigma and constants,
valid windows only) on batches of tensors, differentiable; a test keeps the
two equal.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional

from training.metrics import K1, K2, gaussian_window


def ssim(a: Tensor, b: Tensor) -> Tensor:
    """Mean SSIM of two (N, C, H, W) batches in [0, 1], computed in float32."""
    a, b = a.float(), b.float()
    channels = a.shape[1]
    weights = torch.from_numpy(gaussian_window()).to(a)
    kernel = (weights[:, None] * weights[None, :]).expand(5 * channels, 1, -1, -1)
    stats = functional.conv2d(torch.cat([a, b, a * a, b * b, a * b], dim=1), kernel, groups=5 * channels)
    mu_a, mu_b, aa, bb, ab = stats.chunk(5, dim=1)
    var_a, var_b, cov = aa - mu_a * mu_a, bb - mu_b * mu_b, ab - mu_a * mu_b
    c1, c2 = K1 * K1, K2 * K2
    numerator = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    denominator = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return (numerator / denominator).mean()


def enhancement_loss(output: Tensor, target: Tensor, ssim_weight: float) -> Tensor:
    """L1 + ssim_weight * (1 - SSIM), in float32 whatever the autocast dtype."""
    output = output.float()
    loss = functional.l1_loss(output, target)
    if ssim_weight:
        loss = loss + ssim_weight * (1 - ssim(output, target))
    return loss
