"""Asking for and recording feedback in conversation: CSAT, NPS, open-ended feedback,
follow-ups for detractors and the programme invitation for promoters.

The flow (each step a form or an action; the next step is chosen here, in code, and
started with ``FollowupAction`` because it depends on the answer and on the store):

    thanks / goodbye after a resolved request ─► action_wrap_up ─► csat_form (once per conversation)
    EXTERNAL_csat_followup (after a handoff closed) ─► action_deliver_outreach ─► csat_form
    csat_form ─► action_submit_csat ─┬─ 1–2 ─► follow_up_offer_form ─► action_submit_follow_up_offer ─► feedback_form
                                      ├─ 3   ─► feedback_form ("what could we do better?")
                                      └─ 4–5 ─► nps_form, if due (verified, none in 90 days)
    nps_form ─► action_submit_nps ─┬─ 0–6  ─► follow_up_offer_form ─► … ─► feedback_form
                                    ├─ 7–8  ─► feedback_form ("what would make this better for you?")
                                    └─ 9–10 ─► programme_form ─► action_submit_programme_invite
    give_feedback ("I have a suggestion", "your app keeps logging me out") ─► feedback_form
    feedback_form ─► action_submit_feedback

Every question can be skipped ("skip", "not now", the Skip button) and a skip is
recorded (so NPS is not asked again within the window). A customer who asks something
else instead of answering gets that answered: the form rejects the turn and the
ordinary rules take it.

This module asks (when, and the forms' validation); ``actions.feedback_submit``
records the answers and chooses the next step.
"""

from __future__ import annotations

import abc
import datetime as dt
import logging
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction
from actions.context import ActionContext
from actions.form_flow import DIGRESSION_INTENTS
from supportbot.feedback import answers
from supportbot.feedback.ratings import is_skip, parse_csat, parse_nps
from supportbot.form_replies import is_leave
from supportbot.store.models import Consent

logger = logging.getLogger(__name__)

SKIPPED = "skipped"
MAX_UNCLEAR_ANSWERS = 2
"""After this many answers that are neither a rating nor a skip, the question is dropped."""

RESOLVING_ACTIONS = frozenset(
    {
        "action_show_plan",
        "action_show_renewal",
        "action_plan_options",
        "action_answer_question",
        "action_recent_orders",
        "action_order_status",
        "action_loyalty",
        "action_opt_out",
        "action_opt_in",
        "action_report_problem",
        "action_answer_help",
    }
)
"""Actions that answer or settle a customer's request: after one of them, a thank-you or
goodbye is a natural moment to ask how it went. Asking to confirm a change settles nothing
yet (the answer to the question does: ``action_answer_question``). A handoff is not among them:
the CSAT question for a person's help comes after the handoff is closed (the csat_followup
campaign)."""

TASK_INTENTS = DIGRESSION_INTENTS - {"thanks", "out_of_scope", "give_feedback"}
"""A message with one of these intents, confidently recognised, is a new request, not an
answer to a feedback question: the form lets it go and the request is answered (the same
list as every other form's, ``actions.form_flow``, less what can be feedback itself)."""
RATING_INTERRUPT_CONFIDENCE = 0.6
TEXT_INTERRUPT_CONFIDENCE = 0.85
"""Higher for open feedback: "the app crashes when I look at my orders" is feedback."""

