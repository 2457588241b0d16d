"""Train the SID network (RAW) or its sRGB sibling: ``train(TrainConfig(...))``.

L1 loss and Adam, as the SID paper, with a cosine learning-rate decay. Data
is made on the fly from clean photos (``worker.synth``) and, for sRGB, real
LOL low/normal pairs; files whose name hashes into the validation share are
never trained on. Every batch is a pure function of (seed, step), so a run
is reproducible and a resumed run sees exactly the batches the uninterrupted
one would have, whatever the number of loader workers. (On CPU the weights
then match bit for bit; GPU kernels may differ in the last bits.)

Checkpoints, every ``checkpoint_every`` steps and at the end, in ``out_dir``:
``model.safetensors`` (fp16 weights + config, what ships), ``state.pt``
(fp32 weights, optimizer and step, to resume) and ``log.jsonl``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from tqdm import tqdm

from worker.models.checkpoint import (
    CheckpointError,
    load_training_state,
    load_weights,
    save_training_state,
    save_weights,
)
from worker.models.inputs import raw_model_input, srgb_model_input
from worker.models.sid import SID, SIDConfig
from worker.synth import (
    is_validation,
    list_images,
    lol_pairs,
    pair_ratio,
    read_srgb,
    synth_raw_pair,
    synth_srgb_pair,
)

Example = tuple[np.ndarray, np.ndarray]  # (network input (C, h, w), target (3, 2h, 2w))
VALIDATION_SEED = 0xDA7A


@dataclass
class TrainConfig:
    kind: str = "raw"  # "raw": SID on synthetic RAW; "srgb": the sRGB model
    clean_dirs: tuple[Path, ...] = ()  # clean photos (searched recursively)
    lol_dirs: tuple[Path, ...] = ()  # folders with low/ and normal/: real pairs (srgb); normal/ as clean photos (both)
    out_dir: Path = Path("runs/sid")
    crop: int = 256  # output pixels per side of a training crop, a multiple of 32
    batch_size: int = 8
    steps: int = 20_000
    lr: float = 1e-4
    final_lr_fraction: float = 0.01  # cosine decay from lr to lr * this
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    resume: Path | None = None  # a state.pt to continue from
    init: Path | None = None  # shipped weights (.safetensors) to start from, with a fresh optimizer
    checkpoint_every: int = 1000
    width: int = 32  # SIDConfig.width
    workers: int = 0  # data loader processes
    val_fraction: float = 0.1
    val_crops: int = 16
    real_fraction: float = 0.5  # srgb: share of examples from real pairs when there are any

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (paths as text), for checkpoints and logs."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The inverse of ``to_dict``, for config files; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        if set(values) - known:
            raise ValueError(f"unknown training settings: {sorted(set(values) - known)}")
        converted = dict(values)
        for name in ("clean_dirs", "lol_dirs"):
            if name in converted:
                converted[name] = tuple(Path(v) for v in converted[name])
        for name in ("out_dir", "resume", "init"):
            if converted.get(name) is not None:
                converted[name] = Path(converted[name])
        return cls(**converted)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(image * 255).astype(np.uint8)


def _random_crop(images: list[np.ndarray], size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The same random crop, flips and transpose of each image (uint8 in, float32 out), padded if too small."""
    height, width = images[0].shape[:2]
    pad = ((0, max(0, size - height)), (0, max(0, size - width)), (0, 0))
    y = rng.integers(0, max(height - size, 0) + 1)
    x = rng.integers(0, max(width - size, 0) + 1)
    flip_y, flip_x, transpose = rng.integers(0, 2, size=3)
    out = []
    for image in images:
        crop = np.pad(image, pad, mode="reflect")[y : y + size, x : x + size]
        crop = crop[::-1] if flip_y else crop
        crop = crop[:, ::-1] if flip_x else crop
        crop = crop.transpose(1, 0, 2) if transpose else crop
        out.append(crop.astype(np.float32) / np.float32(255))
    return out


