"""``darkroom enhance`` and ``darkroom sample``: the pipeline on files, no servers."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

SAMPLE_EXPOSURE = 1 / 100  # of a normal exposure: 100x too dark


def output_path(source: Path, output: Path | None, many: bool) -> Path:
    """Where one input's result goes: the given file, a file in the given folder, or beside the input."""
    if output is None:
        return source.with_name(f"{source.stem}-bright.jpg")
    if many or output.is_dir() or output.suffix == "":
        output.mkdir(parents=True, exist_ok=True)
        return output / f"{source.stem}.jpg"
    return output


def enhance_files(inputs: list[Path], output: Path | None, ratio_text: str, method: str | None) -> int:
    """Enhance each input; returns the number of failures as the exit status (capped at 1)."""
    from tqdm import tqdm

    from api.validate import inspect_upload
    from jobs.message import InvalidRatio, parse_ratio
    from worker.frames import InputError
    from worker.methods import ModelChoice, load_enhancer
    from worker.pipeline import run_pipeline

    try:
        ratio = parse_ratio(ratio_text)
    except InvalidRatio as exc:
        log.error("%s", exc)
        return 2
    choice = ModelChoice() if method is None else ModelChoice(method=method, srgb_method=method)
    enhancer = load_enhancer(choice)
    many = len(inputs) > 1
    failures = 0
    for source in tqdm(inputs, unit="photo", disable=not many):
        try:
            data = source.read_bytes()
            info = inspect_upload(data, source.name, max_pixels=150_000_000)
            enhanced = run_pipeline(data, info.kind, ratio, enhancer)
        except OSError as exc:
            failures += 1
            log.error("%s: cannot read: %s", source, exc.strerror or exc)
            continue
        except InputError as exc:
            failures += 1
            log.error("%s: %s", source, exc.message)
            continue
        except ValueError as exc:  # a validation problem from api.validate
            failures += 1
            log.error("%s: %s", source, exc)
            continue
        target = output_path(source, output, many)
        target.write_bytes(enhanced.encoded)
        timings = ", ".join(f"{k} {v:.2f} s" for k, v in enhanced.timings.items())
        message = (
            f"{source} -> {target} ({enhanced.width}x{enhanced.height}, ratio {enhanced.ratio_used:.1f}; {timings})"
        )
        if many:
            tqdm.write(message)
        else:
            print(message)
    return 1 if failures else 0


def write_sample(path: Path, exposure: float = SAMPLE_EXPOSURE) -> None:
    """A synthetic dark photo: RAW for .dng, else an 8-bit sRGB image Pillow writes."""
    from PIL import Image

    from darkroom.dng import synthetic_dark_dng, synthetic_dark_srgb

    if path.suffix.lower() == ".dng":
        path.write_bytes(synthetic_dark_dng(1536, 2304, exposure=exposure, seed=7))
        return
    Image.fromarray(synthetic_dark_srgb(768, 1152, exposure=exposure, seed=7)).save(path)
