"""Liveness and readiness, for the load balancer and the local stack.

``/healthz`` does no I/O: the process answers, so it is alive. ``/readyz``
reaches the bucket and the queue, so an instance that cannot do its work is
taken out of rotation instead of answering 503 to every upload.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from api.services import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """200 when S3 and SQS answer; their ServiceUnavailable becomes a 503 problem."""
    services().store.bucket.check()
    depth = services().queue.depth()
    return jsonify({"status": "ready", "queue": {"visible": depth.visible, "in_flight": depth.in_flight}})
