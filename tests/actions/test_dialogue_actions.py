"""Consent, answers, expiry and forms at the action level: real actions, a real SQLite store,
and trackers that grow turn by turn the way Rasa grows them (``Chat``)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions import runtime
from actions.affirm import ActionAffirmNothingPending
from actions.answers import ActionAnswerQuestion
from actions.cancellation import ActionOfferRetention
from actions.dialogue_state import ActionSessionStart, ValidateSlotMappings
from actions.loyalty import ActionRedeemPoints
from actions.plans import ActionChangePlan, ActionPlanOptions
from actions.preferences import ActionOptIn, ActionOptOut
from actions.profile import ActionRenewNow
from actions.profile_form import (
    ActionAskUpdateValue,
    ActionSubmitProfileUpdate,
    ValidateProfileUpdateForm,
    corrected_value,
)
from actions.questions import Question, ask
from actions.resume import INTERRUPTED_SLOT
from actions.support import ActionHandoff, ActionHandoffWaiting, ValidateProblemForm
from supportbot.store.dialogue_models import AccountChangeRequest
from supportbot.store.models import Consent, Customer, LoyaltyAccount, Subscription, SupportInteraction
from tests.actions.test_actions import domain
from tests.factories import add_customer, prepared_store

TODAY = dt.datetime.now(dt.UTC).date()
DOMAIN = domain()


@pytest.fixture
def store(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    sessions = prepared_store(tmp_path / "profile.db")
    monkeypatch.setattr(runtime, "sessions", lambda: sessions)
    with sessions.begin() as session:
        add_customer(
            session, "C1", first_name="Ada", plan="pro", renews_in_days=5, price_cents=2400, loyalty_points=1200
        )
    return sessions


class Chat:
    """One conversation's events, grown the way Rasa grows them: a customer message, then the
    events and messages of the actions that answer it."""

    def __init__(self, sender: str = "cust:C1:s1") -> None:
        self.sender = sender
        self.events: list[dict[str, Any]] = [{"event": "action", "name": "action_listen"}]
        self.slots: dict[str, Any] = {}
        self.latest: dict[str, Any] = {}
        self.active_loop: dict[str, Any] = {}

    def tracker(self) -> Tracker:
        return Tracker(
            sender_id=self.sender,
            slots=dict(self.slots),
            latest_message=self.latest,
            events=list(self.events),
            paused=False,
            followup_action=None,
            active_loop=dict(self.active_loop),
            latest_action_name=self.events[-1].get("name"),
        )

    async def run(self, action: Any) -> list[dict[str, Any]]:
        """Run ``action`` (async), record its events and messages; returns its messages."""
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, self.tracker(), DOMAIN)
        self.events.append({"event": "action", "name": action.name()})
        self._record(events, dispatcher.messages)
        return dispatcher.messages

    def run_sync_message(self, text: str, buttons: list[dict[str, str]], question: Question) -> None:
        """The assistant asks ``question`` (as ``actions.questions.ask`` does) in its own turn."""
        dispatcher = CollectingDispatcher()
        events = ask(dispatcher, text=text, buttons=buttons, question=question)
        self.events.append({"event": "action", "name": "action_asks"})
        self._record(events, dispatcher.messages)

    def _record(self, events: list[dict[str, Any]], messages: list[dict[str, Any]]) -> None:
        for event in events:
            self.events.append(event)
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        for message in messages:
            self.events.append(
                {"event": "bot", "text": message.get("text"), "data": {"buttons": message.get("buttons") or []}}
            )


def requests(store: sessionmaker[Session]) -> list[AccountChangeRequest]:
    with store() as session:
        return list(session.scalars(select(AccountChangeRequest).order_by(AccountChangeRequest.id)))


def subscription(store: sessionmaker[Session]) -> Subscription:
    with store() as session:
        return session.scalars(select(Subscription).where(Subscription.customer_id == "C1")).one()


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text") or m.get("response") or "") for m in messages)


async def answer(chat: Chat, text: str, intent: str, **entities: str) -> list[dict[str, Any]]:
    """The customer's reply, through the per-message validator and (if it answers) the answer action."""
    validated = await _validate(chat, text, intent, **entities)
    assert any(e.get("name") == "answer" and e.get("value") for e in validated), validated
    return await chat.run(ActionAnswerQuestion())


