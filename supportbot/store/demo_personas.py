"""The five fixed demo customers that docs, demos and tests talk about by name.

Documented in ``docs/DEMO_DATA.md``; change both together. Dates are relative
to the reference date so each persona is always in the situation described
(Maya's renewal is always 10 days away), and birthdays that are not the point
of a persona are kept months away from the reference date so they never
collide with "birthday today" checks.
"""

from __future__ import annotations

import datetime as dt

from supportbot.store import demo_build as b
from supportbot.store.models import ChannelIdentity, Customer, FeatureUsage

DAY = dt.timedelta(days=1)


def build_personas(reference_date: dt.date) -> list[Customer]:
    ref = reference_date
    return [_maya(ref), _kenji(ref), _sofia(ref), _liam(ref), _priya(ref)]


def _customer(*, since: dt.date, **fields: object) -> Customer:
    at = b.utc_at(since)
    return Customer(customer_since=since, created_at=at, updated_at=at, **fields)


def _maya(ref: dt.date) -> Customer:
    """Loyal pro customer in London: renewal in 10 days, a parcel on its way, unused pro features."""
    renews_on = ref + 10 * DAY
    since = b.add_months(renews_on, -37)
    c = _customer(
        id="C000001",
        first_name="Maya",
        last_name="Patel",
        email="maya.patel@example.com",
        phone="+44 7700 900123",
        locale="en-GB",
        time_zone="Europe/London",
        birthday=b.birthday_in(1990, ref + 120 * DAY),
        since=since,
        segment="consumer",
        preferred_channel="web",
        quiet_hours_start=dt.time(22, 0),
        quiet_hours_end=dt.time(7, 0),
        last_active_at=b.utc_at(ref, 6, 15),
    )
    c.subscriptions = [
        b.subscription(
            plan_code="pro",
            billing_period="monthly",
            status="active",
            started_on=since,
            renews_on=renews_on,
            auto_renew=True,
            last_renewed_at=b.utc_at(b.add_months(renews_on, -1), 6),
        )
    ]
    c.orders = [
        b.order(
            order_ref="204517",
            placed_at=b.utc_at(ref - 240 * DAY, 18, 42),
            status="delivered",
            items=[("pen", 1)],
            tracking_code="LMN204517001",
            expected_delivery=ref - 236 * DAY,
        ),
        b.order(
            order_ref="318842",
            placed_at=b.utc_at(ref - 65 * DAY, 9, 5),
            status="delivered",
            items=[("tips", 2), ("sleeve", 1)],
            tracking_code="LMN318842001",
            expected_delivery=ref - 61 * DAY,
        ),
        b.order(
            order_ref="427705",
            placed_at=b.utc_at(ref - 2 * DAY, 20, 11),
            status="shipped",
            items=[("stand", 1)],
            tracking_code="LMN427705001",
            expected_delivery=ref + 3 * DAY,
        ),
    ]
    c.usage = _usage(
        since, ref, {"notes": 212, "sync": 180, "templates": 46, "reminders": 30, "calendar": 12, "sharing": 4}
    )
    c.loyalty = b.loyalty(lifetime_points=5400, points=3200, tier_since=ref - 150 * DAY)
    c.consents = b.consents(opted_out=(), at=b.utc_at(since))
    c.channel_identities = [
        ChannelIdentity(
            channel="telegram",
            external_id="700000001",
            linked_at=b.utc_at(ref - 300 * DAY),
            last_seen_at=b.utc_at(ref - 4 * DAY, 19),
        )
    ]
    return c


def _kenji(ref: dt.date) -> Customer:
    """Light Plus user in Tokyo: birthday today, yearly renewal in 30 days, no feedback requests."""
    renews_on = ref + 30 * DAY
    since = b.add_months(renews_on, -24)
    c = _customer(
        id="C000002",
        first_name="Kenji",
        last_name="Tanaka",
        email="kenji.tanaka@example.org",
        phone=None,
        locale="ja-JP",
        time_zone="Asia/Tokyo",
        birthday=b.birthday_in(1988, ref),
        since=since,
        segment="consumer",
        preferred_channel="telegram",
        last_active_at=b.utc_at(ref - 9 * DAY, 11),
    )
    c.subscriptions = [
        b.subscription(
            plan_code="plus",
            billing_period="yearly",
            status="active",
            started_on=since,
            renews_on=renews_on,
            auto_renew=True,
            last_renewed_at=b.utc_at(b.add_months(renews_on, -12), 6),
        )
    ]
    c.orders = [
        b.order(
            order_ref="512390",
            placed_at=b.utc_at(ref - 150 * DAY, 3, 30),
            status="delivered",
            items=[("mat", 1)],
            tracking_code="LMN512390001",
            expected_delivery=ref - 145 * DAY,
        )
    ]
    c.usage = _usage(since, ref, {"notes": 6, "reminders": 2}, last_used_days_ago=9)
    c.loyalty = b.loyalty(lifetime_points=1800, points=1400, tier_since=ref - 200 * DAY)
    c.consents = b.consents(opted_out=("feedback",), at=b.utc_at(since))
    c.channel_identities = [
        ChannelIdentity(
            channel="telegram",
            external_id="700000002",
            linked_at=b.utc_at(ref - 400 * DAY),
            last_seen_at=b.utc_at(ref - 9 * DAY, 11),
        )
    ]
    return c


