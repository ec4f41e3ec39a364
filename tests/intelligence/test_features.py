"""Features as of a cut-off read nothing after it; labels read only the window after it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from supportbot.intelligence.features import SPEC, features_at, label_for, monthly_cutoffs, training_examples
from supportbot.intelligence.history import load_history
from supportbot.store.feedback_models import Feedback
from supportbot.store.intelligence_models import UsageSnapshot
from supportbot.store.models import Customer, FeatureUsage, Order, Subscription, SupportInteraction

CUTOFF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
AS_OF = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def _customer(
    session: Session, cid: str, *, cancelled_at: dt.datetime | None = None, since: dt.date = dt.date(2025, 1, 10)
) -> None:
    session.add(Customer(id=cid, first_name="T", last_name="E", email=f"{cid}@example.com", customer_since=since))
    session.flush()
    session.add(
        Subscription(
            customer_id=cid,
            plan_code="pro",
            billing_period="monthly",
            price_cents=2400,
            started_on=since,
            status="cancelled" if cancelled_at else "active",
            cancelled_at=cancelled_at,
            auto_renew=cancelled_at is None,
        )
    )
    session.add(
        Order(
            customer_id=cid,
            order_ref=f"{cid}-1",
            placed_at=_at(dt.date(2026, 3, 15)),
            status="delivered",
            total_cents=5000,
        )
    )
    session.add(SupportInteraction(customer_id=cid, kind="handoff", created_at=_at(dt.date(2026, 5, 1))))
    session.add(
        Feedback(
            customer_id=cid,
            conversation_id="c",
            channel="rest",
            kind="nps",
            rating=10,
            prompted_by="nps_survey",
            created_at=_at(dt.date(2026, 4, 1)),
        )
    )
    session.add(
        FeatureUsage(
            customer_id=cid,
            feature="sync",
            uses_last_30d=3,
            first_used_at=_at(dt.date(2025, 2, 1)),
            last_used_at=_at(dt.date(2026, 11, 20)),
        )
    )
    session.add(
        UsageSnapshot(
            customer_id=cid,
            taken_on=dt.date(2026, 5, 20),
            feature="sync",
            uses_last_30d=12,
            last_used_at=_at(dt.date(2026, 5, 19)),
        )
    )
    session.flush()


def _features(sessions: sessionmaker[Session], cid: str) -> dict[str, object]:
    with sessions() as session:
        store = load_history(session=session)
        features = features_at(store, store.customers[cid], CUTOFF)
    assert features is not None
    return dict(features)


def test_features_at_a_cutoff_are_what_happened_before_it(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        _customer(session, "C1")
    f = _features(store, "C1")
    assert set(f) == set(SPEC.names)
    assert f["tenure_days"] == (CUTOFF.date() - dt.date(2025, 1, 10)).days
    assert f["monthly_price"] == 24.0
    assert (f["orders_90d"], f["orders_365d"], f["spend_365d"]) == (1.0, 1.0, 50.0)
    assert f["handoffs_90d"] == 1.0 and f["nps_last"] == "promoter"
    assert (f["uses_30d"], f["usage_known"], f["days_since_use"]) == (
        12.0,
        "yes",
        12.5,
    )  # the snapshot, not today's row
    assert f["features_adopted"] == 1.0


def test_nothing_after_the_cutoff_changes_a_feature(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        _customer(session, "C1")
    before = _features(store, "C1")
    later = _at(dt.date(2026, 6, 2))
    with store.begin() as session:  # the future: orders, tickets, ratings, usage, a new feature, a snapshot
        session.add(Order(customer_id="C1", order_ref="C1-2", placed_at=later, status="returned", total_cents=9900))
        session.add(SupportInteraction(customer_id="C1", kind="problem_report", created_at=later))
        session.add(SupportInteraction(customer_id="C1", kind="handoff", created_at=CUTOFF))  # exactly at the cut-off
        session.add(
            Feedback(
                customer_id="C1",
                conversation_id="d",
                channel="rest",
                kind="csat",
                rating=1,
                prompted_by="resolution",
                created_at=later,
            )
        )
        session.add(FeatureUsage(customer_id="C1", feature="api", uses_last_30d=50, first_used_at=later))
        session.add(UsageSnapshot(customer_id="C1", taken_on=CUTOFF.date(), feature="sync", uses_last_30d=0))
        sub = session.query(Subscription).filter_by(customer_id="C1").one()
        sub.cancelled_at, sub.status, sub.auto_renew = later, "cancelled", False
    assert _features(store, "C1") == before


def test_without_a_recent_snapshot_usage_is_marked_unknown_not_read_from_today(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        _customer(session, "C1")
        session.query(UsageSnapshot).delete()
    f = _features(store, "C1")
    assert f["usage_known"] == "no" and f["uses_30d"] == 0.0


def test_labels_come_from_the_window_after_the_cutoff(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        _customer(session, "ended_in_window", cancelled_at=_at(dt.date(2026, 7, 15)))
        _customer(session, "ended_after_window", cancelled_at=_at(dt.date(2026, 10, 15)))
        _customer(session, "ended_before", cancelled_at=_at(dt.date(2026, 5, 1)))
        _customer(session, "still_running")
        _customer(session, "joined_later", since=dt.date(2026, 8, 1))
    with store() as session:
        customers = load_history(session=session).customers
    labels = {cid: label_for(h, CUTOFF, 90, AS_OF) for cid, h in customers.items()}
    assert labels == {
        "ended_in_window": 1,
        "ended_after_window": 0,
        "ended_before": None,
        "still_running": 0,
        "joined_later": None,
    }
    recent = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)  # window not over at as_of: unknown unless it already ended
    assert label_for(customers["still_running"], recent, 90, AS_OF) is None


def test_training_examples_stack_monthly_cutoffs_with_known_labels(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        _customer(session, "C1", cancelled_at=_at(dt.date(2026, 7, 15)))
        _customer(session, "C2")
    cutoffs = monthly_cutoffs(as_of=AS_OF, horizon_days=90, count=6)
    assert cutoffs[-1] == dt.datetime(2026, 9, 2, tzinfo=dt.UTC) and len(cutoffs) == 6
    with store() as session:
        examples = training_examples(load_history(session=session), as_of=AS_OF, horizon_days=90, cutoffs=cutoffs)
    ended = _at(dt.date(2026, 7, 15))
    c1 = [(e.cutoff, e.label) for e in examples if e.customer_id == "C1"]
    assert c1 and all(cut < ended for cut, _ in c1)  # no example once the subscription has ended
    assert all(label == (1 if cut + dt.timedelta(days=90) >= ended else 0) for cut, label in c1)
    assert {label for _, label in c1} == {0, 1}
    assert {e.label for e in examples if e.customer_id == "C2"} == {0}
