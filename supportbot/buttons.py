"""Buttons and words mean the same: which button (if any) a typed message names. Pure functions.

On channels without buttons, or when a customer just types, "No, cancel" must do what
tapping *No, cancel* does, even though on its own it reads like "cancel that". So a reply
is first compared with the buttons of the question it answers:

- a tap sends the button's payload itself (``/deny``), which matches exactly;
- a typed title matches after normalising case, punctuation, emoji and filler words
  ("no, cancel!", "No cancel please", "NO - CANCEL");
- an obvious variant matches too: the typed words are all in one button's title and
  include a word no other button has ("keep it" for *Keep it with 20% off*, "plus" for
  *Switch to Plus*), with yes/no words read alike ("yep" = "yes").

Anything with words no button has ("no, cancel and refund me") is not a button: the
assistant reads it as a new message instead.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FILLER_WORDS = frozenset(
    {
        "please",
        "pls",
        "plz",
        "thanks",
        "thank",
        "you",
        "ok",
        "okay",
        "oh",
        "um",
        "uh",
        "just",
        "the",
        "a",
        "an",
        "it",
        "to",
        "with",
        "my",
        "me",
        "i",
        "id",
        "ill",
        "want",
        "like",
        "would",
        "lets",
        "go",
        "for",
        "then",
        "that",
        "one",
        "option",
        "do",
        "and",
        "of",
    }
)
"""Words that say nothing about which button was meant."""
YES_WORDS = frozenset({"yes", "yeah", "yep", "yup", "ya", "yea", "sure", "y", "ja", "si", "oui"})
NO_WORDS = frozenset({"no", "nope", "nah", "n", "dont", "nein", "non", "nee"})
"""A plain yes or no, also as a customer used to another language types it ("ja", "sí", "nein")."""
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, apostrophes or emoji; yes/no words unified."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    cleaned = folded.replace("’", "'").replace("'", "")
    out = []
    for word in _WORD.findall(cleaned):
        if word in YES_WORDS:
            word = "yes"
        elif word in NO_WORDS:
            word = "no"
        out.append(word)
    return out


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in FILLER_WORDS]


def buttons_from(raw: Sequence[dict[str, Any]] | None) -> list[Button]:
    """Buttons as Rasa stores them on a bot message (``{"title": ..., "payload": ...}``)."""
    return [Button(str(b.get("title") or ""), str(b.get("payload") or "")) for b in raw or [] if b.get("payload")]


_ORDINALS = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
}
_ORDINAL = re.compile(
    r"^(?:the\s+)?(?P<nth>first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last)"
    r"(?:\s+(?:one|option|button|choice))?(?:\s+please)?$"
    r"|^(?:option|number|choice)\s*(?P<number>[1-5])(?:\s+please)?$",
    re.IGNORECASE,
)


def nth_button(text: str, buttons: Sequence[Button]) -> Button | None:
    """ "the second one", "option 2", "the last one": a button by its place among the payload buttons."""
    match = _ORDINAL.match(" ".join(words(text)))
    choices = [b for b in buttons if b.payload]  # a link button is no choice
    if match is None or not choices:
        return None
    if match.group("number"):
        index = int(match.group("number")) - 1
    else:
        nth = match.group("nth").lower()
        index = len(choices) - 1 if nth == "last" else _ORDINALS[nth]
    return choices[index] if index < len(choices) else None


_BY_COST = re.compile(
    r"^(?:the\s+)?(?P<which>cheapest|least expensive|smallest|most expensive|priciest|dearest|biggest)"
    r"(?:\s+(?:one|option|reward|choice))?(?:\s+please)?$",
    re.IGNORECASE,
)
_COST = re.compile(r"(?:\$\s?)?(\d[\d,]*(?:\.\d+)?)\s*(?:pts|points)?\)?$", re.IGNORECASE)


def button_by_cost(text: str, buttons: Sequence[Button]) -> Button | None:
    """ "the cheapest one" / "the most expensive one" among buttons whose titles end in a cost
    ("Stylus tips (6-pack) (400 pts)"); None when the text says neither or a title has no cost."""
    match = _BY_COST.match(text.strip().rstrip("?!."))
    choices = [b for b in buttons if b.payload]
    costs = [_COST.search(b.title) for b in choices]
    if match is None or not choices or any(c is None for c in costs):
        return None
    values = [float(c.group(1).replace(",", "")) for c in costs if c is not None]
    low = match.group("which").lower() in ("cheapest", "least expensive", "smallest")
    pick = values.index(min(values) if low else max(values))
    return choices[pick]


def match_button(text: str, buttons: Sequence[Button]) -> Button | None:
    """The button ``text`` taps or names (by its words, or by its place: "the second one"), or None
    when it names none (or more than one)."""
    stripped = text.strip()
    if not stripped or not buttons:
        return None
    for button in buttons:
        if stripped == button.payload:
            return button
    if (by_place := nth_button(stripped, buttons) or button_by_cost(stripped, buttons)) is not None:
        return by_place
    typed = content_words(stripped)
    titles = [content_words(b.title) for b in buttons]
    exact = [b for b, title in zip(buttons, titles, strict=True) if words(stripped) == words(b.title)]
    if len(exact) == 1:
        return exact[0]
    if not typed:
        return None
    exact = [b for b, title in zip(buttons, titles, strict=True) if title and typed == title]
    if len(exact) == 1:
        return exact[0]
    typed_set = set(typed)
    candidates = []
    for index, (button, title) in enumerate(zip(buttons, titles, strict=True)):
        title_set = set(title)
        if not typed_set <= title_set:
            continue
        others = set().union(*(set(t) for i, t in enumerate(titles) if i != index))
        if typed_set - others:
            candidates.append(button)
    return candidates[0] if len(candidates) == 1 else None


@dataclass(frozen=True)
class Payload:
    """A button payload read back: ``/intent{"entity": "value"}``."""

    intent: str
    entities: dict[str, Any]


_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z0-9_]+)(?P<entities>\{.*\})?$", re.DOTALL)


def parse_payload(payload: str) -> Payload | None:
    """The intent and entities of a ``/intent{json}`` payload; None for anything else."""
    match = _PAYLOAD.match(payload.strip())
    if match is None:
        return None
    entities: dict[str, Any] = {}
    if match.group("entities"):
        try:
            loaded = json.loads(match.group("entities"))
        except json.JSONDecodeError:
            return None
        if not isinstance(loaded, dict):
            return None
        entities = loaded
    return Payload(match.group("intent"), entities)


def payload(intent: str, **entities: Any) -> str:
    """``/intent{"entity": "value"}``, the payload Rasa parses without NLU."""
    return f"/{intent}" + (json.dumps(entities, sort_keys=True) if entities else "")
