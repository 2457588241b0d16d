"""The API's settings: one typed object, read from DARKROOM_* variables at the entry point (api/wsgi.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

from api.access import AccessSettings
from jobs.settings import (
    AwsSettings,
    FromEnv,
    Setting,
    SettingsError,
    max_pixels,
    positive,
    read_env,
    require,
    setting,
)
from jobs.webhook import WebhookSettings
from pool.settings import PoolSettings

MIB = 1024 * 1024
# A request waits through botocore's retries before it can answer 503: two (about 1.5 s of backoff) keep
# uWSGI processes free when S3 or SQS throttles; the worker, with no one waiting on it, keeps the default four.
API_AWS_RETRIES = 2
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")  # scheme, host and port: what a browser sends
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Read by uWSGI itself (api/uwsgi.ini), not by Python; declared here so they are documented with the rest.
UWSGI_SETTINGS = (
    Setting("DARKROOM_HTTP", "the address uWSGI serves HTTP on", "127.0.0.1:8080"),
    Setting("DARKROOM_API_PROCESSES", "uWSGI's worker processes", "4"),
)


def origins(text: str) -> tuple[str, ...]:
    return tuple(origin.strip().rstrip("/") for origin in text.split(",") if origin.strip())


@dataclass(frozen=True)
class ApiSettings(FromEnv):
    aws: AwsSettings
    max_upload_bytes: int = setting(
        "DARKROOM_MAX_UPLOAD_BYTES", 64 * MIB, "the largest request body; larger is a 413", shown="64 MiB"
    )
    max_pixels: int = max_pixels()
    result_url_expiry: int = setting("DARKROOM_RESULT_URL_EXPIRY", 600, "seconds a presigned result URL stays valid")
    service_seconds_estimate: float = setting(
        "DARKROOM_SERVICE_SECONDS_ESTIMATE", 10.0, "one job's time on a worker, for the ETA until workers measure it"
    )
    pool: PoolSettings = field(default_factory=PoolSettings)  # the spot pool; disabled for a static worker
    max_direct_upload_bytes: int = setting(
        "DARKROOM_MAX_DIRECT_UPLOAD_BYTES", 512 * MIB, "the largest file sent straight to S3", shown="512 MiB"
    )
    upload_url_expiry: int = setting("DARKROOM_UPLOAD_URL_EXPIRY", 900, "seconds a presigned upload form stays valid")
    cors_origins: tuple[str, ...] = setting(
        "DARKROOM_CORS_ORIGINS",
        (),
        "other sites whose pages may call the API with credentials, comma-separated",
        parse=origins,
    )
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    access: AccessSettings = field(default_factory=AccessSettings)  # API keys and submit limits
    batch_max_files: int = setting("DARKROOM_BATCH_MAX_FILES", 20, "the most files one batch submit may carry")
    log_level: str = setting("DARKROOM_LOG_LEVEL", "INFO", "the API's log level: DEBUG, INFO, WARNING or ERROR")
    tick_seconds: float = setting(
        "DARKROOM_TICK_SECONDS",
        15.0,
        "how often the API's timer scales the pool, reaps and resends stranded submits, with no request",
    )
    emf: bool = setting(
        "DARKROOM_API_EMF",
        False,
        "each tick writes today's instance-hours as a CloudWatch EMF line on stdout (the daily-hours alarm reads it)",
    )

    def __post_init__(self) -> None:
        require(self, positive, "positive", "max_upload_bytes", "max_pixels", "result_url_expiry")
        require(self, positive, "positive", "service_seconds_estimate", "max_direct_upload_bytes", "upload_url_expiry")
        require(self, positive, "positive", "tick_seconds")
        require(self, positive, "positive", "batch_max_files")
        require(self, lambda level: level.upper() in LOG_LEVELS, "one of " + ", ".join(LOG_LEVELS), "log_level")
        if self.pool.enabled and self.pool.tier == "auto" and not self.pool.lambda_mapping:
            raise SettingsError(
                "DARKROOM_TIER=auto turns the function's event source mapping on and off:"
                " set DARKROOM_LAMBDA_MAPPING (the stack's EventSourceMappingId)"
            )
        for origin in self.cors_origins:
            if not ORIGIN.fullmatch(origin):
                raise SettingsError(
                    f"DARKROOM_CORS_ORIGINS: {origin!r} is not an origin like https://app.example.com"
                    " ('*' is refused: credentials are allowed)"
                )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        made: Self = read_env(cls, env, aws=read_env(AwsSettings, env, retries=API_AWS_RETRIES))
        return made
