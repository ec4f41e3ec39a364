"""Demo data: 300 varied customers, the same bytes every time, loaded once."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, selectinload, sessionmaker

from supportbot.store import import_fields
from supportbot.store.db import make_engine, session_factory
from supportbot.store.demo import load_demo_data, seed_catalogue
from supportbot.store.migrate import upgrade_database
from supportbot.store.models import (
    ChannelIdentity,
    Consent,
    Customer,
    LoyaltyReward,
    Order,
    Plan,
    Subscription,
)

REF = dt.date(2024, 6, 11)
Sessions = sessionmaker[Session]


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _all_customers(sessions: Sessions) -> list[Customer]:
    with sessions() as session:
        query = (
            select(Customer)
            .order_by(Customer.id)
            .options(
                selectinload(Customer.subscriptions),
                selectinload(Customer.orders).selectinload(Order.items),
                selectinload(Customer.usage),
                selectinload(Customer.consents),
                selectinload(Customer.loyalty),
                selectinload(Customer.channel_identities),
            )
        )
        return list(session.scalars(query))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Customer]]:
    """Read-only: one demo database for the tests that only look at the data."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    upgrade_database(url=url)
    engine = make_engine(url)
    try:
        assert load_demo_data(session_factory=session_factory(engine), reference_date=REF) == 300
        yield _all_customers(session_factory(engine))
    finally:
        engine.dispose()


def _sql_dump(url: str) -> list[str]:
    connection = sqlite3.connect(str(make_url(url).database))
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def test_loads_300_customers_and_the_catalogue(sessions: Sessions) -> None:
    assert load_demo_data(session_factory=sessions, reference_date=REF) == 300
    with sessions() as session:
        assert _count(session, Customer) == 300
        plans = {p.code: (p.monthly_price_cents, p.rank) for p in session.scalars(select(Plan))}
        assert plans == {"starter": (500, 1), "plus": (1200, 2), "pro": (2400, 3), "business": (4900, 4)}
        business = session.get(Plan, "business")
        assert business is not None and "sso" in business.features.split(",")
        assert _count(session, LoyaltyReward) >= 5


def test_same_reference_date_gives_byte_identical_databases(tmp_path: Path) -> None:
    dumps = []
    for name in ("one", "two"):
        url = f"sqlite:///{tmp_path / name / 'demo.db'}"
        upgrade_database(url=url)
        engine = make_engine(url)
        load_demo_data(session_factory=session_factory(engine), reference_date=REF)
        engine.dispose()
        dumps.append(_sql_dump(url))
    assert len(dumps[0]) > 1000
    assert dumps[0] == dumps[1]


def test_loading_twice_adds_nothing(sessions: Sessions) -> None:
    assert load_demo_data(session_factory=sessions, reference_date=REF) == 300
    assert load_demo_data(session_factory=sessions, reference_date=REF) == 0
    with sessions.begin() as session:
        seed_catalogue(session=session)
    with sessions() as session:
        assert _count(session, Customer) == 300
        assert _count(session, Plan) == 4


def test_never_loads_over_existing_customers(sessions: Sessions) -> None:
    with sessions.begin() as session:
        session.add(
            Customer(id="X1", first_name="Real", last_name="Person", email="real@example.com", customer_since=REF)
        )
    assert load_demo_data(session_factory=sessions, reference_date=REF) == 0


def test_another_reference_date_moves_dates_not_people(sessions: Sessions, demo: list[Customer]) -> None:
    load_demo_data(session_factory=sessions, reference_date=REF + dt.timedelta(days=100))
    later = _all_customers(sessions)
    assert [(c.id, c.full_name, c.email, c.time_zone) for c in later] == [
        (c.id, c.full_name, c.email, c.time_zone) for c in demo
    ]
    assert later[0].subscriptions[0].renews_on == REF + dt.timedelta(days=110)


def test_time_zones_on_both_sides_of_utc(demo: list[Customer]) -> None:
    zones = {c.time_zone for c in demo}
    assert {
        "Asia/Kolkata",
        "Australia/Sydney",
        "America/Los_Angeles",
        "Europe/Berlin",
        "America/Sao_Paulo",
        "Asia/Tokyo",
        "Europe/London",
    } <= zones
    noon = dt.datetime.combine(REF, dt.time(12), tzinfo=dt.UTC)
    offsets = {noon.astimezone(ZoneInfo(z)).utcoffset() for z in zones}
    assert sum(1 for o in offsets if o and o > dt.timedelta(0)) >= 5
    assert sum(1 for o in offsets if o and o < dt.timedelta(0)) >= 5
    assert len(zones) >= 15


def test_renewals_coming_up_within_45_days(demo: list[Customer]) -> None:
    upcoming = [
        s
        for c in demo
        for s in c.subscriptions
        if s.status == "active" and s.renews_on and REF < s.renews_on <= REF + dt.timedelta(days=45)
    ]
    assert len(upcoming) >= 100
    assert {s.billing_period for s in upcoming} == {"monthly", "yearly"}


