"""Full conversations over HTTP against a real Rasa server and a real action server.

Expected values are read from the same profile store the action server uses, so
the tests check that answers carry *this* customer's data, not a canned string.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from supportbot.formatting import long_date, money
from supportbot.identity import mint_customer_token
from supportbot.store.models import Consent, Customer, Order, Subscription, SupportInteraction
from supportbot.store.repo import get_profile
from tests.conftest import Stack, texts

pytestmark = pytest.mark.e2e


def sender() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def customers_with_active_plan(stack: Stack, count: int) -> list[str]:
    """Distinct demo customers with an active, auto-renewing plan and a renewal date."""
    with stack.sessions() as session:
        ids = session.scalars(
            select(Subscription.customer_id)
            .where(
                Subscription.status == "active", Subscription.auto_renew.is_(True), Subscription.renews_on.is_not(None)
            )
            .order_by(Subscription.customer_id)
        ).all()
    unique = list(dict.fromkeys(ids))
    assert len(unique) >= count
    return unique


@pytest.fixture(scope="module")
def pool(stack: Stack) -> list[str]:
    """Each test takes its own customer, since some tests change the store."""
    return customers_with_active_plan(stack, 8)


def test_verified_customer_gets_their_own_renewal_date_and_price(stack: Stack, pool: list[str]) -> None:
    customer_id = pool[0]
    with stack.sessions() as session:
        profile = get_profile(session=session, customer_id=customer_id)
    assert profile and profile.subscription and profile.subscription.renews_on
    sub = profile.subscription
    reply = texts(stack.say(sender(), "when does my subscription renew?", token=stack.token(customer_id)))
    assert long_date(sub.renews_on) in reply
    assert money(sub.price_on(sub.renews_on), sub.currency) in reply
    assert sub.plan.name in reply


@pytest.mark.parametrize(
    "token_kind",
    ["none", "wrong_secret", "expired", "garbage"],
)
def test_without_a_valid_token_no_profile_data_is_revealed(stack: Stack, pool: list[str], token_kind: str) -> None:
    customer_id = pool[0]
    with stack.sessions() as session:
        profile = get_profile(session=session, customer_id=customer_id)
    assert profile and profile.subscription and profile.subscription.renews_on
    token = {
        "none": None,
        "wrong_secret": mint_customer_token(customer_id=customer_id, secret="another-secret-entirely-32-chars!"),
        "expired": mint_customer_token(
            customer_id=customer_id,
            secret=stack.secret,
            now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2),
            ttl_seconds=60,
        ),
        "garbage": "not.a.token",
    }[token_kind]
    conversation = sender()
    replies = ""
    for text in [
        "hi",
        "when does my subscription renew?",
        "what plan am i on",
        f"i am customer {customer_id}, show my orders",
        "how many loyalty points do i have",
    ]:
        replies += texts(stack.say(conversation, text, token=token)) + "\n"
    assert "sign in" in replies.lower()
    for secret_fact in [
        profile.first_name,
        long_date(profile.subscription.renews_on),
        money(profile.subscription.price_cents, profile.subscription.currency),
    ]:
        assert secret_fact not in replies
    if profile.last_order:
        assert profile.last_order.order_ref not in replies


def test_a_client_cannot_choose_a_verified_conversation_id(stack: Stack, pool: list[str]) -> None:
    customer_id = pool[1]
    session_label = sender()
    verified = stack.say(session_label, "what plan am i on", token=stack.token(customer_id))
    with stack.sessions() as session:
        profile = get_profile(session=session, customer_id=customer_id)
    assert profile and profile.subscription
    assert profile.subscription.plan.name in texts(verified)
    # The same sender label, and a sender crafted to look like the verified id, without a token:
    for spoof in [session_label, f"cust:{customer_id}:{session_label}"]:
        reply = texts(stack.say(spoof, "what plan am i on"))
        assert "sign in" in reply
        assert "You're on the" not in reply
        assert profile.first_name not in reply


def test_the_token_is_not_stored_in_the_tracker(stack: Stack, pool: list[str]) -> None:
    customer_id = pool[1]
    label = sender()
    token = stack.token(customer_id)
    stack.say(label, "hello", token=token)
    tracker = stack.tracker(f"cust:{customer_id}:{label}")
    user_events = [e for e in tracker["events"] if e["event"] == "user"]
    assert user_events, "the verified conversation id is cust:<id>:<sender>"
    assert token not in str(tracker)
    assert user_events[-1]["metadata"]["verified"] is True


def test_greets_a_verified_customer_by_name(stack: Stack, pool: list[str]) -> None:
    customer_id = pool[2]
    with stack.sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        first_name = customer.first_name
    reply = texts(stack.say(sender(), "hello", token=stack.token(customer_id)))
    assert f"Hi {first_name}!" in reply


def test_cancellation_offers_retention_then_cancels_in_the_store(stack: Stack, pool: list[str]) -> None:
    customer_id = pool[3]
    token, conversation = stack.token(customer_id), sender()
    offer = texts(stack.say(conversation, "i want to cancel my subscription", token=token))
    assert "% off" in offer
    confirm = texts(stack.say(conversation, "no thanks", token=token))
    assert "Just to confirm" in confirm
    with stack.sessions() as session:
        assert session.scalar(select(Subscription.status).where(Subscription.customer_id == customer_id)) == "active"
    done = texts(stack.say(conversation, "yes", token=token))
    assert "is cancelled" in done
    with stack.sessions() as session:
        sub = session.scalars(
            select(Subscription).where(Subscription.customer_id == customer_id).order_by(Subscription.id.desc())
        ).first()
        assert sub is not None
        assert (sub.status, sub.auto_renew) == ("cancelled", False)
        assert sub.cancelled_at is not None
        kinds = session.scalars(
            select(SupportInteraction.kind).where(SupportInteraction.customer_id == customer_id)
        ).all()
        assert "cancellation" in kinds


def test_accepting_the_retention_offer_applies_the_discount(stack: Stack, pool: list[str]) -> None:
    customer_id = pool[4]
    token, conversation = stack.token(customer_id), sender()
    stack.say(conversation, "please cancel my plan", token=token)
    reply = texts(stack.say(conversation, "ok sounds good", token=token))
    assert "staying" in reply
    with stack.sessions() as session:
        sub = session.scalars(select(Subscription).where(Subscription.customer_id == customer_id)).first()
        assert sub is not None and sub.status == "active" and sub.discount_percent > 0


def test_recent_orders_name_the_customers_own_purchases(stack: Stack) -> None:
    with stack.sessions() as session:
        order = session.scalars(select(Order).order_by(Order.placed_at.desc())).first()
        assert order is not None
        customer_id, ref = order.customer_id, order.order_ref
        other = session.scalars(select(Order).where(Order.customer_id != customer_id)).first()
        assert other is not None
    token, conversation = stack.token(customer_id), sender()
    assert f"#{ref}" in texts(stack.say(conversation, "show me my recent orders", token=token))
    # Someone else's order number is never looked up for this customer.
    reply = texts(stack.say(conversation, f"where is my order {other.order_ref}", token=token))
    assert "couldn't find" in reply


def test_opting_out_by_chat_changes_consent_at_once(stack: Stack, pool: list[str]) -> None:
    customer_id = pool[5]
    reply = texts(stack.say(sender(), "stop sending me tips", token=stack.token(customer_id)))
    assert "no more usage tips" in reply
    with stack.sessions() as session:
        consent = session.get(Consent, (customer_id, "tips"))
        assert consent is not None and consent.granted is False and consent.source == "chat"


def test_handoff_is_recorded_for_a_person(stack: Stack, pool: list[str]) -> None:
    customer_id = pool[6]
    conversation = sender()
    reply = texts(stack.say(conversation, "i want to talk to a human", token=stack.token(customer_id)))
    assert "support team" in reply
    with stack.sessions() as session:
        row = session.scalars(
            select(SupportInteraction).where(
                SupportInteraction.customer_id == customer_id, SupportInteraction.kind == "handoff"
            )
        ).first()
        assert row is not None and row.status == "open"
        assert row.conversation_id == f"cust:{customer_id}:{conversation}"


def stored_events(stack: Stack, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's events as Rasa's tracker store holds them (read directly: looking changes nothing)."""
    with sqlite3.connect(stack.tracker_db) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (conversation_id,)).fetchall()
    return [json.loads(data) for (data,) in rows]


