"""One job: a delivery from the queue, worked from its status to its result, or failed, or retried.

``JobRunner.handle`` never raises for a job's own failure; the loop
(worker/loop.py) calls it for each delivery, on a thread of the job's own
when jobs overlap. While the job runs a heartbeat renews its message's
lease, and the drain (worker/drain.py) may hand the message back; the lease
decides who settles the delivery, the job or the drain.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from jobs.aws import Conflict, ServiceUnavailable
from jobs.message import JobMessage, MessageError, UnsupportedVersion
from jobs.queue import Delivery, JobQueue
from jobs.status import JobError, JobResult, JobStatus, iso_now
from jobs.store import JobStore
from worker.drain import Drain
from worker.frames import Enhancer, InputError
from worker.heartbeat import Heartbeat, release
from worker.lifecycle import Lease, WorkerRecorder
from worker.pipeline import run_pipeline
from worker.settings import WorkerSettings
from worker.webhooks import WebhookSender

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(
        self,
        settings: WorkerSettings,
        store: JobStore,
        queue: JobQueue,
        enhancer: Enhancer,
        recorder: WorkerRecorder,
        drain: Drain,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.queue = queue
        self.enhancer = enhancer
        self.recorder = recorder
        self.drain = drain
        self.clock = clock
        self.max_receives = queue.max_receives()
        # a job's callback, on a thread of its own
        self.webhooks = WebhookSender(settings.webhook, store, settings.worker_id)
        self.done = 0
        self._done_lock = threading.Lock()

    def handle(self, delivery: Delivery) -> None:
        """Process one delivery; never raises for a job's own failure."""
        try:
            message = JobMessage.from_json(delivery.body)
        except UnsupportedVersion as exc:
            log.warning("message %s: %s; returning it for a newer worker", delivery.message_id, exc)
            release(self.queue, delivery, self._backoff(delivery))
            return
        except MessageError as exc:
            log.error("message %s is unreadable (%s); leaving it for the dead-letter queue", delivery.message_id, exc)
            release(self.queue, delivery, 0)
            return
        started = self.clock()
        try:
            self._process(message, delivery)
        except ServiceUnavailable as exc:  # its text (bucket, key, AWS's error) is for the log, not the job's status
            log.warning("job %s: %s", message.job_id, exc)
            self._retry_later(message, delivery, "storage or the queue was unavailable")
        except Exception as exc:  # the job boundary: any bug is logged and retried, never kills the loop
            log.exception("job %s: unexpected error", message.job_id)
            self._retry_later(message, delivery, f"internal error: {type(exc).__name__}")
        finally:
            self.drain.leases.pop(delivery.message_id, None)
        self.recorder.job_ended(self.clock() - started, self.done)

    def _process(self, message: JobMessage, delivery: Delivery) -> None:
        status = self.store.read_status(message.job_id)
        if status is not None and status.state.terminal:
            log.info("job %s already %s; acknowledging a repeat delivery", message.job_id, status.state)
            self.queue.delete(delivery)
            return
        if status is None:  # the status document was lost; the message is the source of truth
            status = JobStatus.new(message.job_id, message.kind, message.ratio, message.submitted_at)
        status = status.processing(self.settings.worker_id, delivery.receive_count, iso_now())
        ours = self.store.write_status(status)  # the version this worker wrote; done may only replace it
        self.recorder.busy(message.job_id)
        log.info("job %s: processing (%s, attempt %d)", message.job_id, message.kind, delivery.receive_count)

        interval = self.settings.heartbeat_seconds
        with Heartbeat(self.queue, delivery, self.settings.lease_seconds, interval) as heartbeat:
            lease = self.drain.hold(Lease(delivery, status, heartbeat, self.clock()))
            if lease.handed_back:
                return
            data = self.store.get(message.upload_key)
            if data is None:
                self._fail(lease, JobError("upload-missing", "the uploaded file is no longer stored"))
                return
            try:
                enhanced = run_pipeline(data, message.kind, message.ratio, self.enhancer, output=message.output)
            except InputError as exc:
                self._fail(lease, JobError(exc.code, exc.message))
                return
            if not lease.settle(Lease.LOOP):
                log.info("job %s: discarding this worker's result: its message was handed back", message.job_id)
                return
            key = self.store.put_result(message.job_id, enhanced.encoded, message.output)

        result = JobResult(key=key, width=enhanced.width, height=enhanced.height, bytes=len(enhanced.encoded))
        status = status.done(result, enhanced.ratio_used, enhanced.method, enhanced.timings, iso_now())
        try:
            self.store.write_status(status, if_match=ours)  # the result exists before anyone is told it is done
        except Conflict:
            log.warning("job %s: taken over by another worker while this one ran long; leaving it", message.job_id)
            return
        self.queue.delete(delivery)
        self.webhooks.job_ended(status)
        with self._done_lock:
            self.done += 1
        timings = " ".join(f"{k}={v:.2f}s" for k, v in enhanced.timings.items())
        size = f"{result.width}x{result.height}"
        log.info("job %s: done %s ratio=%.1f %s", message.job_id, size, enhanced.ratio_used, timings)

    def _fail(self, lease: Lease, error: JobError) -> None:
        if not lease.settle(Lease.LOOP):  # handed back: the next worker will meet the same fault
            return
        failed = lease.status.failed(error, iso_now())
        self.store.write_status(failed)
        self.queue.delete(lease.delivery)
        self.webhooks.job_ended(failed)
        log.info("job %s: failed: %s (%s)", lease.status.job_id, error.message, error.code)

    def _retry_later(self, message: JobMessage, delivery: Delivery, reason: str) -> None:
        """A transient failure: let SQS deliver again after a backoff, or give up on the last attempt.

        ``reason`` goes into the job's status, which its client reads: the service's words, never AWS's.
        """
        lease = self.drain.leases.get(delivery.message_id)
        if lease is not None and not lease.settle(Lease.LOOP):  # already handed back
            log.warning("job %s: %s (after its message was handed back)", message.job_id, reason)
            return
        last = self.max_receives is not None and delivery.receive_count >= self.max_receives
        try:
            status = self.store.read_status(message.job_id) or JobStatus.new(
                message.job_id, message.kind, message.ratio, message.submitted_at
            )
            attempt = f"attempt {delivery.receive_count}" + (f" of {self.max_receives}" if self.max_receives else "")
            if last:
                error = JobError("gave-up", f"processing failed on every attempt ({attempt}): {reason}")
                self.store.write_status(failed := status.failed(error, iso_now()))
                self.webhooks.job_ended(failed)
            else:
                self.store.write_status(status.requeued(f"{attempt} failed ({reason}); retrying", iso_now()))
        except ServiceUnavailable as exc:
            log.warning("job %s: could not record the failure: %s", message.job_id, exc)
        log.warning("job %s: %s%s", message.job_id, reason, "; giving up" if last else "; will retry")
        release(self.queue, delivery, self._backoff(delivery))

    def _backoff(self, delivery: Delivery) -> int:
        return int(min(self.settings.retry_base_seconds * 2 ** (delivery.receive_count - 1), 900))
