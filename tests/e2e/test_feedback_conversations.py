"""Feedback conversations over HTTP: real Rasa server, real action server, real SQLite store.

Each flow is checked twice: by what the customer sees, and by the rows the support
leads' console will read (feedback, follow-ups, programme invitations).
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from supportbot.store.feedback_models import Feedback, FeedbackFollowUp, PromoterInvitation
from tests.conftest import Stack, texts
from tests.e2e.test_conversations_http import customers_with_active_plan

pytestmark = pytest.mark.e2e

CSAT_QUESTION = "How would you rate the help you got today"
NPS_QUESTION = "how likely are you to recommend Lumen"


def new_sender() -> str:
    return f"fb{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def customers(stack: Stack) -> list[str]:
    """Customers near the end of the list, away from the ones other e2e tests change
    (the first few, and the very last, which the outreach test takes)."""
    return customers_with_active_plan(stack, 12)[-10:-3]


class Chat:
    def __init__(self, stack: Stack, customer_id: str | None) -> None:
        self.stack = stack
        self.sender = new_sender()
        self.token = stack.token(customer_id) if customer_id else None
        self.conversation = f"cust:{customer_id}:{self.sender}" if customer_id else f"anon:rest:{self.sender}"

    def say(self, text: str) -> str:
        return texts(self.stack.say(self.sender, text, token=self.token))

    def buttons(self, text: str) -> list[str]:
        messages = self.stack.say(self.sender, text, token=self.token)
        return [b["title"] for m in messages for b in m.get("buttons") or []]

    def feedback(self) -> list[Feedback]:
        with self.stack.sessions() as session:
            return list(
                session.scalars(
                    select(Feedback).where(Feedback.conversation_id == self.conversation).order_by(Feedback.id)
                )
            )


def test_csat_after_a_resolved_request_then_nps_then_the_promoter_joins_the_programme(
    stack: Stack, customers: list[str]
) -> None:
    customer_id = customers[0]
    chat = Chat(stack, customer_id)
    chat.say("when does my subscription renew?")
    titles = chat.buttons("thanks!")
    assert "5 excellent" in titles and "Skip" in titles  # the CSAT question, with buttons

    reply = chat.say("four")  # typed, not tapped
    assert "great to hear" in reply and NPS_QUESTION in reply
    reply = chat.say("9")
    assert "advisory and beta programme" in reply
    assert "Welcome aboard" in chat.say("yes")

    rows = chat.feedback()
    assert [(r.kind, r.rating, r.prompted_by) for r in rows] == [("csat", 4, "resolution"), ("nps", 9, "nps_survey")]
    assert all(r.customer_id == customer_id and r.channel == "rest" for r in rows)
    with stack.sessions() as session:
        invitation = session.scalars(
            select(PromoterInvitation).where(PromoterInvitation.customer_id == customer_id)
        ).one()
    assert invitation.accepted and invitation.feedback_id == rows[1].id

    # Never twice in one conversation.
    chat.say("and what plan am i on?")
    assert CSAT_QUESTION not in chat.say("thank you")

    # NPS at most once per 90 days: another conversation of the same customer gets CSAT only.
    again = Chat(stack, customer_id)
    again.say("show me my loyalty points")
    assert CSAT_QUESTION in again.say("thanks a lot")
    reply = again.say("5")
    assert "great to hear" in reply and NPS_QUESTION not in reply
    assert [r.kind for r in again.feedback()] == ["csat"]


def test_a_detractor_is_offered_a_person_and_the_follow_up_is_recorded(stack: Stack, customers: list[str]) -> None:
    customer_id = customers[1]
    chat = Chat(stack, customer_id)
    chat.say("show my recent orders")
    assert CSAT_QUESTION in chat.say("ok thanks")
    reply = chat.say("1")
    assert "sorry it wasn't better" in reply and "get in touch" in reply
    reply = chat.say("yes please")
    assert "within one business day" in reply and "what went wrong" in reply
    assert "passed it on" in chat.say("the delivery took three weeks and nobody answered my emails at jo@example.com")

    rating, text = chat.feedback()
    assert (rating.kind, rating.rating) == ("csat", 1)
    assert text.kind == "text" and "three weeks" in (text.text_redacted or "")
    assert "jo@example.com" not in (text.text_redacted or "") and "[EMAIL]" in (text.text_redacted or "")
    with stack.sessions() as session:
        follow_up = session.scalars(select(FeedbackFollowUp).where(FeedbackFollowUp.feedback_id == rating.id)).one()
    assert follow_up.status == "open" and follow_up.customer_id == customer_id


def test_a_complaint_given_instead_of_a_yes_or_no_is_kept_as_the_feedback(stack: Stack, customers: list[str]) -> None:
    """make run: "Would you like someone from our team to get in touch?" → "the bot kept
    misunderstanding me" → "Understood. What could we do better?": the complaint was dropped."""
    chat = Chat(stack, customers[6])
    chat.say("what's my plan")
    assert CSAT_QUESTION in chat.say("thanks")
    assert "get in touch" in chat.say("2")
    noted = chat.say("the bot kept misunderstanding me")
    assert "noted that" in noted and "get in touch" in noted  # asked again: it was no answer to it
    done = chat.say("no")
    assert "passed it on" in done and "What could we do better?" not in done
    rating, text = chat.feedback()
    assert (rating.kind, rating.rating) == ("csat", 2)
    assert text.kind == "text" and text.text_redacted == "the bot kept misunderstanding me"

    again = Chat(stack, customers[6])  # a yes and the complaint in one message
    again.say("show my recent orders")
    assert CSAT_QUESTION in again.say("ok thanks")
    again.say("1")
    reply = again.say("yes, the parcel came two weeks late")
    assert "within one business day" in reply and "passed it on" in reply and "what went wrong" not in reply
    rating, text = again.feedback()
    assert text.text_redacted == "the parcel came two weeks late"
    with stack.sessions() as session:
        assert session.scalars(select(FeedbackFollowUp).where(FeedbackFollowUp.feedback_id == rating.id)).one()


