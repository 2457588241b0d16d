"""The parts of /openapi.json every route's description uses: its schemas (components/schemas), problem and
JSON responses, the job id parameter."""

from __future__ import annotations

from typing import Any

from jobs.message import RATIO_MAX, RATIO_MIN


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


PROBLEM = "application/problem+json"


def problem(description: str, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {PROBLEM: {"schema": ref("Problem")}}}
    if retry_after:
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def json_response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "description": "The job's id (uuid4).",
    "schema": {"type": "string", "format": "uuid"},
}


SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "An RFC 9457 problem detail; `type` is stable, e.g. urn:darkroom:problem:corrupt-image.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "error": ref("JobError"),
        },
    },
    "Ratio": {
        "description": f"Amplification: a number from {RATIO_MIN:g} to {RATIO_MAX:g}, or 'auto'.",
        "oneOf": [{"type": "number", "minimum": RATIO_MIN, "maximum": RATIO_MAX}, {"const": "auto"}],
    },
    "JobState": {"type": "string", "enum": ["queued", "processing", "done", "failed", "canceled"]},
    "JobLinks": {
        "type": "object",
        "required": ["self", "result"],
        "properties": {"self": {"type": "string"}, "result": {"type": "string"}},
    },
    "JobAccepted": {
        "type": "object",
        "required": ["id", "status", "eta_seconds", "links"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": ref("JobState"),
            "eta_seconds": {"type": "integer", "minimum": 0},
            "note": {"type": ["string", "null"], "description": "Why the job will wait, e.g. a worker is starting."},
            "links": ref("JobLinks"),
        },
    },
    "JobResult": {
        "type": "object",
        "required": ["url", "width", "height", "bytes"],
        "properties": {
            "url": {"type": "string", "format": "uri", "description": "A short-lived presigned GET URL."},
            "width": {"type": "integer"},
            "height": {"type": "integer"},
            "bytes": {"type": "integer"},
        },
    },
    "JobError": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    },
    "Job": {
        "type": "object",
        "required": ["id", "status", "kind", "created_at", "updated_at", "eta_seconds", "result", "error"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": ref("JobState"),
            "kind": {"type": "string", "enum": ["raw", "srgb"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "stages": {
                "type": "object",
                "description": "When the job first entered each state.",
                "additionalProperties": {"type": "string", "format": "date-time"},
            },
            "attempts": {"type": "integer", "minimum": 0},
            "worker": {
                "type": ["string", "null"],
                "description": "The worker that last took the job: on a spot instance, its instance id.",
            },
            "ratio": ref("Ratio"),
            "ratio_used": {"type": ["number", "null"]},
            "method": {"type": ["string", "null"]},
            "note": {"type": ["string", "null"], "description": "Why the job waits or was retried."},
            "eta_seconds": {"type": "integer", "minimum": 0},
            "result": {"oneOf": [ref("JobResult"), {"type": "null"}]},
            "error": {"oneOf": [ref("JobError"), {"type": "null"}]},
            "webhook": {
                "description": "How the job's callback went, once tried; a refused callback says why.",
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["delivered", "attempts", "at"],
                        "properties": {
                            "delivered": {"type": "boolean"},
                            "attempts": {"type": "integer", "minimum": 0},
                            "at": {"type": "string", "format": "date-time"},
                            "error": {"type": ["string", "null"]},
                        },
                    },
                    {"type": "null"},
                ],
            },
        },
    },
}

SCHEMAS["JobList"] = {
    "type": "object",
    "required": ["jobs"],
    "properties": {"jobs": {"type": "array", "items": ref("Job")}},
}
SCHEMAS["BatchAccepted"] = {
    "type": "object",
    "required": ["jobs"],
    "properties": {"jobs": {"type": "array", "items": ref("JobAccepted"), "description": "One per file, in order."}},
}

SCHEMAS["Worker"] = {
    "type": "object",
    "description": "instance_id, launched_at, job_id and reason are shown to an operator key only.",
    "required": ["state", "since"],
    "properties": {
        "instance_id": {"type": "string"},
        "instance_type": {"type": ["string", "null"]},
        "lifecycle": {"type": ["string", "null"], "enum": ["spot", "on-demand", None]},
        "state": {
            "type": "string",
            "enum": ["booting", "ready", "busy", "draining", "stopped"],
            "description": "stopped: the worker stopped or went silent and its instance is on its way out.",
        },
        "since": {"type": "string", "format": "date-time", "description": "When it entered this state."},
        "launched_at": {"type": ["string", "null"], "format": "date-time"},
        "job_id": {"type": ["string", "null"], "description": "The job it is running, when busy."},
        "reason": {"type": ["string", "null"], "description": "Why it is draining or stopped."},
    },
}
SCHEMAS["Pool"] = {
    "type": "object",
    "required": ["name", "enabled", "tier", "serving", "max_workers", "queue", "workers"],
    "properties": {
        "name": {"type": "string"},
        "enabled": {
            "type": "boolean",
            "description": "False with a static worker or the Lambda tier: nothing is launched.",
        },
        "tier": {
            "type": "string",
            "enum": ["pool", "lambda", "auto"],
            "description": "Who serves jobs: spot workers, the Lambda function, or whichever traffic calls for.",
        },
        "serving": {
            "type": "string",
            "enum": ["pool", "lambda"],
            "description": "Who serves jobs now: with tier auto, the choice traffic made.",
        },
        "max_workers": {"type": "integer", "minimum": 0},
        "queue": {
            "type": "object",
            "required": ["visible", "in_flight", "dead_letter"],
            "properties": {
                "visible": {"type": ["integer", "null"], "description": "Jobs waiting for a worker."},
                "in_flight": {"type": ["integer", "null"], "description": "Jobs a worker has taken."},
                "dead_letter": {"type": ["integer", "null"], "description": "Messages in the dead-letter queue."},
            },
        },
        "workers": {"type": "array", "items": ref("Worker")},
        "launching": {"type": "integer", "minimum": 0, "description": "Launches in progress."},
        "boot_seconds": {"type": "number", "description": "Launch to ready, measured or estimated."},
        "service_seconds": {"type": ["number", "null"], "description": "One job's time, as measured."},
        "last_launch": {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {
                        "at": {"type": "string"},
                        "error": {
                            "type": ["string", "null"],
                            "description": "Why nothing launched; EC2's own text only for an operator key.",
                        },
                    },
                },
                {"type": "null"},
            ]
        },
        "instance_hours_today": {
            "type": ["number", "null"],
            "minimum": 0,
            "description": "Instance-hours used since 00:00 UTC; null on a warm that did not count them.",
        },
        "daily_instance_hours": {
            "type": "number",
            "minimum": 0,
            "description": "No worker is launched once today's instance-hours reach this; 0: no cap.",
        },
        "observed_at": {"type": "string", "format": "date-time"},
    },
}
