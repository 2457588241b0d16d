"""A tiny data folder laid out like ../shared/data, made of generated photos: clean/ and lol-train/{low,normal}/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from darkroom.dng import dark_scene
from training.photos import is_validation
from worker.frames import linear_to_srgb, srgb_to_linear


def photo(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth colourful scene with a little texture, as 8-bit sRGB."""
    rng = np.random.default_rng(seed)
    scene = linear_to_srgb(dark_scene(height, width, seed))
    return np.clip(np.round((scene + rng.normal(0, 0.01, scene.shape)) * 255), 0, 255).astype(np.uint8)


def names(count: int, validation: bool, prefix: str = "") -> list[str]:
    """The first ``count`` file names on one side of the split."""
    candidates = (f"{prefix}{i}.png" for i in range(10_000))
    return [name for name in candidates if is_validation(name) == validation][:count]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """2 held-out and 3 training images in each of clean/x/ and lol-train/ (pairs 20x darker)."""
    root = tmp_path / "data"
    (root / "clean" / "x").mkdir(parents=True)
    for low_or_normal in ("low", "normal"):
        (root / "lol-train" / low_or_normal).mkdir(parents=True)
    for i, name in enumerate(names(2, True, "img_") + names(3, False, "img_")):
        Image.fromarray(photo(48, 64, i)).save(root / "clean" / "x" / name)
    for i, name in enumerate(names(2, True) + names(3, False)):
        normal = photo(40, 56, 100 + i)
        low = linear_to_srgb(srgb_to_linear(normal / np.float32(255)) / 20)  # 20x less light
        Image.fromarray(normal).save(root / "lol-train" / "normal" / name)
        Image.fromarray(np.round(low * 255).astype(np.uint8)).save(root / "lol-train" / "low" / name)
    return root
