"""action_deliver_outreach renders the campaigns intelligence plans, keeping each message's promise in the
store first: the retention offer's discount granted, the referral code made, the programme question asked."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime as action_runtime
from actions.outreach import ActionDeliverOutreach
from supportbot.intelligence.next_action import decide_all
from supportbot.outreach.planner import plan_day
from supportbot.store.growth_models import ReferralCode
from supportbot.store.outreach_models import OutboxMessage
from supportbot.store.perk_models import PerkGrant, SubscriptionDiscount
from tests.intelligence.test_planning_next_action import DECIDED, config, promoter, risky_customer
from tests.scheduler.builders import DAY, NOW


@pytest.fixture
def planned(store: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """A risky customer's retention offer, a promoter's referral and programme invitations, planned for DAY."""
    monkeypatch.setattr(action_runtime, "sessions", lambda: store)
    with store.begin() as session:
        risky_customer(session, "RISKY", first_name="Rita")
        promoter(session, "FAN", segment="champion", first_name="Finn")
    with store.begin() as session:
        decide_all(session=session, now=DECIDED)
    plan_day(sessions=store, day=DAY, now=NOW, config=config(per_day=3, per_week=5))
    with store() as session:
        found = {
            r.campaign: r.id for r in session.scalars(select(OutboxMessage).where(OutboxMessage.status == "planned"))
        }
    assert {"retention_offer", "referral_invitation", "programme_invitation"} <= set(found), found
    return found


def external(customer_id: str, outbox_id: int) -> Tracker:
    return Tracker(
        sender_id=f"cust:{customer_id}:web",
        slots={},
        latest_message={
            "text": "EXTERNAL",
            "intent": {"name": "EXTERNAL_x"},
            "entities": [{"entity": "outbox_id", "value": str(outbox_id)}],
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def deliver(customer_id: str, outbox_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await ActionDeliverOutreach().run(dispatcher, external(customer_id, outbox_id), {})
    return events, dispatcher.messages


async def test_the_retention_offer_grants_its_discount_with_the_message(
    planned: dict[str, int], store: sessionmaker[Session]
) -> None:
    _, [message] = await deliver("RISKY", planned["retention_offer"])
    assert message["response"] == "utter_outreach_retention_offer"
    assert message["name"] == "Rita" and message["plan"] == "Plus"
    assert message["perk"].startswith("Your next 3 months are 20% off: your renewal on")
    assert message["buttons"] == [
        {"title": "Stop renewal reminders", "payload": '/opt_out{"outreach_kind": "renewal"}'}
    ]
    with store() as session:
        grant = session.scalars(select(PerkGrant)).one()
        assert (grant.grant_key, grant.kind, grant.percent, grant.months) == (
            f"outbox:{planned['retention_offer']}",
            "percent_off",
            20,
            3,
        )
        assert session.scalars(select(SubscriptionDiscount.basis_points)).one() == 2000
    _, again = await deliver("RISKY", planned["retention_offer"])  # rendered again (at-least-once): no second grant
    with store() as session:
        assert len(list(session.scalars(select(PerkGrant)))) == 1
    assert again[0]["perk"] == message["perk"]


async def test_the_referral_invitation_shows_a_code_that_exists(
    planned: dict[str, int], store: sessionmaker[Session]
) -> None:
    _, [message] = await deliver("FAN", planned["referral_invitation"])
    with store() as session:
        code = session.scalars(select(ReferralCode.code).where(ReferralCode.customer_id == "FAN")).one()
    assert message["response"] == "utter_outreach_referral_invitation"
    assert (message["code"], message["reward"]) == (code, "500 loyalty points")
    assert message["buttons"] == [{"title": "Stop offers and perks", "payload": '/opt_out{"outreach_kind": "perks"}'}]


async def test_the_programme_invitation_goes_on_to_the_programme_question(
    planned: dict[str, int], store: sessionmaker[Session]
) -> None:
    events, [message] = await deliver("FAN", planned["programme_invitation"])
    assert message["response"] == "utter_outreach_programme_invitation"
    assert not message.get("buttons")  # the yes/no buttons come with the form's question
    assert {"event": "followup", "timestamp": None, "name": "programme_form"} in events
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots == {"last_outreach_kind": "feedback", "joins_programme": None, "last_feedback_id": None}
    with store() as session:
        row = session.get(OutboxMessage, planned["programme_invitation"])
        assert row is not None and row.renders == 1 and json.loads(row.payload)["nps"] == 10


def test_the_new_responses_exist_with_the_variables_the_payloads_carry() -> None:
    from supportbot.store.demo_tracker import domain

    responses = domain()["responses"]
    assert "{perk}" in responses["utter_outreach_retention_offer"][0]["text"]
    assert "{code}" in responses["utter_outreach_referral_invitation"][0]["text"]
    assert "{reward}" in responses["utter_outreach_referral_invitation"][0]["text"]
    assert dt.date(2026, 3, 10) == DAY
