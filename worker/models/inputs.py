"""What each network sees: the one definition shared by training and inference.

RAW (as the SID paper): the packed mosaic (R, G1, B, G2; black-subtracted and
divided by white - black) times the amplification ratio, clipped to [0, 1],
the sensor's range. The network outputs sRGB at twice the packed size.
Unlike the paper, the file's own white balance is applied first (as the
baseline does): SID, trained on one camera, learns that camera's usual white
balance implicitly; a model meant for any camera under any light should not
have to guess from the picture what the file states exactly.

sRGB: the dark picture is brightened by the ratio in *linear* light, clipped,
re-encoded with the sRGB curve, then packed by space-to-depth 2 into 12
channels (TF order, the exact inverse of the head's depth_to_space). Why:
- Brightening before the network, like SID's ``packed * ratio``, fixes the
  exposure outside the network. The network only has to denoise, restore
  colour and contrast, and does not have to learn a multiplication by a
  number it is told, which conv + LeakyReLU nets learn poorly; the caller
  (or ``auto``) keeps full control of brightness.
- Re-encoding with the sRGB curve keeps the input in the same perceptual
  domain as the output, so the map to learn is near the identity, and the
  8-bit quantisation steps of the source are spread as they were.
- Space-to-depth lets the same U-Net run at half resolution, like the RAW
  model: four times fewer operations per output pixel, twice the receptive
  field, and the same tiling and head as the RAW network.
"""

from __future__ import annotations

import numpy as np

from worker.frames import linear_to_srgb, srgb_to_linear

BLOCK = 2  # space-to-depth / depth-to-space factor of both models


def raw_model_input(packed: np.ndarray, ratio: float, white_balance: np.ndarray) -> np.ndarray:
    """(4, h, w) packed RAW -> the SID input: times ``ratio`` and the white balance, clipped to [0, 1], float32."""
    gains = (np.asarray(white_balance, dtype=np.float32)[[0, 1, 2, 1]] * np.float32(ratio))[:, None, None]
    out: np.ndarray = np.multiply(packed, gains, dtype=np.float32)
    np.clip(out, 0.0, 1.0, out=out)
    return out


def brighten_srgb(rgb: np.ndarray, ratio: float) -> np.ndarray:
    """(H, W, 3) sRGB -> the same picture with ``ratio`` times the light, clipped, sRGB-encoded, float32."""
    linear = srgb_to_linear(rgb)
    linear *= np.float32(ratio)
    return linear_to_srgb(linear)


def space_to_depth(image: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """(H, W, C) with H, W divisible by ``block`` -> (block*block*C, H/block, W/block), TF channel order.

    Channel (dy*block + dx)*C + k holds pixel (block*i + dy, block*j + dx) of channel k.
    """
    height, width, channels = image.shape
    cells = image.reshape(height // block, block, width // block, block, channels)  # (i, dy, j, dx, k)
    return np.ascontiguousarray(cells.transpose(1, 3, 4, 0, 2)).reshape(-1, height // block, width // block)


def pad_to_even(image: np.ndarray) -> np.ndarray:
    """Repeat the last row / column of an (H, W, C) image so both sides are even."""
    pad_h, pad_w = image.shape[0] % 2, image.shape[1] % 2
    if pad_h == 0 and pad_w == 0:
        return image
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def srgb_model_input(rgb: np.ndarray, ratio: float) -> np.ndarray:
    """(H, W, 3) dark sRGB -> the sRGB network's (12, ceil(H/2), ceil(W/2)) float32 input."""
    return space_to_depth(pad_to_even(brighten_srgb(rgb, ratio)))
