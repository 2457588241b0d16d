"""Webhooks: who may be called back, and how a callback proves it came from us.

Shared by the API (it checks a ``callback_url`` when a job is submitted) and
the worker (it checks again, then delivers). Pure apart from the resolver,
which is passed in so tests and callers choose how names become addresses.

The signature follows the scheme Stripe made familiar: the header
``Darkroom-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">``.
The receiver recomputes it with the shared secret and refuses old
timestamps, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from jobs.settings import FromEnv, SettingsError, setting
from jobs.status import JobStatus

SIGNATURE_HEADER = "Darkroom-Signature"
TOLERANCE_SECONDS = 300  # a receiver refuses signatures older (or newer) than this
MAX_URL_LENGTH = 2048

Resolver = Callable[[str, int], list[str]]


class SignatureError(ValueError):
    """A webhook delivery whose signature is missing, malformed, wrong or too old."""


class CallbackRefused(ValueError):
    """A callback URL this service will not call; the message says why, for the client."""


@dataclass(frozen=True)
class WebhookSettings(FromEnv):
    secret: str = setting("DARKROOM_WEBHOOK_SECRET", "", "signs job callbacks; unset: callbacks are refused at submit")
    allow_http: bool = setting("DARKROOM_WEBHOOK_ALLOW_HTTP", False, "allow plain http callbacks: for local use only")
    allow_private: bool = setting(
        "DARKROOM_WEBHOOK_ALLOW_PRIVATE", False, "allow loopback, private and link-local callbacks: for local use only"
    )
    attempts: int = setting("DARKROOM_WEBHOOK_ATTEMPTS", 5, "deliveries of a callback tried in all")
    backoff_seconds: float = setting(
        "DARKROOM_WEBHOOK_BACKOFF_SECONDS", 2.0, "seconds before a callback's second attempt; doubles each time"
    )
    timeout_seconds: float = setting("DARKROOM_WEBHOOK_TIMEOUT_SECONDS", 10.0, "seconds each callback attempt may take")

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_seconds < 0 or self.timeout_seconds <= 0:
            raise SettingsError("webhook attempts must be at least 1, backoff >= 0 and timeout > 0")

    @property
    def enabled(self) -> bool:
        return bool(self.secret)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        return float(self.backoff_seconds * 2 ** (attempt - 1))


# -- signing ---------------------------------------------------------------


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Darkroom-Signature`` header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, body: bytes, header: str | None, now: float, tolerance: float = TOLERANCE_SECONDS) -> None:
    """Raise SignatureError unless ``header`` signs ``body`` with ``secret`` within ``tolerance`` of ``now``."""
    if not header:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise SignatureError("the signature has no valid timestamp") from None
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            f"the signature is {abs(now - timestamp):.0f} s old; at most {tolerance:.0f} s is accepted"
        )
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise SignatureError("the signature does not match the body")


# -- which URLs may be called ------------------------------------------------


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (a name that does not resolve is refused by the caller)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def refused_address(address: str) -> str | None:
    """Why an address may not be called back, or None when it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (such as the instance metadata service)"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "not a public unicast address"
    return None


def check_callback_url(url: object, settings: WebhookSettings, resolve: Resolver = resolve_host) -> str:
    """The callback URL if this service may call it; raises CallbackRefused with the reason otherwise.

    The name is resolved and every address checked, so a public name that
    points at 127.0.0.1 or 169.254.169.254 is refused like the address itself.
    """
    if not settings.enabled:
        raise CallbackRefused("callbacks are not enabled on this server (no webhook secret is configured)")
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(f"callback_url must be a URL of at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CallbackRefused(f"callback_url is not a valid URL: {exc}") from None
    schemes = ("https", "http") if settings.allow_http else ("https",)
    if parts.scheme not in schemes:
        raise CallbackRefused(f"callback_url must use {' or '.join(schemes)}, not {parts.scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise CallbackRefused("callback_url has no host")
    if parts.username or parts.password:
        raise CallbackRefused("callback_url may not carry credentials")
    if settings.allow_private:
        return url
    addresses = resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    if not addresses:
        raise CallbackRefused(f"the callback host {parts.hostname!r} does not resolve")
    for address in addresses:
        reason = refused_address(address)
        if reason is not None:
            raise CallbackRefused(f"the callback host {parts.hostname!r} resolves to {address}, {reason}")
    return url


def webhook_body(document: Mapping[str, object]) -> bytes:
    """The bytes that are signed and sent: compact JSON, so the receiver verifies exactly what arrived."""
    return json.dumps(document, separators=(",", ":")).encode()


def job_event(status: JobStatus) -> dict[str, object]:
    """What a callback receives: the job's public status, as GET /v1/jobs/{id} shows it but without links."""
    return status.public_document()
