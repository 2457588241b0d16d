"""The S3 side of a job: its upload, its result, its status document and the workers' records.

One private bucket (jobs/bucket.py); keys come only from ``jobs.ids`` and ``jobs.pool``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from jobs.bucket import Bucket
from jobs.ids import result_key, status_key, upload_key
from jobs.pool import WorkerRecord, worker_key
from jobs.status import JobStatus

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

JSON = "application/json"


class VersionedStatus(NamedTuple):
    """A status as read, with the version (ETag) a conditional write over it names."""

    status: JobStatus
    version: str


class JobStore:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self.bucket = Bucket(s3, bucket)

    def put_upload(self, job_id: str, ext: str, body: bytes, content_type: str) -> str:
        key = upload_key(job_id, ext)
        self.bucket.write(key, body, content_type)
        return key

    def put_result(self, job_id: str, jpeg: bytes) -> str:
        key = result_key(job_id)
        self.bucket.write(key, jpeg, "image/jpeg")
        return key

    def get(self, key: str) -> bytes | None:
        """An object's bytes, or None when there is no such object."""
        found = self.bucket.find(key)
        return None if found is None else found.body

    def write_status(self, status: JobStatus, if_match: str = "", create: bool = False) -> str:
        """Write a job's status; returns the written version's ETag.

        With ``if_match`` the write happens only over that version (S3 conditional
        write), else ``Conflict``: a worker that ran past its lease must not
        overwrite the status of the worker that took the job over. With ``create``
        it happens only if the job has no status yet: a direct upload's id makes
        one job, however many requests race to use it.
        """
        return self.bucket.write(status_key(status.job_id), status.to_json().encode(), JSON, if_match, create)

    def read_status(self, job_id: str) -> JobStatus | None:
        found = self.read_status_version(job_id)
        return None if found is None else found.status

    def read_status_version(self, job_id: str) -> VersionedStatus | None:
        """The status and its version, for a write that must not overwrite what another writer wrote since."""
        found = self.bucket.find(status_key(job_id))
        return None if found is None else VersionedStatus(JobStatus.from_json(found.body), found.etag)

    def write_worker(self, record: WorkerRecord) -> None:
        self.bucket.write(worker_key(record.instance_id), record.to_json().encode())

    def read_workers(self) -> list[WorkerRecord]:
        """Every worker record (a pool is small: one GET each)."""
        bodies = (self.get(key) for key in self.bucket.keys("workers/"))
        return [WorkerRecord.from_json(body) for body in bodies if body is not None]

    def delete_worker(self, instance_id: str) -> None:
        self.bucket.delete(worker_key(instance_id))
