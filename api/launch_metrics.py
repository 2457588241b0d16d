"""The pool's launches as Prometheus counters, in whichever API process launched.

Launches happen in request handlers (submit, warm, a waiting job's poll) and
in the timer mule (api/tick.py). Under uWSGI every one of those processes,
the mule included, writes its counts to the multiprocess directory that
api/uwsgi.ini sets for the whole server, so any process's ``/metrics`` sums
them all (api/metrics.py). Kept apart from api/metrics.py, which reads the
services: the services make the provider that counts into these.
"""

from __future__ import annotations

from prometheus_client import Counter

LAUNCHED = Counter("darkroom_pool_launches", "Instances the pool launched, by market (spot, on-demand)", ["lifecycle"])
LAUNCH_FAILURES = Counter(
    "darkroom_pool_launch_failures",
    "Launches that placed nothing, by why: capacity, refused (another EC2/SSM error) or daily-cap "
    "(counted at each wanted launch the cap stopped, so its rate follows demand while capped)",
    ["reason"],
)


class PrometheusLaunches:
    """The pool's ``LaunchCounter`` (pool/launches.py), counting into the counters above."""

    def launched(self, lifecycle: str, count: int) -> None:
        LAUNCHED.labels(lifecycle).inc(count)

    def failed(self, reason: str) -> None:
        LAUNCH_FAILURES.labels(reason).inc()
