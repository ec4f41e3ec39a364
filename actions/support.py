"""Handing over to a person, and problem reports."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction
from actions.context import ActionContext
from supportbot.services.support import report_problem, request_handoff
from supportbot.store.repo import get_profile


class ActionHandoff(StoreAction):
    """Records an open handoff the console lists, and marks the conversation for a person."""

    requires_customer = False

    def name(self) -> str:
        return "action_handoff"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        request_handoff(
            session=session,
            customer_id=ctx.customer_id,
            conversation=ctx.conversation,
            reason=ctx.latest_text or "customer asked for a person",
        )
        profile = get_profile(session=session, customer_id=ctx.customer_id) if ctx.customer_id else None
        if profile is not None:
            dispatcher.utter_message(response="utter_handoff_customer", name=profile.first_name)
        else:
            dispatcher.utter_message(response="utter_handoff_anonymous")
        return [SlotSet("handoff_requested", True)]


class ActionReportProblem(StoreAction):
    requires_customer = False

    def name(self) -> str:
        return "action_report_problem"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        description = str(tracker.get_slot("problem_description") or ctx.latest_text)
        ticket = report_problem(
            session=session, customer_id=ctx.customer_id, conversation=ctx.conversation, description=description
        )
        dispatcher.utter_message(response="utter_problem_recorded", ticket=f"P-{ticket:05d}")
        return [SlotSet("problem_description", None)]