async def _validate(
    chat: Chat, text: str, intent: str, confidence: float = 0.95, **entities: str
) -> list[dict[str, Any]]:
    ents = [{"entity": k, "value": v} for k, v in entities.items()]
    chat.latest = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": ents}
    chat.events.append({"event": "user", "text": text, "parse_data": chat.latest, "input_channel": "rest"})
    dispatcher = CollectingDispatcher()
    events = await ValidateSlotMappings().run(dispatcher, chat.tracker(), DOMAIN)
    chat._record(events, [])
    return events


async def test_renewing_asks_with_the_terms_and_changes_nothing_until_yes(store: sessionmaker[Session]) -> None:
    chat = Chat()
    before = subscription(store).renews_on
    await _validate(chat, "please renew my plan now", "renew_now")
    question = await chat.run(ActionRenewNow())
    assert "Renew your Pro plan now for $24.00?" in question[0]["text"]
    assert subscription(store).renews_on == before
    (row,) = requests(store)
    assert row.status == "pending" and row.kind == "renew" and row.prompt.startswith(question[0]["text"])
    assert "[Yes, renew now] [No, don't renew]" in row.prompt
    payloads = [b["payload"] for b in question[0]["buttons"]]
    assert payloads == [f'/affirm{{"change_request": "{row.id}"}}', f'/deny{{"change_request": "{row.id}"}}']

    done = await answer(chat, "Yes, renew now", "renew_now")  # the classifier reads it as renew_now
    assert done[0]["response"] == "utter_renewed"
    after = subscription(store).renews_on
    assert after is not None and before is not None and after > before
    (row,) = requests(store)
    assert (row.status, row.answer, row.conversation_id) == ("confirmed", "Yes, renew now", "cust:C1:s1")


async def test_a_typed_no_button_declines_even_when_it_reads_like_the_request(store: sessionmaker[Session]) -> None:
    chat = Chat()
    await _validate(chat, "renew it", "renew_now")
    await chat.run(ActionRenewNow())
    before = subscription(store).renews_on
    reply = await answer(chat, "No, don't renew", "renew_now")
    assert reply[0]["response"] == "utter_renew_declined"
    assert subscription(store).renews_on == before
    assert [r.status for r in requests(store)] == ["declined"]


async def test_no_cancel_typed_at_the_offer_goes_on_to_the_confirmation_then_cancels(
    store: sessionmaker[Session],
) -> None:
    chat = Chat()
    await _validate(chat, "i want to cancel", "cancel_subscription")
    offer = await chat.run(ActionOfferRetention())
    assert [b["title"] for b in offer[0]["buttons"]] == ["Keep it with 20% off", "Switch to Plus", "No, cancel"]
    confirm = await answer(chat, "No, cancel", "nevermind")  # once read as "never mind": kept the plan
    assert "Just to confirm: cancel your Pro plan?" in confirm[0]["text"]
    assert subscription(store).status == "active"
    done = await answer(chat, "Yes, cancel it", "nevermind")
    assert done[0]["response"] == "utter_cancelled"
    assert subscription(store).status == "cancelled"
    assert [(r.kind, r.status) for r in requests(store)] == [("retention_offer", "declined"), ("cancel", "confirmed")]


async def test_the_offer_expires_when_the_customer_moves_on_and_a_later_yes_accepts_nothing(
    store: sessionmaker[Session],
) -> None:
    chat = Chat()
    await _validate(chat, "i want to cancel my subscription", "cancel_subscription")
    await chat.run(ActionOfferRetention())
    moved_on = await _validate(chat, "how many loyalty points do i have", "ask_loyalty")
    assert {(e["name"], e["value"]) for e in moved_on if e["name"] != INTERRUPTED_SLOT} == {
        ("pending_question", None),
        ("answer", None),
    }
    assert [r.status for r in requests(store)] == ["expired"]
    later_yes = await _validate(chat, "yes", "affirm")
    assert later_yes == []  # nothing to answer: the rule for a yes with nothing pending takes it
    asked_again = await chat.run(ActionAffirmNothingPending())  # the offer, as a new question
    assert asked_again[0]["response"] == "utter_ask_again" and "20% off" in asked_again[1]["text"]
    assert subscription(store).discount_percent == 0
    assert [r.status for r in requests(store)] == ["expired", "pending"]


