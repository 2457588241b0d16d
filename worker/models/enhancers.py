"""The learned enhancers: SID for RAW, its sRGB sibling for JPEG/PNG (both implement ``Enhancer``).

Each wraps a runner, whichever engine runs the network: ``ModelRunner``
(PyTorch, ``worker.models.enhance``) or ``GraphRunner`` (an ONNX graph on
ONNX Runtime or OpenVINO, ``worker.models.onnx_graph``). This module imports neither,
so a worker on an ONNX graph never loads torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from worker.frames import InputError, RawFrame, SrgbFrame
from worker.models.config import SIDConfig
from worker.models.inputs import raw_model_input, srgb_model_input

Engine = Literal["torch", "onnxruntime", "openvino"]
ENGINES = ("torch", "onnxruntime", "openvino")


class Runner(Protocol):
    """A network ready for inference: (C, h, w) planes in, clipped float32 (h*bs, w*bs, 3) out."""

    config: SIDConfig

    def __call__(self, planes: np.ndarray) -> np.ndarray: ...


def orient(image: np.ndarray, flip: int) -> np.ndarray:
    """Apply LibRaw's ``flip`` code to (H, W, C): bit 1 mirrors columns, bit 2 rows, bit 4 then transposes."""
    if flip & 1:
        image = image[:, ::-1]
    if flip & 2:
        image = image[::-1]
    if flip & 4:
        image = image.transpose(1, 0, 2)
    return np.ascontiguousarray(image)


def load_runner(path: Path, kind: str, device: str = "cpu", engine: Engine = "torch") -> Runner:
    """The network of ``kind`` in ``path`` on ``engine``; ONNX Runtime and OpenVINO run on the CPU only."""
    if engine != "torch":
        if device != "cpu":
            raise ValueError(f"the {engine} engine runs on the CPU, not on {device!r}")
        from worker.models.onnx_graph import GraphRunner

        return GraphRunner.from_checkpoint(path, kind, engine)
    from worker.models.enhance import ModelRunner, load_kind

    return ModelRunner(load_kind(path, kind), device)


class SidEnhancer:
    """SID on camera RAW: packed mosaic times the ratio in, full-resolution sRGB out."""

    name = "sid"

    def __init__(self, runner: Runner) -> None:
        if runner.config.in_channels != 4:
            raise ValueError("the RAW model takes 4 packed channels")
        self.runner = runner

    @classmethod
    def from_checkpoint(cls, path: Path, device: str = "cpu", engine: Engine = "torch") -> SidEnhancer:
        return cls(load_runner(path, "raw", device, engine))

    def enhance_raw(self, frame: RawFrame, ratio: float) -> np.ndarray:
        return orient(self.runner(raw_model_input(frame.packed, ratio, frame.white_balance)), frame.flip)

    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
        raise InputError("unsupported-input", "This worker's model enhances camera RAW files only.")


class SrgbEnhancer:
    """The sRGB network on dark JPEG/PNG: brightened, space-to-depth packed picture in, sRGB out."""

    name = "sid-srgb"

    def __init__(self, runner: Runner) -> None:
        if runner.config.in_channels != 12:
            raise ValueError("the sRGB model takes 12 space-to-depth channels")
        self.runner = runner

    @classmethod
    def from_checkpoint(cls, path: Path, device: str = "cpu", engine: Engine = "torch") -> SrgbEnhancer:
        return cls(load_runner(path, "srgb", device, engine))

    def enhance_raw(self, frame: RawFrame, ratio: float) -> np.ndarray:
        raise InputError("unsupported-input", "This worker's model enhances JPEG/PNG pictures only.")

    def enhance_srgb(self, frame: SrgbFrame, ratio: float) -> np.ndarray:
        height, width = frame.rgb.shape[:2]
        return np.ascontiguousarray(self.runner(srgb_model_input(frame.rgb, ratio))[:height, :width])
