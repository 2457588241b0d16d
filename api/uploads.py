"""Direct uploads: large files go from the browser straight to S3, then become a job by id.

``POST /v1/uploads`` with ``{filename, size}`` answers a presigned S3 form
POST for exactly that key (under incoming/) and size, and keeps a ticket
(what was signed) in the bucket. ``POST /v1/jobs`` with ``{upload_id}`` then checks the stored
object itself before anything is queued, because the policy's conditions
are S3's to enforce and an emulator (or a misconfigured bucket) may not:

1. the size, from a HEAD: it must be the size that was signed;
2. the first bytes, from a ranged GET: they must be an image's magic;
3. the file, through the same ``inspect_upload`` as a multipart upload, read
   in ranges (api/ranged.py): headers, directories and its end, never all
   of it at once in the API's memory.

An object that fails is deleted with its ticket and the client gets a
problem+json saying why. One that passes is copied to uploads/, where the
job reads it: the form stays valid for a while, and a second POST to it must
not change a job's input after it was checked (the copy's ETag must be the
ETag of the version checked). An upload id is a fresh uuid4 (unguessable) and it
becomes the job's id; the job's status is created only if none exists, so
an upload id makes one job at most.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api.guards import guard_submit
from api.problems import Problem
from api.ranged import RangedObject
from api.services import api_settings, services
from api.submission import inspect, log_submitted, read_callback_url, read_output, read_ratio
from api.validate import MAGIC_BYTES, has_image_magic
from jobs.aws import Conflict, NotFound, ServiceUnavailable
from jobs.ids import UPLOAD_EXTENSIONS, incoming_key, is_job_id, new_job_id, ticket_key, upload_key
from jobs.status import JobStatus
from jobs.store import JobStore
from jobs.submit import enqueue_stored

log = logging.getLogger(__name__)

bp = Blueprint("uploads", __name__, url_prefix="/v1/uploads")

EXTENSION_ALIASES = {"jpeg": "jpg", "tiff": "tif"}


def upload_extension(filename: object) -> str:
    """The S3 key's extension, from the client's filename; the content is judged later."""
    if not isinstance(filename, str) or not filename:
        raise Problem("invalid-upload-request", "send the file's name as 'filename'")
    ext = os.path.splitext(filename)[1].lstrip(".").lower()
    ext = EXTENSION_ALIASES.get(ext, ext)
    if ext not in UPLOAD_EXTENSIONS:
        names = ", ".join(sorted(UPLOAD_EXTENSIONS))
        raise Problem("unsupported-media-type", f"a file name ending in one of {names}")
    return ext


def upload_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise Problem("invalid-upload-request", "send the file's size in bytes as 'size'")
    limit = api_settings().max_direct_upload_bytes
    if size > limit:
        raise Problem("content-too-large", f"the file is over {limit:,} bytes")
    return size


def json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem("invalid-json", "send a JSON object with Content-Type: application/json")
    return body


@bp.post("")
def create_upload() -> tuple[Response, int]:
    owner = guard_submit()  # signing storage space is part of a submit: the same keys and limits
    body = json_object()
    ext, size = upload_extension(body.get("filename")), upload_size(body.get("size"))
    upload_id = new_job_id()
    key = incoming_key(upload_id, ext)
    store, expiry = services().store, api_settings().upload_url_expiry
    url, fields = store.bucket.presigned_post(key, size, expiry)
    ticket = {"key": key, "ext": ext, "size": size, "filename": body["filename"], "owner": owner}
    store.bucket.write(ticket_key(upload_id), json.dumps(ticket).encode())
    log.info("upload %s signed: %s, %d bytes", upload_id, key, size)
    return jsonify({"id": upload_id, "url": url, "fields": fields, "expires_in": expiry}), 201


def read_ticket(store: JobStore, upload_id: object, owner: str | None) -> tuple[str, dict[str, Any]]:
    """The upload's id and ticket; 404 for an unknown id or another key's upload, 409 for one a job already used."""
    if not is_job_id(upload_id):
        raise Problem("upload-not-found", "there is no such upload; ask /v1/uploads for one")
    assert isinstance(upload_id, str)
    body = store.get(ticket_key(upload_id))
    if body is None:
        if store.read_status(upload_id) is not None:
            raise Problem("upload-used", "this upload has already been submitted as a job")
        raise Problem("upload-not-found", "there is no such upload, or it expired")
    ticket: dict[str, Any] = json.loads(body)
    if ticket.get("owner") is not None and ticket["owner"] != owner:  # signed for another key: it becomes its job
        raise Problem("upload-not-found", "there is no such upload, or it expired")
    return upload_id, ticket


def refuse(store: JobStore, upload_id: str, key: str, problem: Problem) -> Problem:
    """Delete an upload that failed its check (and its ticket) and return the problem to answer."""
    for doomed in (key, ticket_key(upload_id)):
        store.bucket.delete(doomed)
    log.info("upload %s refused and deleted: %s", upload_id, problem.detail)
    return problem


def check_stored(store: JobStore, upload_id: str, ticket: dict[str, Any]) -> tuple[RangedObject, str, str]:
    """The stored upload (to be read in ranges), its key and ETag once its size and magic bytes pass."""
    key, signed = str(ticket["key"]), int(ticket["size"])
    try:
        size, etag = store.bucket.head(key)
    except NotFound:
        raise Problem("upload-missing", "nothing was uploaded yet; POST the file to the url first") from None
    if size != signed:
        detail = f"the stored file is {size:,} bytes but the upload was signed for {signed:,}"
        raise refuse(store, upload_id, key, Problem("upload-size-mismatch", detail))
    stored = RangedObject(store.bucket, key, size, etag)
    try:
        if not has_image_magic(stored[:MAGIC_BYTES]):
            detail = "not a JPEG, PNG, TIFF or camera RAW file (judged by its content, not its name)"
            raise refuse(store, upload_id, key, Problem("unsupported-media-type", detail))
    except NotFound:
        raise Problem("upload-missing", "the uploaded file is gone; upload it again") from None
    return stored, key, etag


def take_checked(store: JobStore, upload_id: str, incoming: str, ext: str, etag: str) -> str:
    """Copy the checked version to the job's own key; refuse if the upload changed after it was checked."""
    key = upload_key(upload_id, ext)
    if store.bucket.copy(incoming, key) != etag:
        store.bucket.delete(key)
        detail = "the uploaded file changed while it was being checked; upload it again"
        raise refuse(store, upload_id, incoming, Problem("upload-changed", detail))
    return key


