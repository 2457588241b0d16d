"""``GET /metrics``: Prometheus text for the API and the pool.

Counters kept in the request path (jobs submitted and canceled, by input
kind) and the pool's launches (api/launch_metrics.py: counted by the request
path and the timer mule alike) use prometheus_client's multiprocess mode
when ``PROMETHEUS_MULTIPROC_DIR`` is set (api/uwsgi.ini sets it for every
uWSGI process, the mule included: each writes its own file, a scrape of any
process sums them). The queue, the dead-letter queue and the
pool are read at scrape time, from SQS and the pool view, so every process
answers the same.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from api.launch_metrics import LAUNCH_FAILURES, LAUNCHED
from api.services import api_settings, services
from jobs.aws import ServiceUnavailable

bp = Blueprint("metrics", __name__)

SUBMITTED = Counter("darkroom_jobs_submitted", "Jobs accepted, by input kind", ["kind"])
CANCELED = Counter("darkroom_jobs_canceled", "Queued jobs canceled by their client")


class QueueAndPool(Collector):
    """Queue depth, dead letters and the pool's workers by state, read when scraped."""

    def collect(self) -> Iterator[Metric]:
        queue = GaugeMetricFamily("darkroom_queue_messages", "Messages in the job queues", labels=["queue", "state"])
        try:
            for name, depth in (
                ("jobs", services().queue.depth()),
                ("dead-letter", services().dead_letter_queue.depth()),
            ):
                queue.add_metric([name, "visible"], depth.visible)
                queue.add_metric([name, "in_flight"], depth.in_flight)
        except ServiceUnavailable:
            pass  # an empty family: the scrape still answers
        yield queue
        workers = GaugeMetricFamily("darkroom_pool_workers", "The pool's workers by state", labels=["state"])
        hours = GaugeMetricFamily("darkroom_pool_instance_hours_today", "Instance-hours used since 00:00 UTC")
        if api_settings().pool.enabled:
            try:
                view = services().provider.view()
            except ServiceUnavailable:
                view = None
            if view is not None:
                states = [worker.phase.value for worker in view.workers]
                for state in sorted(set(states)):
                    workers.add_metric([state], states.count(state))
                hours.add_metric([], view.hours_today or 0.0)
        yield workers
        yield hours


def counters(*in_this_process: Counter) -> CollectorRegistry:
    """The request path's counters: every uWSGI process's (the mule's too) in multiprocess mode, else this one's."""
    made = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # read by prometheus_client itself; set by uwsgi.ini
        MultiProcessCollector(made)  # type: ignore[no-untyped-call]
    else:
        for counter in in_this_process:
            made.register(counter)
    return made


def registry() -> CollectorRegistry:
    made = counters(SUBMITTED, CANCELED, LAUNCHED, LAUNCH_FAILURES)
    made.register(QueueAndPool())
    return made


def submitted_total() -> int:
    """Jobs accepted by this host's API processes since it started: every process's SUBMITTED summed.

    The API's timer counts arrivals from it for ``DARKROOM_TIER=auto`` (api/tick.py), so a submit
    pays nothing more for them than the counter it already bumps.
    """
    found = counters(SUBMITTED).collect()
    return round(sum(s.value for family in found for s in family.samples if s.name == "darkroom_jobs_submitted_total"))


@bp.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(registry()), mimetype=CONTENT_TYPE_LATEST)
