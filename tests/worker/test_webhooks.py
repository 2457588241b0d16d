"""Webhook delivery against a real local HTTP server, and from a real worker loop.

The receiver verifies each delivery with jobs.webhook.verify, as a client
would. Local addresses are allowed here only through the settings made for
local use; the policy itself is tested in tests/jobs/test_webhook.py.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobs.ids import new_job_id, webhook_key
from jobs.message import InputKind
from jobs.settings import AwsSettings
from jobs.status import JobError, JobStatus, iso_now
from jobs.submit import submit_job
from jobs.webhook import SIGNATURE_HEADER, WebhookSettings, signing_secret, verify
from tests.support.aws import ssm_of
from tests.worker.conftest import Parts, dark_jpeg
from worker.settings import WorkerSettings
from worker.startup import with_webhook_secret
from worker.webhooks import WebhookSender

SECRET = "webhook-test-secret"
LOCAL = WebhookSettings(secret=SECRET, allow_http=True, allow_private=True, attempts=3, backoff_seconds=0.05)


@dataclass
class Receiver:
    """Answers the first ``failures`` POSTs with 500, then 204; keeps every verified body."""

    failures: int = 0
    answers: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    port: int = 0
    secret: str = SECRET  # what this receiver verifies with: its key's own secret

    def handle(self, body: bytes, signature: str | None) -> int:
        verify(self.secret, body, signature, now=time.time())  # raises (answer 500) when the signature is bad
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
            receiver.hosts.append(self.headers["Host"])
            self.send_response(receiver.handle(body, self.headers.get(SIGNATURE_HEADER)))
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    receiver.url = f"http://127.0.0.1:{receiver.port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def parts(module_aws: AwsSettings) -> Parts:
    """One bucket and queue for the module: each test has jobs of its own, and only the last runs a worker."""
    return Parts.of(module_aws)


def finished_job(parts: Parts, callback_url: str, owner: str | None = None) -> tuple[JobStatus, str]:
    """A failed job's status and its version, written as a worker would (and never queued)."""
    status = JobStatus.new(new_job_id(), InputKind.SRGB, None, iso_now(), callback_url, owner)
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


def test_the_delivery_connects_to_the_address_that_was_checked(parts: Parts, receiver: Receiver) -> None:
    looked_up: list[str] = []

    def resolve(host: str, port: int) -> list[str]:  # the check's one resolution; the system cannot resolve .invalid
        looked_up.append(host)
        return ["127.0.0.1"]

    status, version = finished_job(parts, f"http://receiver.invalid:{receiver.port}/hook")
    outcome = WebhookSender(LOCAL, parts.store, resolve=resolve).deliver(status, version)
    assert outcome.delivered, outcome
    assert looked_up == ["receiver.invalid"]  # resolved once, and the POST went to that address
    assert receiver.hosts == [f"receiver.invalid:{receiver.port}"]  # the Host header still names the host


def test_a_keyed_jobs_callback_is_signed_with_that_keys_secret(parts: Parts, receiver: Receiver) -> None:
    owner = "c" * 64
    receiver.secret = signing_secret(SECRET, owner)  # what the operator gave that key's holder
    outcome = WebhookSender(LOCAL, parts.store).deliver(*finished_job(parts, receiver.url, owner))
    assert outcome.delivered and receiver.answers == [204]
    receiver.answers.clear()
    keyless = WebhookSender(LOCAL, parts.store).deliver(*finished_job(parts, receiver.url))
    assert not keyless.delivered and receiver.answers == []  # signed with the server's secret: this receiver refuses


def test_a_refused_callback_shows_in_the_public_job_document(parts: Parts, receiver: Receiver) -> None:
    status, version = finished_job(parts, receiver.url)
    strict = WebhookSettings(secret=SECRET, allow_http=True, attempts=1)
    WebhookSender(strict, parts.store).deliver(status, version)
    shown = parts.status(status.job_id).public_document()["webhook"]  # what GET /v1/jobs/{id} answers
    assert shown["delivered"] is False and shown["error"].startswith("refused: ") and "loopback" in shown["error"]


def test_the_worker_reads_the_webhook_secret_from_ssm_at_start(parts: Parts, receiver: Receiver) -> None:
    name = f"/darkroom-test/{new_job_id()}/webhook-secret"
    ssm_of(parts.aws).put_parameter(Name=name, Value=SECRET, Type="SecureString")
    named = WorkerSettings(aws=parts.aws, webhook=dataclasses.replace(LOCAL, secret="", secret_parameter=name))
    assert with_webhook_secret(named, ssm_of(parts.aws)).webhook.secret == SECRET
    unread = dataclasses.replace(named, webhook=dataclasses.replace(named.webhook, secret_parameter=name + "-gone"))
    without = with_webhook_secret(unread, ssm_of(parts.aws))
    assert without.webhook.secret == "" and without.webhook.enabled  # it starts; its callbacks are refused, and say so
    outcome = WebhookSender(without.webhook, parts.store).deliver(*finished_job(parts, receiver.url))
    assert not outcome.delivered and "no webhook secret" in str(outcome.error) and receiver.answers == []


def test_a_pending_delivery_survives_its_worker_stopping(parts: Parts, receiver: Receiver) -> None:
    settings = dataclasses.replace(LOCAL, attempts=2, timeout_seconds=0.5)  # a claim older than 1.05 s is abandoned
    receiver.failures = 1
    stopped = threading.Event()
    first = WebhookSender(settings, parts.store, "worker-a", sleep=lambda _: stopped.wait())  # stops in its backoff
    status, version = finished_job(parts, receiver.url)
    first.job_ended(status, version)
    eventually(lambda: receiver.answers == [500])  # its first attempt failed; then its worker stopped
    assert parts.store.bucket.find(webhook_key(status.job_id)) is not None  # still owed
    time.sleep(settings.longest_delivery_seconds + 0.2)  # the stopped worker's claim runs out
    second = WebhookSender(settings, parts.store, "worker-b")
    (thread,) = second.resume_abandoned()
    thread.join(timeout=30)
    assert receiver.answers == [500, 204] and status.job_id.encode() in receiver.bodies[0]
    recorded = parts.status(status.job_id).webhook
    assert recorded is not None and recorded.delivered
    assert parts.store.bucket.find(webhook_key(status.job_id)) is None  # nothing owed any more
    assert second.resume_abandoned() == []
    stopped.set()


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.02)
