"""Custom actions with trackers built from events, a real dispatcher and a real SQLite store."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime
from actions.orders import ActionOrderStatus, ActionRecentOrders
from actions.preferences import ActionOptOut
from actions.profile import ActionGreet, ActionShowRenewal
from actions.support import ActionHandoff
from supportbot.devstack import ROOT
from supportbot.formatting import long_date, money
from supportbot.store.db import make_engine, session_factory
from supportbot.store.models import ChannelIdentity, Consent, SupportInteraction
from tests.factories import add_customer, add_order, prepared_store

TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def store(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    sessions = prepared_store(tmp_path / "profile.db")
    monkeypatch.setattr(runtime, "sessions", lambda: sessions)
    with sessions.begin() as session:
        add_customer(session, "C1", first_name="Ada", plan="pro", renews_in_days=5, price_cents=2400)
        add_customer(session, "C2", first_name="Bob", plan="plus", renews_in_days=20, price_cents=1200)
        add_order(session, "C1", "100001", product="Lumen Stand", days_ago=3, status="shipped")
        add_order(session, "C2", "200002", product="Lumen Pen", days_ago=10, status="delivered")
    return sessions


def tracker(
    sender_id: str,
    text: str = "",
    *,
    slots: dict[str, Any] | None = None,
    channel: str = "rest",
    intent: str = "greet",
) -> Tracker:
    user = {
        "event": "user",
        "text": text,
        "input_channel": channel,
        "parse_data": {"intent": {"name": intent, "confidence": 1.0}, "entities": []},
        "metadata": {},
    }
    return Tracker(
        sender_id=sender_id,
        slots=slots or {},
        latest_message={"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []},
        events=[{"event": "action", "name": "action_listen"}, user],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


@functools.cache
def domain() -> dict[str, Any]:
    """The real domain: some actions word their messages from its responses (actions/wording.py)."""
    return dict(yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8")))


async def run(action: Any, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, domain())
    return events, dispatcher.messages


def responses(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("response") or m.get("text") or "" for m in messages]


async def test_greets_a_verified_customer_by_name_with_a_personal_line(store: sessionmaker[Session]) -> None:
    _, messages = await run(ActionGreet(), tracker("cust:C1:web"))
    assert messages[0]["response"] == "utter_greet_customer"
    assert messages[0]["name"] == "Ada"
    assert "renews in 5 days" in messages[0]["context_line"]


async def test_greets_an_anonymous_visitor_without_profile_data(store: sessionmaker[Session]) -> None:
    _, messages = await run(ActionGreet(), tracker("anon:abc"))
    assert responses(messages) == ["utter_greet"]
    assert "name" not in messages[0]


async def test_renewal_answer_carries_the_customers_own_date_and_price(store: sessionmaker[Session]) -> None:
    _, messages = await run(ActionShowRenewal(), tracker("cust:C2:web"))
    message = messages[0]
    assert message["response"] == "utter_renewal_info"
    assert message["date"] == long_date(TODAY + dt.timedelta(days=20))
    assert message["price"] == money(1200)


@pytest.mark.parametrize("sender_id", ["anon:C1", "C1", "anon:cust:C1:web", "cust:NOPE:web"])
async def test_renewal_without_a_verified_customer_gives_general_help(
    store: sessionmaker[Session], sender_id: str
) -> None:
    _, messages = await run(ActionShowRenewal(), tracker(sender_id))
    assert responses(messages) == ["utter_anon_renewal"]
    assert not {"date", "price", "name", "plan"} & set(messages[0])


async def test_a_linked_messaging_identity_is_verified(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        session.add(ChannelIdentity(customer_id="C2", channel="telegram", external_id="987654"))
    _, messages = await run(ActionShowRenewal(), tracker("987654", channel="telegram"))
    assert messages[0]["response"] == "utter_renewal_info"
    _, messages = await run(ActionShowRenewal(), tracker("987654", channel="rest"))
    assert responses(messages) == ["utter_anon_renewal"]


async def test_orders_list_and_status_never_show_another_customers_order(store: sessionmaker[Session]) -> None:
    _, messages = await run(ActionRecentOrders(), tracker("cust:C1:web"))
    assert "#100001" in messages[0]["text"] and "Lumen Stand" in messages[0]["text"]
    assert messages[0]["buttons"] == [{"title": "Status of #100001", "payload": '/order_status{"order_ref": "100001"}'}]
    _, messages = await run(ActionOrderStatus(), tracker("cust:C1:web", slots={"order_ref": "200002"}))
    assert messages[0]["response"] == "utter_order_not_found"
    _, messages = await run(ActionOrderStatus(), tracker("cust:C1:web", slots={"order_ref": "#100001"}))
    assert "is on its way" in messages[0]["text"]


async def test_opt_out_of_a_kind_is_stored_at_once(store: sessionmaker[Session]) -> None:
    _, messages = await run(ActionOptOut(), tracker("cust:C1:web", slots={"outreach_kind": "renewal"}))
    assert messages[0]["kind"] == "renewal reminders"
    with store() as session:
        consent = session.get(Consent, ("C1", "renewal"))
        assert consent is not None and consent.granted is False


async def test_handoff_is_recorded_even_for_anonymous_visitors(store: sessionmaker[Session]) -> None:
    events, messages = await run(ActionHandoff(), tracker("anon:visitor1", "i want a human"))
    assert responses(messages) == ["utter_handoff_anonymous"]
    assert events[0]["name"] == "handoff_requested" and events[0]["value"] is True
    with store() as session:
        row = session.scalars(select(SupportInteraction)).one()
        assert (row.kind, row.status, row.customer_id, row.summary) == ("handoff", "open", None, "i want a human")


async def test_a_broken_store_gives_an_apology_not_a_stack_trace(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = session_factory(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))  # no tables
    monkeypatch.setattr(runtime, "sessions", lambda: empty)
    _, messages = await run(ActionShowRenewal(), tracker("cust:C1:web"))
    assert responses(messages) == ["utter_technical_problem"]
