"""Fit the learned exposure: ``python -m training.exposure --data ../shared/data``.

For each kind of input, a ridge regression from ``exposure_features`` (log
luminance percentiles of the dark frame) to log2 of the ratio that restores
it. The examples:
- sRGB: real LOL pairs (the ratio is the light between the low picture and
  its reference) and clean photos darkened as a phone would be
  (``training.synth.synth_srgb``: noise, 8 bits, JPEG) by a known ratio;
- RAW: synthetic dark RAWs of the clean photos at known ratios.

Then both the model and the meter are scored on the held-out split, as the
error in stops |log2(chosen / right)|, and a kind's model is written to
``worker/models/exposure.json`` only if it beats the meter there.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.evaluate import raw_frame, raw_pair_of
from training.pack import load_photos
from training.photos import Photos
from training.synth import RawSynthConfig, SrgbSynthConfig, synth_raw, synth_srgb
from worker.exposure import EXPOSURE_FILE, ExposureModel, exposure_features, frame_luminance, meter_ratio
from worker.frames import Frame, SrgbFrame

FORMAT = "darkroom-exposure-1"
RATIOS = (1.0, 300.0)  # the range the API accepts
RIDGE = 1e-3
CROP = 384  # pixels per side of the centre of each clean photo that is darkened


@dataclass
class Examples:
    """Dark frames, each as its exposure features, the meter's ratio and the log2 ratio that restores it."""

    features: list[np.ndarray]
    metered: list[float]
    log2_ratios: list[float]

    def add(self, frame: Frame, ratio: float) -> None:
        self.features.append(exposure_features(frame_luminance(frame)))
        self.metered.append(meter_ratio(frame))
        self.log2_ratios.append(float(np.log2(ratio)))


def _picture(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).cpu().numpy().astype(np.float32)


def _cropped(image: torch.Tensor, size: int = CROP) -> torch.Tensor:
    """A centre crop of at most ``size``, with sides divisible by 16 (the JPEG round trip's blocks)."""
    height, width = (min(side, size) // 16 * 16 for side in image.shape[-2:])
    top, left = (image.shape[-2] - height) // 2, (image.shape[-1] - width) // 2
    return image[..., top : top + height, left : left + width]


def examples(photos: Photos, kind: str, draws: int, seed: int) -> Examples:
    """``draws`` darkened copies of each clean photo (and, for srgb, every real pair)."""
    generator = torch.Generator().manual_seed(seed)
    found = Examples([], [], [])
    if kind == "srgb":
        for (low, _), ratio in zip(photos.pairs, photos.ratios, strict=True):
            found.add(SrgbFrame(_picture(low.float() / 255)), ratio)
    for photo in photos.sources:
        clean = _cropped(photo.float()[None] / 255).expand(draws, -1, -1, -1)
        if kind == "srgb":
            dark, ratios = synth_srgb(clean, generator, config=SrgbSynthConfig(ratio_range=RATIOS))
            for image, ratio in zip(dark, ratios.tolist(), strict=True):
                found.add(SrgbFrame(_picture(image)), ratio)
        else:
            batch = synth_raw(clean, generator, config=RawSynthConfig(ratio_range=RATIOS))
            for i in range(draws):
                found.add(raw_frame(raw_pair_of(batch, i)), float(batch.ratio[i]))
    return found


def fit(features: np.ndarray, log2_ratios: np.ndarray, weights: np.ndarray, ridge: float = RIDGE) -> ExposureModel:
    """Weighted least squares with a small ridge on the coefficients (not the bias)."""
    design = np.hstack([features, np.ones((len(features), 1))])
    penalty = ridge * weights.sum() * np.diag([1.0] * features.shape[1] + [0.0])
    weighted = design * weights[:, None]
    solution = np.linalg.solve(weighted.T @ design + penalty, weighted.T @ log2_ratios)
    return ExposureModel(weights=solution[:-1], bias=float(solution[-1]))


def stops(chosen: np.ndarray, log2_right: np.ndarray) -> dict[str, float]:
    """The error in stops: mean and 90th percentile of |log2(chosen) - log2(right)|."""
    error = np.abs(np.log2(np.clip(chosen, 1.0, 300.0)) - log2_right)
    return {"mean": round(float(error.mean()), 3), "p90": round(float(np.percentile(error, 90)), 3)}


def against_meter(learned: np.ndarray, metered: np.ndarray, log2_right: np.ndarray) -> dict[str, Any]:
    return {
        "count": len(log2_right),
        "meter_stops": stops(metered, log2_right),
        "learned_stops": stops(learned, log2_right),
    }


def fit_and_score(data: Path, draws: int = 3) -> dict[str, Any]:
    """Fit both kinds on the training split and score them against the meter on the held-out one."""
    training, held_out = load_photos(data, validation=False), load_photos(data, validation=True)
    models: dict[str, dict[str, Any]] = {}
    scores: dict[str, dict[str, Any]] = {}
    for kind in ("srgb", "raw"):
        train_set, test_set = examples(training, kind, draws, seed=1), examples(held_out, kind, draws, seed=2)
        real = len(training.pairs) if kind == "srgb" else 0  # real pairs weigh as much as all the synthetic ones
        weights = np.ones(len(train_set.features))
        weights[:real] = (len(weights) - real) / max(real, 1)
        model = fit(np.stack(train_set.features), np.array(train_set.log2_ratios), weights)
        right = np.array(test_set.log2_ratios)
        learned = np.array([model.ratio_of(features) for features in test_set.features])
        metered = np.array(test_set.metered)
        scores[kind] = against_meter(learned, metered, right)
        if kind == "srgb":  # the real pairs come first: how it does on them alone
            first = len(held_out.pairs)
            scores["srgb real pairs"] = against_meter(learned[:first], metered[:first], right[:first])
        if scores[kind]["learned_stops"]["mean"] < scores[kind]["meter_stops"]["mean"]:
            models[kind] = {"weights": model.weights.round(6).tolist(), "bias": round(model.bias, 6)}
    return {"format": FORMAT, "trained_on": str(data), "models": models, "validation": scores}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.exposure", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="default: %(default)s")
    parser.add_argument("--out", type=Path, default=EXPOSURE_FILE, help="default: the shipped file")
    parser.add_argument("--draws", type=int, default=3, help="darkened copies of each clean photo (default: 3)")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"training.exposure: no data at {args.data}", file=sys.stderr)
        return 2
    result = fit_and_score(args.data, args.draws)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["validation"], indent=1))
    print(f"wrote {args.out}: learned exposure for {', '.join(result['models']) or 'no kind'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
