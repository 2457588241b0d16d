"""The spot pool's settings: one frozen object, read from DARKROOM_* variables at the entry point."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobs.keepwarm import KeepWarm
from jobs.settings import FromEnv, SettingsError, at_least_zero, positive, require, setting

DEFAULT_INSTANCE_TYPES = ("g6.xlarge", "g5.xlarge", "g4dn.xlarge")


@dataclass(frozen=True)
class PoolSettings(FromEnv):
    """How the API launches workers. ``enabled=False`` (a static worker) means the API never calls EC2."""

    enabled: bool = setting("DARKROOM_POOL_ENABLED", False, "launch spot workers on demand (true in `make run`)")
    name: str = setting(
        "DARKROOM_POOL", "darkroom", "the pool's name: the value of the darkroom:pool tag on its instances"
    )
    max_workers: int = setting("DARKROOM_MAX_WORKERS", 3, "the hard maximum, across every API process and host")
    jobs_per_worker: int = setting(
        "DARKROOM_JOBS_PER_WORKER", 4, "queued jobs one worker absorbs before another is launched"
    )
    launch_template: str = setting("DARKROOM_LAUNCH_TEMPLATE", "darkroom-worker", "the workers' EC2 launch template")
    ami_parameter: str = setting(
        "DARKROOM_AMI_PARAMETER", "/darkroom/worker-ami", "SSM parameter holding the worker AMI id, read at each launch"
    )
    instance_types: tuple[str, ...] = setting(
        "DARKROOM_INSTANCE_TYPES", DEFAULT_INSTANCE_TYPES, "instance types to launch, comma-separated (fleet overrides)"
    )
    subnets: tuple[str, ...] = setting(
        "DARKROOM_SUBNETS",
        (),
        "subnets to launch in, comma-separated; unset: the launch template's",
        shown="the template's",
    )
    spot: bool = setting("DARKROOM_SPOT", True, "launch spot instances (else on-demand)")
    on_demand_fallback: bool = setting(
        "DARKROOM_ON_DEMAND_FALLBACK", True, "when spot has no capacity, launch on-demand instead"
    )
    boot_timeout_seconds: int = setting(
        "DARKROOM_BOOT_TIMEOUT", 600, "seconds: an instance not ready this long after launch is terminated"
    )
    stale_record_seconds: int = setting(
        "DARKROOM_STALE_RECORD_SECONDS",
        120,
        "seconds: a worker record not refreshed this long belongs to a gone worker",
    )
    warm_per_minute: int = setting("DARKROOM_WARM_PER_MINUTE", 6, "POST /v1/warm calls per client address per minute")
    boot_seconds_estimate: float = setting(
        "DARKROOM_BOOT_SECONDS_ESTIMATE", 90.0, "launch to ready, for the ETA until a worker has measured it"
    )
    daily_instance_hours: float = setting(
        "DARKROOM_DAILY_INSTANCE_HOURS",
        0.0,
        "no launches once this many instance-hours are used today (UTC), and idle workers are stopped; 0: no cap",
    )
    anonymous_instance_hours: float = setting(
        "DARKROOM_ANONYMOUS_INSTANCE_HOURS",
        1.0,
        "instance-hours a day (UTC, all hosts) that keyless warm calls may launch; 0: they launch nothing",
    )
    keep_warm: KeepWarm = field(default_factory=KeepWarm)  # the floor: DARKROOM_MIN_WORKERS, DARKROOM_KEEP_WARM

    def __post_init__(self) -> None:
        positive_fields = ("max_workers", "jobs_per_worker", "boot_timeout_seconds", "stale_record_seconds")
        require(self, positive, "positive", *positive_fields, "warm_per_minute", "boot_seconds_estimate")
        require(self, at_least_zero, "0 (no cap) or more", "daily_instance_hours", "anonymous_instance_hours")
        most = max([self.keep_warm.min_workers, *(window.workers for window in self.keep_warm.windows)])
        if most > self.max_workers:
            raise SettingsError(f"the keep-warm floor ({most}) is above DARKROOM_MAX_WORKERS ({self.max_workers})")
        if not self.instance_types:
            raise SettingsError("the pool needs at least one instance type (DARKROOM_INSTANCE_TYPES)")
