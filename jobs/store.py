"""The S3 side of a job: its upload, its result, its status document and the workers' records.

One private bucket (jobs/bucket.py); keys come only from ``jobs.ids`` and ``jobs.pool``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from jobs.bucket import Bucket
from jobs.ids import job_id_of_owner_key, job_prefixes, owner_job_key, owner_prefix, result_key, status_key, upload_key
from jobs.outputs import JPEG, OutputFormat
from jobs.pool import WorkerRecord, worker_key
from jobs.status import JobStatus, parse_iso

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

    def put_result(self, job_id: str, image: bytes, output: OutputFormat = JPEG) -> str:
        key = result_key(job_id, output.ext)
        self.bucket.write(key, image, output.content_type)
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

    def index_owner(self, status: JobStatus) -> str:
        """List a keyed job under its key's jobs (``owner_jobs``); returns the entry's S3 key."""
        assert status.owner is not None
        created_ms = int(parse_iso(status.created_at).timestamp() * 1000)
        key = owner_job_key(status.owner, created_ms, status.job_id)
        self.bucket.write(key, b"", "application/octet-stream")
        return key

    def owner_jobs(self, owner: str, limit: int) -> list[JobStatus]:
        """A key's ``limit`` most recent jobs, newest first."""
        ids = [job_id_of_owner_key(key) for key in self.bucket.first_keys(owner_prefix(owner), limit)]
        return [status for status in map(self.read_status, ids) if status is not None]

    def delete_job_files(self, job_id: str) -> list[str]:
        """Delete a job's upload and results now; returns the keys deleted. Its status stays."""
        keys = [key for prefix in job_prefixes(job_id) for key in self.bucket.keys(prefix)]
        for key in keys:
            self.bucket.delete(key)
        return keys

    def write_worker(self, record: WorkerRecord) -> None:
        self.bucket.write(worker_key(record.instance_id), record.to_json().encode())

    def read_workers(self) -> list[WorkerRecord]:
        """Every worker record (a pool is small: one GET each)."""
        bodies = (self.get(key) for key in self.bucket.keys("workers/"))
        return [WorkerRecord.from_json(body) for body in bodies if body is not None]

    def delete_worker(self, instance_id: str) -> None:
        self.bucket.delete(worker_key(instance_id))
