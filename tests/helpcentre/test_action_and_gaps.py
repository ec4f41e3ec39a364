"""``action_answer_help`` with real Trackers, a real CollectingDispatcher, a real SQLite store and
the real embedding model; then the content gaps it leaves, as the console groups them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime
from actions.helpcentre import ActionAnswerHelp
from supportbot.helpcentre.answers import HelpReply
from supportbot.helpcentre.gaps import find_gaps, group_gaps, record_answer
from supportbot.helpcentre.models import HelpAnswer
from supportbot.services.support import ConversationRef, request_handoff
from supportbot.store.feedback_models import Feedback
from tests.factories import add_customer, prepared_store
from tests.helpcentre.conftest import HelpFolder

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning",  # torch / transformers / spaCy import noise; not our code
    "ignore::FutureWarning",
    "ignore::UserWarning",
)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    sessions = prepared_store(tmp_path / "profile.db")
    monkeypatch.setattr(runtime, "sessions", lambda: sessions)
    with sessions.begin() as session:
        add_customer(session, "C1", first_name="Ada", plan="pro")
    return sessions


def tracker(sender_id: str, text: str, channel: str = "socketio") -> Tracker:
    parse = {"intent": {"name": "ask_help", "confidence": 0.9}, "entities": [], "text": text}
    return Tracker(
        sender_id=sender_id,
        slots={},
        latest_message=parse,
        events=[
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": text, "input_channel": channel, "parse_data": parse, "metadata": {}},
        ],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def ask(
    sender_id: str, text: str, channel: str = "socketio"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerHelp().run(dispatcher, tracker(sender_id, text, channel), {})
    return events, dispatcher.messages


@pytest.mark.parametrize("sender_id", ["cust:C1:web", "anon:visitor-1"])
@pytest.mark.parametrize(
    ("question", "slug"),
    [
        ("how do i export my notes to pdf", "export-notes"),
        ("do you ship to canada", "shipping-countries"),
        ("what is your refund policy", "refunds"),
        ("is there a student discount", "student-discount"),
    ],
)
async def test_answers_customers_and_visitors_alike_with_the_article_link(
    help_service: HelpFolder, store: sessionmaker[Session], sender_id: str, question: str, slug: str
) -> None:
    events, messages = await ask(sender_id, question)
    assert events == []
    assert len(messages) == 1
    assert f"https://lumen.example/help/articles/{slug}" in messages[0]["text"]
    with store() as session:
        row = session.scalars(select(HelpAnswer)).one()
    assert (row.outcome, row.article_slug, row.conversation_id) == ("answered", slug, sender_id)
    assert row.customer_id == ("C1" if sender_id.startswith("cust:") else None)
    assert row.embedding is not None and len(np.frombuffer(row.embedding, dtype=np.float32)) == 384


async def test_not_sure_offers_articles_and_a_person_and_records_a_redacted_gap(
    help_service: HelpFolder, store: sessionmaker[Session]
) -> None:
    question = "Hi, I'm Ada Lovelace, ada@example.com, can I pay with goats at your shop in Tokyo?"
    events, messages = await ask("anon:v2", question, channel="telegram")
    assert "not sure" in messages[0]["text"] and messages[0]["text"].endswith("shall I pass you to a person?")
    # A question: a typed "ok" or "yes please" answers it (actions.questions, offer_person).
    assert {e["name"]: e["value"] for e in events}["pending_question"].startswith('{"context": {"reason"')
    assert '"kind": "offer_person"' in {e["name"]: e["value"] for e in events}["pending_question"]
    assert messages[0]["text"].count("https://lumen.example/help/articles/") == 2
    assert messages[0]["buttons"] == [{"title": "Talk to a person", "payload": "/human_handoff"}]
    with store() as session:
        row = session.scalars(select(HelpAnswer)).one()
        gaps = find_gaps(session=session, since=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    assert row.outcome == "not_sure" and row.channel == "telegram"
    assert "ada@example.com" not in row.question_redacted and "Lovelace" not in row.question_redacted
    assert "[EMAIL]" in row.question_redacted and "goats" in row.question_redacted
    assert [g.reason for g in gaps] == ["not sure"]


async def test_a_mixed_question_offers_the_account_step(help_service: HelpFolder, store: sessionmaker[Session]) -> None:
    _, messages = await ask("cust:C1:web", "how do refunds work, and can I get one for my last order?")
    assert "/help/articles/" in messages[0]["text"]
    assert {"title": "Check my recent orders", "payload": "/ask_orders"} in messages[0]["buttons"]


async def test_a_missing_index_is_told_plainly_with_a_person_offered(
    help_service: HelpFolder, store: sessionmaker[Session]
) -> None:
    help_service.index.unlink()
    _, messages = await ask("anon:v3", "do you ship to canada")
    assert "can't reach the help centre" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/human_handoff"


async def test_a_button_payload_is_not_taken_for_a_question(
    help_service: HelpFolder, store: sessionmaker[Session]
) -> None:
    _, messages = await ask("anon:v4", "/ask_help")
    assert "in your own words" in messages[0]["text"]
    with store() as session:
        assert session.scalars(select(HelpAnswer)).all() == []


def _answer(
    session: Session, conversation: str, text: str, vector: list[float], at: dt.datetime, kind: str = "answer"
) -> HelpAnswer:
    reply = HelpReply(kind=kind, text="", article_slug="refunds", offered=("refunds",), cosine=0.6)  # type: ignore[arg-type]
    row = record_answer(
        session=session,
        conversation_id=conversation,
        customer_id=None,
        channel="rest",
        question_redacted=text,
        reply=reply,
        embedding=np.array(vector, dtype=np.float32),
        embedding_model="m",
    )
    row.created_at = at
    return row


def test_answers_followed_by_a_handoff_or_a_low_rating_soon_after_are_gaps(store: sessionmaker[Session]) -> None:
    now = dt.datetime.now(dt.UTC)
    with store.begin() as session:
        _answer(session, "c-handoff", "refund for a gift card?", [1, 0, 0], now - dt.timedelta(minutes=30))
        _answer(session, "c-low", "refund for the gift card please", [0.95, 0.1, 0], now - dt.timedelta(minutes=30))
        _answer(session, "c-late", "where is the refund", [0, 1, 0], now - dt.timedelta(hours=5))
        _answer(session, "c-fine", "refund policy", [0, 0, 1], now - dt.timedelta(minutes=30))
        _answer(session, "c-unsure", "pay with goats", [0, 0.1, 0.99], now - dt.timedelta(minutes=10), kind="not_sure")
        request_handoff(
            session=session,
            customer_id=None,
            conversation=ConversationRef("c-handoff", "rest"),
            reason="a person please",
        )
        session.add(Feedback(conversation_id="c-low", channel="rest", kind="csat", rating=1, prompted_by="resolution"))
        session.add(Feedback(conversation_id="c-fine", channel="rest", kind="csat", rating=5, prompted_by="resolution"))
        request_handoff(session=session, customer_id=None, conversation=ConversationRef("c-late", "rest"), reason="x")
    with store() as session:
        gaps = find_gaps(session=session, since=now - dt.timedelta(days=1), followup_minutes=60)
        reasons = {g.answer.conversation_id: g.reason for g in gaps}
        groups = group_gaps(gaps, similarity=0.8)
    assert reasons == {"c-handoff": "handoff after answer", "c-low": "low rating after answer", "c-unsure": "not sure"}
    assert [(g.count, g.closest_article) for g in groups] == [(2, "refunds"), (1, "refunds")]
    assert groups[0].reasons == {"handoff after answer": 1, "low rating after answer": 1}
    assert {groups[0].label, *groups[0].examples} == {"refund for a gift card?", "refund for the gift card please"}


async def test_the_widget_gets_the_article_as_a_link_button_and_messaging_channels_the_url_only(
    help_service: HelpFolder, store: sessionmaker[Session]
) -> None:
    link = {"title": "Open the article", "type": "web_url", "url": "https://lumen.example/help/articles/refunds"}
    _, widget = await ask("anon:w1", "what is your refund policy", channel="socketio")
    assert widget[0]["buttons"] == [link]
    _, telegram = await ask("anon:t1", "what is your refund policy", channel="telegram")
    assert telegram[0]["buttons"] == [] and link["url"] in telegram[0]["text"]
    _, unsure = await ask("anon:w2", "do you accept goats as payment", channel="socketio")
    assert unsure[0]["buttons"] == [{"title": "Talk to a person", "payload": "/human_handoff"}]


@pytest.mark.parametrize(
    ("intent", "response"), [("out_of_scope", "utter_out_of_scope"), ("nlu_fallback", "utter_default")]
)
async def test_what_the_classifier_could_not_place_is_answered_only_when_the_help_centre_is_sure(
    help_service: HelpFolder, store: sessionmaker[Session], intent: str, response: str
) -> None:
    def placed_as(sender_id: str, text: str) -> Tracker:
        t = tracker(sender_id, text)
        t.latest_message["intent"] = {"name": intent, "confidence": 0.3}
        return t

    sure, unsure = CollectingDispatcher(), CollectingDispatcher()
    await ActionAnswerHelp().run(sure, placed_as("anon:f1", "do you ship to canada"), {})
    assert "https://lumen.example/help/articles/shipping-countries" in sure.messages[0]["text"]
    events = await ActionAnswerHelp().run(unsure, placed_as("anon:f2", "tell me a joke about goats"), {})
    assert [m.get("response") for m in unsure.messages] == [response], "the usual reply, not the help centre's"
    # "… Want me to get you a person instead?" is a question a typed "sure" answers (offer_person).
    offered = {e["name"]: e["value"] for e in events}.get("pending_question")
    assert (offered is not None and '"offer_person"' in offered) == (intent == "out_of_scope")
    with store() as session:
        rows = session.scalars(select(HelpAnswer)).all()
    assert [r.conversation_id for r in rows] == ["anon:f1"], "a fallback the help centre cannot answer is no gap"


def follow_up_tracker(text: str, previous_action: str) -> Tracker:
    """A conversation whose last answer came from ``previous_action``, then ``text``."""
    parse = {"intent": {"name": "nlu_fallback", "confidence": 0.2}, "entities": [], "text": text}
    events = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "where's my order?", "input_channel": "rest", "parse_data": {}, "metadata": {}},
        {"event": "action", "name": previous_action},
        {"event": "bot", "text": "Order #512390 (Lumen Desk Mat) was delivered.", "data": {}},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "input_channel": "rest", "parse_data": parse, "metadata": {}},
    ]
    return Tracker("cust:C1:web", {}, parse, events, False, None, {}, "action_listen")


async def test_a_pronoun_right_after_an_order_is_read_as_the_order(
    help_service: HelpFolder, store: sessionmaker[Session]
) -> None:
    """make run: "where's my order?" → the order → "can I return it?" → "not sure I understood"."""
    dispatcher = CollectingDispatcher()
    await ActionAnswerHelp().run(dispatcher, follow_up_tracker("can I return it?", "action_order_status"), {})
    assert "help/articles/returns" in dispatcher.messages[0]["text"]
    with store() as session:
        row = session.scalars(select(HelpAnswer)).one()
    assert (row.outcome, row.article_slug) == ("answered", "returns")
    unrelated = CollectingDispatcher()  # after a greeting, "it" names nothing: the usual fallback
    await ActionAnswerHelp().run(unrelated, follow_up_tracker("can I return it?", "action_greet"), {})
    assert [m.get("response") for m in unrelated.messages] == ["utter_default"]


async def test_the_same_passage_twice_in_a_row_is_not_sent_again(
    help_service: HelpFolder, store: sessionmaker[Session]
) -> None:
    """make run: the export steps, then "how long does that take?" got the very same passage again,
    as if it were the answer; now the customer is told the article says no more, and offered a person."""
    domain = dict(yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text(encoding="utf-8")))
    _, first = await ask("cust:C1:web", "how do i export my notes to pdf")
    follow_up = tracker("cust:C1:web", "how do i export my notes to pdf")  # asked again, the same words
    answer = {"event": "bot", "text": first[0]["text"], "data": {"buttons": first[0].get("buttons")}}
    follow_up.events[1:1] = [
        {"event": "user", "text": "how do i export my notes to pdf", "parse_data": {}, "metadata": {}},
        answer,
        {"event": "action", "name": "action_listen"},
    ]
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerHelp().run(dispatcher, follow_up, domain)
    [message] = dispatcher.messages
    if message["text"] == first[0]["text"]:
        pytest.fail("the passage just sent was sent again")
    assert "it says no more than that" in message["text"] and "/help/articles/export-notes" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/human_handoff", "/deny"]
    assert '"kind": "offer_person"' in {e["name"]: e["value"] for e in events}["pending_question"]
    with store() as session:
        outcomes = session.scalars(select(HelpAnswer.outcome).order_by(HelpAnswer.id)).all()
    assert outcomes == ["answered", "not_sure"]
