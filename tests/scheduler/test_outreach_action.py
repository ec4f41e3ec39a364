"""action_deliver_outreach: renders its own customer's outbox row, and nobody else's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime as action_runtime
from actions.loyalty import ActionLoyalty
from actions.outreach import ActionDeliverOutreach
from supportbot.outreach.planner import plan_day
from supportbot.services.preferences import set_consent
from supportbot.store.db import make_engine, session_factory
from supportbot.store.models import LoyaltyAccount, Subscription
from supportbot.store.outreach_models import OutboxMessage
from supportbot.store.perk_models import PerkGrant
from tests.scheduler.builders import DAY, NOW, add, config


@pytest.fixture
def reminder_id(store: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(action_runtime, "sessions", lambda: store)
    with store.begin() as session:
        add(session, "C1", first_name="Ada", renews_on=DAY + dt.timedelta(days=3), consents={"tips": False})
        add(session, "C2", first_name="Bob")
    plan_day(sessions=store, day=DAY, now=NOW, config=config())
    with store() as session:
        return int(session.scalars(select(OutboxMessage.id).where(OutboxMessage.campaign == "renewal_reminder")).one())


def external(sender_id: str, outbox_id: Any, *, events: list[dict[str, Any]] | None = None) -> Tracker:
    entities = [{"entity": "outbox_id", "value": str(outbox_id)}]
    return Tracker(
        sender_id=sender_id,
        slots={},
        latest_message={
            "text": "EXTERNAL: EXTERNAL_renewal_reminder",
            "intent": {"name": "EXTERNAL_renewal_reminder"},
            "entities": entities,
        },
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run(t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await ActionDeliverOutreach().run(dispatcher, t, {})
    return events, dispatcher.messages


async def test_renders_the_reminder_with_an_opt_out_button_and_remembers_the_kind(reminder_id: int) -> None:
    events, [message] = await run(external("cust:C1:web", reminder_id))
    assert message["response"] == "utter_outreach_renewal_reminder"
    assert message["name"] == "Ada" and message["plan"] == "Plus" and message["price"] == "$12.00"
    assert message["date"] == "Friday, March 13, 2026"
    assert message["buttons"] == [
        {"title": "Stop renewal reminders", "payload": '/opt_out{"outreach_kind": "renewal"}'}
    ]
    assert "subscription_id" not in message  # bookkeeping stays out of the message
    assert message["outbox_id"] == str(reminder_id)  # ...but the row's id goes along: the proof of delivery
    assert events == [{"event": "slot", "timestamp": None, "name": "last_outreach_kind", "value": "renewal"}]


async def test_rendering_writes_the_render_mark(reminder_id: int, store: sessionmaker[Session]) -> None:
    with store() as session:
        before = session.get(OutboxMessage, reminder_id)
        assert before is not None and (before.rendered_at, before.renders) == (None, 0)
    await run(external("cust:C1:web", reminder_id))
    with store() as session:
        after = session.get(OutboxMessage, reminder_id)
        assert after is not None and after.rendered_at is not None and after.renders == 1


async def test_a_message_already_in_the_conversation_is_not_shown_again(
    reminder_id: int, store: sessionmaker[Session]
) -> None:
    saved = [{"event": "bot", "text": "Hi Ada, a heads-up", "metadata": {"outbox_id": str(reminder_id)}}]
    assert await run(external("cust:C1:web", reminder_id, events=saved)) == ([], [])
    with store() as session:
        row = session.get(OutboxMessage, reminder_id)
        assert row is not None and row.renders == 0


async def test_a_store_error_sends_nothing_not_even_an_apology(
    reminder_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Security finding 6a: a proactive message that could not be marked is not shown (the
    scheduler retries it), and the customer gets no "technical problem" text out of nowhere."""
    broken = session_factory(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))  # no tables at all
    monkeypatch.setattr(action_runtime, "sessions", lambda: broken)
    assert await run(external("cust:C1:web", reminder_id)) == ([], [])


@pytest.mark.parametrize("sender_id", ["cust:C2:web", "anon:visitor", "cust:NOPE:web"])
async def test_another_conversation_gets_nothing(reminder_id: int, sender_id: str) -> None:
    assert await run(external(sender_id, reminder_id)) == ([], [])


