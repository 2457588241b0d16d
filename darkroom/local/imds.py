"""A fake EC2 instance-metadata service (IMDSv2) for one emulated instance.

Each worker the fleet emulator starts gets its own, on a loopback port, so a
test (or ``darkroom up --chaos``) can tell one worker that AWS is taking its
instance back. It speaks the same protocol as the real one at
169.254.169.254: PUT a token with a TTL header, then GET with the token;
anything else is refused the way AWS refuses it, so the worker's client is
tested against the rules it meets on EC2.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN_PATH = "/latest/api/token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_TTL_SECONDS = 21600  # AWS's limit: six hours
INSTANCE_ACTION = "spot/instance-action"
REBALANCE = "events/recommendations/rebalance"


def aws_time(moment: datetime) -> str:
    """The format IMDS uses for notice times: 2026-11-21T19:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class InstanceIdentity:
    """What the metadata service says about the instance it runs on."""

    instance_id: str
    instance_type: str = "g6.xlarge"
    availability_zone: str = "us-east-1a"
    life_cycle: str = "spot"  # or "on-demand"


class FakeImds:
    """The metadata service of one instance; notices appear when injected.

    ``clock`` is the monotonic clock tokens expire by; tests pass their own
    to check expiry without waiting.
    """

    def __init__(self, identity: InstanceIdentity, clock: Callable[[], float] = time.monotonic) -> None:
        self.identity = identity
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # token -> expiry on the clock
        self._notices: dict[str, str] = {}  # metadata path -> JSON body
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"imds-{identity.instance_id}"
        )

    @property
    def url(self) -> str:
        """The base URL a worker is given as DARKROOM_IMDS_URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeImds:
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeImds:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject_interruption(self, seconds_from_now: float, action: str = "terminate") -> datetime:
        """Post a spot interruption notice; returns the time AWS would act."""
        when = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
        with self._lock:
            self._notices[INSTANCE_ACTION] = json.dumps({"action": action, "time": aws_time(when)})
        return when

    def inject_rebalance(self) -> None:
        """Post a rebalance recommendation (an interruption may follow)."""
        with self._lock:
            self._notices[REBALANCE] = json.dumps({"noticeTime": aws_time(datetime.now(UTC))})

    def issue_token(self, ttl_seconds: int) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = self._clock() + ttl_seconds
        return token

    def token_valid(self, token: str | None) -> bool:
        with self._lock:
            expiry = self._tokens.get(token or "")
        return expiry is not None and self._clock() < expiry

    def metadata(self, path: str) -> str | None:
        """The text at a path under /latest/meta-data/, or None (404)."""
        values = {
            "instance-id": self.identity.instance_id,
            "instance-type": self.identity.instance_type,
            "placement/availability-zone": self.identity.availability_zone,
            "instance-life-cycle": self.identity.life_cycle,
        }
        if path in values:
            return values[path]
        with self._lock:
            return self._notices.get(path)


def parse_ttl(text: str | None) -> int | None:
    """The token TTL a PUT asked for, or None when missing or out of AWS's range."""
    try:
        ttl = int(text or "")
    except ValueError:
        return None
    return ttl if 1 <= ttl <= MAX_TTL_SECONDS else None


def _handler_for(imds: FakeImds) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))  # keep the connection usable
            if self.path != TOKEN_PATH:
                self._answer(404, "Not Found")
                return
            ttl = parse_ttl(self.headers.get(TTL_HEADER))
            if ttl is None:
                self._answer(400, "Bad Request")  # AWS refuses a token without a valid TTL
                return
            self._answer(200, imds.issue_token(ttl), {TTL_HEADER: str(ttl)})

        def do_GET(self) -> None:
            if not imds.token_valid(self.headers.get(TOKEN_HEADER)):
                self._answer(401, "Unauthorized")  # IMDSv2 required: no token, no metadata
                return
            prefix = "/latest/meta-data/"
            text = imds.metadata(self.path.removeprefix(prefix)) if self.path.startswith(prefix) else None
            if text is None:
                self._answer(404, "Not Found")
            else:
                self._answer(200, text)

        def _answer(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
            body = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the worker was killed mid-request: no one to answer
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: a worker polls every few seconds."""

    return Handler