async def test_a_yes_after_a_question_asks_the_interrupted_change_again_and_only_a_yes_to_that_changes_it(
    store: sessionmaker[Session],
) -> None:
    """make run: "upgrade me to business" → "what other plans are there?" (the plan options) →
    "ok do it" answered "I'm not sure what that's a yes to"."""
    chat = Chat()
    await _validate(chat, "upgrade me to business", "change_plan", plan="business")
    asked = await chat.run(ActionChangePlan())
    await _validate(chat, "what other plans are there?", "ask_plan_options")
    assert chat.slots[INTERRUPTED_SLOT]
    await chat.run(ActionPlanOptions())  # a list of plans: a question of its own, which "ok do it" does not answer
    events = await _validate(chat, "ok do it", "affirm")
    assert not any(e.get("name") == "answer" and e.get("value") for e in events)
    again = await chat.run(ActionAffirmNothingPending())
    assert again[0]["response"] == "utter_ask_again"
    assert again[1]["text"] == asked[0]["text"] and [b["title"] for b in again[1]["buttons"]] == [
        b["title"] for b in asked[0]["buttons"]
    ]
    first, second = requests(store)
    assert (first.status, second.status, second.kind) == ("expired", "pending", "change_plan")
    assert all(f'"change_request": "{second.id}"' in b["payload"] for b in again[1]["buttons"])
    assert subscription(store).plan_code == "pro" and not chat.slots[INTERRUPTED_SLOT]
    done = await answer(chat, "yes", "affirm")
    assert texts(done) == "utter_plan_changed" and subscription(store).plan_code == "business"


async def test_what_a_waiting_change_costs_is_its_terms_again(store: sessionmaker[Session]) -> None:
    """make run: "upgrade me to business" → "what's the price difference?" → the plan options, and
    the switch waiting for a yes was out of sight."""
    chat = Chat()
    await _validate(chat, "upgrade me to business", "change_plan", plan="business")
    asked = await chat.run(ActionChangePlan())
    await _validate(chat, "what's the price difference?", "ask_plan_options")
    terms = await chat.run(ActionPlanOptions())
    assert terms[0]["response"] == "utter_terms_cost" and terms[1]["text"] == asked[0]["text"]
    done = await answer(chat, "ok do it", "affirm")
    assert texts(done) == "utter_plan_changed" and subscription(store).plan_code == "business"
    assert [r.status for r in requests(store)] == ["expired", "confirmed"]


async def test_a_request_or_a_second_message_forgets_the_interrupted_change(store: sessionmaker[Session]) -> None:
    chat = Chat()
    await _validate(chat, "upgrade me to business", "change_plan", plan="business")
    await chat.run(ActionChangePlan())
    await _validate(chat, "cancel my subscription instead", "cancel_subscription")  # a request, not a question
    assert not chat.slots.get(INTERRUPTED_SLOT)
    await _validate(chat, "upgrade me to business", "change_plan", plan="business")
    await chat.run(ActionChangePlan())
    await _validate(chat, "when does it renew?", "ask_renewal")
    await _validate(chat, "and how many points do I have?", "ask_loyalty")
    assert not chat.slots.get(INTERRUPTED_SLOT)
    await _validate(chat, "yes", "affirm")
    nothing = await chat.run(ActionAffirmNothingPending())
    assert [m.get("response") for m in nothing] == ["utter_nothing_pending"]
    assert subscription(store).plan_code == "pro"


async def test_a_yes_the_classifier_is_unsure_of_is_not_taken_as_consent(store: sessionmaker[Session]) -> None:
    chat = Chat()
    await _validate(chat, "renew", "renew_now")
    await chat.run(ActionRenewNow())
    before = subscription(store).renews_on
    events = await _validate(chat, "yes but what does it cost with tax", "affirm", confidence=0.55)
    assert not any(e.get("name") == "answer" and e.get("value") for e in events)
    assert subscription(store).renews_on == before
    assert [r.status for r in requests(store)] == ["expired"]


async def test_the_switch_button_asks_to_confirm_the_cheaper_plan(store: sessionmaker[Session]) -> None:
    chat = Chat()
    await _validate(chat, "cancel my plan", "cancel_subscription")
    await chat.run(ActionOfferRetention())
    ask = await answer(chat, "switch to plus please", "change_plan", plan="plus")
    assert "Switch from Pro to Plus" in ask[0]["text"] and "$12.00 per month" in ask[0]["text"]
    assert subscription(store).plan_code == "pro"
    done = await answer(chat, "yes", "affirm")
    assert done[0]["response"] == "utter_plan_changed"
    assert subscription(store).plan_code == "plus"


