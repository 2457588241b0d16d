"""Training smoke tests on tiny generated images: a few steps, checkpoints, exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from worker.models.checkpoint import load_training_state, load_weights
from worker.synth import is_validation
from worker.train import PairSource, TrainConfig, learning_rate, train


def write_photos(folder: Path, count: int, seed: int, scale: float = 1.0) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:40, 0:56] / 56
    for i in range(count):
        colour = rng.uniform(0.2, 0.9, 3)
        image = np.clip((0.5 + 0.5 * np.sin(6 * x + i))[..., None] * colour + 0.1 * y[..., None], 0, 1) * scale
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(folder / f"img{i:02d}.png")


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    write_photos(tmp_path / "clean", 12, seed=0)
    write_photos(tmp_path / "lol" / "normal", 6, seed=1)
    write_photos(tmp_path / "lol" / "low", 6, seed=1, scale=0.05)
    return tmp_path / "clean", tmp_path / "lol"


def tiny(clean: Path, lol: Path, out: Path, **changes: object) -> TrainConfig:
    config = TrainConfig(
        clean_dirs=(clean,),
        lol_dirs=(lol,),
        out_dir=out,
        crop=32,
        batch_size=2,
        steps=3,
        width=4,
        checkpoint_every=2,
        device="cpu",
        val_fraction=0.25,
        val_crops=2,
    )
    for name, value in changes.items():
        setattr(config, name, value)
    return config


def test_raw_training_checkpoints_and_resumes_exactly(data: tuple[Path, Path], tmp_path: Path) -> None:
    clean, lol = data
    constant = {"final_lr_fraction": 1.0}  # so a 2-step run has the same schedule as the first 2 of 3 steps
    straight = train(tiny(clean, lol, tmp_path / "straight", **constant), progress=False)
    weights = load_weights(straight)
    assert weights.kind == "raw" and weights.config.in_channels == 4 and weights.config.width == 4
    assert weights.metadata["step"] == "3"
    log = [json.loads(line) for line in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [2, 3]
    assert all(np.isfinite(entry["loss"]) and entry["images_per_s"] > 0 for entry in log)
    assert "val_psnr" in log[-1]

    train(tiny(clean, lol, tmp_path / "halted", steps=2, **constant), progress=True)
    resumed = tiny(clean, lol, tmp_path / "halted", resume=tmp_path / "halted" / "state.pt", **constant)
    train(resumed, progress=False)
    halted_log = [json.loads(line)["step"] for line in (tmp_path / "halted" / "log.jsonl").read_text().splitlines()]
    assert halted_log == [2, 3]  # the resumed run did only step 3

    train(tiny(clean, lol, tmp_path / "workers", workers=2, **constant), progress=False)
    first = load_training_state(tmp_path / "straight" / "state.pt")
    for other in ("halted", "workers"):  # same batches in the same order, whoever makes them
        state = load_training_state(tmp_path / other / "state.pt")
        assert state.step == 3
        for name, tensor in first.model.items():
            torch.testing.assert_close(state.model[name], tensor, rtol=0, atol=1e-6)


def test_srgb_training_runs_on_real_and_synthetic_pairs(data: tuple[Path, Path], tmp_path: Path) -> None:
    clean, lol = data
    path = train(tiny(clean, lol, tmp_path / "srgb", kind="srgb", steps=2), progress=False)
    weights = load_weights(path)
    assert weights.kind == "srgb" and weights.config.in_channels == 12


def test_resuming_another_kind_is_refused(data: tuple[Path, Path], tmp_path: Path) -> None:
    clean, lol = data
    train(tiny(clean, lol, tmp_path / "raw", steps=1), progress=False)
    with pytest.raises(ValueError, match="raw"):
        train(tiny(clean, lol, tmp_path / "srgb", kind="srgb", resume=tmp_path / "raw" / "state.pt"), progress=False)


def test_examples_have_the_network_shapes_and_validation_is_held_out(data: tuple[Path, Path]) -> None:
    clean, lol = data
    config = tiny(clean, lol, Path("unused"), val_fraction=0.3)
    train_source, val_source = PairSource(config, validation=False), PairSource(config, validation=True)
    assert len(train_source) + len(val_source) == 12 + 6
    names = [f"img{i:02d}.png" for i in range(12)]
    assert len(val_source.clean) == sum(is_validation(n, 0.3) for n in names) + sum(
        is_validation(n, 0.3) for n in names[:6]
    )
    inputs, targets = train_source.batch(np.random.default_rng(0), 3)
    assert inputs.shape == (3, 4, 16, 16) and targets.shape == (3, 3, 32, 32)
    assert float(inputs.max()) <= 1.0 and float(inputs.min()) >= 0.0

    srgb = PairSource(tiny(clean, lol, Path("unused"), kind="srgb"), validation=False)
    assert srgb.pairs  # real pairs are used for the sRGB model
    inputs, targets = srgb.batch(np.random.default_rng(0), 3)
    assert inputs.shape == (3, 12, 16, 16) and targets.shape == (3, 3, 32, 32)


def test_config_round_trips_through_plain_values(tmp_path: Path) -> None:
    config = TrainConfig(kind="srgb", clean_dirs=(tmp_path / "a",), resume=tmp_path / "s.pt", steps=5)
    plain = config.to_dict()
    assert json.loads(json.dumps(plain)) == plain
    assert TrainConfig.from_dict(plain) == config
    with pytest.raises(ValueError, match="colour"):
        TrainConfig.from_dict({"colour": "blue"})


def test_learning_rate_decays_from_lr_to_the_final_fraction() -> None:
    config = TrainConfig(lr=1e-4, steps=100, final_lr_fraction=0.01)
    assert learning_rate(config, 0) == pytest.approx(1e-4)
    assert learning_rate(config, 50) == pytest.approx(0.505e-4)
    assert learning_rate(config, 100) == pytest.approx(1e-6)


def test_training_can_start_from_shipped_weights(data: tuple[Path, Path], tmp_path: Path) -> None:
    clean, lol = data
    first = train(tiny(clean, lol, tmp_path / "first", steps=1), progress=False)
    second = train(tiny(clean, lol, tmp_path / "second", steps=1, init=first, lr=0.0), progress=False)
    start, after = load_weights(first), load_weights(second)
    for name, tensor in start.state.items():  # with no learning the weights stay those it started from
        torch.testing.assert_close(after.state[name], tensor)
    with pytest.raises(ValueError, match="raw"):
        train(tiny(clean, lol, tmp_path / "third", kind="srgb", steps=1, init=first), progress=False)
