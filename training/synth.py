"""Dark training inputs made from clean photos, a whole batch at a time, on the training device.

RAW follows Brooks et al., "Unprocessing Images for Learned Raw Denoising"
(CVPR 2019): invert the camera pipeline that made a clean sRGB photo (tone
curve, sRGB gamma, colour matrix, white balance), sample it through a Bayer
filter, cut the exposure by the amplification ratio, add shot and read noise,
and quantise as a sensor would, over a black level. The batch is then
exactly what the decoder and the network see at inference: the packed dark
RAW (black-subtracted, over white - black, clipped at 0), the ratio, the
white balance the file would state, and the clean photo as the target.

Per example: CFA phase, ratio, noise level, white-balance gains, black and
white levels (14- and 12-bit sensors). Colour, thought through:
- The colour matrix is fixed per model: one "typical camera", the mean of the
  four XYZ->camera matrices Brooks et al. sample from. The network gets no
  metadata beyond the white balance, so a random matrix per image would be an
  error it cannot see and would only teach it to desaturate
  (``random_camera=True`` gives Brooks' random mixtures instead).
- White balance gains are random (Brooks' ranges) and the input is
  multiplied by them, as the decoder does with the file's as-shot gains.
  Near-white highlights keep their gains at 1 (Brooks' "safe" inverse).
- Packing always puts red's row green in G1 and blue's row green in G2, as
  ``worker.decode`` does, so every CFA phase gives the same channel meaning.

Noise (Brooks' model, in units of white - black of the dark capture): shot
noise is Poisson with variance ``shot * signal``; read noise is Gaussian with
variance ``read``, where log(read) = 2.18 log(shot) + 1.20 + N(0, 0.26).

sRGB: a clean photo darkened in linear light, with the same noise model,
re-encoded with the sRGB curve to 8 bits and, most of the time, through a
JPEG round trip at a random quality (``training.jpeg``), as a phone would.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from training.jpeg import jpeg_round_trip
from worker.models.sid import space_to_depth

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
RGB_TO_XYZ = torch.tensor(  # linear sRGB (D65) -> XYZ
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]],
    dtype=torch.float64,
)
CAMERA_XYZ_TO_CAM = torch.tensor(  # the four cameras Brooks et al. sample from
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.613, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.838, -0.263, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.097, 0.1581, 0.5181]],
    ],
    dtype=torch.float64,
)
SENSOR_LEVELS = ((512, 16383), (1024, 16383), (2048, 15000), (128, 4095), (256, 4095))  # (black, white)
PACKED_COLOURS = (0, 1, 2, 1)  # R, G1, B, G2 take red, green, blue, green


def colour_sites(pattern: str) -> list[tuple[int, int]]:
    """(dy, dx) in the 2x2 cell of R, G1, B, G2: G1 shares red's row, G2 blue's."""
    cells = {divmod(i, 2): letter for i, letter in enumerate(pattern.upper())}
    if sorted(cells.values()) != ["B", "G", "G", "R"]:
        raise ValueError(f"not a Bayer pattern: {pattern!r}")
    red = next(site for site, letter in cells.items() if letter == "R")
    blue = next(site for site, letter in cells.items() if letter == "B")
    if red[0] == blue[0]:
        raise ValueError(f"not a Bayer pattern: {pattern!r}")
    green1 = next(site for site, letter in cells.items() if letter == "G" and site[0] == red[0])
    green2 = next(site for site, letter in cells.items() if letter == "G" and site[0] == blue[0])
    return [red, green1, blue, green2]


SITES = torch.tensor([colour_sites(p) for p in PATTERNS])  # (pattern, packed channel, (dy, dx))


@dataclass(frozen=True)
class NoiseModel:
    """Brooks et al.'s sensor noise: shot level log-uniform, read level tied to it log-linearly."""

    shot_range: tuple[float, float] = (1e-5, 1e-3)
    read_slope: float = 2.18
    read_intercept: float = 1.20
    read_sigma: float = 0.26

    def sample(self, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """(shot, read) variances, float64 (count,)."""
        shot = log_uniform(count, self.shot_range, generator)
        noise = torch.randn(count, generator=generator, dtype=torch.float64) * self.read_sigma
        return shot, torch.exp(self.read_slope * torch.log(shot) + self.read_intercept + noise)


@dataclass(frozen=True)
class RawSynthConfig:
    ratio_range: tuple[float, float] = (50.0, 300.0)  # sampled log-uniformly
    noise: NoiseModel = NoiseModel()
    red_gain_range: tuple[float, float] = (1.9, 2.4)
    blue_gain_range: tuple[float, float] = (1.5, 1.9)
    random_camera: bool = False


@dataclass(frozen=True)
class RawBatch:
    """N synthetic dark RAWs; per-example values are (N,) or (N, 3) float tensors on the CPU."""

    inputs: Tensor  # (N, 4, h, w) what the network sees: clip(packed * ratio * white balance)
    targets: Tensor  # (N, 3, 2h, 2w) the clean photos
    sensor: Tensor  # (N, 4, h, w) the dark RAW in sensor units (R, G1, B, G2), for writing a DNG
    patterns: list[str]
    ratio: Tensor
    white_balance: Tensor  # (N, 3) multipliers with green = 1, as the camera would report them
    xyz_to_cam: Tensor  # (N, 3, 3) for a DNG's ColorMatrix1
    black_level: Tensor
    white_level: Tensor

    @property
    def packed(self) -> Tensor:
        """The dark RAW as ``worker.decode`` gives it: (sensor - black) / (white - black), clipped at 0."""
        return normalise(self.sensor, self.black_level, self.white_level)

    def mosaic(self, index: int) -> Tensor:
        """Example ``index`` as the sensor wrote it: (2h, 2w) in its own CFA layout."""
        planes = self.sensor[index]
        height, width = planes.shape[-2:]
        cells = torch.empty(2, 2, height, width, dtype=planes.dtype, device=planes.device)  # (dy, dx, h, w)
        for channel, (dy, dx) in enumerate(colour_sites(self.patterns[index])):
            cells[dy, dx] = planes[channel]
        return cells.permute(2, 0, 3, 1).reshape(2 * height, 2 * width)


def log_uniform(count: int, bounds: tuple[float, float], generator: torch.Generator) -> Tensor:
    low, high = torch.log(torch.tensor(bounds, dtype=torch.float64))
    return torch.exp(low + (high - low) * torch.rand(count, generator=generator, dtype=torch.float64))


def uniform(count: int, bounds: tuple[float, float], generator: torch.Generator) -> Tensor:
    return bounds[0] + (bounds[1] - bounds[0]) * torch.rand(count, generator=generator, dtype=torch.float64)


def srgb_to_linear(x: Tensor) -> Tensor:
    """The sRGB EOTF on tensors (``worker.frames.srgb_to_linear`` is the numpy one; a test keeps them equal)."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: Tensor) -> Tensor:
    """The sRGB OETF on tensors, clipping to [0, 1]."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def inverse_smoothstep(y: Tensor) -> Tensor:
    """The inverse of the tone curve 3x^2 - 2x^3 on [0, 1]."""
    return 0.5 - torch.sin(torch.asin(1.0 - 2.0 * y.clamp(0, 1)) / 3.0)


def rgb_to_cam(xyz_to_cam: Tensor) -> Tensor:
    """Linear sRGB -> camera RGB, rows normalised so white stays white before white balance."""
    matrix = xyz_to_cam @ RGB_TO_XYZ.to(xyz_to_cam)
    return matrix / matrix.sum(dim=-1, keepdim=True)


def camera_matrices(count: int, random_camera: bool, generator: torch.Generator) -> Tensor:
    """(count, 3, 3) XYZ -> camera matrices: the typical camera, or Brooks' random mixtures."""
    if not random_camera:
        return CAMERA_XYZ_TO_CAM.mean(dim=0).expand(count, 3, 3).clone()
    weights = torch.rand(count, len(CAMERA_XYZ_TO_CAM), generator=generator, dtype=torch.float64) + 1e-8
    return torch.einsum("nk,kij->nij", weights / weights.sum(dim=1, keepdim=True), CAMERA_XYZ_TO_CAM)


def add_noise(signal: Tensor, shot: Tensor, read: Tensor, generator: torch.Generator) -> Tensor:
    """Poisson shot noise (variance shot * signal) plus Gaussian read noise (variance read); per-example levels."""
    shot, read = shot.to(signal)[:, None, None, None], read.to(signal)[:, None, None, None]
    photons = torch.poisson(signal.clamp_min(0) / shot, generator=generator) * shot
    return photons + torch.randn(signal.shape, generator=generator, device=signal.device) * read.sqrt()


def _per_example(values: Tensor, like: Tensor) -> Tensor:
    return values.to(like)[:, None, None, None]


def synth_raw(
    clean: Tensor,
    generator: torch.Generator,
    noise_generator: torch.Generator | None = None,
    config: RawSynthConfig = RawSynthConfig(),
    ratio: float | None = None,
) -> RawBatch:
    """Dark noisy RAWs of clean (N, 3, H, W) sRGB photos in [0, 1] (H, W even), on their device.

    ``generator`` (CPU) draws the per-example settings; ``noise_generator``
    (on the photos' device; the same one on a CPU) draws the pixel noise. The
    settings are drawn in a fixed order, so a given ``ratio`` changes nothing
    else: the same seed at another ratio is the same camera and noise level.
    """
    count = clean.shape[0]
    drawn_ratio = log_uniform(count, config.ratio_range, generator)
    ratios = torch.full_like(drawn_ratio, ratio) if ratio is not None else drawn_ratio
    pattern = torch.randint(len(PATTERNS), (count,), generator=generator)
    shot, read = config.noise.sample(count, generator)
    gains = torch.stack(
        [uniform(count, config.red_gain_range, generator), torch.ones(count, dtype=torch.float64),
         uniform(count, config.blue_gain_range, generator)],
        dim=1,
    )  # fmt: skip
    level = torch.randint(len(SENSOR_LEVELS), (count,), generator=generator)
    levels = torch.tensor(SENSOR_LEVELS, dtype=torch.float64)[level]
    xyz_to_cam = camera_matrices(count, config.random_camera, generator)

    cam_from_rgb = rgb_to_cam(xyz_to_cam).to(clean)
    linear = srgb_to_linear(inverse_smoothstep(clean))
    camera = torch.einsum("nij,njhw->nihw", cam_from_rgb, linear).clamp(0, 1)
    inverse = (1 / gains).to(camera)[:, :, None, None]
    highlight = ((camera.mean(dim=1, keepdim=True) - 0.9).clamp_min(0) / 0.1) ** 2  # Brooks' safe inverse
    camera = (camera * torch.maximum(highlight + (1 - highlight) * inverse, inverse)).clamp(0, 1)

    n, _, height, width = camera.shape
    cells = camera.reshape(n, 3, height // 2, 2, width // 2, 2).permute(0, 1, 3, 5, 2, 4)  # (n, rgb, dy, dx, h, w)
    sites = SITES.to(clean.device)[pattern.to(clean.device)]  # (n, 4, 2)
    rows = torch.arange(n, device=clean.device)[:, None]
    colours = torch.tensor(PACKED_COLOURS, device=clean.device)[None]
    bright = cells[rows, colours, sites[..., 0], sites[..., 1]]  # (n, 4, h, w)

    dark = add_noise(bright / _per_example(ratios, bright), shot, read, noise_generator or generator)
    black, white = _per_example(levels[:, 0], dark), _per_example(levels[:, 1], dark)
    sensor = torch.minimum(torch.round(dark * (white - black) + black).clamp_min(0), white)
    return RawBatch(
        inputs=raw_input(normalise(sensor, levels[:, 0], levels[:, 1]), ratios, gains),
        targets=clean,
        sensor=sensor,
        patterns=[PATTERNS[int(i)] for i in pattern],
        ratio=ratios,
        white_balance=gains,
        xyz_to_cam=cam_from_rgb.double().cpu() @ torch.linalg.inv(RGB_TO_XYZ),
        black_level=levels[:, 0],
        white_level=levels[:, 1],
    )


def normalise(sensor: Tensor, black_level: Tensor, white_level: Tensor) -> Tensor:
    """Sensor units -> (value - black) / (white - black), clipped at 0, as ``worker.decode`` does."""
    black, white = _per_example(black_level, sensor), _per_example(white_level, sensor)
    return ((sensor - black) / (white - black)).clamp_min(0)


def raw_input(packed: Tensor, ratio: Tensor, white_balance: Tensor) -> Tensor:
    """``worker.models.inputs.raw_model_input`` for a batch on any device (a test keeps them equal)."""
    gains = (white_balance[:, [0, 1, 2, 1]] * ratio[:, None]).to(packed)[..., None, None]
    return (packed * gains).clamp(0, 1)


def srgb_input(dark: Tensor, ratio: Tensor) -> Tensor:
    """``worker.models.inputs.srgb_model_input`` for a batch (even sides): brightened in linear light, packed."""
    return space_to_depth(linear_to_srgb(srgb_to_linear(dark) * _per_example(ratio, dark)), 2)


@dataclass(frozen=True)
class SrgbSynthConfig:
    ratio_range: tuple[float, float] = (5.0, 200.0)  # LOL's low/normal pairs span about 8-280 in mean linear light
    noise: NoiseModel = NoiseModel(shot_range=(1e-5, 2e-3))
    jpeg_share: float = 0.75  # the rest stay lossless 8-bit, as a PNG would
    jpeg_quality: tuple[float, float] = (50.0, 98.0)


def synth_srgb(
    clean: Tensor,
    generator: torch.Generator,
    noise_generator: torch.Generator | None = None,
    config: SrgbSynthConfig = SrgbSynthConfig(),
) -> tuple[Tensor, Tensor]:
    """Darken clean (N, 3, H, W) photos as an underexposed phone picture: (dark 8-bit sRGB, ratio (N,))."""
    count = clean.shape[0]
    ratio = log_uniform(count, config.ratio_range, generator)
    shot, read = config.noise.sample(count, generator)
    quality = uniform(count, config.jpeg_quality, generator)
    compressed = torch.rand(count, generator=generator) < config.jpeg_share
    dark = add_noise(srgb_to_linear(clean) / _per_example(ratio, clean), shot, read, noise_generator or generator)
    encoded = torch.round(linear_to_srgb(dark) * 255) / 255
    if bool(compressed.any()):
        chosen = compressed.to(clean.device)
        encoded[chosen] = jpeg_round_trip(encoded[chosen], quality[compressed])
    return encoded, ratio
