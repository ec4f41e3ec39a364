"""Recording feedback answers and choosing the next step: CSAT and NPS by segment, the
detractor's follow-up, the promoter's programme invitation, open-ended feedback.

The asking side (when to ask, the forms' validation) and the whole flow are in
``actions.feedback``.
"""

from __future__ import annotations

import abc
import logging
from typing import Any, ClassVar

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import runtime
from actions.base import Events, StoreAction
from actions.context import ActionContext
from actions.feedback import RESET_FEEDBACK_TEXT, SKIPPED, channel_of, utc_now
from actions.follow_up_offer import feedback_given
from supportbot.feedback.redaction import default_redactor
from supportbot.feedback.store import (
    RatingKind,
    RatingRecorded,
    nps_due,
    open_follow_up,
    record_promoter_invitation,
    record_rating,
    record_skip,
    record_text,
)

logger = logging.getLogger(__name__)


def _rating_from_slot(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _feedback_id(tracker: Tracker) -> int | None:
    """``last_feedback_id`` is a float slot (Rasa has no integer slot type)."""
    value = tracker.get_slot("last_feedback_id")
    return int(value) if isinstance(value, (int, float)) else None


class _SubmitRating(StoreAction):
    """Record a rating (or its skip) and choose the next step from its segment."""

    requires_customer = False
    kind: ClassVar[RatingKind]
    slot: ClassVar[str] = ""

    @abc.abstractmethod
    def name(self) -> str:
        """Abstract, so rasa-sdk does not register this shared base."""

    def prompt(self, tracker: Tracker) -> str:
        return str(tracker.get_slot("feedback_prompt") or "resolution")

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        rating = _rating_from_slot(tracker.get_slot(self.slot))
        conversation_id, channel, prompted_by = ctx.conversation.conversation_id, channel_of(ctx), self.prompt(tracker)
        reset: Events = [SlotSet(self.slot, None), SlotSet("feedback_unclear", None)]
        if rating is None:
            record_skip(
                session=session,
                conversation_id=conversation_id,
                channel=channel,
                kind=self.kind,
                prompted_by=prompted_by,
                customer_id=ctx.customer_id,
            )
            dispatcher.utter_message(response="utter_feedback_skipped")
            return reset
        recorded = record_rating(
            session=session,
            conversation_id=conversation_id,
            channel=channel,
            kind=self.kind,
            rating=rating,
            prompted_by=prompted_by,
            customer_id=ctx.customer_id,
        )
        return [
            *reset,
            SlotSet("last_feedback_id", float(recorded.feedback_id)),
            *self.next_step(session=session, ctx=ctx, dispatcher=dispatcher, recorded=recorded),
        ]

    @abc.abstractmethod
    def next_step(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, recorded: RatingRecorded
    ) -> Events:
        """What follows a recorded rating of this segment."""

    def failure_events(self, tracker: Tracker) -> Events:
        return [SlotSet(self.slot, None), SlotSet("feedback_unclear", None)]


def offer_follow_up(ctx: ActionContext, dispatcher: CollectingDispatcher, *, sorry: str) -> Events:
    """A detractor: a person offers to follow up (verified customers: we can reach them)."""
    dispatcher.utter_message(response=sorry)
    if ctx.customer_id is None:
        return ask_open_question("better")
    return [SlotSet("wants_follow_up", None), FollowupAction("follow_up_offer_form")]


def ask_open_question(question: str) -> Events:
    return [*RESET_FEEDBACK_TEXT[:-1], SlotSet("feedback_question", question), FollowupAction("feedback_form")]


class ActionSubmitCsat(_SubmitRating):
    kind = "csat"
    slot = "csat_score"

    def name(self) -> str:
        return "action_submit_csat"

    def next_step(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, recorded: RatingRecorded
    ) -> Events:
        if recorded.segment == "detractor":
            return offer_follow_up(ctx, dispatcher, sorry="utter_csat_detractor")
        if recorded.segment == "passive":
            dispatcher.utter_message(response="utter_csat_passive")
            return ask_open_question("better")
        dispatcher.utter_message(response="utter_csat_promoter")
        if ctx.customer_id is not None and nps_due(
            session=session,
            customer_id=ctx.customer_id,
            now=utc_now(),
            every_days=runtime.settings().feedback_nps_every_days,
        ):
            return [SlotSet("nps_score", None), FollowupAction("nps_form")]
        return []


class ActionSubmitNps(_SubmitRating):
    kind = "nps"
    slot = "nps_score"

    def name(self) -> str:
        return "action_submit_nps"

    def prompt(self, tracker: Tracker) -> str:
        return "nps_survey"

    def next_step(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, recorded: RatingRecorded
    ) -> Events:
        prompt = [SlotSet("feedback_prompt", "nps_survey")]
        if recorded.segment == "detractor":
            return prompt + offer_follow_up(ctx, dispatcher, sorry="utter_nps_detractor")
        if recorded.segment == "passive":
            dispatcher.utter_message(response="utter_nps_passive")
            return prompt + ask_open_question("better_for_you")
        dispatcher.utter_message(response="utter_nps_promoter")
        return [SlotSet("joins_programme", None), FollowupAction("programme_form")]


class ActionSubmitFollowUpOffer(StoreAction):
    requires_customer = False

    def name(self) -> str:
        return "action_submit_follow_up_offer"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        wants = tracker.get_slot("wants_follow_up")
        feedback_id = _feedback_id(tracker)
        question = "better"
        if wants and feedback_id is not None and ctx.customer_id is not None:
            open_follow_up(session=session, feedback_id=feedback_id, reason="detractor asked for a follow-up")
            dispatcher.utter_message(response="utter_follow_up_promised")
            question = "details"
        else:
            dispatcher.utter_message(response="utter_follow_up_declined")
        if held := feedback_given(tracker):
            # The complaint came with (or instead of) the yes/no (actions.follow_up_offer): it is
            # the open answer already, recorded now rather than asked for again.
            prompted_by = str(tracker.get_slot("feedback_prompt") or "resolution")
            recorded = record_feedback_text(session, ctx, dispatcher, text=str(held), prompted_by=prompted_by)
            return [SlotSet("wants_follow_up", None), *recorded]
        return [SlotSet("wants_follow_up", None), *ask_open_question(question)]


class ActionSubmitProgrammeInvite(StoreAction):
    anonymous_response = "utter_feedback_thanks"

    def name(self) -> str:
        return "action_submit_programme_invite"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        joins = bool(tracker.get_slot("joins_programme"))
        if ctx.customer_id is not None:
            record_promoter_invitation(
                session=session,
                customer_id=ctx.customer_id,
                accepted=joins,
                feedback_id=_feedback_id(tracker),
            )
        dispatcher.utter_message(response="utter_programme_joined" if joins else "utter_programme_declined")
        return [SlotSet("joins_programme", None)]


def record_feedback_text(
    session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, *, text: str, prompted_by: str
) -> Events:
    """Store the open feedback, redacted, and thank the customer."""
    record_text(
        session=session,
        conversation_id=ctx.conversation.conversation_id,
        channel=channel_of(ctx),
        text=text,
        prompted_by=prompted_by,
        redactor=default_redactor(),
        customer_id=ctx.customer_id,
    )
    dispatcher.utter_message(response="utter_feedback_thanks")
    return RESET_FEEDBACK_TEXT


class ActionSubmitFeedback(StoreAction):
    """Store the open feedback, redacted, with what prompted it."""

    requires_customer = False

    def name(self) -> str:
        return "action_submit_feedback"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        text = str(tracker.get_slot("feedback_text") or "")
        if not text or text == SKIPPED:
            dispatcher.utter_message(response="utter_feedback_skipped")
            return RESET_FEEDBACK_TEXT
        question = tracker.get_slot("feedback_question")
        if tracker.get_slot("feedback_vague_asked"):
            prompted_by = "vague_follow_up"
        elif question in (None, "volunteered"):
            prompted_by = "volunteered"
        else:
            prompted_by = str(tracker.get_slot("feedback_prompt") or "resolution")
        return record_feedback_text(session, ctx, dispatcher, text=text, prompted_by=prompted_by)

    def failure_events(self, tracker: Tracker) -> Events:
        return RESET_FEEDBACK_TEXT
