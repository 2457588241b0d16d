"""A baseline JPEG round trip in torch, so a whole batch is compressed on the training device.

What a phone's encoder does to a dark picture, step by step: RGB -> YCbCr
(JFIF), chroma averaged over 2x2 (4:2:0), 8x8 block DCT, each coefficient
divided by the standard quantisation table scaled to the quality (the IJG
formula) and rounded, then the inverse. The rounding of the coefficients is
where the blocks and the ringing come from, and it is exact here; the
entropy coding that follows is lossless and left out. Libjpeg's own
encoder differs only in its integer DCT and chroma filter (a test compares
it with Pillow's).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional

LUMA_TABLE = [
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
]
CHROMA_TABLE = [
    [17, 18, 24, 47, 99, 99, 99, 99],
    [18, 21, 26, 66, 99, 99, 99, 99],
    [24, 26, 56, 99, 99, 99, 99, 99],
    [47, 66, 99, 99, 99, 99, 99, 99],
    *[[99] * 8 for _ in range(4)],
]
RGB_TO_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=torch.float64
)


def dct_matrix() -> Tensor:
    """The orthonormal 8-point DCT-II: coefficients = D @ block @ D.T."""
    k, n = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    matrix = torch.cos((2 * n + 1) * k * math.pi / 16) * math.sqrt(2 / 8)
    matrix[0] /= math.sqrt(2)
    return matrix


def quantisation_tables(quality: Tensor) -> tuple[Tensor, Tensor]:
    """(N, 8, 8) luma and chroma tables for qualities 1..100, scaled as libjpeg does."""
    quality = quality.clamp(1, 100).double()
    scale = torch.where(quality < 50, 5000 / quality, 200 - 2 * quality)[:, None, None]
    tables = []
    for base in (LUMA_TABLE, CHROMA_TABLE):
        table = torch.tensor(base, dtype=torch.float64)[None]
        tables.append(torch.floor((table * scale + 50) / 100).clamp(1, 255))
    return tables[0], tables[1]


def _blocks(plane: Tensor) -> Tensor:
    n, height, width = plane.shape
    return plane.reshape(n, height // 8, 8, width // 8, 8).permute(0, 1, 3, 2, 4)


def _unblocks(blocks: Tensor) -> Tensor:
    n, rows, cols = blocks.shape[:3]
    return blocks.permute(0, 1, 3, 2, 4).reshape(n, rows * 8, cols * 8)


def _quantise(plane: Tensor, table: Tensor, dct: Tensor) -> Tensor:
    """Centre, DCT, round to the table's steps, inverse DCT: (N, H, W) with sides divisible by 8."""
    step = table.to(plane)[:, None, None]
    coefficients = dct @ _blocks(plane - 128) @ dct.T
    return _unblocks(dct.T @ (torch.round(coefficients / step) * step) @ dct) + 128


def jpeg_round_trip(rgb: Tensor, quality: Tensor) -> Tensor:
    """(N, 3, H, W) sRGB in [0, 1], H and W divisible by 16 -> the same after JPEG at per-image ``quality``."""
    dct = dct_matrix().to(rgb)
    luma_table, chroma_table = quantisation_tables(quality)
    ycbcr = torch.einsum("ij,njhw->nihw", RGB_TO_YCBCR.to(rgb), rgb * 255)
    ycbcr[:, 1:] += 128
    luma = _quantise(ycbcr[:, 0], luma_table, dct)
    chroma = functional.avg_pool2d(ycbcr[:, 1:], 2)
    chroma = torch.stack([_quantise(chroma[:, c], chroma_table, dct) for c in (0, 1)], dim=1)
    chroma = functional.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False) - 128
    decoded = torch.einsum(
        "ij,njhw->nihw", torch.linalg.inv(RGB_TO_YCBCR).to(rgb), torch.cat([luma[:, None], chroma], 1)
    )
    return torch.round(decoded.clamp(0, 255)) / 255
