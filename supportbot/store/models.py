"""Profile store schema (app environment, SQLAlchemy 2).

The profile store is the single source of truth about customers: who they are,
what they pay for, what they bought, how they use the product, what they agreed
to receive and how to reach them. Rasa never reads it directly: the action
server and the scheduler do, through ``supportbot.store.repo``.

Schema changes go through Alembic migrations in ``migrations/``; never change a
column here without adding a migration.

Conventions
- Customer ids are opaque strings chosen by the business (``C000123``); they are
  what a host website puts in a customer token's ``sub`` claim.
- Money is stored in integer minor units (cents) with an ISO currency code.
- Every timestamp is stored as naive UTC and returned timezone-aware (UTC), so
  arithmetic in the customer's own time zone is explicit and never ambiguous.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Explicit constraint names keep migrations reproducible across SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OUTREACH_KINDS = ("tips", "renewal", "milestones", "perks", "feedback")
"""Kinds of proactive message a customer can consent to or opt out of, one by one."""

SUBSCRIPTION_STATUSES = ("trial", "active", "past_due", "cancelled")
ORDER_STATUSES = ("processing", "shipped", "delivered", "cancelled", "returned")
LOYALTY_TIERS = ("bronze", "silver", "gold", "platinum")
BILLING_PERIODS = ("monthly", "yearly")
SEGMENTS = ("consumer", "small_business", "enterprise", "education")
PREFERRED_CHANNELS = ("web", "email", "sms", "telegram", "whatsapp", "slack")
"""Where a customer prefers to be reached: ``web`` is the website widget."""
FEATURES = (
    "notes",
    "sync",
    "reminders",
    "templates",
    "sharing",
    "calendar",
    "offline",
    "automation",
    "api",
    "admin_console",
    "sso",
    "analytics",
)
"""Product feature codes, as used in ``Plan.features`` and ``FeatureUsage.feature``."""
INTERACTION_KINDS = (
    "handoff",
    "problem_report",
    "cancellation",
    "renewal",
    "plan_change",
    "retention_offer",
    "profile_update",
    "consent_change",
    "points_redemption",
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC; refuses naive input so no local time sneaks in."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


YEARLY_MONTHS_CHARGED = 10
"""A yearly subscription costs ten monthly prices: two months free."""


class Plan(Base):
    """The plan catalogue: what a subscription can be on, and in which order plans rank."""

    __tablename__ = "plans"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    monthly_price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    features: Mapped[str] = mapped_column(Text, default="")
    """Comma-separated feature codes included in the plan."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def price_cents_for(self, billing_period: str) -> int:
        """The catalogue price of one billing period."""
        return self.monthly_price_cents * (YEARLY_MONTHS_CHARGED if billing_period == "yearly" else 1)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16), default="en-US")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    birthday: Mapped[dt.date | None] = mapped_column(Date)
    customer_since: Mapped[dt.date] = mapped_column(Date)
    segment: Mapped[str] = mapped_column(String(32), default="consumer")
    preferred_channel: Mapped[str] = mapped_column(String(32), default="web")
    quiet_hours_start: Mapped[dt.time] = mapped_column(Time, default=dt.time(21, 0))
    quiet_hours_end: Mapped[dt.time] = mapped_column(Time, default=dt.time(8, 0))
    last_active_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Subscription.id"
    )
    orders: Mapped[list[Order]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Order.placed_at"
    )
    usage: Mapped[list[FeatureUsage]] = relationship(back_populates="customer", cascade="all, delete-orphan")
    loyalty: Mapped[LoyaltyAccount | None] = relationship(back_populates="customer", cascade="all, delete-orphan")
    consents: Mapped[list[Consent]] = relationship(back_populates="customer", cascade="all, delete-orphan")
    channel_identities: Mapped[list[ChannelIdentity]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    interactions: Mapped[list[SupportInteraction]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    plan_code: Mapped[str] = mapped_column(ForeignKey("plans.code"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    billing_period: Mapped[str] = mapped_column(String(8), default="monthly")
    """``monthly`` or ``yearly``."""
    price_cents: Mapped[int] = mapped_column(Integer)
    """What this customer pays per billing period (may differ from the catalogue: discounts)."""
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    started_on: Mapped[dt.date] = mapped_column(Date)
    renews_on: Mapped[dt.date | None] = mapped_column(Date)
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    last_renewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    discount_percent: Mapped[int] = mapped_column(Integer, default=0)
    discount_until: Mapped[dt.date | None] = mapped_column(Date)

    customer: Mapped[Customer] = relationship(back_populates="subscriptions")
    plan: Mapped[Plan] = relationship()


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    order_ref: Mapped[str] = mapped_column(String(32), unique=True)
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="processing")
    total_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    tracking_code: Mapped[str | None] = mapped_column(String(64))
    expected_delivery: Mapped[dt.date | None] = mapped_column(Date)

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.id"
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_name: Mapped[str] = mapped_column(String(120))
    sku: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price_cents: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="items")


class FeatureUsage(Base):
    """How a customer uses one product feature; drives usage tips."""

    __tablename__ = "feature_usage"
    __table_args__ = (UniqueConstraint("customer_id", "feature"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    feature: Mapped[str] = mapped_column(String(64))
    uses_last_30d: Mapped[int] = mapped_column(Integer, default=0)
    first_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship(back_populates="usage")


class LoyaltyAccount(Base):
    __tablename__ = "loyalty_accounts"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    points: Mapped[int] = mapped_column(Integer, default=0)
    tier: Mapped[str] = mapped_column(String(16), default="bronze")
    tier_since: Mapped[dt.date | None] = mapped_column(Date)
    lifetime_points: Mapped[int] = mapped_column(Integer, default=0)

    customer: Mapped[Customer] = relationship(back_populates="loyalty")


class LoyaltyReward(Base):
    """The rewards catalogue customers can redeem points for."""

    __tablename__ = "loyalty_rewards"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    points_cost: Mapped[int] = mapped_column(Integer)
    min_tier: Mapped[str] = mapped_column(String(16), default="bronze")


class Consent(Base):
    """Consent to one kind of proactive message. No row means the business default (granted)."""

    __tablename__ = "consents"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(32), default="import")
    """Where the decision came from: ``import``, ``chat``, ``console``."""
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="consents")


class ChannelIdentity(Base):
    """A verified link between a conversation channel identity and a customer.

    ``channel`` is Rasa's input channel name (``rest``, ``socketio``, ``telegram``...)
    and ``external_id`` the sender id Rasa sees on it.
    """

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    linked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship(back_populates="channel_identities")


class LinkCode(Base):
    """A one-time code a verified website customer gets to link a messaging account.

    Only a hash of the code is stored; it works once, until ``expires_at``.
    """

    __tablename__ = "link_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LinkAttempt(Base):
    """A failed attempt to link, kept to stop guessing (a few per hour per messaging user)."""

    __tablename__ = "link_attempts"
    __table_args__ = (Index("ix_link_attempts_sender", "channel", "external_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SupportInteraction(Base):
    """Something a person may need to see: a handoff, a problem report, a cancellation..."""

    __tablename__ = "support_interactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(255), index=True)
    channel: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="open")
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A handoff's way through the inbox (migration 0014, supportbot.services.handoff): status
    # open (waiting in the queue) → claimed (a person has it, the bot is paused) → returned
    # (handed back to the bot, not yet closed) → closed. Other kinds leave these empty.
    waiting_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """When the customer last asked for a person: the queue's order and its waiting time."""
    assigned_to: Mapped[int | None] = mapped_column(Integer)
    """The console user who claimed it (no foreign key: see migration 0014; staff are never deleted)."""
    assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_reply_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """The first message a person wrote to the customer (time to first human reply)."""
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    handed_back_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(16))
    """``resolved`` or ``not_resolved``, set when a person closes the handoff."""
    close_note: Mapped[str | None] = mapped_column(Text)
    email_follow_up: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Asked outside support hours: the customer prefers an answer by email."""

    customer: Mapped[Customer | None] = relationship(back_populates="interactions")
