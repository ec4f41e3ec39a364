"""Consent before change: account changes are asked for, recorded, and applied only after a yes.

The life of one change (``supportbot.store.dialogue_models.AccountChangeRequest``):

    request_change ──► pending ──(yes to this question)──► confirm ──► confirmed | failed
                          ├──(no)──────────────────────► decline ──► declined
                          ├──(a newer question)─────────────────────► superseded
                          └──(the customer moved on, a new session, TTL)► expired

A yes counts only for the newest pending request of the same conversation, before it
expires; ``confirm`` checks that atomically (a second, concurrent yes finds nothing pending),
so a change is applied at most once however often the customer taps "Yes". Applying the
change itself is the caller's business (``supportbot.services.changes``), in the same
transaction as ``confirm``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from supportbot.errors import InvalidRequestError
from supportbot.services.support import ConversationRef
from supportbot.store.dialogue_models import CHANGE_KINDS, AccountChangeRequest
from supportbot.store.models import utcnow

REQUEST_TTL = dt.timedelta(minutes=30)
"""A question left unanswered this long is void: prices and dates it quoted may have moved."""
ANSWER_LIMIT = 200


class StaleRequestError(InvalidRequestError):
    """The yes does not answer a question that is still open (expired, replaced, or answered)."""


@dataclass(frozen=True)
class ChangeRequest:
    """A detached view of one request."""

    id: int
    customer_id: str
    conversation_id: str
    kind: str
    parameters: dict[str, Any]
    prompt: str
    status: str
    expires_at: dt.datetime


def _view(row: AccountChangeRequest) -> ChangeRequest:
    return ChangeRequest(
        id=row.id,
        customer_id=row.customer_id,
        conversation_id=row.conversation_id,
        kind=row.kind,
        parameters=json.loads(row.parameters or "{}"),
        prompt=row.prompt,
        status=row.status,
        expires_at=row.expires_at,
    )


def request_change(
    *,
    session: Session,
    customer_id: str,
    conversation: ConversationRef,
    kind: str,
    parameters: dict[str, Any],
    prompt: str,
    now: dt.datetime | None = None,
) -> ChangeRequest:
    """Record a question about to be asked; any older pending question of this conversation is superseded."""
    if kind not in CHANGE_KINDS:
        raise ValueError(f"unknown kind of account change {kind!r}")
    now = now or utcnow()
    _close_pending(session, conversation.conversation_id, status="superseded", now=now, outcome="a newer question")
    row = AccountChangeRequest(
        customer_id=customer_id,
        conversation_id=conversation.conversation_id,
        channel=conversation.channel,
        kind=kind,
        parameters=json.dumps(parameters, sort_keys=True),
        prompt=prompt,
        status="pending",
        created_at=now,
        expires_at=now + REQUEST_TTL,
    )
    session.add(row)
    session.flush()
    return _view(row)


def asked_since(*, session: Session, conversation_id: str, kind: str, since: dt.datetime) -> bool:
    """Whether this conversation was asked a question of ``kind`` since ``since``, whatever the answer."""
    row = session.scalar(
        select(AccountChangeRequest.id)
        .where(
            AccountChangeRequest.conversation_id == conversation_id,
            AccountChangeRequest.kind == kind,
            AccountChangeRequest.created_at >= since,
        )
        .limit(1)
    )
    return row is not None


def pending_request(*, session: Session, conversation_id: str, now: dt.datetime | None = None) -> ChangeRequest | None:
    """The newest question of this conversation still waiting for an answer, if any."""
    now = now or utcnow()
    row = session.scalars(
        select(AccountChangeRequest)
        .where(
            AccountChangeRequest.conversation_id == conversation_id,
            AccountChangeRequest.status == "pending",
        )
        .order_by(AccountChangeRequest.id.desc())
        .limit(1)
    ).first()
    if row is None or row.expires_at <= now:
        return None
    return _view(row)


def _claim(
    session: Session, *, request_id: int, conversation_id: str, status: str, answer: str, now: dt.datetime
) -> AccountChangeRequest:
    newest = pending_request(session=session, conversation_id=conversation_id, now=now)
    if newest is None or newest.id != request_id:
        raise StaleRequestError("That question is no longer open, so I haven't changed anything.")
    values: dict[str, Any] = {"status": status, "resolved_at": now, "answer": answer[:ANSWER_LIMIT]}
    if status == "confirmed":
        values["confirmed_at"] = now
    claimed = session.execute(
        update(AccountChangeRequest)
        .where(AccountChangeRequest.id == request_id, AccountChangeRequest.status == "pending")
        .values(**values)
    )
    if getattr(claimed, "rowcount", 0) != 1:  # answered meanwhile by a concurrent message
        raise StaleRequestError("That question is no longer open, so I haven't changed anything.")
    row = session.get(AccountChangeRequest, request_id)
    assert row is not None
    session.refresh(row)
    return row


def confirm(
    *, session: Session, request_id: int, conversation_id: str, answer: str, now: dt.datetime | None = None
) -> ChangeRequest:
    """Record the customer's yes to this request; raises ``StaleRequestError`` unless it is the
    newest pending request of ``conversation_id``. The caller applies the change next, in the
    same transaction, and records its outcome with ``record_outcome``."""
    row = _claim(
        session,
        request_id=request_id,
        conversation_id=conversation_id,
        status="confirmed",
        answer=answer,
        now=now or utcnow(),
    )
    return _view(row)


def record_outcome(*, session: Session, request_id: int, outcome: str, failed: bool = False) -> None:
    row = session.get(AccountChangeRequest, request_id)
    if row is None:  # pragma: no cover - only called right after confirm
        raise InvalidRequestError(f"no change request {request_id}")
    row.outcome = outcome[:2000]
    if failed:
        row.status = "failed"
    session.flush()


def decline(
    *, session: Session, request_id: int, conversation_id: str, answer: str, now: dt.datetime | None = None
) -> ChangeRequest:
    row = _claim(
        session,
        request_id=request_id,
        conversation_id=conversation_id,
        status="declined",
        answer=answer,
        now=now or utcnow(),
    )
    row.outcome = "nothing changed: the customer said no"
    session.flush()
    return _view(row)


def _close_pending(session: Session, conversation_id: str, *, status: str, now: dt.datetime, outcome: str) -> int:
    result = session.execute(
        update(AccountChangeRequest)
        .where(AccountChangeRequest.conversation_id == conversation_id, AccountChangeRequest.status == "pending")
        .values(status=status, resolved_at=now, outcome=outcome)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def expire_pending(*, session: Session, conversation_id: str, reason: str, now: dt.datetime | None = None) -> int:
    """Void every open question of this conversation (the customer moved on, or a new session began)."""
    return _close_pending(session, conversation_id, status="expired", now=now or utcnow(), outcome=reason)
