"""Recent orders and the status of one order (only ever the customer's own)."""

from __future__ import annotations

import datetime as dt
import re

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction, customer_id_of
from actions.context import ActionContext
from actions.help_quotes import QuotesHelpCentre, quote_help
from actions.questions import Question, ask
from actions.wording import render
from supportbot.buttons import payload
from supportbot.formatting import join_words, long_date, money, short_date
from supportbot.parsing import normalise_order_ref
from supportbot.store.repo import OrderView, find_order, recent_orders

STATUS_WORDS = {
    "processing": "is being prepared",
    "shipped": "is on its way",
    "delivered": "was delivered",
    "cancelled": "was cancelled",
    "returned": "was returned",
}


def order_line(order: OrderView) -> str:
    return (
        f"• #{order.order_ref} ({short_date(order.placed_at.date())}): {join_words(order.items)}, "
        f"{money(order.total_cents, order.currency)}, {order.status}"
    )


def order_status_text(order: OrderView) -> str:
    text = f"Order #{order.order_ref} ({join_words(order.items)}) {STATUS_WORDS.get(order.status, order.status)}"
    if order.status == "shipped":
        if order.expected_delivery:
            text += f" and should arrive by {long_date(order.expected_delivery)}"
        if order.tracking_code:
            text += f". Tracking code: {order.tracking_code}"
    elif order.status == "processing" and order.expected_delivery:
        text += f"; expected delivery {long_date(order.expected_delivery)}"
    return text + "."


class ActionRecentOrders(QuotesHelpCentre, StoreAction):
    anonymous_response = "utter_anon_orders"

    def name(self) -> str:
        return "action_recent_orders"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        orders = recent_orders(session=session, customer_id=customer_id_of(ctx), limit=3)
        if not orders:
            dispatcher.utter_message(response="utter_no_orders")
            return []
        if asks_refund(ctx.latest_text):
            # "I want a refund for my last order": that order against the return window, not the list
            return can_return(session, ctx, dispatcher, tracker, orders[0])
        rendered = render(ctx.responses, "utter_recent_orders", orders="\n".join(order_line(o) for o in orders))
        # One button per order listed, in the list's order: "the second one" is the second order.
        buttons = [
            {"title": f"Status of #{o.order_ref}", "payload": payload("order_status", order_ref=o.order_ref)}
            for o in orders
        ]
        return ask(dispatcher, text=rendered.text, buttons=buttons, question=Question("choose_order"))


class ActionOrderStatus(QuotesHelpCentre, StoreAction):
    anonymous_response = "utter_anon_orders"

    def name(self) -> str:
        return "action_order_status"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        raw = tracker.get_slot("order_ref")
        if asks_refund(ctx.latest_text):
            asked = customer_order(session, customer_id_of(ctx), dispatcher, str(raw) if raw else None)
            events = can_return(session, ctx, dispatcher, tracker, asked) if asked is not None else []
            return [SlotSet("order_ref", None), *events]
        order = tell_order_status(session, customer_id_of(ctx), dispatcher, str(raw) if raw else None)
        if order is None or not says_not_arrived(ctx.latest_text):
            return [SlotSet("order_ref", None)]
        return [SlotSet("order_ref", None), *not_arrived(session, ctx, dispatcher, tracker, order)]

    def anonymous_events(self, tracker: Tracker) -> Events:
        return [SlotSet("order_ref", None)]


def tell_order_status(
    session: Session, customer_id: str, dispatcher: CollectingDispatcher, raw: str | None
) -> OrderView | None:
    """The status of the customer's order ``raw`` (or of their latest order), only ever their own;
    returns the order told about."""
    order = customer_order(session, customer_id, dispatcher, raw)
    if order is not None:
        dispatcher.utter_message(text=order_status_text(order))
    return order


def customer_order(
    session: Session, customer_id: str, dispatcher: CollectingDispatcher, raw: str | None
) -> OrderView | None:
    """The customer's order ``raw`` (or their latest order), only ever their own; when there is none
    the customer is told why."""
    ref = normalise_order_ref(raw)
    if raw and ref is None:
        dispatcher.utter_message(response="utter_order_ref_invalid")
        return None
    if ref is None:
        latest = recent_orders(session=session, customer_id=customer_id, limit=1)
        if not latest:
            dispatcher.utter_message(response="utter_no_orders")
            return None
        order: OrderView | None = latest[0]
    else:
        order = find_order(session=session, customer_id=customer_id, order_ref=ref)
    if order is None:
        dispatcher.utter_message(response="utter_order_not_found", order_ref=ref)
        return None
    return order


