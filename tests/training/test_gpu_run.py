"""The portable GPU run, end to end on the CPU with a tiny time box, where only its GPU box's packages exist."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from training.gpu_bench import FULL_FRAME, flops
from training.pack import write_pack
from worker.models import SID, SIDConfig, load_weights

ABSENT_ON_THE_GPU_BOX = ("rawpy", "boto3", "botocore", "flask", "tqdm", "tifffile", "requests")


def test_the_gpu_run_trains_evaluates_and_reports_without_the_projects_other_packages(
    data: Path, tmp_path: Path
) -> None:
    pack, out = write_pack(data, tmp_path / "pack.tar"), tmp_path / "out"
    args = ["--pack", str(pack), "--out", str(out), "--minutes", "0.06", "--batch-size", "2", "--crop", "32",
            "--device", "cpu", "--eval-images", "1", "--eval-crop", "32"]  # fmt: skip
    code = (
        f"import sys\nfor name in {ABSENT_ON_THE_GPU_BOX!r}:\n    sys.modules[name] = None  # importing it fails\n"
        f"from training.gpu_run import main\nsys.exit(main({args!r}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]

    report = json.loads((out / "report.json").read_text())
    for kind in ("raw", "srgb"):
        weights = out / f"sid-{kind}.safetensors"
        assert load_weights(weights).kind == kind and weights.stat().st_size < 16 * 2**20
        assert report[f"train_{kind}"]["step"] >= 1 and 0 < report[f"train_{kind}"]["data_share"] < 1
    methods = {(row["method"], row["dataset"], row["ratio"]) for row in report["evaluation"]}
    assert ("sid", "synthetic RAW", "300") in methods and ("baseline", "LOL held-out", "oracle") in methods
    assert report["inference"]["rows"][0]["ms"] > 0 and report["seconds"] < 300


def test_a_full_sony_frame_costs_about_1_13_tflop() -> None:
    assert abs(flops(SID(SIDConfig()), *FULL_FRAME[1:]) / 1e12 - 1.12) < 0.01