def handoffs(stack: Stack, conversation_id: str) -> int:
    with stack.sessions() as session:
        rows = session.scalars(
            select(SupportInteraction).where(
                SupportInteraction.conversation_id == conversation_id, SupportInteraction.kind == "handoff"
            )
        ).all()
    return len(rows)


def test_a_message_sent_again_with_its_message_id_is_answered_from_the_tracker_not_handled_again(
    stack: Stack, pool: list[str]
) -> None:
    """A client that did not get its answer (the request failed) sends the message again with the
    same ``message_id`` (bot/channels/exactly_once.py): the same answer, nothing run twice."""
    label = sender()
    conversation = f"anon:rest:{label}"
    ask = "i want to talk to a human"  # a second handling would answer "You're already in the queue"
    first = stack.rest(label, ask, message_id=f"{label}-1")
    assert first.status_code == 200, first.text
    assert "support team" in texts(first.json()) and "already in the queue" not in texts(first.json())
    recorded = stored_events(stack, conversation)

    again = stack.rest(label, ask, message_id=f"{label}-1")
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert stored_events(stack, conversation) == recorded  # no action ran, nothing was added
    assert [(e["text"], e["message_id"]) for e in recorded if e["event"] == "user"] == [(ask, f"{label}-1")]
    assert handoffs(stack, conversation) == 1

    reused = stack.rest(label, "hello", message_id=f"{label}-1")  # a client's bug: one id, another message
    assert reused.status_code == 409 and "message_id" in reused.json()["error"], reused.text
    assert stored_events(stack, conversation) == recorded

    # The control: the same words as a new message (a new id) are handled, and answered differently.
    second = stack.rest(label, ask, message_id=f"{label}-2")
    assert second.status_code == 200 and "already in the queue" in texts(second.json()), second.text
    assert [e["message_id"] for e in stored_events(stack, conversation) if e["event"] == "user"] == [
        f"{label}-1",
        f"{label}-2",
    ]
    assert handoffs(stack, conversation) == 1

    # An answer with buttons comes back in the same shape as the first time.
    customer_id, label = pool[0], sender()
    token = stack.token(customer_id)
    renewal = stack.rest(label, "when does my subscription renew?", token=token, message_id="renewal")
    assert renewal.status_code == 200 and any(m.get("buttons") for m in renewal.json()), renewal.text
    recorded = stored_events(stack, f"cust:{customer_id}:{label}")
    resent = stack.rest(label, "when does my subscription renew?", token=token, message_id="renewal")
    assert resent.status_code == 200 and resent.json() == renewal.json()
    assert stored_events(stack, f"cust:{customer_id}:{label}") == recorded


def test_birthday_form_rejects_a_bad_date_then_saves_a_good_one(stack: Stack, pool: list[str]) -> None:
    customer_id = pool[7]
    token, conversation = stack.token(customer_id), sender()
    ask = texts(stack.say(conversation, "i need to change my birthday", token=token))
    assert "birthday" in ask.lower()
    retry = texts(stack.say(conversation, "30 february 1990", token=token))
    assert "doesn't exist" in retry
    asked = texts(stack.say(conversation, "4 july 1991", token=token))
    assert "Change your birthday to 4 July 1991?" in asked
    with stack.sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None and customer.birthday != dt.date(1991, 7, 4)  # not before the yes
    done = texts(stack.say(conversation, "yes", token=token))
    assert "4 July 1991" in done
    with stack.sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None and customer.birthday == dt.date(1991, 7, 4)


def test_out_of_scope_gets_a_helpful_answer(stack: Stack) -> None:
    reply = texts(stack.say(sender(), "what's the weather like in paris today"))
    assert "outside what I can help with" in reply
