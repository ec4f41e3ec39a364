"""Issue 17's browser "done when": two real Chromium pages, a customer in the website widget
and an agent signed into the console, on the real stack (rasa run with the verified socket.io
channel, the action server, the web process serving the demo page and the console).

The customer asks for a person; the handoff appears in the agent's inbox without a reload;
the agent claims it and they exchange three messages each way live while the bot says
nothing; the agent hands back and the bot answers the next question; the agent closes it
and the CSAT follow-up is planned. The latency from a customer's message to the agent's
screen is printed (loosely measured; no timing is asserted).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import delete, select

from supportbot.console.takeover import HAND_BACK_LINE
from supportbot.store.models import Consent, SupportInteraction
from tests.browser import artifact_path
from tests.handoff.conftest import PASSWORD, plan_csat_followups
from tests.prepared import Stack
from tests.widget.conftest import TIMEOUT_MS, WebServer, conversation_of, restart_conversation

pytestmark = pytest.mark.e2e

CUSTOMER = "C000011"  # Pro; a demo persona the other end-to-end tests leave alone
CUSTOMER_SAYS = ["my invoice shows the wrong amount", "it's the one from last week", "great, thank you!"]
AGENT_SAYS = ["Hi! I can see your invoices here.", "Found it: the discount was missing.", "I've corrected it for you."]


def handoff_of(stack: Stack, conversation_id: str, status: str = "open") -> SupportInteraction | None:
    with stack.sessions() as session:
        row = session.scalar(
            select(SupportInteraction).where(
                SupportInteraction.conversation_id == conversation_id,
                SupportInteraction.kind == "handoff",
                SupportInteraction.status == status,
            )
        )
        if row is not None:
            session.expunge(row)
        return row


def signed_in_agent(browser: Browser, web: WebServer, email: str) -> Page:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(web.url + "/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/")
    return page


def test_customer_and_agent_talk_live_and_the_bot_waits(
    browser: Browser, web: WebServer, visit: Any, stack: Stack, staff: dict[str, int]
) -> None:
    conversation = conversation_of(CUSTOMER)
    restart_conversation(stack, conversation)
    with stack.sessions.begin() as session:  # every kind of message granted (the demo data withdraws some)
        session.execute(delete(Consent).where(Consent.customer_id == CUSTOMER))
    agent = signed_in_agent(browser, web, "ana@lumen.example")
    agent.get_by_role("link", name="Inbox").click()
    agent.evaluate("window.__sameDocument = true")  # gone if the page reloads

    customer = visit(CUSTOMER)
    customer.wait_online()
    customer.open()
    expect(customer.ask("I'd like to talk to a person please")).to_contain_text("support team")
    handoff = handoff_of(stack, conversation)
    assert handoff is not None

    row = agent.locator(f'tr[data-handoff="{handoff.id}"]')
    expect(row).to_be_visible()  # arrived over the live feed
    assert agent.evaluate("window.__sameDocument") is True
    expect(row).to_contain_text("socketio")
    expect(row).to_contain_text("waiting")
    agent.screenshot(path=str(artifact_path("console-inbox.png")), full_page=True)

    row.get_by_role("link", name="Open").click()
    agent.get_by_role("button", name="Claim this conversation").click()
    expect(agent.locator("#handoff-status")).to_contain_text("Assigned to Ana")
    joined = customer.page.locator(".lumen-chat__message--notice").filter(has_text="Ana from support joined")
    expect(joined).to_be_visible()
    agent.evaluate("window.__sameDocument = true")
    bot_only = customer.page.locator(".lumen-chat__message--bot:not(.lumen-chat__message--agent)")
    bot_lines_before = bot_only.count()

    latencies = []
    for customer_line, agent_line in zip(CUSTOMER_SAYS, AGENT_SAYS, strict=True):
        customer.say(customer_line)
        sent = time.monotonic()
        expect(agent.locator('#messages [data-sender="customer"]').filter(has_text=customer_line)).to_be_visible()
        latencies.append(time.monotonic() - sent)
        agent.get_by_label("Message to the customer").fill(agent_line)
        agent.get_by_role("button", name="Send", exact=True).click()
        reply = customer.page.locator(".lumen-chat__message--agent").filter(has_text=agent_line)
        expect(reply).to_be_visible()
        expect(reply.locator(".lumen-chat__author")).to_have_text("Ana · support")
        expect(agent.locator('#messages [data-sender="agent"]').filter(has_text=agent_line)).to_be_visible()
    assert agent.evaluate("window.__sameDocument") is True  # all of it live, no reload

    # One click: a link code goes to the customer's signed-in chat; the agent's view masks it.
    agent.get_by_role("button", name="Send a link code").click()
    code = customer.page.locator(".lumen-chat__message--agent").filter(has_text="Here is your code")
    expect(code).to_contain_text(re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}"))
    expect(agent.locator('#messages [data-sender="agent"]').filter(has_text="[LINK CODE]")).to_be_visible()
    assert not re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", agent.locator("#messages").inner_text())
    assert bot_only.count() == bot_lines_before, "the bot spoke while Ana had the conversation"
    print(f"customer message → agent's screen: {', '.join(f'{s:.1f} s' for s in latencies)}")
    customer.page.screenshot(path=str(artifact_path("widget-agent-conversation.png")))
    agent.screenshot(path=str(artifact_path("console-takeover.png")), full_page=True)

    agent.get_by_role("button", name="Hand back to the bot").click()
    expect(customer.page.locator(".lumen-chat__message--notice").filter(has_text="Ana left")).to_be_visible()
    expect(customer.bot_says("here again")).to_have_text(HAND_BACK_LINE)
    expect(customer.ask("what plan am I on?")).to_contain_text("Pro")
    expect(agent.locator("#handoff-status")).to_contain_text("Handed back")

    agent.get_by_label("not resolved").check()
    agent.get_by_label("resolved", exact=True).check()
    agent.get_by_label("Note").fill("invoice corrected")
    agent.get_by_role("button", name="Close conversation").click()
    expect(agent.locator("#handoff-status")).to_contain_text("Closed (resolved)")
    closed = handoff_of(stack, conversation, "closed")
    assert closed is not None and closed.id == handoff.id and closed.close_note == "invoice corrected"

    planned = [row for row in plan_csat_followups(stack, CUSTOMER) if row.occasion == f"handoff{handoff.id}"]
    assert [(row.status, row.skip_reason) for row in planned] == [("planned", None)]
    agent.context.close()
