"""The learned method's GPU times: MEASURED from a GPU benchmark report where given, else ESTIMATE from FLOP figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from darkroom.cli.main import main
from darkroom.simulate.gpu_times import find_report, gpu_boot, gpu_service, read_report
from darkroom.simulate.tables import TableError, load_defaults, load_prices


def gpu_bench_report(device: str, peak: dict[str, float] | None, raw_ms: float, jpeg_ms: float) -> dict[str, Any]:
    """The shape ``python -m training.gpu_bench`` writes (tests/training/test_gpu_bench.py runs the real one)."""
    rows = [
        {"case": case, "precision": precision, "mode": mode, "ms": ms * factor, "shape": [1, 4, 1424, 2128]}
        for case, ms in (("full frame", raw_ms), ("1 MP", jpeg_ms))
        for precision, factor in (("fp32", 3.0), ("bf16", 1.0))
        for mode in ("eager", "cuda-graph")
    ]
    rows.append({"case": "full frame", "precision": "bf16", "mode": "compile", "skipped": "time box (410 s) spent"})
    return {"device": device, "frame_tflop": 1.12, "peak_tflops": peak, "rows": rows, "worker_ready_s": 6.5}


H100 = {"fp32": 67, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}


def write(tmp_path: Path, report: dict[str, Any], name: str = "gpu-bench.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return path


def test_without_a_report_each_template_gpu_gets_an_estimate_from_its_published_flops() -> None:
    defaults, prices = load_defaults(), load_prices()
    for instance, name, tflops in (("g4dn.xlarge", "T4", 65), ("g6.xlarge", "L4", 121), ("g5.xlarge", "A10G", 125)):
        service = gpu_service(defaults, prices.instance(instance).accelerator, None)
        assert service["raw"].mean == pytest.approx(1.12 / (tflops * 0.25) + 0.35)
        assert service["jpeg"].mean == pytest.approx(0.097 / (tflops * 0.25) + 0.1)
        assert service["raw"].source.startswith("ESTIMATE") and f"{name} at {tflops} TFLOP/s" in service["raw"].source
    assert gpu_boot(defaults, None) == defaults.boot("gpu")


def test_a_report_from_another_gpu_is_scaled_by_published_flops_and_says_so(tmp_path: Path) -> None:
    report = read_report(write(tmp_path, gpu_bench_report("NVIDIA H100 80GB HBM3", H100, 4.0, 0.5)))
    service = gpu_service(load_defaults(), "NVIDIA T4 16 GB", report)
    assert service["raw"].mean == pytest.approx(0.004 * 989.4 / 65 + 0.35)
    assert service["jpeg"].mean == pytest.approx(0.0005 * 989.4 / 65 + 0.1)
    source = service["raw"].source
    assert source.startswith("ESTIMATE: MEASURED 4 ms on NVIDIA H100 80GB HBM3") and "989.4 -> 65 TFLOP/s" in source


def test_a_report_from_the_pools_own_gpu_is_measured(tmp_path: Path) -> None:
    nested = {"device": "NVIDIA L4", "inference": gpu_bench_report("NVIDIA L4", None, 30.0, 3.0)}  # gpu_run's report
    report = read_report(write(tmp_path, nested))
    defaults = load_defaults()
    service = gpu_service(defaults, load_prices().instance("g6.xlarge").accelerator, report)
    assert service["raw"].mean == pytest.approx(0.030 + 0.35) and service["raw"].source.startswith("MEASURED 30 ms")
    boot, estimate = gpu_boot(defaults, report), defaults.boot("gpu")
    assert boot.mode == pytest.approx(estimate.mode + 6.5 - 10) and "MEASURED 6.5 s on NVIDIA L4" in boot.source


def test_a_report_without_the_runners_times_is_refused_clearly(tmp_path: Path) -> None:
    report = gpu_bench_report("NVIDIA H100", H100, 4.0, 0.5)
    report["rows"] = [r for r in report["rows"] if r.get("precision") != "bf16"]
    with pytest.raises(TableError, match="no bf16 eager time for the 'full frame' case"):
        read_report(write(tmp_path, report))
    with pytest.raises(TableError, match="cannot read the GPU report"):
        read_report(tmp_path / "missing.json")
    assert find_report(None) is None  # none committed: the estimates hold


def test_simulate_prints_measured_sources_with_a_report_and_estimates_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, gpu_bench_report("NVIDIA L4", None, 30.0, 3.0))
    args = ["simulate", "--per-day", "100", "--hours", "2", "--idle-grid", "60", "--pool-grid", "1"]
    args += ["--processes", "1", "--instance-type", "g6.xlarge"]
    assert main([*args, "--gpu-report", str(path)]) == 0
    measured = capsys.readouterr().out
    assert "service raw: 0.38 s, MEASURED 30 ms, SID bf16 on NVIDIA L4" in measured
    assert "worker-ready part (import, CUDA init, both models loaded and warmed up) MEASURED 6.5 s" in measured
    assert main(args) == 0
    estimated = capsys.readouterr().out
    assert "MEASURED 30 ms" not in estimated and "ESTIMATE: 1.12 TFLOP / (L4 at 121 TFLOP/s" in estimated
