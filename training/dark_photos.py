"""Real dark photos with no reference: a contact sheet to look at, and three checks that can fail.

``python -m training.dark_photos --photos ../shared/data/dark/dicm --out docs/dark-photos.jpg``
renders each photo with ``baseline`` and the sRGB model (both at the
automatic ratio), writes a sheet with one row per photo (input, baseline,
model) and prints, per method:

- colour cast: the mean chroma |R - G| + |B - G| of the areas that should be
  neutral (low-chroma mid-tones of the baseline's rendering, which applies no
  learned colour), so a model that tints greys shows up;
- clipped highlights: the share of pixels pushed to white beyond what the
  input had clipped already (at most 1%);
- blockiness: the mean step across 8 x 8 block edges over the mean step
  inside blocks (1.0: no blocks), so amplified JPEG blocks show up.

A method fails when its cast or blockiness is worse than ``baseline``'s, or
its clipping over 1%, by more than a small allowance; the command then
exits 1.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.photos import list_images, read_srgb
from worker.exposure import auto_ratio
from worker.frames import Enhancer, SrgbFrame

NEUTRAL_CHROMA = 0.06  # max - min of RGB below this is "grey" in the reference rendering
WHITE = 0.995
THUMB = 256
CAST_ALLOWANCE = 0.02  # mean chroma of neutral areas, over the baseline's
CLIP_ALLOWANCE = 0.01  # share of pixels newly clipped (the meter lets the baseline clip up to 3%)
BLOCK_ALLOWANCE = 0.05


@dataclass(frozen=True)
class Checks:
    cast: float  # mean chroma of neutral areas
    clipped: float  # share of pixels clipped beyond the input's own
    blockiness: float


def neutral_mask(reference: np.ndarray) -> np.ndarray:
    """Mid-tone pixels with little chroma in ``reference``: where a good rendering stays grey."""
    chroma = reference.max(axis=-1) - reference.min(axis=-1)
    luminance = reference.mean(axis=-1)
    mask: np.ndarray = (chroma < NEUTRAL_CHROMA) & (luminance > 0.15) & (luminance < 0.85)
    return mask


def colour_cast(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean |R - G| + |B - G| over the masked pixels (0 if none)."""
    if not mask.any():
        return 0.0
    pixels = image[mask]
    return float((np.abs(pixels[:, 0] - pixels[:, 1]) + np.abs(pixels[:, 2] - pixels[:, 1])).mean())


def clipped_beyond(image: np.ndarray, source: np.ndarray) -> float:
    """The share of pixels white in ``image`` but not in ``source``."""
    return float(((image.max(axis=-1) >= WHITE) & (source.max(axis=-1) < WHITE)).mean())


def blockiness(image: np.ndarray, block: int = 8) -> float:
    """Mean luminance step across block edges over the mean step elsewhere (columns and rows)."""
    luminance = image.mean(axis=-1)
    ratios = []
    for steps in (np.abs(np.diff(luminance, axis=1)), np.abs(np.diff(luminance, axis=0)).T):
        edges = np.arange(steps.shape[1]) % block == block - 1
        ratios.append((steps[:, edges].mean() + 1e-4) / (steps[:, ~edges].mean() + 1e-4))  # flat: 1
    return float(np.mean(ratios))


def check(image: np.ndarray, source: np.ndarray, reference: np.ndarray) -> Checks:
    return Checks(colour_cast(image, neutral_mask(reference)), clipped_beyond(image, source), blockiness(image))


