"""Rendering a proactive message the scheduler triggered (``EXTERNAL_*`` intent + ``outbox_id``).

The scheduler decides *whether* a message goes out; this action only shows it,
and only to its own customer: the outbox row must belong to the customer this
conversation is verified as. Anything else (an unknown id, another customer's
row, a message whose kind the customer just opted out of) sends nothing and is
logged, because a proactive message is never worth a privacy mistake.

It renders a row at most once per saved conversation: a message Rasa already
saved (a bot event whose metadata carries the row's ``outbox_id``) is not shown
again, whoever triggers the row again. When it renders, it writes the row's render
mark (``rendered_at``, ``renders``) in the same transaction, and only after that
commit does the message leave this action; a store error sends nothing at all
(no "technical problem" text for a message the customer did not ask for), and the
scheduler, which finds no rendered message in Rasa's answer, tries again later.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions import runtime
from actions.base import Events, StoreAction
from actions.context import ActionContext
from actions.preferences import KIND_NAMES
from supportbot.errors import InvalidRequestError
from supportbot.formatting import relative_days
from supportbot.outreach.timing import local_day, zone
from supportbot.services.perks import grant_perk, parse_perk
from supportbot.services.referrals import code_for
from supportbot.store.models import Consent, Customer
from supportbot.store.outreach_models import OutboxMessage

logger = logging.getLogger(__name__)

TEMPLATE_VARIABLES = ("name", "plan", "date", "when", "price", "tip", "years", "milestone", "reward")
"""Payload keys the utter_outreach_* responses use as they are; ``perk`` is the perk's configuration,
granted here and worded from the grant (``perk_sentence``); the rest of the payload is bookkeeping."""
PERK_ONLY = ("surprise_perk", "retention_offer")
"""Campaigns whose message is the perk: without a grant there is nothing to say."""
UNDELIVERABLE = ("skipped", "failed")
CSAT_CAMPAIGN = "csat_followup"
REFERRAL_CAMPAIGN = "referral_invitation"
PROGRAMME_CAMPAIGN = "programme_invitation"


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


def already_shown(tracker: Tracker, outbox_id: int) -> bool:
    """Whether the conversation Rasa saved already holds the message rendered for ``outbox_id``."""
    wanted = str(outbox_id)
    return any(
        event.get("event") == "bot" and str((event.get("metadata") or {}).get("outbox_id")) == wanted
        for event in tracker.events or []
    )


def mark_rendered(*, session: Session, row: OutboxMessage, now: dt.datetime) -> None:
    """The render mark, in the caller's transaction: first render time and a count of renders."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id)
        .values(renders=OutboxMessage.renders + 1, rendered_at=row.rendered_at or now)
    )


def perk_sentence(*, session: Session, row: OutboxMessage, spec: object, today: dt.date) -> str | None:
    """Grant the row's perk (once per row: key ``outbox:<id>``) in the caller's transaction and say what
    was granted; None when there is no perk or it cannot be granted (then it is not announced)."""
    if spec is None:
        return ""
    try:
        granted = grant_perk(
            session=session,
            customer_id=row.customer_id,
            perk=parse_perk(spec),
            grant_key=f"outbox:{row.id}",
            reason=f"{row.campaign.replace('_', ' ')} {row.content_ref or row.local_day.year}",
            today=today,
            outbox_id=row.id,
        )
    except InvalidRequestError as exc:  # PerkUnavailable, or a payload planned before perks were typed
        logger.warning("outbox %s: perk %r not granted, so not announced: %s", row.id, spec, exc)
        return None
    return granted.sentence


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

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        return await asyncio.to_thread(self._render_committed, dispatcher, tracker)

    def _render_committed(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Events:
        """Render into a private dispatcher; hand the messages on only once the mark is committed."""
        rendered = CollectingDispatcher()
        try:
            with runtime.sessions().begin() as session:
                ctx = ActionContext.build(session=session, tracker=tracker)
                events = self.perform(session=session, ctx=ctx, dispatcher=rendered, tracker=tracker)
        except SQLAlchemyError:
            logger.exception("outreach for conversation %s not rendered: profile store error", tracker.sender_id)
            return []
        dispatcher.messages.extend(rendered.messages)
        return events

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
        if already_shown(tracker, row.id):
            logger.info("outbox %s is already in conversation %s; not shown again", row.id, tracker.sender_id)
            return []
        consent = session.get(Consent, (row.customer_id, row.kind))
        if consent is not None and not consent.granted:
            logger.info("outbox %s: customer opted out of %s meanwhile; nothing sent", row.id, row.kind)
            return []
        customer = session.get(Customer, row.customer_id)
        tz = zone(customer.time_zone if customer else "UTC")
        now = dt.datetime.now(dt.UTC)
        payload = json.loads(row.payload or "{}")
        today = local_day(now, tz)
        variables = template_variables(payload, today=today)
        perk = perk_sentence(session=session, row=row, spec=payload.get("perk"), today=today)
        if perk is None and row.campaign in PERK_ONLY:
            return []
        variables["perk"] = perk or ""
        if row.campaign == REFERRAL_CAMPAIGN:
            # The code the message shows exists before the message does (made once per customer).
            variables["code"] = code_for(session=session, customer_id=row.customer_id, now=now)
        mark_rendered(session=session, row=row, now=now)
        # outbox_id travels with the message into the bot event's metadata: the proof of delivery.
        variables["outbox_id"] = str(row.id)
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
        if row.campaign == PROGRAMME_CAMPAIGN:
            # The invitation's yes/no question (and recording the answer) is the feedback flow's programme_form.
            dispatcher.utter_message(response=row.template, **variables)
            return [
                *events,
                SlotSet("joins_programme", None),
                SlotSet("last_feedback_id", None),
                FollowupAction("programme_form"),
            ]
        dispatcher.utter_message(response=row.template, buttons=[opt_out_button(row.kind)], **variables)
        return events
