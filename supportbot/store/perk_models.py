"""Perks the business grants (points, discounts, rewards) and the loyalty points ledger.

Why these shapes
- ``perk_grants.grant_key`` is UNIQUE: the idempotency key of a grant (``outbox:<row id>`` for
  a proactive message, ``offer:<...>`` for an accepted offer). Granting twice with the same
  key finds the first grant instead of making a second one, so a message rendered again
  after a lost delivery never grants again (docs/OUTREACH.md).
- ``loyalty_ledger`` holds every movement of points with its reason; the balance is their
  sum. ``loyalty_accounts.points`` stays the balance every reader uses, written only together
  with a ledger row (``supportbot.services.perks``); a balance set outside the ledger (an
  import) is brought in as one ``adjustment`` entry before the next movement.
- ``subscription_discounts`` are discounts attached to a subscription with the last renewal
  date they apply to; the renewal price takes the largest one running (they do not stack).
  ``basis_points`` (1/100 of a percent) so a month's discount on a yearly plan is exact enough.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from supportbot.store.models import Base, UTCDateTime, utcnow

PERK_KINDS = ("points", "percent_off", "free_month", "reward")
GRANT_STATUSES = ("granted", "claimable", "claimed")
"""Points and discounts are ``granted`` (in effect at once); a reward is ``claimable`` until handed over."""


class PerkGrant(Base):
    """One perk given to one customer, with what it was for."""

    __tablename__ = "perk_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    grant_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int | None] = mapped_column(Integer)
    percent: Mapped[int | None] = mapped_column(Integer)
    """percent_off: K % off; free_month: 100."""
    months: Mapped[int | None] = mapped_column(Integer)
    reward: Mapped[str | None] = mapped_column(String(120))
    """The reward's name, e.g. ``Lumen Pen case``."""
    status: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(300))
    """What the customer is told they got, generated from the grant itself."""
    reason: Mapped[str] = mapped_column(String(200))
    """Why: ``birthday 2026``, ``retention offer accepted``..."""
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outreach_outbox.id", ondelete="SET NULL"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoyaltyLedgerEntry(Base):
    """One movement of loyalty points; the balance is the sum of a customer's entries."""

    __tablename__ = "loyalty_ledger"
    __table_args__ = (Index("ix_loyalty_ledger_customer", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    points: Mapped[int] = mapped_column(Integer)
    """Positive: credited; negative: redeemed or taken back."""
    reason: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    """``opening`` (balance before the ledger), ``adjustment`` (set outside it), ``perk``, ``redemption``."""
    perk_grant_id: Mapped[int | None] = mapped_column(ForeignKey("perk_grants.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriptionDiscount(Base):
    """A discount on a subscription's renewals up to and including ``until``."""

    __tablename__ = "subscription_discounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    basis_points: Mapped[int] = mapped_column(Integer)
    """Off each renewal charge it covers: 1000 = 10 %, 10000 = free."""
    starts_on: Mapped[dt.date] = mapped_column(Date)
    until: Mapped[dt.date] = mapped_column(Date)
    """The last renewal date it applies to."""
    reason: Mapped[str] = mapped_column(String(200))
    perk_grant_id: Mapped[int | None] = mapped_column(ForeignKey("perk_grants.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
