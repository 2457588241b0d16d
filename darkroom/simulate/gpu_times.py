"""The learned method's GPU service and boot times, by the GPU of the pool's instance type.

Two sources, and every time says which it came from:
- a GPU benchmark report (``python -m training.gpu_bench --out report.json``,
  or the ``inference`` part of ``training.gpu_run``'s report), given with
  ``--gpu-report`` or present as ``gpu-report.json`` beside ``defaults.json``.
  On the GPU it was measured on, a time is MEASURED; on another GPU it is
  scaled by the two GPUs' published bf16 FLOP/s and marked ESTIMATE, with
  both figures stated;
- without a report, an ESTIMATE from the network's FLOP count, the GPU's
  published bf16/fp16 tensor figure (``defaults.json``'s ``gpu_tflops``, for
  the T4, L4 and A10G the launch template uses) and an assumed efficiency.

The network's time is the runner's path on a GPU: bf16, channels-last,
eager. Decode, encode and S3 stay an ESTIMATE (``gpu_model.io_seconds``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from darkroom.simulate.tables import BootTime, Defaults, ServiceTime, TableError

REPORT_NAME = "gpu-report.json"
CASES = {"raw": "full frame", "jpeg": "1 MP"}  # the report's case for each kind of input


@dataclass(frozen=True)
class GpuReport:
    """What the simulator takes from a GPU benchmark report."""

    where: str  # the file, for the sources
    device: str
    bf16_tflops: float | None  # the measured GPU's published peak, if the report knew it
    ms: dict[str, float]  # by input kind: one network pass, bf16 eager channels-last
    ready_seconds: float | None  # worker process start to both models loaded and warmed up


def read_report(path: Path) -> GpuReport:
    """Parse a ``training.gpu_bench`` report (or ``training.gpu_run``'s, which holds one). Raises ``TableError``."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TableError(f"cannot read the GPU report {path}: {exc}") from None
    bench = data.get("inference", data)
    ms = {}
    for kind, case in CASES.items():
        rows = [
            r
            for r in bench.get("rows", [])
            if r.get("case") == case and r.get("precision") == "bf16" and r.get("mode") == "eager" and "ms" in r
        ]
        if not rows:
            raise TableError(f"the GPU report {path} has no bf16 eager time for the {case!r} case")
        ms[kind] = float(rows[0]["ms"])
    peaks = bench.get("peak_tflops") or {}
    ready = bench.get("worker_ready_s")
    return GpuReport(
        str(path),
        str(bench.get("device", data.get("device", "unknown GPU"))),
        float(peaks["bf16"]) if "bf16" in peaks else None,
        ms,
        float(ready) if ready is not None else None,
    )


def find_report(path: Path | None) -> GpuReport | None:
    """The report given, else ``gpu-report.json`` beside ``defaults.json`` when present, else None."""
    if path is not None:
        return read_report(path)
    packaged = resources.files("darkroom.simulate").joinpath(REPORT_NAME)
    return read_report(Path(str(packaged))) if packaged.is_file() else None


def published(defaults: Defaults, accelerator: str) -> tuple[str, float, str]:
    """(GPU name, published bf16/fp16 dense TFLOP/s, source) for an instance's accelerator description."""
    table: dict[str, Any] = defaults.raw["gpu_tflops"]
    for name, entry in table.items():
        if name != "about" and name in accelerator:
            return name, float(entry["bf16"]), entry["source"]
    raise TableError(f"no published FLOP figure for {accelerator!r}; defaults.json's gpu_tflops has {sorted(table)}")


def gpu_service(defaults: Defaults, accelerator: str, report: GpuReport | None) -> dict[str, ServiceTime]:
    """Seconds per image of each kind on ``accelerator``: network time (measured, scaled or estimated) + I/O."""
    model: dict[str, Any] = defaults.raw["gpu_model"]
    name, peak, where = published(defaults, accelerator)
    service = {}
    for kind in CASES:
        io = float(model["io_seconds"][kind])
        tail = f" + {io:g} s decode, encode and S3 (ESTIMATE)"
        if report is not None and name in report.device:
            seconds = report.ms[kind] / 1000
            source = f"MEASURED {report.ms[kind]:g} ms, SID bf16 on {report.device} ({report.where})"
        elif report is not None and report.bf16_tflops:
            seconds = report.ms[kind] / 1000 * report.bf16_tflops / peak
            source = (
                f"ESTIMATE: MEASURED {report.ms[kind]:g} ms on {report.device} ({report.where}) scaled to the "
                f"{name} by published bf16 FLOP/s, {report.bf16_tflops:g} -> {peak:g} TFLOP/s ({where})"
            )
        else:
            tflop, efficiency = float(model["tflop"][kind]), float(model["efficiency"])
            seconds = tflop / (peak * efficiency)
            source = (
                f"ESTIMATE: {tflop:g} TFLOP / ({name} at {peak:g} TFLOP/s published bf16 ({where}) x "
                f"{efficiency:g} assumed efficiency)"
            )
        service[kind] = ServiceTime(seconds + io, float(model["cv"]), source=source + tail)
    return service


def gpu_boot(defaults: Defaults, report: GpuReport | None) -> BootTime:
    """Launch to ready: the estimate, with its worker-ready part replaced by the measured one if there is one."""
    boot = defaults.boot("gpu")
    if report is None or report.ready_seconds is None:
        return boot
    assumed = float(defaults.raw["gpu_model"]["ready_seconds"])
    shift = report.ready_seconds - assumed
    source = (
        f"{boot.source}; its worker-ready part (import, CUDA init, both models loaded and warmed up) MEASURED "
        f"{report.ready_seconds:g} s on {report.device} ({report.where}) in place of {assumed:g} s ESTIMATE"
    )
    return BootTime(boot.low + shift, boot.mode + shift, boot.high + shift, source)
