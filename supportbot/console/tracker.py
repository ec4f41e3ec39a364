"""Reading (and, to forget a customer, deleting) conversations in Rasa's SQL tracker store.

Rasa 3.6 keeps one row per event in ``events`` (``rasa.core.tracker_store.SQLTrackerStore``):
``sender_id`` is the conversation id, ``type_name`` the event type, ``timestamp`` epoch
seconds, ``intent_name``/``action_name`` copied out of ``data``, the JSON of the whole event.
The console declares the same table rather than importing Rasa (another environment).

Everything filterable is computed in SQL over those columns (grouped by conversation,
flags as ``max(case ...)``), so the list paginates in the database and works on SQLite and
PostgreSQL alike. Values always travel as bound parameters; ``LIKE`` patterns are escaped.
Full-text search is two steps: ``LIKE`` on the JSON finds candidate events, then the
message text itself is checked in Python, because the JSON also holds keys and metadata
("event", "model_id") that must not match (and, for viewers who may not see personal data,
the text as they see it: redacted, ``conversations.search``).

Conversation ids are read with ``bot.conversation_ids`` only: SQL narrows by the verified
prefix, and the parser decides (so ``cust:C77:b:x`` is nobody's conversation, as in the
actions). Links name a conversation by its *ref*, the id of its first event: a number, so
any characters in the conversation id work in a URL, and a phone number used as a
WhatsApp/SMS conversation id never appears in a link an agent sees.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    case,
    delete,
    false,
    func,
    inspect,
    not_,
    or_,
    select,
)

from bot.conversation_ids import VERIFIED_PREFIX, customer_of_conversation, parse_conversation_id

tracker_metadata = MetaData()
events = Table(
    "events",
    tracker_metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

HANDOFF_ACTIONS = ("action_handoff",)
"""Actions that hand the conversation to a person (``actions/support.py``)."""
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = ("action_default_fallback",)
PROACTIVE_PREFIX = "EXTERNAL_"
"""Intents the scheduler triggers through ``trigger_intent``: a proactive message, not the customer."""
OPT_OUT_INTENT = "opt_out"
HIDDEN_ACTIONS = ("action_listen", "action_session_start")
HIDDEN_SLOTS = ("session_started_metadata",)
LIKE_ESCAPE = "!"


def like_escape(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def has_events_table(engine: Engine) -> bool:
    """Rasa creates the table on its first start; before that the console shows nothing."""
    return inspect(engine).has_table("events")


def is_proactive(column: Any) -> ColumnElement[bool]:
    return column.like(like_escape(PROACTIVE_PREFIX) + "%", escape=LIKE_ESCAPE)  # type: ignore[no-any-return]


def _verified_like(customer_id: str = "") -> str:
    """A ``LIKE`` pattern narrowing to verified ids (of one customer); the parser decides afterwards."""
    return like_escape(VERIFIED_PREFIX + (f"{customer_id}:" if customer_id else "")) + "%"


def customer_of_sender(sender_id: str, linked: dict[str, str]) -> str | None:
    """The verified customer behind a conversation id, or ``None`` for an anonymous visitor."""
    parsed = parse_conversation_id(sender_id)
    if parsed.kind == "messaging":
        return linked.get(sender_id)
    return parsed.customer_id


@dataclass
class ConversationQuery:
    """Conditions on the conversation list; ``None`` means "don't filter on this"."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    channel: str | None = None
    verified: bool | None = None
    customer_conversations: Collection[str] | None = None
    """One customer's conversation ids (``customer_conversation_ids``)."""
    linked_senders: Collection[str] = ()
    malformed_verified: Collection[str] = ()
    """Ids with the verified prefix that the parser refuses (``malformed_verified_ids``): not verified."""
    intent: str | None = None
    handoff: bool | None = None
    fallback: bool | None = None
    proactive: bool | None = None
    only: Collection[str] | None = None
    """Conversation ids allowed by conditions from the profile store (tags, review, CSAT) or search."""
    exclude: Collection[str] = ()


@dataclass(frozen=True)
class ConversationRow:
    sender_id: str
    ref: int
    """The id of the conversation's first event: how links name it."""
    first_at: dt.datetime
    last_at: dt.datetime
    customer_turns: int
    handoff: bool
    fallback: bool
    proactive: bool
    proactive_initiated: bool


def _flag(condition: ColumnElement[bool]) -> Any:
    return func.max(case((condition, 1), else_=0))


def _epoch(moment: dt.datetime) -> float:
    return moment.timestamp()


