"""Named leases in the profile database: at most one holder at a time, taken over when expired.

The scheduler process uses one for planning, so that when two scheduler
processes run (a deploy overlapping the old one, or a standby), one plans and
the other waits. Delivery needs no lease: its rows are claimed one by one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from supportbot.store.outreach_models import SchedulerLease


def acquire_lease(*, session: Session, name: str, holder: str, now: dt.datetime, ttl: dt.timedelta) -> bool:
    """Take or renew lease ``name`` for ``holder`` until ``now + ttl``; False if someone else holds it.

    The caller commits. Renewal and take-over are one conditional UPDATE (holder is
    us, or the lease ran out); the first ever holder inserts the row, and of two
    racing inserts the primary key lets one win.
    """
    result = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if session.get(SchedulerLease, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(SchedulerLease(name=name, holder=holder, expires_at=now + ttl))
    except IntegrityError:
        return False
    return True


def release_lease(*, session: Session, name: str, holder: str, now: dt.datetime) -> None:
    """Let the lease go at once (on a clean shutdown), so a standby need not wait for it to expire."""
    session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=now)
    )
