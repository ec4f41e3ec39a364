"""The question just asked: what it was, which buttons it had, and whether a reply answers it.

Every step that asks the customer to choose (a yes/no before an account change, the
retention offer, "which messages?", "which reward?", "a person now?") records the question
in the ``pending_question`` slot and shows buttons. The customer's next message answers it
only if it is the very next message and it taps or names one of its buttons
(``supportbot.buttons``), or is a plain yes / no / never mind (or, for a changed value, a
correction). Anything else moves on: ``actions.dialogue_state`` clears the question before
the dialogue policy looks at the message, so a later "yes" cannot answer an old question.

An answer is put in the ``answer`` slot as a button payload (``/affirm{"change_request":
"12"}``), the same whether tapped or typed, and one rule sends every answer to
``action_answer_question`` (``actions.answers``), which acts on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from supportbot.buttons import Button, buttons_from, match_button, parse_payload, words

PENDING_SLOT = "pending_question"
ANSWER_SLOT = "answer"
Events = list[dict[str, Any]]


@dataclass(frozen=True)
class Question:
    """A question waiting for its answer.

    ``kind`` names the handler in ``actions.answers``; ``request_id`` is the recorded account
    change (``change`` questions); ``context`` is what the handler needs to act.
    """

    kind: str
    request_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)

    def to_slot(self) -> str:
        return json.dumps({"kind": self.kind, "request_id": self.request_id, "context": self.context}, sort_keys=True)

    @classmethod
    def from_slot(cls, value: Any) -> Question | None:
        if not value:
            return None
        try:
            data = json.loads(str(value))
            return cls(str(data["kind"]), data.get("request_id"), dict(data.get("context") or {}))
        except (ValueError, KeyError, TypeError):
            return None


def pending(tracker: Tracker) -> Question | None:
    return Question.from_slot(tracker.get_slot(PENDING_SLOT))


def ask(dispatcher: CollectingDispatcher, *, text: str, buttons: list[dict[str, str]], question: Question) -> Events:
    """Send a question with its buttons and remember it for the next message."""
    dispatcher.utter_message(text=text, buttons=buttons)
    return [SlotSet(PENDING_SLOT, question.to_slot()), SlotSet(ANSWER_SLOT, None)]


def forget() -> Events:
    return [SlotSet(PENDING_SLOT, None), SlotSet(ANSWER_SLOT, None)]


def _user_indexes(events: list[dict[str, Any]]) -> list[int]:
    return [i for i, e in enumerate(events) if e.get("event") == "user"]


def last_bot_turn(tracker: Tracker) -> list[dict[str, Any]]:
    """The events between the customer's previous message and the latest one."""
    events = list(tracker.events)
    users = _user_indexes(events)
    if not users:
        return []
    end = users[-1]
    start = users[-2] + 1 if len(users) > 1 else 0
    return events[start:end]


def last_bot_buttons(tracker: Tracker) -> list[Button]:
    """Every button the assistant showed in its last turn (what a reply can tap or name)."""
    buttons: list[Button] = []
    for event in last_bot_turn(tracker):
        if event.get("event") == "bot":
            buttons.extend(buttons_from((event.get("data") or {}).get("buttons")))
    return buttons


def set_in_last_turn(tracker: Tracker, slot: str) -> Any:
    """The last value the assistant's last turn set ``slot`` to (None when it set none)."""
    for event in reversed(last_bot_turn(tracker)):
        if event.get("event") == "slot" and event.get("name") == slot and event.get("value"):
            return event["value"]
    return None


def asked_in_last_turn(tracker: Tracker) -> bool:
    """Whether the pending question was put in the assistant's last turn, i.e. just now."""
    return any(
        e.get("event") == "slot" and e.get("name") == PENDING_SLOT and e.get("value") for e in last_bot_turn(tracker)
    )


