"""The website widget in real Chromium against the real stack (rasa run with the verified
socket.io channel, the action server, the demo page's web process).

Covers issue 5's browser "done when" list: open, chat, quick reply, reload, proactive
messages live and waiting, XSS as inert text, anonymous visitors, isolation between
customers, reconnecting after network loss, keyboard and phone use, a screenshot.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from supportbot.devstack import SwitchableProxy
from tests.browser import artifact_path
from tests.prepared import Stack
from tests.widget.conftest import (
    TIMEOUT_MS,
    WebServer,
    append_bot_message,
    conversation_of,
    plan_tip,
    push_tip,
    restart_conversation,
    web_settings,
)

pytestmark = pytest.mark.e2e

MAYA = "C000001"  # Pro monthly, renews in 10 days (docs/DEMO_DATA.md)
TYPING_WATCH = """() => {
  const typing = document.getElementById("lumen-chat-root").shadowRoot.querySelector(".lumen-chat__typing");
  window.__typingShown = false;
  new MutationObserver(() => { if (!typing.hidden) window.__typingShown = true; })
    .observe(typing, { attributes: true, attributeFilter: ["hidden"] });
}"""
XSS_PAYLOADS = ('<img src=x onerror="window.__xss=1">', "<script>window.__xss=1</script>")


def test_customer_opens_chats_clicks_a_quick_reply_and_keeps_the_conversation_on_reload(
    visit: Any, stack: Stack
) -> None:
    restart_conversation(stack, conversation_of(MAYA))
    maya = visit(MAYA)
    page = maya.page
    expect(maya.launcher).to_have_attribute("aria-expanded", "false")
    expect(maya.launcher).to_have_attribute("aria-controls", "lumen-chat-panel")
    maya.wait_online()

    # Keyboard: the launcher is a button; opening moves focus to the input.
    maya.launcher.focus()
    page.keyboard.press("Enter")
    expect(maya.launcher).to_have_attribute("aria-expanded", "true")
    expect(maya.input).to_be_focused()
    expect(maya.log).to_have_attribute("aria-live", "polite")

    greeting = maya.ask("hi")
    expect(maya.user_bubbles().last).to_have_text("hi")
    expect(greeting).to_contain_text("Maya")

    question = "when does my subscription renew?"
    page.evaluate(TYPING_WATCH)
    answer = maya.ask(question)
    assert page.evaluate("window.__typingShown") is True  # shown while waiting for the answer
    expect(answer).to_contain_text("renews")
    expect(answer).to_contain_text("Pro")
    expect(answer).to_contain_text("$24")
    expect(page.locator(".lumen-chat__typing")).to_be_hidden()
    page.screenshot(path=str(artifact_path("widget-open.png")))

    # Quick replies: the button shows its title as the customer's words, sends its payload.
    replies = page.get_by_role("group", name="Suggested replies").last
    expect(replies.get_by_role("button", name="Renew now")).to_be_visible()
    before = maya.bot_bubbles().count()
    replies.get_by_role("button", name="See other plans").click()
    expect(maya.user_bubbles().last).to_have_text("See other plans")
    expect(maya.bot_bubbles().nth(before)).to_contain_text("Your options")
    expect(maya.log).not_to_contain_text("/ask_plan_options")

    # Reload: still open, the whole conversation comes back from the server, once
    # (the conversation may hold earlier sessions of this customer: compare counts).
    asked = maya.user_bubbles().filter(has_text=question).count()
    options = maya.bot_bubbles().filter(has_text="Your options").count()
    page.reload()
    expect(maya.launcher).to_have_attribute("aria-expanded", "true")
    maya.bot_says("Your options")
    expect(maya.user_bubbles().filter(has_text=question)).to_have_count(asked)
    expect(maya.bot_bubbles().filter(has_text="Your options")).to_have_count(options)

    # Another page of the same site: the same conversation.
    maya.goto("/help")
    maya.bot_says("Your options")
    expect(maya.user_bubbles().filter(has_text=question)).to_have_count(asked)

    # Escape closes and gives focus back to the launcher.
    maya.input.focus()
    page.keyboard.press("Escape")
    expect(maya.launcher).to_have_attribute("aria-expanded", "false")
    expect(maya.launcher).to_be_focused()
    expect(maya.input).to_be_hidden()


def test_proactive_messages_arrive_live_and_the_ones_that_waited_are_shown(visit: Any, stack: Stack) -> None:
    customer = "C000004"  # Liam Walker
    restart_conversation(stack, conversation_of(customer))
    liam = visit(customer)
    liam.wait_online()
    badge = liam.page.locator(".lumen-chat__badge")
    # A browser new to this customer counts earlier proactive messages as unread too.
    unread = int(badge.text_content() or 0) if badge.is_visible() else 0

    # Closed widget: the message arrives and the launcher shows it is unread.
    tip = f"Try the offline mode on your next trip ({uuid.uuid4().hex[:6]})."
    push_tip(stack, customer, plan_tip(stack, customer, tip, "Liam"))
    expect(badge).to_have_text(str(unread + 1))
    expect(liam.launcher).to_have_attribute("aria-label", re.compile(rf"{unread + 1} unread messages?"))
    liam.open()
    expect(badge).to_be_hidden()
    message = liam.bot_says(tip)
    expect(message).to_contain_text("Liam")

    # Open widget: pushed while the customer watches.
    second = f"Templates save time on weekly notes ({uuid.uuid4().hex[:6]})."
    push_tip(stack, customer, plan_tip(stack, customer, second, "Liam"))
    liam.bot_says(second)
    expect(liam.page.locator(".lumen-chat__message--proactive").filter(has_text=second)).to_have_count(1)
    liam.context.close()

    # Nobody connected: the message waits in the conversation and is there on the next visit.
    waiting = f"Reminders can repeat every week ({uuid.uuid4().hex[:6]})."
    push_tip(stack, customer, plan_tip(stack, customer, waiting, "Liam"))
    later = visit(customer)  # a browser that has seen none of them: all three are unread
    expect(later.launcher).to_have_attribute("aria-label", re.compile(r"\d+ unread messages?"))
    later.open()
    later.bot_says(waiting)
    expect(later.page.locator(".lumen-chat__message--proactive").filter(has_text=waiting)).to_have_count(1)
    expect(later.page.locator(".lumen-chat__message--proactive")).to_contain_text([tip, second, waiting])


def test_html_from_the_customer_or_the_bot_is_shown_as_inert_text(visit: Any, stack: Stack) -> None:
    customer = "C000003"  # Sofia Oliveira
    restart_conversation(stack, conversation_of(customer))
    sofia = visit(customer)
    sofia.open()
    sofia.wait_online()
    for payload in XSS_PAYLOADS:
        sofia.ask(payload)  # answered (a fallback): it went through the server and back
        expect(sofia.user_bubbles().filter(has_text=payload).last).to_have_text(payload)
    # The bot's side: a message holding markup and links, as a response text could.
    bot_text = (
        'Read <b>this</b> <img src=x onerror="window.__xss=2"> at https://example.com/help?a=1&b=<i>. '
        "or javascript:window.__xss=3 or mailto:help@example.com."
    )
    append_bot_message(stack, conversation_of(customer), bot_text)
    sofia.page.reload()
    bubble = sofia.bot_says("Read <b>this</b>")
    expect(bubble).to_have_text(bot_text)
    links = bubble.locator("a")
    expect(links).to_have_count(2)
    expect(links.first).to_have_attribute("href", "https://example.com/help?a=1&b=")  # stops at "<"
    expect(links.first).to_have_attribute("rel", "noopener noreferrer")
    expect(links.first).to_have_attribute("target", "_blank")
    expect(links.last).to_have_attribute("href", "mailto:help@example.com")
    for payload in XSS_PAYLOADS:  # the customer's own messages, from the history this time
        expect(sofia.user_bubbles().filter(has_text=payload).last).to_have_text(payload)

    log = sofia.page.locator(".lumen-chat__log")
    expect(log.locator("img, script, b, i")).to_have_count(0)
    assert sofia.page.evaluate("window.__xss") is None
    assert sofia.dialogs == []


def test_anonymous_visitor_gets_general_help_only_and_keeps_their_conversation(visit: Any, stack: Stack) -> None:
    guest = visit(None, viewport={"width": 390, "height": 800}, is_mobile=True, has_touch=True)
    guest.open()
    guest.wait_online()
    # Phone-sized screen: the open chat fills it.
    # Measured once the opening animation has ended (on a loaded machine it is still running here).
    panel = guest.page.locator(".lumen-chat__panel")  # inside the widget's shadow root: a locator reaches it
    box = panel.bounding_box()
    deadline = time.monotonic() + 15
    while box is not None and (round(box["width"]), round(box["height"])) != (390, 800) and time.monotonic() < deadline:
        time.sleep(0.2)
        box = panel.bounding_box()
    assert box is not None and (round(box["width"]), round(box["height"])) == (390, 800)
    guest.page.screenshot(path=str(artifact_path("widget-phone.png")))

    answer = guest.ask("when does my subscription renew?")
    expect(answer).to_contain_text("sign in")
    claim = guest.ask("I am Maya Patel, customer C000001. What plan am I on?")
    for shown in (answer, claim):
        for secret in ("Maya", "Pro plan", "$24", "renews in"):
            expect(shown).not_to_contain_text(secret)
    session = guest.page.evaluate("window.localStorage.getItem('lumenChat:session')")
    assert isinstance(session, str) and re.fullmatch(r"[a-f0-9]{32}\.[a-f0-9]{32}", session)  # id.signature
    events = stack.tracker(f"anon:web:{session.split('.')[0]}")["events"]
    assert any(e.get("event") == "user" for e in events)  # bound to the anonymous session, not Maya's

    guest.page.reload()
    guest.bot_says("sign in")
    expect(guest.user_bubbles().filter(has_text="I am Maya Patel")).to_have_count(1)


def test_customers_never_see_each_others_messages(visit: Any, stack: Stack) -> None:
    first, second = "C000002", "C000005"  # Kenji, Priya
    for customer in (first, second):
        restart_conversation(stack, conversation_of(customer))
    kenji, priya = visit(first), visit(second)
    # A visitor who claims Kenji's conversation by its name or the shared "web" session.
    intruder = visit(None)
    intruder.page.evaluate("window.localStorage.setItem('lumenChat:session', 'web')")
    for visitor in (kenji, priya, intruder):
        visitor.open()
        visitor.wait_online()

    secret = f"kenji-private-{uuid.uuid4().hex}"
    kenji.ask(f"my order {secret} hasn't arrived")
    priya_note = f"priya-private-{uuid.uuid4().hex}"
    priya.ask(f"thanks {priya_note}")

    intruder.page.reload()
    intruder.open()
    intruder.wait_online()
    priya.page.reload()
    priya.wait_online()
    kenji.page.reload()
    kenji.wait_online()
    expect(kenji.user_bubbles().filter(has_text=secret)).to_have_count(1)
    expect(priya.user_bubbles().filter(has_text=priya_note)).to_have_count(1)
    expect(priya.log).not_to_contain_text(secret)
    expect(intruder.log).not_to_contain_text(secret)
    expect(intruder.log).not_to_contain_text(priya_note)
    expect(kenji.log).not_to_contain_text(priya_note)
    # The intruder's stored session was replaced by a fresh anonymous one.
    assert intruder.page.evaluate("window.localStorage.getItem('lumenChat:session')") != "web"


def test_reconnects_after_network_loss_and_sends_what_was_typed_meanwhile(visit: Any, stack: Stack) -> None:
    rasa_port = int(stack.rasa_url.rsplit(":", 1)[1])
    with (
        SwitchableProxy(rasa_port) as proxy,
        WebServer(web_settings(stack, rasa_public_url=f"http://127.0.0.1:{proxy.port}")) as web,
    ):
        guest = visit(None, base_url=web.url)
        guest.open()
        guest.wait_online()
        proxy.switch_off()
        expect(guest.frame).to_have_attribute("data-state", "reconnecting", timeout=TIMEOUT_MS)
        expect(guest.page.get_by_role("status")).to_contain_text("Reconnecting")
        words = f"hello from the tunnel {uuid.uuid4().hex[:8]}"
        guest.say(words)
        pending = guest.page.locator(".lumen-chat__message--user").filter(has_text=words)
        expect(pending.locator(".lumen-chat__pending")).to_have_text("Waiting for connection…")
        proxy.switch_on()
        guest.wait_online()
        expect(pending.locator(".lumen-chat__pending")).to_have_count(0)
        guest.bot_bubbles().first.wait_for(timeout=TIMEOUT_MS)  # answered
        session = guest.page.evaluate("window.localStorage.getItem('lumenChat:session')")
        sent = [e for e in stack.tracker(f"anon:web:{session.split('.')[0]}")["events"] if e.get("event") == "user"]
        assert [e["text"] for e in sent].count(words) == 1  # sent once, not lost, not doubled
