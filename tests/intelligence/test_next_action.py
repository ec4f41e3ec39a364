"""Next best action: one test per rule, then the decisions gathered from and logged in a real store."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.intelligence.next_action import ActionFacts, Policy, decide, decide_all, latest_decision
from supportbot.store.demo_catalogue import PLANS_BY_CODE
from supportbot.store.feedback_models import Feedback
from supportbot.store.intelligence_models import ChurnScore, IntelRun, NextBestAction
from supportbot.store.models import Consent, Customer, FeatureUsage, LoyaltyAccount, Subscription
from supportbot.store.outreach_models import OutboxMessage

NOW = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _facts(**overrides: object) -> ActionFacts:
    """A subscriber for whom nothing is due, changed by ``overrides``."""
    values: dict[str, object] = {"customer_id": "C1", "subscribed": True, "tenure_days": 200, "plan_name": "Pro"}
    values.update(overrides)
    return ActionFacts(**values)  # type: ignore[arg-type]


RISKY = {"churn_risk": 0.7, "renews_on": NOW.date() + 12 * DAY, "churn_reasons": ("no product use for 40 days",)}


def test_no_subscription_means_nothing() -> None:
    d = decide(_facts(subscribed=False, **RISKY), now=NOW)
    assert (d.action, d.rule) == ("none", "not_subscribed")


def test_contacted_enough_this_week_means_nothing_even_when_at_risk() -> None:
    d = decide(_facts(sent_last_7d=2, last_contact_at=NOW - 3 * DAY, **RISKY), now=NOW)
    assert (d.action, d.rule) == ("none", "contact_cap")
    assert "2 times in the last 7 days" in d.reason


def test_contacted_yesterday_means_nothing() -> None:
    d = decide(_facts(sent_last_7d=1, last_contact_at=NOW - DAY, **RISKY), now=NOW)
    assert (d.action, d.rule) == ("none", "recently_contacted")


def test_retention_offer_before_a_risky_renewal_with_the_reasons() -> None:
    d = decide(_facts(unused_paid_features=("automation",), latest_nps=10, **RISKY), now=NOW)
    assert (d.action, d.campaign) == ("retention_offer", "retention_offer")
    assert "in 12 days" in d.reason and "70%" in d.reason and "no product use for 40 days" in d.reason


def test_no_retention_offer_when_the_renewal_is_far_or_the_risk_low() -> None:
    far = decide(_facts(churn_risk=0.7, renews_on=NOW.date() + 60 * DAY), now=NOW)
    low = decide(_facts(churn_risk=0.2, renews_on=NOW.date() + 5 * DAY), now=NOW)
    assert far.action == low.action == "none"
    stricter = decide(_facts(**RISKY), now=NOW, policy=Policy(risk_threshold=0.8))
    assert stricter.action == "none"


def test_usage_tip_for_an_unused_paid_feature() -> None:
    d = decide(_facts(unused_paid_features=("automation", "api")), now=NOW)
    assert (d.action, d.campaign) == ("usage_tip", "usage_tip")
    assert "automation (Pro plan)" in d.reason


def test_referral_invitation_for_a_promoter() -> None:
    d = decide(_facts(latest_nps=9, tenure_days=900), now=NOW)
    assert (d.action, d.campaign) == ("referral_invitation", "referral_invitation")
    assert "NPS 9" in d.reason
    assert decide(_facts(latest_nps=8), now=NOW).action == "none"


def test_loyalty_perk_for_a_long_standing_or_gold_customer() -> None:
    assert decide(_facts(tenure_days=800), now=NOW).action == "loyalty_perk"
    gold = decide(_facts(loyalty_tier="gold"), now=NOW)
    assert (gold.action, gold.campaign) == ("loyalty_perk", "surprise_perk") and "gold" in gold.reason


def test_nothing_due_says_so() -> None:
    d = decide(_facts(), now=NOW)
    assert (d.action, d.rule, d.reason) == ("none", "nothing_due", "Nothing due.")


def test_an_action_without_consent_is_passed_over_for_the_next_one() -> None:
    d = decide(_facts(unused_paid_features=("api",), withheld_consents=frozenset({"renewal"}), **RISKY), now=NOW)
    assert d.action == "usage_tip"
    assert "retention offer: opted out of renewal messages" in d.reason


def test_an_action_sent_within_its_cooldown_is_passed_over() -> None:
    sent = {"usage_tip": NOW - 5 * DAY}
    d = decide(_facts(unused_paid_features=("api",), tenure_days=900, last_sent=sent), now=NOW)
    assert d.action == "loyalty_perk" and "usage tip: already sent on" in d.reason
    later = decide(_facts(unused_paid_features=("api",), last_sent={"usage_tip": NOW - 20 * DAY}), now=NOW)
    assert later.action == "usage_tip"


def test_everything_passed_over_is_nothing_with_every_reason() -> None:
    d = decide(_facts(latest_nps=10, withheld_consents=frozenset({"perks"})), now=NOW)
    assert (d.action, d.rule) == ("none", "nothing_due")
    assert "referral invitation: opted out of perks messages" in d.reason


def _subscriber(session: Session, cid: str, *, renews_in: int, features: tuple[str, ...] = ()) -> None:
    session.add(
        Customer(id=cid, first_name="T", last_name="E", email=f"{cid}@example.com", customer_since=dt.date(2025, 6, 1))
    )
    session.flush()
    session.add(
        Subscription(
            customer_id=cid,
            plan_code="pro",
            price_cents=2400,
            started_on=dt.date(2025, 6, 1),
            renews_on=NOW.date() + renews_in * DAY,
        )
    )
    for f in features:
        session.add(FeatureUsage(customer_id=cid, feature=f, uses_last_30d=5))
    session.add(LoyaltyAccount(customer_id=cid, tier="silver"))


def test_decisions_for_every_customer_are_gathered_from_the_store_and_logged(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        _subscriber(session, "RISKY", renews_in=10)
        _subscriber(session, "CAPPED", renews_in=10)
        _subscriber(session, "PROMOTER", renews_in=200, features=PLANS_BY_CODE["pro"].features)  # uses them all
        _subscriber(session, "NO_RENEWAL_CONSENT", renews_in=10)
        session.flush()
        for cid in ("RISKY", "CAPPED", "NO_RENEWAL_CONSENT"):
            session.add(
                ChurnScore(
                    customer_id=cid,
                    run_id=_run(session),
                    model_version="v",
                    probability=0.8,
                    reasons=json.dumps([{"text": "reported 2 problems in 90 days"}]),
                )
            )
        session.add(Consent(customer_id="NO_RENEWAL_CONSENT", kind="renewal", granted=False))
        session.add(
            Feedback(
                customer_id="PROMOTER",
                conversation_id="x",
                channel="rest",
                kind="nps",
                rating=10,
                prompted_by="nps_survey",
                created_at=NOW - 30 * DAY,
            )
        )
        for k in range(2):
            session.add(
                OutboxMessage(
                    customer_id="CAPPED",
                    campaign="usage_tip",
                    kind="tips",
                    occasion=f"o{k}",
                    idempotency_key=f"CAPPED:usage_tip:o{k}",
                    local_day=NOW.date(),
                    intent="i",
                    template="t",
                    channel="socketio",
                    conversation_id="cust:CAPPED:web",
                    status="sent",
                    not_before=NOW - (k + 1) * DAY,
                    sent_at=NOW - (k + 3) * DAY,
                )
            )
    with store.begin() as session:
        run = decide_all(session=session, now=NOW)
    with store() as session:
        logged = {
            r.customer_id: r for r in session.scalars(select(NextBestAction).where(NextBestAction.run_id == run.id))
        }
        assert {cid: r.action for cid, r in logged.items()} == {
            "RISKY": "retention_offer",
            "CAPPED": "none",
            "PROMOTER": "referral_invitation",
            "NO_RENEWAL_CONSENT": "usage_tip",
        }
        assert logged["CAPPED"].rule == "contact_cap"
        assert "reported 2 problems in 90 days" in logged["RISKY"].reason
        assert json.loads(session.get_one(IntelRun, run.id).summary) == {
            "none": 1,
            "referral_invitation": 1,
            "retention_offer": 1,
            "usage_tip": 1,
        }
        latest = latest_decision(session=session, customer_id="RISKY")
        assert latest is not None and latest.action == "retention_offer"
    with store.begin() as session:  # a second run logs again; the log keeps both
        decide_all(session=session, now=NOW + DAY)
    with store() as session:
        assert len(list(session.scalars(select(NextBestAction).where(NextBestAction.customer_id == "RISKY")))) == 2


def _run(session: Session) -> int:
    run = session.scalar(select(IntelRun).where(IntelRun.kind == "churn_score"))
    if run is None:
        run = IntelRun(kind="churn_score", as_of=NOW)
        session.add(run)
        session.flush()
    return run.id
