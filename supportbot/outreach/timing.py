"""Calendar and clock rules in the customer's own time zone (pure functions, no clock of their own).

Everything here takes the moment or day it reasons about as an argument, so a
test freezes time by passing it, and the same code plans "today" in production
and 29 February 2028 in a test.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

logger = logging.getLogger(__name__)

UTC = dt.UTC


@lru_cache(maxsize=1024)
def zone(name: str) -> dt.tzinfo:
    """The customer's time zone; an unknown name falls back to UTC (and is logged once).

    Imports and the profile form validate time zones, so an unknown one means an
    old or hand-edited row: sending by UTC is better than not sending at all, and
    quiet hours still apply, only measured in UTC.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r; using UTC for its customers", name)
        return UTC


def local_day(now: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The calendar day it is for the customer at ``now``."""
    return now.astimezone(tz).date()


@lru_cache(maxsize=65536)
def local_moment(day: dt.date, at: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """``at`` o'clock on ``day`` in ``tz``, as an aware UTC datetime.

    A wall time that does not exist (the hour skipped when clocks go forward) is
    resolved the way zoneinfo does (fold=0: the offset before the change), so the
    moment lands just after the gap rather than failing.
    """
    return dt.datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def day_window(day: dt.date, tz: dt.tzinfo, *, days: int = 1) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of ``days`` local days ending with ``day`` (a local day is 23-25 hours)."""
    start = local_moment(day - dt.timedelta(days=days - 1), dt.time(0, 0), tz)
    return start, local_moment(day + dt.timedelta(days=1), dt.time(0, 0), tz)


def in_quiet_hours(at: dt.time, *, start: dt.time, end: dt.time) -> bool:
    """Whether local time ``at`` is quiet; the period may wrap midnight (21:00-08:00). Equal ends: none."""
    if start == end:
        return False
    if start < end:
        return start <= at < end
    return at >= start or at < end


def release_time(moment: dt.datetime, tz: dt.tzinfo, *, start: dt.time, end: dt.time) -> dt.datetime:
    """``moment`` if it is outside the customer's quiet hours, else the moment those hours end (UTC).

    Messages wait, they are not dropped: a reminder due at 23:00 local goes at
    ``end`` the next morning.
    """
    local = moment.astimezone(tz)
    if not in_quiet_hours(local.time().replace(tzinfo=None), start=start, end=end):
        return moment.astimezone(UTC)
    end_day = local.date()
    if start > end and local.time().replace(tzinfo=None) >= start:
        end_day += dt.timedelta(days=1)  # the quiet period that started this evening ends tomorrow
    released = local_moment(end_day, end, tz)
    return max(released, moment.astimezone(UTC))


@lru_cache(maxsize=65536)
def planned_send_time(
    day: dt.date, tz: dt.tzinfo, *, send_time: dt.time, quiet_start: dt.time, quiet_end: dt.time
) -> dt.datetime:
    """When a message for local ``day`` becomes due: ``send_time`` that day, pushed past quiet hours.

    Cached, like ``local_moment``: both are pure, and a day's plan asks the same few hundred
    (zone, quiet hours) combinations a million times."""
    return release_time(local_moment(day, send_time, tz), tz, start=quiet_start, end=quiet_end)


def yearly_occurrence(origin: dt.date, year: int) -> dt.date:
    """The day a yearly event that started on ``origin`` is celebrated in ``year``.

    29 February is celebrated on 28 February in years without one: still in
    February, and never in a month the customer would not recognise as theirs.
    """
    if origin.month == 2 and origin.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return origin.replace(year=year)


def is_yearly_occurrence(origin: dt.date, day: dt.date) -> bool:
    if day.year <= origin.year:
        return False
    if origin.month == day.month and origin.day == day.day:
        return True
    # Only a 29 February origin falls on another date (28 February in other years).
    return origin.month == 2 and origin.day == 29 and yearly_occurrence(origin, day.year) == day


def full_years(origin: dt.date, day: dt.date) -> int:
    """Whole years from ``origin`` to ``day``, counting a 29 February origin as passed on 28 February."""
    years = day.year - origin.year
    return years if day >= yearly_occurrence(origin, day.year) else years - 1
