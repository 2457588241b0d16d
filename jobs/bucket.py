"""One S3 bucket: reads, writes and deletes, conditional ones too, for the job store, the slot book and the ledger.

The one place S3's errors are sorted: a missing object raises ``NotFound``,
a conditional write or delete that lost raises ``Conflict`` (another writer
got there first: ``If-None-Match: *`` on an object that exists, ``If-Match``
on a version that is gone), anything else ``ServiceUnavailable``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobs.aws import AWS_ERRORS, Conflict, NotFound, error_code, unavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
CONFLICT_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})


@dataclass(frozen=True)
class Stored:
    body: bytes
    etag: str  # the version read


class Bucket:
    def __init__(self, s3: S3Client, name: str) -> None:
        self.s3 = s3
        self.name = name

    def read(self, key: str, first: int | None = None) -> Stored:
        """An object's bytes (only its first ``first`` with a ranged GET) and its ETag."""
        with self._errors("reading", key):
            if first is None:
                reply = self.s3.get_object(Bucket=self.name, Key=key)
            else:
                reply = self.s3.get_object(Bucket=self.name, Key=key, Range=f"bytes=0-{first - 1}")
            return Stored(reply["Body"].read(), reply["ETag"])

    def read_range(self, key: str, start: int, length: int, if_match: str = "") -> bytes:
        """``length`` bytes from ``start`` (fewer at the end); with ``if_match`` only of that version (``Conflict``)."""
        extra = {"IfMatch": if_match} if if_match else {}
        with self._errors("reading", key, conditional=bool(if_match)):
            reply = self.s3.get_object(
                Bucket=self.name,
                Key=key,
                Range=f"bytes={start}-{start + length - 1}",
                **extra,  # type: ignore[arg-type]
            )
            return reply["Body"].read()

    def head(self, key: str) -> tuple[int, str]:
        """An object's size and ETag, without its bytes."""
        with self._errors("checking", key):
            reply = self.s3.head_object(Bucket=self.name, Key=key)
            return reply["ContentLength"], reply["ETag"]

    def find(self, key: str) -> Stored | None:
        """``read``, or None when there is no such object."""
        try:
            return self.read(key)
        except NotFound:
            return None

    def size(self, key: str) -> int:
        with self._errors("checking", key):
            return self.s3.head_object(Bucket=self.name, Key=key)["ContentLength"]

    def write(
        self, key: str, body: bytes, content_type: str = "application/json", if_match: str = "", create: bool = False
    ) -> str:
        """Store an object; returns its ETag.

        ``if_match``: only over that version; ``create``: only if there is no such object. Else ``Conflict``.
        """
        conditions = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"} if create else {}
        with self._errors("writing", key, conditional=bool(conditions)):
            reply = self.s3.put_object(
                Bucket=self.name,
                Key=key,
                Body=body,
                ContentType=content_type,
                **conditions,  # type: ignore[arg-type]
            )
            return reply["ETag"]

    def delete(self, key: str, if_match: str = "") -> None:
        """Delete an object (none is fine); with ``if_match`` only that version, else ``Conflict``."""
        with self._errors("deleting", key, conditional=bool(if_match)):
            if if_match:
                self.s3.delete_object(Bucket=self.name, Key=key, IfMatch=if_match)
            else:
                self.s3.delete_object(Bucket=self.name, Key=key)

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``."""
        with self._errors("listing", prefix):
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
            return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def first_keys(self, prefix: str, limit: int) -> list[str]:
        """The first ``limit`` keys under ``prefix`` in S3's order (one request, up to 1000)."""
        with self._errors("listing", prefix):
            reply = self.s3.list_objects_v2(Bucket=self.name, Prefix=prefix, MaxKeys=limit)
            return [item["Key"] for item in reply.get("Contents", [])]

    def copy(self, source: str, target: str) -> str:
        """Copy an object inside the bucket; returns the copy's ETag."""
        with self._errors(f"copying s3://{self.name}/{source} to", target):
            reply = self.s3.copy_object(Bucket=self.name, Key=target, CopySource={"Bucket": self.name, "Key": source})
            return reply["CopyObjectResult"]["ETag"]

    def presigned_post(self, key: str, size: int, expires_in: int) -> tuple[str, dict[str, str]]:
        """A browser form POST straight to the bucket that may store exactly ``size`` bytes at ``key``.

        S3 enforces the policy's key and content-length-range; an emulator may
        not, so whoever uses the object checks it again.
        """
        conditions: list[object] = [["content-length-range", size, size]]
        with self._errors("signing an upload to", key):
            post = self.s3.generate_presigned_post(
                self.name, key, Fields={}, Conditions=conditions, ExpiresIn=expires_in
            )
        return post["url"], {name: str(value) for name, value in post["fields"].items()}

    def presigned_get(self, key: str, expires_in: int, filename: str | None = None) -> str:
        params = {"Bucket": self.name, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'inline; filename="{filename}"'
        return self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def check(self) -> None:
        """Raise ServiceUnavailable unless the bucket answers."""
        try:
            self.s3.head_bucket(Bucket=self.name)
        except AWS_ERRORS as exc:
            raise unavailable(f"reaching bucket {self.name}", exc) from exc

    @contextmanager
    def _errors(self, doing: str, key: str, conditional: bool = False) -> Iterator[None]:
        """botocore's errors as NotFound, Conflict or ServiceUnavailable.

        Under a condition a missing object is a ``Conflict`` too: the version the write was made on is gone.
        """
        where = f"s3://{self.name}/{key}"
        try:
            yield
        except AWS_ERRORS as exc:
            code = error_code(exc)
            if code in CONFLICT_CODES or (conditional and code in MISSING_CODES):
                raise Conflict(f"{doing} {where}: another writer changed it first ({code})") from exc
            if code in MISSING_CODES:
                raise NotFound(where) from exc
            raise unavailable(f"{doing} {where}", exc) from exc
