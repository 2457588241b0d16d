"""What ``darkroom simulate`` runs: the pool's policy and the whole run's settings, as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pool.settings import DEFAULT_INSTANCE_TYPES


@dataclass(frozen=True)
class Policy:
    max_workers: int = 3  # the hard maximum (DARKROOM_MAX_WORKERS)
    idle_seconds: float = 300.0  # a worker with nothing to do this long stops; 0: never
    min_workers: int = 0  # kept running whatever the traffic; 0: scale to zero
    prewarm_lead_seconds: float = 0.0  # the page calls warm this long before each upload; 0: no pre-warm
    jobs_per_worker: int = 4  # queued jobs one worker absorbs before another is launched

    def settings(self) -> dict[str, str]:
        """The product's variables that run this policy, one for each field (docs/operations.md).

        The pre-warm lead is the page's own behaviour (it calls /v1/warm on load), not a variable.
        """
        return {
            "DARKROOM_MAX_WORKERS": str(self.max_workers),
            "DARKROOM_IDLE_SECONDS": f"{self.idle_seconds:g}",
            "DARKROOM_MIN_WORKERS": str(self.min_workers),
            "DARKROOM_JOBS_PER_WORKER": str(self.jobs_per_worker),
        }

    def label(self) -> str:
        warm = f", warm {self.prewarm_lead_seconds:g}s" if self.prewarm_lead_seconds else ""
        return f"max {self.max_workers}, idle {self.idle_seconds:g}s, min {self.min_workers}{warm}"


PATTERNS = ("poisson", "daily", "bursts", "csv")


@dataclass(frozen=True)
class SimulateConfig:
    per_day: float = 1000.0  # images a day (ignored for a CSV trace)
    pattern: str = "daily"  # one of PATTERNS
    csv: Path | None = None  # request times, for pattern "csv"
    hours: float = 24.0  # length of a generated trace
    raw_fraction: float = 0.5  # share of uploads that are RAW (the rest JPEG/PNG)
    peak_to_mean: float = 2.0  # daily cycle: the busiest hour's rate over the mean
    photos_per_burst: float = 5.0  # bursts: photos per session
    burst_gap_seconds: float = 10.0  # bursts: mean gap between a session's uploads
    method: str = "sid"  # the enhancement method, for the service-time defaults
    instance_type: str = DEFAULT_INSTANCE_TYPES[0]  # the pool's instance type: the launch template's default
    spot: bool = True  # spot prices for the pool (else on-demand)
    cpu_instance_type: str = "c7i.large"  # the always-on CPU comparison
    raw_seconds: float | None = None  # service time per RAW image; None: the defaults table
    jpeg_seconds: float | None = None  # service time per JPEG image; None: the defaults table
    boot_seconds: tuple[float, float, float] | None = None  # launch to ready (low, mode, high); None: defaults
    interruptions_per_hour: float | None = None  # spot interruptions per instance-hour; None: defaults
    gpu_report: Path | None = None  # a training.gpu_bench JSON report; None: gpu-report.json beside defaults if present
    policy: Policy = field(default_factory=Policy)
    idle_grid: tuple[float, ...] = (60.0, 120.0, 300.0, 600.0, 1800.0)
    pool_grid: tuple[int, ...] = (1, 2, 4, 8)
    prewarm_lead_seconds: float = 30.0  # lead time tried as the pre-warm variant
    p95_target: float = 60.0  # seconds: the recommendation is the cheapest policy at or under it
    seed: int = 0
    processes: int = 2
    defaults_path: Path | None = None
    prices_path: Path | None = None
