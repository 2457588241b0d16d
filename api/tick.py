"""The API's timer: the pool and the queue looked after with no request at all.

Inside requests the pool acts only when someone asks: a message stranded
when every worker died would wait for the next request, and a stuck
instance would never be reaped without traffic. So each API host runs this
loop in a uWSGI mule (``mule = %dtick_mule.py`` in api/uwsgi.ini; uWSGI
restarts it if it dies): every ``DARKROOM_TICK_SECONDS`` it ensures
capacity (the scaling rule with its keep-warm floor, and the reaper when due) and resends the
messages of submits that died before the queue had them. Several hosts
ticking at once are safe: the pool's slots bound launches across hosts.

With ``DARKROOM_TIER=auto`` each tick first counts the jobs this host
accepted since its last tick (its submit counter, api/metrics.py) into the
shared arrivals record and decides which tier serves (pool/autotier.py):
spot workers are launched only while the pool serves.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from api.metrics import submitted_total
from api.services import Services
from api.settings import ApiSettings
from jobs.aws import ServiceUnavailable
from jobs.emf import emf_line, print_line
from jobs.submit import resend_stranded
from pool.tiers import POOL

log = logging.getLogger(__name__)


class Arrivals:
    """Jobs this host accepted since the last look, from its submit counter (which restarts with the server)."""

    def __init__(self, total: Callable[[], int] = submitted_total) -> None:
        self.total = total
        self.seen = total()

    def since_last(self) -> int:
        now = self.total()
        new = now - self.seen if now >= self.seen else now
        self.seen = now
        return new


def tick(services: Services, arrivals: int = 0) -> None:
    """One round: with auto, the tier; capacity for what is queued and the keep-warm floor (reaping when
    due) while the pool serves; then stranded submits. ``arrivals``: jobs this host accepted since the last."""
    pool = services.settings.pool
    serving = services.auto_tier.decide(arrivals) if pool.launches and pool.tier == "auto" else POOL
    if pool.launches and serving == POOL:  # not while the Lambda tier serves
        view = services.provider.ensure_capacity(warm=False)
        log.debug("tick: %d working, %d booting", view.working, view.booting)
    resent = resend_stranded(services.store, services.queue)
    if resent:
        log.warning("tick: sent %d stranded job(s) again", resent)
    if services.settings.emf and services.settings.pool.enabled:
        report_hours(services)


def report_hours(services: Services) -> None:
    """Today's instance-hours as an EMF line: on AWS it becomes the metric the daily-hours alarm watches."""
    hours = services.provider.hours_used(services.provider.observe())
    print_line(emf_line({"Pool": services.settings.pool.name}, {"InstanceHoursToday": (hours, "None")}, time.time()))


def run_forever(services: Services) -> None:
    """Tick every ``tick_seconds``; an unreachable AWS is logged and tried again on the next tick."""
    arrivals = Arrivals()
    while True:
        try:  # a tick that fails loses its arrivals: an hour's count is short by one tick's submits at most
            tick(services, arrivals.since_last())
        except ServiceUnavailable as exc:
            log.warning("tick: %s", exc)
        time.sleep(services.settings.tick_seconds)


def main() -> None:
    """The mule's entry point: the only place the timer reads its environment."""
    settings = ApiSettings.from_env(os.environ)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s [tick %(process)d] %(name)s: %(message)s"
    )
    log.info("ticking every %.0f s", settings.tick_seconds)
    run_forever(Services(settings))
