"""Errors as RFC 9457 ``application/problem+json``, for every error the app answers.

Each problem has a stable ``type`` (``urn:darkroom:problem:<slug>``) that
clients can branch on; ``title`` and ``detail`` are for people. Routes raise
``Problem``; the handlers registered here turn it, werkzeug's HTTP errors,
``ServiceUnavailable`` and anything unexpected into the same shape, so a
client never has to parse an HTML error page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from jobs.aws import ServiceUnavailable

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:darkroom:problem:"
SERVICE_RETRY_AFTER_SECONDS = 5

log = logging.getLogger(__name__)


class Problem(Exception):
    """An error answer a route raises; ``extra`` adds RFC 9457 extension members."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {slug}: {detail}")
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @property
    def type(self) -> str:
        return TYPE_PREFIX + self.slug

    def to_dict(self) -> dict[str, Any]:
        return {**self.extra, "type": self.type, "title": self.title, "status": self.status, "detail": self.detail}


def problem_response(problem: Problem) -> Response:
    body = json.dumps(problem.to_dict(), separators=(",", ":"))
    response = Response(body, status=problem.status, mimetype=PROBLEM_MEDIA_TYPE)
    response.headers.update(problem.headers)
    return response


def _slug(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "-").replace("'", "")


def from_http_exception(exc: HTTPException) -> Problem:
    """werkzeug's 404/405/413/...; keeps its headers (405's Allow) but not its HTML."""
    headers = {k: v for k, v in exc.get_headers() if k.lower() not in ("content-type", "content-length")}
    status = exc.code or 500
    return Problem(status, _slug(exc), exc.name, exc.description or exc.name, headers)


def service_unavailable() -> Problem:
    return Problem(
        503,
        "service-unavailable",
        "Service Unavailable",
        "Storage or the job queue is not answering; try again shortly.",
        {"Retry-After": str(SERVICE_RETRY_AFTER_SECONDS)},
    )


def internal_error() -> Problem:
    return Problem(500, "internal-error", "Internal Server Error", "Something went wrong on our side.")


def _on_problem(exc: Problem) -> Response:
    return problem_response(exc)


def content_too_large(limit: int | None) -> Problem:
    detail = "The request body is too large." if limit is None else f"The request body is over {limit:,} bytes."
    return Problem(413, "content-too-large", "Content Too Large", detail)


def _on_http_exception(exc: HTTPException) -> Response:
    if isinstance(exc, RequestEntityTooLarge):  # from MAX_CONTENT_LENGTH; say what the limit is
        return problem_response(content_too_large(current_app.config.get("MAX_CONTENT_LENGTH")))
    return problem_response(from_http_exception(exc))


def _on_service_unavailable(exc: ServiceUnavailable) -> Response:
    log.warning("answering 503: %s", exc)
    return problem_response(service_unavailable())


def _on_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error")  # the traceback goes to the log, never to the client
    return problem_response(internal_error())


def register_problem_handlers(app: Flask) -> None:
    app.register_error_handler(Problem, _on_problem)
    app.register_error_handler(HTTPException, _on_http_exception)
    app.register_error_handler(ServiceUnavailable, _on_service_unavailable)
    app.register_error_handler(Exception, _on_unexpected)