async def test_a_tap_on_an_older_question_changes_nothing(store: sessionmaker[Session]) -> None:
    chat = Chat()
    await _validate(chat, "renew", "renew_now")
    first = await chat.run(ActionRenewNow())
    await _validate(chat, "renew", "renew_now")
    await chat.run(ActionRenewNow())
    before = subscription(store).renews_on
    reply = await answer(chat, first[0]["buttons"][0]["payload"], "affirm", change_request=str(requests(store)[0].id))
    assert reply[0]["response"] == "utter_question_expired"
    assert subscription(store).renews_on == before


async def test_a_double_yes_redeems_the_points_once(store: sessionmaker[Session]) -> None:
    chat = Chat()
    await _validate(chat, "redeem my points for the stylus tips", "redeem_points")
    ask = await chat.run(ActionRedeemPoints())
    assert "Redeem 400 points for Stylus tips (6-pack)? You'd have 800 points left." in ask[0]["text"]
    yes = ask[0]["buttons"][0]["payload"]
    await answer(chat, yes, "affirm", change_request=str(requests(store)[0].id))
    again = await _validate(chat, yes, "affirm", change_request=str(requests(store)[0].id))
    assert not any(e.get("name") == "answer" and e.get("value") for e in again)
    with store() as session:
        assert session.get(LoyaltyAccount, "C1").points == 800  # type: ignore[union-attr]
        assert (
            len(session.scalars(select(SupportInteraction).where(SupportInteraction.kind == "points_redemption")).all())
            == 1
        )


async def test_which_messages_is_answered_by_a_typed_kind(store: sessionmaker[Session]) -> None:
    chat = Chat()
    await _validate(chat, "unsubscribe", "opt_out")
    ask = await chat.run(ActionOptOut())
    assert "Usage tips" in [b["title"] for b in ask[0]["buttons"]]
    done = await answer(chat, "usage tips", "nlu_fallback")
    assert done[0]["response"] == "utter_opt_out_done" and done[0]["kind"] == "usage tips"
    with store() as session:
        consent = session.get(Consent, ("C1", "tips"))
        assert consent is not None and consent.granted is False


@pytest.mark.parametrize("reply", ["no", "No, keep them"])
async def test_a_complaint_taken_for_an_opt_out_is_asked_about_and_a_no_changes_nothing(
    store: sessionmaker[Session], reply: str
) -> None:
    chat = Chat()
    await _validate(chat, "my reminders don't send notifications", "opt_out")
    ask = await chat.run(ActionOptOut())
    assert ask[0]["text"] == "Do you want me to stop sending you renewal reminders?"
    assert [b["title"] for b in ask[0]["buttons"]] == ["Yes, stop them", "No, keep them"]
    kept = await answer(chat, reply, "deny")
    assert kept[0]["response"] == "utter_consent_unchanged"
    with store() as session:
        assert session.get(Consent, ("C1", "renewal")) is None


async def test_a_yes_to_the_opt_out_question_stops_that_kind(store: sessionmaker[Session]) -> None:
    chat = Chat()
    await _validate(chat, "my reminders don't send notifications", "opt_out")
    await chat.run(ActionOptOut())
    done = await answer(chat, "yes", "affirm")
    assert done[0]["response"] == "utter_opt_out_done" and done[0]["kind"] == "renewal reminders"
    with store() as session:
        consent = session.get(Consent, ("C1", "renewal"))
        assert consent is not None and consent.granted is False


async def test_not_getting_tips_is_not_taken_as_asking_for_them(store: sessionmaker[Session]) -> None:
    chat = Chat()
    await _validate(chat, "i'm not getting my tips", "opt_in")
    on = await chat.run(ActionOptIn())  # no row: the business default, granted
    assert on[0]["response"] == "utter_consent_already_on"
    with store.begin() as session:
        session.add(Consent(customer_id="C1", kind="tips", granted=False, source="chat"))
    await _validate(chat, "i'm not getting my tips", "opt_in")
    ask = await chat.run(ActionOptIn())
    assert ask[0]["text"] == "Shall I send you usage tips again?"
    with store() as session:
        consent = session.get(Consent, ("C1", "tips"))
        assert consent is not None and consent.granted is False


