"""``/v1/jobs``: submit a photo, poll its job, fetch its result.

A submission is validated completely before anything is written. Then the
upload, the status document and the queue message are written in that order,
so a worker never receives a job whose upload is missing; if a write fails,
what was already written is removed and the client gets a 503 to retry.

With the spot pool enabled, each submit then makes sure capacity is coming,
and a waiting job's status says why it waits and when it should be done.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from api.capacity.note import waiting_note
from api.capacity.view import PoolView
from api.eta import PoolEta, eta_seconds, poll_after_seconds
from api.guards import guard_job_read, guard_submit
from api.problems import Problem
from api.services import api_settings, services
from api.submission import submit_form
from api.uploads import json_object, submit_upload
from jobs.aws import ServiceUnavailable
from jobs.ids import is_job_id
from jobs.queue import QueueDepth
from jobs.status import JobError, JobResult, JobState, JobStatus, iso_now, parse_iso

log = logging.getLogger(__name__)

bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")

POLL_VIEW_MAX_AGE = 5.0  # a poll reuses this process's pool view up to this old (and ensures capacity past it)


@bp.before_request
def check_access() -> None:
    if request.method == "POST":
        guard_submit(count=not request.is_json)  # a JSON submit names a direct upload, counted when it was signed
    else:
        guard_job_read()


@bp.post("")
def submit() -> tuple[Response, int, dict[str, str]]:
    """Multipart (the file itself) or JSON ``{upload_id, ratio?, callback_url?}`` (a direct upload)."""
    status = submit_upload(json_object()) if request.is_json else submit_form()
    return jsonify(accepted(status.job_id)), 202, {"Location": job_links(status.job_id)["self"]}


def accepted(job_id: str) -> dict[str, Any]:
    """The 202 body: the job is queued; with a pool, capacity is made sure of and the wait explained."""
    view = pool_view(max_age=None)
    eta, note = waiting(JobState.QUEUED, view.depth if view is not None else queue_depth(), 0.0, view)
    return {"id": job_id, "status": JobState.QUEUED.value, "eta_seconds": eta, "note": note, "links": job_links(job_id)}


def pool_view(max_age: float | None) -> PoolView | None:
    """With the pool enabled, make sure capacity is coming and return the pool's view.

    ``max_age=None`` always checks (after a submit); otherwise a view of this
    process's up to that old is reused. A capacity problem never fails the
    request: the job is queued either way, and the next poll tries again.
    """
    if not api_settings().pool.enabled:
        return None
    provider = services().provider
    try:
        return provider.ensure_capacity(warm=False) if max_age is None else provider.recent_view(max_age)
    except ServiceUnavailable as exc:
        log.warning("could not ensure capacity: %s", exc)
        return None


def waiting(
    state: JobState, depth: QueueDepth | None, processing_for: float, view: PoolView | None
) -> tuple[int, str | None]:
    """The ETA, and for a queued job with a pool, why it waits."""
    settings = api_settings()
    if view is None:
        return eta_seconds(state, settings.service_seconds_estimate, depth, processing_for), None
    service = view.service_seconds or settings.service_seconds_estimate
    pool = PoolEta(view.working, view.booting, view.booting_for, view.boot_seconds)
    eta = eta_seconds(state, service, depth, processing_for, pool)
    ahead = max(0, depth.visible - 1) if depth is not None else 0
    return eta, waiting_note(view, ahead) if state is JobState.QUEUED else None


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
    """The job's status, or a 404 problem; a malformed id never reaches S3, a finished job only once."""
    cache = services().terminal_statuses
    status = cache.get(job_id) if is_job_id(job_id) else None
    if status is None and is_job_id(job_id):
        status = services().store.read_status(job_id)
        if status is not None:
            cache.remember(status)
    if status is None:
        raise Problem(404, "job-not-found", "Job Not Found", f"there is no job {job_id[:64]!r}")
    return status


def job_wait(status: JobStatus) -> tuple[int, str | None]:
    """A job's ETA and its note: the worker's own (why it was retried) and, while queued, why it waits."""
    if status.state.terminal:
        return 0, status.note
    view = pool_view(POLL_VIEW_MAX_AGE)
    depth = None
    if status.state is JobState.QUEUED:
        depth = view.depth if view is not None else queue_depth()
    started = status.stages.get(JobState.PROCESSING.value)
    processing_for = (parse_iso(iso_now()) - parse_iso(started)).total_seconds() if started else 0.0
    eta, why = waiting(status.state, depth, processing_for, view)
    return eta, "; ".join(note for note in (status.note, why) if note) or None


@bp.get("/<job_id>")
def get_job(job_id: str) -> tuple[Response, int, dict[str, str]]:
    status = find_job(job_id)
    eta, note = job_wait(status)
    headers = {} if status.state.terminal else {"Retry-After": str(poll_after_seconds(eta))}
    return jsonify(job_document(status, eta, note)), 200, headers


def result_url(job_id: str, result: JobResult) -> str:
    """A short-lived presigned GET of the result (the bucket stays private); reused while young, as signing is slow."""
    urls = services().result_urls
    url = urls.get(result.key)
    if url is None:
        url = services().store.presigned_get(result.key, api_settings().result_url_expiry, f"darkroom-{job_id}.jpg")
        urls.remember(result.key, url)
    return url


def job_document(status: JobStatus, eta: int, note: str | None) -> dict[str, Any]:
    document = status.public_document()
    if status.result is not None:
        document["result"] = {"url": result_url(status.job_id, status.result), **document["result"]}
    return {**document, "note": note, "eta_seconds": eta}


@bp.get("/<job_id>/result")
def get_result(job_id: str) -> BaseResponse:
    status = find_job(job_id)
    if status.state is JobState.DONE and status.result is not None:
        return redirect(result_url(job_id, status.result), 303)
    if status.state is JobState.FAILED:
        error = status.error or JobError("failed", "the job failed")
        extra = {"error": {"code": error.code, "message": error.message}}
        raise Problem(409, "job-failed", "Job Failed", error.message, extra=extra)
    retry = {"Retry-After": str(poll_after_seconds(job_wait(status)[0]))}
    raise Problem(409, "not-ready", "Not Ready", f"the job is {status.state.value}; try again shortly", retry)
