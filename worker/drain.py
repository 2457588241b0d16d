"""Draining on a spot notice: take no new work, and hand back each running job that would not end in time.

The notice watcher (``worker.lifecycle.NoticeWatcher``) calls ``on_notice`` on
every poll that sees a notice. Each running job's lease is held here from its
start, so a job that starts while a notice stands is reviewed at once. A job
expected to end, with a margin, before AWS acts finishes; any other has its
message handed back at once (visibility 0), so another worker starts it now
rather than after its lease runs out, and its own result is discarded.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from jobs.aws import Conflict, ServiceUnavailable
from jobs.queue import JobQueue
from jobs.status import iso_now
from jobs.store import JobStore
from worker.heartbeat import release
from worker.imds import InstanceMetadata, Notice
from worker.lifecycle import Lease, NoticeWatcher, WorkerRecorder, fits_before

log = logging.getLogger(__name__)


class Drain:
    def __init__(
        self,
        store: JobStore,
        queue: JobQueue,
        recorder: WorkerRecorder,
        margin_seconds: float,
        stop: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.queue = queue
        self.recorder = recorder
        self.margin_seconds = margin_seconds
        self.stop = stop  # the worker takes no new work, for this reason
        self.clock = clock
        self.notice: Notice | None = None
        self.leases: dict[str, Lease] = {}  # the running jobs' by message id

    def watching(
        self, metadata: InstanceMetadata | None, poll_seconds: float
    ) -> contextlib.AbstractContextManager[object]:
        """Watch for notices while the worker runs; off an instance there are none."""
        if metadata is None:
            return contextlib.nullcontext()
        return NoticeWatcher(metadata, poll_seconds, self.on_notice)

    def on_notice(self, notice: Notice) -> None:
        """Take no new work, and review the running jobs (on every poll: a job's expected end moves)."""
        if notice != self.notice:
            deadline = (
                f"; AWS will {notice.action} the instance at {notice.deadline:%H:%M:%S}" if notice.deadline else ""
            )
            log.warning("%s notice%s: taking no new work", notice.reason, deadline)
            self.notice = notice
            self.stop(notice.reason)
        for lease in list(self.leases.values()):
            self.review(lease)

    def hold(self, lease: Lease) -> Lease:
        """Make a running job's delivery visible to the notice watcher; a notice already seen reviews it now."""
        self.leases[lease.delivery.message_id] = lease
        self.review(lease)
        return lease

    def review(self, lease: Lease) -> None:
        """Hand a running job's message back at once if it is not expected to finish before AWS acts.

        Runs on the watcher's thread (or the job's, as it starts). The lease
        decides who settles the delivery: if the job is already writing its
        result, it finishes."""
        notice = self.notice
        if notice is None:
            return
        elapsed = self.clock() - lease.started
        expected = self.recorder.service_seconds
        if fits_before(notice.deadline, datetime.now(UTC), elapsed, expected, self.margin_seconds):
            return
        if not lease.claim_hand_back():  # the loop has it, or it went back already
            return
        lease.heartbeat.stop()  # else its next beat would hide the message again
        note = f"its worker's instance is being reclaimed ({notice.reason}); handed back to the queue"
        try:  # before the message is visible, and only over this worker's "processing"
            self.store.write_status(lease.status.requeued(note, iso_now()), if_match=lease.version)
        except Conflict:
            log.warning("job %s: changed by another writer; the hand-back is not recorded", lease.status.job_id)
        except ServiceUnavailable as exc:
            log.warning("job %s: could not record the hand-back: %s", lease.status.job_id, exc)
        release(self.queue, lease.delivery, 0)
        self.recorder.handed_back()
        log.warning(
            "job %s: handed back after %.1f s (expected %s s, deadline too near)",
            lease.status.job_id,
            elapsed,
            "?" if expected is None else f"{expected:.1f}",
        )
