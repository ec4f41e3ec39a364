"""Delivery against Rasa's API at the HTTP edge (httpx.MockTransport), with a real SQLite outbox."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.outreach.config import OutreachConfig
from supportbot.outreach.delivery import Deliverer
from supportbot.outreach.outbox import claim_batch
from supportbot.outreach.planner import plan_day
from supportbot.outreach.rasa_client import RasaClient
from supportbot.services.account import renew_now
from supportbot.services.preferences import set_consent
from supportbot.store.outreach_models import OutboxMessage, OutreachTipSent
from tests.scheduler.builders import DAY, NOW, FrozenClock, add, config
from tests.scheduler.fake_rasa import Crash, FakeRasa

UTC = dt.UTC
SEND = dt.datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def deliverer(store: sessionmaker[Session], rasa: FakeRasa, clock: FrozenClock, cfg: OutreachConfig) -> Deliverer:
    client = RasaClient(
        base_url="http://rasa", token=rasa.token, timeouts=cfg.delivery.timeouts, transport=rasa.transport()
    )
    return Deliverer(sessions=store, client=client, config=cfg, clock=clock)


def row(store: sessionmaker[Session], campaign: str = "renewal_reminder") -> OutboxMessage:
    with store() as session:
        found = session.scalar(select(OutboxMessage).where(OutboxMessage.campaign == campaign))
        assert found is not None
        return found


@pytest.fixture
def planned(store: sessionmaker[Session]) -> OutreachConfig:
    """C1's renewal reminder (3 days ahead) planned for 10:00 UTC on DAY; tips switched off."""
    cfg = config()
    with store.begin() as session:
        add(session, "C1", renews_on=DAY + dt.timedelta(days=3), consents={"tips": False})
    plan_day(sessions=store, day=DAY, now=NOW, config=cfg)
    return cfg


def test_delivers_a_due_message_through_trigger_intent(store: sessionmaker[Session], planned: OutreachConfig) -> None:
    rasa, clock = FakeRasa(), FrozenClock(SEND - dt.timedelta(minutes=1))
    worker = deliverer(store, rasa, clock, planned)
    assert worker.deliver_once().claimed == 0  # not before its time
    clock.advance(minutes=1)
    report = worker.deliver_once()
    assert (report.claimed, report.sent) == (1, 1)
    reminder = row(store)
    [(conversation, body, params)] = rasa.triggers
    assert conversation == "cust:C1:web"
    assert body == {"name": "EXTERNAL_renewal_reminder", "entities": {"outbox_id": str(reminder.id)}}
    assert params["output_channel"] == "socketio" and params["token"] == rasa.token
    assert (reminder.status, reminder.sent_at, reminder.confirmed_by, reminder.attempts) == (
        "sent",
        SEND,
        "response",
        1,
    )
    assert rasa.tracker_reads == 0  # a first attempt needs no check


def test_rasa_down_backs_off_exponentially_and_loses_nothing(
    store: sessionmaker[Session], planned: OutreachConfig
) -> None:
    cfg = planned.with_delivery(max_attempts=2)
    rasa, clock = FakeRasa(), FrozenClock(SEND)
    rasa.mode = "down"
    worker = deliverer(store, rasa, clock, cfg)
    waits = []
    for _ in range(4):  # more tries than max_attempts: an unreachable Rasa never fails a row
        assert worker.deliver_once().retried == 1
        reminder = row(store)
        assert reminder.status == "planned" and "ConnectError" in (reminder.last_error or "")
        assert reminder.next_attempt_at is not None
        waits.append((reminder.next_attempt_at - clock.now).total_seconds())
        assert worker.deliver_once().claimed == 0  # waits for its backoff
        clock.now = reminder.next_attempt_at
    assert waits == [30, 60, 120, 240]
    rasa.mode = "up"
    assert worker.deliver_once().sent == 1
    assert rasa.delivered(row(store).id) == 1
    assert row(store).status == "sent"


def test_errors_after_which_it_may_have_arrived_are_checked_then_fail_after_max_attempts(
    store: sessionmaker[Session], planned: OutreachConfig
) -> None:
    cfg = planned.with_delivery(max_attempts=3)
    rasa, clock = FakeRasa(), FrozenClock(SEND)
    rasa.mode = "error"
    worker = deliverer(store, rasa, clock, cfg)
    for _ in range(3):
        worker.deliver_once()
        clock.advance(hours=1)
    reminder = row(store)
    assert reminder.status == "failed"
    assert "HTTP 500" in (reminder.last_error or "")
    assert rasa.tracker_reads == 2  # every retry first asked the tracker whether it had arrived


