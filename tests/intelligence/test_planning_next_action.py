"""Outreach planning uses customer intelligence: the next best action, campaign audiences, the
programme invitation; consent, caps and idempotency stay the planner's (real SQLite store)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.errors import ConfigurationError
from supportbot.intelligence.next_action import decide_all
from supportbot.outreach.config import OutreachConfig, load_config, parse_config
from supportbot.outreach.delivery import pre_send_check
from supportbot.outreach.planner import plan_day
from supportbot.store.feedback_models import Feedback, PromoterInvitation
from supportbot.store.intelligence_models import ChurnScore, CustomerSegment, IntelRun, NextBestAction
from supportbot.store.models import Consent, Subscription
from supportbot.store.outreach_models import OutboxMessage
from tests.scheduler.builders import DAY, NOW, add

DECIDED = NOW - dt.timedelta(hours=1)
"""The daily refresh ran an hour before planning."""


def config(**changes: object) -> OutreachConfig:
    """The shipped campaign file; ``per_day=``/``per_week=`` replace the caps, others the NBA settings."""
    base = load_config()
    caps = {k: v for k, v in changes.items() if k in ("per_day", "per_week")}
    nba = {k: v for k, v in changes.items() if k not in caps}
    return base.model_copy(
        update={
            "caps": base.caps.model_copy(update=caps),
            "next_best_action": base.next_best_action.model_copy(update=nba),
        }
    )


def rows(store: sessionmaker[Session]) -> list[OutboxMessage]:
    with store() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.priority.desc(), OutboxMessage.id)))


def risky_customer(session: Session, customer_id: str = "C1", **fields: object) -> None:
    """Renews in 14 days (a renewal reminder is due today) with a 62 % churn risk and its reasons."""
    add(session, customer_id, renews_on=DAY + dt.timedelta(days=14), **fields)  # type: ignore[arg-type]
    run = IntelRun(kind="churn_score", as_of=DECIDED, model_version="churn-test")
    session.add(run)
    session.flush()
    reasons = [{"feature": "days_since_use", "value": 41, "contribution": 0.8, "text": "no product use for 41 days"}]
    session.add(
        ChurnScore(
            customer_id=customer_id,
            run_id=run.id,
            model_version="churn-test",
            probability=0.62,
            reasons=json.dumps(reasons),
            scored_at=DECIDED,
        )
    )


def decide(store: sessionmaker[Session], at: dt.datetime = DECIDED) -> None:
    with store.begin() as session:
        decide_all(session=session, now=at)


def test_a_high_risk_customer_gets_the_retention_offer_before_the_renewal_reminder(
    store: sessionmaker[Session],
) -> None:
    with store.begin() as session:
        risky_customer(session)
    decide(store)
    report = plan_day(sessions=store, day=DAY, now=NOW, config=config(per_day=2, per_week=4))
    planned = [(r.campaign, r.status, r.skip_reason, r.priority) for r in rows(store)]
    assert planned == [
        ("retention_offer", "planned", None, 150),
        ("renewal_reminder", "planned", None, 100),
        ("usage_tip", "skipped", "daily cap of 2 reached", 10),
    ]
    offer = rows(store)[0]
    payload = json.loads(offer.payload)
    assert payload["perk"] == {"percent_off": 20, "months": 3}
    assert payload["renews_on"] == (DAY + dt.timedelta(days=14)).isoformat()
    assert offer.kind == "renewal" and offer.intent == "EXTERNAL_retention_offer"
    assert offer.occasion.endswith(f":{(DAY + dt.timedelta(days=14)).isoformat()}")
    assert report.planned["retention_offer"] == 1


def test_when_the_cap_leaves_room_for_one_the_retention_offer_goes_and_the_reminder_waits(
    store: sessionmaker[Session],
) -> None:
    with store.begin() as session:
        risky_customer(session)
    decide(store)
    plan_day(sessions=store, day=DAY, now=NOW, config=config(per_day=1, per_week=4))
    assert [(r.campaign, r.status, r.skip_reason) for r in rows(store)] == [
        ("retention_offer", "planned", None),
        ("renewal_reminder", "skipped", "daily cap of 1 reached"),
        ("usage_tip", "skipped", "daily cap of 1 reached"),
    ]


def test_the_retention_offer_needs_renewal_consent_like_the_reminder(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        risky_customer(session, consents={"renewal": False})
    decide(store)
    plan_day(sessions=store, day=DAY, now=NOW, config=config(per_day=2, per_week=4))
    decided = {r.campaign: (r.status, r.skip_reason) for r in rows(store)}
    # The decision itself passes the offer over (no consent), so planning never sees it.
    assert "retention_offer" not in decided
    assert decided["renewal_reminder"] == ("skipped", "consent withdrawn for renewal")
    with store() as session:
        logged = session.scalars(select(NextBestAction)).one()
    assert "retention offer: opted out of renewal messages" in logged.reason


def test_consent_withdrawn_after_the_decision_still_stops_the_offer(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        risky_customer(session)
    decide(store)
    with store.begin() as session:  # "stop renewal reminders" in chat, after the morning's decision
        session.add(Consent(customer_id="C1", kind="renewal", granted=False, source="chat"))
    plan_day(sessions=store, day=DAY, now=NOW, config=config(per_day=2, per_week=4))
    decided = {r.campaign: (r.status, r.skip_reason) for r in rows(store)}
    assert decided["retention_offer"] == ("skipped", "consent withdrawn for renewal")


def test_replanning_adds_no_second_offer_and_a_new_decision_for_the_same_renewal_neither(
    store: sessionmaker[Session],
) -> None:
    with store.begin() as session:
        risky_customer(session)
    decide(store)
    plan_day(sessions=store, day=DAY, now=NOW, config=config())
    decide(store, NOW + dt.timedelta(hours=20))  # the next day's refresh decides the same again
    plan_day(sessions=store, day=DAY + dt.timedelta(days=1), now=NOW + dt.timedelta(hours=21), config=config())
    offers = [r for r in rows(store) if r.campaign == "retention_offer"]
    assert len(offers) == 1


def test_a_decision_older_than_max_age_is_not_used(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        risky_customer(session)
    decide(store, NOW - dt.timedelta(hours=40))
    plan_day(sessions=store, day=DAY, now=NOW, config=config())
    assert "retention_offer" not in {r.campaign for r in rows(store)}
    plan_day(sessions=store, day=DAY, now=NOW, config=config(max_age_hours=48))
    assert "retention_offer" in {r.campaign for r in rows(store)}


def _plan_everything(store: sessionmaker[Session], cfg: OutreachConfig) -> list[tuple[str, str, str, str | None, int]]:
    plan_day(sessions=store, day=DAY, now=NOW, config=cfg)
    found = [(r.customer_id, r.campaign, r.status, r.skip_reason, r.priority) for r in rows(store)]
    with store.begin() as session:
        for row in session.scalars(select(OutboxMessage)):
            session.delete(row)
    return sorted(found)


def test_existing_campaigns_decide_the_same_without_a_next_best_action_for_them(store: sessionmaker[Session]) -> None:
    """Customers whose decision is "nothing now" (or who have none) get exactly what they got before."""
    with store.begin() as session:
        add(session, "B1", birthday=dt.date(1990, 3, 10), customer_since=dt.date(2023, 3, 10))
        add(session, "R1", renews_on=DAY + dt.timedelta(days=3))
        add(session, "N1", consents={"tips": False}, birthday=dt.date(1991, 3, 10))
        add(session, "X1", plan=None, birthday=dt.date(1985, 3, 10))
    without = _plan_everything(store, config(enabled=False))
    decide(store)
    with store() as session:
        assert {a.action for a in session.scalars(select(NextBestAction))} <= {"none", "usage_tip"}
        session.execute(select(NextBestAction)).all()
    with store.begin() as session:  # decisions naming no campaign: nothing may move
        for row in session.scalars(select(NextBestAction)):
            row.action, row.campaign = "none", None
    assert _plan_everything(store, config()) == without


def test_the_next_best_action_raises_an_existing_campaign_above_the_others(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1", birthday=dt.date(1990, 3, 10))  # a birthday (80) and a usage tip (10) are due
    plan_day(sessions=store, day=DAY, now=NOW, config=config(per_day=1))
    assert [(r.campaign, r.status) for r in rows(store)] == [("birthday", "planned"), ("usage_tip", "skipped")]
    with store.begin() as session:
        for row in session.scalars(select(OutboxMessage)):
            session.delete(row)
    decide(store)
    with store() as session:
        assert session.scalars(select(NextBestAction.campaign)).one() == "usage_tip"
    plan_day(sessions=store, day=DAY, now=NOW, config=config(per_day=1))
    assert [(r.campaign, r.status, r.skip_reason) for r in rows(store)] == [
        ("usage_tip", "planned", None),
        ("birthday", "skipped", "daily cap of 1 reached"),
    ]


def promoter(
    session: Session, customer_id: str, *, segment: str | None, nps: int = 10, days_ago: int = 20, **fields: object
) -> None:
    """Latest NPS ``nps`` ``days_ago``; uses every Plus feature (no tip is due); in ``segment`` if given."""
    used = ("notes", "sync", "reminders", "templates", "sharing", "calendar")
    add(session, customer_id, used=used, **fields)  # type: ignore[arg-type]
    session.add(
        Feedback(
            customer_id=customer_id,
            conversation_id=f"cust:{customer_id}:web",
            channel="socketio",
            kind="nps",
            rating=nps,
            prompted_by="nps_survey",
            created_at=NOW - dt.timedelta(days=days_ago),
        )
    )
    if segment:
        run = IntelRun(kind="segments", as_of=DECIDED)
        session.add(run)
        session.flush()
        session.add(CustomerSegment(customer_id=customer_id, segment=segment, run_id=run.id, why="test"))


def test_the_programme_invitation_reaches_promoters_in_its_audience_only(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        promoter(session, "CHAMP", segment="champion")
        promoter(session, "GLUM", segment="unhappy")
        promoter(session, "NOSEG", segment=None)
        promoter(session, "OLD", segment="champion", days_ago=400)
        promoter(session, "PASSIVE", segment="champion", nps=8)
        promoter(session, "ASKED", segment="champion")
        session.add(PromoterInvitation(customer_id="ASKED", accepted=False, created_at=NOW - dt.timedelta(days=3)))
    excluded: list[tuple[str, str]] = []
    plan_day(
        sessions=store,
        day=DAY,
        now=NOW,
        config=config(),
        on_exclusion=lambda e: excluded.append((e.customer_id, e.reason)),
    )
    invited = [(r.customer_id, r.status) for r in rows(store) if r.campaign == "programme_invitation"]
    assert invited == [("CHAMP", "planned")]
    assert ("GLUM", "in segment unhappy, not in the audience champion") in excluded
    assert ("NOSEG", "in no segment yet, not in the audience champion") in excluded
    row = next(r for r in rows(store) if r.campaign == "programme_invitation")
    assert (row.kind, row.occasion, row.intent) == ("feedback", "programme:2026", "EXTERNAL_programme_invitation")


def test_a_referral_invitation_follows_the_decision_once_per_half_year(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        promoter(session, "FAN", segment="champion")
        session.add(PromoterInvitation(customer_id="FAN", accepted=True, created_at=NOW - dt.timedelta(days=20)))
    decide(store)
    with store() as session:
        assert session.scalars(select(NextBestAction.action)).one() == "referral_invitation"
    plan_day(sessions=store, day=DAY, now=NOW, config=config())
    decide(store, NOW + dt.timedelta(days=3))
    plan_day(sessions=store, day=DAY + dt.timedelta(days=3), now=NOW + dt.timedelta(days=3), config=config())
    invitations = [r for r in rows(store) if r.campaign == "referral_invitation"]
    assert [(r.occasion, r.kind) for r in invitations] == [("referral:2026H1", "perks")]
    assert json.loads(invitations[0].payload)["reward"] == "500 loyalty points"


def test_an_audience_on_an_existing_campaign_limits_it_to_those_segments(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        run = IntelRun(kind="segments", as_of=DECIDED)
        session.add(run)
        session.flush()
        for cid, segment in (("IN", "dormant"), ("OUT", "champion")):
            add(session, cid, used=("notes",))
            session.add(CustomerSegment(customer_id=cid, segment=segment, run_id=run.id, why="test"))
    base = config()
    tips = base.campaigns.usage_tip.model_copy(update={"audience": ("dormant",)})
    limited = base.model_copy(update={"campaigns": base.campaigns.model_copy(update={"usage_tip": tips})})
    excluded: list[tuple[str, str, str]] = []
    plan_day(
        sessions=store,
        day=DAY,
        now=NOW,
        config=limited,
        on_exclusion=lambda e: excluded.append((e.customer_id, e.campaign, e.reason)),
    )
    assert [r.customer_id for r in rows(store) if r.campaign == "usage_tip"] == ["IN"]
    assert excluded == [("OUT", "usage_tip", "in segment champion, not in the audience dormant")]


def test_an_unknown_segment_in_an_audience_stops_the_configuration_with_its_name() -> None:
    data = load_config().model_dump(mode="json")
    data["campaigns"]["birthday"]["audience"] = ["champions"]
    with pytest.raises(ConfigurationError, match=r"campaigns\.birthday\.audience.*unknown segments \['champions'\]"):
        parse_config(data, source="campaigns.yml")


def test_delivery_skips_a_retention_offer_once_the_customer_renewed(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        risky_customer(session)
    decide(store)
    plan_day(sessions=store, day=DAY, now=NOW, config=config())
    with store.begin() as session:
        sub = session.scalars(select(Subscription)).one()
        sub.renews_on = DAY + dt.timedelta(days=44)  # renewed early
    with store() as session:
        offer = session.scalars(select(OutboxMessage).where(OutboxMessage.campaign == "retention_offer")).one()
        verdict = pre_send_check(session=session, row=offer, now=NOW + dt.timedelta(hours=10), config=config())
    assert verdict.skip is not None and verdict.skip.startswith("already renewed")