def _thumb(image: np.ndarray) -> Image.Image:
    picture = Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
    picture.thumbnail((THUMB, THUMB))
    canvas = Image.new("RGB", (THUMB, THUMB), (32, 32, 32))
    canvas.paste(picture, ((THUMB - picture.width) // 2, (THUMB - picture.height) // 2))
    return canvas


def review(photos: list[Path], methods: dict[str, Enhancer], sheet: Path | None) -> dict[str, list[Checks]]:
    """Each method's checks on each photo; the contact sheet (input, then each method) if ``sheet`` is given."""
    results: dict[str, list[Checks]] = {name: [] for name in methods}
    rows = []
    for path in photos:
        dark = read_srgb(path)
        ratio = auto_ratio(SrgbFrame(dark))
        rendered = {name: method.enhance_srgb(SrgbFrame(dark), ratio) for name, method in methods.items()}
        reference = rendered["baseline"]
        for name, image in rendered.items():
            results[name].append(check(image, dark, reference))
        rows.append([_thumb(dark), *(_thumb(image) for image in rendered.values())])
    if sheet is not None and rows:
        canvas = Image.new("RGB", (THUMB * len(rows[0]), THUMB * len(rows)))
        for y, row in enumerate(rows):
            for x, thumb in enumerate(row):
                canvas.paste(thumb, (x * THUMB, y * THUMB))
        sheet.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(sheet, quality=80)
    return results


def summary(results: dict[str, list[Checks]]) -> str:
    """A Markdown table: the mean and worst of each check per method."""
    lines = ["| method | photos | cast (mean / worst) | clipped beyond input | blockiness (mean / worst) |",
             "|---|---:|---:|---:|---:|"]  # fmt: skip
    for name, checks in results.items():
        cast, clipped, blocks = (np.array([asdict(c)[k] for c in checks]) for k in ("cast", "clipped", "blockiness"))
        lines.append(
            f"| {name} | {len(checks)} | {cast.mean():.3f} / {cast.max():.3f} | {clipped.mean():.2%} / "
            f"{clipped.max():.2%} | {blocks.mean():.2f} / {blocks.max():.2f} |"
        )
    return "\n".join(lines) + "\n"


def failures(results: dict[str, list[Checks]]) -> list[str]:
    """What a method does worse than ``baseline`` beyond a small allowance, in words: an empty list passes."""
    reference = results["baseline"]
    found = []
    for name, checks in results.items():
        cast = np.mean([c.cast - r.cast for c, r in zip(checks, reference, strict=True)])
        clipped = np.mean([c.clipped for c in checks])
        blocks = np.mean([c.blockiness - r.blockiness for c, r in zip(checks, reference, strict=True)])
        if cast > CAST_ALLOWANCE:
            found.append(f"{name}: colour cast {cast:.3f} over baseline's")
        if clipped > CLIP_ALLOWANCE:
            found.append(f"{name}: {clipped:.1%} of pixels clipped beyond the input's own")
        if blocks > BLOCK_ALLOWANCE:
            found.append(f"{name}: blockiness {blocks:.2f} over baseline's")
    return found


def main(argv: list[str] | None = None) -> int:
    from worker.baseline import Baseline
    from worker.models import SrgbEnhancer

    parser = argparse.ArgumentParser(prog="python -m training.dark_photos", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--photos", type=Path, default=Path("../shared/data/dark"), help="default: %(default)s")
    parser.add_argument("--model", type=Path, default=Path("worker/models/sid-srgb.safetensors"))
    parser.add_argument("--out", type=Path, default=Path("docs/dark-photos.jpg"), help="the contact sheet")
    parser.add_argument("--limit", type=int, default=12, help="photos on the sheet (default: 12)")
    args = parser.parse_args(argv)
    photos = list_images(args.photos)
    if not photos:
        print(f"training.dark_photos: no photos under {args.photos}", file=sys.stderr)
        return 2
    chosen = [photos[i] for i in np.linspace(0, len(photos) - 1, min(args.limit, len(photos))).astype(int)]
    methods: dict[str, Enhancer] = {"baseline": Baseline(), "sid-srgb": SrgbEnhancer.from_checkpoint(args.model)}
    results = review(chosen, methods, args.out)
    print(summary(results))
    print(f"wrote {args.out}")
    for failure in failures(results):
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures(results) else 0


if __name__ == "__main__":
    sys.exit(main())
