"""The spot pool as a discrete-event simulation (SimPy), following the real system's policy.

- On every submit the API runs the scaling rule (``pool.rule``, the
  same function the real provider calls) on visible + in-flight messages and
  the workers ready, busy or booting; on a page-load warm call it asks for at
  least one. The hard maximum counts draining workers too. ``min_workers``
  (DARKROOM_MIN_WORKERS) keeps that many launched and exempt from the idle stop.
- A launched instance boots (a sampled boot-to-ready time), then its worker
  long-polls the queue; it stops when an empty poll ends after ``idle_seconds``
  with nothing to do (as worker/loop.py checks it), and its instance ends.
- A spot interruption gives ``notice_seconds``: a running job that fits before
  the deadline (with the worker's margin) finishes, else it goes back to the
  queue at once (the worker hands the message back); the worker takes no more
  work. A waiting job's poll then has the API launch a replacement, which the
  model does when a job is handed back or a worker leaves work behind.
- Billing: per second from launch until the instance ends, 60 s minimum.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import simpy
from simpy.resources.store import StoreGet

from darkroom.simulate.arrivals import Trace
from darkroom.simulate.config import Policy
from darkroom.simulate.outcome import Outcome, WorkerLog
from darkroom.simulate.service import boot_sample, presampled, service_samples
from darkroom.simulate.tables import BootTime, ServiceTime
from pool.rule import PoolCounts, workers_to_launch


@dataclass(frozen=True)
class PoolModel:
    """What the instances and the work are like."""

    boot: BootTime
    service: dict[str, ServiceTime]  # by input kind
    interruptions_per_hour: float = 0.0  # per instance
    notice_seconds: float = 120.0
    notice_margin_seconds: float = 15.0
    poll_seconds: float = 20.0  # the worker's long poll
    min_billed_seconds: float = 60.0


@dataclass
class _Job:
    index: int
    kind: str
    submitted: float
    remaining: float | None = None  # service left, once sampled


@dataclass
class _Worker:
    log: WorkerLog
    state: str = "booting"  # booting, ready, busy, draining, gone
    process: simpy.Process | None = None
    pinned: bool = False  # counts towards min_workers: exempt from the idle stop
    job: _Job | None = None
    job_started: float = 0.0
    polling: StoreGet | None = None  # the queue get of the long poll in progress


@dataclass
class _Pool:
    env: simpy.Environment
    model: PoolModel
    policy: Policy
    rng: np.random.Generator  # service times
    boots: np.random.Generator  # one stream per kind of draw, so policies compared on one seed
    lifetimes: np.random.Generator  # see the same boots and interruptions (common random numbers)
    queue: simpy.Store
    workers: list[_Worker] = field(default_factory=list)
    states: Counter[str] = field(default_factory=Counter)  # live workers by state
    in_flight: int = 0  # jobs a worker holds
    done: dict[int, float] = field(default_factory=dict)
    interruptions: int = 0
    handed_back: int = 0
    horizon: float = math.inf  # end of the trace, when min_workers stop holding
    closing: bool = False  # past the horizon

    # -- the API side ---------------------------------------------------------

    def ensure(self, warm: bool) -> None:
        """The provider's ensure_capacity: launch what the rule (and min_workers) ask for."""
        states = self.states
        counts = PoolCounts(
            visible=len(self.queue.items),
            in_flight=self.in_flight,
            ready=states["ready"],
            busy=states["busy"],
            booting=states["booting"],
            occupied=states["ready"] + states["busy"] + states["booting"] + states["draining"],
        )
        floor = 0 if self.closing else self.policy.min_workers  # the product's rule, floor included
        launch = workers_to_launch(counts, self.policy.jobs_per_worker, self.policy.max_workers, warm, floor)
        for _ in range(launch):
            self.launch()

    def launch(self) -> None:
        worker = _Worker(WorkerLog(launched=self.env.now))
        pinned = sum(1 for w in self.workers if w.pinned and w.state not in ("gone", "draining"))
        worker.pinned = not self.closing and pinned < self.policy.min_workers
        self.workers.append(worker)
        self.states["booting"] += 1
        worker.process = self.env.process(self.work(worker))
        if self.model.interruptions_per_hour > 0:
            self.env.process(self.interrupt_later(worker))

    def arrivals(self, trace: Trace, services: np.ndarray) -> simpy.events.ProcessGenerator:
        lead = self.policy.prewarm_lead_seconds
        events = [(float(t), 1, i) for i, t in enumerate(trace.times)]
        if lead > 0:
            events += [(max(float(t) - lead, 0.0), 0, i) for i, t in enumerate(trace.times)]
            events.sort()
        for at, is_submit, index in events:
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            if is_submit:
                self.queue.put(_Job(index, trace.kinds[index], self.env.now, float(services[index])))
            self.ensure(warm=not is_submit)

    # -- the worker side ------------------------------------------------------

    def work(self, worker: _Worker) -> simpy.events.ProcessGenerator:
        env, model = self.env, self.model
        try:
            yield env.timeout(boot_sample(model.boot, self.boots))
            self.set_state(worker, "ready")
            worker.log.ready_at = env.now
            last_work = env.now
            while True:
                get = worker.polling = self.queue.get()
                if not get.triggered:  # nothing waiting: one wait for the empty polls to come
                    yield get | env.timeout(self._until_idle_check(worker, env.now - last_work))
                else:  # a message was waiting: the poll returns at once
                    yield get
                worker.polling = None
                if not get.triggered:
                    get.cancel()
                    if self._idle_stop(worker, env.now - last_work):
                        break
                    continue
                job = get.value
                assert isinstance(job, _Job)
                yield from self.serve(worker, job)
                last_work = env.now
        except simpy.Interrupt:
            yield from self.drain(worker)
        self.leave(worker)

    def serve(self, worker: _Worker, job: _Job) -> simpy.events.ProcessGenerator:
        if job.remaining is None:
            job.remaining = self.sample_service(job.kind)
        self.set_state(worker, "busy")
        worker.job, worker.job_started = job, self.env.now
        self.in_flight += 1
        yield self.env.timeout(job.remaining)
        self._finish(worker)
        self.set_state(worker, "ready")

    def drain(self, worker: _Worker) -> simpy.events.ProcessGenerator:
        """After a spot notice: finish the job if it fits before the deadline, else hand it back."""
        self.set_state(worker, "draining")
        self._stop_polling(worker)
        job = worker.job
        if job is None or job.remaining is None:
            return
        left = job.remaining - (self.env.now - worker.job_started)
        if left + self.model.notice_margin_seconds <= self.model.notice_seconds:
            yield self.env.timeout(max(left, 0.0))
            self._finish(worker)
        else:
            worker.log.busy_seconds += self.env.now - worker.job_started
            worker.job = None
            self.in_flight -= 1
            self.handed_back += 1
            self.queue.put(job)  # service restarts from the beginning on the next worker
            job.remaining = None

    def set_state(self, worker: _Worker, state: str) -> None:
        self.states[worker.state] -= 1
        worker.state = state
        if state != "gone":
            self.states[state] += 1

    def _stop_polling(self, worker: _Worker) -> None:
        """A notice during a long poll: withdraw the poll, or return a message it received meanwhile."""
        get, worker.polling = worker.polling, None
        if get is None:
            return
        if get.triggered:
            self.queue.put(get.value)
        else:
            get.cancel()

    def _finish(self, worker: _Worker) -> None:
        job = worker.job
        assert job is not None
        worker.log.busy_seconds += self.env.now - worker.job_started
        worker.log.jobs += 1
        self.done[job.index] = self.env.now
        worker.job = None
        self.in_flight -= 1

    def _until_idle_check(self, worker: _Worker, idle: float) -> float:
        """Seconds of empty long polls until the one whose end finds the worker idle long enough.

        One wait stands for all those polls (fewer events); a message arriving
        meanwhile ends it early, as it would end the poll in progress."""
        poll, limit = self.model.poll_seconds, self.policy.idle_seconds
        if limit <= 0 or (worker.pinned and not self.closing):
            return max(poll, math.ceil((self.horizon - self.env.now) / poll) * poll)  # look again at the horizon
        polls = max(1, math.ceil((limit - idle) / poll - 1e-9))
        return polls * poll

    def _idle_stop(self, worker: _Worker, idle: float) -> bool:
        idle_limit = self.policy.idle_seconds
        exempt = worker.pinned and not self.closing
        return idle_limit > 0 and idle >= idle_limit and not exempt

    def leave(self, worker: _Worker) -> None:
        self.set_state(worker, "gone")
        worker.log.ended = self.env.now
        if self.queue.items or (worker.pinned and not self.closing):  # a waiting job's poll: the API replaces it
            self.ensure(warm=False)

    def interrupt_later(self, worker: _Worker) -> simpy.events.ProcessGenerator:
        yield self.env.timeout(float(self.lifetimes.exponential(3600.0 / self.model.interruptions_per_hour)))
        process = worker.process
        if worker.state == "gone" or process is None or not process.is_alive:
            return
        self.interruptions += 1
        worker.log.interrupted = True
        process.interrupt("spot")  # booting: the instance just ends; else the worker drains

    def sample_service(self, kind: str) -> float:
        return float(service_samples(self.model.service[kind], 1, self.rng)[0])


