"""Training on tiny generated photos: checkpoints, exact resume, time boxes, the log, the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from training.config import TrainConfig
from training.losses import enhancement_loss, ssim
from training.metrics import ssim as reference_ssim
from training.train import learning_rate, main, train
from worker.models.checkpoint import load_training_state, load_weights
from worker.models.device import fast_dtype


def tiny(data: Path, out: Path, **changes: Any) -> TrainConfig:
    config = TrainConfig(
        data=data, out_dir=out, crop=32, batch_size=2, steps=3, width=4, checkpoint_every=2, device="cpu", val_crops=2
    )
    for name, value in changes.items():
        setattr(config, name, value)
    return config


def log_of(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]


def test_raw_training_checkpoints_logs_and_resumes_exactly(data: Path, tmp_path: Path) -> None:
    constant = {"final_lr_fraction": 1.0}  # so a 2-step run has the same schedule as the first 2 of 3 steps
    weights = load_weights(train(tiny(data, tmp_path / "straight", **constant), progress=False))
    assert weights.kind == "raw" and weights.config.in_channels == 4 and weights.config.width == 4
    assert weights.metadata["step"] == "3"
    log = log_of(tmp_path / "straight")
    assert [entry["step"] for entry in log] == [2, 3]
    assert all(np.isfinite(e["loss"]) and e["crops_per_s"] > 0 and 0 < e["data_share"] < 1 for e in log)
    assert "val_psnr" in log[-1]

    train(tiny(data, tmp_path / "halted", steps=2, **constant), progress=True)
    train(tiny(data, tmp_path / "halted", resume=tmp_path / "halted" / "state.pt", **constant), progress=False)
    assert [entry["step"] for entry in log_of(tmp_path / "halted")] == [2, 3]  # the resumed run did only step 3
    first, resumed = (load_training_state(tmp_path / name / "state.pt") for name in ("straight", "halted"))
    assert resumed.step == 3
    for name, tensor in first.model.items():  # the same batches in the same order
        torch.testing.assert_close(resumed.model[name], tensor, rtol=0, atol=1e-6)


def test_srgb_training_runs_on_real_and_synthetic_pairs(data: Path, tmp_path: Path) -> None:
    weights = load_weights(train(tiny(data, tmp_path / "srgb", kind="srgb", steps=2), progress=False))
    assert weights.kind == "srgb" and weights.config.in_channels == 12 and weights.config.residual


def test_a_time_box_ends_the_run_with_a_checkpoint(data: Path, tmp_path: Path) -> None:
    config = tiny(data, tmp_path / "boxed", steps=10**6, minutes=0.05, checkpoint_every=10**6)
    weights = load_weights(train(config, progress=False))
    step = int(weights.metadata["step"])
    assert 1 <= step < 10**6
    assert log_of(tmp_path / "boxed")[-1]["step"] == step and 2 < log_of(tmp_path / "boxed")[-1]["elapsed_s"] < 30


def test_another_kind_is_refused_for_resume_and_init(data: Path, tmp_path: Path) -> None:
    first = train(tiny(data, tmp_path / "raw", steps=1), progress=False)
    with pytest.raises(ValueError, match="raw"):
        train(tiny(data, tmp_path / "a", kind="srgb", resume=tmp_path / "raw" / "state.pt"), progress=False)
    with pytest.raises(ValueError, match="raw"):
        train(tiny(data, tmp_path / "b", kind="srgb", init=first), progress=False)


def test_training_can_start_from_shipped_weights(data: Path, tmp_path: Path) -> None:
    first = train(tiny(data, tmp_path / "first", steps=1), progress=False)
    second = train(tiny(data, tmp_path / "second", steps=1, init=first, lr=0.0), progress=False)
    start, after = load_weights(first), load_weights(second)
    for name, tensor in start.state.items():  # with no learning the weights stay those it started from
        torch.testing.assert_close(after.state[name], tensor)


def test_config_round_trips_and_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    config = TrainConfig(kind="srgb", data=tmp_path / "a", resume=tmp_path / "s.pt", steps=5)
    plain = config.to_dict()
    assert json.loads(json.dumps(plain)) == plain and TrainConfig.from_dict(plain) == config
    with pytest.raises(ValueError, match="colour"):
        TrainConfig.from_dict({"colour": "blue"})
    for bad in ({"kind": "video"}, {"crop": 100}, {"minutes": -1.0}):
        with pytest.raises(ValueError):
            TrainConfig.from_dict(bad).check()


def test_learning_rate_decays_from_lr_to_the_final_fraction() -> None:
    config = TrainConfig(lr=1e-4, final_lr_fraction=0.01)
    assert learning_rate(config, 0.0) == pytest.approx(1e-4)
    assert learning_rate(config, 0.5) == pytest.approx(0.505e-4)
    assert learning_rate(config, 1.0) == learning_rate(config, 2.0) == pytest.approx(1e-6)


def test_the_loss_is_l1_plus_the_evaluations_ssim() -> None:
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 32, 32, generator=generator, dtype=torch.float64)
    noisy = (target + 0.1 * torch.randn(target.shape, generator=generator, dtype=torch.float64)).clamp(0, 1)
    expected = np.mean([reference_ssim(a.permute(1, 2, 0).numpy(), b.permute(1, 2, 0).numpy()) for a, b in
                        zip(noisy, target, strict=True)])  # fmt: skip
    assert float(ssim(noisy, target)) == pytest.approx(expected, abs=1e-4)
    l1 = float((noisy - target).abs().mean())
    assert float(enhancement_loss(noisy, target, 0.0)) == pytest.approx(l1)
    assert float(enhancement_loss(noisy, target, 0.5)) == pytest.approx(l1 + 0.5 * (1 - expected), abs=1e-4)


def test_the_command_line_trains_and_says_what_is_wrong(data: Path, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "cli"
    args = ["--data", str(data), "--out-dir", str(out), "--crop", "32", "--batch-size", "2", "--steps", "1"]
    assert main([*args, "--width", "4", "--device", "cpu"]) == 0
    assert (out / "model.safetensors").exists() and "weights:" in capsys.readouterr().out
    assert main([*args, "--kind", "video"]) == 2
    assert "kind" in capsys.readouterr().err


def test_cpus_with_native_bf16_train_in_bf16(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bf16 path runs (emulated here when the CPU has no AVX512_BF16 or AMX) and still learns in fp32 weights."""
    monkeypatch.setattr("worker.models.device.native_cpu_bf16", lambda: True)
    assert fast_dtype(torch.device("cpu")) == torch.bfloat16
    weights = load_weights(train(tiny(data, tmp_path / "bf16", steps=2), progress=False))
    assert all(torch.isfinite(t).all() for t in weights.state.values())
    monkeypatch.setattr("worker.models.device.native_cpu_bf16", lambda: False)
    assert fast_dtype(torch.device("cpu")) == torch.float32
