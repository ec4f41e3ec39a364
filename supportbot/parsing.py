"""Turning what customers type into values the store accepts.

Each parser returns the value or raises ``InvalidRequestError`` with a message
that can be shown to the customer as is (it says what was expected).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from supportbot.errors import InvalidRequestError
from supportbot.store.models import OUTREACH_KINDS

MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}

_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
_MONTH = r"([a-z]+)\.?"
_YEAR = r"(?:,?\s+(\d{4}))?"
_DAY_MONTH = re.compile(rf"^{_ORDINAL}\s+(?:of\s+)?{_MONTH}{_YEAR}$")
_MONTH_DAY = re.compile(rf"^{_MONTH}\s+{_ORDINAL}{_YEAR}$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_NUMERIC = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
LEAP_REFERENCE_YEAR = 2000
"""A birthday without a year is stored in a leap year, so 29 February stays valid."""


def _birthday(year: int | None, month: int, day: int) -> dt.date:
    try:
        return dt.date(year or LEAP_REFERENCE_YEAR, month, day)
    except ValueError:
        raise InvalidRequestError("That date doesn't exist. Could you check the day and month?") from None


def parse_birthday(text: str, *, today: dt.date) -> dt.date:
    """Accepts ``1990-03-14``, ``14 March 1990``, ``March 14th``, ``14/03/1990`` (unambiguous only)."""
    cleaned = re.sub(r"\s+", " ", text.strip().lower().rstrip("."))
    cleaned = re.sub(r"^(it'?s|my birthday is|born on|i was born on)\s+", "", cleaned)
    if match := _ISO.match(cleaned):
        year, month, day = (int(g) for g in match.groups())
        result = _birthday(year, month, day)
    elif (match := _DAY_MONTH.match(cleaned)) or (match := _MONTH_DAY.match(cleaned)):
        groups = match.groups()
        day_text, month_text = (groups[0], groups[1]) if match.re is _DAY_MONTH else (groups[1], groups[0])
        month_number = MONTHS.get(month_text)
        if month_number is None:
            raise InvalidRequestError(f"I don't know the month “{month_text}”. Try e.g. “14 March 1990”.")
        result = _birthday(int(groups[2]) if groups[2] else None, month_number, int(day_text))
    elif match := _NUMERIC.match(cleaned):
        first, second, year = (int(g) for g in match.groups())
        if first <= 12 and second <= 12 and first != second:
            raise InvalidRequestError(
                "Is that day/month or month/day? Please write the month as a word, e.g. “3 April 1990”."
            )
        day, month = (first, second) if first > 12 else (second, first)
        result = _birthday(year, month, day)
    else:
        raise InvalidRequestError("Please give your birthday like “14 March 1990” or “1990-03-14”.")
    if result > today:
        raise InvalidRequestError("That birthday is in the future. Could you check the year?")
    if result.year < today.year - 120:
        raise InvalidRequestError("That year looks too far back. Could you check it?")
    return result


TIME_ZONE_ALIASES = {
    "utc": "UTC",
    "gmt": "Europe/London",
    "uk": "Europe/London",
    "britain": "Europe/London",
    "eastern": "America/New_York",
    "eastern time": "America/New_York",
    "est": "America/New_York",
    "edt": "America/New_York",
    "central": "America/Chicago",
    "central time": "America/Chicago",
    "cst": "America/Chicago",
    "mountain": "America/Denver",
    "mountain time": "America/Denver",
    "pacific": "America/Los_Angeles",
    "pacific time": "America/Los_Angeles",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "cet": "Europe/Berlin",
    "central european time": "Europe/Berlin",
    "ist": "Asia/Kolkata",
    "india": "Asia/Kolkata",
    "japan": "Asia/Tokyo",
    "jst": "Asia/Tokyo",
    "aest": "Australia/Sydney",
    "new york": "America/New_York",
    "san francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "boston": "America/New_York",
    "washington": "America/New_York",
    "miami": "America/New_York",
    "munich": "Europe/Berlin",
    "frankfurt": "Europe/Berlin",
    "hamburg": "Europe/Berlin",
    "barcelona": "Europe/Madrid",
    "milan": "Europe/Rome",
    "mumbai": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata",
    "bangalore": "Asia/Kolkata",
    "beijing": "Asia/Shanghai",
    "melbourne": "Australia/Melbourne",
    "rio": "America/Sao_Paulo",
}


@lru_cache(maxsize=1)
def _zone_index() -> dict[str, str]:
    """Lower-cased IANA names and their last component (``berlin`` -> ``Europe/Berlin``)."""
    index: dict[str, str] = {}
    for name in sorted(available_timezones()):
        if name.startswith(("Etc/", "SystemV/", "posix/", "right/")) or "/" not in name:
            continue
        index.setdefault(name.lower(), name)
        city = name.rsplit("/", 1)[-1].replace("_", " ").lower()
        index.setdefault(city, name)
    return index


def parse_time_zone(text: str) -> str:
    """An IANA time zone from a name (``Europe/Berlin``), a city (``Berlin``) or a common alias."""
    cleaned = re.sub(r"\s+", " ", text.strip().lower().rstrip(".!"))
    cleaned = re.sub(r"^(i'?m in|i live in|i moved to|it'?s|in|to)\s+", "", cleaned)
    cleaned = re.sub(r"\s+(time|time zone|timezone)$", "", cleaned) if cleaned not in TIME_ZONE_ALIASES else cleaned
    candidate = (
        TIME_ZONE_ALIASES.get(cleaned) or _zone_index().get(cleaned) or _zone_index().get(cleaned.replace(" ", "_"))
    )
    if candidate is None:
        raise InvalidRequestError(
            "I couldn't match that to a time zone. Try a city (“Berlin”) or a zone name (“Europe/Berlin”)."
        )
    try:
        ZoneInfo(candidate)
    except ZoneInfoNotFoundError:  # pragma: no cover - the index only holds zones that exist
        raise InvalidRequestError(f"{candidate} is not a time zone I know.") from None
    return candidate


EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
PHONE_CHARS = re.compile(r"[\s().-]")


def parse_email(text: str) -> str | None:
    candidate = text.strip().strip("<>").rstrip(".")
    match = re.search(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", candidate)
    if match and EMAIL.match(match.group(0)):
        return match.group(0).lower()
    return None


def parse_phone(text: str) -> str | None:
    """A phone number normalised to ``+`` and digits, 7 to 15 digits (E.164 length)."""
    match = re.search(r"\+?[\d\s().-]{7,}", text)
    if not match:
        return None
    raw = PHONE_CHARS.sub("", match.group(0))
    digits = raw.lstrip("+")
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        return None
    return ("+" if raw.startswith("+") else "") + digits


CONTACT_CHANNELS = {
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "sms": "sms",
    "text": "sms",
    "texts": "sms",
    "text message": "sms",
    "whatsapp": "whatsapp",
    "telegram": "telegram",
    "chat": "web",
    "website": "web",
    "web": "web",
    "app": "web",
}


def parse_contact_update(text: str) -> tuple[str, str]:
    """What a customer wants to change among email, phone and preferred channel: (field, value)."""
    if email := parse_email(text):
        return "email", email
    if phone := parse_phone(text):
        return "phone", phone
    words = re.sub(r"[^a-z -]", " ", text.lower())
    for phrase in sorted(CONTACT_CHANNELS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(phrase)}\b", words):
            return "preferred_channel", CONTACT_CHANNELS[phrase]
    raise InvalidRequestError(
        "Please send the new email address or phone number, or say which channel you prefer "
        "(email, SMS, WhatsApp, Telegram or chat)."
    )


def normalise_outreach_kind(value: str | None) -> str | None:
    """``all`` or one of OUTREACH_KINDS; None when nothing (recognisable) was named."""
    if not value:
        return None
    value = value.strip().lower()
    if value == "all" or value in OUTREACH_KINDS:
        return value
    return None


def normalise_order_ref(value: str | None) -> str | None:
    if not value:
        return None
    digits = re.sub(r"\D", "", value)
    return digits if len(digits) == 6 else None
