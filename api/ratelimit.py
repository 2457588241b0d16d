"""Per-client limits (warm, submit), shared by every API process on this host.

uWSGI runs several processes, so a counter in one process's memory would let
a client through once per process. The hits live in a small SQLite file in
the temp dir instead; SQLite's own file locking serializes the processes.
The decision itself is a pure function of the client's recent hits.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

from jobs.aws import ServiceUnavailable

log = logging.getLogger(__name__)


def retry_after(hits: Sequence[float], now: float, limit: int, window: float = 60.0) -> float:
    """Seconds until one more hit is allowed (0.0: allowed now), given the client's earlier hits."""
    recent = sorted(at for at in hits if now - at < window)
    if len(recent) < limit:
        return 0.0
    return recent[-limit] + window - now


class RateLimiter:
    """At most ``limit`` hits per client in any sliding ``window`` of seconds."""

    def __init__(self, path: Path, limit: int, window: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.limit = limit
        self.window = window
        self.clock = clock

    def hit(self, client: str) -> float:
        """Count one request from ``client`` if allowed; returns the seconds to wait (0.0 when allowed).

        A broken limiter refuses (ServiceUnavailable, a 503): letting everyone through while its file
        is broken would let one client spend every limit at once.
        """
        try:
            return self._hit(client, self.clock())
        except sqlite3.Error as exc:
            log.error("rate limiter %s unavailable (%s): refusing the request", self.path, exc)
            raise ServiceUnavailable(f"the rate limiter {self.path.name} failed") from exc

    def _hit(self, client: str, now: float) -> float:
        with closing(sqlite3.connect(self.path, timeout=10, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")  # one process at a time reads and writes
            try:
                db.execute("CREATE TABLE IF NOT EXISTS hits (client TEXT NOT NULL, at REAL NOT NULL)")
                db.execute("DELETE FROM hits WHERE at <= ?", (now - self.window,))
                hits = [row[0] for row in db.execute("SELECT at FROM hits WHERE client = ?", (client,))]
                wait = retry_after(hits, now, self.limit, self.window)
                if wait == 0.0:
                    db.execute("INSERT INTO hits (client, at) VALUES (?, ?)", (client, now))
                db.execute("COMMIT")
            except sqlite3.Error:
                db.execute("ROLLBACK")
                raise
        return wait
