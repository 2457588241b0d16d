"""The app's S3 and SQS adapters, made on first use in each process.

uWSGI forks its workers from a master process; boto3 clients and their
connection pools must not cross a fork. Nothing here does I/O or builds a
client until a request needs it, and requests arrive only in the forked
workers, so each process makes its own (with lazy-apps it even builds its
own app).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from flask import current_app

from api.settings import ApiSettings
from jobs.aws import s3_client, sqs_client
from jobs.queue import JobQueue
from jobs.store import JobStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

EXTENSION_KEY = "darkroom"


class Services:
    def __init__(self, settings: ApiSettings, s3: S3Client | None = None, sqs: SQSClient | None = None) -> None:
        self.settings = settings
        self._s3 = s3
        self._sqs = sqs
        self._store: JobStore | None = None
        self._queue: JobQueue | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> JobStore:
        with self._lock:
            if self._store is None:
                s3 = self._s3 if self._s3 is not None else s3_client(self.settings.aws)
                self._store = JobStore(s3, self.settings.aws.bucket)
            return self._store

    @property
    def queue(self) -> JobQueue:
        """Raises ServiceUnavailable when the queue cannot be found; the next request tries again."""
        with self._lock:
            if self._queue is None:
                sqs = self._sqs if self._sqs is not None else sqs_client(self.settings.aws)
                self._queue = JobQueue.named(sqs, self.settings.aws.queue)
            return self._queue


def services() -> Services:
    """The current app's services (inside a request)."""
    found = current_app.extensions[EXTENSION_KEY]
    assert isinstance(found, Services)
    return found


def api_settings() -> ApiSettings:
    return services().settings
