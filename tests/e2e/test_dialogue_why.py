"""Issue 15's transcripts, replayed over HTTP against a real Rasa server, action server and store.

Each test is one bullet of the issue's "Why", as a customer typed it on `make run`; each asserts
what the customer reads *and* what the store holds: nothing renewed, nothing cancelled, no
discount, no ticket made of a question, one handoff, unless the customer said yes to exactly
that question.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from supportbot.store.models import Consent, Customer, LoyaltyAccount, SupportInteraction
from tests.conftest import Stack, texts
from tests.e2e.dialogue_chat import Chat, customers

__all__ = ["customers"]  # the module fixture, imported for pytest

pytestmark = pytest.mark.e2e


def test_a_question_never_renews_and_requests_ask_first(stack: Stack, customers: list[str]) -> None:
    chat = Chat(stack, customers[0])
    before = chat.account()
    reply = chat.say("is my subscription going to auto renew soon")
    assert "renews" in reply and "Done" not in reply
    assert chat.account() == before

    asked = chat.say("please renew my plan now")
    assert "Renew your" in asked and "?" in asked and "Done" not in asked
    assert chat.account() == before
    asked = chat.say("switch me to the business plan")
    assert "Switch from" in asked and "to Business" in asked
    assert chat.account() == before
    assert "no change" in chat.say("no")
    assert chat.account() == before
    assert chat.requests() == [("renew", "expired"), ("change_plan", "declined")]

    chat.say("please renew my plan now")
    done = chat.say("yes")
    assert "Done! Your" in done and "is renewed" in done
    after = chat.account()
    assert after.renews_on is not None and before.renews_on is not None and after.renews_on > before.renews_on
    assert after.interactions.count("renewal") == before.interactions.count("renewal") + 1
    assert chat.requests()[-1] == ("renew", "confirmed")
    assert "nothing is waiting for an answer" in chat.say("yes")  # a second yes renews nothing more
    assert chat.account() == after


def test_typing_no_cancel_does_what_the_no_cancel_button_does(stack: Stack, customers: list[str]) -> None:
    chat = Chat(stack, customers[1])
    titles = [b["title"] for m in chat.messages("i want to cancel my subscription") for b in m.get("buttons") or []]
    assert titles[0].startswith("Keep it with") and titles[1].startswith("Switch to") and titles[2] == "No, cancel"
    reply = chat.say("No, cancel")
    assert "Just to confirm: cancel your" in reply and "nothing changed" not in reply
    assert chat.account().status == "active"
    done = chat.say("Yes, cancel it")
    assert "is cancelled" in done
    after = chat.account()
    assert (after.status, after.discount_percent) == ("cancelled", 0)
    assert chat.requests() == [("retention_offer", "declined"), ("cancel", "confirmed")]


def test_a_later_unrelated_yes_does_not_accept_an_old_offer(stack: Stack, customers: list[str]) -> None:
    chat = Chat(stack, customers[2])
    before = chat.account()
    assert "% off" in chat.say("i want to cancel my subscription")
    assert "points" in chat.say("how many loyalty points do i have")
    assert "order" in chat.say("what did i order last").lower()
    reply = chat.say("yes")
    assert "staying" not in reply and "nothing is waiting for an answer" in reply
    assert chat.account() == before
    assert chat.requests() == [("retention_offer", "expired")]


def test_the_birthday_form_lets_go_and_uses_a_date_given_up_front(stack: Stack, customers: list[str]) -> None:
    chat = Chat(stack, customers[3])
    chat.consents_default()  # tips on, so that stopping them is a change
    before = chat.account()
    assert "which year" in chat.say("my birthday is march 3")
    reply = chat.say("stop sending me tips")
    assert "no more usage tips" in reply and "Shall we get back to your birthday?" in reply
    with stack.sessions() as session:
        consent = session.get(Consent, (chat.customer_id, "tips"))
        assert consent is not None and consent.granted is False
    reply = chat.say("thanks")
    assert "anything else" in reply.lower() and "Shall we get back to your birthday?" in reply
    reply = chat.say("5")
    assert "year as a number" in reply and "14 March 1990" not in reply
    reply = chat.say("bye")
    assert "left your birthday unchanged" in reply
    assert chat.account().birthday == before.birthday

    asked = chat.say("please set my birthday to 14 March 1990")
    assert "Change your birthday to 14 March 1990?" in asked and "What's your birthday" not in asked
    assert chat.account().birthday == before.birthday
    assert "15 March 1990?" in chat.say("sorry, I meant 15 March")
    assert "15 March 1990" in chat.say("yes")
    assert chat.account().birthday == dt.date(1990, 3, 15)


def test_two_unreadable_answers_bring_an_offer_of_help_instead_of_the_same_question(
    stack: Stack, customers: list[str]
) -> None:
    chat = Chat(stack, customers[4])
    chat.say("i need to change my birthday")
    chat.say("5")
    reply = chat.say("purple")
    assert "try your birthday once more, or would you rather talk to a person" in reply
    reply = chat.say("Talk to a person")
    assert "support team" in reply
    assert chat.account().interactions[-1] == "handoff"


def test_a_question_asked_instead_of_a_problem_description_is_answered_not_filed(
    stack: Stack, customers: list[str]
) -> None:
    chat = Chat(stack, customers[5])
    filed = chat.say("the app crashes when i open a note")
    assert "logged it as P-" in filed and "describe" not in filed
    assert "You're on the" in chat.say("wait, what plan am I on?")

    vague = Chat(stack, customers[5])
    assert "describe what's going wrong" in vague.say("something is wrong with the app")
    reply = vague.say("wait, what plan am I on?")
    assert "You're on the" in reply and "Shall we finish your problem report?" in reply
    assert "logged it as P-" in vague.say("it crashes when I open a note")
    with stack.sessions() as session:
        reports = session.scalars(
            select(SupportInteraction.summary).where(
                SupportInteraction.conversation_id.in_((chat.conversation, vague.conversation)),
                SupportInteraction.kind == "problem_report",
            )
        ).all()
    assert sorted(reports) == ["it crashes when I open a note", "the app crashes when i open a note"]


def test_while_waiting_for_a_person_a_greeting_is_answered_as_waiting(stack: Stack, customers: list[str]) -> None:
    chat = Chat(stack, customers[6])
    with stack.sessions() as session:
        customer = session.get(Customer, chat.customer_id)
        assert customer is not None
        first_name = customer.first_name
    assert "support team" in chat.say("i want to talk to a person")
    reply = chat.say("hello? anyone there?")
    assert "in the queue for a person" in reply and f"Hi {first_name}!" not in reply
    assert "already in the queue" in chat.say("can i speak to someone")
    with stack.sessions() as session:
        handoffs = session.scalars(
            select(SupportInteraction.status).where(
                SupportInteraction.conversation_id == chat.conversation, SupportInteraction.kind == "handoff"
            )
        ).all()
    assert handoffs == ["open"]


def handoff_statuses(stack: Stack, conversation: str) -> list[str]:
    with stack.sessions() as session:
        return list(
            session.scalars(
                select(SupportInteraction.status)
                .where(SupportInteraction.conversation_id == conversation, SupportInteraction.kind == "handoff")
                .order_by(SupportInteraction.id)
            )
        )


def test_never_mind_while_waiting_for_a_person_asks_before_taking_the_request_back(
    stack: Stack, customers: list[str]
) -> None:
    """make run answered "never mind" in the queue with "I've left everything as it was" while the
    request stayed in the agents' queue."""
    chat = Chat(stack, customers[6])
    assert "support team" in chat.say("i want to talk to a person")
    asked = chat.say("never mind")
    assert "take back your request" in asked and "left everything as it was" not in asked
    assert "keep your place" in chat.say("hmm actually no, keep me in")  # a typed no, not the button
    assert handoff_statuses(stack, chat.conversation) == ["open"]
    assert "take back your request" in chat.say("never mind")
    assert "out of the queue" in chat.say("yes")
    assert handoff_statuses(stack, chat.conversation) == ["withdrawn"]
    reply = chat.say("hello")  # an ordinary conversation again, not "you're in the queue"
    assert "in the queue" not in reply
    assert "left everything as it was" in chat.say("never mind")


