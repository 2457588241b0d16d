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
from typing import TypeVar

from api.metrics import submitted_total
from api.services import Services
from api.settings import ApiSettings
from jobs.aws import ServiceUnavailable
from jobs.emf import emf_line, print_line
from jobs.submit import resend_stranded
from pool.tiers import POOL

log = logging.getLogger(__name__)
T = TypeVar("T")


class Arrivals:
    """Jobs this host accepted and the tier record has not counted yet, from its submit counter (which
    restarts with the server). ``pending`` looks; ``counted`` marks what it saw as counted."""

    def __init__(self, total: Callable[[], int] = submitted_total) -> None:
        self.total = total
        self.seen = self.looked = total()

    def pending(self) -> int:
        self.looked = self.total()
        return self.looked - self.seen if self.looked >= self.seen else self.looked

    def counted(self) -> None:
        self.seen = self.looked


def tick(services: Services, arrivals: int = 0) -> bool:
    """One round: with auto, the tier; capacity for what is queued and the keep-warm floor (reaping when
    due) while the pool serves, only the reaper while the function does; then stranded submits.

    Each step that cannot reach AWS is logged and the next still runs: an EC2 outage must not keep
    stranded submits from being resent. ``arrivals``: jobs this host accepted since they were last
    counted; returns whether they were counted (False: the tier could not be decided, so a later tick
    counts them)."""
    pool = services.settings.pool
    serving, counted = decide_tier(services, arrivals) if pool.launches and pool.tier == "auto" else (POOL, True)
    if pool.launches and serving == POOL:  # not while the Lambda tier serves
        step("capacity", lambda: services.provider.ensure_capacity(warm=False))
    elif pool.launches:
        step("reaping", services.provider.reap_if_due)
    resent = step("stranded submits", lambda: resend_stranded(services.store, services.queue))
    if resent:
        log.warning("tick: sent %d stranded job(s) again", resent)
    if services.settings.emf and services.settings.pool.enabled:
        step("instance-hours", lambda: report_hours(services))
    return counted


def step(name: str, action: Callable[[], T]) -> T | None:
    """One step of a tick; None, logged, when AWS could not be reached (the next tick tries again)."""
    try:
        return action()
    except ServiceUnavailable as exc:
        log.warning("tick: %s: %s", name, exc)
        return None


def decide_tier(services: Services, arrivals: int) -> tuple[str, bool]:
    """The tier that serves from this tick on, and whether ``arrivals`` were counted into the shared record.

    Only the timer decides (requests read what it decided). When S3, SQS or Lambda cannot be reached the
    last decision stands, and the rest of the tick (stranded submits above all) still runs."""
    auto = services.auto_tier
    try:
        return auto.decide(arrivals, pool_capped=services.provider.capped()), True
    except ServiceUnavailable as exc:
        log.warning("tick: could not decide the tier (%s); %s serves meanwhile", exc, auto.last())
        return auto.last(), False


def report_hours(services: Services) -> None:
    """Today's instance-hours as an EMF line: on AWS it becomes the metric the daily-hours alarm watches."""
    hours = services.provider.hours_used(services.provider.observe())
    print_line(emf_line({"Pool": services.settings.pool.name}, {"InstanceHoursToday": (hours, "None")}, time.time()))


def run_forever(services: Services) -> None:
    """Tick every ``tick_seconds``; an unreachable AWS is logged and tried again on the next tick."""
    arrivals = Arrivals()
    while True:
        if tick(services, arrivals.pending()):
            arrivals.counted()
        time.sleep(services.settings.tick_seconds)


def main() -> None:
    """The mule's entry point: the only place the timer reads its environment."""
    settings = ApiSettings.from_env(os.environ)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s [tick %(process)d] %(name)s: %(message)s"
    )
    log.info("ticking every %.0f s", settings.tick_seconds)
    run_forever(Services(settings))
