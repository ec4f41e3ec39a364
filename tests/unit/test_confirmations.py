"""Consent before change on a real SQLite store: questions recorded, only a yes to the newest
one applies, at most once, and only on the terms the customer was shown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from supportbot.errors import InvalidRequestError
from supportbot.services.account import renewal_terms
from supportbot.services.changes import ChangeContext, apply_confirmed, jsonable
from supportbot.services.confirmations import (
    REQUEST_TTL,
    StaleRequestError,
    confirm,
    decline,
    expire_pending,
    pending_request,
    request_change,
)
from supportbot.services.redemption import redeem_reward, redemption_terms
from supportbot.services.support import ConversationRef
from supportbot.store.dialogue_models import AccountChangeRequest
from supportbot.store.models import LoyaltyAccount, Subscription, SupportInteraction
from supportbot.store.perk_models import LoyaltyLedgerEntry
from tests.factories import add_customer, prepared_store

TODAY = dt.datetime.now(dt.UTC).date()
CHAT = ConversationRef("cust:C1:s1", "rest")
OTHER_CHAT = ConversationRef("cust:C1:s2", "rest")


@pytest.fixture
def store(tmp_path: Path) -> sessionmaker[Session]:
    sessions = prepared_store(tmp_path / "profile.db")
    with sessions.begin() as session:
        add_customer(session, "C1", plan="pro", price_cents=2400, renews_in_days=5, loyalty_points=1200)
    return sessions


def ask_renewal(session: Session, conversation: ConversationRef = CHAT) -> int:
    terms = renewal_terms(session=session, customer_id="C1", today=TODAY)
    return request_change(
        session=session,
        customer_id="C1",
        conversation=conversation,
        kind="renew",
        parameters={"terms": jsonable(terms)},
        prompt="Renew your Pro plan now for $24.00?",
    ).id


def ctx(session: Session, conversation: ConversationRef = CHAT) -> ChangeContext:
    return ChangeContext(
        session=session,
        customer_id="C1",
        conversation=conversation,
        today=TODAY,
        external_id=conversation.conversation_id,
    )


def renews_on(store: sessionmaker[Session]) -> dt.date | None:
    with store() as session:
        return session.scalars(select(Subscription.renews_on).where(Subscription.customer_id == "C1")).one()


def test_a_yes_to_the_question_applies_it_once_and_is_recorded_with_the_conversation(
    store: sessionmaker[Session],
) -> None:
    before = renews_on(store)
    with store.begin() as session:
        request_id = ask_renewal(session)
    assert renews_on(store) == before  # asking changes nothing
    with store.begin() as session:
        request = confirm(session=session, request_id=request_id, conversation_id=CHAT.conversation_id, answer="yes")
        apply_confirmed(ctx(session), request)
    after = renews_on(store)
    assert after is not None and before is not None and after > before
    with store.begin() as session, pytest.raises(StaleRequestError):
        confirm(session=session, request_id=request_id, conversation_id=CHAT.conversation_id, answer="yes")
    assert renews_on(store) == after
    with store() as session:
        row = session.get(AccountChangeRequest, request_id)
        assert row is not None
        assert (row.status, row.answer, row.conversation_id) == ("confirmed", "yes", CHAT.conversation_id)
        assert row.confirmed_at is not None and row.prompt.startswith("Renew your Pro plan")
        renewals = session.scalars(select(SupportInteraction).where(SupportInteraction.kind == "renewal")).all()
        assert len(renewals) == 1


def test_only_the_newest_question_of_the_same_conversation_can_be_confirmed(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        first = ask_renewal(session)
        second = ask_renewal(session)
        elsewhere = ask_renewal(session, OTHER_CHAT)
    with store.begin() as session:
        with pytest.raises(StaleRequestError):
            confirm(session=session, request_id=first, conversation_id=CHAT.conversation_id, answer="yes")
        with pytest.raises(StaleRequestError):  # another conversation's question
            confirm(session=session, request_id=elsewhere, conversation_id=CHAT.conversation_id, answer="yes")
        assert session.get(AccountChangeRequest, first).status == "superseded"  # type: ignore[union-attr]
        pending = pending_request(session=session, conversation_id=CHAT.conversation_id)
        assert pending is not None and pending.id == second


def test_declined_and_expired_questions_cannot_be_confirmed(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        declined = ask_renewal(session)
        decline(session=session, request_id=declined, conversation_id=CHAT.conversation_id, answer="no")
        expired = ask_renewal(session)
        assert expire_pending(session=session, conversation_id=CHAT.conversation_id, reason="moved on") == 1
        for request_id in (declined, expired):
            with pytest.raises(StaleRequestError):
                confirm(session=session, request_id=request_id, conversation_id=CHAT.conversation_id, answer="yes")
        late = ask_renewal(session)
        with pytest.raises(StaleRequestError):
            confirm(
                session=session,
                request_id=late,
                conversation_id=CHAT.conversation_id,
                answer="yes",
                now=dt.datetime.now(dt.UTC) + REQUEST_TTL + dt.timedelta(seconds=1),
            )
        statuses = {row.id: row.status for row in session.scalars(select(AccountChangeRequest))}
    assert statuses[declined] == "declined" and statuses[expired] == "expired" and statuses[late] == "pending"


def test_a_yes_on_terms_that_changed_meanwhile_changes_nothing(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        request_id = ask_renewal(session)
    with store.begin() as session:  # the price changes before the yes arrives
        session.scalars(select(Subscription).where(Subscription.customer_id == "C1")).one().price_cents = 2900
    before = renews_on(store)
    with store.begin() as session:
        request = confirm(session=session, request_id=request_id, conversation_id=CHAT.conversation_id, answer="yes")
        with pytest.raises(InvalidRequestError, match="changed since I asked"):
            apply_confirmed(ctx(session), request)
    assert renews_on(store) == before


def test_redeeming_takes_the_points_once_and_queues_the_reward(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        terms = redemption_terms(session=session, customer_id="C1", reward_code="stylus_tips")
        assert (terms.points_cost, terms.points_after) == (400, 800)
        redeem_reward(session=session, customer_id="C1", reward_code="stylus_tips", conversation=CHAT)
    with store() as session:
        assert session.get(LoyaltyAccount, "C1").points == 800  # type: ignore[union-attr]
        queued = session.scalars(select(SupportInteraction).where(SupportInteraction.kind == "points_redemption")).one()
        assert queued.status == "open" and "Stylus tips" in queued.summary
        ledger = session.scalars(select(LoyaltyLedgerEntry).where(LoyaltyLedgerEntry.customer_id == "C1")).all()
        assert [(e.source, e.points) for e in ledger] == [("opening", 1200), ("redemption", -400)]
        assert sum(e.points for e in ledger) == 800  # the ledger adds up to the balance
    with store.begin() as session, pytest.raises(InvalidRequestError, match="Gold members"):
        redemption_terms(session=session, customer_id="C1", reward_code="lumen_stand")
