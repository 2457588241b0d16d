"""Delivering a job's callback when it ends, off the job loop.

The worker hands a finished (done or failed) status here; if the job has a
``callback_url`` a daemon thread POSTs the job's document, signed
(jobs.webhook), retrying with exponential backoff a bounded number of times.
The outcome is written into the job's status document and logged. Nothing
here can fail or delay the job: it is already finished and acknowledged.

The URL is checked again before each delivery (the API checked it at
submit), because a name can point somewhere else by now. Redirects are not
followed: a redirect could lead to an address the check would refuse.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from jobs.aws import Conflict, ServiceUnavailable
from jobs.status import JobStatus, WebhookOutcome, iso_now
from jobs.store import JobStore
from jobs.webhook import (
    SIGNATURE_HEADER,
    CallbackRefused,
    Resolver,
    WebhookSettings,
    check_callback_url,
    job_event,
    resolve_host,
    sign,
    webhook_body,
)

log = logging.getLogger(__name__)

USER_AGENT = "darkroom-webhook/1"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the 3xx surfaces as an HTTPError: a failed attempt


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_signed(url: str, body: bytes, signature: str, timeout: float) -> int:
    """POST once; returns the HTTP status. Raises OSError (URLError included) when no answer came."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature, "User-Agent": USER_AGENT},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


class WebhookSender:
    def __init__(
        self,
        settings: WebhookSettings,
        store: JobStore,
        resolve: Resolver = resolve_host,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.store = store
        self.resolve = resolve
        self.sleep = sleep

    def job_ended(self, status: JobStatus, version: str) -> threading.Thread | None:
        """Start delivering the callback of a job that just ended, if it has one; returns the thread.

        ``version`` is the ETag of the status written as the job ended: the outcome is recorded only over it."""
        if status.callback_url is None or not status.state.terminal:
            return None
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
        except Conflict:
            log.warning(
                "job %s: its status changed since it ended; the callback's outcome is not recorded", status.job_id
            )
        except ServiceUnavailable as exc:
            log.warning("job %s: could not record the callback's outcome: %s", status.job_id, exc)
        return outcome

    def _attempts(self, status: JobStatus) -> WebhookOutcome:
        body = webhook_body(job_event(status))
        error = "not attempted"
        attempt = 0
        for attempt in range(1, self.settings.attempts + 1):
            if attempt > 1:
                self.sleep(self.settings.backoff(attempt - 1))
            try:
                url = check_callback_url(status.callback_url, self.settings, self.resolve)
            except CallbackRefused as exc:  # refused now: retrying cannot help
                return WebhookOutcome(False, attempt, iso_now(), f"refused: {exc}")
            signature = sign(self.settings.secret, body, int(time.time()))
            try:
                code = post_signed(url, body, signature, self.settings.timeout_seconds)
            except OSError as exc:  # refused, reset, timed out, no route
                error = f"no answer: {exc}"
                continue
            if 200 <= code < 300:
                return WebhookOutcome(True, attempt, iso_now())
            error = f"answered HTTP {code}"
        return WebhookOutcome(False, attempt, iso_now(), error)
