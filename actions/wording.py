"""Responses from domain.yml rendered by the action server itself, when the exact text matters.

Rasa normally fills a response's ``{placeholders}`` after the action has run, so the action
never knows the words the customer saw. A question that asks for consent is recorded with
its exact text (``account_change_requests.prompt``), so those responses are rendered here,
with the same placeholder rule as Rasa's (``{name}`` is replaced, an unknown one is kept),
and sent as plain text with their buttons. The copy still lives in domain.yml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")


@dataclass(frozen=True)
class Rendered:
    text: str
    buttons: list[dict[str, str]]
    """Titles rendered; payloads as written in the domain (the caller adds request ids)."""

    def as_recorded(self) -> str:
        """The text and the button titles, as the customer saw them, for the audit trail."""
        titles = " ".join(f"[{b['title']}]" for b in self.buttons)
        return f"{self.text}\n{titles}" if titles else self.text


def fill(template: str, values: dict[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def render(responses: dict[str, Any], name: str, /, **values: Any) -> Rendered:
    """The first unconditional variation of response ``name``, filled with ``values``."""
    variations = responses.get(name)
    if not variations:
        raise KeyError(f"response {name!r} is not in the domain")
    chosen = next((v for v in variations if not v.get("condition")), variations[0])
    buttons = [
        {"title": fill(str(b.get("title", "")), values), "payload": str(b.get("payload", ""))}
        for b in chosen.get("buttons") or []
    ]
    return Rendered(text=fill(str(chosen.get("text", "")), values), buttons=buttons)