def test_points_are_redeemed_once_however_often_yes_is_tapped(stack: Stack, customers: list[str]) -> None:
    with stack.sessions() as session:
        customer_id = session.scalars(
            select(LoyaltyAccount.customer_id)
            .where(
                LoyaltyAccount.customer_id.in_(customers[8:]),
                LoyaltyAccount.points >= 400,
                LoyaltyAccount.points < 1000,
            )
            .order_by(LoyaltyAccount.customer_id)
        ).first()
    assert customer_id is not None
    chat = Chat(stack, customer_id)
    before = chat.account()
    assert before.points is not None
    question = chat.messages("redeem my points for the stylus tips")
    assert "Redeem 400 points for Stylus tips (6-pack)?" in texts(question)
    assert chat.account() == before
    yes = question[-1]["buttons"][0]["payload"]
    assert "redeemed" in chat.say(yes)
    assert "redeemed" not in chat.say(yes)  # the same tap again
    after = chat.account()
    assert after.points == before.points - 400
    assert after.interactions.count("points_redemption") == before.interactions.count("points_redemption") + 1


def test_a_new_session_forgets_an_open_question(stack: Stack, customers: list[str]) -> None:
    chat = Chat(stack, customers[7])
    before = chat.account()
    assert "Renew your" in chat.say("please renew my plan now")
    chat.say("/session_start")
    assert "nothing is waiting for an answer" in chat.say("yes")
    assert chat.account() == before
    assert chat.requests() == [("renew", "expired")]


def test_a_yes_after_a_question_asks_the_interrupted_change_again(stack: Stack, customers: list[str]) -> None:
    """make run: "I want to upgrade to pro" → "what's the price difference between plus and pro?"
    → "ok do it" was "I'm not sure what that's a yes to"; now the switch is asked once more, and
    only a yes to that switches."""
    chat = Chat(stack, customers[8])
    before = chat.account()
    assert "to Business" in chat.say("switch me to the business plan")
    assert "Your options" in chat.say("how much does each plan cost?")
    again = chat.say("ok do it")
    assert "is that a yes to this?" in again and "to Business" in again
    assert chat.account() == before
    assert "Business" in chat.say("yes")
    assert chat.account().plan == "business"
    assert [status for _, status in chat.requests()] == ["expired", "confirmed"]


