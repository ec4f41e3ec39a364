"""The help centre in the widget (Debian's Chromium): the issue's four questions, for a signed-in
customer and an anonymous visitor, answered with the article's link button, which opens the
article in a new tab (and never sends a message); the button is there again after a reload.

The stack's article links point at the default public address (http://localhost:8000); the
browser context routes that address to the test's own web process, which renders the articles.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Route, expect
from sqlalchemy import select

from supportbot.store.models import Subscription
from tests.conftest import Stack
from tests.helpcentre.test_stack_conversations import BASE_URL, FOUR, url
from tests.widget.conftest import TIMEOUT_MS, WebServer, conversation_of, restart_conversation

pytestmark = pytest.mark.e2e


def serve_articles_from(server: WebServer) -> Any:
    def forward(route: Route) -> None:
        path = route.request.url.removeprefix(BASE_URL)
        route.fulfill(response=route.fetch(url=server.url + path))

    return forward


@pytest.mark.parametrize("customer", ["C000001", None], ids=["verified", "anonymous"])
def test_the_four_questions_answer_with_a_link_button_that_opens_the_article(
    visit: Any, stack: Stack, web: WebServer, customer: str | None
) -> None:
    if customer:
        restart_conversation(stack, conversation_of(customer))
    visitor = visit(customer)
    visitor.context.route(f"{BASE_URL}/help/**", serve_articles_from(web))
    visitor.open()
    visitor.wait_online()
    for question, (slug, title) in FOUR.items():
        sent = visitor.user_bubbles().count()
        visitor.say(question)
        visitor.bot_says(f"More in \u201c{title}\u201d")
        link = visitor.page.locator(f'a.lumen-chat__reply--link[href="{url(slug)}"]')
        expect(link).to_be_visible(timeout=TIMEOUT_MS)
        expect(link).to_have_text("Open the article")
        assert link.get_attribute("target") == "_blank"
        assert link.get_attribute("rel") == "noopener noreferrer"
        with visitor.page.expect_popup(timeout=TIMEOUT_MS) as opened:
            link.click()
        article = opened.value
        article.wait_for_load_state()
        assert article.url == url(slug)
        expect(article.locator("h1")).to_have_text(title, timeout=TIMEOUT_MS)
        article.close()
        assert visitor.user_bubbles().count() == sent + 1, "opening the article sent no message"

    visitor.page.reload()
    visitor.open()
    visitor.wait_online()
    slug, title = FOUR["is there a student discount"]
    expect(visitor.page.locator(f'a.lumen-chat__reply--link[href="{url(slug)}"]')).to_be_visible(timeout=TIMEOUT_MS)


def test_a_how_to_question_in_the_cancellation_flow_shows_the_article_and_the_offer_buttons_still_work(
    visit: Any, stack: Stack, web: WebServer
) -> None:
    """The article comes first with its link button; the retention offer keeps its own quick
    replies, and tapping one still answers the offer (nothing is cancelled without a yes)."""
    customer = "C000001"
    restart_conversation(stack, conversation_of(customer))
    visitor = visit(customer)
    visitor.open()
    visitor.wait_online()
    visitor.say("how do I cancel my subscription")
    visitor.bot_says("Before you go")
    expect(visitor.page.locator(f'a.lumen-chat__reply--link[href="{url("cancel-subscription")}"]')).to_be_visible(
        timeout=TIMEOUT_MS
    )
    no_cancel = visitor.page.locator("button.lumen-chat__reply", has_text="No, cancel")
    expect(no_cancel).to_be_visible(timeout=TIMEOUT_MS)
    no_cancel.click()
    visitor.bot_says("Just to confirm: cancel your")
    visitor.page.locator("button.lumen-chat__reply", has_text="No, keep it").click()
    expect(visitor.page.locator("button.lumen-chat__reply", has_text="No, keep it")).to_have_count(
        0, timeout=TIMEOUT_MS
    )
    with stack.sessions() as session:
        status = session.scalars(select(Subscription.status).where(Subscription.customer_id == customer)).all()
    assert status == ["active"], "declined at the confirmation: nothing cancelled (docs/DEMO_DATA.md: Maya is on Pro)"
