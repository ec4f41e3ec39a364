"""Segments: each rule, in its order, and the stored assignments and per-segment figures."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.intelligence.segments import SEGMENTS, Facts, assign, compute_segments, customers_in_segment
from supportbot.store.feedback_models import Feedback
from supportbot.store.intelligence_models import CustomerSegment, IntelRun, SegmentStat
from supportbot.store.models import Customer, FeatureUsage, Order, Subscription, SupportInteraction

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
STEADY = Facts(
    subscribed=True,
    tenure_days=300,
    uses_30d=10,
    orders_365d=1,
    spend_365d=20.0,
    low_rating_180d=False,
    promoter_365d=False,
    tickets_90d=0,
    churn_risk=0.1,
)


def _with(**changes: object) -> Facts:
    return Facts(**{**STEADY.__dict__, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "segment", "why"),
    [
        (_with(subscribed=False, tenure_days=10), "former", "no subscription running"),
        (_with(tenure_days=20, low_rating_180d=True), "newcomer", "customer for 20 days"),
        (_with(low_rating_180d=True, churn_risk=0.9), "unhappy", "low rating"),
        (_with(tickets_90d=3), "unhappy", "3 times in 90 days"),
        (_with(churn_risk=0.6, uses_30d=0), "at_risk", "churn risk 60%"),
        (_with(uses_30d=0, promoter_365d=True), "dormant", "no feature used"),
        (_with(promoter_365d=True, spend_365d=500.0), "champion", "NPS 9–10"),
        (_with(orders_365d=4, uses_30d=25), "champion", "4 orders in a year"),
        (_with(spend_365d=300.0, tenure_days=900), "big_spender", "spent 300.00"),
        (_with(tenure_days=800), "loyal_regular", "customer for 2 years"),
        (STEADY, "steady", "subscribed and active"),
    ],
)
def test_each_rule_in_order(facts: Facts, segment: str, why: str) -> None:
    code, reason = assign(facts, top_spend=250.0)
    assert code == segment and why in reason


def test_every_segment_has_a_name_and_a_description() -> None:
    assert len({s.code for s in SEGMENTS}) == len(SEGMENTS)
    assert all(s.name and s.description.endswith(".") for s in SEGMENTS)


def _customer(session: Session, cid: str, *, since: dt.date, uses: int, cancelled: bool = False) -> None:
    session.add(Customer(id=cid, first_name="T", last_name="E", email=f"{cid}@example.com", customer_since=since))
    session.flush()
    session.add(
        Subscription(
            customer_id=cid,
            plan_code="plus",
            price_cents=1200,
            started_on=since,
            status="cancelled" if cancelled else "active",
            cancelled_at=NOW - 10 * DAY if cancelled else None,
        )
    )
    session.add(FeatureUsage(customer_id=cid, feature="sync", uses_last_30d=uses))


def test_compute_segments_stores_assignments_figures_and_a_trend(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        _customer(session, "NEW", since=NOW.date() - 10 * DAY, uses=3)
        _customer(session, "GONE", since=dt.date(2024, 1, 1), uses=0, cancelled=True)
        _customer(session, "IDLE", since=dt.date(2025, 1, 1), uses=0)
        _customer(session, "FAN", since=dt.date(2025, 1, 1), uses=9)
        _customer(session, "UPSET", since=dt.date(2025, 1, 1), uses=9)
        session.add(
            Feedback(
                customer_id="FAN",
                conversation_id="a",
                channel="rest",
                kind="nps",
                rating=10,
                prompted_by="nps_survey",
                created_at=NOW - 20 * DAY,
            )
        )
        session.add(
            Feedback(
                customer_id="UPSET",
                conversation_id="b",
                channel="rest",
                kind="csat",
                rating=1,
                prompted_by="resolution",
                created_at=NOW - 5 * DAY,
            )
        )
        session.add(SupportInteraction(customer_id="UPSET", kind="handoff", created_at=NOW - 5 * DAY))
        session.add(
            Order(customer_id="FAN", order_ref="F1", placed_at=NOW - 30 * DAY, status="delivered", total_cents=4500)
        )
    with store.begin() as session:
        first = compute_segments(session=session, as_of=NOW)
    with store() as session:
        assigned = {r.customer_id: r.segment for r in session.scalars(select(CustomerSegment))}
        assert assigned == {
            "NEW": "newcomer",
            "GONE": "former",
            "IDLE": "dormant",
            "FAN": "champion",
            "UPSET": "unhappy",
        }
        stats = {s.segment: s for s in session.scalars(select(SegmentStat).where(SegmentStat.run_id == first.id))}
        assert set(stats) == {s.code for s in SEGMENTS}
        assert stats["champion"].customers == 1 and stats["champion"].nps == 100.0
        assert stats["champion"].order_revenue_90d_cents == 4500 and stats["champion"].monthly_recurring_cents == 1200
        assert stats["unhappy"].avg_csat == 1.0 and stats["former"].monthly_recurring_cents == 0
        assert stats["at_risk"].customers == 0 and stats["at_risk"].avg_csat is None
        assert json.loads(session.get_one(IntelRun, first.id).summary)["dormant"] == 1
        assert customers_in_segment(session=session, segment="dormant") == ["IDLE"]
        with pytest.raises(ValueError, match="unknown segment 'vip'"):
            customers_in_segment(session=session, segment="vip")
    with store.begin() as session:  # recomputed later: assignments replaced, figures kept per run
        session.scalars(select(FeatureUsage).where(FeatureUsage.customer_id == "IDLE")).one().uses_last_30d = 7
        second = compute_segments(session=session, as_of=NOW + DAY)
    with store() as session:
        assert customers_in_segment(session=session, segment="dormant") == []
        trend = session.scalars(
            select(SegmentStat.customers).where(SegmentStat.segment == "dormant").order_by(SegmentStat.run_id)
        ).all()
        assert list(trend) == [1, 0] and second.id > first.id
