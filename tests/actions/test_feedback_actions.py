"""Feedback actions with trackers built from events, a real dispatcher and a real SQLite store."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions import feedback as fb
from actions import feedback_submit as fs
from actions import runtime
from supportbot.feedback.store import record_rating
from supportbot.store.feedback_models import Feedback, FeedbackFollowUp, PromoterInvitation
from supportbot.store.models import Consent
from tests.factories import add_customer, prepared_store


@pytest.fixture
def store(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    sessions = prepared_store(tmp_path / "profile.db")
    monkeypatch.setattr(runtime, "sessions", lambda: sessions)
    with sessions.begin() as session:
        add_customer(session, "C1", first_name="Ada", plan="pro", renews_in_days=5, price_cents=2400)
    return sessions


def user(text: str, intent: str, confidence: float = 0.95) -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "input_channel": "rest",
        "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": []},
    }


def action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name}


def tracker(
    sender: str,
    events: list[dict[str, Any]],
    *,
    slots: dict[str, Any] | None = None,
) -> Tracker:
    last = next(e for e in reversed(events) if e["event"] == "user")
    return Tracker(
        sender_id=sender,
        slots=slots or {},
        latest_message={"text": last["text"], **last["parse_data"]},
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run(act: Any, t: Tracker) -> tuple[list[dict[str, Any]], list[str]]:
    dispatcher = CollectingDispatcher()
    events = await act.run(dispatcher, t, {})
    return events, [m.get("response") or m.get("text") or "" for m in dispatcher.messages]


def followup(events: list[dict[str, Any]]) -> str | None:
    return next((e["name"] for e in events if e["event"] == "followup"), None)


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


RESOLVED = [action("action_listen"), user("when do i renew", "ask_renewal"), action("action_show_renewal")]


async def test_thanks_after_a_resolved_request_asks_for_csat(store: sessionmaker[Session]) -> None:
    events, said = await run(fb.ActionWrapUp(), tracker("cust:C1:w", [*RESOLVED, user("thanks", "thanks")]))
    assert said == ["utter_wrap_up_thanks"]
    assert followup(events) == "csat_form"
    assert slots_set(events)["feedback_prompt"] == "resolution"


async def test_goodbye_is_a_natural_end_too(store: sessionmaker[Session]) -> None:
    events, said = await run(fb.ActionWrapUp(), tracker("cust:C1:w", [*RESOLVED, user("bye", "goodbye")]))
    assert said == ["utter_wrap_up_goodbye"] and slots_set(events)["feedback_prompt"] == "conversation_end"


async def test_thanks_with_nothing_resolved_or_already_asked_just_answers(store: sessionmaker[Session]) -> None:
    events, said = await run(fb.ActionWrapUp(), tracker("cust:C1:w", [user("thanks", "thanks")]))
    assert said == ["utter_welcome"] and events == []
    asked = [*RESOLVED, {"event": "active_loop", "name": "csat_form"}, user("thanks", "thanks")]
    events, said = await run(fb.ActionWrapUp(), tracker("cust:C1:w", asked))
    assert said == ["utter_welcome"] and events == []
    new_session = [*asked, {"event": "session_started"}, user("thanks", "thanks")]
    events, _ = await run(fb.ActionWrapUp(), tracker("cust:C1:w", new_session))
    assert events == []  # a new session with nothing resolved yet


async def test_a_customer_who_opted_out_of_feedback_requests_is_not_asked(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        session.add(Consent(customer_id="C1", kind="feedback", granted=False))
    events, said = await run(fb.ActionWrapUp(), tracker("cust:C1:w", [*RESOLVED, user("thanks", "thanks")]))
    assert said == ["utter_welcome"] and followup(events) is None


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [("four", "inform", "4"), ("pretty good", "affirm", "4"), ("skip", "deny", "skipped"), ("5", "nlu_fallback", "5")],
)
def test_csat_answers_typed_or_tapped(text: str, intent: str, expected: str) -> None:
    form = fb.ValidateCsatForm()
    t = tracker("anon:x", [user(text, intent)], slots={"requested_slot": "csat_score"})
    extracted = form.extract_csat_score(CollectingDispatcher(), t, {})
    assert form.validate_csat_score(extracted["csat_score"], CollectingDispatcher(), t, {}) == {
        "csat_score": expected,
        "feedback_unclear": None,
    }


def test_a_new_request_is_not_taken_for_a_rating() -> None:
    t = tracker("anon:x", [user("when does my plan renew", "ask_renewal", 0.9)], slots={"requested_slot": "csat_score"})
    assert fb.ValidateCsatForm().extract_csat_score(CollectingDispatcher(), t, {}) == {}


def test_an_unclear_rating_is_asked_again_once_then_dropped() -> None:
    dispatcher = CollectingDispatcher()
    t = tracker("anon:x", [user("hmm", "inform")], slots={"requested_slot": "csat_score"})
    assert fb.ValidateCsatForm().validate_csat_score("hmm", dispatcher, t, {}) == {
        "csat_score": None,
        "feedback_unclear": 1.0,
    }
    assert dispatcher.messages[0]["response"] == "utter_csat_not_understood"
    t = tracker("anon:x", [user("hmm", "inform")], slots={"requested_slot": "csat_score", "feedback_unclear": 1.0})
    assert fb.ValidateCsatForm().validate_csat_score("dunno", CollectingDispatcher(), t, {})["csat_score"] == "skipped"


async def test_csat_segments_choose_the_next_step(store: sessionmaker[Session]) -> None:
    base = [*RESOLVED, user("x", "inform")]
    events, said = await run(fs.ActionSubmitCsat(), tracker("cust:C1:a", base, slots={"csat_score": "1"}))
    assert said == ["utter_csat_detractor"] and followup(events) == "follow_up_offer_form"
    events, said = await run(fs.ActionSubmitCsat(), tracker("cust:C1:b", base, slots={"csat_score": "3"}))
    assert said == ["utter_csat_passive"] and followup(events) == "feedback_form"
    assert slots_set(events)["feedback_question"] == "better"
    events, said = await run(fs.ActionSubmitCsat(), tracker("cust:C1:c", base, slots={"csat_score": "5"}))
    assert said == ["utter_csat_promoter"] and followup(events) == "nps_form"  # no NPS yet: due
    events, _ = await run(fs.ActionSubmitCsat(), tracker("cust:C1:d", base, slots={"csat_score": "5"}))
    assert followup(events) == "nps_form"  # still due: no NPS answered yet
    with store() as session:
        rows = session.scalars(select(Feedback).order_by(Feedback.id)).all()
        assert [(r.kind, r.rating, r.conversation_id) for r in rows] == [
            ("csat", 1, "cust:C1:a"),
            ("csat", 3, "cust:C1:b"),
            ("csat", 5, "cust:C1:c"),
            ("csat", 5, "cust:C1:d"),
        ]


async def test_nps_is_not_asked_again_within_90_days(store: sessionmaker[Session]) -> None:
    with store.begin() as session:
        record_rating(
            session=session,
            conversation_id="cust:C1:old",
            channel="rest",
            kind="nps",
            rating=8,
            prompted_by="nps_survey",
            customer_id="C1",
            now=dt.datetime.now(dt.UTC) - dt.timedelta(days=89),
        )
    events, _ = await run(
        fs.ActionSubmitCsat(), tracker("cust:C1:n", [*RESOLVED, user("5", "inform")], slots={"csat_score": "5"})
    )
    assert followup(events) is None


async def test_a_visitor_detractor_gets_the_open_question_not_a_person(store: sessionmaker[Session]) -> None:
    events, said = await run(
        fs.ActionSubmitCsat(), tracker("anon:v", [*RESOLVED, user("2", "inform")], slots={"csat_score": "2"})
    )
    assert said == ["utter_csat_detractor"] and followup(events) == "feedback_form"


async def test_nps_promoter_is_invited_and_acceptance_is_recorded(store: sessionmaker[Session]) -> None:
    events, said = await run(
        fs.ActionSubmitNps(), tracker("cust:C1:p", [user("10", "inform")], slots={"nps_score": "10"})
    )
    assert said == ["utter_nps_promoter"] and followup(events) == "programme_form"
    feedback_id = slots_set(events)["last_feedback_id"]
    _, said = await run(
        fs.ActionSubmitProgrammeInvite(),
        tracker("cust:C1:p", [user("yes", "affirm")], slots={"joins_programme": True, "last_feedback_id": feedback_id}),
    )
    assert said == ["utter_programme_joined"]
    with store() as session:
        invitation = session.scalars(select(PromoterInvitation)).one()
        assert invitation.accepted and invitation.feedback_id == int(feedback_id)


async def test_an_accepted_follow_up_is_recorded_for_the_console(store: sessionmaker[Session]) -> None:
    events, _ = await run(fs.ActionSubmitNps(), tracker("cust:C1:f", [user("3", "inform")], slots={"nps_score": "3"}))
    assert followup(events) == "follow_up_offer_form"
    feedback_id = slots_set(events)["last_feedback_id"]
    events, said = await run(
        fs.ActionSubmitFollowUpOffer(),
        tracker("cust:C1:f", [user("yes", "affirm")], slots={"wants_follow_up": True, "last_feedback_id": feedback_id}),
    )
    assert said == ["utter_follow_up_promised"] and slots_set(events)["feedback_question"] == "details"
    with store() as session:
        follow_up = session.scalars(select(FeedbackFollowUp)).one()
        assert follow_up.status == "open" and follow_up.customer_id == "C1"


def test_feedback_form_reads_volunteered_content_and_asks_when_there_is_none() -> None:
    form = fb.ValidateFeedbackForm()
    t = tracker("anon:x", [user("I have a suggestion", "give_feedback")])
    value = form.extract_feedback_text(CollectingDispatcher(), t, {})["feedback_text"]
    assert form.validate_feedback_text(value, CollectingDispatcher(), t, {}) == {
        "feedback_text": None,
        "feedback_question": "volunteered",
    }
    t = tracker("anon:x", [user("your app keeps logging me out", "give_feedback")])
    value = form.extract_feedback_text(CollectingDispatcher(), t, {})["feedback_text"]
    assert form.validate_feedback_text(value, CollectingDispatcher(), t, {}) == {
        "feedback_text": "your app keeps logging me out"
    }


def test_feedback_form_asks_once_for_more_after_a_vague_answer() -> None:
    form = fb.ValidateFeedbackForm()
    asked = {"requested_slot": "feedback_text"}
    t = tracker("anon:x", [user("it's fine", "affirm")], slots=asked)
    assert form.validate_feedback_text("it's fine", CollectingDispatcher(), t, {}) == {
        "feedback_text": None,
        "feedback_vague_asked": True,
        "feedback_held": "it's fine",
    }
    again = {**asked, "feedback_vague_asked": True, "feedback_held": "it's fine"}
    t = tracker("anon:x", [user("faster", "inform")], slots=again)
    assert form.validate_feedback_text("faster", CollectingDispatcher(), t, {}) == {"feedback_text": "it's fine faster"}
    t = tracker("anon:x", [user("nothing", "deny")], slots=asked)
    assert form.validate_feedback_text("nothing", CollectingDispatcher(), t, {}) == {"feedback_text": "skipped"}


async def test_submitted_feedback_is_stored_redacted_with_its_prompt(store: sessionmaker[Session]) -> None:
    slots = {"feedback_text": "call me on +44 20 7946 0958, the sync is slow", "feedback_question": "better"}
    slots["feedback_prompt"] = "handoff_closed"
    _, said = await run(fs.ActionSubmitFeedback(), tracker("cust:C1:t", [user("x", "inform")], slots=slots))
    assert said == ["utter_feedback_thanks"]
    with store() as session:
        row = session.scalars(select(Feedback)).one()
        assert row.prompted_by == "handoff_closed" and row.customer_id == "C1"
        assert "7946" not in (row.text_redacted or "") and "[PHONE]" in (row.text_redacted or "")


async def test_ask_action_words_the_question_for_its_reason() -> None:
    _, said = await run(fb.ActionAskFeedbackText(), tracker("anon:x", [user("x", "inform")]))
    assert said == ["utter_ask_feedback_better"]
    slots = {"feedback_question": "better_for_you", "feedback_vague_asked": True}
    _, said = await run(fb.ActionAskFeedbackText(), tracker("anon:x", [user("x", "inform")], slots=slots))
    assert said == ["utter_ask_feedback_more"]


def test_resolving_actions_and_task_intents_exist_in_the_domain() -> None:
    import yaml

    from supportbot.devstack import ROOT

    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    assert set(domain["actions"]) >= fb.RESOLVING_ACTIONS
    assert set(domain["intents"]) >= fb.TASK_INTENTS


def test_a_slot_cleared_before_the_form_started_is_not_an_answer() -> None:
    dispatcher = CollectingDispatcher()
    t = tracker("anon:x", [user("thanks", "thanks")])
    assert fb.ValidateCsatForm().validate_csat_score(None, dispatcher, t, {}) == {"csat_score": None}
    assert fb.ValidateFeedbackForm().validate_feedback_text(None, dispatcher, t, {}) == {"feedback_text": None}
    t = tracker("anon:x", [user("yes please", "affirm")])
    assert fb.ValidateFeedbackForm().validate_feedback_text("yes please", dispatcher, t, {}) == {"feedback_text": None}
    assert dispatcher.messages == []
