"""``/v1/jobs``: submit a photo, poll its job, fetch its result.

A submission is validated completely before anything is written. Then the
upload, the status document and the queue message are written in that order,
so a worker never receives a job whose upload is missing; if a write fails,
what was already written is removed and the client gets a 503 to retry.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from api.eta import eta_seconds, poll_after_seconds
from api.problems import Problem
from api.services import api_settings, services
from api.validate import UploadRejected, inspect_upload
from jobs.aws import ServiceUnavailable
from jobs.ids import is_job_id
from jobs.message import InvalidRatio, parse_ratio
from jobs.queue import QueueDepth
from jobs.status import JobError, JobResult, JobState, JobStatus, iso_now, parse_iso
from jobs.submit import submit_job

log = logging.getLogger(__name__)

bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")


@bp.post("")
def submit() -> tuple[Response, int, dict[str, str]]:
    image = request.files.get("image")
    if image is None and request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", ""):
        # uWSGI hands the app no body for chunked requests; say so rather than "missing image".
        raise Problem(411, "length-required", "Length Required", "send the upload with a Content-Length header")
    if image is None:
        raise Problem(400, "missing-image", "Missing Image", "send the photo as the multipart form field 'image'")
    try:
        ratio = parse_ratio(request.form.get("ratio"))
    except InvalidRatio as exc:
        raise Problem(400, "invalid-ratio", "Invalid Ratio", str(exc)) from None
    data = image.read()
    try:
        info = inspect_upload(data, image.filename, api_settings().max_pixels)
    except UploadRejected as exc:
        raise Problem(exc.status, exc.slug, exc.title, exc.detail) from None
    store, queue = services().store, services().queue  # both found before anything is written
    job_id = submit_job(store, queue, data, info.ext, info.content_type, info.kind, ratio).job_id
    log.info(
        "job %s submitted: %s %s %dx%d, %d bytes", job_id, info.kind, info.format, info.width, info.height, len(data)
    )
    eta = eta_seconds(JobState.QUEUED, api_settings().service_seconds_estimate, queue_depth(), 0.0)
    links = job_links(job_id)
    body = {"id": job_id, "status": JobState.QUEUED.value, "eta_seconds": eta, "links": links}
    return jsonify(body), 202, {"Location": links["self"]}


def queue_depth() -> QueueDepth | None:
    """The queue's depth for an estimate; an estimate is not worth failing a request over."""
    try:
        return services().queue.depth()
    except ServiceUnavailable as exc:
        log.warning("no queue depth for the estimate: %s", exc)
        return None


def job_links(job_id: str) -> dict[str, str]:
    return {"self": url_for("jobs.get_job", job_id=job_id), "result": url_for("jobs.get_result", job_id=job_id)}


def find_job(job_id: str) -> JobStatus:
    """The job's status, or a 404 problem; a malformed id never reaches S3."""
    status = services().store.read_status(job_id) if is_job_id(job_id) else None
    if status is None:
        raise Problem(404, "job-not-found", "Job Not Found", f"there is no job {job_id[:64]!r}")
    return status


def job_eta(status: JobStatus) -> int:
    depth = queue_depth() if status.state is JobState.QUEUED else None
    started = status.stages.get(JobState.PROCESSING.value)
    processing_for = (parse_iso(iso_now()) - parse_iso(started)).total_seconds() if started else 0.0
    return eta_seconds(status.state, api_settings().service_seconds_estimate, depth, processing_for)


@bp.get("/<job_id>")
def get_job(job_id: str) -> tuple[Response, int, dict[str, str]]:
    status = find_job(job_id)
    eta = job_eta(status)
    headers = {} if status.state.terminal else {"Retry-After": str(poll_after_seconds(eta))}
    return jsonify(job_document(status, eta)), 200, headers


def result_url(job_id: str, result: JobResult) -> str:
    """A short-lived presigned GET of the result; the bucket itself stays private."""
    expiry = api_settings().result_url_expiry
    return services().store.presigned_get(result.key, expiry, filename=f"darkroom-{job_id}.jpg")


def job_document(status: JobStatus, eta: int) -> dict[str, Any]:
    result = None
    if status.result is not None:
        result = {
            "url": result_url(status.job_id, status.result),
            "width": status.result.width,
            "height": status.result.height,
            "bytes": status.result.bytes,
        }
    error = None if status.error is None else {"code": status.error.code, "message": status.error.message}
    return {
        "id": status.job_id,
        "status": status.state.value,
        "kind": status.kind.value,
        "created_at": status.created_at,
        "updated_at": status.updated_at,
        "stages": status.stages,
        "attempts": status.attempts,
        "ratio": "auto" if status.ratio is None else status.ratio,
        "ratio_used": status.ratio_used,
        "method": status.method,
        "note": status.note,
        "eta_seconds": eta,
        "result": result,
        "error": error,
    }


@bp.get("/<job_id>/result")
def get_result(job_id: str) -> BaseResponse:
    status = find_job(job_id)
    if status.state is JobState.DONE and status.result is not None:
        return redirect(result_url(job_id, status.result), 303)
    if status.state is JobState.FAILED:
        error = status.error or JobError("failed", "the job failed")
        extra = {"error": {"code": error.code, "message": error.message}}
        raise Problem(409, "job-failed", "Job Failed", error.message, extra=extra)
    retry = {"Retry-After": str(poll_after_seconds(job_eta(status)))}
    raise Problem(409, "not-ready", "Not Ready", f"the job is {status.state.value}; try again shortly", retry)
