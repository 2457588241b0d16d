"""The worker as an AWS Lambda function: the EC2 worker's own job runner, fed by an SQS event source mapping.

One container image, two entry points: ``python -m worker`` long-polls on a
spot instance, ``worker.lambda_handler.handler`` (under ``awslambdaric``)
takes the batches Lambda's event source mapping hands it. Both run each job
through the same ``JobRunner`` and so the same ``run_pipeline``: the same
statuses, the same results, byte for byte.

What differs is who settles a message. The runner deletes a message it
finished (done, or failed for good) and hands back one to retry (a backoff
through its visibility). Every record it did not delete is reported in
``batchItemFailures``: the mapping then leaves it on the queue and deletes
only the others, so one bad record does not redo the batch.

The function's time limit plays the spot deadline: the drain
(worker/drain.py) hands a running job back when it would not end, with a
margin, before the limit, and a record that cannot start in time goes back
untouched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from jobs.aws import ServiceUnavailable
from jobs.message import is_warm_up
from jobs.queue import Delivery, JobQueue
from jobs.store import JobStore
from worker.dead_letters import sweep_dead_letters
from worker.drain import Drain
from worker.frames import Enhancer
from worker.heartbeat import release
from worker.imds import Notice
from worker.job import JobRunner
from worker.lifecycle import WorkerRecorder, fits_before
from worker.metrics import MetricsSink
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)

FUNCTION_TIME_LIMIT = "function-time-limit"  # the drain's reason, in a handed-back job's status note
REVIEW_SECONDS = 1.0  # how often a running job is measured against the time limit


class LambdaContext(Protocol):
    """The part of Lambda's context object the handler uses."""

    def get_remaining_time_in_millis(self) -> int: ...


class SettledDeliveries(JobQueue):
    """The job queue, remembering which deliveries the runner deleted: those are the batch's successes."""

    def __init__(self, queue: JobQueue) -> None:
        super().__init__(queue.sqs, queue.url)
        self.deleted: set[str] = set()
        self._lock = threading.Lock()

    def delete(self, delivery: Delivery) -> None:
        super().delete(delivery)
        with self._lock:
            self.deleted.add(delivery.message_id)

    def take(self, message_id: str) -> bool:
        """Whether the runner deleted this delivery (forgotten afterwards)."""
        with self._lock:
            if message_id in self.deleted:
                self.deleted.discard(message_id)
                return True
            return False


def delivery_of(record: Mapping[str, Any]) -> Delivery:
    """An SQS event record as the delivery the runner knows from its own long poll."""
    attributes = record.get("attributes") or {}
    return Delivery(
        body=str(record["body"]),
        receipt=str(record["receiptHandle"]),
        message_id=str(record["messageId"]),
        receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
    )


class JobFunction:
    """One execution environment's handler: built once at init (model loaded), called once per batch."""

    def __init__(
        self,
        settings: WorkerSettings,
        store: JobStore,
        queue: JobQueue,
        dead_letters: JobQueue,
        enhancer: Enhancer,
        started_at: float | None = None,
        metrics: MetricsSink | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.queue = SettledDeliveries(queue)
        self.dead_letters = dead_letters
        self.recorder = WorkerRecorder(None, settings.worker_id, started_at or time.time(), settings.heartbeat_seconds)
        self.drain = Drain(store, self.queue, self.recorder, settings.notice_margin_seconds, self._limit_near)
        self.runner = JobRunner(settings, store, self.queue, enhancer, self.recorder, self.drain, metrics=metrics)
        self.ready_seconds = self.recorder.ready(time.time())  # init: process start to model loaded and warm
        self._last_sweep = -float("inf")

    def handle(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
        """Run each record's job; returns the records to leave on the queue (partial batch failures).

        The page's warm-up (``jobs.message.WARM_UP_EVENT``) returns at once: the init phase, which loaded the
        model before this call, was all it asked for.
        """
        if is_warm_up(event):
            log.info("warm-up invocation: the model is loaded (%.2f s after the process started)", self.ready_seconds)
            return {"batchItemFailures": []}
        deadline = datetime.now(UTC) + timedelta(milliseconds=context.get_remaining_time_in_millis())
        self.drain.notice = Notice(FUNCTION_TIME_LIMIT, "stop", deadline)
        failures: list[str] = []
        with _Reviews(self.drain):
            for record in event.get("Records", []):
                delivery = delivery_of(record)
                if not self._starts_in_time(deadline):
                    log.warning("message %s: too near the function's time limit; handing it back", delivery.message_id)
                    release(self.queue, delivery, 0)
                    failures.append(delivery.message_id)
                    continue
                self.runner.handle(delivery)
                if not self.queue.take(delivery.message_id):
                    failures.append(delivery.message_id)
        self._sweep(deadline)
        _wait_for_callbacks(deadline - timedelta(seconds=self.settings.notice_margin_seconds))
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}

    def _starts_in_time(self, deadline: datetime) -> bool:
        expected = self.recorder.service_seconds
        return fits_before(deadline, datetime.now(UTC), 0.0, expected, self.settings.notice_margin_seconds)

    def _limit_near(self, reason: str) -> None:
        """The drain's stop: nothing to do here, as each record is checked against the limit before it starts."""

    def _sweep(self, deadline: datetime) -> None:
        """Now and then, as an idle EC2 worker does: mark dead-lettered jobs failed (no worker idles here)."""
        now = time.monotonic()
        if now - self._last_sweep < self.settings.dead_letter_sweep_seconds:
            return
        if (deadline - datetime.now(UTC)).total_seconds() < self.settings.notice_margin_seconds:
            return
        self._last_sweep = now
        try:
            self.runner.dead_lettered(sweep_dead_letters(self.store, self.dead_letters))
        except ServiceUnavailable as exc:
            log.warning("dead-letter sweep failed: %s", exc)


class _Reviews:
    """While a batch runs, measure each running job against the time limit (the drain hands back a late one)."""

    def __init__(self, drain: Drain) -> None:
        self.drain = drain
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="time-limit", daemon=True)

    def __enter__(self) -> _Reviews:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(REVIEW_SECONDS):
            for lease in list(self.drain.leases.values()):
                self.drain.review(lease)


def _wait_for_callbacks(until: datetime) -> None:
    """Let the batch's webhook deliveries finish before Lambda freezes the environment.

    One still running at the limit stays owed in the outbox (worker/outbox.py) and is delivered by a later sweep.
    """
    for thread in threading.enumerate():
        if thread.name.startswith("webhook-"):
            thread.join(timeout=max(0.0, (until - datetime.now(UTC)).total_seconds()))
