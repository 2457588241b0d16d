"""``DARKROOM_TIER=auto`` in the API: the rule of pool/tiers.py run on shared state, and the mapping switched.

Which tier serves is the event source mapping's own ``Enabled`` state
(pool/switch.py), so it never disagrees with what Lambda does. What the rule
remembers, arrivals a minute over the last hour and when traffic was last
busy, is one small record, ``pool/tier.json``, that every API host reads and
updates with a conditional PUT (``If-Match`` on the ETag it read; a writer
that loses reads again and applies its change to the winner's record), like
the pool's slots. Arrivals are counted by each host's timer from its own
submit counter (api/tick.py), so the request path pays nothing for them.
Only the timer decides and switches; requests read the mapping's state,
at most once per process per tick (``AutoTier.recent``).

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
from pool.tiers import LAMBDA, POOL, AutoThresholds, TierRecord, Traffic, observed, tier_for, traffic_of

log = logging.getLogger(__name__)

TIER_KEY = "pool/tier.json"
WRITE_TRIES = 5


class TierBook:
    """The shared record in S3, read and replaced conditionally."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def read(self) -> tuple[TierRecord, str]:
        """The record and its ETag ('' when there is none yet: the first write creates it).

        A record that does not parse is read as a fresh one with its ETag, so the next write replaces it:
        a tick must not fail on it for ever."""
        found = self.bucket.find(TIER_KEY)
        if found is None:
            return TierRecord(), ""
        try:
            return TierRecord.from_json(found.body), found.etag
        except (ValueError, KeyError, TypeError) as exc:  # json's errors are ValueErrors
            log.error("%s is not a tier record (%s): starting it afresh", TIER_KEY, exc)
            return TierRecord(), found.etag

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

    def decide(self, arrivals: int = 0, pool_capped: str | None = None) -> str:
        """Count ``arrivals`` (jobs submitted on this host since its last count), run the rule, switch if it
        says so; the tier serving now. Raises ServiceUnavailable when S3, SQS or Lambda cannot be reached.

        ``pool_capped``: why the pool can launch nothing today (its daily cap used up), or None. Then the
        function serves whatever the traffic: a busy queue handed to a pool that cannot launch would wait
        for midnight."""
        now = self.clock()
        depth = self.queue.depth()
        backlog = depth.visible + depth.in_flight
        serving = LAMBDA if self.tier.enabled() else POOL
        # the last call that may fail before the arrivals are counted: a ServiceUnavailable means none were
        record = self.book.update(lambda stored: observed(stored, arrivals, backlog, now, self.thresholds))
        traffic = traffic_of(record, backlog, now)
        wanted = LAMBDA if pool_capped else tier_for(serving, traffic, self.thresholds)
        if wanted != serving:
            wanted = self._switch(wanted, serving, traffic, pool_capped)
        self._remember(wanted)
        return wanted

    def _switch(self, wanted: str, serving: str, traffic: Traffic, pool_capped: str | None) -> str:
        """Turn the mapping for ``wanted``; the tier serving after (still ``serving`` if Lambda refused)."""
        try:
            self.tier.turn(wanted == LAMBDA)
        except ServiceUnavailable as exc:  # the arrivals are counted already: the next tick tries the switch
            log.warning("auto: %s should serve, but %s; %s serves meanwhile", wanted, exc, serving)
            return serving
        log.warning(
            "auto: %s serves from now (%d arrivals in the last hour, %d waiting, quiet %.0f s%s)",
            wanted,
            traffic.arrivals_per_hour,
            traffic.backlog,
            traffic.quiet_seconds,
            f"; the pool cannot launch: {pool_capped}" if pool_capped else "",
        )
        return wanted

    def _remember(self, serving: str) -> None:
        with self._guard:
            self._last = (self.clock(), serving)

    def last(self) -> str:
        """This process's last decision, or the pool with none (spot workers serve every job; the function may
        too): what serves while AWS cannot be reached."""
        with self._guard:
            return self._last[1] if self._last is not None else POOL

    def recent(self, max_age: float) -> str:
        """The tier serving, as the request path sees it: this process's last look if at most ``max_age``
        seconds old, else the mapping's state read again (one Lambda call per process per ``max_age``).

        Requests only read: the API's timer alone decides and switches (api/tick.py), so requests add no
        writes and no Lambda updates, and a failure is remembered like a look (the last decision, or the
        pool with none) so an outage is not asked again by every request. A request never fails over it.
        """
        with self._guard:
            last = self._last
        if last is not None and self.clock() - last[0] <= max_age:
            return last[1]
        try:
            serving = LAMBDA if self.tier.enabled() else POOL
        except ServiceUnavailable as exc:
            serving = self.last()
            log.warning("auto: could not read which tier serves (%s); %s serves meanwhile", exc, serving)
        self._remember(serving)
        return serving
