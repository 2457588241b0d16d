"""Webhook delivery against a real local HTTP server, and from a real worker loop.

The receiver verifies each delivery with jobs.webhook.verify, as a client
would. Local addresses are allowed here only through the settings made for
local use; the policy itself is tested in tests/jobs/test_webhook.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobs.ids import new_job_id
from jobs.message import InputKind
from jobs.settings import AwsSettings
from jobs.status import JobError, JobStatus, iso_now
from jobs.submit import submit_job
from jobs.webhook import SIGNATURE_HEADER, WebhookSettings, verify
from tests.worker.conftest import Parts, dark_jpeg
from worker.webhooks import WebhookSender

SECRET = "webhook-test-secret"
LOCAL = WebhookSettings(secret=SECRET, allow_http=True, allow_private=True, attempts=3, backoff_seconds=0.05)


@dataclass
class Receiver:
    """Answers the first ``failures`` POSTs with 500, then 204; keeps every verified body."""

    failures: int = 0
    answers: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def handle(self, body: bytes, signature: str | None) -> int:
        verify(SECRET, body, signature, now=time.time())  # raises (answer 500) when the signature is bad
        status = 500 if len(self.answers) < self.failures else 204
        self.answers.append(status)
        if status == 204:
            self.bodies.append(body)
            self.received.set()
        return status


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(receiver.handle(body, self.headers.get(SIGNATURE_HEADER)))
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def parts(module_aws: AwsSettings) -> Parts:
    """One bucket and queue for the module: each test has jobs of its own, and only the last runs a worker."""
    return Parts.of(module_aws)


def finished_job(parts: Parts, callback_url: str) -> tuple[JobStatus, str]:
    """A failed job's status and its version, written as a worker would (and never queued)."""
    status = JobStatus.new(new_job_id(), InputKind.SRGB, None, iso_now(), callback_url)
    status = status.failed(JobError("corrupt-input", "for the test"), iso_now())
    return status, parts.store.write_status(status, create=True)


def test_a_failing_receiver_is_retried_until_it_accepts(parts: Parts, receiver: Receiver) -> None:
    receiver.failures = 1
    status, version = finished_job(parts, receiver.url)
    outcome = WebhookSender(LOCAL, parts.store).deliver(status, version)
    assert outcome.delivered and outcome.attempts == 2
    assert receiver.answers == [500, 204]
    assert b'"status":"failed"' in receiver.bodies[0] and status.job_id.encode() in receiver.bodies[0]
    assert b"callback" not in receiver.bodies[0] and b"uploads/" not in receiver.bodies[0]  # no internals
    assert parts.status(status.job_id).webhook == outcome  # recorded in the status document
    assert parts.status(status.job_id).state.value == "failed"  # and the job is as it was


def test_retries_are_bounded_and_the_failure_recorded(parts: Parts, receiver: Receiver) -> None:
    receiver.failures = 99
    status, version = finished_job(parts, receiver.url)
    outcome = WebhookSender(LOCAL, parts.store).deliver(status, version)
    assert not outcome.delivered and outcome.attempts == 3 and outcome.error == "answered HTTP 500"
    assert len(receiver.answers) == 3
    recorded = parts.status(status.job_id).webhook
    assert recorded is not None and not recorded.delivered


def test_a_refused_address_is_never_called(parts: Parts, receiver: Receiver) -> None:
    status, version = finished_job(parts, receiver.url)
    strict = WebhookSettings(secret=SECRET, allow_http=True, attempts=3, backoff_seconds=0.05)
    outcome = WebhookSender(strict, parts.store).deliver(status, version)
    assert not outcome.delivered and outcome.attempts == 1 and "loopback" in (outcome.error or "")
    assert receiver.answers == []


def test_an_unreachable_receiver_is_a_recorded_failure(parts: Parts) -> None:
    status, version = finished_job(parts, "http://127.0.0.1:9/hook")  # the discard port: nothing listens
    outcome = WebhookSender(LOCAL, parts.store).deliver(status, version)
    assert not outcome.delivered and outcome.attempts == 3 and (outcome.error or "").startswith("no answer")


def test_the_worker_calls_back_when_a_job_is_done(parts: Parts, receiver: Receiver) -> None:
    job_id = submit_job(
        parts.store, parts.queue, dark_jpeg(), "jpg", "image/jpeg", InputKind.SRGB, None, receiver.url
    ).job_id
    parts.worker(webhook=LOCAL).run(max_jobs=1)
    assert receiver.received.wait(timeout=30), "no callback arrived"
    assert b'"status":"done"' in receiver.bodies[0] and job_id.encode() in receiver.bodies[0]
    deadline = time.monotonic() + 10
    while parts.status(job_id).webhook is None and time.monotonic() < deadline:  # written after the POST
        time.sleep(0.05)
    status = parts.status(job_id)
    assert status.state.value == "done" and status.webhook is not None and status.webhook.delivered
