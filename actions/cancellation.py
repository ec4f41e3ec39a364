"""Cancelling: a personal retention offer first, then an explicit confirmation, then a real cancellation.

The ``cancel_stage`` slot (``offered`` → ``confirming``) tells the rules which
question the customer's "yes" or "no" answers.
"""

from __future__ import annotations

import json

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import runtime
from actions.base import Events, StoreAction, customer_id_of
from actions.context import ActionContext
from supportbot.formatting import long_date
from supportbot.services.account import accept_retention_offer, cancel_subscription, retention_offer
from supportbot.store.repo import get_profile

RESET = [SlotSet("cancel_stage", None)]


class ActionOfferRetention(StoreAction):
    anonymous_response = "utter_anon_cancel"

    def name(self) -> str:
        return "action_offer_retention"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        settings = runtime.settings()
        offer = retention_offer(
            session=session,
            customer_id=customer_id_of(ctx),
            today=ctx.today,
            discount_percent=settings.retention_discount_percent,
            months=settings.retention_discount_months,
        )
        profile = get_profile(session=session, customer_id=customer_id_of(ctx))
        assert profile is not None and profile.subscription is not None
        buttons = [{"title": f"Keep it with {offer.discount_percent}% off", "payload": "/affirm"}]
        alternative = ""
        if offer.cheaper_plan is not None:
            alternative = f" Or switch to {offer.cheaper_plan.name} at {offer.cheaper_price}/month."
            buttons.append(
                {
                    "title": f"Switch to {offer.cheaper_plan.name}",
                    "payload": "/change_plan" + json.dumps({"plan": offer.cheaper_plan.code}),
                }
            )
        buttons.append({"title": "No, cancel", "payload": "/deny"})
        dispatcher.utter_message(
            response="utter_retention_offer",
            name=profile.first_name,
            plan=profile.subscription.plan.name,
            reasons=f"{offer.reasons[0].upper()}{offer.reasons[1:]}. " if offer.reasons else "",
            discount=offer.discount_percent,
            months=offer.months,
            discounted_price=offer.discounted_price,
            regular_price=offer.regular_price,
            alternative=alternative,
            buttons=buttons,
        )
        return [SlotSet("cancel_stage", "offered")]

    def failure_events(self, tracker: Tracker) -> Events:
        return RESET


class ActionAcceptRetention(StoreAction):
    anonymous_response = "utter_anon_cancel"

    def name(self) -> str:
        return "action_accept_retention"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        settings = runtime.settings()
        sub = accept_retention_offer(
            session=session,
            customer_id=customer_id_of(ctx),
            today=ctx.today,
            discount_percent=settings.retention_discount_percent,
            months=settings.retention_discount_months,
            conversation=ctx.conversation,
        )
        dispatcher.utter_message(
            response="utter_retention_accepted",
            discount=sub.discount_percent,
            until=long_date(sub.discount_until) if sub.discount_until else "",
        )
        return RESET

    def failure_events(self, tracker: Tracker) -> Events:
        return RESET


class ActionConfirmCancel(StoreAction):
    anonymous_response = "utter_anon_cancel"

    def name(self) -> str:
        return "action_confirm_cancel"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        profile = get_profile(session=session, customer_id=customer_id_of(ctx))
        if profile is None or profile.subscription is None:
            dispatcher.utter_message(response="utter_no_subscription")
            return RESET
        sub = profile.subscription
        dispatcher.utter_message(
            response="utter_confirm_cancel",
            plan=sub.plan.name,
            date=long_date(sub.renews_on) if sub.renews_on else "the end of your billing period",
        )
        return [SlotSet("cancel_stage", "confirming")]

    def failure_events(self, tracker: Tracker) -> Events:
        return RESET


class ActionCancelSubscription(StoreAction):
    anonymous_response = "utter_anon_cancel"

    def name(self) -> str:
        return "action_cancel_subscription"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        sub = cancel_subscription(
            session=session,
            customer_id=customer_id_of(ctx),
            reason="requested in chat after declining the retention offer",
            conversation=ctx.conversation,
        )
        dispatcher.utter_message(
            response="utter_cancelled",
            plan=sub.plan.name,
            date=long_date(sub.renews_on) if sub.renews_on else "the end of your billing period",
        )
        return RESET

    def failure_events(self, tracker: Tracker) -> Events:
        return RESET


class ActionKeepSubscription(StoreAction):
    requires_customer = False

    def name(self) -> str:
        return "action_keep_subscription"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        dispatcher.utter_message(response="utter_kept_subscription")
        return RESET
