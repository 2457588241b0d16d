"""The original app's routes, so its React frontend works against darkroom unchanged.

That frontend calls ``GET /checkinstance`` when it loads (here: pre-warm, as
``/v1/warm``), posts the photo as multipart ``image`` with a ``ratio`` field
to ``POST /upload`` and reads a name back as plain text, then polls
``GET /download?fileName=<name>`` until it answers the image (404 ``Not
ready`` until then). The name is the job's id. Underneath it is the same
validation, queue and pool as ``/v1``; only the shapes of the answers differ.
Errors in the upload are still problem+json (a JSON body any client can show).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from api.access import caller, is_closed
from api.guards import client_address, guard_job_owner, guard_job_read, guard_submit
from api.services import api_settings, services
from api.submission import submit_form
from api.waiting import launch_if_needed
from jobs.ids import is_job_id
from jobs.status import JobState
from pool.view import PoolView

log = logging.getLogger(__name__)

bp = Blueprint("legacy", __name__)

TEXT = "text/plain; charset=utf-8"


def text(body: str, status: int = 200) -> Response:
    return Response(body + "\n", status=status, content_type=TEXT)


@bp.post("/upload")
def upload() -> Response:
    owner = guard_submit()  # the same keys and limits as POST /v1/jobs
    status = submit_form(owner)
    launch_if_needed(max_age=None)  # as /v1/jobs does
    return text(status.job_id)


@bp.get("/download")
def download() -> Response:
    guard_job_read()
    name = request.args.get("fileName", "").strip().removesuffix(".jpg")
    status = services().store.read_status(name) if is_job_id(name) else None
    if status is None:
        return text("Not found", 404)
    guard_job_owner(status)
    if status.state is JobState.FAILED:
        reason = status.error.message if status.error else "the job failed"
        return text(f"Failed: {reason}", 422)
    if status.state is not JobState.DONE or status.result is None:
        return text("Not ready", 404)
    jpeg = services().store.get(status.result.key)
    if jpeg is None:
        return text("Not found", 404)
    response = Response(jpeg, status=200, content_type="image/jpeg")
    response.headers["Content-Disposition"] = f'inline; filename="darkroom-{status.job_id}.jpg"'
    return response


def pool_words(view: PoolView | None) -> str:
    """The pool's state in one word the old frontend can show: ready, starting or waiting."""
    if view is None:
        return "ready"  # a static worker: nothing to start
    if view.working:
        return "ready"
    return "starting" if view.booting else "waiting"


@bp.get("/checkinstance")
def check_instance() -> Response:
    """Pre-warm like /v1/warm (keyless: within the anonymous budget; on a closed API: not at all); over the
    rate limit it reports the pool without warming (the old page polls this)."""
    if not services().pool_serves():
        return text(pool_words(None))
    access, provider = api_settings().access, services().provider
    key = caller(access)
    warm = not (key is None and is_closed(access)) and services().warm_limiter.hit(client_address()) <= 0
    view = provider.ensure_capacity(warm=True, anonymous=key is None) if warm else provider.view()
    return text(pool_words(view))