def from_epoch(value: float | None) -> dt.datetime:
    """A tracker timestamp as a UTC time; one no calendar can hold (Rasa never writes it) shows as 1970."""
    try:
        return dt.datetime.fromtimestamp(value or 0.0, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return dt.datetime.fromtimestamp(0.0, dt.UTC)


def _summary(query: ConversationQuery) -> Select[Any]:
    e = events.c
    user = e.type_name == "user"
    external = and_(user, is_proactive(e.intent_name))
    customer_turn = and_(user, or_(e.intent_name.is_(None), not_(is_proactive(e.intent_name))))
    handoff = _flag(e.action_name.in_(HANDOFF_ACTIONS))
    fallback = _flag(or_(e.intent_name == FALLBACK_INTENT, e.action_name.in_(FALLBACK_ACTIONS)))
    first_user = func.min(case((user, e.id)))
    initiated = case((first_user == func.min(case((external, e.id))), 1), else_=0)
    stmt = select(
        e.sender_id,
        func.min(e.id).label("ref"),
        func.min(e.timestamp).label("first_at"),
        func.max(e.timestamp).label("last_at"),
        func.sum(case((customer_turn, 1), else_=0)).label("turns"),
        handoff.label("handoff"),
        fallback.label("fallback"),
        _flag(external).label("proactive"),
        initiated.label("initiated"),
    ).group_by(e.sender_id)
    where: list[ColumnElement[bool]] = []
    having: list[ColumnElement[bool]] = [func.sum(case((user, 1), else_=0)) > 0]
    if query.only is not None:
        where.append(e.sender_id.in_(list(query.only)) if query.only else false())
    if query.exclude:
        where.append(not_(e.sender_id.in_(list(query.exclude))))
    if query.verified is not None:
        prefixed: ColumnElement[bool] = e.sender_id.like(_verified_like(), escape=LIKE_ESCAPE)
        if query.malformed_verified:
            prefixed = and_(prefixed, not_(e.sender_id.in_(list(query.malformed_verified))))
        verified = or_(prefixed, e.sender_id.in_(list(query.linked_senders)))
        where.append(verified if query.verified else not_(verified))
    if query.customer_conversations is not None:
        where.append(e.sender_id.in_(list(query.customer_conversations)) if query.customer_conversations else false())
    if query.since is not None:
        having.append(func.max(e.timestamp) >= _epoch(query.since))
    if query.until is not None:
        having.append(func.min(e.timestamp) < _epoch(query.until))
    if query.intent:
        having.append(_flag(e.intent_name == query.intent) == 1)
    if query.channel:
        pattern = "%" + like_escape(f'"input_channel": {json.dumps(query.channel)}') + "%"
        having.append(_flag(and_(user, e.data.like(pattern, escape=LIKE_ESCAPE))) == 1)
    for wanted, column in ((query.handoff, handoff), (query.fallback, fallback), (query.proactive, initiated)):
        if wanted is not None:
            having.append(column == (1 if wanted else 0))
    if where:
        stmt = stmt.where(*where)
    return stmt.having(*having)


def _row(values: Any) -> ConversationRow:
    return ConversationRow(
        sender_id=values.sender_id,
        ref=int(values.ref),
        first_at=from_epoch(values.first_at),
        last_at=from_epoch(values.last_at),
        customer_turns=int(values.turns or 0),
        handoff=bool(values.handoff),
        fallback=bool(values.fallback),
        proactive=bool(values.proactive),
        proactive_initiated=bool(values.initiated),
    )


def count_conversations(connection: Connection, query: ConversationQuery) -> int:
    return int(connection.scalar(select(func.count()).select_from(_summary(query).subquery())) or 0)


def list_conversations(
    connection: Connection, query: ConversationQuery, *, limit: int, offset: int = 0
) -> list[ConversationRow]:
    """Most recently active first."""
    stmt = _summary(query).order_by(func.max(events.c.timestamp).desc(), events.c.sender_id).limit(limit)
    return [_row(values) for values in connection.execute(stmt.offset(offset))]


def messages_containing(connection: Connection, needle: str) -> list[tuple[str, str]]:
    """(conversation id, text) of every customer or bot message whose raw text contains ``needle``.

    ``needle`` is lower-case; the match is case-insensitive. Callers decide what counts as a hit
    for their viewer (``conversations.search``).
    """
    if not needle:
        return []
    pattern = "%" + like_escape(json.dumps(needle)[1:-1]) + "%"
    rows = connection.execute(
        select(events.c.sender_id, events.c.data)
        .where(
            events.c.type_name.in_(("user", "bot")),
            or_(events.c.intent_name.is_(None), not_(is_proactive(events.c.intent_name))),
            func.lower(events.c.data).like(pattern, escape=LIKE_ESCAPE),
        )
        .order_by(events.c.id)
    )
    found = []
    for sender_id, data in rows:
        message = str(load_event(data).get("text") or "")
        if needle in message.lower():
            found.append((str(sender_id), message))
    return found


def load_event(data: str | None) -> dict[str, Any]:
    try:
        loaded = json.loads(data or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def channels_of(connection: Connection, sender_ids: Collection[str]) -> dict[str, str]:
    """The input channel of each conversation's first customer message (shown in the list)."""
    if not sender_ids:
        return {}
    first = (
        select(func.min(events.c.id))
        .where(events.c.sender_id.in_(list(sender_ids)), events.c.type_name == "user")
        .where(or_(events.c.intent_name.is_(None), not_(is_proactive(events.c.intent_name))))
        .group_by(events.c.sender_id)
    )
    rows = connection.execute(select(events.c.sender_id, events.c.data).where(events.c.id.in_(first)))
    return {sender_id: str(load_event(data).get("input_channel") or "") for sender_id, data in rows}


def intents_in_use(connection: Connection) -> list[str]:
    rows = connection.scalars(
        select(events.c.intent_name).where(events.c.intent_name.is_not(None)).distinct().order_by(events.c.intent_name)
    )
    return [str(name) for name in rows]


def raw_events(connection: Connection, sender_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Every event of these conversations as Rasa stored it (for a customer's data export)."""
    ids = list(sender_ids)
    if not ids:
        return []
    rows = connection.execute(
        select(events.c.sender_id, events.c.data).where(events.c.sender_id.in_(ids)).order_by(events.c.id)
    )
    return [{"conversation_id": sender_id, **load_event(data)} for sender_id, data in rows]


def customer_conversation_ids(connection: Connection, customer_id: str, linked: Collection[str]) -> list[str]:
    """Every conversation id in the tracker store that belongs to this customer.

    Their verified conversations (as ``bot.conversation_ids`` parses them: ``cust:C77:b`` is
    C77's, ``cust:C77:b:x`` nobody's) and their linked messaging ids.
    """
    linked_ids = set(linked)
    stmt = (
        select(events.c.sender_id)
        .where(
            or_(
                events.c.sender_id.like(_verified_like(customer_id), escape=LIKE_ESCAPE),
                events.c.sender_id.in_(list(linked_ids)),
            )
        )
        .distinct()
        .order_by(events.c.sender_id)
    )
    return [
        str(sender_id)
        for sender_id in connection.scalars(stmt)
        if sender_id in linked_ids or customer_of_conversation(sender_id) == customer_id
    ]


def malformed_verified_ids(connection: Connection) -> list[str]:
    """Ids that start like a verified conversation but that the parser refuses (no customer)."""
    stmt = select(events.c.sender_id).where(events.c.sender_id.like(_verified_like(), escape=LIKE_ESCAPE)).distinct()
    return [str(s) for s in connection.scalars(stmt) if parse_conversation_id(s).kind != "verified"]


def conversation_of_ref(connection: Connection, ref: int) -> str | None:
    """The conversation whose event has this id (links use the first one's)."""
    found = connection.scalar(select(events.c.sender_id).where(events.c.id == ref))
    return None if found is None else str(found)


def ref_of(connection: Connection, sender_id: str) -> int | None:
    found = connection.scalar(select(func.min(events.c.id)).where(events.c.sender_id == sender_id))
    return None if found is None else int(found)


def delete_conversations(connection: Connection, sender_ids: Collection[str]) -> int:
    if not sender_ids:
        return 0
    result = connection.execute(delete(events).where(events.c.sender_id.in_(list(sender_ids))))
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class UserTurn:
    sender_id: str
    at: dt.datetime
    intent: str | None


def user_turns(connection: Connection, *, since: dt.datetime, until: dt.datetime) -> list[UserTurn]:
    """Every user event (customer messages and proactive triggers) in the period, for the KPIs."""
    rows = connection.execute(
        select(events.c.sender_id, events.c.timestamp, events.c.intent_name).where(
            events.c.type_name == "user", events.c.timestamp >= _epoch(since), events.c.timestamp < _epoch(until)
        )
    )
    return [UserTurn(sender_id, from_epoch(ts), intent) for sender_id, ts, intent in rows]


def handoff_senders(connection: Connection, *, since: dt.datetime, until: dt.datetime) -> set[str]:
    rows = connection.scalars(
        select(events.c.sender_id)
        .where(
            events.c.action_name.in_(HANDOFF_ACTIONS),
            events.c.timestamp >= _epoch(since),
            events.c.timestamp < _epoch(until),
        )
        .distinct()
    )
    return set(rows)


def turns_after(connection: Connection, sender_ids: Collection[str], *, since: dt.datetime) -> list[UserTurn]:
    """User events in these conversations from ``since`` on (replies to proactive messages)."""
    if not sender_ids:
        return []
    rows = connection.execute(
        select(events.c.sender_id, events.c.timestamp, events.c.intent_name).where(
            events.c.type_name == "user",
            events.c.sender_id.in_(list(sender_ids)),
            events.c.timestamp >= _epoch(since),
        )
    )
    return [UserTurn(sender_id, from_epoch(ts), intent) for sender_id, ts, intent in rows]
