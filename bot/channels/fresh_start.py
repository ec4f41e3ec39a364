"""A messaging account that changes owner starts a fresh conversation (security review,
issue 14 finding 9).

A messaging user's conversation id is the platform's user id (a Telegram chat, a phone
number), so it outlives whoever holds the account. When the account is linked to a
customer other than its current owner, or unlinked, what was said before belongs to
somebody else: it must not reach the new owner's data export, the console's view of
their conversations, or the bot's context.

How:

1. The action server (``actions.linking``) ends its link or unlink answer with
   :func:`fresh_start_event`: Rasa's ``reset_slots`` event, marked ``FRESH_START`` in its
   metadata. The slots (the earlier owner's answers, forms in progress) are reset at once.
2. After the turn, the channel (``bot.channels.messaging``, inside Rasa) calls
   :func:`purge_before_fresh_start`: under the conversation's lock (Rasa's lock store, so
   no other turn of it is under way) it deletes from Rasa's SQL tracker store every event
   before the user message that linked or unlinked, and marks the marker done. That message
   and the answer to it stay: they are the new owner's, and Rasa takes a conversation's
   channel from its latest user message (proactive messages need it).

Why not ``session_started`` or ``restart`` as the marker: Rasa stamps every event an action
returns with the time it arrives, so a session start would come *after* the linking message,
and the tracker store loads only the latest session: the conversation would lose its channel
until the customer writes again. (``restart`` runs ``action_session_start`` next.)

Other tracker stores (Redis, Mongo, DynamoDB) cannot purge here: the earlier events stay
stored, the slots are still reset; a warning says so once.

Plain Python at import time: the action server (app environment) imports the marker;
only :func:`purge_before_fresh_start` uses Rasa and SQLAlchemy, inside Rasa.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict

logger = logging.getLogger(__name__)

FRESH_START = "supportbot_fresh_start"
"""Metadata key of a marker still to be purged up to (its value says why: linked, unlinked)."""
FRESH_STARTED = "supportbot_fresh_started"
"""The key once the purge is done (so later turns find nothing to do)."""
MARKER_EVENT = "reset_slots"

_warned_stores: set[str] = set()


def fresh_start_event(*, reason: str) -> Dict[str, Any]:
    """The event (rasa_sdk's dict form) that ends the conversation so far at the current user message."""
    return {"event": MARKER_EVENT, "timestamp": None, "metadata": {FRESH_START: reason}}


def _sql_store(store: Any) -> Any:
    """Rasa's SQL tracker store under its wrappers (fail-safe, awaitable), or None."""
    from rasa.core.tracker_store import SQLTrackerStore

    for _ in range(5):
        if store is None or isinstance(store, SQLTrackerStore):
            break
        store = getattr(store, "_tracker_store", None)
    return store if isinstance(store, SQLTrackerStore) else None


def _marker(session: Any, event: Any, sender_id: str) -> Any:
    """The conversation's latest marker still to be purged up to, or None."""
    return (
        session.query(event)
        .filter(event.sender_id == sender_id, event.type_name == MARKER_EVENT, event.data.like(f'%"{FRESH_START}"%'))
        .order_by(event.id.desc())
        .first()
    )


def _pending(store: Any, sender_id: str) -> bool:
    with store.session_scope() as session:
        return _marker(session, store.SQLEvent, sender_id) is not None


def _purge(store: Any, sender_id: str) -> int:
    import sqlalchemy as sa

    event = store.SQLEvent
    with store.session_scope() as session:
        marker = _marker(session, event, sender_id)
        if marker is None:  # purged meanwhile
            return 0
        first_kept = (
            session.query(sa.func.max(event.id))
            .filter(event.sender_id == sender_id, event.type_name == "user", event.id < marker.id)
            .scalar()
        )
        deleted = 0
        if first_kept is not None:
            deleted = (
                session.query(event)
                .filter(event.sender_id == sender_id, event.id < first_kept)
                .delete(synchronize_session=False)
            )
        data = json.loads(marker.data)
        metadata = data.get("metadata") or {}
        metadata[FRESH_STARTED] = metadata.pop(FRESH_START, None)
        data["metadata"] = metadata
        marker.data = json.dumps(data)
        session.commit()
    return int(deleted)


async def purge_before_fresh_start(agent: Any, sender_id: str) -> int:
    """Delete ``sender_id``'s events before its latest marked fresh start; how many went.

    Never raises: a failure is logged, and the old events stay (the slots were reset anyway)."""
    try:
        store = _sql_store(agent.tracker_store)
        if store is None:
            kind = type(agent.tracker_store).__name__
            if kind not in _warned_stores:
                _warned_stores.add(kind)
                logger.warning("tracker store %s cannot purge an earlier owner's messages; they stay stored", kind)
            return 0
        if not _pending(store, sender_id):  # nearly every turn: one indexed query, no lock
            return 0
        async with agent.lock_store.lock(sender_id):
            deleted = _purge(store, sender_id)
    except Exception:
        logger.exception("could not purge a messaging conversation before its fresh start")
        return 0
    if deleted:
        logger.info("fresh start: deleted %d earlier events of a messaging conversation", deleted)
    return deleted