def test_subscription_mix(demo: list[Customer]) -> None:
    statuses = Counter(c.subscriptions[0].status for c in demo)
    assert statuses["active"] > 150
    assert statuses["trial"] >= 10 and statuses["cancelled"] >= 10 and statuses["past_due"] >= 3
    assert {c.subscriptions[0].plan_code for c in demo} == {"starter", "plus", "pro", "business"}
    for c in demo:
        sub = c.subscriptions[0]
        assert (sub.renews_on is None) == (sub.status == "cancelled"), c.id
        assert sub.started_on >= c.customer_since


def test_birthdays_include_29_february_and_some_around_the_reference_date(
    demo: list[Customer],
) -> None:
    birthdays = [c.birthday for c in demo if c.birthday]
    assert sum(1 for b in birthdays if (b.month, b.day) == (2, 29)) >= 3
    near = [b for b in birthdays if abs((b.replace(year=REF.year) - REF).days) <= 5]  # 2024: leap
    assert len(near) >= 3
    assert any(c.birthday is None for c in demo)


def test_customer_since_spreads_over_six_years(demo: list[Customer]) -> None:
    years = {c.customer_since.year for c in demo}
    assert min(c.customer_since for c in demo) >= REF - dt.timedelta(days=6 * 366)
    assert len(years) >= 6
    assert max(c.customer_since for c in demo) <= REF


def test_contact_details_are_fictional_and_valid(demo: list[Customer]) -> None:
    assert [c.id for c in demo] == [f"C{n:06d}" for n in range(1, 301)]
    assert len({c.email for c in demo}) == 300
    for c in demo:
        assert import_fields.parse_email(c.email) == c.email
        assert c.email.endswith(("@example.com", "@example.org"))
        assert import_fields.parse_time_zone(c.time_zone) == c.time_zone
        if c.phone:
            assert re.fullmatch(r"\+1 \d{3} 555 01\d\d|\+44 7700 900\d{3}", c.phone), c.phone
    assert sum(1 for c in demo if c.phone) >= 50


def test_orders_usage_loyalty_consents_and_channels(demo: list[Customer]) -> None:
    orders = [o for c in demo for o in c.orders]
    assert len(orders) >= 150
    assert all(re.fullmatch(r"\d{6}", o.order_ref) for o in orders)
    assert len({o.order_ref for o in orders}) == len(orders)
    assert {o.status for o in orders} == {"processing", "shipped", "delivered", "cancelled", "returned"}
    assert all(o.total_cents == sum(i.quantity * i.unit_price_cents for i in o.items) for o in orders)
    uses = Counter(len(c.usage) for c in demo)
    assert uses[0] > 0 and max(uses) >= 9
    assert any(u.uses_last_30d == 0 for c in demo for u in c.usage)
    assert {c.loyalty.tier for c in demo if c.loyalty} == {"bronze", "silver", "gold", "platinum"}
    opted_out = Counter(x.kind for c in demo for x in c.consents if not x.granted)
    assert set(opted_out) == {"tips", "renewal", "milestones", "perks", "feedback"}
    assert sum(opted_out.values()) < 300  # most consents are granted
    channels = Counter(i.channel for c in demo for i in c.channel_identities)
    assert channels["telegram"] >= 20


def test_personas(demo: list[Customer]) -> None:
    maya, kenji, sofia, liam, priya = demo[:5]
    assert (maya.full_name, maya.time_zone, len(maya.orders)) == ("Maya Patel", "Europe/London", 3)
    sub = maya.subscriptions[0]
    assert (sub.plan_code, sub.billing_period, sub.status) == ("pro", "monthly", "active")
    assert sub.renews_on == REF + dt.timedelta(days=10)
    assert {u.feature for u in maya.usage}.isdisjoint({"offline", "automation", "api"})
    assert [i.external_id for i in maya.channel_identities] == ["700000001"]
    assert (kenji.time_zone, kenji.birthday) == ("Asia/Tokyo", dt.date(1988, REF.month, REF.day))
    assert kenji.subscriptions[0].renews_on == REF + dt.timedelta(days=30)
    assert sofia.subscriptions[0].status == "past_due"
    assert [c.kind for c in sofia.consents if not c.granted] == ["tips"]
    assert (liam.time_zone, liam.customer_since) == ("America/Los_Angeles", dt.date(2020, 6, 11))
    assert (priya.birthday, priya.subscriptions[0].status) == (dt.date(1992, 2, 29), "cancelled")
    assert sorted(c.kind for c in priya.consents if not c.granted) == ["perks", "renewal"]


def test_leap_day_reference_date(sessions: Sessions) -> None:
    assert load_demo_data(session_factory=sessions, reference_date=dt.date(2024, 2, 29)) == 300
    with sessions() as session:
        kenji = session.get(Customer, "C000002")
        liam = session.get(Customer, "C000004")
        assert kenji is not None and kenji.birthday == dt.date(1988, 2, 29)
        assert liam is not None and liam.customer_since == dt.date(2020, 2, 29)
        assert _count(session, Subscription) == 300
        assert _count(session, Order) > 0
        assert _count(session, Consent) == 1500
        assert _count(session, ChannelIdentity) > 0
