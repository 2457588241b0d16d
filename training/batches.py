"""Training batches: random crops of photos in memory, turned into network inputs on the training device.

Every batch is a pure function of (seed, step): the settings of each example
come from a CPU generator seeded with both, the pixel noise from one on the
photos' device. So a resumed run sees the batches the uninterrupted one
would have, and the validation batch (its own seed) is the same every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from training.photos import Photos, random_crops
from training.synth import RawSynthConfig, SrgbSynthConfig, srgb_input, synth_raw, synth_srgb


class HasBatchSettings(Protocol):
    kind: str
    crop: int
    real_fraction: float
    ratio_jitter: float


@dataclass(frozen=True)
class BatchSettings:
    kind: str = "raw"
    crop: int = 256
    real_fraction: float = 0.5  # srgb: share of real low/normal pairs, when there are any
    ratio_jitter: float = 0.25  # srgb: stops of error on the input's ratio (sigma), as a predicted ratio has
    raw: RawSynthConfig = field(default_factory=RawSynthConfig)
    srgb: SrgbSynthConfig = field(default_factory=SrgbSynthConfig)

    @classmethod
    def of(cls, config: HasBatchSettings) -> BatchSettings:
        return cls(config.kind, config.crop, config.real_fraction, config.ratio_jitter)


def seeded(seed: int, step: int, device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed((seed * 1_000_003 + step) % 2**63)
    return generator


class Batches:
    """``make(step, count)`` -> (inputs, targets) on ``device``, for the RAW or the sRGB network."""

    def __init__(self, photos: Photos, settings: BatchSettings, seed: int, device: torch.device) -> None:
        self.photos, self.settings, self.seed, self.device = photos, settings, seed, device
        self.sources = photos.sources

    def make(self, step: int, count: int) -> tuple[Tensor, Tensor]:
        generator = seeded(self.seed, step, torch.device("cpu"))
        noise = seeded(self.seed, step, self.device) if self.device.type != "cpu" else generator
        if self.settings.kind == "raw":
            batch = synth_raw(self._crops(self.sources, count, generator)[0], generator, noise, self.settings.raw)
            return batch.inputs, batch.targets
        real = round(count * self.settings.real_fraction) if self.photos.pairs else 0
        inputs, targets = [], []
        if real:
            chosen = torch.randint(len(self.photos.pairs), (real,), generator=generator).tolist()
            low, normal = random_crops([self.photos.pairs[i] for i in chosen], self.settings.crop, generator)
            ratio = torch.tensor([self.photos.ratios[i] for i in chosen], dtype=torch.float64)
            inputs.append(srgb_input(low, self._jitter(ratio, generator)))
            targets.append(normal)
        if count - real:
            (clean,) = self._crops(self.sources, count - real, generator)
            dark, ratio = synth_srgb(clean, generator, noise, self.settings.srgb)
            inputs.append(srgb_input(dark, self._jitter(ratio, generator)))
            targets.append(clean)
        return torch.cat(inputs), torch.cat(targets)

    def _crops(self, images: list[Tensor], count: int, generator: torch.Generator) -> list[Tensor]:
        chosen = torch.randint(len(images), (count,), generator=generator).tolist()
        return random_crops([[images[i]] for i in chosen], self.settings.crop, generator)

    def _jitter(self, ratio: Tensor, generator: torch.Generator) -> Tensor:
        stops = torch.randn(ratio.shape, generator=generator, dtype=torch.float64) * self.settings.ratio_jitter
        return ratio * torch.exp2(stops)
