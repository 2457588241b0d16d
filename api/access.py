"""Who may use the job routes: API keys, kept only as hashes, and per-client submit limits.

With ``require_key`` off (the default, and ``make run``) anyone may submit,
at ``submits_per_minute`` per client address. With it on, a request carries a
key (``Authorization: Bearer <key>`` or ``X-API-Key: <key>``) and is limited
per key; the pool view needs a key. The demo page has no key: it stays
usable through a separate, stricter public limit per address
(``public_submits_per_hour``; 0 closes it). A job made without a key needs
none to be read either: its unguessable id is the capability. A job made
with a key is that key's while keys are required (``guards.guard_job_owner``);
operator keys read every job and the pool's internals. ``/v1/warm`` keeps
its own per-address limit.

Keys are compared by their SHA-256, so the settings (and a leaked config)
hold no usable secret. A key is 32 random bytes, so a plain hash is enough:
there is nothing to brute-force the way there is with a password.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

from flask import request

from api.problems import Problem
from jobs.settings import FromEnv, SettingsError, setting

KEY_PREFIX = "drk_"


def parse_hashes(text: str) -> tuple[str, ...]:
    return tuple(item.strip().lower() for item in text.split(",") if item.strip())


@dataclass(frozen=True)
class AccessSettings(FromEnv):
    key_hashes: tuple[str, ...] = setting(
        "DARKROOM_API_KEY_HASHES",
        (),
        "SHA-256 hex digests of the API keys, comma-separated (`darkroom key`)",
        parse=parse_hashes,
    )
    operator_key_hashes: tuple[str, ...] = setting(
        "DARKROOM_OPERATOR_KEY_HASHES",
        (),
        "SHA-256 hex digests of operator keys, comma-separated: the full pool view and every job (`darkroom key`)",
        parse=parse_hashes,
    )
    require_key: bool = setting("DARKROOM_REQUIRE_API_KEY", False, "the job routes and the pool view need a key")
    submits_per_minute: int = setting(
        "DARKROOM_SUBMITS_PER_MINUTE", 60, "submits per key, or per client address when keys are not required"
    )
    public_submits_per_hour: int = setting(
        "DARKROOM_PUBLIC_SUBMITS_PER_HOUR",
        20,
        "keyless submits per client address while keys are required (the demo page); 0: none",
    )
    trusted_proxies: int = setting(
        "DARKROOM_TRUSTED_PROXIES",
        0,
        "proxies in front of the API that append the client to X-Forwarded-For (behind an ALB: 1);"
        " 0: the peer address is the client",
    )

    def __post_init__(self) -> None:
        for digest in self.key_hashes + self.operator_key_hashes:
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise SettingsError(f"an API key hash must be 64 lowercase hex digits (SHA-256), not {digest[:12]!r}")
        if self.require_key and not self.key_hashes:
            raise SettingsError("DARKROOM_REQUIRE_API_KEY is on but DARKROOM_API_KEY_HASHES lists no key")
        if set(self.key_hashes) & set(self.operator_key_hashes):
            raise SettingsError("a key hash is listed both as an API key and as an operator key")
        if self.trusted_proxies < 0:
            raise SettingsError("DARKROOM_TRUSTED_PROXIES must be 0 or more")
        if self.submits_per_minute <= 0 or self.public_submits_per_hour < 0:
            raise SettingsError("submit limits must be positive (the public one may be 0)")


def new_key() -> tuple[str, str]:
    """A fresh API key and the hash to put in DARKROOM_API_KEY_HASHES."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key_hash(key)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("X-API-Key", "").strip() or None


def caller(settings: AccessSettings) -> str | None:
    """The hash of the caller's valid key, or None for a caller without one; a wrong key is a 401."""
    key = presented_key()
    if key is None:
        return None
    digest = key_hash(key)
    if not any(hmac.compare_digest(digest, known) for known in settings.key_hashes + settings.operator_key_hashes):
        raise unauthorized("invalid-api-key", "the API key is not valid")
    return digest


def is_closed(settings: AccessSettings) -> bool:
    """Keys required and no public submits: a caller without a key may start nothing, not even a warm worker."""
    return settings.require_key and settings.public_submits_per_hour == 0


def is_operator(settings: AccessSettings, digest: str | None) -> bool:
    """An operator key sees the pool's internals (instance and job ids, EC2's errors) and any job."""
    return digest is not None and any(hmac.compare_digest(digest, known) for known in settings.operator_key_hashes)


def unauthorized(slug: str, detail: str) -> Problem:
    return Problem(slug, detail, {"WWW-Authenticate": 'Bearer realm="darkroom"'})


def key_required(what: str) -> Problem:
    return unauthorized("api-key-required", f"{what} needs an API key (Authorization: Bearer ...)")


def too_many(wait: float, detail: str) -> Problem:
    seconds = max(1, math.ceil(wait))
    return Problem(
        "too-many-requests",
        f"{detail}; try again in {seconds} s",
        {"Retry-After": str(seconds)},
    )
