"""Every error the app answers as ``application/problem+json`` (api/problems.py says which).

The handlers registered here turn ``Problem``, werkzeug's HTTP errors,
``ServiceUnavailable`` and anything unexpected into the same shape, so a
client never has to parse an HTML error page.
"""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, current_app
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from api.problems import Problem, ProblemType
from jobs.aws import ServiceUnavailable

PROBLEM_MEDIA_TYPE = "application/problem+json"
SERVICE_RETRY_AFTER_SECONDS = 5

log = logging.getLogger(__name__)


def problem_response(problem: Problem) -> Response:
    body = json.dumps(problem.to_dict(), separators=(",", ":"))
    response = Response(body, status=problem.status, mimetype=PROBLEM_MEDIA_TYPE)
    response.headers.update(problem.headers)
    return response


def from_http_exception(exc: HTTPException) -> Problem:
    """werkzeug's 404/405/413/...; keeps its headers (405's Allow) but not its HTML."""
    headers = {k: v for k, v in exc.get_headers() if k.lower() not in ("content-type", "content-length")}
    slug = (exc.name or "error").lower().replace(" ", "-").replace("'", "")
    return Problem(slug, exc.description or exc.name, headers, kind=ProblemType(exc.code or 500, exc.name))


def content_too_large(limit: int | None) -> Problem:
    detail = "The request body is too large." if limit is None else f"The request body is over {limit:,} bytes."
    return Problem("content-too-large", detail)


def _on_problem(exc: Problem) -> Response:
    return problem_response(exc)


def _on_http_exception(exc: HTTPException) -> Response:
    if isinstance(exc, RequestEntityTooLarge):  # from MAX_CONTENT_LENGTH; say what the limit is
        return problem_response(content_too_large(current_app.config.get("MAX_CONTENT_LENGTH")))
    return problem_response(from_http_exception(exc))


def _on_service_unavailable(exc: ServiceUnavailable) -> Response:
    log.warning("answering 503: %s", exc)
    detail = "Storage or the job queue is not answering; try again shortly."
    return problem_response(Problem("service-unavailable", detail, {"Retry-After": str(SERVICE_RETRY_AFTER_SECONDS)}))


def _on_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error")  # the traceback goes to the log, never to the client
    return problem_response(Problem("internal-error", "Something went wrong on our side."))


def register_problem_handlers(app: Flask) -> None:
    app.register_error_handler(Problem, _on_problem)
    app.register_error_handler(HTTPException, _on_http_exception)
    app.register_error_handler(ServiceUnavailable, _on_service_unavailable)
    app.register_error_handler(Exception, _on_unexpected)
