"""Arrival patterns: when photos are submitted, as sorted seconds from the start of the trace.

Four shapes: a steady Poisson stream, a daily cycle (a Poisson stream whose
rate follows the sun, busiest in the evening), bursts (sessions: a person
uploads several photos in a row), and real request times from a CSV. Each
arrival also gets an input kind (RAW or JPEG). All generators take a numpy
``Generator`` so runs are reproducible.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

DAY = 86_400.0

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Trace:
    """Submit times (seconds, sorted) and each one's input kind."""

    times: FloatArray
    kinds: tuple[str, ...]
    duration: float  # seconds the trace covers (the horizon costs are spread over)

    def __post_init__(self) -> None:
        if len(self.times) != len(self.kinds):
            raise ValueError("a trace needs one kind per time")

    def __len__(self) -> int:
        return len(self.times)


def poisson_times(rate_per_second: float, duration: float, rng: np.random.Generator) -> FloatArray:
    """A homogeneous Poisson process on [0, duration): uniform times, Poisson count."""
    count = rng.poisson(rate_per_second * duration)
    return np.sort(rng.uniform(0.0, duration, count))


def daily_cycle_times(
    per_day: float, duration: float, rng: np.random.Generator, peak_to_mean: float = 2.0, peak_hour: float = 20.0
) -> FloatArray:
    """A Poisson process whose rate is a sinusoid over the day (mean ``per_day``), by thinning.

    ``peak_to_mean`` 2 means the busiest hour sees twice the average rate and
    the quietest none; 1 is a flat day.
    """
    if not 1.0 <= peak_to_mean <= 2.0:
        raise ValueError("peak_to_mean must be between 1 (flat) and 2 (silent at the trough)")
    mean = per_day / DAY
    candidates = poisson_times(mean * peak_to_mean, duration, rng)
    phase = 2 * math.pi * (candidates - peak_hour * 3600.0) / DAY
    rate = mean * (1.0 + (peak_to_mean - 1.0) * np.cos(phase))
    keep = rng.uniform(0.0, mean * peak_to_mean, len(candidates)) < rate
    return candidates[keep]


def burst_times(
    per_day: float, duration: float, rng: np.random.Generator, photos_per_burst: float = 5.0, gap_seconds: float = 10.0
) -> FloatArray:
    """Sessions as a Poisson process; each session uploads 1 + Poisson(photos - 1) photos, ``gap`` apart on average."""
    sessions = poisson_times(per_day / photos_per_burst / DAY, duration, rng)
    sizes = 1 + rng.poisson(photos_per_burst - 1.0, len(sessions))
    gaps = rng.exponential(gap_seconds, int(sizes.sum()))
    first = np.cumsum(sizes) - sizes  # index of each session's first photo
    gaps[first[first < len(gaps)]] = 0.0
    elapsed = np.cumsum(gaps)
    offsets = elapsed - np.repeat(elapsed[first], sizes) if len(gaps) else elapsed
    times = np.repeat(sessions, sizes) + offsets
    return np.sort(times[times < duration])


def assign_kinds(count: int, raw_fraction: float, rng: np.random.Generator) -> tuple[str, ...]:
    raw = rng.uniform(size=count) < raw_fraction
    return tuple("raw" if is_raw else "jpeg" for is_raw in raw)


def parse_csv(text: str) -> tuple[FloatArray, tuple[str, ...] | None]:
    """Request times from CSV text: the first column is seconds (a number) or an ISO 8601 time.

    A header row is allowed (its first cell is not a time). An optional second
    column named ``kind`` (raw or jpeg) gives each request's input kind.
    Times are shifted so the first request is at 0 and sorted.
    """
    rows = [row for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    if rows and _time_of(rows[0][0]) is None:
        header, rows = [cell.strip().lower() for cell in rows[0]], rows[1:]
    else:
        header = []
    times = []
    for number, row in enumerate(rows, start=2 if header else 1):
        value = _time_of(row[0])
        if value is None:
            raise ValueError(f"CSV row {number}: {row[0]!r} is neither seconds nor an ISO 8601 time")
        times.append(value)
    kinds = None
    if len(header) > 1 and header[1] == "kind":
        kinds = tuple(row[1].strip().lower() for row in rows)
        bad = sorted(set(kinds) - {"raw", "jpeg"})
        if bad:
            raise ValueError(f"CSV kinds must be raw or jpeg, not {bad}")
    order = np.argsort(times, kind="stable")
    array = np.asarray(times, dtype=np.float64)[order]
    if kinds is not None:
        kinds = tuple(kinds[i] for i in order)
    return (array - array[0] if len(array) else array), kinds


def _time_of(cell: str) -> float | None:
    cell = cell.strip()
    try:
        return float(cell)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(cell.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