_NOT_ARRIVED = re.compile(
    r"\b(?:hasn'?t|has not|haven'?t|have not|didn'?t|did not|never|not|still not|isn'?t|is not|wasn'?t)\s+"
    r"(?:yet\s+|even\s+|actually\s+)?(?:arrived?|come|came|got(?:ten)?|received?|turned up|shown up|showed up|"
    r"been delivered|delivered|here|there)\b"
    r"|\b(?:never got|still waiting|missing|lost|nowhere to be found)\b",
    re.IGNORECASE,
)
NOT_ARRIVED_QUERY = {
    "delivered": "my parcel is marked delivered but it is not there",
    "shipped": "my parcel is late",
}


def says_not_arrived(text: str) -> bool:
    """ "My package hasn't arrived", "I never got my order", "it's still not here"."""
    return _NOT_ARRIVED.search(text.replace("\u2019", "'")) is not None


def not_arrived(
    session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker, order: OrderView
) -> Events:
    """The customer says the order has not come: for one marked delivered (or late on its way) the
    help centre's steps, then a person offered, since only a person can send a replacement."""
    late = order.status == "shipped" and order.expected_delivery is not None and order.expected_delivery < ctx.today
    if order.status != "delivered" and not late:
        return []  # processing, or on its way and not yet due: the status above says when
    quote_help(
        session=session,
        ctx=ctx,
        dispatcher=dispatcher,
        tracker=tracker,
        text=NOT_ARRIVED_QUERY[order.status],
        when="always",
    )
    rendered = render(ctx.responses, "utter_order_not_arrived", order_ref=order.order_ref)
    offer = Question("offer_person", context={"reason": f"order #{order.order_ref} has not arrived"})
    return ask(dispatcher, text=rendered.text, buttons=rendered.buttons, question=offer)


_REFUND = re.compile(
    r"\b(?:refund(?:ed)?|money back|reimburse\w*|return(?:ed|ing)?|send (?:it|them|this) back)\b", re.IGNORECASE
)
RETURN_DAYS = 30
"""Days from delivery in which an order can be returned (helpcentre/orders-and-shipping/returns.md)."""
RETURN_STEPS_QUERY = "how do I start a return"


def asks_refund(text: str) -> bool:
    """ "I want a refund for my last order", "can I return order 512390?", "can I send it back"."""
    return _REFUND.search(text) is not None


def return_response(order: OrderView, today: dt.date) -> str:
    """Which answer the order gets against the return window. The store knows when an order was
    placed and when it was due, not the day it was delivered: an order placed within the window is
    surely in it (delivery comes after); one due more than the window ago is past it; in between
    only a person can tell from the carrier's record."""
    if order.status in ("processing", "shipped"):
        return "utter_return_not_delivered"
    if order.status == "returned":
        return "utter_return_returned"
    if order.status == "cancelled":
        return "utter_return_cancelled"
    if (today - order.placed_at.date()).days <= RETURN_DAYS:
        return "utter_return_open"
    if order.expected_delivery is not None and (today - order.expected_delivery).days > RETURN_DAYS:
        return "utter_return_closed"
    return "utter_return_check"


def can_return(
    session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker, order: OrderView
) -> Events:
    """Whether ``order`` can still be returned for a refund, from its own dates, with the way to do
    it (the help centre's steps) or a person who can check."""
    response = return_response(order, ctx.today)
    rendered = render(
        ctx.responses,
        response,
        order_ref=order.order_ref,
        items=join_words(order.items),
        placed=long_date(order.placed_at.date()),
        due=long_date(order.expected_delivery) if order.expected_delivery else "",
        status=STATUS_WORDS.get(order.status, order.status),
    )
    if response in ("utter_return_closed", "utter_return_check"):
        offer = Question("offer_person", context={"reason": f"asked to return order #{order.order_ref}"})
        return ask(dispatcher, text=rendered.text, buttons=rendered.buttons, question=offer)
    dispatcher.utter_message(text=rendered.text)
    if response == "utter_return_open":
        quote_help(
            session=session, ctx=ctx, dispatcher=dispatcher, tracker=tracker, text=RETURN_STEPS_QUERY, when="always"
        )
    return []
