"""The help centre in real conversations: REST turns against the session's Rasa server, action
server and profile store (the ``stack`` fixture), which answer from an index that the stack built
with the re-index command (supportbot/devstack.py).

One stack for the whole module and a fresh conversation per question: a question asked in a
conversation where a form is open would be a digression, which tests/stories checks.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from supportbot.console.app import create_console_app
from supportbot.console.auth import create_user
from supportbot.devstack import HELP_CONTENT_DIR, ROOT, newest_model
from supportbot.helpcentre.config import HelpCentreSettings
from supportbot.helpcentre.models import HelpAnswer
from supportbot.settings import Settings
from tests.conftest import Stack, texts
from tests.console.conftest import PASSWORD, login_token

pytestmark = pytest.mark.e2e

BASE_URL = str(HelpCentreSettings.model_fields["public_base_url"].default)
"""The stack does not set SUPPORTBOT_HELPCENTRE_PUBLIC_BASE_URL: links use the default."""
CUSTOMER = "C000001"
"""Maya Patel (docs/DEMO_DATA.md): three orders, the newest the Lumen Stand, shipped."""
ANSWERED = "More in \u201c"
NOT_SURE = "I'm not sure the help centre answers that"
HELD_OUT = yaml.safe_load((ROOT / "tests" / "helpcentre" / "heldout.yml").read_text())["questions"]

FOUR = {
    "how do i export my notes to pdf": ("export-notes", "Export your notes (PDF, Markdown, HTML)"),
    "do you ship to canada": ("shipping-countries", "Where we ship"),
    "what is your refund policy": ("refunds", "Refund policy"),
    "is there a student discount": ("student-discount", "Student and teacher discount"),
}
"""The issue's "Why": each used to get "That's outside what I can help with" or a problem report."""
MIXED = "how do refunds work, and can I get one for my last order?"

HELD_OUT_RIGHT_LINK_FLOOR = 0.75
"""Share of the held-out answerable questions whose reply links the right article (as the
answer, as a quote beside another flow's answer, or among the two closest of a "not sure"), over
REST through the dialogue: 0.647 before flows quoted the help centre (97 of 150; 51 went to
another flow with no article), 0.807 with the quotes (121 of 150, actions/help_quotes.py). A
floor against regressions, set below that measurement, never tuned on: the printed table is the
figure."""
HELD_OUT_WRONG_ANSWER_CEILING = 0.08
"""Share of held-out answerable questions answered from a wrong article."""


def url(slug: str) -> str:
    return f"{BASE_URL}/help/articles/{slug}"


@dataclass(frozen=True)
class Turn:
    conversation_id: str
    messages: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return texts(self.messages)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [b for m in self.messages for b in m.get("buttons") or []]


def ask(stack: Stack, question: str, *, customer: str | None, sender: str | None = None) -> Turn:
    sender = sender or f"help{uuid.uuid4().hex[:12]}"
    messages = stack.say(sender, question, token=stack.token(customer) if customer else None)
    conversation = f"cust:{customer}:{sender}" if customer else f"anon:rest:{sender}"
    return Turn(conversation, messages)


def recorded(stack: Stack, conversation_id: str) -> list[HelpAnswer]:
    with stack.sessions() as session:
        return list(
            session.scalars(
                select(HelpAnswer).where(HelpAnswer.conversation_id == conversation_id).order_by(HelpAnswer.id)
            )
        )


@pytest.mark.parametrize("customer", [CUSTOMER, None], ids=["verified", "anonymous"])
@pytest.mark.parametrize("question", list(FOUR))
def test_the_four_questions_are_answered_from_their_article_with_its_link(
    stack: Stack, question: str, customer: str | None
) -> None:
    slug, title = FOUR[question]
    turn = ask(stack, question, customer=customer)
    assert f"{ANSWERED}{title}\u201d: {url(slug)}" in turn.text, turn.text
    assert "outside what I can help with" not in turn.text and NOT_SURE not in turn.text
    assert not [b for b in turn.buttons if b.get("url")], "REST is no widget: the link is in the text"
    [row] = recorded(stack, turn.conversation_id)
    assert (row.outcome, row.article_slug, row.customer_id) == ("answered", slug, customer)


@pytest.mark.parametrize("customer", [CUSTOMER, None], ids=["verified", "anonymous"])
def test_asking_for_a_discount_gets_the_ways_to_pay_less_not_a_fallback(stack: Stack, customer: str | None) -> None:
    """make run answered "give me a discount" with "Sorry, I'm not sure I understood that"."""
    turn = ask(stack, "give me a discount", customer=customer)
    assert f"{ANSWERED}Can I get a discount?\u201d: {url('discounts-and-offers')}" in turn.text, turn.text
    assert "Pay yearly" in turn.text and "Students and teachers" in turn.text  # the ways, not only the no
    assert "not sure I understood" not in turn.text


MIXED_ARTICLES = {"refunds": "Refund policy", "returns": "Return an order"}
"""A refund for an order is the returns article's subject as much as the refund policy's; both
name the orders step (front matter ``account_intent: ask_orders``)."""


