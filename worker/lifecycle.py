"""A worker's life on a spot instance: its record, the notices it watches for, the job it may hand back.

- ``WorkerRecorder`` keeps ``workers/{instance_id}.json`` in S3 up to date
  (starting -> ready -> busy -> ready ... -> draining -> stopped), so the API
  can count ready workers, tell a waiting client why it waits and estimate
  when its job runs. A record that stops being refreshed is a worker that is
  gone.
- ``NoticeWatcher`` polls instance metadata for spot interruption and
  rebalance notices: AWS gives two minutes, so a worker must stop taking work
  and decide about the job it runs.
- ``Lease`` and ``fits_before`` decide that job's fate: finish it if it is
  expected to end, with a margin, before AWS acts; else hand the message back
  at once so another worker starts it now rather than after a lease runs out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType

from jobs.aws import ServiceUnavailable
from jobs.pool import WorkerRecord, WorkerState
from jobs.queue import Delivery
from jobs.status import JobStatus, iso_now
from jobs.store import JobStore
from worker.heartbeat import Heartbeat
from worker.imds import REBALANCE, InstanceMetadata, MetadataUnavailable, Notice

log = logging.getLogger(__name__)


def iso_at(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WorkerRecorder:
    """This worker's record, written to S3 on every change and refreshed by a thread while alive.

    Without a store (a worker not on an instance) it keeps the record in memory
    only: the loop still reads the mean service time from it. Once draining,
    the state moves only to stopped; once stopped, it stays.
    """

    def __init__(self, store: JobStore | None, instance_id: str, started_at: float, refresh_seconds: float) -> None:
        self.store = store
        self.started_at = started_at  # epoch seconds the process started
        self.refresh_seconds = refresh_seconds
        self.record = WorkerRecord(
            instance_id, WorkerState.STARTING, started_at=iso_at(started_at), updated_at=iso_now()
        )
        self._timed_jobs = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, name="worker-record", daemon=True)

    def start(self) -> WorkerRecorder:
        """Write STARTING and keep the record fresh until ``stopped``."""
        self._change()
        if self.store is not None:
            self._thread.start()
        return self

    def ready(self, now: float) -> float:
        """Model loaded and warmed: ready for jobs. Returns the seconds since the process started."""
        boot_seconds = round(now - self.started_at, 3)
        self._change(state=WorkerState.READY, ready_at=iso_at(now), boot_seconds=boot_seconds)
        return boot_seconds

    def busy(self, job_id: str) -> None:
        self._change(state=WorkerState.BUSY, job_id=job_id)

    def job_ended(self, seconds: float, jobs_done: int) -> None:
        """The loop settled a job (done, failed or retried): fold its time into the mean service time."""
        with self._lock:
            if self.record.job_id is None:  # no job ran (a repeat delivery), or it was handed back
                return
            self._timed_jobs += 1
            mean = self.record.service_seconds or 0.0
            self._apply(
                state=WorkerState.READY,
                job_id=None,
                jobs_done=jobs_done,
                service_seconds=round(mean + (seconds - mean) / self._timed_jobs, 3),
            )

    def handed_back(self) -> None:
        self._change(job_id=None)

    def draining(self, reason: str) -> None:
        self._change(state=WorkerState.DRAINING, reason=reason)

    def stopped(self, reason: str) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._change(state=WorkerState.STOPPED, job_id=None, reason=reason)

    @property
    def service_seconds(self) -> float | None:
        return self.record.service_seconds

    def _change(self, **changes: object) -> None:
        with self._lock:
            self._apply(**changes)

    def _apply(self, **changes: object) -> None:
        """Under the lock, with the write, so an older state never overwrites a newer one."""
        if self.record.state is WorkerState.STOPPED:
            return
        if self.record.state is WorkerState.DRAINING and changes.get("state") in (WorkerState.READY, WorkerState.BUSY):
            del changes["state"]
        self.record = self.record.but(**changes, updated_at=iso_now())
        self._write()

    def _write(self) -> None:
        if self.store is None:
            return
        try:
            self.store.write_worker(self.record)
        except ServiceUnavailable as exc:  # the next change or refresh may get through
            log.warning("could not write the worker record: %s", exc)

    def _refresh(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            self._change()


class NoticeWatcher:
    """A thread that polls instance metadata and passes every notice it sees to ``on_notice``.

    It keeps passing the notice on each poll, so the receiver can look again at
    a running job as the deadline nears."""

    def __init__(self, metadata: InstanceMetadata, interval: float, on_notice: Callable[[Notice], None]) -> None:
        self.metadata = metadata
        self.interval = interval
        self.on_notice = on_notice
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notice-watcher", daemon=True)

    def __enter__(self) -> NoticeWatcher:
        self._check()  # a notice that came before the loop starts stops it before it takes a job
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def poll(self) -> Notice | None:
        """The interruption notice if there is one, else a rebalance recommendation, else None."""
        try:
            notice = self.metadata.interruption()
            if notice is None and self.metadata.rebalance():
                notice = Notice(REBALANCE)
        except MetadataUnavailable as exc:  # the next poll may get through
            log.warning("cannot read instance metadata: %s", exc)
            return None
        return notice

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._check()

    def _check(self) -> None:
        notice = self.poll()
        if notice is not None:
            self.on_notice(notice)


def fits_before(
    deadline: datetime | None, now: datetime, elapsed: float, expected_seconds: float | None, margin_seconds: float
) -> bool:
    """Whether a running job should be finished rather than handed back.

    It should when its expected remaining time plus a margin (to write the
    result and stop) ends before the deadline. No deadline (a rebalance
    recommendation): it always fits. No estimate yet (this worker's first
    job): it fits until only the margin is left; the watcher asks again on
    every poll."""
    if deadline is None:
        return True
    remaining = 0.0 if expected_seconds is None else max(expected_seconds - elapsed, 0.0)
    return (deadline - now).total_seconds() >= remaining + margin_seconds


class Lease:
    """The delivery a job runs under, and who settles it.

    Two threads may want to: the loop, to write the job's outcome, and the
    notice watcher, to hand the message back. Whichever asks first wins; the
    other leaves the delivery alone. So a job is never both handed back and
    marked done by this worker."""

    LOOP = "loop"
    HAND_BACK = "hand-back"

    def __init__(
        self, delivery: Delivery, status: JobStatus, heartbeat: Heartbeat, started: float, version: str = ""
    ) -> None:
        self.delivery = delivery
        self.status = status  # the job as this worker marked it: processing
        self.version = version  # that write's ETag: a later write by this worker is conditional on it
        self.heartbeat = heartbeat
        self.started = started  # monotonic seconds
        self._settled_by: str | None = None
        self._lock = threading.Lock()

    def settle(self, by: str) -> bool:
        """Claim the delivery for ``by``; False when the other side already has it."""
        with self._lock:
            if self._settled_by is None:
                self._settled_by = by
            return self._settled_by == by

    def claim_hand_back(self) -> bool:
        """Claim the delivery to hand it back: True the first time only, False once anyone has it.

        The watcher reviews the lease on every poll; a second hand-back would
        overwrite the status of the worker that has received the message since."""
        with self._lock:
            if self._settled_by is not None:
                return False
            self._settled_by = Lease.HAND_BACK
            return True

    @property
    def handed_back(self) -> bool:
        return self._settled_by == Lease.HAND_BACK