def _sofia(ref: dt.date) -> Customer:
    """Business customer in São Paulo: payment failed 3 days ago, platinum, heavy user, no tips."""
    renews_on = ref - 3 * DAY
    since = b.add_months(renews_on, -58)
    c = _customer(
        id="C000003",
        first_name="Sofia",
        last_name="Oliveira",
        email="sofia.oliveira@example.com",
        phone=None,
        locale="pt-BR",
        time_zone="America/Sao_Paulo",
        birthday=b.birthday_in(1985, ref + 200 * DAY),
        since=since,
        segment="small_business",
        preferred_channel="email",
        quiet_hours_start=dt.time(22, 0),
        quiet_hours_end=dt.time(7, 0),
        last_active_at=b.utc_at(ref - 1 * DAY, 14),
    )
    c.subscriptions = [
        b.subscription(
            plan_code="business",
            billing_period="monthly",
            status="past_due",
            started_on=since,
            renews_on=renews_on,
            auto_renew=True,
            last_renewed_at=b.utc_at(b.add_months(renews_on, -1), 6),
        )
    ]
    c.orders = [
        b.order(
            order_ref="600113",
            placed_at=b.utc_at(ref - 45 * DAY, 13, 20),
            status="returned",
            items=[("pen", 2), ("dock", 1)],
            tracking_code="LMN600113001",
            expected_delivery=ref - 40 * DAY,
        ),
        b.order(
            order_ref="611870",
            placed_at=b.utc_at(ref - 1 * DAY, 15, 2),
            status="processing",
            items=[("tips", 3)],
            expected_delivery=ref + 5 * DAY,
        ),
    ]
    c.usage = _usage(
        since,
        ref,
        {
            "notes": 260,
            "sync": 240,
            "reminders": 90,
            "templates": 70,
            "sharing": 130,
            "calendar": 85,
            "offline": 20,
            "automation": 55,
            "admin_console": 40,
            "sso": 120,
            "analytics": 25,
        },
        last_used_days_ago=1,
    )
    c.loyalty = b.loyalty(lifetime_points=12000, points=8200, tier_since=ref - 500 * DAY)
    c.consents = b.consents(opted_out=("tips",), at=b.utc_at(since))
    return c


def _liam(ref: dt.date) -> Customer:
    """Starter customer in Los Angeles: 4-year anniversary today, barely uses the product."""
    since = b.years_before(ref, 4)
    renews_on = b.next_renewal(since, "monthly", after=ref)
    c = _customer(
        id="C000004",
        first_name="Liam",
        last_name="Walker",
        email="liam.walker@example.com",
        phone="+1 415 555 0142",
        locale="en-US",
        time_zone="America/Los_Angeles",
        birthday=b.birthday_in(1995, ref + 60 * DAY),
        since=since,
        segment="consumer",
        preferred_channel="email",
        last_active_at=b.utc_at(ref - 12 * DAY, 17),
    )
    c.subscriptions = [
        b.subscription(
            plan_code="starter",
            billing_period="monthly",
            status="active",
            started_on=since,
            renews_on=renews_on,
            auto_renew=True,
            last_renewed_at=b.utc_at(b.add_months(renews_on, -1), 6),
        )
    ]
    c.usage = _usage(since, ref, {"notes": 3}, last_used_days_ago=12)
    c.loyalty = b.loyalty(lifetime_points=450, points=450, tier_since=since)
    c.consents = b.consents(opted_out=(), at=b.utc_at(since))
    return c


def _priya(ref: dt.date) -> Customer:
    """Former Pro customer in Kolkata: cancelled 20 days ago, born 29 February, no renewal or perks."""
    since = b.years_before(ref, 1) - 100 * DAY
    c = _customer(
        id="C000005",
        first_name="Priya",
        last_name="Sharma",
        email="priya.sharma@example.org",
        phone=None,
        locale="en-IN",
        time_zone="Asia/Kolkata",
        birthday=dt.date(1992, 2, 29),
        since=since,
        segment="consumer",
        preferred_channel="web",
        last_active_at=b.utc_at(ref - 6 * DAY, 4),
    )
    c.subscriptions = [
        b.subscription(
            plan_code="pro",
            billing_period="yearly",
            status="cancelled",
            started_on=since,
            renews_on=None,
            auto_renew=False,
            cancelled_at=b.utc_at(ref - 20 * DAY, 14, 30),
            cancel_reason="too expensive",
        )
    ]
    c.orders = [
        b.order(
            order_ref="733025",
            placed_at=b.utc_at(ref - 300 * DAY, 8, 45),
            status="delivered",
            items=[("pen", 1), ("case", 1)],
            tracking_code="LMN733025001",
            expected_delivery=ref - 295 * DAY,
        )
    ]
    c.usage = _usage(since, ref, {"notes": 4, "sync": 2, "offline": 0}, last_used_days_ago=6)
    c.loyalty = b.loyalty(lifetime_points=1900, points=900, tier_since=ref - 250 * DAY)
    c.consents = b.consents(opted_out=("renewal", "perks"), at=b.utc_at(ref - 20 * DAY, 14, 31))
    return c


def _usage(since: dt.date, ref: dt.date, uses: dict[str, int], *, last_used_days_ago: int = 0) -> list[FeatureUsage]:
    """Usage rows for the listed features; a feature with 0 uses was last used 50 days ago."""
    rows = []
    for feature, count in uses.items():
        days_ago = last_used_days_ago if count else 50
        rows.append(
            b.usage(
                feature=feature,
                uses_last_30d=count,
                first_used_at=b.utc_at(since + 3 * DAY, 10),
                last_used_at=b.utc_at(ref - days_ago * DAY, 8),
            )
        )
    return rows
