"""Outbox row transitions, each a conditional UPDATE so concurrent workers cannot both win.

    planned ──claim──► sending ──► sent | skipped | failed
       ▲                  │
       └── release ───────┘   (hold for quiet hours, retry after backoff, lease too short)

A worker changes a ``sending`` row only while ``claimed_by`` is still its own id:
once its lease expired and another worker reclaimed the row, every later write
of the first worker matches no row and is dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from supportbot.store.outreach_models import OutboxMessage, OutreachTipSent

FINAL = ("sent", "skipped", "failed")


def claimable(now: dt.datetime) -> Any:
    """Planned and due, or left in ``sending`` by a worker whose lease has expired."""
    return or_(
        and_(
            OutboxMessage.status == "planned",
            OutboxMessage.not_before <= now,
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
        ),
        and_(OutboxMessage.status == "sending", OutboxMessage.lease_until < now),
    )


def claim_batch(*, session: Session, worker: str, now: dt.datetime, lease: dt.timedelta, limit: int) -> list[int]:
    """Claim up to ``limit`` due rows for ``worker``; the caller commits.

    PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` lets many workers each take
    different rows without waiting on one another. SQLite has no row locks (one
    writer at a time): each row is taken by a conditional UPDATE that re-checks
    the claim condition, so of two workers racing for a row exactly one updates it.
    """
    order = (OutboxMessage.priority.desc(), OutboxMessage.not_before, OutboxMessage.id)
    values = {"status": "sending", "claimed_by": worker, "claimed_at": now, "lease_until": now + lease}
    if session.get_bind().dialect.name == "postgresql":
        ids = list(
            session.scalars(
                select(OutboxMessage.id)
                .where(claimable(now))
                .order_by(*order)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(**values))
        return ids
    candidates = list(session.scalars(select(OutboxMessage.id).where(claimable(now)).order_by(*order).limit(limit)))
    claimed = []
    for row_id in candidates:
        result = session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row_id, claimable(now)).values(**values)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(row_id)
    return claimed


def _mine(row_id: int, worker: str) -> Any:
    return and_(OutboxMessage.id == row_id, OutboxMessage.status == "sending", OutboxMessage.claimed_by == worker)


def _set(session: Session, row_id: int, worker: str, **values: Any) -> bool:
    result = session.execute(update(OutboxMessage).where(_mine(row_id, worker)).values(**values))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def record_attempt(*, session: Session, row_id: int, worker: str, now: dt.datetime, min_lease: dt.timedelta) -> bool:
    """Count a POST about to be made, if the lease still outlasts the longest request. Commit before sending:
    after a crash, ``attempts > 0`` is what makes the next worker look in the tracker first."""
    result = session.execute(
        update(OutboxMessage)
        .where(_mine(row_id, worker), OutboxMessage.lease_until > now + min_lease)
        .values(attempts=OutboxMessage.attempts + 1)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def mark_sent(*, session: Session, row_id: int, worker: str, now: dt.datetime, confirmed_by: str) -> bool:
    """Final ``sent``; a tip also goes into the never-again ledger in the same transaction."""
    row = session.get(OutboxMessage, row_id)
    if row is None or not _set(
        session,
        row_id,
        worker,
        status="sent",
        sent_at=now,
        confirmed_by=confirmed_by,
        lease_until=None,
        next_attempt_at=None,
    ):
        return False
    if row.campaign == "usage_tip" and row.content_ref:
        exists = session.get(OutreachTipSent, (row.customer_id, row.content_ref))
        if exists is None:
            session.add(
                OutreachTipSent(customer_id=row.customer_id, tip_id=row.content_ref, outbox_id=row_id, sent_at=now)
            )
    return True


def mark_skipped(*, session: Session, row_id: int, worker: str, reason: str) -> bool:
    return _set(session, row_id, worker, status="skipped", skip_reason=reason[:200], lease_until=None)


def mark_failed(*, session: Session, row_id: int, worker: str, error: str) -> bool:
    return _set(session, row_id, worker, status="failed", last_error=error[:2000], lease_until=None)


def release(
    *,
    session: Session,
    row_id: int,
    worker: str,
    not_before: dt.datetime | None = None,
    next_attempt_at: dt.datetime | None = None,
    error: str | None = None,
    hold_reason: str | None = None,
    retries: int | None = None,
) -> bool:
    """Back to ``planned``: held for quiet hours, or waiting for a retry after an error."""
    values: dict[str, Any] = {
        "status": "planned",
        "claimed_by": None,
        "lease_until": None,
        "next_attempt_at": next_attempt_at,
    }
    if not_before is not None:
        values["not_before"] = not_before
    if error is not None:
        values["last_error"] = error[:2000]
    if hold_reason is not None:
        values["hold_reason"] = hold_reason[:200]
    if retries is not None:
        values["retries"] = retries
    return _set(session, row_id, worker, **values)


def status_counts(*, session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: int(count) for status, count in rows}


def sent_between(*, session: Session, customer_id: str, start: dt.datetime, end: dt.datetime) -> int:
    """Messages sent to a customer in [start, end): what the caps count."""
    return int(
        session.scalar(
            select(func.count()).where(
                OutboxMessage.customer_id == customer_id,
                OutboxMessage.status == "sent",
                OutboxMessage.sent_at >= start,
                OutboxMessage.sent_at < end,
            )
        )
        or 0
    )