def answered_from(turn: Turn, articles: dict[str, str]) -> str | None:
    return next((s for s, t in articles.items() if f"{ANSWERED}{t}\u201d: {url(s)}" in turn.text), None)


def test_a_mixed_question_answers_the_policy_and_offers_the_account_step(stack: Stack) -> None:
    turn = ask(stack, MIXED, customer=CUSTOMER)
    assert answered_from(turn, MIXED_ARTICLES), turn.text
    assert "For your own account, I can check that for you" in turn.text
    assert {"title": "Check my recent orders", "payload": "/ask_orders"} in turn.buttons
    sender = turn.conversation_id.rsplit(":", 1)[1]
    orders = texts(stack.say(sender, "/ask_orders", token=stack.token(CUSTOMER)))
    assert "427705" in orders or "Lumen Stand" in orders, orders

    visitor = ask(stack, MIXED, customer=None)
    assert answered_from(visitor, MIXED_ARTICLES) == answered_from(turn, MIXED_ARTICLES)
    assert "sign in on the website first" in visitor.text


def test_account_questions_stay_with_the_profile_flows(stack: Stack) -> None:
    turn = ask(stack, "when does my plan renew", customer=CUSTOMER)
    assert ANSWERED not in turn.text and NOT_SURE not in turn.text
    assert "renew" in turn.text.lower()
    assert recorded(stack, turn.conversation_id) == []


def test_a_question_the_help_centre_cannot_answer_gets_not_sure_two_articles_and_a_person(stack: Stack) -> None:
    turn = ask(stack, "can I pay in instalments", customer=None)
    assert NOT_SURE in turn.text and ANSWERED not in turn.text
    assert turn.text.count(f"{BASE_URL}/help/articles/") == 2
    assert {"title": "Talk to a person", "payload": "/human_handoff"} in turn.buttons
    [row] = recorded(stack, turn.conversation_id)
    assert row.outcome == "not_sure" and len(row.offered.split(",")) == 2


def console_client(stack: Stack) -> TestClient:
    """The console (as the web process mounts it) on the stack's own stores, an agent signed in."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=stack.database_url,
        tracker_store_url=f"sqlite:///{stack.tracker_db}",
        console_secret=SecretStr("s" * 40),
    )
    email = f"agent-{uuid.uuid4().hex[:8]}@lumen.example"
    with stack.sessions.begin() as session:
        create_user(session=session, email=email, role="agent", password=PASSWORD)
    app = FastAPI()
    app.mount("/console", create_console_app(settings))
    client = TestClient(app, base_url="http://localhost")
    page = client.get("/console/login")
    signed_in = client.post(
        "/console/login",
        data={"email": email, "password": PASSWORD, "login_token": login_token(page.text)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    return client


def test_the_console_shows_content_gaps_from_real_conversations_redacted(stack: Stack) -> None:
    """A "not sure" and an answer followed by a handoff, both through Rasa and the action
    server, appear on the console's page with the email address and phone number masked."""
    question = "do you accept payment by cheque? write to maya.patel@example.com or call +44 7700 900123"
    unsure = ask(stack, question, customer=CUSTOMER)
    assert NOT_SURE in unsure.text, unsure.text
    answered = ask(stack, "how do i export my notes to pdf", customer=None)
    assert ANSWERED in answered.text
    handoff = texts(stack.say(answered.conversation_id.rsplit(":", 1)[1], "talk to a human"))
    assert handoff
    [row] = recorded(stack, unsure.conversation_id)
    assert "maya.patel@example.com" not in row.question_redacted and "7700 900123" not in row.question_redacted

    with console_client(stack) as client:
        page = client.get("/console/helpcentre")
    assert page.status_code == 200
    gaps = page.text.split('class="gaps"')[1].split("</table>")[0]
    assert "cheque" in gaps and "[EMAIL]" in gaps and "[PHONE]" in gaps, gaps
    assert "maya.patel@example.com" not in page.text and "7700 900123" not in page.text
    assert "export my notes to pdf" in gaps and "handoff after answer" in gaps


def outcome(stack: Stack, turn: Turn) -> tuple[str, str | None, tuple[str, ...]]:
    """("answered" | "not_sure" | "elsewhere", article, offered) for one help turn."""
    rows = recorded(stack, turn.conversation_id)
    if not rows:
        return "elsewhere", None, ()
    row = rows[-1]
    return row.outcome, row.article_slug, tuple(filter(None, row.offered.split(",")))


def intent_of(stack: Stack, conversation_id: str) -> str:
    events = stack.tracker(conversation_id)["events"]
    user = [e for e in events if e.get("event") == "user"][-1]
    return str(user["parse_data"]["intent"]["name"])


HELP_INTENTS = frozenset({"ask_help_article", "out_of_scope", "nlu_fallback"})
"""Intents whose rule runs ``action_answer_help`` itself; any other intent's flow quotes the
help centre beside its own answer (``actions.help_quotes``)."""


