"""Handing over to a person, waiting for one, and problem reports.

Waiting for a person is a state of the conversation: the open ``handoff`` row in the store
(``supportbot.services.support.open_handoff``), mirrored in the ``handoff_requested`` slot so
rules can answer a greeting or "hello? anyone there?" as part of the wait instead of starting
over. The agent inbox (issue 17, ``supportbot.console``) lists the row; an agent who claims it
pauses the bot in Rasa (``ConversationPaused``), so while a person has the conversation no rule
here runs at all, and handing back or closing resumes it and clears the slot. A greeting after a
close finds the row closed and greets as usual. The customer hears their place in the queue and
the typical wait (``supportbot.services.handoff.expected_wait``), and outside support hours when a
person is back and the offer of an answer by email.

A problem report takes a description only when it is one ("the app crashes when I open a
note" is; "something is broken" and "wait, what plan am I on?" are not): a question asked
instead is answered, and the report is still there to finish (``actions.form_flow``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import runtime
from actions.base import Events, StoreAction
from actions.context import ActionContext
from actions.form_flow import (
    DIGRESSION_INTENTS,
    DROPPED,
    RESET_FORM_STATE,
    RESUME_SLOT,
    is_question,
    read_reply,
    resuming,
    settled,
)
from actions.help_quotes import QuotesHelpCentre
from actions.helpcentre import ActionAnswerHelp
from actions.profile import ActionGreet
from actions.questions import Question, ask, latest_intent, latest_text
from actions.report_detail import add_detail, ask_about_report, report_just_filed
from actions.wording import render
from supportbot.form_replies import problem_description
from supportbot.services.handoff import ask_email_follow_up, describe_wait, expected_wait, withdraw
from supportbot.services.support import open_handoff, report_problem, request_handoff
from supportbot.services.support_hours import SupportHours, describe_opening, is_open, next_opening
from supportbot.store.models import utcnow
from supportbot.store.repo import Profile, get_profile

WAITING_SLOT = "handoff_requested"
FORM = "problem_form"
RESUMED = "__resumed__"
NOT_A_DESCRIPTION = DIGRESSION_INTENTS - {"report_problem", "give_feedback"}
"""A message with one of these intents is a new request, not the description asked for."""


class ActionHandoff(StoreAction):
    """Records an open handoff the console lists, and marks the conversation as waiting."""

    requires_customer = False

    def name(self) -> str:
        return "action_handoff"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        return hand_over(session, ctx, dispatcher, reason=ctx.latest_text or "customer asked for a person")


def hand_over(session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, *, reason: str) -> Events:
    """Open a handoff (one per conversation) and tell the customer what happens next.

    Within support hours the customer hears their place in the queue and the typical wait;
    outside them, when a person is back (in the team's time zone) and, if we have their email,
    the offer of an answer by email instead of a promise of a reply "here".
    """
    conversation_id = ctx.conversation.conversation_id
    already = open_handoff(session=session, conversation_id=conversation_id)
    if already is not None:
        wait = describe_wait(expected_wait(session=session, conversation_id=conversation_id))
        dispatcher.utter_message(response="utter_handoff_already_waiting", wait=wait)
        return [SlotSet(WAITING_SLOT, True)]
    request_handoff(session=session, customer_id=ctx.customer_id, conversation=ctx.conversation, reason=reason)
    profile = get_profile(session=session, customer_id=ctx.customer_id) if ctx.customer_id else None
    settings = runtime.settings()
    hours, now = settings.hours(), utcnow()
    if not is_open(hours, now):
        return [SlotSet(WAITING_SLOT, True), *_outside_hours(ctx, dispatcher, profile, hours, now)]
    wait = describe_wait(expected_wait(session=session, conversation_id=conversation_id))
    if profile is not None:
        dispatcher.utter_message(response="utter_handoff_customer", name=profile.first_name, wait=wait)
    else:
        dispatcher.utter_message(response="utter_handoff_anonymous", wait=wait, email=settings.support_email)
    return [SlotSet(WAITING_SLOT, True)]


def _outside_hours(
    ctx: ActionContext, dispatcher: CollectingDispatcher, profile: Profile | None, hours: SupportHours, now: dt.datetime
) -> Events:
    opening = next_opening(hours, now)
    back = describe_opening(opening, now) if opening else "as soon as they can"
    if profile is None or not profile.email:
        dispatcher.utter_message(
            response="utter_handoff_outside_hours_anonymous", back=back, email=runtime.settings().support_email
        )
        return []
    rendered = render(ctx.responses, "utter_handoff_outside_hours", back=back, email=mask_email(profile.email))
    return ask(dispatcher, text=rendered.text, buttons=rendered.buttons, question=Question("email_follow_up"))


def mask_email(email: str) -> str:
    """Enough of the address to recognise it (``m…@example.com``), not enough to read it off a screen."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}…@{domain}" if domain else "your email address"


def answer_email_follow_up(session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, yes: bool) -> Events:
    """The answer to "shall we email you instead?" (``actions.answers``)."""
    if yes and ask_email_follow_up(session=session, conversation_id=ctx.conversation.conversation_id):
        dispatcher.utter_message(response="utter_handoff_email_follow_up")
    else:
        dispatcher.utter_message(response="utter_handoff_wait_here")
    return []


class ActionHandoffWaiting(StoreAction):
    """A greeting or "anyone there?" while waiting for a person: say so, don't start over."""

    requires_customer = False

    def name(self) -> str:
        return "action_handoff_waiting"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        if open_handoff(session=session, conversation_id=ctx.conversation.conversation_id) is None:
            # A person has closed it meanwhile: an ordinary conversation again.
            events = ActionGreet().perform(session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker)
            return [SlotSet(WAITING_SLOT, None), *events]
        wait = describe_wait(expected_wait(session=session, conversation_id=ctx.conversation.conversation_id))
        dispatcher.utter_message(response="utter_handoff_still_waiting", wait=wait)
        return []


class ActionHandoffWithdraw(StoreAction):
    """ "Never mind" while waiting for a person: the request is in the queue, so it is not left as it
    was by saying so; the customer is asked whether to take it back (``answer_withdraw_handoff``)."""

    requires_customer = False

    def name(self) -> str:
        return "action_handoff_withdraw"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        if open_handoff(session=session, conversation_id=ctx.conversation.conversation_id) is None:
            dispatcher.utter_message(response="utter_ok_nevermind")
            return [SlotSet(WAITING_SLOT, None)]
        rendered = render(ctx.responses, "utter_ask_withdraw_handoff")
        return ask(dispatcher, text=rendered.text, buttons=rendered.buttons, question=Question("withdraw_handoff"))


def answer_withdraw_handoff(
    session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, yes: bool
) -> Events:
    """The answer to "shall I take back your request for a person?" (``actions.answers``)."""
    conversation_id = ctx.conversation.conversation_id
    if yes and withdraw(session=session, conversation_id=conversation_id):
        dispatcher.utter_message(response="utter_handoff_withdrawn")
        return [SlotSet(WAITING_SLOT, None)]
    if open_handoff(session=session, conversation_id=conversation_id) is None:  # a person has it, or it closed
        dispatcher.utter_message(response="utter_handoff_not_waiting_any_more")
        return [SlotSet(WAITING_SLOT, None)]
    wait = describe_wait(expected_wait(session=session, conversation_id=conversation_id))
    dispatcher.utter_message(response="utter_handoff_kept", wait=wait)
    return []


class ValidateProblemForm(FormValidationAction):
    def name(self) -> str:
        return "validate_problem_form"

    def extract_problem_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = latest_text(tracker)
        intent, _ = latest_intent(tracker)
        requested = tracker.get_slot("requested_slot")
        if requested is None:
            # The message that started the report: it is the description if it says what is wrong.
            said = problem_description(text) if intent == "report_problem" else None
            return {"problem_description": said} if said else {}
        if requested != "problem_description":
            return {}
        reply = read_reply(tracker, is_value=False, digressions=NOT_A_DESCRIPTION, questions_digress=False)
        if reply == "leave":
            return {"problem_description": DROPPED}
        if reply == "resume":
            return {"problem_description": RESUMED}
        if reply == "digression":
            return {}
        return {"problem_description": text.strip()}

    def validate_problem_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # rasa-sdk keeps only the form's own slots from an extract method: the form state is set here.
        if value == RESUMED:
            return {"problem_description": None, RESUME_SLOT: None}
        return settled("problem_description", value)


class ActionAskProblemDescription(Action):
    def name(self) -> str:
        return "action_ask_problem_description"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        if resuming(tracker, FORM):
            rendered = render(dict(domain.get("responses") or {}), "utter_resume_problem_report")
            dispatcher.utter_message(text=rendered.text, buttons=rendered.buttons)
            return [SlotSet(RESUME_SLOT, True)]
        dispatcher.utter_message(response="utter_ask_problem_description")
        return [SlotSet(RESUME_SLOT, None)]


class ActionReportProblem(QuotesHelpCentre, StoreAction):
    """The form is done: file the report and offer a person, or say nothing was filed.

    A troubleshooting article that fits the description is quoted first (``actions.help_quotes``),
    whatever the wording: "my pen won't pair" is filed *and* gets the pairing article."""

    requires_customer = False
    help_quote_when = "always"

    def help_query(self, ctx: ActionContext, tracker: Tracker) -> str:
        description = str(tracker.get_slot("problem_description") or "")
        return "" if description == DROPPED else description

    def name(self) -> str:
        return "action_report_problem"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        description = str(tracker.get_slot("problem_description") or "")
        reset: Events = [SlotSet("problem_description", None), *RESET_FORM_STATE]
        if not description or description == DROPPED:
            dispatcher.utter_message(response="utter_problem_not_filed")
            if latest_intent(tracker)[0] == "goodbye":
                dispatcher.utter_message(response="utter_goodbye")
            return reset
        if is_question(description) and report_just_filed(tracker) is not None:
            # "how do I fix it?" right after filing asks about the report: answered, not added to it
            answered = ActionAnswerHelp().perform(session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker)
            return [*reset, *answered]
        # "it's cracked down the side" right after filing is more detail, not a second report.
        if (added := add_detail(session, ctx, dispatcher, tracker, description)) is not None:
            return [*reset, *added]
        ticket = report_problem(
            session=session, customer_id=ctx.customer_id, conversation=ctx.conversation, description=description
        )
        return [*reset, *ask_about_report(ctx, dispatcher, ticket=ticket, response="utter_problem_recorded")]

    def failure_events(self, tracker: Tracker) -> Events:
        return [SlotSet("problem_description", None), *RESET_FORM_STATE]
