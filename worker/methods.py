"""Which enhancer a worker runs, for each kind of input: a setting, not a rebuild.

``sid`` runs a learned model (SID on RAW, its sRGB sibling on JPEG/PNG);
``baseline`` is the classical method. The defaults follow the evaluation
(``worker/models/README.md``): a learned model is the default for its kind
only once it beats ``baseline`` there. Torch is imported only when a learned
model is asked for, and not
even then on the ONNX Runtime or OpenVINO engines (``DARKROOM_ENGINE``).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from worker.baseline import Baseline
from worker.frames import ByKind, Enhancer
from worker.model_files import resolve_model
from worker.settings import METHODS, ModelChoice

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from worker.models.enhancers import Engine

log = logging.getLogger(__name__)
NATIVE_BF16 = {"avx512_bf16", "amx_tile"}  # /proc/cpuinfo flags: where bf16 beats fp32
GRAPH_ENGINES = ("onnxruntime", "openvino")  # optional: ONNX graphs on the CPU, no torch
EXTRAS = {"onnxruntime": "onnx", "openvino": "openvino"}  # pip install darkroom[...]

__all__ = ["METHODS", "ModelChoice", "load_enhancer"]


def load_enhancer(choice: ModelChoice, s3: S3Client | None = None) -> Enhancer:
    """Build the chosen enhancers once, at worker start: one for RAW, one for JPEG/PNG."""
    for method in (choice.method, choice.srgb_method):
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if choice.method == choice.srgb_method == "baseline":
        return Baseline()
    from worker.models.enhancers import SidEnhancer, SrgbEnhancer

    engine = pick_engine(choice.engine, choice.device, cpu_flags(), installed_engines())
    if engine != "torch":
        device = "cpu"
    else:
        from worker.models.device import pick_device

        device = str(pick_device(choice.device))
    log.info("sid runs on %s (%s)", engine, device)
    raw: Enhancer = Baseline()
    srgb: Enhancer = Baseline()
    if choice.method == "sid":
        raw = SidEnhancer.from_checkpoint(resolve_model(choice.raw_model, choice.cache_dir, s3), device, engine)
    if choice.srgb_method == "sid":
        srgb = SrgbEnhancer.from_checkpoint(resolve_model(choice.srgb_model, choice.cache_dir, s3), device, engine)
    return ByKind(raw, srgb)


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """This CPU's feature flags (Linux), read without torch; empty where there is no /proc/cpuinfo."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def installed_engines() -> set[str]:
    """The optional engines whose package is installed."""
    return {name for name in GRAPH_ENGINES if importlib.util.find_spec(name) is not None}


def pick_engine(engine: str, device: str, flags: set[str], installed: set[str]) -> Engine:
    """What runs the networks. ``auto``, on a CPU: OpenVINO where bf16 is native (AVX512_BF16, AMX; its bf16
    beats torch's there), ONNX Runtime elsewhere (its fp32 beats torch's), each where installed, else torch;
    torch on a GPU, which is looked for without torch (the NVIDIA driver's device file). BENCHMARKS.md."""
    if engine in GRAPH_ENGINES:
        if engine not in installed:
            raise ValueError(f"DARKROOM_ENGINE={engine} needs {engine}: pip install darkroom[{EXTRAS[engine]}]")
        if device not in ("auto", "cpu"):
            raise ValueError(f"DARKROOM_ENGINE={engine} runs on the CPU, not DARKROOM_DEVICE={device!r}")
        return "onnxruntime" if engine == "onnxruntime" else "openvino"
    if engine == "torch" or device not in ("auto", "cpu") or (device == "auto" and Path("/dev/nvidia0").exists()):
        return "torch"
    preferred: list[Engine] = ["openvino"] if flags & NATIVE_BF16 else ["onnxruntime", "openvino"]
    return next((name for name in preferred if name in installed), "torch")
