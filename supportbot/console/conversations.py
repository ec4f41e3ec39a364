"""The conversation list: filters from both stores, one page at a time, and the filtered set's export.

Conditions on the tracker (dates, channel, intent, handoff, fallback, proactive, customer,
text) become SQL on ``events``; conditions kept in the profile store (tags, review status,
CSAT) become sets of conversation ids passed into that SQL as bound ``IN`` lists, because
the two stores may be different databases.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from supportbot.console import tracker
from supportbot.console.redact import Masker, known_names
from supportbot.console.stores import linked_senders
from supportbot.store.console_models import REVIEW_STATUSES, ConversationNote, ConversationReview, ConversationTag
from supportbot.store.feedback_models import Feedback
from supportbot.store.models import Customer

TAG = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,39}$")
CHANNEL = re.compile(r"^[a-z0-9_]{1,32}$")
EXPORT_LIMIT = 5000
"""Most conversations one export carries; narrow the filters for more."""


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


@dataclass
class Filters:
    """The list's filters as the form sends them; invalid values are dropped, not trusted."""

    since: str = ""
    until: str = ""
    channel: str = ""
    verified: str = ""
    customer: str = ""
    intent: str = ""
    handoff: str = ""
    fallback: str = ""
    csat: str = ""
    tag: str = ""
    review: str = ""
    proactive: str = ""
    q: str = ""
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Filters:
        raw = {f.name: str(params.get(f.name, "")).strip()[:200] for f in fields(cls) if f.name != "errors"}
        filters = cls()
        for name, value in raw.items():
            setattr(filters, name, value)
        for name in ("since", "until"):
            if getattr(filters, name) and _date(getattr(filters, name)) is None:
                filters.errors.append(f"{name}: not a date (YYYY-MM-DD)")
                setattr(filters, name, "")
        if filters.channel and not CHANNEL.match(filters.channel):
            filters.errors.append("channel: unknown")
            filters.channel = ""
        if filters.review and filters.review not in REVIEW_STATUSES:
            filters.errors.append("review: unknown status")
            filters.review = ""
        if filters.csat and filters.csat not in ("any", "none", "1", "2", "3", "4", "5"):
            filters.errors.append("csat: expected any, none or 1-5")
            filters.csat = ""
        return filters

    def params(self) -> dict[str, str]:
        """The non-empty filters, for links (pages, export) that keep them."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "errors" and getattr(self, f.name)}


@dataclass(frozen=True)
class ListedConversation:
    row: tracker.ConversationRow
    channel: str
    customer_id: str | None
    tags: list[str]
    review: str
    csat: int | None


def _ids(session: Session, stmt: Any) -> set[str]:
    return {str(value) for value in session.scalars(stmt)}


def build_query(session: Session, connection: Connection, filters: Filters) -> tracker.ConversationQuery:
    linked = linked_senders(session)
    query = tracker.ConversationQuery(linked_senders=list(linked))
    if filters.since:
        query.since = dt.datetime.combine(dt.date.fromisoformat(filters.since), dt.time(), dt.UTC)
    if filters.until:
        until = dt.date.fromisoformat(filters.until) + dt.timedelta(days=1)
        query.until = dt.datetime.combine(until, dt.time(), dt.UTC)
    query.channel = filters.channel or None
    query.verified = _yes_no(filters.verified)
    if filters.customer:
        query.customer_senders = (filters.customer, [s for s, owner in linked.items() if owner == filters.customer])
    query.intent = filters.intent or None
    query.handoff = _yes_no(filters.handoff)
    query.fallback = _yes_no(filters.fallback)
    query.proactive = _yes_no(filters.proactive)
    allowed: list[set[str]] = []
    excluded: set[str] = set()
    if filters.tag:
        allowed.append(_ids(session, select(ConversationTag.conversation_id).where(ConversationTag.tag == filters.tag)))
    reviewed = select(ConversationReview.conversation_id)
    if filters.review == "unreviewed":
        excluded |= _ids(session, reviewed.where(ConversationReview.status != "unreviewed"))
    elif filters.review:
        allowed.append(_ids(session, reviewed.where(ConversationReview.status == filters.review)))
    rated = select(Feedback.conversation_id).where(Feedback.kind == "csat", Feedback.rating.is_not(None))
    if filters.csat == "none":
        excluded |= _ids(session, rated)
    elif filters.csat == "any":
        allowed.append(_ids(session, rated))
    elif filters.csat:
        allowed.append(_ids(session, rated.where(Feedback.rating == int(filters.csat))))
    if filters.q:
        allowed.append(tracker.search_senders(connection, filters.q))
    if allowed:
        query.only = set.intersection(*allowed)
    query.exclude = excluded
    return query


def describe(session: Session, connection: Connection, rows: list[tracker.ConversationRow]) -> list[ListedConversation]:
    """What the list shows beside each conversation, from both stores, in a fixed number of queries."""
    ids = [row.sender_id for row in rows]
    linked = linked_senders(session)
    channels = tracker.channels_of(connection, ids)
    tags: dict[str, list[str]] = {}
    for conversation_id, tag in session.execute(
        select(ConversationTag.conversation_id, ConversationTag.tag)
        .where(ConversationTag.conversation_id.in_(ids))
        .order_by(ConversationTag.tag)
    ):
        tags.setdefault(conversation_id, []).append(tag)
    reviews = {
        conversation_id: status
        for conversation_id, status in session.execute(
            select(ConversationReview.conversation_id, ConversationReview.status).where(
                ConversationReview.conversation_id.in_(ids)
            )
        )
    }
    csat: dict[str, int] = {}
    for conversation_id, rating in session.execute(
        select(Feedback.conversation_id, Feedback.rating)
        .where(Feedback.conversation_id.in_(ids), Feedback.kind == "csat", Feedback.rating.is_not(None))
        .order_by(Feedback.created_at)
    ):
        if rating is not None:
            csat[conversation_id] = rating
    return [
        ListedConversation(
            row=row,
            channel=channels.get(row.sender_id, ""),
            customer_id=tracker.customer_of_sender(row.sender_id, linked),
            tags=tags.get(row.sender_id, []),
            review=reviews.get(row.sender_id, "unreviewed"),
            csat=csat.get(row.sender_id),
        )
        for row in rows
    ]


def masker_for(session: Session, customer_ids: Collection[str | None], *, reveal: bool) -> Masker:
    """A masker that also hides the names the profile store has for these customers."""
    wanted = [cid for cid in customer_ids if cid]
    names: list[str | None] = []
    if wanted and not reveal:
        for first, last in session.execute(
            select(Customer.first_name, Customer.last_name).where(Customer.id.in_(wanted))
        ):
            names += [first, last, f"{first} {last}"]
    return Masker(reveal=reveal, names=known_names(names))


def review_of(session: Session, conversation_id: str) -> tuple[str, list[str], list[ConversationNote]]:
    review = session.get(ConversationReview, conversation_id)
    tags = list(
        session.scalars(
            select(ConversationTag.tag)
            .where(ConversationTag.conversation_id == conversation_id)
            .order_by(ConversationTag.tag)
        )
    )
    notes = list(
        session.scalars(
            select(ConversationNote)
            .where(ConversationNote.conversation_id == conversation_id)
            .order_by(ConversationNote.created_at, ConversationNote.id)
        )
    )
    return (review.status if review else "unreviewed"), tags, notes


def export_records(
    session: Session, connection: Connection, query: tracker.ConversationQuery, *, reveal: bool
) -> list[dict[str, Any]]:
    """The filtered set (up to ``EXPORT_LIMIT``) with each conversation's messages, redacted unless revealed."""
    listed = describe(session, connection, tracker.list_conversations(connection, query, limit=EXPORT_LIMIT))
    records = []
    for item in listed:
        masker = masker_for(session, [item.customer_id], reveal=reveal)
        messages = [
            {
                "at": turn.at.isoformat(),
                "from": "customer" if turn.kind == "user" else "bot",
                "text": masker.text(turn.text),
                "intent": turn.intent,
                "confidence": turn.confidence,
                "proactive": turn.proactive,
            }
            for turn in tracker.transcript(connection, item.row.sender_id)
            if turn.kind in ("user", "bot")
        ]
        records.append(
            {
                "conversation_id": item.row.sender_id,
                "customer_id": item.customer_id,
                "channel": item.channel,
                "started_at": item.row.first_at.isoformat(),
                "last_at": item.row.last_at.isoformat(),
                "customer_turns": item.row.customer_turns,
                "handoff": item.row.handoff,
                "fallback": item.row.fallback,
                "proactive_initiated": item.row.proactive_initiated,
                "csat": item.csat,
                "tags": item.tags,
                "review": item.review,
                "messages": messages,
            }
        )
    return records
