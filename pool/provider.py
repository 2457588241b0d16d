"""The capacity provider: after each submit, on warm and when a waiting job is polled,
make sure enough workers are running or booting, and reap the ones that are not working.

One call observes the pool (EC2 by tag, worker records, slots, the queue),
runs the reaper when it is due, and, only when the rule says to launch,
takes the host lock, observes again, claims slots and launches into them.
Launch failures are not raised: they are recorded (``pool/last-launch.json``)
so a waiting job's status can say why no worker comes.

The daily cap: with ``daily_instance_hours`` set, the usage ledger is read
inside the host lock, only when a launch is about to happen; once today's
instance-hours reach the cap nothing is launched and the outcome says so (a
waiting job's note shows it) until 00:00 UTC. The reaper then stops running
workers too: every one that is not busy is terminated, and a busy one as soon
as it is seen not busy, so no job is cut off mid-way and a day's usage passes
the cap by at most the jobs running when it was reached.

Keyless warm calls (``anonymous``) have their own, smaller daily budget,
``anonymous_instance_hours``: the runs they launch are marked in the ledger,
which every API host shares, and once those runs add up to the budget a
keyless warm launches nothing (it still answers the pool).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from jobs.aws import ServiceUnavailable
from jobs.queue import JobQueue
from jobs.store import JobStore
from pool.book import LaunchOutcome, PoolBook, Slot
from pool.ec2 import Ec2Pool, Instance, Launched, LaunchFailed, iso
from pool.hours import Run, anonymous_runs, cap_reached, ended_at, hours_today, with_unrecorded
from pool.launches import CAPACITY, DAILY_CAP, REFUSED, LaunchCounter, NoLaunchCounter
from pool.ledger import HoursLedger
from pool.lock import host_lock
from pool.reaper import plan_reaping, remember
from pool.rule import workers_to_launch
from pool.settings import PoolSettings
from pool.view import Observation, PoolView, build_view, free_slots

log = logging.getLogger(__name__)

REAP_EVERY_SECONDS = 30.0  # per process: the reaper's calls are few, but not on every submit


class Provider:
    def __init__(
        self,
        pool: Ec2Pool,
        store: JobStore,
        queue: JobQueue,
        settings: PoolSettings,
        lock: Path,
        reap_every: float = REAP_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        launches: LaunchCounter | None = None,
    ) -> None:
        self.pool = pool
        self.store = store
        self.book = PoolBook(store.bucket)
        self.ledger = HoursLedger(store.bucket)
        self.queue = queue
        self.settings = settings
        self.lock = lock
        self.reap_every = reap_every
        self.clock = clock
        self.launches: LaunchCounter = launches or NoLaunchCounter()  # counted where they happen (the API's metrics)
        self._guard = threading.Lock()
        self._last_reap: float | None = None
        self._last_view: tuple[float, PoolView] | None = None

    def observe(self) -> Observation:
        return Observation(
            instances=tuple(self.pool.instances()),
            records=tuple(self.store.read_workers()),
            slots=tuple(self.book.slots()),
            depth=self.queue.depth(),
            last_launch=self.book.last_launch(),
            measured=self.book.measured(),
            now=datetime.now(UTC),
        )

    def view(self) -> PoolView:
        """The pool as it is now, with today's instance-hours, changing nothing."""
        seen = self.observe()
        return self._remember(replace(build_view(seen, self.settings), hours_today=self.hours_used(seen)))

    def hours_used(self, seen: Observation) -> float:
        """Instance-hours used today (UTC): the ledger's runs, and live instances it does not know."""
        return hours_today(with_unrecorded(self.ledger.runs(seen.now), seen.instances), seen.now)

    def capped(self) -> str | None:
        """Why the pool can launch nothing more today (its daily cap used up), or None (always, with no cap)."""
        cap = self.settings.daily_instance_hours
        return cap_reached(cap, self.hours_used(self.observe())) if cap > 0 else None

    def reap_if_due(self) -> None:
        """The reaper on its schedule, launching nothing: while the function serves, the runs of workers that
        stopped themselves still close in the ledger (today's hours stay true) and stuck instances still go."""
        if self._reap_due():
            self.reap(self.observe())

    def ensure_capacity(self, warm: bool, anonymous: bool = False) -> PoolView:
        """Launch what the rule asks for (``warm``: at least one worker), within the maximum.

        ``anonymous``: a keyless warm, which launches only within today's anonymous budget.
        """
        seen = self.observe()
        if self._reap_due() and self.reap(seen):
            seen = self.observe()
        if warm and anonymous and self._to_launch(seen, warm) > self._to_launch(seen, False):
            warm = self._anonymous_budget_left(seen)
        used = None
        if self._to_launch(seen, warm) > 0:
            with host_lock(self.lock):
                seen = self.observe()  # another process may have launched while this one waited
                count = self._to_launch(seen, warm)
                if count > 0:
                    used, seen = self._launch_within_cap(seen, count, anonymous)
        return self._remember(replace(build_view(seen, self.settings), hours_today=used))

    def _anonymous_budget_left(self, seen: Observation) -> bool:
        budget = self.settings.anonymous_instance_hours
        used = hours_today(anonymous_runs(self.ledger.runs(seen.now)), seen.now) if budget > 0 else 0.0
        if budget > 0 and used < budget:
            return True
        log.warning("a keyless warm launches nothing: %.2f of %g anonymous instance-hours used today", used, budget)
        return False

    def recent_view(self, max_age: float) -> PoolView:
        """This process's last view if it is at most ``max_age`` seconds old, else ``ensure_capacity``.

        Polls of waiting jobs come here: a waiting job keeps the pool honest (a
        worker that died is replaced) without every poll listing EC2.
        """
        with self._guard:
            last = self._last_view
        if last is not None and self.clock() - last[0] <= max_age:
            return last[1]
        return self.ensure_capacity(warm=False)

    def _remember(self, view: PoolView) -> PoolView:
        with self._guard:
            self._last_view = (self.clock(), view)
        return view

    def _to_launch(self, seen: Observation, warm: bool) -> int:
        counts = build_view(seen, self.settings).counts()
        floor = self.settings.keep_warm.floor_at(seen.now)
        return workers_to_launch(counts, self.settings.jobs_per_worker, self.settings.max_workers, warm, floor)

    def _launch_within_cap(
        self, seen: Observation, count: int, anonymous: bool = False
    ) -> tuple[float | None, Observation]:
        """Launch unless today's cap is used up; the hours used today (None with no cap) and the pool after."""
        cap = self.settings.daily_instance_hours
        used = self.hours_used(seen) if cap > 0 else None
        why = None if used is None else cap_reached(cap, used)
        if why is None:
            self._launch(seen, count, anonymous)
            return used, self.observe()
        log.warning("launching none of %d worker(s): %s", count, why)
        self.launches.failed(DAILY_CAP)
        outcome = LaunchOutcome(iso(seen.now), why, capped=True)
        self.book.record_launch(outcome)
        return used, replace(seen, last_launch=outcome)

    def _launch(self, seen: Observation, count: int, anonymous: bool = False) -> None:
        now = iso(seen.now)
        gone = self._end_runs(seen, free_slots(seen))  # not counted; deleted now so their numbers can be claimed
        self._release(gone)
        held = {slot.index for slot in seen.slots} - {slot.index for slot in gone}
        claimed = self._claim(held, count, now)
        if not claimed:
            return
        try:
            launched = self.pool.launch(len(claimed))
        except LaunchFailed as exc:
            log.warning("could not launch %d worker(s): %s", len(claimed), exc)
            self.launches.failed(CAPACITY if exc.capacity else REFUSED)
            self._release(claimed)
            self.book.record_launch(LaunchOutcome(now, str(exc), exc.capacity))
            return
        except ServiceUnavailable:
            self._release(claimed)
            raise
        self._assign(claimed, launched)
        for lifecycle in sorted({instance.lifecycle for instance in launched}):
            self.launches.launched(lifecycle, sum(instance.lifecycle == lifecycle for instance in launched))
        self._start_runs(launched, now, anonymous)
        self.book.record_launch(LaunchOutcome(now))

    def _start_runs(self, launched: list[Launched], now: str, anonymous: bool) -> None:
        for instance in launched:
            try:
                self.ledger.start(Run(instance.instance_id, now, anonymous=anonymous))
            except ServiceUnavailable as exc:  # still counted from EC2's launch time while it is live
                log.warning("could not record the launch of %s in the usage ledger: %s", instance.instance_id, exc)

    def _end_runs(self, seen: Observation, slots: list[Slot]) -> list[Slot]:
        """Record the end of each freed slot's instance; the slots whose end is recorded, to release.

        A slot whose end could not be written is kept, so the reaper tries again.
        """
        ended = []
        for slot in slots:
            try:
                if slot.instance_id is not None:
                    self.ledger.end(
                        slot.instance_id, slot.claimed_at, ended_at(seen.records, slot.instance_id, seen.now)
                    )
            except ServiceUnavailable as exc:
                log.warning("could not record the end of %s in the usage ledger: %s", slot.instance_id, exc)
                continue
            ended.append(slot)
        return ended

    def _end_terminated(self, seen: Observation, instances: list[Instance]) -> None:
        """Terminated by the reaper: counted until now. Should this fail, its slot, freed later, ends it."""
        for instance in instances:
            try:
                self.ledger.end(instance.instance_id, instance.launched_at, iso(seen.now))
            except ServiceUnavailable as exc:
                log.warning("could not record the end of %s in the usage ledger: %s", instance.instance_id, exc)

    def _claim(self, held: set[int], count: int, now: str) -> list[Slot]:
        """Up to ``count`` slots not in ``held``; a slot another process claims first is skipped."""
        claimed: list[Slot] = []
        for index in range(self.settings.max_workers):
            if len(claimed) == count:
                break
            slot = None if index in held else self.book.claim(index, now)
            if slot is not None:
                claimed.append(slot)
        return claimed

    def _assign(self, claimed: list[Slot], launched: list[Launched]) -> None:
        for slot, instance in zip(claimed, launched, strict=False):
            log.info(
                "launched %s (%s, %s) into slot %d",
                instance.instance_id,
                instance.instance_type,
                instance.lifecycle,
                slot.index,
            )
            if self.book.assign(slot, instance) is None:  # still counted: it is a tagged instance
                log.warning("slot %d was taken while %s launched into it", slot.index, instance.instance_id)
        self._release(claimed[len(launched) :])

    def _release(self, slots: list[Slot]) -> None:
        for slot in slots:
            try:
                self.book.release(slot)
            except ServiceUnavailable as exc:  # the reaper frees it after the claim grace
                log.warning("could not release slot %d: %s", slot.index, exc)

    def _reap_due(self) -> bool:
        now = self.clock()
        with self._guard:
            due = self._last_reap is None or now - self._last_reap >= self.reap_every
            if due:
                self._last_reap = now
        return due

    def reap(self, seen: Observation) -> bool:
        """Terminate what is not working, forget what is gone; True when anything changed."""
        cap = self.settings.daily_instance_hours
        capped = cap_reached(cap, self.hours_used(seen)) if cap > 0 else None
        plan = plan_reaping(seen, self.settings, capped)
        if plan.empty:
            return False
        for instance, why in plan.terminate:
            log.warning("terminating %s: %s", instance.instance_id, why)
        terminated = [instance for instance, _ in plan.terminate]
        self.pool.terminate(terminated)
        self._end_terminated(seen, terminated)
        if any(r.boot_seconds is not None or r.service_seconds is not None for r in plan.forget):
            self.book.record_measured(remember(seen.measured, plan.forget))
        for record in plan.forget:
            self.store.delete_worker(record.instance_id)
        for slot in self._end_runs(seen, list(plan.free)):
            self.book.release(slot)
        return True
