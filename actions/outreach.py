"""Rendering a proactive message the scheduler triggered (``EXTERNAL_*`` intent + ``outbox_id``).

The scheduler decides *whether* a message goes out; this action only shows it,
and only to its own customer: the outbox row must belong to the customer this
conversation is verified as. Anything else (an unknown id, another customer's
row, a message whose kind the customer just opted out of) sends nothing and is
logged, because a proactive message is never worth a privacy mistake.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction
from actions.context import ActionContext
from actions.preferences import KIND_NAMES
from supportbot.formatting import relative_days
from supportbot.outreach.timing import local_day, zone
from supportbot.store.models import Consent, Customer
from supportbot.store.outreach_models import OutboxMessage

logger = logging.getLogger(__name__)

TEMPLATE_VARIABLES = ("name", "plan", "date", "when", "price", "tip", "perk", "years", "milestone")
"""Payload keys the utter_outreach_* responses use; the rest of the payload is bookkeeping."""
UNDELIVERABLE = ("skipped", "failed")
CSAT_CAMPAIGN = "csat_followup"


def outbox_id_from(latest_message: dict[str, Any] | None) -> int | None:
    for entity in (latest_message or {}).get("entities") or []:
        if entity.get("entity") == "outbox_id":
            try:
                return int(str(entity.get("value")))
            except ValueError:
                return None
    return None


def opt_out_button(kind: str) -> dict[str, str]:
    """One tap to stop this kind of message; handled by the existing opt_out rule and action."""
    return {
        "title": f"Stop {KIND_NAMES.get(kind, kind)}",
        "payload": "/opt_out" + json.dumps({"outreach_kind": kind}),
    }


def template_variables(payload: dict[str, Any], *, today: dt.date) -> dict[str, Any]:
    """The response's variables; "in 3 days" is recomputed, since delivery may be later than planning."""
    variables = {key: payload[key] for key in TEMPLATE_VARIABLES if key in payload}
    renews_on = payload.get("renews_on")
    if isinstance(renews_on, str):
        variables["when"] = relative_days(dt.date.fromisoformat(renews_on), today)
    return variables


class ActionDeliverOutreach(StoreAction):
    requires_customer = False

    def name(self) -> str:
        return "action_deliver_outreach"

    def perform(
        self, *, session: Session, ctx: ActionContext, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Events:
        outbox_id = outbox_id_from(tracker.latest_message)
        row = session.get(OutboxMessage, outbox_id) if outbox_id is not None else None
        if row is None:
            logger.warning("no outbox row %r for conversation %s; nothing sent", outbox_id, tracker.sender_id)
            return []
        if ctx.customer_id is None or row.customer_id != ctx.customer_id:
            logger.warning(
                "outbox %s belongs to another customer than conversation %s; nothing sent", row.id, tracker.sender_id
            )
            return []
        if row.status in UNDELIVERABLE:
            logger.warning("outbox %s is %s; nothing sent", row.id, row.status)
            return []
        consent = session.get(Consent, (row.customer_id, row.kind))
        if consent is not None and not consent.granted:
            logger.info("outbox %s: customer opted out of %s meanwhile; nothing sent", row.id, row.kind)
            return []
        customer = session.get(Customer, row.customer_id)
        tz = zone(customer.time_zone if customer else "UTC")
        today = local_day(dt.datetime.now(dt.UTC), tz)
        variables = template_variables(json.loads(row.payload or "{}"), today=today)
        events: Events = [SlotSet("last_outreach_kind", row.kind)]
        if row.campaign == CSAT_CAMPAIGN:
            # The rating question (with its buttons and a Skip) comes from csat_form.
            dispatcher.utter_message(response=row.template, **variables)
            return [
                *events,
                SlotSet("feedback_prompt", "handoff_closed"),
                SlotSet("csat_score", None),
                FollowupAction("csat_form"),
            ]
        dispatcher.utter_message(response=row.template, buttons=[opt_out_button(row.kind)], **variables)
        return events