@pytest.mark.parametrize("text", ["stop sending me tips", "no more tips please", "I don't want tips"])
async def test_a_plain_stop_is_honoured_at_once(store: sessionmaker[Session], text: str) -> None:
    chat = Chat()
    await _validate(chat, text, "opt_out")
    done = await chat.run(ActionOptOut())
    assert done[0]["response"] == "utter_opt_out_done"
    with store() as session:
        consent = session.get(Consent, ("C1", "tips"))
        assert consent is not None and consent.granted is False


async def test_a_changed_plan_is_never_switched_without_the_terms(store: sessionmaker[Session]) -> None:
    chat = Chat()
    chat.slots["plan"] = "business"
    await _validate(chat, "switch me to the business plan", "change_plan", plan="business")
    ask = await chat.run(ActionChangePlan())
    assert "Switch from Pro to Business" in ask[0]["text"] and "$49.00 per month" in ask[0]["text"]
    assert subscription(store).plan_code == "pro"
    assert [e for e in chat.events if e.get("name") == "plan"][-1]["value"] is None


async def test_a_new_session_starts_with_nothing_pending_and_remembers_a_waiting_customer(
    store: sessionmaker[Session],
) -> None:
    chat = Chat()
    await _validate(chat, "renew", "renew_now")
    await chat.run(ActionRenewNow())
    await _validate(chat, "a person please", "human_handoff")
    await chat.run(ActionHandoff())
    chat.slots["last_outreach_kind"] = "tips"
    dispatcher = CollectingDispatcher()
    events = await ActionSessionStart().run(dispatcher, chat.tracker(), DOMAIN)
    assert [e["event"] for e in events] == ["session_started", "slot", "slot", "action"]
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"} == {
        "last_outreach_kind": "tips",
        "handoff_requested": True,
    }
    assert [r.status for r in requests(store)] == ["expired"]


async def test_waiting_for_a_person_is_answered_as_waiting_and_ends_when_the_handoff_closes(
    store: sessionmaker[Session],
) -> None:
    chat = Chat()
    await _validate(chat, "i want to talk to a person", "human_handoff")
    await chat.run(ActionHandoff())
    await _validate(chat, "talk to a human", "human_handoff")
    again = await chat.run(ActionHandoff())
    assert again[0]["response"] == "utter_handoff_already_waiting"
    with store() as session:
        handoffs = session.scalars(select(SupportInteraction).where(SupportInteraction.kind == "handoff")).all()
        assert [h.status for h in handoffs] == ["open"]
    await _validate(chat, "hello? anyone there?", "greet")
    waiting = await chat.run(ActionHandoffWaiting())
    assert waiting[0]["response"] == "utter_handoff_still_waiting"
    with store.begin() as session:
        session.scalars(select(SupportInteraction)).one().status = "closed"
    await _validate(chat, "hello", "greet")
    greeted = await chat.run(ActionHandoffWaiting())
    assert greeted[0]["response"] == "utter_greet_again"  # an ordinary conversation again, mid-session
    assert chat.slots["handoff_requested"] is None


