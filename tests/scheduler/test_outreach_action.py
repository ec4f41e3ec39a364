"""action_deliver_outreach: renders its own customer's outbox row, and nobody else's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime as action_runtime
from actions.outreach import ActionDeliverOutreach
from supportbot.outreach.planner import plan_day
from supportbot.services.preferences import set_consent
from supportbot.store.outreach_models import OutboxMessage
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


def external(sender_id: str, outbox_id: Any) -> Tracker:
    entities = [{"entity": "outbox_id", "value": str(outbox_id)}]
    return Tracker(
        sender_id=sender_id,
        slots={},
        latest_message={
            "text": "EXTERNAL: EXTERNAL_renewal_reminder",
            "intent": {"name": "EXTERNAL_renewal_reminder"},
            "entities": entities,
        },
        events=[],
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
    assert events == [{"event": "slot", "timestamp": None, "name": "last_outreach_kind", "value": "renewal"}]


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
