"""Errors as RFC 9457 problem documents: every type of error the API answers, in one table.

Each problem has a stable ``type`` (``urn:darkroom:problem:<slug>``) that
clients can branch on; ``title`` and ``detail`` are for people. The status
and title of each slug are written once, in ``PROBLEM_TYPES``; code raises
``Problem(slug, detail)``. No Flask here: upload validation, which the
``darkroom enhance`` command uses too, raises ``Problem`` (api/errors.py
turns it into a response).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TYPE_PREFIX = "urn:darkroom:problem:"


@dataclass(frozen=True)
class ProblemType:
    status: int
    title: str


PROBLEM_TYPES = {
    # what was sent
    "invalid-json": ProblemType(400, "Invalid JSON"),
    "invalid-ratio": ProblemType(400, "Invalid Ratio"),
    "invalid-callback-url": ProblemType(400, "Invalid Callback URL"),
    "invalid-upload-request": ProblemType(400, "Invalid Upload Request"),
    "missing-image": ProblemType(400, "Missing Image"),
    "too-many-files": ProblemType(400, "Too Many Files"),
    "invalid-limit": ProblemType(400, "Invalid Limit"),
    "invalid-output": ProblemType(400, "Invalid Output Format"),
    "empty-upload": ProblemType(400, "Empty Upload"),
    "length-required": ProblemType(411, "Length Required"),
    "content-too-large": ProblemType(413, "Content Too Large"),
    "unsupported-media-type": ProblemType(415, "Unsupported Media Type"),
    "corrupt-image": ProblemType(422, "Corrupt Image"),
    "too-many-pixels": ProblemType(422, "Too Many Pixels"),
    "upload-size-mismatch": ProblemType(422, "Upload Size Mismatch"),
    # who sent it
    "api-key-required": ProblemType(401, "API Key Required"),
    "invalid-api-key": ProblemType(401, "Invalid API Key"),
    "too-many-requests": ProblemType(429, "Too Many Requests"),
    # jobs and direct uploads
    "job-not-found": ProblemType(404, "Job Not Found"),
    "upload-not-found": ProblemType(404, "Upload Not Found"),
    "not-ready": ProblemType(409, "Not Ready"),
    "job-failed": ProblemType(409, "Job Failed"),
    "job-not-cancelable": ProblemType(409, "Job Not Cancelable"),
    "upload-used": ProblemType(409, "Upload Already Used"),
    "upload-missing": ProblemType(409, "Upload Missing"),
    "upload-changed": ProblemType(409, "Upload Changed"),
    # this side
    "internal-error": ProblemType(500, "Internal Server Error"),
    "service-unavailable": ProblemType(503, "Service Unavailable"),
}


class Problem(ValueError):
    """An error answer; ``extra`` adds RFC 9457 extension members.

    A ValueError, so callers outside the API (``darkroom enhance``) catch a refused upload as one.
    ``kind`` is for types outside the table (werkzeug's own 404, 405, ...).
    """

    def __init__(
        self,
        slug: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
        kind: ProblemType | None = None,
    ) -> None:
        self.kind = kind or PROBLEM_TYPES[slug]
        super().__init__(f"{self.kind.status} {slug}: {detail}")
        self.slug = slug
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @property
    def status(self) -> int:
        return self.kind.status

    @property
    def title(self) -> str:
        return self.kind.title

    @property
    def type(self) -> str:
        return TYPE_PREFIX + self.slug

    def to_dict(self) -> dict[str, Any]:
        return {**self.extra, "type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
