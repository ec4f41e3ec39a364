"""A perk through the real stack: granted once with the message that announces it, however often
the delivery is retried or the message rendered, and shown when the customer asks for their points."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from supportbot.outreach.config import load_config
from supportbot.outreach.delivery import Deliverer
from supportbot.outreach.rasa_client import RasaClient, has_rendered_message
from supportbot.store.models import LoyaltyAccount
from supportbot.store.outreach_models import OutboxMessage
from supportbot.store.perk_models import LoyaltyLedgerEntry, PerkGrant
from tests.conftest import Stack, texts
from tests.scheduler.test_e2e_outreach import deliver_until, fault_config, plan_birthdays, utc_now

pytestmark = pytest.mark.e2e
CUSTOMER = "PERKS01"
SENTENCE = "We've added 200 bonus loyalty points to your account."


def points_and_grants(stack: Stack) -> tuple[int, list[tuple[int, str]], int]:
    with stack.sessions() as session:
        account = session.get(LoyaltyAccount, CUSTOMER)
        assert account is not None
        credits = [
            (e.points, e.reason)
            for e in session.scalars(
                select(LoyaltyLedgerEntry).where(
                    LoyaltyLedgerEntry.customer_id == CUSTOMER, LoyaltyLedgerEntry.source == "perk"
                )
            )
        ]
        grants = len(list(session.scalars(select(PerkGrant).where(PerkGrant.customer_id == CUSTOMER))))
        return account.points, credits, grants


def trigger(stack: Stack, conversation: str, outbox_id: int) -> list[dict[str, object]]:
    """A trigger of the row by hand, as a duplicate delivery would; the bot events it produced."""
    response = httpx.post(
        f"{stack.rasa_url}/conversations/{conversation}/trigger_intent",
        params={"token": stack.api_token, "output_channel": "socketio", "include_events": "APPLIED"},
        json={"name": "EXTERNAL_milestone", "entities": {"outbox_id": str(outbox_id)}},
        timeout=120,
    )
    response.raise_for_status()
    events = response.json()["tracker"]["events"]
    last_trigger = max(i for i, e in enumerate(events) if e["event"] == "user")
    return [e for e in events[last_trigger:] if e["event"] == "bot"]


def test_birthday_points_are_credited_once_despite_retries_and_shown_when_asked(stack: Stack, tmp_path: Path) -> None:
    cfg_path = fault_config(tmp_path / "campaigns.yml")
    cfg = load_config(cfg_path)
    plan_birthdays(stack, [CUSTOMER], cfg_path, tier="silver", tier_since=dt.date(2025, 1, 1))  # 100 points
    with RasaClient(base_url=stack.rasa_url, token=stack.api_token, timeouts=cfg.delivery.timeouts) as client:
        deliverer = Deliverer(sessions=stack.sessions, client=client, config=cfg, clock=utc_now)
        deliver_until(deliverer, stack.sessions, CUSTOMER, "sent")
        with stack.sessions() as session:
            row = session.scalars(select(OutboxMessage).where(OutboxMessage.customer_id == CUSTOMER)).one()
        conversation, reason = row.conversation_id, f"birthday {row.local_day.year}"
        [greeting] = [
            e
            for e in stack.tracker(conversation)["events"]
            if e["event"] == "bot" and (e.get("metadata") or {}).get("outbox_id") == str(row.id)
        ]
        assert SENTENCE in str(greeting["text"])
        assert points_and_grants(stack) == (300, [(200, reason)], 1)

        # The worker died before recording it: the retry finds it in the tracker and sends nothing.
        with stack.sessions.begin() as session:
            again = session.get(OutboxMessage, row.id)
            assert again is not None
            again.status, again.claimed_by, again.sent_at = "sending", "dead-worker", None
            again.lease_until = utc_now() - dt.timedelta(seconds=1)
        deliver_until(deliverer, stack.sessions, CUSTOMER, "sent")
    # A duplicate trigger in the same conversation renders nothing.
    assert trigger(stack, conversation, row.id) == []
    # Rendered again where the first copy is not saved (another conversation of the same customer,
    # as after Rasa lost a rendering): the same words, from the same grant, and no second credit.
    [copy] = trigger(stack, f"cust:{CUSTOMER}:tab2", row.id)
    assert SENTENCE in str(copy["text"])
    assert points_and_grants(stack) == (300, [(200, reason)], 1)
    with stack.sessions() as session:
        final = session.get(OutboxMessage, row.id)
        assert final is not None and (final.status, final.confirmed_by, final.renders) == ("sent", "tracker", 2)
    assert has_rendered_message(stack.tracker(conversation)["events"], outbox_id=row.id)

    reply = texts(stack.say("web", "how many loyalty points do i have", token=stack.token(CUSTOMER)))
    assert "300 points" in reply, reply
    assert f"Recently added: 200 points ({reason})." in reply, reply
