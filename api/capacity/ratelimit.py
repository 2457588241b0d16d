"""A per-client limit on POST /v1/warm, shared by every API process on this host.

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

WINDOW_SECONDS = 60.0

log = logging.getLogger(__name__)


def retry_after(hits: Sequence[float], now: float, per_minute: int) -> float:
    """Seconds until one more hit is allowed (0.0: allowed now), given the client's earlier hits."""
    recent = sorted(at for at in hits if now - at < WINDOW_SECONDS)
    if len(recent) < per_minute:
        return 0.0
    return recent[-per_minute] + WINDOW_SECONDS - now


class RateLimiter:
    def __init__(self, path: Path, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.per_minute = per_minute
        self.clock = clock

    def hit(self, client: str) -> float:
        """Count one request from ``client`` if allowed; returns the seconds to wait (0.0 when allowed).

        A broken limiter lets requests through: the pool's maximum still bounds what they cost.
        """
        try:
            return self._hit(client, self.clock())
        except sqlite3.Error as exc:
            log.warning("warm rate limiter unavailable (%s): allowing the request", exc)
            return 0.0

    def _hit(self, client: str, now: float) -> float:
        with closing(sqlite3.connect(self.path, timeout=10, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")  # one process at a time reads and writes
            try:
                db.execute("CREATE TABLE IF NOT EXISTS hits (client TEXT NOT NULL, at REAL NOT NULL)")
                db.execute("DELETE FROM hits WHERE at <= ?", (now - WINDOW_SECONDS,))
                hits = [row[0] for row in db.execute("SELECT at FROM hits WHERE client = ?", (client,))]
                wait = retry_after(hits, now, self.per_minute)
                if wait == 0.0:
                    db.execute("INSERT INTO hits (client, at) VALUES (?, ?)", (client, now))
                db.execute("COMMIT")
            except sqlite3.Error:
                db.execute("ROLLBACK")
                raise
        return wait
