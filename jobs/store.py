"""The S3 side of a job: its upload, its result and its status document.

One private bucket; keys come only from ``jobs.ids``. botocore errors are
translated here: a missing object is ``None``, anything else that fails is
``ServiceUnavailable``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobs.aws import AWS_ERRORS, ServiceUnavailable, error_code, unavailable
from jobs.ids import result_key, status_key, upload_key
from jobs.pool import WorkerRecord, worker_key
from jobs.status import JobStatus

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
CONFLICT_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})  # conditional writes


class StatusConflict(Exception):
    """The status document changed since this process wrote it: another worker has taken the job over."""


class JobStore:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def put_upload(self, job_id: str, ext: str, body: bytes, content_type: str) -> str:
        key = upload_key(job_id, ext)
        self._put(key, body, content_type)
        return key

    def put_result(self, job_id: str, jpeg: bytes) -> str:
        key = result_key(job_id)
        self._put(key, jpeg, "image/jpeg")
        return key

    def write_status(self, status: JobStatus, if_match: str | None = None, create: bool = False) -> str:
        """Write a job's status; returns the written version's ETag.

        With ``if_match`` the write happens only over that version (S3 conditional
        write), else ``StatusConflict``: a worker that ran past its lease must not
        overwrite the status of the worker that took the job over. With ``create``
        it happens only if the job has no status yet: a direct upload's id makes
        one job, however many requests race to use it.
        """
        key = status_key(status.job_id)
        try:
            return self._put(key, status.to_json().encode(), "application/json", if_match, create)
        except ServiceUnavailable as exc:
            if isinstance(exc.__cause__, AWS_ERRORS) and error_code(exc.__cause__) in CONFLICT_CODES:
                raise StatusConflict(f"job {status.job_id}: its status changed since this worker wrote it") from exc
            raise

    def read_status(self, job_id: str) -> JobStatus | None:
        body = self.get(status_key(job_id))
        return None if body is None else JobStatus.from_json(body)

    def write_worker(self, record: WorkerRecord) -> None:
        self._put(worker_key(record.instance_id), record.to_json().encode(), "application/json")

    def read_workers(self) -> list[WorkerRecord]:
        """Every worker record (a pool is small: one GET each)."""
        bodies = (self.get(key) for key in self.list_keys("workers/", "worker records"))
        return [WorkerRecord.from_json(body) for body in bodies if body is not None]

    def delete_worker(self, instance_id: str) -> None:
        self.delete(worker_key(instance_id))

    def list_keys(self, prefix: str, what: str) -> list[str]:
        """Every key under ``prefix``; ``what`` names them for the error when S3 cannot be reached."""
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return [item["Key"] for page in pages for item in page.get("Contents", [])]
        except AWS_ERRORS as exc:
            raise unavailable(f"listing {what}", exc) from exc

    def get(self, key: str) -> bytes | None:
        """An object's bytes, or None when there is no such object."""
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except AWS_ERRORS as exc:
            if error_code(exc) in MISSING_CODES:
                return None
            raise unavailable(f"reading s3://{self.bucket}/{key}", exc) from exc

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except AWS_ERRORS as exc:
            if error_code(exc) in MISSING_CODES:
                return False
            raise unavailable(f"checking s3://{self.bucket}/{key}", exc) from exc

    def size(self, key: str) -> int | None:
        """An object's size in bytes, or None when there is no such object."""
        try:
            return self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except AWS_ERRORS as exc:
            if error_code(exc) in MISSING_CODES:
                return None
            raise unavailable(f"checking s3://{self.bucket}/{key}", exc) from exc

    def head(self, key: str, length: int) -> bytes | None:
        """An object's first ``length`` bytes (a ranged GET), or None when there is no such object."""
        try:
            reply = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}")
            return reply["Body"].read()
        except AWS_ERRORS as exc:
            if error_code(exc) in MISSING_CODES:
                return None
            raise unavailable(f"reading s3://{self.bucket}/{key}", exc) from exc

    def get_tagged(self, key: str) -> tuple[bytes, str] | None:
        """An object's bytes and ETag (the version read), or None when there is no such object."""
        try:
            reply = self.s3.get_object(Bucket=self.bucket, Key=key)
            return reply["Body"].read(), reply["ETag"]
        except AWS_ERRORS as exc:
            if error_code(exc) in MISSING_CODES:
                return None
            raise unavailable(f"reading s3://{self.bucket}/{key}", exc) from exc

    def copy(self, source: str, target: str) -> str:
        """Copy an object inside the bucket; returns the copy's ETag."""
        try:
            reply = self.s3.copy_object(
                Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source}
            )
        except AWS_ERRORS as exc:
            raise unavailable(f"copying s3://{self.bucket}/{source} to {target}", exc) from exc
        return reply["CopyObjectResult"]["ETag"]

    def put_json(self, key: str, body: bytes) -> None:
        self._put(key, body, "application/json")

    def presigned_post(self, key: str, size: int, expires_in: int) -> tuple[str, dict[str, str]]:
        """A browser form POST straight to the bucket that may store exactly ``size`` bytes at ``key``.

        S3 enforces the policy's key and content-length-range; an emulator may
        not, so whoever uses the object checks it again.
        """
        conditions: list[object] = [["content-length-range", size, size]]
        try:
            post = self.s3.generate_presigned_post(
                self.bucket, key, Fields={}, Conditions=conditions, ExpiresIn=expires_in
            )
        except AWS_ERRORS as exc:
            raise unavailable(f"signing an upload to s3://{self.bucket}/{key}", exc) from exc
        return post["url"], {name: str(value) for name, value in post["fields"].items()}

    def delete(self, key: str) -> None:
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        except AWS_ERRORS as exc:
            raise unavailable(f"deleting s3://{self.bucket}/{key}", exc) from exc

    def presigned_get(self, key: str, expires_in: int, filename: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'inline; filename="{filename}"'
        return self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def check(self) -> None:
        """Raise ServiceUnavailable unless the bucket answers."""
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except AWS_ERRORS as exc:
            raise unavailable(f"reaching bucket {self.bucket}", exc) from exc

    def _put(self, key: str, body: bytes, content_type: str, if_match: str | None = None, create: bool = False) -> str:
        try:
            if if_match:
                reply = self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, IfMatch=if_match
                )
            elif create:
                reply = self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*"
                )
            else:
                reply = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        except AWS_ERRORS as exc:
            raise unavailable(f"writing s3://{self.bucket}/{key}", exc) from exc
        return reply["ETag"]


__all__ = ["CONFLICT_CODES", "JobStore", "ServiceUnavailable", "StatusConflict"]
