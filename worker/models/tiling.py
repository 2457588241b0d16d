"""Run a U-Net over a big image in overlapping tiles, with the same result as one pass.

Two things make the stitched output equal to the untiled one (not merely
close):
- Every tile starts at a multiple of 16 in the input, so the four 2x2
  max-pools see the same pixel groups as in a single pass. Tile sizes are
  multiples of 16 too, except at the image's bottom and right edges, where
  the tile ends where the image ends and gets the same reflect padding.
- Each tile carries a margin of at least the network's receptive-field
  radius, and only its core is kept. For the SID U-Net that radius is 107
  input pixels (measured by back-propagating from one output cell; it
  depends on the depth, not the width), so the margin is 112.

The cost is the margins' extra work, in exchange for a peak memory set by the
tile, not the image. ``plan_tiles`` keeps that cost low: under a budget of
input pixels per window it picks the grid that computes the fewest pixels in
all (a full Sony frame, 1416x2120 packed, in two side-by-side windows of
1416x1172 under the default budget: 1.1x the work, not the 1.4x of fixed
1024-pixel tiles).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np


class Window(Protocol):
    """What ``forward_tiled`` slices: a torch tensor or a numpy array, (1, C, h, w)."""

    @property
    def shape(self) -> Any: ...

    def __getitem__(self, index: Any) -> Any: ...


W = TypeVar("W", bound=Window)


ALIGN = 16  # four 2x poolings
RECEPTIVE_RADIUS = 107  # SID U-Net, in input pixels
MARGIN = 112  # RECEPTIVE_RADIUS rounded up to ALIGN
TILE = 1024  # core size, input pixels; a 1248x1248 window peaks near 1 GB in fp32 on CPU
MAX_GRID = 32  # tiles per axis plan_tiles considers
# Input pixels one pass may take on a CPU. SID in fp32 channels-last peaks near 0.7 KB per input
# pixel, so 1.7 M (a full Sony frame in two windows) stays under 2 GB with the model and buffers.
MAX_WINDOW_PIXELS = 1_700_000


def tile_spans(size: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Along one axis: (core_start, core_stop, window_start, window_stop) for each tile."""
    if tile >= size:
        return [(0, size, 0, size)]
    if tile % ALIGN or margin % ALIGN:
        raise ValueError(f"tile and margin must be multiples of {ALIGN}, got {tile} and {margin}")
    spans = []
    for start in range(0, size, tile):
        stop = min(start + tile, size)
        spans.append((start, stop, max(0, start - margin), min(size, stop + margin)))
    return spans


def _aligned(size: int, parts: int) -> int:
    return -(-size // parts // ALIGN) * ALIGN if parts > 1 else size  # ceil(size / parts) rounded up to ALIGN


def _windows(size: int, parts: int, margin: int) -> list[int]:
    return [stop - start for _, _, start, stop in tile_spans(size, _aligned(size, parts), margin)]


def plan_tiles(height: int, width: int, max_window_pixels: int, margin: int = MARGIN) -> tuple[int, int]:
    """Core tile (height, width) so that no window exceeds ``max_window_pixels`` and the least work is done.

    Work is the sum of all windows' pixels. When no grid fits the budget
    (margins alone exceed it), the one with the smallest window wins."""
    best: tuple[bool, int, int, tuple[int, int]] | None = None
    for rows in range(1, min(MAX_GRID, -(-height // ALIGN)) + 1):
        heights = _windows(height, rows, margin)
        for cols in range(1, min(MAX_GRID, -(-width // ALIGN)) + 1):
            widths = _windows(width, cols, margin)
            largest = max(heights) * max(widths)
            candidate = (
                largest > max_window_pixels,
                largest if largest > max_window_pixels else 0,
                sum(heights) * sum(widths),
                (_aligned(height, rows), _aligned(width, cols)),
            )
            if best is None or candidate[:3] < best[:3]:
                best = candidate
    if best is None:
        raise ValueError("cannot plan tiles for an empty image")
    return best[3]


def forward_tiled(
    model: Callable[[W], np.ndarray],
    x: W,
    scale: int,
    tile: int | tuple[int, int] = TILE,
    margin: int = MARGIN,
) -> np.ndarray:
    """Apply ``model`` to each window of (1, C, h, w) ``x``; returns float32 (h*scale, w*scale, C_out).

    ``model`` takes a (1, C, wh, ww) window (a slice of ``x``: a tensor or an
    array) and returns its (wh*scale, ww*scale, C_out) result as an array.
    The output is written channels-last straight into one buffer, so the only
    full-size copy is the result itself. No torch here: the ONNX Runtime path
    tiles with the same code.
    """
    if x.shape[0] != 1:
        raise ValueError("forward_tiled takes a batch of one")
    height, width = x.shape[-2:]
    tile_h, tile_w = (tile, tile) if isinstance(tile, int) else tile
    out: np.ndarray | None = None
    for cy0, cy1, wy0, wy1 in tile_spans(height, tile_h, margin):
        for cx0, cx1, wx0, wx1 in tile_spans(width, tile_w, margin):
            result = model(x[:, :, wy0:wy1, wx0:wx1])
            core = result[(cy0 - wy0) * scale : (cy1 - wy0) * scale, (cx0 - wx0) * scale : (cx1 - wx0) * scale]
            if out is None:
                out = np.empty((height * scale, width * scale, result.shape[2]), dtype=np.float32)
            out[cy0 * scale : cy1 * scale, cx0 * scale : cx1 * scale] = core
    if out is None:
        raise ValueError("cannot enhance an empty image")
    return out
