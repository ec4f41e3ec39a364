"""What the audit log may say about customers and conversations: keyed hashes, never the ids.

An audit entry outlives the data it is about: after a customer is forgotten, their earlier
reveal and export entries stay. So no entry holds a customer id, a conversation id (a
WhatsApp conversation is named by a phone number), an email or search text (security review,
issue 14 finding 9): customers appear as ``customer:<HMAC-SHA256 of the id>`` and
conversations as ``conversation:<HMAC of the id>``, keyed with the console secret. An admin
can still ask "what happened to C123?": the audit page hashes what they type the same way.
Entries written before this rule (raw ids as subjects) are rewritten to the hashes when that
customer is forgotten (``rewrite_raw_subjects``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, or_, update
from sqlalchemy.orm import Session

from supportbot.store.console_models import AuditEntry

DIGEST_CHARS = 32


def _digest(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()[:DIGEST_CHARS]


def customer_subject(secret: str, customer_id: str) -> str:
    return f"customer:{_digest(secret, customer_id)}"


def conversation_subject(secret: str, conversation_id: str) -> str:
    digest = _digest(secret, "conversation\x00" + conversation_id)  # not the same hash as a customer id's
    return f"conversation:{digest}"


def about_conversation(secret: str, conversation_id: str, customer_id: str | None) -> tuple[str, dict[str, Any]]:
    """Subject and details of an entry about one conversation: its customer if it has one."""
    conversation = conversation_subject(secret, conversation_id)
    if customer_id:
        return customer_subject(secret, customer_id), {"conversation": conversation}
    return conversation, {}


def entry(*, actor_id: int | None, action: str, subject: str = "", **details: Any) -> AuditEntry:
    return AuditEntry(actor_id=actor_id, action=action, subject=subject, details=json.dumps(details, sort_keys=True))


def concerning(secret: str, wanted: str) -> ColumnElement[bool]:
    """Entries about ``wanted``, a customer id or a conversation id (raw in entries from before the hashes)."""
    conversation = conversation_subject(secret, wanted)
    return or_(
        AuditEntry.subject.in_([customer_subject(secret, wanted), conversation, wanted]),
        AuditEntry.details.contains(conversation),
    )


def rewrite_raw_subjects(session: Session, secret: str, customer_id: str, conversation_ids: Collection[str]) -> int:
    """Older entries naming this customer or their conversations by raw id get the keyed hashes."""
    raw = [customer_id, *conversation_ids]
    result = session.execute(
        update(AuditEntry).where(AuditEntry.subject.in_(raw)).values(subject=customer_subject(secret, customer_id))
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)


def source_subject(secret: str, address: str) -> str:
    """Where a sign-in came from, as a keyed hash: repeated sources stand out, addresses are not kept."""
    digest = _digest(secret, "source\x00" + address)[:16]
    return f"source:{digest}"