@pytest.mark.parametrize("outbox_id", [999999, "not-a-number"])
async def test_unknown_outbox_row_sends_nothing(reminder_id: int, outbox_id: Any) -> None:
    assert await run(external("cust:C1:web", outbox_id)) == ([], [])


async def test_opted_out_meanwhile_sends_nothing(reminder_id: int, store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        set_consent(session=session, customer_id="C1", kind="renewal", granted=False, conversation=None)
    assert await run(external("cust:C1:web", reminder_id)) == ([], [])


@pytest.fixture
def birthday_id(store: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> int:
    """C3's birthday greeting on DAY, with the shipped perk: 200 points. C3 has 100 points already."""
    monkeypatch.setattr(action_runtime, "sessions", lambda: store)
    with store.begin() as session:
        add(session, "C3", first_name="Cy", birthday=dt.date(1990, 3, 10), tier="silver", consents={"tips": False})
    plan_day(sessions=store, day=DAY, now=NOW, config=config())
    with store() as session:
        return int(session.scalars(select(OutboxMessage.id).where(OutboxMessage.campaign == "birthday")).one())


def milestone(sender_id: str, outbox_id: int) -> Tracker:
    t = external(sender_id, outbox_id)
    t.latest_message["intent"] = {"name": "EXTERNAL_milestone"}
    return t


async def test_the_perk_is_granted_with_the_message_and_worded_from_the_grant(
    birthday_id: int, store: sessionmaker[Session]
) -> None:
    _, [message] = await run(milestone("cust:C3:web", birthday_id))
    assert message["response"] == "utter_outreach_birthday"
    assert message["perk"] == "We've added 200 bonus loyalty points to your account."
    # Rasa lost that rendering before saving it (the at-least-once case): rendered again, granted once.
    _, [again] = await run(milestone("cust:C3:web", birthday_id))
    assert again["perk"] == message["perk"]
    with store() as session:
        row = session.get(OutboxMessage, birthday_id)
        assert row is not None and row.renders == 2
        [grant] = session.scalars(select(PerkGrant))
        assert (grant.grant_key, grant.outbox_id, grant.reason) == (
            f"outbox:{birthday_id}",
            birthday_id,
            "birthday 2026",
        )
        account = session.get(LoyaltyAccount, "C3")
        assert account is not None and account.points == 300

    dispatcher = CollectingDispatcher()
    await ActionLoyalty().run(dispatcher, Tracker("cust:C3:web", {}, {}, [], False, None, {}, "action_listen"), {})
    [answer] = dispatcher.messages
    assert answer["points"] == "300"
    assert "Recently added: 200 points (birthday 2026)." in answer["rewards"]


async def test_a_perk_that_was_written_as_free_text_is_not_announced(
    birthday_id: int, store: sessionmaker[Session]
) -> None:
    """A row planned before perks were typed promises a perk nothing grants: greet without it."""
    with store.begin() as session:
        row = session.get(OutboxMessage, birthday_id)
        assert row is not None
        row.payload = json.dumps({"name": "Cy", "perk": "200 bonus loyalty points are on their way."})
    _, [message] = await run(milestone("cust:C3:web", birthday_id))
    assert message["perk"] == ""
    with store() as session:
        assert session.scalars(select(PerkGrant)).first() is None


async def test_a_perk_only_message_whose_perk_cannot_be_granted_is_not_sent(
    birthday_id: int, store: sessionmaker[Session]
) -> None:
    """The surprise perk is the whole message; a free month for a customer whose plan was cancelled
    since planning cannot be granted, so nothing is said (and the scheduler's proof check fails)."""
    with store.begin() as session:
        row = session.get(OutboxMessage, birthday_id)
        assert row is not None
        row.campaign, row.template, row.kind = "surprise_perk", "utter_outreach_perk", "perks"
        row.payload = json.dumps({"name": "Cy", "perk": {"free_months": 1}})
        for sub in session.scalars(select(Subscription).where(Subscription.customer_id == "C3")):
            sub.status = "cancelled"
    assert await run(milestone("cust:C3:web", birthday_id)) == ([], [])
    with store() as session:
        row = session.get(OutboxMessage, birthday_id)
        assert row is not None and row.renders == 0 and session.scalars(select(PerkGrant)).first() is None
