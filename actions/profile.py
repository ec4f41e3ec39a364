"""Greeting by name, plan and renewal questions, renewing now."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction, customer_id_of
from actions.changes import ask_to_confirm
from actions.context import ActionContext
from actions.help_quotes import QuotesHelpCentre
from actions.helpcentre import ActionAnswerHelp
from actions.questions import latest_intent, latest_text
from supportbot.formatting import long_date, money, relative_days, short_date
from supportbot.services.account import renewal_terms
from supportbot.services.changes import jsonable
from supportbot.store.repo import Profile, get_profile


def greeting_context(profile: Profile, today: dt.date) -> str:
    """One personal sentence: a renewal that is close, else the latest purchase, else tenure."""
    sub = profile.subscription
    if sub and sub.status != "cancelled" and sub.renews_on and 0 <= (sub.renews_on - today).days <= 7:
        return f"Heads-up: your {sub.plan.name} plan renews {relative_days(sub.renews_on, today)}."
    order = profile.last_order
    if order and order.items and (today - order.placed_at.date()).days <= 90:
        return f"I hope you're enjoying your {order.items[0]} from {short_date(order.placed_at.date())}."
    years = (today - profile.customer_since).days // 365
    if years >= 1:
        return f"Thanks for being with us for {years} year{'s' if years != 1 else ''}."
    return "Welcome aboard!"


SURE_GREETING = 0.6
"""Below this the classifier's "greet" is believed only when the message has a greeting word."""
_HELLO = re.compile(
    r"\b(?:h+i+|hello+|helo|hey+|hiya|heya|yo|sup|howdy|greetings|morning|afternoon|evening|g'?day|hallo|hola|"
    r"bonjour|anyone there|still there)\b",
    re.IGNORECASE,
)


def says_hello(text: str) -> bool:
    """ "hi", "good morning", "hello is anyone there": a greeting word in the message."""
    return _HELLO.search(text) is not None


def greeted_before(tracker: Tracker) -> bool:
    """Whether the customer already said something earlier in this session."""
    said = 0
    for event in reversed(list(tracker.events)):
        if event.get("event") == "session_started":
            break
        if event.get("event") == "user":
            said += 1
    return said > 1


class ActionGreet(StoreAction):
    requires_customer = False

    def name(self) -> str:
        return "action_greet"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        intent, confidence = latest_intent(tracker)
        if intent == "greet" and confidence < SURE_GREETING and not says_hello(latest_text(tracker)):
            # "meh", or a question the classifier could not place, read as a greeting only for want
            # of anything better: what the classifier could not place gets (the help centre first)
            return ActionAnswerHelp().answer(
                session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker, intent="nlu_fallback"
            )
        profile = get_profile(session=session, customer_id=ctx.customer_id) if ctx.customer_id else None
        if greeted_before(tracker):
            # "hi" again in the middle of a conversation: not the opening welcome a second time
            name = f", {profile.first_name}" if profile is not None else ""
            dispatcher.utter_message(response="utter_greet_again", name=name)
        elif profile is None:
            dispatcher.utter_message(response="utter_greet")
        else:
            dispatcher.utter_message(
                response="utter_greet_customer",
                name=profile.first_name,
                context_line=greeting_context(profile, ctx.today),
            )
        return []


def _plan_facts(profile: Profile, today: dt.date) -> dict[str, Any]:
    sub = profile.subscription
    assert sub is not None
    return {
        "name": profile.first_name,
        "plan": sub.plan.name,
        "status": sub.status.replace("_", " "),
        "period": sub.billing_period,
        "price": money(sub.price_on(sub.renews_on or today), sub.currency),
        "date": long_date(sub.renews_on) if sub.renews_on else "no date set",
        "when": relative_days(sub.renews_on, today) if sub.renews_on else "",
        "since": short_date(sub.started_on),
    }


class ActionShowPlan(QuotesHelpCentre, StoreAction):
    anonymous_response = "utter_anon_plan"

    def name(self) -> str:
        return "action_show_plan"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        profile = get_profile(session=session, customer_id=customer_id_of(ctx))
        if profile is None or profile.subscription is None:
            dispatcher.utter_message(response="utter_no_subscription")
            return []
        facts = _plan_facts(profile, ctx.today)
        sub = profile.subscription
        if sub.status == "cancelled":
            dispatcher.utter_message(response="utter_plan_cancelled", **facts)
        elif sub.status == "past_due":
            dispatcher.utter_message(response="utter_plan_past_due", **facts)
        else:
            dispatcher.utter_message(response="utter_plan_status", **facts)
        return []


class ActionShowRenewal(QuotesHelpCentre, StoreAction):
    anonymous_response = "utter_anon_renewal"

    def name(self) -> str:
        return "action_show_renewal"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        profile = get_profile(session=session, customer_id=customer_id_of(ctx))
        sub = profile.subscription if profile else None
        if profile is None or sub is None:
            dispatcher.utter_message(response="utter_no_subscription")
            return []
        facts = _plan_facts(profile, ctx.today)
        if sub.status == "cancelled":
            dispatcher.utter_message(response="utter_renewal_cancelled", **facts)
        elif not sub.auto_renew:
            dispatcher.utter_message(response="utter_renewal_manual", **facts)
        else:
            dispatcher.utter_message(response="utter_renewal_info", **facts)
        return []


class ActionRenewNow(QuotesHelpCentre, StoreAction):
    """ "Renew my plan now": the charge and the new renewal date, as a question; nothing is renewed yet."""

    anonymous_response = "utter_anon_renewal"

    def name(self) -> str:
        return "action_renew_now"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        terms = renewal_terms(session=session, customer_id=customer_id_of(ctx), today=ctx.today)
        return ask_to_confirm(
            session=session,
            ctx=ctx,
            dispatcher=dispatcher,
            kind="renew",
            parameters={"terms": jsonable(terms)},
            response="utter_confirm_restart" if terms.restart else "utter_confirm_renew",
            variables={
                "plan": terms.plan_name,
                "price": money(terms.price_cents, terms.currency),
                "before": long_date(terms.renews_on_before) if terms.renews_on_before else "today",
                "after": long_date(terms.renews_on_after),
            },
        )
