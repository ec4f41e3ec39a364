"""Recent orders and the status of one order (only ever the customer's own)."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction, customer_id_of
from actions.context import ActionContext
from actions.help_quotes import QuotesHelpCentre
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
        rendered = render(ctx.responses, "utter_recent_orders", orders="\n".join(order_line(o) for o in orders))
        buttons = [
            {"title": f"Status of #{o.order_ref}", "payload": payload("order_status", order_ref=o.order_ref)}
            for o in orders
            if o.status in {"processing", "shipped"}
        ]
        if not buttons:
            dispatcher.utter_message(text=rendered.text)
            return []
        return ask(dispatcher, text=rendered.text, buttons=buttons, question=Question("choose_order"))


class ActionOrderStatus(QuotesHelpCentre, StoreAction):
    anonymous_response = "utter_anon_orders"

    def name(self) -> str:
        return "action_order_status"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        raw = tracker.get_slot("order_ref")
        tell_order_status(session, customer_id_of(ctx), dispatcher, str(raw) if raw else None)
        return [SlotSet("order_ref", None)]

    def anonymous_events(self, tracker: Tracker) -> Events:
        return [SlotSet("order_ref", None)]


def tell_order_status(session: Session, customer_id: str, dispatcher: CollectingDispatcher, raw: str | None) -> None:
    """The status of the customer's order ``raw`` (or of their latest order), only ever their own."""
    ref = normalise_order_ref(raw)
    if raw and ref is None:
        dispatcher.utter_message(response="utter_order_ref_invalid")
        return
    if ref is None:
        latest = recent_orders(session=session, customer_id=customer_id, limit=1)
        if not latest:
            dispatcher.utter_message(response="utter_no_orders")
            return
        order: OrderView | None = latest[0]
    else:
        order = find_order(session=session, customer_id=customer_id, order_ref=ref)
    if order is None:
        dispatcher.utter_message(response="utter_order_not_found", order_ref=ref)
    else:
        dispatcher.utter_message(text=order_status_text(order))
