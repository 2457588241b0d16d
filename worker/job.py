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
from dataclasses import replace

from jobs.aws import Conflict, ServiceUnavailable
from jobs.message import InputKind, JobMessage, MessageError, UnsupportedVersion
from jobs.queue import Delivery, JobQueue
from jobs.status import JobError, JobResult, JobStatus, iso_now, parse_iso
from jobs.store import JobStore
from worker.dead_letters import WORKER_CRASHED
from worker.decode import decode
from worker.drain import Drain
from worker.frames import Enhancer, Frame, InputError
from worker.heartbeat import Heartbeat, release
from worker.isolate import MIB, Decode, DecodeCrashed, DecodeLimits, decode_isolated
from worker.lifecycle import Lease, WorkerRecorder
from worker.metrics import DONE, FAILED, JobEnded, MetricsSink, NoMetrics
from worker.pipeline import run_pipeline
from worker.settings import WorkerSettings
from worker.webhooks import WebhookSender

log = logging.getLogger(__name__)

DECODE_ATTEMPTS = 2  # a file whose decode hung or crashed this often is failed


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
        metrics: MetricsSink | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.queue = queue
        self.enhancer = enhancer
        self.recorder = recorder
        self.drain = drain
        self.clock = clock
        self.metrics: MetricsSink = metrics or NoMetrics()  # each settled job, once (worker/metrics.py)
        self.max_receives = queue.max_receives()
        # a job's callback, on a thread of its own
        self.webhooks = WebhookSender(settings.webhook, store, settings.worker_id)
        self.decode: Decode = decode  # what the decode process runs (a test may give it a poison input's)
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
        except DecodeCrashed as exc:  # hung or died in its own process: this job only; retried, then failed
            self._decode_failed(message, delivery, exc.reason)
        except Exception as exc:  # the job boundary: any bug is logged and retried, never kills the loop
            log.exception("job %s: unexpected error", message.job_id)
            self._retry_later(message, delivery, f"internal error: {type(exc).__name__}")
        finally:
            self.drain.leases.pop(delivery.message_id, None)
        self.recorder.job_ended(self.clock() - started, self.done)

    def dead_lettered(self, count: int) -> None:
        """Jobs a dead-letter sweep marked failed (its write is conditional: each job once) are failures too."""
        for _ in range(count):
            self.metrics.record(JobEnded("", FAILED, reason=WORKER_CRASHED))

    def _start(self, message: JobMessage, delivery: Delivery) -> tuple[JobStatus, str] | None:
        """Mark the job processing over the version read; None when it is not this delivery's to run.

        A finished job is acknowledged. A status changed by another writer
        between the read and the write (a duplicate delivery, a worker that
        took over) is left to that writer, and the message comes back later.
        """
        found = self.store.read_status_version(message.job_id)
        if found is not None and found.status.state.terminal:
            log.info("job %s already %s; acknowledging a repeat delivery", message.job_id, found.status.state)
            self.queue.delete(delivery)
            return None
        if found is None:  # the status document was lost; the message is the source of truth
            status = JobStatus.new(message.job_id, message.kind, message.ratio, message.submitted_at)
        else:
            status = found.status
        status = status.processing(self.settings.worker_id, delivery.receive_count, iso_now())
        try:
            if found is None:
                return status, self.store.write_status(status, create=True)
            return status, self.store.write_status(status, if_match=found.version)
        except Conflict:
            log.info("job %s: changed by another writer as this worker took it; returning it", message.job_id)
            release(self.queue, delivery, self._backoff(delivery))
            return None

    def _process(self, message: JobMessage, delivery: Delivery) -> None:
        started = self._start(message, delivery)
        if started is None:
            return
        status, ours = started  # ours: the version this worker wrote; its later writes may only replace it
        self.recorder.busy(message.job_id)
        log.info("job %s: processing (%s, attempt %d)", message.job_id, message.kind, delivery.receive_count)

        interval = self.settings.heartbeat_seconds
        limit = self.settings.job_seconds
        with Heartbeat(self.queue, delivery, self.settings.lease_seconds, interval, limit) as heartbeat:
            lease = self.drain.hold(Lease(delivery, status, heartbeat, self.clock(), ours))
            if lease.handed_back:
                return
            downloading = time.perf_counter()
            data = self.store.get(message.upload_key)
            downloaded = time.perf_counter() - downloading
            if data is None:
                self._fail(lease, JobError("upload-missing", "the uploaded file is no longer stored"))
                return
            try:
                enhanced = run_pipeline(
                    data,
                    message.kind,
                    message.ratio,
                    self.enhancer,
                    self.settings.max_pixels,
                    self._decode,
                    message.output,
                )
            except InputError as exc:
                self._fail(lease, JobError(exc.code, exc.message))
                return
            if not lease.settle(Lease.LOOP):
                log.info("job %s: discarding this worker's result: its message was handed back", message.job_id)
                return
            uploading = time.perf_counter()
            key = self.store.put_result(message.job_id, enhanced.encoded, message.output)
            uploaded = time.perf_counter() - uploading

        result = JobResult(key=key, width=enhanced.width, height=enhanced.height, bytes=len(enhanced.encoded))
        status = status.done(result, enhanced.ratio_used, enhanced.method, enhanced.timings, iso_now())
        try:  # the result exists before anyone is told it is done
            version = self.store.write_status(status, if_match=ours)
        except Conflict:
            log.warning("job %s: taken over by another worker while this one ran long; leaving it", message.job_id)
            return
        self.queue.delete(delivery)
        self.webhooks.job_ended(status, version)  # the client's callback first: a metrics sink cannot stop it
        stages = {"download": downloaded, **enhanced.timings, "upload": uploaded}
        self.metrics.record(JobEnded(message.kind, DONE, stages, seconds_since(message.submitted_at)))
        with self._done_lock:
            self.done += 1
        timings = " ".join(f"{k}={v:.2f}s" for k, v in enhanced.timings.items())
        size = f"{result.width}x{result.height}"
        log.info("job %s: done %s ratio=%.1f %s", message.job_id, size, enhanced.ratio_used, timings)

    def _fail(self, lease: Lease, error: JobError) -> None:
        if not lease.settle(Lease.LOOP):  # handed back: the next worker will meet the same fault
            return
        failed = lease.status.failed(error, iso_now())
        try:
            version = self.store.write_status(failed, if_match=lease.version)
        except Conflict:
            log.warning("job %s: taken over by another worker; leaving it (%s)", lease.status.job_id, error.code)
            return
        self.queue.delete(lease.delivery)
        self.webhooks.job_ended(failed, version)
        self.metrics.record(JobEnded(failed.kind, FAILED, reason=error.code))
        log.info("job %s: failed: %s (%s)", lease.status.job_id, error.message, error.code)

    def _decode_failed(self, message: JobMessage, delivery: Delivery, reason: str) -> None:
        """A decode that hung or crashed: retried, and failed once it has done so ``DECODE_ATTEMPTS`` times.

        Counted in the status apart from deliveries, which a lost worker or a
        spot interruption also uses up: the same file does the same thing again."""
        lease = self.drain.leases.get(delivery.message_id)
        if lease is None:
            self._retry_later(message, delivery, reason)
            return
        failures = lease.status.decode_failures + 1
        lease.status = replace(lease.status, decode_failures=failures)
        if failures < DECODE_ATTEMPTS:  # backed off by its decode failures, not by deliveries strikes used up
            self._retry_later(message, delivery, reason, self._backoff_after(failures))
            return
        log.warning("job %s: %s, %d times; failing it", message.job_id, reason, failures)
        self._fail(lease, JobError("decode-failed", f"{reason}, on {failures} attempts"))

    def _retry_later(self, message: JobMessage, delivery: Delivery, reason: str, after: int | None = None) -> None:
        """A transient failure: let SQS deliver again after a backoff (``after`` seconds, else by attempt),
        or give up on the last attempt.

        ``reason`` goes into the job's status, which its client reads: the service's words, never AWS's.
        """
        lease = self.drain.leases.get(delivery.message_id)
        if lease is not None and not lease.settle(Lease.LOOP):  # already handed back
            log.warning("job %s: %s (after its message was handed back)", message.job_id, reason)
            return
        last = self.max_receives is not None and delivery.receive_count >= self.max_receives
        try:
            self._record_retry(message, delivery, lease, reason, last)
        except Conflict:
            log.warning("job %s: changed by another writer; this worker's failure is not recorded", message.job_id)
        except ServiceUnavailable as exc:
            log.warning("job %s: could not record the failure: %s", message.job_id, exc)
        log.warning("job %s: %s%s", message.job_id, reason, "; giving up" if last else "; will retry")
        release(self.queue, delivery, self._backoff(delivery) if after is None else after)

    def _record_retry(
        self, message: JobMessage, delivery: Delivery, lease: Lease | None, reason: str, last: bool
    ) -> None:
        """Write requeued (or, on the last attempt, failed) over this worker's own version of the status.

        Without a lease (it failed before the job was marked processing), over the version read now."""
        if lease is not None:
            status, version = lease.status, lease.version
        else:
            found = self.store.read_status_version(message.job_id)
            if found is not None and found.status.state.terminal:
                return  # another delivery finished it
            status, version = found or (
                JobStatus.new(message.job_id, message.kind, message.ratio, message.submitted_at),
                "",
            )
        attempt = f"attempt {delivery.receive_count}" + (f" of {self.max_receives}" if self.max_receives else "")
        if last:
            error = JobError("gave-up", f"processing failed on every attempt ({attempt}): {reason}")
            failed = status.failed(error, iso_now())
            version = self.store.write_status(failed, if_match=version, create=not version)
            self.webhooks.job_ended(failed, version)
            self.metrics.record(JobEnded(message.kind, FAILED, reason=error.code))
        else:
            requeued = status.requeued(f"{attempt} failed ({reason}); retrying", iso_now())
            self.store.write_status(requeued, if_match=version, create=not version)

    def _decode(self, data: bytes, kind: InputKind, max_pixels: int) -> Frame:
        """Decode in a child process under the job's time limit and the decode memory limit."""
        limits = DecodeLimits(self.settings.job_seconds, self.settings.decode_memory_mb * MIB)
        return decode_isolated(data, kind, limits, max_pixels, self.decode)

    def _backoff(self, delivery: Delivery) -> int:
        return self._backoff_after(delivery.receive_count)

    def _backoff_after(self, failures: int) -> int:
        return int(min(self.settings.retry_base_seconds * 2 ** (failures - 1), 900))


def seconds_since(iso_time: str) -> float | None:
    """Seconds from an ISO 8601 time (a message's submit time) to now; None when it cannot be read."""
    try:
        return max(0.0, time.time() - parse_iso(iso_time).timestamp())
    except ValueError:
        return None
