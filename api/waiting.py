"""How long a job will wait, and why; with the spot pool, making sure a worker is coming.

A submit, and the poll of a waiting job, call ``launch_if_needed``: with the
pool enabled it launches workers when the scaling rule asks for them and
returns the pool's view, from which a waiting job's ETA and note are made.
"""

from __future__ import annotations

import logging

from api.eta import PoolEta, eta_seconds
from api.services import api_settings, services
from jobs.aws import ServiceUnavailable
from jobs.queue import QueueDepth
from jobs.status import JobState, JobStatus, iso_now, parse_iso
from pool.note import waiting_note
from pool.view import PoolView

log = logging.getLogger(__name__)

POLL_VIEW_MAX_AGE = 5.0  # a poll reuses this process's pool view up to this old (and ensures capacity past it)


def launch_if_needed(max_age: float | None) -> PoolView | None:
    """While spot workers serve, launch the ones the scaling rule asks for and return the pool's view.

    ``max_age=None`` always checks (after a submit); otherwise a view of this
    process's up to that old is reused. A capacity problem never fails the
    request: the job is queued either way, and the next poll tries again.
    """
    if not services().pool_serves():  # a static worker, or the Lambda tier serving (always, or by auto's choice)
        return None
    provider = services().provider
    try:
        return provider.ensure_capacity(warm=False) if max_age is None else provider.recent_view(max_age)
    except ServiceUnavailable as exc:
        log.warning("could not ensure capacity: %s", exc)
        return None


def queue_depth() -> QueueDepth | None:
    """The queue's depth for an estimate; an estimate is not worth failing a request over."""
    try:
        return services().queue.depth()
    except ServiceUnavailable as exc:
        log.warning("no queue depth for the estimate: %s", exc)
        return None


def estimate(
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


def after_submit() -> tuple[int, str | None]:
    """A just-queued job's ETA and note; with a pool, capacity is made sure of first."""
    view = launch_if_needed(max_age=None)
    return estimate(JobState.QUEUED, view.depth if view is not None else queue_depth(), 0.0, view)


def job_wait(status: JobStatus) -> tuple[int, str | None]:
    """A job's ETA and its note: the worker's own (why it was retried) and, while queued, why it waits."""
    if status.state.terminal:
        return 0, status.note
    view = launch_if_needed(POLL_VIEW_MAX_AGE)
    depth = None
    if status.state is JobState.QUEUED:
        depth = view.depth if view is not None else queue_depth()
    started = status.stages.get(JobState.PROCESSING.value)
    processing_for = (parse_iso(iso_now()) - parse_iso(started)).total_seconds() if started else 0.0
    eta, why = estimate(status.state, depth, processing_for, view)
    return eta, "; ".join(note for note in (status.note, why) if note) or None
