"""The widget and short-lived customer tokens, in real Chromium (issue 14 finding 4).

The server re-checks a token's expiry on every event (tests/security/test_socketio.py); the
widget's side is to ask the host page for a fresh token before it expires, so a signed-in
customer never notices, and to follow the host page when the customer signs out, so the
tab stops receiving their messages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.prepared import Stack
from tests.widget.conftest import (
    TIMEOUT_MS,
    WebServer,
    conversation_of,
    plan_tip,
    push_tip,
    restart_conversation,
    web_settings,
)

pytestmark = pytest.mark.e2e

MAYA = "C000001"
TOKEN_SECONDS = 6


@pytest.fixture(scope="module")
def short_tokens(stack: Stack) -> Iterator[WebServer]:
    """The demo page minting tokens that live six seconds."""
    with WebServer(web_settings(stack, customer_token_ttl_seconds=TOKEN_SECONDS)) as server:
        yield server


def test_a_signed_in_customer_keeps_chatting_across_token_expiries(
    visit: Any, stack: Stack, short_tokens: WebServer
) -> None:
    restart_conversation(stack, conversation_of(MAYA))
    minted: list[str] = []
    maya = visit(MAYA, base_url=short_tokens.url)
    maya.page.on("request", lambda r: minted.append(r.url) if r.url.endswith("/demo/token") else None)
    maya.open()
    maya.wait_online()
    time.sleep(3 * TOKEN_SECONDS)  # three lifetimes of the first token
    answer = maya.ask("what plan am I on")
    expect(answer).to_contain_text("Pro")  # still Maya, verified: the widget refreshed in time
    assert len(minted) >= 3, f"the widget should have fetched fresh tokens, got {len(minted)}"
    texts = [e.get("text") for e in stack.tracker(conversation_of(MAYA))["events"] if e["event"] == "user"]
    assert "what plan am I on" in texts


def test_signing_out_in_another_tab_ends_the_customers_chat_in_this_one(
    visit: Any, stack: Stack, short_tokens: WebServer
) -> None:
    restart_conversation(stack, conversation_of(MAYA))
    maya = visit(MAYA, base_url=short_tokens.url)
    maya.open()
    maya.wait_online()
    other_tab = maya.context.new_page()
    other_tab.goto(short_tokens.url + "/")
    other_tab.select_option("#demo-identity", "")  # the customer signs out on the host site
    # The storage event reaches this tab in its own time: ask only once it has followed (the page
    # shows "Sign in" and the chat has reconnected), or the reply is counted against the old log.
    expect(maya.page.locator("#demo-account")).to_have_text("Sign in", timeout=TIMEOUT_MS)
    maya.wait_online()

    answer = maya.ask("when does my subscription renew?")
    expect(answer).to_contain_text("sign in")  # this tab follows: a guest now
    expect(answer).not_to_contain_text("Pro plan")

    # And it no longer receives what is sent to Maya.
    before = maya.bot_bubbles().count()
    marker = f"tip for Maya only {time.time_ns()}"
    push_tip(stack, MAYA, plan_tip(stack, MAYA, marker, "Maya"))
    maya.page.wait_for_timeout(5_000)
    expect(maya.bot_bubbles()).to_have_count(before, timeout=TIMEOUT_MS)
    expect(maya.log).not_to_contain_text(marker)
