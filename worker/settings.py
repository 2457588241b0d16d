"""The worker's settings: one typed object, read from DARKROOM_* at the entry point."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jobs.settings import AwsSettings, env_float, env_int, env_str
from jobs.webhook import WebhookSettings

DEFAULT_IMDS_URL = "http://169.254.169.254"
METHODS = ("sid", "baseline")


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class ModelChoice:
    method: str = "baseline"  # "sid" once the learned models beat it: see worker/models/README.md
    raw_model: str = "sid-raw.safetensors"  # a shipped file name, a local path, or s3://bucket/key
    srgb_model: str = "sid-srgb.safetensors"
    device: str = "auto"  # auto: the GPU when there is one
    cache_dir: Path = field(default_factory=lambda: Path("~/.cache/darkroom/models").expanduser())


@dataclass(frozen=True)
class WorkerSettings:
    aws: AwsSettings = field(default_factory=AwsSettings)
    worker_id: str = field(default_factory=default_worker_id)
    models: ModelChoice = field(default_factory=ModelChoice)  # which enhancer runs, on which device
    wait_seconds: int = 20  # SQS long poll
    lease_seconds: int = 60  # visibility each heartbeat renews; shorter means faster recovery from a dead worker
    heartbeat_seconds: float = 20.0  # renew well before the lease runs out
    retry_base_seconds: float = 5.0  # backoff after a transient failure: base * 2**(attempt-1)
    dead_letter_sweep_seconds: float = 60.0  # how often an idle worker marks dead-lettered jobs failed
    max_pixels: int = 150_000_000
    webhook: WebhookSettings = field(default_factory=WebhookSettings)  # signs and limits job callbacks
    pipeline_depth: int = 3  # jobs in flight at once (worker/overlap.py); 1: one after another
    # on an instance (a spot worker of the pool)
    imds_url: str = DEFAULT_IMDS_URL  # instance metadata; empty: not on an instance (no record, no notices)
    idle_seconds: float = 300.0  # stop after this long with nothing to do; 0: never. Only on an instance
    notice_poll_seconds: float = 2.0  # how often to look for spot interruption and rebalance notices
    notice_margin_seconds: float = 15.0  # a job must end this long before a spot deadline, else it is handed back

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkerSettings:
        lease = env_int(env, "DARKROOM_LEASE_SECONDS", cls.lease_seconds)
        return cls(
            aws=AwsSettings.from_env(env),
            worker_id=env_str(env, "DARKROOM_WORKER_ID", default_worker_id()),
            models=ModelChoice(
                method=env_str(env, "DARKROOM_METHOD", ModelChoice.method),
                raw_model=env_str(env, "DARKROOM_RAW_MODEL", ModelChoice.raw_model),
                srgb_model=env_str(env, "DARKROOM_SRGB_MODEL", ModelChoice.srgb_model),
                device=env_str(env, "DARKROOM_DEVICE", ModelChoice.device),
                cache_dir=Path(env_str(env, "DARKROOM_MODEL_CACHE", "~/.cache/darkroom/models")).expanduser(),
            ),
            wait_seconds=env_int(env, "DARKROOM_WAIT_SECONDS", cls.wait_seconds),
            lease_seconds=lease,
            heartbeat_seconds=env_float(env, "DARKROOM_HEARTBEAT_SECONDS", lease / 3),
            retry_base_seconds=env_float(env, "DARKROOM_RETRY_BASE_SECONDS", cls.retry_base_seconds),
            dead_letter_sweep_seconds=env_float(env, "DARKROOM_DLQ_SWEEP_SECONDS", cls.dead_letter_sweep_seconds),
            max_pixels=env_int(env, "DARKROOM_MAX_PIXELS", cls.max_pixels),
            webhook=WebhookSettings.from_env(env),
            pipeline_depth=env_int(env, "DARKROOM_PIPELINE_DEPTH", cls.pipeline_depth),
            imds_url=env.get("DARKROOM_IMDS_URL", DEFAULT_IMDS_URL).strip(),  # set but empty means none
            idle_seconds=env_float(env, "DARKROOM_IDLE_SECONDS", cls.idle_seconds),
            notice_poll_seconds=env_float(env, "DARKROOM_NOTICE_POLL_SECONDS", cls.notice_poll_seconds),
            notice_margin_seconds=env_float(env, "DARKROOM_NOTICE_MARGIN_SECONDS", cls.notice_margin_seconds),
        )
