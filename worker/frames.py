"""What a decoded image is, before any enhancement.

Two kinds of input reach the worker: a camera RAW mosaic and an already
rendered (sRGB) picture. Each has its own frame type, so an enhancer can
never mistake linear sensor data for gamma-encoded pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

# what decode reads and encode writes of a photo's metadata, named once for both
ORIENTATION_TAG = 0x0112  # EXIF/TIFF orientation
EXIF_IFD_TAG = 0x8769  # the pointer to the EXIF directory (exposure, lens, time taken)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class PhotoMetadata:
    """What the result keeps of the input: its EXIF (orientation reset: pixels come upright) and ICC profile."""

    exif: bytes | None = None
    icc: bytes | None = None


@dataclass(frozen=True, eq=False)
class RawFrame:
    """A Bayer mosaic packed into four half-resolution planes.

    ``packed`` is float32 (4, H/2, W/2) in the order R, G1, B, G2, where G1 is
    the green sharing a row with red and G2 the one sharing a row with blue
    (the layout the SID network was trained on), whatever the file's CFA
    phase. Values are (raw - black) / (white - black), clipped at 0 but not
    at 1. ``white_balance`` holds R, G, B multipliers with green = 1;
    ``cam_to_srgb`` maps white-balanced camera RGB to linear sRGB; ``flip``
    is LibRaw's orientation code (bit 1: mirror columns, 2: mirror rows,
    4: transpose, applied in that order).
    """

    packed: np.ndarray
    white_balance: np.ndarray
    cam_to_srgb: np.ndarray
    flip: int
    meta: PhotoMetadata = PhotoMetadata()

    @property
    def mosaic_size(self) -> tuple[int, int]:
        """(height, width) of the full-resolution mosaic, before orientation."""
        return 2 * self.packed.shape[1], 2 * self.packed.shape[2]


@dataclass(frozen=True, eq=False)
class SrgbFrame:
    """A rendered picture: float32 (H, W, 3) in [0, 1], sRGB-encoded, already upright."""

    rgb: np.ndarray
    meta: PhotoMetadata = PhotoMetadata()


Frame = RawFrame | SrgbFrame


class InputError(ValueError):
    """The upload itself is bad: retrying cannot help, so the job fails at once.

    ``code`` is stable for machines ("corrupt-input", "unsupported-input",
    "too-large"); ``message`` is for the person who sent the file.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Enhancer(Protocol):
    """Turns a dark frame into a bright float32 (H, W, 3) sRGB image in [0, 1].

    For RAW the output is full resolution (twice the packed planes in each
    direction) and oriented by the frame's ``flip``.
    """

    name: str

    def enhance_raw(self, frame: RawFrame, ratio: float) -> np.ndarray: ...

    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray: ...


def method_name(enhancer: Enhancer, frame: Frame) -> str:
    """The name of the method ``enhancer`` runs on ``frame`` (one of two for an enhancer that routes by kind)."""
    name_for = getattr(enhancer, "name_for", None)
    return str(name_for(frame)) if name_for is not None else enhancer.name


class ByKind:
    """Each kind of input to its own enhancer (``worker.methods`` picks them): what a worker runs."""

    def __init__(self, raw: Enhancer, srgb: Enhancer) -> None:
        self.raw, self.srgb = raw, srgb
        self.name = raw.name if raw.name == srgb.name else f"{raw.name} (RAW), {srgb.name} (JPEG/PNG)"

    def name_for(self, frame: Frame) -> str:
        """The method that runs on ``frame``: what its job's status records."""
        return (self.raw if isinstance(frame, RawFrame) else self.srgb).name

    def enhance_raw(self, frame: RawFrame, ratio: float) -> np.ndarray:
        return self.raw.enhance_raw(frame, ratio)

    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
        return self.srgb.enhance_srgb(frame, ratio)


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """The sRGB EOTF (IEC 61966-2-1): gamma-encoded values in [0, 1] to linear light, float32."""
    x = np.clip(encoded, 0.0, 1.0, dtype=np.float32)
    linear: np.ndarray = x + np.float32(0.055)
    linear *= np.float32(1 / 1.055)
    np.power(linear, np.float32(2.4), out=linear)
    np.multiply(x, np.float32(1 / 12.92), out=linear, where=x <= np.float32(0.04045))
    return linear


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """The sRGB OETF: linear light to gamma-encoded values in [0, 1], float32 (clips outside [0, 1])."""
    x = np.clip(linear, 0.0, 1.0, dtype=np.float32)
    encoded: np.ndarray = np.power(x, np.float32(1 / 2.4))
    encoded *= np.float32(1.055)
    encoded -= np.float32(0.055)
    np.multiply(x, np.float32(12.92), out=encoded, where=x <= np.float32(0.0031308))
    return encoded
