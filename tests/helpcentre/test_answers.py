"""Composing replies from hits: confident answers with the link, "not sure", and mixed questions."""

from __future__ import annotations

import datetime as dt

import pytest

from supportbot.helpcentre.answers import (
    HANDOFF_PAYLOAD,
    asks_how_or_policy,
    compose_reply,
    excerpt,
    is_confident,
    mentions_own_account,
)
from supportbot.helpcentre.articles import Article
from supportbot.helpcentre.index import IndexedPassage
from supportbot.helpcentre.retrieval import Hit


def article(slug: str, title: str, **extra: str) -> Article:
    return Article(
        slug=slug,
        title=title,
        section="S",
        tags=(),
        audience="everyone",
        updated=dt.date(2026, 1, 1),
        body="b " * 30,
        **extra,
    )  # type: ignore[arg-type]


def hit(a: Article, cosine: float, text: str = "Refunds go back to the card.", heading: str = "") -> Hit:
    passage = IndexedPassage(article=0, heading=heading, text=text)
    return Hit(article=a, score=cosine * 10, cosine=cosine, passage=passage, excerpt=passage)


REFUNDS = article("refunds", "Refund policy", account_intent="ask_orders", account_label="Check my recent orders")
RETURNS = article("returns", "Return an order")


def url(slug: str) -> str:
    return f"https://lumen.example/help/articles/{slug}"


def test_a_confident_answer_quotes_the_passage_and_links_the_article() -> None:
    reply = compose_reply(
        "what is your refund policy",
        [hit(REFUNDS, 0.8, heading="Subscriptions"), hit(RETURNS, 0.5)],
        url_for=url,
        threshold=0.5,
        verified=False,
    )
    assert reply.kind == "answer" and reply.article_slug == "refunds"
    assert reply.text.startswith("Subscriptions: Refunds go back to the card.")
    assert "https://lumen.example/help/articles/refunds" in reply.text
    assert reply.buttons == ()


def test_below_the_threshold_it_is_not_sure_and_offers_two_articles_and_a_person() -> None:
    reply = compose_reply(
        "can I pay in goats",
        [hit(REFUNDS, 0.3), hit(RETURNS, 0.28), hit(article("x", "X"), 0.2)],
        url_for=url,
        threshold=0.5,
        verified=True,
    )
    assert reply.kind == "not_sure"
    assert "not sure" in reply.text
    assert url("refunds") in reply.text and url("returns") in reply.text and url("x") not in reply.text
    assert "Refunds go back" not in reply.text  # nothing quoted: no invented answer
    assert [b.payload for b in reply.buttons] == [HANDOFF_PAYLOAD]
    assert reply.offered == ("refunds", "returns")


def test_no_hits_at_all_is_not_sure_too() -> None:
    reply = compose_reply("hello", [], url_for=url, threshold=0.5, verified=False)
    assert reply.kind == "not_sure" and reply.article_slug is None


@pytest.mark.parametrize("verified", [True, False])
def test_a_mixed_question_answers_the_policy_and_offers_the_account_step(verified: bool) -> None:
    question = "how do refunds work, and can I get one for my last order?"
    reply = compose_reply(question, [hit(REFUNDS, 0.7)], url_for=url, threshold=0.5, verified=verified)
    assert reply.kind == "answer" and "Refunds go back to the card." in reply.text
    assert [(b.title, b.payload) for b in reply.buttons] == [("Check my recent orders", "/ask_orders")]
    assert reply.account_step == "ask_orders"
    assert ("sign in" in reply.text) is not verified


def test_a_policy_question_alone_gets_no_account_step() -> None:
    reply = compose_reply("what is your refund policy", [hit(REFUNDS, 0.7)], url_for=url, threshold=0.5, verified=True)
    assert reply.buttons == () and reply.account_step is None


@pytest.mark.parametrize(
    ("question", "own"),
    [
        ("can I get one for my last order?", True),
        ("when does my plan renew", True),
        ("where is my parcel", True),
        ("can I get a refund", True),
        ("what is your refund policy", False),
        ("do you ship to canada", False),
        ("how do I export notes", False),
    ],
)
def test_account_cues(question: str, own: bool) -> None:
    assert mentions_own_account(question) is own


@pytest.mark.parametrize(
    ("text", "how_to"),
    [
        ("how do I turn off auto renewal", True),
        ("how can we add a colleague", True),
        ("can I pause my plan for a month", True),
        ("is there a discount for teachers", True),
        ("do you deliver to norway", True),
        ("what happens to my notebooks if I stop paying", True),
        ("do I need a card to start the trial", True),
        ("why won\u2019t my tablet see the stylus", True),
        ("returns policy for accessories", True),
        ("gift wrapping", True),  # a bare topic names no one: it is a question about the shop
        ("stop my subscription", False),
        ("can you renew it now", False),  # a request to the assistant names no one, yet is no topic
        ("please renew it", False),
        ("actually keep the renewal reminders", False),
        ("I want to switch to a cheaper plan", False),
        ("when does my plan renew", False),
        ("what's my plan", False),
        ("how many points do I have", False),
        ("show me my orders", False),
        ("yes", False),
        ("/cancel_subscription", False),
        ("", False),
    ],
)
def test_how_to_and_policy_questions_are_told_from_requests_and_account_questions(text: str, how_to: bool) -> None:
    assert asks_how_or_policy(text) is how_to


def test_long_passages_keep_the_opening_and_the_lines_that_match_the_question() -> None:
    rows = [f"Destination: Country {i}, Standard: {i} days" for i in range(30)]
    text = "\n".join(["Times are business days.", *rows, "Destination: United Kingdom, Standard: 4–7 days"])
    quoted = excerpt(text, limit=120, query_terms={"united", "kingdom"})
    assert quoted.splitlines()[0] == "Times are business days."
    assert "United Kingdom" in quoted and len(quoted) <= 120


def test_a_step_is_never_quoted_without_the_steps_before_it() -> None:
    """The student-discount answer once read "How to get it: 4. Choose Plus or Pro yearly." (make run)."""
    text = "\n".join(
        [
            "Students and teachers get 50% off Plus or Pro on a yearly plan.",
            "How to get it:",
            "1. Open Settings and select Plan and billing, then Student or teacher discount.",
            "2. Enter your school email address; we send a confirmation link to it.",
            "3. Open the link within 24 hours.",
            "4. Choose Plus or Pro yearly. The discounted price is shown before you pay.",
            "No school email? Select Verify with a document and upload a current student ID.",
        ]
    )
    quoted = excerpt(text, limit=260, query_terms={"plus", "pro", "yearly", "student", "discount"})
    steps = [line for line in quoted.splitlines() if line[:2] in ("1.", "2.", "3.", "4.")]
    assert [s[:2] for s in steps] == ["1.", "2.", "3.", "4."][: len(steps)], quoted
    assert quoted.startswith("Students and teachers get 50% off")


def test_a_single_long_line_is_cut_at_a_sentence_end() -> None:
    text = "First sentence is here. " * 40
    quoted = excerpt(text.strip(), limit=100)
    assert quoted.endswith(".") and len(quoted) <= 100


def test_a_clear_lead_over_every_other_article_can_make_it_sure_when_switched_on() -> None:
    close = [hit(REFUNDS, 0.45), hit(RETURNS, 0.2)]  # fused scores 4.5 and 2.0: a lead of 2.5
    assert not is_confident(close, threshold=0.5)
    assert is_confident(close, threshold=0.5, lead=2.5)
    assert not is_confident(close, threshold=0.5, lead=3.0)
    assert not is_confident([], threshold=0.5, lead=1.0)
