"""Measure enhancers on held-out data: PSNR and SSIM per image, then one table row per method.

Two data sets, both made only of images the trainer never sees (the same
``is_validation`` split by file name as ``training.train``):
- Synthetic RAW: each held-out clean photo (clean folders, and LOL's
  ``normal/`` pictures as the trainer uses them) is centre-cropped and turned
  into a dark noisy RAW by ``training.synth`` at each fixed ratio. The random
  generator is seeded by the file name, so every run, and every method, sees
  the same pairs; the CFA phase, white balance and noise level are the same
  at every ratio of an image, so only the ratio changes between rows.
- LOL: held-out real low/normal pairs. Each method runs with the automatic
  ratio (``auto_ratio``, what a user gets) and with the oracle ratio of the
  pair (``pair_ratio``, which separates "how bright" from "how good").

A method is a function from the dark input to an sRGB image, so a learned
enhancer, ``Baseline`` and LibRaw's rendering are measured the same way.
LibRaw needs the RAW as a file; the caller passes in a DNG writer (the one in
``darkroom.dng``), which keeps this package free of ``darkroom`` imports.
Everything here is pure except reading image files and timing.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from training.metrics import psnr, ssim
from training.photos import VAL_FRACTION, is_validation, list_images, lol_pairs, pair_ratio, read_srgb
from training.synth import RawSynthConfig, rgb_to_cam, synth_raw
from worker.exposure import auto_ratio
from worker.frames import Enhancer, RawFrame, SrgbFrame, linear_to_srgb

CROP = 512  # output pixels per side: bounds the time per image
RATIOS = (100.0, 250.0, 300.0)
RAW_DATASET = "synthetic RAW"
LOL_DATASET = "LOL held-out"


@dataclass(frozen=True)
class RawPair:
    """One synthetic dark RAW and its clean target, as numpy arrays."""

    packed: np.ndarray  # float32 (4, h, w): the dark noisy RAW as the decoder gives it (R, G1, B, G2)
    ratio: float  # the network sees clip(packed * ratio * white balance, 0, 1)
    target: np.ndarray  # float32 (2h, 2w, 3): the clean sRGB photo
    mosaic: np.ndarray  # uint16 (2h, 2w): the same RAW in sensor units, for writing a DNG
    pattern: str
    white_balance: np.ndarray  # (3,) multipliers with green = 1, as the camera would report them
    xyz_to_cam: np.ndarray  # (3, 3) for a DNG's ColorMatrix1
    black_level: int
    white_level: int


RawMethod = Callable[[RawPair], np.ndarray]  # dark RAW pair (uses packed/mosaic and ratio) -> sRGB (H, W, 3)
SrgbMethod = Callable[[np.ndarray, float], np.ndarray]  # (dark sRGB picture, ratio) -> sRGB (H, W, 3)
DngWriter = Callable[[RawPair], bytes]


@dataclass(frozen=True)
class Score:
    """One method on one image."""

    method: str
    dataset: str
    ratio: str  # "100", "250", "auto" or "oracle"
    image: str
    psnr: float
    ssim: float
    seconds: float


@dataclass(frozen=True)
class Row:
    """The mean over the images of one (method, data set, ratio) group."""

    method: str
    dataset: str
    ratio: str
    count: int
    psnr: float
    ssim: float
    seconds: float


# --- which images -------------------------------------------------------------------------------------------------


def raw_validation_images(
    clean_dirs: Sequence[Path], lol_dirs: Sequence[Path], fraction: float = VAL_FRACTION
) -> list[Path]:
    """The clean photos the RAW trainer holds out: from clean folders, then LOL ``normal/`` pictures."""
    clean = [path for folder in clean_dirs for path in list_images(folder) if is_validation(path.name, fraction)]
    return clean + [normal for _, normal in lol_validation_pairs(lol_dirs, fraction)]


def lol_validation_pairs(lol_dirs: Sequence[Path], fraction: float = VAL_FRACTION) -> list[tuple[Path, Path]]:
    """The (low, normal) pairs the sRGB trainer holds out (split by name, so a pair stays together)."""
    return [
        (low, normal) for folder in lol_dirs for low, normal in lol_pairs(folder) if is_validation(low.name, fraction)
    ]


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` (or as much as fits; 0 keeps all), with even sides for the Bayer mosaic."""
    height, width = image.shape[:2]
    crop_h, crop_w = (height, width) if size <= 0 else (min(size, height), min(size, width))
    crop_h, crop_w = crop_h // 2 * 2, crop_w // 2 * 2
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return np.ascontiguousarray(image[top : top + crop_h, left : left + crop_w])


# --- synthetic RAW ------------------------------------------------------------------------------------------------


