"""The API's own OpenAPI 3.1 description, served at ``/openapi.json``.

Kept as Python data (not a file beside the package) so it ships with the code
and a test can check it against the routes the app really serves.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from api.openapi_jobs import BATCH, CANCEL, LIST, SUBMIT
from api.openapi_schemas import JOB_ID, SCHEMAS, json_response, problem

bp = Blueprint("openapi", __name__)

POOL_PATHS: dict[str, Any] = {
    "/v1/warm": {
        "post": {
            "summary": "Make sure a worker is running or booting (page-load pre-warm)",
            "operationId": "warm",
            "description": "Answers at once with the pool; it does not wait for the worker to boot.",
            "responses": {
                "200": json_response("The pool, with a worker running or booting when capacity allows.", "Pool"),
                "429": problem("Too many warm requests from this client; see Retry-After.", retry_after=True),
                "503": problem("Storage, the queue or EC2 is unavailable; retry later.", retry_after=True),
            },
        }
    },
    "/v1/pool": {
        "get": {
            "summary": "Queue depth, in-flight and dead-letter counts, and each worker's state",
            "operationId": "getPool",
            "responses": {
                "200": json_response("The pool.", "Pool"),
                "503": problem("Storage, the queue or EC2 is unavailable; retry later.", retry_after=True),
            },
        }
    },
}


TEXT = {"text/plain": {"schema": {"type": "string"}}}

UPLOAD: dict[str, Any] = {
    "summary": "Sign a direct upload to storage (for large files and RAW)",
    "operationId": "createUpload",
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["filename", "size"],
                    "properties": {"filename": {"type": "string"}, "size": {"type": "integer", "minimum": 1}},
                }
            }
        },
    },
    "responses": {
        "201": {
            "description": "POST the file as multipart form data to url, with fields, file last; then submit the id.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["id", "url", "fields", "expires_in"],
                        "properties": {
                            "id": {"type": "string", "format": "uuid"},
                            "url": {"type": "string", "format": "uri"},
                            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                            "expires_in": {"type": "integer"},
                        },
                    }
                }
            },
        },
        "400": problem("Not a JSON object with filename and size."),
        "413": problem("The file is larger than the direct upload limit."),
        "415": problem("The file name's extension is not an image type darkroom reads."),
        "503": problem("Storage is unavailable; retry later.", retry_after=True),
    },
}

WEB_PATHS: dict[str, Any] = {
    "/": {"get": {"summary": "The demo page", "operationId": "page", "responses": {"200": {"description": "HTML."}}}},
    "/v1/uploads": {"post": UPLOAD},
    "/upload": {
        "post": {
            "summary": "The original app's submit: multipart image and ratio; answers the job's name as text",
            "operationId": "legacyUpload",
            "requestBody": SUBMIT["requestBody"],
            "responses": {
                "200": {"description": "The job's name.", "content": TEXT},
                **{code: SUBMIT["responses"][code] for code in ("400", "411", "413", "415", "422", "503")},
            },
        }
    },
    "/download": {
        "get": {
            "summary": "The original app's result: the image once the job is done",
            "operationId": "legacyDownload",
            "parameters": [{"name": "fileName", "in": "query", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": {"description": "The brightened JPEG.", "content": {"image/jpeg": {}}},
                "404": {
                    "description": "'Not ready' while the job waits or runs; 'Not found' for no such job.",
                    "content": TEXT,
                },
                "422": {"description": "'Failed: <why>' when the job failed.", "content": TEXT},
            },
        }
    },
    "/checkinstance": {
        "get": {
            "summary": "The original app's pre-warm: answers ready, starting or waiting as text",
            "operationId": "legacyCheckInstance",
            "responses": {"200": {"description": "The pool's state in a word.", "content": TEXT}},
        }
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "darkroom",
        "version": "1",
        "description": "Brightens photos taken in the dark. Submit a photo, poll its job, fetch the result.",
    },
    "paths": {
        "/v1/jobs": {"post": SUBMIT, "get": LIST},
        "/v1/jobs/batch": {"post": BATCH},
        "/v1/jobs/{job_id}": {
            "delete": CANCEL,
            "get": {
                "summary": "A job's status",
                "operationId": "getJob",
                "parameters": [JOB_ID],
                "responses": {
                    "200": {
                        **json_response("The job. Retry-After is set while it is queued or processing.", "Job"),
                        "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
                    },
                    "404": problem("No such job."),
                },
            },
        },
        "/v1/jobs/{job_id}/result": {
            "get": {
                "summary": "Redirect to the brightened JPEG",
                "operationId": "getJobResult",
                "parameters": [JOB_ID],
                "responses": {
                    "303": {
                        "description": "See the short-lived presigned URL of the result.",
                        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                    },
                    "404": problem("No such job."),
                    "409": problem("The job is not done (not-ready) or it failed (job-failed).", retry_after=True),
                },
            }
        },
        **POOL_PATHS,
        **WEB_PATHS,
        "/healthz": {
            "get": {
                "summary": "Liveness: the process answers",
                "operationId": "healthz",
                "responses": {"200": {"description": "Alive."}},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: the bucket and the queue answer",
                "operationId": "readyz",
                "responses": {"200": {"description": "Ready."}, "503": problem("S3 or SQS is unreachable.", True)},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus text: jobs submitted and canceled, the queues, the pool",
                "operationId": "metrics",
                "responses": {"200": {"description": "Prometheus exposition format.", "content": TEXT}},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {"200": {"description": "The OpenAPI 3.1 document."}},
            }
        },
    },
    "components": {
        "schemas": SCHEMAS,
        "headers": {
            "RetryAfter": {"description": "Seconds to wait before asking again.", "schema": {"type": "integer"}}
        },
        "securitySchemes": {
            "bearerKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key: Authorization: Bearer drk_...",
            },
            "headerKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        },
    },
}

# With DARKROOM_REQUIRE_API_KEY these need a key ({} : keyless, when keys are not required or under the public limit).
KEYED_OPERATIONS = {"submitJob", "submitBatch", "listJobs", "cancelJob"}
KEYED_OPERATIONS |= {"getJob", "getJobResult", "getPool", "createUpload", "legacyUpload", "legacyDownload"}

for _operations in DOCUMENT["paths"].values():  # any route may fail unexpectedly
    for _operation in _operations.values():
        _operation["responses"]["default"] = problem("An unexpected error (500).")
        if _operation["operationId"] in KEYED_OPERATIONS:
            _operation["security"] = [{"bearerKey": []}, {"headerKey": []}, {}]
            _operation["responses"]["401"] = problem("An API key is required (api-key-required) or wrong.")
for _submit in (UPLOAD, BATCH, WEB_PATHS["/upload"]["post"]):  # a direct upload's signing counts as a submit too
    _submit["responses"]["429"] = SUBMIT["responses"]["429"]


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(DOCUMENT)
