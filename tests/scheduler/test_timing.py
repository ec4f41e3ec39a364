"""Time-zone and calendar rules, with the day and moment passed in (no clock)."""

from __future__ import annotations

import datetime as dt

import pytest

from supportbot.outreach.timing import (
    day_window,
    full_years,
    in_quiet_hours,
    is_yearly_occurrence,
    planned_send_time,
    release_time,
    yearly_occurrence,
    zone,
)

UTC = dt.UTC
QUIET = {"start": dt.time(21, 0), "end": dt.time(8, 0)}


@pytest.mark.parametrize(
    ("at", "quiet"),
    [("20:59", False), ("21:00", True), ("23:59", True), ("00:00", True), ("07:59", True), ("08:00", False)],
)
def test_quiet_hours_wrap_midnight(at: str, quiet: bool) -> None:
    assert in_quiet_hours(dt.time.fromisoformat(at), **QUIET) is quiet


def test_quiet_hours_that_do_not_wrap_and_none_at_all() -> None:
    assert in_quiet_hours(dt.time(3, 0), start=dt.time(1, 0), end=dt.time(6, 0))
    assert not in_quiet_hours(dt.time(7, 0), start=dt.time(1, 0), end=dt.time(6, 0))
    assert not in_quiet_hours(dt.time(3, 0), start=dt.time(0, 0), end=dt.time(0, 0))


def test_tokyo_night_waits_for_tokyo_morning() -> None:
    # 14:00 UTC is 23:00 in Tokyo (UTC+9): quiet until 08:00 Tokyo = 23:00 UTC the same UTC day.
    released = release_time(dt.datetime(2026, 3, 10, 14, 0, tzinfo=UTC), zone("Asia/Tokyo"), **QUIET)
    assert released == dt.datetime(2026, 3, 10, 23, 0, tzinfo=UTC)


def test_los_angeles_early_morning_waits_for_los_angeles_morning() -> None:
    # 10:00 UTC on 10 March 2026 is 03:00 in Los Angeles (PDT, UTC-7 since 8 March): released 08:00 PDT = 15:00 UTC.
    released = release_time(dt.datetime(2026, 3, 10, 10, 0, tzinfo=UTC), zone("America/Los_Angeles"), **QUIET)
    assert released == dt.datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def test_outside_quiet_hours_nothing_moves() -> None:
    moment = dt.datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
    assert release_time(moment, zone("Asia/Tokyo"), **QUIET) == moment


def test_send_time_inside_quiet_hours_moves_to_their_end() -> None:
    # A customer whose quiet hours run 22:00-11:00 gets the 10:00 send at 11:00 local.
    at = planned_send_time(
        dt.date(2026, 3, 10),
        zone("Europe/Berlin"),
        send_time=dt.time(10, 0),
        quiet_start=dt.time(22, 0),
        quiet_end=dt.time(11, 0),
    )
    assert at == dt.datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # 11:00 CET


def test_a_local_day_is_a_utc_window_of_its_own() -> None:
    start, end = day_window(dt.date(2026, 3, 10), zone("Asia/Tokyo"))
    assert (start, end) == (dt.datetime(2026, 3, 9, 15, 0, tzinfo=UTC), dt.datetime(2026, 3, 10, 15, 0, tzinfo=UTC))
    start, end = day_window(dt.date(2026, 3, 8), zone("America/Los_Angeles"))
    assert end - start == dt.timedelta(hours=23)  # the day clocks go forward


def test_unknown_time_zone_falls_back_to_utc() -> None:
    assert zone("Mars/Olympus_Mons") is UTC


@pytest.mark.parametrize(
    ("year", "celebrated"),
    [(2027, dt.date(2027, 2, 28)), (2028, dt.date(2028, 2, 29)), (2100, dt.date(2100, 2, 28))],
)
def test_29_february_is_celebrated_on_28_february_in_other_years(year: int, celebrated: dt.date) -> None:
    leapling = dt.date(2000, 2, 29)
    assert yearly_occurrence(leapling, year) == celebrated
    assert is_yearly_occurrence(leapling, celebrated)
    assert not is_yearly_occurrence(leapling, dt.date(year, 3, 1))


def test_full_years_count_a_leapling_one_older_on_28_february() -> None:
    assert full_years(dt.date(2000, 2, 29), dt.date(2027, 2, 27)) == 26
    assert full_years(dt.date(2000, 2, 29), dt.date(2027, 2, 28)) == 27
    assert not is_yearly_occurrence(dt.date(2026, 3, 10), dt.date(2026, 3, 10))  # day zero is no anniversary
