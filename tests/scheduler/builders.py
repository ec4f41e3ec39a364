"""Builders for outreach tests: customers with exactly the facts a test is about, and a frozen clock.

Dates are fixed (no ``today()``): a test of 29 February must not depend on the
day it runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from supportbot.outreach.config import OutreachConfig, load_config
from supportbot.store.models import (
    ChannelIdentity,
    Consent,
    Customer,
    FeatureUsage,
    LoyaltyAccount,
    Order,
    Subscription,
    SupportInteraction,
)

DAY = dt.date(2026, 3, 10)
"""A Tuesday; the day most tests plan."""
NOW = dt.datetime(2026, 3, 10, 0, 30, tzinfo=dt.UTC)
"""Early on DAY in UTC: DAY has begun everywhere from UTC-0:30 eastwards (Los Angeles is still on the 9th)."""


class FrozenClock:
    """A clock tests move by hand; the scheduler's code only ever calls it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def config(**caps: int) -> OutreachConfig:
    """The shipped campaign file, with caps replaced where a test says so."""
    base = load_config()
    if caps:
        return base.model_copy(update={"caps": base.caps.model_copy(update=caps)})
    return base


def add(
    session: Session,
    customer_id: str,
    *,
    time_zone: str = "UTC",
    quiet: tuple[dt.time, dt.time] = (dt.time(21, 0), dt.time(8, 0)),
    birthday: dt.date | None = None,
    customer_since: dt.date = dt.date(2024, 6, 1),
    segment: str = "consumer",
    plan: str | None = "plus",
    status: str = "active",
    renews_on: dt.date | None = dt.date(2026, 5, 1),
    auto_renew: bool = True,
    used: tuple[str, ...] = ("notes", "sync"),
    tier: str | None = None,
    tier_since: dt.date | None = None,
    consents: dict[str, bool] | None = None,
    **fields: Any,
) -> Customer:
    """A customer with only the facts given; by default nothing is due on ``DAY``
    except a usage tip (they use notes and sync; their Plus plan has more)."""
    customer = Customer(
        id=customer_id,
        first_name=fields.pop("first_name", customer_id.title()),
        last_name="Example",
        email=f"{customer_id.lower()}@example.com",
        time_zone=time_zone,
        quiet_hours_start=quiet[0],
        quiet_hours_end=quiet[1],
        birthday=birthday,
        customer_since=customer_since,
        segment=segment,
        **fields,
    )
    if plan:
        customer.subscriptions.append(
            Subscription(
                plan_code=plan,
                status=status,
                price_cents=1200,
                started_on=customer_since,
                renews_on=renews_on,
                auto_renew=auto_renew,
            )
        )
    for feature in used:
        customer.usage.append(FeatureUsage(feature=feature, uses_last_30d=12))
    if tier:
        customer.loyalty = LoyaltyAccount(points=100, tier=tier, tier_since=tier_since)
    for kind, granted in (consents or {}).items():
        customer.consents.append(Consent(kind=kind, granted=granted, source="import"))
    session.add(customer)
    session.flush()
    return customer


def add_orders(session: Session, customer_id: str, *, placed: list[dt.datetime]) -> None:
    for number, when in enumerate(placed):
        session.add(
            Order(
                customer_id=customer_id,
                order_ref=f"{customer_id}-{number}",
                placed_at=when,
                status="delivered",
                total_cents=1000,
            )
        )
    session.flush()


def add_closed_handoff(session: Session, customer_id: str, *, closed_at: dt.datetime) -> int:
    row = SupportInteraction(
        customer_id=customer_id,
        kind="handoff",
        status="closed",
        summary="needed a person",
        created_at=closed_at - dt.timedelta(hours=1),
        closed_at=closed_at,
    )
    session.add(row)
    session.flush()
    return row.id


def link(
    session: Session, customer_id: str, *, channel: str, external_id: str, seen: dt.datetime | None = None
) -> None:
    session.add(
        ChannelIdentity(
            customer_id=customer_id,
            channel=channel,
            external_id=external_id,
            linked_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            last_seen_at=seen,
        )
    )
    session.flush()
