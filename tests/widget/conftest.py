"""Browser-test fixtures: the web process (demo mode) in a thread, on the session's real stack.

The widget talks to the stack's real ``rasa run`` (verified socket.io channel) and the
demo page mints tokens with the stack's secret, exactly as ``make run`` wires them.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from pydantic import SecretStr
from sqlalchemy import delete

from supportbot.devstack import free_port
from supportbot.settings import Settings
from supportbot.store.models import Consent
from supportbot.store.outreach_models import OutboxMessage
from supportbot.web.app import create_app
from tests.prepared import Stack

TIMEOUT_MS = 90_000
"""Rasa answers within seconds, but this machine is shared and slow: generous, never flaky."""


class WebServer:
    """``supportbot.web`` under uvicorn in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"web-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> WebServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def web_settings(stack: Stack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": stack.database_url,
        "customer_token_secret": SecretStr(stack.secret),
        "rasa_url": stack.rasa_url,
        "demo_mode": True,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def web(stack: Stack) -> Iterator[WebServer]:
    with WebServer(web_settings(stack)) as server:
        yield server


@dataclass
class Visitor:
    """One browser context (its own cookies and localStorage), i.e. one person's browser."""

    context: BrowserContext
    page: Page
    base_url: str
    dialogs: list[str]

    def goto(self, path: str = "/") -> None:
        self.page.goto(self.base_url + path)
        self.frame.wait_for(state="attached", timeout=TIMEOUT_MS)

    @property
    def frame(self) -> Locator:
        return self.page.locator(".lumen-chat")

    @property
    def launcher(self) -> Locator:
        return self.page.locator(".lumen-chat__launcher")

    @property
    def input(self) -> Locator:
        return self.page.get_by_role("textbox", name="Message to Lumen")

    @property
    def log(self) -> Locator:
        return self.page.get_by_role("log", name="Conversation")

    def bot_bubbles(self) -> Locator:
        """What the bot said (not the widget's own welcome line for an empty conversation)."""
        return self.page.locator(".lumen-chat__message--bot:not(.lumen-chat__message--welcome) .lumen-chat__bubble")

    def user_bubbles(self) -> Locator:
        return self.page.locator(".lumen-chat__message--user .lumen-chat__bubble")

    def wait_online(self) -> None:
        self.page.locator('.lumen-chat[data-state="online"]').wait_for(timeout=TIMEOUT_MS)

    def open(self) -> None:
        if self.launcher.get_attribute("aria-expanded") != "true":
            self.launcher.click()
        self.input.wait_for(state="visible", timeout=TIMEOUT_MS)

    def say(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def ask(self, text: str) -> Locator:
        """Send ``text``; return the bot's first bubble after it, once it is visible."""
        before = self.bot_bubbles().count()
        self.say(text)
        reply = self.bot_bubbles().nth(before)
        reply.wait_for(state="visible", timeout=TIMEOUT_MS)
        return reply

    def bot_says(self, needle: str) -> Locator:
        """The bot bubble containing ``needle``, once it is visible."""
        bubble = self.bot_bubbles().filter(has_text=needle).last
        bubble.wait_for(state="visible", timeout=TIMEOUT_MS)
        return bubble


@pytest.fixture
def visit(browser: Browser, web: WebServer) -> Iterator[Any]:
    """``visit(customer_id=None, **context_options)``: a fresh browser as that demo customer
    (``None``: an anonymous visitor), on the demo page."""
    contexts: list[BrowserContext] = []
    expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions on this machine

    def make(customer_id: str | None = None, *, base_url: str | None = None, **options: Any) -> Visitor:
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        if customer_id is not None:
            # What the demo page's picker stores; set before any page script runs.
            context.add_init_script(f"window.localStorage.setItem('lumenDemo:customer', {json.dumps(customer_id)});")
        page = context.new_page()
        dialogs: list[str] = []

        def on_dialog(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        visitor = Visitor(context=context, page=page, base_url=base_url or web.url, dialogs=dialogs)
        visitor.goto()
        return visitor

    yield make
    for context in contexts:
        context.close()
    expect.set_options(timeout=5_000)  # Playwright's default, for tests elsewhere


# ---------------------------------------------------------------------------
# Talking to Rasa as the scheduler does
# ---------------------------------------------------------------------------


def conversation_of(customer_id: str) -> str:
    return f"cust:{customer_id}:web"


def restart_conversation(stack: Stack, conversation_id: str) -> None:
    """Start from a clean dialogue state (other tests may share a demo customer's conversation)."""
    response = httpx.post(
        f"{stack.rasa_url}/conversations/{quote(conversation_id, safe=':')}/tracker/events",
        params={"token": stack.api_token},
        json=[{"event": "restart"}],
        timeout=60,
    )
    response.raise_for_status()


def append_bot_message(stack: Stack, conversation_id: str, text: str) -> None:
    """A bot message written into the tracker (shown by the widget from the history)."""
    response = httpx.post(
        f"{stack.rasa_url}/conversations/{quote(conversation_id, safe=':')}/tracker/events",
        params={"token": stack.api_token},
        json=[{"event": "bot", "text": text, "timestamp": time.time(), "data": {}}],
        timeout=60,
    )
    response.raise_for_status()


def plan_tip(stack: Stack, customer_id: str, tip: str, first_name: str) -> int:
    """An outbox row for a usage tip, as the planner writes it; returns its id."""
    now = dt.datetime.now(dt.UTC)
    with stack.sessions.begin() as session:
        session.execute(delete(Consent).where(Consent.customer_id == customer_id))  # all kinds granted
        row = OutboxMessage(
            customer_id=customer_id,
            campaign="usage_tip",
            kind="tips",
            occasion=f"widget-test-{time.time_ns()}",
            idempotency_key=f"{customer_id}:usage_tip:widget-test-{time.time_ns()}",
            local_day=now.date(),
            intent="EXTERNAL_usage_tip",
            template="utter_outreach_usage_tip",
            payload=json.dumps({"name": first_name, "tip": tip}),
            channel="socketio",
            conversation_id=conversation_of(customer_id),
            # Already "sent" in the outbox's books, so no delivery worker of another test sends it again.
            status="sent",
            not_before=now,
            sent_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def push_tip(stack: Stack, customer_id: str, outbox_id: int) -> None:
    """What the scheduler's delivery does: trigger the EXTERNAL_ intent on the socketio channel."""
    response = httpx.post(
        f"{stack.rasa_url}/conversations/{quote(conversation_of(customer_id), safe=':')}/trigger_intent",
        params={"token": stack.api_token, "output_channel": "socketio", "include_events": "NONE"},
        json={"name": "EXTERNAL_usage_tip", "entities": {"outbox_id": str(outbox_id)}},
        timeout=120,
    )
    response.raise_for_status()
