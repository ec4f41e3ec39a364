"""The handoff's states in a real SQLite store: one winner per claim, only the assignee writes,
escalation once, the honest wait, support hours, and closing as the csat_followup planner reads it."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportbot.errors import ConfigurationError, InvalidRequestError
from supportbot.outreach.config import load_config
from supportbot.outreach.facts import load_facts
from supportbot.services import handoff as handoffs
from supportbot.services.support import ConversationRef, request_handoff
from supportbot.services.support_hours import describe_opening, is_open, next_opening, parse_support_hours
from supportbot.store.console_models import ConsoleUser
from supportbot.store.db import make_engine, session_factory
from tests.factories import add_customer, prepared_store

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)  # a Tuesday


@pytest.fixture
def store(tmp_path: Path) -> sessionmaker[Session]:
    sessions = prepared_store(tmp_path / "profile.db")
    with sessions.begin() as session:
        add_customer(session, "C1", first_name="Ada", plan="pro", renews_in_days=5, price_cents=2400)
        for email in ("ana@lumen.example", "ben@lumen.example"):
            session.add(ConsoleUser(email=email, role="agent", password_hash="x"))
    return sessions


def ask(store: sessionmaker[Session], conversation: str, customer: str | None = "C1") -> int:
    with store.begin() as session:
        return request_handoff(
            session=session, customer_id=customer, conversation=ConversationRef(conversation, "socketio"), reason="hi"
        )


def test_of_two_agents_claiming_at_once_exactly_one_wins(store: sessionmaker[Session], tmp_path: Path) -> None:
    handoff_id = ask(store, "cust:C1:web")
    url = f"sqlite:///{tmp_path / 'profile.db'}"
    results: list[str] = []
    barrier = threading.Barrier(2)

    def claim(agent: int) -> None:
        own = session_factory(make_engine(url))  # its own engine and connection, as another process would
        barrier.wait()
        try:
            with own.begin() as session:
                handoffs.claim(session=session, handoff_id=handoff_id, agent_id=agent)
            results.append(f"won {agent}")
        except handoffs.HandoffConflict as exc:
            results.append(str(exc))
        finally:
            own.kw["bind"].dispose()

    threads = [threading.Thread(target=claim, args=(agent,)) for agent in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len([r for r in results if r.startswith("won")]) == 1, results
    assert any("already assigned to" in r for r in results), results


def test_only_the_assignee_writes_and_hands_back(store: sessionmaker[Session]) -> None:
    handoff_id = ask(store, "cust:C1:web")
    with store.begin() as session:
        with pytest.raises(handoffs.HandoffConflict, match="claim the conversation first"):
            handoffs.check_assignee(session=session, handoff_id=handoff_id, agent_id=1)
        handoffs.claim(session=session, handoff_id=handoff_id, agent_id=1, now=NOW)
        with pytest.raises(handoffs.HandoffConflict, match="assigned to Ana"):
            handoffs.check_assignee(session=session, handoff_id=handoff_id, agent_id=2)
        with pytest.raises(handoffs.HandoffConflict):
            handoffs.hand_back(session=session, handoff_id=handoff_id, agent_id=2)
        handoffs.record_reply(session=session, handoff_id=handoff_id, agent_id=1, now=NOW + dt.timedelta(minutes=1))
        handoffs.record_reply(session=session, handoff_id=handoff_id, agent_id=1, now=NOW + dt.timedelta(minutes=5))
        back = handoffs.hand_back(session=session, handoff_id=handoff_id, agent_id=1, now=NOW)
    assert back.status == "returned" and back.first_reply_at == NOW + dt.timedelta(minutes=1)


def test_asking_again_after_a_hand_back_waits_in_the_same_handoff(store: sessionmaker[Session]) -> None:
    first = ask(store, "cust:C1:web")
    with store.begin() as session:
        handoffs.claim(session=session, handoff_id=first, agent_id=1)
        handoffs.hand_back(session=session, handoff_id=first, agent_id=1)
    assert ask(store, "cust:C1:web") == first
    with store() as session:
        again = handoffs.get_handoff(session=session, handoff_id=first)
    assert (again.status, again.assigned_to) == ("open", None)


def test_closing_is_what_the_csat_followup_planner_reads(store: sessionmaker[Session]) -> None:
    handoff_id = ask(store, "cust:C1:web")
    with store.begin() as session:
        with pytest.raises(InvalidRequestError, match="outcome"):
            handoffs.close(session=session, handoff_id=handoff_id, agent_id=1, outcome="maybe")
        closed = handoffs.close(session=session, handoff_id=handoff_id, agent_id=1, outcome="resolved", note=" ok ")
        assert (closed.status, closed.close_note) == ("closed", "ok")
        with pytest.raises(handoffs.HandoffConflict, match="already closed"):
            handoffs.close(session=session, handoff_id=handoff_id, agent_id=1, outcome="resolved")
    now = closed.closed_at + dt.timedelta(hours=3)  # type: ignore[operator]
    with store() as session:
        facts = load_facts(session=session, ids=["C1"], day=now.date(), now=now, config=load_config())
    assert [iid for iid, _ in facts[0].closed_handoffs] == [handoff_id]


def test_a_customer_who_withdraws_leaves_the_queue_without_a_follow_up(store: sessionmaker[Session]) -> None:
    handoff_id = ask(store, "cust:C1:web")
    with store.begin() as session:
        assert handoffs.withdraw(session=session, conversation_id="cust:C1:web", now=NOW)
        assert not handoffs.withdraw(session=session, conversation_id="cust:C1:web", now=NOW)  # nothing waits now
        assert handoffs.queue(session=session) == []
        with pytest.raises(handoffs.HandoffConflict, match="withdrew"):
            handoffs.claim(session=session, handoff_id=handoff_id, agent_id=1)
        gone = handoffs.get_handoff(session=session, handoff_id=handoff_id)
    assert (gone.status, gone.closed_at, gone.outcome) == ("withdrawn", NOW, None)
    now = NOW + dt.timedelta(hours=3)
    with store() as session:
        facts = load_facts(session=session, ids=["C1"], day=now.date(), now=now, config=load_config())
    assert list(facts[0].closed_handoffs) == []  # no "how did our team do?" about a person never met
    assert ask(store, "cust:C1:web") != handoff_id  # asking again queues a new request


def test_a_claimed_handoff_cannot_be_withdrawn(store: sessionmaker[Session]) -> None:
    handoff_id = ask(store, "cust:C1:web")
    with store.begin() as session:
        handoffs.claim(session=session, handoff_id=handoff_id, agent_id=1)
        assert not handoffs.withdraw(session=session, conversation_id="cust:C1:web")
        assert handoffs.get_handoff(session=session, handoff_id=handoff_id).status == "claimed"


def test_escalation_marks_each_overdue_handoff_once(store: sessionmaker[Session]) -> None:
    old, fresh = ask(store, "cust:C1:web"), ask(store, "anon:web:abc", customer=None)
    later = handoffs.utcnow() + dt.timedelta(minutes=30)
    with store.begin() as session:
        session.get(handoffs.SupportInteraction, fresh).waiting_since = later  # type: ignore[union-attr]
    with store.begin() as session:
        marked = handoffs.escalate_overdue(session=session, after=dt.timedelta(minutes=10), now=later)
    assert [h.id for h in marked] == [old]
    with store.begin() as session:
        assert handoffs.escalate_overdue(session=session, after=dt.timedelta(minutes=10), now=later) == []
        assert [h.id for h in handoffs.queue(session=session)] == [old, fresh]  # escalated first


def test_the_expected_wait_is_the_place_in_line_and_the_weeks_median(store: sessionmaker[Session]) -> None:
    with store() as session:
        unknown = handoffs.expected_wait(session=session, conversation_id="cust:C1:web")
    assert handoffs.describe_wait(unknown).startswith("You're next in line; I can't say exactly")
    for n, minutes in enumerate((2, 4, 30)):
        handoff_id = ask(store, f"anon:web:past{n}", customer=None)
        with store.begin() as session:
            row = session.get(handoffs.SupportInteraction, handoff_id)
            assert row is not None and row.waiting_since is not None
            handoffs.claim(session=session, handoff_id=handoff_id, agent_id=1, now=row.waiting_since)
            row.assigned_at = row.waiting_since + dt.timedelta(minutes=minutes)
    ask(store, "anon:web:ahead", customer=None)
    ask(store, "cust:C1:web")
    with store() as session:
        estimate = handoffs.expected_wait(session=session, conversation_id="cust:C1:web")
    assert estimate.position == 2
    assert handoffs.describe_wait(estimate) == (
        "You're number 2 in the queue; this week a person has usually picked up a conversation within about 4 minutes."
    )


def test_support_hours_in_the_teams_time_zone() -> None:
    hours = parse_support_hours("mon-fri 09:00-17:00; sat 10:00-14:00", "Europe/Berlin")
    assert is_open(hours, NOW)  # 13:00 in Berlin on a Tuesday
    evening = dt.datetime(2026, 12, 5, 16, 0, tzinfo=dt.UTC)  # Saturday 17:00 in Berlin
    assert not is_open(hours, evening)
    opening = next_opening(hours, evening)
    assert opening is not None and opening.isoformat() == "2026-12-07T09:00:00+01:00"
    assert describe_opening(opening, evening) == "Monday at 09:00 (Europe/Berlin time)"
    night = dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)  # Wednesday 00:30 in Berlin
    assert describe_opening(next_opening(hours, night), night) == "today at 09:00 (Europe/Berlin time)"  # type: ignore[arg-type]
    assert parse_support_hours("mon-sun 00:00-24:00", "UTC").always_open


@pytest.mark.parametrize(
    ("spec", "zone", "problem"),
    [
        ("mon-fri 9-5", "UTC", "expected e.g."),
        ("mon-fri 17:00-09:00", "UTC", "start must be before"),
        ("fri-mon 09:00-17:00", "UTC", "backwards"),
        ("xyz 09:00-17:00", "UTC", "days are"),
        ("mon 09:00-25:00", "UTC", "not a time of day"),
        ("mon 09:00-17:00", "Mars/Olympus", "unknown time zone"),
        ("", "UTC", "empty"),
    ],
)
def test_bad_support_hours_are_refused_with_a_reason(spec: str, zone: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        parse_support_hours(spec, zone)
