"""The profile store's read interface: small, typed views of what conversations need.

Views are frozen dataclasses, detached from the session, so a caller can keep
them after the unit of work ends and nothing lazy-loads behind its back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session, selectinload

from supportbot.store.models import (
    OUTREACH_KINDS,
    ChannelIdentity,
    Customer,
    FeatureUsage,
    LoyaltyAccount,
    LoyaltyReward,
    Order,
    Plan,
    Subscription,
)
from supportbot.store.perk_models import LoyaltyLedgerEntry, PerkGrant, SubscriptionDiscount


@dataclass(frozen=True)
class PlanView:
    code: str
    name: str
    rank: int
    monthly_price_cents: int
    currency: str
    features: tuple[str, ...]


@dataclass(frozen=True)
class DiscountView:
    """A discount on renewals from ``starts_on`` to ``until`` (the last renewal date it covers)."""

    basis_points: int
    """1000 = 10 % off; 10000 = free."""
    starts_on: dt.date
    until: dt.date
    reason: str


def price_after(price_cents: int, basis_points: int) -> int:
    return round(price_cents * (10_000 - min(basis_points, 10_000)) / 10_000)


def best_discount(
    day: dt.date, *, discount_percent: int, discount_until: dt.date | None, discounts: Iterable[DiscountView]
) -> int:
    """Basis points off the renewal charge on ``day``: the largest discount running then (the
    retention offer's two columns or a perk's row); discounts do not stack."""
    best = discount_percent * 100 if discount_percent and discount_until and day <= discount_until else 0
    for discount in discounts:
        if discount.starts_on <= day <= discount.until:
            best = max(best, discount.basis_points)
    return best


@dataclass(frozen=True)
class SubscriptionView:
    id: int
    plan: PlanView
    status: str
    billing_period: str
    price_cents: int
    currency: str
    started_on: dt.date
    renews_on: dt.date | None
    auto_renew: bool
    discount_percent: int
    discount_until: dt.date | None
    discounts: tuple[DiscountView, ...] = ()
    """Perk discounts (``subscription_discounts``), beside the retention offer's two columns."""

    def price_on(self, day: dt.date) -> int:
        """What the renewal charge on ``day`` costs: the largest discount running then applies
        (the retention offer's or a perk's; they do not stack)."""
        best = best_discount(
            day, discount_percent=self.discount_percent, discount_until=self.discount_until, discounts=self.discounts
        )
        return price_after(self.price_cents, best)


@dataclass(frozen=True)
class OrderView:
    order_ref: str
    placed_at: dt.datetime
    status: str
    total_cents: int
    currency: str
    items: tuple[str, ...]
    tracking_code: str | None
    expected_delivery: dt.date | None


@dataclass(frozen=True)
class LoyaltyView:
    points: int
    tier: str
    tier_since: dt.date | None


@dataclass(frozen=True)
class LedgerEntryView:
    points: int
    reason: str
    source: str
    at: dt.datetime


@dataclass(frozen=True)
class PerkView:
    """A perk granted to the customer, as they and the support team see it."""

    kind: str
    description: str
    reason: str
    status: str
    granted_at: dt.datetime


@dataclass(frozen=True)
class RewardView:
    code: str
    name: str
    points_cost: int
    min_tier: str


@dataclass(frozen=True)
class UsageView:
    feature: str
    uses_last_30d: int
    last_used_at: dt.datetime | None


@dataclass(frozen=True)
class Profile:
    customer_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    locale: str
    time_zone: str
    birthday: dt.date | None
    customer_since: dt.date
    segment: str
    preferred_channel: str
    subscription: SubscriptionView | None
    loyalty: LoyaltyView | None
    last_order: OrderView | None
    usage: tuple[UsageView, ...] = ()
    consents: dict[str, bool] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def _plan_view(plan: Plan) -> PlanView:
    features = tuple(f for f in (plan.features or "").split(",") if f)
    return PlanView(plan.code, plan.name, plan.rank, plan.monthly_price_cents, plan.currency, features)


def _discount_views(sub: Subscription) -> tuple[DiscountView, ...]:
    session = object_session(sub)
    if session is None or sub.id is None:
        return ()
    rows = session.scalars(
        select(SubscriptionDiscount)
        .where(SubscriptionDiscount.subscription_id == sub.id)
        .order_by(SubscriptionDiscount.starts_on, SubscriptionDiscount.id)
    )
    return tuple(DiscountView(d.basis_points, d.starts_on, d.until, d.reason) for d in rows)


def _subscription_view(sub: Subscription) -> SubscriptionView:
    return SubscriptionView(
        id=sub.id,
        plan=_plan_view(sub.plan),
        status=sub.status,
        billing_period=sub.billing_period,
        price_cents=sub.price_cents,
        currency=sub.currency,
        started_on=sub.started_on,
        renews_on=sub.renews_on,
        auto_renew=sub.auto_renew,
        discount_percent=sub.discount_percent,
        discount_until=sub.discount_until,
        discounts=_discount_views(sub),
    )


