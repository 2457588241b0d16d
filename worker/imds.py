"""The instance-metadata client (IMDSv2): who this instance is, and whether AWS wants it back.

IMDSv2 asks for a session token first (PUT with a TTL header), then every GET
carries it; an instance whose launch template requires IMDSv2 refuses plain
GETs with 401. The stdlib's urllib is enough: the worker needs no HTTP
library for a handful of local requests. The base URL is a setting, so tests
and the local fleet point it at a fake (``darkroom.local.imds``).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime

from jobs.status import parse_iso

TOKEN_TTL_SECONDS = 21600  # AWS's maximum: six hours
TOKEN_RENEW_SECONDS = 60  # ask for a new token this long before the old one expires
SPOT_INTERRUPTION = "spot-interruption"
REBALANCE = "rebalance"


class MetadataUnavailable(Exception):
    """The metadata service did not answer, or answered something unreadable."""


class TokenRefused(MetadataUnavailable):
    """401: the session token expired or is unknown."""


@dataclass(frozen=True)
class Notice:
    """AWS wants the instance back: why, what it will do, and by when.

    A rebalance recommendation has no deadline (``None``): an interruption
    may follow, or may not."""

    reason: str  # SPOT_INTERRUPTION or REBALANCE
    action: str | None = None  # terminate, stop or hibernate (interruptions only)
    deadline: datetime | None = None  # when AWS acts (timezone-aware)


def parse_instance_action(text: str) -> Notice:
    """``{"action": "terminate", "time": "2026-11-21T19:00:00Z"}`` as a Notice."""
    try:
        data = json.loads(text)
        return Notice(SPOT_INTERRUPTION, str(data["action"]), parse_iso(str(data["time"])))
    except (ValueError, KeyError, TypeError) as exc:
        raise MetadataUnavailable(f"unreadable spot instance-action: {text[:80]!r}") from exc


class InstanceMetadata:
    """A client for one metadata endpoint; safe to share between threads."""

    def __init__(self, base_url: str, timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._lock = threading.Lock()
        self._token = ""
        self._token_expires = 0.0  # on time.monotonic()

    def instance_id(self) -> str:
        return self._require("instance-id")

    def instance_type(self) -> str:
        return self._require("instance-type")

    def interruption(self) -> Notice | None:
        """The spot interruption notice, or None while there is none (404)."""
        text = self.get("spot/instance-action")
        return None if text is None else parse_instance_action(text)

    def rebalance(self) -> bool:
        """Whether EC2 recommends moving work off this instance (its spot capacity is at risk)."""
        return self.get("events/recommendations/rebalance") is not None

    def get(self, path: str) -> str | None:
        """The text at ``/latest/meta-data/{path}``, or None for 404. A refused token is renewed once."""
        try:
            return self._get(path, self._session_token())
        except TokenRefused:  # expired, or the service restarted
            self._forget_token()
            return self._get(path, self._session_token())

    def _get(self, path: str, token: str) -> str | None:
        request = urllib.request.Request(
            f"{self.base_url}/latest/meta-data/{path}", headers={"X-aws-ec2-metadata-token": token}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return str(reply.read().decode())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code == 401:
                raise TokenRefused(f"GET {path}: the token was refused") from exc
            raise MetadataUnavailable(f"GET {path}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise MetadataUnavailable(f"GET {path}: {exc}") from exc

    def _require(self, path: str) -> str:
        text = self.get(path)
        if text is None:
            raise MetadataUnavailable(f"{path} is missing")
        return text.strip()

    def _session_token(self) -> str:
        with self._lock:
            if time.monotonic() < self._token_expires - TOKEN_RENEW_SECONDS:
                return self._token
            request = urllib.request.Request(
                f"{self.base_url}/latest/api/token",
                method="PUT",
                headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                    self._token = reply.read().decode().strip()
            except (urllib.error.URLError, OSError) as exc:
                raise MetadataUnavailable(f"getting an IMDSv2 token from {self.base_url}: {exc}") from exc
            self._token_expires = time.monotonic() + TOKEN_TTL_SECONDS
            return self._token

    def _forget_token(self) -> None:
        with self._lock:
            self._token_expires = 0.0
