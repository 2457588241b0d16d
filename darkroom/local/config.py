"""What the local stack and the soak run with: plain dataclasses, read by ``darkroom up`` and ``darkroom soak``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from darkroom.deploy.spec import LEASE_SECONDS, MAX_RECEIVES
from jobs.settings import AwsSettings
from pool.settings import PoolSettings

if TYPE_CHECKING:
    from darkroom.local.aws import PoolResources


@dataclass(frozen=True)
class PoolConfig:
    """The spot pool as the local stack plays it; seconds are scaled down from AWS's."""

    name: str = "darkroom"  # the pool tag's value; unique per stack when stacks share a moto process
    max_workers: int = 3
    boot_seconds: float = 2.0  # launch to worker process start
    idle_seconds: float = 120.0  # a worker with nothing to do stops and its instance ends
    instance_types: tuple[str, ...] = PoolSettings.instance_types
    launch_template: str = PoolSettings.launch_template
    ami_parameter: str = PoolSettings.ami_parameter
    chaos_seconds: float = 0.0  # every so often interrupt or kill a random worker; 0: never
    chaos_notice_seconds: float = 10.0  # the spot notice chaos gives before reclaiming
    worker_command: tuple[str, ...] = ()  # what each instance runs; empty: python -m worker

    def api_env(self, resources: PoolResources) -> dict[str, str]:
        """What the API reads to launch into this pool (pool/settings.py)."""
        return {
            "DARKROOM_POOL_ENABLED": "true",
            "DARKROOM_POOL": self.name,
            "DARKROOM_MAX_WORKERS": str(self.max_workers),
            "DARKROOM_LAUNCH_TEMPLATE": resources.launch_template,
            "DARKROOM_AMI_PARAMETER": resources.ami_parameter,
            "DARKROOM_SUBNETS": ",".join(resources.subnets),
            "DARKROOM_INSTANCE_TYPES": ",".join(self.instance_types),
        }


@dataclass(frozen=True)
class StackConfig:
    host: str = "127.0.0.1"
    api_port: int = 8080
    moto_port: int = 4566
    workers: int = 0  # always-on worker processes, started with the stack (no metadata service, no idle stop)
    pool: PoolConfig | None = None  # None: no pool; the API never calls EC2
    tier: str = "pool"  # "lambda": the local event source mapping runs jobs through the Lambda handler; "auto": both
    api_processes: int = 4
    method: str | None = None  # "sid" or "baseline" for every input; None: the code's default for each kind
    lease_seconds: int = LEASE_SECONDS
    max_receives: int = MAX_RECEIVES
    wait_seconds: int = 20
    aws: AwsSettings = field(default_factory=AwsSettings)
    extra_env: dict[str, str] = field(default_factory=dict)
    from_template: bool = False  # deploy infra/darkroom.yaml through moto's CloudFormation (`darkroom up`)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"


@dataclass(frozen=True)
class SoakConfig:
    seconds: float = 120.0
    clients: int = 16  # concurrent client threads
    workers: int = 2  # always-on worker processes
    api_processes: int = 4
    weights: tuple[float, float, float] = (0.1, 0.85, 0.05)  # submit, poll, warm
    drain_seconds: float = 180.0  # after the load, how long accepted jobs get to finish
    sample_seconds: float = 5.0  # how often memory is read and the API's /metrics scraped during the load
    seed: int = 0
