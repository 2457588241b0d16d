"""The classical enhancer: amplify, denoise lightly, develop. No learning, no torch.

It is what a careful person would do by hand in a RAW converter (push the
exposure, smooth the colour noise, demosaic, white balance, colour matrix,
gamma), so it is both the fallback when no model is loaded and the baseline
a learned model has to beat. Everything is vectorised numpy in float32.
"""

from __future__ import annotations

import numpy as np

from worker.frames import RawFrame, SrgbFrame, linear_to_srgb, srgb_to_linear

KNEE = 0.85  # linear level above which the sRGB path compresses highlights instead of clipping them


class Baseline:
    """Gain, light denoise and a standard development; implements ``Enhancer``."""

    name = "baseline"

    def enhance_raw(self, frame: RawFrame, ratio: float) -> np.ndarray:
        wb = frame.white_balance.astype(np.float32)
        packed = np.clip(frame.packed * np.float32(ratio), 0.0, 1.0)  # the sensor's range after the push, as SID
        packed *= wb[[0, 1, 2, 1], None, None]
        np.minimum(packed, 1.0, out=packed)  # clipped highlights stay white after white balance
        phases = demosaic_bilinear(denoise_packed(packed))
        height, width = packed.shape[1:]
        linear = np.matmul(frame.cam_to_srgb.astype(np.float32), phases.reshape(4, 3, -1))
        return interleave(linear_to_srgb(linear).reshape(2, 2, 3, height, width), frame.flip)

    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
        linear = srgb_to_linear(frame.rgb)
        linear *= np.float32(ratio)
        smooth = binomial(linear, axes=(0, 1))
        linear += smooth
        linear *= np.float32(0.5)
        return linear_to_srgb(roll_off(linear))


def binomial(planes: np.ndarray, axes: tuple[int, int] = (-2, -1)) -> np.ndarray:
    """3x3 binomial blur ([1, 2, 1] / 4 each way) over two axes, edges replicated."""
    out = planes
    for axis in axes:
        out = np.moveaxis(_binomial_along_first(np.moveaxis(out, axis, 0)), 0, axis)
    return out


def _binomial_along_first(a: np.ndarray) -> np.ndarray:
    if a.shape[0] < 2:
        return a.astype(np.float32)
    out = np.empty_like(a, dtype=np.float32)  # same memory layout as a, so reads and writes stream together
    inner = out[1:-1]
    np.add(a[:-2], a[2:], out=inner)
    inner += a[1:-1]
    inner += a[1:-1]
    out[0] = 3 * a[0] + a[1]  # the edge row counts as its own missing neighbour
    out[-1] = 3 * a[-1] + a[-2]
    out *= np.float32(0.25)
    return out


def denoise_packed(packed: np.ndarray) -> np.ndarray:
    """Light smoothing of every plane, stronger smoothing of colour differences.

    Amplified sensor noise is most objectionable as coloured speckle; the eye
    forgives blurred colour far more than blurred detail, so red and blue
    keep the smoothed green's detail and take only a 5x5-smoothed offset
    from it (at half resolution, i.e. about 10 output pixels wide).
    """
    out: np.ndarray = (packed + binomial(packed)) * np.float32(0.5)
    green = (out[1] + out[3]) * np.float32(0.5)
    chroma = binomial(binomial(out[[0, 2]] - green))
    out[0] = green + chroma[0]
    out[2] = green + chroma[1]
    np.clip(out, 0.0, 1.0, out=out)
    return out


def demosaic_bilinear(packed: np.ndarray) -> np.ndarray:
    """Bilinear demosaic of packed (R, G1, B, G2) planes.

    The packed planes are read as an RGGB cell: R at (0, 0), G1 at (0, 1),
    G2 at (1, 0), B at (1, 1). Returns (2, 2, 3, h, w): the RGB value at each
    of the four sites of every cell, to be interleaved into full resolution.
    """
    padded = np.pad(packed, ((0, 0), (1, 1), (1, 1)), mode="edge")
    height, width = packed.shape[1:]

    def at(channel: int, dy: int, dx: int) -> np.ndarray:
        """Plane ``channel`` shifted so that index [i, j] reads cell (i + dy, j + dx)."""
        return padded[channel, 1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]

    r, g1, b, g2 = 0, 1, 2, 3
    quarter, half = np.float32(0.25), np.float32(0.5)
    phases = np.empty((2, 2, 3, height, width), dtype=np.float32)
    phases[0, 0] = (  # red site
        at(r, 0, 0),
        (at(g1, 0, -1) + at(g1, 0, 0) + at(g2, -1, 0) + at(g2, 0, 0)) * quarter,
        (at(b, -1, -1) + at(b, -1, 0) + at(b, 0, -1) + at(b, 0, 0)) * quarter,
    )
    phases[0, 1] = ((at(r, 0, 0) + at(r, 0, 1)) * half, at(g1, 0, 0), (at(b, -1, 0) + at(b, 0, 0)) * half)
    phases[1, 0] = ((at(r, 0, 0) + at(r, 1, 0)) * half, at(g2, 0, 0), (at(b, 0, -1) + at(b, 0, 0)) * half)
    phases[1, 1] = (  # blue site
        (at(r, 0, 0) + at(r, 0, 1) + at(r, 1, 0) + at(r, 1, 1)) * quarter,
        (at(g1, 0, 0) + at(g1, 1, 0) + at(g2, 0, 0) + at(g2, 0, 1)) * quarter,
        at(b, 0, 0),
    )
    return phases


def interleave(phases: np.ndarray, flip: int) -> np.ndarray:
    """(2, 2, 3, h, w) site values to an upright (H, W, 3) image, with a single copy.

    ``flip`` is LibRaw's code: bit 1 mirrors columns, bit 2 mirrors rows,
    bit 4 then transposes (6 is a quarter turn clockwise, 5 anticlockwise).
    Mirroring a full-resolution axis reverses both the cell index and the
    site within the cell.
    """
    cells = phases.transpose(3, 0, 4, 1, 2)  # (i, dy, j, dx, c): row 2i + dy, column 2j + dx
    if flip & 1:
        cells = cells[:, :, ::-1, ::-1]
    if flip & 2:
        cells = cells[::-1, ::-1]
    if flip & 4:
        cells = cells.transpose(2, 3, 0, 1, 4)
    rows, cols = cells.shape[0] * 2, cells.shape[2] * 2
    return np.ascontiguousarray(cells).reshape(rows, cols, 3)


def roll_off(linear: np.ndarray) -> np.ndarray:
    """Identity up to KNEE, then an exponential shoulder that approaches 1 with a continuous slope."""
    out = np.array(linear, dtype=np.float32)
    above = out > KNEE
    span = np.float32(1.0 - KNEE)
    out[above] = KNEE + span * (1.0 - np.exp((KNEE - out[above]) / span))
    return out
