"""The API's settings: one typed object, read from DARKROOM_* variables at the entry point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from api.access import AccessSettings
from api.capacity.settings import PoolSettings
from jobs.settings import AwsSettings, SettingsError, env_float, env_int

MIB = 1024 * 1024


@dataclass(frozen=True)
class ApiSettings:
    aws: AwsSettings
    max_upload_bytes: int = 64 * MIB  # the whole request body; larger is a 413
    max_pixels: int = 150_000_000  # above this an image is refused as a decompression bomb
    result_url_expiry: int = 600  # seconds a presigned result URL stays valid
    service_seconds_estimate: float = 10.0  # one job's time on a worker, for the ETA until workers measure it
    pool: PoolSettings = field(default_factory=PoolSettings)  # the spot pool; disabled for a static worker
    access: AccessSettings = field(default_factory=AccessSettings)  # API keys and submit limits

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_pixels", "result_url_expiry", "service_seconds_estimate"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive, not {getattr(self, name)!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiSettings:
        return cls(
            aws=AwsSettings.from_env(env),
            max_upload_bytes=env_int(env, "DARKROOM_MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            max_pixels=env_int(env, "DARKROOM_MAX_PIXELS", cls.max_pixels),
            result_url_expiry=env_int(env, "DARKROOM_RESULT_URL_EXPIRY", cls.result_url_expiry),
            service_seconds_estimate=env_float(env, "DARKROOM_SERVICE_SECONDS_ESTIMATE", cls.service_seconds_estimate),
            pool=PoolSettings.from_env(env),
            access=AccessSettings.from_env(env),
        )
