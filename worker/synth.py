"""Training pairs made from clean photos: synthetic dark RAW, synthetic dark sRGB, real LOL pairs.

RAW follows Brooks et al., "Unprocessing Images for Learned Raw Denoising"
(CVPR 2019): invert the camera pipeline that made a clean sRGB photo
(tone curve, sRGB gamma, colour matrix, white balance), sample it through a
Bayer filter, cut the exposure by the amplification ratio, add shot and read
noise, and quantise as a 14-bit sensor would. The pair is then exactly what
the decoder and the network see at inference: the packed dark RAW
(black-subtracted, over white - black, clipped at 0), the ratio, and the clean
photo as the target the network must produce from ``packed * ratio``.

Colour, thought through. The network gets no metadata (the published SID
architecture takes only the four planes), so everything it must undo has to
be inferable from the pixels:
- The colour matrix is fixed per model: one "typical camera", the mean of the
  four XYZ->camera matrices Brooks et al. sample from. SID itself is trained
  per camera (its Sony model only knows the Sony matrix); a random matrix per
  image would be an error the network cannot see and would only teach it to
  desaturate. ``random_camera=True`` gives Brooks' random mixtures instead.
- White balance gains are random per image (Brooks' ranges: red 1.9-2.4,
  blue 1.5-1.9) and the target is the white-balanced photo. The network
  learns the average cast and infers the rest from content, as SID does with
  the as-shot white balance of its real training set. Near-white highlights
  keep their gains at 1 (Brooks' "safe" inverse), as a saturated sensor would.
- The pair records the gains and the matrix, so an evaluation can write the
  same RAW as a DNG whose metadata lets LibRaw and the baseline render it
  with the true colours.
The CFA phase is random; packing always puts red's row green in G1 and
blue's row green in G2 (as ``worker.decode`` does), so the network sees the
same channel meaning for every camera, and learns the half-pixel offsets of
all four phases.

Noise (Brooks' model, in units of white - black of the dark capture): shot
noise is Poisson with variance ``shot * signal``; read noise is Gaussian with
variance ``read``, where log(read) = 2.18 log(shot) + 1.20 + N(0, 0.26).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from worker.frames import linear_to_srgb, srgb_to_linear

BLACK_LEVEL = 512
WHITE_LEVEL = 16383  # 14 bits
PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
RGB_TO_XYZ = np.array(  # linear sRGB (D65) -> XYZ
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
CAMERA_XYZ_TO_CAM = np.array(  # the four cameras Brooks et al. sample from
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.613, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.838, -0.263, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.097, 0.1581, 0.5181]],
    ]
)


@dataclass(frozen=True)
class Noise:
    shot: float  # variance per unit of signal
    read: float  # variance


@dataclass(frozen=True)
class NoiseModel:
    """Brooks et al.'s sensor noise: shot level log-uniform, read level tied to it log-linearly."""

    shot_range: tuple[float, float] = (1e-5, 1e-3)
    read_slope: float = 2.18
    read_intercept: float = 1.20
    read_sigma: float = 0.26

    def sample(self, rng: np.random.Generator) -> Noise:
        shot = log_uniform(rng, *self.shot_range)
        log_read = self.read_slope * np.log(shot) + self.read_intercept + rng.normal(0.0, self.read_sigma)
        return Noise(shot=shot, read=float(np.exp(log_read)))


@dataclass(frozen=True)
class RawSynthConfig:
    ratio_range: tuple[float, float] = (50.0, 300.0)  # sampled log-uniformly
    noise: NoiseModel = NoiseModel()
    red_gain_range: tuple[float, float] = (1.9, 2.4)
    blue_gain_range: tuple[float, float] = (1.5, 1.9)
    random_camera: bool = False
    black_level: int = BLACK_LEVEL
    white_level: int = WHITE_LEVEL


@dataclass(frozen=True)
class RawPair:
    packed: np.ndarray  # float32 (4, h, w): the dark noisy RAW as the decoder gives it (R, G1, B, G2)
    ratio: float  # the network sees clip(packed * ratio, 0, 1)
    target: np.ndarray  # float32 (2h, 2w, 3): the clean sRGB photo
    mosaic: np.ndarray  # uint16 (2h, 2w): the same RAW in sensor units, for writing a DNG
    pattern: str
    white_balance: np.ndarray  # (3,) multipliers with green = 1, as the camera would report them
    xyz_to_cam: np.ndarray  # (3, 3) for a DNG's ColorMatrix1
    noise: Noise


