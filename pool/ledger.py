"""The usage ledger in S3: one small object per launched instance, for the daily cap.

``pool/hours/{YYYY-MM-DD}/{instance-id}.json`` under the UTC day of the launch
(the bucket is the pool's own, like its slots). Each object has one writer at
a time and is only ever created (``If-None-Match: *``) or given its end once
(``If-Match`` on the ETag read), so any number of API processes on any number
of hosts append to it without coordinating. Usage today is read from today's
and yesterday's prefixes: two LISTs and a GET per open entry (an ended entry
never changes, so each process reads it once), done only when a launch is
about to happen or the pool view is asked for. S3 is reached through
``jobs.bucket``, which raises ``ServiceUnavailable`` for what fails.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from jobs.aws import Conflict
from jobs.bucket import Bucket
from jobs.pool import check_instance_id
from jobs.status import parse_iso
from pool.hours import Run, ledger_days, utc_day

log = logging.getLogger(__name__)

HOURS_PREFIX = "pool/hours/"
LAUNCH_SKEW = timedelta(minutes=10)  # EC2's launch time vs the time the entry was written under


def run_key(day: str, instance_id: str) -> str:
    return f"{HOURS_PREFIX}{day}/{check_instance_id(instance_id)}.json"


class HoursLedger:
    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self._ended: dict[str, Run] = {}  # key -> an entry with its end: final, read once

    def start(self, run: Run) -> None:
        """Record a launch; an entry already there (written by another process) is kept."""
        key = run_key(utc_day(parse_iso(run.launched_at)), run.instance_id)
        self._write(key, run, create=True)

    def end(self, instance_id: str, launched_near: str, ended_at: str) -> bool:
        """Give an open entry its end; False when there is none or it already has one (idempotent).

        ``launched_near`` is the launch time as known (the slot's claim, or
        EC2's launch time); the entry's day is looked for around it.
        """
        launched = parse_iso(launched_near)
        days = dict.fromkeys(utc_day(when) for when in (launched, launched - LAUNCH_SKEW, launched + LAUNCH_SKEW))
        for day in days:
            key = run_key(day, instance_id)
            found = self.bucket.find(key)
            if found is None:
                continue
            run = Run.from_json(found.body)
            if run.ended_at is not None:
                return False
            ended = Run(run.instance_id, run.launched_at, ended_at, run.anonymous)
            return self._write(key, ended, if_match=found.etag)
        return False

    def runs(self, now: datetime) -> list[Run]:
        """Every entry that can hold time spent today: today's and yesterday's."""
        keys = [key for day in ledger_days(now) for key in self.bucket.keys(f"{HOURS_PREFIX}{day}/")]
        self._ended = {key: self._ended[key] for key in keys if key in self._ended}
        runs = []
        for key in keys:
            run = self._ended.get(key) or self._run(key)
            if run is not None:
                runs.append(run)
        return runs

    def _run(self, key: str) -> Run | None:
        found = self.bucket.find(key)
        if found is None:  # listed, then expired by a lifecycle rule: nothing to count
            return None
        run = Run.from_json(found.body)
        if run.ended_at is not None:
            self._ended[key] = run
        return run

    def _write(self, key: str, run: Run, if_match: str = "", create: bool = False) -> bool:
        """A conditional PUT; False when the condition did not hold (another process wrote first)."""
        try:
            self.bucket.write(key, run.to_json().encode(), if_match=if_match, create=create)
        except Conflict:
            log.info("usage entry %s was written by another process first", key)
            return False
        return True
