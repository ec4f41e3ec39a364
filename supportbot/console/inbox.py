"""What the inbox shows: the queue of handoffs, one conversation's messages, and the customer beside it.

Everything is read from the two stores on every request (and every poll of the live feed),
so any web process can serve any agent and nothing here depends on which Rasa process
handled a message. Texts go through the viewer's :class:`~supportbot.console.redact.Masker`
before they leave this module: an agent's page and feed only ever hold redacted text.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from bot.conversation_ids import customer_of_conversation, parse_conversation_id
from supportbot.console.conversations import masker_for
from supportbot.console.redact import Masker
from supportbot.console.stores import Stores, linked_senders
from supportbot.console.tracker import PROACTIVE_PREFIX, customer_of_sender, events, from_epoch, load_event
from supportbot.formatting import long_date
from supportbot.services import handoff as handoffs
from supportbot.services.handoff import Handoff
from supportbot.store.feedback_models import Feedback
from supportbot.store.intelligence_models import ChurnScore, CustomerSegment
from supportbot.store.models import Customer, Order, SupportInteraction, utcnow
from supportbot.store.repo import get_profile

LAST_MESSAGES = 3
RECENT_ORDERS = 3
RECENT_FEEDBACK = 5


@dataclass(frozen=True)
class Message:
    """One line of the conversation as an agent sees it (text already redacted)."""

    event_id: int
    sender: str
    """``customer``, ``bot`` or ``agent``."""
    text: str
    at: dt.datetime
    agent: str | None = None
    notice: bool = False
    """"Ana joined" / "Ana left": shown as a line, not a bubble."""


@dataclass(frozen=True)
class QueueItem:
    handoff: Handoff
    conversation: str
    """The conversation id as this viewer may see it."""
    channel: str
    customer: str
    """The customer's name as this viewer may see it, or "anonymous"."""
    plan: str
    reason: str
    last_messages: list[str]
    waited_minutes: int
    escalated: bool
    assignee: str | None


def _message(
    event_id: int, type_name: str, timestamp: float | None, data: dict[str, Any], masker: Masker
) -> Message | None:
    at = from_epoch(timestamp)
    if type_name == "user":
        intent = str(((data.get("parse_data") or {}).get("intent") or {}).get("name") or "")
        text = str(data.get("text") or "")
        if intent.startswith(PROACTIVE_PREFIX) or not text:
            return None
        return Message(event_id, "customer", masker.text(text), at)
    if type_name == "bot":
        text = str(data.get("text") or "")
        if not text:
            return None
        metadata = data.get("metadata")
        agent = metadata.get("agent") if isinstance(metadata, dict) else None
        if isinstance(agent, dict) and isinstance(agent.get("name"), str):
            notice = agent.get("event") in ("joined", "left")
            return Message(event_id, "agent", masker.text(text), at, agent=agent["name"], notice=notice)
        return Message(event_id, "bot", masker.text(text), at)
    return None


def messages_after(connection: Connection | None, conversation_id: str, after: int, masker: Masker) -> list[Message]:
    """The customer's, the bot's and agents' messages with a tracker event id above ``after``."""
    if connection is None:
        return []
    rows = connection.execute(
        select(events.c.id, events.c.type_name, events.c.timestamp, events.c.data)
        .where(events.c.sender_id == conversation_id, events.c.id > after, events.c.type_name.in_(("user", "bot")))
        .order_by(events.c.id)
    )
    found = [_message(event_id, kind, timestamp, load_event(data), masker) for event_id, kind, timestamp, data in rows]
    return [message for message in found if message is not None]


def customer_of_handoff(session: Session, handoff: Handoff) -> str | None:
    """The handoff's customer: recorded with it, else from the conversation id or a linked identity."""
    if handoff.customer_id:
        return handoff.customer_id
    if parse_conversation_id(handoff.conversation_id).kind == "verified":
        return customer_of_conversation(handoff.conversation_id)
    return customer_of_sender(handoff.conversation_id, linked_senders(session))


def viewer_masker(session: Session, customer_id: str | None, *, show_ids: bool) -> Masker:
    return masker_for(session, [customer_id], reveal=False, show_ids=show_ids)


