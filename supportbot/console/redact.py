"""What the console shows of personal data: redacted by default, revealed only to roles allowed.

Message texts are redacted with the feedback redactor's patterns (emails, phones, card
and IBAN-like numbers) plus the names the profile store knows for the conversation's
customer (the bot greets customers by name, and customers sign with it). Names of other
people in an anonymous conversation have no shape the patterns could catch; loading
spaCy in the web process for them was judged too heavy (docs/CONSOLE.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from supportbot.feedback.redaction import redact_patterns

NAME = "[NAME]"


@dataclass(frozen=True)
class Masker:
    """Redacts texts for one viewer; ``reveal`` turns it into the identity."""

    reveal: bool
    names: tuple[str, ...] = ()

    def text(self, value: str | None) -> str:
        if value is None:
            return ""
        if self.reveal:
            return value
        value = redact_patterns(value)
        for name in self.names:
            value = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", NAME, value, flags=re.IGNORECASE)
        return value

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
