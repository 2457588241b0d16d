"""The portable GPU benchmark, run on the CPU with a tiny time box where only its GPU box's packages exist."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.training.test_gpu_run import ABSENT_ON_THE_GPU_BOX
from training.gpu_bench import PEAK_TFLOPS, benchmark, peak_tflops

H100 = PEAK_TFLOPS["H100"]


def test_the_gpu_bench_writes_its_json_report_without_the_projects_other_packages(tmp_path: Path) -> None:
    out = tmp_path / "gpu-bench.json"
    args = ["--out", str(out), "--minutes", "0.5", "--device", "cpu", "--quick"]
    code = (
        f"import sys\nfor name in {ABSENT_ON_THE_GPU_BOX!r}:\n    sys.modules[name] = None  # importing it fails\n"
        f"from training.gpu_bench import main\nsys.exit(main({args!r}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]

    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["peak_tflops"] is None and report["frame_ms_at_peak"] is None
    assert abs(report["frame_tflop"] - 1.12) < 0.01
    assert report["rows"][0]["ms"] > 0 and report["rows"][0]["tflops"] >= 0
    assert report["best_full_frame"] is None  # the quick run times a small case only
    assert report["pipeline"]["raws_per_second"] > 0
    assert report["pipeline"]["inference_bound_raws_per_second"] >= report["pipeline"]["raws_per_second"]
    assert report["worker_ready_s"] > 0


def test_a_spent_time_box_skips_the_remaining_rows() -> None:
    rows = benchmark(torch.device("cpu"), quick=True, seconds=0.0)["rows"]
    assert rows[0]["skipped"].startswith("time box") and "ms" not in rows[0]


def test_each_row_gets_its_share_of_the_published_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on an H100: a full frame (1.12 TFLOP) at 989 bf16 TFLOP/s takes 1.13 ms, the floor any variant approaches."""
    monkeypatch.setattr("training.gpu_bench.peak_tflops", lambda name: H100)
    report = benchmark(torch.device("cpu"), quick=True, seconds=60.0)
    assert report["frame_ms_at_peak"]["bf16"] == pytest.approx(1.13, abs=0.01)
    row = report["rows"][0]
    assert row["share_of_peak"] == pytest.approx(row["tflops"] / 67, abs=0.001)  # the quick row is fp32


def test_the_share_of_peak_uses_the_published_figure_of_the_right_variant() -> None:
    assert peak_tflops("NVIDIA H100 80GB HBM3") == {"fp32": 67, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}
    assert peak_tflops("NVIDIA H100 PCIe")["bf16"] == 756  # type: ignore[index]
    assert peak_tflops("NVIDIA H200")["fp16"] == 989.4  # type: ignore[index]
    assert peak_tflops("NVIDIA GeForce RTX 4090") is None
