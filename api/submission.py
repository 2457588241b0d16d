"""Turning a request into a queued job: one path for /v1/jobs and the original app's /upload.

Everything a submission says is checked first (ratio, callback URL, the
image itself); only then is anything stored or queued (jobs.submit).
"""

from __future__ import annotations

import logging

from flask import request

from api.problems import Problem
from api.services import api_settings, services
from api.validate import Source, UploadInfo, inspect_upload
from jobs.message import InvalidRatio, parse_ratio
from jobs.status import JobStatus
from jobs.submit import submit_job
from jobs.webhook import CallbackRefused, check_callback_url

log = logging.getLogger(__name__)


def read_ratio(value: object) -> float | None:
    try:
        return parse_ratio(value)
    except InvalidRatio as exc:
        raise Problem("invalid-ratio", str(exc)) from None


def read_callback_url(value: object) -> str | None:
    """A callback URL this service may call, or None when none was given."""
    if value is None or value == "":
        return None
    try:
        return check_callback_url(value, api_settings().webhook)
    except CallbackRefused as exc:
        raise Problem("invalid-callback-url", str(exc)) from None


def inspect(data: Source, filename: str | None) -> UploadInfo:
    """The upload's facts, or the Problem that refuses it."""
    return inspect_upload(data, filename, api_settings().max_pixels)


def submit_form(owner: str | None) -> JobStatus:
    """A multipart submission: the file in ``image``, with optional ``ratio`` and ``callback_url`` fields.

    ``owner``: the hash of the caller's API key, None without one.
    """
    image = request.files.get("image")
    if image is None and request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", ""):
        # uWSGI hands the app no body for chunked requests; say so rather than "missing image".
        raise Problem("length-required", "send the upload with a Content-Length header")
    if image is None:
        raise Problem("missing-image", "send the photo as the multipart form field 'image'")
    ratio = read_ratio(request.form.get("ratio"))
    callback_url = read_callback_url(request.form.get("callback_url"))
    data = image.read()
    info = inspect(data, image.filename)
    store, queue = services().store, services().queue  # both found before anything is written
    status = submit_job(store, queue, data, info.ext, info.content_type, info.kind, ratio, callback_url, owner)
    log_submitted(status, info, len(data))
    return status


def log_submitted(status: JobStatus, info: UploadInfo, size: int) -> None:
    log.info(
        "job %s submitted: %s %s %dx%d, %d bytes%s",
        status.job_id,
        info.kind,
        info.format,
        info.width,
        info.height,
        size,
        ", with a callback" if status.callback_url else "",
    )
