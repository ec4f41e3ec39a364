"""Perks granted in the store exactly once per key, on a real SQLite file (supportbot.services.perks)."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.errors import ConfigurationError, InvalidRequestError
from supportbot.outreach.config import DEFAULT_CONFIG_PATH, parse_config
from supportbot.services.account import renewal_price_cents
from supportbot.services.perks import (
    FreeMonthPerk,
    PercentOffPerk,
    PerkUnavailable,
    PointsPerk,
    RewardPerk,
    claim_reward,
    grant_perk,
    parse_perk,
)
from supportbot.store.models import LoyaltyAccount, Subscription
from supportbot.store.perk_models import LoyaltyLedgerEntry, PerkGrant, SubscriptionDiscount
from supportbot.store.repo import get_profile, granted_perks, loyalty_history
from tests.scheduler.builders import DAY, add

RENEWS = DAY + dt.timedelta(days=5)


def balance_and_ledger(session: Session, customer_id: str) -> tuple[int, int]:
    account = session.get(LoyaltyAccount, customer_id)
    assert account is not None
    total = session.scalar(
        select(func.coalesce(func.sum(LoyaltyLedgerEntry.points), 0)).where(
            LoyaltyLedgerEntry.customer_id == customer_id
        )
    )
    return account.points, int(total or 0)


def test_points_are_credited_once_per_key_with_their_reason(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1", tier="silver")  # 100 points from before the ledger
        first = grant_perk(
            session=session,
            customer_id="C1",
            perk=PointsPerk(points=200),
            grant_key="outbox:7",
            reason="birthday 2026",
            today=DAY,
        )
        again = grant_perk(
            session=session,
            customer_id="C1",
            perk=PointsPerk(points=200),
            grant_key="outbox:7",
            reason="birthday 2026",
            today=DAY,
        )
    assert first.new and not again.new and again.grant_id == first.grant_id
    assert first.sentence == again.sentence == "We've added 200 bonus loyalty points to your account."
    with store() as session:
        assert balance_and_ledger(session, "C1") == (300, 300)  # balance = sum of the ledger
        history = loyalty_history(session=session, customer_id="C1")
        assert [(e.points, e.reason, e.source) for e in history] == [
            (200, "birthday 2026", "perk"),
            (100, "balance before the ledger", "opening"),
        ]
        profile = get_profile(session=session, customer_id="C1")
        assert profile is not None and profile.loyalty is not None and profile.loyalty.points == 300
        assert session.scalar(select(func.count()).select_from(PerkGrant)) == 1


def test_points_make_a_member_of_a_customer_outside_the_programme(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1")
        grant_perk(session=session, customer_id="C1", perk=PointsPerk(points=50), grant_key="k", reason="r", today=DAY)
    with store() as session:
        assert balance_and_ledger(session, "C1") == (50, 50)


def test_a_balance_changed_outside_the_ledger_comes_in_as_an_adjustment(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1", tier="silver")
        grant_perk(session=session, customer_id="C1", perk=PointsPerk(points=10), grant_key="a", reason="r", today=DAY)
    with store.begin() as session:
        account = session.get(LoyaltyAccount, "C1")
        assert account is not None
        account.points = 1000  # a re-import set a new balance
    with store.begin() as session:
        grant_perk(session=session, customer_id="C1", perk=PointsPerk(points=10), grant_key="b", reason="r", today=DAY)
    with store() as session:
        assert balance_and_ledger(session, "C1") == (1010, 1010)
        sources = [e.source for e in loyalty_history(session=session, customer_id="C1", limit=10)]
        assert sources.count("adjustment") == 1


def test_percent_off_is_attached_to_the_subscription_and_the_renewal_price_honours_it(
    store: sessionmaker[Session],
) -> None:
    with store.begin() as session:
        add(session, "C1", renews_on=RENEWS)  # Plus, $12.00 a month
        granted = grant_perk(
            session=session,
            customer_id="C1",
            perk=PercentOffPerk(percent_off=10, months=1),
            grant_key="outbox:1",
            reason="anniversary 2026",
            today=DAY,
        )
    assert granted.sentence == "Your next month is 10% off: your renewal on Sunday, March 15, 2026 costs $10.80."
    with store() as session:
        sub = session.scalars(select(Subscription).where(Subscription.customer_id == "C1")).one()
        [discount] = session.scalars(select(SubscriptionDiscount))
        assert (discount.basis_points, discount.until, discount.reason) == (1000, RENEWS, "anniversary 2026")
        assert renewal_price_cents(session=session, subscription_id=sub.id, day=RENEWS) == 1080
        assert renewal_price_cents(session=session, subscription_id=sub.id, day=dt.date(2026, 4, 15)) == 1200
        profile = get_profile(session=session, customer_id="C1")
        assert profile is not None and profile.subscription is not None
        assert profile.subscription.price_on(RENEWS) == 1080  # what "when does my plan renew" quotes


def test_several_months_cover_that_many_monthly_renewals(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1", renews_on=RENEWS)
        granted = grant_perk(
            session=session,
            customer_id="C1",
            perk=PercentOffPerk(percent_off=20, months=3),
            grant_key="offer:retention:1",
            reason="retention offer accepted",
            today=DAY,
        )
    assert granted.sentence.startswith("Your next 3 months are 20% off")
    with store() as session:
        sub = session.scalars(select(Subscription).where(Subscription.customer_id == "C1")).one()
        prices = [
            renewal_price_cents(session=session, subscription_id=sub.id, day=d)
            for d in (RENEWS, dt.date(2026, 4, 15), dt.date(2026, 5, 15), dt.date(2026, 6, 15))
        ]
    assert prices == [960, 960, 960, 1200]


def test_a_free_month_on_a_yearly_plan_takes_a_twelfth_off_the_next_renewal(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1", renews_on=RENEWS)
        sub = session.scalars(select(Subscription).where(Subscription.customer_id == "C1")).one()
        sub.billing_period, sub.price_cents = "yearly", 12000
        granted = grant_perk(
            session=session, customer_id="C1", perk=FreeMonthPerk(free_months=1), grant_key="k", reason="r", today=DAY
        )
        assert renewal_price_cents(session=session, subscription_id=sub.id, day=RENEWS) == 11000
    assert granted.sentence == (
        "One month of your plan is on us, taken off your yearly renewal on Sunday, March 15, 2026: it costs $110.00."
    )


def test_discounts_do_not_stack_the_largest_running_one_applies(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1", renews_on=RENEWS)
        sub = session.scalars(select(Subscription).where(Subscription.customer_id == "C1")).one()
        sub.discount_percent, sub.discount_until = 20, RENEWS  # the retention offer's
        grant_perk(
            session=session,
            customer_id="C1",
            perk=PercentOffPerk(percent_off=10),
            grant_key="k",
            reason="r",
            today=DAY,
        )
        assert renewal_price_cents(session=session, subscription_id=sub.id, day=RENEWS) == 960


@pytest.mark.parametrize("status", ["cancelled", None])
def test_a_discount_without_a_running_subscription_is_refused_and_nothing_written(
    store: sessionmaker[Session], status: str | None
) -> None:
    with store.begin() as session:
        add(session, "C1", plan="plus" if status else None, status=status or "active")
    with pytest.raises(PerkUnavailable), store.begin() as session:
        grant_perk(
            session=session, customer_id="C1", perk=FreeMonthPerk(free_months=1), grant_key="k", reason="r", today=DAY
        )
    with store() as session:
        assert session.scalar(select(func.count()).select_from(PerkGrant)) == 0
        assert session.scalar(select(func.count()).select_from(SubscriptionDiscount)) == 0


def test_a_reward_is_claimable_then_claimed_once(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1")
        granted = grant_perk(
            session=session,
            customer_id="C1",
            perk=RewardPerk(reward="Lumen Pen case"),
            grant_key="outbox:3",
            reason="loyalty milestone platinum",
            today=DAY,
        )
    assert granted.sentence == "A free Lumen Pen case is waiting for you: just ask us for it."
    with store() as session:
        [view] = granted_perks(session=session, customer_id="C1")
        assert (view.kind, view.status, view.reason) == ("reward", "claimable", "loyalty milestone platinum")
    with store.begin() as session:
        claim_reward(session=session, customer_id="C1", grant_id=granted.grant_id)
    with pytest.raises(InvalidRequestError, match="already been claimed"), store.begin() as session:
        claim_reward(session=session, customer_id="C1", grant_id=granted.grant_id)


def test_a_key_of_another_customer_is_refused(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1")
        add(session, "C2")
        grant_perk(session=session, customer_id="C1", perk=PointsPerk(points=5), grant_key="k", reason="r", today=DAY)
        with pytest.raises(InvalidRequestError, match="another customer"):
            grant_perk(
                session=session, customer_id="C2", perk=PointsPerk(points=5), grant_key="k", reason="r", today=DAY
            )


def test_perk_configuration_is_typed_and_a_free_text_perk_is_an_error() -> None:
    assert parse_perk({"points": 200}) == PointsPerk(points=200)
    assert parse_perk({"percent_off": 10, "months": 2}) == PercentOffPerk(percent_off=10, months=2)
    for wrong in ({}, {"points": 0}, {"points": 5, "reward": "x"}, "200 bonus loyalty points are on their way"):
        with pytest.raises(InvalidRequestError, match="not a perk"):
            parse_perk(wrong)
    data = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    data["campaigns"]["birthday"]["perk"] = "200 bonus loyalty points are on their way"
    with pytest.raises(ConfigurationError, match=r"campaigns\.birthday\.perk"):
        parse_config(data)