def submit_upload(body: dict[str, Any], owner: str | None) -> JobStatus:
    """``POST /v1/jobs`` with JSON ``{upload_id, ratio?, callback_url?, format?, quality?}``; ``owner`` as for
    ``submit_form``. Everything the body says is checked before the upload is looked at."""
    ratio, callback_url = read_ratio(body.get("ratio")), read_callback_url(body.get("callback_url"))
    output = read_output(body)
    store, queue = services().store, services().queue
    upload_id, ticket = read_ticket(store, body.get("upload_id"), owner)
    data, incoming, etag = check_stored(store, upload_id, ticket)
    try:
        info = inspect(data, str(ticket.get("filename", "")))
    except Problem as problem:
        raise refuse(store, upload_id, incoming, problem) from None
    except NotFound:
        raise Problem("upload-missing", "the uploaded file is gone; upload it again") from None
    except Conflict:  # a ranged read found another version than the one measured
        detail = "the uploaded file changed while it was being checked; upload it again"
        raise refuse(store, upload_id, incoming, Problem("upload-changed", detail)) from None
    key = take_checked(store, upload_id, incoming, str(ticket["ext"]), etag)
    try:
        status = enqueue_stored(store, queue, upload_id, key, info.kind, ratio, callback_url, owner, output)
    except Conflict:
        raise Problem("upload-used", "this upload has already been submitted") from None
    for spent in (ticket_key(upload_id), incoming):
        try:  # the job is queued: what is left behind only expires with the bucket's lifecycle rules
            store.bucket.delete(spent)
        except ServiceUnavailable as exc:
            log.warning("upload %s: could not delete %s: %s", upload_id, spent, exc)
    log_submitted(status, info, len(data))
    return status
