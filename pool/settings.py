"""The spot pool's settings: one frozen object, read from DARKROOM_* variables at the entry point."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobs.keepwarm import KeepWarm
from jobs.settings import FromEnv, SettingsError, at_least_zero, positive, require, setting
from pool.tiers import AutoThresholds

DEFAULT_INSTANCE_TYPES = ("g6.xlarge", "g5.xlarge", "g4dn.xlarge")
TIERS = ("pool", "lambda", "auto")


@dataclass(frozen=True)
class PoolSettings(FromEnv):
    """How the API launches workers. ``enabled=False`` (a static worker) means the API never calls EC2."""

    enabled: bool = setting("DARKROOM_POOL_ENABLED", False, "launch spot workers on demand (true in `make run`)")
    tier: str = setting(
        "DARKROOM_TIER",
        "pool",
        "which tier serves jobs: pool (spot workers), lambda (the function, fed by its event source mapping)"
        " or auto (the scaling rule picks by traffic)",
    )
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
    auto_pool_per_hour: float = setting(
        "DARKROOM_AUTO_POOL_PER_HOUR",
        839.0,
        "with DARKROOM_TIER=auto, arrivals an hour from which spot workers serve (`darkroom simulate` recommends it)",
    )
    auto_pool_backlog: int = setting(
        "DARKROOM_AUTO_POOL_BACKLOG",
        8,
        "with DARKROOM_TIER=auto, jobs waiting or running from which spot workers serve (`darkroom simulate`"
        " recommends it: what DARKROOM_LAMBDA_CONCURRENCY invocations clear within the p95 target)",
    )
    auto_quiet_seconds: float = setting(
        "DARKROOM_AUTO_QUIET_SECONDS",
        1800.0,
        "with DARKROOM_TIER=auto, this long below both: the function serves again (`darkroom simulate`"
        " recommends the least: the pool's idle timeout)",
    )
    lambda_mapping: str = setting(
        "DARKROOM_LAMBDA_MAPPING",
        "",
        "the Lambda tier's event source mapping (its UUID: the stack's EventSourceMappingId), which"
        " DARKROOM_TIER=auto turns on and off; required with auto",
        shown="none",
    )
    lambda_function: str = setting(
        "DARKROOM_LAMBDA_FUNCTION",
        "",
        "the Lambda tier's function (the stack's FunctionName): the page's pre-warm invokes it once;"
        " unset: the pre-warm invokes nothing (locally the event source process has loaded the model)",
        shown="none",
    )
    anonymous_instance_hours: float = setting(
        "DARKROOM_ANONYMOUS_INSTANCE_HOURS",
        1.0,
        "instance-hours a day (UTC, all hosts) that keyless warm calls may launch; 0: they launch nothing",
    )
    keep_warm: KeepWarm = field(default_factory=KeepWarm)  # the floor: DARKROOM_MIN_WORKERS, DARKROOM_KEEP_WARM

    @property
    def auto_thresholds(self) -> AutoThresholds:
        return AutoThresholds(self.auto_pool_per_hour, self.auto_pool_backlog, self.auto_quiet_seconds)

    @property
    def launches(self) -> bool:
        """Whether the API may launch spot workers: an enabled pool, unless the Lambda tier serves every job.

        With ``auto`` it launches only while the pool serves (pool/autotier.py decides)."""
        return self.enabled and self.tier != "lambda"

    def __post_init__(self) -> None:
        require(self, lambda tier: tier in TIERS, "one of " + ", ".join(TIERS), "tier")
        positive_fields = ("max_workers", "jobs_per_worker", "boot_timeout_seconds", "stale_record_seconds")
        require(self, positive, "positive", *positive_fields, "warm_per_minute", "boot_seconds_estimate")
        require(self, at_least_zero, "0 (no cap) or more", "daily_instance_hours", "anonymous_instance_hours")
        require(self, positive, "positive", "auto_pool_per_hour", "auto_pool_backlog")
        require(self, at_least_zero, "0 or more", "auto_quiet_seconds")
        most = max([self.keep_warm.min_workers, *(window.workers for window in self.keep_warm.windows)])
        if most > self.max_workers:
            raise SettingsError(f"the keep-warm floor ({most}) is above DARKROOM_MAX_WORKERS ({self.max_workers})")
        if not self.instance_types:
            raise SettingsError("the pool needs at least one instance type (DARKROOM_INSTANCE_TYPES)")


@dataclass(frozen=True)
class EventSourceSettings(FromEnv):
    """The Lambda tier's SQS event source mapping: the template's parameters, and what the local poller plays."""

    batch_size: int = setting(
        "DARKROOM_LAMBDA_BATCH_SIZE", 1, "records per invocation; 1: a late record never waits behind a batch"
    )
    batching_window_seconds: int = setting(
        "DARKROOM_LAMBDA_BATCHING_WINDOW", 0, "seconds the mapping gathers records before it invokes; 0: at once"
    )
    max_concurrency: int = setting(
        "DARKROOM_LAMBDA_CONCURRENCY", 2, "invocations at once (the mapping's maximum concurrency, 2 or more)"
    )
    timeout_seconds: int = setting(
        "DARKROOM_LAMBDA_TIMEOUT", 60, "the function's time limit; a job that would not end before it is handed back"
    )
    visibility_seconds: int = setting(
        "DARKROOM_LAMBDA_VISIBILITY", 0, "a received batch's visibility timeout; 0: the queue's own"
    )

    def __post_init__(self) -> None:
        require(self, lambda size: 1 <= size <= 10, "1 to 10", "batch_size")
        require(self, lambda window: 0 <= window <= 300, "0 to 300", "batching_window_seconds")
        require(self, lambda limit: 2 <= limit <= 1000, "2 to 1000", "max_concurrency")
        require(self, lambda limit: 1 <= limit <= 900, "1 to 900", "timeout_seconds")
        require(self, at_least_zero, "0 (the queue's) or more", "visibility_seconds")
