"""How money, dates and lists read in the assistant's English messages."""

from __future__ import annotations

import datetime as dt

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "AUD": "A$", "CAD": "C$", "INR": "₹"}


def money(cents: int, currency: str = "USD") -> str:
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    amount = f"{cents / 100:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"


def long_date(day: dt.date) -> str:
    """``Tuesday, March 3, 2026``: unambiguous in every English locale."""
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def short_date(day: dt.date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def relative_days(day: dt.date, today: dt.date) -> str:
    delta = (day - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    if delta > 0:
        return f"in {delta} days"
    return f"{-delta} days ago"


def join_words(words: list[str] | tuple[str, ...]) -> str:
    words = list(words)
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} and {words[-1]}"


FEATURE_NAMES = {
    "notes": "Notes",
    "sync": "Sync",
    "reminders": "Reminders",
    "templates": "Templates",
    "sharing": "Sharing",
    "calendar": "Calendar",
    "offline": "Offline mode",
    "automation": "Automations",
    "api": "the API",
    "admin_console": "the Admin console",
    "sso": "Single sign-on",
    "analytics": "Analytics",
}


def feature_name(code: str) -> str:
    return FEATURE_NAMES.get(code, code.replace("_", " ").title())


PROFILE_FIELD_NAMES = {
    "birthday": "birthday",
    "time_zone": "time zone",
    "email": "email address",
    "phone": "phone number",
    "preferred_channel": "preferred channel",
    "contact": "contact details",
}
CHANNEL_NAMES = {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp", "telegram": "Telegram", "web": "chat"}


def profile_value(field: str, value: str) -> str:
    """A stored profile value as the customer reads it: "14 March 1990", "Europe/Berlin", "WhatsApp"."""
    if field == "birthday":
        day = dt.date.fromisoformat(value)
        return f"{day.day} {day:%B} {day.year}"
    if field == "preferred_channel":
        return CHANNEL_NAMES.get(value, value)
    return value
