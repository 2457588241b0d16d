"""Turning a request into a queued job: one path for /v1/jobs and the original app's /upload.

Everything a submission says is checked first (ratio, callback URL, the
image itself); only then is anything stored or queued (jobs.submit).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import request

from api.guards import guard_more_submits
from api.metrics import SUBMITTED
from api.problems import Problem
from api.services import api_settings, services
from api.validate import Source, UploadInfo, inspect_upload
from jobs.aws import ServiceUnavailable
from jobs.cancel import NotCancelable, cancel_job
from jobs.message import InvalidRatio, parse_ratio
from jobs.outputs import InvalidOutput, OutputFormat, parse_output
from jobs.status import JobStatus
from jobs.submit import submit_job
from jobs.webhook import CallbackRefused, check_callback_url

log = logging.getLogger(__name__)


def read_ratio(value: object) -> float | None:
    try:
        return parse_ratio(value)
    except InvalidRatio as exc:
        raise Problem("invalid-ratio", str(exc)) from None


def read_output(fields: Mapping[str, object]) -> OutputFormat:
    """The result's ``format`` and JPEG ``quality``: a multipart submit's form fields or a JSON submit's members."""
    try:
        return parse_output(fields.get("format"), fields.get("quality"))
    except InvalidOutput as exc:
        raise Problem("invalid-output", str(exc)) from None


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
    """A multipart submission: the file in ``image``, with optional ``ratio``, ``callback_url``, ``format`` and
    ``quality`` fields.

    ``owner``: the hash of the caller's API key, None without one.
    """
    image = request.files.get("image")
    if image is None and request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", ""):
        # uWSGI hands the app no body for chunked requests; say so rather than "missing image".
        raise Problem("length-required", "send the upload with a Content-Length header")
    if image is None:
        raise Problem("missing-image", "send the photo as the multipart form field 'image'")
    ratio, output = read_ratio(request.form.get("ratio")), read_output(request.form)
    callback_url = read_callback_url(request.form.get("callback_url"))
    data = image.read()
    info = inspect(data, image.filename)
    store, queue = services().store, services().queue  # both found before anything is written
    status = submit_job(
        store, queue, data, info.ext, info.content_type, info.kind, ratio, callback_url, owner, output=output
    )
    log_submitted(status, info, len(data))
    return status


def submit_batch(owner: str | None) -> list[JobStatus]:
    """Several files in the multipart field ``image``, one job each, with one ``ratio`` and ``callback_url``.

    Every file is checked before any is stored; if storing one fails, the jobs already made are
    canceled, so a 503 means no job of the batch will run.
    """
    images = request.files.getlist("image")
    if not images:
        raise Problem("missing-image", "send the photos as multipart form fields named 'image'")
    most = api_settings().batch_max_files
    if len(images) > most:
        raise Problem("too-many-files", f"a batch carries at most {most} files; this one has {len(images)}")
    ratio, output = read_ratio(request.form.get("ratio")), read_output(request.form)
    callback_url = read_callback_url(request.form.get("callback_url"))
    files = [(data := image.read(), inspect_named(data, image.filename, n)) for n, image in enumerate(images, 1)]
    guard_more_submits(len(files) - 1, owner)
    store, queue = services().store, services().queue
    made: list[JobStatus] = []
    try:
        for data, info in files:
            kind = info.kind
            status = submit_job(
                store, queue, data, info.ext, info.content_type, kind, ratio, callback_url, owner, output
            )
            made.append(status)
            log_submitted(status, info, len(data))
    except ServiceUnavailable:
        for status in made:
            try:
                cancel_job(store, status)
            except (ServiceUnavailable, NotCancelable) as exc:
                log.warning("job %s of a failed batch was not canceled: %s", status.job_id, exc)
        raise
    return made


def inspect_named(data: bytes, filename: str | None, number: int) -> UploadInfo:
    """A batch file's facts, or its Problem saying which file it is."""
    try:
        return inspect(data, filename)
    except Problem as problem:
        problem.detail = f"file {number} ({filename or 'unnamed'}): {problem.detail}"
        raise


def log_submitted(status: JobStatus, info: UploadInfo, size: int) -> None:
    SUBMITTED.labels(info.kind.value).inc()
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
