"""The spot pool's settings: one frozen object, read from DARKROOM_* variables at the entry point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jobs.settings import SettingsError, env_bool, env_float, env_int, env_str

DEFAULT_INSTANCE_TYPES = ("g6.xlarge", "g5.xlarge", "g4dn.xlarge")


def env_list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list; unset or blank keeps the default."""
    items = tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())
    return items or default


@dataclass(frozen=True)
class PoolSettings:
    """How the API launches workers. ``enabled=False`` (a static worker) means the API never calls EC2."""

    enabled: bool = False
    name: str = "darkroom"  # the value of POOL_TAG on every instance of this pool
    max_workers: int = 3  # the hard maximum, across every API process and host
    jobs_per_worker: int = 4  # queued jobs one worker is expected to absorb before another is launched
    launch_template: str = "darkroom-worker"
    ami_parameter: str = "/darkroom/worker-ami"  # SSM parameter holding the AMI id, read at each launch
    instance_types: tuple[str, ...] = DEFAULT_INSTANCE_TYPES
    subnets: tuple[str, ...] = ()  # empty: the launch template's (or the default VPC's) subnet
    spot: bool = True
    on_demand_fallback: bool = True  # when spot has no capacity, launch on-demand instead
    boot_timeout_seconds: int = 600  # an instance not READY this long after launch is terminated
    stale_record_seconds: int = 120  # a worker record not refreshed this long belongs to a worker that is gone
    warm_per_minute: int = 6  # POST /v1/warm calls per client per minute
    boot_seconds_estimate: float = 90.0  # launch to ready, for the ETA until a worker has measured it
    daily_instance_hours: float = 0.0  # no launches once this many are used today (UTC); 0: no cap

    def __post_init__(self) -> None:
        positive = ("max_workers", "jobs_per_worker", "boot_timeout_seconds", "stale_record_seconds")
        for name in (*positive, "warm_per_minute", "boot_seconds_estimate"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"pool {name} must be positive, not {getattr(self, name)!r}")
        if not self.daily_instance_hours >= 0:  # NaN fails too
            raise SettingsError(
                f"pool daily_instance_hours must be 0 (no cap) or more, not {self.daily_instance_hours!r}"
            )
        if not self.instance_types:
            raise SettingsError("the pool needs at least one instance type")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PoolSettings:
        return cls(
            enabled=env_bool(env, "DARKROOM_POOL_ENABLED", cls.enabled),
            name=env_str(env, "DARKROOM_POOL", cls.name),
            max_workers=env_int(env, "DARKROOM_MAX_WORKERS", cls.max_workers),
            jobs_per_worker=env_int(env, "DARKROOM_JOBS_PER_WORKER", cls.jobs_per_worker),
            launch_template=env_str(env, "DARKROOM_LAUNCH_TEMPLATE", cls.launch_template),
            ami_parameter=env_str(env, "DARKROOM_AMI_PARAMETER", cls.ami_parameter),
            instance_types=env_list(env, "DARKROOM_INSTANCE_TYPES", cls.instance_types),
            subnets=env_list(env, "DARKROOM_SUBNETS", cls.subnets),
            spot=env_bool(env, "DARKROOM_SPOT", cls.spot),
            on_demand_fallback=env_bool(env, "DARKROOM_ON_DEMAND_FALLBACK", cls.on_demand_fallback),
            boot_timeout_seconds=env_int(env, "DARKROOM_BOOT_TIMEOUT", cls.boot_timeout_seconds),
            stale_record_seconds=env_int(env, "DARKROOM_STALE_RECORD_SECONDS", cls.stale_record_seconds),
            warm_per_minute=env_int(env, "DARKROOM_WARM_PER_MINUTE", cls.warm_per_minute),
            boot_seconds_estimate=env_float(env, "DARKROOM_BOOT_SECONDS_ESTIMATE", cls.boot_seconds_estimate),
            daily_instance_hours=env_float(env, "DARKROOM_DAILY_INSTANCE_HOURS", cls.daily_instance_hours),
        )
