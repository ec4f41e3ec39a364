"""What the console shows of personal data: redacted by default, revealed only to roles allowed.

Message texts are redacted with the feedback redactor's patterns (emails, phones, card
and IBAN-like numbers) plus the names the profile store knows for the conversation's
customer (the bot greets customers by name, and customers sign with it). Names of other
people in an anonymous conversation have no shape the patterns could catch; loading
spaCy in the web process for them was judged too heavy (docs/CONSOLE.md). Link codes
(``7KQ4-M2XP``, what a customer sends from a messaging app to link it) are personal too: with
one, anyone could link their own chat to the customer while it is valid.

Conversation ids can be personal data as well: a WhatsApp or SMS conversation is named by
the customer's phone number, a REST client chooses its own sender label. Roles without the
``reveal_pii`` permission see them with every long run of digits masked
(``whatsapp:[PHONE]``); the customer id in a ``cust:`` id stays, since the console shows
customer ids anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.conversation_ids import VERIFIED_PREFIX, parse_conversation_id
from supportbot.feedback.redaction import redact_patterns
from supportbot.services.linking import CODE_PATTERN, find_code

NAME = "[NAME]"
LINK_CODE = "[LINK CODE]"
_DIGIT_RUN = re.compile(r"\+?\d(?:[\s().-]?\d){4,}")
"""Five digits or more, maybe with separators: phone numbers and platform user numbers."""


def mask_link_codes(text: str) -> str:
    """Every link-code-shaped run (as ``supportbot.services.linking.find_code`` reads them) replaced."""
    spans: list[tuple[int, int]] = []
    for match in CODE_PATTERN.finditer(text):
        start, end = match.start(1), match.end(2)
        if (not spans or start >= spans[-1][1]) and find_code(text[start:end]) is not None:
            spans.append((start, end))
    for start, end in reversed(spans):
        text = text[:start] + LINK_CODE + text[end:]
    return text


def _number(match: re.Match[str]) -> str:
    digits = sum(char.isdigit() for char in match.group(0))
    return "[PHONE]" if 7 <= digits <= 15 else "[NUMBER]"


def mask_conversation_id(conversation_id: str) -> str:
    """The id with its digit runs masked; a verified id keeps its customer id."""
    customer_id = parse_conversation_id(conversation_id).customer_id
    keep = f"{VERIFIED_PREFIX}{customer_id}:" if customer_id else ""
    return keep + _DIGIT_RUN.sub(_number, conversation_id[len(keep) :])


@dataclass(frozen=True)
class Masker:
    """Redacts texts for one viewer; ``reveal`` turns it into the identity."""

    reveal: bool
    names: tuple[str, ...] = ()
    show_ids: bool = True
    """Conversation ids as they are (roles with ``reveal_pii``), else masked."""

    def text(self, value: str | None) -> str:
        if value is None:
            return ""
        if self.reveal:
            return value
        value = redact_patterns(mask_link_codes(value))
        for name in self.names:
            value = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", NAME, value, flags=re.IGNORECASE)
        return value

    def conversation_id(self, value: str) -> str:
        return value if self.reveal or self.show_ids else mask_conversation_id(value)

    def email(self, value: str | None) -> str:
        if not value or self.reveal:
            return value or ""
        local, _, domain = value.partition("@")
        return f"{local[:1]}…@{domain}" if domain else "[EMAIL]"

    def name(self, value: str | None) -> str:
        if not value or self.reveal:
            return value or ""
        return value[:1] + "…"


def known_names(values: Iterable[str | None]) -> tuple[str, ...]:
    """Names worth replacing: at least two letters, longest first (so "Ann Lee" goes before "Ann")."""
    names = {value.strip() for value in values if value and len(value.strip()) >= 2}
    return tuple(sorted(names, key=len, reverse=True))
