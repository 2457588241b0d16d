"""The API's timer: the pool and the queue looked after with no request at all.

Inside requests the pool acts only when someone asks: a message stranded
when every worker died would wait for the next request, and a stuck
instance would never be reaped without traffic. So each API host runs this
loop in a uWSGI mule (``mule = %dtick_mule.py`` in api/uwsgi.ini; uWSGI
restarts it if it dies): every ``DARKROOM_TICK_SECONDS`` it ensures
capacity (the scaling rule with its keep-warm floor, and the reaper when due) and resends the
messages of submits that died before the queue had them. Several hosts
ticking at once are safe: the pool's slots bound launches across hosts.
"""

from __future__ import annotations

import logging
import os
import time

from api.services import Services
from api.settings import ApiSettings
from jobs.aws import ServiceUnavailable
from jobs.emf import emf_line, print_line
from jobs.submit import resend_stranded

log = logging.getLogger(__name__)


def tick(services: Services) -> None:
    """One round: capacity for what is queued and the keep-warm floor (reaping when due), then stranded submits."""
    if services.settings.pool.launches:  # not with the Lambda tier serving every job
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
    while True:
        try:
            tick(services)
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