async def extract(
    chat: Chat, text: str, intent: str, *, requested: str | None = "update_value", field: str = "birthday"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One reply to the profile form, through its whole validation action (as Rasa's form runs it)."""
    chat.latest = {"text": text, "intent": {"name": intent, "confidence": 0.95}, "entities": []}
    chat.events.append({"event": "user", "text": text, "parse_data": chat.latest})
    chat.slots.update({"update_field": field, "requested_slot": requested})
    chat.active_loop = {"name": "profile_update_form"}
    dispatcher = CollectingDispatcher()
    events = await ValidateProfileUpdateForm().run(dispatcher, chat.tracker(), DOMAIN)
    values = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    chat.slots.update(values)
    return values, dispatcher.messages


async def test_the_birthday_form_uses_the_opening_value_and_asks_only_for_a_missing_year(
    store: sessionmaker[Session],
) -> None:
    values, _ = await extract(Chat(), "please set my birthday to 14 March 1990", "update_birthday", requested=None)
    assert json.loads(values["update_value"]) == {"field": "birthday", "value": "1990-03-14"}
    chat = Chat()
    values, _ = await extract(chat, "my birthday is march 3", "update_birthday", requested=None)
    assert values["update_partial"] and values["update_value"] is None
    dispatcher = CollectingDispatcher()
    await ActionAskUpdateValue().run(dispatcher, chat.tracker(), DOMAIN)
    assert dispatcher.messages[0]["response"] == "utter_ask_birthday_year"
    assert dispatcher.messages[0]["day_month"] == "3 March"
    values, _ = await extract(chat, "1990", "inform")
    assert json.loads(values["update_value"]) == {"field": "birthday", "value": "1990-03-03"}


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("stop sending me tips", "opt_out", {}),  # a request: the form lets it through
        ("thanks", "thanks", {}),
        ("never mind", "nevermind", "__dropped__"),
        ("stop", "opt_out", "__dropped__"),  # "stop" leaves, whatever the classifier says
        ("bye", "goodbye", "__dropped__"),
    ],
)
async def test_the_form_lets_requests_through_and_leaves_when_asked(
    store: sessionmaker[Session], text: str, intent: str, expected: Any
) -> None:
    values, _ = await extract(Chat(), text, intent)
    if expected == {}:
        assert "update_value" not in values  # nothing extracted: Rasa's form rejects the message
    else:
        assert values["update_value"] == expected


async def test_after_two_unreadable_answers_the_form_stops_repeating_itself(store: sessionmaker[Session]) -> None:
    chat = Chat()
    values, messages = await extract(chat, "5", "inform")
    assert values["update_value"] is None and values["form_failures"] == 1.0
    assert "couldn't find a date" in messages[0]["text"]
    values, messages = await extract(chat, "purple", "nlu_fallback")
    assert values["update_value"] == "__gave_up__" and messages == []


async def test_after_a_digression_the_form_asks_whether_to_carry_on(store: sessionmaker[Session]) -> None:
    chat = Chat()
    chat.slots["update_field"] = "birthday"
    chat.latest = {"text": "what plan am i on", "intent": {"name": "ask_plan", "confidence": 0.97}, "entities": []}
    chat.events += [
        {"event": "user", "text": "what plan am i on", "parse_data": chat.latest},
        {"event": "action_execution_rejected", "name": "profile_update_form"},
        {"event": "action", "name": "action_show_plan"},
        {"event": "bot", "text": "You're on the Pro plan"},
        {"event": "action", "name": "profile_update_form"},
    ]
    dispatcher = CollectingDispatcher()
    events = await ActionAskUpdateValue().run(dispatcher, chat.tracker(), DOMAIN)
    assert "Shall we get back to your birthday?" in dispatcher.messages[0]["text"]
    assert events == [{"event": "slot", "timestamp": None, "name": "form_resume_asked", "value": True}]
    chat.slots["form_resume_asked"] = True
    chat._record([], dispatcher.messages)
    values, _ = await extract(chat, "No, leave it", "deny")
    assert values["update_value"] == "__dropped__"

    again = Chat()
    again.slots["form_resume_asked"] = True
    values, _ = await extract(again, "Yes, carry on", "affirm")
    assert values["update_value"] is None and values["form_resume_asked"] is None  # asked again, not rejected


async def test_a_correction_at_the_confirmation_replaces_the_value_before_it_is_saved(
    store: sessionmaker[Session],
) -> None:
    chat = Chat()
    chat.slots.update(
        {"update_field": "birthday", "update_value": json.dumps({"field": "birthday", "value": "1990-03-14"})}
    )
    await chat.run(ActionSubmitProfileUpdate())
    assert "Change your birthday to 14 March 1990?" in texts(chat_messages(chat))
    corrected = await answer(chat, "sorry, I meant 15 March", "inform")
    assert "Change your birthday to 15 March 1990?" in corrected[0]["text"]
    with store() as session:
        assert session.get(Customer, "C1").birthday is None  # type: ignore[union-attr]
    await answer(chat, "yes", "affirm")
    with store() as session:
        assert session.get(Customer, "C1").birthday == dt.date(1990, 3, 15)  # type: ignore[union-attr]
    assert [r.status for r in requests(store)] == ["superseded", "confirmed"]


