"""Upgrade and downgrade options, and changing plan."""

from __future__ import annotations

import json

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction, customer_id_of
from actions.context import ActionContext
from supportbot.formatting import join_words, long_date, money
from supportbot.services.account import PlanOption, change_plan, plan_options
from supportbot.store.repo import SubscriptionView


def price_per_period(sub: SubscriptionView) -> str:
    """``$24.00/month`` or ``$240.00/year``."""
    return f"{money(sub.price_cents, sub.currency)}/{sub.billing_period.removesuffix('ly')}"


def describe_option(option: PlanOption) -> str:
    change = []
    if option.gains:
        change.append(f"adds {join_words(option.gains)}")
    if option.losses:
        change.append(f"drops {join_words(option.losses)}")
    detail = f" ({'; '.join(change)})" if change else ""
    return f"• {option.plan.name}: {option.price}/month, {option.direction}{detail}"


def plan_button(option: PlanOption) -> dict[str, str]:
    verb = "Upgrade" if option.direction == "upgrade" else "Switch"
    return {
        "title": f"{verb} to {option.plan.name}",
        "payload": "/change_plan" + json.dumps({"plan": option.plan.code}),
    }


class ActionPlanOptions(StoreAction):
    anonymous_response = "utter_anon_plan_options"

    def name(self) -> str:
        return "action_plan_options"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        current, options = plan_options(session=session, customer_id=customer_id_of(ctx))
        dispatcher.utter_message(
            response="utter_plan_options",
            current=f"{current.plan.name} ({price_per_period(current)})" if current else "no plan yet",
            options="\n".join(describe_option(o) for o in options),
            buttons=[plan_button(o) for o in options],
        )
        return []


class ActionChangePlan(StoreAction):
    anonymous_response = "utter_anon_plan_options"

    def name(self) -> str:
        return "action_change_plan"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        wanted = tracker.get_slot("plan")
        if not wanted:
            return ActionPlanOptions().perform(session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker)
        sub = change_plan(
            session=session,
            customer_id=customer_id_of(ctx),
            plan_code=str(wanted).lower(),
            conversation=ctx.conversation,
        )
        dispatcher.utter_message(
            response="utter_plan_changed",
            plan=sub.plan.name,
            price=money(sub.price_cents, sub.currency),
            period=sub.billing_period.removesuffix("ly"),
            date=long_date(sub.renews_on) if sub.renews_on else "your next renewal",
        )
        return [SlotSet("plan", None), SlotSet("cancel_stage", None)]

    def failure_events(self, tracker: Tracker) -> Events:
        return [SlotSet("plan", None), SlotSet("cancel_stage", None)]

    def anonymous_events(self, tracker: Tracker) -> Events:
        return [SlotSet("plan", None)]
