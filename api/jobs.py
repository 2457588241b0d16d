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

from api.access import caller
from api.eta import poll_after_seconds
from api.guards import guard_job_list, guard_job_owner, guard_job_read, guard_submit
from api.metrics import CANCELED
from api.problems import Problem
from api.services import api_settings, services
from api.submission import submit_batch, submit_form
from api.uploads import json_object, submit_upload
from api.waiting import after_submit, job_wait
from jobs.cancel import NotCancelable, cancel_job
from jobs.ids import is_job_id
from jobs.status import JobError, JobResult, JobState, JobStatus

log = logging.getLogger(__name__)

bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")


@bp.before_request
def check_access() -> None:
    if request.method == "POST":
        guard_submit()  # a JSON submit (a direct upload) counts too: each one costs S3 reads, valid or not
    else:
        guard_job_read()


@bp.post("")
def submit() -> tuple[Response, int, dict[str, str]]:
    """Multipart (the file itself) or JSON ``{upload_id, ratio?, callback_url?, format?, quality?}`` (a direct
    upload)."""
    owner = caller(api_settings().access)  # checked by check_access
    status = submit_upload(json_object(), owner) if request.is_json else submit_form(owner)
    return jsonify(accepted(status.job_id)), 202, {"Location": job_links(status.job_id)["self"]}


@bp.post("/batch")
def submit_many() -> tuple[Response, int]:
    """Several files in one multipart request: one job per file, in the order sent."""
    made = submit_batch(caller(api_settings().access))
    eta, note = after_submit()
    return jsonify({"jobs": [accepted(status.job_id, eta, note) for status in made]}), 202


DEFAULT_LIST_LIMIT, MOST_LISTED = 20, 100


@bp.get("")
def list_jobs() -> Response:
    """The caller's key's most recent jobs, newest first (``?limit=``, at most 100)."""
    owner = guard_job_list()
    text = request.args.get("limit", str(DEFAULT_LIST_LIMIT))
    if not text.isdigit() or not 1 <= int(text) <= MOST_LISTED:
        raise Problem("invalid-limit", f"limit is a whole number from 1 to {MOST_LISTED}")
    statuses = services().store.owner_jobs(owner, int(text))
    return jsonify({"jobs": [job_document(status, *job_wait(status)) for status in statuses]})


@bp.delete("/<job_id>")
def cancel(job_id: str) -> Response:
    """Cancel a queued job: it never runs, and its input is deleted now (a canceled job again: the same answer)."""
    status = find_job(job_id)
    try:
        canceled = cancel_job(services().store, status)
    except NotCancelable as exc:
        now = exc.status.state.value
        raise Problem("job-not-cancelable", f"the job is {now}; only a queued job can be canceled") from None
    services().terminal_statuses.remember(canceled)
    CANCELED.inc()
    return jsonify(job_document(canceled, 0, canceled.note))


def accepted(job_id: str, eta: int | None = None, note: str | None = None) -> dict[str, Any]:
    """The 202 body: the job is queued; with a pool, capacity is made sure of and the wait explained."""
    if eta is None:
        eta, note = after_submit()
    return {"id": job_id, "status": JobState.QUEUED.value, "eta_seconds": eta, "note": note, "links": job_links(job_id)}


def job_links(job_id: str) -> dict[str, str]:
    return {"self": url_for("jobs.get_job", job_id=job_id), "result": url_for("jobs.get_result", job_id=job_id)}


def find_job(job_id: str) -> JobStatus:
    """The job's status, or a 404 problem (also for another key's job); a malformed id never reaches S3."""
    cache = services().terminal_statuses
    status = cache.get(job_id) if is_job_id(job_id) else None
    if status is None and is_job_id(job_id):
        status = services().store.read_status(job_id)
        if status is not None:
            cache.remember(status)
    if status is None:
        raise Problem("job-not-found", f"there is no job {job_id[:64]!r}")
    return guard_job_owner(status)


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
        url = services().store.bucket.presigned_get(
            result.key, api_settings().result_url_expiry, f"darkroom-{job_id}.{result.key.rsplit('.', 1)[-1]}"
        )
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
        raise Problem("job-failed", error.message, extra=extra)
    retry = {"Retry-After": str(poll_after_seconds(job_wait(status)[0]))}
    raise Problem("not-ready", f"the job is {status.state.value}; try again shortly", retry)
