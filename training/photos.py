"""The photos training learns from: which files, which are held out, and a bank of them in memory.

Files: clean photos (any folder of images) and LOL-style pairs (``low/X`` and
``normal/X``). Whether a file is held out for validation is a hash of its
name, so a low/normal pair stays on one side and every run, every command
and every machine agrees on the split.

The bank decodes every photo once, into uint8 tensors on the training
device (a few hundred MB at most), so a training step only crops: the data
pipeline never touches the disk or the Python image libraries after start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from worker.frames import srgb_to_linear

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VAL_FRACTION = 0.1


def is_validation(name: str, fraction: float = VAL_FRACTION) -> bool:
    """Whether a file (by name, so a LOL low/normal pair stays together) is held out; stable across runs."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted so every run sees the same order."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def lol_pairs(root: Path) -> list[tuple[Path, Path]]:
    """(low, normal) files of a LOL-style folder: ``root/low/X`` and ``root/normal/X``."""
    return [
        (low, root / "normal" / low.name) for low in list_images(root / "low") if (root / "normal" / low.name).exists()
    ]


@dataclass(frozen=True)
class Files:
    """The image files of one side of the split."""

    clean: list[Path]
    pairs: list[tuple[Path, Path]]


def split_files(
    clean_dirs: Sequence[Path], lol_dirs: Sequence[Path], validation: bool, fraction: float = VAL_FRACTION
) -> Files:
    """The training (or held-out) files; LOL's ``normal/`` pictures count as clean photos too."""
    clean = [p for folder in clean_dirs for p in list_images(folder) if is_validation(p.name, fraction) == validation]
    pairs = [
        (low, normal)
        for folder in lol_dirs
        for low, normal in lol_pairs(folder)
        if is_validation(low.name, fraction) == validation
    ]
    return Files(clean=clean, pairs=pairs)


def read_srgb(path: Path) -> np.ndarray:
    """An image file as float32 (H, W, 3) sRGB in [0, 1]."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255)


def read_uint8(source: Path | BinaryIO) -> Tensor:
    """An image file (or its bytes) as a uint8 (3, H, W) tensor."""
    with Image.open(source) as image:
        return torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1).contiguous()


def pair_ratio(low: np.ndarray, normal: np.ndarray) -> float:
    """The light ratio between a real normal/low pair: mean linear light, kept within [1, 300]."""
    ratio = float(srgb_to_linear(normal).mean()) / max(float(srgb_to_linear(low).mean()), 1e-6)
    return float(np.clip(ratio, 1.0, 300.0))


def _as_float(image: Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).numpy().astype(np.float32) / np.float32(255)


@dataclass
class Photos:
    """Photos held in memory as uint8 (3, H, W) tensors: clean ones, and real (low, normal) pairs with their ratio."""

    clean: list[Tensor] = field(default_factory=list)
    pairs: list[tuple[Tensor, Tensor]] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # the light ratio of each pair

    @classmethod
    def from_files(cls, files: Files) -> Photos:
        photos = cls(clean=[read_uint8(p) for p in files.clean])
        for low_path, normal_path in files.pairs:
            photos.add_pair(read_uint8(low_path), read_uint8(normal_path))
        return photos

    def add_pair(self, low: Tensor, normal: Tensor) -> None:
        self.pairs.append((low, normal))
        self.ratios.append(pair_ratio(_as_float(low), _as_float(normal)))

    def to(self, device: torch.device) -> Photos:
        move = [image.to(device) for image in self.clean]
        pairs = [(low.to(device), normal.to(device)) for low, normal in self.pairs]
        return Photos(clean=move, pairs=pairs, ratios=list(self.ratios))

    @property
    def sources(self) -> list[Tensor]:
        """Every clean picture: the clean photos and the normal half of each pair."""
        return self.clean + [normal for _, normal in self.pairs]

    def __len__(self) -> int:
        return len(self.clean) + len(self.pairs)


def random_crops(images: Sequence[Sequence[Tensor]], size: int, generator: torch.Generator) -> list[Tensor]:
    """The same random crop, flips and transpose of each image of every group, as float (N, 3, size, size) stacks.

    ``images`` holds one group per example (a clean photo alone, or a low and a
    normal picture that must stay aligned). Pictures smaller than ``size`` are
    padded by repeating their edges.
    """
    columns: list[list[Tensor]] = [[] for _ in images[0]]
    for group in images:
        height, width = group[0].shape[-2:]
        y, x, flip_y, flip_x, transpose = (
            int(v)
            for v in (
                torch.randint(max(height - size, 0) + 1, (), generator=generator),
                torch.randint(max(width - size, 0) + 1, (), generator=generator),
                *torch.randint(2, (3,), generator=generator),
            )
        )
        for column, image in zip(columns, group, strict=True):
            crop = image[:, y : y + size, x : x + size].float()
            if crop.shape[-2:] != (size, size):
                pad = (0, size - crop.shape[-1], 0, size - crop.shape[-2])
                crop = torch.nn.functional.pad(crop[None], pad, mode="replicate")[0]
            crop = crop.flip(-2) if flip_y else crop
            crop = crop.flip(-1) if flip_x else crop
            column.append(crop.transpose(-1, -2) if transpose else crop)
    return [torch.stack(column) / 255 for column in columns]