def test_the_held_out_questions_over_rest_for_a_customer_and_a_visitor(stack: Stack) -> None:
    """Every held-out question, as Maya and as an anonymous visitor: the reply the customer reads
    agrees with what was recorded, links the right article when it answers, never answers a
    question the help centre does not cover, and is the same for both (articles are public)."""
    tally: Counter[str] = Counter()
    wrong, elsewhere, alongside, problems = [], [], [], []
    answerable = [q for q in HELD_OUT if q["article"] != "none"]
    for item in HELD_OUT:
        question, expected = item["q"], item["article"]
        seen = []
        for customer in (CUSTOMER, None):
            turn = ask(stack, question, customer=customer)
            kind, slug, offered = outcome(stack, turn)
            seen.append((kind, slug, offered))
            if kind == "answered" and (ANSWERED not in turn.text or url(slug or "?") not in turn.text):
                problems.append(f"{question!r}: recorded an answer from {slug}, the reply says {turn.text!r}")
            if kind == "not_sure" and (NOT_SURE not in turn.text or any(url(s) not in turn.text for s in offered)):
                problems.append(f"{question!r}: recorded not sure, the reply says {turn.text!r}")
            if customer is None:
                intent = intent_of(stack, turn.conversation_id)
        if seen[0] != seen[1]:
            problems.append(f"{question!r}: {seen[0]} for the customer, {seen[1]} for the visitor")
        kind, slug, offered = seen[1]
        if expected == "none":
            tally[f"none: {kind}"] += 1
            if kind == "answered":
                problems.append(f"{question!r} is not in the help centre, yet was answered from {slug}")
            continue
        if kind == "answered" and slug == expected:
            tally["answered from the right article"] += 1
            if intent not in HELP_INTENTS:
                tally["answered from the right article: of them, alongside another flow"] += 1
                alongside.append(f"{question!r} -> {intent}")
        elif kind == "answered":
            tally["answered from a wrong article"] += 1
            wrong.append(f"{question!r} -> {slug} (expected {expected})")
        elif kind == "not_sure" and expected in offered:
            tally["not sure, the right article among the two offered"] += 1
        elif kind == "not_sure":
            tally["not sure, the right article not offered"] += 1
        else:
            tally["handled by another flow"] += 1
            elsewhere.append(f"{question!r} -> {intent}")
    right_link = (
        tally["answered from the right article"] + tally["not sure, the right article among the two offered"]
    ) / len(answerable)
    print(
        f"\nheld-out over REST ({len(HELD_OUT)} questions, {len(answerable)} answerable; the same for a customer "
        f"and a visitor):\n"
        + "\n".join(f"  {n:4d}  {k}" for k, n in sorted(tally.items()))
        + f"\n  right article linked: {right_link:.3f}"
        + "\nwrong answers:\n  "
        + "\n  ".join(wrong)
        + "\nhandled by another flow (classifier's intent):\n  "
        + "\n  ".join(elsewhere)
        + "\nanswered from the right article alongside another flow (classifier's intent):\n  "
        + "\n  ".join(alongside)
    )
    assert problems == []
    assert right_link >= HELD_OUT_RIGHT_LINK_FLOOR
    assert tally["answered from a wrong article"] / len(answerable) <= HELD_OUT_WRONG_ANSWER_CEILING


def model_file(stack: Stack) -> str:
    response = httpx.get(f"{stack.rasa_url}/status", params={"token": stack.api_token}, timeout=30)
    response.raise_for_status()
    return str(response.json()["model_file"])


def reindex(stack: Stack, content: Path | None = None) -> None:
    """The re-index command as an admin runs it, with the running stack's settings."""
    args = [sys.executable, "-m", "supportbot.helpcentre"]
    if content is not None:
        args += ["--content-dir", str(content)]
    done = subprocess.run(
        [*args, "reindex"], cwd=ROOT, env=stack.demo.actions_env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "help centre: indexed" in done.stdout


def test_an_edited_article_changes_the_next_answer_after_reindexing_without_training(
    stack: Stack, tmp_path: Path
) -> None:
    """The running action server reloads the index file when it changes; Rasa keeps its model."""
    assert HELP_CONTENT_DIR not in stack.demo.actions_env, "the stack answers from helpcentre/ itself"
    model, newest = model_file(stack), newest_model()
    content = tmp_path / "helpcentre"
    subprocess.run(["cp", "-r", str(ROOT / "helpcentre"), str(content)], check=True)
    article = content / "orders-and-shipping" / "shipping-countries.md"
    marker = "Since 1 December we ship to every Canadian province with Canada Post, tracked"
    before = ask(stack, "do you ship to canada", customer=None)
    assert marker not in before.text
    article.write_text(
        article.read_text().replace(
            "We ship the Lumen Pen and accessories to these countries:",
            f"{marker}. We ship the Lumen Pen and accessories to these countries:",
        )
    )
    try:
        reindex(stack, content)
        after = ask(stack, "do you ship to canada", customer=None)
        assert marker in after.text, after.text
        assert f"{ANSWERED}Where we ship\u201d: {url('shipping-countries')}" in after.text
    finally:
        reindex(stack)  # the stack's own index again, for the tests after this one
    assert model_file(stack) == model and newest_model() == newest, "no rasa train"
    restored = ask(stack, "do you ship to canada", customer=None)
    assert marker not in restored.text and f"{ANSWERED}Where we ship" in restored.text
