"""The referral flow at the action level: a customer's code; a friend's code recorded only after a yes
to the question that states it (real actions, the per-message validator, a real SQLite store)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime
from actions.referrals import ActionReferralCode, ActionReportReferral
from supportbot.services.referrals import code_for
from supportbot.store.dialogue_models import AccountChangeRequest
from supportbot.store.growth_models import Referral
from supportbot.store.models import LoyaltyAccount
from tests.actions.test_dialogue_actions import DOMAIN, Chat, _validate, answer
from tests.factories import add_customer, prepared_store


@pytest.fixture
def store(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    sessions = prepared_store(tmp_path / "profile.db")
    monkeypatch.setattr(runtime, "sessions", lambda: sessions)
    with sessions.begin() as session:
        add_customer(session, "C1", first_name="Ada")
        add_customer(session, "C2", first_name="Ben", loyalty_points=100)
    return sessions


def maya_code(store: sessionmaker[Session]) -> str:
    with store.begin() as session:
        return code_for(session=session, customer_id="C2")


def referrals(store: sessionmaker[Session]) -> list[tuple[str, str | None, str, str | None]]:
    with store() as session:
        return [(r.customer_id, r.referrer_id, r.source, r.conversation_id) for r in session.scalars(select(Referral))]


async def test_asking_for_the_code_shows_it_and_what_a_referral_earns(store: sessionmaker[Session]) -> None:
    chat = Chat("cust:C2:web")
    await _validate(chat, "how do i refer a friend", "ask_referral_code")
    (message,) = await chat.run(ActionReferralCode())
    assert message["response"] == "utter_referral_code"
    assert message["code"] == maya_code(store) and message["reward"] == "500 loyalty points"
    (again,) = await chat.run(ActionReferralCode())
    assert again["code"] == message["code"]  # one code per customer


async def test_a_visitor_gets_general_words_and_no_code() -> None:
    tracker = Tracker("anon:web:1", {}, {"text": "referral code?"}, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    await ActionReferralCode().run(dispatcher, tracker, DOMAIN)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_anon_referral"]


async def test_a_friends_code_is_recorded_only_after_yes(store: sessionmaker[Session]) -> None:
    code = maya_code(store)
    chat = Chat("cust:C1:web")
    await _validate(chat, f"my friend referred me, the code is {code.lower()}", "report_referral")
    (question,) = await chat.run(ActionReportReferral())
    assert question["text"] == (
        f"Record that a friend referred you with code {code}? They get 500 loyalty points as a thank-you; "
        "nothing changes on your own account."
    )
    assert referrals(store) == []
    with store() as session:
        row = session.scalars(select(AccountChangeRequest)).one()
        assert (row.kind, row.status) == ("referral", "pending")
    done = await answer(chat, "Yes, record it", "report_referral")
    assert [m.get("response") for m in done] == ["utter_referral_recorded"]
    assert referrals(store) == [("C1", "C2", "conversation", "cust:C1:web")]
    with store() as session:
        account = session.get(LoyaltyAccount, "C2")
        assert account is not None and account.points == 600
        assert session.scalars(select(AccountChangeRequest.status)).one() == "confirmed"


async def test_no_records_nothing(store: sessionmaker[Session]) -> None:
    code = maya_code(store)
    chat = Chat("cust:C1:web")
    await _validate(chat, f"i was referred with {code}", "report_referral")
    await chat.run(ActionReportReferral())
    declined = await answer(chat, "No, leave it", "deny")
    assert [m.get("response") for m in declined] == ["utter_referral_declined"]
    assert referrals(store) == []


async def test_without_a_code_the_assistant_asks_for_it_and_the_code_alone_continues(
    store: sessionmaker[Session],
) -> None:
    code = maya_code(store)
    chat = Chat("cust:C1:web")
    await _validate(chat, "a friend referred me", "report_referral")
    (ask,) = await chat.run(ActionReportReferral())
    assert ask["response"] == "utter_ask_referral_code"
    await _validate(chat, code, "report_referral")
    (question,) = await chat.run(ActionReportReferral())
    assert code in question["text"]


async def test_ones_own_code_is_refused_with_a_reason(store: sessionmaker[Session]) -> None:
    code = maya_code(store)
    chat = Chat("cust:C2:web")
    await _validate(chat, f"code {code}", "report_referral")
    (message,) = await chat.run(ActionReportReferral())
    assert message["text"].startswith("That's your own referral code")
    with store() as session:
        assert session.scalar(select(func.count()).select_from(AccountChangeRequest)) == 0
