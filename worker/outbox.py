"""Callbacks owed but not yet delivered, kept in S3 so that none is lost with the worker that owed it.

When a job with a callback ends, its worker writes ``webhooks/{id}.json``
(who claimed it, and when) before it starts delivering, and deletes it once
the outcome is recorded in the job's status. A worker that stops first (an
idle stop, a spot reclaim, a crash) leaves the entry behind. Every worker,
at start and when idle, claims the entries whose claim is older than the
longest a delivery can take, with a conditional write so only one worker
takes each, and delivers them. A receiver may so get a callback twice; it
never gets none. Delivery itself is worker/webhooks.py.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from jobs.aws import Conflict, NotFound
from jobs.bucket import Bucket
from jobs.ids import is_job_id, webhook_key
from jobs.status import iso_now, parse_iso

log = logging.getLogger(__name__)

OUTBOX_PREFIX = "webhooks/"


class Outbox:
    def __init__(self, bucket: Bucket, worker_id: str, lease_seconds: float) -> None:
        self.bucket = bucket
        self.worker_id = worker_id
        self.lease = timedelta(seconds=lease_seconds)

    def hold(self, job_id: str) -> None:
        """Record that this worker owes the job's callback (raises ServiceUnavailable)."""
        self.bucket.write(webhook_key(job_id), self._claim())

    def release(self, job_id: str) -> None:
        """The callback's outcome is recorded: nothing is owed any more."""
        self.bucket.delete(webhook_key(job_id))

    def claim_abandoned(self, now: datetime) -> list[str]:
        """The ids of owed callbacks whose claim ran out, now claimed by this worker."""
        claimed = []
        for key in self.bucket.keys(OUTBOX_PREFIX):
            job_id = key.removeprefix(OUTBOX_PREFIX).removesuffix(".json")
            if not is_job_id(job_id):
                continue
            try:
                found = self.bucket.read(key)
                since = parse_iso(json.loads(found.body)["claimed_at"])
                if now - since < self.lease:
                    continue  # its worker may still be delivering
                self.bucket.write(key, self._claim(), if_match=found.etag)
            except (NotFound, Conflict):  # delivered meanwhile, or another worker claimed it first
                continue
            except (ValueError, KeyError):
                log.warning("outbox entry %s is unreadable; claiming it", key)
                self.bucket.write(key, self._claim())
            claimed.append(job_id)
        return claimed

    def _claim(self) -> bytes:
        return json.dumps({"worker": self.worker_id, "claimed_at": iso_now()}).encode()
