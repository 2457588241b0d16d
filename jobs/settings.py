"""Settings shared by both deployables, read from DARKROOM_* variables.

Only entry points call the ``from_env`` constructors; everything else is
handed a settings object. Each deployable has one typed settings object that
embeds ``AwsSettings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(ValueError):
    """A DARKROOM_* variable is set to something that cannot be used."""


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, "").strip() or default


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {text!r}") from None


def env_float(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {text!r}") from None


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {text!r}")


@dataclass(frozen=True)
class AwsSettings:
    """Where the bucket and queues are. On AWS only ``endpoint_url`` is unset."""

    region: str = "us-east-1"
    endpoint_url: str | None = None  # the emulator's URL locally; None on AWS
    bucket: str = "darkroom"
    queue: str = "darkroom-jobs"
    dead_letter_queue: str = "darkroom-jobs-dlq"
    retries: int = 4  # botocore's retries after a failed try (standard mode, with backoff)

    @classmethod
    def from_env(cls, env: Mapping[str, str], retries: int = 4) -> AwsSettings:
        """``retries`` is the deployable's default for DARKROOM_AWS_RETRIES (the API's is lower: it fails fast)."""
        return cls(
            region=env_str(env, "DARKROOM_REGION", env_str(env, "AWS_DEFAULT_REGION", cls.region)),
            endpoint_url=env.get("DARKROOM_AWS_ENDPOINT_URL") or None,
            bucket=env_str(env, "DARKROOM_BUCKET", cls.bucket),
            queue=env_str(env, "DARKROOM_QUEUE", cls.queue),
            dead_letter_queue=env_str(env, "DARKROOM_DLQ", cls.dead_letter_queue),
            retries=env_int(env, "DARKROOM_AWS_RETRIES", retries),
        )

    def to_env(self) -> dict[str, str]:
        """The variables that recreate these settings in a child process."""
        env = {
            "DARKROOM_REGION": self.region,
            "DARKROOM_BUCKET": self.bucket,
            "DARKROOM_QUEUE": self.queue,
            "DARKROOM_DLQ": self.dead_letter_queue,
        }
        if self.endpoint_url:
            env["DARKROOM_AWS_ENDPOINT_URL"] = self.endpoint_url
        return env
