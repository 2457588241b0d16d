"""The checks on real dark photos catch what they claim to: a cast, new clipping, blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.dark_photos import (
    Checks,
    blockiness,
    clipped_beyond,
    colour_cast,
    failures,
    main,
    neutral_mask,
    review,
    summary,
)
from worker.baseline import Baseline

DARK = Path(__file__).resolve().parents[3] / "shared" / "data" / "dark"


def grey_ramp() -> np.ndarray:
    return np.broadcast_to(np.linspace(0.2, 0.8, 64)[None, :, None], (64, 64, 3)).astype(np.float32).copy()


def test_a_tint_on_grey_is_a_cast() -> None:
    grey = grey_ramp()
    mask = neutral_mask(grey)
    assert mask.mean() > 0.9 and colour_cast(grey, mask) == 0.0
    tinted = grey * np.array([1.1, 1.0, 0.9], np.float32)
    assert colour_cast(tinted, mask) > 0.04


def test_only_new_white_counts_as_clipped() -> None:
    source = grey_ramp()
    source[:8] = 1.0  # the input's own highlights
    brighter = np.minimum(source * 1.5, 1.0)
    assert clipped_beyond(source, source) == 0.0
    assert 0.2 < clipped_beyond(brighter, source) < 0.5


def test_8x8_blocks_raise_blockiness() -> None:
    smooth = grey_ramp()
    blocks = smooth.copy()
    for y in range(0, 64, 8):
        for x in range(0, 64, 8):
            blocks[y : y + 8, x : x + 8] = blocks[y : y + 8, x : x + 8].mean()
    assert blockiness(smooth) == pytest.approx(1.0, abs=0.1)
    assert blockiness(blocks) > 3


def test_a_sheet_a_table_and_a_verdict(tmp_path: Path) -> None:
    dark = np.round(grey_ramp() * 0.05 * 255).astype(np.uint8)
    Image.fromarray(dark).save(tmp_path / "a.png")
    results = review([tmp_path / "a.png"], {"baseline": Baseline()}, tmp_path / "sheet.jpg")
    assert Image.open(tmp_path / "sheet.jpg").size == (2 * 256, 256)  # input, baseline
    assert "| baseline | 1 |" in summary(results)
    assert failures(results) == []
    cast = Checks(cast=results["baseline"][0].cast + 0.1, clipped=0.0, blockiness=1.0)
    assert failures({**results, "model": [cast]}) == ["model: colour cast 0.100 over baseline's"]


@pytest.mark.skipif(not DARK.is_dir(), reason="../shared/data/dark is not here")
def test_the_shipped_model_on_real_dark_photos_adds_no_cast_clipping_or_blocks(tmp_path: Path) -> None:
    # the contact sheet's own twelve photos: on the first four alone the sRGB model's warmer cast is
    # 0.035 over baseline's (over the 0.02 allowance), on all twelve 0.012 (worker/models/README.md)
    assert main(["--photos", str(DARK), "--out", str(tmp_path / "sheet.jpg")]) == 0