def test_a_request_rasa_refuses_fails_at_once(store: sessionmaker[Session], planned: OutreachConfig) -> None:
    rasa, clock = FakeRasa(), FrozenClock(SEND)
    rasa.mode = "missing"
    assert deliverer(store, rasa, clock, planned).deliver_once().failed == 1
    assert "HTTP 404" in (row(store).last_error or "")


def test_crash_after_rasa_recorded_it_is_found_in_the_tracker_not_sent_again(
    store: sessionmaker[Session], planned: OutreachConfig
) -> None:
    rasa, clock = FakeRasa(), FrozenClock(SEND)
    rasa.mode = "lost-response"
    with pytest.raises(Crash):
        deliverer(store, rasa, clock, planned).deliver_once()
    assert row(store).status == "sending"
    rasa.mode = "up"
    restarted = deliverer(store, rasa, clock, planned)
    assert restarted.deliver_once().claimed == 0  # the dead worker's lease still runs
    clock.advance(seconds=planned.delivery.lease_seconds + 1)
    report = restarted.deliver_once()
    assert (report.sent, report.confirmed_from_tracker) == (1, 1)
    reminder = row(store)
    assert (reminder.status, reminder.confirmed_by) == ("sent", "tracker")
    assert rasa.delivered(reminder.id) == 1 and len(rasa.triggers) == 1


def test_crash_before_rasa_got_it_is_sent_after_the_lease(
    store: sessionmaker[Session], planned: OutreachConfig
) -> None:
    rasa, clock = FakeRasa(), FrozenClock(SEND)
    rasa.mode = "crash-before"
    with pytest.raises(Crash):
        deliverer(store, rasa, clock, planned).deliver_once()
    rasa.mode = "up"
    clock.advance(seconds=planned.delivery.lease_seconds + 1)
    assert deliverer(store, rasa, clock, planned).deliver_once().sent == 1
    assert rasa.delivered(row(store).id) == 1 and rasa.tracker_reads == 1


def test_two_workers_never_claim_the_same_row(store: sessionmaker[Session], planned: OutreachConfig) -> None:
    lease = dt.timedelta(minutes=2)
    with store.begin() as session:
        first = claim_batch(session=session, worker="a", now=SEND, lease=lease, limit=10)
    with store.begin() as session:
        second = claim_batch(session=session, worker="b", now=SEND, lease=lease, limit=10)
    assert len(first) == 1 and second == []


def test_quiet_hours_at_delivery_hold_the_message_until_morning(
    store: sessionmaker[Session], planned: OutreachConfig
) -> None:
    rasa, clock = FakeRasa(), FrozenClock(dt.datetime(2026, 3, 10, 22, 30, tzinfo=UTC))  # a backlog, late at night
    report = deliverer(store, rasa, clock, planned).deliver_once()
    assert report.held == 1 and rasa.triggers == []
    reminder = row(store)
    assert reminder.status == "planned"
    assert reminder.not_before == dt.datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
    assert "quiet hours" in (reminder.hold_reason or "")


def test_opt_out_after_planning_stops_the_message(store: sessionmaker[Session], planned: OutreachConfig) -> None:
    with store.begin() as session:
        set_consent(session=session, customer_id="C1", kind="renewal", granted=False, conversation=None)
    rasa = FakeRasa()
    report = deliverer(store, rasa, FrozenClock(SEND), planned).deliver_once()
    assert dict(report.skipped) == {"consent withdrawn for renewal": 1}
    assert rasa.triggers == []
    assert (row(store).status, row(store).skip_reason) == ("skipped", "consent withdrawn for renewal")


def test_renewed_before_the_reminder_is_skipped_and_not_planned_again(
    store: sessionmaker[Session], planned: OutreachConfig
) -> None:
    with store.begin() as session:
        renew_now(session=session, customer_id="C1", today=DAY, conversation=None)
    rasa = FakeRasa()
    deliverer(store, rasa, FrozenClock(SEND), planned).deliver_once()
    assert rasa.triggers == []
    assert (row(store).skip_reason or "").startswith("already renewed: renews_on moved from 2026-03-13 to 2026-04-13")
    report = plan_day(sessions=store, day=DAY, now=SEND, config=planned)
    assert report.planned["renewal_reminder"] == 0