def smoothstep(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x * x * (3.0 - 2.0 * x)
    return out


def inverse_smoothstep(y: np.ndarray) -> np.ndarray:
    """The inverse of 3x^2 - 2x^3 on [0, 1]."""
    x: np.ndarray = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * np.clip(y, 0.0, 1.0)) / 3.0)
    return x


def rgb_to_cam(xyz_to_cam: np.ndarray) -> np.ndarray:
    """Linear sRGB -> camera RGB, rows normalised so white stays white before white balance."""
    matrix = xyz_to_cam @ RGB_TO_XYZ
    normalised: np.ndarray = matrix / matrix.sum(axis=1, keepdims=True)
    return normalised


def random_xyz_to_cam(rng: np.random.Generator, config: RawSynthConfig) -> np.ndarray:
    if not config.random_camera:
        mean: np.ndarray = CAMERA_XYZ_TO_CAM.mean(axis=0)
        return mean
    weights = rng.uniform(1e-8, 1.0, len(CAMERA_XYZ_TO_CAM))
    mixed: np.ndarray = np.tensordot(weights / weights.sum(), CAMERA_XYZ_TO_CAM, axes=1)
    return mixed


def safe_invert_gains(camera: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Divide by white-balance gains, fading to no change for near-white pixels (Brooks et al.)."""
    grey = camera.mean(axis=-1, keepdims=True)
    mask = (np.maximum(grey - 0.9, 0.0) / 0.1) ** 2
    inverse = 1.0 / gains
    out: np.ndarray = camera * np.maximum(mask + (1.0 - mask) * inverse, inverse)
    return out


def unprocess(srgb: np.ndarray, cam_from_rgb: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Clean (H, W, 3) sRGB photo -> linear camera RGB before white balance, in [0, 1]."""
    linear = srgb_to_linear(inverse_smoothstep(srgb).astype(np.float32)).astype(np.float64)
    camera = np.clip(linear @ cam_from_rgb.T, 0.0, 1.0)
    raw: np.ndarray = np.clip(safe_invert_gains(camera, gains), 0.0, 1.0)
    return raw


def colour_sites(pattern: str) -> list[tuple[int, int]]:
    """(dy, dx) in the 2x2 cell of R, G1, B, G2: G1 shares red's row, G2 blue's."""
    cells = {divmod(i, 2): letter for i, letter in enumerate(pattern.upper())}
    red = next((site for site, letter in cells.items() if letter == "R"), (0, 0))
    blue = next((site for site, letter in cells.items() if letter == "B"), (0, 0))
    if sorted(cells.values()) != ["B", "G", "G", "R"] or red[0] == blue[0]:
        raise ValueError(f"not a Bayer pattern: {pattern!r}")
    green1 = next(site for site, letter in cells.items() if letter == "G" and site[0] == red[0])
    green2 = next(site for site, letter in cells.items() if letter == "G" and site[0] == blue[0])
    return [red, green1, blue, green2]


def mosaic(image: np.ndarray, pattern: str) -> np.ndarray:
    """Sample (H, W, 3) through a 2x2 colour filter array -> (H, W); H and W even."""
    out = np.empty(image.shape[:2], dtype=image.dtype)
    for i, letter in enumerate(pattern.upper()):
        dy, dx = divmod(i, 2)
        out[dy::2, dx::2] = image[dy::2, dx::2, "RGB".index(letter)]
    return out


def pack(mosaic_plane: np.ndarray, pattern: str) -> np.ndarray:
    """(H, W) mosaic -> (4, H/2, W/2) planes R, G1, B, G2, whatever the CFA phase."""
    return np.stack([mosaic_plane[dy::2, dx::2] for dy, dx in colour_sites(pattern)])


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def add_noise(signal: np.ndarray, noise: Noise, rng: np.random.Generator) -> np.ndarray:
    """Poisson shot noise (variance shot * signal) plus Gaussian read noise (variance read)."""
    photons = rng.poisson(np.maximum(signal, 0.0) / noise.shot) * noise.shot
    noisy: np.ndarray = photons + rng.normal(0.0, np.sqrt(noise.read), signal.shape)
    return noisy


def synth_raw_pair(
    clean: np.ndarray,
    rng: np.random.Generator,
    config: RawSynthConfig = RawSynthConfig(),
    pattern: str | None = None,
    ratio: float | None = None,
    noise: Noise | None = None,
) -> RawPair:
    """A dark noisy RAW of the clean (H, W, 3) sRGB photo, and the photo as its target (H, W cropped to even)."""
    height, width = clean.shape[0] // 2 * 2, clean.shape[1] // 2 * 2
    target = np.ascontiguousarray(clean[:height, :width], dtype=np.float32)
    pattern = pattern or PATTERNS[rng.integers(len(PATTERNS))]
    ratio = ratio if ratio is not None else log_uniform(rng, *config.ratio_range)
    noise = noise or config.noise.sample(rng)
    xyz_to_cam = random_xyz_to_cam(rng, config)
    gains = np.array([rng.uniform(*config.red_gain_range), 1.0, rng.uniform(*config.blue_gain_range)])
    cam_from_rgb = rgb_to_cam(xyz_to_cam)

    bright = mosaic(unprocess(target, cam_from_rgb, gains), pattern)
    dark = add_noise(bright / ratio, noise, rng)
    span = config.white_level - config.black_level
    sensor = np.clip(np.round(dark * span + config.black_level), 0, config.white_level).astype(np.uint16)
    normalised = np.maximum(sensor.astype(np.float32) - config.black_level, 0.0) / np.float32(span)
    return RawPair(
        packed=pack(normalised, pattern),
        ratio=float(ratio),
        target=target,
        mosaic=sensor,
        pattern=pattern,
        white_balance=gains.astype(np.float32),
        xyz_to_cam=cam_from_rgb @ np.linalg.inv(RGB_TO_XYZ),
        noise=noise,
    )


# --- sRGB pairs -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SrgbSynthConfig:
    ratio_range: tuple[float, float] = (5.0, 200.0)  # LOL's low/normal pairs span about 8-280 in mean linear light
    noise: NoiseModel = NoiseModel(shot_range=(1e-5, 2e-3))


@dataclass(frozen=True)
class SrgbPair:
    dark: np.ndarray  # float32 (H, W, 3) sRGB, 8-bit steps
    ratio: float  # the network sees srgb_model_input(dark, ratio)
    target: np.ndarray  # float32 (H, W, 3) sRGB


def synth_srgb_pair(
    clean: np.ndarray, rng: np.random.Generator, config: SrgbSynthConfig = SrgbSynthConfig()
) -> SrgbPair:
    """Darken a clean photo as an underexposed JPEG would be: less light, sensor noise, sRGB curve, 8 bits."""
    ratio = log_uniform(rng, *config.ratio_range)
    target = np.asarray(clean, dtype=np.float32)
    dark = add_noise(srgb_to_linear(target).astype(np.float64) / ratio, config.noise.sample(rng), rng)
    encoded = np.round(linear_to_srgb(dark.astype(np.float32)) * 255) / np.float32(255)
    return SrgbPair(dark=encoded.astype(np.float32), ratio=ratio, target=target)


def pair_ratio(low: np.ndarray, normal: np.ndarray) -> float:
    """The light ratio between a real normal/low pair: mean linear light, kept within [1, 300]."""
    ratio = float(srgb_to_linear(normal).mean()) / max(float(srgb_to_linear(low).mean()), 1e-6)
    return float(np.clip(ratio, 1.0, 300.0))


# --- files and the validation split ---------------------------------------------------------------------------------


def is_validation(name: str, fraction: float = 0.1) -> bool:
    """Whether a file (by name, so a LOL low/normal pair stays together) is held out; stable across runs."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted so every run sees the same order."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def split(paths: list[Path], fraction: float = 0.1) -> tuple[list[Path], list[Path]]:
    """(train, validation) by file name hash."""
    validation = [p for p in paths if is_validation(p.name, fraction)]
    return [p for p in paths if not is_validation(p.name, fraction)], validation


def lol_pairs(root: Path) -> list[tuple[Path, Path]]:
    """(low, normal) files of a LOL-style folder: ``root/low/X`` and ``root/normal/X``."""
    return [
        (low, root / "normal" / low.name) for low in list_images(root / "low") if (root / "normal" / low.name).exists()
    ]


def read_srgb(path: Path) -> np.ndarray:
    """An image file as float32 (H, W, 3) sRGB in [0, 1]."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255)
