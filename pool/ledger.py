"""The usage ledger in S3: one small object per launched instance, for the daily cap.

``pool/hours/{YYYY-MM-DD}/{instance-id}.json`` under the UTC day of the launch
(the bucket is the pool's own, like its slots). Each object has one writer at
a time and is only ever created (``If-None-Match: *``) or given its end once
(``If-Match`` on the ETag read), so any number of API processes on any number
of hosts append to it without coordinating. Usage today is read from today's
and yesterday's prefixes: two LISTs and a GET per open entry (an ended entry
never changes, so each process reads it once), done only when a launch is
about to happen or the pool view is asked for.

botocore errors are translated to ``ServiceUnavailable`` here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from jobs.aws import AWS_ERRORS, error_code, unavailable
from jobs.pool import check_instance_id
from jobs.status import parse_iso
from jobs.store import CONFLICT_CODES, MISSING_CODES, JobStore
from pool.hours import Run, ledger_days, utc_day

log = logging.getLogger(__name__)

HOURS_PREFIX = "pool/hours/"
LAUNCH_SKEW = timedelta(minutes=10)  # EC2's launch time vs the time the entry was written under


def run_key(day: str, instance_id: str) -> str:
    return f"{HOURS_PREFIX}{day}/{check_instance_id(instance_id)}.json"


class HoursLedger:
    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.s3 = store.s3
        self.bucket = store.bucket
        self._ended: dict[str, Run] = {}  # key -> an entry with its end: final, read once

    def start(self, run: Run) -> None:
        """Record a launch; an entry already there (written by another process) is kept."""
        key = run_key(utc_day(parse_iso(run.launched_at)), run.instance_id)
        self._write(key, run, {"IfNoneMatch": "*"})

    def end(self, instance_id: str, launched_near: str, ended_at: str) -> bool:
        """Give an open entry its end; False when there is none or it already has one (idempotent).

        ``launched_near`` is the launch time as known (the slot's claim, or
        EC2's launch time); the entry's day is looked for around it.
        """
        launched = parse_iso(launched_near)
        days = dict.fromkeys(utc_day(when) for when in (launched, launched - LAUNCH_SKEW, launched + LAUNCH_SKEW))
        for day in days:
            key = run_key(day, instance_id)
            found = self._read(key)
            if found is None:
                continue
            run, etag = found
            if run.ended_at is not None:
                return False
            ended = Run(run.instance_id, run.launched_at, ended_at)
            return self._write(key, ended, {"IfMatch": etag})
        return False

    def runs(self, now: datetime) -> list[Run]:
        """Every entry that can hold time spent today: today's and yesterday's."""
        keys = [key for day in ledger_days(now) for key in self.store.list_keys(f"{HOURS_PREFIX}{day}/", "usage")]
        self._ended = {key: self._ended[key] for key in keys if key in self._ended}
        runs = []
        for key in keys:
            run = self._ended.get(key) or self._run(key)
            if run is not None:
                runs.append(run)
        return runs

    def _run(self, key: str) -> Run | None:
        found = self._read(key)
        if found is None:  # listed, then expired by a lifecycle rule: nothing to count
            return None
        if found[0].ended_at is not None:
            self._ended[key] = found[0]
        return found[0]

    def _read(self, key: str) -> tuple[Run, str] | None:
        try:
            reply = self.s3.get_object(Bucket=self.bucket, Key=key)
            return Run.from_json(reply["Body"].read()), reply["ETag"]
        except AWS_ERRORS as exc:
            if error_code(exc) in MISSING_CODES:
                return None
            raise unavailable(f"reading s3://{self.bucket}/{key}", exc) from exc

    def _write(self, key: str, run: Run, condition: dict[str, str]) -> bool:
        """A conditional PUT; False when the condition did not hold (another process wrote first)."""
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=run.to_json().encode(),
                ContentType="application/json",
                **condition,  # type: ignore[arg-type]
            )
        except AWS_ERRORS as exc:
            if error_code(exc) in CONFLICT_CODES:
                log.info("usage entry %s was written by another process first", key)
                return False
            raise unavailable(f"writing s3://{self.bucket}/{key}", exc) from exc
        return True