@pytest.mark.parametrize(
    ("context", "text", "corrected"),
    [
        ({"field": "birthday", "value": "1987-03-03"}, "no wait, it's the 4th", ("birthday", "1987-03-04")),
        ({"field": "birthday", "value": "1987-03-03"}, "sorry, I meant 15 March", ("birthday", "1987-03-15")),
        ({"field": "birthday", "value": "1987-03-03"}, "oops, 3 march 1978", ("birthday", "1978-03-03")),
        ({"field": "time_zone", "value": "Europe/Berlin"}, "no, Paris", ("time_zone", "Europe/Paris")),
        ({"field": "email", "value": "a@example.org"}, "sorry, b@example.org", ("email", "b@example.org")),
        ({"field": "birthday", "value": "1987-03-03"}, "yes", None),
        ({"field": "birthday", "value": "1987-03-03"}, "no thanks", None),
        ({"field": "time_zone", "value": "Europe/Berlin"}, "no, keep it", None),
    ],
)
def test_what_counts_as_a_correction(context: dict[str, str], text: str, corrected: tuple[str, str] | None) -> None:
    assert corrected_value(context, text) == corrected


def chat_messages(chat: Chat) -> list[dict[str, Any]]:
    return [e for e in chat.events if e.get("event") == "bot"]


def test_a_problem_report_takes_a_description_only_when_it_is_one() -> None:
    form = ValidateProblemForm()

    def read(text: str, intent: str, requested: str | None) -> dict[str, Any]:
        chat = Chat()
        chat.latest = {"text": text, "intent": {"name": intent, "confidence": 0.95}, "entities": []}
        chat.events.append({"event": "user", "text": text, "parse_data": chat.latest})
        chat.slots["requested_slot"] = requested
        return form.extract_problem_description(CollectingDispatcher(), chat.tracker(), DOMAIN)

    assert read("the app crashes when i open a note", "report_problem", None)["problem_description"] == (
        "the app crashes when i open a note"
    )
    assert read("something is broken", "report_problem", None) == {}
    assert read("wait, what plan am I on?", "ask_plan", "problem_description") == {}
    assert read("it crashes when I open a note", "report_problem", "problem_description")["problem_description"] == (
        "it crashes when I open a note"
    )
    assert read("never mind", "nevermind", "problem_description")["problem_description"] == "__dropped__"


async def test_stop_leaves_a_feedback_question_even_when_it_reads_as_an_opt_out() -> None:
    from actions.feedback import ValidateCsatForm

    chat = Chat("anon:rest:visitor")
    chat.latest = {"text": "stop", "intent": {"name": "opt_out", "confidence": 0.95}, "entities": []}
    chat.events.append({"event": "user", "text": "stop", "parse_data": chat.latest})
    chat.slots["requested_slot"] = "csat_score"
    chat.active_loop = {"name": "csat_form"}
    events = await ValidateCsatForm().run(CollectingDispatcher(), chat.tracker(), DOMAIN)
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"}["csat_score"] == "skipped"


@pytest.mark.parametrize(
    ("reply", "intent", "taken"),
    [
        ("yes it's the renewal charge", "ask_renewal", "/human_handoff"),  # make run: dropped the offer
        ("no, it's fine thanks", "thanks", "/deny"),
        ("the renewal charge", "ask_renewal", None),  # no yes or no: the customer moved on
    ],
)
async def test_a_reply_opening_with_yes_or_no_answers_the_offer_of_a_person(
    store: sessionmaker[Session], reply: str, intent: str, taken: str | None
) -> None:
    chat = Chat()
    chat.run_sync_message(
        "Would you like to talk to a person now?",
        [
            {"title": "Yes, get me a person", "payload": "/human_handoff"},
            {"title": "No, that's all", "payload": "/deny"},
        ],
        Question("offer_person"),
    )
    events = await _validate(chat, reply, intent, confidence=0.9)
    assert {e["name"]: e["value"] for e in events}.get("answer") == taken


async def test_a_reply_opening_with_yes_is_no_consent_to_an_account_change(store: sessionmaker[Session]) -> None:
    chat = Chat()
    await _validate(chat, "renew", "renew_now")
    await chat.run(ActionRenewNow())
    events = await _validate(chat, "yes but what does it cost with tax", "ask_renewal", confidence=0.9)
    assert not any(e.get("name") == "answer" and e.get("value") for e in events)
    assert [r.status for r in requests(store)] == ["expired"]
