"""The job routes' operations in /openapi.json (submit, batch, list, cancel): data only."""

from __future__ import annotations

from typing import Any

from api.openapi_schemas import JOB_ID, json_response, problem, ref
from jobs.outputs import FORMATS

CALLBACK = (
    "An https URL POSTed the job's status when it is done or failed, signed in the Darkroom-Signature "
    "header (t=<unix time>,v1=<hex HMAC-SHA256 of 't.body'>); private and loopback addresses are refused."
)
FORMAT = {
    "type": "string",
    "enum": list(FORMATS),
    "description": "The result: JPEG (default), 16-bit PNG or 16-bit TIFF; EXIF and ICC kept, tagged sRGB.",
}
QUALITY = "JPEG quality, 1 to 100 (default 92); JPEG only."
OUTPUT_FIELDS = {"format": FORMAT, "quality": {"type": "string", "description": QUALITY}}  # form fields are text
JSON_OUTPUT_FIELDS = {
    "format": FORMAT,
    "quality": {"type": "integer", "minimum": 1, "maximum": 100, "description": QUALITY},
}


def _photo_form(image: dict[str, Any], ratio: str) -> dict[str, Any]:
    """A multipart submit's body: the photo (or photos), a ratio, a callback and the output's format."""
    properties = {
        "image": image,
        "ratio": {"type": "string", "description": ratio},
        "callback_url": {"type": "string", "format": "uri", "description": CALLBACK},
        **OUTPUT_FIELDS,
    }
    return {"schema": {"type": "object", "required": ["image"], "properties": properties}}


SUBMIT: dict[str, Any] = {
    "summary": "Submit a photo to brighten",
    "operationId": "submitJob",
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": _photo_form(
                {
                    "type": "string",
                    "contentMediaType": "application/octet-stream",
                    "description": "JPEG, PNG, TIFF, DNG or a camera RAW file; its type is judged by content.",
                },
                "A number from 1 to 300, or 'auto' (default).",
            ),
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "A direct upload, by the id POST /v1/uploads gave; each id makes one job.",
                    "required": ["upload_id"],
                    "properties": {
                        "upload_id": {"type": "string", "format": "uuid"},
                        "ratio": ref("Ratio"),
                        "callback_url": {"type": "string", "format": "uri", "description": CALLBACK},
                        **JSON_OUTPUT_FIELDS,
                    },
                }
            },
        },
    },
    "responses": {
        "202": {
            **json_response("Accepted and queued.", "JobAccepted"),
            "headers": {"Location": {"description": "The job's URL.", "schema": {"type": "string"}}},
        },
        "400": problem(
            "No image field, an empty file, an invalid ratio, format or quality, or a refused callback_url."
        ),
        "404": problem("JSON: no such upload id (upload-not-found)."),
        "409": problem(
            "JSON: the upload was used (upload-used), is missing (upload-missing) or changed (upload-changed)."
        ),
        "411": problem("A chunked request body without Content-Length."),
        "413": problem("The request body is larger than the limit."),
        "415": problem("Not a JPEG, PNG, TIFF or camera RAW file."),
        "422": problem("A corrupt or truncated image, one with too many pixels, or a direct upload of another size."),
        "429": problem("Too many submits from this key or client; see Retry-After.", retry_after=True),
        "503": problem("Storage or the queue is unavailable; retry later.", retry_after=True),
    },
}

BATCH: dict[str, Any] = {
    "summary": "Submit several photos in one request: one job per file",
    "operationId": "submitBatch",
    "description": "Every file is checked before any is stored; each counts as one submit against the limit.",
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": _photo_form(
                {
                    "type": "array",
                    "items": {"type": "string", "contentMediaType": "application/octet-stream"},
                    "description": "The files, each in a field named image (DARKROOM_BATCH_MAX_FILES at most).",
                },
                "For every file: 1 to 300, or 'auto'.",
            )
        },
    },
    "responses": {
        "202": json_response("Every file accepted and queued.", "BatchAccepted"),
        "400": problem("No image field, too many files, an empty file, an invalid ratio or a refused callback_url."),
        **{code: SUBMIT["responses"][code] for code in ("411", "413", "415", "422", "503")},
    },
}

LIST: dict[str, Any] = {
    "summary": "The caller's API key's most recent jobs, newest first",
    "operationId": "listJobs",
    "parameters": [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}
    ],
    "responses": {
        "200": json_response("The key's jobs.", "JobList"),
        "400": problem("limit is not a whole number from 1 to 100."),
        "503": problem("Storage is unavailable; retry later.", retry_after=True),
    },
}

CANCEL: dict[str, Any] = {
    "summary": "Cancel a queued job: it never runs, and its input is deleted now",
    "operationId": "cancelJob",
    "parameters": [JOB_ID],
    "responses": {
        "200": json_response("The canceled job (canceling it again answers the same).", "Job"),
        "404": problem("No such job."),
        "409": problem("The job is processing or finished (job-not-cancelable)."),
        "503": problem("Storage is unavailable; retry later.", retry_after=True),
    },
}
