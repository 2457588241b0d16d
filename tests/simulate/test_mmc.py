"""The simulator against queueing theory: with no boot, no idle stop and c fixed workers, the pool is M/M/c.

Erlang C gives the mean wait in the queue, Wq = C(c, a) / (c mu - lambda). The
simulated waits are correlated from job to job, so the test estimates the
standard error from batch means (20 batches, each far longer than the
queue's relaxation time) and asks the simulated mean to be within four of them.
"""

from __future__ import annotations

import math

import numpy as np

from darkroom.simulate.arrivals import Trace, poisson_times
from darkroom.simulate.config import Policy
from darkroom.simulate.pool import PoolModel, simulate
from darkroom.simulate.tables import BootTime, ServiceTime

SERVERS = 3
RATE = 2.1  # arrivals per second
SERVICE = 1.0  # mean seconds; utilisation 0.7


def erlang_c(servers: int, offered: float) -> float:
    """Probability an arrival waits, for offered load ``offered`` = lambda / mu."""
    top = offered**servers / math.factorial(servers) * servers / (servers - offered)
    bottom = sum(offered**k / math.factorial(k) for k in range(servers)) + top
    return top / bottom


def test_mean_wait_matches_erlang_c() -> None:
    rng = np.random.default_rng(7)
    times = poisson_times(RATE, 10_000.0, rng)
    services = rng.exponential(SERVICE, len(times))
    trace = Trace(times, ("raw",) * len(times), 10_000.0)
    model = PoolModel(BootTime.fixed(0.0), {"raw": ServiceTime(SERVICE, shape="exponential")})
    policy = Policy(max_workers=SERVERS, idle_seconds=0, min_workers=SERVERS)
    outcome = simulate(trace, model, policy, seed=1, services=services)

    waits = (outcome.latencies - services)[1000:]  # the first jobs find an empty system: dropped
    assert len(outcome.workers) == SERVERS and waits.min() >= -1e-9
    expected = erlang_c(SERVERS, RATE * SERVICE) / (SERVERS / SERVICE - RATE)
    batches = np.array([batch.mean() for batch in np.array_split(waits, 20)])
    standard_error = batches.std(ddof=1) / math.sqrt(len(batches))
    assert standard_error < 0.1 * expected  # enough jobs for the comparison to mean something
    assert abs(waits.mean() - expected) < 4 * standard_error, (waits.mean(), expected, standard_error)
    waited = float(np.mean(waits > 1e-9))
    assert abs(waited - erlang_c(SERVERS, RATE * SERVICE)) < 0.05  # P(wait) too
