"""The networks as ONNX graphs on ONNX Runtime or OpenVINO: built from a safetensors file, no PyTorch imported.

``sid_onnx`` writes the U-Net of ``sid.py`` as an ONNX graph straight from
the checkpoint's arrays (the same layers in the same order: 3x3 Conv +
LeakyRelu(0.2), 2x2 MaxPool, 2x2 stride-2 ConvTranspose, Concat, the 1x1
head and DepthToSpace in TF's "DCR" order, plus the input for the residual
sRGB model). It is built in memory when a worker starts, so no exported file
is shipped or kept, and a worker on this path never imports torch (about
2.5 s of a cold start). The graph takes sides divisible by 16: ``GraphRunner``
pads each window (reflect, as ``sid.pad_to_multiple``) and crops the result.

Two engines run the graph on the CPU (``DARKROOM_ENGINE`` picks one):
ONNX Runtime's CPU provider (fp32) beats PyTorch's fp32 channels-last on
both networks, the path of CPUs without native bf16; OpenVINO runs it in
bf16 on CPUs with AVX512_BF16 or AMX (its default there), faster than
PyTorch's bf16 (BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from safetensors import SafetensorError, safe_open

from worker.models.config import CheckpointError, SIDConfig, read_header
from worker.models.tiling import MARGIN, MAX_WINDOW_PIXELS, forward_tiled, plan_tiles

DOWNSAMPLING = 16  # four 2x2 max-pools
OPSET = 17
LEVELS = (1, 2, 3, 4, 5, 6, 7, 8, 9)


def layer_names() -> list[str]:
    """Every weight the graph needs, by published name."""
    names = [f"conv{level}_{i}.{p}" for level in LEVELS for i in (1, 2) for p in ("weight", "bias")]
    return names + [f"up{level}.weight" for level in (6, 7, 8, 9)] + ["conv10.weight", "conv10.bias"]


def load_arrays(path: Path) -> tuple[dict[str, np.ndarray], SIDConfig, str]:
    """A shipping checkpoint's weights as float32 arrays, its config and kind. Raises ``CheckpointError``."""
    try:
        with safe_open(str(path), framework="numpy") as f:
            header = dict(f.metadata() or {})
            arrays = {name: f.get_tensor(name).astype(np.float32) for name in f.keys()}  # noqa: SIM118
    except SafetensorError as exc:
        raise CheckpointError(f"{path} is not a safetensors file: {exc}") from None
    config, kind = read_header(path, header)
    missing = sorted(set(layer_names()) - set(arrays))
    if missing:
        raise CheckpointError(f"{path} lacks {missing[:3]} ({len(missing)} weights missing)")
    return arrays, config, kind


def sid_onnx(config: SIDConfig, weights: dict[str, np.ndarray]) -> Any:
    """The SID U-Net as an ONNX ModelProto: x (N, C, H, W), sides divisible by 16 -> (N, 3, H*bs, W*bs)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []

    def conv(x: str, layer: str, act: bool = True) -> str:
        pad = weights[f"{layer}.weight"].shape[-1] // 2
        nodes.append(helper.make_node("Conv", [x, f"{layer}.weight", f"{layer}.bias"], [layer], pads=[pad] * 4))
        if not act:
            return layer
        nodes.append(helper.make_node("LeakyRelu", [layer], [f"{layer}.act"], alpha=0.2))
        return f"{layer}.act"

    x, skips = "x", []
    for level in (1, 2, 3, 4):
        x = conv(conv(x, f"conv{level}_1"), f"conv{level}_2")
        skips.append(x)
        nodes.append(helper.make_node("MaxPool", [x], [f"pool{level}"], kernel_shape=[2, 2], strides=[2, 2]))
        x = f"pool{level}"
    x = conv(conv(x, "conv5_1"), "conv5_2")
    for level in (6, 7, 8, 9):
        up = f"up{level}"
        nodes.append(helper.make_node("ConvTranspose", [x, f"{up}.weight"], [up], kernel_shape=[2, 2], strides=[2, 2]))
        nodes.append(helper.make_node("Concat", [up, skips.pop()], [f"cat{level}"], axis=1))
        x = conv(conv(f"cat{level}", f"conv{level}_1"), f"conv{level}_2")
    x = conv(x, "conv10", act=False)
    bs = config.block_size
    out = "y" if not config.residual else "head"
    nodes.append(helper.make_node("DepthToSpace", [x], [out], blocksize=bs, mode="DCR"))
    if config.residual:
        nodes.append(helper.make_node("DepthToSpace", ["x"], ["identity"], blocksize=bs, mode="DCR"))
        nodes.append(helper.make_node("Add", ["head", "identity"], ["y"]))
    initializers = [numpy_helper.from_array(weights[name], name) for name in layer_names()]
    graph = helper.make_graph(
        nodes,
        "sid",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", config.in_channels, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", config.out_channels // bs**2, "H", "W"])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def pad_to_multiple(x: np.ndarray, multiple: int = DOWNSAMPLING) -> np.ndarray:
    """As ``sid.pad_to_multiple``: bottom and right, reflect where the image is big enough, else edge."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    mode: Literal["reflect", "edge"] = "reflect" if pad_h < h and pad_w < w else "edge"
    padded: np.ndarray = np.pad(x, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), mode=mode)
    return padded


def onnxruntime_session(model: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """ONNX Runtime's CPU provider, one thread per core."""
    import onnxruntime

    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])

    def infer(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = session.run(["y"], {"x": x})[0]
        return out

    return infer


def openvino_session(model: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """OpenVINO's CPU plugin, in its default precision (bf16 where the CPU has it natively, else fp32)."""
    import openvino

    core = openvino.Core()
    compiled = core.compile_model(core.read_model(model), "CPU")

    def infer(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = compiled(x)[0]  # valid until the next call: forward_tiled copies it out first
        return out

    return infer


SESSIONS = {"onnxruntime": onnxruntime_session, "openvino": openvino_session}


class GraphRunner:
    """One network as an ONNX graph on ``engine`` (CPU): (C, h, w) array in, clipped float32 (h*bs, w*bs, 3) out."""

    def __init__(
        self,
        config: SIDConfig,
        weights: dict[str, np.ndarray],
        engine: str = "onnxruntime",
        max_window_pixels: int = MAX_WINDOW_PIXELS,
        margin: int = MARGIN,
    ) -> None:
        if engine not in SESSIONS:
            raise ValueError(f"no ONNX engine {engine!r}; one of {', '.join(SESSIONS)}")
        self.infer = SESSIONS[engine](sid_onnx(config, weights).SerializeToString())
        self.engine = engine
        self.config = config
        self.max_window_pixels = max_window_pixels
        self.margin = margin

    @classmethod
    def from_checkpoint(cls, path: Path, kind: str, engine: str = "onnxruntime") -> GraphRunner:
        weights, config, found = load_arrays(path)
        if found != kind:
            raise CheckpointError(f"{path} holds a {found!r} model, not {kind!r}")
        return cls(config, weights, engine)

    def _forward(self, window: np.ndarray) -> np.ndarray:
        h, w = window.shape[-2:]
        bs = self.config.block_size
        out = self.infer(pad_to_multiple(window))
        return out[0, :, : h * bs, : w * bs].transpose(1, 2, 0)

    def __call__(self, planes: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(planes, dtype=np.float32)[None]
        tile = plan_tiles(x.shape[2], x.shape[3], self.max_window_pixels, self.margin)
        out = forward_tiled(self._forward, x, self.config.block_size, tile, self.margin)
        np.clip(out, 0.0, 1.0, out=out)
        return out