def test_a_vague_answer_gets_one_follow_up_question(stack: Stack, customers: list[str]) -> None:
    chat = Chat(stack, customers[2])
    chat.say("what's my plan")
    chat.say("thanks")
    reply = chat.say("3")
    assert "What could we do better?" in reply
    assert "tell me a bit more" in chat.say("idk, better")
    assert "passed it on" in chat.say("search never finds my old notes")
    rating, text = chat.feedback()
    assert rating.rating == 3
    assert text.prompted_by == "vague_follow_up" and "search never finds my old notes" in (text.text or "")


def test_volunteered_feedback_with_and_without_content(stack: Stack, customers: list[str]) -> None:
    chat = Chat(stack, customers[3])
    assert "What would you like to tell us?" in chat.say("I have a suggestion")
    assert "passed it on" in chat.say("let me export my notes as PDF files")
    assert "passed it on" in chat.say("it would be great if you added a dark mode to the app")
    rows = chat.feedback()
    assert [(r.kind, r.prompted_by) for r in rows] == [("text", "volunteered"), ("text", "volunteered")]
    assert rows[0].text == "let me export my notes as PDF files"
    assert "dark mode" in (rows[1].text or "")


def test_skipping_is_recorded_and_a_new_request_is_answered_not_taken_as_a_rating(
    stack: Stack, customers: list[str]
) -> None:
    chat = Chat(stack, customers[4])
    chat.say("which plan am i on")
    assert CSAT_QUESTION in chat.say("thanks")
    assert "No problem" in chat.say("skip")
    assert [(r.kind, r.rating) for r in chat.feedback()] == [("csat", None)]

    other = Chat(stack, customers[5])
    other.say("how many loyalty points do i have")
    assert CSAT_QUESTION in other.say("cheers")
    reply = other.say("when does my subscription renew?")
    assert "renews" in reply  # answered, not read as a rating
    assert all(r.kind != "csat" or r.rating is None for r in other.feedback())


def test_a_visitor_can_rate_but_is_not_offered_a_follow_up_by_a_person(stack: Stack) -> None:
    chat = Chat(stack, None)
    chat.say("which plan am i on?")  # answered with general help: a request settled all the same
    assert CSAT_QUESTION in chat.say("thanks")
    reply = chat.say("2")
    assert "get in touch" not in reply and "What could we do better?" in reply
    assert "passed it on" in chat.say("I could not find how to sign in to the chat")
    rating, text = chat.feedback()
    assert rating.customer_id is None and rating.rating == 2 and text.customer_id is None
