"""A per-process cache of finished jobs' status documents.

``done`` and ``canceled`` are final: no worker ever writes a job's status
again after it (the worker's done write is conditional on its own processing
version, and a repeat delivery of a finished job is acknowledged without a
write). So once a poll has read a terminal status from S3 it can be served
from memory for as long as the process lives, and the S3 GET (the slowest
part of a poll) is paid once per job and process instead of on every poll.
Queued and processing statuses change and are never cached, nor are failed
ones: an operator may redrive them. The presigned
result URL of a done job is reused for a tenth of its validity, for the same
reason (``ResultUrlCache``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from jobs.status import JobState, JobStatus

CACHED_STATES = (JobState.DONE, JobState.CANCELED)  # failed can be redriven (jobs/dead_letters.py)
DEFAULT_ENTRIES = 10_000  # a status document is ~1 kB: about 10 MB per API process at most


class TerminalStatusCache:
    """A thread-safe LRU of terminal ``JobStatus`` objects by job id."""

    def __init__(self, max_entries: int = DEFAULT_ENTRIES) -> None:
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, JobStatus] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job_id: str) -> JobStatus | None:
        with self._lock:
            status = self._entries.get(job_id)
            if status is None:
                self.misses += 1
                return None
            self._entries.move_to_end(job_id)
            self.hits += 1
            return status

    def remember(self, status: JobStatus) -> None:
        """Keep ``status`` if it is done or canceled; anything else may still change and is ignored.

        A failed job is final for workers, but an operator may redrive it (``darkroom dlq redrive``).
        """
        if status.state not in CACHED_STATES or self.max_entries <= 0:
            return
        with self._lock:
            self._entries[status.job_id] = status
            self._entries.move_to_end(status.job_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class ResultUrlCache:
    """Presigned result URLs, reused while young.

    Signing a URL is over half of a done job's poll (botocore resolves the
    endpoint and signs on every call). A URL made for ``expiry`` seconds and
    reused only within its first ``max_age`` seconds is still valid for at
    least ``expiry - max_age`` when a client gets it."""

    def __init__(
        self, max_age: float, max_entries: int = DEFAULT_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age = max_age
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self.clock() - entry[1] > self.max_age:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def remember(self, key: str, url: str) -> None:
        with self._lock:
            self._entries[key] = (url, self.clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
