"""Train the SID network (RAW) or its sRGB sibling: ``train(TrainConfig(...))``.

L1 (plus an SSIM term) and Adam, as the SID paper, with a cosine
learning-rate decay. Every batch is made on the training device from photos
decoded once into memory (``training.photos``, ``training.synth``); only the
held-out split's photos are never trained on.

Fast where it runs: channels-last always; bf16 autocast on GPUs and on CPUs
with native bf16 (AVX512_BF16, AMX), fp32 elsewhere, where bf16 is emulated
and slower; every core (PyTorch's default). The share of each step spent
making data is logged (``data_share``).

Two ways to bound a run. ``steps``: the schedule is a function of the step
and every batch of the seed and step, so a resumed run sees exactly what the
uninterrupted one would (bit for bit on a CPU). ``minutes``: a time box; the
schedule follows the share of the box used, so the learning rate reaches its
floor when the time is up, and a resumed run gets a box (and a schedule) of
its own, a warm restart.

Checkpoints, every ``checkpoint_every`` steps and at the end, in ``out_dir``:
``model.safetensors`` (fp16 weights + config, what ships), ``state.pt``
(fp32 weights, optimizer and step, to resume) and ``log.jsonl`` (loss,
validation PSNR, crops per second and data share against steps).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from training.batches import Batches, BatchSettings
from training.config import TrainConfig, add_train_options, config_from_args
from training.losses import enhancement_loss
from training.metrics import psnr
from training.pack import load_photos
from worker.models.checkpoint import (
    CheckpointError,
    load_training_state,
    load_weights,
    save_training_state,
    save_weights,
)
from worker.models.device import fast_dtype, pick_device
from worker.models.sid import SID, SIDConfig

VALIDATION_SEED = 0xDA7A


class QuietBar:
    """What the training loop asks of a progress bar, printing only what it writes (a GPU box may lack tqdm)."""

    def __init__(self, total: int, initial: int) -> None:
        self.n = initial

    def update(self, count: int = 1) -> None:
        self.n += count

    def set_postfix(self, **values: object) -> None: ...

    def write(self, line: str) -> None:
        print(line, flush=True)

    def close(self) -> None: ...


def progress_bar(show: bool, total: int, initial: int, unit: str) -> Any:
    """tqdm when asked for (and installed), else a ``QuietBar``."""
    if show:
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, unit=unit, dynamic_ncols=True)
    return QuietBar(total, initial)


def learning_rate(config: TrainConfig, progress: float) -> float:
    """Cosine decay from ``lr`` to ``lr * final_lr_fraction`` as ``progress`` goes from 0 to 1."""
    cosine = 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
    return config.lr * (config.final_lr_fraction + (1 - config.final_lr_fraction) * cosine)


def validation_psnr(model: SID, inputs: Tensor, targets: Tensor, dtype: torch.dtype, chunk: int = 4) -> float:
    """Mean PSNR (dB) of the clipped outputs on the held-out batch."""
    model.eval()
    scores = []
    with torch.inference_mode(), torch.autocast(inputs.device.type, dtype=dtype, enabled=dtype != torch.float32):
        for start in range(0, len(inputs), chunk):
            outputs = model(inputs[start : start + chunk].contiguous(memory_format=torch.channels_last))
            for out, target in zip(outputs.float().clamp(0, 1), targets[start : start + chunk], strict=True):
                scores.append(psnr(out.permute(1, 2, 0).cpu().numpy(), target.permute(1, 2, 0).cpu().numpy()))
    model.train()
    return float(np.mean(scores))


def _checkpoint(config: TrainConfig, model: SID, optimizer: torch.optim.Adam, step: int, log: dict[str, Any]) -> None:
    save_training_state(config.out_dir / "state.pt", model, optimizer, step, config.kind, config.to_dict())
    metadata = {"step": str(step), "trained_on": str(config.data), "val_psnr": str(log.get("val_psnr", ""))}
    save_weights(config.out_dir / "model.safetensors", model, config.kind, metadata)
    with (config.out_dir / "log.jsonl").open("a") as f:
        f.write(json.dumps({"step": step, **log}) + "\n")


def _resume_or_start(config: TrainConfig, device: torch.device) -> tuple[SID, torch.optim.Adam, int]:
    """The model, its optimizer and the last step done: fresh from the seed, from ``init``, or from ``resume``."""
    torch.manual_seed(config.seed)
    # the sRGB model sees the brightened picture itself and learns a correction to it (residual), which
    # starts at the quality of a plain gain and trains far faster; the RAW model is SID exactly as published
    srgb = config.kind == "srgb"
    model_config = SIDConfig(in_channels=12 if srgb else 4, width=config.width, residual=srgb)
    state, weights = None, None
    if config.resume is not None:
        state = load_training_state(config.resume)
        if state.kind != config.kind:
            raise CheckpointError(f"{config.resume} trains a {state.kind!r} model, not {config.kind!r}")
        model_config = state.config  # a checkpoint carries its own config
    elif config.init is not None:
        weights = load_weights(config.init)
        if weights.kind != config.kind:
            raise CheckpointError(f"{config.init} holds a {weights.kind!r} model, not {config.kind!r}")
        model_config = weights.config
    model = SID(model_config)
    if state is not None or weights is not None:
        model.load_state_dict(state.model if state is not None else weights.state)  # type: ignore[union-attr]
    model = model.to(device).to(memory_format=torch.channels_last).train()  # type: ignore[call-overload]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    if state is not None:
        optimizer.load_state_dict(state.optimizer)
    return model, optimizer, state.step if state is not None else 0


def _photos(config: TrainConfig, device: torch.device) -> tuple[Batches, tuple[Tensor, Tensor] | None]:
    """The training batches, and the fixed held-out batch validation is measured on (None without one)."""
    settings = BatchSettings.of(config)
    batches = Batches(load_photos(config.data, validation=False).to(device), settings, config.seed, device)
    if len(batches.photos) == 0:
        raise ValueError(f"no training photos in {config.data}")
    held_out = load_photos(config.data, validation=True)
    if not (len(held_out) and config.val_crops):
        return batches, None
    return batches, Batches(held_out.to(device), settings, VALIDATION_SEED, device).make(0, config.val_crops)


def _step(model: SID, optimizer: torch.optim.Adam, inputs: Tensor, targets: Tensor, config: TrainConfig) -> Tensor:
    """One optimizer step; the loss, still on the device (reading it would wait for the step)."""
    dtype = fast_dtype(inputs.device)
    with torch.autocast(inputs.device.type, dtype=dtype, enabled=dtype != torch.float32):
        outputs = model(inputs.contiguous(memory_format=torch.channels_last))
    loss = enhancement_loss(outputs, targets, config.ssim_weight)
    optimizer.zero_grad(set_to_none=True)
    torch.autograd.backward(loss)
    optimizer.step()
    return loss.detach()


def train(config: TrainConfig, progress: bool = True) -> Path:
    """Train (or resume) and return the path of the final ``model.safetensors``."""
    config.check()
    device = pick_device(config.device)
    model, optimizer, start = _resume_or_start(config, device)
    batches, val_batch = _photos(config, device)
    config.out_dir.mkdir(parents=True, exist_ok=True)

    budget = config.minutes * 60  # a time-boxed run's bar counts seconds, the other one steps
    total, unit = (round(budget), "s") if budget else (config.steps, "step")
    bar = progress_bar(progress, total=total, initial=0 if budget else start, unit=unit)
    began = time.perf_counter()
    losses, data_seconds, window_began, step = [], 0.0, began, start
    while step < config.steps and not (budget and time.perf_counter() - began >= budget):
        step += 1
        lr = learning_rate(config, (time.perf_counter() - began) / budget if budget else step / config.steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        data_began = time.perf_counter()
        inputs, targets = batches.make(step, config.batch_size)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        data_seconds += time.perf_counter() - data_began
        losses.append(_step(model, optimizer, inputs, targets, config))
        bar.update(min(round(time.perf_counter() - began), total) - bar.n if budget else 1)
        last = step == config.steps or bool(budget and time.perf_counter() - began >= budget)
        if step % config.checkpoint_every and not last and step % 20:
            continue
        seconds = time.perf_counter() - window_began
        log = {
            "loss": float(torch.stack(losses).mean()),
            "lr": lr,
            "crops_per_s": len(losses) * config.batch_size / seconds,
            "data_share": data_seconds / seconds,
            "elapsed_s": round(time.perf_counter() - began, 1),
        }
        bar.set_postfix(step=step, loss=f"{log['loss']:.4f}", data=f"{log['data_share']:.0%}")
        if step % config.checkpoint_every == 0 or last:
            if val_batch is not None:
                log["val_psnr"] = validation_psnr(model, *val_batch, fast_dtype(device))
                bar.write(f"step {step}: loss {log['loss']:.4f}, validation PSNR {log['val_psnr']:.2f} dB")
            _checkpoint(config, model, optimizer, step, log)
        losses, data_seconds, window_began = [], 0.0, time.perf_counter()
    bar.close()
    if step == start:  # nothing left to do: still hand back weights
        _checkpoint(config, model, optimizer, start, {})
    return config.out_dir / "model.safetensors"


def main(argv: list[str] | None = None) -> int:
    """``python -m training.train`` (and ``darkroom train``): train with the options given, print the weights' path."""
    parser = argparse.ArgumentParser(prog="python -m training.train", description=(__doc__ or "").split("\n\n")[0])
    add_train_options(parser)
    return run_from_args(parser.parse_args(argv))


def run_from_args(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args, TrainConfig)
        print(json.dumps(config.to_dict(), indent=2))
        weights = train(config)
    except (ValueError, FileNotFoundError) as exc:  # a bad setting, a missing folder, a checkpoint of another kind
        print(f"train: {exc}", file=sys.stderr)
        return 2
    print(f"weights: {weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
