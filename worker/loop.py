"""The worker: one readable loop over the job queue.

receive (long poll) -> read status -> processing -> decode, enhance, encode
-> result to S3 -> done -> delete the message. What can go wrong, and what
happens:

- the input is bad (``InputError``): the job fails at once with a message a
  person can read, and the message is deleted: retrying cannot help;
- S3/SQS trouble or an unexpected error: the job goes back to ``queued`` with
  a note, the message becomes visible again after a backoff, and SQS counts
  the delivery; after the queue's maxReceiveCount it moves to the dead-letter
  queue;
- the worker dies mid-job (crash, SIGKILL, lost instance): the heartbeat stops,
  the lease runs out, and another worker gets the message;
- a message lands in the dead-letter queue: an idle worker's sweep marks its
  job ``failed`` so no one waits on it forever (the message stays there for an
  operator to redrive);
- a second delivery of a finished job is acknowledged without recomputing.

Signals (as in rq): the first SIGTERM or SIGINT lets the current job finish
and then stops; when idle it stops at once. A second signal exits immediately
(the message returns to the queue when its lease runs out).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable
from types import FrameType

from jobs.aws import ServiceUnavailable
from jobs.ids import is_job_id
from jobs.message import JobMessage, MessageError, UnsupportedVersion
from jobs.queue import Delivery, JobQueue
from jobs.status import JobError, JobResult, JobStatus, iso_now
from jobs.store import JobStore
from worker.frames import Enhancer, InputError
from worker.heartbeat import Heartbeat
from worker.pipeline import run_pipeline
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)

DEAD_LETTER_HOLD_SECONDS = 12 * 3600  # SQS's maximum visibility: keep swept messages out of the next sweeps


def dead_lettered_job_id(body: str) -> str | None:
    """The job id in a dead-lettered message, read leniently: even a message of an
    unknown version names its job, and that job must not wait forever."""
    try:
        return JobMessage.from_json(body).job_id
    except MessageError:
        try:
            data = json.loads(body)
        except ValueError:
            return None
        job_id = data.get("id") if isinstance(data, dict) else None
        return job_id if is_job_id(job_id) else None


class StopRequested(BaseException):
    """Raised by the signal handler to break out of an idle long poll.

    A BaseException, like KeyboardInterrupt, so the HTTP stack's own
    ``except Exception`` handlers cannot swallow it mid-request."""


class Worker:
    def __init__(
        self,
        settings: WorkerSettings,
        store: JobStore,
        queue: JobQueue,
        dead_letters: JobQueue,
        enhancer: Enhancer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.queue = queue
        self.dead_letters = dead_letters
        self.enhancer = enhancer
        self.clock = clock
        self.max_receives = queue.max_receives()
        self.jobs_done = 0
        self.stop_requested = False
        self._busy = False
        self._last_sweep = -float("inf")

    # -- the loop -----------------------------------------------------------

    def run(self, max_jobs: int | None = None) -> None:
        """Work until stopped by a signal (or after ``max_jobs`` deliveries, for tests and benchmarks)."""
        self._install_signal_handlers()
        log.info("worker %s ready: method=%s queue=%s", self.settings.worker_id, self.enhancer.name, self.queue.url)
        handled = 0
        while not self.stop_requested and (max_jobs is None or handled < max_jobs):
            try:
                delivery = self.queue.receive(self.settings.wait_seconds)
            except StopRequested:
                break
            except ServiceUnavailable as exc:
                log.warning("cannot reach the queue (%s); retrying in %.0f s", exc, self.settings.retry_base_seconds)
                time.sleep(self.settings.retry_base_seconds)
                continue
            if delivery is None:
                self.sweep_dead_letters()
                continue
            self._busy = True
            try:
                self.handle(delivery)
            finally:
                self._busy = False
            handled += 1
        log.info("worker %s stopped after %d jobs", self.settings.worker_id, self.jobs_done)

    def handle(self, delivery: Delivery) -> None:
        """Process one delivery; never raises for a job's own failure."""
        try:
            message = JobMessage.from_json(delivery.body)
        except UnsupportedVersion as exc:
            log.warning("message %s: %s; returning it for a newer worker", delivery.message_id, exc)
            self._release(delivery, self._backoff(delivery))
            return
        except MessageError as exc:
            log.error("message %s is unreadable (%s); leaving it for the dead-letter queue", delivery.message_id, exc)
            self._release(delivery, 0)
            return
        try:
            self._process(message, delivery)
        except ServiceUnavailable as exc:
            self._retry_later(message, delivery, f"storage or queue unavailable: {exc}")
        except Exception as exc:  # the job boundary: any bug is logged and retried, never kills the loop
            log.exception("job %s: unexpected error", message.job_id)
            self._retry_later(message, delivery, f"internal error: {type(exc).__name__}")

    def _process(self, message: JobMessage, delivery: Delivery) -> None:
        status = self.store.read_status(message.job_id)
        if status is not None and status.state.terminal:
            log.info("job %s already %s; acknowledging a repeat delivery", message.job_id, status.state)
            self.queue.delete(delivery)
            return
        if status is None:  # the status document was lost; the message is the source of truth
            status = JobStatus.new(message.job_id, message.kind, message.ratio, message.submitted_at)
        status = status.processing(self.settings.worker_id, delivery.receive_count, iso_now())
        self.store.write_status(status)
        log.info("job %s: processing (%s, attempt %d)", message.job_id, message.kind, delivery.receive_count)

        interval = self.settings.heartbeat_seconds
        with Heartbeat(self.queue, delivery, self.settings.lease_seconds, interval):
            data = self.store.get(message.upload_key)
            if data is None:
                self._fail(status, delivery, JobError("upload-missing", "the uploaded file is no longer stored"))
                return
            try:
                enhanced = run_pipeline(data, message.kind, message.ratio, self.enhancer)
            except InputError as exc:
                self._fail(status, delivery, JobError(exc.code, exc.message))
                return
            key = self.store.put_result(message.job_id, enhanced.jpeg)

        result = JobResult(key=key, width=enhanced.width, height=enhanced.height, bytes=len(enhanced.jpeg))
        status = status.done(result, enhanced.ratio_used, enhanced.method, enhanced.timings, iso_now())
        self.store.write_status(status)  # the result exists before anyone is told it is done
        self.queue.delete(delivery)
        self.jobs_done += 1
        timings = " ".join(f"{k}={v:.2f}s" for k, v in enhanced.timings.items())
        log.info(
            "job %s: done %dx%d ratio=%.1f %s",
            message.job_id,
            result.width,
            result.height,
            enhanced.ratio_used,
            timings,
        )

    # -- failure paths ------------------------------------------------------

    def _fail(self, status: JobStatus, delivery: Delivery, error: JobError) -> None:
        self.store.write_status(status.failed(error, iso_now()))
        self.queue.delete(delivery)
        log.info("job %s: failed: %s (%s)", status.job_id, error.message, error.code)

    def _retry_later(self, message: JobMessage, delivery: Delivery, reason: str) -> None:
        """A transient failure: let SQS deliver again after a backoff, or give up on the last attempt."""
        last = self.max_receives is not None and delivery.receive_count >= self.max_receives
        try:
            status = self.store.read_status(message.job_id) or JobStatus.new(
                message.job_id, message.kind, message.ratio, message.submitted_at
            )
            attempt = f"attempt {delivery.receive_count}" + (f" of {self.max_receives}" if self.max_receives else "")
            if last:
                error = JobError("gave-up", f"processing failed on every attempt ({attempt}): {reason}")
                self.store.write_status(status.failed(error, iso_now()))
            else:
                self.store.write_status(status.requeued(f"{attempt} failed ({reason}); retrying", iso_now()))
        except ServiceUnavailable as exc:
            log.warning("job %s: could not record the failure: %s", message.job_id, exc)
        log.warning("job %s: %s%s", message.job_id, reason, "; giving up" if last else "; will retry")
        self._release(delivery, self._backoff(delivery))

    def _backoff(self, delivery: Delivery) -> int:
        return int(min(self.settings.retry_base_seconds * 2 ** (delivery.receive_count - 1), 900))

    def _release(self, delivery: Delivery, after_seconds: int) -> None:
        try:
            self.queue.set_visibility(delivery, after_seconds)
        except ServiceUnavailable as exc:  # the lease will run out by itself
            log.warning("could not hand message %s back: %s", delivery.message_id, exc)

    def sweep_dead_letters(self) -> int:
        """Mark the jobs of dead-lettered messages failed; returns how many were marked."""
        now = self.clock()
        if now - self._last_sweep < self.settings.dead_letter_sweep_seconds:
            return 0
        self._last_sweep = now
        marked = 0
        try:
            for delivery in self.dead_letters.receive_batch(wait_seconds=0, max_messages=10):
                marked += self._mark_dead_lettered(delivery)
                self.dead_letters.set_visibility(delivery, DEAD_LETTER_HOLD_SECONDS)
        except ServiceUnavailable as exc:
            log.warning("dead-letter sweep failed: %s", exc)
        return marked

    def _mark_dead_lettered(self, delivery: Delivery) -> int:
        job_id = dead_lettered_job_id(delivery.body)
        status = self.store.read_status(job_id) if job_id else None
        if status is None or status.state.terminal:
            return 0
        error = JobError(
            "worker-crashed",
            "processing stopped unexpectedly on every attempt (the worker crashed or was lost, or could not "
            "read the job); the job was moved to the dead-letter queue",
        )
        self.store.write_status(status.failed(error, iso_now()))
        log.error("job %s: dead-lettered after repeated failures; marked failed", job_id)
        return 1

    # -- signals ------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.stop_requested:
            log.warning("second %s: exiting now", name)
            os._exit(128 + signum)
        self.stop_requested = True
        if self._busy:
            log.info("%s: finishing the current job, then stopping", name)
        else:
            log.info("%s: stopping", name)
            raise StopRequested
