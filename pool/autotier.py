"""``DARKROOM_TIER=auto`` in the API: the rule of pool/tiers.py run on shared state, and the mapping switched.

Which tier serves is the event source mapping's own ``Enabled`` state
(pool/switch.py), so it never disagrees with what Lambda does. What the rule
remembers, arrivals a minute over the last hour and when traffic was last
busy, is one small record, ``pool/tier.json``, that every API host reads and
updates with a conditional PUT (``If-Match`` on the ETag it read; a writer
that loses reads again and applies its change to the winner's record), like
the pool's slots. Arrivals are counted by each host's timer from its own
submit counter (api/tick.py), so the request path pays nothing for them.

Spot workers launched while the pool served stop themselves once idle after
the switch back; until then both tiers take jobs from the one queue, which
is safe (each job runs the same code and a second delivery of a finished job
is acknowledged, not redone).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from jobs.aws import Conflict, ServiceUnavailable
from jobs.bucket import Bucket
from jobs.queue import JobQueue
from pool.switch import LambdaTier
from pool.tiers import LAMBDA, POOL, AutoThresholds, TierRecord, observed, tier_for, traffic_of

log = logging.getLogger(__name__)

TIER_KEY = "pool/tier.json"
WRITE_TRIES = 5


class TierBook:
    """The shared record in S3, read and replaced conditionally."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def read(self) -> tuple[TierRecord, str]:
        """The record and its ETag ('' when there is none yet: the first write creates it)."""
        found = self.bucket.find(TIER_KEY)
        return (TierRecord(), "") if found is None else (TierRecord.from_json(found.body), found.etag)

    def update(self, change: Callable[[TierRecord], TierRecord]) -> TierRecord:
        """Apply ``change`` to the stored record and store it, unless another writer wins each try."""
        for _ in range(WRITE_TRIES):
            record, etag = self.read()
            changed = change(record)
            if changed == record:
                return record
            try:
                self.bucket.write(TIER_KEY, changed.to_json().encode(), if_match=etag, create=not etag)
            except Conflict:
                continue
            return changed
        raise ServiceUnavailable(f"{TIER_KEY}: {WRITE_TRIES} writers changed it first in a row")


class AutoTier:
    """Decides which tier serves and switches the mapping to it; remembers its last decision for a while."""

    def __init__(
        self,
        book: TierBook,
        tier: LambdaTier,
        queue: JobQueue,
        thresholds: AutoThresholds,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.book = book
        self.tier = tier
        self.queue = queue
        self.thresholds = thresholds
        self.clock = clock
        self._guard = threading.Lock()
        self._last: tuple[float, str] | None = None

    def decide(self, arrivals: int = 0) -> str:
        """Count ``arrivals`` (jobs submitted on this host since its last count), run the rule, switch if it
        says so; the tier serving now. Raises ServiceUnavailable when S3, SQS or Lambda cannot be reached."""
        now = self.clock()
        depth = self.queue.depth()
        backlog = depth.visible + depth.in_flight
        record = self.book.update(lambda stored: observed(stored, arrivals, backlog, now, self.thresholds))
        traffic = traffic_of(record, backlog, now)
        serving = LAMBDA if self.tier.enabled() else POOL
        wanted = tier_for(serving, traffic, self.thresholds)
        if wanted != serving:
            log.warning(
                "auto: %s serves from now (%d arrivals in the last hour, %d waiting, quiet %.0f s)",
                wanted,
                traffic.arrivals_per_hour,
                traffic.backlog,
                traffic.quiet_seconds,
            )
            self.tier.turn(wanted == LAMBDA)
        with self._guard:
            self._last = (self.clock(), wanted)
        return wanted

    def recent(self, max_age: float) -> str:
        """The last decision of this process if at most ``max_age`` seconds old, else a new one.

        The request path comes here: at most one decision per process per ``max_age``. When AWS
        cannot be reached it keeps the last decision, or the pool with none (spot workers serve
        every job; the function may too): a request never fails over it.
        """
        with self._guard:
            last = self._last
        if last is not None and self.clock() - last[0] <= max_age:
            return last[1]
        try:
            return self.decide()
        except ServiceUnavailable as exc:
            log.warning("auto: could not decide the tier (%s); %s serves meanwhile", exc, last[1] if last else POOL)
            return last[1] if last else POOL
