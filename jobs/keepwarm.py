"""The keep-warm floor: workers kept running whatever the traffic, always or in weekly windows.

``DARKROOM_MIN_WORKERS`` is the floor at every hour; ``DARKROOM_KEEP_WARM``
raises it in windows such as ``Mon-Fri 09:00-18:00=1`` (comma-separated, in
``DARKROOM_KEEP_WARM_TZ``). Both sides read the same settings: the pool's
scaling rule launches up to the floor (pool/rule.py) and an idle worker does
not stop while stopping would take the pool under it (worker/loop.py). Pure:
the time is an argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobs.pool import WorkerRecord, WorkerState
from jobs.settings import FromEnv, SettingsError, at_least_zero, require, setting

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WINDOW = re.compile(
    r"(?P<days>[a-z]{3}(?:-[a-z]{3})?|daily)\s+(?P<start>\d\d:\d\d)-(?P<end>\d\d:\d\d)\s*=\s*(?P<n>\d+)"
)


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # 0 is Monday
    start: time
    end: time  # exclusive; 24:00 is read as the end of the day
    workers: int

    def text(self) -> str:
        """As ``DARKROOM_KEEP_WARM`` writes it: a day range when the days run on, else one window per day."""
        days = sorted(self.days)
        hours = f"{self.start:%H:%M}-{'24:00' if self.end == time.max else f'{self.end:%H:%M}'}={self.workers}"
        if days == list(range(days[0], days[-1] + 1)):
            span = DAYS[days[0]] if len(days) == 1 else f"{DAYS[days[0]]}-{DAYS[days[-1]]}"
            return f"{span.title()} {hours}"
        return ", ".join(f"{DAYS[day].title()} {hours}" for day in days)

    def covers(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end


def _clock(text: str, source: str) -> time:
    hours, minutes = int(text[:2]), int(text[3:])
    if (hours, minutes) == (24, 0):
        return time.max
    if hours > 23 or minutes > 59:
        raise SettingsError(f"DARKROOM_KEEP_WARM: {text!r} in {source!r} is not a time of day")
    return time(hours, minutes)


def _days(text: str) -> frozenset[int]:
    if text == "daily":
        return frozenset(range(7))
    first, _, last = text.partition("-")
    if first not in DAYS or (last and last not in DAYS):
        raise SettingsError(f"DARKROOM_KEEP_WARM: {text!r} is not a day (Mon..Sun) or a range of days")
    a, b = DAYS.index(first), DAYS.index(last or first)
    return frozenset(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])  # Fri-Mon wraps


def parse_windows(text: str) -> tuple[Window, ...]:
    """``Mon-Fri 09:00-18:00=1, Sat 10:00-14:00=2`` as windows; a clear error for anything else."""
    windows = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        match = WINDOW.fullmatch(part.lower())
        if match is None:
            raise SettingsError(f"DARKROOM_KEEP_WARM: {part!r} is not like 'Mon-Fri 09:00-18:00=1'")
        start, end = _clock(match["start"], part), _clock(match["end"], part)
        if end <= start:
            raise SettingsError(f"DARKROOM_KEEP_WARM: {part!r} ends before it starts (split a window over midnight)")
        windows.append(Window(_days(match["days"]), start, end, int(match["n"])))
    return tuple(windows)


def zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"DARKROOM_KEEP_WARM_TZ: {name!r} is not a time zone like Europe/Berlin") from None
    return name


@dataclass(frozen=True)
class KeepWarm(FromEnv):
    min_workers: int = setting("DARKROOM_MIN_WORKERS", 0, "workers kept running at all hours; 0: scale to zero")
    windows: tuple[Window, ...] = setting(
        "DARKROOM_KEEP_WARM",
        (),
        "more workers kept running in weekly windows, e.g. 'Mon-Fri 09:00-18:00=1, Sat 10:00-14:00=2'",
        parse=parse_windows,
    )
    timezone: str = setting("DARKROOM_KEEP_WARM_TZ", "UTC", "the time zone of the keep-warm windows", parse=zone)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        require(self, at_least_zero, "0 or more", "min_workers")
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))

    def windows_text(self) -> str:
        return ", ".join(window.text() for window in self.windows)

    def floor_at(self, now: datetime) -> int:
        """Workers to keep at ``now`` (an aware datetime): the larger of the minimum and any window's."""
        local = now.astimezone(self._zone)
        return max([self.min_workers, *(window.workers for window in self.windows if window.covers(local))])


LIVE = (WorkerState.STARTING, WorkerState.READY, WorkerState.BUSY)


def may_stop(records: list[WorkerRecord], floor: int) -> bool:
    """Whether one idle worker may stop: the live workers (its own record among them) stay at or above the floor."""
    live = sum(1 for record in records if record.state in LIVE)
    return live - 1 >= floor
