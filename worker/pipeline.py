"""One image through the worker: decode, enhance, encode, each step timed.

The steps are separate functions on purpose: the worker loop can decode the
next upload while the accelerator is still enhancing the current one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jobs.message import InputKind
from jobs.outputs import JPEG, OutputFormat
from worker.decode import MAX_PIXELS, decode
from worker.encode import encode_image
from worker.exposure import auto_ratio
from worker.frames import Enhancer, Frame, RawFrame, method_name


@dataclass(frozen=True)
class Enhanced:
    encoded: bytes  # in the job's output format
    width: int
    height: int
    ratio_used: float
    method: str
    timings: dict[str, float]  # seconds for "decode", "enhance", "encode"


def enhance(frame: Frame, ratio: float | None, enhancer: Enhancer) -> tuple[np.ndarray, float, str]:
    """Run the enhancer on a decoded frame; ``ratio`` None chooses it from the frame.

    Returns the image, the ratio used and the name of the method that ran (for an
    enhancer that routes by kind, the one for this kind of input).
    """
    used = auto_ratio(frame) if ratio is None else float(ratio)
    if isinstance(frame, RawFrame):
        return enhancer.enhance_raw(frame, used), used, method_name(enhancer, frame)
    return enhancer.enhance_srgb(frame, used), used, method_name(enhancer, frame)


def run_pipeline(
    data: bytes,
    kind: InputKind,
    ratio: float | None,
    enhancer: Enhancer,
    max_pixels: int = MAX_PIXELS,
    decoder: Callable[[bytes, InputKind, int], Frame] = decode,
    output: OutputFormat = JPEG,
) -> Enhanced:
    """Decode (with ``decoder``: the worker's runs in a process of its own), enhance and encode one upload.

    Raises ``InputError`` for a file that can never work."""
    started = time.perf_counter()
    frame = decoder(data, kind, max_pixels)
    decoded = time.perf_counter()
    image, used, method = enhance(frame, ratio, enhancer)
    enhanced = time.perf_counter()
    data = encode_image(image, output, frame.meta)
    encoded = time.perf_counter()
    return Enhanced(
        encoded=data,
        width=image.shape[1],
        height=image.shape[0],
        ratio_used=used,
        method=method,
        timings={"decode": decoded - started, "enhance": enhanced - decoded, "encode": encoded - enhanced},
    )
