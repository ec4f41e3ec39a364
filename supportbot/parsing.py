"""Turning what customers type into values the store accepts.

Each parser returns the value or raises ``InvalidRequestError`` with a message
that can be shown to the customer as is (it says what was expected).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class BirthdayParts:
    """A birthday as far as the customer has given it; ``year`` is None until they say it."""

    month: int
    day: int
    year: int | None = None

    def complete(self, *, today: dt.date) -> dt.date:
        """The date, once the year is known; raises with a customer-facing message if it is not valid."""
        if self.year is None:
            raise InvalidRequestError("Which year were you born? For example 1990.")
        result = _birthday(self.year, self.month, self.day)
        _check_birthday_year(result, today=today)
        return result

    def day_and_month(self) -> str:
        return f"{self.day} {dt.date(LEAP_REFERENCE_YEAR, self.month, 1):%B}"


def _check_birthday_year(result: dt.date, *, today: dt.date) -> None:
    if result > today:
        raise InvalidRequestError("That birthday is in the future. Could you check the year?")
    if result.year < today.year - 120:
        raise InvalidRequestError("That year looks too far back. Could you check it?")


_FIND_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_FIND_NUMERIC = re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b")
_FIND_DAY_MONTH = re.compile(rf"\b{_ORDINAL}\s+(?:of\s+)?([a-z]+)\.?(?:,?\s+(\d{{4}}))?\b")
_FIND_MONTH_DAY = re.compile(rf"\b([a-z]+)\.?\s+{_ORDINAL}\b(?:,?\s+(\d{{4}}))?")
_FIND_YEAR = re.compile(r"^(?:(?:it'?s|in|born in|the year|year|i was born in)\s+)?((?:19|20)\d{2})$")


def find_birthday(text: str, *, today: dt.date) -> BirthdayParts | None:
    """A birthday anywhere in a sentence ("please set my birthday to 14 March 1990", "my birthday
    is march 3"), with or without its year; None when there is none. A date that cannot be
    (30 February, a future year) raises ``InvalidRequestError`` saying why."""
    cleaned = re.sub(r"\s+", " ", text.strip().lower())
    parts: BirthdayParts | None
    if match := _FIND_ISO.search(cleaned):
        year, month, day = (int(g) for g in match.groups())
        parts = BirthdayParts(month, day, year)
    elif match := _FIND_NUMERIC.search(cleaned):
        parts = BirthdayParts(*_numeric_day_month(*(int(g) for g in match.groups())))
    else:
        parts = _find_worded(cleaned)
    if parts is None:
        return None
    _birthday(parts.year, parts.month, parts.day)
    if parts.year is not None:
        _check_birthday_year(_birthday(parts.year, parts.month, parts.day), today=today)
    return parts


def _numeric_day_month(first: int, second: int, year: int) -> tuple[int, int, int]:
    if first <= 12 and second <= 12 and first != second:
        raise InvalidRequestError(
            "Is that day/month or month/day? Please write the month as a word, e.g. “3 April 1990”."
        )
    day, month = (first, second) if first > 12 else (second, first)
    return month, day, year


def _find_worded(cleaned: str) -> BirthdayParts | None:
    for match in _FIND_DAY_MONTH.finditer(cleaned):
        day_text, month_text, year_text = match.groups()
        if month_text in MONTHS:
            return BirthdayParts(MONTHS[month_text], int(day_text), int(year_text) if year_text else None)
    for match in _FIND_MONTH_DAY.finditer(cleaned):
        month_text, day_text, year_text = match.groups()
        if month_text in MONTHS:
            return BirthdayParts(MONTHS[month_text], int(day_text), int(year_text) if year_text else None)
    return None


_FIND_DAY = re.compile(r"^(?:(?:on\s+)?the\s+)?(\d{1,2})(?:st|nd|rd|th)\b|^the\s+(\d{1,2})\b")


def find_day(text: str) -> int | None:
    """A reply that names only a day of the month ("the 4th", "4th"), as in a correction."""
    match = _FIND_DAY.match(re.sub(r"\s+", " ", text.strip().lower().rstrip(".!")))
    if match is None:
        return None
    day = int(match.group(1) or match.group(2))
    return day if 1 <= day <= 31 else None


def find_year(text: str) -> int | None:
    """A reply that is only a year ("1990", "born in 1985")."""
    match = _FIND_YEAR.match(re.sub(r"\s+", " ", text.strip().lower().rstrip(".!")))
    return int(match.group(1)) if match else None


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


_ZONE_CUE = re.compile(r"\b(?:to|in|is|at|into|for)\s+([a-z][a-z/_ .'-]*)")
_ZONE_STOP = re.compile(r"\s+(?:now|please|pls|instead|time|timezone|time zone|thanks|and|but|so)\b.*$")


def find_time_zone(text: str) -> str | None:
    """A time zone named in a sentence ("i moved to berlin, update my timezone"); None if none.

    Only the whole message, or a place after "to", "in", "is"... is tried: IANA has zones named
    after words like Christmas, Easter and Resolute, which a sentence may contain for other reasons.
    The last place named wins ("from London to Berlin")."""
    try:
        return parse_time_zone(text)
    except InvalidRequestError:
        pass
    cleaned = re.sub(r"\s+", " ", text.strip().lower())
    found = None
    for match in _ZONE_CUE.finditer(cleaned):
        place = _ZONE_STOP.sub("", re.split(r"[,;!?]", match.group(1))[0]).strip(" .")
        words = place.split()
        for length in range(min(3, len(words)), 0, -1):
            try:
                found = parse_time_zone(" ".join(words[:length]))
                break
            except InvalidRequestError:
                continue
    return found


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


def find_contact_value(text: str) -> tuple[str, str] | None:
    """An email address or phone number in a sentence ("update my email to jo@example.org").

    Unlike ``parse_contact_update`` a channel word is not taken: "update my email" names the
    field to change, not the preferred channel."""
    if email := parse_email(text):
        return "email", email
    if phone := parse_phone(text):
        return "phone", phone
    return None


def normalise_outreach_kind(value: str | None) -> str | None:
    """``all`` or one of OUTREACH_KINDS; None when nothing (recognisable) was named."""
    if not value:
        return None
    value = value.strip().lower()
    if value == "all" or value in OUTREACH_KINDS:
        return value
    return None


OUTREACH_KIND_WORDS = {
    "tip": "tips",
    "tips": "tips",
    "reminder": "renewal",
    "reminders": "renewal",
    "renewal": "renewal",
    "birthday": "milestones",
    "anniversary": "milestones",
    "milestone": "milestones",
    "milestones": "milestones",
    "offer": "perks",
    "offers": "perks",
    "perk": "perks",
    "perks": "perks",
    "deals": "perks",
    "promotions": "perks",
    "promos": "perks",
    "survey": "feedback",
    "surveys": "feedback",
    "feedback": "feedback",
    "everything": "all",
}
"""Words that name a kind of proactive message (the NLU synonyms of ``outreach_kind``)."""


def find_outreach_kind(text: str) -> str | None:
    """The one kind of proactive message a sentence names ("stop sending me tips"); None if none
    or several: the assistant then asks which."""
    kinds = {OUTREACH_KIND_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in OUTREACH_KIND_WORDS}
    return kinds.pop() if len(kinds) == 1 else None


_ME = r"(?:me|us)"
_THEM = r"(?:(?:it|them|these|those|this|that)\s+)?"
_STOP_WORDS = re.compile(
    r"\b(?:stop|unsubscribe|opt(?:ing)?[\s-]?out|no\s+more|enough|mute|disable|cancel\s+(?:the|my|all|these)"
    rf"|(?:don'?t|do\s+not|never)\s+(?:send|message|text|email|contact|bother)\s+{_ME}"
    rf"|(?:turn|switch|shut)\s+{_THEM}off|remove\s+{_ME}|leave\s+{_ME}\s+alone|unsub"
    r"|(?:i|we)\s+(?:don'?t|do\s+not|no\s+longer)\s+(?:want|need|wish)|not\s+interested)\b",
    re.IGNORECASE,
)
_START_WORDS = re.compile(
    r"\b(?:resume|restart|re-?enable|enable|(?:re-?)?subscribe|opt(?:ing)?[\s-]?(?:back\s+)?in|sign\s+(?:me|us)\s+up"
    rf"|(?:turn|switch)\s+{_THEM}(?:back\s+)?on|back\s+on|start\s+(?:sending|getting|receiving)"
    rf"|send\s+{_ME}|(?:i|we)(?:'d|\s+would)?\s+(?:like|want)\s+(?:to\s+(?:get|receive)\b|{_THEM}(?:again|back))"
    r"|again)\b",
    re.IGNORECASE,
)


def asks_to_change_consent(text: str, *, granted: bool) -> bool:
    """Whether a message plainly asks to stop (``granted=False``) or to restart (``True``) messages.

    Consent changes at once when asked for in so many words ("stop", "no more tips", "send me
    tips again") or by a button; a message the classifier only *took* for it ("my reminders don't
    send notifications", "I'm not getting my tips") is asked about first, since a complaint must
    not switch anything off or on.
    """
    words = (text or "").strip()
    if not words or words.startswith("/"):
        return True  # a button's payload, or an action called without a message
    return bool((_START_WORDS if granted else _STOP_WORDS).search(words))


def normalise_order_ref(value: str | None) -> str | None:
    if not value:
        return None
    digits = re.sub(r"\D", "", value)
    return digits if len(digits) == 6 else None


_REWARD_COMMON = frozenset({"lumen", "one", "on", "your", "for", "a", "the", "of", "year", "pack", "6"})


def find_reward(text: str, rewards: list[tuple[str, str]]) -> str | None:
    """The code of the one reward (``(code, name)``) a sentence names by a word only its name has
    ("redeem my points for the stylus tips" → ``stylus_tips``); None if none or several match."""
    said = set(re.findall(r"[a-z0-9]+", text.lower()))
    names = {code: set(re.findall(r"[a-z0-9]+", name.lower())) - _REWARD_COMMON for code, name in rewards}
    hits = []
    for code, name_words in names.items():
        others = set().union(*(w for c, w in names.items() if c != code))
        own = name_words - others
        if own & said:
            hits.append(code)
    return hits[0] if len(hits) == 1 else None


PLAN_ALIASES = {"basic": "starter", "premium": "pro", "team": "business", "teams": "business"}
"""Other names customers use for plans (the same as the NLU synonyms in data/nlu/synonyms.yml)."""


def find_plans(text: str, plans: list[tuple[str, str]]) -> list[str]:
    """The codes of every plan a sentence names, in the catalogue's order ("plus and pro")."""
    said = set(re.findall(r"[a-z]+", text.lower()))
    named = {PLAN_ALIASES.get(word, word) for word in said}
    return [code for code, name in plans if code in named or name.lower() in named]


def find_plan(text: str, plans: list[tuple[str, str]]) -> str | None:
    """The code of the one plan (``(code, name)``) a sentence names ("upgrade to Pro"); None if
    none or several are named."""
    hits = find_plans(text, plans)
    return hits[0] if len(hits) == 1 else None
