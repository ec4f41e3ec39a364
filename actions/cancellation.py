"""Cancelling: a personal retention offer first, then an explicit confirmation, then a real cancellation.

Both steps are questions recorded in the store (``actions.changes``):

    cancel_subscription ─► the offer (retention_offer): "Keep it with 20% off" / "Switch to Plus" / "No, cancel"
        yes / Keep it ─► the discount is applied
        Switch to Plus ─► "Switch from Pro to Plus …?" (change_plan)
        no / No, cancel / "just cancel it" ─► "Just to confirm: cancel your Pro plan? …" (cancel)
              yes ─► cancelled;  no ─► nothing changed
        never mind ─► nothing changed
    cancel_subscription again within the hour ─► straight to the confirmation (the offer is made once)

``actions.answers`` reads the replies; this module words and records the questions.
"""

from __future__ import annotations

import datetime as dt

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import runtime
from actions.base import Events, StoreAction, customer_id_of
from actions.changes import ask_to_confirm
from actions.context import ActionContext
from actions.help_quotes import QuotesHelpCentre, quote_help
from supportbot.formatting import long_date
from supportbot.services.account import cancellation_terms, discount_end, retention_offer
from supportbot.services.changes import jsonable
from supportbot.services.confirmations import asked_since
from supportbot.store.models import utcnow
from supportbot.store.repo import get_profile

OFFER_ONCE_WITHIN = dt.timedelta(hours=1)
"""A conversation is made the retention offer once in this long; a second "cancel" is confirmed."""


class ActionOfferRetention(QuotesHelpCentre, StoreAction):
    anonymous_response = "utter_anon_cancel"

    def name(self) -> str:
        return "action_offer_retention"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        settings = runtime.settings()
        customer_id = customer_id_of(ctx)
        since = utcnow() - OFFER_ONCE_WITHIN
        if asked_since(
            session=session, conversation_id=ctx.conversation.conversation_id, kind="retention_offer", since=since
        ):
            # The offer was made (and taken, declined or left) a moment ago: "ok fine, cancel it"
            # after it goes to the confirmation, not to the same offer again.
            return ask_to_confirm_cancellation(session=session, ctx=ctx, dispatcher=dispatcher)
        offer = retention_offer(
            session=session,
            customer_id=customer_id,
            today=ctx.today,
            discount_percent=settings.retention_discount_percent,
            months=settings.retention_discount_months,
        )
        profile = get_profile(session=session, customer_id=customer_id)
        assert profile is not None and profile.subscription is not None
        cheaper = offer.cheaper_plan
        return ask_to_confirm(
            session=session,
            ctx=ctx,
            dispatcher=dispatcher,
            kind="retention_offer",
            parameters={
                "discount_percent": offer.discount_percent,
                "months": offer.months,
                "until": discount_end(ctx.today, offer.months).isoformat(),
                "discounted_price": offer.discounted_price,
            },
            response="utter_retention_offer",
            variables={
                "name": profile.first_name,
                "plan": profile.subscription.plan.name,
                "reasons": f"{offer.reasons[0].upper()}{offer.reasons[1:]}. " if offer.reasons else "",
                "discount": offer.discount_percent,
                "months": offer.months,
                "discounted_price": offer.discounted_price,
                "regular_price": offer.regular_price,
                "alternative": f" Or I can switch you to {cheaper.name} at {offer.cheaper_price}." if cheaper else "",
                "cheaper_plan": cheaper.name if cheaper else "",
            },
            family="retention_offer",
            context={"cheaper_plan": cheaper.code if cheaper else None},
            button_entities={"change_plan": {"plan": cheaper.code}} if cheaper else None,
            drop_buttons=frozenset() if cheaper else frozenset({"change_plan"}),
        )


def ask_to_confirm_cancellation(*, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher) -> Events:
    """ "Just to confirm: cancel your Pro plan? It won't renew, and you keep access until …"."""
    terms = cancellation_terms(session=session, customer_id=customer_id_of(ctx))
    return ask_to_confirm(
        session=session,
        ctx=ctx,
        dispatcher=dispatcher,
        kind="cancel",
        parameters={"terms": jsonable(terms), "reason": "requested in chat after declining the retention offer"},
        response="utter_confirm_cancel",
        variables={
            "plan": terms.plan_name,
            "date": long_date(terms.access_until) if terms.access_until else "the end of your billing period",
        },
        family="cancel",
    )


class ActionDeleteAccount(StoreAction):
    """ "Delete my account": not the same as cancelling (which the retention offer answered). The
    assistant cannot delete an account (it takes the password), so it says how, quotes the help
    centre's article, and offers the lighter step; for a visitor alike."""

    requires_customer = False

    def name(self) -> str:
        return "action_delete_account"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        quoted = quote_help(session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker, text=DELETE_QUERY)
        # With the article's steps just quoted, the message does not repeat them.
        dispatcher.utter_message(response="utter_delete_account_after_article" if quoted else "utter_delete_account")
        return []


DELETE_QUERY = "how do I delete my Lumen account"
