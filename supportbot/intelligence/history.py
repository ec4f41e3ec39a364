"""Everything the models read from the profile store, loaded once into plain records.

Features at a cut-off (``features``) are computed from these records in Python, so one load
serves many cut-offs (training stacks a year of monthly cut-offs) and the rule "nothing after
the cut-off" is applied in one place, on timestamps, not spread over SQL queries.

Only columns whose past values are known are loaded for training. ``subscriptions.status``,
``auto_renew`` and discounts, ``customers.last_active_at``, ``feature_usage.uses_last_30d`` and
``last_used_at`` and loyalty tiers describe *now*; at a past cut-off they would leak the
outcome (a cancelled subscription has ``auto_renew`` off). Usage as it was comes from
``usage_snapshots`` instead; current state is used only when scoring now (``current=True``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportbot.store.feedback_models import Feedback
from supportbot.store.intelligence_models import UsageSnapshot
from supportbot.store.models import Customer, FeatureUsage, Order, Plan, Subscription, SupportInteraction


@dataclass(frozen=True)
class SubscriptionRecord:
    plan_code: str
    billing_period: str
    price_cents: int
    started_on: dt.date
    cancelled_at: dt.datetime | None
    status: str
    renews_on: dt.date | None
    auto_renew: bool


@dataclass(frozen=True)
class UsageRecord:
    feature: str
    uses_last_30d: int
    last_used_at: dt.datetime | None


@dataclass
class CustomerHistory:
    customer_id: str
    customer_since: dt.date
    segment: str
    subscriptions: list[SubscriptionRecord] = field(default_factory=list)
    orders: list[tuple[dt.datetime, int, str]] = field(default_factory=list)
    """(placed_at, total_cents, status), oldest first."""
    interactions: list[tuple[dt.datetime, str]] = field(default_factory=list)
    ratings: list[tuple[dt.datetime, str, int]] = field(default_factory=list)
    """(created_at, ``csat`` | ``nps``, rating), oldest first."""
    first_used: dict[str, dt.datetime] = field(default_factory=dict)
    """Feature → first use (immutable once set, so safe at any cut-off)."""
    snapshots: dict[dt.date, list[UsageRecord]] = field(default_factory=dict)
    current_usage: list[UsageRecord] = field(default_factory=list)


@dataclass
class StoreHistory:
    customers: dict[str, CustomerHistory]
    plan_features: dict[str, frozenset[str]]
    plan_names: dict[str, str]


def load_history(*, session: Session) -> StoreHistory:
    """One pass over the tables the models use; rows of customers that no longer exist are ignored."""
    customers = {
        c.id: CustomerHistory(c.id, c.customer_since, c.segment)
        for c in session.scalars(select(Customer).order_by(Customer.id))
    }
    for s in session.scalars(select(Subscription).order_by(Subscription.started_on, Subscription.id)):
        if s.customer_id in customers:
            customers[s.customer_id].subscriptions.append(
                SubscriptionRecord(
                    s.plan_code,
                    s.billing_period,
                    s.price_cents,
                    s.started_on,
                    s.cancelled_at,
                    s.status,
                    s.renews_on,
                    s.auto_renew,
                )
            )
    for o in session.execute(
        select(Order.customer_id, Order.placed_at, Order.total_cents, Order.status).order_by(Order.placed_at)
    ):
        if o.customer_id in customers:
            customers[o.customer_id].orders.append((o.placed_at, o.total_cents, o.status))
    for i in session.execute(
        select(SupportInteraction.customer_id, SupportInteraction.created_at, SupportInteraction.kind).order_by(
            SupportInteraction.created_at
        )
    ):
        if i.customer_id in customers:
            customers[i.customer_id].interactions.append((i.created_at, i.kind))
    rated = select(Feedback.customer_id, Feedback.created_at, Feedback.kind, Feedback.rating).where(
        Feedback.rating.is_not(None), Feedback.kind.in_(("csat", "nps"))
    )
    for f in session.execute(rated.order_by(Feedback.created_at)):
        if f.customer_id in customers:
            customers[f.customer_id].ratings.append((f.created_at, f.kind, int(f.rating)))
    for u in session.scalars(select(FeatureUsage)):
        if u.customer_id not in customers:
            continue
        history = customers[u.customer_id]
        if u.first_used_at is not None:
            history.first_used[u.feature] = u.first_used_at
        history.current_usage.append(UsageRecord(u.feature, u.uses_last_30d, u.last_used_at))
    snapshots: dict[str, dict[dt.date, list[UsageRecord]]] = defaultdict(lambda: defaultdict(list))
    for snap in session.scalars(select(UsageSnapshot).order_by(UsageSnapshot.taken_on)):
        snapshots[snap.customer_id][snap.taken_on].append(
            UsageRecord(snap.feature, snap.uses_last_30d, snap.last_used_at)
        )
    for customer_id, by_day in snapshots.items():
        if customer_id in customers:
            customers[customer_id].snapshots = dict(by_day)
    plans = list(session.scalars(select(Plan)))
    return StoreHistory(
        customers=customers,
        plan_features={p.code: frozenset(f for f in p.features.split(",") if f) for p in plans},
        plan_names={p.code: p.name for p in plans},
    )
