"""Planning into a real SQLite outbox: rules, idempotency, dry run, time zones, opt-out from chat."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime as action_runtime
from actions.preferences import ActionOptOut
from bot.channels.availability import REQUIRED
from supportbot.outreach.planner import plan_day
from supportbot.services.preferences import set_consent
from supportbot.store.outreach_models import OutboxMessage
from tests.scheduler.builders import DAY, NOW, add, add_closed_handoff, config, link

UTC = dt.UTC


def rows(sessions: sessionmaker[Session], **where: str) -> list[OutboxMessage]:
    with sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.customer_id, OutboxMessage.priority.desc())
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(session.scalars(query))


def test_plans_one_row_per_due_message_with_everything_delivery_needs(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1", renews_on=DAY + dt.timedelta(days=3), used=("notes", "sync"))
    report = plan_day(sessions=store, day=DAY, now=NOW, config=config())
    assert dict(report.planned) == {"renewal_reminder": 1, "usage_tip": 1}
    reminder, tip = rows(store)
    assert reminder.campaign == "renewal_reminder" and reminder.status == "planned"
    assert reminder.intent == "EXTERNAL_renewal_reminder"
    assert reminder.template == "utter_outreach_renewal_reminder"
    assert reminder.kind == "renewal"
    assert (reminder.conversation_id, reminder.channel) == ("cust:C1:web", "socketio")
    assert reminder.idempotency_key == f"C1:renewal_reminder:{reminder.occasion}"
    assert json.loads(reminder.payload)["name"] == "C1"
    assert reminder.not_before == dt.datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # send_time 10:00 in UTC
    assert tip.content_ref == "templates-meeting-notes" and tip.priority < reminder.priority


def test_replanning_is_idempotent(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1", renews_on=DAY + dt.timedelta(days=14), birthday=dt.date(1990, 3, 10))
    plan_day(sessions=store, day=DAY, now=NOW, config=config())
    first = [(r.id, r.idempotency_key, r.status) for r in rows(store)]
    again = plan_day(sessions=store, day=DAY, now=NOW + dt.timedelta(hours=1), config=config())
    assert [(r.id, r.idempotency_key, r.status) for r in rows(store)] == first
    assert sum(again.planned.values()) == 0 and sum(again.skipped.values()) == 0
    assert len(first) == 3


def test_dry_run_decides_the_same_and_writes_nothing(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1", birthday=dt.date(1990, 3, 10), consents={"tips": False})
    seen: list[tuple[str, str, str | None]] = []
    report = plan_day(
        sessions=store,
        day=DAY,
        now=NOW,
        config=config(),
        dry_run=True,
        on_decision=lambda f, d: seen.append((d.candidate.campaign, d.status, d.skip_reason)),
    )
    assert rows(store) == []
    assert sorted(seen) == [("birthday", "planned", None), ("usage_tip", "skipped", "consent withdrawn for tips")]
    assert report.dry_run and report.planned["birthday"] == 1


def test_priorities_decide_what_fits_under_the_daily_cap(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(
            session,
            "C1",
            birthday=dt.date(1990, 3, 10),
            customer_since=dt.date(2023, 3, 10),
            renews_on=DAY + dt.timedelta(days=1),
        )
    plan_day(sessions=store, day=DAY, now=NOW, config=config(per_day=2, per_week=10))
    decided = {r.campaign: (r.status, r.skip_reason) for r in rows(store)}
    assert decided == {
        "renewal_reminder": ("planned", None),
        "birthday": ("planned", None),
        "anniversary": ("skipped", "daily cap of 2 reached"),
        "usage_tip": ("skipped", "daily cap of 2 reached"),
    }


def test_weekly_cap_counts_messages_sent_earlier_in_the_week(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1", birthday=dt.date(1990, 3, 10))
        for days_ago in (1, 3, 5):
            sent = NOW - dt.timedelta(days=days_ago)
            session.add(
                OutboxMessage(
                    customer_id="C1",
                    campaign="usage_tip",
                    kind="tips",
                    occasion=f"old{days_ago}",
                    idempotency_key=f"C1:usage_tip:old{days_ago}",
                    local_day=sent.date(),
                    intent="EXTERNAL_usage_tip",
                    template="utter_outreach_usage_tip",
                    channel="rest",
                    conversation_id="cust:C1:web",
                    status="sent",
                    not_before=sent,
                    sent_at=sent,
                )
            )
    plan_day(sessions=store, day=DAY, now=NOW, config=config(per_day=5, per_week=3))
    assert [(r.status, r.skip_reason) for r in rows(store, campaign="birthday")] == [
        ("skipped", "weekly cap of 3 reached")
    ]


def test_quiet_hours_in_each_customers_own_time_zone(store: sessionmaker[Session]) -> None:
    # Quiet 21:00-11:00 everywhere, so the 10:00 send time is pushed to 11:00 local.
    quiet = (dt.time(21, 0), dt.time(11, 0))
    with store.begin() as session:
        add(session, "TOKYO", time_zone="Asia/Tokyo", quiet=quiet, birthday=dt.date(1990, 3, 11), used=("calendar",))
        add(
            session,
            "LA",
            time_zone="America/Los_Angeles",
            quiet=quiet,
            birthday=dt.date(1990, 3, 11),
            used=("calendar",),
        )
        add(session, "LONDON", time_zone="Europe/London", birthday=dt.date(1990, 3, 11), used=("calendar",))
    plan_day(sessions=store, day=dt.date(2026, 3, 11), now=NOW, config=config())
    not_before = {r.customer_id: (r.not_before, r.hold_reason) for r in rows(store, campaign="birthday")}
    # 11:00 in Tokyo (UTC+9) is 02:00 UTC; 11:00 in Los Angeles (PDT, UTC-7) is 18:00 UTC.
    assert not_before["TOKYO"][0] == dt.datetime(2026, 3, 11, 2, 0, tzinfo=UTC)
    assert not_before["LA"][0] == dt.datetime(2026, 3, 11, 18, 0, tzinfo=UTC)
    assert "quiet hours 21:00-11:00 Asia/Tokyo" in (not_before["TOKYO"][1] or "")
    # London keeps the plain 10:00 local send time (GMT in March): nothing held.
    assert not_before["LONDON"] == (dt.datetime(2026, 3, 11, 10, 0, tzinfo=UTC), None)


def test_a_day_already_over_in_the_customers_zone_is_not_planned(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "TOKYO", time_zone="Asia/Tokyo", birthday=dt.date(1990, 3, 9))
        add(session, "LA", time_zone="America/Los_Angeles", birthday=dt.date(1990, 3, 9))
    # 00:30 UTC on 10 March: still 9 March (17:30) in Los Angeles, already 10 March in Tokyo.
    report = plan_day(sessions=store, day=dt.date(2026, 3, 9), now=NOW, config=config())
    assert [r.customer_id for r in rows(store, campaign="birthday")] == ["LA"]
    assert report.day_over == 1


def _switch_on_telegram(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in REQUIRED["telegram"].values():
        monkeypatch.setenv(name, f"test-{name.lower()}")


def test_csat_follow_up_goes_to_the_linked_channel(
    store: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    _switch_on_telegram(monkeypatch)
    with store.begin() as session:
        add(session, "C1", used=("notes", "sync", "reminders", "templates", "sharing", "calendar"))
        link(session, "C1", channel="telegram", external_id="98765")
        interaction = add_closed_handoff(session, "C1", closed_at=NOW - dt.timedelta(minutes=30))
    plan_day(sessions=store, day=DAY, now=NOW, config=config())
    [row] = rows(store)
    assert (row.campaign, row.occasion, row.kind) == ("csat_followup", f"handoff{interaction}", "feedback")
    assert (row.conversation_id, row.channel) == ("98765", "telegram")
    # Due two hours after closing (02:00 UTC), inside quiet hours 21:00-08:00 UTC: held until 08:00.
    assert row.not_before == dt.datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


def test_a_link_on_a_channel_that_is_switched_off_falls_back_to_the_website(
    store: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    _switch_on_telegram(monkeypatch)
    monkeypatch.delenv("TELEGRAM_ACCESS_TOKEN")
    with store.begin() as session:
        add(session, "C1", used=("notes", "sync", "reminders", "templates", "sharing", "calendar"))
        link(session, "C1", channel="telegram", external_id="98765")
        add_closed_handoff(session, "C1", closed_at=NOW - dt.timedelta(minutes=30))
    plan_day(sessions=store, day=DAY, now=NOW, config=config())
    [row] = rows(store)
    assert (row.conversation_id, row.channel) == ("cust:C1:web", "socketio")


async def test_opt_out_in_chat_takes_effect_for_the_next_planning_at_once(
    store: sessionmaker[Session], monkeypatch: object
) -> None:
    with store.begin() as session:
        add(session, "C1", used=("notes", "sync"))
    monkeypatch.setattr(action_runtime, "sessions", lambda: store)  # type: ignore[attr-defined]
    tracker = Tracker(
        sender_id="cust:C1:web",
        slots={"outreach_kind": "tips"},
        latest_message={"text": "stop sending tips", "intent": {"name": "opt_out"}, "entities": []},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )
    dispatcher = CollectingDispatcher()
    await ActionOptOut().run(dispatcher, tracker, {})
    assert dispatcher.messages[0]["response"] == "utter_opt_out_done"
    plan_day(sessions=store, day=DAY, now=NOW, config=config())
    assert [(r.campaign, r.status, r.skip_reason) for r in rows(store)] == [
        ("usage_tip", "skipped", "consent withdrawn for tips")
    ]


def test_a_skipped_tip_is_not_used_up(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        add(session, "C1", used=("notes", "sync"), consents={"tips": False})
    plan_day(sessions=store, day=DAY, now=NOW, config=config())
    with store.begin() as session:
        set_consent(session=session, customer_id="C1", kind="tips", granted=True, conversation=None)
    plan_day(sessions=store, day=DAY + dt.timedelta(days=1), now=NOW + dt.timedelta(days=1), config=config())
    assert len(rows(store)) == 1  # a skipped tip still counts for the weekly cadence: no daily skip records
    plan_day(sessions=store, day=DAY + dt.timedelta(days=7), now=NOW + dt.timedelta(days=7), config=config())
    assert [(r.status, r.content_ref) for r in rows(store)] == [
        ("skipped", "templates-meeting-notes"),
        ("planned", "templates-meeting-notes"),
    ]
