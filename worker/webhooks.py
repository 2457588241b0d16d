"""Delivering a job's callback when it ends, off the job loop.

The worker hands a finished (done or failed) status here; if the job has a
``callback_url`` a thread POSTs the job's document, signed with the secret
of the key that made the job (jobs.webhook), retrying with exponential
backoff a bounded number of times. The outcome is written into the job's
status document (the client sees it there, refusals included) and logged.
Nothing here can fail or delay the job: it is already finished and
acknowledged. The callback is owed in the outbox (worker/outbox.py) until
its outcome is recorded, so a worker that stops first hands it on.

The URL is checked again before each delivery (the API checked it at
submit), because a name can point somewhere else by now, and the POST goes
to the address that was checked: the name is not resolved a second time.
Redirects are not followed: a redirect could lead to an address the check
would refuse.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from jobs.aws import Conflict, ServiceUnavailable
from jobs.status import JobStatus, WebhookOutcome, iso_now
from jobs.store import JobStore
from jobs.webhook import (
    SIGNATURE_HEADER,
    Callback,
    CallbackRefused,
    Resolver,
    WebhookSettings,
    checked_callback,
    job_event,
    resolve_host,
    sign,
    signing_secret,
    webhook_body,
)
from worker.outbox import Outbox

log = logging.getLogger(__name__)

USER_AGENT = "darkroom-webhook/1"


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the checked address; the Host header still names the callback's host."""

    def __init__(self, callback: Callback, timeout: float) -> None:
        super().__init__(callback.host, callback.port, timeout=timeout)
        self.address = callback.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to the checked address, verifying the certificate against the callback's host name."""

    def __init__(self, callback: Callback, timeout: float) -> None:
        super().__init__(callback.host, callback.port, timeout=timeout, context=ssl.create_default_context())
        self.address = callback.address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post_signed(callback: Callback, body: bytes, signature: str, timeout: float) -> int:
    """POST once to the checked address; returns the HTTP status. Raises OSError when no answer came."""
    pinned = _PinnedHTTPS if callback.scheme == "https" else _PinnedHTTP
    connection = pinned(callback, timeout)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature, "User-Agent": USER_AGENT}
    try:
        connection.request("POST", callback.target, body=body, headers=headers)
        return connection.getresponse().status  # a 3xx is a failed attempt: redirects are not followed
    except http.client.HTTPException as exc:  # a malformed answer: no answer at all, as far as we can tell
        raise OSError(f"a malformed HTTP answer: {exc!r}") from exc
    finally:
        connection.close()


class WebhookSender:
    def __init__(
        self,
        settings: WebhookSettings,
        store: JobStore,
        worker_id: str = "worker",
        resolve: Resolver = resolve_host,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.store = store
        self.resolve = resolve
        self.sleep = sleep
        self.outbox = Outbox(store.bucket, worker_id, settings.longest_delivery_seconds)

    def job_ended(self, status: JobStatus, version: str) -> threading.Thread | None:
        """Start delivering the callback of a job that just ended, if it has one; returns the thread.

        ``version`` is the ETag of the status written as the job ended: the outcome is recorded only over it."""
        if status.callback_url is None or not status.state.terminal:
            return None
        try:
            self.outbox.hold(status.job_id)
        except ServiceUnavailable as exc:  # delivered all the same; only a stop before it ends would lose it
            log.warning("job %s: could not record the callback as owed: %s", status.job_id, exc)
        return self._start(status, version)

    def resume_abandoned(self) -> list[threading.Thread]:
        """Deliver the callbacks other workers owed but did not deliver (they stopped first)."""
        threads = []
        for job_id in self.outbox.claim_abandoned(datetime.now(UTC)):
            read = self.store.read_status_version(job_id)
            if read is None or read.status.webhook is not None or read.status.callback_url is None:
                self.outbox.release(job_id)  # gone, or its outcome was recorded after all
                continue
            log.info("job %s: delivering a callback another worker owed", job_id)
            threads.append(self._start(read.status, read.version))
        return threads

    def _start(self, status: JobStatus, version: str) -> threading.Thread:
        thread = threading.Thread(
            target=self.deliver, args=(status, version), name=f"webhook-{status.job_id}", daemon=True
        )
        thread.start()
        return thread

    def deliver(self, status: JobStatus, version: str) -> WebhookOutcome:
        """Deliver now (blocking, with retries), record the outcome in the status, and return it."""
        outcome = self._attempts(status)
        if outcome.delivered:
            log.info("job %s: callback delivered (attempt %d)", status.job_id, outcome.attempts)
        else:
            log.warning(
                "job %s: callback not delivered after %d attempts: %s", status.job_id, outcome.attempts, outcome.error
            )
        try:
            self.store.write_status(status.with_webhook(outcome), if_match=version)
            self.outbox.release(status.job_id)
        except Conflict:  # changed since it ended: its outcome is not recorded, and it is owed no more
            log.warning(
                "job %s: its status changed since it ended; the callback's outcome is not recorded", status.job_id
            )
            self.outbox.release(status.job_id)
        except ServiceUnavailable as exc:  # still owed: a later sweep delivers it again
            log.warning("job %s: could not record the callback's outcome: %s", status.job_id, exc)
        return outcome

    def _attempts(self, status: JobStatus) -> WebhookOutcome:
        if not self.settings.secret:
            return WebhookOutcome(False, 0, iso_now(), "refused: this worker has no webhook secret to sign with")
        body = webhook_body(job_event(status))
        secret = signing_secret(self.settings.secret, status.owner)
        error = "not attempted"
        attempt = 0
        for attempt in range(1, self.settings.attempts + 1):
            if attempt > 1:
                self.sleep(self.settings.backoff(attempt - 1))
            try:
                callback = checked_callback(status.callback_url, self.settings, self.resolve)
            except CallbackRefused as exc:  # refused now: retrying cannot help
                return WebhookOutcome(False, attempt, iso_now(), f"refused: {exc}")
            try:
                code = post_signed(callback, body, sign(secret, body, int(time.time())), self.settings.timeout_seconds)
            except OSError as exc:  # refused, reset, timed out, no route
                error = f"no answer: {exc}"
                continue
            if 200 <= code < 300:
                return WebhookOutcome(True, attempt, iso_now())
            error = f"answered HTTP {code}"
        return WebhookOutcome(False, attempt, iso_now(), error)
