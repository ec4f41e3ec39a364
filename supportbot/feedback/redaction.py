"""PII redaction of feedback text before it is analysed or shown (app environment).

Feedback is redacted when it is recorded (``store.record_text``) so that themes, labels,
quotes and the console only ever see ``text_redacted``. Two layers, because neither is
enough alone:

- **Patterns** for things with a shape: emails → ``[EMAIL]``, IBAN-like strings →
  ``[IBAN]``, card-like numbers (13–19 digits, spaces or dashes allowed) → ``[CARD]`` when
  they pass the Luhn check, phone numbers (7–15 digits, optional ``+`` and brackets) →
  ``[PHONE]``.
- **spaCy NER** for names, which have no shape: ``PERSON`` → ``[NAME]``.

Decision on card-like numbers that fail Luhn: they are *still removed*, as ``[NUMBER]``.
Luhn only decides the label. A customer who mistypes one digit of their card has still
written fifteen real ones, and a long digit run in feedback (account, order, tracking
number) never helps a theme. Short numbers ("order 12345", "3 days", "$25") are kept.

The spaCy model is a setting, loaded once, lazily, under a lock (the action server calls
from worker threads). Tests that are not about redaction pass any object with a
``redact`` method (the ``Redactor`` protocol) instead.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from spacy.language import Language


class Redactor(Protocol):
    def redact(self, text: str) -> str: ...

    def redact_many(self, texts: Iterable[str]) -> list[str]: ...


_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", re.I)
_CARD_LIKE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{2,5}(?:[\s.-]?\d{2,5}){1,4}(?!\w)")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LONG_NUMBER = re.compile(r"(?<!\w)\d{9,}(?!\w)")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _card(match: re.Match[str]) -> str:
    return "[CARD]" if luhn_ok(_digits(match.group(0))) else "[NUMBER]"


def _iban(match: re.Match[str]) -> str:
    # "IBAN-ish": a country code, check digits and mostly digits; words like "AB12 thanks" are not.
    return "[IBAN]" if len(_digits(match.group(0))) >= 10 else match.group(0)


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    if _ISO_DATE.match(text) or not 7 <= len(_digits(text)) <= 15:
        return text
    return "[PHONE]"


def redact_patterns(text: str) -> str:
    """Remove PII that has a recognisable shape; order matters (an email may contain digits)."""
    text = _EMAIL.sub("[EMAIL]", text)
    text = _IBAN.sub(_iban, text)
    text = _CARD_LIKE.sub(_card, text)
    text = _PHONE.sub(_phone, text)
    return _LONG_NUMBER.sub("[NUMBER]", text)


_load_lock = threading.Lock()


@lru_cache(maxsize=4)
def _load_spacy_unlocked(name: str) -> Language:
    import spacy

    return spacy.load(name)


def load_spacy(name: str) -> Language:
    """The spaCy pipeline ``name``, loaded once per process (shared with theme labelling)."""
    with _load_lock:
        return _load_spacy_unlocked(name)


class SpacyRedactor:
    """Patterns first, then spaCy ``PERSON`` entities; the model loads on first use."""

    def __init__(self, *, model: str) -> None:
        self.model = model

    def _replace_people(self, nlp: Language, texts: list[str]) -> list[str]:
        out: list[str] = []
        for doc in nlp.pipe(texts, batch_size=64):
            text = doc.text
            for ent in reversed(doc.ents):
                if ent.label_ == "PERSON" and not ent.text.startswith("["):
                    text = text[: ent.start_char] + "[NAME]" + text[ent.end_char :]
            out.append(text)
        return out

    def redact_many(self, texts: Iterable[str]) -> list[str]:
        patterned = [redact_patterns(text) for text in texts]
        if not patterned:
            return []
        return self._replace_people(load_spacy(self.model), patterned)

    def redact(self, text: str) -> str:
        return self.redact_many([text])[0]


def default_redactor() -> SpacyRedactor:
    """The redactor the application uses, with the spaCy model from settings."""
    from supportbot.settings import get_settings

    return SpacyRedactor(model=get_settings().feedback_spacy_model)
