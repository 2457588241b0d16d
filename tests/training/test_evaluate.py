"""Evaluation: held-out images only, deterministic pairs, honest reference methods, and the table."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch

from darkroom.dng import dark_scene
from darkroom.evaluation import EvalConfig, add_eval_parser, build_methods, evaluate, pair_dng
from tests.training.conftest import names, photo
from training.evaluate import (
    LOL_DATASET,
    RAW_DATASET,
    RawPair,
    center_crop,
    eval_raw_pair,
    format_table,
    lol_validation_pairs,
    raw_enhancer,
    raw_frame,
    raw_validation_images,
    render_libraw,
    score_lol_pair,
    score_raw_image,
    summarize,
)
from training.metrics import psnr
from training.synth import NoiseModel, RawSynthConfig
from worker.baseline import Baseline
from worker.decode import decode_raw
from worker.frames import SrgbFrame, linear_to_srgb
from worker.models import SID, SIDConfig, save_weights


@pytest.fixture
def models(tmp_path: Path) -> tuple[Path, Path]:
    """Untrained tiny networks of both kinds, saved as shipping checkpoints."""
    torch.manual_seed(0)
    raw = save_weights(tmp_path / "raw.safetensors", SID(SIDConfig(width=4)), "raw")
    srgb = save_weights(tmp_path / "srgb.safetensors", SID(SIDConfig(in_channels=12, width=4)), "srgb")
    return raw, srgb


def test_only_held_out_images_are_evaluated(data: Path) -> None:
    clean_dirs, lol_dirs = [data / "clean"], [data / "lol-train"]
    raw_images = raw_validation_images(clean_dirs, lol_dirs)
    pairs = lol_validation_pairs(lol_dirs)
    assert sorted(p.name for p in raw_images) == sorted(names(2, True, "img_") + names(2, True))
    assert [p.parent.name for p in raw_images[-2:]] == ["normal", "normal"]  # LOL's normal pictures, as trained on
    assert sorted(low.name for low, _ in pairs) == sorted(names(2, True))
    evaluated = {path.name for path in raw_images} | {low.name for low, _ in pairs}
    for training_name in names(3, False, "img_") + names(3, False):
        assert training_name not in evaluated


def test_a_pair_is_the_same_every_time_and_only_its_ratio_changes() -> None:
    clean = photo(32, 48, 0).astype(np.float32) / 255
    first, again = eval_raw_pair(clean, "a.png", 100), eval_raw_pair(clean, "a.png", 100)
    assert np.array_equal(first.mosaic, again.mosaic)
    brighter = eval_raw_pair(clean, "a.png", 250)
    assert brighter.pattern == first.pattern and brighter.black_level == first.black_level
    assert np.array_equal(brighter.white_balance, first.white_balance)
    light = [float(pair.mosaic.astype(np.float64).mean()) - pair.black_level for pair in (first, brighter)]
    assert light[1] == pytest.approx(light[0] * 100 / 250, rel=0.05)
    assert not np.array_equal(eval_raw_pair(clean, "b.png", 100).mosaic, first.mosaic)


def test_center_crop_is_central_even_and_bounded() -> None:
    image = np.arange(7 * 9 * 3).reshape(7, 9, 3)
    assert center_crop(image, 4).shape == (4, 4, 3)
    assert np.array_equal(center_crop(image, 4), image[1:5, 2:6])
    assert center_crop(image, 100).shape == (6, 8, 3)
    assert center_crop(image, 0).shape == (6, 8, 3)


def test_the_frame_of_a_pair_is_what_the_decoder_reads_from_its_dng() -> None:
    pair = eval_raw_pair(photo(32, 48, 1).astype(np.float32) / 255, "c.png", 100)
    frame, decoded = raw_frame(pair), decode_raw(pair_dng(pair))
    np.testing.assert_allclose(decoded.packed, frame.packed, rtol=1e-6)  # the same sensor values
    np.testing.assert_allclose(decoded.white_balance, frame.white_balance, atol=1e-3)  # DNG rationals: 4 decimals
    np.testing.assert_allclose(decoded.cam_to_srgb, frame.cam_to_srgb, atol=1e-3)
    assert decoded.flip == frame.flip == 0


def noise_free_pair(clean: np.ndarray, pattern: str) -> RawPair:
    """A pair with next to no noise, on the first name whose draw has ``pattern``."""
    quiet = RawSynthConfig(noise=NoiseModel(shot_range=(1e-12, 1e-12), read_intercept=-60))
    for i in range(100):
        pair = eval_raw_pair(clean, f"quiet{i}", 1.0, quiet)
        if pair.pattern == pattern:
            return pair
    raise AssertionError(f"no {pattern} draw")


def tone_curve(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x * x * (3 - 2 * x)
    return out


@pytest.mark.parametrize("pattern", ["RGGB", "GBRG"])
def test_libraw_renders_a_noise_free_pair_as_its_target_but_for_the_tone_curve(pattern: str) -> None:
    """The colour path (CFA, levels, white balance, matrix, sRGB curve) is right to ~60 dB on a smooth scene.

    What is left is by design: the synthetic RAW undid the photo's tone curve
    (Brooks et al.'s smoothstep), and LibRaw renders linear data with the sRGB
    curve only, so its picture is flatter than the photo (about 22.6 dB). Put
    the tone curve back and it matches. ``Baseline`` develops the same way.
    """
    clean = linear_to_srgb(dark_scene(64, 96, seed=3))
    pair = noise_free_pair(clean, pattern)
    rendered = render_libraw(pair_dng(pair), 1.0)
    assert rendered.shape == pair.target.shape
    assert 20.0 < psnr(rendered, pair.target) < 26.0
    assert psnr(tone_curve(rendered), pair.target) > 50.0
    developed = raw_enhancer(Baseline())(pair)
    assert psnr(tone_curve(developed), pair.target) > 38.0  # bilinear demosaic and light denoise cost a little


def test_baseline_is_far_better_than_the_dark_input_on_synthetic_raw(data: Path) -> None:
    baseline = Baseline()
    methods = {
        "dark input": lambda pair: baseline.enhance_raw(raw_frame(pair), 1.0),  # developed, not brightened
        "baseline": raw_enhancer(baseline),
    }
    scores = []
    for path in raw_validation_images([data / "clean"], []):
        scores += score_raw_image(path, methods, ratios=(100.0, 250.0), crop=32)
    rows = {(row.method, row.ratio): row for row in summarize(scores)}
    for ratio in ("100", "250"):
        assert rows["baseline", ratio].count == 2
        assert rows["baseline", ratio].psnr > rows["dark input", ratio].psnr + 10.0
        assert rows["baseline", ratio].ssim > rows["dark input", ratio].ssim


def test_lol_rows_are_labelled_by_ratio_mode_and_the_oracle_ratio_fits_the_pair(data: Path) -> None:
    (low, normal), _ = lol_validation_pairs([data / "lol-train"])
    baseline = Baseline()
    seen: dict[str, float] = {}

    def spy(rgb: np.ndarray, ratio: float) -> np.ndarray:
        seen[f"call{len(seen)}"] = ratio
        return baseline.enhance_srgb(SrgbFrame(rgb), ratio)

    scores = score_lol_pair(low, normal, {"baseline": spy}, crop=0)
    assert [(s.ratio, s.dataset) for s in scores] == [("auto", LOL_DATASET), ("oracle", LOL_DATASET)]
    assert seen["call1"] == pytest.approx(20.0, rel=0.1)  # the fixture's low pictures have 20x less light
    assert scores[1].psnr > 25.0  # noise-free darkening, undone at the right ratio


def test_the_table_has_a_row_per_method_data_set_and_ratio(data: Path, models: tuple[Path, Path]) -> None:
    config = EvalConfig(data=data, raw_model=models[0], srgb_model=models[1], crop=32, device="cpu")
    rows = evaluate(config, *build_methods(config), progress=False)
    groups = [(row.dataset, row.ratio, row.method) for row in rows]
    assert groups == [
        *((RAW_DATASET, ratio, method) for ratio in ("100", "250", "300") for method in ("sid", "baseline", "libraw")),
        *((LOL_DATASET, mode, method) for mode in ("auto", "oracle") for method in ("sid-srgb", "baseline")),
    ]
    assert {row.count for row in rows if row.dataset == RAW_DATASET} == {4}  # 2 clean + 2 LOL normal pictures
    assert {row.count for row in rows if row.dataset == LOL_DATASET} == {2}
    assert all(np.isfinite(row.psnr) and -1.0 <= row.ssim <= 1.0 and row.seconds >= 0 for row in rows)
    table = format_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert table[2].startswith(f"| sid | {RAW_DATASET} | 100 | 4 | ")


def test_eval_command_prints_and_writes_the_table(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    add_eval_parser(commands)
    help_text = commands.choices["eval"].format_help()
    for flag in ("--raw-model", "--srgb-model", "--data", "--limit", "--crop", "--ratios", "--device", "--out"):
        assert flag in help_text
    out = tmp_path / "results.md"
    args = parser.parse_args(
        ["eval", "--data", str(data), "--limit", "1", "--crop", "32", "--ratios", "50", "--out", str(out)]
    )
    assert args.run(args) == 0
    written = out.read_text()
    assert "| baseline | synthetic RAW | 50 | 1 |" in written
    assert "| libraw | synthetic RAW | 50 | 1 |" in written
    assert "| baseline | LOL held-out | oracle | 1 |" in written
    assert written in capsys.readouterr().out


def test_eval_command_refuses_a_missing_model(data: Path, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_eval_parser(parser.add_subparsers())
    args = parser.parse_args(["eval", "--data", str(data), "--raw-model", str(tmp_path / "nope.safetensors")])
    assert args.run(args) == 2
