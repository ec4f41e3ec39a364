"""Linking a messaging account: code on the verified website chat, redeemed in the app."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime
from actions.linking import ActionLinkAccount, ActionStartLinking, ActionUnlinkAccount
from actions.profile import ActionShowRenewal
from bot.channels.fresh_start import FRESH_START
from supportbot.services.linking import (
    FAILURE_WINDOW,
    GLOBAL_MAX_FAILURES,
    MAX_FAILURES,
    CodeNotValidError,
    LinkingPausedError,
    create_link_code,
    find_code,
    redeem_link_code,
)
from supportbot.store.models import ChannelIdentity, LinkAttempt, LinkCode
from tests.actions.test_actions import responses, run, tracker
from tests.factories import add_customer, prepared_store


@pytest.fixture
def store(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    sessions = prepared_store(tmp_path / "profile.db")
    monkeypatch.setattr(runtime, "sessions", lambda: sessions)
    with sessions.begin() as session:
        add_customer(session, "C1", first_name="Ada", plan="pro", renews_in_days=5, price_cents=2400)
        add_customer(session, "C2", first_name="Bob", plan="plus", renews_in_days=20, price_cents=1200)
    return sessions


async def _code_for(customer_id: str) -> str:
    _, messages = await run(ActionStartLinking(), tracker(f"cust:{customer_id}:web", channel="socketio"))
    assert responses(messages) == ["utter_link_code"]
    return str(messages[0]["code"])


async def test_a_code_from_the_website_links_the_telegram_user_who_sends_it(store: sessionmaker[Session]) -> None:
    code = await _code_for("C1")
    assert find_code(f"LINK {code}") == code.replace("-", "")
    # Before linking, the Telegram user is nobody: general help only.
    _, before = await run(ActionShowRenewal(), tracker("5550001", channel="telegram"))
    assert responses(before) == ["utter_anon_renewal"]

    _, messages = await run(ActionLinkAccount(), tracker("5550001", f"link {code.lower()}", channel="telegram"))
    assert responses(messages) == ["utter_link_done"]
    assert (messages[0]["name"], messages[0]["channel"]) == ("Ada", "Telegram")

    _, after = await run(ActionShowRenewal(), tracker("5550001", channel="telegram"))
    assert responses(after) == ["utter_renewal_info"] and after[0]["plan"]
    with store() as session:
        [identity] = session.scalars(select(ChannelIdentity).where(ChannelIdentity.external_id == "5550001"))
        assert (identity.customer_id, identity.channel) == ("C1", "telegram")
        # Only a hash of the code is kept.
        assert code.replace("-", "") not in {row.code_hash for row in session.scalars(select(LinkCode))}


async def test_a_code_works_once(store: sessionmaker[Session]) -> None:
    code = await _code_for("C1")
    await run(ActionLinkAccount(), tracker("5550001", f"LINK {code}", channel="telegram"))
    _, messages = await run(ActionLinkAccount(), tracker("U777", f"LINK {code}", channel="slack"))
    assert responses(messages) == ["utter_link_code_invalid"]
    _, renewal = await run(ActionShowRenewal(), tracker("U777", channel="slack"))
    assert responses(renewal) == ["utter_anon_renewal"]


async def test_an_anonymous_visitor_gets_no_code_and_a_code_sent_on_the_website_links_nothing(
    store: sessionmaker[Session],
) -> None:
    _, messages = await run(ActionStartLinking(), tracker("anon:abc", channel="socketio"))
    assert responses(messages) == ["utter_need_sign_in"] and "code" not in messages[0]
    code = await _code_for("C1")
    _, messages = await run(ActionLinkAccount(), tracker("anon:abc", f"LINK {code}", channel="socketio"))
    assert responses(messages) == ["utter_link_code_wrong_place"]
    with store() as session:
        assert session.scalar(select(func.count()).select_from(ChannelIdentity)) == 0


async def test_guessing_is_stopped_after_a_few_wrong_codes_even_with_the_right_one(
    store: sessionmaker[Session],
) -> None:
    code = await _code_for("C2")
    for guess in range(MAX_FAILURES):
        _, messages = await run(
            ActionLinkAccount(), tracker("+15550100", f"LINK AB{guess + 2}C-DE2F", channel="twilio")
        )
        assert responses(messages) == ["utter_link_code_invalid"]
    _, messages = await run(ActionLinkAccount(), tracker("+15550100", f"LINK {code}", channel="twilio"))
    assert responses(messages) == ["utter_link_too_many_attempts"]
    with store() as session:
        assert session.scalar(select(func.count()).select_from(LinkAttempt)) == MAX_FAILURES
        assert session.scalar(select(func.count()).select_from(ChannelIdentity)) == 0


def test_an_expired_code_does_not_link(store: sessionmaker[Session]) -> None:
    issued = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    with store.begin() as session:
        code = create_link_code(session=session, customer_id="C1", now=issued)
    with store.begin() as session, pytest.raises(CodeNotValidError, match="not valid"):
        redeem_link_code(
            session=session, code=code, channel="telegram", external_id="1", now=issued + dt.timedelta(minutes=16)
        )


def test_a_new_code_replaces_the_unused_one(store: sessionmaker[Session]) -> None:
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    with store.begin() as session:
        first = create_link_code(session=session, customer_id="C1", now=now)
        second = create_link_code(session=session, customer_id="C1", now=now)
    with store.begin() as session, pytest.raises(CodeNotValidError, match="not valid"):
        redeem_link_code(session=session, code=first, channel="telegram", external_id="1", now=now)
    with store.begin() as session:
        assert redeem_link_code(session=session, code=second, channel="telegram", external_id="1", now=now).customer_id


async def test_unlinking_in_the_app_makes_it_anonymous_again(store: sessionmaker[Session]) -> None:
    code = await _code_for("C2")
    await run(ActionLinkAccount(), tracker("5550002", f"LINK {code}", channel="telegram"))
    _, messages = await run(ActionUnlinkAccount(), tracker("5550002", channel="telegram"))
    assert responses(messages) == ["utter_unlinked"]
    _, renewal = await run(ActionShowRenewal(), tracker("5550002", channel="telegram"))
    assert responses(renewal) == ["utter_anon_renewal"]


async def test_fresh_platform_accounts_cannot_guess_codes_linking_pauses_for_everybody(
    store: sessionmaker[Session],
) -> None:
    """Security review finding 2: the limit per messaging account alone let an attacker with
    fresh ids (new chat ids, numbers, gateway senders) guess on for ever."""
    code = await _code_for("C1")
    for n in range(GLOBAL_MAX_FAILURES):  # one wrong code each: every account stays under its own limit
        _, messages = await run(ActionLinkAccount(), tracker(f"fake-{n}", "LINK ZZZZ-ZZZ2", channel="callback"))
        assert responses(messages) == ["utter_link_code_invalid"]
    _, messages = await run(ActionLinkAccount(), tracker("genuine", f"LINK {code}", channel="callback"))
    assert responses(messages) == ["utter_link_paused"]
    with store() as session:  # refused before the code was looked at, and not counted
        assert session.scalar(select(func.count()).select_from(LinkAttempt)) == GLOBAL_MAX_FAILURES
        assert session.scalar(select(func.count()).select_from(ChannelIdentity)) == 0
        assert session.scalars(select(LinkCode.used_at)).all() == [None]


def test_linking_reopens_when_the_window_has_passed_and_old_failures_are_deleted(
    store: sessionmaker[Session],
) -> None:
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    with store.begin() as session:
        for n in range(GLOBAL_MAX_FAILURES):
            session.add(LinkAttempt(channel="callback", external_id=f"fake-{n}", at=now))
    with store.begin() as session:
        code = create_link_code(session=session, customer_id="C1", now=now)
    with store.begin() as session, pytest.raises(LinkingPausedError):
        redeem_link_code(session=session, code=code, channel="telegram", external_id="1", now=now)
    later = now + FAILURE_WINDOW + dt.timedelta(minutes=1)
    with store.begin() as session:
        code = create_link_code(session=session, customer_id="C1", now=later)
        assert redeem_link_code(session=session, code=code, channel="telegram", external_id="1", now=later)
    with store() as session:
        assert session.scalar(select(func.count()).select_from(LinkAttempt)) == 0


async def test_linking_to_a_new_owner_and_unlinking_start_a_fresh_conversation(store: sessionmaker[Session]) -> None:
    """Security review finding 9: the conversation of a messaging account that changed hands
    went on with the earlier owner's messages. The action resets the slots and marks the
    turn; inside Rasa the channel purges what came before it (``bot.channels.fresh_start``)."""
    fresh = {"event": "reset_slots", "timestamp": None, "metadata": {FRESH_START: "linked"}}
    code = await _code_for("C1")
    events, messages = await run(ActionLinkAccount(), tracker("5550009", f"LINK {code}", channel="telegram"))
    assert responses(messages) == ["utter_link_done"] and events == [fresh]

    code = await _code_for("C1")  # the same owner links again: nothing to forget
    events, _ = await run(ActionLinkAccount(), tracker("5550009", f"LINK {code}", channel="telegram"))
    assert events == []

    code = await _code_for("C2")  # the account changes hands
    events, messages = await run(ActionLinkAccount(), tracker("5550009", f"LINK {code}", channel="telegram"))
    assert messages[0]["name"] == "Bob" and events == [fresh]

    events, _ = await run(ActionUnlinkAccount(), tracker("5550009", "unlink", channel="telegram"))
    assert events == [fresh | {"metadata": {FRESH_START: "unlinked"}}]
    events, messages = await run(ActionUnlinkAccount(), tracker("5550009", "unlink", channel="telegram"))
    assert responses(messages) == ["utter_link_how"] and events == []  # nothing was linked: nothing changes
