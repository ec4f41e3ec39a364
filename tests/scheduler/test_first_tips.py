"""The set-based first usage tips (``outreach.first_tips``) decide exactly what the Python rules
decide, on SQLite and PostgreSQL, for customers built to sit on every edge of its conditions."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportbot.outreach import first_tips
from supportbot.outreach.planner import plan_day
from supportbot.store.db import make_engine, session_factory
from supportbot.store.feedback_models import Feedback
from supportbot.store.models import Subscription
from supportbot.store.outreach_models import OutboxMessage, OutreachTipSent
from tests.scheduler.builders import DAY, NOW, add, add_closed_handoff, add_orders, config, link
from tests.scheduler.test_planning_scale import decisions, population

FEATURES = ("notes", "sync", "reminders", "templates", "sharing", "calendar", "offline", "automation", "api")
NAMES = ("Plain", "Zoë", 'Ann "Al"', "Back\\slash", "Tab\tName", "", "O'Neil", "Ünal", "~Tilde ")
ZONES = ("UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "Not/AZone", "America/New_York")
QUIET = ((dt.time(21, 0), dt.time(8, 0)), (dt.time(9, 0), dt.time(11, 0)), (dt.time(0), dt.time(0)))
TIPS = [tip.id for tip in config().campaigns.usage_tip.tips]


def edges(session: Session, *, customers: int = 300, seed: int = 11) -> None:
    """Mostly customers the set-based step could take, each with one twist or none: names JSON
    must escape, every plan and segment, withdrawn or granted consents, a day already over or
    not begun, unknown time zones, quiet hours over the send time, a second subscription, a tip
    or three already sent, an old or a pending tip row, feedback, a linked account, a recent order."""
    rng = random.Random(seed)
    for n in range(customers):
        cid = f"F{n:04d}"
        add(
            session,
            cid,
            first_name=rng.choice(NAMES) if rng.random() < 0.3 else f"Plain {n}",
            time_zone=rng.choice(ZONES),
            quiet=rng.choice(QUIET),
            segment=rng.choice(("consumer", "small_business", "enterprise", "education")),
            plan=rng.choice(("starter", "plus", "pro", "business", "business", "plus", None)),
            status=rng.choice(("active", "active", "active", "active", "trial", "past_due", "cancelled")),
            renews_on=DAY + dt.timedelta(days=rng.choice((2, 20, 45, 3, 25, 50, 60))),
            used=tuple(rng.sample(FEATURES, rng.randrange(6))),
            tier=rng.choice((None, "silver", "gold")),
            tier_since=DAY - dt.timedelta(days=rng.choice((3, 30, 300, 100))),
            consents={kind: rng.random() < 0.5 for kind in ("tips", "milestones") if rng.random() < 0.3},
        )
        twist = rng.randrange(20)
        if twist == 0:
            session.add(
                Subscription(
                    customer_id=cid,
                    plan_code="pro",
                    status=rng.choice(("active", "cancelled")),
                    price_cents=1200,
                    started_on=dt.date(2024, 1, 1),
                    renews_on=DAY + dt.timedelta(days=33),
                    auto_renew=True,
                )
            )
        elif twist in (1, 8, 9):  # tips sent long ago: the choice must skip them
            for tip in rng.sample(TIPS, rng.randrange(1, 4)):
                session.add(OutreachTipSent(customer_id=cid, tip_id=tip, sent_at=NOW - dt.timedelta(days=40)))
        elif twist in (2, 3):
            ago = rng.choice((1, 5, 8, 9, 30))
            at = NOW - dt.timedelta(days=ago)
            session.add(
                OutboxMessage(
                    customer_id=cid,
                    campaign="usage_tip",
                    kind="tips",
                    occasion=(DAY - dt.timedelta(days=ago)).isoformat(),
                    idempotency_key=f"{cid}:usage_tip:{(DAY - dt.timedelta(days=ago)).isoformat()}",
                    local_day=DAY - dt.timedelta(days=ago),
                    content_ref="calendar-link",
                    intent="EXTERNAL_usage_tip",
                    template="utter_outreach_usage_tip",
                    payload="{}",
                    channel="socketio",
                    conversation_id=f"cust:{cid}:web",
                    status=rng.choice(("sent", "skipped", "planned")),
                    not_before=at,
                    sent_at=at,
                    planned_at=at,
                )
            )
        elif twist == 4:
            session.add(
                Feedback(
                    customer_id=cid,
                    conversation_id=f"cust:{cid}:web",
                    channel="socketio",
                    kind="nps",
                    rating=rng.choice((3, 10)),
                    prompted_by="test",
                    created_at=NOW - dt.timedelta(days=3),
                )
            )
        elif twist == 5:
            link(session, cid, channel="telegram", external_id=f"tg-{cid}")
        elif twist == 6:
            add_orders(session, cid, placed=[NOW - dt.timedelta(days=d) for d in (1, 40)])
        elif twist == 7:
            add_closed_handoff(session, cid, closed_at=NOW - dt.timedelta(hours=5))
    session.flush()


def planned(url: str, **options: Any) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
    """Plan the day before, the day and the day after on a fresh copy of both populations:
    (outbox decisions, each day's report)."""
    engine = make_engine(url)
    sessions: sessionmaker[Session] = session_factory(engine)
    try:
        with sessions.begin() as session:
            population(session)
            edges(session)
        reports = []
        for day in (DAY - dt.timedelta(days=1), DAY, DAY + dt.timedelta(days=1)):
            report = plan_day(sessions=sessions, day=day, now=NOW, config=config(), batch_size=41, **options)
            reports.append(report.as_dict())
        return decisions(sessions), reports
    finally:
        engine.dispose()


def test_set_based_first_tips_decide_what_the_rules_decide(
    new_store: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    by_rules = planned(new_store(), on_decision=lambda *_: None)  # a hook per decision: Python alone
    staged: list[int] = []
    stage = first_tips.stage_first_tips

    def counted(**kwargs: Any) -> first_tips.Staged:
        found = stage(**kwargs)
        staged.append(len(found.customers))
        return found

    monkeypatch.setattr(first_tips, "stage_first_tips", counted)
    set_based = planned(new_store())
    assert set_based == by_rules
    # The comparison means something: the database decided many customers, Python the others,
    # and the days have planned tips, consent skips, holds for quiet hours and days already over.
    rows, reports = set_based
    decided = sum(staged)
    assert decided >= 60 and len(rows) - decided >= 300
    tips = [row for row in rows if row[1] == "usage_tip"]
    assert any(row[13] == "skipped" and row[15] == "consent withdrawn for tips" for row in tips)
    assert any(row[16] for row in tips) and any("\\u00eb" in row[9] for row in tips)
    assert any(report["day_over"] for report in reports)


def test_nothing_is_set_based_where_the_configuration_says_otherwise() -> None:
    base = config()
    tips = base.campaigns.usage_tip
    assert first_tips.applicable(base)
    assert not first_tips.applicable(config(per_day=0))
    assert not first_tips.applicable(config(per_week=0))
    for change in ({"enabled": False}, {"audience": ("champion",)}):
        campaigns = base.campaigns.model_copy(update={"usage_tip": tips.model_copy(update=change)})
        assert not first_tips.applicable(base.model_copy(update={"campaigns": campaigns}))
