"""Outreach tables: the outbox of proactive messages, tips already sent, the scheduler's leader lease.

Planning and delivery are separate steps joined only by these rows, so a crash
between them loses and duplicates nothing: planning inserts rows under a unique
idempotency key (customer, campaign, occasion); delivery claims rows with a
lease and records what happened to each one. See docs/OUTREACH.md for the state
machine and the exactly-once argument.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from supportbot.store.models import Base, UTCDateTime, utcnow

OUTBOX_STATUSES = ("planned", "sending", "sent", "skipped", "failed")
"""``planned`` waits for ``not_before``/``next_attempt_at``; ``sending`` is claimed by a
worker under a lease; ``sent``, ``skipped`` and ``failed`` are final."""


class OutboxMessage(Base):
    """One proactive message for one customer, from planning to its final outcome."""

    __tablename__ = "outreach_outbox"
    __table_args__ = (
        # The delivery query: due rows of one status, oldest first.
        Index("ix_outreach_outbox_due", "status", "not_before"),
        # Caps and the tip cadence: what one customer got recently.
        Index("ix_outreach_outbox_customer_sent", "customer_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    campaign: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    """The consent kind (``supportbot.store.models.OUTREACH_KINDS``) this message needs."""
    occasion: Mapped[str] = mapped_column(String(96))
    """What makes the message due, e.g. ``2026-03-01`` or ``sub7:2026-03-15:-14d``."""
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    """``<customer>:<campaign>:<occasion>``: re-planning the same day inserts nothing new."""
    local_day: Mapped[dt.date] = mapped_column(Date)
    """The day in the customer's own time zone the message was planned for (caps count per local day)."""
    content_ref: Mapped[str | None] = mapped_column(String(64))
    """The tip id or milestone code, so a tip is never chosen twice."""
    intent: Mapped[str] = mapped_column(String(64))
    template: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    """JSON object of template variables, rendered at planning time."""
    channel: Mapped[str] = mapped_column(String(32))
    """Rasa output channel name passed to trigger_intent."""
    conversation_id: Mapped[str] = mapped_column(String(255))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """Earliest send time (UTC); quiet hours in the customer's time zone push it, never drop the row."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """POSTs to Rasa that may have reached it; more than zero means: verify before re-sending."""
    retries: Mapped[int] = mapped_column(Integer, default=0)
    """Tries that ended in an error; the backoff grows with it."""
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    skip_reason: Mapped[str | None] = mapped_column(String(200))
    hold_reason: Mapped[str | None] = mapped_column(String(200))
    """Why ``not_before`` was pushed later (quiet hours), for the status report."""
    planned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(96))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    confirmed_by: Mapped[str | None] = mapped_column(String(16))
    """How ``sent`` was established: ``response`` (Rasa's answer held the rendered message) or
    ``tracker`` (an earlier attempt's message was found in the conversation before any resend)."""
    rendered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """When action_deliver_outreach first rendered the message, written in the same transaction
    as the rendering (and the perk's grant): the row's render mark."""
    renders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many times the action rendered it: more than one means Rasa lost a rendered message
    before saving it (the at-least-once case of docs/OUTREACH.md)."""


class OutreachTipSent(Base):
    """Tips a customer already received; the primary key makes "never the same tip twice" a constraint.

    Kept apart from the outbox so archiving old outbox rows can never make a tip
    eligible again.
    """

    __tablename__ = "outreach_tips_sent"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    tip_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outreach_outbox.id", ondelete="SET NULL"))
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SchedulerLease(Base):
    """A named lease in the database: only the holder runs that job (one active planner).

    Delivery needs no leader (rows are claimed one by one); planning does, so two
    scheduler processes do not plan the same day at once and both log skips.
    """

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(96))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
