"""Keep a message invisible while its job runs, and hand it back when it should run elsewhere.

Without this a job slower than the queue's visibility timeout would be handed
to a second worker while the first still works on it. A dead worker stops
renewing, so its message comes back within one lease.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

from jobs.aws import ServiceUnavailable
from jobs.queue import Delivery, JobQueue

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews the lease every ``interval`` until stopped, or until ``max_seconds`` (the job's time limit):
    past it a job that hangs where nothing can kill it lets its message go back to the queue."""

    def __init__(
        self, queue: JobQueue, delivery: Delivery, lease_seconds: int, interval: float, max_seconds: float | None = None
    ) -> None:
        self.queue = queue
        self.delivery = delivery
        self.lease_seconds = lease_seconds
        self.interval = interval
        self.max_seconds = max_seconds
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop renewing; when this returns no renewal is in flight, so a hand-back (visibility 0) sticks."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        deadline = None if self.max_seconds is None else time.monotonic() + self.max_seconds
        while not self._stop.wait(self.interval):
            if deadline is not None and time.monotonic() >= deadline:
                log.warning(
                    "message %s: past the job's %g s limit; its lease is no longer renewed",
                    self.delivery.message_id,
                    self.max_seconds,
                )
                return
            try:
                self.queue.set_visibility(self.delivery, self.lease_seconds)
                self.beats += 1
            except ServiceUnavailable as exc:  # the next beat may get through; the lease has slack
                log.warning("heartbeat for message %s failed: %s", self.delivery.message_id, exc)


def release(queue: JobQueue, delivery: Delivery, after_seconds: int) -> None:
    """Hand a message back: visible again after ``after_seconds`` (0: at once) for another delivery."""
    try:
        queue.set_visibility(delivery, after_seconds)
    except ServiceUnavailable as exc:  # the lease will run out by itself
        log.warning("could not hand message %s back: %s", delivery.message_id, exc)
