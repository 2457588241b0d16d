"""The split, the photo bank, aligned crops and the training pack."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.training.conftest import names
from training.pack import MAX_BYTES, load_photos, main, read_pack, write_pack
from training.photos import is_validation, lol_pairs, pair_ratio, random_crops, read_srgb, split_files


def test_the_split_is_by_name_deterministic_and_about_a_tenth() -> None:
    held_out = [name for name in (f"{i:04d}.png" for i in range(2000)) if is_validation(name)]
    assert 150 < len(held_out) < 250
    assert held_out == [name for name in (f"{i:04d}.png" for i in range(2000)) if is_validation(name)]


def test_files_fall_on_one_side_and_a_pair_stays_together(data: Path) -> None:
    held_out = split_files([data / "clean"], [data / "lol-train"], validation=True)
    training = split_files([data / "clean"], [data / "lol-train"], validation=False)
    assert sorted(p.name for p in held_out.clean) == sorted(names(2, True, "img_"))
    assert sorted(low.name for low, _ in held_out.pairs) == sorted(names(2, True))
    assert all(low.name == normal.name for low, normal in training.pairs) and len(training.pairs) == 3
    assert not {p.name for p in held_out.clean} & {p.name for p in training.clean}


def test_lol_pairs_need_both_halves_and_their_ratio_is_the_light_between_them(tmp_path: Path) -> None:
    for folder in ("low", "normal"):
        (tmp_path / folder).mkdir()
    for name in ("1.png", "2.png"):
        Image.fromarray(np.full((4, 6, 3), 10, np.uint8)).save(tmp_path / "low" / name)
    Image.fromarray(np.full((4, 6, 3), 200, np.uint8)).save(tmp_path / "normal" / "1.png")
    pairs = lol_pairs(tmp_path)
    assert pairs == [(tmp_path / "low" / "1.png", tmp_path / "normal" / "1.png")]
    assert pair_ratio(read_srgb(pairs[0][0]), read_srgb(pairs[0][1])) > 50


def test_crops_of_a_pair_stay_aligned_and_small_pictures_are_padded() -> None:
    low = torch.arange(3 * 20 * 30, dtype=torch.float32).reshape(3, 20, 30).to(torch.uint8)
    crops = random_crops([(low, low.clone())] * 16, 16, torch.Generator().manual_seed(0))
    assert crops[0].shape == (16, 3, 16, 16) and torch.equal(crops[0], crops[1])
    assert len({c.sum().item() for c in crops[0]}) > 1  # different crops and flips
    (padded,) = random_crops([[low[:, :8, :8]]], 16, torch.Generator().manual_seed(1))
    assert padded.shape == (1, 3, 16, 16)


def test_a_pack_holds_both_splits_apart_and_reads_back_as_the_folder_does(data: Path, tmp_path: Path) -> None:
    pack = write_pack(data, tmp_path / "pack.tar")
    assert pack.stat().st_size < MAX_BYTES
    for validation, split in ((False, "train"), (True, "val")):
        from_pack, from_folder = read_pack(pack, split), load_photos(data, validation)
        assert (len(from_pack.clean), len(from_pack.pairs)) == (len(from_folder.clean), len(from_folder.pairs))
        assert from_pack.ratios == pytest.approx(from_folder.ratios, rel=0.1)  # JPEG shifts levels a little
        assert load_photos(pack, validation).clean[0].shape == from_folder.clean[0].shape
    with pytest.raises(ValueError, match="split"):
        read_pack(pack, "test")
    assert main(["--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.tar")]) == 2
