"""Settings: every DARKROOM_* variable declared once, as a field of a frozen settings dataclass.

``setting(name, default, doc)`` declares one: the variable, its default (the
field's) and a line of documentation; its type is the field's. From those
declarations come ``from_env`` (``FromEnv``), the worker's ``--help`` and
docs/configuration.md (``darkroom config``); tests/test_settings.py fails
when they disagree. Only entry points call ``from_env``; everything else is
handed a settings object. Each deployable has one typed settings object that
embeds ``AwsSettings``.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

SETTING = "darkroom.setting"  # the key of a field's Setting in its metadata


class SettingsError(ValueError):
    """A DARKROOM_* variable is set to something that cannot be used."""


@dataclass(frozen=True)
class Setting:
    """One DARKROOM_* variable, as declared on its field."""

    name: str
    doc: str
    shown: str  # the default, as documented
    parse: Callable[[str], Any] | None = None  # for text the field's type alone cannot read
    keep_blank: bool = False  # set but blank is a value (""), not the default
    fallback: str = ""  # another variable read when this one is unset


def setting(
    name: str,
    default: Any,
    doc: str,
    *,
    factory: Callable[[], Any] | None = None,
    shown: str = "",
    parse: Callable[[str], Any] | None = None,
    keep_blank: bool = False,
    fallback: str = "",
) -> Any:
    """A settings field read from the variable ``name``; ``factory`` makes a default that varies (``shown``)."""
    spec = Setting(name, doc, shown or show(default), parse, keep_blank, fallback)
    if factory is not None:
        return field(default_factory=factory, metadata={SETTING: spec})
    return field(default=default, metadata={SETTING: spec})


def max_pixels() -> Any:
    """The image-size limit, shared by the API (uploads) and the worker (decoding)."""
    return setting(
        "DARKROOM_MAX_PIXELS", 150_000_000, "above this many pixels an image is refused (a decompression bomb)"
    )


def show(default: Any) -> str:
    if default is None or default in ("", ()):
        return ""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, tuple):
        return ",".join(str(item) for item in default)
    if isinstance(default, int) and default >= 10_000:
        return f"{default:_}"
    return str(default)


def parse_text(variable: str, text: str, kind: Any) -> Any:
    """A variable's stripped, non-empty text as the field's type."""
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{variable} must be true or false, not {text!r}")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise SettingsError(f"{variable} must be {what}, not {text!r}") from None
    if kind is Path:
        return Path(text).expanduser()
    if kind == tuple[str, ...]:
        return tuple(item.strip() for item in text.split(",") if item.strip()) or None  # only commas: unset
    return text  # str, or str | None


def declared(cls: type) -> Iterator[tuple[dataclasses.Field[Any], Any]]:
    """Each field of a settings class with its resolved type."""
    hints = typing.get_type_hints(cls)
    for found in dataclasses.fields(cls):
        yield found, hints[found.name]


def read_env(cls: type[Any], env: Mapping[str, str], **defaults: Any) -> Any:
    """A settings object from the variables its fields declare; nested settings are read the same way.

    ``defaults`` replace fields' defaults for variables that are unset (a nested object given is used as it is).
    """
    values: dict[str, Any] = {}
    for found, kind in declared(cls):
        spec = found.metadata.get(SETTING)
        if spec is None:
            if found.name in defaults:
                values[found.name] = defaults[found.name]
            elif isinstance(kind, type) and dataclasses.is_dataclass(kind):
                values[found.name] = read_env(kind, env)
            continue
        text = env.get(spec.name, "").strip()
        if not text and spec.fallback:
            text = env.get(spec.fallback, "").strip()
        value = None
        if text:
            value = spec.parse(text) if spec.parse else parse_text(spec.name, text, kind)
        elif spec.keep_blank and spec.name in env:
            value = ""
        if value is not None:
            values[found.name] = value
        elif found.name in defaults:
            values[found.name] = defaults[found.name]
    return cls(**values)


class FromEnv:
    """``from_env`` for a settings dataclass whose fields are declared with ``setting``."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        made: Self = read_env(cls, env)
        return made


def settings_of(cls: type) -> list[Setting]:
    """Every variable a settings class reads, nested ones included, in declaration order."""
    found: list[Setting] = []
    for each, kind in declared(cls):
        if SETTING in each.metadata:
            found.append(each.metadata[SETTING])
        elif isinstance(kind, type) and dataclasses.is_dataclass(kind):
            found += settings_of(kind)
    return found


def help_text(settings: list[Setting]) -> str:
    """The variables as plain text, one a line, for a command's --help."""
    width = max(len(spec.name) for spec in settings)
    lines = []
    for spec in settings:
        default = f" (default: {spec.shown})" if spec.shown else ""
        lines.append(f"  {spec.name:<{width}}  {spec.doc}{default}")
    return "\n".join(lines)


def described(settings: Any, name: str) -> str:
    """A field and the variable it is read from, for error messages."""
    spec = next(each.metadata.get(SETTING) for each in dataclasses.fields(settings) if each.name == name)
    return name if spec is None else f"{name} ({spec.name})"


def require(settings: Any, holds: Callable[[Any], bool], what: str, *names: str) -> None:
    """Raise SettingsError, naming the field and its variable, for the first of ``names`` that ``holds`` refuses."""
    for name in names:
        value = getattr(settings, name)
        if not holds(value):
            raise SettingsError(f"{described(settings, name)} must be {what}, not {value!r}")


def positive(value: float) -> bool:
    return value > 0  # NaN is not


def at_least_zero(value: float) -> bool:
    return value >= 0 and not math.isnan(value)


@dataclass(frozen=True)
class AwsSettings(FromEnv):
    """Where the bucket and queues are. On AWS only ``endpoint_url`` is unset."""

    region: str = setting(
        "DARKROOM_REGION", "us-east-1", "AWS region (else AWS_DEFAULT_REGION)", fallback="AWS_DEFAULT_REGION"
    )
    endpoint_url: str | None = setting(
        "DARKROOM_AWS_ENDPOINT_URL", None, "the AWS emulator's URL locally; unset on AWS"
    )
    bucket: str = setting("DARKROOM_BUCKET", "darkroom", "the one private bucket: uploads, results, status, pool state")
    queue: str = setting("DARKROOM_QUEUE", "darkroom-jobs", "the job queue")
    dead_letter_queue: str = setting("DARKROOM_DLQ", "darkroom-jobs-dlq", "the job queue's dead-letter queue")
    retries: int = setting(
        "DARKROOM_AWS_RETRIES", 4, "botocore's retries after a failed call (the API's default is 2: it answers fast)"
    )

    def __post_init__(self) -> None:
        require(self, at_least_zero, "0 or more", "retries")

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
