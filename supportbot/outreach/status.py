"""A plain-text summary of the outbox for ``python -m scheduler status`` (and operators' eyes)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportbot.outreach.outbox import claimable
from supportbot.store.outreach_models import OutboxMessage


def outbox_status(*, session: Session, now: dt.datetime, failures: int = 5) -> str:
    lines = []
    by_campaign = session.execute(
        select(OutboxMessage.campaign, OutboxMessage.status, func.count())
        .group_by(OutboxMessage.campaign, OutboxMessage.status)
        .order_by(OutboxMessage.campaign, OutboxMessage.status)
    ).all()
    totals: dict[str, int] = {}
    for _campaign, status, count in by_campaign:
        totals[status] = totals.get(status, 0) + int(count)
    lines.append("outbox: " + (", ".join(f"{s} {n}" for s, n in sorted(totals.items())) or "empty"))
    for campaign, status, count in by_campaign:
        lines.append(f"  {campaign:<18} {status:<8} {count:>8}")
    due = session.scalar(select(func.count()).where(claimable(now))) or 0
    waiting = (
        session.scalar(select(func.count()).where(OutboxMessage.status == "planned", OutboxMessage.not_before > now))
        or 0
    )
    retrying = (
        session.scalar(
            select(func.count()).where(OutboxMessage.status == "planned", OutboxMessage.next_attempt_at > now)
        )
        or 0
    )
    lines.append(
        f"due now {due}; waiting for their time (send time, quiet hours) {waiting}; in retry backoff {retrying}"
    )
    for row in session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.last_error.is_not(None), OutboxMessage.status.in_(("failed", "planned")))
        .order_by(OutboxMessage.id.desc())
        .limit(failures)
    ):
        lines.append(f"  #{row.id} {row.status} {row.customer_id} {row.campaign}: {row.last_error}")
    return "\n".join(lines)