def queue_items(stores: Stores, *, show_ids: bool, escalate_after: dt.timedelta) -> list[QueueItem]:
    now = utcnow()
    items = []
    with stores.profile() as session, stores.tracker() as connection:
        for handoff in handoffs.queue(session=session):
            customer_id = customer_of_handoff(session, handoff)
            masker = viewer_masker(session, customer_id, show_ids=show_ids)
            customer = session.get(Customer, customer_id) if customer_id else None
            profile = (
                get_profile(session=session, customer_id=customer_id) if customer is not None and customer_id else None
            )
            said = [
                m.text for m in messages_after(connection, handoff.conversation_id, 0, masker) if m.sender == "customer"
            ]
            waited = handoff.waited(now)
            items.append(
                QueueItem(
                    handoff=handoff,
                    conversation=masker.conversation_id(handoff.conversation_id),
                    channel=handoff.channel or "unknown",
                    customer=masker.name(customer.first_name) + " " + masker.name(customer.last_name)
                    if customer
                    else "anonymous",
                    plan=profile.subscription.plan.name if profile and profile.subscription else "no plan",
                    reason=masker.text(handoff.reason),
                    last_messages=said[-LAST_MESSAGES:],
                    waited_minutes=int(waited.total_seconds() // 60),
                    escalated=handoff.status == handoffs.WAITING
                    and (handoff.escalated_at is not None or waited >= escalate_after),
                    assignee=handoffs.agent_name(session=session, user_id=handoff.assigned_to)
                    if handoff.assigned_to
                    else None,
                )
            )
    # Escalated first, then the rest of the waiting queue oldest first, then those being handled.
    return sorted(items, key=lambda i: (i.handoff.status != handoffs.WAITING, not i.escalated))


@dataclass
class CustomerContext:
    """What an agent sees beside the conversation (masked like every other console page)."""

    known: bool
    name: str = ""
    email: str = ""
    plan: str = ""
    status: str = ""
    renewal: str = ""
    loyalty: str = ""
    orders: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)
    consents: list[tuple[str, bool]] = field(default_factory=list)
    segment: str | None = None
    segment_why: str = ""
    churn: str | None = None
    churn_reasons: list[str] = field(default_factory=list)


def customer_context(session: Session, customer_id: str | None, masker: Masker) -> CustomerContext:
    profile = get_profile(session=session, customer_id=customer_id) if customer_id else None
    if profile is None or customer_id is None:
        return CustomerContext(known=False)
    sub = profile.subscription
    context = CustomerContext(
        known=True,
        name=f"{masker.name(profile.first_name)} {masker.name(profile.last_name)}",
        email=masker.email(profile.email),
        plan=sub.plan.name if sub else "no plan",
        status=sub.status if sub else "",
        renewal=(f"renews {long_date(sub.renews_on)}" if sub.auto_renew else f"ends {long_date(sub.renews_on)}")
        if sub and sub.renews_on
        else "",
        loyalty=f"{profile.loyalty.points} points ({profile.loyalty.tier})" if profile.loyalty else "",
        consents=sorted(profile.consents.items()),
    )
    for order in session.scalars(
        select(Order).where(Order.customer_id == customer_id).order_by(Order.placed_at.desc()).limit(RECENT_ORDERS)
    ):
        context.orders.append(f"#{order.order_ref} {order.status}, {long_date(order.placed_at.date())}")
    for summary, created in session.execute(
        select(SupportInteraction.summary, SupportInteraction.created_at).where(
            SupportInteraction.customer_id == customer_id,
            SupportInteraction.kind == "problem_report",
            SupportInteraction.status == "open",
        )
    ):
        context.problems.append(f"{long_date(created.date())}: {masker.text(summary)}")
    for row in session.scalars(
        select(Feedback)
        .where(Feedback.customer_id == customer_id)
        .order_by(Feedback.created_at.desc())
        .limit(RECENT_FEEDBACK)
    ):
        context.feedback.append(_feedback_line(row, masker))
    segment = session.get(CustomerSegment, customer_id)
    if segment is not None:
        context.segment, context.segment_why = segment.segment, masker.text(segment.why)
    churn = session.scalar(select(ChurnScore).where(ChurnScore.customer_id == customer_id))
    if churn is not None:
        context.churn = f"{churn.probability:.0%}"
        context.churn_reasons = [str(r.get("text", "")) for r in json.loads(churn.reasons or "[]")]
    return context


def _feedback_line(row: Feedback, masker: Masker) -> str:
    parts = [long_date(row.created_at.date()), row.kind]
    if row.rating is not None:
        parts.append(str(row.rating))
    text = row.text_redacted or row.text
    if text:
        parts.append(f"“{masker.text(text)}”")
    return " · ".join(parts)
