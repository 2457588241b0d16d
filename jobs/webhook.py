"""Webhooks: who may be called back, and how a callback proves it came from us.

Shared by the API (it checks a ``callback_url`` when a job is submitted) and
the worker (it checks again, then delivers). Pure apart from the resolver,
which is passed in so tests and callers choose how names become addresses.

The signature follows the scheme Stripe made familiar: the header
``Darkroom-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">``.
The receiver recomputes it with the shared secret and refuses old
timestamps, so a captured delivery cannot be replayed later. Each API key
has a secret of its own, derived from the server's (``signing_secret``), so
one key's receiver cannot forge callbacks to another's; a job made without a
key is signed with the server's secret itself.

A URL is checked by resolving its name once and checking every address;
the delivery then connects to an address that was checked (``Callback``),
never resolving the name again, so a name cannot pass the check and then
point somewhere else (DNS rebinding).
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
    secret_parameter: str = setting(
        "DARKROOM_WEBHOOK_SECRET_PARAMETER",
        "",
        "SSM SecureString holding the webhook secret, read once at start when DARKROOM_WEBHOOK_SECRET is unset",
    )
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
        return bool(self.secret or self.secret_parameter)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        return float(self.backoff_seconds * 2 ** (attempt - 1))

    @property
    def longest_delivery_seconds(self) -> float:
        """Every attempt timing out, with every backoff between: a delivery claimed longer ago was abandoned."""
        backoffs = sum(self.backoff(attempt) for attempt in range(1, self.attempts))
        return self.attempts * self.timeout_seconds + backoffs


# -- signing ---------------------------------------------------------------


def signing_secret(server_secret: str, owner: str | None) -> str:
    """The secret a job's callbacks are signed with: the server's own for a job made without a key, else
    one of the key's own (``owner`` is the key's SHA-256), which the operator hands to that key's holder."""
    if owner is None:
        return server_secret
    return hmac.new(server_secret.encode(), f"darkroom-webhook-key:{owner}".encode(), hashlib.sha256).hexdigest()


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


# IPv6 ranges that lead back to other addresses, or are not global, though Python's is_global may pass them
NOT_GLOBAL_V6 = {
    ipaddress.ip_network("2002::/16"): "a 6to4 address (it carries an IPv4 address inside)",
    ipaddress.ip_network("fec0::/10"): "a site-local address",
    ipaddress.ip_network("64:ff9b::/96"): "a NAT64 address (it carries an IPv4 address inside)",
    ipaddress.ip_network("64:ff9b:1::/48"): "a local NAT64 address",
    ipaddress.ip_network("2001::/32"): "a Teredo address (it carries an IPv4 address inside)",
}


def refused_address(address: str) -> str | None:
    """Why an address may not be called back, or None when it is a global unicast address."""
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
    for network, why in NOT_GLOBAL_V6.items():
        if ip.version == 6 and ip in network:
            return why
    if not ip.is_global:  # carrier-grade NAT (100.64.0.0/10), benchmarking, documentation ranges, ...
        return "not a global address"
    return None


@dataclass(frozen=True)
class Callback:
    """A callback URL that passed the check, and the address to connect to: the one that was checked."""

    url: str
    scheme: str  # https, or http where allowed
    host: str  # for the Host header and TLS's server name and certificate check
    port: int
    target: str  # the path and query to POST to
    address: str


def check_callback_url(url: object, settings: WebhookSettings, resolve: Resolver = resolve_host) -> str:
    """The callback URL if this service may call it; raises CallbackRefused with the reason otherwise."""
    return checked_callback(url, settings, resolve).url


def checked_callback(url: object, settings: WebhookSettings, resolve: Resolver = resolve_host) -> Callback:
    """The callback and the address to call it at; raises CallbackRefused with the reason otherwise.

    The name is resolved once and every address checked, so a public name that
    points at 127.0.0.1 or 169.254.169.254 is refused like the address itself
    (``allow_private``, for local use, skips only the check).
    """
    if not settings.enabled:
        raise CallbackRefused("callbacks are not enabled on this server (no webhook secret is configured)")
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(f"callback_url must be a URL of at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise CallbackRefused(f"callback_url is not a valid URL: {exc}") from None
    schemes = ("https", "http") if settings.allow_http else ("https",)
    if parts.scheme not in schemes:
        raise CallbackRefused(f"callback_url must use {' or '.join(schemes)}, not {parts.scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise CallbackRefused("callback_url has no host")
    if parts.username or parts.password:
        raise CallbackRefused("callback_url may not carry credentials")
    addresses = resolve(parts.hostname, port)
    if not addresses:
        raise CallbackRefused(f"the callback host {parts.hostname!r} does not resolve")
    for address in addresses if not settings.allow_private else ():
        reason = refused_address(address)
        if reason is not None:
            raise CallbackRefused(f"the callback host {parts.hostname!r} resolves to {address}, {reason}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Callback(url, parts.scheme, parts.hostname, port, target, addresses[0])


def webhook_body(document: Mapping[str, object]) -> bytes:
    """The bytes that are signed and sent: compact JSON, so the receiver verifies exactly what arrived."""
    return json.dumps(document, separators=(",", ":")).encode()


def job_event(status: JobStatus) -> dict[str, object]:
    """What a callback receives: the job's public status, as GET /v1/jobs/{id} shows it but without links."""
    return status.public_document()