def simulate(
    trace: Trace, model: PoolModel, policy: Policy, seed: int = 0, services: np.ndarray | None = None
) -> Outcome:
    """Run the trace through the pool; then let the queue drain and idle workers stop.

    ``services``: each job's service time, when measured (else drawn from the model)."""
    env = simpy.Environment()
    rng, boots, lifetimes = (np.random.default_rng([seed, stream]) for stream in range(3))
    pool = _Pool(env, model, policy, rng, boots, lifetimes, simpy.Store(env), horizon=trace.duration)
    pool.ensure(warm=False)  # min_workers from the start
    env.process(pool.arrivals(trace, presampled(trace, model.service, pool.rng) if services is None else services))
    env.run(until=trace.duration)
    while len(pool.done) < len(trace):
        env.run(until=env.now + 60.0)
    pool.closing = True
    if policy.idle_seconds > 0:
        env.run(until=env.now + policy.idle_seconds + 2 * model.poll_seconds)
    end = env.now
    for worker in pool.workers:
        if worker.log.ended is None:
            worker.log.ended = end
    done = np.array([pool.done[i] for i in range(len(trace))], dtype=np.float64)
    return Outcome(
        trace.times, done, [w.log for w in pool.workers], pool.interruptions, pool.handed_back, trace.duration, end
    )
