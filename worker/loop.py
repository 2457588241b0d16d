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

Jobs overlap (``settings.pipeline_depth``, see worker/overlap.py): the next
job downloads and decodes, and the previous one encodes and uploads, while
the current one is enhanced. Each runs ``handle`` on its own thread with its
own lease; depth 1 runs every job on the loop's thread, one after another.

Signals (as in rq): the first SIGTERM or SIGINT lets the jobs in flight finish
and then stops; when idle it stops at once. A second signal exits immediately
(the messages return to the queue when their leases run out).

On a spot instance (``metadata`` given) the worker also:

- keeps its record in S3 (``WorkerRecorder``): ready, busy, draining, stopped;
- stops after ``idle_seconds`` with nothing to do, so its instance powers off
  and the pool scales to zero;
- drains on a spot interruption or rebalance notice: it takes no new work (a
  message received during the notice goes straight back), finishes the
  running job if it is expected to end before AWS acts, with a margin, and
  otherwise hands its message back at once (visibility 0) and discards its
  own result when the computation returns; then it stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from jobs.aws import Conflict, ServiceUnavailable
from jobs.message import JobMessage, MessageError, UnsupportedVersion
from jobs.queue import Delivery, JobQueue
from jobs.status import JobError, JobResult, JobStatus, iso_now
from jobs.store import JobStore
from worker.dead_letters import sweep_dead_letters
from worker.frames import Enhancer, InputError
from worker.heartbeat import Heartbeat
from worker.imds import InstanceMetadata, Notice
from worker.lifecycle import Lease, NoticeWatcher, WorkerRecorder, fits_before
from worker.overlap import JobSlots, TakingTurns
from worker.pipeline import run_pipeline
from worker.settings import WorkerSettings
from worker.webhooks import WebhookSender

