"""Forms that let go: what every form does with a reply that is not simply the value it asked for.

Each form's validation action reads a reply in this order (``read_reply``):

1. **leaving** ("never mind", "stop", "cancel that", goodbye): the form ends and nothing is
   saved; the slot gets ``DROPPED`` and the form's submit action says so;
2. **after a digression**, the form asked "shall we carry on?": yes asks the question again,
   no leaves (as 1), a value is simply taken;
3. **another request** (an intent in ``DIGRESSION_INTENTS``, confidently recognised, that is
   not a value for this form): the form rejects the message, the ordinary rule answers it, and
   Rasa comes back to the form, whose question is then put as "shall we carry on with …?"
   (``resuming``). Adding an intent to ``DIGRESSION_INTENTS`` (and a rule answering it) is all
   a new kind of question needs to work in the middle of every form;
   A *question* that is no value ("what are your hours?") is a digression however unsure the
   classifier is of its intent: a rule answers it (the help centre for an unplaced one);
4. otherwise the reply is an **answer attempt**: the form parses it; an unreadable answer is
   explained and asked again once, and after ``MAX_FAILURES`` the form ends with ``GAVE_UP``
   and the submit action offers to try again or a person instead of repeating itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from actions.questions import last_bot_buttons, latest_intent, latest_text
from supportbot.buttons import match_button, parse_payload
from supportbot.form_replies import is_leave

DROPPED = "__dropped__"
GAVE_UP = "__gave_up__"
RESUME_SLOT = "form_resume_asked"
FAILURES_SLOT = "form_failures"
MAX_FAILURES = 2
DIGRESSION_CONFIDENCE = 0.6

DIGRESSION_INTENTS = frozenset(
    {
        "greet",
        "thanks",
        "bot_challenge",
        "help",
        "out_of_scope",
        "ask_plan",
        "ask_renewal",
        "renew_now",
        "cancel_subscription",
        "delete_account",
        "ask_plan_options",
        "change_plan",
        "ask_orders",
        "order_status",
        "ask_loyalty",
        "redeem_points",
        "update_birthday",
        "update_timezone",
        "update_contact_details",
        "ask_my_details",
        "opt_out",
        "opt_in",
        "human_handoff",
        "report_problem",
        "give_feedback",
        "link_account",
        "unlink_account",
        "ask_help_article",
        "ask_referral_code",
        "report_referral",
    }
)
"""Requests and questions answered in the middle of any form, which then resumes. A new
question intent (help-centre answers, say) goes here and into a rule that answers it."""
LEAVE_INTENTS = frozenset({"nevermind", "goodbye"})
LEAVE_CONFIDENCE = 0.5

Reply = Literal["leave", "resume", "digression", "answer"]
INTERNAL_ACTIONS = frozenset({"action_listen", "action_extract_slots", "action_validate_slot_mappings"})


def tapped(tracker: Tracker) -> str | None:
    """The intent of the form question's button the reply taps or names, if any."""
    button = match_button(latest_text(tracker), last_bot_buttons(tracker))
    parsed = parse_payload(button.payload) if button else None
    return parsed.intent if parsed else None


def wants_to_leave(tracker: Tracker) -> bool:
    intent, confidence = latest_intent(tracker)
    return is_leave(latest_text(tracker)) or (intent in LEAVE_INTENTS and confidence >= LEAVE_CONFIDENCE)


_QUESTION_START = re.compile(
    r"^(?:what|what's|whats|when|where|why|how|who|which|is there|are there|are you|do you|does|did you|"
    r"can you|could you|can i|may i|will you|would you)\b",
    re.IGNORECASE,
)


def is_question(text: str) -> bool:
    """ "What are your hours", "do you ship to Canada?": a question, never a form's value."""
    said = text.strip().replace("\u2019", "'")
    return said.endswith("?") or _QUESTION_START.match(said) is not None


def says_plain_no(tracker: Tracker) -> bool:
    """A bare "no" / "nope" to the form's question: the customer does not want to go on."""
    intent, confidence = latest_intent(tracker)
    return intent == "deny" and confidence >= LEAVE_CONFIDENCE and len(latest_text(tracker).split()) <= 3


def read_reply(
    tracker: Tracker,
    *,
    is_value: bool,
    digressions: Iterable[str] = DIGRESSION_INTENTS,
    questions_digress: bool = True,
) -> Reply:
    """How a form should take the latest message (see the module docstring); ``is_value`` says
    whether the form can read a value from it. With ``questions_digress`` a question that is no
    value ("what are your hours?") is answered as a digression however unsure the classifier is
    of its intent (the help centre gets a look at it); a form whose answer may well be a question
    (a problem description) turns it off."""
    button = tapped(tracker)
    intent, confidence = latest_intent(tracker)
    if button in ("nevermind", "deny") and tracker.get_slot(RESUME_SLOT):
        return "leave"
    if not is_value and (wants_to_leave(tracker) or says_plain_no(tracker)):
        return "leave"
    if tracker.get_slot(RESUME_SLOT) and not is_value:
        if button == "affirm" or intent == "affirm":
            return "resume"
        if intent == "deny":
            return "leave"
    if not is_value and intent in digressions and confidence >= DIGRESSION_CONFIDENCE:
        return "digression"
    if (
        not is_value
        and questions_digress
        and is_question(latest_text(tracker))
        and intent in {*digressions, "nlu_fallback"}
    ):
        return "digression"
    return "answer"


def resuming(tracker: Tracker, form: str) -> bool:
    """Whether the form is coming back after the assistant answered something else this turn."""
    events = list(tracker.events)
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    since = events[users[-1] + 1 :] if users else events
    own = {form, f"validate_{form}"}
    return any(
        e.get("event") == "action"
        and e.get("name") not in own
        and e.get("name") not in INTERNAL_ACTIONS
        and not str(e.get("name") or "").startswith(("action_ask_", "utter_ask_"))
        for e in since
    )


def failed_try(tracker: Tracker, slot: str) -> tuple[dict[str, Any], bool]:
    """The slot values after an unreadable answer, and whether the form gives up now."""
    failures = int(tracker.get_slot(FAILURES_SLOT) or 0) + 1
    if failures >= MAX_FAILURES:
        return {slot: GAVE_UP, FAILURES_SLOT: None, RESUME_SLOT: None}, True
    return {slot: None, FAILURES_SLOT: float(failures), RESUME_SLOT: None}, False


def failed_just_now(tracker: Tracker) -> bool:
    """Whether this message was an unreadable answer (``failed_try`` in this turn): the validation
    has already said what it needs, so the form's question need not follow it word for word."""
    for event in reversed(list(tracker.events)):
        if event.get("event") == "user":
            return False
        if event.get("event") == "slot" and event.get("name") == FAILURES_SLOT and event.get("value"):
            return True
    return False


def settled(slot: str, value: Any) -> dict[str, Any]:
    return {slot: value, FAILURES_SLOT: None, RESUME_SLOT: None}


RESET_FORM_STATE = [SlotSet(FAILURES_SLOT, None), SlotSet(RESUME_SLOT, None)]
