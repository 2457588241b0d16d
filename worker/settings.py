"""The worker's settings: one typed object, read from DARKROOM_* at the entry point (worker/__main__.py)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from jobs.keepwarm import KeepWarm
from jobs.settings import (
    AwsSettings,
    FromEnv,
    Setting,
    SettingsError,
    at_least_zero,
    max_pixels,
    positive,
    require,
    setting,
)
from jobs.webhook import WebhookSettings

DEFAULT_IMDS_URL = "http://169.254.169.254"
METHODS = ("sid", "baseline")
ENGINES = ("auto", "torch", "onnxruntime", "openvino")
DEFAULTS = "sid on RAW, baseline on JPEG/PNG, as the model card says"
MODEL_CACHE = "~/.cache/darkroom/models"
MAX_WAIT_SECONDS = 20  # SQS's longest long poll


# Read by the worker's systemd unit on the AMI (ami/files/darkroom-worker.service), not by Python:
# the launch template's user data sets it, and the unit's awslogs driver ships the container's output there.
UNIT_SETTINGS = (
    Setting(
        "DARKROOM_LOG_GROUP",
        "on EC2, the CloudWatch Logs group the worker's output goes to (its EMF lines become metrics)",
        "",
    ),
)


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class ModelChoice(FromEnv):
    """Which enhancer runs for each kind of input, on which device (a learned one is the default where it wins)."""

    method: str = setting(
        "DARKROOM_METHOD", "sid", "the enhancer for camera RAW: sid (learned) or baseline (classical)"
    )
    srgb_method: str = setting(
        "DARKROOM_SRGB_METHOD", "baseline", "the enhancer for JPEG/PNG: baseline (classical) or sid (learned)"
    )
    raw_model: str = setting(
        "DARKROOM_RAW_MODEL",
        "sid-raw.safetensors",
        "RAW weights for sid: a shipped file name, a path or s3://bucket/key",
    )
    srgb_model: str = setting(
        "DARKROOM_SRGB_MODEL",
        "sid-srgb.safetensors",
        "JPEG/PNG weights for sid: a shipped file name, a path or s3://...",
    )
    model_parameters: str = setting(
        "DARKROOM_MODEL_PARAMETERS",
        "",
        "SSM path whose raw and srgb parameters name published weights (darkroom model publish), read at start;"
        " unset, or a parameter missing: DARKROOM_RAW_MODEL and DARKROOM_SRGB_MODEL (the AMI's baked weights)",
    )
    device: str = setting("DARKROOM_DEVICE", "auto", "where sid runs: auto (the GPU when there is one), cpu or cuda")
    engine: str = setting(
        "DARKROOM_ENGINE",
        "auto",
        "what runs sid: auto (on a CPU: openvino where bf16 is native, onnxruntime elsewhere, when installed; "
        "else torch), torch, onnxruntime or openvino (CPU only; pip install darkroom[onnx] or darkroom[openvino])",
    )
    cache_dir: Path = setting(
        "DARKROOM_MODEL_CACHE",
        None,
        "where weights read from S3 are kept",
        factory=lambda: Path(MODEL_CACHE).expanduser(),
        shown=MODEL_CACHE,
    )

    def __post_init__(self) -> None:
        require(self, lambda method: method in METHODS, "one of " + ", ".join(METHODS), "method", "srgb_method")
        require(self, lambda engine: engine in ENGINES, "one of " + ", ".join(ENGINES), "engine")


@dataclass(frozen=True)
class WorkerSettings(FromEnv):
    aws: AwsSettings = field(default_factory=AwsSettings)
    worker_id: str = setting(
        "DARKROOM_WORKER_ID",
        None,
        "names the worker off EC2 (on an instance: its id)",
        factory=default_worker_id,
        shown="host-pid",
    )
    models: ModelChoice = field(default_factory=ModelChoice)
    wait_seconds: int = setting("DARKROOM_WAIT_SECONDS", MAX_WAIT_SECONDS, "SQS long poll, 0 to 20 seconds")
    lease_seconds: int = setting(
        "DARKROOM_LEASE_SECONDS", 60, "visibility each heartbeat renews; shorter recovers a dead worker's job sooner"
    )
    heartbeat_seconds: float = setting(
        "DARKROOM_HEARTBEAT_SECONDS", 0.0, "seconds between heartbeats, under the lease; 0: a third of the lease"
    )
    retry_base_seconds: float = setting(
        "DARKROOM_RETRY_BASE_SECONDS", 5.0, "backoff after a transient failure: base * 2**(attempt-1)"
    )
    dead_letter_sweep_seconds: float = setting(
        "DARKROOM_DLQ_SWEEP_SECONDS", 60.0, "how often an idle worker marks dead-lettered jobs failed"
    )
    max_pixels: int = max_pixels()
    job_seconds: float = setting(
        "DARKROOM_JOB_SECONDS", 600.0, "a job's time limit: its decode is killed, its lease no longer renewed"
    )
    decode_memory_mb: int = setting(
        "DARKROOM_DECODE_MEMORY_MB", 4096, "memory one decode may use (its own process); beyond it: too large"
    )
    webhook: WebhookSettings = field(default_factory=WebhookSettings)  # signs and limits job callbacks
    keep_warm: KeepWarm = field(default_factory=KeepWarm)  # an idle worker stays while the pool needs it
    pipeline_depth: int = setting(
        "DARKROOM_PIPELINE_DEPTH", 3, "jobs in flight at once, decoding and encoding around enhancing; 1: one by one"
    )
    metrics_port: int = setting(
        "DARKROOM_WORKER_METRICS_PORT", 0, "serve Prometheus metrics on this port of 127.0.0.1; 0: none"
    )
    metrics_emf: bool = setting(
        "DARKROOM_WORKER_EMF", False, "write each job's metrics to stdout as CloudWatch Embedded Metric Format lines"
    )
    # on an instance (a spot worker of the pool)
    imds_url: str = setting(
        "DARKROOM_IMDS_URL", DEFAULT_IMDS_URL, "instance metadata; set but empty: not on an instance", keep_blank=True
    )
    idle_seconds: float = setting(
        "DARKROOM_IDLE_SECONDS", 300.0, "on an instance, stop after this long with nothing to do; 0: never"
    )
    notice_poll_seconds: float = setting(
        "DARKROOM_NOTICE_POLL_SECONDS", 2.0, "how often to look for spot interruption and rebalance notices"
    )
    notice_margin_seconds: float = setting(
        "DARKROOM_NOTICE_MARGIN_SECONDS",
        15.0,
        "a job must end this long before a spot deadline, else it is handed back",
    )

    def __post_init__(self) -> None:
        if self.heartbeat_seconds == 0:
            object.__setattr__(self, "heartbeat_seconds", self.lease_seconds / 3)
        require(self, lambda wait: 0 <= wait <= MAX_WAIT_SECONDS, f"0 to {MAX_WAIT_SECONDS}", "wait_seconds")
        require(self, positive, "positive", "lease_seconds", "max_pixels", "pipeline_depth", "notice_poll_seconds")
        require(self, positive, "positive", "job_seconds", "decode_memory_mb")
        require(self, lambda beat: 0 < beat < self.lease_seconds, "under the lease", "heartbeat_seconds")
        require(self, at_least_zero, "0 or more", "retry_base_seconds", "dead_letter_sweep_seconds", "idle_seconds")
        require(self, at_least_zero, "0 or more", "notice_margin_seconds", "metrics_port")
        if self.imds_url and not self.imds_url.startswith(("http://", "https://")):
            raise SettingsError(f"DARKROOM_IMDS_URL must be an http URL or empty, not {self.imds_url!r}")