def latest_intent(tracker: Tracker) -> tuple[str, float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return str(intent.get("name") or ""), float(intent.get("confidence") or 0.0)


def latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def button_for_intent(buttons: list[Button], intent: str) -> Button | None:
    """The question's button whose payload is ``intent`` (the Yes button for "affirm")."""
    for button in buttons:
        parsed = parse_payload(button.payload)
        if parsed is not None and parsed.intent == intent:
            return button
    return None


Corrector = Callable[[Question, Tracker], bool]
"""Whether the latest message corrects the value a question quotes ("sorry, I meant 15 March")."""
CORRECTION = "/correct"
KEEP = "/nevermind"

CHANGE_ANSWERS = {"affirm": "affirm", "deny": "deny", "nevermind": "deny"}
INTENT_ANSWERS: dict[str, dict[str, str]] = {
    # Which typed intent stands for which button (named by its payload's intent), per kind
    # (``family``) of question. Account changes all take yes/no/never mind; some add their own.
    "change": CHANGE_ANSWERS,
    "retention_offer": {"affirm": "affirm", "deny": "deny", "cancel_subscription": "deny"},
    "offer_person": {"affirm": "human_handoff", "human_handoff": "human_handoff", "deny": "deny"},
    "retry_form": {"affirm": "affirm", "human_handoff": "human_handoff", "deny": "nevermind", "nevermind": "nevermind"},
    # Plain yes/no questions: "hmm, no, keep me in" answers "Shall I take back your request?".
    "withdraw_handoff": {"affirm": "affirm", "deny": "deny"},
    "email_follow_up": {"affirm": "affirm", "deny": "deny"},
}
"""A typed yes or no answers a yes/no question even when it names no button; "never mind"
to the retention offer means "never mind the cancellation" (``KEEP``)."""
KEEP_INTENTS = {"retention_offer": frozenset({"nevermind"})}
LEADING_ANSWERS = frozenset({"offer_person", "retry_form"})
"""Questions whose answer changes nothing on the account: a reply that opens with a plain yes or
no ("yes it's the renewal charge", "no, it's fine") answers them, whatever the rest is read as.
An account change still needs the whole reply to be a yes."""
ANSWER_CONFIDENCE = 0.7
"""A typed yes/no that names no button counts only when the classifier is this sure of it."""


_CANCEL = re.compile(r"\bcancel", re.IGNORECASE)
_KEEP = re.compile(
    r"\b(?:don'?t|do not|not|never|no need to|won'?t)\s+(?:\w+\s+)?cancel|\b(?:i'?ll|i will|let'?s) keep\b",
    re.IGNORECASE,
)


def says_cancel(text: str) -> bool:
    """Whether a reply asks to cancel ("ok fine, cancel it") rather than to keep ("don't cancel")."""
    said = text.replace("\u2019", "'")
    return _CANCEL.search(said) is not None and _KEEP.search(said) is None


def plain_yes_or_no(text: str) -> str | None:
    """``affirm`` or ``deny`` for a reply that is a yes or no word alone ("yep", "sí", "nein")."""
    said = words(text)
    if len(said) != 1 or said[0] not in ("yes", "no"):
        return None
    return "affirm" if said[0] == "yes" else "deny"


def leading_yes_or_no(text: str) -> str | None:
    """``affirm`` or ``deny`` for a reply of several words that opens with a plain yes or no."""
    said = words(text)
    if len(said) < 2 or said[0] not in ("yes", "no"):
        return None
    return "affirm" if said[0] == "yes" else "deny"


def intent_answers(question: Question) -> dict[str, str]:
    family = str(question.context.get("family") or question.kind)
    if family in INTENT_ANSWERS:
        return INTENT_ANSWERS[family]
    return CHANGE_ANSWERS if question.kind == "change" else {}


def answer_to(question: Question, tracker: Tracker, *, corrects: Corrector | None = None) -> str | None:
    """The answer (a button payload) the latest message gives to ``question``, or None when it
    answers nothing (then the customer has moved on)."""
    buttons = last_bot_buttons(tracker)
    text = latest_text(tracker)
    button = match_button(text, buttons)
    if button is not None:
        return button.payload
    parsed = parse_payload(text)
    if parsed is not None and "change_request" in parsed.entities:
        return text  # a tap on an older question's button: the handler explains it has expired
    if corrects is not None and corrects(question, tracker):
        return CORRECTION
    intent, confidence = latest_intent(tracker)
    if (plain := plain_yes_or_no(text)) is not None:
        # "sí" or "nein" alone, which the classifier was never taught: the yes or no it is
        intent, confidence = plain, 1.0
    lead = leading_yes_or_no(text) if str(question.context.get("family") or question.kind) in LEADING_ANSWERS else None
    if lead is not None and (wanted_button := button_for_intent(buttons, intent_answers(question).get(lead, ""))):
        return wanted_button.payload
    if confidence < ANSWER_CONFIDENCE:
        return None  # not clearly a yes or a no: nothing is done on a guess
    if intent in KEEP_INTENTS.get(str(question.context.get("family") or ""), frozenset()):
        if not says_cancel(text):
            return KEEP
        intent = "deny"  # "ok fine, cancel it" to the retention offer: go on to the confirmation
    wanted = intent_answers(question).get(intent)
    if wanted is None:
        return None
    chosen = button_for_intent(buttons, wanted)
    return chosen.payload if chosen is not None else None
