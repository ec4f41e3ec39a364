"""Who is on the other side of a conversation, decided from trusted facts only.

The customer id is never taken from what the user typed or from a slot. It comes
from one of two places:
- a ``cust:<id>:<session>`` sender id, which only our Rasa-side channels create,
  after verifying the customer token (see ``bot.identity``);
- a messaging-channel identity the customer linked explicitly (``channel_identities``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from bot.conversation_ids import customer_of_conversation, parse_conversation_id
from supportbot.services.support import ConversationRef
from supportbot.store.models import Customer
from supportbot.store.repo import customer_for_channel


def customer_from_sender(sender_id: str) -> str | None:
    """The customer a ``cust:`` id names (one parser for every process: ``bot.conversation_ids``)."""
    return customer_of_conversation(sender_id)


def input_channel(tracker: Tracker) -> str | None:
    channel = tracker.get_latest_input_channel()
    return str(channel) if channel else None


def resolve_customer(*, session: Session, tracker: Tracker) -> str | None:
    """The verified customer's id, or None; a verified id with no profile counts as None."""
    sender_id = tracker.sender_id
    customer_id = customer_from_sender(sender_id)
    if customer_id is None:
        channel = input_channel(tracker)
        if channel and parse_conversation_id(sender_id).kind == "messaging":
            customer_id = customer_for_channel(session=session, channel=channel, external_id=sender_id)
    if customer_id is None or session.get(Customer, customer_id) is None:
        return None
    return customer_id


@dataclass(frozen=True)
class ActionContext:
    customer_id: str | None
    conversation: ConversationRef
    today: dt.date
    latest_text: str
    responses: dict[str, Any] = field(default_factory=dict)
    """The domain's responses (copy lives in domain.yml), for messages whose exact text the
    action must know, such as a question recorded with its answer (``actions.wording``)."""

    @classmethod
    def build(
        cls,
        *,
        session: Session,
        tracker: Tracker,
        today: dt.date | None = None,
        domain: dict[str, Any] | None = None,
    ) -> ActionContext:
        latest: dict[str, Any] = tracker.latest_message or {}
        return cls(
            customer_id=resolve_customer(session=session, tracker=tracker),
            conversation=ConversationRef(tracker.sender_id, input_channel(tracker)),
            today=today or dt.datetime.now(dt.UTC).date(),
            latest_text=str(latest.get("text") or ""),
            responses=dict((domain or {}).get("responses") or {}),
        )
