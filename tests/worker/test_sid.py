"""The SID network, its tiling and its enhancers, on small arrays."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional

from worker.baseline import Baseline, interleave
from worker.frames import ByKind, InputError, RawFrame, SrgbFrame, srgb_to_linear
from worker.methods import ModelChoice, load_enhancer
from worker.models import ModelRunner, SidEnhancer, SrgbEnhancer
from worker.models.enhancers import orient
from worker.models.inputs import brighten_srgb, pad_to_even, space_to_depth, srgb_model_input
from worker.models.sid import SID, SIDConfig, depth_to_space
from worker.models.sid import space_to_depth as torch_space_to_depth
from worker.models.tiling import forward_tiled, plan_tiles
from worker.pipeline import enhance

PUBLISHED_NAMES = [
    *(f"conv{level}_{i}.{p}" for level in (1, 2, 3, 4, 5) for i in (1, 2) for p in ("weight", "bias")),
    *(
        name
        for level in (6, 7, 8, 9)
        for name in (f"up{level}.weight", *(f"conv{level}_{i}.{p}" for i in (1, 2) for p in ("weight", "bias")))
    ),
    "conv10.weight",
    "conv10.bias",
]


def small_model(in_channels: int = 4, seed: int = 0) -> SID:
    torch.manual_seed(seed)
    return SID(SIDConfig(in_channels=in_channels, width=4)).eval()


def test_published_layers_and_parameter_count() -> None:
    model = SID()
    state = model.state_dict()
    assert list(state) == PUBLISHED_NAMES
    assert model.num_parameters() == 7_760_268  # no bias on the four transposed convolutions, as in the TF code
    assert state["conv1_1.weight"].shape == (32, 4, 3, 3)
    assert state["conv5_2.weight"].shape == (512, 512, 3, 3)
    assert state["up6.weight"].shape == (512, 256, 2, 2)
    assert state["conv6_1.weight"].shape == (256, 512, 3, 3)
    assert state["conv10.weight"].shape == (12, 32, 1, 1)


@pytest.mark.parametrize(("height", "width"), [(32, 48), (37, 50), (5, 7), (16, 1)])
def test_output_is_twice_the_input_for_any_size(height: int, width: int) -> None:
    with torch.inference_mode():
        out = small_model()(torch.rand(2, 4, height, width))
    assert out.shape == (2, 3, 2 * height, 2 * width)


def test_padding_does_not_leak_into_the_image() -> None:
    """A 37x50 input gives the same output as the same pixels inside the 48x64 reflect-padded input."""
    x = torch.rand(1, 4, 37, 50)
    padded = functional.pad(x, (0, 14, 0, 11), mode="reflect")
    model = small_model()
    with torch.inference_mode():
        assert torch.allclose(model(x), model(padded)[..., :74, :100], atol=1e-6)


def test_depth_to_space_is_tensorflow_order() -> None:
    block, out_channels, height, width = 2, 3, 4, 5
    x = torch.rand(1, block * block * out_channels, height, width)
    expected = torch.empty(1, out_channels, height * block, width * block)
    for k in range(out_channels):
        for dy in range(block):
            for dx in range(block):
                channel = (dy * block + dx) * out_channels + k  # TF depth_to_space, NHWC "DCR"
                expected[0, k, dy::block, dx::block] = x[0, channel]
    assert torch.equal(depth_to_space(x, block), expected)
    assert not torch.equal(functional.pixel_shuffle(x, block), expected)  # the reason for our own
    assert torch.equal(torch_space_to_depth(depth_to_space(x, block), block), x)


def test_numpy_space_to_depth_is_the_inverse_of_the_head() -> None:
    image = np.random.default_rng(0).random((6, 8, 3), dtype=np.float32)
    planes = torch.from_numpy(space_to_depth(image))[None]
    assert planes.shape == (1, 12, 3, 4)
    assert torch.equal(depth_to_space(planes, 2)[0].permute(1, 2, 0), torch.from_numpy(image))


def test_tiled_output_equals_one_pass() -> None:
    model = small_model(seed=1)
    x = torch.rand(1, 4, 150, 200)
    with torch.inference_mode():
        whole = model(x)[0].permute(1, 2, 0)
        window = lambda w: model(w)[0].permute(1, 2, 0).numpy()  # noqa: E731
        tiled = forward_tiled(window, x, scale=2, tile=48)
        seams = forward_tiled(window, x, scale=2, tile=48, margin=0)
    assert tiled.shape == whole.shape == (300, 400, 3)
    np.testing.assert_allclose(tiled, whole.numpy(), atol=1e-5, rtol=0)
    assert np.abs(seams - whole.numpy()).max() > 1e-3  # without the margin, the tiles would show


def raw_frame(height: int, width: int, flip: int = 0, seed: int = 0) -> RawFrame:
    packed = np.random.default_rng(seed).random((4, height, width), dtype=np.float32) * 0.01
    return RawFrame(packed=packed, white_balance=np.ones(3, np.float32), cam_to_srgb=np.eye(3), flip=flip)


def test_sid_enhancer_tiles_big_frames_with_the_same_result() -> None:
    frame = raw_frame(150, 400)
    whole = SidEnhancer(ModelRunner(small_model(), precision="fp32"))
    tiled = SidEnhancer(ModelRunner(small_model(), precision="fp32", max_window_pixels=50_000))
    assert plan_tiles(150, 400, 50_000) == (150, 208)  # two windows side by side
    out = whole.enhance_raw(frame, 100.0)
    assert out.shape == (300, 800, 3) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_allclose(tiled.enhance_raw(frame, 100.0), out, atol=1e-5)


@pytest.mark.parametrize("flip", [0, 3, 5, 6])
def test_raw_output_is_oriented_like_the_baseline(flip: int) -> None:
    """``orient`` on an upright-at-flip-0 image matches the baseline's own orientation of the same cells."""
    phases = np.random.default_rng(flip).random((2, 2, 3, 4, 6), dtype=np.float32)
    assert np.array_equal(orient(interleave(phases, 0), flip), interleave(phases, flip))
    enhancer = SidEnhancer(ModelRunner(small_model(), precision="fp32"))
    plain = enhancer.enhance_raw(raw_frame(20, 30), 50.0)
    turned = enhancer.enhance_raw(raw_frame(20, 30, flip=flip), 50.0)
    assert np.array_equal(turned, orient(plain, flip))
    assert turned.shape == ((60, 40, 3) if flip & 4 else (40, 60, 3))


