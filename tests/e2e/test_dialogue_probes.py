"""Conversations typed on `make run` off the happy path (session 24), replayed over REST against the
real Rasa server, action server and store. Each test names the transcript that went wrong and
asserts what the customer reads and what the store holds."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from supportbot.store.models import (
    Consent,
    Customer,
    LoyaltyAccount,
    Order,
    OrderItem,
    Subscription,
    SupportInteraction,
    utcnow,
)
from tests.conftest import Stack, texts
from tests.e2e.dialogue_chat import Chat, customers

__all__ = ["customers"]  # the module fixture, imported for pytest

pytestmark = pytest.mark.e2e

# customers[0:15] belong to test_dialogue_why.py; these tests take theirs from 30 on.


def test_asking_what_is_on_file_shows_it_and_changes_nothing(stack: Stack, customers: list[str]) -> None:
    """make run: "what's my email now?" opened the contact-details form ("What's the new email
    address…?") and "what messages do you send me?" asked which messages to stop."""
    chat = Chat(stack, customers[30])
    with stack.sessions() as session:
        customer = session.get(Customer, chat.customer_id)
        assert customer is not None
        email = customer.email
    before = chat.account()
    reply = chat.messages("what's my email address now?")
    text = texts(reply)
    assert f"Email: {email}" in text and "What's the new" not in text
    assert [b["title"] for b in reply[-1]["buttons"]] == ["Change my contact details", "Stop some messages"]
    birthday = chat.say("what's my birthday on file?")  # the one on file, not why we ask for it
    assert "• Birthday:" in birthday and "help/articles/your-details" not in birthday
    messages = chat.say("which messages do you send me?")
    assert "Messages we may send you:" in messages and "Which messages should I stop?" not in messages
    ours = chat.say("what's your phone number?")  # Lumen's, not the one on file
    assert "help/articles/contact-us" in ours and "Email:" not in ours
    assert chat.account() == before and chat.requests() == []
    visitor = f"anon{uuid.uuid4().hex[:8]}"
    asked = texts(stack.say(visitor, "what email do you have for me?"))
    assert "once you're signed in" in asked and "@" not in asked
    assert "help/articles/contact-us" in texts(stack.say(visitor, "what's your phone number?"))


def test_a_help_question_in_the_contact_form_is_answered_and_the_form_carries_on(
    stack: Stack, customers: list[str]
) -> None:
    """make run: "update my email" → "what's your phone number?" → "Please send the new email
    address…" → "what are your hours" → "Sorry, I still couldn't read that…" (the form gave up)."""
    chat = Chat(stack, customers[31])
    assert "email address or phone number" in chat.say("i want to update my email address")
    answer = chat.say("what are your hours")
    assert "help/articles/contact-us" in answer
    assert "Shall we get back to your" in answer and "couldn't read" not in answer
    confirm = chat.say("new.address@example.com")
    assert "new.address@example.com?" in confirm
    assert "is now new.address@example.com" in chat.say("yes")


def test_cancel_it_after_the_retention_offer_goes_to_the_confirmation(stack: Stack, customers: list[str]) -> None:
    """make run: the offer → "what would I lose?" → "hmm ok fine cancel it" → "No problem, I've left
    everything as it was" (read as "never mind"): the customer asked to cancel and nothing happened."""
    chat = Chat(stack, customers[32])
    assert "% off" in chat.say("i want to cancel my subscription")
    reply = chat.say("ok fine, cancel it")  # the answer to the offer itself
    assert "Just to confirm: cancel your" in reply and "left everything as it was" not in reply

    other = Chat(stack, customers[33])
    assert "% off" in other.say("cancel my plan")
    assert "points" in other.say("how many points do I have?")  # a digression drops the offer
    again = other.say("hmm ok fine cancel it")
    assert "Just to confirm: cancel your" in again and "% off" not in again  # the offer is made once
    assert other.account().status == "active"
    assert "is cancelled" in other.say("yes")
    assert other.account().status == "cancelled"
    assert [kind for kind, _ in other.requests()] == ["retention_offer", "cancel"]


def test_a_delivered_order_that_has_not_arrived_gets_the_steps_and_a_person(stack: Stack, customers: list[str]) -> None:
    """make run: "my package hasn't arrived" → "Order #512390 (Lumen Desk Mat) was delivered." and nothing
    more, as if the customer were wrong."""
    with stack.sessions() as session:
        latest: dict[str, Order] = {}
        for order in session.scalars(
            select(Order).where(Order.customer_id.in_(customers[34:])).order_by(Order.placed_at)
        ):
            latest[order.customer_id] = order
        customer_id = next(c for c, o in latest.items() if o.status == "delivered")
    chat = Chat(stack, customer_id)
    reply = chat.messages("my package hasn't arrived")
    text = texts(reply)
    assert "was delivered" in text and "help/articles/lost-or-damaged" in text
    assert "Shall I pass you to a person?" in text
    assert "support team" in chat.say("yes please")
    assert chat.account().interactions[-1] == "handoff"


def test_a_help_quote_beside_the_points_answers_only_the_how_to_part(stack: Stack, customers: list[str]) -> None:
    """make run: "how many points do I have and what can I get with them?" was preceded by the
    help centre's "Ways to earn" passage, which answers neither half."""
    chat = Chat(stack, customers[35])
    reply = chat.say("how many points do I have and what can I get with them?")
    assert "Ways to earn" not in reply and "you have" in reply


def test_why_a_form_needs_a_detail_is_answered_and_a_plain_no_leaves_it(stack: Stack, customers: list[str]) -> None:
    """make run: "change my birthday" → "why do you need that?" → "Sorry, I'm not sure I understood
    that"; and a plain "no" to "What's the new email address?" was an unreadable value, twice over."""
    chat = Chat(stack, customers[36])
    before = chat.account()
    assert "with the year" in chat.say("change my birthday")
    why = chat.say("why do you need that?")
    assert "help/articles/your-details" in why and "bonus" in why and "Shall we get back to your birthday" in why
    assert "left your birthday unchanged" in chat.say("no")
    assert "email address or phone number" in chat.say("i want to change my contact details")
    left = chat.say("no")
    assert "left your contact details unchanged" in left and "couldn't read" not in left
    assert chat.account() == before and chat.requests() == []


def test_an_order_is_chosen_by_its_place_in_the_list(stack: Stack, customers: list[str]) -> None:
    """make run: "show my orders" → "the second one" → "Sorry, I'm not sure I understood that"."""
    with stack.sessions() as session:
        counts: dict[str, int] = {}
        for customer_id in session.scalars(select(Order.customer_id).where(Order.customer_id.in_(customers[37:]))):
            counts[customer_id] = counts.get(customer_id, 0) + 1
        customer_id = next(c for c, n in sorted(counts.items()) if n >= 2)
    chat = Chat(stack, customer_id)
    listed = chat.messages("show my orders")
    second = listed[-1]["buttons"][1]["title"].removeprefix("Status of ")
    reply = chat.say("the second one")
    assert reply.startswith(f"Order {second} (") and "not sure I understood" not in reply


def test_an_unplaced_question_about_a_pending_change_shows_its_terms_again(stack: Stack, customers: list[str]) -> None:
    """make run: "switch me to business" → "how much is that?" → "Sorry, I'm not sure I understood
    that" (the change forgotten) → "ok do it" → "I'm not sure what that's a yes to"."""
    chat = Chat(stack, customers[38])
    before = chat.account()
    assert "to Business" in chat.say("switch me to the business plan")
    terms = chat.say("how much is that?")  # not understood: the change and its price, asked again
    assert "Here's the change I asked you about" in terms and "you'd pay $" in terms and "to Business" in terms
    assert chat.account() == before
    chat.say("ok do it")
    assert chat.account().plan == "business"

    other = Chat(stack, customers[39])
    assert "to Business" in other.say("switch me to the business plan")
    assert "points" in other.say("how many points do I have?")  # a question about something else
    again = other.say("ok do it")
    assert "Switch from" in again and "what that's a yes to" not in again
    assert other.account().plan != "business"  # asked again, not done


def test_a_message_in_another_language_is_told_plainly_and_offered_a_person(stack: Stack, customers: list[str]) -> None:
    """make run: "necesito ayuda con mi pedido" → "Sorry, I'm not sure I understood that. Could you
    rephrase it?", which a Spanish speaker cannot act on."""
    visitor = f"anon{uuid.uuid4().hex[:8]}"
    reply = texts(stack.say(visitor, "necesito ayuda con mi pedido"))
    assert "solo puedo ayudarte en inglés" in reply and "looked like Spanish" in reply
    assert "not sure I understood" not in reply
    chat = Chat(stack, customers[40])
    chat.say("wo ist meine bestellung")
    assert "support team" in chat.say("yes")
    assert chat.account().interactions[-1] == "handoff"


def test_a_short_situation_after_an_article_is_read_in_its_terms(stack: Stack, customers: list[str]) -> None:
    """make run: "can i get a discount" → the ways to pay less → "I'm a student" → "Sorry, I'm not
    sure I understood that"."""
    visitor = f"anon{uuid.uuid4().hex[:8]}"
    assert "help/articles/discounts-and-offers" in texts(stack.say(visitor, "can i get a discount"))
    reply = texts(stack.say(visitor, "I'm a student"))
    assert "help/articles/student-discount" in reply and "not sure I understood" not in reply


def test_detail_read_as_a_help_question_right_after_a_report_is_added_to_it(stack: Stack, customers: list[str]) -> None:
    """make run: "my reminders aren't working" → P-00024, then "they don't ring on my phone" → the
    help centre's passage again, and the detail never reached the report."""
    chat = Chat(stack, customers[37])
    filed = chat.say("my reminders aren't working")
    assert "logged it as P-" in filed
    ticket = filed.split("logged it as ")[1][:7]
    added = chat.say("they don't ring on my phone")
    assert f"added that to {ticket}" in added
    with stack.sessions() as session:
        summary = session.scalars(
            select(SupportInteraction.summary).where(
                SupportInteraction.conversation_id == chat.conversation, SupportInteraction.kind == "problem_report"
            )
        ).one()
    assert summary == "my reminders aren't working\nthey don't ring on my phone"


def test_the_cheapest_plan_is_named_and_asked_about_not_listed_again(stack: Stack, customers: list[str]) -> None:
    """make run: the plan options → "what's the cheapest one?" → the same list again."""
    chat = Chat(stack, customers[38])
    before = chat.account()
    assert "Your options" in chat.say("I need to change my plan")
    reply = chat.say("what's the cheapest one?")
    assert "Our cheapest plan is Starter" in reply and "Switch from" in reply and "to Starter" in reply
    assert "Your options" not in reply
    assert chat.account() == before  # asked, not done


def test_a_question_right_after_a_report_is_answered_not_added_to_it(stack: Stack, customers: list[str]) -> None:
    """make run: "my reminders aren't working" → the steps and P-00026 → "how do I fix it?" →
    "Thanks, I've added that to P-00026"; then "what should I do?" → the assistant's menu."""
    chat = Chat(stack, customers[39])
    filed = chat.say("my reminders aren't working")
    assert "help/articles/reminders" in filed and "logged it as P-" in filed
    ticket = filed.split("logged it as ")[1][:7]
    fix = chat.say("how do I fix it?")
    assert f"If the steps above don't sort it out, {ticket} is with our support team" in fix
    assert "added that to" not in fix
    again = chat.say("what should I do?")
    assert f"{ticket} is with our support team" in again and "Here's what I can do" not in again
    assert "to take over" in chat.say("sí")  # the offer made with the next steps; a yes however typed
    with stack.sessions() as session:
        summary = session.scalars(
            select(SupportInteraction.summary).where(
                SupportInteraction.conversation_id == chat.conversation, SupportInteraction.kind == "problem_report"
            )
        ).one()
    assert summary == "my reminders aren't working"  # the questions are no detail of the problem
    assert "Here's what I can do" in Chat(stack, customers[39]).say("what should I do?")  # nothing filed there


def test_a_second_hello_or_a_meh_does_not_get_the_opening_welcome_again(stack: Stack, customers: list[str]) -> None:
    """make run: "what plan am I on" → "thanks" → "meh" → "Hi Kenji! Thanks for being with us for
    1 year. How can I help today?" (the classifier's unsure "greet"), and the same for a second "hi"."""
    chat = Chat(stack, customers[40])
    with stack.sessions() as session:
        customer = session.get(Customer, chat.customer_id)
        assert customer is not None
        first_name = customer.first_name
    assert f"Hi {first_name}!" in chat.say("hi")
    chat.say("what plan am I on")
    assert chat.say("hello") == f"Hello again, {first_name}! What else can I do for you?"
    meh = chat.say("meh")
    assert f"{first_name}!" not in meh and "How can I help today" not in meh


def add_order(stack: Stack, customer_id: str, *, placed_days_ago: int, due_days_ago: int, status: str) -> str:
    """A new latest order for the customer, placed and due the given number of days ago."""
    now = utcnow()
    with stack.sessions() as session:
        taken = set(session.scalars(select(Order.order_ref)))
        ref = next(f"{n:06d}" for n in range(970000, 999999) if f"{n:06d}" not in taken)
        order = Order(
            customer_id=customer_id,
            order_ref=ref,
            placed_at=now - dt.timedelta(days=placed_days_ago),
            status=status,
            total_cents=2400,
            currency="USD",
            expected_delivery=(now - dt.timedelta(days=due_days_ago)).date(),
        )
        order.items.append(OrderItem(product_name="Lumen Desk Mat", sku="MAT-1", quantity=1, unit_price_cents=2400))
        session.add(order)
        session.commit()
    return ref


def test_a_refund_for_the_last_order_is_judged_against_its_return_window(stack: Stack, customers: list[str]) -> None:
    """make run: "I want a refund for my last order" → the list of recent orders, and nothing
    about whether that order can still be returned."""
    customer_id = customers[35]
    recent = add_order(stack, customer_id, placed_days_ago=10, due_days_ago=5, status="delivered")
    chat = Chat(stack, customer_id)
    before = chat.account()
    reply = chat.say("I want a refund for my last order")
    assert f"Order #{recent} (Lumen Desk Mat) was delivered" in reply and "within the 30-day return window" in reply
    assert "help/articles/returns" in reply and "Your recent orders" not in reply
    old = add_order(stack, customer_id, placed_days_ago=0, due_days_ago=-3, status="processing")
    assert "there's nothing to return yet" in Chat(stack, customer_id).say(f"can I return order {old}?")
    with stack.sessions() as session:
        mine = session.scalars(select(Order).where(Order.order_ref == old)).one()
        mine.placed_at, mine.status = utcnow() - dt.timedelta(days=90), "delivered"
        mine.expected_delivery = (utcnow() - dt.timedelta(days=85)).date()
        session.commit()
    late = Chat(stack, customer_id)
    past = late.say("I want my money back for my last order")
    assert f"Order #{recent}" in past  # the latest by date is still the recent one
    past = late.say(f"can I get a refund for order {old}?")
    assert "past the 30-day return window" in past and "Shall I pass you to a person" in past
    assert "support team" in late.say("yes")
    assert chat.account().plan == before.plan and late.account().interactions[-1] == "handoff"


def test_upgrade_asks_about_the_one_upgrade_and_two_plans_are_compared(stack: Stack, customers: list[str]) -> None:
    """make run (Pro): "I'd like to upgrade" → every option, downgrades too; "what's the difference
    between plus and pro?" → the same list again; "ok do it" → "not sure what that's a yes to"."""
    with stack.sessions() as session:
        customer_id = session.scalars(
            select(Subscription.customer_id)
            .where(
                Subscription.customer_id.in_(customers[43:]),  # none of them used by another test
                Subscription.plan_code == "pro",
                Subscription.status == "active",
            )
            .order_by(Subscription.customer_id)
        ).first()
    assert customer_id is not None, "the test store has a Pro customer among these"
    chat = Chat(stack, customer_id)
    before = chat.account()
    upgrade = chat.say("I'd like to upgrade")
    assert "Switch from Pro to Business (" in upgrade and "Starter" not in upgrade
    chat.say("no")
    compared = chat.messages("what's the difference between plus and pro?")
    text = texts(compared)
    assert text.startswith("Pro (") and "your plan) has " in text and "the API" in text and "that Plus (" in text
    assert [b["title"] for b in compared[-1]["buttons"]] == ["Switch to Plus"]
    assert "Switch from Pro to Plus" in chat.say("ok do it")  # the one plan offered
    chat.say("no")
    assert chat.say("I need to change my plan").startswith("You're on Pro")
    which = chat.messages("ok do it")
    assert texts(which).startswith("Which one?") and len(which[-1]["buttons"]) == 3
    assert chat.account() == before and [status for _, status in chat.requests()] == ["declined", "declined"]


def test_what_a_pending_renewal_costs_is_its_terms_and_a_request_is_no_help_topic(
    stack: Stack, customers: list[str]
) -> None:
    """make run: "can you renew it now" → the help centre's auto-renew passage before the renewal
    question; "wait, how much will it cost?" → the list of other plans."""
    chat = Chat(stack, customers[41])
    before = chat.account()
    renew = chat.say("can you renew it now")
    assert "Renew your" in renew and "From the help centre" not in renew
    cost = chat.say("wait, how much will it cost?")
    assert cost.startswith("Here's what it would cost") and "Renew your" in cost and "Your options" not in cost
    chat.say("no")
    assert chat.account() == before
    assert [status for _, status in chat.requests()] == ["expired", "declined"]


def test_keeping_messages_that_are_on_changes_nothing_and_the_question_stays_open(
    stack: Stack, customers: list[str]
) -> None:
    """make run: "i want to stop getting emails from you" → "Which messages should I stop?" →
    "actually keep the renewal reminders" → a help passage and "Shall I send you renewal reminders
    again?", though they were on."""
    chat = Chat(stack, customers[42])
    chat.consents_default()
    assert "Which messages should I stop?" in chat.say("i want to stop getting emails from you")
    kept = chat.messages("actually keep the renewal reminders")
    text = texts(kept)
    assert "Your renewal reminders are switched on already" in text and "From the help centre" not in text
    assert text.endswith("Which messages should I stop?") and len(kept[-1]["buttons"]) == 6
    assert "no more usage tips" in chat.say("usage tips")
    with stack.sessions() as session:
        consents = {
            c.kind: c.granted for c in session.scalars(select(Consent).where(Consent.customer_id == chat.customer_id))
        }
    assert consents == {"tips": False}


def test_a_move_to_another_city_offers_its_time_zone(stack: Stack, customers: list[str]) -> None:
    """make run: "I moved to London" → "Sorry, I'm not sure I understood that"."""
    chat = Chat(stack, customers[36])
    with stack.sessions() as session:
        customer = session.get(Customer, chat.customer_id)
        assert customer is not None
        customer.time_zone = "America/New_York"
        session.commit()
    assert "Change your time zone to Europe/London?" in chat.say("I moved to London")
    assert "Europe/London" in chat.say("yes")
    with stack.sessions() as session:
        customer = session.get(Customer, chat.customer_id)
        assert customer is not None and customer.time_zone == "Europe/London"
    assert "Change your time zone" not in chat.say("I live in London")  # nothing to change


def test_the_points_answer_lists_the_same_rewards_as_the_redeem_question(stack: Stack, customers: list[str]) -> None:
    """make run (4,772 points): "I want to redeem my points" → six rewards to choose from; "what can
    I get?" → "You can redeem:" and only the three dearest of them."""
    chat = Chat(stack, customers[35])
    with stack.sessions() as session:
        account = session.get(LoyaltyAccount, chat.customer_id)
        assert account is not None
        account.points, account.tier = 100_000, "platinum"  # every reward within reach
        session.commit()
    offered = chat.messages("I want to redeem my points")
    titles = [b["title"] for b in offered[-1]["buttons"]]
    assert len(titles) > 3
    costs = {title: int(title.rsplit("(", 1)[1].split()[0].replace(",", "")) for title in titles}
    cheapest = min(costs, key=costs.__getitem__).rsplit(" (", 1)[0]
    assert cheapest in chat.say("the cheapest one")  # its confirmation, by the cost on the buttons
    assert chat.account().points == 100_000
    chat.say("no")
    listed = chat.say("how many loyalty points do I have?")
    assert all(title in listed for title in titles)