FEEDBACK_QUESTIONS = {
    "better": "utter_ask_feedback_better",
    "better_for_you": "utter_ask_feedback_better_for_you",
    "details": "utter_ask_feedback_details",
    "volunteered": "utter_ask_feedback_volunteered",
}
RESET_FEEDBACK_TEXT = [
    SlotSet("feedback_text", None),
    SlotSet("feedback_vague_asked", None),
    SlotSet("feedback_held", None),
    SlotSet("feedback_question", None),
]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _latest_intent(tracker: Tracker) -> tuple[str, float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return str(intent.get("name") or ""), float(intent.get("confidence") or 0.0)


def _latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def is_new_request(tracker: Tracker, *, threshold: float) -> bool:
    name, confidence = _latest_intent(tracker)
    return name in TASK_INTENTS and confidence >= threshold


def resolved_something(tracker: Tracker) -> bool:
    """Whether a request was settled in this conversation session."""
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            return False
        if event.get("event") == "action" and event.get("name") in RESOLVING_ACTIONS:
            return True
    return False


def asked_in_this_session(tracker: Tracker, form: str) -> bool:
    """Whether ``form`` already ran in this conversation session: a rating is asked once per conversation."""
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            return False
        if event.get("event") == "active_loop" and event.get("name") == form:
            return True
    return False


def feedback_consent(session: Session, customer_id: str | None) -> bool:
    """Verified customers who opted out of feedback requests are not asked; visitors are asked."""
    if customer_id is None:
        return True
    consent = session.get(Consent, (customer_id, "feedback"))
    return consent is None or consent.granted


def channel_of(ctx: ActionContext) -> str:
    return ctx.conversation.channel or "unknown"


class ActionWrapUp(StoreAction):
    """Thanks or goodbye: answer it, and ask for a CSAT rating when this is the moment."""

    requires_customer = False

    def name(self) -> str:
        return "action_wrap_up"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        intent, _ = _latest_intent(tracker)
        ending = intent == "goodbye"
        due = (
            not tracker.active_loop.get("name")  # another form is asking something: don't start one
            and resolved_something(tracker)
            and not asked_in_this_session(tracker, "csat_form")
            and feedback_consent(session, ctx.customer_id)
        )
        if not due:
            dispatcher.utter_message(response="utter_goodbye" if ending else "utter_welcome")
            return []
        dispatcher.utter_message(response="utter_wrap_up_goodbye" if ending else "utter_wrap_up_thanks")
        return [
            SlotSet("feedback_prompt", "conversation_end" if ending else "resolution"),
            SlotSet("csat_score", None),
            FollowupAction("csat_form"),
        ]


class _RatingFormValidation(FormValidationAction):
    """Ratings typed or tapped; anything unclear is asked again once, then dropped."""

    slot: ClassVar[str] = ""
    not_understood: ClassVar[str] = ""

    @abc.abstractmethod
    def name(self) -> str:
        """Abstract, so rasa-sdk does not register this shared base."""

    @abc.abstractmethod
    def parse(self, text: str) -> int | None:
        """The rating in ``text``, or None."""

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        return domain_slots

    def _extract(self, tracker: Tracker) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != self.slot:
            return {}  # the message that started the form is not an answer to it
        text = _latest_text(tracker)
        if (
            self.parse(text) is None
            and not is_skip(text)
            and not is_leave(text)  # "stop" leaves the question, whatever the classifier reads
            and is_new_request(tracker, threshold=RATING_INTERRUPT_CONFIDENCE)
        ):
            return {}
        return {self.slot: text}

    def _validate(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        if value is None:
            # Not an answer: the slot was cleared before the form started (rasa-sdk
            # validates every slot set since the customer's last message).
            return {self.slot: None}
        text = str(value)
        if text == SKIPPED:
            return {self.slot: SKIPPED}
        rating = self.parse(text)
        if rating is not None:
            return {self.slot: str(rating), "feedback_unclear": None}
        intent, _ = _latest_intent(tracker)
        if is_skip(text) or is_leave(text) or intent == "nevermind":
            return {self.slot: SKIPPED, "feedback_unclear": None}
        unclear = int(tracker.get_slot("feedback_unclear") or 0) + 1
        if unclear >= MAX_UNCLEAR_ANSWERS:
            dispatcher.utter_message(response="utter_feedback_skip_unclear")
            return {self.slot: SKIPPED, "feedback_unclear": None}
        dispatcher.utter_message(response=self.not_understood)
        return {self.slot: None, "feedback_unclear": float(unclear)}


class ValidateCsatForm(_RatingFormValidation):
    slot = "csat_score"
    not_understood = "utter_csat_not_understood"

    def name(self) -> str:
        return "validate_csat_form"

    def parse(self, text: str) -> int | None:
        return parse_csat(text)

    def extract_csat_score(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._extract(tracker)

    def validate_csat_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._validate(value, dispatcher, tracker)


class ValidateNpsForm(_RatingFormValidation):
    slot = "nps_score"
    not_understood = "utter_nps_not_understood"

    def name(self) -> str:
        return "validate_nps_form"

    def parse(self, text: str) -> int | None:
        return parse_nps(text)

    def extract_nps_score(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._extract(tracker)

    def validate_nps_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._validate(value, dispatcher, tracker)


class ValidateFeedbackForm(FormValidationAction):
    """Open feedback: the volunteering message itself when it says something, else the answer;
    one follow-up question when the answer is too thin to act on."""

    def name(self) -> str:
        return "validate_feedback_form"

    def extract_feedback_text(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        requested = tracker.get_slot("requested_slot")
        intent, _ = _latest_intent(tracker)
        if requested is None:
            # Activation: "your app keeps logging me out" is the feedback already;
            # "I have a suggestion" is not (validation asks for it).
            return {"feedback_text": _latest_text(tracker)} if intent == "give_feedback" else {}
        if requested != "feedback_text":
            return {}
        if not is_leave(_latest_text(tracker)) and is_new_request(tracker, threshold=TEXT_INTERRUPT_CONFIDENCE):
            return {}
        return {"feedback_text": _latest_text(tracker)}

    def validate_feedback_text(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"feedback_text": None}  # cleared before the form started: not an answer
        text = str(value).strip()
        if text == SKIPPED:
            return {"feedback_text": SKIPPED}
        intent, _ = _latest_intent(tracker)
        if tracker.get_slot("requested_slot") is None:  # the message that started the form
            if intent != "give_feedback":
                return {"feedback_text": None}
            said = answers.content(text)
            if not said or answers.is_vague(said):
                return {"feedback_text": None, "feedback_question": "volunteered"}
            return {"feedback_text": said}
        if intent == "nevermind" or is_skip(text) or is_leave(text) or answers.declines(text):
            return {"feedback_text": SKIPPED}
        said = answers.content(text) or text
        held = str(tracker.get_slot("feedback_held") or "")
        if tracker.get_slot("feedback_vague_asked"):
            return {"feedback_text": f"{held} {said}".strip() if held else said}
        if answers.is_vague(said):
            return {"feedback_text": None, "feedback_vague_asked": True, "feedback_held": said}
        return {"feedback_text": said}


class ActionAskFeedbackText(Action):
    """The open question, worded for why it is asked; a tell-me-more after a thin answer."""

    def name(self) -> str:
        return "action_ask_feedback_text"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        if tracker.get_slot("feedback_vague_asked"):
            dispatcher.utter_message(response="utter_ask_feedback_more")
        else:
            question = str(tracker.get_slot("feedback_question") or "better")
            dispatcher.utter_message(response=FEEDBACK_QUESTIONS.get(question, FEEDBACK_QUESTIONS["better"]))
        return []
