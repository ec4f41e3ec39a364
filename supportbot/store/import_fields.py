"""Pure parsers for single import values: each returns the value or raises ValueError.

The ValueError message is shown to the person who wrote the file, next to the row
and field, so it says what was expected, not what went wrong inside Python.
Values come from CSV (always text) or JSON (text, numbers, booleans), so the
parsers accept both where a number or boolean makes sense.
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


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {_describe(value)}")
    return value.strip()


def _describe(value: Any) -> str:
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
        return dt.date.fromisoformat(result)
    except ValueError:
        raise ValueError(f"{result!r} is not a real calendar date") from None


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
    return parsed.astimezone(dt.UTC)


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


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    raise ValueError(f"{value!r} is not a whole number")


def parse_count(value: Any) -> int:
    result = _integer(value)
    if result < 0:
        raise ValueError("must not be negative")
    return result


def parse_positive_int(value: Any) -> int:
    result = _integer(value)
    if result < 1:
        raise ValueError("must be at least 1")
    return result


def parse_money_cents(value: Any) -> int:
    """A decimal amount in major units (``12.99``) to integer minor units (``1299``)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"expected an amount like 12.99, got {_describe(value)}")
    result = str(value).strip()
    if not _MONEY.fullmatch(result):
        raise ValueError(f"{result!r} is not an amount like 12.99 (no sign, at most 2 decimals)")
    try:
        return int(Decimal(result) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern already rules this out
        raise ValueError(f"{result!r} is not an amount like 12.99") from None


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