class PairSource:
    """Training (or validation) examples for one model kind, made from images held in memory as uint8."""

    def __init__(self, config: TrainConfig, validation: bool) -> None:
        self.kind, self.crop, self.real_fraction = config.kind, config.crop, config.real_fraction

        def wanted(path: Path) -> bool:  # by name, so a low/normal pair stays on one side
            return is_validation(path.name, config.val_fraction) == validation

        clean = [path for folder in config.clean_dirs for path in list_images(folder) if wanted(path)]
        pairs = [(low, normal) for folder in config.lol_dirs for low, normal in lol_pairs(folder) if wanted(low)]
        clean += [normal for _, normal in pairs]
        self.clean = [_to_uint8(read_srgb(p)) for p in clean]
        self.pairs: list[tuple[np.ndarray, np.ndarray, float]] = []
        if config.kind == "srgb":
            for low_path, normal_path in pairs:
                low, normal = read_srgb(low_path), read_srgb(normal_path)
                self.pairs.append((_to_uint8(low), _to_uint8(normal), pair_ratio(low, normal)))

    def __len__(self) -> int:
        return len(self.clean) + len(self.pairs)

    def example(self, rng: np.random.Generator) -> Example:
        if self.pairs and (not self.clean or rng.random() < self.real_fraction):
            low, normal, ratio = self.pairs[rng.integers(len(self.pairs))]
            dark, target = _random_crop([low, normal], self.crop, rng)
            return srgb_model_input(dark, ratio), target.transpose(2, 0, 1)
        (clean,) = _random_crop([self.clean[rng.integers(len(self.clean))]], self.crop, rng)
        if self.kind == "raw":
            raw = synth_raw_pair(clean, rng)
            return raw_model_input(raw.packed, raw.ratio, raw.white_balance), raw.target.transpose(2, 0, 1)
        synthetic = synth_srgb_pair(clean, rng)
        return srgb_model_input(synthetic.dark, synthetic.ratio), synthetic.target.transpose(2, 0, 1)

    def batch(self, rng: np.random.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, targets = zip(*(self.example(rng) for _ in range(size)), strict=True)
        return torch.from_numpy(np.stack(inputs)), torch.from_numpy(np.ascontiguousarray(np.stack(targets)))


class Batches(IterableDataset[tuple[torch.Tensor, torch.Tensor]]):
    """Batches for steps first..last; worker w makes steps first+w, first+w+n, ... (the loader interleaves them)."""

    def __init__(self, source: PairSource, seed: int, first: int, last: int, batch_size: int) -> None:
        self.source, self.seed, self.first, self.last, self.batch_size = source, seed, first, last, batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for step in range(self.first + worker, self.last + 1, workers):
            yield self.source.batch(np.random.default_rng([self.seed, step]), self.batch_size)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Cosine decay from ``lr`` to ``lr * final_lr_fraction``; a function of the step, so resuming keeps it."""
    cosine = 0.5 * (1 + math.cos(math.pi * min(step / max(config.steps, 1), 1.0)))
    return config.lr * (config.final_lr_fraction + (1 - config.final_lr_fraction) * cosine)


def psnr(model: SID, inputs: torch.Tensor, targets: torch.Tensor, device: torch.device) -> float:
    """Mean PSNR (dB) of the clipped outputs, one example at a time."""
    model.eval()
    scores = []
    with torch.inference_mode():
        for x, y in zip(inputs, targets, strict=True):
            out = model(x[None].to(device)).float().clamp(0, 1).cpu()
            scores.append(-10 * math.log10(max(float(((out[0] - y) ** 2).mean()), 1e-10)))
    model.train()
    return float(np.mean(scores))


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _checkpoint(config: TrainConfig, model: SID, optimizer: torch.optim.Adam, step: int, log: dict[str, Any]) -> Path:
    save_training_state(config.out_dir / "state.pt", model, optimizer, step, config.kind, config.to_dict())
    sources = [str(d) for d in (*config.clean_dirs, *config.lol_dirs)]
    metadata = {"step": str(step), "trained_on": json.dumps(sources), "val_psnr": str(log.get("val_psnr", ""))}
    path = save_weights(config.out_dir / "model.safetensors", model, config.kind, metadata)
    with (config.out_dir / "log.jsonl").open("a") as f:
        f.write(json.dumps({"step": step, **log}) + "\n")
    return path


def _resume_or_start(config: TrainConfig, device: torch.device) -> tuple[SID, torch.optim.Adam, int]:
    """The model, its optimizer and the last step done: fresh from the seed, or from ``config.resume``."""
    torch.manual_seed(config.seed)
    # the sRGB model sees the brightened picture itself: it learns a correction to it (residual), which
    # starts at the quality of a plain gain and trains far faster; the RAW model is SID exactly as published
    srgb = config.kind == "srgb"
    model_config = SIDConfig(in_channels=12 if srgb else 4, width=config.width, residual=srgb)
    state = load_training_state(config.resume) if config.resume else None
    if state is not None:
        if state.kind != config.kind:
            raise CheckpointError(f"{config.resume} trains a {state.kind!r} model, not {config.kind!r}")
        model_config = state.config  # a checkpoint carries its own config
    if state is None and config.init is not None:
        weights = load_weights(config.init)
        if weights.kind != config.kind:
            raise CheckpointError(f"{config.init} holds a {weights.kind!r} model, not {config.kind!r}")
        model_config = weights.config
    model = SID(model_config)
    if state is not None:
        model.load_state_dict(state.model)
    elif config.init is not None:
        model.load_state_dict(weights.state)
    model = model.to(device).to(memory_format=torch.channels_last).train()  # type: ignore[call-overload]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    if state is not None:
        optimizer.load_state_dict(state.optimizer)
    return model, optimizer, state.step if state is not None else 0


def train(config: TrainConfig, progress: bool = True) -> Path:
    """Train (or resume) and return the path of the final ``model.safetensors``."""
    if config.kind not in ("raw", "srgb"):
        raise ValueError(f"kind must be 'raw' or 'srgb', got {config.kind!r}")
    if config.crop % 32:
        raise ValueError(f"crop must be a multiple of 32, got {config.crop}")
    device = _device(config.device)
    model, optimizer, start = _resume_or_start(config, device)
    source, validation = PairSource(config, validation=False), PairSource(config, validation=True)
    if len(source) == 0:
        raise ValueError("no training images: give clean_dirs and/or lol_dirs")
    val_batch = None
    if len(validation) and config.val_crops:
        val_batch = validation.batch(np.random.default_rng([config.seed, VALIDATION_SEED]), config.val_crops)
    batches = Batches(source, config.seed, start + 1, config.steps, config.batch_size)
    loader = DataLoader(batches, batch_size=None, num_workers=config.workers, pin_memory=device.type == "cuda")
    config.out_dir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=config.steps, initial=start, unit="step", disable=not progress, dynamic_ncols=True)
    losses: list[torch.Tensor] = []
    started = time.perf_counter()
    for step, (inputs, targets) in enumerate(loader, start=start + 1):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        inputs = inputs.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            outputs = model(inputs)
        loss = torch.nn.functional.l1_loss(outputs.float(), targets.to(device, non_blocking=True))
        optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        optimizer.step()
        losses.append(loss.detach())
        bar.update(1)
        checkpoint = step % config.checkpoint_every == 0 or step == config.steps
        if step % 10 and not checkpoint:
            continue
        log = {
            "loss": float(torch.stack(losses).mean()),
            "images_per_s": len(losses) * config.batch_size / (time.perf_counter() - started),
        }
        bar.set_postfix(loss=f"{log['loss']:.4f}", img_s=f"{log['images_per_s']:.1f}")
        if checkpoint:
            if val_batch is not None:
                log["val_psnr"] = psnr(model, *val_batch, device)
                bar.write(f"step {step}: loss {log['loss']:.4f}, validation PSNR {log['val_psnr']:.2f} dB")
            _checkpoint(config, model, optimizer, step, log)
        losses, started = [], time.perf_counter()
    bar.close()
    if start >= config.steps:  # nothing left to do: still hand back weights
        _checkpoint(config, model, optimizer, start, {})
    return config.out_dir / "model.safetensors"
