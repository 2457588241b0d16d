"""Arrival patterns: their rates, and request times read from CSV."""

from __future__ import annotations

import math

import numpy as np
import pytest

from darkroom.simulate.arrivals import DAY, assign_kinds, burst_times, daily_cycle_times, parse_csv, poisson_times


def within_poisson_noise(count: int, expected: float) -> bool:
    return abs(count - expected) < 4 * math.sqrt(expected)


def test_poisson_gives_the_rate() -> None:
    times = poisson_times(10_000 / DAY, DAY, np.random.default_rng(1))
    assert within_poisson_noise(len(times), 10_000)
    assert np.all(np.diff(times) >= 0) and times[0] >= 0 and times[-1] < DAY
    gaps = np.diff(times)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.05)  # exponential gaps


def test_daily_cycle_keeps_the_mean_and_peaks_in_the_evening() -> None:
    times = daily_cycle_times(20_000, DAY, np.random.default_rng(2), peak_to_mean=2.0, peak_hour=20.0)
    assert within_poisson_noise(len(times), 20_000)
    per_hour = np.bincount((times // 3600).astype(int), minlength=24)
    assert int(np.argmax(per_hour)) in (19, 20, 21)
    assert per_hour[19:22].mean() > 5 * per_hour[7:10].mean()  # peak 2x the mean, trough near 0


def test_bursts_keep_the_daily_total_in_sessions() -> None:
    times = burst_times(2_000, DAY, np.random.default_rng(3), photos_per_burst=5, gap_seconds=10)
    assert abs(len(times) - 2_000) < 4 * math.sqrt(400) * 5  # 400 sessions of ~5 photos
    # photos 10 s apart within a session, sessions ~216 s apart: a gap over 60 s starts a new one,
    # except when two sessions overlap (about a quarter of them at this rate)
    sessions = 1 + int(np.sum(np.diff(times) > 60))
    assert 4.5 < len(times) / sessions < 7.5


def test_kinds_follow_the_raw_fraction() -> None:
    kinds = assign_kinds(10_000, 0.3, np.random.default_rng(4))
    assert kinds.count("raw") == pytest.approx(3_000, abs=4 * math.sqrt(10_000 * 0.3 * 0.7))
    assert set(kinds) == {"raw", "jpeg"}


def test_csv_of_seconds_is_shifted_and_sorted() -> None:
    times, kinds = parse_csv("30\n10.5\n12\n")
    assert times.tolist() == [0.0, 1.5, 19.5] and kinds is None


def test_csv_with_iso_times_a_header_and_kinds() -> None:
    text = "time,kind\n2025-06-01T12:00:05Z,jpeg\n2025-06-01T12:00:00Z,RAW\n2025-06-01T12:01:00+00:00,raw\n"
    times, kinds = parse_csv(text)
    assert times.tolist() == [0.0, 5.0, 60.0]
    assert kinds == ("raw", "jpeg", "raw")


def test_csv_says_which_row_is_wrong() -> None:
    with pytest.raises(ValueError, match="row 3: 'soon'"):
        parse_csv("seconds\n1\nsoon\n")
    with pytest.raises(ValueError, match="raw or jpeg"):
        parse_csv("time,kind\n1,png\n")