def test_daily_cap_is_rechecked_on_messages_actually_sent(store: sessionmaker[Session]) -> None:
    cfg = config(per_day=2)
    with store.begin() as session:
        add(
            session, "C1", renews_on=DAY + dt.timedelta(days=3), birthday=dt.date(1990, 3, 10), consents={"tips": False}
        )
    plan_day(sessions=store, day=DAY, now=NOW, config=cfg)
    tighter = cfg.model_copy(update={"caps": cfg.caps.model_copy(update={"per_day": 1})})
    rasa = FakeRasa()
    report = deliverer(store, rasa, FrozenClock(SEND), tighter).deliver_once()
    assert report.sent == 1 and dict(report.skipped) == {"daily cap of 1 reached": 1}
    assert rasa.triggers[0][1]["name"] == "EXTERNAL_renewal_reminder"  # the higher priority went first


def test_a_sent_tip_goes_into_the_ledger_and_the_next_tip_is_another(store: sessionmaker[Session]) -> None:
    cfg = config()
    with store.begin() as session:
        add(session, "C1", used=("notes", "sync"))
    plan_day(sessions=store, day=DAY, now=NOW, config=cfg)
    deliverer(store, FakeRasa(), FrozenClock(SEND), cfg).deliver_once()
    with store() as session:
        assert list(session.scalars(select(OutreachTipSent.tip_id))) == ["templates-meeting-notes"]
    later = DAY + dt.timedelta(days=7)
    plan_day(sessions=store, day=later, now=NOW + dt.timedelta(days=7), config=cfg)
    with store() as session:
        refs = list(session.scalars(select(OutboxMessage.content_ref).order_by(OutboxMessage.id)))
    assert refs == ["templates-meeting-notes", "reminders-from-notes"]


def test_a_message_too_late_to_matter_is_skipped(store: sessionmaker[Session], planned: OutreachConfig) -> None:
    rasa = FakeRasa()
    deliverer(store, rasa, FrozenClock(SEND + dt.timedelta(days=2)), planned).deliver_once()
    assert rasa.triggers == []
    assert (row(store).skip_reason or "").startswith("stale")


def test_payload_survives_as_json(store: sessionmaker[Session], planned: OutreachConfig) -> None:
    payload = json.loads(row(store).payload)
    assert payload["renews_on"] == "2026-03-13" and payload["when"] == "in 3 days"


def test_an_answer_without_the_rendered_message_is_not_sent_but_retried(
    store: sessionmaker[Session], planned: OutreachConfig
) -> None:
    """Security finding 6a: with its action server down Rasa still answers 200 and keeps the
    external event; the row must wait for a real rendering, not read ``sent``."""
    rasa, clock = FakeRasa(), FrozenClock(SEND)
    rasa.mode = "actions-down"
    worker = deliverer(store, rasa, clock, planned)
    report = worker.deliver_once()
    assert (report.sent, report.retried) == (0, 1)
    reminder = row(store)
    assert reminder.status == "planned" and "NotRendered" in (reminder.last_error or "")
    assert rasa.delivered(reminder.id) == 1 and rasa.shown(reminder.id) == 0
    rasa.mode = "up"
    assert reminder.next_attempt_at is not None
    clock.now = reminder.next_attempt_at
    report = worker.deliver_once()
    assert (report.sent, report.confirmed_from_tracker) == (1, 0)  # looked, found nothing, sent again
    assert rasa.tracker_reads == 1 and rasa.shown(reminder.id) == 1
    assert (row(store).status, row(store).confirmed_by) == ("sent", "response")


def test_a_delivered_message_found_after_a_crash_stays_sent_whatever_changed_since(
    store: sessionmaker[Session], planned: OutreachConfig
) -> None:
    """Security finding 6c: the tracker check comes before the pre-send checks, so a message the
    customer got is ``sent`` (and counts toward the caps) even if they opted out just after."""
    rasa, clock = FakeRasa(), FrozenClock(SEND)
    rasa.mode = "lost-response"
    with pytest.raises(Crash):
        deliverer(store, rasa, clock, planned).deliver_once()
    with store.begin() as session:
        set_consent(session=session, customer_id="C1", kind="renewal", granted=False, conversation=None)
    rasa.mode = "up"
    clock.advance(seconds=planned.delivery.lease_seconds + 1)
    report = deliverer(store, rasa, clock, planned).deliver_once()
    assert (report.sent, report.confirmed_from_tracker, dict(report.skipped)) == (1, 1, {})
    assert (row(store).status, row(store).confirmed_by) == ("sent", "tracker")
    assert rasa.shown(row(store).id) == 1 and len(rasa.triggers) == 1
