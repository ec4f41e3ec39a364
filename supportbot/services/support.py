"""Recording what a person may need to see: handoffs, problem reports, account changes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportbot.services.handoff import reopen_if_returned
from supportbot.store.models import INTERACTION_KINDS, SupportInteraction, utcnow


@dataclass(frozen=True)
class ConversationRef:
    """Where a request came from, so a person can find the conversation again."""

    conversation_id: str
    channel: str | None


def record_interaction(
    *,
    session: Session,
    customer_id: str | None,
    kind: str,
    summary: str,
    conversation: ConversationRef | None,
    status: str = "closed",
    now: dt.datetime | None = None,
) -> int:
    if kind not in INTERACTION_KINDS:
        raise ValueError(f"unknown interaction kind {kind!r}")
    created = now or utcnow()
    row = SupportInteraction(
        customer_id=customer_id,
        conversation_id=conversation.conversation_id if conversation else None,
        channel=conversation.channel if conversation else None,
        kind=kind,
        status=status,
        summary=summary,
        created_at=created,
        closed_at=created if status == "closed" else None,
    )
    session.add(row)
    session.flush()
    return row.id


def open_handoff(*, session: Session, conversation_id: str) -> int | None:
    """The open handoff of this conversation, if it is waiting for a person.

    This is the waiting-for-a-person state: the dialogue mirrors it in the ``handoff_requested``
    slot (greetings and "anyone there?" are answered as waiting, not as a new conversation);
    the store row is the truth, closed by a person (the console).
    """
    return session.scalar(
        select(SupportInteraction.id)
        .where(
            SupportInteraction.conversation_id == conversation_id,
            SupportInteraction.kind == "handoff",
            SupportInteraction.status == "open",
        )
        .order_by(SupportInteraction.id.desc())
        .limit(1)
    )


def request_handoff(*, session: Session, customer_id: str | None, conversation: ConversationRef, reason: str) -> int:
    """Open a handoff: the conversation now waits for a person (the console lists open ones).
    Asking again while one is open returns that one: one conversation, one place in the queue."""
    existing = open_handoff(session=session, conversation_id=conversation.conversation_id)
    if existing is not None:
        return existing
    # Handed back to the bot and not closed yet: the same handoff waits again (the inbox, issue 17).
    again = reopen_if_returned(session=session, conversation_id=conversation.conversation_id)
    if again is not None:
        return again
    handoff_id = record_interaction(
        session=session,
        customer_id=customer_id,
        kind="handoff",
        summary=reason,
        conversation=conversation,
        status="open",
    )
    row = session.get(SupportInteraction, handoff_id)
    assert row is not None
    row.waiting_since = row.created_at
    return handoff_id


def add_to_problem_report(*, session: Session, ticket: int, conversation_id: str, detail: str) -> bool:
    """Append a follow-up detail to an open problem report of this conversation; False when there
    is none to add to (closed, another conversation's, or not a problem report)."""
    row = session.get(SupportInteraction, ticket)
    if row is None or row.kind != "problem_report" or row.conversation_id != conversation_id or row.status != "open":
        return False
    row.summary = f"{row.summary}\n{detail.strip()}"[:PROBLEM_SUMMARY_LIMIT]
    return True


PROBLEM_SUMMARY_LIMIT = 4000


def report_problem(
    *, session: Session, customer_id: str | None, conversation: ConversationRef, description: str
) -> int:
    return record_interaction(
        session=session,
        customer_id=customer_id,
        kind="problem_report",
        summary=description.strip()[:PROBLEM_SUMMARY_LIMIT],
        conversation=conversation,
        status="open",
    )