log = logging.getLogger(__name__)


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
        recorder: WorkerRecorder | None = None,
        metadata: InstanceMetadata | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.queue = queue
        self.dead_letters = dead_letters
        self.slots = JobSlots(settings.pipeline_depth)
        self.enhancer: Enhancer = enhancer if settings.pipeline_depth == 1 else TakingTurns(enhancer)
        self.clock = clock
        # off an instance the record stays in memory: the drain still reads the mean service time from it
        self.recorder = recorder or WorkerRecorder(None, settings.worker_id, time.time(), settings.heartbeat_seconds)
        self.metadata = metadata  # None: not on an instance (no notices, no idle stop)
        self.max_receives = queue.max_receives()
        self.jobs_done = 0
        self.stop_reason: str | None = None  # set once: a signal's name, a notice's reason, "idle", "max-jobs"
        self.stop_requested = False  # by a signal
        self.notice: Notice | None = None
        self._busy = False  # the loop's own thread is running a job or waiting for jobs to end: signals wait
        self._leases: dict[str, Lease] = {}  # the running jobs' deliveries by message id, for the notice watcher
        self._done_lock = threading.Lock()
        self._last_sweep = -float("inf")
        self.webhooks = WebhookSender(settings.webhook, store)  # a job's callback, on a thread of its own

    # -- the loop -----------------------------------------------------------

    def run(self, max_jobs: int | None = None) -> str:
        """Work until stopped (or after ``max_jobs`` deliveries, for tests and benchmarks); returns why it stopped."""
        self._install_signal_handlers()
        boot_seconds = self.recorder.ready(time.time())
        log.info(
            "worker %s ready %.1f s after its process started: method=%s queue=%s",
            self.settings.worker_id,
            boot_seconds,
            self.enhancer.name,
            self.queue.url,
        )
        with self._watching_notices():
            # StopRequested: a signal while idle but outside the long poll (in a dead-letter sweep, say)
            with contextlib.suppress(StopRequested):
                self._work(max_jobs)
            self._busy = True  # a first signal from here on only waits for the jobs in flight
            self.slots.wait_all()
        reason = self.stop_reason or "stopped"
        self.recorder.stopped(reason)
        log.info("worker %s stopped (%s) after %d jobs", self.settings.worker_id, reason, self.jobs_done)
        return reason

    def _work(self, max_jobs: int | None) -> None:
        handled = 0
        last_work = self.clock()
        while self.stop_reason is None:
            if max_jobs is not None and handled >= max_jobs:
                self.stop_reason = "max-jobs"
                break
            self.slots.wait_for_free()  # at most pipeline_depth messages held at once
            if self.stop_reason is not None:
                break
            try:
                delivery = self.queue.receive(self.settings.wait_seconds)
            except StopRequested:
                break
            except ServiceUnavailable as exc:
                log.warning("cannot reach the queue (%s); retrying in %.0f s", exc, self.settings.retry_base_seconds)
                time.sleep(self.settings.retry_base_seconds)
                continue
            if delivery is None:
                if self.slots.in_flight:  # sweep and idle-stop only when nothing runs
                    last_work = self.clock()
                    continue
                self.sweep_dead_letters()
                if self._idle_too_long(since=last_work):
                    log.info("idle for %.0f s: stopping", self.clock() - last_work)
                    self.stop_reason = "idle"
                continue
            if self.stop_reason is not None:  # a notice came during the long poll: take no new work
                log.info("message %s: draining, handing it back", delivery.message_id)
                self._release(delivery, 0)
                break
            self._start(delivery)
            handled += 1
            last_work = self.clock()

    def _idle_too_long(self, since: float) -> bool:
        """On an instance a worker with nothing to do stops, and its instance with it: the pool scales to zero."""
        idle = self.settings.idle_seconds
        return self.metadata is not None and idle > 0 and self.clock() - since >= idle

    def _start(self, delivery: Delivery) -> None:
        """Run the delivery's job: on this thread at depth 1, else on a slot of its own."""
        if self.slots.depth == 1:
            self._busy = True
            try:
                self.handle(delivery)
            finally:
                self._busy = False
        else:
            self.slots.start(lambda: self.handle(delivery), name=f"job-{delivery.message_id[:8]}")

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
        started = self.clock()
        try:
            self._process(message, delivery)
        except ServiceUnavailable as exc:
            self._retry_later(message, delivery, f"storage or queue unavailable: {exc}")
        except Exception as exc:  # the job boundary: any bug is logged and retried, never kills the loop
            log.exception("job %s: unexpected error", message.job_id)
            self._retry_later(message, delivery, f"internal error: {type(exc).__name__}")
        finally:
            self._leases.pop(delivery.message_id, None)
        self.recorder.job_ended(self.clock() - started, self.jobs_done)

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
            lease = self._hold(Lease(delivery, status, heartbeat, self.clock()))
            if lease.handed_back:
                return
            data = self.store.get(message.upload_key)
            if data is None:
                self._fail(lease, JobError("upload-missing", "the uploaded file is no longer stored"))
                return
            try:
                enhanced = run_pipeline(data, message.kind, message.ratio, self.enhancer)
            except InputError as exc:
                self._fail(lease, JobError(exc.code, exc.message))
                return
            if not lease.settle(Lease.LOOP):
                log.info("job %s: discarding this worker's result: its message was handed back", message.job_id)
                return
            key = self.store.put_result(message.job_id, enhanced.jpeg)

        result = JobResult(key=key, width=enhanced.width, height=enhanced.height, bytes=len(enhanced.jpeg))
        status = status.done(result, enhanced.ratio_used, enhanced.method, enhanced.timings, iso_now())
        try:
            self.store.write_status(status, if_match=ours)  # the result exists before anyone is told it is done
        except Conflict:
            log.warning("job %s: taken over by another worker while this one ran long; leaving it", message.job_id)
            return
        self.queue.delete(delivery)
        self.webhooks.job_ended(status)
        with self._done_lock:
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

    def _fail(self, lease: Lease, error: JobError) -> None:
        if not lease.settle(Lease.LOOP):  # handed back: the next worker will meet the same fault
            return
        failed = lease.status.failed(error, iso_now())
        self.store.write_status(failed)
        self.queue.delete(lease.delivery)
        self.webhooks.job_ended(failed)
        log.info("job %s: failed: %s (%s)", lease.status.job_id, error.message, error.code)

    def _retry_later(self, message: JobMessage, delivery: Delivery, reason: str) -> None:
        """A transient failure: let SQS deliver again after a backoff, or give up on the last attempt."""
        lease = self._leases.get(delivery.message_id)
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
        self._release(delivery, self._backoff(delivery))

    def _backoff(self, delivery: Delivery) -> int:
        return int(min(self.settings.retry_base_seconds * 2 ** (delivery.receive_count - 1), 900))

    def _release(self, delivery: Delivery, after_seconds: int) -> None:
        try:
            self.queue.set_visibility(delivery, after_seconds)
        except ServiceUnavailable as exc:  # the lease will run out by itself
            log.warning("could not hand message %s back: %s", delivery.message_id, exc)

    def sweep_dead_letters(self) -> int:
        """Now and then, when idle: mark the jobs of dead-lettered messages failed; returns how many were marked."""
        now = self.clock()
        if now - self._last_sweep < self.settings.dead_letter_sweep_seconds:
            return 0
        self._last_sweep = now
        try:
            return sweep_dead_letters(self.store, self.dead_letters)
        except ServiceUnavailable as exc:
            log.warning("dead-letter sweep failed: %s", exc)
            return 0

    # -- draining: spot notices ----------------------------------------------

    def _watching_notices(self) -> contextlib.AbstractContextManager[object]:
        if self.metadata is None:
            return contextlib.nullcontext()
        return NoticeWatcher(self.metadata, self.settings.notice_poll_seconds, self.on_notice)

    def on_notice(self, notice: Notice) -> None:
        """Called by the notice watcher on every poll that sees a notice: take no new work, review the running jobs."""
        if notice != self.notice:
            deadline = (
                f"; AWS will {notice.action} the instance at {notice.deadline:%H:%M:%S}" if notice.deadline else ""
            )
            log.warning("%s notice%s: taking no new work", notice.reason, deadline)
            self.notice = notice
            if self.stop_reason is None:
                self.stop_reason = notice.reason
                self.recorder.draining(notice.reason)
        for lease in list(self._leases.values()):
            self._review_lease(lease)

    def _hold(self, lease: Lease) -> Lease:
        """Make a running job's delivery visible to the notice watcher; a notice already seen reviews it now."""
        self._leases[lease.delivery.message_id] = lease
        self._review_lease(lease)
        return lease

    def _review_lease(self, lease: Lease) -> None:
        """Hand a running job's message back at once if it is not expected to finish before AWS acts.

        Runs on the watcher's thread (or the job's, as it starts). The lease
        decides who settles the delivery: if the job is already writing its
        result, it finishes."""
        notice = self.notice
        if notice is None:
            return
        elapsed = self.clock() - lease.started
        expected = self.recorder.service_seconds
        if fits_before(notice.deadline, datetime.now(UTC), elapsed, expected, self.settings.notice_margin_seconds):
            return
        if not lease.claim_hand_back():  # the loop has it, or it went back already
            return
        lease.heartbeat.stop()  # else its next beat would hide the message again
        note = f"its worker's instance is being reclaimed ({notice.reason}); handed back to the queue"
        try:  # before the message is visible, so this never overwrites the next worker's "processing"
            self.store.write_status(lease.status.requeued(note, iso_now()))
        except ServiceUnavailable as exc:
            log.warning("job %s: could not record the hand-back: %s", lease.status.job_id, exc)
        self._release(lease.delivery, 0)
        self.recorder.handed_back()
        log.warning(
            "job %s: handed back after %.1f s (expected %s s, deadline too near)",
            lease.status.job_id,
            elapsed,
            "?" if expected is None else f"{expected:.1f}",
        )

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
        first_reason = self.stop_reason is None
        self.stop_reason = self.stop_reason or name
        if self._busy or self.slots.in_flight:
            log.info("%s: finishing the jobs in flight, then stopping", name)
            if first_reason:  # written from a thread: this handler may have interrupted the loop inside a write
                threading.Thread(target=self.recorder.draining, args=(name,), daemon=True).start()
        else:
            log.info("%s: stopping", name)
        if not self._busy:  # the loop is polling or waiting for a free slot: break out now
            raise StopRequested