def test_srgb_input_brightens_in_linear_light() -> None:
    dark = np.full((5, 7, 3), 0.1, np.float32)
    bright = brighten_srgb(dark, 4.0)
    np.testing.assert_allclose(srgb_to_linear(bright), 4 * srgb_to_linear(dark), rtol=1e-5)
    np.testing.assert_allclose(brighten_srgb(dark, 1000.0), 1.0, atol=1e-6)  # clipped at white
    planes = srgb_model_input(dark, 4.0)
    assert planes.shape == (12, 3, 4)
    assert np.array_equal(pad_to_even(bright)[::2, ::2, 0], planes[0])


def test_srgb_enhancer_keeps_odd_sizes_and_refuses_raw() -> None:
    enhancer = SrgbEnhancer(ModelRunner(small_model(in_channels=12), precision="fp32"))
    frame = SrgbFrame(np.random.default_rng(0).random((33, 45, 3), dtype=np.float32) * 0.1)
    out = enhancer.enhance_srgb(frame, 8.0)
    assert out.shape == (33, 45, 3) and out.dtype == np.float32
    with pytest.raises(InputError):
        enhancer.enhance_raw(raw_frame(8, 8), 8.0)


def test_learned_enhancer_routes_each_kind() -> None:
    raw = SidEnhancer(ModelRunner(small_model(), precision="fp32"))
    srgb = SrgbEnhancer(ModelRunner(small_model(in_channels=12), precision="fp32"))
    both = ByKind(raw, srgb)
    frame = raw_frame(16, 16)
    picture = SrgbFrame(np.full((10, 12, 3), 0.05, np.float32))
    assert np.array_equal(both.enhance_raw(frame, 20.0), raw.enhance_raw(frame, 20.0))
    assert np.array_equal(both.enhance_srgb(picture, 20.0), srgb.enhance_srgb(picture, 20.0))
    with pytest.raises(InputError):
        raw.enhance_srgb(picture, 20.0)


PEAK_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    from worker.frames import RawFrame
    from worker.models import ModelRunner, SidEnhancer
    from worker.models.sid import SID
    packed = np.full((4, 2000, 3000), 0.002, np.float32)  # a 24-megapixel mosaic
    frame = RawFrame(packed=packed, white_balance=np.ones(3, np.float32), cam_to_srgb=np.eye(3), flip=6)
    out = SidEnhancer(ModelRunner(SID(), precision="fp32")).enhance_raw(frame, 100.0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports kilobytes
    json.dump({"shape": list(out.shape), "peak": peak}, sys.stdout)
    """
)


@pytest.mark.slow
def test_24_megapixel_raw_stays_under_3_gb() -> None:
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert result["shape"] == [6000, 4000, 3]
    assert result["peak"] < 3 * 1024**3


def test_a_residual_model_starts_from_its_input_and_its_checkpoint_says_so(tmp_path: Path) -> None:
    from worker.models.checkpoint import load_model, save_weights

    model = SID(SIDConfig(in_channels=12, width=8, residual=True))
    torch.nn.init.zeros_(model.conv10.weight)
    torch.nn.init.zeros_(model.conv10.bias)
    x = torch.rand(1, 12, 20, 24)
    with torch.no_grad():
        torch.testing.assert_close(model(x), depth_to_space(x, 2))  # a zero correction gives back the input
    path = save_weights(tmp_path / "r.safetensors", model, "srgb")
    loaded, kind = load_model(path)
    assert loaded.config.residual and kind == "srgb"


def test_each_job_reports_the_method_that_ran_for_its_kind() -> None:
    both = ByKind(SidEnhancer(ModelRunner(small_model(), precision="fp32")), Baseline())
    assert both.name == "sid (RAW), baseline (JPEG/PNG)"
    assert enhance(raw_frame(16, 16), 20.0, both)[2] == "sid"
    assert enhance(SrgbFrame(np.full((10, 12, 3), 0.05, np.float32)), 20.0, both)[2] == "baseline"


def test_the_default_worker_runs_sid_on_raw_and_baseline_on_jpeg() -> None:
    """The defaults follow the model card: SID beats baseline on RAW, the sRGB model not yet on JPEG/PNG."""
    enhancer = load_enhancer(ModelChoice(device="cpu"))
    assert isinstance(enhancer, ByKind)
    assert isinstance(enhancer.raw, SidEnhancer) and isinstance(enhancer.srgb, Baseline)


@pytest.mark.parametrize("native", [True, False])
def test_the_cpu_runner_uses_bf16_exactly_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    """No timing decides (a quick one on a small input picked fp32 on native-bf16 CPUs about half the time)."""
    monkeypatch.setattr("worker.models.enhance.native_cpu_bf16", lambda: native)
    assert ModelRunner(small_model()).bf16 is native