def _order_view(order: Order) -> OrderView:
    items = tuple(f"{i.quantity} × {i.product_name}" if i.quantity > 1 else i.product_name for i in order.items)
    return OrderView(
        order_ref=order.order_ref,
        placed_at=order.placed_at,
        status=order.status,
        total_cents=order.total_cents,
        currency=order.currency,
        items=items,
        tracking_code=order.tracking_code,
        expected_delivery=order.expected_delivery,
    )


def current_subscription(customer: Customer) -> Subscription | None:
    """The subscription a customer means by "my plan": the newest one not cancelled,
    else the newest cancelled one (it still runs until its end date)."""
    subs = sorted(customer.subscriptions, key=lambda s: s.id, reverse=True)
    for sub in subs:
        if sub.status != "cancelled":
            return sub
    return subs[0] if subs else None


def get_profile(*, session: Session, customer_id: str) -> Profile | None:
    customer = session.scalar(
        select(Customer)
        .where(Customer.id == customer_id)
        .options(
            selectinload(Customer.subscriptions).selectinload(Subscription.plan),
            selectinload(Customer.loyalty),
            selectinload(Customer.consents),
            selectinload(Customer.usage),
        )
    )
    if customer is None:
        return None
    sub = current_subscription(customer)
    last_order = session.scalar(
        select(Order)
        .where(Order.customer_id == customer_id)
        .order_by(Order.placed_at.desc())
        .options(selectinload(Order.items))
        .limit(1)
    )
    loyalty: LoyaltyAccount | None = customer.loyalty
    consents = {kind: True for kind in OUTREACH_KINDS}
    consents.update({c.kind: c.granted for c in customer.consents})
    usage = tuple(
        UsageView(u.feature, u.uses_last_30d, u.last_used_at)
        for u in sorted(customer.usage, key=lambda u: -u.uses_last_30d)
    )
    return Profile(
        customer_id=customer.id,
        first_name=customer.first_name,
        last_name=customer.last_name,
        email=customer.email,
        phone=customer.phone,
        locale=customer.locale,
        time_zone=customer.time_zone,
        birthday=customer.birthday,
        customer_since=customer.customer_since,
        segment=customer.segment,
        preferred_channel=customer.preferred_channel,
        subscription=_subscription_view(sub) if sub else None,
        loyalty=LoyaltyView(loyalty.points, loyalty.tier, loyalty.tier_since) if loyalty else None,
        last_order=_order_view(last_order) if last_order else None,
        usage=usage,
        consents=consents,
    )


def recent_orders(*, session: Session, customer_id: str, limit: int = 3) -> list[OrderView]:
    orders = session.scalars(
        select(Order)
        .where(Order.customer_id == customer_id)
        .order_by(Order.placed_at.desc())
        .options(selectinload(Order.items))
        .limit(limit)
    )
    return [_order_view(o) for o in orders]


def find_order(*, session: Session, customer_id: str, order_ref: str) -> OrderView | None:
    """An order by reference, only if it belongs to this customer (never leak others' orders)."""
    order = session.scalar(
        select(Order)
        .where(Order.customer_id == customer_id, Order.order_ref == order_ref)
        .options(selectinload(Order.items))
    )
    return _order_view(order) if order else None


def plan_catalogue(*, session: Session) -> list[PlanView]:
    plans = session.scalars(select(Plan).where(Plan.active.is_(True)).order_by(Plan.rank))
    return [_plan_view(p) for p in plans]


def loyalty_rewards(*, session: Session) -> list[RewardView]:
    rewards = session.scalars(select(LoyaltyReward).order_by(LoyaltyReward.points_cost))
    return [RewardView(r.code, r.name, r.points_cost, r.min_tier) for r in rewards]


def loyalty_history(*, session: Session, customer_id: str, limit: int = 5) -> list[LedgerEntryView]:
    """The latest movements of points, newest first, each with its reason."""
    rows = session.scalars(
        select(LoyaltyLedgerEntry)
        .where(LoyaltyLedgerEntry.customer_id == customer_id)
        .order_by(LoyaltyLedgerEntry.created_at.desc(), LoyaltyLedgerEntry.id.desc())
        .limit(limit)
    )
    return [LedgerEntryView(e.points, e.reason, e.source, e.created_at) for e in rows]


def granted_perks(*, session: Session, customer_id: str, limit: int = 10) -> list[PerkView]:
    """Perks granted to the customer, newest first (claimable rewards included)."""
    rows = session.scalars(
        select(PerkGrant)
        .where(PerkGrant.customer_id == customer_id)
        .order_by(PerkGrant.granted_at.desc(), PerkGrant.id.desc())
        .limit(limit)
    )
    return [PerkView(g.kind, g.description, g.reason, g.status, g.granted_at) for g in rows]


def feature_usage(*, session: Session, customer_id: str) -> list[UsageView]:
    rows = session.scalars(
        select(FeatureUsage).where(FeatureUsage.customer_id == customer_id).order_by(FeatureUsage.uses_last_30d.desc())
    )
    return [UsageView(u.feature, u.uses_last_30d, u.last_used_at) for u in rows]


def customer_for_channel(*, session: Session, channel: str, external_id: str) -> str | None:
    """The customer a messaging-channel user was linked to, if any."""
    return session.scalar(
        select(ChannelIdentity.customer_id).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
    )
