"""Checkpoints: round trips, the authors' TF layout by name, and no unpickling of code."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional

from worker.models.checkpoint import (
    TF_DECONVOLUTIONS,
    CheckpointError,
    build_model,
    convert_tf_variables,
    load_model,
    load_training_state,
    load_weights,
    save_training_state,
    save_weights,
)
from worker.models.sid import SID, SIDConfig

PUBLISHED = SIDConfig()


def tf_variables(config: SIDConfig = PUBLISHED, seed: int = 0) -> dict[str, np.ndarray]:
    """Random arrays named and shaped as in the authors' TF checkpoint (HWIO filters, unnamed deconvs)."""
    rng = np.random.default_rng(seed)
    variables: dict[str, np.ndarray] = {}
    for name, tensor in SID(config).state_dict().items():
        layer, kind = name.split(".")
        if layer in TF_DECONVOLUTIONS:  # torch [in, out, h, w] -> TF [h, w, out, in]
            variables[TF_DECONVOLUTIONS[layer]] = rng.normal(0, 0.05, tensor.permute(2, 3, 1, 0).shape)
        elif kind == "weight":  # torch OIHW -> TF HWIO
            variables[f"g_{layer}/weights"] = rng.normal(0, 0.05, tensor.permute(2, 3, 1, 0).shape)
        else:
            variables[f"g_{layer}/biases"] = rng.normal(0, 0.05, tensor.shape)
    variables["g_conv1_1/weights/Adam"] = np.zeros(1)  # optimizer slots are ignored
    return {k: v.astype(np.float32) for k, v in variables.items()}


def tf_conv2d_same(x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """TF conv2d, NHWC, HWIO filter, stride 1, SAME padding: a plain cross-correlation."""
    kh, kw = weights.shape[:2]
    padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    height, width = x.shape[1:3]
    out = np.zeros((x.shape[0], height, width, weights.shape[3]))
    for dy in range(kh):
        for dx in range(kw):
            out += padded[:, dy : dy + height, dx : dx + width] @ weights[dy, dx]
    result: np.ndarray = out + bias
    return result


def tf_conv2d_transpose_2x2(x: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """TF conv2d_transpose with a [2, 2, out, in] filter and stride 2: each input pixel paints a 2x2 cell."""
    n, height, width, _ = x.shape
    out = np.zeros((n, 2 * height, 2 * width, filters.shape[2]))
    for dy in range(2):
        for dx in range(2):
            out[:, dy::2, dx::2] = x @ filters[dy, dx].T
    return out


def test_tf_variables_convert_by_name_and_compute_as_in_tf(tmp_path: Path) -> None:
    variables = tf_variables()
    state, config = convert_tf_variables(variables)
    assert config == SIDConfig()
    model = SID(config)
    model.load_state_dict(state, strict=True)
    loaded, kind = load_model(save_weights(tmp_path / "sid_tf.safetensors", model, "raw"))
    assert kind == "raw"

    x = np.random.default_rng(1).random((1, 6, 8, 4)).astype(np.float32)  # NHWC
    ours = loaded.get_submodule("conv1_1")(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).detach().numpy()
    theirs = tf_conv2d_same(x, variables["g_conv1_1/weights"], variables["g_conv1_1/biases"])
    np.testing.assert_allclose(ours, theirs, atol=2e-3)  # fp16 storage

    y = np.random.default_rng(2).random((1, 3, 4, 512)).astype(np.float32)
    ours = loaded.get_submodule("up6")(torch.from_numpy(y).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).detach().numpy()
    np.testing.assert_allclose(ours, tf_conv2d_transpose_2x2(y, variables["Variable"]), atol=2e-2, rtol=1e-2)


def test_missing_tf_variable_is_an_error() -> None:
    variables = tf_variables(SIDConfig(width=4))
    del variables["Variable_2"]
    with pytest.raises(CheckpointError, match="Variable_2"):
        convert_tf_variables(variables)


def test_weights_round_trip_in_fp16_with_config(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = SID(SIDConfig(in_channels=12, width=8))
    path = save_weights(tmp_path / "srgb.safetensors", model, "srgb", metadata={"trained_on": "lol-train"})
    weights = load_weights(path)
    assert weights.config == SIDConfig(in_channels=12, width=8)
    assert weights.kind == "srgb" and weights.metadata["trained_on"] == "lol-train"
    for name, tensor in model.state_dict().items():
        assert weights.state[name].dtype == torch.float32
        torch.testing.assert_close(weights.state[name], tensor.half().float())
    fp32_bytes = 4 * sum(t.numel() for t in model.state_dict().values())
    assert path.stat().st_size < 0.6 * fp32_bytes


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path: Path) -> None:
    path = save_weights(tmp_path / "w.safetensors", SID(SIDConfig(width=8)), "raw")
    weights = load_weights(path)
    state = dict(weights.state)
    state["conv1_1.weight"] = torch.zeros(8, 4, 5, 5)
    with pytest.raises(CheckpointError):
        build_model(state, weights.config)


def test_training_state_round_trip(tmp_path: Path) -> None:
    model = SID(SIDConfig(width=4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    model(torch.rand(1, 4, 16, 16)).mean().backward()
    optimizer.step()
    path = save_training_state(tmp_path / "state.pt", model, optimizer, 7, "raw", {"lr": 1e-4, "data": "x"})
    state = load_training_state(path)
    assert state.step == 7 and state.kind == "raw" and state.config == SIDConfig(width=4)
    assert state.train_config == {"lr": 1e-4, "data": "x"}
    fresh = torch.optim.Adam(SID(SIDConfig(width=4)).parameters(), lr=1.0)
    fresh.load_state_dict(state.optimizer)
    assert fresh.param_groups[0]["lr"] == 1e-4
    for name, tensor in model.state_dict().items():
        assert torch.equal(state.model[name], tensor)


class RunsCode:
    """An object whose unpickling runs a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickled_code_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "darkroom-sid-1", "model": RunsCode(marker)}, evil)
    raw_pickle = tmp_path / "evil.pkl"
    raw_pickle.write_bytes(pickle.dumps(RunsCode(marker)))
    for path in (evil, raw_pickle):
        with pytest.raises(CheckpointError):
            load_training_state(path)
        with pytest.raises(CheckpointError):
            load_weights(path)
        with pytest.raises(CheckpointError):
            load_model(path)
    assert not marker.exists()
    pickle.loads(raw_pickle.read_bytes())  # the fixture really is dangerous: plain pickle runs it
    assert marker.exists()


def test_a_conv_stays_a_conv_after_conversion() -> None:
    """Guards the transpose in the docs: TF HWIO through our conversion equals torch's conv2d."""
    variables = tf_variables(SIDConfig(width=4))
    state, _ = convert_tf_variables(variables)
    x = torch.rand(1, 4, 5, 6)
    ours = functional.conv2d(x, state["conv1_1.weight"], state["conv1_1.bias"], padding=1)
    theirs = tf_conv2d_same(
        x.permute(0, 2, 3, 1).numpy(), variables["g_conv1_1/weights"], variables["g_conv1_1/biases"]
    )
    np.testing.assert_allclose(ours.permute(0, 2, 3, 1).numpy(), theirs, atol=1e-5)
