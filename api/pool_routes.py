"""``/v1/warm`` and ``/v1/pool``: pre-warm a worker, and show the pool.

A web page calls warm when it loads, so an instance boots while the person
picks a photo. Warm answers at once (it launches, it does not wait for the
boot) and is rate limited per client address. While the Lambda tier serves
(``DARKROOM_TIER=lambda``, or ``auto`` at quiet times) there is no instance
to boot: warm invokes the function once, asynchronously, so an execution
environment loads the model (DARKROOM_LAMBDA_FUNCTION; unset, as locally,
where the event source process loaded it at start: nothing). With the pool
disabled (a static worker) both still answer, with no workers and nothing
launched. ``serving`` says which tier serves now; ``tier`` is the setting.

Both answer the public document: how many workers are in which state, never
an instance id, a busy worker's job id (a job's id is its capability) or
EC2's error text. A caller with an operator key gets the operator's document
with all of it.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify

from api.access import caller, is_closed, is_operator, key_required, too_many
from api.guards import client_address, guard_pool_view
from api.services import api_settings, services
from jobs.aws import ServiceUnavailable
from jobs.queue import QueueDepth
from pool.note import launch_failure
from pool.tiers import LAMBDA
from pool.view import PoolView

log = logging.getLogger(__name__)

bp = Blueprint("pool", __name__, url_prefix="/v1")


@bp.post("/warm")
def warm() -> Response:
    """A closed API (keys required, no public submits) warms nothing for a caller without a key."""
    access = api_settings().access
    key = caller(access)
    if key is None and is_closed(access):
        raise key_required("warming a worker")
    wait = services().warm_limiter.hit(client_address())
    if wait > 0:
        raise too_many(wait, f"at most {api_settings().pool.warm_per_minute} warm requests a minute from one client")
    if services().serving_tier() == LAMBDA:
        warm_the_function()
    if not services().pool_serves():
        return jsonify(pool_document(None, services().queue.depth()))
    view = services().provider.ensure_capacity(warm=True, anonymous=key is None)
    return jsonify(pool_document(view, view.depth, is_operator(access, key)))


def warm_the_function() -> None:
    """No instance to warm: one invoke (at most one per process per tick) makes an environment load the
    model. Best effort: a warm Lambda refuses (throttled, say) is logged; the caller still gets the pool."""
    try:
        services().lambda_tier.warm_up(at_most_every=api_settings().tick_seconds)
    except ServiceUnavailable as exc:
        log.warning("warm: %s", exc)


@bp.get("/pool")
def pool() -> Response:
    guard_pool_view()
    if not services().pool_serves():
        return jsonify(pool_document(None, services().queue.depth()))
    view = services().provider.view()
    return jsonify(pool_document(view, view.depth, operator_asks()))


def operator_asks() -> bool:
    access = api_settings().access
    return is_operator(access, caller(access))


def dead_letter_depth() -> int | None:
    """Jobs that failed over and over; not worth failing the answer over."""
    try:
        return services().dead_letter_queue.depth().visible
    except ServiceUnavailable as exc:
        log.warning("no dead-letter depth for the pool view: %s", exc)
        return None


def pool_document(view: PoolView | None, depth: QueueDepth | None, operator: bool = False) -> dict[str, Any]:
    """The pool as anyone may see it; ``operator``: with instance and job ids and EC2's own errors."""
    settings = api_settings().pool
    serving = services().serving_tier()
    queue = {
        "visible": None if depth is None else depth.visible,
        "in_flight": None if depth is None else depth.in_flight,
        "dead_letter": dead_letter_depth(),
    }
    if view is None:
        return {
            "name": settings.name,
            "enabled": False,
            "tier": settings.tier,
            "serving": serving,
            "max_workers": 0,
            "queue": queue,
            "workers": [],
        }
    last = view.last_launch
    launch_error = None if last is None else last.error if operator else launch_failure(last)
    return {
        "name": view.name,
        "enabled": True,
        "tier": settings.tier,
        "serving": serving,
        "max_workers": view.max_workers,
        "queue": queue,
        "workers": [worker.to_dict() if operator else worker.public_dict() for worker in view.workers],
        "launching": view.launching,
        "boot_seconds": round(view.boot_seconds, 1),
        "service_seconds": None if view.service_seconds is None else round(view.service_seconds, 2),
        "last_launch": None if last is None else {"at": last.at, "error": launch_error},
        "instance_hours_today": None if view.hours_today is None else round(view.hours_today, 3),
        "daily_instance_hours": settings.daily_instance_hours,
        "observed_at": view.observed_at,
    }
