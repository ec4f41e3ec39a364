"""When people are at work: the support team's weekly hours in its own time zone.

A setting (``SUPPORTBOT_SUPPORT_HOURS``, ``SUPPORTBOT_SUPPORT_TIMEZONE``) such as
``"mon-fri 09:00-17:30; sat 10:00-14:00"`` in ``Europe/Berlin``. Outside those hours the
assistant does not promise a reply "here": it says when a person is back, in the team's
zone, and offers an answer by email (``actions/support.py``). Pure functions, no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from supportbot.errors import ConfigurationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ALWAYS = "mon-sun 00:00-24:00"
_PART = re.compile(r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$")


@dataclass(frozen=True)
class SupportHours:
    """Opening intervals per weekday (0 = Monday), in minutes after local midnight."""

    zone: ZoneInfo
    intervals: tuple[tuple[tuple[int, int], ...], ...]

    @property
    def always_open(self) -> bool:
        return all(day == ((0, 1440),) for day in self.intervals)


def _minutes(text: str, spec: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ConfigurationError(f"support hours {spec!r}: {text} is not a time of day (00:00-24:00)")
    return hours * 60 + minutes


def parse_support_hours(spec: str, timezone: str) -> SupportHours:
    """``"mon-fri 09:00-17:00; sat 10:00-14:00"`` in ``timezone``; a clear error for anything else."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f"SUPPORTBOT_SUPPORT_TIMEZONE: unknown time zone {timezone!r}") from exc
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    parts = [part.strip().lower() for part in spec.split(";") if part.strip()]
    if not parts:
        raise ConfigurationError("SUPPORTBOT_SUPPORT_HOURS is empty; for round-the-clock support use " + ALWAYS)
    for part in parts:
        match = _PART.match(re.sub(r"\s+", " ", part))
        if match is None:
            raise ConfigurationError(f"support hours {part!r}: expected e.g. 'mon-fri 09:00-17:00'")
        first, last = match["first"], match["last"] or match["first"]
        if first not in DAYS or last not in DAYS:
            raise ConfigurationError(f"support hours {part!r}: days are {', '.join(DAYS)}")
        start, end = _minutes(match["start"], part), _minutes(match["end"], part)
        if start >= end:
            raise ConfigurationError(f"support hours {part!r}: the start must be before the end")
        span = range(DAYS.index(first), DAYS.index(last) + 1)
        if not span:
            raise ConfigurationError(f"support hours {part!r}: the days run backwards")
        for day in span:
            days[day].append((start, end))
    return SupportHours(zone=zone, intervals=tuple(tuple(sorted(day)) for day in days))


def is_open(hours: SupportHours, now: dt.datetime) -> bool:
    local = now.astimezone(hours.zone)
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in hours.intervals[local.weekday()])


def next_opening(hours: SupportHours, now: dt.datetime) -> dt.datetime | None:
    """The next moment (in the team's zone) people start work, or ``None`` if there are no hours."""
    local = now.astimezone(hours.zone)
    minute = local.hour * 60 + local.minute
    for ahead in range(8):
        day = local.date() + dt.timedelta(days=ahead)
        for start, _end in hours.intervals[day.weekday()]:
            if ahead == 0 and start <= minute:
                continue
            opening = dt.datetime.combine(day, dt.time(0), tzinfo=hours.zone) + dt.timedelta(minutes=start)
            return opening
    return None


def describe_opening(opening: dt.datetime, now: dt.datetime) -> str:
    """ "today at 09:00", "tomorrow at 09:00" or "Monday at 09:00", plus the zone."""
    local_now = now.astimezone(opening.tzinfo)
    days = (opening.date() - local_now.date()).days
    day = "today" if days == 0 else "tomorrow" if days == 1 else DAY_NAMES[opening.weekday()]
    return f"{day} at {opening:%H:%M} ({opening.tzinfo} time)"
