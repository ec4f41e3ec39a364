"""Pure parsers for single import values: each returns the value or raises ValueError.

The ValueError message is shown to the person who wrote the file, next to the row
and field, so it says what was expected, not what went wrong inside Python.
Values come from CSV (always text) or JSON (text, numbers, booleans), so the
parsers accept both where a number or boolean makes sense.

Every number has an upper bound (``MAX_*``, listed in docs/IMPORT_FORMAT.md): the
profile store keeps them in 32-bit integer columns on PostgreSQL, and a value like
``loyalty_points: 10**20`` once reached the SQLite driver and failed there with a raw
``OverflowError`` (security review, issue 14 finding 14). Bounds are checked on the
digits before any conversion, so a 5,000-digit number costs nothing either.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from bot.conversation_ids import CUSTOMER_ID_RULE, is_customer_id

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{4,30}")
_LOCALE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_CURRENCY = re.compile(r"[A-Z]{3}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HHMM = re.compile(r"(\d{1,2}):(\d{2})")
_MONEY = re.compile(r"\d+(?:\.\d{1,2})?")
_ORDER_REF = re.compile(r"\d{6}")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}
OLDEST_BIRTH_YEAR = 1900
LATEST_DATE = dt.date(2999, 12, 31)
"""The latest date any field may hold (a renewal in 9999 would overflow date arithmetic later)."""
MAX_AMOUNT_CENTS = 100_000_000
"""1,000,000.00 in major units: a price or a unit price."""
MAX_QUANTITY = 10_000
MAX_ORDER_TOTAL_CENTS = 1_000_000_000
"""10,000,000.00: quantities times unit prices of one order."""
MAX_LOYALTY_POINTS = 1_000_000_000
MAX_USES_30D = 1_000_000
_MAX_DIGITS = 18
"""Longer numbers are refused before they are converted (Python limits int conversion to 4,300 digits)."""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {_describe(value)}")
    return value.strip()


def _describe(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"the number {value}" if value.adjusted() <= _MAX_DIGITS else "a number"
    return {bool: "a boolean", list: "a list", dict: "an object"}.get(type(value), repr(value))


def text(max_length: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        result = _text(value)
        if len(result) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        return result

    return parse


def choice(allowed: Sequence[str]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        result = _text(value).lower()
        if result not in allowed:
            raise ValueError(f"{result!r} is not one of: {', '.join(allowed)}")
        return result

    return parse


def parse_customer_id(value: Any) -> str:
    result = _text(value)
    if ":" in result:
        raise ValueError(
            f"{result!r}: a customer id may not contain ':' (it separates the parts of conversation ids); "
            f"expected {CUSTOMER_ID_RULE}"
        )
    if not is_customer_id(result):
        raise ValueError(f"expected {CUSTOMER_ID_RULE}")
    return result


def parse_email(value: Any) -> str:
    """Lower-cased: two spellings of one address must not become two customers."""
    result = _text(value).lower()
    if len(result) > 254 or not _EMAIL.fullmatch(result):
        raise ValueError(f"{result!r} is not a valid email address")
    return result


def parse_phone(value: Any) -> str:
    result = _text(value)
    if not _PHONE.fullmatch(result):
        raise ValueError("expected a phone number of digits, spaces, ( ) - and an optional +")
    return result


def parse_locale(value: Any) -> str:
    result = _text(value).replace("_", "-")
    if not _LOCALE.fullmatch(result):
        raise ValueError(f"{result!r} is not a locale like en-US or pt-BR")
    return result


@cache
def _known_time_zones() -> frozenset[str]:
    # Computed on first use, not at import: it reads the time zone database.
    return frozenset(zoneinfo.available_timezones())


def parse_time_zone(value: Any) -> str:
    """An IANA name the zoneinfo database knows (``Europe/London``), not an offset."""
    result = _text(value)
    known = _known_time_zones()
    if result in known:
        zoneinfo.ZoneInfo(result)  # loads: an unreadable zone fails here, not at send time
        return result
    hint = next((name for name in sorted(known) if name.lower() == result.lower()), None)
    suffix = f"; did you mean {hint}?" if hint else " (use an IANA name like Europe/London)"
    raise ValueError(f"unknown time zone {result!r}{suffix}")


def parse_date(value: Any) -> dt.date:
    result = _text(value)
    if not _ISO_DATE.fullmatch(result):
        raise ValueError(f"{result!r} is not a date as YYYY-MM-DD")
    try:
        parsed = dt.date.fromisoformat(result)
    except ValueError:
        raise ValueError(f"{result!r} is not a real calendar date") from None
    if parsed > LATEST_DATE:
        raise ValueError(f"{result} is after {LATEST_DATE.isoformat()}")
    return parsed


def past_date(today: dt.date) -> Callable[[Any], dt.date]:
    def parse(value: Any) -> dt.date:
        result = parse_date(value)
        if result > today:
            raise ValueError(f"{result.isoformat()} is in the future")
        return result

    return parse


def parse_birthday(today: dt.date) -> Callable[[Any], dt.date]:
    """A real date (29 February only in a leap year) between 1900 and today."""
    in_past = past_date(today)

    def parse(value: Any) -> dt.date:
        result = in_past(value)
        if result.year < OLDEST_BIRTH_YEAR:
            raise ValueError(f"{result.isoformat()} is before {OLDEST_BIRTH_YEAR}")
        return result

    return parse


def parse_aware_datetime(value: Any) -> dt.datetime:
    """ISO 8601 with a UTC offset; a time without one is ambiguous, so it is refused."""
    result = _text(value)
    try:
        parsed = dt.datetime.fromisoformat(result)
    except ValueError:
        raise ValueError(f"{result!r} is not an ISO 8601 date and time") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{result!r} has no UTC offset (like 2024-05-01T10:30:00+02:00)")
    if parsed.date() > LATEST_DATE:
        raise ValueError(f"{result} is after {LATEST_DATE.isoformat()}")
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 has no UTC time
        raise ValueError(f"{result!r} is out of range") from None


def parse_hhmm(value: Any) -> dt.time:
    result = _text(value)
    match = _HHMM.fullmatch(result)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{result!r} is not a time as HH:MM (00:00 to 23:59)")
    return dt.time(int(match[1]), int(match[2]))


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    result = str(value).strip().lower()
    if result in _TRUE:
        return True
    if result in _FALSE:
        return False
    raise ValueError(f"{result!r} is not one of: true, false, yes, no, 1, 0")


def _integer(value: Any, maximum: int) -> int:
    """A whole number (text, JSON number) no larger than ``maximum``."""
    if isinstance(value, bool):
        raise ValueError("expected a whole number, got a boolean")
    if isinstance(value, Decimal) and value.is_finite():
        if value.adjusted() > _MAX_DIGITS:
            raise ValueError(f"must be at most {maximum:,}")
        if value != value.to_integral_value():
            raise ValueError(f"{value} is not a whole number")
        value = int(value)
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        digits = value.strip().lstrip("-").lstrip("0")
        if len(digits) > _MAX_DIGITS:
            raise ValueError(f"must be at most {maximum:,}")
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{_describe(value)} is not a whole number")
    if value > maximum:
        raise ValueError(f"must be at most {maximum:,}")
    return value


def count(maximum: int) -> Callable[[Any], int]:
    """A whole number from 0 to ``maximum``."""

    def parse(value: Any) -> int:
        result = _integer(value, maximum)
        if result < 0:
            raise ValueError("must not be negative")
        return result

    return parse


def parse_quantity(value: Any) -> int:
    """1 to ``MAX_QUANTITY``."""
    result = _integer(value, MAX_QUANTITY)
    if result < 1:
        raise ValueError("must be at least 1")
    return result


def parse_money_cents(value: Any) -> int:
    """A decimal amount in major units (``12.99``) to integer minor units (``1299``)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"expected an amount like 12.99, got {_describe(value)}")
    if isinstance(value, Decimal) and (not value.is_finite() or value.adjusted() > _MAX_DIGITS):
        raise ValueError(f"must be at most {MAX_AMOUNT_CENTS / 100:,.2f}")
    result = str(value).strip()
    if not _MONEY.fullmatch(result):
        raise ValueError(f"{result!r} is not an amount like 12.99 (no sign, at most 2 decimals)")
    if len(result.split(".")[0].lstrip("0")) > _MAX_DIGITS:
        raise ValueError(f"must be at most {MAX_AMOUNT_CENTS / 100:,.2f}")
    try:
        cents = int(Decimal(result) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern already rules this out
        raise ValueError(f"{result!r} is not an amount like 12.99") from None
    if cents > MAX_AMOUNT_CENTS:
        raise ValueError(f"must be at most {MAX_AMOUNT_CENTS / 100:,.2f}")
    return cents


def parse_currency(value: Any) -> str:
    result = _text(value).upper()
    if not _CURRENCY.fullmatch(result):
        raise ValueError(f"{result!r} is not a 3-letter ISO currency code like USD")
    return result


def is_order_ref(value: str) -> bool:
    return bool(_ORDER_REF.fullmatch(value))


def parse_order_ref(value: Any) -> str:
    """Six digits, as text: a number would lose leading zeros."""
    if not isinstance(value, str):
        raise ValueError('expected 6 digits as text, like "004217"')
    result = value.strip()
    if not is_order_ref(result):
        raise ValueError(f"{result!r} is not 6 digits")
    return result
