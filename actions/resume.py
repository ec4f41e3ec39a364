"""A yes to a question that a question of the customer's own interrupted.

"Switch me to Pro" → "Switch from Plus to Pro …? [Yes] [No]" → "what's the price difference?"
→ the plan options → "ok do it". The confirmation was dropped the moment the customer asked
something else (``actions.dialogue_state``: a later yes must never answer an old question),
so the yes used to meet "I'm not sure what that's a yes to". A person would know what it
meant, and would still not change anything on a guess: the confirmation is asked once more,
word for word, as a new question (a new recorded request, the same kind and terms), and only
a yes to *that* changes the account. When the terms moved in between, the yes finds out at
apply time as every confirmation does (``supportbot.services.changes``).

Only an account change (``change`` questions) interrupted by a question (an intent in
``QUESTION_INTENTS``, or a question the classifier could not place: "how much is that?") is
remembered, for one message: the very next one, and only when it is a yes. A request ("cancel
my subscription instead"), a greeting or anything else forgets it.
"""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events
from actions.changes import with_request
from actions.context import ActionContext
from actions.form_flow import is_question
from actions.questions import (
    ANSWER_CONFIDENCE,
    Question,
    ask,
    last_bot_turn,
    latest_intent,
    latest_text,
)
from supportbot.buttons import parse_payload
from supportbot.services.confirmations import request_change
from supportbot.store.dialogue_models import AccountChangeRequest

INTERRUPTED_SLOT = "interrupted_question"
QUESTION_INTENTS = frozenset(
    {
        "ask_plan",
        "ask_plan_options",
        "ask_renewal",
        "ask_orders",
        "order_status",
        "ask_loyalty",
        "ask_help_article",
        "bot_challenge",
    }
)
"""Questions about a thing: asking one does not mean "no" to the change on the table."""
UNPLACED_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})
"""A *question* the classifier could not place ("how much is that?") does not mean "no" either."""


def interruption(question: Question | None, tracker: Tracker) -> str | None:
    """What to remember when ``question`` (asked just now) is dropped by the latest message:
    the question as shown, if it was an account change and the message a question."""
    if question is None or question.kind != "change" or question.request_id is None:
        return None
    intent = latest_intent(tracker)[0]
    unplaced_question = intent in UNPLACED_INTENTS and is_question(latest_text(tracker))
    if intent not in QUESTION_INTENTS and not unplaced_question:
        return None
    for event in reversed(last_bot_turn(tracker)):
        data = event.get("data") or {}
        buttons = data.get("buttons") or []
        if event.get("event") == "bot" and any(_request_of(b) == question.request_id for b in buttons):
            shown = {"text": event.get("text") or "", "buttons": buttons}
            return json.dumps({"request_id": question.request_id, "context": question.context, **shown})
    return None


def keeps_interruption(tracker: Tracker) -> bool:
    """The remembered question lives on only into a confident yes."""
    intent, confidence = latest_intent(tracker)
    return intent == "affirm" and confidence >= ANSWER_CONFIDENCE


def _request_of(button: dict[str, Any]) -> int | None:
    parsed = parse_payload(str(button.get("payload") or ""))
    if parsed is None or "change_request" not in parsed.entities:
        return None
    try:
        return int(parsed.entities["change_request"])
    except (TypeError, ValueError):
        return None


def _remembered(raw: Any) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        data = json.loads(str(raw))
        int(data["request_id"])
        return data if isinstance(data.get("buttons"), list) and isinstance(data.get("context"), dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def ask_again(
    session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker, *, lead: str
) -> Events | None:
    """The interrupted account change asked once more, after ``lead``, as a new recorded request;
    None when none is remembered (or it is not this customer's, in this conversation)."""
    data = _remembered(tracker.get_slot(INTERRUPTED_SLOT))
    old = session.get(AccountChangeRequest, int(data["request_id"])) if data else None
    if (
        data is None
        or old is None
        or ctx.customer_id is None
        or old.customer_id != ctx.customer_id
        or old.conversation_id != ctx.conversation.conversation_id
    ):
        return None
    request = request_change(
        session=session,
        customer_id=ctx.customer_id,
        conversation=ctx.conversation,
        kind=old.kind,
        parameters=json.loads(old.parameters or "{}"),
        prompt=old.prompt,
    )
    dispatcher.utter_message(response=lead)
    return [
        SlotSet(INTERRUPTED_SLOT, None),
        *ask(
            dispatcher,
            text=str(data["text"]),
            buttons=[with_request(b, request.id) for b in data["buttons"]],
            question=Question("change", request.id, dict(data["context"])),
        ),
    ]