def test_a_postal_address_is_not_read_as_contact_details(stack: Stack, customers: list[str]) -> None:
    """make run: "can you update my address?" then "12 King St, Toronto" was told twice to send an
    email address or phone number; a delivery address belongs to the order (help centre)."""
    chat = Chat(stack, customers[9])
    before = chat.account()
    assert "email address or phone number" in chat.say("can you update my address?")
    reply = chat.say("12 King St, Toronto")
    assert "not a postal address" in reply and "Edit order" in reply
    assert "What's the new" not in reply and "Please send the new" not in reply
    assert "You're on the" in chat.say("what plan am I on?")  # the form has let go
    moving = Chat(stack, customers[9])
    assert "not a postal address" in moving.say("I'm moving house, please change my shipping address")
    assert chat.account() == before and chat.requests() == [] and moving.requests() == []
    visitor = texts(stack.say(f"anon{uuid.uuid4().hex[:8]}", "please change the shipping address for my orders"))
    assert "not a postal address" in visitor and "sign in" not in visitor.lower()


def test_an_unreadable_contact_detail_is_asked_for_once_not_twice(stack: Stack, customers: list[str]) -> None:
    chat = Chat(stack, customers[10])
    assert "email address or phone number" in chat.say("i want to update my contact details")
    reply = chat.messages("the usual one")
    assert len(reply) == 1 and "Please send the new email address or phone number" in texts(reply)


def test_more_detail_right_after_a_report_is_added_to_it_not_filed_again(stack: Stack, customers: list[str]) -> None:
    """make run: "my pen arrived broken" → P-00012, then "it's cracked down the side" → P-00013."""
    chat = Chat(stack, customers[11])
    filed = chat.say("my pen arrived broken")
    assert "logged it as P-" in filed
    ticket = filed.split("logged it as ")[1][:7]
    added = chat.say("it's cracked down the side")
    assert f"added that to {ticket}" in added and "logged it as" not in added
    later = Chat(stack, customers[11])  # another conversation's report is its own
    assert "logged it as P-" in later.say("the app crashes when I open a note")
    with stack.sessions() as session:
        reports = session.scalars(
            select(SupportInteraction.summary).where(
                SupportInteraction.conversation_id == chat.conversation, SupportInteraction.kind == "problem_report"
            )
        ).all()
    assert reports == ["my pen arrived broken\nit's cracked down the side"]


def test_deleting_the_account_is_explained_not_answered_with_a_retention_offer(
    stack: Stack, customers: list[str]
) -> None:
    """make run: "can you delete my account?" got the cancellation flow (a visitor: "You can cancel
    any time …"); deleting is not cancelling, and the assistant cannot do it (it takes the password)."""
    chat = Chat(stack, customers[12])
    before = chat.account()
    reply = chat.messages("can you delete my account?")
    text = texts(reply)
    assert "Settings > Account > Delete account" in text and "% off" not in text
    assert "help/articles/delete-account" in text
    assert [b["title"] for b in reply[-1]["buttons"]] == ["Cancel my plan instead", "Talk to a person"]
    assert chat.account() == before and chat.requests() == []
    visitor = texts(stack.say(f"anon{uuid.uuid4().hex[:8]}", "please delete my lumen account"))
    assert "Settings > Account > Delete account" in visitor


def test_a_yes_to_the_out_of_scope_offer_of_a_person_hands_over(stack: Stack, customers: list[str]) -> None:
    """make run: "tell me a joke" → "… Want me to get you a person instead?" → "sure" → "I'm not
    sure what that's a yes to"."""
    chat = Chat(stack, customers[13])
    offer = chat.messages("tell me a joke")
    assert "Want me to get you a person instead?" in texts(offer)
    assert [b["title"] for b in offer[-1]["buttons"]] == ["Talk to a person"]
    assert "support team" in chat.say("sure")
    assert chat.account().interactions[-1] == "handoff"


def test_never_mind_right_after_an_opt_out_does_not_claim_nothing_changed(stack: Stack, customers: list[str]) -> None:
    """make run: "stop sending me tips" (done at once) → "actually wait, keep them" → "No problem,
    I've left everything as it was", with the tips off."""

    def tips() -> bool | None:
        with stack.sessions() as session:
            consent = session.get(Consent, (chat.customer_id, "tips"))
            return None if consent is None else consent.granted

    chat = Chat(stack, customers[14])
    chat.consents_default()  # tips on, so that stopping them is a change
    assert "no more usage tips" in chat.say("stop sending me tips")
    assert tips() is False
    undo = chat.say("actually wait, keep them")
    assert "already turned off usage tips" in undo and "left everything as it was" not in undo
    assert tips() is False
    chat.say("yes")
    assert tips() is True
    assert "left everything as it was" in chat.say("never mind")  # nothing changed just before
