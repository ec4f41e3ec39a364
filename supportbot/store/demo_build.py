"""Small builders shared by the demo personas and the generated demo customers.

They take every value explicitly (no clock, no randomness) so the same inputs
always build the same rows; ``demo`` decides the values.
"""

from __future__ import annotations

import calendar
import datetime as dt
import unicodedata

from supportbot.store.demo_catalogue import (
    PLANS_BY_CODE,
    PRODUCTS,
    TIER_THRESHOLDS,
)
from supportbot.store.models import (
    OUTREACH_KINDS,
    YEARLY_MONTHS_CHARGED,
    Consent,
    FeatureUsage,
    LoyaltyAccount,
    Order,
    OrderItem,
    Subscription,
)


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day ``months`` later (or earlier), clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def years_before(day: dt.date, years: int) -> dt.date:
    """Same month and day ``years`` earlier; 29 February becomes 28 February if needed."""
    return add_months(day, -12 * years)


def utc_at(day: dt.date, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


def period_months(billing_period: str) -> int:
    return 12 if billing_period == "yearly" else 1


def next_renewal(started_on: dt.date, billing_period: str, *, after: dt.date) -> dt.date:
    """The first billing boundary strictly after ``after``, counted from the start date."""
    step = period_months(billing_period)
    months_between = (after.year - started_on.year) * 12 + after.month - started_on.month
    n = max(1, months_between // step - 1)  # a boundary at least a month before ``after``
    while add_months(started_on, n * step) <= after:
        n += 1
    return add_months(started_on, n * step)


def birthday_in(year: int, day: dt.date) -> dt.date:
    """``day``'s month and day in ``year``; 29 February becomes 28 February in other years."""
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return day.replace(year=year)


def plan_price_cents(plan_code: str, billing_period: str) -> int:
    monthly = PLANS_BY_CODE[plan_code].monthly_price_cents
    return monthly * YEARLY_MONTHS_CHARGED if billing_period == "yearly" else monthly


def subscription(
    *,
    plan_code: str,
    billing_period: str,
    status: str,
    started_on: dt.date,
    renews_on: dt.date | None,
    auto_renew: bool,
    discount_percent: int = 0,
    discount_until: dt.date | None = None,
    cancelled_at: dt.datetime | None = None,
    cancel_reason: str | None = None,
    last_renewed_at: dt.datetime | None = None,
) -> Subscription:
    price = plan_price_cents(plan_code, billing_period) * (100 - discount_percent) // 100
    return Subscription(
        plan_code=plan_code,
        status=status,
        billing_period=billing_period,
        price_cents=price,
        currency="USD",
        started_on=started_on,
        renews_on=renews_on,
        auto_renew=auto_renew,
        cancelled_at=cancelled_at,
        cancel_reason=cancel_reason,
        last_renewed_at=last_renewed_at,
        discount_percent=discount_percent,
        discount_until=discount_until,
    )


def order(
    *,
    order_ref: str,
    placed_at: dt.datetime,
    status: str,
    items: list[tuple[str, int]],
    tracking_code: str | None = None,
    expected_delivery: dt.date | None = None,
) -> Order:
    """An order of catalogue products, given as (product code, quantity) pairs."""
    lines = []
    for code, quantity in items:
        name, sku, price = PRODUCTS[code]
        lines.append(OrderItem(product_name=name, sku=sku, quantity=quantity, unit_price_cents=price))
    return Order(
        order_ref=order_ref,
        placed_at=placed_at,
        status=status,
        total_cents=sum(line.quantity * line.unit_price_cents for line in lines),
        currency="USD",
        tracking_code=tracking_code,
        expected_delivery=expected_delivery,
        items=lines,
    )


def usage(*, feature: str, uses_last_30d: int, first_used_at: dt.datetime, last_used_at: dt.datetime) -> FeatureUsage:
    return FeatureUsage(
        feature=feature,
        uses_last_30d=uses_last_30d,
        first_used_at=first_used_at,
        last_used_at=last_used_at,
    )


def tier_for(lifetime_points: int) -> str:
    return next(tier for tier, floor in TIER_THRESHOLDS if lifetime_points >= floor)


def loyalty(*, lifetime_points: int, points: int, tier_since: dt.date) -> LoyaltyAccount:
    return LoyaltyAccount(
        points=points,
        tier=tier_for(lifetime_points),
        tier_since=tier_since,
        lifetime_points=lifetime_points,
    )


def consents(*, opted_out: tuple[str, ...], at: dt.datetime) -> list[Consent]:
    """One row per outreach kind, so the demo shows explicit decisions, not just defaults."""
    return [
        Consent(kind=kind, granted=kind not in opted_out, source="import", updated_at=at) for kind in OUTREACH_KINDS
    ]


def email_for(first: str, last: str, domain: str, suffix: str = "") -> str:
    """ASCII, lower-case ``first.last`` (accents dropped): Léa Lefèvre -> lea.lefevre."""

    def ascii_part(text: str) -> str:
        plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return "".join(ch for ch in plain.lower() if ch.isalnum() or ch == "-").strip("-")

    return f"{ascii_part(first)}.{ascii_part(last)}{suffix}@{domain}"
