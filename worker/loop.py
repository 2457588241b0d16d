"""The worker: one readable loop over the job queue.

receive (long poll) -> read status -> processing -> decode, enhance, encode
-> result to S3 -> done -> delete the message. What can go wrong, and what
happens:

- the input is bad (``InputError``): the job fails at once with a message a
  person can read, and the message is deleted: retrying cannot help;
- S3/SQS trouble or an unexpected error: the job is queued again with a note
  and its message comes back after a backoff (worker/job.py); after the
  queue's maxReceiveCount SQS moves it to the dead-letter queue, where an idle
  worker's sweep marks its job failed (worker/dead_letters.py);
- the worker dies mid-job (crash, SIGKILL, lost instance): the heartbeat stops,
  the lease runs out, and another worker gets the message;
- a second delivery of a finished job is acknowledged without recomputing.

Jobs overlap (``settings.pipeline_depth``, worker/overlap.py): the next job
downloads and decodes, and the previous one encodes and uploads, while the
current one is enhanced, each on its own thread with its own lease.

Signals (as in rq): the first SIGTERM or SIGINT lets the jobs in flight finish
and then stops; when idle it stops at once. A second signal exits immediately
(the messages return to the queue when their leases run out).

On a spot instance (``metadata`` given) the worker also keeps its record in S3
(``WorkerRecorder``), stops after ``idle_seconds`` with nothing to do (its
instance powers off: the pool scales to zero), and drains on a spot
interruption or rebalance notice (worker/drain.py).
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

from jobs.aws import ServiceUnavailable
from jobs.keepwarm import may_stop
from jobs.queue import Delivery, JobQueue
from jobs.store import JobStore
from worker.dead_letters import sweep_dead_letters
from worker.drain import Drain
from worker.frames import Enhancer
from worker.heartbeat import release
from worker.imds import InstanceMetadata
from worker.job import JobRunner
from worker.lifecycle import WorkerRecorder
from worker.metrics import MetricsSink
from worker.overlap import JobSlots, TakingTurns
from worker.settings import WorkerSettings

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
        metrics: MetricsSink | None = None,
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
        self.stop_reason: str | None = None  # set once: a signal's name, a notice's reason, "idle", "max-jobs"
        self.stop_requested = False  # by a signal
        self.drain = Drain(store, queue, self.recorder, settings.notice_margin_seconds, self._drain_for, clock)
        self.jobs = JobRunner(settings, store, queue, self.enhancer, self.recorder, self.drain, clock, metrics)
        self._busy = False  # the loop's own thread is running a job or waiting for jobs to end: signals wait
        self._last_sweep = -float("inf")

    @property
    def jobs_done(self) -> int:
        return self.jobs.done

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
        with self.drain.watching(self.metadata, self.settings.notice_poll_seconds):
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
                if self._idle_too_long(since=last_work) and not self._kept_warm():
                    log.info("idle for %.0f s: stopping", self.clock() - last_work)
                    self.stop_reason = "idle"
                continue
            if self.stop_reason is not None:  # a notice came during the long poll: take no new work
                log.info("message %s: draining, handing it back", delivery.message_id)
                release(self.queue, delivery, 0)
                break
            self._start(delivery)
            handled += 1
            last_work = self.clock()

    def _idle_too_long(self, since: float) -> bool:
        """On an instance a worker with nothing to do stops, and its instance with it: the pool scales to zero."""
        idle = self.settings.idle_seconds
        return self.metadata is not None and idle > 0 and self.clock() - since >= idle

    def _kept_warm(self) -> bool:
        """Whether this idle worker stays because stopping would take the pool under its keep-warm floor."""
        floor = self.settings.keep_warm.floor_at(datetime.now(UTC))
        if floor == 0:
            return False
        try:
            stays = not may_stop(self.store.read_workers(), floor)
        except ServiceUnavailable as exc:  # unsure: stay, and ask again after the next empty poll
            log.warning("cannot read the pool's workers (%s); staying", exc)
            return True
        if stays:
            log.info("idle, but kept warm: the pool keeps %d worker(s) now", floor)
        return stays

    def _start(self, delivery: Delivery) -> None:
        """Run the delivery's job: on this thread at depth 1, else on a slot of its own."""
        if self.slots.depth == 1:
            self._busy = True
            try:
                self.jobs.handle(delivery)
            finally:
                self._busy = False
        else:
            self.slots.start(lambda: self.jobs.handle(delivery), name=f"job-{delivery.message_id[:8]}")

    def sweep_dead_letters(self) -> int:
        """Now and then, when idle: mark the jobs of dead-lettered messages failed, and deliver the callbacks
        stopped workers owed (worker/outbox.py); returns how many jobs were marked failed."""
        now = self.clock()
        if now - self._last_sweep < self.settings.dead_letter_sweep_seconds:
            return 0
        self._last_sweep = now
        try:
            self.jobs.webhooks.resume_abandoned()
        except ServiceUnavailable as exc:
            log.warning("outbox sweep failed: %s", exc)
        try:
            marked = sweep_dead_letters(self.store, self.dead_letters)
        except ServiceUnavailable as exc:
            log.warning("dead-letter sweep failed: %s", exc)
            return 0
        self.jobs.dead_lettered(marked)
        return marked

    def _drain_for(self, reason: str) -> None:
        """A spot notice: take no new work (the first reason to stop is the one recorded)."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.recorder.draining(reason)

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