def name_seed(name: str) -> int:
    """A stable seed from a file name (Python's ``hash`` changes between runs)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")


def eval_raw_pair(clean: np.ndarray, name: str, ratio: float, config: RawSynthConfig | None = None) -> RawPair:
    """The evaluation's dark RAW of a clean photo: same camera and noise level at every ratio of one name."""
    photo = torch.from_numpy(np.ascontiguousarray(clean[: clean.shape[0] // 2 * 2, : clean.shape[1] // 2 * 2]))
    generator = torch.Generator().manual_seed(name_seed(name))
    batch = synth_raw(photo.permute(2, 0, 1)[None].double(), generator, config=config or RawSynthConfig(), ratio=ratio)
    return RawPair(
        packed=batch.packed[0].float().numpy(),
        ratio=ratio,
        target=batch.targets[0].permute(1, 2, 0).float().numpy(),
        mosaic=batch.mosaic(0).numpy().astype(np.uint16),
        pattern=batch.patterns[0],
        white_balance=batch.white_balance[0].float().numpy(),
        xyz_to_cam=batch.xyz_to_cam[0].numpy(),
        black_level=int(batch.black_level[0]),
        white_level=int(batch.white_level[0]),
    )


def raw_frame(pair: RawPair) -> RawFrame:
    """The frame ``worker.decode`` would give for the pair written as a DNG (tested against it)."""
    cam_to_srgb = np.linalg.inv(rgb_to_cam(torch.from_numpy(pair.xyz_to_cam)).numpy()).astype(np.float32)
    return RawFrame(packed=pair.packed, white_balance=pair.white_balance, cam_to_srgb=cam_to_srgb, flip=0)


def raw_enhancer(enhancer: Enhancer) -> RawMethod:
    """An enhancer as a RAW method: the pair's frame at the pair's ratio."""
    return lambda pair: enhancer.enhance_raw(raw_frame(pair), pair.ratio)


def render_libraw(dng: bytes, ratio: float) -> np.ndarray:
    """LibRaw's own development, brightened: what a RAW converter's exposure slider would give.

    Camera white balance, LibRaw's default demosaic (AHD) and colour matrix to
    sRGB primaries, linear 16-bit output with no automatic brightening; then
    times ``ratio`` in linear light, clipped, and sRGB-encoded.
    """
    import rawpy  # here, so the portable GPU run (no LibRaw there) can import this module

    with rawpy.imread(io.BytesIO(dng)) as raw:
        linear = raw.postprocess(
            use_camera_wb=True,
            no_auto_bright=True,
            output_bps=16,
            gamma=(1, 1),
            output_color=rawpy.ColorSpace.sRGB,
            user_flip=0,
        )
    return linear_to_srgb(linear.astype(np.float32) * np.float32(ratio / 65535))


def libraw_method(write_dng: DngWriter) -> RawMethod:
    """LibRaw as a RAW method: the pair as a DNG, rendered by ``render_libraw`` at the pair's ratio."""
    return lambda pair: render_libraw(write_dng(pair), pair.ratio)


def score(
    method: str, dataset: str, ratio: str, image: str, run: Callable[[], np.ndarray], target: np.ndarray
) -> Score:
    started = time.perf_counter()
    output = run()
    seconds = time.perf_counter() - started
    return Score(method, dataset, ratio, image, psnr(output, target), ssim(output, target), seconds)


def score_raw_image(
    path: Path, methods: Mapping[str, RawMethod], ratios: Sequence[float] = RATIOS, crop: int = CROP
) -> list[Score]:
    """Every method at every ratio on the synthetic RAW of one clean photo."""
    clean = center_crop(read_srgb(path), crop)
    scores = []
    for ratio in ratios:
        pair = eval_raw_pair(clean, path.name, ratio)
        for name, method in methods.items():
            scores.append(score(name, RAW_DATASET, f"{ratio:g}", path.name, partial(method, pair), pair.target))
    return scores


# --- LOL ------------------------------------------------------------------------------------------------------------


def srgb_enhancer(enhancer: Enhancer) -> SrgbMethod:
    return lambda rgb, ratio: enhancer.enhance_srgb(SrgbFrame(rgb), ratio)


def score_lol_pair(
    low_path: Path, normal_path: Path, methods: Mapping[str, SrgbMethod], crop: int = CROP
) -> list[Score]:
    """Every method on one held-out pair, with the automatic and with the oracle ratio.

    Both ratios are measured on the whole pictures (exposure is a property of
    the shot; the crop only bounds the time), then the crops are enhanced.
    """
    low, normal = read_srgb(low_path), read_srgb(normal_path)
    ratios = {"auto": auto_ratio(SrgbFrame(low)), "oracle": pair_ratio(low, normal)}
    dark, target = center_crop(low, crop), center_crop(normal, crop)
    scores = []
    for mode, ratio in ratios.items():
        for name, method in methods.items():
            scores.append(score(name, LOL_DATASET, mode, low_path.name, partial(method, dark, ratio), target))
    return scores


# --- the table ------------------------------------------------------------------------------------------------------


def summarize(scores: Iterable[Score]) -> list[Row]:
    """Mean PSNR, SSIM and seconds per (method, data set, ratio), in the order the groups first appear."""
    groups: dict[tuple[str, str, str], list[Score]] = {}
    for item in scores:
        groups.setdefault((item.method, item.dataset, item.ratio), []).append(item)
    rows = [
        Row(
            method,
            dataset,
            ratio,
            len(group),
            float(np.mean([s.psnr for s in group])),
            float(np.mean([s.ssim for s in group])),
            float(np.mean([s.seconds for s in group])),
        )
        for (method, dataset, ratio), group in groups.items()
    ]
    datasets = list(dict.fromkeys(row.dataset for row in rows))
    return sorted(rows, key=lambda row: (datasets.index(row.dataset), _ratio_order(row.ratio)))  # methods keep order


def _ratio_order(ratio: str) -> tuple[int, float, str]:
    try:
        return 0, float(ratio), ratio
    except ValueError:
        return 1, 0.0, ratio


def format_table(rows: Sequence[Row]) -> str:
    """A Markdown table, one line per row."""
    lines = [
        "| method | data | ratio | images | PSNR (dB) | SSIM | s / image |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.method} | {row.dataset} | {row.ratio} | {row.count} | {row.psnr:.2f} | {row.ssim:.3f} "
            f"| {row.seconds:.2f} |"
        )
    return "\n".join(lines) + "\n"
