"""Account and preference services on a real SQLite store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.errors import InvalidRequestError
from supportbot.services.account import (
    accept_retention_offer,
    cancel_subscription,
    change_plan,
    plan_options,
    renew_now,
    retention_offer,
)
from supportbot.services.preferences import set_consent, update_profile_field
from supportbot.services.support import ConversationRef
from supportbot.store.models import Consent, Subscription, SupportInteraction
from tests.factories import add_customer, prepared_store

TODAY = dt.datetime.now(dt.UTC).date()
CHAT = ConversationRef("cust:C1:web", "rest")


@pytest.fixture
def store(tmp_path: Path) -> sessionmaker[Session]:
    sessions = prepared_store(tmp_path / "profile.db")
    with sessions.begin() as session:
        add_customer(
            session,
            "C1",
            plan="pro",
            price_cents=2400,
            renews_in_days=5,
            customer_since=TODAY - dt.timedelta(days=3 * 365 + 10),
        )
        add_customer(session, "C2", plan="plus", price_cents=1200)
    return sessions


def subscription(sessions: sessionmaker[Session], customer_id: str) -> Subscription:
    with sessions() as session:
        return session.scalars(select(Subscription).where(Subscription.customer_id == customer_id)).one()


def test_retention_offer_is_personal_and_names_a_cheaper_plan(store: sessionmaker[Session]) -> None:
    with store() as session:
        offer = retention_offer(session=session, customer_id="C1", today=TODAY, discount_percent=20, months=3)
    assert offer.discounted_price == "$19.20" and offer.regular_price == "$24.00"
    assert "3 years" in offer.reasons and "Sync" in offer.reasons and "1,200 loyalty points" in offer.reasons
    assert offer.cheaper_plan is not None and offer.cheaper_plan.code == "plus"
    assert offer.cheaper_price == "$12.00/month"


def test_a_yearly_customer_is_offered_the_cheaper_plan_per_year(store: sessionmaker[Session]) -> None:
    """make run: a yearly Pro customer ($240.00) was offered "Plus at $12.00/month"."""
    with store.begin() as session:
        sub = session.scalars(select(Subscription).where(Subscription.customer_id == "C1")).one()
        sub.billing_period, sub.price_cents = "yearly", 24000
    with store() as session:
        offer = retention_offer(session=session, customer_id="C1", today=TODAY, discount_percent=20, months=3)
    assert (offer.regular_price, offer.cheaper_price) == ("$240.00", "$120.00/year")


def test_accepted_offer_discounts_the_next_renewals(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        view = accept_retention_offer(
            session=session, customer_id="C1", today=TODAY, discount_percent=20, months=3, conversation=CHAT
        )
    assert view.discount_until is not None and view.discount_until > TODAY + dt.timedelta(days=85)
    assert view.price_on(TODAY + dt.timedelta(days=5)) == 1920
    assert view.price_on(view.discount_until + dt.timedelta(days=1)) == 2400


def test_cancel_then_renew_restarts_the_plan(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        cancel_subscription(session=session, customer_id="C1", reason="too expensive", conversation=CHAT)
    with store.begin() as session, pytest.raises(InvalidRequestError, match="already cancelled"):
        cancel_subscription(session=session, customer_id="C1", reason="again", conversation=CHAT)
    cancelled = subscription(store, "C1")
    assert (cancelled.status, cancelled.auto_renew, cancelled.cancel_reason) == ("cancelled", False, "too expensive")
    with store.begin() as session:
        view = renew_now(session=session, customer_id="C1", today=TODAY, conversation=CHAT)
    assert view.status == "active" and view.auto_renew
    with store() as session:
        kinds = session.scalars(select(SupportInteraction.kind).order_by(SupportInteraction.id)).all()
    assert kinds == ["cancellation", "renewal"]


def test_renewing_early_moves_the_date_one_period_from_the_current_one(store: sessionmaker[Session]) -> None:
    before = subscription(store, "C2").renews_on
    assert before is not None
    with store.begin() as session:
        view = renew_now(session=session, customer_id="C2", today=TODAY, conversation=CHAT)
    assert view.renews_on is not None and 28 <= (view.renews_on - before).days <= 31


def test_plan_options_and_change_use_catalogue_prices(store: sessionmaker[Session]) -> None:
    with store() as session:
        current, options = plan_options(session=session, customer_id="C2")
    assert current is not None and current.plan.code == "plus"
    by_code = {o.plan.code: o for o in options}
    assert set(by_code) == {"starter", "pro", "business"}
    assert by_code["pro"].direction == "upgrade" and "Offline mode" in by_code["pro"].gains
    assert by_code["starter"].direction == "downgrade" and by_code["starter"].losses
    assert by_code["pro"].price.endswith(f"/{current.billing_period.removesuffix('ly')}")
    with store.begin() as session:
        view = change_plan(session=session, customer_id="C2", plan_code="business", conversation=CHAT)
    assert (view.plan.code, view.price_cents) == ("business", 4900)


def test_plan_options_are_priced_in_the_customers_billing_period(store: sessionmaker[Session]) -> None:
    """make run: a yearly Plus customer was offered "Pro: $24.00/month" right after being asked to
    confirm Pro at $240.00 per year; the options now compare like with like."""
    with store.begin() as session:
        sub = session.scalars(select(Subscription).where(Subscription.customer_id == "C2")).one()
        sub.billing_period, sub.price_cents = "yearly", 12000
    with store() as session:
        _, options = plan_options(session=session, customer_id="C2")
    by_code = {o.plan.code: o for o in options}
    assert (by_code["pro"].price, by_code["pro"].difference) == ("$240.00/year", "$120.00 more than now")
    assert (by_code["starter"].price, by_code["starter"].difference) == ("$50.00/year", "$70.00 less than now")
    with store.begin() as session, pytest.raises(InvalidRequestError, match="don't have a plan"):
        change_plan(session=session, customer_id="C2", plan_code="platinum", conversation=CHAT)


def test_consent_for_all_kinds_and_back(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        assert len(set_consent(session=session, customer_id="C1", kind="all", granted=False, conversation=CHAT)) == 5
    with store.begin() as session:
        set_consent(session=session, customer_id="C1", kind="tips", granted=True, conversation=CHAT)
    with store() as session:
        granted = dict(session.execute(select(Consent.kind, Consent.granted).where(Consent.customer_id == "C1")).all())
    assert granted == {"tips": True, "renewal": False, "milestones": False, "perks": False, "feedback": False}


def test_an_email_used_by_another_customer_is_refused(store: sessionmaker[Session]) -> None:
    with store.begin() as session, pytest.raises(InvalidRequestError, match="already used"):
        update_profile_field(
            session=session, customer_id="C1", field="email", value="c2@example.com", conversation=CHAT
        )
