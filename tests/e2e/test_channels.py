"""Messaging channels through the real stack: the callback gateway, linking, switched-off channels.

The stack's Rasa runs with ``CALLBACK_URL`` pointing at a stand-in gateway
(``supportbot.devstack.RecordingGateway``); what arrives there is what a messaging
platform would show the user.
"""

from __future__ import annotations

import datetime as dt
import secrets

import httpx
import pytest
import yaml
from sqlalchemy import select, update

from supportbot.devstack import ROOT
from supportbot.formatting import long_date
from supportbot.outreach.config import load_config
from supportbot.outreach.delivery import Deliverer
from supportbot.outreach.planner import PlanReport, insert_ignoring_duplicates, plan_batch
from supportbot.outreach.rasa_client import RasaClient
from supportbot.services.linking import find_code
from supportbot.store.models import ChannelIdentity, Consent, Customer, Subscription
from tests.conftest import Stack, texts

pytestmark = pytest.mark.e2e

RENEWAL_QUESTION = "when does my subscription renew?"


def _response_text(name: str) -> str:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    return str(domain["responses"][name][0]["text"])


def _monthly_customer(stack: Stack, offset: int) -> tuple[str, str, int]:
    """A demo customer with an active monthly plan: id, first name, subscription id."""
    with stack.sessions() as session:
        customer_id, first_name, sub_id = session.execute(
            select(Subscription.customer_id, Customer.first_name, Subscription.id)
            .join(Customer, Customer.id == Subscription.customer_id)
            .where(Subscription.status == "active", Subscription.billing_period == "monthly")
            .order_by(Subscription.customer_id)
            .offset(offset)
            .limit(1)
        ).one()
    return customer_id, first_name, sub_id


def _gateway_user() -> str:
    return f"gw-{secrets.token_hex(4)}"


def test_a_switched_off_channel_says_what_is_missing_and_refuses_messages(stack: Stack) -> None:
    health = httpx.get(f"{stack.rasa_url}/webhooks/telegram/", timeout=30)
    assert health.status_code == 200
    assert health.json()["status"] == "off"
    assert "TELEGRAM_ACCESS_TOKEN" in health.json()["missing_environment_variables"]
    refused = httpx.post(f"{stack.rasa_url}/webhooks/telegram/webhook", json={"message": {}}, timeout=30)
    assert refused.status_code == 503


def test_the_callback_channel_refuses_callers_without_the_gateway_token(stack: Stack) -> None:
    sender = _gateway_user()
    assert stack.callback(sender, "hi", token="").status_code == 401
    assert stack.callback(sender, "hi", token="not-the-token").status_code == 401
    assert stack.callback("cust:C000001:web", "hi").status_code == 400  # no posing as a verified conversation
    assert stack.callback(sender, "   ").status_code == 400
    assert stack.gateway.received(sender) == [] and stack.gateway.received("cust:C000001:web") == []


def test_a_reply_reaches_the_gateway(stack: Stack) -> None:
    sender = _gateway_user()
    response = stack.callback(sender, "hello there")
    assert response.status_code == 200, response.text
    [reply] = stack.gateway.wait_for(sender, 1)
    assert reply["text"] and reply["recipient_id"] == sender
    [(authorization, _)] = stack.gateway.received(sender)
    assert authorization == f"Bearer {stack.callback_token}"


def test_an_unlinked_messaging_user_gets_no_profile_data_and_a_linked_one_does(stack: Stack) -> None:
    customer_id, first_name, sub_id = _monthly_customer(stack, offset=3)
    with stack.sessions() as session:
        renews_on = session.get(Subscription, sub_id).renews_on  # type: ignore[union-attr]
    assert renews_on is not None
    sender = _gateway_user()

    assert stack.callback(sender, RENEWAL_QUESTION).status_code == 200
    [anonymous] = stack.gateway.wait_for(sender, 1)
    assert anonymous["text"] == _response_text("utter_anon_renewal")
    assert first_name not in str(anonymous) and long_date(renews_on) not in str(anonymous)

    # The customer, verified on the website, asks for a code ...
    web_reply = texts(stack.say("web", "i need a code to link my whatsapp", token=stack.token(customer_id)))
    code = find_code(web_reply)
    assert code is not None, web_reply
    # ... and sends it from the messaging app.
    assert stack.callback(sender, f"LINK {code[:4]}-{code[4:]}").status_code == 200
    linked = stack.gateway.wait_for(sender, 2)[1]
    assert f"Thanks, {first_name}!" in str(linked["text"])

    assert stack.callback(sender, RENEWAL_QUESTION).status_code == 200
    answer = stack.gateway.wait_for(sender, 3)[2]
    assert long_date(renews_on) in str(answer["text"])


def test_a_proactive_message_for_a_linked_customer_reaches_the_gateway(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scheduler routes to a linked channel only when it is switched on, as in the Rasa server.
    monkeypatch.setenv("CALLBACK_URL", stack.gateway.url)
    monkeypatch.setenv("CALLBACK_TOKEN", stack.callback_token)
    customer_id, first_name, sub_id = _monthly_customer(stack, offset=5)
    sender = _gateway_user()
    today = dt.datetime.now(dt.UTC).date()
    renews_on = today + dt.timedelta(days=3)
    with stack.sessions.begin() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        customer.time_zone = "UTC"
        customer.quiet_hours_start = customer.quiet_hours_end = dt.time(0, 0)
        session.execute(Consent.__table__.delete().where(Consent.customer_id == customer_id))  # type: ignore[attr-defined]
        session.execute(update(Subscription).where(Subscription.id == sub_id).values(renews_on=renews_on))
        session.add(ChannelIdentity(customer_id=customer_id, channel="callback", external_id=sender))
    # A linked user has talked on the channel (linking itself is a message there): Rasa
    # gives the proactive trigger the conversation's latest input channel.
    assert stack.callback(sender, "hello").status_code == 200
    stack.gateway.wait_for(sender, 1)
    cfg, now = load_config(), dt.datetime.now(dt.UTC)
    with stack.sessions.begin() as session:
        rows = plan_batch(
            session=session,
            ids=[customer_id],
            day=today,
            now=now,
            config=cfg,
            report=PlanReport(day=today, dry_run=False),
        )
        reminders = [r | {"not_before": now} for r in rows if r["campaign"] == "renewal_reminder"]
        assert [(r["conversation_id"], r["channel"]) for r in reminders] == [(sender, "callback")]
        insert_ignoring_duplicates(session, reminders)
    with RasaClient(base_url=stack.rasa_url, token=stack.api_token, timeouts=cfg.delivery.timeouts) as client:
        report = Deliverer(sessions=stack.sessions, client=client, config=cfg, clock=lambda: dt.datetime.now(dt.UTC))
        assert report.deliver_all_due().sent >= 1
    reminder = stack.gateway.wait_for(sender, 2)[1]
    assert first_name in str(reminder["text"]) and long_date(renews_on) in str(reminder["text"])
