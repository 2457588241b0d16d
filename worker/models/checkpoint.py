"""Checkpoints that carry their own config, and never run code when loaded.

Two files, two jobs:
- Shipping weights: safetensors, tensors stored in fp16 (half the size; the
  rounding is far below what an 8-bit result can show), loaded back as fp32.
  The model config and kind ("raw" or "srgb") live in the safetensors
  metadata as JSON, so a file alone is enough to rebuild its network.
- Training state (to resume): ``torch.save`` of plain dicts, tensors, numbers
  and strings only, read with ``torch.load(weights_only=True)``, which
  refuses any pickled object other than those. A file with code in it is a
  ``CheckpointError``, and the code never runs.

``convert_tf_variables`` turns the SID authors' TensorFlow variables (read
with ``tf.train.load_checkpoint`` and saved as arrays) into this model's
state dict; the name and layout mapping is documented in ``sid.py``.
"""

from __future__ import annotations

import json
import math
import os
import pickle
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from worker.models.config import FORMAT, CheckpointError, SIDConfig, check_kind, config_from_dict, read_header
from worker.models.sid import SID

__all__ = [
    "CheckpointError",
    "TrainingState",
    "Weights",
    "build_model",
    "convert_tf_variables",
    "load_model",
    "load_training_state",
    "load_weights",
    "save_training_state",
    "save_weights",
]

TF_DECONVOLUTIONS = {"up6": "Variable", "up7": "Variable_1", "up8": "Variable_2", "up9": "Variable_3"}
FP16_MAX = 65504.0


@dataclass(frozen=True)
class Weights:
    """What a shipping checkpoint holds: fp32 tensors by published name, the config and the model kind."""

    state: dict[str, Tensor]
    config: SIDConfig
    kind: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class TrainingState:
    model: dict[str, Tensor]
    optimizer: dict[str, Any]
    step: int
    kind: str
    config: SIDConfig
    train_config: dict[str, Any]


def _replace_atomically(path: Path, write: Any) -> Path:
    """Write to a temporary file beside ``path``, then rename: a crash never leaves half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    write(temporary)
    os.replace(temporary, path)
    return path


def save_weights(path: Path, model: SID, kind: str, metadata: Mapping[str, str] | None = None) -> Path:
    """Ship ``model`` as fp16 safetensors with its config and kind in the metadata."""
    state = {name: t.detach().to("cpu", torch.float32).contiguous() for name, t in model.state_dict().items()}
    too_big = [name for name, t in state.items() if t.abs().max().item() > FP16_MAX]
    if too_big:
        raise CheckpointError(f"weights out of fp16 range: {too_big}")
    header = {
        **(metadata or {}),
        "format": FORMAT,
        "kind": check_kind(kind),
        "config": json.dumps(asdict(model.config)),
    }
    tensors = {name: t.half() for name, t in state.items()}
    return _replace_atomically(path, lambda p: save_file(tensors, p, metadata=header))


def load_weights(path: Path) -> Weights:
    """Read a shipping checkpoint; tensors come back as fp32. Raises ``CheckpointError``."""
    try:
        with safe_open(str(path), framework="pt") as f:
            header = dict(f.metadata() or {})
            state = {name: f.get_tensor(name).float() for name in f.keys()}  # noqa: SIM118 (not a dict)
    except SafetensorError as exc:
        raise CheckpointError(f"{path} is not a safetensors file: {exc}") from None
    config, kind = read_header(path, header)
    return Weights(state=state, config=config, kind=kind, metadata=header)


def build_model(state: Mapping[str, Tensor], config: SIDConfig) -> SID:
    """A model with ``state`` loaded by name; every published name must be there with its shape."""
    model = SID(config)
    try:
        model.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"weights do not fit {config}: {exc}") from None
    return model.eval()


def load_model(path: Path) -> tuple[SID, str]:
    """The network stored in a shipping checkpoint, in eval mode, and its kind."""
    weights = load_weights(path)
    return build_model(weights.state, weights.config), weights.kind


def save_training_state(
    path: Path,
    model: SID,
    optimizer: torch.optim.Optimizer,
    step: int,
    kind: str,
    train_config: Mapping[str, Any],
) -> Path:
    """Everything needed to resume, as plain data (``train_config`` must hold only str/int/float/bool/None)."""
    state = {
        "format": FORMAT,
        "step": int(step),
        "kind": check_kind(kind),
        "config": asdict(model.config),
        "train_config": dict(train_config),
        "model": {name: t.detach().cpu() for name, t in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
    }
    return _replace_atomically(path, lambda p: torch.save(state, p))


def load_training_state(path: Path) -> TrainingState:
    """Read a training checkpoint without unpickling anything but tensors and plain containers."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a safe training checkpoint: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a darkroom training checkpoint")
    return TrainingState(
        model=state["model"],
        optimizer=state["optimizer"],
        step=int(state["step"]),
        kind=check_kind(state["kind"]),
        config=config_from_dict(state["config"]),
        train_config=state["train_config"],
    )


def convert_tf_variables(variables: Mapping[str, np.ndarray]) -> tuple[dict[str, Tensor], SIDConfig]:
    """The SID authors' TF variables (``g_conv1_1/weights`` ..., ``Variable`` ...) -> (state dict, config).

    Convolutions: HWIO -> OIHW. Deconvolutions: TF [h, w, out, in] -> torch [in, out, h, w].
    Both are ``transpose(3, 2, 0, 1)``. Extra variables (Adam slots) are ignored.
    """
    values = {name.removesuffix(":0"): np.asarray(v) for name, v in variables.items()}

    def get(name: str) -> np.ndarray:
        if name not in values:
            raise CheckpointError(f"TF variable {name!r} is missing")
        return values[name]

    first, head = get("g_conv1_1/weights"), get("g_conv10/weights")
    config = SIDConfig(
        in_channels=int(first.shape[2]),
        out_channels=int(head.shape[3]),
        width=int(first.shape[3]),
        block_size=math.isqrt(int(head.shape[3]) // 3),
    )
    state: dict[str, Tensor] = {}
    for name in SID(config).state_dict():
        layer, kind = name.split(".")
        if layer in TF_DECONVOLUTIONS:
            array = get(TF_DECONVOLUTIONS[layer]).transpose(3, 2, 0, 1)
        elif kind == "weight":
            array = get(f"g_{layer}/weights").transpose(3, 2, 0, 1)
        else:
            array = get(f"g_{layer}/biases")
        state[name] = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    build_model(state, config)  # every shape must fit
    return state, config
