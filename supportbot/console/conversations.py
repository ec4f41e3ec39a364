"""The conversation list: filters from both stores, one page at a time, and the filtered set's export.

Conditions on the tracker (dates, channel, intent, handoff, fallback, proactive, customer,
text) become SQL on ``events``; conditions kept in the profile store (tags, review status,
CSAT) become sets of conversation ids passed into that SQL as bound ``IN`` lists, because
the two stores may be different databases.

Filters are validated whole before anything runs (``Filters.from_params``): a value that is
too long, not a date, out of range or unknown is an error the page shows with status 400,
and the list and its exports do not run with the filter silently dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from bot.conversation_ids import CUSTOMER_ID_RULE, is_customer_id
from supportbot.console import params, tracker, transcripts
from supportbot.console.redact import Masker, known_names
from supportbot.console.stores import linked_senders
from supportbot.store.console_models import REVIEW_STATUSES, ConversationNote, ConversationReview, ConversationTag
from supportbot.store.feedback_models import Feedback
from supportbot.store.models import Customer

TAG = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,39}$")
CHANNEL = re.compile(r"^[a-z0-9_]{1,32}$")
EXPORT_LIMIT = 5000
"""Most conversations one export carries; narrow the filters for more."""
MAX_FILTER_LENGTH = {"q": 200, "customer": 64, "intent": 255, "tag": 40, "channel": 32}
"""Longest value of each free-text filter; every other filter is one of a few words."""
YES_NO = ("yes", "no")
PERSONAL_FILTERS = ("q", "customer")
"""Filters whose values are personal data: never written into the audit log."""


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
    def from_params(cls, query: Mapping[str, str]) -> Filters:
        """The filters of a query string; every problem is in ``errors`` (and that value left out)."""
        filters = cls()
        for name in filters.names():
            try:
                value = params.text(query, name, max_length=MAX_FILTER_LENGTH.get(name, 16))
                setattr(filters, name, value)
                filters._check(name, value)
            except params.BadParameter as error:
                filters.errors.append(str(error))
                setattr(filters, name, "")
        return filters

    def _check(self, name: str, value: str) -> None:
        if not value:
            return
        if name in ("since", "until"):
            params.day(name, value)
        elif name == "channel" and not CHANNEL.fullmatch(value):
            raise params.BadParameter("channel: expected a channel name like rest, socketio or telegram")
        elif name == "review" and value not in REVIEW_STATUSES:
            raise params.BadParameter(f"review: expected one of {', '.join(REVIEW_STATUSES)}")
        elif name == "csat" and value not in ("any", "none", "1", "2", "3", "4", "5"):
            raise params.BadParameter("csat: expected any, none or 1-5")
        elif name in ("verified", "handoff", "fallback", "proactive") and value not in YES_NO:
            raise params.BadParameter(f"{name}: expected yes or no")
        elif name == "customer" and not is_customer_id(value):
            raise params.BadParameter(f"customer: not a customer id ({CUSTOMER_ID_RULE})")
        elif name == "tag" and not TAG.fullmatch(value):
            raise params.BadParameter("tag: 1-40 lower-case letters, digits, spaces, - or _")

    def names(self) -> list[str]:
        return [f.name for f in fields(self) if f.name != "errors"]

    def params(self) -> dict[str, str]:
        """The non-empty filters, for links (pages, export) that keep them."""
        return {name: getattr(self, name) for name in self.names() if getattr(self, name)}

    def audit_details(self) -> dict[str, object]:
        """What the audit log may say about these filters: not the search text or the customer."""
        given = self.params()
        return {
            "filters": {k: v for k, v in given.items() if k not in PERSONAL_FILTERS},
            "personal_filters": sorted(k for k in given if k in PERSONAL_FILTERS),
        }


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


def build_query(
    session: Session, connection: Connection, filters: Filters, *, redacted: bool
) -> tracker.ConversationQuery:
    """The tracker query for valid ``filters``; ``redacted``: search the text as a viewer without
    ``reveal_pii`` sees it, so masked data cannot be found by searching for it."""
    assert not filters.errors, "validate the filters first"
    linked = linked_senders(session)
    query = tracker.ConversationQuery(linked_senders=list(linked))
    if filters.since:
        query.since = dt.datetime.combine(dt.date.fromisoformat(filters.since), dt.time(), dt.UTC)
    if filters.until:
        until = dt.date.fromisoformat(filters.until) + dt.timedelta(days=1)
        query.until = dt.datetime.combine(until, dt.time(), dt.UTC)
    query.channel = filters.channel or None
    query.verified = _yes_no(filters.verified)
    if query.verified is not None:
        query.malformed_verified = tracker.malformed_verified_ids(connection)
    if filters.customer:
        theirs = [s for s, owner in linked.items() if owner == filters.customer]
        query.customer_conversations = tracker.customer_conversation_ids(connection, filters.customer, theirs)
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
        allowed.append(search(session, connection, filters.q, redacted=redacted, linked=linked))
    if allowed:
        query.only = set.intersection(*allowed)
    query.exclude = excluded
    return query


def search(session: Session, connection: Connection, text: str, *, redacted: bool, linked: dict[str, str]) -> set[str]:
    """Conversations with a customer or bot message containing ``text`` (case-insensitive).

    ``redacted``: in the message as the viewer sees it (patterns, link codes and the customer's
    names masked), so a masked phone number cannot be recovered digit by digit by searching
    (security review, issue 14 finding 7). The placeholders themselves (``[PHONE]``) are not
    searchable: the raw text narrows the candidates first.
    """
    needle = text.strip().lower()
    hits = tracker.messages_containing(connection, needle)
    if not redacted:
        return {sender_id for sender_id, _ in hits}
    owners = {sender_id: tracker.customer_of_sender(sender_id, linked) for sender_id, _ in hits}
    names: dict[str | None, list[str | None]] = {None: []}
    wanted = sorted({owner for owner in owners.values() if owner})
    for customer_id, first, last in session.execute(
        select(Customer.id, Customer.first_name, Customer.last_name).where(Customer.id.in_(wanted))
    ):
        names[customer_id] = [first, last, f"{first} {last}"]
    maskers = {owner: Masker(reveal=False, names=known_names(names.get(owner, []))) for owner in names}
    return {
        sender_id
        for sender_id, message in hits
        if needle in maskers.get(owners[sender_id], maskers[None]).text(message).lower()
    }


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


def masker_for(
    session: Session, customer_ids: Collection[str | None], *, reveal: bool, show_ids: bool = True
) -> Masker:
    """A masker that also hides the names the profile store has for these customers."""
    wanted = [cid for cid in customer_ids if cid]
    names: list[str | None] = []
    if wanted and not reveal:
        for first, last in session.execute(
            select(Customer.first_name, Customer.last_name).where(Customer.id.in_(wanted))
        ):
            names += [first, last, f"{first} {last}"]
    return Masker(reveal=reveal, names=known_names(names), show_ids=show_ids)


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
            for turn in transcripts.transcript(connection, item.row.sender_id)
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
