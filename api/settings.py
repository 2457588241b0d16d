"""The API's settings: one typed object, read from DARKROOM_* variables at the entry point."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from api.access import AccessSettings
from jobs.settings import AwsSettings, SettingsError, env_float, env_int
from jobs.webhook import WebhookSettings
from pool.settings import PoolSettings

MIB = 1024 * 1024
# A request waits through botocore's retries before it can answer 503: two (about 1.5 s of backoff) keep
# uWSGI processes free when S3 or SQS throttles; the worker, with no one waiting on it, keeps the default four.
API_AWS_RETRIES = 2
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")  # scheme, host and port: what a browser sends


@dataclass(frozen=True)
class ApiSettings:
    aws: AwsSettings
    max_upload_bytes: int = 64 * MIB  # the whole request body; larger is a 413
    max_pixels: int = 150_000_000  # above this an image is refused as a decompression bomb
    result_url_expiry: int = 600  # seconds a presigned result URL stays valid
    service_seconds_estimate: float = 10.0  # one job's time on a worker, for the ETA until workers measure it
    pool: PoolSettings = field(default_factory=PoolSettings)  # the spot pool; disabled for a static worker
    max_direct_upload_bytes: int = 512 * MIB  # a file sent straight to S3 (POST /v1/uploads)
    upload_url_expiry: int = 900  # seconds a presigned upload form stays valid
    cors_origins: tuple[str, ...] = ()  # other sites whose pages may call the API (with credentials)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    access: AccessSettings = field(default_factory=AccessSettings)  # API keys and submit limits

    def __post_init__(self) -> None:
        for name in (
            "max_upload_bytes",
            "max_pixels",
            "result_url_expiry",
            "service_seconds_estimate",
            "max_direct_upload_bytes",
            "upload_url_expiry",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive, not {getattr(self, name)!r}")
        for origin in self.cors_origins:
            if not ORIGIN.fullmatch(origin):
                raise SettingsError(
                    f"DARKROOM_CORS_ORIGINS: {origin!r} is not an origin like https://app.example.com"
                    " ('*' is refused: credentials are allowed)"
                )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiSettings:
        return cls(
            aws=AwsSettings.from_env(env, retries=API_AWS_RETRIES),
            max_upload_bytes=env_int(env, "DARKROOM_MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            max_pixels=env_int(env, "DARKROOM_MAX_PIXELS", cls.max_pixels),
            result_url_expiry=env_int(env, "DARKROOM_RESULT_URL_EXPIRY", cls.result_url_expiry),
            service_seconds_estimate=env_float(env, "DARKROOM_SERVICE_SECONDS_ESTIMATE", cls.service_seconds_estimate),
            pool=PoolSettings.from_env(env),
            max_direct_upload_bytes=env_int(env, "DARKROOM_MAX_DIRECT_UPLOAD_BYTES", cls.max_direct_upload_bytes),
            upload_url_expiry=env_int(env, "DARKROOM_UPLOAD_URL_EXPIRY", cls.upload_url_expiry),
            cors_origins=tuple(
                o.strip().rstrip("/") for o in env.get("DARKROOM_CORS_ORIGINS", "").split(",") if o.strip()
            ),
            webhook=WebhookSettings.from_env(env),
            access=AccessSettings.from_env(env),
        )
