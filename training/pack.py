"""One compact file of training photos, for a GPU box that cannot see the data folder.

``python -m training.pack --data ../shared/data --out .train/pack.tar`` writes
a plain tar of JPEG files (4:4:4; the dark LOL pictures at a higher quality,
since their few levels are all they have) and a ``manifest.json``::

    train/clean/NAME.jpg      clean photos the trainer may use
    train/low/NAME.jpg        real dark pictures, and their references:
    train/normal/NAME.jpg
    val/...                   the same for the held-out split: for evaluation only, never trained on

A tar of JPEGs needs nothing beyond Pillow to read, and fits the 64 MiB a
GPU call may carry: the whole data set packs into 26 MiB.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
from pathlib import Path

from PIL import Image
from torch import Tensor

from training.photos import Files, Photos, read_uint8, split_files

FORMAT = "darkroom-pack-1"
MAX_BYTES = 30 * 2**20
SPLITS = ("train", "val")


def _jpeg(path: Path, quality: int) -> bytes:
    with Image.open(path) as image:
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=quality, subsampling=0)
        return out.getvalue()


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def write_pack(data: Path, out: Path, quality: int = 84, dark_quality: int = 93) -> Path:
    """Pack ``data/clean`` and ``data/lol-train`` (both splits, labelled) into one tar at ``out``."""
    clean_dirs, lol_dirs = [data / "clean"], [data / "lol-train"]
    manifest: dict[str, object] = {"format": FORMAT, "quality": quality, "dark_quality": dark_quality}
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w") as archive:
        for split in SPLITS:
            files = split_files(clean_dirs, lol_dirs, validation=split == "val")
            for path in files.clean:
                _add(archive, f"{split}/clean/{path.stem}.jpg", _jpeg(path, quality))
            for low, normal in files.pairs:
                _add(archive, f"{split}/low/{low.stem}.jpg", _jpeg(low, dark_quality))
                _add(archive, f"{split}/normal/{normal.stem}.jpg", _jpeg(normal, quality))
            manifest[split] = {"clean": len(files.clean), "pairs": len(files.pairs)}
        _add(archive, "manifest.json", json.dumps(manifest, indent=1).encode())
    return out


def read_pack(path: Path, split: str) -> Photos:
    """The photos of one split of a pack, decoded into memory."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    images: dict[str, dict[str, bytes]] = {"clean": {}, "low": {}, "normal": {}}
    with tarfile.open(path) as archive:
        manifest = json.loads(_member(archive, "manifest.json"))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{path} is not a darkroom training pack (format {manifest.get('format')!r})")
        for member in archive.getmembers():
            parts = member.name.split("/")
            if len(parts) == 3 and parts[0] == split and parts[1] in images:
                images[parts[1]][parts[2]] = _member(archive, member.name)
    photos = Photos(clean=[_decode(data) for data in images["clean"].values()])
    for name, low in images["low"].items():
        photos.add_pair(_decode(low), _decode(images["normal"][name]))
    return photos


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    handle = archive.extractfile(name)
    if handle is None:
        raise ValueError(f"{name} in the pack is not a file")
    return handle.read()


def _decode(data: bytes) -> Tensor:
    return read_uint8(io.BytesIO(data))


def load_photos(source: Path, validation: bool, clean_dirs: list[Path] | None = None) -> Photos:
    """Photos from a pack file, or from a data folder holding clean/ and lol-train/."""
    if source.is_file():
        return read_pack(source, "val" if validation else "train")
    files: Files = split_files(clean_dirs or [source / "clean"], [source / "lol-train"], validation)
    return Photos.from_files(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.pack",
        description="Pack the training photos (clean/ and lol-train/ of a data folder) into one tar of JPEGs, "
        "both splits labelled, for a GPU run that cannot see the folder.",
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="default: %(default)s")
    parser.add_argument("--out", type=Path, default=Path(".train/pack.tar"), help="default: %(default)s")
    parser.add_argument("--quality", type=int, default=84, help="JPEG quality of clean pictures (default: 84)")
    parser.add_argument("--dark-quality", type=int, default=93, help="JPEG quality of dark ones (default: 93)")
    args = parser.parse_args(argv)
    if not (args.data / "clean").is_dir() and not (args.data / "lol-train").is_dir():
        print(f"training.pack: no clean/ or lol-train/ under {args.data}", file=sys.stderr)
        return 2
    path = write_pack(args.data, args.out, args.quality, args.dark_quality)
    size = path.stat().st_size
    print(f"wrote {path}: {size / 2**20:.1f} MiB")
    if size > MAX_BYTES:
        print(f"training.pack: {size / 2**20:.1f} MiB is over {MAX_BYTES / 2**20:.0f} MiB; lower --quality")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
