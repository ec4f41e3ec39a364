"""Parsing what customers type, and formatting what the assistant says."""

from __future__ import annotations

import datetime as dt

import pytest

from supportbot.errors import InvalidRequestError
from supportbot.formatting import join_words, long_date, money, relative_days
from supportbot.parsing import (
    normalise_order_ref,
    normalise_outreach_kind,
    parse_birthday,
    parse_contact_update,
    parse_time_zone,
)
from supportbot.services.account import add_period

TODAY = dt.date(2026, 11, 22)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1990-03-14", dt.date(1990, 3, 14)),
        ("14 March 1990", dt.date(1990, 3, 14)),
        ("march 14th, 1990", dt.date(1990, 3, 14)),
        ("14th of march 1990", dt.date(1990, 3, 14)),
        ("it's 2 Feb 1979", dt.date(1979, 2, 2)),
        ("29 february 1996", dt.date(1996, 2, 29)),
        ("29 feb", dt.date(2000, 2, 29)),
        ("25/12/1985", dt.date(1985, 12, 25)),
        ("12/25/1985", dt.date(1985, 12, 25)),
    ],
)
def test_birthdays_in_the_forms_customers_type(text: str, expected: dt.date) -> None:
    assert parse_birthday(text, today=TODAY) == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("30 february 1990", "doesn't exist"),
        ("29 feb 1991", "doesn't exist"),
        ("03/04/1990", "day/month or month/day"),
        ("1 january 2030", "future"),
        ("someday", "like"),
        ("14 smarch 1990", "month"),
    ],
)
def test_bad_birthdays_are_explained(text: str, complaint: str) -> None:
    with pytest.raises(InvalidRequestError, match=complaint):
        parse_birthday(text, today=TODAY)


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("berlin", "Europe/Berlin"),
        ("I moved to Los Angeles", "America/Los_Angeles"),
        ("pacific time", "America/Los_Angeles"),
        ("IST", "Asia/Kolkata"),
        ("sao paulo", "America/Sao_Paulo"),
        ("UTC", "UTC"),
    ],
)
def test_time_zones_from_names_cities_and_aliases(text: str, zone: str) -> None:
    assert parse_time_zone(text) == zone


def test_an_unknown_place_is_not_guessed() -> None:
    with pytest.raises(InvalidRequestError, match="time zone"):
        parse_time_zone("narnia")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my new email is Jo.Smith@Example.org", ("email", "jo.smith@example.org")),
        ("+44 20 7946 0958", ("phone", "+442079460958")),
        ("call me on (415) 555-0199", ("phone", "4155550199")),
        ("whatsapp is best", ("preferred_channel", "whatsapp")),
        ("text me instead", ("preferred_channel", "sms")),
    ],
)
def test_contact_updates(text: str, expected: tuple[str, str]) -> None:
    assert parse_contact_update(text) == expected


def test_contact_update_without_anything_usable_is_explained() -> None:
    with pytest.raises(InvalidRequestError, match="email address or phone number"):
        parse_contact_update("hmm not sure")


def test_outreach_kinds_and_order_refs_are_normalised() -> None:
    assert normalise_outreach_kind("Tips") == "tips"
    assert normalise_outreach_kind("all") == "all"
    assert normalise_outreach_kind("spam") is None
    assert normalise_order_ref("#104233") == "104233"
    assert normalise_order_ref("1042") is None


def test_formatting() -> None:
    assert money(2400) == "$24.00"
    assert money(123456, "EUR") == "€1,234.56"
    assert money(500, "CHF") == "5.00 CHF"
    assert long_date(dt.date(2026, 3, 3)) == "Tuesday, March 3, 2026"
    assert relative_days(dt.date(2026, 11, 23), TODAY) == "tomorrow"
    assert relative_days(dt.date(2026, 11, 25), TODAY) == "in 3 days"
    assert join_words(["Sync", "Notes", "Calendar"]) == "Sync, Notes and Calendar"


@pytest.mark.parametrize(
    ("day", "period", "expected"),
    [
        (dt.date(2026, 1, 31), "monthly", dt.date(2026, 2, 28)),
        (dt.date(2026, 12, 15), "monthly", dt.date(2027, 1, 15)),
        (dt.date(2028, 2, 29), "yearly", dt.date(2029, 2, 28)),
        (dt.date(2026, 5, 1), "yearly", dt.date(2027, 5, 1)),
    ],
)
def test_billing_periods_handle_month_ends_and_leap_days(day: dt.date, period: str, expected: dt.date) -> None:
    assert add_period(day, period) == expected
